//! Model checks of the minimal pulse protocol: the properties hold on every reachable state of
//! small configurations, the interesting path is reachable, state counts are pinned, and a
//! deliberately broken ledger is caught with a counterexample.

use model::PaymentModel;
use reference::ledger::LedgerFaults;
use stateright::{Checker, Model};

#[test]
fn one_payment_over_a_lossy_duplicating_network_keeps_every_property() {
    let checker = PaymentModel::one_payment().into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    assert!(checker.discovery("a transfer commits").is_some());
    println!("one_payment: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), PINNED_ONE_PAYMENT);
}

#[test]
fn two_payments_from_one_payer_keep_every_property() {
    let cfg = PaymentModel {
        payments: vec![vec![(2, 30), (2, 20)], vec![]],
        lossy: false,
        ..PaymentModel::one_payment()
    };
    let checker = cfg.into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    println!("two_payments: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), PINNED_TWO_PAYMENTS);
}

#[test]
fn a_ledger_that_skips_the_nonce_check_is_caught_paying_twice() {
    // A duplicated submission of the first transfer, delivered after the second is sealed,
    // is applied again by the broken ledger: the payee receives more than it was paid.
    let cfg = PaymentModel {
        ledger_faults: LedgerFaults { skip_nonce_check: true, ..LedgerFaults::default() },
        ..PaymentModel::two_payments()
    };
    let checker = cfg.into_model().checker().spawn_bfs().join();
    let path = checker
        .discovery("no payee receives more than it was paid")
        .expect("the checker finds the double payment");
    assert!(path.last_state().actor_states.len() == 3);
    assert!(checker.discovery("I1 conservation").is_none(), "moving money twice still conserves it");
}

const PINNED_ONE_PAYMENT: usize = 142_242;
const PINNED_TWO_PAYMENTS: usize = 71_155;

#[test]
fn the_model_binary_refuses_an_unknown_model() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_model"))
        .args(["check", "--model", "nope"])
        .output()
        .expect("the model binary runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown model `nope`; known: one-payment, two-payments"), "{stderr}");
}
