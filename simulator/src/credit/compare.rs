//! Credit sweeps and the designer's comparison report: every combination of
//! `[sweep.parameters]` × `sweep.seeds` run in parallel; per combination, each metric's mean
//! and 95% confidence half-width over seeds; one plot per metric against `sweep.x` with one
//! line (and error bars) per value of `sweep.lines` — by default the trust model; and the
//! combinations ranked by the scenario's `[objective]`. The report names the sweep's scenario
//! text and the commit that produced it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::report::opt;
use super::scenario::CreditScenario;
use super::sim::{CreditSimError, CreditSimulation};
use super::summary::CreditSummary;
use crate::plot::{self, Line};
use crate::report::{self, Section, Table};
use crate::scenario::{Override, ScenarioError};
use crate::sweep::points;
use crate::sweep::report::first_seen;
use crate::sweep::{
    Plan, Point, SweepError, SweepRecord, SweepScenario, cartesian, fmt_ci, label, mean_ci, stats,
};

/// A credit sweep, expanded: the protocol sweeps' plan over credit scenarios.
pub type CreditPlan = Plan<CreditScenario>;

impl SweepScenario for CreditScenario {
    const KIND: &'static str = "credit";
    fn of_point(text: &str, file: &Path, overrides: &[Override]) -> Result<CreditScenario, ScenarioError> {
        CreditScenario::parse_with_overrides(text, file, overrides, "sweep point", true)
    }
}

/// The result of one point of a credit sweep.
pub type CreditPointResult = points::PointResult<CreditSummary>;

impl points::RunSummary for CreditSummary {
    fn seed(&self) -> u64 {
        self.seed
    }
    fn commit(&self) -> &str {
        &self.commit
    }
}

/// Why a credit sweep could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreditSweepError {
    /// The scenario or a point of it is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// No `[sweep]` table.
    #[error("{0}: no [sweep] table; add `[sweep]` with `seeds = [...]` and `[sweep.parameters]`")]
    NoSweep(PathBuf),
    /// A point's run failed.
    #[error("sweep point {index} ({assignments}, seed {seed}): {error}")]
    Run {
        /// The point.
        index: usize,
        /// Its assignments.
        assignments: String,
        /// Its seed.
        seed: u64,
        /// What happened.
        error: Box<CreditSimError>,
    },
    /// Shard results could not be read or do not make one sweep.
    #[error(transparent)]
    Points(#[from] SweepError),
    /// Writing the report failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
}

/// Expand the sweep of credit scenario `text` (`file` names it in errors).
pub fn plan_text(text: &str, file: &Path) -> Result<CreditPlan, CreditSweepError> {
    let base = CreditScenario::parse(text, file)?;
    let sweep = base.sweep.clone().ok_or_else(|| CreditSweepError::NoSweep(file.to_path_buf()))?;
    let mut points = Vec::new();
    let mut largest: Option<crate::memory::Estimate> = None;
    for combination in cartesian(&sweep.parameters) {
        let overrides: Vec<Override> =
            combination.iter().map(|(k, v)| Override { key: k.to_string(), value: (*v).clone() }).collect();
        let scenario = CreditScenario::parse_with_overrides(text, file, &overrides, "sweep point", true)?;
        let estimate = crate::memory::credit(&scenario);
        if largest.as_ref().is_none_or(|l| estimate.total_bytes() > l.total_bytes()) {
            largest = Some(estimate);
        }
        let assignments: Vec<(String, String)> =
            combination.iter().map(|(k, v)| (k.to_string(), display_value(v))).collect();
        for seed in &sweep.seeds {
            let (assignments, overrides) = (assignments.clone(), overrides.clone());
            points.push(Point { index: points.len(), assignments, overrides, seed: *seed });
        }
    }
    let largest = largest.ok_or_else(|| CreditSweepError::NoSweep(file.to_path_buf()))?;
    let sweep_id = points::sweep_id(text);
    Ok(Plan { sweep_id, base, file: file.to_path_buf(), text: text.to_string(), points, largest })
}

/// A swept value as a label: strings without their quotes.
fn display_value(value: &toml::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// Run every point on `threads` worker threads, writing each result into `dir` as it finishes;
/// `progress` is called after each.
pub fn run(
    plan: &CreditPlan,
    points: &[&Point],
    threads: usize,
    dir: &Path,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<CreditPointResult>, CreditSweepError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().expect("a thread pool");
    pool.install(|| points.par_iter().map(|point| run_point(plan, point, dir, progress)).collect())
}

fn run_point(
    plan: &CreditPlan,
    point: &Point,
    dir: &Path,
    progress: &(dyn Fn() + Sync),
) -> Result<CreditPointResult, CreditSweepError> {
    let source = replay_source(&plan.file, &point.overrides);
    let scenario = plan.scenario(point)?;
    let result = CreditSimulation::new(&scenario, point.seed, &source).run().map_err(|error| {
        CreditSweepError::Run {
            index: point.index,
            assignments: label(&point.assignments),
            seed: point.seed,
            error: Box::new(error),
        }
    })?;
    let result = CreditPointResult {
        sweep_id: plan.sweep_id.clone(),
        total_points: plan.points.len(),
        index: point.index,
        assignments: point.assignments.clone(),
        seed: point.seed,
        summary: result.summary,
        digest: String::new(),
    };
    points::write_point(dir, &result)?;
    progress();
    Ok(result)
}

/// `FILE --set k=v …`: what replays a point.
pub fn replay_source(file: &Path, overrides: &[Override]) -> String {
    let mut out = file.display().to_string();
    for o in overrides {
        let _ = write!(out, " --set '{o}'");
    }
    out
}

/// Whether `dir` holds a credit sweep's results (its record says so).
pub fn is_credit_sweep_dir(dir: &Path) -> bool {
    SweepRecord::read(dir).is_ok_and(|r| r.kind == <CreditScenario as SweepScenario>::KIND)
}

/// Merge the credit sweep results under `dirs` — each checked against the sweep its directory
/// records — into the report a single-machine sweep writes.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(), CreditSweepError> {
    let record = SweepRecord::read_all(dirs)?;
    let plan = plan_text(&record.text, &record.file)?;
    record.matches(plan.points.len())?;
    let results: Vec<CreditPointResult> = points::read_points(dirs, &record, &plan.expected())?;
    let results = points::complete(results, record.total_points)?;
    write_report(out, &plan, &results)
}

// ----- the comparison report -------------------------------------------------------------

/// A metric of the comparison: its name (`CreditSummary::metric`; an objective may name it)
/// and its column heading.
struct Metric {
    name: &'static str,
    heading: &'static str,
    /// A probability or a fraction: its axis is held to [0, 1].
    probability: bool,
}

impl Metric {
    fn get(&self, s: &CreditSummary) -> Option<f64> {
        s.metric(self.name)
    }
}

const METRICS: [Metric; 10] = [
    Metric { name: "defaulted_bill_fraction", heading: "defaulted bills", probability: true },
    Metric { name: "value_lost_fraction", heading: "value lost ÷ credit", probability: true },
    Metric { name: "settlement_failure_rate", heading: "settlement failures", probability: true },
    Metric {
        name: "accepted_sybils_per_attack_edge",
        heading: "accepted sybils / attack edge",
        probability: false,
    },
    Metric { name: "credit_lost_per_attack_edge", heading: "credit lost / attack edge", probability: false },
    Metric { name: "auc_honest_vs_sybil", heading: "AUC honest vs sybil", probability: true },
    Metric { name: "auc_honest_vs_adversary", heading: "AUC honest vs adversary", probability: true },
    Metric { name: "precision_at_honest", heading: "precision at honest count", probability: true },
    Metric { name: "adversary_seat_fraction", heading: "adversarial seats", probability: true },
    Metric { name: "mean_iterations", heading: "iterations per update", probability: false },
];

/// The results of one parameter combination.
struct Combination<'a> {
    assignments: &'a [(String, String)],
    members: Vec<&'a CreditPointResult>,
}

impl Combination<'_> {
    /// Mean and CI half-width of a metric over the seeds that have it.
    fn stat(&self, get: &dyn Fn(&CreditSummary) -> Option<f64>) -> Option<(f64, f64)> {
        let values: Vec<f64> = self.members.iter().filter_map(|r| get(&r.summary)).collect();
        (!values.is_empty()).then(|| mean_ci(&values))
    }

    fn value_of(&self, key: &str) -> Option<&str> {
        self.assignments.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn combinations(results: &[CreditPointResult]) -> Vec<Combination<'_>> {
    let mut out: Vec<Combination<'_>> = Vec::new();
    let mut position: BTreeMap<&[(String, String)], usize> = BTreeMap::new();
    for r in results {
        match position.get(r.assignments.as_slice()) {
            Some(&i) => out[i].members.push(r),
            None => {
                position.insert(&r.assignments, out.len());
                out.push(Combination { assignments: &r.assignments, members: vec![r] });
            }
        }
    }
    out
}

/// The objective of one run: Σ weight × metric; `None` if the run lacks a named metric.
fn objective(objective: &BTreeMap<String, f64>, s: &CreditSummary) -> Option<f64> {
    objective.iter().map(|(name, weight)| s.metric(name).map(|v| weight * v)).sum()
}

fn comparison_table(combos: &[Combination<'_>]) -> Table {
    let mut header = vec!["configuration".to_string(), "seeds".to_string()];
    header.extend(METRICS.iter().map(|m| m.heading.to_string()));
    let rows = combos
        .iter()
        .map(|c| {
            let mut row = vec![label(c.assignments), c.members.len().to_string()];
            row.extend(METRICS.iter().map(|m| c.stat(&|s| m.get(s)).map_or("—".into(), fmt_ci)));
            row
        })
        .collect();
    Table { header, rows }
}

fn ranked_table(combos: &[Combination<'_>], weights: &BTreeMap<String, f64>) -> Table {
    let mut scored: Vec<(f64, f64, &Combination<'_>)> = combos
        .iter()
        .filter_map(|c| c.stat(&|s| objective(weights, s)).map(|(mean, half)| (mean, half, c)))
        .collect();
    scored.sort_by(|a, b| {
        a.0.total_cmp(&b.0).then_with(|| label(a.2.assignments).cmp(&label(b.2.assignments)))
    });
    let mut header = ["rank", "configuration", "objective", "vs the best"].map(String::from).to_vec();
    header.extend(weights.keys().cloned());
    let per_seed = |c: &Combination<'_>| -> Vec<(u64, f64)> {
        c.members.iter().filter_map(|r| objective(weights, &r.summary).map(|v| (r.seed, v))).collect()
    };
    let best = scored.first().map(|(_, _, c)| per_seed(c)).unwrap_or_default();
    let rows = scored
        .iter()
        .enumerate()
        .map(|(i, (mean, half, c))| {
            let versus = match (i, stats::indistinguishable(&per_seed(c), &best)) {
                (0, _) => "best",
                (_, Some(true)) => "≈ best",
                (_, Some(false)) => "worse",
                (_, None) => "—",
            };
            let mut row =
                vec![(i + 1).to_string(), label(c.assignments), fmt_ci((*mean, *half)), versus.into()];
            row.extend(weights.keys().map(|name| c.stat(&|s| s.metric(name)).map_or("—".into(), fmt_ci)));
            row
        })
        .collect();
    Table { header, rows }
}

/// Which swept key is the x axis and which draws the lines.
fn axes(plan_base: &CreditScenario, results: &[CreditPointResult]) -> (Option<String>, Option<String>) {
    let keys: Vec<String> =
        results.first().map(|r| r.assignments.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let sweep = plan_base.sweep.as_ref();
    let lines =
        sweep.and_then(|s| s.lines.clone()).or_else(|| keys.iter().find(|k| *k == "trust.model").cloned());
    let x =
        sweep.and_then(|s| s.x.clone()).or_else(|| keys.iter().find(|k| Some(*k) != lines.as_ref()).cloned());
    (x, lines)
}

fn figures(base: &CreditScenario, results: &[CreditPointResult], combos: &[Combination<'_>]) -> Vec<String> {
    let (Some(x), lines_key) = axes(base, results) else { return Vec::new() };
    // A line per value of every swept key but x (the lines key first in its label).
    let line_label = |c: &Combination<'_>| {
        let mut parts: Vec<String> = Vec::new();
        if let Some(key) = &lines_key
            && let Some(v) = c.value_of(key)
        {
            parts.push(v.to_string());
        }
        for (k, v) in c.assignments {
            if *k != x && Some(k) != lines_key.as_ref() {
                parts.push(format!("{k} = {v}"));
            }
        }
        if parts.is_empty() { "all".to_string() } else { parts.join(", ") }
    };
    let labels = first_seen(combos.iter().map(line_label));
    let values = combos.iter().map(|c| c.value_of(&x).unwrap_or_default().to_string());
    let categories = first_seen(values.filter(|v| v.parse::<f64>().is_err()));
    let position: BTreeMap<&str, usize> =
        categories.iter().enumerate().map(|(i, v)| (v.as_str(), i)).collect();
    let x_of = |c: &Combination<'_>| -> f64 {
        let v = c.value_of(&x).unwrap_or_default();
        v.parse().unwrap_or_else(|_| position.get(v).copied().unwrap_or(0) as f64)
    };
    let x_desc = if categories.is_empty() { x.clone() } else { format!("{x} ({})", categories.join(", ")) };
    METRICS
        .iter()
        .filter(|m| combos.iter().any(|c| c.stat(&|s| m.get(s)).is_some()))
        .map(|m| {
            let lines: Vec<Line> = labels
                .iter()
                .take(plot::MAX_LINES)
                .map(|l| {
                    let mut points: Vec<(f64, f64, f64)> = combos
                        .iter()
                        .filter(|c| line_label(c) == *l)
                        .filter_map(|c| c.stat(&|s| m.get(s)).map(|(mean, half)| (x_of(c), mean, half)))
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    Line {
                        label: l.clone(),
                        points: points.iter().map(|p| (p.0, p.1)).collect(),
                        half_widths: points.iter().map(|p| p.2).collect(),
                    }
                })
                .collect();
            let figure = plot::MetricFigure {
                metric: m.heading,
                x_key: &x,
                x_desc: &x_desc,
                averaged: "mean ± 95% CI over seeds",
                lines_total: (labels.len(), "lines"),
                categorical: !categories.is_empty(),
                y_range: m.probability.then_some((0.0, 1.0)),
            };
            plot::metric_figure(&figure, &lines)
        })
        .collect()
}

fn sections(plan: &CreditPlan, results: &[CreditPointResult], combos: &[Combination<'_>]) -> Vec<Section> {
    let commit = results.first().map_or(String::new(), |r| r.summary.commit.clone());
    let seeds = plan.base.sweep.as_ref().map_or(0, |s| s.seeds.len());
    let mut out = vec![Section {
        title: "Sweep".into(),
        text: format!(
            "Produced by `leither sweep {}` at commit {commit}; the scenario text is at the end of this report.",
            plan.file.display()
        ),
        tables: vec![Table::pairs(&[
            ("scenario", plan.base.name.clone()),
            ("sweep id", plan.sweep_id.clone()),
            ("commit", commit.clone()),
            ("configurations", combos.len().to_string()),
            ("seeds per configuration", seeds.to_string()),
            ("runs", results.len().to_string()),
        ])],
    }];
    let weights = &plan.base.objective;
    if weights.is_empty() {
        out.push(Section {
            title: "Ranking".into(),
            text: "The scenario states no [objective]; add one (metric = weight, lower is better) to rank the configurations.".into(),
            tables: vec![],
        });
    } else {
        let stated = weights.iter().map(|(k, w)| format!("{w} × {k}")).collect::<Vec<_>>().join(" + ");
        out.push(Section {
            title: "Ranking against the objective".into(),
            text: format!(
                "Objective (lower is better): {stated}, computed per run, then mean ± 95% CI over seeds. \
                 Configurations lacking a named metric are left out. \"≈ best\" marks a configuration that \
                 cannot be told from the best at 95%: a paired t-test over the seeds both ran (a seed \
                 draws the same population and requests wherever the configuration leaves them alone), the mean per-seed difference of the objective within its \
                 confidence half-width of 0; \"worse\" one that can; \"—\" with fewer than two common seeds."
            ),
            tables: vec![ranked_table(combos, weights)],
        });
    }
    out.push(Section {
        title: "Comparison".into(),
        text:
            "Mean over seeds ± the 95% confidence half-width (Student t); — where a run has no such figure \
               (e.g. sybil metrics without sybils, seats without elections)."
                .into(),
        tables: vec![comparison_table(combos)],
    });
    out.push(Section {
        title: "Sybil and default figures by configuration".into(),
        text: "Per configuration, the mean over seeds of the headline attack figures.".into(),
        tables: vec![headline_table(combos)],
    });
    out
}

fn headline_table(combos: &[Combination<'_>]) -> Table {
    let header =
        ["configuration", "value lost", "defaults", "sybils accepted", "AUC (last update)", "sybil seats"];
    let rows = combos
        .iter()
        .map(|c| {
            let mean = |get: &dyn Fn(&CreditSummary) -> Option<f64>| c.stat(get).map(|(m, _)| m);
            vec![
                label(c.assignments),
                format!("{:.0}", mean(&|s| Some(s.defaults.value_lost as f64)).unwrap_or(0.0)),
                format!("{:.1}", mean(&|s| Some(s.defaults.defaulted as f64)).unwrap_or(0.0)),
                format!("{:.2}", mean(&|s| Some(s.trust.accepted_sybils)).unwrap_or(0.0)),
                opt(mean(&|s| s.trust.auc_honest_vs_sybil_final)),
                format!("{:.4}", mean(&|s| Some(s.seats.sybil_seat_fraction)).unwrap_or(0.0)),
            ]
        })
        .collect();
    Table { header: header.iter().map(|h| h.to_string()).collect(), rows }
}

fn csv(results: &[CreditPointResult]) -> String {
    let mut out = String::from("index,configuration,seed");
    for m in &METRICS {
        let _ = write!(out, ",{}", m.name);
    }
    out.push('\n');
    for r in results {
        let _ = write!(out, "{},\"{}\",{}", r.index, label(&r.assignments), r.seed);
        for m in &METRICS {
            let _ = write!(out, ",{}", m.get(&r.summary).map_or(String::new(), |v| v.to_string()));
        }
        out.push('\n');
    }
    out
}

/// The comparison report in Markdown.
pub fn markdown(plan: &CreditPlan, results: &[CreditPointResult]) -> String {
    let combos = combinations(results);
    let footer = format!(
        "Per-run figures: `sweep.csv`, `sweep.json`.\n\nScenario (`{}`):\n\n```toml\n{}```\n",
        plan.file.display(),
        plan.text
    );
    report::markdown(&title(plan, results), &sections(plan, results, &combos), &footer)
}

fn title(plan: &CreditPlan, results: &[CreditPointResult]) -> String {
    format!("Leither credit comparison — {} ({} runs)", plan.base.name, results.len())
}

/// Write `sweep.md`, `sweep.html`, `sweep.csv` and `sweep.json` into `out`.
pub fn write_report(
    out: &Path,
    plan: &CreditPlan,
    results: &[CreditPointResult],
) -> Result<(), CreditSweepError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CreditSweepError::Io { path, error }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let combos = combinations(results);
    let html = report::html_with_appendix(
        &title(plan, results),
        &sections(plan, results, &combos),
        &figures(&plan.base, results, &combos),
        Some((&format!("Scenario ({})", plan.file.display()), &plan.text)),
    );
    let files = [
        ("sweep.md", markdown(plan, results)),
        ("sweep.html", html),
        ("sweep.csv", csv(results)),
        ("sweep.json", serde_json::to_string_pretty(results).expect("results serialize") + "\n"),
    ];
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}
