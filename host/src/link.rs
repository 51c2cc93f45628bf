//! One link between two nodes: a TCP stream, a Noise `XX` handshake (snow), and the binding of
//! the session to both node keys — each side signs the handshake hash with its ed25519 node
//! key (domain `LinkBinding`), so a link is as authentic as the envelopes it carries (D-040).
//! Frames are cut into Noise messages (at most 65,535 bytes each, a 2-byte length before each):
//! the first carries the frame's length, which is checked against the limit before anything
//! is allocated. Data flows one way — from the side that dialled to the side that accepted —
//! so each side owns its one cipher state without locks.

use std::time::Duration;

use reference::Id;
use reference::crypto::{Domain, Ed25519Verifier, PublicKey, Signature, Signer, Verifier, hash_parts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The Noise protocol of every link.
pub const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
/// The largest Noise message.
const NOISE_MAX: usize = 65_535;
/// Its authentication tag.
const TAG_BYTES: usize = 16;
/// Plaintext per Noise message.
const CHUNK_BYTES: usize = NOISE_MAX - TAG_BYTES;
/// A binding: the node's public key and its signature of the handshake hash.
const BINDING_BYTES: usize = 32 + 64;

/// Why a link closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The socket failed or the peer hung up.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The Noise handshake or a decryption failed: not a peer of ours, or junk bytes.
    #[error("noise: {0}")]
    Noise(#[from] snow::Error),
    /// The peer did not finish something in time.
    #[error("stalled: no {what} within {ms} ms")]
    Stalled {
        /// What was awaited.
        what: &'static str,
        /// The limit.
        ms: u64,
    },
    /// The peer announced a frame above the limit.
    #[error("oversized frame: {bytes} bytes announced, at most {max} allowed")]
    Oversized {
        /// What it announced.
        bytes: u64,
        /// The limit.
        max: u32,
    },
    /// A frame's chunks did not add up to its announced length.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// The peer's binding does not verify, or names a key that is not the expected node's.
    #[error("bad binding: {0}")]
    Binding(String),
    /// An authenticated peer sent bytes that are not an envelope.
    #[error("junk frame: {0}")]
    Junk(reference::wire::DecodeError),
    /// An envelope on this link claims another sender than the link's peer.
    #[error("envelope from {claimed}, but the link is {peer}'s")]
    NotThePeer {
        /// The envelope's sender.
        claimed: Id,
        /// The link's peer.
        peer: Id,
    },
    /// The peer sent more than its share.
    #[error("flood: more than {limit} {unit} per second")]
    Flood {
        /// The limit.
        limit: u64,
        /// Frames or bytes.
        unit: &'static str,
    },
    /// The peer is no node of the genesis.
    #[error("unknown peer {0}")]
    UnknownPeer(Id),
}

/// A link after its handshake: the peer's node key and the cipher of our direction.
pub struct Link {
    stream: TcpStream,
    noise: snow::TransportState,
    /// The peer's node key, proven by its binding.
    pub peer: PublicKey,
    /// Plaintext of the last Noise message (65,535 bytes, reused).
    buf: Vec<u8>,
    /// Ciphertext of the last Noise message (65,535 bytes, reused).
    cipher: Vec<u8>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("peer", &self.peer.id()).finish_non_exhaustive()
    }
}

/// The bytes both sides of a link mix into their handshake: a link is for one genesis only.
pub fn prologue(genesis: &[u8; 32]) -> Vec<u8> {
    [b"leither-host/1 ".as_slice(), genesis.as_slice()].concat()
}

/// Dial side: run the handshake on `stream` as `me`; the peer must prove it is `expected`.
pub async fn initiate(
    stream: TcpStream,
    me: &(dyn Signer + Send + Sync),
    prologue: &[u8],
    expected: Id,
    limit_ms: u64,
) -> Result<Link, LinkError> {
    let work = async {
        let link = handshake(stream, me, prologue, true).await?;
        if link.peer.id() != expected {
            return Err(LinkError::Binding(format!("dialled {expected}, answered by {}", link.peer.id())));
        }
        link.stream.set_nodelay(true)?;
        Ok(link)
    };
    timeout(Duration::from_millis(limit_ms), work)
        .await
        .unwrap_or(Err(LinkError::Stalled { what: "handshake", ms: limit_ms }))
}

/// Accept side: run the handshake on `stream` as `me`; `known` says whether a proven peer is
/// one of the genesis's nodes.
pub async fn accept(
    stream: TcpStream,
    me: &(dyn Signer + Send + Sync),
    prologue: &[u8],
    known: impl Fn(&Id) -> bool,
    limit_ms: u64,
) -> Result<Link, LinkError> {
    let work = async {
        let link = handshake(stream, me, prologue, false).await?;
        if !known(&link.peer.id()) {
            return Err(LinkError::UnknownPeer(link.peer.id()));
        }
        Ok(link)
    };
    timeout(Duration::from_millis(limit_ms), work)
        .await
        .unwrap_or(Err(LinkError::Stalled { what: "handshake", ms: limit_ms }))
}

/// `XX` (→ e; ← e, ee, s, es; → s, se), then each side's binding: initiator's first.
async fn handshake(
    mut stream: TcpStream,
    me: &(dyn Signer + Send + Sync),
    prologue: &[u8],
    initiator: bool,
) -> Result<Link, LinkError> {
    let params = NOISE_PARAMS.parse().expect("a valid Noise pattern name");
    let builder = snow::Builder::new(params);
    let keys = builder.generate_keypair()?;
    let builder = builder.local_private_key(&keys.private)?.prologue(prologue)?;
    let mut state = if initiator { builder.build_initiator()? } else { builder.build_responder()? };
    let mut buf = vec![0u8; NOISE_MAX];
    let mut payload = vec![0u8; NOISE_MAX];
    for step in 0..3 {
        if (step % 2 == 0) == initiator {
            let n = state.write_message(&[], &mut buf)?;
            write_message(&mut stream, &buf[..n]).await?;
        } else {
            let n = read_message(&mut stream, &mut buf).await?;
            state.read_message(&buf[..n], &mut payload)?;
        }
    }
    let handshake_hash = state.get_handshake_hash().to_vec();
    let noise = state.into_transport_mode()?;
    let mut link = Link { stream, noise, peer: me.public_key(), buf, cipher: vec![0u8; NOISE_MAX] };
    let mine = binding(me, &handshake_hash);
    let theirs = if initiator {
        link.send_chunk(&mine).await?;
        link.recv_chunk().await?
    } else {
        let theirs = link.recv_chunk().await?;
        link.send_chunk(&mine).await?;
        theirs
    };
    link.peer = check_binding(&theirs, &handshake_hash)?;
    Ok(link)
}

fn binding(me: &(dyn Signer + Send + Sync), handshake_hash: &[u8]) -> Vec<u8> {
    let digest = hash_parts(Domain::LinkBinding, &[handshake_hash]);
    let signature = me.sign(&digest.0);
    [me.public_key().0.as_slice(), signature.0.as_slice()].concat()
}

fn check_binding(theirs: &[u8], handshake_hash: &[u8]) -> Result<PublicKey, LinkError> {
    if theirs.len() != BINDING_BYTES {
        return Err(LinkError::Binding(format!("{} bytes, expected {BINDING_BYTES}", theirs.len())));
    }
    let key = PublicKey(theirs[..32].try_into().expect("32 bytes"));
    let signature = Signature(theirs[32..].try_into().expect("64 bytes"));
    let digest = hash_parts(Domain::LinkBinding, &[handshake_hash]);
    Ed25519Verifier
        .verify(&key, &digest.0, &signature)
        .map_err(|e| LinkError::Binding(format!("signature of {}: {e}", key.id())))?;
    Ok(key)
}

impl Link {
    /// Send one frame (at most `max_frame_bytes`, which the caller checked).
    pub async fn send_frame(&mut self, frame: &[u8], limit_ms: u64) -> Result<(), LinkError> {
        let work = async {
            let total = u32::try_from(frame.len()).expect("frames are below 4 GiB");
            let mut first = Vec::with_capacity(CHUNK_BYTES);
            first.extend_from_slice(&total.to_le_bytes());
            let head = frame.len().min(CHUNK_BYTES - 4);
            first.extend_from_slice(&frame[..head]);
            self.send_chunk(&first).await?;
            for chunk in frame[head..].chunks(CHUNK_BYTES) {
                self.send_chunk(chunk).await?;
            }
            self.stream.flush().await?;
            Ok(())
        };
        timeout(Duration::from_millis(limit_ms), work)
            .await
            .unwrap_or(Err(LinkError::Stalled { what: "write", ms: limit_ms }))
    }

    /// Send only the beginning of a frame announced as `announced` bytes (tests only: a peer
    /// that stalls mid-frame).
    #[cfg(feature = "fault-injection")]
    pub async fn send_frame_start(&mut self, announced: u32, head: &[u8]) -> Result<(), LinkError> {
        let first = [announced.to_le_bytes().as_slice(), head].concat();
        self.send_chunk(&first).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Receive one frame: wait up to `idle_ms` for it to begin, then up to `frame_ms` for the
    /// rest; refuse one announced above `max_bytes` before reading it.
    pub async fn recv_frame(
        &mut self,
        idle_ms: u64,
        frame_ms: u64,
        max_bytes: u32,
    ) -> Result<Vec<u8>, LinkError> {
        let first = timeout(Duration::from_millis(idle_ms), self.recv_chunk())
            .await
            .unwrap_or(Err(LinkError::Stalled { what: "frame", ms: idle_ms }))?;
        if first.len() < 4 {
            return Err(LinkError::Malformed("a first chunk without a length"));
        }
        let total = u32::from_le_bytes(first[..4].try_into().expect("4 bytes"));
        if total > max_bytes {
            return Err(LinkError::Oversized { bytes: total.into(), max: max_bytes });
        }
        let total = total as usize;
        let mut frame = Vec::with_capacity(total);
        frame.extend_from_slice(&first[4..]);
        let rest = async {
            while frame.len() < total {
                let chunk = self.recv_chunk().await?;
                frame.extend_from_slice(&chunk);
            }
            Ok::<(), LinkError>(())
        };
        timeout(Duration::from_millis(frame_ms), rest)
            .await
            .unwrap_or(Err(LinkError::Stalled { what: "end of frame", ms: frame_ms }))?;
        if frame.len() != total {
            return Err(LinkError::Malformed("chunks longer than the announced length"));
        }
        Ok(frame)
    }

    async fn send_chunk(&mut self, plain: &[u8]) -> Result<(), LinkError> {
        debug_assert!(plain.len() <= CHUNK_BYTES);
        let n = self.noise.write_message(plain, &mut self.buf)?;
        write_message(&mut self.stream, &self.buf[..n]).await
    }

    async fn recv_chunk(&mut self) -> Result<Vec<u8>, LinkError> {
        let n = read_message(&mut self.stream, &mut self.cipher).await?;
        let m = self.noise.read_message(&self.cipher[..n], &mut self.buf)?;
        Ok(self.buf[..m].to_vec())
    }
}

/// One Noise message on the stream: a 2-byte big-endian length, then the bytes.
async fn write_message(stream: &mut TcpStream, message: &[u8]) -> Result<(), LinkError> {
    let len = u16::try_from(message.len()).expect("a Noise message fits 65,535 bytes");
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(message).await?;
    Ok(())
}

/// Read one Noise message into `buf` (65,535 bytes: any 2-byte length fits).
async fn read_message(stream: &mut TcpStream, buf: &mut [u8]) -> Result<usize, LinkError> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let len = usize::from(u16::from_be_bytes(len));
    stream.read_exact(&mut buf[..len]).await?;
    Ok(len)
}
