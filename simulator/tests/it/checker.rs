//! The invariant checker catches a deliberately broken ledger (feature `fault-injection`),
//! stops the run and says which invariant, when, with which seed, and how to replay it.

use reference::ledger::LedgerFaults;
use simulator::sim::{RunOptions, SimError, Simulation};

use crate::support::parse;

fn run_broken(text: &str, faults: LedgerFaults) -> SimError {
    let options = RunOptions { ledger_faults: Some(faults), ..RunOptions::default() };
    match Simulation::new(&parse(text), 4, options).unwrap().run(|_| {}) {
        Ok(result) => panic!("the broken ledger went unnoticed: {:?}", result.summary.transfers),
        Err(error) => error,
    }
}

#[test]
fn a_ledger_that_skips_the_balance_check_breaks_conservation_and_is_caught() {
    // Small balances and large amounts: overspends happen; the broken ledger floors the payer
    // at zero instead of refusing, which creates money.
    let text = "name = \"overspend\"\nduration_ms = 30000\n[nodes]\nclients = 6\ninitial_balance = 100\n\
                [workload]\ntransfers_per_s = 5.0\namount = { kind = \"uniform\", min = 50, max = 150 }\n";
    let error = run_broken(text, LedgerFaults { skip_balance_check: true, ..LedgerFaults::default() });
    let message = error.to_string();
    let SimError::Violation { code, seed, time_ms, replay, .. } = &error else { panic!("{message}") };
    assert_eq!((*code, *seed), ("I1", 4));
    assert!(*time_ms > 0 && time_ms % 1000 == 0, "caught at a seal: {time_ms}");
    assert_eq!(replay, "cargo run --release -p simulator -- run scenarios/overspend.toml --seed 4");
    assert!(message.starts_with("invariant I1 violated at"), "{message}");
    assert!(message.contains("replay with: cargo run"), "{message}");
}

#[test]
fn a_ledger_that_skips_the_nonce_check_double_spends_and_is_caught() {
    // Duplicated and reordered messages deliver old submissions late; an honest ledger refuses
    // them (stale nonce), the broken one applies them again.
    let text = "name = \"replay\"\nduration_ms = 60000\n[nodes]\nclients = 4\n\
                [network]\nduplicate = 0.5\nreorder = 0.5\nreorder_max_ms = 3000\n\
                [workload]\ntransfers_per_s = 4.0\n";
    let error = run_broken(text, LedgerFaults { skip_nonce_check: true, ..LedgerFaults::default() });
    assert!(matches!(error, SimError::Violation { code: "I5", .. }), "{error}");
}

#[test]
fn the_same_scenarios_pass_with_an_honest_ledger() {
    let text = "name = \"replay\"\nduration_ms = 60000\n[nodes]\nclients = 4\n\
                [network]\nduplicate = 0.5\nreorder = 0.5\nreorder_max_ms = 3000\n\
                [workload]\ntransfers_per_s = 4.0\n";
    let result = Simulation::new(&parse(text), 4, RunOptions::default()).unwrap().run(|_| {}).unwrap();
    assert!(result.summary.transfers.refused == 0 && result.summary.transfers.committed > 100);
    assert!(result.summary.invariant_checks > 1000);
}

#[test]
fn limits_turn_a_runaway_run_into_a_clear_error() {
    let text = "name = \"tight\"\nduration_ms = 60000\n[nodes]\nclients = 8\n[limits]\nmax_events = 500\n";
    let error = Simulation::new(&parse(text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("events processed > 500; raise limits.max_events"), "{message}");
    let text = "name = \"tight\"\nduration_ms = 60000\n[nodes]\nclients = 8\n[limits]\nmax_queue = 5\n";
    let error = Simulation::new(&parse(text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap_err();
    assert!(error.to_string().contains("pending events > 5; raise limits.max_queue"), "{error}");
}

#[test]
fn double_spending_payers_are_stopped_by_the_nonce_check_and_caught_without_it() {
    let text = "name = \"ds\"\nduration_ms = 30000\n[nodes]\nclients = 12\n\
                [workload]\ntransfers_per_s = 8.0\n[adversaries]\ndouble_spenders = \"1-3\"\n";
    let honest =
        Simulation::new(&parse(text), 2, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    let a = &honest.adversaries;
    assert!(a.double_spenders == 3 && a.double_spend_attempts > 20, "{a:?}");
    assert!(a.conflicting_transfers_applied > 0 && a.conflicting_transfers_applied < a.double_spend_attempts);
    assert_eq!(
        honest.transfers.nonce_resyncs, a.conflicting_transfers_applied,
        "each displaced original re-signs"
    );
    let error = run_broken(text, LedgerFaults { skip_nonce_check: true, ..LedgerFaults::default() });
    assert!(matches!(error, SimError::Violation { code: "I5", .. }), "{error}");
}

#[test]
fn the_replay_command_carries_the_file_seed_and_overrides() {
    let text = "name = \"overspend\"\nduration_ms = 30000\n[nodes]\nclients = 6\ninitial_balance = 100\n\
                [workload]\ntransfers_per_s = 5.0\namount = { kind = \"uniform\", min = 50, max = 150 }\n";
    let options = RunOptions {
        ledger_faults: Some(LedgerFaults { skip_balance_check: true, ..LedgerFaults::default() }),
        source: Some("experiments/x.toml".into()),
        overrides: vec![simulator::scenario::Override::parse("network.drop=0.0").unwrap()],
        ..RunOptions::default()
    };
    let error = Simulation::new(&parse(text), 4, options).unwrap().run(|_| {}).unwrap_err();
    let SimError::Violation { replay, .. } = error else { panic!("{error}") };
    assert_eq!(
        replay,
        "cargo run --release -p simulator -- run experiments/x.toml --seed 4 --set 'network.drop=0.0'"
    );
}

#[test]
fn a_forged_root_in_the_pulse_broadcast_breaks_agreement_and_is_caught() {
    let text = "name = \"forge\"\nduration_ms = 20000\n[nodes]\nclients = 6\n";
    let forger = reference::node::NodeFaults { forge_root_from_pulse: Some(5), ..Default::default() };
    let options = RunOptions { node_faults: Some(forger), ..RunOptions::default() };
    let error = Simulation::new(&parse(text), 1, options).unwrap().run(|_| {}).unwrap_err();
    let SimError::Violation { code, time_ms, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I6");
    assert!((5_000..7_000).contains(time_ms), "caught at the first forged pulse's delivery: {time_ms}");
}

#[test]
fn a_client_that_takes_older_roots_lets_ts_go_back_and_is_caught() {
    // Reordering delivers pulses out of order; the broken client takes the older root.
    let text = "name = \"stale\"\nduration_ms = 60000\n[nodes]\nclients = 6\n\
                [network]\nreorder = 0.5\nreorder_max_ms = 2500\n";
    let options = RunOptions {
        node_faults: Some(reference::node::NodeFaults { accept_older_root: true, ..Default::default() }),
        ..RunOptions::default()
    };
    let error = Simulation::new(&parse(text), 1, options).unwrap().run(|_| {}).unwrap_err();
    assert!(matches!(error, SimError::Violation { code: "I7", .. }), "{error}");
    // The honest client under the same schedule keeps ts monotone.
    Simulation::new(&parse(text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap();
}

#[test]
fn forged_signatures_are_refused_by_an_honest_ledger_and_caught_by_i3_otherwise() {
    let text = "name = \"forge-sig\"\nduration_ms = 20000\n[nodes]\nclients = 6\n";
    let forging = Some(reference::node::NodeFaults { forge_payee_signature: true, ..Default::default() });
    let honest = RunOptions { node_faults: forging, ..RunOptions::default() };
    let summary = Simulation::new(&parse(text), 2, honest).unwrap().run(|_| {}).unwrap().summary;
    assert_eq!(summary.transfers.committed, 0);
    assert_eq!(summary.transfers.refused, summary.transfers.issued - summary.transfers.outstanding);
    let broken = RunOptions {
        node_faults: forging,
        ledger_faults: Some(LedgerFaults { skip_signature_check: true, ..LedgerFaults::default() }),
        ..RunOptions::default()
    };
    let error = Simulation::new(&parse(text), 2, broken).unwrap().run(|_| {}).unwrap_err();
    assert!(matches!(error, SimError::Violation { code: "I3", .. }), "{error}");
}

/// Many small leaf groups (group_min_accounts = 2 over 300 clients): most transfers cross
/// groups through the chief (D-023).
const GROUPED: &str = "name = \"grouped\"\nduration_ms = 20000\n[nodes]\nclients = 300\n\
                       [parameters]\ngroup_min_accounts = 2\n[workload]\ntransfers_per_s = 20.0\n";

#[test]
fn a_payer_group_that_skips_the_escrow_breaks_conservation_at_the_root_and_is_caught() {
    let error = run_broken(GROUPED, LedgerFaults { skip_escrow: true, ..LedgerFaults::default() });
    let SimError::Violation { code, violation, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I1", "{error}");
    assert!(violation.detail.contains("root ts"), "{violation}");
}

#[test]
fn a_group_that_reverses_cleared_debits_breaks_atomicity_and_is_caught() {
    let faults = reference::node::NodeFaults { reverse_cleared_debits: true, ..Default::default() };
    let options = RunOptions { node_faults: Some(faults), ..RunOptions::default() };
    let error = Simulation::new(&parse(GROUPED), 1, options).unwrap().run(|_| {}).unwrap_err();
    let SimError::Violation { code, violation, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I4", "{error}");
    assert!(violation.detail.contains("one half cleared and the other reversed"), "{violation}");
}

#[test]
fn the_grouped_run_passes_honestly_and_crosses_groups() {
    // Requests stop 8 pulses before the end, so every half settles before it (I4's
    // "eventually"; a half applied in the last pulses may still be in flight at the end).
    // With 1 ms hops every transfer commits within L1's bound of its start — 2 pulses and 3
    // hops, D-025 — and all but those started in the last hops before a pulse within 2 pulses.
    let text = GROUPED.replace("transfers_per_s = 20.0", "transfers_per_s = 20.0\nstop_ms = 12000")
        + "[network]\nlatency = { kind = \"fixed\", ms = 1 }\n";
    let summary =
        Simulation::new(&parse(&text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    assert!(summary.ledger.groups > 50, "{:?}", summary.ledger);
    assert!(summary.messages.by_kind["credit_half"] > 100, "{:?}", summary.messages.by_kind);
    assert_eq!(summary.transfers.committed + summary.transfers.outstanding, summary.transfers.issued);
    assert_eq!(summary.ledger.unsettled_halves, 0);
    // L1's bound (D-025): 2 pulses and 3 hops from the payer's start.
    let bound_ms = reference::invariants::commit_bound_ms(1000, 1) as f64;
    assert!(
        summary.commit_latency_from_start_ms.max <= bound_ms,
        "{:?}",
        summary.commit_latency_from_start_ms
    );
    let t = &summary.transfers;
    assert!(t.committed_within_2_pulses * 100 >= t.committed * 99, "L1: {t:?}");
}

#[test]
fn byzantine_primaries_censor_and_forge_are_measured_and_no_invariant_breaks() {
    let text = GROUPED.to_string()
        + "[adversaries]\ncensoring_groups = 0.2\ncensored_payers = 0.5\nforging_groups = 0.1\n";
    let summary =
        Simulation::new(&parse(&text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    let a = &summary.adversaries;
    let leaves = summary.ledger.groups - 1;
    // 30% of the leaf seats, rounded per kind.
    assert_eq!(
        a.byzantine_seats,
        (leaves as f64 * 0.2).round() as u64 + (leaves as f64 * 0.1).round() as u64
    );
    assert!(a.censored_submissions > 0 && a.forged_reports > 0, "{a:?}");
    assert!(a.bad_proofs_detected > 0, "a forged synopsis shows as proofs that fail: {a:?}");
    let t = &summary.transfers;
    assert!(t.abandoned + t.outstanding > 0 && t.committed < t.issued, "censored payers never commit: {t:?}");
    // Without adversaries the same run has none of it.
    let honest =
        Simulation::new(&parse(GROUPED), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    let t = &honest.transfers;
    assert_eq!((honest.adversaries.bad_proofs_detected, t.abandoned, t.outstanding), (0, 0, 0));
}

#[test]
fn equivocating_primaries_are_detected_by_the_chief_and_no_invariant_breaks() {
    let text = GROUPED.to_string() + "[adversaries]\nequivocating_groups = 0.2\n";
    let summary =
        Simulation::new(&parse(&text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    let a = &summary.adversaries;
    assert_eq!(a.byzantine_seats, ((summary.ledger.groups - 1) as f64 * 0.2).round() as u64);
    assert!(a.equivocating_reports > 0, "{a:?}");
    // Every pair that reaches the chief in its pulse is caught; a pair overtaken by the next
    // pulse's report is only stale.
    assert!(a.equivocations_detected * 10 >= a.equivocating_reports * 9, "{a:?}");
    assert!(a.equivocations_detected <= a.equivocating_reports, "{a:?}");
    // Whichever report arrived first is the one the root holds: when the conflicting one won,
    // the group's clients see proofs that do not verify; the rest commit.
    assert!(summary.transfers.committed > 0);
}

#[test]
fn nodes_that_never_catch_up_after_a_partition_break_heal_and_are_caught() {
    // Faults stop at the heal (10 s); L3 is checked from 10 s + heal_pulses_max pulses on.
    let text = "name = \"heal\"\nduration_ms = 30000\n[nodes]\nclients = 6\n[parameters]\nheal_pulses_max = 5\n\
                [[faults.partitions]]\nat_ms = 5000\nheal_at_ms = 10000\nside = \"1-3\"\n";
    let honest = Simulation::new(&parse(text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap();
    assert!(honest.summary.transfers.committed > 0);
    let stuck = reference::node::NodeFaults { stuck_root: true, ..Default::default() };
    let options = RunOptions { node_faults: Some(stuck), ..RunOptions::default() };
    let error = Simulation::new(&parse(text), 1, options).unwrap().run(|_| {}).unwrap_err();
    let SimError::Violation { code, time_ms, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "L3", "{error}");
    assert_eq!(*time_ms, 15_999, "at the end of the first pulse past the deadline");
}

/// L3 with a delay bound on both sides of a pulse (D-036): a ts is owed one bound after its
/// release, so nodes waiting for a pulse in flight are not a violation, and a node that never
/// catches up still is.
#[test]
fn heal_allows_for_the_delay_bound_on_both_sides_of_a_pulse_and_still_catches_a_stuck_node() {
    let heal = |latency_ms: u64| {
        format!(
            "name = \"heal\"\nduration_ms = 40000\n[nodes]\nclients = 6\n[parameters]\nheal_pulses_max = 5\n\
             [network]\nlatency = {{ kind = \"fixed\", ms = {latency_ms} }}\n\
             [[faults.partitions]]\nat_ms = 5000\nheal_at_ms = 10000\nside = \"1-3\"\n"
        )
    };
    for latency_ms in [1, 998, 999, 1000, 1001, 1999, 2500] {
        let honest =
            Simulation::new(&parse(&heal(latency_ms)), 1, RunOptions::default()).unwrap().run(|_| {});
        let honest = honest.unwrap_or_else(|e| panic!("{latency_ms} ms: {e}"));
        assert!(honest.summary.transfers.committed > 0, "{latency_ms} ms");
        let stuck = reference::node::NodeFaults { stuck_root: true, ..Default::default() };
        let options = RunOptions { node_faults: Some(stuck), ..RunOptions::default() };
        let error = Simulation::new(&parse(&heal(latency_ms)), 1, options).unwrap().run(|_| {}).unwrap_err();
        let SimError::Violation { code, time_ms, .. } = &error else { panic!("{error}") };
        assert_eq!(*code, "L3", "{latency_ms} ms: {error}");
        assert_eq!(*time_ms, 15_999, "{latency_ms} ms: at the end of the first pulse past the deadline");
    }
}

/// One group, 20 transfers/s of 1–500: about 5,000 per pulse against the primary's deposit.
const BOUNDED: &str = "name = \"bounded\"\nduration_ms = 30000\n[nodes]\nclients = 32\n\
                       [parameters]\nmax_attempts = 30\n[workload]\ntransfers_per_s = 20.0\nstop_ms = 20000\n\
                       amount = { kind = \"uniform\", min = 1, max = 500 }\n";

#[test]
fn a_bounded_primary_defers_what_its_deposit_does_not_cover_and_i11_holds() {
    let text = BOUNDED.replace("max_attempts = 30\n", "max_attempts = 30\nbookkeeper_deposit = 6000\n");
    let bounded =
        Simulation::new(&parse(&text), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    let free =
        Simulation::new(&parse(BOUNDED), 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    assert!(bounded.transfers.deferred_for_capacity > 0, "{:?}", bounded.transfers);
    assert_eq!(free.transfers.deferred_for_capacity, 0);
    assert_eq!(
        bounded.transfers.committed, bounded.transfers.issued,
        "everything waits its turn and commits"
    );
    assert!(bounded.commit_latency_ms.p99 > free.commit_latency_ms.p99, "waiting costs latency");
    assert!(bounded.invariant_checks > free.invariant_checks, "I11 is checked on every seal");
}

#[test]
fn a_primary_that_ignores_its_capacity_breaks_i11_and_is_caught() {
    let text = BOUNDED.replace("max_attempts = 30\n", "max_attempts = 30\nbookkeeper_deposit = 1000\n");
    let faults = reference::node::NodeFaults { skip_capacity: true, ..Default::default() };
    let options = RunOptions { node_faults: Some(faults), ..RunOptions::default() };
    let error = Simulation::new(&parse(&text), 1, options).unwrap().run(|_| {}).unwrap_err();
    let SimError::Violation { code, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I11", "{error}");
}
