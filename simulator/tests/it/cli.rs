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

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_is_a_clear_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // `leither run … --seeds 1-50 | head -1`: the reader goes after one line.
    let dir = temp_dir("cli-pipe").display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leither"))
        .args(["run", &quickstart(), "--seeds", "1-50", "--out", &dir])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // then dropped
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("running quickstart with seed 1"), "{first}");
    assert!(out.status.success(), "a closed pipe is not an error: {:?}", out.status);
    assert_eq!(text(&out.stderr), "", "and nothing is said about it");
    assert!(!std::path::Path::new(&dir).join("seed-50").exists(), "the campaign stopped with its reader");

    let full = std::fs::File::create("/dev/full").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leither"))
        .args(["run", &quickstart(), "--out", &temp_dir("cli-full").display().to_string()])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: writing to standard output failed: No space left on device (os error 28)\n"
    );
}

#[test]
fn misused_arguments_are_refused_with_what_is_wrong() {
    let file = temp_dir("cli-misuse").join("a-file");
    std::fs::write(&file, "").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--out", &file.display().to_string()], "exists and is not a directory"),
        (
            &["--seeds", "1-1000000000000"],
            "--seeds 1-1000000000000: 1000000000000 seeds; a campaign runs at most 1000000",
        ),
        (&["--seeds", "3,1,3"], "--seeds 3,1,3: seed 3 is named twice"),
        (&["--seeds", "9-2"], "--seeds 9-2: the range 9-2 is empty (start after end)"),
        (
            &["--set", "network.latency={kind=\"fixed\",ms=3600001}"],
            "`network.latency.ms`: expected at most 3600000 ms (one hour), got 3600001",
        ),
        (&["--set", "parameters.pulse_ms=1"], "`parameters.pulse_ms`: expected 10 ..= 3600000 ms, got 1"),
    ];
    for (args, expected) in cases {
        let q = quickstart();
        let mut all = vec!["run", q.as_str()];
        all.extend(args);
        let out = leither(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains(expected), "{args:?}: {}", text(&out.stderr));
    }
    // A run the machine cannot hold is refused before it starts, with what it needs.
    let out = Command::new(env!("CARGO_BIN_EXE_leither"))
        .args([
            "run",
            &quickstart(),
            "--set",
            "nodes.clients=200000",
            "--set",
            "parameters.genesis_supply=1000000000000000",
        ])
        .env("LEITHER_MEMORY_BYTES", "1000000000")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: this run would need about 3.9 GiB (clients 3.8 GiB"), "{stderr}");
    assert!(stderr.contains("but the machine has 954 MiB available"), "{stderr}");
}

#[test]
fn a_run_with_overrides_gets_its_own_directory_and_says_so_in_its_report() {
    let work = temp_dir("cli-set-dir");
    let out = Command::new(env!("CARGO_BIN_EXE_leither"))
        .current_dir(&work)
        .args(["run", &quickstart(), "--set", "network.drop=0.05", "--set", "duration_ms=5000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let base = work.join("out/quickstart");
    let dirs: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs.len(), 1);
    assert!(dirs[0].starts_with("set-"), "{dirs:?}");
    let report = std::fs::read_to_string(base.join(&dirs[0]).join("seed-1/report.md")).unwrap();
    assert!(
        report
            .contains("This run changed the scenario file: --set network.drop=0.05 --set duration_ms=5000."),
        "{report}"
    );
    assert!(
        text(&out.stdout).contains(&format!("reports under out/quickstart/{}", dirs[0])),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn trace_filters_that_cannot_match_are_refused_and_a_truncated_trace_is_called_truncated() {
    let dir = temp_dir("cli-trace-refusals");
    let run = leither(&[
        "run",
        &quickstart(),
        "--set",
        "duration_ms=8000",
        "--trace",
        "--out",
        &dir.display().to_string(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let trace = dir.join("trace.jsonl");
    let path = trace.display().to_string();
    let cases: [(&[&str], &str); 5] = [
        (&["--ev", "bogus"], "--ev bogus: not an event kind; kinds: deliver, timer, request,"),
        (&["--node", "999"], "--node 999: the run had nodes 0..=32"),
        (
            &["--from-ms", "5000", "--to-ms", "2000"],
            "--from-ms 5000 is not before --to-ms 2000: the window holds no time",
        ),
        (&["--from-ms", "9000000"], "no event matched --from-ms 9000000: the trace holds"),
        (&["--limit", "0"], "--limit 0 prints nothing"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["trace", path.as_str()];
        all.extend(args);
        let out = leither(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(text(&out.stderr).contains(expected), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    // Cut the trace short: the replay says it is truncated, not that line N+1 differs.
    let saved = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = saved.lines().collect();
    let cut = dir.join("cut.jsonl");
    std::fs::write(&cut, lines[..400].join("\n") + "\n").unwrap();
    let out = leither(&["replay", &cut.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .starts_with("error: the saved trace is truncated: it ends after line 400 without its end line"),
        "{stderr}"
    );
    let out = leither(&["trace", &cut.display().to_string(), "--limit", "100000"]);
    assert!(out.status.success());
}

#[test]
fn sweeps_write_points_as_they_finish_resume_and_refuse_what_is_not_theirs() {
    use simulator::sweep::{PointResult, points};
    let dir = temp_dir("cli-sweep-resume");
    let scenario = dir.join("grid.toml");
    std::fs::write(
        &scenario,
        "name = \"grid\"\nduration_ms = 4000\n[nodes]\nclients = 4\n[sweep]\nseeds = [1, 2, 3]\n\
         [sweep.parameters]\n\"network.drop\" = [0.0, 0.1]\n",
    )
    .unwrap();
    let (file, out) = (scenario.display().to_string(), dir.join("out").display().to_string());
    let run = leither(&["sweep", &file, "--jobs", "100000", "--out", &out]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(stdout.contains("--jobs 100000 capped at "), "{stdout}");
    assert_eq!(std::fs::read_dir(dir.join("out/points")).unwrap().count(), 6);

    // Interrupted: two points lost. --resume runs just those, and the report is the same.
    let report = std::fs::read(dir.join("out/sweep.md")).unwrap();
    std::fs::remove_file(dir.join("out/points/point-00001.json")).unwrap();
    std::fs::remove_file(dir.join("out/points/point-00004.json")).unwrap();
    let run = leither(&["sweep", &file, "--resume", "--out", &out]);
    assert!(
        text(&run.stdout).contains("6 of 6 points into")
            && text(&run.stdout).contains("(4 already done, resumed)")
    );
    assert_eq!(std::fs::read(dir.join("out/sweep.md")).unwrap(), report);

    // An edited point file is refused by merge, naming it.
    let point = dir.join("out/points/point-00002.json");
    let original = std::fs::read_to_string(&point).unwrap();
    std::fs::write(&point, original.replacen("\"seed\": 3,", "\"seed\": 7,", 1)).unwrap();
    let merged = dir.join("merged").display().to_string();
    let out_of = leither(&["merge", &out, "--out", &merged]);
    assert!(
        text(&out_of.stderr).contains("point-00002.json: refused: its contents do not match its digest"),
        "{}",
        text(&out_of.stderr)
    );
    // One re-sealed with a seed the plan does not give that point is refused too.
    let mut forged: PointResult = serde_json::from_str(&original).unwrap();
    forged.seed = 7;
    forged.summary.seed = 7;
    points::seal(&mut forged);
    std::fs::write(&point, serde_json::to_string_pretty(&forged).unwrap()).unwrap();
    let out_of = leither(&["merge", &out, "--out", &merged]);
    assert!(
        text(&out_of.stderr).contains("point 2 has seed 3 in the plan; the file says 7"),
        "{}",
        text(&out_of.stderr)
    );
    std::fs::write(&point, original).unwrap();
    assert!(leither(&["merge", &out, "--out", &merged]).status.success());

    // More shards than points, and another sweep's directory for --resume.
    let shards = leither(&["sweep", &file, "--shard", "0/7"]);
    assert!(
        text(&shards.stderr).contains("--shard 0/7: the sweep has 6 points, so at most 6 shards"),
        "{}",
        text(&shards.stderr)
    );
    std::fs::write(&scenario, std::fs::read_to_string(&scenario).unwrap().replace("4000", "5000")).unwrap();
    let other = leither(&["sweep", &file, "--resume", "--out", &out]);
    assert!(
        text(&other.stderr).contains("--resume: ") && text(&other.stderr).contains("use another --out"),
        "{}",
        text(&other.stderr)
    );
}

#[test]
fn the_bounds_table_in_the_scenario_docs_is_the_one_validation_enforces() {
    let readme = std::fs::read_to_string(scenarios_dir().join("README.md")).unwrap();
    let table = simulator::bounds::markdown_table();
    assert!(readme.contains(&table), "scenarios/README.md must carry bounds::markdown_table():\n{table}");
}

#[test]
fn run_refuses_a_scenario_whose_sweep_is_invalid() {
    let dir = temp_dir("cli-run-bad-sweep");
    let file = dir.join("s.toml");
    std::fs::write(&file, "name = \"s\"\nduration_ms = 3000\n[sweep]\nseeds = [1]\n[sweep.parameters]\n\"network.drop\" = [0.1, 2.0]\n").unwrap();
    let out = leither(&["run", &file.display().to_string(), "--out", &dir.join("o").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "[sweep point network.drop=2.0]: `network.drop`: expected a probability in [0, 1], got 2"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_trace_cut_mid_line_is_called_truncated_and_a_swarm_trace_replays() {
    let dir = temp_dir("cli-cut-mid-line");
    let swarm = scenarios_dir().join("swarm.toml").display().to_string();
    let run = leither(&["run", &swarm, "--seed", "3", "--trace", "--out", &dir.display().to_string()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let trace = dir.join("trace.jsonl");
    // Swarm mode's choices are in the header's scenario: the replay does not draw them again.
    let out = leither(&["replay", &trace.display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&trace).unwrap();
    let cut = dir.join("cut.jsonl");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap(); // mid-line, as a killed writer leaves it
    let out = leither(&["replay", &cut.display().to_string()]);
    assert!(
        text(&out.stderr).starts_with("error: the saved trace is truncated: it ends after line "),
        "{}",
        text(&out.stderr)
    );
    let out = leither(&["trace", &cut.display().to_string(), "--ev", "crash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("has no end line: it was cut short"), "{}", text(&out.stderr));
}
