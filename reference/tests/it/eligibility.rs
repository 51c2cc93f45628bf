//! Trust plugged into elections and votes (SPEC §2.7, §6.3): members vouched for by the
//! supervisor's circle are trusted; a sybil ring with one attack edge is not, and loses its
//! seats once `bookkeeper_trust_min` is set.

use std::collections::BTreeMap;

use reference::Id;
use reference::Prefix;
use reference::consensus::election::{ElectionParams, Eligibility, elect_group};
use reference::credit::eligibility::TrustedMembers;
use reference::credit::line::{CreditBook, CreditParams};
use reference::credit::trust::EigenTrust;
use reference::crypto::Hash32;
use reference::org::{OrgParams, Organization, Weights};

fn id(n: u64) -> Id {
    Id::spread(n)
}

/// Supervisor 1; honest members 2..=9 vouched for in a ring from the supervisor; sybils
/// 10..=17 vouch for each other, reached by one attack edge from member 9. All are members
/// with the bookkeep right and a deposit (the sybils joined legitimately).
fn world() -> (Organization, CreditBook) {
    let mut org = Organization::create(id(100), id(1), OrgParams::default(), 0).unwrap();
    for m in 2..=17 {
        org.apply(id(m), None).unwrap();
        org.decide_application(id(1), id(m), true, 0).unwrap();
    }
    let mut book = CreditBook::new(CreditParams::default());
    for m in 1..=9 {
        book.grant(id(m), id(m % 9 + 1), 4, 0).unwrap(); // 1→2→…→9→1
    }
    for m in 3..=9 {
        book.grant(id(1), id(m), 3, 0).unwrap(); // the supervisor vouches for everyone honest
    }
    for s in 10..=17 {
        for t in 10..=17 {
            if s != t {
                book.grant(id(s), id(t), 5, 0).unwrap();
            }
        }
    }
    book.grant(id(9), id(10), 1, 0).unwrap(); // the one attack edge
    (org, book)
}

#[test]
fn sybils_behind_one_attack_edge_get_little_trust_and_lose_their_seats_under_a_threshold() {
    let (org, book) = world();
    let members = TrustedMembers::compute(&org, &book, &EigenTrust::default(), &[], |_| 5_000).unwrap();
    let honest: f64 = (1..=9).map(|m| members.score(&id(m))).sum();
    let sybil: f64 = (10..=17).map(|m| members.score(&id(m))).sum();
    assert!((honest + sybil - 1.0).abs() < 1e-9);
    assert!(sybil < 0.05, "sybils hold {sybil} of the trust");
    assert!(members.may_bookkeep(&id(12)) && members.frozen_deposit(&id(12)) == 5_000);
    // Votes weigh trust in millionths.
    assert_eq!(members.weight(&id(2)), (members.score(&id(2)) * 1e6) as u64);

    let votes: BTreeMap<Id, u64> = (1..=17).map(|m| (id(m), 1)).collect();
    let seated_sybils = |trust_min| {
        let params = ElectionParams { backups: 3, pool_factor: 4, deposit_min: 1_000, trust_min };
        let committee =
            elect_group(Prefix::ROOT, &votes, &members, &params, &Hash32([3; 32]), &mut Default::default())
                .unwrap();
        committee.seats().filter(|s| (10..=17).any(|m| id(m) == **s)).count()
    };
    assert!(seated_sybils(0.0) > 0, "without a threshold the pool includes sybils");
    assert_eq!(seated_sybils(0.01), 0, "a trust threshold keeps them out");
}

#[test]
fn revoked_lines_carry_no_trust() {
    let (org, mut book) = world();
    let before = TrustedMembers::compute(&org, &book, &EigenTrust::default(), &[], |_| 0).unwrap();
    // Member 9 defaults on every line it borrows on: the attack edge's lender loses nothing,
    // but member 9's own inbound line from 8 is revoked and its trust falls.
    book.consume(id(8), id(9), reference::credit::line::Unit::Bandwidth, 10, 0).unwrap();
    book.tick(book.params().default_after_pulses);
    let after = TrustedMembers::compute(&org, &book, &EigenTrust::default(), &[], |_| 0).unwrap();
    assert!(after.score(&id(9)) < before.score(&id(9)));
}
