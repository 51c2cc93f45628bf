//! Sweeps: the cartesian product of `[sweep.parameters]` × `sweep.seeds`, run in parallel with
//! rayon, split deterministically into shards (`--shard I/N`: point `k` belongs to shard
//! `k mod N`), and merged into one report. Each point's result is written to the sweep's
//! directory as it finishes ([`points`]), so an interrupted sweep resumes where it stopped; a
//! whole sweep then builds its report with the same [`merge`] that combines shard directories,
//! so both give byte-identical reports. A point that breaks an invariant does not stop the
//! sweep: its result records where and why, the report lists it, and its replay command.

pub mod points;
pub mod report;
pub mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use thiserror::Error;

pub use points::{PointFile, SweepRecord};
pub use report::write_report;
pub(crate) use stats::{fmt_ci, mean_ci};

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
}

/// A sweep's scenario kind: how a point's scenario is built, and what the sweep's record calls
/// the kind. Protocol and credit sweeps share [`Plan`] and [`Point`] through it.
pub trait SweepScenario: Sized {
    /// What the sweep record names the kind (`protocol`, `credit`).
    const KIND: &'static str;
    /// The scenario of `text` (`file` names it in errors) with `overrides` applied and its
    /// `[sweep]` dropped, validated.
    fn of_point(text: &str, file: &Path, overrides: &[Override]) -> Result<Self, ScenarioError>;
}

impl SweepScenario for Scenario {
    const KIND: &'static str = "protocol";
    fn of_point(text: &str, file: &Path, overrides: &[Override]) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with_overrides(text, file, overrides, "sweep point", true)
    }
}

/// A sweep, expanded (of either scenario kind).
#[derive(Clone, Debug)]
pub struct Plan<S = Scenario> {
    /// Identifies the sweep: a hash of the scenario text, so that merge refuses to mix sweeps.
    pub sweep_id: String,
    /// The scenario as written (with its `[sweep]`).
    pub base: S,
    /// The scenario's file.
    pub file: PathBuf,
    /// The scenario file's text.
    pub text: String,
    /// Every point, in order.
    pub points: Vec<Point>,
    /// The memory estimate of the largest point (what a worker thread needs).
    pub largest: crate::memory::Estimate,
}

impl<S: SweepScenario> Plan<S> {
    /// The scenario of `point`: the file with its assignments. Built when the point runs (a
    /// plan of 100,000 points holds no scenario, which could be large); planning validated it.
    pub fn scenario(&self, point: &Point) -> Result<S, ScenarioError> {
        S::of_point(&self.text, &self.file, &point.overrides)
    }

    /// What the sweep's directory records of it.
    pub fn record(&self) -> SweepRecord {
        SweepRecord::new(S::KIND, &self.file, &self.text, self.points.len())
    }

    /// Each point's planned seed and assignments, by index (what point files are checked
    /// against).
    pub fn expected(&self) -> points::Expected<'_> {
        self.points.iter().map(|p| (p.seed, p.assignments.as_slice())).collect()
    }
}

/// The result of one point of a protocol sweep, as written to `points/point-NNNNN.json`.
pub type PointResult = points::PointResult<Summary>;

impl points::RunSummary for Summary {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn commit(&self) -> &str {
        &self.commit
    }
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
    /// A point could not be set up (a run that starts and then fails is recorded instead).
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
    /// `--shard` is malformed or splits the sweep into empty shards.
    #[error("--shard {0}")]
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
    /// A point file is not what it claims (edited, of another sweep, seed or commit).
    #[error("{path}: refused: {why}")]
    BadPointFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The directories hold results of different sweeps, or not all of one.
    #[error("cannot merge: {0}")]
    Incomplete(String),
}

/// Parse `I/N` for a sweep of `total` points: `0 ≤ I < N`, and `N` no more than the points (an
/// empty shard is a mistake) or [`crate::bounds::SHARDS_MAX`].
pub fn parse_shard(text: &str, total: usize) -> Result<(usize, usize), SweepError> {
    let bad = |why: &str| SweepError::BadShard(format!("{text}: {why}"));
    let shape = "expected I/N with 0 ≤ I < N, e.g. 0/4";
    let (i, n) = text.split_once('/').ok_or_else(|| bad(shape))?;
    let (i, n): (usize, usize) = (i.parse().map_err(|_| bad(shape))?, n.parse().map_err(|_| bad(shape))?);
    if n == 0 || i >= n {
        return Err(bad(shape));
    }
    let most = total.min(crate::bounds::SHARDS_MAX);
    if n > most {
        return Err(bad(&format!(
            "the sweep has {total} points, so at most {most} shards (each gets at least one)"
        )));
    }
    Ok((i, n))
}

/// Expand the sweep of the scenario file `path`.
pub fn plan(path: &Path) -> Result<Plan, SweepError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Io { file: path.to_path_buf(), source })?;
    plan_text(&text, path)
}

/// Expand the sweep of scenario `text` (`file` names it in errors). Validation has counted the
/// points against `bounds::SWEEP_POINTS_MAX` before any is built.
pub fn plan_text(text: &str, file: &Path) -> Result<Plan, SweepError> {
    let base = Scenario::parse(text, file)?;
    let sweep = base.sweep.clone().ok_or_else(|| SweepError::NoSweep(file.to_path_buf()))?;
    let mut points = Vec::new();
    let mut largest = crate::memory::protocol(&base);
    // Trees by what they depend on: a sweep that does not vary the clients builds each once.
    let mut trees: BTreeMap<(u32, bool, usize, usize, u64), usize> = BTreeMap::new();
    for combination in cartesian(&sweep.parameters) {
        let overrides: Vec<Override> =
            combination.iter().map(|(k, v)| Override { key: k.to_string(), value: (*v).clone() }).collect();
        let scenario = Scenario::parse_with_overrides(text, file, &overrides, "sweep point", true)?;
        let estimate = crate::memory::protocol(&scenario);
        if estimate.total_bytes() > largest.total_bytes() {
            largest = estimate;
        }
        let assignments: Vec<(String, String)> =
            combination.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for seed in &sweep.seeds {
            // A seed whose group tree cannot hold what the point asks is refused now, not
            // when its worker reaches it.
            let p = &scenario.parameters;
            let ed25519 = scenario.nodes.signatures == crate::scenario::SignatureScheme::Ed25519;
            let key = (scenario.nodes.clients, ed25519, p.stratum_bits, p.group_min_accounts, *seed);
            let needs_leaves = !crate::scenario::validate::leaf_only_keys(&scenario).is_empty();
            let leaves = if needs_leaves {
                *trees.entry(key).or_insert_with(|| crate::sim::leaf_groups(&scenario, *seed))
            } else {
                1
            };
            crate::sim::leaf_groups_exist(&scenario, *seed, file, leaves).map_err(|error| match error {
                SimError::Scenario(e) => SweepError::Scenario(e),
                other => SweepError::Run {
                    index: points.len(),
                    assignments: label(&assignments),
                    seed: *seed,
                    error: Box::new(other),
                },
            })?;
            let (index, seed) = (points.len(), *seed);
            points.push(Point {
                index,
                assignments: assignments.clone(),
                overrides: overrides.clone(),
                seed,
            });
        }
    }
    let sweep_id = points::sweep_id(text);
    Ok(Plan { sweep_id, base, file: file.to_path_buf(), text: text.to_string(), points, largest })
}

/// Check every point of the sweep of `text` (what `validate` and `run` do) and count them.
pub fn count_points(text: &str, file: &Path) -> Result<usize, SweepError> {
    Ok(plan_text(text, file)?.points.len())
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

/// How many worker threads a sweep of `points` points uses: `requested` (0 = one per core),
/// but no more than the points, the cores, or what the memory holds at `point_bytes` each;
/// with the reason when fewer than requested.
pub fn worker_threads(
    requested: usize,
    points: usize,
    point_bytes: u64,
    available: Option<u64>,
) -> (usize, Option<String>) {
    if points == 0 {
        return (1, None); // nothing left to run (a resumed sweep that was done)
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = if requested == 0 { cores } else { requested };
    let mut why = Vec::new();
    if threads > cores {
        threads = cores;
        why.push(format!("{cores} cores"));
    }
    if threads > points {
        threads = points.max(1);
        why.push(format!("{points} points"));
    }
    if let Some(available) = available {
        let fit = (available / point_bytes.max(1)).max(1) as usize;
        if threads > fit {
            threads = fit;
            why.push(format!("memory for {fit} runs at once"));
        }
    }
    let capped = (requested != 0 && threads < requested)
        .then(|| format!("--jobs {requested} capped at {}", why.join(", ")));
    (threads, capped)
}

/// Run `points` on `threads` worker threads, writing each result into `dir` as it finishes;
/// `progress` is called after each.
pub fn run(
    plan: &Plan,
    points: &[&Point],
    threads: usize,
    dir: &Path,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<PointResult>, SweepError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().expect("a thread pool");
    pool.install(|| points.par_iter().map(|point| run_point(plan, point, dir, progress)).collect())
}

fn run_point(
    plan: &Plan,
    point: &Point,
    dir: &Path,
    progress: &(dyn Fn() + Sync),
) -> Result<PointResult, SweepError> {
    let options = RunOptions {
        source: Some(plan.file.clone()),
        overrides: point.overrides.clone(),
        flight_recorder: true,
        ..RunOptions::default()
    };
    let setup_failed = |error| SweepError::Run {
        index: point.index,
        assignments: label(&point.assignments),
        seed: point.seed,
        error: Box::new(error),
    };
    let outcome = Simulation::new(&plan.scenario(point)?, point.seed, options)
        .map_err(setup_failed)?
        .run_to_outcome(|_| {});
    if !outcome.flight_recording.is_empty() {
        let path = dir.join("points").join(format!("point-{:05}-flight-recorder.jsonl", point.index));
        std::fs::create_dir_all(dir.join("points")).map_err(io_error(dir))?;
        let s = &outcome.result.summary;
        let stopped_at_ms = s.stopped.as_ref().map(|s| s.at_ms);
        let text = crate::trace::flight_recording_file(
            point.seed,
            s.nodes,
            stopped_at_ms,
            &outcome.flight_recording,
        );
        std::fs::write(&path, text).map_err(io_error(&path))?;
    }
    let result = PointResult {
        sweep_id: plan.sweep_id.clone(),
        total_points: plan.points.len(),
        index: point.index,
        assignments: point.assignments.clone(),
        seed: point.seed,
        summary: outcome.result.summary,
        digest: String::new(),
    };
    points::write_point(dir, &result)?;
    progress();
    Ok(result)
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

/// Merge the point results under `dirs` — each checked against the sweep its directory records
/// — and write the sweep report into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(), SweepError> {
    let record = SweepRecord::read_all(dirs)?;
    let plan = plan_text(&record.text, &record.file)?;
    record.matches(plan.points.len())?;
    let results: Vec<PointResult> = points::read_points(dirs, &record, &plan.expected())?;
    let results = points::complete(results, record.total_points)?;
    write_report(out, &results)
}
