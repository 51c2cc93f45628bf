//! The node's links: one dialler task per peer, fed by a bounded queue (a full queue drops the
//! frame — a lost message, which the protocol tolerates — and never blocks the node), and one
//! listener whose accepted links each get a reader task. A reader closes its link, with the
//! reason, on junk, an oversized frame, a flood, a stall or an envelope not from the link's
//! peer; nothing a peer sends reaches the node except a decoded envelope of that peer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reference::Id;
use reference::crypto::Signer;
use reference::node::Envelope;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::config::Limits;
use crate::link::{self, LinkError};

/// A frame to send.
pub type Frame = Arc<[u8]>;

/// A frame in a peer's queue, with the time it was queued (emulated latency counts from it).
#[derive(Debug)]
struct Queued {
    at: Instant,
    frame: Frame,
}

/// The scenario's network, applied by a dialler to its frames (`[emulation]`).
#[derive(Debug, Clone)]
pub struct Shaper {
    /// Delay per frame.
    pub latency: simulator::network::Sampler,
    /// Probability a frame is dropped.
    pub drop: f64,
    /// Seed of the draws (one ChaCha8 stream per link).
    pub seed: u64,
}

/// What the links tell the node.
#[derive(Debug)]
pub enum Inbound {
    /// An envelope from peer `peer`, and its bytes.
    Envelope {
        /// The sender's node index.
        peer: u32,
        /// The envelope.
        envelope: Box<Envelope>,
        /// Its wire bytes.
        frame: Vec<u8>,
    },
    /// A request from the node's user on the control socket.
    Control(reference::node::Command),
    /// A link closed.
    Closed {
        /// The peer, if it got as far as proving who it is.
        peer: Option<u32>,
        /// Whether we dialled it.
        dialled: bool,
        /// Why.
        reason: String,
    },
}

/// Everything the links share.
pub struct Net {
    /// Our signer (the node key).
    pub me: Arc<dyn Signer + Send + Sync>,
    /// The genesis prologue.
    pub prologue: Vec<u8>,
    /// Every node of the genesis, by Id.
    pub index_of: BTreeMap<Id, u32>,
    /// The limits.
    pub limits: Limits,
    /// Where the links deliver.
    pub inbound: mpsc::Sender<Inbound>,
    /// The emulated network, if on.
    pub shaper: Option<Shaper>,
    /// Our node index (the shaper's streams are per link).
    pub index: u32,
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net").field("nodes", &self.index_of.len()).finish_non_exhaustive()
    }
}

/// The sending side: a queue per peer.
#[derive(Debug)]
pub struct Outbound {
    queues: BTreeMap<u32, mpsc::Sender<Queued>>,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// No address is known for the peer.
    UnknownPeer,
    /// Its queue is full.
    QueueFull,
}

impl Outbound {
    /// Queue `frame` for `peer`.
    pub fn send(&self, peer: u32, frame: Frame) -> Result<(), Dropped> {
        let queue = self.queues.get(&peer).ok_or(Dropped::UnknownPeer)?;
        queue.try_send(Queued { at: Instant::now(), frame }).map_err(|_| Dropped::QueueFull)
    }

    /// The peers with a queue.
    pub fn peers(&self) -> impl Iterator<Item = u32> + '_ {
        self.queues.keys().copied()
    }
}

/// Start a dialler per peer in `peers` (index → address) and the listener on `listener`.
pub fn start(net: Arc<Net>, listener: TcpListener, peers: &[(u32, SocketAddr)], ids: &[Id]) -> Outbound {
    let mut queues = BTreeMap::new();
    for &(index, addr) in peers {
        let (tx, rx) = mpsc::channel(net.limits.outbound_queue_frames as usize);
        queues.insert(index, tx);
        tokio::spawn(dial(net.clone(), index, ids[index as usize], addr, rx));
    }
    tokio::spawn(listen(net, listener));
    Outbound { queues }
}

/// Dial `addr` when there is something to send; send until the link fails; dial again.
async fn dial(net: Arc<Net>, index: u32, id: Id, addr: SocketAddr, mut rx: mpsc::Receiver<Queued>) {
    let limits = net.limits;
    let mut shaper = net.shaper.clone().map(|s| LinkShaper::new(s, net.index, index));
    while let Some(mut queued) = rx.recv().await {
        let link = async {
            let stream = tokio::time::timeout(
                Duration::from_millis(limits.handshake_timeout_ms),
                TcpStream::connect(addr),
            )
            .await
            .map_err(|_| LinkError::Stalled { what: "connect", ms: limits.handshake_timeout_ms })??;
            link::initiate(stream, &*net.me, &net.prologue, id, limits.handshake_timeout_ms).await
        };
        let mut link = match link.await {
            Ok(link) => link,
            Err(error) => {
                closed(&net, Some(index), true, &error).await;
                tokio::time::sleep(Duration::from_millis(limits.reconnect_ms)).await;
                continue; // this frame is lost, like any message on a broken link
            }
        };
        loop {
            let keep = match shaper.as_mut() {
                Some(shaper) => shaper.delay(&queued).await,
                None => true,
            };
            if keep && let Err(error) = link.send_frame(&queued.frame, limits.frame_timeout_ms).await {
                closed(&net, Some(index), true, &error).await;
                break;
            }
            match rx.recv().await {
                Some(next) => queued = next,
                None => return,
            }
        }
    }
}

async fn closed(net: &Net, peer: Option<u32>, dialled: bool, error: &LinkError) {
    // Bounded like every queue: a node too busy to hear about a link loses the notice.
    let notice = Inbound::Closed { peer, dialled, reason: error.to_string() };
    let _ = net.inbound.try_send(notice);
}

/// Accept links, at most `max_connections` at once.
async fn listen(net: Arc<Net>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(net.limits.max_connections as usize));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, say: wait rather than spin, and let links close.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream); // over the bound: refused at once
            continue;
        };
        let net = net.clone();
        tokio::spawn(async move {
            if let Err((peer, error)) = read_link(&net, stream).await {
                closed(&net, peer, false, &error).await;
            }
            drop(slot);
        });
    }
}

/// Handshake, then read envelopes until the link fails.
async fn read_link(net: &Net, stream: TcpStream) -> Result<(), (Option<u32>, LinkError)> {
    let limits = net.limits;
    let known = |id: &Id| net.index_of.contains_key(id) && *id != net.me.id();
    let mut link = link::accept(stream, &*net.me, &net.prologue, known, limits.handshake_timeout_ms)
        .await
        .map_err(|e| (None, e))?;
    let peer_id = link.peer.id();
    let peer = net.index_of[&peer_id];
    let mut bucket = Bucket::new(limits);
    loop {
        let frame = link
            .recv_frame(limits.idle_timeout_ms, limits.frame_timeout_ms, limits.max_frame_bytes)
            .await
            .map_err(|e| (Some(peer), e))?;
        bucket.take(frame.len()).map_err(|e| (Some(peer), e))?;
        let envelope =
            reference::wire::decode_envelope(&frame).map_err(|e| (Some(peer), LinkError::Junk(e)))?;
        if envelope.from() != peer_id {
            return Err((Some(peer), LinkError::NotThePeer { claimed: envelope.from(), peer: peer_id }));
        }
        let inbound = Inbound::Envelope { peer, envelope: Box::new(envelope), frame };
        if net.inbound.send(inbound).await.is_err() {
            return Ok(()); // the node is shutting down
        }
    }
}

/// A token bucket of frames and bytes per second, one second deep.
struct Bucket {
    frames: f64,
    bytes: f64,
    limits: Limits,
    at: Instant,
}

impl Bucket {
    fn new(limits: Limits) -> Bucket {
        Bucket {
            frames: limits.peer_frames_per_s as f64,
            bytes: limits.peer_bytes_per_s as f64,
            limits,
            at: Instant::now(),
        }
    }

    fn take(&mut self, bytes: usize) -> Result<(), LinkError> {
        let now = Instant::now();
        let elapsed_s = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        let (frames_per_s, bytes_per_s) =
            (self.limits.peer_frames_per_s as f64, self.limits.peer_bytes_per_s as f64);
        self.frames = (self.frames + elapsed_s * frames_per_s).min(frames_per_s) - 1.0;
        self.bytes = (self.bytes + elapsed_s * bytes_per_s).min(bytes_per_s) - bytes as f64;
        if self.frames < 0.0 {
            return Err(LinkError::Flood { limit: self.limits.peer_frames_per_s.into(), unit: "frames" });
        }
        if self.bytes < 0.0 {
            return Err(LinkError::Flood { limit: self.limits.peer_bytes_per_s, unit: "bytes" });
        }
        Ok(())
    }
}

/// One link's draws of the emulated network.
struct LinkShaper {
    shaper: Shaper,
    rng: rand_chacha::ChaCha8Rng,
}

impl LinkShaper {
    fn new(shaper: Shaper, from: u32, to: u32) -> LinkShaper {
        use rand::SeedableRng;
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&shaper.seed.to_le_bytes());
        seed[8..12].copy_from_slice(&from.to_le_bytes());
        seed[12..16].copy_from_slice(&to.to_le_bytes());
        LinkShaper { shaper, rng: rand_chacha::ChaCha8Rng::from_seed(seed) }
    }

    /// Wait out the frame's delay; `false` if it is dropped instead.
    async fn delay(&mut self, queued: &Queued) -> bool {
        let draw = rand::Rng::next_u64(&mut self.rng) as f64 / u64::MAX as f64;
        if draw < self.shaper.drop {
            return false;
        }
        let delay_ms = self.shaper.latency.sample(&mut self.rng);
        tokio::time::sleep_until(queued.at + Duration::from_millis(delay_ms)).await;
        true
    }
}
