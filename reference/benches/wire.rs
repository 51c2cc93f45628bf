//! The wire codec (D-038): encoding and decoding the messages that dominate a run's traffic,
//! and the same shapes through serde + postcard in the same run, for the decision's "simpler
//! and faster" — a submission (a doubly signed transfer), a chief's settle order with 256
//! orders and an 8-step path, and a primary's replication batch of 8 cycles of 16 submissions
//! (ours only: its nesting has no serde mirror here). Then the envelope every message travels
//! in (D-039): sealing (hash and sign) and opening (decode and verify) a submission's envelope,
//! with the simulation scheme and with ed25519.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reference::consensus::root::{GroupEntry, GroupPath, GroupStep};
use reference::consensus::settlement::Order;
use reference::crypto::{
    Ed25519Signer, Ed25519Verifier, Hash32, PublicKey, Signature, Signer, SimScheme, Verifier,
};
use reference::ledger::{Settlement, SignedTx, Tx};
use reference::node::{Envelope, Message, ReplicaBatch, ReplicaCycle, SettleMsg, To};
use reference::smt::{RootSynopsis, Summary, Synopsis};
use reference::wire;
use reference::{Id, Prefix};
use serde::{Deserialize, Serialize};

fn signed(i: u64) -> SignedTx {
    let tx = Tx { from: Id::spread(i), to: Id::spread(i + 1), amount: 5, from_nonce: i, created_pulse: 9 };
    SignedTx {
        tx,
        payer_key: PublicKey([1; 32]),
        payee_key: PublicKey([2; 32]),
        payer_sig: Signature([3; 64]),
        payee_sig: Signature([4; 64]),
    }
}

fn settle() -> SettleMsg {
    let summary = Summary { balance: 1 << 40, frozen: 0, pending_out: 77, pending_in: 5, accounts: 4_000 };
    let synopsis = Synopsis { hash: Hash32([5; 32]), summary };
    let entry = GroupEntry { prefix: Prefix::new(Id::spread(3), 8), version: 70, synopsis };
    let steps = (0..8).map(|i| GroupStep { sibling_left: i % 2 == 0, sibling: synopsis }).collect();
    let orders = (0..256u64)
        .map(|i| Order { tx_id: Hash32(*blake3::hash(&i.to_le_bytes()).as_bytes()), how: Settlement::Clear })
        .collect();
    SettleMsg {
        pulse: 71,
        root: RootSynopsis { version: 70, synopsis },
        path: GroupPath { entry, steps },
        orders,
        view: 0,
    }
}

fn batch() -> Message {
    let cycle = |c: u64| {
        let signer = SimScheme::new(1).signer(c);
        let inputs = (0..16)
            .map(|i| {
                let msg = Message::Submit(Box::new(signed(c * 16 + i)));
                Envelope::seal(&signer, To::Node(Id::spread(3)), i, msg)
            })
            .collect();
        Arc::new(ReplicaCycle { before_pulse: c, pulse: c + 1, inputs, report_digest: Hash32([6; 32]) })
    };
    let cycles = (0..8).map(cycle).collect();
    Message::Replicate(Box::new(ReplicaBatch { group: Prefix::new(Id::spread(3), 8), view: 1, cycles }))
}

// The same shapes for postcard.
#[derive(Serialize, Deserialize)]
struct PcTx {
    from: [u8; 20],
    to: [u8; 20],
    amount: u64,
    from_nonce: u64,
    created_pulse: u64,
}

#[derive(Serialize, Deserialize)]
struct PcSigned {
    tx: PcTx,
    payer_key: [u8; 32],
    payee_key: [u8; 32],
    payer_sig: ([u8; 32], [u8; 32]),
    payee_sig: ([u8; 32], [u8; 32]),
}

#[derive(Serialize, Deserialize, Clone, Copy)]
struct PcSummary {
    balance: u64,
    frozen: u64,
    pending_out: u64,
    pending_in: u64,
    accounts: u64,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
struct PcSynopsis {
    hash: [u8; 32],
    summary: PcSummary,
}

#[derive(Serialize, Deserialize)]
struct PcSettle {
    pulse: u64,
    root: (u64, PcSynopsis),
    entry: ([u8; 20], u8, u64, PcSynopsis),
    steps: Vec<(bool, PcSynopsis)>,
    orders: Vec<([u8; 32], u8)>,
    view: u32,
}

fn pc_signed(s: &SignedTx) -> PcSigned {
    let halves = |sig: &Signature| {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        a.copy_from_slice(&sig.0[..32]);
        b.copy_from_slice(&sig.0[32..]);
        (a, b)
    };
    PcSigned {
        tx: PcTx {
            from: s.tx.from.0,
            to: s.tx.to.0,
            amount: s.tx.amount,
            from_nonce: s.tx.from_nonce,
            created_pulse: s.tx.created_pulse,
        },
        payer_key: s.payer_key.0,
        payee_key: s.payee_key.0,
        payer_sig: halves(&s.payer_sig),
        payee_sig: halves(&s.payee_sig),
    }
}

fn pc_settle(s: &SettleMsg) -> PcSettle {
    let syn = |x: &Synopsis| PcSynopsis {
        hash: x.hash.0,
        summary: PcSummary {
            balance: x.summary.balance,
            frozen: x.summary.frozen,
            pending_out: x.summary.pending_out,
            pending_in: x.summary.pending_in,
            accounts: x.summary.accounts,
        },
    };
    let e = &s.path.entry;
    PcSettle {
        pulse: s.pulse,
        root: (s.root.version, syn(&s.root.synopsis)),
        entry: (e.prefix.bits().0, e.prefix.len_bits() as u8, e.version, syn(&e.synopsis)),
        steps: s.path.steps.iter().map(|st| (st.sibling_left, syn(&st.sibling))).collect(),
        orders: s.orders.iter().map(|o| (o.tx_id.0, o.how as u8)).collect(),
        view: s.view,
    }
}

fn round_trip(c: &mut Criterion, name: &str, msg: &Message) {
    let frame = wire::encode(msg).expect("fits");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("ours: encode", |b| b.iter(|| wire::encode(black_box(msg)).expect("fits")));
    group.bench_function("ours: decode", |b| b.iter(|| wire::decode(black_box(&frame)).expect("valid")));
    group.finish();
}

fn postcard_round_trip<T: Serialize + for<'de> Deserialize<'de>>(c: &mut Criterion, name: &str, value: &T) {
    let bytes = postcard::to_allocvec(value).expect("serialises");
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("postcard: encode", |b| {
        b.iter(|| postcard::to_allocvec(black_box(value)).expect("ok"))
    });
    group.bench_function("postcard: decode", |b| {
        b.iter(|| postcard::from_bytes::<T>(black_box(&bytes)).expect("ok"))
    });
    group.finish();
}

/// Sealing and opening one submission's envelope with `signer` and `verifier`.
fn envelope(c: &mut Criterion, scheme: &str, signer: &dyn Signer, verifier: &dyn Verifier) {
    let msg = Message::Submit(Box::new(signed(1)));
    let to = To::Node(Id::spread(2));
    let sealed = Envelope::seal(signer, to, 1 << 20, msg.clone());
    let frame = wire::encode_envelope(&sealed).expect("fits");
    let mut group = c.benchmark_group(format!("envelope-submit-{scheme}"));
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("seal (hash, sign)", |b| {
        b.iter(|| Envelope::seal(signer, to, black_box(1 << 20), black_box(&msg).clone()))
    });
    group.bench_function("encode", |b| b.iter(|| wire::encode_envelope(black_box(&sealed)).expect("fits")));
    group.bench_function("open (decode, verify)", |b| {
        b.iter(|| {
            let envelope = wire::decode_envelope(black_box(&frame)).expect("valid");
            envelope.verify(verifier).expect("signed");
            envelope
        })
    });
    group.finish();
}

fn wire_codec(c: &mut Criterion) {
    let submit = Message::Submit(Box::new(signed(1)));
    round_trip(c, "submit", &submit);
    postcard_round_trip(c, "submit", &pc_signed(&signed(1)));
    let settle = settle();
    round_trip(c, "settle-256", &Message::Settle(Box::new(settle.clone())));
    postcard_round_trip(c, "settle-256", &pc_settle(&settle));
    round_trip(c, "replicate-8x16", &batch());
    let sim = SimScheme::new(1);
    envelope(c, "sim", &sim.signer(1), &sim);
    envelope(c, "ed25519", &Ed25519Signer::from_seed([7; 32]), &Ed25519Verifier);
}

criterion_group!(benches, wire_codec);
criterion_main!(benches);
