//! Bad peers: each closes its own link, with the reason logged, and never stalls or crashes
//! the node — which goes on sealing and still takes an honest link afterwards.

use std::io::Write as _;
use std::sync::Arc;

use host::config::{Faults, Limits};
use host::link;
use reference::crypto::{Ed25519Signer, Signer};
use reference::node::{Message, To};
use tokio::net::TcpStream;

use super::*;

/// A node with tight bounds, so that each bad peer hits one quickly.
fn tight() -> Limits {
    Limits {
        handshake_timeout_ms: 500,
        frame_timeout_ms: 500,
        peer_frames_per_s: 200,
        max_frame_bytes: 64 << 10,
        ..Limits::default()
    }
}

#[derive(Debug)]
struct Subject {
    proc: Proc,
    file: host::config::NodeFile,
}

fn subject(name: &str) -> Subject {
    let dir = scratch(name);
    let file = solo_file(&dir, 0, tight(), Faults::default(), unix_ms());
    let mut proc = Proc::start(&file);
    proc.wait_for("a first seal", 20_000, |l| matches!(l.ev, Ev::Sealed { .. }));
    Subject { proc, file }
}

impl Subject {
    /// Wait for the link-closed line whose reason contains `reason`.
    fn closed_for(&mut self, reason: &str) -> Line {
        self.proc.wait_for(
            reason,
            10_000,
            |l| matches!(&l.ev, Ev::LinkClosed { reason: r, .. } if r.contains(reason)),
        )
    }

    /// The node is alive, seals on, and an honest peer's handshake still succeeds.
    fn still_serves(mut self) {
        assert!(self.proc.alive(), "the node died");
        let sealed = sealed_pulses(&self.proc.lines()).last().copied().unwrap_or(0);
        self.proc.wait_for(
            "a later seal",
            10_000,
            |l| matches!(l.ev, Ev::Sealed { pulse, .. } if pulse > sealed + 1),
        );
        runtime().block_on(async {
            let mut link = dial(&self, 1).await;
            let frame = envelope_frame(1, 1);
            link.send_frame(&frame, 1_000).await.expect("an honest frame is taken");
        });
        // The honest envelope reached the node (which refuses a client's state request).
        self.proc.wait_for(
            "the honest envelope",
            10_000,
            |l| matches!(&l.ev, Ev::BadMessage { error, .. } if error.contains("StateRequest")),
        );
    }
}

/// The frame of a well-formed envelope node `index` of the solo genesis seals with `seq` (a
/// state request: the chief refuses it from a client, but only after reading it).
fn envelope_frame(index: usize, seq: u64) -> Vec<u8> {
    let scenario = simulator::scenario::Scenario::load(&workspace("host/tests/it/solo.toml")).expect("solo");
    let mut world = simulator::sim::driver_world(&scenario, 7, Path::new("solo.toml")).expect("genesis");
    let envelope =
        world.nodes[index].seal(seq, To::Everyone, Message::StateRequest { group: reference::Prefix::ROOT });
    reference::wire::encode_envelope(&envelope).expect("encodes")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

fn peer_key(index: u32) -> Arc<dyn Signer + Send + Sync> {
    let key = solo_file(Path::new("/tmp"), index, Limits::default(), Faults::default(), 0).node.secret_key;
    Arc::new(Ed25519Signer::from_seed(host::config::parse_key(&key).expect("hex")))
}

fn prologue(file: &host::config::NodeFile) -> Vec<u8> {
    let config = host::config::Config::load(&file.node.data_dir.join("node.toml")).expect("loads");
    link::prologue(&host::driver::genesis_digest(&config))
}

/// A proven link into the subject as node `index`.
async fn dial(subject: &Subject, index: u32) -> link::Link {
    let stream = TcpStream::connect(subject.file.node.listen).await.expect("connects");
    let chief = subject.proc_id();
    link::initiate(stream, &*peer_key(index), &prologue(&subject.file), chief, 2_000)
        .await
        .expect("handshake")
}

impl Subject {
    fn proc_id(&self) -> reference::Id {
        peer_key(0).id()
    }
}

#[test]
fn junk_bytes_instead_of_a_handshake_close_the_link() {
    let mut s = subject("junk");
    let mut stream = std::net::TcpStream::connect(s.file.node.listen).expect("connects");
    // Two 64-byte "handshake messages" of junk: the first passes for an ephemeral key (any 32
    // bytes do), the second fails to decrypt.
    let junk: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for _ in 0..2 {
        stream.write_all(&[0, 64]).expect("writes");
        stream.write_all(&junk).expect("writes");
    }
    let line = s.closed_for("noise");
    assert!(matches!(line.ev, Ev::LinkClosed { peer: None, .. }), "{line:?}");
    s.still_serves();
}

#[test]
fn a_junk_frame_on_a_proven_link_closes_it() {
    let mut s = subject("junk-frame");
    runtime().block_on(async {
        let mut link = dial(&s, 1).await;
        link.send_frame(b"\x02 certainly not an envelope", 1_000).await.expect("sent");
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let line = s.closed_for("junk frame");
    assert!(matches!(line.ev, Ev::LinkClosed { peer: Some(1), .. }), "{line:?}");
    s.still_serves();
}

#[test]
fn an_oversized_frame_is_refused_before_it_is_read() {
    let mut s = subject("oversized");
    runtime().block_on(async {
        let mut link = dial(&s, 1).await;
        let frame = vec![0u8; 100 << 10]; // over the 64 KiB limit
        let _ = link.send_frame(&frame, 1_000).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    s.closed_for("oversized frame: 102400 bytes");
    s.still_serves();
}

#[test]
fn a_flood_from_one_peer_closes_its_link() {
    let mut s = subject("flood");
    runtime().block_on(async {
        let mut link = dial(&s, 1).await;
        // One frame over and over: the link's bound counts frames before the node's replay
        // fence ever sees them.
        let frame = envelope_frame(1, 1);
        for _ in 0..2_000u64 {
            if link.send_frame(&frame, 1_000).await.is_err() {
                break; // closed by the subject
            }
        }
    });
    s.closed_for("flood: more than 200 frames per second");
    s.still_serves();
}

#[test]
fn a_peer_that_connects_and_stalls_is_dropped() {
    let mut s = subject("stall");
    let _idle = std::net::TcpStream::connect(s.file.node.listen).expect("connects");
    s.closed_for("stalled: no handshake within 500 ms");
    runtime().block_on(async {
        // A proven peer that begins a frame and never ends it.
        let mut link = dial(&s, 1).await;
        link.send_frame_start(60 << 10, &[0u8; 1_000]).await.expect("sent");
        tokio::time::sleep(Duration::from_millis(900)).await;
    });
    s.closed_for("stalled: no end of frame within 500 ms");
    s.still_serves();
}

#[test]
fn an_envelope_in_another_nodes_name_closes_the_link() {
    let mut s = subject("not-the-peer");
    runtime().block_on(async {
        let mut link = dial(&s, 1).await;
        let frame = envelope_frame(2, 1); // node 2 seals; the link is node 1's
        link.send_frame(&frame, 1_000).await.expect("sent");
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    s.closed_for("but the link is");
    s.still_serves();
}

#[test]
fn a_peer_that_is_dialled_and_never_answers_costs_only_its_own_frames() {
    // A "peer" that accepts the connection and then says nothing: the node's dialler gives up
    // on the handshake, loses the frames it had for it, and dials again later; the node seals on.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = silent.local_addr().expect("an address");
    let held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(2) {
            held.push(stream.expect("a connection"));
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    let dir = scratch("silent-peer");
    let mut file = solo_file(&dir, 0, tight(), Faults::default(), unix_ms());
    file.peers.push(host::config::Peer { index: 1, addr });
    let mut proc = Proc::start(&file);
    let line = proc.wait_for("the silent peer dropped", 10_000, |l| {
        matches!(&l.ev, Ev::LinkClosed { peer: Some(1), dialled: true, reason } if reason.contains("stalled: no handshake"))
    });
    let sealed = sealed_pulses(&proc.lines()).last().copied().unwrap_or(0);
    proc.wait_for("a later seal", 10_000, |l| matches!(l.ev, Ev::Sealed { pulse, .. } if pulse > sealed + 1));
    assert!(proc.alive(), "after {line:?}");
    held.join().expect("joins");
}
