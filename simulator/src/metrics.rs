//! What a run measures. Everything here is a function of the event sequence, so it is as
//! deterministic as the run; wall-clock figures are measured by the CLI and written apart
//! (`timing.json`).

use reference::node::MessageKind;
use serde::{Deserialize, Serialize};

/// What a run counts per pulse; each pulse's counts are summed for the run's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Transfer requests issued.
    Issued,
    /// Transfers committed (the payer holds a verified proof).
    Committed,
    /// Transfers refused for good.
    Refused,
    /// Transfers the payer gave up on.
    Abandoned,
    /// Requests lost to crashes.
    Lost,
    /// Messages handed to the network.
    Messages,
    /// Their bytes.
    Bytes,
    /// Messages lost to random drop.
    Dropped,
    /// Messages lost to partitions.
    Partitioned,
    /// Messages delivered twice.
    Duplicated,
    /// Messages held back.
    Reordered,
    /// Node crashes.
    Crashes,
    /// Node restarts.
    Restarts,
    /// Events processed.
    Events,
}

impl Count {
    /// Every count, in column order.
    pub const ALL: [Count; 14] = [
        Count::Issued,
        Count::Committed,
        Count::Refused,
        Count::Abandoned,
        Count::Lost,
        Count::Messages,
        Count::Bytes,
        Count::Dropped,
        Count::Partitioned,
        Count::Duplicated,
        Count::Reordered,
        Count::Crashes,
        Count::Restarts,
        Count::Events,
    ];

    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Count::Issued => "issued",
            Count::Committed => "committed",
            Count::Refused => "refused",
            Count::Abandoned => "abandoned",
            Count::Lost => "lost",
            Count::Messages => "messages",
            Count::Bytes => "bytes",
            Count::Dropped => "dropped",
            Count::Partitioned => "partitioned",
            Count::Duplicated => "duplicated",
            Count::Reordered => "reordered",
            Count::Crashes => "crashes",
            Count::Restarts => "restarts",
            Count::Events => "events",
        }
    }
}

/// One value per [`Count`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts([u64; Count::ALL.len()]);

impl std::ops::Index<Count> for Counts {
    type Output = u64;
    fn index(&self, count: Count) -> &u64 {
        &self.0[count as usize]
    }
}

impl std::ops::IndexMut<Count> for Counts {
    fn index_mut(&mut self, count: Count) -> &mut u64 {
        &mut self.0[count as usize]
    }
}

impl std::iter::Sum for Counts {
    fn sum<I: Iterator<Item = Counts>>(iter: I) -> Counts {
        iter.fold(Counts::default(), |mut total, counts| {
            total.0.iter_mut().zip(counts.0).for_each(|(t, c)| *t += c);
            total
        })
    }
}

/// The accumulator of one pulse (one `pulse_ms` window of virtual time).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PulseAcc {
    /// The counts.
    pub counts: Counts,
    /// Commit latencies of the transfers committed in this pulse (ms).
    pub latencies_ms: Vec<u64>,
    /// Requests waiting or in flight at the end of the pulse.
    pub outstanding: u64,
    /// Partitions in force at the end of the pulse.
    pub partitions: u64,
}

/// Percentiles of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Sample size.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (sorted here).
    pub fn of(values: &mut [u64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_unstable();
        let rank =
            |p: f64| values[((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1] as f64;
        let sum: u128 = values.iter().map(|v| u128::from(*v)).sum();
        Percentiles {
            count: values.len() as u64,
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: *values.last().expect("non-empty") as f64,
            mean: round2(sum as f64 / values.len() as f64),
        }
    }

    /// The same percentiles divided by `unit` (e.g. ms → pulses).
    pub fn scaled(&self, unit: f64) -> Percentiles {
        Percentiles {
            count: self.count,
            p50: round2(self.p50 / unit),
            p90: round2(self.p90 / unit),
            p99: round2(self.p99 / unit),
            max: round2(self.max / unit),
            mean: round2(self.mean / unit),
        }
    }
}

/// Two decimals, so that summaries print the same on every platform.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A fault on the time axis, for the report's plots and fault table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultMark {
    /// When.
    pub at_ms: u64,
    /// What.
    pub kind: FaultKind,
    /// The node (crash, restart) or the partition's index (start, heal).
    pub id: u64,
}

/// The kinds of [`FaultMark`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A node crashed.
    Crash,
    /// A node restarted.
    Restart,
    /// A partition started.
    PartitionStart,
    /// A partition healed.
    PartitionHeal,
}

/// Most fault marks a run keeps for its report (churn can crash nodes every few ms); the
/// per-pulse counts in the series count them all.
pub const FAULT_MARKS_MAX: usize = 2_000;

/// The running measurements of one run.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// One entry per pulse of virtual time.
    pub pulses: Vec<PulseAcc>,
    /// Messages by kind, indexed like `MessageKind::ALL`.
    pub by_kind: [u64; MessageKind::ALL.len()],
    /// Messages that reached a crashed node.
    pub delivered_to_down_node: u64,
    /// Messages to an Id that is no node of the run.
    pub undeliverable: u64,
    /// Messages a node ignored as invalid.
    pub bad_messages: u64,
    /// Commit proofs that did not verify at the receiving client.
    pub bad_proofs: u64,
    /// Equivocations the chief detected.
    pub equivocations_detected: u64,
    /// What the committees did (D-032).
    pub committees: crate::summary::CommitteeCounts,
    /// Envelopes refused by their checks (D-039).
    pub envelopes: crate::summary::EnvelopeCounts,
    /// Submissions a primary put off to a later version for lack of capacity (SPEC §6.5).
    pub deferred_for_capacity: u64,
    /// Payers that re-signed after a stale nonce.
    pub nonce_resyncs: u64,
    /// Extra ms messages waited in slow uplinks.
    pub slow_link_wait_ms: u64,
    /// Partitions started and healed.
    pub partitions_started: u64,
    /// Partitions healed.
    pub partitions_healed: u64,
    /// Requests issued so far and not yet finished.
    pub outstanding: u64,
    /// Timers that fired for a node that had crashed since setting them.
    pub stale_timers: u64,
    /// Seals, and seals that produced a new version.
    pub seals: u64,
    /// Seals that produced a new version (ts advanced).
    pub versions: u64,
    /// Commit latencies measured from the payer starting the transfer (no queueing; L1).
    pub latencies_from_start_ms: Vec<u64>,
    /// Roots the chief built (each a new ts).
    pub roots: u64,
    /// Roots whose clearing entry held a clear seen at one side only.
    pub roots_with_clears_in_transit: u64,
    /// Refusals by reason.
    pub refused_by_reason: std::collections::BTreeMap<&'static str, u64>,
    /// The first [`FAULT_MARKS_MAX`] faults, in time order.
    pub fault_marks: Vec<FaultMark>,
    /// `[start, end)` of the pulse last returned by [`Metrics::at`], which saves a division
    /// on nearly every call.
    cached: (u64, u64, usize),
}

impl Metrics {
    /// The accumulator of the pulse containing virtual time `now_ms`.
    #[inline]
    pub fn at(&mut self, now_ms: u64, pulse_ms: u64) -> &mut PulseAcc {
        let (start, end, index) = self.cached;
        if (start..end).contains(&now_ms) {
            return &mut self.pulses[index];
        }
        let index = (now_ms / pulse_ms) as usize;
        self.cached = (index as u64 * pulse_ms, (index as u64 + 1) * pulse_ms, index);
        if self.pulses.len() <= index {
            let outstanding = self.outstanding;
            self.pulses.resize_with(index + 1, || PulseAcc { outstanding, ..PulseAcc::default() });
        }
        &mut self.pulses[index]
    }

    /// Remember a fault for the report (the first [`FAULT_MARKS_MAX`]).
    pub fn mark(&mut self, at_ms: u64, kind: FaultKind, id: u64) {
        if self.fault_marks.len() < FAULT_MARKS_MAX {
            self.fault_marks.push(FaultMark { at_ms, kind, id });
        }
    }

    /// Count `copies` messages of `kind`, `bytes` each.
    pub fn messages(&mut self, now_ms: u64, pulse_ms: u64, kind: MessageKind, bytes: usize, copies: u64) {
        self.by_kind[kind as usize] += copies;
        let acc = self.at(now_ms, pulse_ms);
        acc.counts[Count::Messages] += copies;
        acc.counts[Count::Bytes] += bytes as u64 * copies;
    }

    /// Refresh the end-of-pulse samples of the pulse containing `now_ms`.
    pub fn sample(&mut self, now_ms: u64, pulse_ms: u64, partitions: usize) {
        let outstanding = self.outstanding;
        let acc = self.at(now_ms, pulse_ms);
        acc.outstanding = outstanding;
        acc.partitions = partitions as u64;
    }
}
