//! The protocol sweep's report: a comparison table (mean ± 95% CI over seeds per parameter
//! combination), plots of the headline metrics against the first swept key, the points that
//! stopped early with their replay commands, and the per-point CSV and JSON.

use std::collections::BTreeMap;
use std::path::Path;

use super::stats::{fmt_ci, mean_ci};
use super::{PointResult, SweepError, io_error, label};
use crate::plot::{self, Line};
use crate::report::{self, Section, Table};
use crate::summary::Summary;

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

/// The metrics of an organization run over the network (D-041).
const GOVERNANCE_METRICS: [Metric; 6] = [
    Metric { name: "sybils admitted", get: |s| governance(s, |g| g.sybils_admitted as f64) },
    Metric { name: "sybil member %", get: |s| governance(s, sybil_member_percent) },
    Metric { name: "proposals captured", get: |s| governance(s, |g| g.captured as f64) },
    Metric { name: "honest expelled", get: |s| governance(s, |g| g.honest_expelled as f64) },
    Metric { name: "proposals passed", get: |s| governance(s, |g| passed(g) as f64) },
    Metric { name: "turnout %", get: |s| governance(s, |g| crate::metrics::round2(100.0 * g.turnout)) },
];

/// The structural rewards' metrics, where any point pays rewards (D-046).
const REWARD_METRICS: [Metric; 2] = [
    Metric { name: "rewards paid", get: |s| governance(s, |g| g.rewards_paid as f64) },
    Metric { name: "reward value to sybils %", get: |s| governance(s, reward_to_sybils_percent) },
];

fn reward_to_sybils_percent(g: &crate::governance::GovernanceCounts) -> f64 {
    crate::metrics::round2(100.0 * g.reward_value_to_sybils as f64 / g.reward_value_paid.max(1) as f64)
}

fn governance(s: &Summary, get: fn(&crate::governance::GovernanceCounts) -> f64) -> f64 {
    s.governance.as_ref().map_or(0.0, get)
}

fn sybil_member_percent(g: &crate::governance::GovernanceCounts) -> f64 {
    crate::metrics::round2(100.0 * g.sybil_members as f64 / g.members.max(1) as f64)
}

fn passed(g: &crate::governance::GovernanceCounts) -> u64 {
    g.proposals_closed.values().map(|[passed, _]| passed).sum()
}

/// The metrics a sweep's tables show: the headline ones, the committees' when it runs them,
/// the elections' when it elects committees from pools, the organization's when it has one.
fn metrics_of(results: &[PointResult]) -> Vec<&'static Metric> {
    let committees = results.iter().any(|r| r.summary.committees.backups > 0);
    let elections = results.iter().any(|r| r.summary.elections.is_some());
    let governance = results.iter().any(|r| r.summary.governance.is_some());
    let rewards = results.iter().any(|r| r.summary.governance.as_ref().is_some_and(|g| g.rewards_passed > 0));
    METRICS
        .iter()
        .chain(COMMITTEE_METRICS.iter().filter(|_| committees))
        .chain(ELECTION_METRICS.iter().filter(|_| elections))
        .chain(GOVERNANCE_METRICS.iter().filter(|_| governance))
        .chain(REWARD_METRICS.iter().filter(|_| rewards))
        .collect()
}

/// Points grouped by parameter combination, in sweep order.
fn groups(results: &[PointResult]) -> Vec<(String, Vec<&PointResult>)> {
    let mut groups: Vec<(String, Vec<&PointResult>)> = Vec::new();
    let mut position: BTreeMap<String, usize> = BTreeMap::new(); // linear in the points, not quadratic
    for r in results {
        let key = label(&r.assignments);
        match position.get(&key) {
            Some(&i) => groups[i].1.push(r),
            None => {
                position.insert(key.clone(), groups.len());
                groups.push((key, vec![r]));
            }
        }
    }
    groups
}

/// The distinct `items`, in the order they first appear.
pub(crate) fn first_seen(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    items.into_iter().filter(|item| seen.insert(item.clone())).collect()
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
    // Non-numeric values of the first key are placed by their order of appearance.
    let categories: BTreeMap<String, usize> =
        first_seen(results.iter().map(|r| r.assignments[0].1.clone()).filter(|v| v.parse::<f64>().is_err()))
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, i))
            .collect();
    let x_of = |r: &PointResult| -> f64 {
        let v = &r.assignments[0].1;
        v.parse().unwrap_or_else(|_| categories.get(v).copied().unwrap_or(0) as f64)
    };
    let labels = first_seen(results.iter().map(|r| label(&r.assignments[1..])));
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
            let lines: Vec<Line> = labels
                .iter()
                .take(plot::MAX_LINES)
                .map(|rest| {
                    let mut by_x: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                    for r in results.iter().filter(|r| label(&r.assignments[1..]) == *rest) {
                        by_x.entry(x_of(r).to_bits()).or_default().push((metric.get)(&r.summary));
                    }
                    let mut points: Vec<(f64, f64)> =
                        by_x.into_iter().map(|(x, v)| (f64::from_bits(x), mean_ci(&v).0)).collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    // A sweep of one key draws one line: of every point, not of a "base".
                    let label = if labels.len() == 1 { "mean over seeds".to_string() } else { rest.clone() };
                    Line { label, points, half_widths: Vec::new() }
                })
                .collect();
            let figure = plot::MetricFigure {
                metric: metric.name,
                x_key: &first,
                x_desc: &first,
                averaged: "mean over seeds",
                lines_total: (labels.len(), "combinations"),
                categorical: !categories.is_empty(),
                y_range: metric.name.ends_with('%').then_some((0.0, 100.0)),
            };
            plot::metric_figure(&figure, &lines)
        })
        .collect()
}

/// Write `sweep.md`, `sweep.html`, `sweep.csv` and `sweep.json` into `out`.
pub fn write_report(out: &Path, results: &[PointResult]) -> Result<(), SweepError> {
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let first = &results[0];
    let title = format!("Leither sweep — {} ({} points)", first.summary.scenario_name, results.len());
    let (finished, stopped): (Vec<PointResult>, Vec<PointResult>) =
        results.iter().cloned().partition(|r| r.summary.stopped.is_none());
    let mut sections = vec![Section {
        title: "Sweep".into(),
        text: String::new(),
        tables: vec![Table::pairs(&[
            ("sweep id", first.sweep_id.clone()),
            ("commit", first.summary.commit.clone()),
            ("points", results.len().to_string()),
            ("points that stopped early", stopped.len().to_string()),
        ])],
    }];
    if !stopped.is_empty() {
        sections.push(stopped_section(&stopped));
    }
    sections.push(Section {
        title: "Comparison".into(),
        text: if finished.is_empty() {
            "Every point stopped early: there is nothing to compare.".into()
        } else {
            let left_out = if stopped.is_empty() { "" } else { " Points that stopped early are left out." };
            format!("Mean over seeds ± the 95% confidence half-width (Student t).{left_out}")
        },
        tables: if finished.is_empty() { Vec::new() } else { vec![comparison_table(&finished)] },
    });
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(io_error(&path))
    };
    write(
        "sweep.md",
        report::markdown(&title, &sections, "Per-point summaries: `sweep.json`, `sweep.csv`.\n"),
    )?;
    write("sweep.html", report::html(&title, &sections, &figures(&finished)))?;
    write("sweep.csv", csv(results))?;
    write("sweep.json", serde_json::to_string_pretty(results).expect("results serialize") + "\n")?;
    Ok(())
}

/// The points whose runs broke an invariant or hit a limit, with what replays each.
fn stopped_section(stopped: &[PointResult]) -> Section {
    let rows = stopped
        .iter()
        .map(|r| {
            let s = r.summary.stopped.as_ref().expect("a stopped point");
            let why = s.reason.lines().next().unwrap_or("").to_string();
            vec![
                r.index.to_string(),
                label(&r.assignments),
                r.seed.to_string(),
                s.at_ms.to_string(),
                why,
                s.replay.clone(),
            ]
        })
        .collect();
    Section {
        title: "Points that stopped early".into(),
        text: "Each broke an invariant or hit a limit; its figures are left out of the comparison. The last \
               events before the stop are in points/point-NNNNN-flight-recorder.jsonl."
            .into(),
        tables: vec![Table {
            header: ["point", "parameters", "seed", "stopped at ms", "why", "replay with"]
                .map(String::from)
                .to_vec(),
            rows,
        }],
    }
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
