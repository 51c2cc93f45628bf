//! `--wire-check` (D-038): a checked run carries every message through its encoding and is
//! the unchecked run event for event; an encoder broken on purpose stops it.

use simulator::sim::{RunOptions, SimError, Simulation};

use crate::support::shipped;

fn checked(name: &str, seed: u64) -> Result<simulator::summary::RunResult, SimError> {
    let options = RunOptions { wire_check: true, ..RunOptions::default() };
    Simulation::new(&shipped(name), seed, options).expect("setup").run(|_| {})
}

#[test]
fn a_wire_checked_run_is_the_unchecked_run_event_for_event() {
    // Leaf committees with failover, and a root committee whose chief crashes: replication
    // batches, attestations, co-signatures, view changes and state transfer all on the wire.
    for name in ["committee-failover", "crashing-chief", "quickstart"] {
        let plain = crate::support::run(&shipped(name), 1);
        let wired = checked(name, 1).expect("every message survives the wire");
        assert_eq!(wired.summary.trace_hash, plain.summary.trace_hash, "{name}");
        assert!(plain.summary.wire_check.is_none());
        let counts = wired.summary.wire_check.expect("counted");
        assert!(counts.messages > 1_000, "{name}: {counts:?}");
        assert!(counts.largest_frame_bytes > 0 && counts.bytes >= counts.messages, "{name}: {counts:?}");
    }
}

#[test]
fn a_run_whose_encoder_changes_a_message_stops_at_it() {
    use reference::wire::WireFaults;
    use simulator::sim::Encoder;
    let broken = Encoder::broken(WireFaults { shifted_attest_views: true, ..WireFaults::default() });
    let options = RunOptions { wire_check: true, wire_encoder: broken, ..RunOptions::default() };
    let result = Simulation::new(&shipped("committee-failover"), 1, options).expect("setup").run(|_| {});
    match result {
        Err(SimError::Wire { kind, what, .. }) => {
            assert_eq!(kind, "attest");
            assert!(what.starts_with("decoded to another envelope"), "{what}");
        }
        other => panic!("the wire check must stop the run: {:?}", other.map(|r| r.summary.wire_check)),
    }
}
