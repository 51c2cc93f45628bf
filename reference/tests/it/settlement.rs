//! The root over groups (D-023) and the chief's arbiter, in isolation.

use proptest::prelude::*;
use reference::Prefix;
use reference::consensus::root::{GroupEntry, RootProofError, RootTree};
use reference::consensus::settlement::{Arbiter, GroupReport, Order, PendingHalf, ReportError};
use reference::crypto::Hash32;
use reference::id::Id;
use reference::ledger::{Half, Settlement};
use reference::smt::{RootSynopsis, Summary, Synopsis};

fn entry(byte: u8, balance: u64, version: u64) -> GroupEntry {
    let mut id = Id::ZERO;
    id.0[0] = byte;
    let summary = Summary { balance, accounts: 1, ..Summary::ZERO };
    let prefix = if byte == 0 { Prefix::ROOT } else { Prefix::new(id, 8) };
    GroupEntry { prefix, version, synopsis: Synopsis { hash: Hash32([byte; 32]), summary } }
}

proptest! {
    #[test]
    fn every_entry_has_a_path_that_verifies_and_no_tampered_path_does(n in 1usize..40, victim in 0usize..40) {
        let entries: Vec<GroupEntry> = (0..n).map(|i| entry(i as u8, 10 * i as u64, 1)).collect();
        let tree = RootTree::build(entries.clone()).unwrap();
        let root = RootSynopsis { version: 7, synopsis: tree.synopsis() };
        prop_assert_eq!(root.synopsis.summary.balance, (0..n as u64).map(|i| 10 * i).sum::<u64>());
        for e in &entries {
            let path = tree.path(&e.prefix).unwrap();
            prop_assert!(path.verify(&root).is_ok());
        }
        let victim = &entries[victim % n];
        let mut path = tree.path(&victim.prefix).unwrap();
        path.entry.synopsis.summary.balance += 1;
        prop_assert_eq!(path.verify(&root), Err(RootProofError::PathMismatch));
        let mut path = tree.path(&victim.prefix).unwrap();
        if let Some(step) = path.steps.first_mut() {
            step.sibling_left = !step.sibling_left;
            prop_assert_eq!(path.verify(&root), Err(RootProofError::PathMismatch));
        }
    }
}

fn tx(n: u8) -> Hash32 {
    Hash32([n; 32])
}

fn report(e: GroupEntry, pulse: u64, pending: &[(u8, Half, GroupEntry)]) -> GroupReport {
    let pending = pending
        .iter()
        .map(|(t, half, other)| PendingHalf {
            tx_id: tx(*t),
            half: *half,
            counterpart: other.prefix,
            amount: 10,
        })
        .collect();
    GroupReport { pulse, entry: e, pending }
}

#[test]
fn the_arbiter_refuses_unknown_groups_and_stale_reports() {
    let (a, b) = (entry(0, 5, 1), entry(1, 5, 1));
    let mut arbiter = Arbiter::new(vec![a, b], 4).unwrap();
    assert_eq!(
        arbiter.report(report(entry(9, 0, 1), 1, &[])),
        Err(ReportError::UnknownGroup(entry(9, 0, 1).prefix))
    );
    arbiter.report(report(b, 3, &[])).unwrap();
    assert_eq!(arbiter.report(report(b, 3, &[])), Err(ReportError::Stale { held: 3, got: 3 }));
    assert_eq!(arbiter.report(report(b, 2, &[])), Err(ReportError::Stale { held: 3, got: 2 }));
}

#[test]
fn a_second_different_report_for_a_held_pulse_is_equivocation_and_the_first_stays() {
    let (a, b) = (entry(0, 5, 1), entry(1, 5, 1));
    let mut arbiter = Arbiter::new(vec![a, b], 4).unwrap();
    let mut first = report(b, 3, &[]);
    first.entry.version = 2;
    arbiter.report(first.clone()).unwrap();
    let mut other = first.clone();
    other.entry.synopsis.hash.0[0] ^= 1;
    assert_eq!(arbiter.report(other), Err(ReportError::Equivocation { group: b.prefix, pulse: 3 }));
    // The same report again is only a duplicate, and the root is built from the first.
    assert_eq!(arbiter.report(first.clone()), Err(ReportError::Stale { held: 3, got: 3 }));
    arbiter.close_pulse(3);
    assert_eq!(arbiter.path(&b.prefix).unwrap().entry, first.entry);
}

#[test]
fn matched_halves_are_cleared_and_a_one_sided_clear_is_held_in_the_clearing_entry() {
    let (a, b) = (entry(0, 100, 1), entry(1, 100, 1));
    let mut arbiter = Arbiter::new(vec![a, b], 4).unwrap();
    // Amount 10: the payer's group holds it as pending_out, the payee's as pending_in.
    let pending = |balance, out, inn| Summary {
        balance,
        pending_out: out,
        pending_in: inn,
        accounts: 1,
        ..Summary::ZERO
    };
    let with = |mut e: GroupEntry, s: Summary, v: u64| {
        e.synopsis.summary = s;
        e.version = v;
        e
    };
    let (a2, b2) = (with(a, pending(90, 10, 0), 2), with(b, pending(110, 0, 10), 2));
    arbiter.report(report(a2, 1, &[(1, Half::Debit, b)])).unwrap();
    arbiter.report(report(b2, 1, &[(1, Half::Credit, a)])).unwrap();
    let outcome = arbiter.close_pulse(1);
    assert_eq!(outcome.matched, [tx(1)]);
    assert_eq!(outcome.new_root.map(|r| r.version), Some(2));
    let clear = [Order { tx_id: tx(1), how: Settlement::Clear }];
    assert_eq!(arbiter.orders_for(&a.prefix), clear);
    assert_eq!(arbiter.orders_for(&b.prefix), clear);
    let supply = |arbiter: &Arbiter| arbiter.root().synopsis.summary.supply();
    assert_eq!(supply(&arbiter), 200);
    // Only the payer's group cleared: its supply fell by 10, the clearing entry holds it.
    arbiter.report(report(with(a, pending(90, 0, 0), 3), 2, &[])).unwrap();
    let outcome = arbiter.close_pulse(2);
    assert_eq!(outcome.clears_in_transit, 1);
    assert_eq!(outcome.new_root.map(|r| r.version), Some(3));
    assert_eq!(supply(&arbiter), 200);
    assert!(arbiter.orders_for(&a.prefix).is_empty(), "carried out there");
    assert_eq!(arbiter.orders_for(&b.prefix), clear, "repeated until carried out");
    arbiter.report(report(with(b, pending(110, 0, 0), 3), 3, &[])).unwrap();
    let outcome = arbiter.close_pulse(3);
    assert_eq!((outcome.new_root.map(|r| r.version), outcome.clears_in_transit), (Some(4), 0));
    assert_eq!(supply(&arbiter), 200);
    assert_eq!(arbiter.outstanding(), 0);
}

#[test]
fn an_unmatched_half_is_aborted_after_the_timeout_and_not_before() {
    let (a, b) = (entry(0, 100, 1), entry(1, 100, 1));
    let mut arbiter = Arbiter::new(vec![a, b], 3).unwrap();
    let payer_reports = |arbiter: &mut Arbiter, pulse| {
        arbiter.report(report(entry(0, 90, 2), pulse, &[(1, Half::Debit, b)])).unwrap();
    };
    // The payee's group is silent (its last report is the genesis): the half does not age
    // (D-024), however long it waits.
    for pulse in 2..=8 {
        payer_reports(&mut arbiter, pulse);
        assert!(arbiter.close_pulse(pulse).aborted.is_empty(), "pulse {pulse}");
    }
    // Both groups heard from in every pulse: aborted once it aged past the timeout.
    for pulse in 9..=11 {
        payer_reports(&mut arbiter, pulse);
        arbiter.report(report(b, pulse, &[])).unwrap();
        assert!(arbiter.close_pulse(pulse).aborted.is_empty(), "pulse {pulse}");
    }
    payer_reports(&mut arbiter, 12);
    arbiter.report(report(b, 12, &[])).unwrap();
    assert_eq!(arbiter.close_pulse(12).aborted, [tx(1)]);
    assert_eq!(arbiter.orders_for(&a.prefix), [Order { tx_id: tx(1), how: Settlement::Reverse }]);
    assert!(arbiter.orders_for(&b.prefix).is_empty());
}

#[test]
fn halves_whose_counterparts_disagree_are_never_matched() {
    let (a, b, c) = (entry(0, 100, 1), entry(1, 100, 1), entry(2, 100, 1));
    let mut arbiter = Arbiter::new(vec![a, b, c], 2).unwrap();
    arbiter.report(report(entry(0, 90, 2), 1, &[(1, Half::Debit, b)])).unwrap();
    // The credit claims to come from group c, not a.
    arbiter.report(report(entry(1, 110, 2), 1, &[(1, Half::Credit, c)])).unwrap();
    assert!(arbiter.close_pulse(1).matched.is_empty());
}
