//! Node groups (SPEC §6.1): constructed trees, and properties over random clustered Ids.

use proptest::prelude::*;
use reference::consensus::groups::{GroupError, GroupTree};
use reference::{Id, Prefix};

/// An Id starting with `bytes`, then `tail` in its last bytes.
fn id(bytes: &[u8], tail: u64) -> Id {
    let mut id = Id::from_u64(tail);
    id.0[..bytes.len()].copy_from_slice(bytes);
    id
}

fn prefix(bytes: &[u8]) -> Prefix {
    Prefix::new(id(bytes, 0), bytes.len() * 8)
}

#[test]
fn few_accounts_all_merge_into_the_root() {
    let tree = GroupTree::build((0..15).map(|i| id(&[0], i)), 8, 16).unwrap();
    assert_eq!(tree.groups().len(), 1);
    assert_eq!(tree.group_of(&id(&[0], 3)), Prefix::ROOT);
    assert_eq!(tree.groups()[&Prefix::ROOT].own_accounts, 15);
}

#[test]
fn dense_prefixes_become_groups_and_the_rest_stays_above() {
    // 40 accounts under byte 0x00: 20 under 0x00 0x01, 20 under 0x00 0x02 (their third bytes
    // differ, so nothing deeper is dense); one stray 0xFF.
    let mut ids: Vec<Id> = (0..20).map(|i| id(&[0, 1, i], 0)).collect();
    ids.extend((0..20).map(|i| id(&[0, 2, i], 0)));
    ids.push(id(&[0xFF], 1));
    let tree = GroupTree::build(ids, 8, 16).unwrap();
    let groups: Vec<Prefix> = tree.groups().keys().copied().collect();
    assert_eq!(groups.len(), 4, "{groups:?}");
    for p in [Prefix::ROOT, prefix(&[0]), prefix(&[0, 1]), prefix(&[0, 2])] {
        assert!(tree.groups().contains_key(&p), "{p}");
    }
    assert_eq!(tree.group_of(&id(&[0, 1, 7], 0)), prefix(&[0, 1]));
    assert_eq!(tree.group_of(&id(&[0xFF], 1)), Prefix::ROOT);
    assert_eq!(tree.groups()[&prefix(&[0])].own_accounts, 0);
    assert_eq!(tree.groups()[&prefix(&[0])].accounts, 40);
    assert_eq!(tree.parent(&prefix(&[0, 2])), Some(prefix(&[0])));
    assert_eq!(tree.parent(&Prefix::ROOT), None);
    assert_eq!(tree.children(&prefix(&[0])), vec![prefix(&[0, 1]), prefix(&[0, 2])]);
    assert_eq!(tree.lowest_common_ancestor(&id(&[0, 1, 1], 0), &id(&[0, 2, 1], 0)), prefix(&[0]));
    assert_eq!(tree.lowest_common_ancestor(&id(&[0, 1, 1], 0), &id(&[0, 1, 2], 0)), prefix(&[0, 1]));
    assert_eq!(tree.lowest_common_ancestor(&id(&[0, 1, 1], 0), &id(&[0xFF], 1)), Prefix::ROOT);
    assert_eq!(tree.path(&id(&[0, 2, 3], 0)), vec![Prefix::ROOT, prefix(&[0]), prefix(&[0, 2])]);

    // Accounts that share a long prefix form a chain of single-child groups down to where
    // they part: the definition counts accounts under a prefix, not siblings.
    let chain = GroupTree::build((0..20).map(|i| id(&[0, 1, 2, 3], i)), 8, 16).unwrap();
    assert!(chain.group_of(&id(&[0, 1, 2, 3], 5)).len_bits() >= 32);
}

#[test]
fn bad_parameters_are_refused() {
    assert_eq!(GroupTree::build([], 7, 16), Err(GroupError::BadStratumBits(7)));
    assert_eq!(GroupTree::build([], 0, 16), Err(GroupError::BadStratumBits(0)));
    assert_eq!(GroupTree::build([], 8, 0), Err(GroupError::BadMinAccounts));
}

#[test]
fn one_account_per_group_reaches_full_depth() {
    let tree = GroupTree::build([id(&[9, 9, 9], 5)], 8, 1).unwrap();
    assert_eq!(tree.groups().len(), 21, "root + 20 strata of 8 bits");
    assert_eq!(tree.group_of(&id(&[9, 9, 9], 5)).len_bits(), 160);
}

/// Ids clustered under a few short prefixes, so that groups of several sizes form.
fn clustered_ids() -> impl Strategy<Value = Vec<Id>> {
    proptest::collection::vec((0u8..3, 0u8..4, any::<u64>()), 0..300)
        .prop_map(|v| v.into_iter().map(|(a, b, tail)| id(&[a, b], tail)).collect())
}

proptest! {
    #[test]
    fn every_account_has_one_leaf_group_and_every_group_is_big_enough(
        ids in clustered_ids(), min in 1usize..40, bits in prop_oneof![Just(8usize), Just(4), Just(16)],
    ) {
        let tree = GroupTree::build(ids.clone(), bits, min).unwrap();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        prop_assert_eq!(tree.groups()[&Prefix::ROOT].accounts, unique.len());
        let own_total: usize = tree.groups().values().map(|g| g.own_accounts).sum();
        prop_assert_eq!(own_total, unique.len(), "each account is owned by exactly one group");
        for (p, g) in tree.groups() {
            prop_assert_eq!(p.len_bits(), g.stratum * bits);
            if *p != Prefix::ROOT {
                prop_assert!(g.accounts >= min, "{} holds {} < {}", p, g.accounts, min);
                let parent = tree.parent(p).unwrap();
                prop_assert!(tree.groups().contains_key(&parent), "parent {} of {} exists", parent, p);
            }
            let under = unique.iter().filter(|id| p.contains(id)).count();
            prop_assert_eq!(g.accounts, under);
        }
        for id in &unique {
            let leaf = tree.group_of(id);
            prop_assert!(leaf.contains(id));
            // No child of the leaf group holds the account.
            prop_assert!(tree.children(&leaf).iter().all(|c| !c.contains(id)));
        }
        if unique.len() >= 2 {
            let (a, b) = (unique[0], unique[unique.len() - 1]);
            let lca = tree.lowest_common_ancestor(&a, &b);
            prop_assert!(lca.contains(&a) && lca.contains(&b));
            prop_assert!(tree.children(&lca).iter().all(|c| !(c.contains(&a) && c.contains(&b))));
        }
    }
}
