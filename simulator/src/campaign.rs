//! Seed campaigns (`leither run --seeds`): every seed run (unless `--fail-fast`), then one
//! summary of what ran — the seeds, the faults injected by kind, and each violation with the
//! command that replays it — printed and written as `campaign.md` and `campaign.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::summary::{Stopped, Summary};

/// The campaign file format this build writes.
pub const CAMPAIGN_FORMAT: &str = "leither-campaign/1";

/// One seed of a campaign.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Where its report is (absent when the run could not write one).
    pub report: Option<PathBuf>,
    /// Its headline figures, as printed.
    pub headline: String,
    /// Faults and adversarial acts it injected, by kind (only the non-zero ones).
    pub faults: BTreeMap<String, u64>,
    /// Why it stopped early, if it did.
    pub stopped: Option<Stopped>,
}

impl SeedRun {
    /// The campaign's record of a protocol run.
    pub fn of(summary: &Summary, report: Option<PathBuf>, headline: String) -> SeedRun {
        SeedRun {
            seed: summary.seed,
            report,
            headline,
            faults: faults(summary),
            stopped: summary.stopped.clone(),
        }
    }
}

/// The non-zero fault and adversary counts of a run, by kind.
fn faults(s: &Summary) -> BTreeMap<String, u64> {
    let (f, a) = (&s.faults, &s.adversaries);
    let counts = [
        ("messages dropped", f.dropped),
        ("messages lost to partitions", f.partitioned),
        ("messages duplicated", f.duplicated),
        ("messages reordered", f.reordered),
        ("partitions", f.partitions_started),
        ("crashes", f.crashes),
        ("restarts", f.restarts),
        ("slow-link wait (ms)", f.slow_link_wait_ms),
        ("failovers", s.committees.failovers),
        ("chief failovers", s.committees.chief_failovers),
        ("double spends signed", a.double_spend_attempts),
        ("submissions censored", a.censored_submissions),
        ("forged reports", a.forged_reports),
        ("equivocating reports", a.equivocating_reports),
        ("forged attestations", s.committees.forged_attestations),
    ];
    counts.into_iter().filter(|(_, n)| *n > 0).map(|(k, n)| (k.to_string(), n)).collect()
}

/// A whole campaign.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Campaign {
    /// [`CAMPAIGN_FORMAT`].
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file.
    pub file: PathBuf,
    /// The `--set` overrides.
    pub overrides: Vec<String>,
    /// The seeds asked for.
    pub seeds_asked: u64,
    /// Each seed run, in order.
    pub runs: Vec<SeedRun>,
}

impl Campaign {
    /// An empty campaign of `seeds_asked` seeds.
    pub fn new(scenario: &str, file: &Path, overrides: Vec<String>, seeds_asked: u64) -> Campaign {
        Campaign {
            format: CAMPAIGN_FORMAT.into(),
            scenario: scenario.into(),
            file: file.to_path_buf(),
            overrides,
            seeds_asked,
            runs: Vec::new(),
        }
    }

    /// The runs that stopped early (an invariant, a limit).
    pub fn failures(&self) -> impl Iterator<Item = (&SeedRun, &Stopped)> {
        self.runs.iter().filter_map(|r| r.stopped.as_ref().map(|s| (r, s)))
    }

    /// Faults over every run, by kind.
    pub fn fault_totals(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for run in &self.runs {
            for (kind, n) in &run.faults {
                *totals.entry(kind.clone()).or_default() += n;
            }
        }
        totals
    }

    /// The summary lines printed at the end of a campaign.
    pub fn summary_lines(&self) -> Vec<String> {
        let failed = self.failures().count();
        let skipped = self.seeds_asked - self.runs.len() as u64;
        let mut lines = vec![format!(
            "campaign {}: {} of {} seeds run, {} passed, {} stopped early{}",
            self.scenario,
            self.runs.len(),
            self.seeds_asked,
            self.runs.len() - failed,
            failed,
            if skipped > 0 { format!(" ({skipped} not run: --fail-fast)") } else { String::new() }
        )];
        let totals = self.fault_totals();
        let faults = if totals.is_empty() {
            "none".to_string()
        } else {
            totals.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
        };
        lines.push(format!("  faults injected: {faults}"));
        for (run, stopped) in self.failures() {
            lines.push(format!("  seed {}: {}", run.seed, first_line(&stopped.reason)));
            lines.push(format!("    replay with: {}", stopped.replay));
        }
        lines
    }

    /// `campaign.md`.
    pub fn markdown(&self) -> String {
        let mut out = format!("# Leither campaign — {}\n\n", self.scenario);
        let _ = writeln!(out, "Scenario file: `{}`", self.file.display());
        if !self.overrides.is_empty() {
            let sets: Vec<String> = self.overrides.iter().map(|o| format!("`--set {o}`")).collect();
            let _ = writeln!(out, "\nOverrides: {}", sets.join(" "));
        }
        let lines = self.summary_lines();
        let _ = writeln!(out, "\n{}.\n\n{}.", lines[0], lines[1].trim_start().replacen('f', "F", 1));
        if self.failures().next().is_some() {
            out.push_str("\n## Stopped early\n\n");
            for (run, stopped) in self.failures() {
                let _ = writeln!(
                    out,
                    "- seed {}: {}; replay with `{}`",
                    run.seed,
                    first_line(&stopped.reason),
                    stopped.replay
                );
            }
        }
        out.push_str("\n## Seeds\n");
        out.push_str("\n| seed | outcome | result | report |\n|---:|---|---|---|\n");
        for run in &self.runs {
            let outcome = match &run.stopped {
                None => "passed".to_string(),
                Some(s) => format!("stopped: {}", stop_kind(s)),
            };
            let report = run.report.as_ref().map_or("—".to_string(), |d| format!("`{}`", d.display()));
            let _ = writeln!(out, "| {} | {outcome} | {} | {report} |", run.seed, run.headline);
        }
        out
    }

    /// Write `campaign.md` and `campaign.json` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("campaign.md"), self.markdown())?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("campaign.json"), json + "\n")
    }
}

/// What stopped a run, in a word: the invariant's code, or its kind.
fn stop_kind(stopped: &Stopped) -> &str {
    stopped.invariant.as_deref().unwrap_or(stopped.kind.name())
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
