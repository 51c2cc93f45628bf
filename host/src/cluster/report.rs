//! A cluster's summary (`summary.json`) and report (`report.md`): transfer outcomes, real
//! commit latency, what the checker found, the kills and restarts, why links closed — beside
//! the simulator's prediction of the same scenario and seed.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::Serialize;
use simulator::governance::GovernanceCounts;
use simulator::metrics::Percentiles;
use simulator::scenario::Scenario;
use simulator::sim::{RunOptions, Simulation};

use super::Kill;
use super::check::Verdict;
use crate::events::{Ev, Line};

/// What a cluster run did.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSummary {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Node processes.
    pub processes: usize,
    /// Node time the run lasted (ms).
    pub duration_ms: u64,
    /// Wall time from the processes' start to their stop (ms).
    pub wall_ms: u64,
    /// The kills.
    pub kills: Vec<Kill>,
    /// Groups the chief failed over to a backup, and members that took over.
    pub failovers: u64,
    /// Members that took over a group.
    pub takeovers: u64,
    /// Restarts: the node, the inputs it replayed, and the wall time that took (µs).
    pub restarts: Vec<(u32, u64, u64)>,
    /// Transfer outcomes.
    pub transfers: Outcomes,
    /// Committed transfers per second of the workload's length.
    pub commits_per_s: f64,
    /// Request → the payer's verified proof, in real ms.
    pub commit_latency_ms: Percentiles,
    /// What the checker found.
    pub verdict: Verdict,
    /// The last root each node held, spread: the largest minus the smallest version.
    pub final_root_spread: u64,
    /// Links closed, by reason.
    pub links_closed: BTreeMap<String, u64>,
    /// Frames not sent, by reason.
    pub sends_dropped: BTreeMap<String, u64>,
    /// Messages the nodes refused, by error.
    pub bad_messages: BTreeMap<String, u64>,
    /// What the organization's users did (a scenario with `[governance]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governance: Option<super::users::ClusterGovernance>,
    /// The simulator's run of the same scenario and seed.
    pub simulated: Prediction,
    /// Whether the run passed: no violation, every node caught up.
    pub passed: bool,
}

/// Transfer outcomes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcomes {
    /// Issued to a client (the client process was up).
    pub issued: u64,
    /// Committed with a verified proof.
    pub committed: u64,
    /// Refused.
    pub refused: u64,
    /// Given up.
    pub abandoned: u64,
    /// Lost to a crash.
    pub lost: u64,
    /// Requests with more than one outcome (a protocol bug).
    pub duplicate_outcomes: u64,
}

/// The simulator's figures for the same scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Prediction {
    /// Committed.
    pub committed: u64,
    /// Issued.
    pub issued: u64,
    /// Commits per second.
    pub commits_per_s: f64,
    /// Commit latency (virtual ms).
    pub commit_latency_ms: Percentiles,
    /// The organization's users, simulated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governance: Option<simulator::governance::GovernanceCounts>,
    /// Why there is none, if there is none.
    pub error: Option<String>,
}

/// What a cluster run left to summarise.
#[derive(Debug)]
pub struct Ran<'a> {
    /// The processes.
    pub processes: usize,
    /// The kills carried out.
    pub kills: &'a [Kill],
    /// Every node's events.
    pub lines: &'a [Line],
    /// The check's verdict.
    pub verdict: Verdict,
    /// Wall time of the run.
    pub wall_ms: u64,
    /// What the organization's users did, if there was one.
    pub governance: Option<super::users::ClusterGovernance>,
}

/// Summarise a checked cluster run.
pub fn summarise(scenario: &Scenario, seed: u64, ran: Ran<'_>) -> ClusterSummary {
    let Ran { processes, kills, lines, verdict, wall_ms, governance } = ran;
    let requests = simulator::workload::schedule(scenario, seed, 10_000_000);
    let issued_at: BTreeMap<u64, u64> = requests.iter().map(|r| (r.tag, r.at_ms)).collect();
    let mut transfers = Outcomes::default();
    let mut outcome_of: BTreeMap<u64, u32> = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut summary_maps = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut restarts = Vec::new();
    let (mut failovers, mut takeovers) = (0, 0);
    for line in lines {
        let mut outcome = |tag: u64| {
            let seen = outcome_of.entry(tag).or_default();
            *seen += 1;
            *seen == 1
        };
        match &line.ev {
            Ev::Started { .. } => {}
            Ev::Committed { tag, .. } if outcome(*tag) => {
                transfers.committed += 1;
                latencies.extend(issued_at.get(tag).map(|at| line.t_ms.saturating_sub(*at)));
            }
            Ev::Refused { tag, .. } => transfers.refused += u64::from(outcome(*tag)),
            Ev::Abandoned { tag } => transfers.abandoned += u64::from(outcome(*tag)),
            Ev::Lost { tags } => transfers.lost += tags.iter().filter(|t| outcome(**t)).count() as u64,
            Ev::LinkClosed { reason, .. } => *summary_maps.0.entry(short(reason)).or_insert(0) += 1,
            Ev::SendDropped { reason, .. } => *summary_maps.1.entry(short(reason)).or_insert(0) += 1,
            Ev::BadMessage { error, .. } => *summary_maps.2.entry(short(error)).or_insert(0) += 1,
            Ev::FailedOver { .. } => failovers += 1,
            Ev::TookOver { .. } => takeovers += 1,
            Ev::Restarted { replayed, replay_us, .. } => restarts.push((line.node, *replayed, *replay_us)),
            _ => {}
        }
    }
    transfers.duplicate_outcomes = outcome_of.values().filter(|n| **n > 1).count() as u64;
    transfers.issued = issued_count(lines, &requests);
    let spread = match (verdict.last_held.values().min(), verdict.last_held.values().max()) {
        (Some(lo), Some(hi)) => hi - lo,
        _ => 0,
    };
    let workload_s = scenario.workload_stop_ms().min(scenario.duration_ms) as f64 / 1000.0;
    let passed = verdict.violations.is_empty()
        && transfers.duplicate_outcomes == 0
        && spread <= 3
        && transfers.committed > 0
        && governance.as_ref().is_none_or(|g| g.undecodable == 0 && g.counts.members > 0);
    ClusterSummary {
        scenario: scenario.name.clone(),
        seed,
        processes,
        duration_ms: scenario.duration_ms,
        wall_ms,
        kills: kills.to_vec(),
        failovers,
        takeovers,
        restarts,
        commits_per_s: round2(transfers.committed as f64 / workload_s),
        transfers,
        commit_latency_ms: Percentiles::of(&mut latencies),
        verdict,
        final_root_spread: spread,
        links_closed: summary_maps.0,
        sends_dropped: summary_maps.1,
        bad_messages: summary_maps.2,
        governance,
        simulated: predict(scenario, seed),
        passed,
    }
}

/// Requests whose payer handled them: a `started` line, or any outcome.
fn issued_count(lines: &[Line], requests: &[simulator::workload::Request]) -> u64 {
    let mut seen = std::collections::BTreeSet::new();
    for line in lines {
        match &line.ev {
            Ev::Started { tag }
            | Ev::Committed { tag, .. }
            | Ev::Refused { tag, .. }
            | Ev::Abandoned { tag } => {
                seen.insert(*tag);
            }
            Ev::Lost { tags } => seen.extend(tags.iter().copied()),
            _ => {}
        }
    }
    // Requests never started are still issued if their payer was up: count the schedule.
    (requests.len() as u64).max(seen.len() as u64)
}

/// The first words of a reason (without the numbers that make each one unique).
fn short(reason: &str) -> String {
    reason.split(':').next().unwrap_or(reason).trim().to_string()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The simulator's run of the same scenario and seed.
fn predict(scenario: &Scenario, seed: u64) -> Prediction {
    let run = Simulation::new(scenario, seed, RunOptions::default()).and_then(|sim| sim.run(|_| {}));
    match run {
        Ok(result) => {
            let s = result.summary;
            let workload_s = scenario.workload_stop_ms().min(scenario.duration_ms) as f64 / 1000.0;
            Prediction {
                committed: s.transfers.committed,
                issued: s.transfers.issued,
                commits_per_s: round2(s.transfers.committed as f64 / workload_s),
                commit_latency_ms: s.commit_latency_ms,
                governance: s.governance,
                error: None,
            }
        }
        Err(error) => Prediction { error: Some(error.to_string()), ..Prediction::default() },
    }
}

/// The organization's figures, real beside simulated.
fn governance_table(g: &super::users::ClusterGovernance, sim: Option<&GovernanceCounts>) -> String {
    let real = &g.counts;
    let closed = |c: &GovernanceCounts, passed: bool| -> u64 {
        c.proposals_closed.values().map(|pf| pf[usize::from(!passed)]).sum()
    };
    type Row = (&'static str, fn(&GovernanceCounts) -> u64);
    let rows: [Row; 9] = [
        ("requests", |c| c.requests),
        ("accepted", |c| c.accepted),
        ("refused", |c| c.refused.values().sum()),
        ("given up", |c| c.given_up),
        ("honest admitted", |c| c.honest_admitted),
        ("sybils admitted", |c| c.sybils_admitted),
        ("members at the end", |c| c.members),
        ("proposals opened", |c| c.proposals_opened),
        ("votes", |c| c.votes),
    ];
    let mut md = format!(
        "\nThe organization ({} votes):\n\n| | cluster (real) | simulator |\n|---|---:|---:|\n",
        real.vote_weight
    );
    let sim_cell = |f: &dyn Fn(&GovernanceCounts) -> u64| sim.map_or("–".to_string(), |c| f(c).to_string());
    for (name, f) in rows {
        md += &format!("| {name} | {} | {} |\n", f(real), sim_cell(&f));
    }
    md += &format!("| proposals passed | {} | {} |\n", closed(real, true), sim_cell(&|c| closed(c, true)));
    md += &format!("| proposals failed | {} | {} |\n", closed(real, false), sim_cell(&|c| closed(c, false)));
    md += &format!(
        "| mean ms to admission | {} | {} |\n",
        real.mean_ms_to_admission,
        sim_cell(&|c| c.mean_ms_to_admission)
    );
    md += &format!("\nRequests no node took (process down): {}.\n", g.undelivered);
    md
}

/// Write `summary.json` and `report.md` into `dir`.
pub fn write(dir: &Path, summary: &ClusterSummary) -> io::Result<()> {
    let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    std::fs::write(dir.join("summary.json"), json + "\n")?;
    std::fs::write(dir.join("report.md"), markdown(summary))
}

fn markdown(s: &ClusterSummary) -> String {
    let (c, p) = (&s.commit_latency_ms, &s.simulated.commit_latency_ms);
    let mut md = format!(
        "# Cluster run: {} (seed {})\n\n{} processes on loopback, {} ms of node time ({} ms wall).\n\n\
         **{}** — {} violations, {} invariant checks, {} seals checked ({} orphaned by failovers), {} roots; \
         final roots within {} versions.\n\n",
        s.scenario,
        s.seed,
        s.processes,
        s.duration_ms,
        s.wall_ms,
        if s.passed { "PASSED" } else { "FAILED" },
        s.verdict.violations.len(),
        s.verdict.invariant_checks,
        s.verdict.seals_checked,
        s.verdict.seals_orphaned,
        s.verdict.roots,
        s.final_root_spread,
    );
    md += "| | cluster (real) | simulator (predicted) |\n|---|---:|---:|\n";
    md += &format!("| transfers issued | {} | {} |\n", s.transfers.issued, s.simulated.issued);
    md += &format!("| committed | {} | {} |\n", s.transfers.committed, s.simulated.committed);
    md += &format!("| commits/s | {} | {} |\n", s.commits_per_s, s.simulated.commits_per_s);
    for (name, real, sim) in
        [("p50", c.p50, p.p50), ("p90", c.p90, p.p90), ("p99", c.p99, p.p99), ("max", c.max, p.max)]
    {
        md += &format!("| commit latency {name} (ms) | {real} | {sim} |\n");
    }
    md += &format!(
        "\nRefused {}, abandoned {}, lost {}, duplicate outcomes {}.\n",
        s.transfers.refused, s.transfers.abandoned, s.transfers.lost, s.transfers.duplicate_outcomes
    );
    if let Some(g) = &s.governance {
        md += &governance_table(g, s.simulated.governance.as_ref());
    }
    md += &format!("\nFailovers {}, takeovers {}.\n", s.failovers, s.takeovers);
    for kill in &s.kills {
        md += &format!(
            "\nKilled node {} (SIGKILL) at {} ms, restart at {:?} ms.",
            kill.node, kill.at_ms, kill.restart_at_ms
        );
    }
    for (node, replayed, replay_us) in &s.restarts {
        md += &format!("\nNode {node} restarted, replaying {replayed} logged inputs in {replay_us} µs.");
    }
    for (title, map) in [
        ("Links closed", &s.links_closed),
        ("Sends dropped", &s.sends_dropped),
        ("Messages refused", &s.bad_messages),
    ] {
        if !map.is_empty() {
            md += &format!("\n\n{title}:\n");
            for (reason, n) in map {
                md += &format!("- {reason}: {n}\n");
            }
        }
    }
    if !s.verdict.violations.is_empty() {
        md += "\n\nViolations (first 20):\n";
        for v in s.verdict.violations.iter().take(20) {
            md += &format!("- {v}\n");
        }
    }
    md + "\n"
}
