//! A credit run's report: `report.md`, `report.html` (tables and SVG plots over the trust
//! updates), `summary.json` and `timeseries.csv`. Functions of the results only.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::summary::{CreditRunResult, CreditSummary, UpdateRow};
use crate::plot::{self, Chart, Line};
use crate::report::{self, Section, Table};

const CLASS_NAMES: [&str; 6] = ["honest", "free riders", "whitewashers", "sybils", "malicious", "spies"];

/// `0.1234`, or `—` for a figure the run does not have.
pub fn opt(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:.4}"))
}

fn sections(s: &CreditSummary) -> Vec<Section> {
    let (run, service, trust, seats) = (run_table(s), service_table(s), trust_table(s), seats_table(s));
    let section = |title: &str, text: &str, tables: Vec<Table>| Section {
        title: title.into(),
        text: text.into(),
        tables,
    };
    vec![
        section("Run", "", vec![run]),
        section(
            "Service on credit (SPEC §2.2–§2.6)",
            "A request is refused when neither the direct line nor any path of lines can carry it.",
            vec![service],
        ),
        section(
            "Defaults (SPEC §2.5)",
            "Value lost is what was owed on a line when it defaulted.",
            defaults_tables(s),
        ),
        section(
            "Trust ranking (SPEC §2.7)",
            "Measured at every trust update over the active identities; the cut accepts as many \
             identities as there are honest members, ties shared as a random tie-break would.",
            vec![trust],
        ),
        section("Bookkeeper seats (SPEC §6.3)", "", vec![seats]),
        section(
            "Invariants",
            &format!(
                "{} checks of I1 and I2 (each sealed settlement version) and I12 (every pulse) passed.",
                s.invariant_checks
            ),
            vec![],
        ),
    ]
}

/// What ran.
fn run_table(s: &CreditSummary) -> Table {
    Table::pairs(&[
        ("scenario", s.scenario_name.clone()),
        ("seed", s.seed.to_string()),
        ("commit", s.commit.clone()),
        ("pulses", s.pulses.to_string()),
        ("trust model", s.trust.model.clone()),
        ("honest members", s.identities.honest.to_string()),
        ("adversarial identities at genesis", s.identities.adversarial.to_string()),
        ("identities taken by rejoining whitewashers", s.identities.rejoined.to_string()),
        ("relations formed (signed invitation and acceptance)", s.identities.relations.to_string()),
        ("letters of credit granted", s.identities.lines_granted.to_string()),
    ])
}

/// Requests served and refused.
fn service_table(s: &CreditSummary) -> Table {
    let v = &s.service;
    Table::pairs(&[
        ("requests", v.requests.to_string()),
        ("served on a direct line", v.served_direct.to_string()),
        ("served through intermediaries", v.served_routed.to_string()),
        ("refused: over the cap", v.refused_over_cap.to_string()),
        ("refused: line revoked", v.refused_revoked.to_string()),
        ("refused: no path within credit_max_hops", v.refused_no_route.to_string()),
        ("settlement failure rate", format!("{:.4}", v.settlement_failure_rate)),
        ("mean lines per served request", format!("{:.3}", v.mean_hops)),
        ("value served (base units)", v.value_served.to_string()),
        ("credit extended (base units, every hop)", v.credit_extended.to_string()),
        ("mean cap of live lines at the end", format!("{:.1}", v.mean_live_cap)),
    ])
}

/// The trust ranking's quality.
fn trust_table(s: &CreditSummary) -> Table {
    let t = &s.trust;
    Table::pairs(&[
        ("updates", t.updates.to_string()),
        ("mean iterations per update", format!("{:.1}", t.mean_iterations)),
        ("largest final L1 change", format!("{:.2e}", t.max_residual)),
        ("AUC honest vs sybil (mean over updates)", opt(t.auc_honest_vs_sybil)),
        ("AUC honest vs sybil (last update)", opt(t.auc_honest_vs_sybil_final)),
        ("AUC honest vs every adversary", opt(t.auc_honest_vs_adversary)),
        ("precision of the cut at the honest count", format!("{:.4}", t.precision_at_honest)),
        ("sybils accepted by that cut", format!("{:.2}", t.accepted_sybils)),
        ("accepted sybils per attack edge", opt(t.accepted_sybils_per_attack_edge)),
        ("credit lost per attack edge (base units)", opt(t.credit_lost_per_attack_edge)),
    ])
}

/// Bookkeeper seats by term.
fn seats_table(s: &CreditSummary) -> Table {
    let e = &s.seats;
    Table::pairs(&[
        ("terms", e.terms.to_string()),
        ("failed elections (seats left empty)", e.failed_elections.to_string()),
        ("seats per term", e.seats_per_term.to_string()),
        ("adversarial seat fraction (mean)", format!("{:.4}", e.adversary_seat_fraction)),
        ("adversarial seat fraction (worst term)", format!("{:.4}", e.adversary_seat_fraction_max)),
        ("sybil seat fraction (mean)", format!("{:.4}", e.sybil_seat_fraction)),
    ])
}

/// Defaults, in all and by borrower class.
fn defaults_tables(s: &CreditSummary) -> Vec<Table> {
    let d = &s.defaults;
    let totals = Table::pairs(&[
        ("bills (lines that carried an IOU)", d.bills.to_string()),
        ("defaulted", d.defaulted.to_string()),
        ("defaulted bill fraction", format!("{:.4}", d.defaulted_bill_fraction)),
        ("value lost (base units)", d.value_lost.to_string()),
        ("value lost ÷ credit extended", format!("{:.4}", d.value_lost_fraction)),
    ]);
    let by_class = Table {
        header: vec!["borrower class".into(), "defaults".into(), "value lost".into()],
        rows: CLASS_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                vec![
                    name.to_string(),
                    d.defaulted_by_class[i].to_string(),
                    d.value_lost_by_class[i].to_string(),
                ]
            })
            .collect(),
    };
    vec![totals, by_class]
}

fn figures(series: &[UpdateRow], pulses: u64) -> Vec<String> {
    let xy = |f: &dyn Fn(&UpdateRow) -> Option<f64>| -> Vec<(f64, f64)> {
        series.iter().filter_map(|r| f(r).map(|y| (r.pulse as f64, y))).collect()
    };
    let line = |label: &str, points| Line { label: label.into(), points, half_widths: Vec::new() };
    // One step of the credit model per pulse; every chart spans the whole run.
    let x_desc = "pulse (one step of the credit model)";
    let x_range = Some((0.0, pulses as f64));
    let figure = |title: &str, y_desc: &str, lines: &[Line], y_range: Option<(f64, f64)>| {
        plot::chart(&Chart { title, x_desc, y_desc, lines, x_range, y_range, ..Chart::default() })
    };
    vec![
        figure(
            "Trust ranking quality",
            "AUC / precision",
            &[
                line("AUC honest vs sybil", xy(&|r| r.auc_honest_vs_sybil)),
                line("AUC honest vs adversary", xy(&|r| r.auc_honest_vs_adversary)),
                line("precision at honest count", xy(&|r| Some(r.precision_at_honest))),
            ],
            Some((0.0, 1.0)),
        ),
        figure(
            "Sybils accepted",
            "sybils",
            &[line("accepted by the cut", xy(&|r| Some(r.accepted_sybils)))],
            None,
        ),
        figure(
            "Refusals and defaults (cumulative)",
            "count",
            &[
                line("requests refused", xy(&|r| Some(r.refused as f64))),
                line("lines defaulted", xy(&|r| Some(r.defaulted as f64))),
            ],
            None,
        ),
        figure(
            "Value lost to defaults (cumulative)",
            "base units",
            &[line("value lost", xy(&|r| Some(r.value_lost as f64)))],
            None,
        ),
    ]
}

/// `timeseries.csv`: one row per trust update.
pub fn series_csv(series: &[UpdateRow]) -> String {
    let mut out = String::from(
        "pulse,active,live_lines,iterations,auc_honest_vs_sybil,auc_honest_vs_adversary,precision_at_honest,\
         accepted_sybils,requests,refused,defaulted,value_lost,adversary_seat_fraction\n",
    );
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for r in series {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.pulse,
            r.active,
            r.live_lines,
            r.iterations,
            cell(r.auc_honest_vs_sybil),
            cell(r.auc_honest_vs_adversary),
            r.precision_at_honest,
            r.accepted_sybils,
            r.requests,
            r.refused,
            r.defaulted,
            r.value_lost,
            cell(r.adversary_seat_fraction)
        );
    }
    out
}

fn title(s: &CreditSummary) -> String {
    format!("Leither credit simulation — {} (seed {})", s.scenario_name, s.seed)
}

/// The Markdown report.
pub fn run_markdown(result: &CreditRunResult) -> String {
    let s = &result.summary;
    let footer = format!(
        "Scenario as run:\n\n```toml\n{}```\n\nPer-update series: `timeseries.csv`; every figure: `summary.json`.\n",
        s.scenario.to_toml()
    );
    report::markdown(&title(s), &sections(s), &footer)
}

/// The HTML report.
pub fn run_html(result: &CreditRunResult) -> String {
    let s = &result.summary;
    let scenario = s.scenario.to_toml();
    report::html_with_appendix(
        &title(s),
        &sections(s),
        &figures(&result.series, result.summary.pulses),
        Some(("Scenario as run", &scenario)),
    )
}

/// Write `summary.json`, `timeseries.csv`, `report.md` and `report.html` into `dir`.
pub fn write_run(dir: &Path, result: &CreditRunResult) -> io::Result<()> {
    let files = report::RunFiles {
        series_csv: series_csv(&result.series),
        markdown: run_markdown(result),
        html: run_html(result),
    };
    report::write_run_files(dir, &result.summary, files)
}
