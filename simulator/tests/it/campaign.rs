//! Campaigns and runs that stop early: a violating run keeps its report of what happened up to
//! the violation and the flight recorder's last events; a campaign runs every seed and ends
//! with its summary; `--fail-fast` stops at the first.

use std::process::{Command, Output};

use simulator::report;
use simulator::sim::{RunOptions, SimError, Simulation};

use crate::support::{parse, scenarios_dir, temp_dir};

fn leither(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leither")).args(args).output().expect("the leither binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const HEAL: &str = "name = \"heal\"\nduration_ms = 30000\n[nodes]\nclients = 6\n[parameters]\nheal_pulses_max = 5\n\
                    [[faults.partitions]]\nat_ms = 5000\nheal_at_ms = 10000\nside = \"1-3\"\n";

#[test]
fn a_violating_run_keeps_its_report_and_the_events_before_the_violation() {
    let stuck = reference::node::NodeFaults { stuck_root: true, ..Default::default() };
    let options = RunOptions { node_faults: Some(stuck), flight_recorder: true, ..RunOptions::default() };
    let outcome = Simulation::new(&parse(HEAL), 1, options).unwrap().run_to_outcome(|_| {});
    let Some(SimError::Violation { code, time_ms, .. }) = &outcome.stopped else {
        panic!("{:?}", outcome.stopped)
    };
    assert_eq!((*code, *time_ms), ("L3", 15_999));
    let summary = &outcome.result.summary;
    let stopped = summary.stopped.as_ref().expect("the summary says why it stopped");
    assert_eq!((stopped.invariant.as_deref(), stopped.at_ms), (Some("L3"), 15_999));
    assert!(stopped.replay.contains("--seed 1"), "{}", stopped.replay);
    assert_eq!(summary.virtual_ms, 16_000, "the figures are up to the violation");
    assert_eq!(outcome.result.series.len(), 16, "a row per pulse up to it");
    let lines = &outcome.flight_recording;
    assert!(!lines.is_empty() && lines.len() <= simulator::trace::FLIGHT_RECORDER_EVENTS);
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert!(last["t"].as_u64().unwrap() <= 15_999, "{last}");
    let md = report::run_markdown(&outcome.result);
    assert!(md.contains("## Stopped early") && md.contains("invariant checks (the last one failed)"), "{md}");

    // Without the fault, the same run passes and carries no flight recording.
    let honest =
        Simulation::new(&parse(HEAL), 1, RunOptions { flight_recorder: true, ..RunOptions::default() })
            .unwrap()
            .run_to_outcome(|_| {});
    assert!(honest.stopped.is_none() && honest.flight_recording.is_empty());
    assert!(honest.result.summary.stopped.is_none());
}

#[test]
fn a_campaign_runs_every_seed_then_summarises_and_fail_fast_stops_at_the_first() {
    let dir = temp_dir("campaign-all");
    let quickstart = scenarios_dir().join("quickstart.toml").display().to_string();
    let out = dir.display().to_string();
    // A limit every seed hits: each stops early, each keeps its report and flight recording.
    let args = ["run", &quickstart, "--seeds", "1-3", "--set", "limits.max_events=3000", "--out", &out];
    let run = leither(&args);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(stdout.contains("campaign quickstart: 3 of 3 seeds run, 0 passed, 3 stopped early"), "{stdout}");
    assert_eq!(
        stdout.matches("    replay with: cargo run --release -p simulator -- run ").count(),
        3,
        "{stdout}"
    );
    assert!(text(&run.stderr).contains("error: 3 of 3 seeds stopped early"), "{}", text(&run.stderr));
    for seed in 1..=3 {
        for file in ["report.html", "summary.json", "flight-recorder.jsonl"] {
            assert!(dir.join(format!("seed-{seed}")).join(file).exists(), "seed {seed}: {file}");
        }
    }
    let campaign: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("campaign.json")).unwrap()).unwrap();
    assert_eq!(campaign["runs"].as_array().unwrap().len(), 3);
    assert!(campaign["runs"][0]["faults"]["messages dropped"].as_u64().unwrap() > 0, "{campaign}");
    let md = std::fs::read_to_string(dir.join("campaign.md")).unwrap();
    assert!(md.contains("## Stopped early") && md.contains("| 2 | stopped: limit |"), "{md}");

    let fast = temp_dir("campaign-fast").display().to_string();
    let args = [
        "run",
        &quickstart,
        "--seeds",
        "1-3",
        "--set",
        "limits.max_events=3000",
        "--fail-fast",
        "--out",
        &fast,
    ];
    let stdout = text(&leither(&args).stdout);
    assert!(
        stdout.contains("1 of 3 seeds run, 0 passed, 1 stopped early (2 not run: --fail-fast)"),
        "{stdout}"
    );

    // A campaign that passes exits 0 with its summary.
    let ok = temp_dir("campaign-ok").display().to_string();
    let run = leither(&["run", &quickstart, "--seeds", "4,6", "--set", "duration_ms=5000", "--out", &ok]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("2 of 2 seeds run, 2 passed, 0 stopped early"),
        "{}",
        text(&run.stdout)
    );
}

#[test]
fn a_flight_recording_reads_like_a_trace() {
    let dir = temp_dir("campaign-flight");
    let quickstart = scenarios_dir().join("quickstart.toml").display().to_string();
    let run = leither(&[
        "run",
        &quickstart,
        "--set",
        "limits.max_events=2000",
        "--out",
        &dir.display().to_string(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        text(&run.stderr).contains("events processed > 2000; raise limits.max_events"),
        "{}",
        text(&run.stderr)
    );
    let recording = dir.join("flight-recorder.jsonl").display().to_string();
    let out = leither(&["trace", &recording, "--ev", "crash"]);
    assert_eq!(out.status.code(), Some(1), "quickstart has no crash: no match is an error");
    let out = leither(&["trace", &recording, "--ev", "request", "--limit", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 2);
}

#[test]
fn a_seed_that_cannot_run_is_recorded_and_the_campaign_goes_on() {
    use simulator::sim::check_group_tree;
    // 40 clients, leaf groups of 3 accounts: some seeds' Ids put 3 in one prefix, some do not.
    let scenario_text = "name = \"sparse\"\nduration_ms = 4000\n[nodes]\nclients = 40\n[parameters]\ngroup_min_accounts = 3\n\
                backups = 1\n";
    let scenario = parse(scenario_text);
    let file = std::path::Path::new("sparse.toml");
    let fits = |seed: u64| check_group_tree(&scenario, seed, file).is_ok();
    let (good, bad) = ((1..200).find(|s| fits(*s)).unwrap(), (1..200).find(|s| !fits(*s)).unwrap());
    let dir = temp_dir("campaign-sparse");
    let path = dir.join("sparse.toml");
    std::fs::write(&path, scenario_text).unwrap();
    let seeds = format!("{bad},{good}");
    let out = dir.join("out").display().to_string();
    let run = leither(&["run", &path.display().to_string(), "--seeds", &seeds, "--out", &out]);
    assert_eq!(run.status.code(), Some(1));
    let stdout = text(&run.stdout);
    assert!(stdout.contains(&format!("sparse seed {bad}: cannot run: ")), "{stdout}");
    assert!(stdout.contains("2 of 2 seeds run, 1 passed, 1 stopped early"), "{stdout}");
    assert!(dir.join(format!("out/seed-{good}/report.html")).exists(), "the next seed ran");
}
