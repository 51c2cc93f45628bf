//! The results of a run: `summary.json` (every metric, the scenario, seed and commit) and the
//! per-pulse time series. Both are deterministic functions of (scenario, seed, commit).

use std::collections::BTreeMap;

use reference::node::MessageKind;
use serde::{Deserialize, Serialize};

use crate::metrics::{Count, Counts, Metrics, Percentiles, round2};
use crate::scenario::Scenario;

/// The commit this binary was built from (see `build.rs`).
pub const COMMIT: &str = env!("LEITHER_COMMIT");
/// The summary format this build writes.
pub const SUMMARY_FORMAT: &str = "leither-summary/1";

/// Everything a run measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// [`SUMMARY_FORMAT`].
    pub format: String,
    /// Scenario name.
    pub scenario_name: String,
    /// The seed.
    pub seed: u64,
    /// The commit of the simulator.
    pub commit: String,
    /// What swarm mode chose (empty when off).
    pub swarm: Vec<String>,
    /// Virtual time simulated.
    pub virtual_ms: u64,
    /// Pulses simulated.
    pub pulses: u64,
    /// Nodes (bookkeeper + clients).
    pub nodes: u64,
    /// Events processed.
    pub events: u64,
    /// Invariant predicate evaluations.
    pub invariant_checks: u64,
    /// Hash of the whole event trace.
    pub trace_hash: String,
    /// Transfer outcomes.
    pub transfers: Transfers,
    /// Commit latency in ms (request → payer holds a verified proof).
    pub commit_latency_ms: Percentiles,
    /// The same in pulses.
    pub commit_latency_pulses: Percentiles,
    /// Commit latency from the payer starting the transfer (no queueing behind its earlier
    /// ones): what SPEC §7.4's 2-pulse bound (L1) is about.
    pub commit_latency_from_start_ms: Percentiles,
    /// Committed transfers per second of virtual time.
    pub throughput_tx_per_s: f64,
    /// Message counts.
    pub messages: Messages,
    /// Fault counts.
    pub faults: FaultCounts,
    /// Byzantine behaviour and what became of it.
    pub adversaries: AdversaryCounts,
    /// What the committees did (D-032).
    #[serde(default)]
    pub committees: CommitteeCounts,
    /// What the elections over candidate pools did (D-035); absent without standbys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elections: Option<crate::election::ElectionCounts>,
    /// What the organization's users and adversaries did (D-041); absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<crate::governance::GovernanceCounts>,
    /// The bookkeeper's ledger.
    pub ledger: LedgerFacts,
    /// The effective scenario (after swarm expansion), as TOML.
    pub scenario: String,
    /// The `--set` overrides the run was given, as `key=value` (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Why the run stopped before `duration_ms`, if it did: its figures are up to then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// What `--wire-check` saw (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_check: Option<crate::sim::WireCheckCounts>,
    /// Envelopes refused before their message was read (D-039).
    #[serde(default)]
    pub envelopes: EnvelopeCounts,
    /// What impersonating primaries did (absent without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation: Option<crate::impersonation::ImpersonationCounts>,
}

/// Envelopes receivers refused before reading the message, by the check that refused them
/// (D-039). On an honest run only `replays` is non-zero, and only where the network
/// duplicates: a duplicate is an envelope received twice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct EnvelopeCounts {
    /// Signatures that were not the claimed sender's.
    pub bad_signatures: u64,
    /// Envelopes received before (duplicates, replays).
    pub replays: u64,
    /// Envelopes addressed to another node.
    pub misaddressed: u64,
    /// Bookkeepers' messages from nodes the roster does not list.
    pub not_a_bookkeeper: u64,
}

impl EnvelopeCounts {
    /// Whether an envelope check (not the message's handler) raised `error`.
    pub(crate) fn is_envelope_error(error: &reference::node::NodeError) -> bool {
        use reference::node::NodeError;
        matches!(
            error,
            NodeError::BadSignature { .. }
                | NodeError::Replayed { .. }
                | NodeError::Misaddressed { .. }
                | NodeError::NotABookkeeper { .. }
        )
    }

    /// Count `error` if an envelope check raised it.
    pub(crate) fn count(&mut self, error: &reference::node::NodeError) {
        use reference::node::NodeError;
        match error {
            NodeError::BadSignature { .. } => self.bad_signatures += 1,
            NodeError::Replayed { .. } => self.replays += 1,
            NodeError::Misaddressed { .. } => self.misaddressed += 1,
            NodeError::NotABookkeeper { .. } => self.not_a_bookkeeper += 1,
            _ => {}
        }
    }
}

/// Why a run stopped early.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stopped {
    /// What stopped it.
    pub kind: StopKind,
    /// The virtual time of the event after which it stopped.
    pub at_ms: u64,
    /// The SPEC code of the invariant that broke (absent for a limit or an I/O error).
    pub invariant: Option<String>,
    /// The error, as printed.
    pub reason: String,
    /// The command that replays the run.
    pub replay: String,
}

/// What stopped a run early.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// An invariant broke.
    Invariant,
    /// A bound of `[limits]` was exceeded.
    Limit,
    /// Writing the trace failed.
    Error,
    /// The scenario cannot be run with this seed (it never started).
    NotRun,
}

impl StopKind {
    /// Its name in a campaign's table.
    pub fn name(self) -> &'static str {
        match self {
            StopKind::Invariant => "invariant",
            StopKind::Limit => "limit",
            StopKind::Error => "error",
            StopKind::NotRun => "not run",
        }
    }
}

/// Transfer outcomes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct Transfers {
    /// Requested.
    pub issued: u64,
    /// Committed.
    pub committed: u64,
    /// Refused by the bookkeeper.
    pub refused: u64,
    /// Given up by the payer.
    pub abandoned: u64,
    /// Lost to crashes.
    pub lost: u64,
    /// Still open at the end.
    pub outstanding: u64,
    /// Payers that re-signed after a stale nonce.
    pub nonce_resyncs: u64,
    /// Submissions a primary put off to a later version for lack of capacity (SPEC §6.5).
    pub deferred_for_capacity: u64,
    /// Requests that got a second outcome (a protocol bug; always 0).
    pub duplicate_outcomes: u64,
    /// Refusals by reason (`timed_out`: aborted by the chief after `transfer_timeout_pulses`).
    pub refused_by_reason: BTreeMap<String, u64>,
    /// Committed within 2 pulses of the payer starting the transfer (SPEC §7.4, L1; the
    /// bound assumes honest committees and bounded delay and counts no queueing behind the
    /// payer's earlier transfers, D-018).
    pub committed_within_2_pulses: u64,
}

/// Message counts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct Messages {
    /// Messages per committed transfer (all kinds, pulses included).
    pub per_committed_tx: f64,
    /// Handed to the network.
    pub total: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Per node per pulse.
    pub per_node_per_pulse: f64,
    /// Bytes per node per pulse.
    pub bytes_per_node_per_pulse: f64,
    /// By kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Ignored by their receiver as invalid.
    pub bad: u64,
    /// Addressed to no node.
    pub undeliverable: u64,
    /// Arrived at a crashed node.
    pub delivered_to_down_node: u64,
}

/// Fault counts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct FaultCounts {
    /// Messages dropped.
    pub dropped: u64,
    /// Messages lost to partitions.
    pub partitioned: u64,
    /// Messages duplicated.
    pub duplicated: u64,
    /// Messages held back.
    pub reordered: u64,
    /// Node crashes.
    pub crashes: u64,
    /// Node restarts.
    pub restarts: u64,
    /// Partitions started.
    pub partitions_started: u64,
    /// Partitions healed.
    pub partitions_healed: u64,
    /// Total ms messages waited in slow uplinks.
    pub slow_link_wait_ms: u64,
    /// Timers dropped because their node crashed.
    pub stale_timers: u64,
    /// The largest clock drift of any node.
    pub max_clock_drift_ppm: i64,
}

/// Byzantine behaviour and what became of it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct AdversaryCounts {
    /// Double-spending payers.
    pub double_spenders: u64,
    /// Conflicting transfers they signed (one per doubled nonce).
    pub double_spend_attempts: u64,
    /// Conflicting transfers the bookkeeper applied instead of the original; never both (I5).
    pub conflicting_transfers_applied: u64,
    /// Leaf-group seats held by Byzantine primaries (censoring, forging or equivocating), of
    /// `ledger.groups`.
    pub byzantine_seats: u64,
    /// Submissions dropped by censoring primaries.
    pub censored_submissions: u64,
    /// Group reports sent with a forged synopsis.
    pub forged_reports: u64,
    /// Commit proofs that failed to verify at a client (how a forged summary is detected).
    pub bad_proofs_detected: u64,
    /// Second, conflicting group reports sent by equivocating primaries.
    pub equivocating_reports: u64,
    /// Equivocations the chief detected (two different reports for one pulse, SPEC §8.4).
    pub equivocations_detected: u64,
}

/// What the leaf groups' committees did (D-032). All 0 without backups.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct CommitteeCounts {
    /// Backups per leaf group.
    pub backups: u64,
    /// Backup seats the adversary held (colluding with forging primaries).
    pub colluding_backup_seats: u64,
    /// Forged attestations colluding backups sent.
    pub forged_attestations: u64,
    /// Groups the chief failed over to a backup.
    pub failovers: u64,
    /// Primary seats handed over at term boundaries (SPEC §6.3).
    pub term_handovers: u64,
    /// Primaries that stepped down on learning of a later view.
    pub stepped_down: u64,
    /// Backups whose replay stopped reproducing their primary's reports.
    pub replica_divergences: u64,
    /// Members that took their primary's state after diverging (or after stepping down).
    pub resyncs: u64,
    /// Reports the chief took with a majority of their committee attesting.
    pub reports_attested: u64,
    /// Attestations that differed from their primary's report (forgery evidence).
    pub attest_mismatches: u64,
    /// Of the reports taken, those that were forged (a colluding majority signed them).
    pub forged_reports_taken: u64,
    /// Primary's work sent to a member not acting as primary (senders with an old view).
    pub not_acting: u64,
    /// Seals a failover orphaned: sealed by a primary after the state its successor took
    /// over from, never taken by the chief (checked against no invariant: not history).
    pub orphaned_seals: u64,
    /// Backups of the root group, which co-sign the chief's pulses (D-033).
    #[serde(skip_serializing_if = "is_zero")]
    pub root_backups: u64,
    /// Root backups that took over as chief after a view change (D-033).
    #[serde(skip_serializing_if = "is_zero")]
    pub chief_failovers: u64,
    /// Votes root committee members cast for a new root view.
    #[serde(skip_serializing_if = "is_zero")]
    pub view_change_votes: u64,
}

pub(crate) fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// The groups' ledgers and the chief's roots at the end.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct LedgerFacts {
    /// The final ts (root version).
    pub final_version: u64,
    /// Groups of the bookkeeper tree, the root group included.
    pub groups: u64,
    /// Group seals, summed over the groups.
    pub seals: u64,
    /// Group seals that advanced the group's version.
    pub versions: u64,
    /// Roots built by the chief.
    pub roots: u64,
    /// Roots whose clearing entry held value in transit (a clear seen at one side only).
    pub roots_with_clears_in_transit: u64,
    /// Cross-group halves applied and not settled at the end (I4's liveness side).
    pub unsettled_halves: u64,
}

/// One row of the per-pulse time series (`timeseries.csv`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PulseRow {
    /// Pulse index (virtual time / pulse_ms).
    pub pulse: u64,
    /// What happened in the pulse.
    pub counts: Counts,
    /// Commit latency of the transfers committed in this pulse (ms; zeros if none).
    pub latency_ms: Percentiles,
    /// Requests open at the end of the pulse (the system's queue depth).
    pub outstanding: u64,
    /// Partitions in force at the end of the pulse.
    pub partitions: u64,
}

/// A finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// The summary.
    pub summary: Summary,
    /// One row per pulse.
    pub series: Vec<PulseRow>,
    /// The faults on the time axis (the first `metrics::FAULT_MARKS_MAX`).
    pub fault_marks: Vec<crate::metrics::FaultMark>,
    /// The pulse period, the unit of the series' time axis.
    pub pulse_ms: u64,
}

/// What the engine hands over at the end of a run.
pub(crate) struct Finished<'a> {
    pub scenario: &'a Scenario,
    /// Where the run ended: `duration_ms`, or just after the event it stopped at.
    pub end_ms: u64,
    pub seed: u64,
    pub swarm_choices: Vec<String>,
    pub metrics: Metrics,
    pub events: u64,
    pub checks: u64,
    pub trace_hash: String,
    pub final_version: u64,
    pub groups: u64,
    pub nodes: u64,
    pub unsettled_halves: u64,
    pub duplicate_outcomes: u64,
    pub max_drift_ppm: i64,
    pub adversaries: AdversaryCounts,
    pub elections: Option<crate::election::ElectionCounts>,
    pub wire_check: Option<crate::sim::WireCheckCounts>,
    pub impersonation: Option<crate::impersonation::ImpersonationCounts>,
    /// The organization's counts, if the scenario has one.
    pub governance: Option<crate::governance::GovernanceCounts>,
}

impl Summary {
    pub(crate) fn build(f: Finished<'_>) -> RunResult {
        let pulse_ms = f.scenario.parameters.pulse_ms;
        let pulses = f.end_ms.div_ceil(pulse_ms);
        let mut metrics = f.metrics;
        metrics.at(f.end_ms.saturating_sub(1), pulse_ms); // a row for every pulse
        let series: Vec<PulseRow> =
            metrics.pulses.iter_mut().enumerate().map(|(i, acc)| row(i as u64, acc)).collect();
        let totals: Counts = series.iter().map(|r| r.counts).sum();
        let mut latencies: Vec<u64> =
            metrics.pulses.iter().flat_map(|p| p.latencies_ms.iter().copied()).collect();
        let mut from_start = std::mem::take(&mut metrics.latencies_from_start_ms);
        let within_2_pulses = from_start.iter().filter(|l| **l <= 2 * pulse_ms).count() as u64;
        let latency = Percentiles::of(&mut latencies);
        let latency_from_start = Percentiles::of(&mut from_start);
        let nodes = f.nodes;
        let node_pulses = (nodes * pulses).max(1) as f64;
        let summary = Summary {
            format: SUMMARY_FORMAT.to_string(),
            scenario_name: f.scenario.name.clone(),
            seed: f.seed,
            commit: COMMIT.to_string(),
            swarm: f.swarm_choices,
            virtual_ms: f.end_ms,
            pulses,
            nodes,
            events: f.events,
            invariant_checks: f.checks,
            trace_hash: f.trace_hash,
            transfers: transfers(&totals, &metrics, f.duplicate_outcomes, within_2_pulses),
            commit_latency_ms: latency,
            commit_latency_pulses: latency.scaled(pulse_ms as f64),
            commit_latency_from_start_ms: latency_from_start,
            throughput_tx_per_s: round2(totals[Count::Committed] as f64 * 1000.0 / f.end_ms.max(1) as f64),
            messages: messages(&totals, &metrics, node_pulses),
            faults: fault_counts(&totals, &metrics, f.max_drift_ppm),
            adversaries: f.adversaries,
            committees: metrics.committees.clone(),
            elections: f.elections,
            ledger: LedgerFacts {
                final_version: f.final_version,
                groups: f.groups,
                seals: metrics.seals,
                versions: metrics.versions,
                roots: metrics.roots,
                roots_with_clears_in_transit: metrics.roots_with_clears_in_transit,
                unsettled_halves: f.unsettled_halves,
            },
            scenario: f.scenario.to_toml(),
            overrides: Vec::new(),
            stopped: None,
            wire_check: f.wire_check,
            envelopes: metrics.envelopes.clone(),
            impersonation: f.impersonation,
            governance: f.governance,
        };
        RunResult { summary, series, fault_marks: std::mem::take(&mut metrics.fault_marks), pulse_ms }
    }
}

/// What became of the requests.
fn transfers(totals: &Counts, metrics: &Metrics, duplicate_outcomes: u64, within_2_pulses: u64) -> Transfers {
    Transfers {
        issued: totals[Count::Issued],
        committed: totals[Count::Committed],
        refused: totals[Count::Refused],
        abandoned: totals[Count::Abandoned],
        lost: totals[Count::Lost],
        outstanding: metrics.outstanding,
        nonce_resyncs: metrics.nonce_resyncs,
        deferred_for_capacity: metrics.deferred_for_capacity,
        duplicate_outcomes,
        refused_by_reason: metrics.refused_by_reason.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        committed_within_2_pulses: within_2_pulses,
    }
}

/// Messages sent, per node and pulse and per committed transfer.
fn messages(totals: &Counts, metrics: &Metrics, node_pulses: f64) -> Messages {
    let (total, bytes) = (totals[Count::Messages], totals[Count::Bytes]);
    Messages {
        total,
        bytes,
        per_node_per_pulse: round2(total as f64 / node_pulses),
        per_committed_tx: round2(total as f64 / totals[Count::Committed].max(1) as f64),
        bytes_per_node_per_pulse: round2(bytes as f64 / node_pulses),
        by_kind: MessageKind::ALL
            .iter()
            // Governance kinds appear only in runs that have an organization (D-041).
            .filter(|k| {
                !matches!(k, MessageKind::Gov | MessageKind::GovOutcome) || metrics.by_kind[**k as usize] > 0
            })
            .map(|k| (k.name().to_string(), metrics.by_kind[*k as usize]))
            .collect(),
        bad: metrics.bad_messages,
        undeliverable: metrics.undeliverable,
        delivered_to_down_node: metrics.delivered_to_down_node,
    }
}

/// What the network and the fault schedule did.
fn fault_counts(totals: &Counts, metrics: &Metrics, max_clock_drift_ppm: i64) -> FaultCounts {
    FaultCounts {
        dropped: totals[Count::Dropped],
        partitioned: totals[Count::Partitioned],
        duplicated: totals[Count::Duplicated],
        reordered: totals[Count::Reordered],
        crashes: totals[Count::Crashes],
        restarts: totals[Count::Restarts],
        partitions_started: metrics.partitions_started,
        partitions_healed: metrics.partitions_healed,
        slow_link_wait_ms: metrics.slow_link_wait_ms,
        stale_timers: metrics.stale_timers,
        max_clock_drift_ppm,
    }
}

fn row(pulse: u64, acc: &mut crate::metrics::PulseAcc) -> PulseRow {
    PulseRow {
        pulse,
        counts: acc.counts,
        latency_ms: Percentiles::of(&mut acc.latencies_ms),
        outstanding: acc.outstanding,
        partitions: acc.partitions,
    }
}
