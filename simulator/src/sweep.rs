//! Sweeps: the cartesian product of `[sweep.parameters]` × `sweep.seeds`, run in parallel with
//! rayon, split deterministically into shards (`--shard I/N`: point `k` belongs to shard
//! `k mod N`), and merged into one report. A single-machine sweep writes its point results and
//! then builds its report with the same [`merge`] that combines shard directories, so both
//! give byte-identical reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::plot::{self, Line};
use crate::report::{self, Section, Table};
use crate::scenario::{Override, Scenario, ScenarioError};
use crate::sim::{RunOptions, SimError, Simulation};
use crate::summary::Summary;

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct Point {
    /// Position in the sweep (the shard key).
    pub index: usize,
    /// `key = value` of each swept parameter.
    pub assignments: Vec<(String, String)>,
    /// The same as scenario overrides (for the replay command of a failing point).
    pub overrides: Vec<Override>,
    /// The seed.
    pub seed: u64,
    /// The scenario with the assignments applied.
    pub scenario: Scenario,
}

/// A sweep, expanded.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Identifies the sweep: a hash of the scenario text, so that merge refuses to mix sweeps.
    pub sweep_id: String,
    /// The scenario's name.
    pub name: String,
    /// The scenario's file.
    pub file: PathBuf,
    /// Every point, in order.
    pub points: Vec<Point>,
}

/// The result of one point, as written to `points/point-NNNNN.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PointResult {
    /// The sweep it belongs to.
    pub sweep_id: String,
    /// Total points of the sweep.
    pub total_points: usize,
    /// The point's index.
    pub index: usize,
    /// Its assignments.
    pub assignments: Vec<(String, String)>,
    /// Its seed.
    pub seed: u64,
    /// Its summary.
    pub summary: Summary,
}

/// Why a sweep could not run or merge.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The scenario or a point of it is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The scenario has no `[sweep]` table.
    #[error("{0}: no [sweep] table; add `[sweep]` with `seeds = [...]` and `[sweep.parameters]`")]
    NoSweep(PathBuf),
    /// A run failed.
    #[error("sweep point {index} ({assignments}, seed {seed}): {error}")]
    Run {
        /// The point.
        index: usize,
        /// Its assignments.
        assignments: String,
        /// Its seed.
        seed: u64,
        /// What happened.
        error: Box<SimError>,
    },
    /// `--shard` is malformed.
    #[error("--shard {0}: expected I/N with 0 ≤ I < N, e.g. 0/4")]
    BadShard(String),
    /// Reading or writing results failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// A point file is not a point result.
    #[error("{path}: not a sweep point result: {error}")]
    BadPoint {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: serde_json::Error,
    },
    /// The directories hold results of different sweeps, or not all of one.
    #[error("cannot merge: {0}")]
    Incomplete(String),
}

/// Parse `I/N`.
pub fn parse_shard(text: &str) -> Result<(usize, usize), SweepError> {
    let bad = || SweepError::BadShard(text.to_string());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Expand the sweep of the scenario file `path`.
pub fn plan(path: &Path) -> Result<Plan, SweepError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Io { file: path.to_path_buf(), source })?;
    plan_text(&text, path)
}

/// Expand the sweep of scenario `text` (`file` names it in errors).
pub fn plan_text(text: &str, file: &Path) -> Result<Plan, SweepError> {
    let base = Scenario::parse(text, file)?;
    let sweep = base.sweep.clone().ok_or_else(|| SweepError::NoSweep(file.to_path_buf()))?;
    let mut points = Vec::new();
    for combination in cartesian(&sweep.parameters) {
        let overrides: Vec<Override> =
            combination.iter().map(|(k, v)| Override { key: k.to_string(), value: (*v).clone() }).collect();
        let scenario = Scenario::parse_with_overrides(text, file, &overrides, "sweep point", true)?;
        let assignments: Vec<(String, String)> =
            combination.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for seed in &sweep.seeds {
            points.push(Point {
                index: points.len(),
                assignments: assignments.clone(),
                overrides: overrides.clone(),
                seed: *seed,
                scenario: scenario.clone(),
            });
        }
    }
    let sweep_id = blake3::hash(text.as_bytes()).to_hex()[..16].to_string();
    Ok(Plan { sweep_id, name: base.name, file: file.to_path_buf(), points })
}

/// Every combination of the parameter lists, keys in sorted order, last key varying fastest.
pub(crate) fn cartesian(parameters: &BTreeMap<String, Vec<toml::Value>>) -> Vec<Vec<(&str, &toml::Value)>> {
    let mut combinations: Vec<Vec<(&str, &toml::Value)>> = vec![Vec::new()];
    for (key, values) in parameters {
        combinations = combinations
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push((key.as_str(), v));
                    next
                })
            })
            .collect();
    }
    combinations
}

/// Run `points` on `jobs` threads (0 = all cores); `progress` is called after each point.
pub fn run(
    plan: &Plan,
    points: &[&Point],
    jobs: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<PointResult>, SweepError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().expect("a thread pool");
    let total_points = plan.points.len();
    pool.install(|| {
        points
            .par_iter()
            .map(|point| {
                let options = RunOptions {
                    source: Some(plan.file.clone()),
                    overrides: point.overrides.clone(),
                    ..RunOptions::default()
                };
                let result = Simulation::new(&point.scenario, point.seed, options)
                    .and_then(|sim| sim.run(|_| {}))
                    .map_err(|error| SweepError::Run {
                        index: point.index,
                        assignments: label(&point.assignments),
                        seed: point.seed,
                        error: Box::new(error),
                    })?;
                progress();
                Ok(PointResult {
                    sweep_id: plan.sweep_id.clone(),
                    total_points,
                    index: point.index,
                    assignments: point.assignments.clone(),
                    seed: point.seed,
                    summary: result.summary,
                })
            })
            .collect()
    })
}

pub(crate) fn label(assignments: &[(String, String)]) -> String {
    if assignments.is_empty() {
        return "base".into();
    }
    assignments.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |error| SweepError::Io { path: path.to_path_buf(), error }
}

/// A sweep point's result as a shard writes it and `merge` reads it back: protocol sweeps'
/// [`PointResult`] and credit sweeps' `credit::compare::CreditPointResult`.
pub trait PointFile: Serialize + serde::de::DeserializeOwned + PartialEq {
    /// The sweep it belongs to.
    fn sweep_id(&self) -> &str;
    /// Total points of that sweep.
    fn total_points(&self) -> usize;
    /// The point's index.
    fn index(&self) -> usize;
}

impl PointFile for PointResult {
    fn sweep_id(&self) -> &str {
        &self.sweep_id
    }
    fn total_points(&self) -> usize {
        self.total_points
    }
    fn index(&self) -> usize {
        self.index
    }
}

/// Write each result to `dir/points/point-NNNNN.json`.
pub fn write_points<P: PointFile>(dir: &Path, results: &[P]) -> Result<(), SweepError> {
    let points_dir = dir.join("points");
    std::fs::create_dir_all(&points_dir).map_err(io_error(&points_dir))?;
    for r in results {
        let path = points_dir.join(format!("point-{:05}.json", r.index()));
        let json = serde_json::to_string_pretty(r).expect("a point result serializes");
        std::fs::write(&path, json + "\n").map_err(io_error(&path))?;
    }
    Ok(())
}

/// Read the point results under each of `dirs` (their `points/` subdirectories).
pub fn read_points<P: PointFile>(dirs: &[PathBuf]) -> Result<Vec<P>, SweepError> {
    let mut results = Vec::new();
    for dir in dirs {
        let points_dir = dir.join("points");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&points_dir)
            .map_err(io_error(&points_dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
            let point = serde_json::from_str(&text)
                .map_err(|error| SweepError::BadPoint { path: path.clone(), error })?;
            results.push(point);
        }
    }
    Ok(results)
}

/// Check that `results` are exactly the points of one sweep, and order them.
pub fn complete<P: PointFile>(mut results: Vec<P>) -> Result<Vec<P>, SweepError> {
    let Some(first) = results.first() else {
        return Err(SweepError::Incomplete("no point results found".into()));
    };
    let (sweep_id, total) = (first.sweep_id().to_string(), first.total_points());
    if let Some(other) = results.iter().find(|r| r.sweep_id() != sweep_id) {
        return Err(SweepError::Incomplete(format!(
            "results of two sweeps ({sweep_id} and {})",
            other.sweep_id()
        )));
    }
    results.sort_by_key(|r| r.index());
    results.dedup_by(|a, b| a == b); // the same shard merged twice is harmless
    if let Some(w) = results.windows(2).find(|w| w[0].index() == w[1].index()) {
        return Err(SweepError::Incomplete(format!("two different results for point {}", w[0].index())));
    }
    let missing: Vec<usize> =
        (0..total).filter(|i| results.binary_search_by_key(i, |r| r.index()).is_err()).collect();
    if !missing.is_empty() {
        return Err(SweepError::Incomplete(format!(
            "{} of {total} points missing, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(8)]
        )));
    }
    Ok(results)
}

/// Merge the point results under `dirs` and write the sweep report into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(), SweepError> {
    let results: Vec<PointResult> = complete(read_points(dirs)?)?;
    write_report(out, &results)
}

// ----- the sweep report -----------------------------------------------------------------

/// Mean and 95% confidence half-width (Student t) of a sample.
pub(crate) fn mean_ci(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, t95(values.len() - 1) * (variance / n).sqrt())
}

/// Two-sided 95% Student t critical values by degrees of freedom.
fn t95(df: usize) -> f64 {
    const TABLE: [f64; 10] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
    TABLE.get(df - 1).copied().unwrap_or(if df < 30 { 2.1 } else { 1.96 })
}

struct Metric {
    name: &'static str,
    get: fn(&Summary) -> f64,
}

const METRICS: [Metric; 7] = [
    Metric { name: "committed", get: |s| s.transfers.committed as f64 },
    Metric { name: "throughput tx/s", get: |s| s.throughput_tx_per_s },
    Metric { name: "latency p50 ms", get: |s| s.commit_latency_ms.p50 },
    Metric { name: "latency p99 ms", get: |s| s.commit_latency_ms.p99 },
    Metric { name: "abandoned", get: |s| s.transfers.abandoned as f64 },
    Metric { name: "msgs/node/pulse", get: |s| s.messages.per_node_per_pulse },
    Metric { name: "events", get: |s| s.events as f64 },
];

/// Shown only when the sweep runs committees (D-032).
const COMMITTEE_METRICS: [Metric; 6] = [
    Metric { name: "failovers", get: |s| s.committees.failovers as f64 },
    Metric { name: "term handovers", get: |s| s.committees.term_handovers as f64 },
    Metric { name: "censored submissions", get: |s| s.adversaries.censored_submissions as f64 },
    Metric { name: "forged reports taken", get: |s| s.committees.forged_reports_taken as f64 },
    Metric { name: "proofs failed", get: |s| s.adversaries.bad_proofs_detected as f64 },
    Metric { name: "adversary seats %", get: adversary_seat_percent },
];

/// Leaf-group committee seats held by Byzantine primaries and colluding backups, in percent.
fn adversary_seat_percent(s: &Summary) -> f64 {
    let seats = (s.ledger.groups.saturating_sub(1) * (1 + s.committees.backups)).max(1);
    let held = s.adversaries.byzantine_seats + s.committees.colluding_backup_seats;
    crate::metrics::round2(100.0 * held as f64 / seats as f64)
}

/// The metrics of elections over candidate pools (D-035).
const ELECTION_METRICS: [Metric; 4] = [
    Metric { name: "elected adversary seats %", get: |s| elected_adversary_percent(s, false) },
    Metric { name: "elected adversary primaries %", get: |s| elected_adversary_percent(s, true) },
    Metric { name: "members joined", get: |s| s.elections.as_ref().map_or(0.0, |e| e.members_joined as f64) },
    Metric { name: "handover pulses", get: |s| s.elections.as_ref().map_or(0.0, |e| e.handover_pulses_mean) },
];

/// Of the seats (or primary seats) the run's elections filled, the adversary's, in percent.
fn elected_adversary_percent(s: &Summary, primaries: bool) -> f64 {
    let Some(elections) = &s.elections else { return 0.0 };
    let (held, seats) = elections.terms.iter().fold((0, 0), |(held, seats), t| {
        if primaries {
            (held + t.adversary_primaries, seats + t.committees)
        } else {
            (held + t.adversary_seats, seats + t.seats)
        }
    });
    crate::metrics::round2(100.0 * held as f64 / seats.max(1) as f64)
}

/// The metrics a sweep's tables show: the headline ones, the committees' when it runs them,
/// the elections' when it elects committees from pools.
fn metrics_of(results: &[PointResult]) -> Vec<&'static Metric> {
    let committees = results.iter().any(|r| r.summary.committees.backups > 0);
    let elections = results.iter().any(|r| r.summary.elections.is_some());
    METRICS
        .iter()
        .chain(COMMITTEE_METRICS.iter().filter(|_| committees))
        .chain(ELECTION_METRICS.iter().filter(|_| elections))
        .collect()
}

pub(crate) fn fmt_ci((mean, half): (f64, f64)) -> String {
    if half == 0.0 { format!("{mean:.2}") } else { format!("{mean:.2} ± {half:.2}") }
}

/// Points grouped by parameter combination, in sweep order.
fn groups(results: &[PointResult]) -> Vec<(String, Vec<&PointResult>)> {
    let mut groups: Vec<(String, Vec<&PointResult>)> = Vec::new();
    for r in results {
        let key = label(&r.assignments);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    groups
}

fn comparison_table(results: &[PointResult]) -> Table {
    let metrics = metrics_of(results);
    let mut header = vec!["parameters".to_string(), "seeds".to_string()];
    header.extend(metrics.iter().map(|m| m.name.to_string()));
    let rows = groups(results)
        .into_iter()
        .map(|(key, members)| {
            let mut row = vec![key, members.len().to_string()];
            for m in &metrics {
                let values: Vec<f64> = members.iter().map(|r| (m.get)(&r.summary)).collect();
                row.push(fmt_ci(mean_ci(&values)));
            }
            row
        })
        .collect();
    Table { header, rows }
}

/// Plots of each headline metric against the first swept parameter, one line per combination
/// of the others (x = the value if numeric, else its position).
fn figures(results: &[PointResult]) -> Vec<String> {
    let Some(first) = results.first().and_then(|r| r.assignments.first()).map(|(k, _)| k.clone()) else {
        return Vec::new();
    };
    let x_of = |r: &PointResult, values: &mut Vec<String>| -> f64 {
        let v = r.assignments[0].1.clone();
        v.parse().unwrap_or_else(|_| {
            if !values.contains(&v) {
                values.push(v.clone());
            }
            values.iter().position(|x| *x == v).expect("just pushed") as f64
        })
    };
    let mut labels: Vec<String> = Vec::new();
    for r in results {
        let rest = label(&r.assignments[1..]);
        if !labels.contains(&rest) {
            labels.push(rest);
        }
    }
    let committees = results.iter().any(|r| r.summary.committees.backups > 0);
    let elections = results.iter().any(|r| r.summary.elections.is_some());
    let plotted: Vec<&Metric> = [&METRICS[1], &METRICS[2], &METRICS[3], &METRICS[5]]
        .into_iter()
        .chain(COMMITTEE_METRICS[..5].iter().filter(|_| committees))
        .chain(ELECTION_METRICS[..2].iter().filter(|_| elections))
        .collect();
    plotted
        .iter()
        .map(|metric| {
            let mut category = Vec::new();
            let lines: Vec<Line> = labels
                .iter()
                .take(6)
                .map(|rest| {
                    let mut by_x: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                    for r in results.iter().filter(|r| label(&r.assignments[1..]) == *rest) {
                        by_x.entry(x_of(r, &mut category).to_bits())
                            .or_default()
                            .push((metric.get)(&r.summary));
                    }
                    let mut points: Vec<(f64, f64)> =
                        by_x.into_iter().map(|(x, v)| (f64::from_bits(x), mean_ci(&v).0)).collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    Line { label: rest.clone(), points, half_widths: Vec::new() }
                })
                .collect();
            // More than six lines are unreadable; the title says which were left out.
            let shown = if labels.len() > 6 {
                format!(", first 6 of {} combinations", labels.len())
            } else {
                String::new()
            };
            plot::lines(
                &format!("{} vs {first} (mean over seeds{shown})", metric.name),
                &first,
                metric.name,
                &lines,
                &[],
            )
        })
        .collect()
}

/// Write `sweep.md`, `sweep.html`, `sweep.csv` and `sweep.json` into `out`.
pub fn write_report(out: &Path, results: &[PointResult]) -> Result<(), SweepError> {
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let first = &results[0];
    let title = format!("Leither sweep — {} ({} points)", first.summary.scenario_name, results.len());
    let sections = vec![
        Section {
            title: "Sweep".into(),
            text: String::new(),
            tables: vec![Table::pairs(&[
                ("sweep id", first.sweep_id.clone()),
                ("commit", first.summary.commit.clone()),
                ("points", results.len().to_string()),
            ])],
        },
        Section {
            title: "Comparison".into(),
            text: "Mean over seeds ± the 95% confidence half-width (Student t).".into(),
            tables: vec![comparison_table(results)],
        },
    ];
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(io_error(&path))
    };
    write(
        "sweep.md",
        report::markdown(&title, &sections, "Per-point summaries: `sweep.json`, `sweep.csv`.\n"),
    )?;
    write("sweep.html", report::html(&title, &sections, &figures(results)))?;
    write("sweep.csv", csv(results))?;
    write("sweep.json", serde_json::to_string_pretty(results).expect("results serialize") + "\n")?;
    Ok(())
}

fn csv(results: &[PointResult]) -> String {
    let metrics = metrics_of(results);
    let mut out = String::from("index,parameters,seed");
    for m in &metrics {
        out.push(',');
        out.push_str(&m.name.replace(' ', "_").replace('/', "_per_"));
    }
    out.push('\n');
    for r in results {
        out.push_str(&format!("{},\"{}\",{}", r.index, label(&r.assignments), r.seed));
        for m in &metrics {
            out.push_str(&format!(",{}", (m.get)(&r.summary)));
        }
        out.push('\n');
    }
    out
}
