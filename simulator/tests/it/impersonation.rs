//! Impersonating primaries (D-039): forged pulses in the chief's name and forged reports in a
//! neighbour's, signed with the impersonator's own key, are refused by every receiver; with
//! the signature check switched off the checker catches the first forged root.

use reference::node::EnvelopeFaults;
use simulator::sim::{RunOptions, SimError, Simulation};

use crate::support::{run, shipped};

/// The shipped scenario, shortened (the chief's crash at 20 s included).
fn scenario() -> simulator::scenario::Scenario {
    let mut scenario = shipped("impersonation");
    scenario.duration_ms = 30_000;
    scenario
}

#[test]
fn every_forged_envelope_is_refused_and_the_run_stays_honest() {
    let s = run(&scenario(), 1).summary;
    let imp = s.impersonation.expect("impersonators declared");
    assert!(imp.impersonators >= 2, "{imp:?}");
    assert!(imp.forged_pulses > 20 && imp.forged_reports > 20, "both attacks ran: {imp:?}");
    assert!(imp.delivered > 1_000, "{imp:?}");
    assert_eq!(imp.taken, 0, "no forged envelope got past the checks: {imp:?}");
    assert_eq!(imp.refused, imp.delivered);
    assert!(s.envelopes.bad_signatures > 0 && s.envelopes.bad_signatures <= imp.refused, "{:?}", s.envelopes);
    assert_eq!(s.envelopes.misaddressed + s.envelopes.not_a_bookkeeper, 0, "{:?}", s.envelopes);
    assert_eq!(s.transfers.abandoned + s.transfers.lost, 0, "the attack cost no transfer: {:?}", s.transfers);
}

#[test]
fn with_the_signature_check_off_a_forged_pulse_breaks_agreement() {
    let faults = EnvelopeFaults { skip_signature: true, ..EnvelopeFaults::default() };
    let options = RunOptions { envelope_faults: Some(faults), ..RunOptions::default() };
    match Simulation::new(&scenario(), 1, options).expect("setup").run(|_| {}) {
        Err(SimError::Violation { code, violation, .. }) => {
            assert_eq!(code, "I6", "{violation}");
        }
        other => panic!("a forged root must be caught: {:?}", other.map(|r| r.summary.impersonation)),
    }
}

#[test]
fn without_impersonators_no_envelope_but_a_duplicate_is_refused() {
    let mut scenario = scenario();
    scenario.adversaries.impersonating_groups = 0.0;
    let s = run(&scenario, 1).summary;
    assert!(s.impersonation.is_none());
    let e = &s.envelopes;
    assert_eq!(e.bad_signatures + e.misaddressed + e.not_a_bookkeeper, 0, "{e:?}");
    assert!(e.replays > 0 && e.replays <= s.faults.duplicated, "only the network's duplicates: {e:?}");
}
