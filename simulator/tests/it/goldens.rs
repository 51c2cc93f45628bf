//! Golden runs: every shipped scenario × seeds 1–3, pinned by its trace hash and digests of its
//! summary and reports (credit runs: summary, per-update series and reports). A refactor keeps
//! `tests/goldens/runs.txt` byte-identical; a change of behaviour re-pins it in one commit that
//! says why (`LEITHER_BLESS=1 cargo test -p simulator --test it goldens`). The model's state
//! counts are pinned beside these, in `model/tests/it/main.rs`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use simulator::credit::scenario::CreditScenario;
use simulator::credit::sim::CreditSimulation;
use simulator::scenario::{Kind, Scenario};
use simulator::summary::COMMIT;
use simulator::{credit, report};

use crate::support::{run, scenarios_dir};

const SEEDS: [u64; 3] = [1, 2, 3];

/// The commit the pinned summaries and reports name (a real one, `-dirty` or not, changes with
/// every build while the run does not).
const PINNED_COMMIT: &str = "000000000000";

fn golden_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/goldens/runs.txt")
}

/// The first 16 hex digits of the BLAKE3 hash of `text`.
fn digest(text: &str) -> String {
    if let Some(at) = text.find(COMMIT) {
        let context = &text[at.saturating_sub(200)..(at + 50).min(text.len())];
        panic!("the build's commit {COMMIT} reached a pinned text: {context}");
    }
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

/// One pinned line for `file` run with `seed`.
fn golden_line(file: &Path, seed: u64) -> String {
    let name = file.file_stem().expect("a file name").to_string_lossy().into_owned();
    let text = std::fs::read_to_string(file).expect("a shipped scenario reads");
    match Kind::detect(&text, file).expect("a shipped scenario has a kind") {
        Kind::Protocol => {
            let scenario = Scenario::parse(&text, file).expect("a shipped scenario is valid");
            let mut result = run(&scenario, seed);
            // No honest node's envelope is ever refused but as a duplicate (D-039); only
            // impersonators' forgeries fail their signatures.
            let e = &result.summary.envelopes;
            assert_eq!(e.misaddressed + e.not_a_bookkeeper, 0, "{name} seed {seed}: {e:?}");
            let forged = result.summary.impersonation.as_ref().map_or(0, |i| i.delivered);
            assert!(e.bad_signatures <= forged, "{name} seed {seed}: {e:?}");
            assert!(e.replays <= result.summary.faults.duplicated + forged, "{name} seed {seed}: {e:?}");
            // The commit's length shapes the HTML tables: every build renders the same one.
            result.summary.commit = PINNED_COMMIT.into();
            let summary = serde_json::to_string_pretty(&result.summary).expect("a summary serializes");
            format!(
                "{name} seed={seed} trace={} summary={} report.md={} report.html={}",
                result.summary.trace_hash,
                digest(&summary),
                digest(&report::run_markdown(&result)),
                digest(&report::run_html(&result)),
            )
        }
        Kind::Credit => {
            let scenario = CreditScenario::parse(&text, file).expect("a shipped scenario is valid");
            let source = format!("scenarios/{name}.toml");
            let mut result =
                CreditSimulation::new(&scenario, seed, &source).run().expect("the run passes its checks");
            result.summary.commit = PINNED_COMMIT.into();
            let summary = serde_json::to_string_pretty(&result.summary).expect("a summary serializes");
            format!(
                "{name} seed={seed} summary={} series={} report.md={} report.html={}",
                digest(&summary),
                digest(&credit::report::series_csv(&result.series)),
                digest(&credit::report::run_markdown(&result)),
                digest(&credit::report::run_html(&result)),
            )
        }
    }
}

fn shipped_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/ lists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// Every (scenario, seed) line, in file and seed order, computed on all cores: the whole set
/// takes minutes on one.
fn golden_lines() -> Vec<String> {
    let jobs: Vec<(PathBuf, u64)> =
        shipped_files().into_iter().flat_map(|file| SEEDS.map(|seed| (file.clone(), seed))).collect();
    let lines = Mutex::new(vec![String::new(); jobs.len()]);
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(jobs.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let job = next.fetch_add(1, Ordering::Relaxed);
                    let Some((file, seed)) = jobs.get(job) else { break };
                    let line = golden_line(file, *seed);
                    lines.lock().expect("no worker panicked")[job] = line;
                }
            });
        }
    });
    lines.into_inner().expect("no worker panicked")
}

#[test]
fn every_shipped_scenario_runs_exactly_as_pinned() {
    let header = "# Golden runs: scenario × seed → trace hash and digests of the summary and reports.\n\
                  # Re-pin only in a commit that changes behaviour and says why (see tests/it/goldens.rs).\n";
    let actual = format!("{header}{}\n", golden_lines().join("\n"));
    let path = golden_file();
    if std::env::var_os("LEITHER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create tests/goldens");
        std::fs::write(&path, &actual).expect("write the golden file");
        return;
    }
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    if pinned == actual {
        return;
    }
    let pinned_lines: Vec<&str> = pinned.lines().collect();
    let changed: Vec<String> = actual
        .lines()
        .filter(|line| !pinned_lines.contains(line))
        .map(|line| format!("  now: {line}"))
        .chain(
            pinned_lines
                .iter()
                .filter(|line| !actual.lines().any(|a| a == **line))
                .map(|l| format!("  was: {l}")),
        )
        .collect();
    panic!(
        "golden runs differ from {} ({} lines):\n{}\nA refactor must keep them; a behaviour change re-pins \
         them with LEITHER_BLESS=1 in a commit that says why.",
        path.display(),
        changed.len(),
        changed.join("\n")
    );
}
