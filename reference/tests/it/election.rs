//! Bookkeeper election (SPEC §6.2–§6.3): eligibility, the pool, beacon seats, one seat per node.

use std::collections::{BTreeMap, BTreeSet};

use reference::consensus::election::{ElectionError, ElectionParams, Eligibility, elect_all, elect_group};
use reference::consensus::groups::GroupTree;
use reference::crypto::Hash32;
use reference::{Id, Prefix};

/// Everyone may keep the books with deposit 5000 and trust 1.0, except the listed exceptions.
#[derive(Default)]
struct Facts {
    no_right: BTreeSet<Id>,
    poor: BTreeSet<Id>,
    distrusted: BTreeSet<Id>,
}

impl Eligibility for Facts {
    fn may_bookkeep(&self, id: &Id) -> bool {
        !self.no_right.contains(id)
    }
    fn frozen_deposit(&self, id: &Id) -> u64 {
        if self.poor.contains(id) { 10 } else { 5000 }
    }
    fn trust(&self, id: &Id) -> f64 {
        if self.distrusted.contains(id) { -1.0 } else { 1.0 }
    }
}

fn id(n: u64) -> Id {
    Id::spread(n)
}

/// Candidates 1..=n with n+1-i votes (candidate 1 most voted).
fn votes(n: u64) -> BTreeMap<Id, u64> {
    (1..=n).map(|i| (id(i), n + 1 - i)).collect()
}

fn params() -> ElectionParams {
    ElectionParams { backups: 3, pool_factor: 2, deposit_min: 1000, trust_min: 0.0 }
}

#[test]
fn seats_come_from_the_most_voted_eligible_pool_and_the_beacon_picks_them() {
    let facts = Facts {
        no_right: BTreeSet::from([id(1)]),
        poor: BTreeSet::from([id(2)]),
        distrusted: BTreeSet::from([id(3)]),
    };
    let pool: BTreeSet<Id> = (4..=11).map(id).collect(); // top 2 × 4 eligible by votes
    let mut committees = BTreeSet::new();
    for seed in 0..20u8 {
        let mut seated = BTreeSet::new();
        let c = elect_group(Prefix::ROOT, &votes(20), &facts, &params(), &Hash32([seed; 32]), &mut seated)
            .unwrap();
        assert_eq!(c.backups.len(), 3);
        assert!(c.seats().all(|s| pool.contains(s)), "{c:?}");
        assert_eq!(seated, c.seats().copied().collect());
        committees.insert(c);
    }
    assert!(committees.len() > 5, "the beacon varies the seats: {} distinct committees", committees.len());
}

#[test]
fn the_same_beacon_gives_the_same_committee() {
    let root = Hash32([7; 32]);
    let elect =
        || elect_group(Prefix::ROOT, &votes(12), &Facts::default(), &params(), &root, &mut BTreeSet::new());
    assert_eq!(elect(), elect());
}

#[test]
fn too_few_candidates_is_an_error_naming_the_group() {
    let error = elect_group(
        Prefix::ROOT,
        &votes(3),
        &Facts::default(),
        &params(),
        &Hash32([0; 32]),
        &mut BTreeSet::new(),
    );
    assert_eq!(error, Err(ElectionError::NotEnoughCandidates { group: Prefix::ROOT, eligible: 3, seats: 4 }));
}

#[test]
fn no_node_holds_two_seats_in_one_term() {
    // Two dense groups under the root; every node stands everywhere.
    let mut accounts: Vec<Id> = Vec::new();
    for first in [0x10u8, 0x20] {
        for i in 0..20u8 {
            let mut a = Id::ZERO;
            a.0[0] = first;
            a.0[1] = i;
            accounts.push(a);
        }
    }
    let tree = GroupTree::build(accounts.clone(), 8, 16).unwrap();
    assert_eq!(tree.groups().len(), 3);
    let all: BTreeMap<Id, u64> = accounts.iter().enumerate().map(|(i, a)| (*a, i as u64)).collect();
    let votes: BTreeMap<Prefix, BTreeMap<Id, u64>> =
        tree.groups().keys().map(|g| (*g, all.clone())).collect();
    let committees = elect_all(&tree, &votes, &Facts::default(), &params(), &Hash32([3; 32])).unwrap();
    let seats: Vec<Id> = committees.values().flat_map(|c| c.seats().copied()).collect();
    let unique: BTreeSet<Id> = seats.iter().copied().collect();
    assert_eq!(seats.len(), 12);
    assert_eq!(unique.len(), 12, "one seat per node per term");
}
