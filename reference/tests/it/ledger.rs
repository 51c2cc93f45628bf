//! The transfer safety conditions of SPEC §7.2: one test per error, plus a property test that
//! any sequence of valid and invalid transfers keeps I1, I2 and I5.

use proptest::prelude::*;
use reference::crypto::{SignatureError, Signer, SimScheme, SimSigner};
use reference::invariants::{self, DoubleSpendMonitor, ImmutabilityMonitor};
use reference::ledger::{Ledger, LedgerError, LedgerFaults, Party, Tx};

const SUPPLY: u64 = 1_000_000;

struct World {
    scheme: SimScheme,
    org: SimSigner,
    users: Vec<SimSigner>,
    ledger: Ledger,
}

/// An organization holding the supply and `n` users with 1,000 each.
fn world(n: u64) -> World {
    let scheme = SimScheme::new(1);
    let org = scheme.signer(0);
    let users: Vec<SimSigner> = (1..=n).map(|i| scheme.signer(i)).collect();
    let mut ledger = Ledger::genesis(org.id(), SUPPLY);
    for (i, user) in users.iter().enumerate() {
        ledger.open_account(user.id()).unwrap();
        let tx =
            Tx { from: org.id(), to: user.id(), amount: 1_000, from_nonce: i as u64 + 1, created_pulse: 0 };
        ledger.apply(&tx.sign(&org, user), &scheme).unwrap();
    }
    ledger.seal();
    World { scheme, org, users, ledger }
}

fn pay(from: &SimSigner, to: &SimSigner, amount: u64, from_nonce: u64) -> reference::ledger::SignedTx {
    Tx { from: from.id(), to: to.id(), amount, from_nonce, created_pulse: 1 }.sign(from, to)
}

#[test]
fn valid_transfer_moves_value_and_bumps_nonce() {
    let mut w = world(2);
    let (a, b) = (&w.users[0], &w.users[1]);
    w.ledger.apply(&pay(a, b, 300, 1), &w.scheme).unwrap();
    assert_eq!(w.ledger.account(&a.id()).unwrap().balance, 700);
    assert_eq!(w.ledger.account(&a.id()).unwrap().nonce, 1);
    assert_eq!(w.ledger.account(&b.id()).unwrap().balance, 1_300);
    let version = w.ledger.seal();
    invariants::conservation(w.ledger.tree(), version, SUPPLY).unwrap();
}

#[test]
fn zero_amount_is_refused() {
    let mut w = world(2);
    let result = w.ledger.apply(&pay(&w.users[0], &w.users[1], 0, 1), &w.scheme);
    assert_eq!(result, Err(LedgerError::NonPositiveAmount));
}

#[test]
fn self_transfer_is_refused() {
    let mut w = world(1);
    let a = &w.users[0];
    let result = w.ledger.apply(&pay(a, a, 5, 1), &w.scheme);
    assert_eq!(result, Err(LedgerError::SelfTransfer(a.id())));
}

#[test]
fn forged_payer_signature_is_refused() {
    let mut w = world(2);
    let mut signed = pay(&w.users[0], &w.users[1], 5, 1);
    signed.payer_sig.0[0] ^= 1;
    let result = w.ledger.apply(&signed, &w.scheme);
    assert_eq!(
        result,
        Err(LedgerError::BadSignature { party: Party::Payer, reason: SignatureError::Mismatch })
    );
}

#[test]
fn transfer_without_payee_consent_is_refused() {
    let mut w = world(3);
    let (a, b, mallory) = (&w.users[0], &w.users[1], &w.users[2]);
    let tx = Tx { from: a.id(), to: b.id(), amount: 5, from_nonce: 1, created_pulse: 1 };
    let mut signed = tx.sign(a, b);
    // Mallory signs in b's place but keeps b's key: the signature does not verify.
    signed.payee_sig = mallory.sign(&tx.id().0);
    let result = w.ledger.apply(&signed, &w.scheme);
    assert_eq!(
        result,
        Err(LedgerError::BadSignature { party: Party::Payee, reason: SignatureError::Mismatch })
    );
}

#[test]
fn key_that_does_not_belong_to_the_payer_is_refused() {
    let mut w = world(3);
    let (a, b, mallory) = (&w.users[0], &w.users[1], &w.users[2]);
    // Mallory signs a debit of a's account with her own (valid) key.
    let tx = Tx { from: a.id(), to: b.id(), amount: 5, from_nonce: 1, created_pulse: 1 };
    let signed = tx.sign(mallory, b);
    let result = w.ledger.apply(&signed, &w.scheme);
    assert_eq!(result, Err(LedgerError::KeyMismatch { party: Party::Payer, id: a.id() }));
}

#[test]
fn overdraft_is_refused() {
    let mut w = world(2);
    let result = w.ledger.apply(&pay(&w.users[0], &w.users[1], 1_001, 1), &w.scheme);
    assert_eq!(result, Err(LedgerError::InsufficientSpendable { spendable: 1_000, amount: 1_001 }));
}

#[test]
fn frozen_balance_is_not_spendable() {
    let mut w = world(2);
    let (a, b) = (w.users[0].clone(), w.users[1].clone());
    w.ledger.freeze(a.id(), 600).unwrap();
    let result = w.ledger.apply(&pay(&a, &b, 401, 1), &w.scheme);
    assert_eq!(result, Err(LedgerError::InsufficientSpendable { spendable: 400, amount: 401 }));
    w.ledger.unfreeze(a.id(), 600).unwrap();
    w.ledger.apply(&pay(&a, &b, 401, 1), &w.scheme).unwrap();
    assert_eq!(w.ledger.unfreeze(a.id(), 1), Err(LedgerError::InsufficientFrozen { frozen: 0, amount: 1 }));
}

#[test]
fn replayed_and_skipped_nonces_are_refused() {
    let mut w = world(2);
    let signed = pay(&w.users[0], &w.users[1], 5, 1);
    w.ledger.apply(&signed, &w.scheme).unwrap();
    assert_eq!(w.ledger.apply(&signed, &w.scheme), Err(LedgerError::BadNonce { expected: 2, got: 1 }));
    let skipping = pay(&w.users[0], &w.users[1], 5, 3);
    assert_eq!(w.ledger.apply(&skipping, &w.scheme), Err(LedgerError::BadNonce { expected: 2, got: 3 }));
}

#[test]
fn unknown_accounts_are_refused() {
    let mut w = world(1);
    let stranger = w.scheme.signer(99);
    let a = w.users[0].clone();
    let to_stranger = w.ledger.apply(&pay(&a, &stranger, 5, 1), &w.scheme);
    assert_eq!(to_stranger, Err(LedgerError::UnknownAccount { id: stranger.id(), party: Party::Payee }));
    let from_stranger = w.ledger.apply(&pay(&stranger, &a, 5, 1), &w.scheme);
    assert_eq!(from_stranger, Err(LedgerError::UnknownAccount { id: stranger.id(), party: Party::Payer }));
}

/// With a supply that fits in `u64` and I1 holding, no balance can overflow; the check is a
/// second line of defence. Money created by a broken ledger (the fault switch) reaches it.
#[test]
fn payee_balance_overflow_is_refused() {
    let scheme = SimScheme::new(1);
    let (org, rich) = (scheme.signer(0), scheme.signer(1));
    let mut ledger = Ledger::genesis(org.id(), u64::MAX);
    ledger.open_account(rich.id()).unwrap();
    ledger.inject_faults(LedgerFaults { skip_balance_check: true, ..LedgerFaults::default() });
    // The org pays more than it holds twice: the broken ledger creates the difference.
    ledger.apply(&pay(&org, &rich, u64::MAX, 1), &scheme).unwrap();
    let result = ledger.apply(&pay(&org, &rich, 1, 2), &scheme);
    assert_eq!(result, Err(LedgerError::BalanceOverflow));
}

/// Summary sums are `u64` (SPEC §4.3): credit halves — the one way value enters a group from
/// outside, so the one a Byzantine primary elsewhere can forge — are refused once the group's
/// sums would overflow, though every single balance would still fit; the seal then works.
#[test]
fn credits_that_would_overflow_the_groups_sums_are_refused() {
    let scheme = SimScheme::new(1);
    let (org, payee, outsider) = (scheme.signer(0), scheme.signer(1), scheme.signer(2));
    let mut ledger = Ledger::genesis(org.id(), u64::MAX - 10);
    ledger.open_account(payee.id()).unwrap();
    ledger.apply_credit(&pay(&outsider, &payee, 6, 1), &scheme).unwrap();
    let over = ledger.apply_credit(&pay(&outsider, &payee, 5, 2), &scheme);
    assert_eq!(over, Err(LedgerError::BalanceOverflow), "u64::MAX − 10 + 6 + 5 does not fit");
    assert_eq!(ledger.account(&payee.id()).unwrap().balance, 6, "the refused credit changed nothing");
    ledger.apply_credit(&pay(&outsider, &payee, 4, 3), &scheme).unwrap();
    let version = ledger.seal();
    let summary = ledger.tree().root(version).unwrap().synopsis.summary;
    assert_eq!(summary.balance, u64::MAX);
    // After the seal the bound starts from the sealed sums: still no room.
    assert_eq!(
        ledger.apply_credit(&pay(&outsider, &payee, 1, 4), &scheme),
        Err(LedgerError::BalanceOverflow)
    );
}

#[test]
fn opening_an_existing_account_is_refused() {
    let mut w = world(1);
    let id = w.users[0].id();
    assert_eq!(w.ledger.open_account(id), Err(LedgerError::AccountExists(id)));
}

#[test]
fn errors_leave_the_ledger_unchanged() {
    let mut w = world(2);
    let root_before = w.ledger.tree().root(w.ledger.tree().latest_version()).unwrap();
    let _ = w.ledger.apply(&pay(&w.users[0], &w.users[1], 5_000, 1), &w.scheme);
    let _ = w.ledger.apply(&pay(&w.users[0], &w.users[1], 5, 9), &w.scheme);
    assert!(w.ledger.journal().is_empty());
    let version = w.ledger.seal();
    assert_eq!(w.ledger.tree().root(version).unwrap(), root_before);
}

#[test]
fn org_signed_transfers_need_the_org_key() {
    let mut w = world(1);
    let (org, a) = (w.org.clone(), w.users[0].clone());
    let signed = pay(&org, &a, 10, 2);
    w.ledger.apply(&signed, &w.scheme).unwrap();
    assert_eq!(w.ledger.organization(), org.id());
}

/// A transfer attempt in a property test: indices into the users, amount, nonce offset
/// (0 = correct, otherwise wrong), and whether to corrupt a signature.
#[derive(Clone, Debug)]
struct Attempt {
    from: usize,
    to: usize,
    amount: u64,
    nonce_offset: i8,
    corrupt: bool,
    seal_after: bool,
}

fn attempt(users: usize) -> impl Strategy<Value = Attempt> {
    (
        0..users,
        0..users,
        0u64..1_500,
        prop_oneof![6 => Just(0i8), 1 => -2i8..3],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(from, to, amount, nonce_offset, corrupt, seal_after)| Attempt {
            from,
            to,
            amount,
            nonce_offset,
            corrupt,
            seal_after,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any mix of valid and invalid transfers keeps I1, I2, I5 and I7 (SPEC §13), and the
    /// ledger accepts exactly the transfers that a direct reading of SPEC §7.2 allows.
    #[test]
    fn transfers_keep_conservation_non_negativity_and_no_double_spend(
        attempts in prop::collection::vec(attempt(4), 1..60)
    ) {
        let mut w = world(4);
        let mut double_spend = DoubleSpendMonitor::new();
        let mut immutability = ImmutabilityMonitor::new();
        immutability.observe(w.ledger.tree()).unwrap();
        for attempt in attempts {
            let (from, to) = (&w.users[attempt.from], &w.users[attempt.to]);
            let payer = w.ledger.account(&from.id()).unwrap();
            let nonce = (payer.nonce as i64 + 1 + i64::from(attempt.nonce_offset)).max(0) as u64;
            let mut signed = pay(from, to, attempt.amount, nonce);
            if attempt.corrupt {
                signed.payee_sig.0[7] ^= 0x40;
            }
            let should_pass = attempt.amount > 0
                && attempt.from != attempt.to
                && !attempt.corrupt
                && nonce == payer.nonce + 1
                && payer.spendable() >= attempt.amount;
            let result = w.ledger.apply(&signed, &w.scheme);
            prop_assert_eq!(result.is_ok(), should_pass, "{:?} -> {:?}", attempt, result);
            if result.is_ok() {
                double_spend.observe(signed.tx.from, signed.tx.from_nonce).unwrap();
            }
            if attempt.seal_after {
                let version = w.ledger.seal();
                invariants::conservation(w.ledger.tree(), version, SUPPLY).unwrap();
                invariants::non_negativity(w.ledger.tree(), version).unwrap();
                immutability.observe(w.ledger.tree()).unwrap();
                for user in &w.users {
                    invariants::proof_soundness(w.ledger.tree(), version, &user.id()).unwrap();
                }
            }
        }
    }
}
