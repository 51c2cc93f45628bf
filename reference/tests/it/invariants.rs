//! Each invariant predicate is shown able to fail: a broken ledger (the `fault-injection`
//! switches) or a hand-made bad state must be reported as the matching invariant.

use reference::Id;
use reference::crypto::{Signer, SimScheme};
use reference::invariants::{self, DoubleSpendMonitor, ImmutabilityMonitor, Invariant};
use reference::ledger::{Ledger, LedgerFaults, Tx};
use reference::smt::{Account, Synopsis, VersionedSmt};

#[test]
fn i1_catches_a_ledger_that_creates_money() {
    let scheme = SimScheme::new(3);
    let (org, a) = (scheme.signer(0), scheme.signer(1));
    let mut ledger = Ledger::genesis(org.id(), 100);
    ledger.open_account(a.id()).unwrap();
    ledger.inject_faults(LedgerFaults { skip_balance_check: true, ..LedgerFaults::default() });
    let tx = Tx { from: org.id(), to: a.id(), amount: 150, from_nonce: 1, created_pulse: 0 };
    ledger.apply(&tx.sign(&org, &a), &scheme).unwrap();
    let version = ledger.seal();
    let violation = invariants::conservation(ledger.tree(), version, 100).unwrap_err();
    assert_eq!(violation.invariant, Invariant::Conservation);
    assert_eq!(
        violation.to_string(),
        "I1 violated (every sealed version's root supply (§4.3) equals the genesis supply): \
         version 2 holds supply 150, genesis supply is 100"
    );
}

#[test]
fn i2_catches_frozen_above_balance_and_unreversible_credit() {
    let over_frozen = Account { balance: 5, frozen: 6, ..Account::default() };
    let violation = invariants::account_non_negative(&Id::from_u64(1), &over_frozen).unwrap_err();
    assert_eq!(violation.invariant, Invariant::NonNegativity);
    let unreversible = Account { balance: 5, frozen: 3, pending_in: 3, ..Account::default() };
    assert!(invariants::account_non_negative(&Id::from_u64(1), &unreversible).is_err());
    let fine = Account { balance: 6, frozen: 3, pending_in: 3, ..Account::default() };
    assert!(invariants::account_non_negative(&Id::from_u64(1), &fine).is_ok());

    let tree = VersionedSmt::from_accounts([(Id::from_u64(1), fine), (Id::from_u64(2), over_frozen)]);
    let violation = invariants::non_negativity(&tree, tree.latest_version()).unwrap_err();
    assert!(violation.detail.contains(&Id::from_u64(2).to_hex()), "{violation}");
}

#[test]
fn i5_catches_a_ledger_that_accepts_a_replay() {
    let scheme = SimScheme::new(3);
    let (org, a) = (scheme.signer(0), scheme.signer(1));
    let mut ledger = Ledger::genesis(org.id(), 100);
    ledger.open_account(a.id()).unwrap();
    ledger.inject_faults(LedgerFaults { skip_nonce_check: true, ..LedgerFaults::default() });
    let signed =
        Tx { from: org.id(), to: a.id(), amount: 10, from_nonce: 1, created_pulse: 0 }.sign(&org, &a);
    let mut monitor = DoubleSpendMonitor::new();
    let first = ledger.apply(&signed, &scheme).unwrap();
    monitor.observe(first.tx().from, first.tx().from_nonce).unwrap();
    let replay = ledger.apply(&signed, &scheme).unwrap();
    let violation = monitor.observe(replay.tx().from, replay.tx().from_nonce).unwrap_err();
    assert_eq!(violation.invariant, Invariant::NoDoubleSpend);
    assert_eq!(monitor.len(), 1);
}

#[test]
fn i7_catches_a_changed_version_and_a_ts_that_goes_back() {
    let mut tree = VersionedSmt::new();
    tree.insert(Id::from_u64(1), Account::with_balance(1));
    tree.seal();
    let mut monitor = ImmutabilityMonitor::new();
    monitor.observe(&tree).unwrap();
    // A different tree claiming the same version: its version 1 is not the one seen.
    let mut forged = VersionedSmt::new();
    forged.insert(Id::from_u64(1), Account::with_balance(2));
    forged.seal();
    assert_eq!(monitor.observe(&forged).unwrap_err().invariant, Invariant::Immutability);
    // A tree whose ts is behind the highest one seen.
    tree.insert(Id::from_u64(1), Account::with_balance(3));
    tree.seal();
    let mut fresh = ImmutabilityMonitor::new();
    fresh.observe(&tree).unwrap();
    assert!(fresh.observe(&VersionedSmt::new()).unwrap_err().detail.contains("went back"));
    // Peer roots: a second, different root for one version.
    let mut peers = ImmutabilityMonitor::new();
    peers.observe_root(4, Synopsis::empty()).unwrap();
    let other = tree.root(tree.latest_version()).unwrap().synopsis;
    assert!(peers.observe_root(4, other).is_err());
}

#[test]
fn i8_passes_on_honest_trees_for_present_and_absent_keys() {
    let tree = VersionedSmt::from_accounts((0..100).map(|n| (Id::spread(n), Account::with_balance(n))));
    let version = tree.latest_version();
    for n in 0..200 {
        invariants::proof_soundness(&tree, version, &Id::spread(n)).unwrap();
    }
    let missing = invariants::proof_soundness(&tree, version + 1, &Id::spread(1)).unwrap_err();
    assert_eq!(missing.invariant, Invariant::ProofSoundness);
}

#[test]
fn a_signer_id_is_its_key_hash() {
    let signer = SimScheme::new(1).signer(5);
    assert_eq!(signer.id(), Id::from_public_key(&signer.public_key()));
}

#[test]
fn i3_rejects_a_transfer_with_a_forged_signature() {
    let scheme = SimScheme::new(4);
    let (a, b) = (scheme.signer(1), scheme.signer(2));
    let mut signed = Tx { from: a.id(), to: b.id(), amount: 5, from_nonce: 1, created_pulse: 0 }.sign(&a, &b);
    invariants::truthful_intention(&signed, &scheme).unwrap();
    signed.payee_sig.0[3] ^= 0x40;
    let violation = invariants::truthful_intention(&signed, &scheme).unwrap_err();
    assert_eq!(violation.invariant, Invariant::TruthfulIntention);
}

#[test]
fn i9_l1_and_l3_predicates_hold_and_fail() {
    use reference::invariants::{
        Invariant, commit_bound_ms, commit_within_bound, healed, healed_by, one_chief_per_term,
    };
    let (a, b) = (Id::from_u64(1), Id::from_u64(2));
    assert!(one_chief_per_term(&[(1, a), (1, a), (2, b)]).is_ok());
    assert_eq!(one_chief_per_term(&[(1, a), (1, b)]).unwrap_err().invariant, Invariant::OneChief);
    assert_eq!(commit_bound_ms(1000, 100), 2300);
    assert!(commit_within_bound(2300, 1000, 100).is_ok());
    assert_eq!(commit_within_bound(2301, 1000, 100).unwrap_err().invariant, Invariant::Commit);
    assert!(healed([(0, 7), (1, 7), (5, 7)]).is_ok());
    assert!(healed(std::iter::empty()).is_ok());
    let violation = healed([(0, 7), (1, 6)]).unwrap_err();
    assert_eq!((violation.invariant, violation.invariant.code()), (Invariant::Heal, "L3"));
    assert!(violation.detail.contains("node 1 holds ts 6"), "{violation}");
    // With a delay bound (D-036): nodes may be ahead of what is owed, never behind it.
    assert!(healed_by([(0, 7), (1, 8)], 7).is_ok());
    let behind = healed_by([(0, 8), (3, 6)], 7).unwrap_err();
    assert_eq!(behind.invariant, Invariant::Heal);
    assert!(behind.detail.contains("node 3 holds ts 6 but ts 7 was released"), "{behind}");
}

#[test]
fn i4_monitor_catches_every_broken_half_life() {
    use reference::crypto::Hash32;
    use reference::invariants::{AtomicityMonitor, HalfStep};
    use reference::ledger::{Half, Settlement};
    let (debit, credit) = (HalfStep::Applied(Half::Debit), HalfStep::Applied(Half::Credit));
    let settled = |half, how| HalfStep::Settled(half, how);
    let t = Hash32([7; 32]);
    let run = |steps: &[HalfStep]| {
        let mut monitor = AtomicityMonitor::new();
        steps.iter().try_for_each(|step| monitor.observe(t, *step)).map(|()| monitor.unsettled())
    };
    // Honest lives: matched and cleared, or aborted and reversed; an open half is unsettled.
    assert_eq!(
        run(&[
            debit,
            credit,
            settled(Half::Debit, Settlement::Clear),
            settled(Half::Credit, Settlement::Clear)
        ]),
        Ok(0)
    );
    assert_eq!(run(&[debit, settled(Half::Debit, Settlement::Reverse)]), Ok(0));
    assert_eq!(run(&[debit, credit]), Ok(1));
    // Broken ones.
    let broken: [&[HalfStep]; 4] = [
        &[debit, debit],
        &[settled(Half::Debit, Settlement::Clear)],
        &[credit, settled(Half::Credit, Settlement::Clear)],
        &[debit, credit, settled(Half::Debit, Settlement::Reverse), settled(Half::Credit, Settlement::Clear)],
    ];
    for steps in broken {
        let violation = run(steps).unwrap_err();
        assert_eq!(violation.invariant, Invariant::Atomicity, "{steps:?}");
    }
}
