//! Model checks of the node protocol: the properties hold on every reachable state of small
//! configurations (one group; two leaf groups under the chief, over a lossy network or with
//! crashing primaries; a payer group with a backup whose primary crashes for good and fails
//! over), the interesting paths are reachable, state counts are pinned, and
//! deliberately broken ledgers are caught with a counterexample.

use model::PaymentModel;
use reference::ledger::LedgerFaults;
use reference::node::NodeFaults;
use stateright::{Checker, HasDiscoveries, Model};

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
const PINNED_CROSS_GROUP: usize = 487_087;
const PINNED_CROSS_GROUP_CRASH: usize = 376_762;

#[test]
fn a_cross_group_payment_over_a_lossy_network_commits_or_aborts_and_keeps_every_property() {
    let checker = PaymentModel::cross_group().into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    assert!(checker.discovery("a transfer commits").is_some());
    assert!(checker.discovery("a transfer is aborted and reversed").is_some());
    println!("cross_group: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), PINNED_CROSS_GROUP);
}

#[test]
fn a_cross_group_payment_survives_primaries_that_crash_and_lose_their_cycle() {
    let checker = PaymentModel::cross_group_crash().into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    println!("cross_group_crash: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), PINNED_CROSS_GROUP_CRASH);
}

#[test]
fn a_payer_group_that_skips_the_escrow_is_caught_breaking_conservation_at_the_root() {
    // The debit half records pending_out without lowering the payer's balance: the payer's
    // group reports a supply 30 too high, and the first root over that report breaks I1.
    let cfg = PaymentModel {
        ledger_faults: LedgerFaults { skip_escrow: true, ..LedgerFaults::default() },
        lossy: false,
        max_pulses: 2,
        ..PaymentModel::cross_group()
    };
    let checker = cfg.into_model().checker().spawn_bfs().join();
    let path = checker.discovery("I1 conservation").expect("the checker finds the broken root");
    let root = path.last_state().actor_states[0].node.root().expect("the chief holds a root");
    assert_eq!(root.synopsis.summary.supply(), 1_000_030);
    assert!(checker.discovery("no payee receives more than it was paid").is_none());
}

#[test]
fn the_model_binary_refuses_an_unknown_model() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_model"))
        .args(["check", "--model", "nope"])
        .output()
        .expect("the model binary runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "unknown model `nope`; known: one-payment, two-payments, cross-group, cross-group-crash, failover, failover-terms, governance"
        ),
        "{stderr}"
    );
}

#[test]
fn a_group_that_reverses_a_cleared_debit_is_caught_breaking_atomicity() {
    // The chief matched both halves and ordered them cleared; the payer's group reverses its
    // half instead: once nothing pends, the clients hold 30 more than at genesis.
    let cfg = PaymentModel {
        node_faults: NodeFaults { reverse_cleared_debits: true, ..NodeFaults::default() },
        lossy: false,
        max_pulses: 2,
        ..PaymentModel::cross_group()
    };
    let checker = cfg.into_model().checker().spawn_bfs().join();
    assert!(
        checker.discovery("I4 settled halves balance").is_some(),
        "the checker finds the mixed settlement"
    );
}

// ----- committees and failover (SPEC §6.4, D-032) ------------------------------------------

const PINNED_FAILOVER: usize = 77_784;

#[test]
fn a_payer_group_whose_primary_crashes_fails_over_to_its_backup_and_keeps_every_property() {
    let checker = PaymentModel::failover().into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    println!("failover: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), PINNED_FAILOVER);
}

#[test]
fn a_chief_that_fails_over_to_a_backup_without_the_taken_state_is_caught() {
    // The chief takes the primary's report before the backup attested it and then makes the
    // backup primary whatever it holds: the backup lacks the version the root covers.
    let faults =
        NodeFaults { take_unattested_reports: true, fail_over_blindly: true, ..NodeFaults::default() };
    let cfg = PaymentModel { node_faults: faults, ..PaymentModel::failover() };
    let checker = cfg.into_model().checker().finish_when(HasDiscoveries::AnyFailures).spawn_bfs().join();
    let path = checker.discovery("the acting primary holds the taken state").expect("the checker finds it");
    let chief = &path.last_state().actor_states[0].node;
    let group = reference::Prefix::new(path.last_state().actor_states[1].node.id(), 8);
    assert_eq!(chief.view_of(&group).map(|(view, _)| view), Some(1), "{path:?}");
}

// 58,184 before D-039: a replication log now holds the signed envelopes its primary received,
// addressee included, so a submission sent to the old primary and one sent to the new are
// distinct log entries across the handover (the other models' counts did not move).
const PINNED_FAILOVER_TERMS: usize = 69_016;

#[test]
fn across_a_term_boundary_the_seat_moves_by_the_beacon_and_every_property_holds() {
    let checker = PaymentModel::failover_terms().into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    println!("failover-terms: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), PINNED_FAILOVER_TERMS);
}

#[test]
fn a_term_handover_to_a_member_without_the_taken_state_is_caught() {
    let faults =
        NodeFaults { take_unattested_reports: true, fail_over_blindly: true, ..NodeFaults::default() };
    let cfg = PaymentModel { node_faults: faults, ..PaymentModel::failover_terms() };
    let checker = cfg.into_model().checker().finish_when(HasDiscoveries::AnyFailures).spawn_bfs().join();
    assert!(checker.discovery("the acting primary holds the taken state").is_some(), "the checker finds it");
}

// ----- governance (SPEC §3) -------------------------------------------------------------

use model::governance::GovernanceModel;
use reference::org::OrgFaults;

const PINNED_GOVERNANCE: usize = 28_867;

#[test]
fn governance_over_a_lossy_network_keeps_i10_and_votes_both_pass_and_fail() {
    let checker = GovernanceModel::three_guests().into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    for reached in ["an applicant becomes a member", "a vote passes", "a vote fails"] {
        assert!(checker.discovery(reached).is_some(), "{reached}");
    }
    assert_eq!(checker.unique_state_count(), PINNED_GOVERNANCE);
}

#[test]
fn a_tally_that_ignores_the_quorum_is_caught_breaking_i10() {
    // Votes are lost, turnout falls below the quorum, and the broken tally passes the proposal
    // on the threshold alone.
    let cfg = GovernanceModel {
        org_faults: OrgFaults { ignore_quorum: true, ..OrgFaults::default() },
        ..GovernanceModel::three_guests()
    };
    let checker = cfg.into_model().checker().spawn_bfs().join();
    let path = checker.discovery("I10 governance").expect("the checker finds the passed proposal");
    assert!(!path.into_actions().is_empty());
}

// ----- governance on the wire, through `Node` (D-041) -------------------------------------

use model::gov_node::GovNodeModel;

const PINNED_GOVERNANCE_NODE: usize = 231_670;

/// `cfg` checked whole: every property holds, every "sometimes" is reached, and the state
/// count is `pinned`.
fn governance_node_holds(name: &str, cfg: GovNodeModel, pinned: usize) {
    let checker = cfg.into_model().checker().spawn_bfs().join();
    checker.assert_properties();
    for reached in ["a vote passes", "an expulsion takes effect", "a guest's vote is counted"] {
        assert!(checker.discovery(reached).is_some(), "{reached}");
    }
    println!("{name}: {} unique states", checker.unique_state_count());
    assert_eq!(checker.unique_state_count(), pinned);
}

/// `cfg`, whose chief is broken by `faults`, is caught breaking I10 with a counterexample.
fn governance_node_breaks_i10(cfg: GovNodeModel, faults: OrgFaults) {
    let checker = GovNodeModel { org_faults: faults, ..cfg }.into_model().checker().spawn_bfs().join();
    let path = checker.discovery("I10 governance").expect("the checker finds the doubled vote");
    assert!(!path.into_actions().is_empty());
}

#[test]
fn governance_through_node_messages_keeps_i10_passes_votes_and_expels() {
    governance_node_holds("governance_node", GovNodeModel::one_guest(), PINNED_GOVERNANCE_NODE);
}

#[test]
fn a_chief_whose_tally_counts_votes_twice_is_caught_breaking_i10() {
    let faults = OrgFaults { double_count_votes: true, ..OrgFaults::default() };
    governance_node_breaks_i10(GovNodeModel::one_guest(), faults);
}

// ----- the same over a network that duplicates the votes (D-047) --------------------------

const PINNED_GOVERNANCE_NODE_DUP: usize = 1_483_610;

#[test]
fn a_vote_the_network_duplicates_is_answered_again_and_never_counted_twice() {
    let cfg = GovNodeModel::one_guest_duplicating();
    governance_node_holds("governance_node_dup", cfg, PINNED_GOVERNANCE_NODE_DUP);
}

#[test]
fn a_chief_that_acts_on_duplicates_and_adds_repeated_votes_is_caught_breaking_i10() {
    let faults = OrgFaults { act_on_duplicates: true, count_repeated_votes: true, ..OrgFaults::default() };
    governance_node_breaks_i10(GovNodeModel::one_guest_duplicating(), faults);
}

#[test]
fn the_request_window_alone_keeps_a_duplicated_vote_from_counting_twice() {
    // The organization would add a repeated vote, but the registry answers every copy of a
    // taken request from the author's window, so no copy reaches it: I10 holds, and the
    // fault changes not one state.
    let faults = OrgFaults { count_repeated_votes: true, ..OrgFaults::default() };
    let cfg = GovNodeModel { org_faults: faults, ..GovNodeModel::one_guest_duplicating() };
    governance_node_holds("governance_node_dup, repeated votes added", cfg, PINNED_GOVERNANCE_NODE_DUP);
}
