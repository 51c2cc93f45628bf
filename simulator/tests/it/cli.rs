//! The `leither` binary end to end: run with a trace, replay it, detect a tampered trace, filter
//! it, validate scenarios, and fail with a clear message and exit code on bad input.

use std::process::{Command, Output};

use crate::support::{scenarios_dir, temp_dir};

fn leither(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leither")).args(args).output().expect("the leither binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn quickstart() -> String {
    scenarios_dir().join("quickstart.toml").display().to_string()
}

#[test]
fn run_then_replay_reproduces_the_trace_exactly_and_a_tampered_trace_is_caught() {
    let dir = temp_dir("cli-replay");
    let out = leither(&["run", &quickstart(), "--seed", "3", "--trace", "--out", &dir.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("report written to {}", dir.join("report.html").display())), "{stdout}");
    for file in ["summary.json", "timeseries.csv", "report.md", "report.html", "timing.json", "trace.jsonl"] {
        assert!(dir.join(file).exists(), "{file} missing");
    }
    let trace = dir.join("trace.jsonl");
    let out = leither(&["replay", &trace.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let hash = summary["trace_hash"].as_str().unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("replay identical: ") && stdout.contains(hash), "{stdout}");

    // Change one event: the replay names the line.
    let original = std::fs::read_to_string(&trace).unwrap();
    let tampered = original.replacen("\"msg\":\"submit\"", "\"msg\":\"propose\"", 1);
    let line = original.lines().position(|l| l.contains("\"msg\":\"submit\"")).unwrap() + 1;
    let bad = dir.join("tampered.jsonl");
    std::fs::write(&bad, tampered).unwrap();
    let out = leither(&["replay", &bad.display().to_string()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(&format!("replay diverges at line {line}:")), "{}", text(&out.stderr));
}

#[test]
fn trace_filters_by_node_kind_and_time() {
    let dir = temp_dir("cli-trace");
    assert!(
        leither(&["run", &quickstart(), "--trace", "--out", &dir.display().to_string()]).status.success()
    );
    let trace = dir.join("trace.jsonl").display().to_string();
    let out =
        leither(&["trace", &trace, "--node", "5", "--ev", "deliver", "--from-ms", "2000", "--to-ms", "9000"]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert_eq!(l["ev"], "deliver");
        assert!(l["from"] == 5 || l["to"] == 5, "{l}");
        let t = l["t"].as_u64().unwrap();
        assert!((2000..9000).contains(&t));
    }
    let out = leither(&["trace", &trace, "--limit", "3"]);
    assert_eq!(text(&out.stdout).lines().count(), 3);
}

#[test]
fn check_determinism_runs_each_seed_twice() {
    let dir = temp_dir("cli-determinism");
    let out = leither(&[
        "run",
        &quickstart(),
        "--seeds",
        "1-3",
        "--check-determinism",
        "--out",
        &dir.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("ran twice with identical trace hash").count(), 3);
    assert!(dir.join("seed-2").join("report.md").exists());
}

#[test]
fn set_overrides_scenario_keys_and_bad_ones_are_refused() {
    let dir = temp_dir("cli-set");
    let out = leither(&[
        "run",
        &quickstart(),
        "--set",
        "nodes.clients=5",
        "--set",
        "network.drop=0.3",
        "--out",
        &dir.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("5 clients in 1 group (one bookkeeper each)"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["nodes"], 6);
    assert!(summary["scenario"].as_str().unwrap().contains("drop = 0.3"));
    let out = leither(&["run", &quickstart(), "--set", "network.drop=2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("[--set network.drop=2]: `network.drop`: expected a probability in [0, 1], got 2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_accepts_the_shipped_scenarios_and_rejects_bad_ones_with_exit_code_1() {
    let mut args = vec!["validate".to_string()];
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            args.push(path.display().to_string());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = leither(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let dir = temp_dir("cli-validate");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nduration_ms = 1000\n[network]\ndrop = 7\n").unwrap();
    let out = leither(&["validate", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml: `network.drop`: expected a probability in [0, 1], got 7"), "{stderr}");
    assert!(stderr.contains("error: 1 of 1 scenarios invalid"), "{stderr}");
}

#[test]
fn bad_arguments_are_refused_with_usage() {
    let out = leither(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage"));
    let out = leither(&["sweep", &quickstart(), "--shard", "4/2"]);
    assert!(text(&out.stderr).contains("--shard 4/2: expected I/N with 0 ≤ I < N"), "{}", text(&out.stderr));
    let out = leither(&["sweep", &quickstart()]);
    assert!(text(&out.stderr).contains("no [sweep] table"), "{}", text(&out.stderr));
    // An output directory that cannot be created: the error names it.
    let blocker = temp_dir("cli-bad-out").join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let target = blocker.join("report");
    let out = leither(&["run", &quickstart(), "--out", &target.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!("error: {}: ", target.display())),
        "{}",
        text(&out.stderr)
    );
}
