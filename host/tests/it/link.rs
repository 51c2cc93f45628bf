//! A link carries frames of every size bit for bit — empty, one Noise message, exactly at and
//! just past a chunk boundary, many chunks — and refuses a peer of another genesis.

use std::sync::Arc;

use host::link;
use reference::crypto::{Ed25519Signer, Signer};
use tokio::net::{TcpListener, TcpStream};

fn signer(seed: u8) -> Arc<dyn Signer + Send + Sync> {
    Arc::new(Ed25519Signer::from_seed([seed; 32]))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// A dialled link and its accepted end, each with its genesis prologue.
async fn pair(
    dialler_genesis: [u8; 32],
    acceptor_genesis: [u8; 32],
) -> Result<(link::Link, link::Link), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("an address");
    let (a, b) = (signer(1), signer(2));
    let b_id = b.id();
    let accept = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accepts");
        link::accept(stream, &*b, &link::prologue(&acceptor_genesis), |_| true, 2_000).await
    });
    let stream = TcpStream::connect(addr).await.expect("connects");
    let dialled = link::initiate(stream, &*a, &link::prologue(&dialler_genesis), b_id, 2_000).await;
    let accepted = accept.await.expect("joins");
    match (dialled, accepted) {
        (Ok(d), Ok(a)) => Ok((d, a)),
        (d, a) => Err(format!("dialler: {:?}, acceptor: {:?}", d.err(), a.err())),
    }
}

#[test]
fn frames_of_every_size_arrive_bit_for_bit() {
    runtime().block_on(async {
        let (mut tx, mut rx) = pair([7; 32], [7; 32]).await.expect("a link");
        assert_eq!(rx.peer.id(), signer(1).id(), "the acceptor learns the dialler's node key");
        let sizes = [0usize, 1, 1_000, 65_515, 65_516, 65_519, 131_034, 200_001, 4 << 20];
        let send = tokio::spawn(async move {
            for size in sizes {
                let frame: Vec<u8> = (0..size).map(|i| (i * 31 + size) as u8).collect();
                tx.send_frame(&frame, 10_000).await.expect("sends");
            }
        });
        for size in sizes {
            let frame = rx.recv_frame(10_000, 10_000, 4 << 20).await.expect("receives");
            let expected: Vec<u8> = (0..size).map(|i| (i * 31 + size) as u8).collect();
            assert!(frame == expected, "a frame of {size} bytes came back as {} bytes", frame.len());
        }
        send.await.expect("joins");
    });
}

#[test]
fn a_peer_of_another_genesis_fails_the_handshake() {
    runtime().block_on(async {
        let error = pair([7; 32], [8; 32]).await.expect_err("refused");
        assert!(
            error.contains("Noise(Decrypt)"),
            "the prologues differ, so the handshake does not decrypt: {error}"
        );
    });
}

#[test]
fn the_dialler_refuses_a_peer_that_is_not_the_one_it_dialled() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accepts");
            let _ = link::accept(stream, &*signer(3), &link::prologue(&[7; 32]), |_| true, 2_000).await;
        });
        let stream = TcpStream::connect(addr).await.expect("connects");
        let expected = signer(2).id(); // node 3 answers
        let error = link::initiate(stream, &*signer(1), &link::prologue(&[7; 32]), expected, 2_000)
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("bad binding"), "{error}");
    });
}
