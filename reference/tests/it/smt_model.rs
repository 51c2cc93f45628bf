//! The versioned sparse Merkle tree against a plain `BTreeMap` model (SPEC §4).
//!
//! Random sequences of insert / remove / seal / batch / prune are applied to both; after every
//! seal each held version must match the model's snapshot key by key, its root must equal a
//! from-scratch rebuild, its summary must equal the model's sums, and a proof of every key of
//! the pool (present or absent) must verify and say what the model says.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reference::Id;
use reference::smt::{Account, Summary, Version, VersionedSmt};

use crate::support::{account, key_index, key_pool};

#[derive(Clone, Debug)]
enum Op {
    Insert(usize, Account),
    Remove(usize),
    Seal,
    Batch(Vec<(usize, Option<Account>)>),
    PruneKeepingLast(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key_index(), account()).prop_map(|(k, a)| Op::Insert(k, a)),
        2 => key_index().prop_map(Op::Remove),
        2 => Just(Op::Seal),
        2 => prop::collection::vec((key_index(), prop::option::weighted(0.8, account())), 0..12)
            .prop_map(Op::Batch),
        1 => (1u64..4).prop_map(Op::PruneKeepingLast),
    ]
}

type Snapshot = BTreeMap<Id, Account>;

/// The model: the staged map and every sealed snapshot.
struct Model {
    working: Snapshot,
    sealed: BTreeMap<Version, Snapshot>,
}

impl Model {
    fn latest(&self) -> (Version, &Snapshot) {
        let (version, snapshot) = self.sealed.last_key_value().expect("version 0 always exists");
        (*version, snapshot)
    }

    /// Seal the working map: a new version only if it differs from the latest.
    fn seal(&mut self) -> Version {
        let (version, latest) = self.latest();
        if *latest == self.working {
            return version;
        }
        self.sealed.insert(version + 1, self.working.clone());
        version + 1
    }

    fn apply(&mut self, key: Id, value: Option<Account>) {
        match value {
            Some(account) => self.working.insert(key, account),
            None => self.working.remove(&key),
        };
    }
}

fn sums(snapshot: &Snapshot) -> Summary {
    snapshot
        .values()
        .fold(Summary::ZERO, |total, account| total.checked_add(&account.summary()).expect("small values"))
}

fn check_version(tree: &VersionedSmt, version: Version, snapshot: &Snapshot) -> Result<(), TestCaseError> {
    let held: Vec<(Id, Account)> = tree.iter(version).unwrap().collect();
    let expected: Vec<(Id, Account)> = snapshot.iter().map(|(k, v)| (*k, *v)).collect();
    prop_assert_eq!(&held, &expected, "contents of version {}", version);

    let root = tree.root(version).unwrap();
    let rebuilt = VersionedSmt::from_accounts(expected);
    let rebuilt_root = rebuilt.root(rebuilt.latest_version()).unwrap();
    prop_assert_eq!(root.synopsis, rebuilt_root.synopsis, "root of version {} vs rebuild", version);
    prop_assert_eq!(root.synopsis.summary, sums(snapshot));

    for key in key_pool() {
        let in_model = snapshot.get(&key).copied();
        prop_assert_eq!(tree.get(version, &key).unwrap(), in_model);
        let proof = tree.prove(version, &key).unwrap();
        prop_assert_eq!(proof.is_inclusion(), in_model.is_some());
        prop_assert_eq!(proof.verify(&root), Ok(in_model), "proof of {:?} in {}", key, version);
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let keys = key_pool();
    let mut tree = VersionedSmt::new();
    let mut model = Model { working: Snapshot::new(), sealed: BTreeMap::from([(0, Snapshot::new())]) };
    for op in ops {
        match op {
            Op::Insert(k, account) => {
                tree.insert(keys[k], account);
                model.apply(keys[k], Some(account));
            }
            Op::Remove(k) => {
                tree.remove(keys[k]);
                model.apply(keys[k], None);
            }
            Op::Seal => {
                prop_assert_eq!(tree.seal(), model.seal());
            }
            Op::Batch(changes) => {
                let changes: Vec<(Id, Option<Account>)> =
                    changes.into_iter().map(|(k, value)| (keys[k], value)).collect();
                for (key, value) in &changes {
                    model.apply(*key, *value);
                }
                prop_assert_eq!(tree.apply_batch(changes).version, model.seal());
            }
            Op::PruneKeepingLast(kept) => {
                let oldest_kept = tree.latest_version().saturating_sub(kept - 1);
                tree.prune_before(oldest_kept);
                model.sealed = model.sealed.split_off(&oldest_kept);
            }
        }
        for key in &keys {
            prop_assert_eq!(tree.get_working(key), model.working.get(key).copied());
        }
        prop_assert_eq!(tree.oldest_version(), *model.sealed.keys().next().unwrap());
        for (version, snapshot) in &model.sealed {
            check_version(&tree, *version, snapshot)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn tree_matches_btreemap_model_at_every_version(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}

#[test]
fn unknown_and_pruned_versions_are_errors() {
    let mut tree = VersionedSmt::new();
    tree.insert(Id::spread(1), Account::with_balance(1));
    tree.seal();
    tree.insert(Id::spread(1), Account::with_balance(2));
    tree.seal();
    tree.prune_before(2);
    let error = tree.get(1, &Id::spread(1)).unwrap_err();
    assert_eq!(error.to_string(), "version 1 is not held (held: 2..=2)");
    assert!(tree.prove(7, &Id::spread(1)).is_err());
}

#[test]
fn pruning_frees_replaced_nodes_and_keeps_held_versions_intact() {
    let accounts = (0..1000).map(|n| (Id::spread(n), Account::with_balance(n)));
    let mut tree = VersionedSmt::from_accounts(accounts);
    let (nodes_at_start, _) = tree.memory();
    assert_eq!(nodes_at_start, 1999, "1000 leaves and 999 branches");
    for round in 0..10u64 {
        tree.apply_batch((0..50).map(|n| (Id::spread(n * 7 + round), Some(Account::with_balance(round)))));
    }
    let latest = tree.latest_version();
    let root_before = tree.root(latest).unwrap();
    let freed = tree.prune_before(latest);
    assert!(freed > 0);
    assert_eq!(tree.memory().0, 1999, "after pruning only the latest version's nodes remain");
    assert_eq!(tree.root(latest).unwrap(), root_before);
    assert_eq!(tree.iter(latest).unwrap().count(), 1000);
}

#[test]
fn retention_limit_prunes_automatically() {
    let mut tree = VersionedSmt::new().with_versions_retained(3);
    for n in 1..=10u64 {
        tree.insert(Id::spread(n % 4), Account::with_balance(n));
        tree.seal();
    }
    assert_eq!(tree.latest_version(), 10);
    assert_eq!(tree.oldest_version(), 8);
}

#[test]
fn sealing_unchanged_values_creates_no_version() {
    let mut tree = VersionedSmt::new();
    tree.insert(Id::spread(1), Account::with_balance(5));
    assert_eq!(tree.seal(), 1);
    tree.insert(Id::spread(1), Account::with_balance(5));
    tree.remove(Id::spread(2));
    let stats = tree.seal_with_stats();
    assert_eq!((stats.version, stats.advanced, stats.nodes_written), (1, false, 0));
}

#[test]
fn batch_writes_each_changed_node_once() {
    // 256 leaves in a full binary tree (keys differ only in their first byte), then change
    // every leaf: exactly 256 new leaves and 255 new branches, each hashed once.
    let keys: Vec<Id> = (0..=255u8)
        .map(|b| {
            let mut id = Id::ZERO;
            id.0[0] = b;
            id
        })
        .collect();
    let mut tree = VersionedSmt::from_accounts(keys.iter().map(|k| (*k, Account::with_balance(1))));
    let stats = tree.apply_batch(keys.iter().map(|k| (*k, Some(Account::with_balance(2)))));
    assert_eq!(stats.nodes_written, 256 + 255);
}

#[test]
fn synopsis_of_a_prefix_covers_exactly_its_keys() {
    let accounts: Vec<(Id, Account)> =
        (0..64).map(|n| (Id::spread(n), Account::with_balance(n + 1))).collect();
    let tree = VersionedSmt::from_accounts(accounts.clone());
    let version = tree.latest_version();
    for prefix_bits in [0usize, 1, 3, 8, 20] {
        for (id, _) in &accounts {
            let prefix = reference::Prefix::new(*id, prefix_bits);
            let members: Vec<(Id, Account)> =
                accounts.iter().filter(|(k, _)| prefix.contains(k)).copied().collect();
            let expected = VersionedSmt::from_accounts(members);
            let expected = expected.root(expected.latest_version()).unwrap().synopsis;
            assert_eq!(tree.synopsis(version, &prefix).unwrap(), expected, "prefix {prefix}");
        }
    }
    let mut absent = Id::spread(0);
    absent.0[0] ^= 0x80;
    let empty_prefix = reference::Prefix::new(absent, 40);
    assert_eq!(tree.synopsis(version, &empty_prefix).unwrap(), reference::smt::Synopsis::empty());
}
