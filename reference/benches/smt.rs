//! Ledger-tree benchmarks (issue: foundation), each comparing our `VersionedSmt` with published
//! sparse-Merkle-tree crates in the same run:
//! * `monotree` 0.4 — a path-compressed, versioned binary tree hashed with BLAKE3 (the closest
//!   published analogue of ours);
//! * Nervos `sparse-merkle-tree` 0.6 — a 256-level tree hashed with BLAKE2b (widely deployed).
//!
//! Groups: bulk build, batched updates (batches of 10,000, one version per batch), single
//! updates (one version per update), proof generation and proof verification, all at
//! `LEITHER_BENCH_ACCOUNTS` accounts (default 1,000,000; Nervos's bulk build at a tenth).
//! Our tree keeps two versions (the previous one is pruned at every seal), so the update
//! figures include pruning and the reuse of freed arena slots; the competitors keep every
//! version they ever wrote (monotree) or only the latest (Nervos). Under `cargo bench -- --test` (CI's
//! "does it still run" pass) the size drops to 10,000 so the pass takes seconds.
//!
//! Keys are `Id::spread(i)` (hashes, i.e. uniformly spread like real public-key Ids); every
//! tree holds the same keys and receives the same updates. The competitors store a 32-byte
//! value per key (we give them our leaf hash), while our leaves hold the full account and our
//! branches carry summaries — more work on our side.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use monotree::Monotree;
use monotree::hasher::Hasher as _;
use reference::Id;
use reference::smt::{Account, VersionedSmt, leaf_hash};
use sparse_merkle_tree::blake2b::Blake2bHasher;
use sparse_merkle_tree::default_store::DefaultStore;
use sparse_merkle_tree::{H256, SparseMerkleTree};

type Nervos = SparseMerkleTree<Blake2bHasher, H256, DefaultStore<H256>>;

const BATCH: u64 = 10_000;

fn accounts_under_test() -> u64 {
    if std::env::args().any(|arg| arg == "--test") {
        return 10_000;
    }
    std::env::var("LEITHER_BENCH_ACCOUNTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

fn account(n: u64) -> Account {
    Account { balance: 1_000 + n % 997, nonce: n % 13, ..Account::default() }
}

/// The key of update `j` of round `round`: a permutation-like walk over the existing keys.
fn updated_key_index(round: u64, j: u64, accounts: u64) -> u64 {
    (round.wrapping_mul(BATCH) + j).wrapping_mul(2_654_435_761) % accounts
}

fn key32(id: &Id) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..20].copy_from_slice(&id.0);
    key
}

fn value32(id: &Id, account: &Account) -> [u8; 32] {
    leaf_hash(id, account).0
}

fn build_ours(accounts: u64) -> VersionedSmt {
    VersionedSmt::from_accounts((0..accounts).map(|n| (Id::spread(n), account(n)))).with_versions_retained(2)
}

fn build_monotree(accounts: u64) -> (Monotree, Option<monotree::Hash>) {
    let mut tree = Monotree::default();
    let (keys, leaves): (Vec<_>, Vec<_>) = (0..accounts)
        .map(|n| {
            let id = Id::spread(n);
            (key32(&id), value32(&id, &account(n)))
        })
        .unzip();
    let root = tree.inserts(None, &keys, &leaves).expect("monotree insert");
    (tree, root)
}

fn build_nervos(accounts: u64) -> Nervos {
    let mut tree = Nervos::default();
    let leaves = (0..accounts)
        .map(|n| {
            let id = Id::spread(n);
            (H256::from(key32(&id)), H256::from(value32(&id, &account(n))))
        })
        .collect();
    tree.update_all(leaves).expect("nervos update");
    tree
}

/// Bulk build from pre-generated keys and values (generating them is not part of the build).
/// Nervos's tree is built from a tenth as many accounts: a million takes it over half a minute
/// per build, and criterion needs ten builds; its rate is reported per element like the others.
fn bulk_build(c: &mut Criterion) {
    let accounts = accounts_under_test();
    let mut group = c.benchmark_group("bulk_build");
    group.sample_size(10);
    group.throughput(Throughput::Elements(accounts));
    let ours_input: Vec<(Id, Account)> = (0..accounts).map(|n| (Id::spread(n), account(n))).collect();
    group.bench_function(BenchmarkId::new("ours", accounts), |b| {
        b.iter_batched(
            || ours_input.clone(),
            |input| black_box(VersionedSmt::from_accounts(input)),
            BatchSize::LargeInput,
        )
    });
    drop(ours_input);
    let (keys, leaves): (Vec<_>, Vec<_>) = (0..accounts)
        .map(|n| {
            let id = Id::spread(n);
            (key32(&id), value32(&id, &account(n)))
        })
        .unzip();
    group.bench_function(BenchmarkId::new("monotree", accounts), |b| {
        b.iter(|| {
            let mut tree = Monotree::default();
            black_box(tree.inserts(None, &keys, &leaves).expect("monotree insert"))
        })
    });
    let nervos_accounts = accounts / 10;
    group.throughput(Throughput::Elements(nervos_accounts));
    let nervos_input: Vec<(H256, H256)> = keys
        .iter()
        .zip(&leaves)
        .take(nervos_accounts as usize)
        .map(|(k, v)| (H256::from(*k), H256::from(*v)))
        .collect();
    group.bench_function(BenchmarkId::new("nervos", nervos_accounts), |b| {
        b.iter_batched(
            || nervos_input.clone(),
            |input| {
                let mut tree = Nervos::default();
                black_box(*tree.update_all(input).expect("nervos update"))
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn batched_updates(c: &mut Criterion) {
    let accounts = accounts_under_test();
    let mut group = c.benchmark_group(format!("batch_update_{BATCH}"));
    group.sample_size(20).throughput(Throughput::Elements(BATCH));

    let mut round = 0u64;
    let mut ours = None;
    group.bench_function(BenchmarkId::new("ours", accounts), |b| {
        let ours = ours.get_or_insert_with(|| build_ours(accounts));
        b.iter(|| {
            round += 1;
            let changes = (0..BATCH).map(|j| {
                let n = updated_key_index(round, j, accounts);
                (Id::spread(n), Some(account(n + round)))
            });
            black_box(ours.apply_batch(changes))
        })
    });
    drop(ours);

    let mut round = 0u64;
    let mut mono = None;
    group.bench_function(BenchmarkId::new("monotree", accounts), |b| {
        let (mono, mono_root) = mono.get_or_insert_with(|| build_monotree(accounts));
        b.iter(|| {
            round += 1;
            let (keys, leaves): (Vec<_>, Vec<_>) = (0..BATCH)
                .map(|j| {
                    let n = updated_key_index(round, j, accounts);
                    let id = Id::spread(n);
                    (key32(&id), value32(&id, &account(n + round)))
                })
                .unzip();
            *mono_root = mono.inserts(mono_root.as_ref(), &keys, &leaves).expect("monotree insert");
            black_box(*mono_root)
        })
    });
    drop(mono);

    let mut round = 0u64;
    let mut nervos = None;
    group.bench_function(BenchmarkId::new("nervos", accounts), |b| {
        let nervos = nervos.get_or_insert_with(|| build_nervos(accounts));
        b.iter(|| {
            round += 1;
            let leaves = (0..BATCH)
                .map(|j| {
                    let n = updated_key_index(round, j, accounts);
                    let id = Id::spread(n);
                    (H256::from(key32(&id)), H256::from(value32(&id, &account(n + round))))
                })
                .collect();
            black_box(*nervos.update_all(leaves).expect("nervos update"))
        })
    });
    group.finish();
}

fn single_updates(c: &mut Criterion) {
    let accounts = accounts_under_test();
    let mut group = c.benchmark_group("single_update");
    group.throughput(Throughput::Elements(1));

    let mut step = 0u64;
    let mut ours = None;
    group.bench_function(BenchmarkId::new("ours", accounts), |b| {
        let ours = ours.get_or_insert_with(|| build_ours(accounts));
        b.iter(|| {
            step += 1;
            let n = updated_key_index(0, step, accounts);
            ours.insert(Id::spread(n), account(n + step));
            black_box(ours.seal())
        })
    });
    drop(ours);

    let mut step = 0u64;
    let mut mono = None;
    group.bench_function(BenchmarkId::new("monotree", accounts), |b| {
        let (mono, mono_root) = mono.get_or_insert_with(|| build_monotree(accounts));
        b.iter(|| {
            step += 1;
            let n = updated_key_index(0, step, accounts);
            let id = Id::spread(n);
            let leaf = value32(&id, &account(n + step));
            *mono_root = mono.insert(mono_root.as_ref(), &key32(&id), &leaf).expect("monotree insert");
            black_box(*mono_root)
        })
    });
    drop(mono);

    let mut step = 0u64;
    let mut nervos = None;
    group.bench_function(BenchmarkId::new("nervos", accounts), |b| {
        let nervos = nervos.get_or_insert_with(|| build_nervos(accounts));
        b.iter(|| {
            step += 1;
            let n = updated_key_index(0, step, accounts);
            let id = Id::spread(n);
            let value = H256::from(value32(&id, &account(n + step)));
            black_box(*nervos.update(H256::from(key32(&id)), value).expect("nervos update"))
        })
    });
    group.finish();
}

/// A built tree, its root, and 1,024 proofs of present keys made from it.
struct ProofFixture<T, R, P> {
    tree: T,
    root: R,
    proofs: Vec<P>,
}

const PROOFS: u64 = 1024;

fn proof_key(accounts: u64, step: u64) -> Id {
    Id::spread(updated_key_index(7, step, accounts))
}

fn proofs(c: &mut Criterion) {
    let accounts = accounts_under_test();
    let mut group = c.benchmark_group("proof");
    group.throughput(Throughput::Elements(1));
    our_proofs(&mut group, accounts);
    monotree_proofs(&mut group, accounts);
    nervos_proofs(&mut group, accounts);
    group.finish();
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn our_proofs(group: &mut Group<'_>, accounts: u64) {
    let make = || {
        let tree = build_ours(accounts);
        let version = tree.latest_version();
        let root = tree.root(version).expect("latest version");
        let proofs =
            (0..PROOFS).map(|s| tree.prove(version, &proof_key(accounts, s)).expect("held")).collect();
        ProofFixture { tree, root, proofs }
    };
    let mut fixture = None;
    let mut step = 0u64;
    group.bench_function(BenchmarkId::new("generate/ours", accounts), |b| {
        let fixture = fixture.get_or_insert_with(make);
        let version = fixture.root.version;
        b.iter(|| {
            step += 1;
            black_box(fixture.tree.prove(version, &proof_key(accounts, step)).expect("held version"))
        })
    });
    group.bench_function(BenchmarkId::new("verify/ours", accounts), |b| {
        let fixture = fixture.get_or_insert_with(make);
        let mut index = 0;
        b.iter(|| {
            index = (index + 1) % fixture.proofs.len();
            black_box(fixture.proofs[index].verify(&fixture.root).expect("honest proof"))
        })
    });
}

fn monotree_proofs(group: &mut Group<'_>, accounts: u64) {
    let make = || {
        let (mut tree, root) = build_monotree(accounts);
        let proofs = (0..PROOFS)
            .map(|s| {
                let key = key32(&proof_key(accounts, s));
                let leaf = tree.get(root.as_ref(), &key).expect("get").expect("present");
                (leaf, tree.get_merkle_proof(root.as_ref(), &key).expect("proof"))
            })
            .collect();
        ProofFixture { tree, root, proofs }
    };
    let mut fixture = None;
    let mut step = 0u64;
    group.bench_function(BenchmarkId::new("generate/monotree", accounts), |b| {
        let fixture = fixture.get_or_insert_with(make);
        b.iter(|| {
            step += 1;
            let key = key32(&proof_key(accounts, step));
            black_box(fixture.tree.get_merkle_proof(fixture.root.as_ref(), &key).expect("proof"))
        })
    });
    let hasher = monotree::hasher::Blake3::new();
    group.bench_function(BenchmarkId::new("verify/monotree", accounts), |b| {
        let fixture = fixture.get_or_insert_with(make);
        let mut index = 0;
        b.iter(|| {
            index = (index + 1) % fixture.proofs.len();
            let (leaf, proof) = &fixture.proofs[index];
            assert!(monotree::tree::verify_proof(&hasher, fixture.root.as_ref(), leaf, proof.as_ref()));
        })
    });
}

fn nervos_proofs(group: &mut Group<'_>, accounts: u64) {
    let make = || {
        let tree = build_nervos(accounts);
        let root = *tree.root();
        let proofs = (0..PROOFS)
            .map(|s| {
                let key = H256::from(key32(&proof_key(accounts, s)));
                let value = tree.get(&key).expect("get");
                (key, value, tree.merkle_proof(vec![key]).expect("proof"))
            })
            .collect();
        ProofFixture { tree, root, proofs }
    };
    let mut fixture = None;
    let mut step = 0u64;
    group.bench_function(BenchmarkId::new("generate/nervos", accounts), |b| {
        let fixture = fixture.get_or_insert_with(make);
        b.iter(|| {
            step += 1;
            let key = H256::from(key32(&proof_key(accounts, step)));
            black_box(fixture.tree.merkle_proof(vec![key]).expect("proof"))
        })
    });
    // Nervos's verify consumes the proof: the clone is made outside the timed part.
    group.bench_function(BenchmarkId::new("verify/nervos", accounts), |b| {
        let fixture = fixture.get_or_insert_with(make);
        let mut index = 0;
        b.iter_batched(
            || {
                index = (index + 1) % fixture.proofs.len();
                fixture.proofs[index].clone()
            },
            |(key, value, proof)| {
                assert!(proof.verify::<Blake2bHasher>(&fixture.root, vec![(key, value)]).expect("verify"));
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bulk_build, batched_updates, single_updates, proofs);
criterion_main!(benches);
