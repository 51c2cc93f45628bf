//! Committees in the node (SPEC §6.2, §6.4; D-032): a leaf group's acting primary forwards
//! every sealed cycle — the inputs it handled, ending with the chief's `Settle` — to its
//! backups; each backup replays the cycle through the same deterministic [`Bookkeeper`] code
//! (outputs suppressed) and attests the report it rebuilt to the chief and the primary. The
//! chief takes a report only when a majority of the committee signed it, and fails a group
//! over to the next member that holds the taken state once its reports stop arriving.
//!
//! [`Bookkeeper`]: super::Bookkeeper

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::consensus::settlement::GroupReport;
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};

use super::message::{Message, ReplicaCycle};

/// How many sealed cycles a member keeps to serve backups that fell behind. A backup further
/// behind than this sees a gap it cannot fill and stops attesting until the next term.
pub(super) const LOG_CYCLES: usize = 64;

/// The most cycles one `Replicate` batch of the chief's carries: a root member far behind (or
/// down) catches up a window at a time; sent the whole log every pulse, at the chief's cycle
/// size (every group's reports and attestations), it saturated the chief's link (D-033).
pub(super) const ROOT_BATCH_CYCLES: usize = 8;

/// The digest a backup's replay must reproduce.
pub(super) fn report_digest(report: &GroupReport) -> Hash32 {
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
    pub current: Vec<(Id, Message)>,
    /// The latest sealed cycles, oldest first.
    pub log: VecDeque<Arc<ReplicaCycle>>,
    /// Acting primary: the latest cycle each other member attested.
    pub acked: BTreeMap<Id, u64>,
    /// Backup: the latest report its replay built (re-sent as an acknowledgement when a batch
    /// brings nothing new, in case the first one was lost).
    pub last_attest: Option<GroupReport>,
    /// Backup: its replay stopped reproducing the primary's reports.
    pub diverged: bool,
    /// Acting primary: members that asked for its state; they get it at the next seal.
    pub state_wanted: std::collections::BTreeSet<Id>,
    /// Backup: the latest batch from a member acting in a view this member has not learnt
    /// of yet; it is replayed once the chief's pulse announces that view (a new primary's
    /// first batch usually overtakes the pulse).
    pub early: Option<(Id, super::message::ReplicaBatch)>,
}

impl Replication {
    /// Keep `cycle` and drop what every other member attested and what is past the window.
    pub fn push(&mut self, cycle: Arc<ReplicaCycle>) {
        self.log.push_back(cycle);
        while self.log.len() > LOG_CYCLES {
            self.log.pop_front();
        }
    }

    /// The cycles `member` has not attested, oldest first, at most `limit` of them.
    pub fn unacked(&self, member: &Id, limit: usize) -> Vec<Arc<ReplicaCycle>> {
        let acked = self.acked.get(member).copied().unwrap_or(0);
        self.log.iter().filter(|c| c.pulse > acked).take(limit).cloned().collect()
    }

    /// Digest of the state that decides what the member does next.
    pub fn fingerprint(&self, hasher: &mut blake3::Hasher) {
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

/// The chief's view of the committees: attestations and reports waiting for them.
#[derive(Clone, Debug, Default)]
pub(super) struct ChiefCommittees {
    /// Per group: each member's latest attested report.
    pub attests: BTreeMap<Prefix, BTreeMap<Id, GroupReport>>,
    /// Per group: the acting primary's latest report, not yet attested by a majority.
    pub held: BTreeMap<Prefix, GroupReport>,
    /// Per group: the pulse its current view began (a new primary gets a full timeout).
    pub view_since: BTreeMap<Prefix, u64>,
}

impl ChiefCommittees {
    /// How many members (those `is_member` accepts) attested exactly `report` (a learner's or
    /// a former member's attestation does not count, D-035).
    pub fn attested(&self, report: &GroupReport, is_member: impl Fn(&Id) -> bool) -> usize {
        self.attests
            .get(&report.entry.prefix)
            .map_or(0, |a| a.iter().filter(|(id, r)| *r == report && is_member(id)).count())
    }

    /// The latest pulse `member` of `group` attested (0: none).
    pub fn attested_pulse(&self, group: &Prefix, member: &Id) -> u64 {
        self.attests.get(group).and_then(|a| a.get(member)).map_or(0, |r| r.pulse)
    }

    /// Whether `member` of `group` holds the state of the report the chief took (`taken`):
    /// it acts as the group's primary (`acting`), or its attestations reach that report. The
    /// rule for handing the primary's seat to a member at a term boundary and for putting an
    /// elected committee in effect (D-032, D-035).
    pub fn holds_taken(&self, group: &Prefix, member: &Id, acting: &Id, taken: u64) -> bool {
        member == acting || self.attested_pulse(group, member) >= taken
    }

    /// The chief moves `entry.group`'s primary seat to `entry.primary` at `pulse`: a new view
    /// in `views` (which the chief announces), a full timeout for the new primary, and the old
    /// primary's unattested report dropped.
    pub fn begin_view(
        &mut self,
        views: &mut super::roster::Views,
        entry: super::roster::ViewEntry,
        pulse: u64,
    ) {
        views.learn(&[entry]);
        self.view_since.insert(entry.group, pulse);
        self.held.remove(&entry.group);
    }

    /// Digest of the state that decides what the chief does next.
    pub fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        for (group, attests) in &self.attests {
            hasher.update(&group.bits().0);
            for (id, report) in attests {
                hasher.update(&id.0);
                hasher.update(&report_digest(report).0);
            }
        }
        for report in self.held.values() {
            hasher.update(&report_digest(report).0);
        }
        for (group, since) in &self.view_since {
            hasher.update(&group.bits().0);
            hasher.update(&since.to_le_bytes());
        }
    }
}

/// A closed chief cycle and what it releases once co-signed: the pulse's events, `Settle`s,
/// commit notices and `Pulse` broadcast (D-033).
#[derive(Clone, Debug)]
pub(super) struct ClosedPulse {
    /// The pulse closed.
    pub pulse: u64,
    /// The digest a replay of the cycle must rebuild.
    pub digest: Hash32,
    /// What the chief sends and reports once a majority co-signed.
    pub outputs: Vec<super::Output>,
    /// Acting chief: the backups whose replay reproduced `digest`.
    pub cosigners: BTreeSet<Id>,
}

/// A root committee member's part in co-signing the chief's pulses and electing its
/// successor (SPEC §5.2, §6.4; D-033).
#[derive(Clone, Debug, Default)]
pub(super) struct RootCommittee {
    /// The root group's replication log: the chief's closed cycles, which its backups replay.
    pub log: Replication,
    /// Events of the chief's handling of reports and attestations in the current cycle; they
    /// are released with the cycle.
    pub cycle_events: Vec<super::Output>,
    /// Acting chief: the closed cycle waiting for co-signatures.
    pub pending: Option<ClosedPulse>,
    /// Backup: the latest cycle its replay closed, with what it would release — a new chief
    /// releases it on taking over unless it heard the old chief release it.
    pub replayed: Option<ClosedPulse>,
    /// The latest pulse this member heard the acting chief broadcast.
    pub heard_pulse: u64,
    /// Watchdog ticks (one per pulse period) since it last heard the acting chief.
    pub silent_ticks: u64,
    /// The latest root view this member voted for (0: none). It replays and co-signs nothing
    /// of an earlier view afterwards, which is what fences the old chief.
    pub voted: u32,
    /// Votes per root view above the current one: voter → the pulse its state holds.
    pub votes: BTreeMap<u32, BTreeMap<Id, u64>>,
    /// A candidate with a quorum, waiting for the state of the most advanced voter.
    pub awaiting_state: Option<(u32, Id)>,
    /// Acting chief: pulse periods its closed cycle has waited for co-signatures.
    pub stalled_ticks: u64,
    /// Acting chief: inputs that arrived while its closed cycle waits for co-signatures; it
    /// handles them once the cycle is released, so that until then its state is exactly the
    /// closed one (what a member asking for its state, or a candidate, gets).
    pub buffered: Vec<(Id, super::Message)>,
}

impl RootCommittee {
    /// Digest of the state that decides what the member does next.
    pub fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        for closed in self.pending.iter().chain(&self.replayed) {
            hasher.update(&closed.pulse.to_le_bytes());
            hasher.update(&closed.digest.0);
            hasher.update(&(closed.cosigners.len() as u64).to_le_bytes());
        }
        hasher.update(&(self.cycle_events.len() as u64).to_le_bytes());
        hasher.update(&self.heard_pulse.to_le_bytes());
        hasher.update(&self.silent_ticks.to_le_bytes());
        hasher.update(&self.voted.to_le_bytes());
        hasher.update(&self.stalled_ticks.to_le_bytes());
        hasher.update(&(self.buffered.len() as u64).to_le_bytes());
        for (view, votes) in &self.votes {
            hasher.update(&view.to_le_bytes());
            for (id, pulse) in votes {
                hasher.update(&id.0);
                hasher.update(&pulse.to_le_bytes());
            }
        }
        if let Some((view, from)) = &self.awaiting_state {
            hasher.update(&view.to_le_bytes());
            hasher.update(&from.0);
        }
    }
}
