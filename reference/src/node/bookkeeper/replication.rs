//! Committees in the node (SPEC §6.2, §6.4; D-032): a leaf group's acting primary forwards
//! every sealed cycle — the inputs it handled, ending with the chief's `Settle` — to its
//! backups; each backup replays the cycle through the same deterministic [`Bookkeeper`] code
//! (outputs suppressed) and attests the report it rebuilt to the chief and the primary. This
//! file holds the log both sides keep; the replay is in `leaf_committee.rs` and, for the
//! chief's cycles, `root_committee.rs`.
//!
//! [`Bookkeeper`]: super::Bookkeeper

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::consensus::settlement::GroupReport;
use crate::crypto::Hash32;
use crate::id::Id;
use crate::node::Envelope;
use crate::node::message::{ReplicaBatch, ReplicaCycle};

/// How many sealed cycles a member keeps to serve backups that fell behind. A backup further
/// behind than this sees a gap it cannot fill and stops attesting until the next term.
pub(super) const LOG_CYCLES: usize = 64;

/// The most cycles one `Replicate` batch of the chief's carries: a root member far behind (or
/// down) catches up a window at a time; sent the whole log every pulse, at the chief's cycle
/// size (every group's reports and attestations), it saturated the chief's link (D-033).
pub(super) const ROOT_BATCH_CYCLES: usize = 8;

/// The digest a backup's replay must reproduce.
pub(in crate::node) fn report_digest(report: &GroupReport) -> Hash32 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&report.pulse.to_le_bytes());
    hasher.update(&report.entry.hash().0);
    for half in &report.pending {
        hasher.update(&half.tx_id.0);
        hasher.update(&[half.half as u8]);
        hasher.update(&half.amount.to_le_bytes());
    }
    Hash32(*hasher.finalize().as_bytes())
}

/// A committee member's replication state (primary and backups alike: a backup that takes
/// over serves its log).
#[derive(Clone, Debug, Default)]
pub(super) struct Replication {
    /// Inputs the acting primary handled since its last seal.
    pub(super) current: Vec<Envelope>,
    /// The latest sealed cycles, oldest first.
    pub(super) log: VecDeque<Arc<ReplicaCycle>>,
    /// Acting primary: the latest cycle each other member attested.
    pub(super) acked: BTreeMap<Id, u64>,
    /// Backup: the latest report its replay built (re-sent as an acknowledgement when a batch
    /// brings nothing new, in case the first one was lost).
    pub(super) last_attest: Option<GroupReport>,
    /// Backup: its replay stopped reproducing the primary's reports.
    pub(super) diverged: bool,
    /// Acting primary: members that asked for its state; they get it at the next seal.
    pub(super) state_wanted: BTreeSet<Id>,
    /// Backup: the latest batch from a member acting in a view this member has not learnt
    /// of yet; it is replayed once the chief's pulse announces that view (a new primary's
    /// first batch usually overtakes the pulse).
    pub(super) early: Option<(Id, ReplicaBatch)>,
}

impl Replication {
    /// Keep `cycle` and drop what every other member attested and what is past the window.
    pub(super) fn push(&mut self, cycle: Arc<ReplicaCycle>) {
        self.log.push_back(cycle);
        while self.log.len() > LOG_CYCLES {
            self.log.pop_front();
        }
    }

    /// The cycles `member` has not attested, oldest first, at most `limit` of them.
    pub(super) fn unacked(&self, member: &Id, limit: usize) -> Vec<Arc<ReplicaCycle>> {
        let acked = self.acked.get(member).copied().unwrap_or(0);
        self.log.iter().filter(|c| c.pulse > acked).take(limit).cloned().collect()
    }

    /// Digest of the state that decides what the member does next.
    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        hasher.update(&[u8::from(self.diverged)]);
        for cycle in &self.log {
            hasher.update(&cycle.pulse.to_le_bytes());
            hasher.update(&cycle.report_digest.0);
        }
        for (id, pulse) in &self.acked {
            hasher.update(&id.0);
            hasher.update(&pulse.to_le_bytes());
        }
        hasher.update(&(self.current.len() as u64).to_le_bytes());
        for id in &self.state_wanted {
            hasher.update(&id.0);
        }
        if let Some((from, batch)) = &self.early {
            hasher.update(&from.0);
            hasher.update(&batch.view.to_le_bytes());
            for cycle in &batch.cycles {
                hasher.update(&cycle.report_digest.0);
            }
        }
    }
}
