//! A corpus of hostile scenario files (`tests/hostile/*.toml`): every one is refused with a
//! message in the scenario's terms that names the key, the value and the bound — pinned in one
//! snapshot — or, for the few that are valid, runs without a panic. And the engine itself,
//! driven with arbitrary times and delays, errors or runs but never panics or loops.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use simulator::cli::inspect::validate_one;
use simulator::scenario::{Latency, Scenario};
use simulator::sim::{RunOptions, SimError, Simulation};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    files.sort();
    files
}

/// What no message may contain: Rust's types, `Debug` output and serde's type names.
const RUST_WORDS: [&str; 14] = [
    "Some(",
    "None",
    "struct ",
    "enum ",
    "u64",
    "u32",
    "u8",
    "usize",
    "f64",
    "i64",
    "i128",
    " { min_ms:",
    "Uniform {",
    "Lognormal {",
];

/// The corpus files that are valid scenarios (they must run, not be refused).
const VALID: [&str; 3] = ["crash-node-set-integer", "crash-set-repeated", "transfers-3e4"];

#[test]
fn every_hostile_scenario_is_refused_in_the_scenarios_terms() {
    let files = corpus();
    assert!(files.len() >= 100, "the corpus holds {} files", files.len());
    let mut lines = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        match validate_one(path) {
            Ok(_) => assert!(VALID.contains(&name.as_str()), "{name} was accepted"),
            Err(error) => {
                let message = error.to_string().replace(&format!("{}", path.display()), "FILE");
                assert!(!VALID.contains(&name.as_str()), "{name}: {message}");
                for word in RUST_WORDS {
                    assert!(!message.contains(word), "{name}: Rust leaks into {message:?} ({word})");
                }
                assert!(message.starts_with("FILE"), "{name}: the message names the file: {message}");
                lines.push(format!("{name}: {message}"));
            }
        }
    }
    insta::assert_snapshot!("hostile_scenarios", lines.join("\n"));
}

#[test]
fn the_valid_hostile_scenarios_run_and_issue_the_rate_asked() {
    // 30,000 transfers/s on 16 clients, cut to 2 s so that a debug build runs it: exact arrivals
    // issue the rate asked (rounded gaps once issued several times as many).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/transfers-3e4.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace("duration_ms = 60000", "duration_ms = 2000");
    let scenario = Scenario::parse(&text, &path).unwrap();
    let summary = Simulation::new(&scenario, 1, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
    let expected = 30_000.0 * 1.6; // requests stop at 80% of the run
    let sigmas = (summary.transfers.issued as f64 - expected).abs() / expected.sqrt();
    assert!(sigmas < 5.0, "{} issued, {expected} expected", summary.transfers.issued);
}

#[test]
fn request_rates_are_issued_as_asked_from_10_to_20000_per_second() {
    for rate in [10.0, 200.0, 2_000.0, 5_000.0, 20_000.0] {
        let duration_ms = (20_000.0 / rate * 1000.0 / 0.8) as u64; // about 20,000 requests
        let text = format!(
            "name = \"rate\"\nduration_ms = {}\n[nodes]\nclients = 8\n[workload]\ntransfers_per_s = {rate}\n",
            duration_ms.max(1000)
        );
        let scenario = Scenario::parse(&text, Path::new("rate.toml")).unwrap();
        let summary =
            Simulation::new(&scenario, 2, RunOptions::default()).unwrap().run(|_| {}).unwrap().summary;
        let expected = rate * scenario.workload_stop_ms() as f64 / 1000.0;
        let sigmas = (summary.transfers.issued as f64 - expected).abs() / expected.sqrt();
        assert!(sigmas < 5.0, "{rate}/s: {} issued, {expected} expected", summary.transfers.issued);
    }
}

/// A small scenario whose times, delays and rates the property tests then set to anything.
fn small() -> Scenario {
    let text = "name = \"any\"\nduration_ms = 5000\n[nodes]\nclients = 4\n[limits]\nmax_events = 20000\n";
    Scenario::parse(text, Path::new("any.toml")).unwrap()
}

/// Times and delays: small ones, any, and the last ones before `u64::MAX` (where sums wrap).
fn time() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..20_000, any::<u64>(), (u64::MAX - 20_000)..=u64::MAX]
}

/// Whether a run's error is one a run may end with (not a panic, which fails the test).
fn acceptable(error: &SimError) -> bool {
    matches!(error, SimError::Scenario(_) | SimError::Limit { .. })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Through the front door: whatever the values, the run is refused with a scenario error,
    /// or runs (stopped by `limits.max_events` at worst).
    #[test]
    fn any_times_and_delays_are_refused_or_run(
        duration_ms in time(),
        pulse_ms in prop_oneof![1u64..5_000, time()],
        latency_ms in time(),
        reorder_max_ms in time(),
        crash_at_ms in time(),
        rate in prop_oneof![0.0f64..50_000.0, any::<f64>()],
        churn in prop_oneof![0.0f64..1e4, any::<f64>()],
    ) {
        let mut s = small();
        s.duration_ms = duration_ms;
        s.parameters.pulse_ms = pulse_ms;
        s.network.latency = Latency::Fixed { ms: latency_ms };
        s.network.reorder = 0.2;
        s.network.reorder_max_ms = reorder_max_ms;
        s.workload.transfers_per_s = rate;
        let mut crashes: simulator::scenario::Crash = toml::from_str("nodes = \"1\"\nat_ms = 0\n").unwrap();
        crashes.at_ms = crash_at_ms;
        crashes.restart_at_ms = crash_at_ms.checked_add(1);
        s.faults.crashes.push(crashes);
        s.faults.churn = Some(simulator::scenario::Churn { crashes_per_min: churn, down_min_ms: 1, down_max_ms: 10, durable: false });
        match Simulation::new(&s, 1, RunOptions::default()).and_then(|sim| sim.run(|_| {})) {
            Ok(_) => {}
            Err(error) => prop_assert!(acceptable(&error), "{error}"),
        }
    }

    /// Past validation (a test-only switch): the engine's own time arithmetic survives delays
    /// and fault times up to `u64::MAX`, and the event limit still ends the run.
    #[test]
    fn the_engine_survives_unvalidated_delays_and_fault_times(
        duration_ms in time(),
        latency_ms in time(),
        jitter_ms in time(),
        reorder_max_ms in time(),
        crash_at_ms in time(),
        partition_at_ms in time(),
        bandwidth in any::<u64>(),
    ) {
        let mut s = small();
        s.duration_ms = duration_ms;
        s.network.latency = Latency::Uniform { min_ms: latency_ms, max_ms: latency_ms.saturating_add(jitter_ms) };
        s.network.reorder = 0.3;
        s.network.duplicate = 0.3;
        s.network.reorder_max_ms = reorder_max_ms;
        let crash: simulator::scenario::Crash = toml::from_str("nodes = \"1\"\nat_ms = 0\n").unwrap();
        s.faults.crashes.push(simulator::scenario::Crash { at_ms: crash_at_ms, restart_at_ms: crash_at_ms.checked_add(7), ..crash });
        let partition: simulator::scenario::Partition = toml::from_str("at_ms = 0\nside = \"2\"\n").unwrap();
        s.faults.partitions.push(simulator::scenario::Partition { at_ms: partition_at_ms, heal_at_ms: partition_at_ms.checked_add(3), ..partition });
        let slow: simulator::scenario::SlowLink = toml::from_str("nodes = \"3\"\nbandwidth_bytes_per_s = 1\n").unwrap();
        s.network.slow_links.push(simulator::scenario::SlowLink { bandwidth_bytes_per_s: bandwidth, ..slow });
        let options = RunOptions { skip_validation: true, ..RunOptions::default() };
        match Simulation::new(&s, 1, options).and_then(|sim| sim.run(|_| {})) {
            Ok(_) => {}
            Err(error) => prop_assert!(acceptable(&error), "{error}"),
        }
    }
}

/// The property above is able to fail: with the network adding delays the way the engine once
/// did (wrapping), a delay near `u64::MAX` schedules a delivery in the past and the run panics.
#[test]
fn wrapping_delays_break_the_engine_and_the_property_would_catch_it() {
    let mut s = small();
    s.network.latency = Latency::Fixed { ms: u64::MAX - 5 };
    let run = |wrap_delays: bool| {
        let options = RunOptions { skip_validation: true, wrap_delays, ..RunOptions::default() };
        let s = s.clone();
        let run = move || Simulation::new(&s, 1, options).and_then(|sim| sim.run(|_| {})).is_ok();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
    };
    assert!(run(false).is_ok(), "saturating delays run");
    let broken = run(true).expect_err("wrapping delays schedule an event in the past");
    let message = broken.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("before now"), "{message}");
}
