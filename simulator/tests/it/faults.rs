//! Each fault kind actually happens in a run, and is counted in the summary.

use simulator::summary::Summary;

use crate::support::{parse, run, shipped};

fn summary(name: &str) -> Summary {
    run(&shipped(name), 1).summary
}

#[test]
fn loss_duplication_reordering_slow_links_and_drift_occur() {
    let s = summary("lossy-network");
    let f = &s.faults;
    assert!(f.dropped > 0 && f.duplicated > 0 && f.reordered > 0, "{f:?}");
    assert!(f.slow_link_wait_ms > 0, "{f:?}");
    assert!(f.max_clock_drift_ppm > 0 && f.max_clock_drift_ppm <= 200, "{f:?}");
    assert_eq!(s.transfers.duplicate_outcomes, 0);
}

#[test]
fn partitions_by_node_set_and_by_prefix_start_and_heal() {
    let s = summary("partition-heal");
    assert_eq!((s.faults.partitions_started, s.faults.partitions_healed), (2, 2));
    assert!(s.faults.partitioned > 0);
    // Everything requested before the end commits once the partitions heal.
    assert_eq!(s.transfers.committed, s.transfers.issued);
}

#[test]
fn crashes_restarts_and_churn_occur_and_lose_what_was_not_durable() {
    let s = summary("crash-restart");
    // Declared: bookkeeper, 1-5, 6-10 = 11 crashes, 6 restarts; churn adds more.
    assert!(s.faults.crashes > 11 && s.faults.restarts > 6, "{:?}", s.faults);
    assert!(s.faults.stale_timers > 0);
    assert!(s.transfers.lost > 0, "requests to crashed clients are lost");
    assert!(s.transfers.nonce_resyncs > 0, "non-durable restarts resync their nonce");
    assert!(s.messages.delivered_to_down_node > 0);
}

#[test]
fn a_prefix_partition_cuts_exactly_the_nodes_with_that_prefix() {
    let text = "name = \"p\"\nduration_ms = 10000\n[nodes]\nclients = 30\n[workload]\ntransfers_per_s = 0.0\n\
                [[faults.partitions]]\nat_ms = 0\nprefix = \"1\"\n";
    let s = run(&parse(text), 1).summary;
    // Only pulse broadcasts flow: every one from the bookkeeper to a node on the other side of
    // the prefix is lost, every other one arrives.
    let pulses = s.messages.by_kind["pulse"];
    assert!(s.faults.partitioned > 0 && s.faults.partitioned < pulses);
    assert_eq!(pulses % 30, 0);
}

#[test]
fn a_bandwidth_limit_serialises_an_uplink() {
    let text = "name = \"b\"\nduration_ms = 5000\n[nodes]\nclients = 50\n[workload]\ntransfers_per_s = 0.0\n\
                [network]\nlatency = { kind = \"fixed\", ms = 10 }\n\
                [[network.slow_links]]\nnodes = \"bookkeeper\"\nbandwidth_bytes_per_s = 10000\n";
    let options = simulator::sim::RunOptions { wire_check: true, ..Default::default() };
    let s = simulator::sim::Simulation::new(&parse(text), 1, options)
        .expect("setup")
        .run(|_| {})
        .expect("runs")
        .summary;
    // Every pulse envelope has one length (the wire check measured it, D-039): at 10 kB/s each
    // takes `transmit_ms`, so the k-th of the 50 copies of a pulse waits k·transmit_ms behind
    // the copies before it, plus whatever of the previous pulse's copies is still queued (a
    // signed pulse takes 21 ms, so 50 copies take longer than a pulse period); four pulses
    // fall inside the run, one a second.
    let pulses = &s.wire_check.expect("checked").by_kind["pulse"];
    assert_eq!(pulses.frame_bytes % pulses.messages, 0, "{pulses:?}");
    let pulse_bytes = pulses.frame_bytes / pulses.messages;
    assert!((150..250).contains(&pulse_bytes), "a signed pulse envelope: {pulse_bytes} bytes");
    let transmit_ms = (pulse_bytes * 1000).div_ceil(10_000);
    let (mut uplink_free_ms, mut waited_ms) = (0u64, 0u64);
    for pulse_ms in (1..=pulses.messages).map(|p| p * 1000) {
        for _copy in 0..50 {
            uplink_free_ms = uplink_free_ms.max(pulse_ms) + transmit_ms;
            waited_ms += uplink_free_ms - pulse_ms;
        }
    }
    assert_eq!(s.faults.slow_link_wait_ms, waited_ms, "{pulses:?}: {pulse_bytes} B, {transmit_ms} ms each");
}

#[test]
fn a_chief_restarted_without_its_unsealed_cycle_carries_out_its_own_orders_again() {
    // The chief carries out its own group's orders after sealing, in the cycle a restart
    // without durable state loses; the arbiter counts them done, so the chief must carry
    // them out again (before it did not: I1 broke at its first root after the restart).
    let text = "name = \"chief-restart\"\nduration_ms = 40000\n[nodes]\nclients = 300\n\
                [parameters]\ngroup_min_accounts = 2\n\
                [network]\nlatency = { kind = \"lognormal\", median_ms = 30.0, sigma = 0.5 }\n\
                [workload]\ntransfers_per_s = 30.0\n\
                [[faults.crashes]]\nnodes = \"bookkeeper\"\nat_ms = 15000\nrestart_at_ms = 20000\n";
    let s = run(&parse(text), 1).summary;
    assert_eq!((s.faults.crashes, s.faults.restarts), (1, 1), "{:?}", s.faults);
    assert!(s.transfers.committed > 0);
}
