//! The chief's arbitration of cross-group transfers (SPEC §7.3 steps 4–6; D-023).
//!
//! Every group reports, after each seal, its sealed synopsis and the halves still pending in
//! it. The chief — the lowest common ancestor of every pair of groups in the two-level tree
//! the node protocol runs — matches each debit half with its credit half and orders both
//! groups to *clear* them; a half left unmatched for `transfer_timeout_pulses` is *aborted*:
//! both groups reverse what they applied. Orders are repeated in every pulse until the
//! group's report no longer lists the half, so a lost order only delays the settlement.
//!
//! A clear moves value between two groups' subtrees, so a root built from one group's report
//! after the clear and the other's from before would miscount the supply — and on a lossy
//! network with hundreds of groups, waiting for a cut where every clear is seen at both sides
//! or neither starves the root. Instead the root commits to one more entry, the chief's
//! *clearing entry*: for each clear carried out at one side only, the value in transit, as
//! `pending_out` (cleared at the payer's group: the value left it) or `pending_in` (cleared at
//! the payee's group: the value arrived first). Every root then holds the genesis supply
//! (I1), whatever mix of old and new reports it is built from. Reversals leave each group's
//! supply unchanged and need no such care.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::crypto::Hash32;
use crate::id::Prefix;
use crate::ledger::{Half, Settlement};
use crate::smt::{RootSynopsis, Summary, Synopsis, Version};

use super::root::{GroupEntry, GroupPath, RootTree};

/// A half still pending in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PendingHalf {
    /// The transfer's id.
    pub tx_id: Hash32,
    /// Debit or credit.
    pub half: Half,
    /// The group holding the other half.
    pub counterpart: Prefix,
    /// The transfer's amount.
    pub amount: u64,
}

/// What a group tells the chief after each seal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupReport {
    /// The pulse at which the group sealed.
    pub pulse: u64,
    /// The group, its sealed version and synopsis.
    pub entry: GroupEntry,
    /// The halves pending in that version, sorted.
    pub pending: Vec<PendingHalf>,
}

/// An order to a group: settle transfer `tx_id`'s half there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Order {
    /// The transfer.
    pub tx_id: Hash32,
    /// Clear (matched) or reverse (aborted).
    pub how: Settlement,
}

/// Why the chief ignored a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The group is not in the roster.
    #[error("no group {0} in the roster")]
    UnknownGroup(Prefix),
    /// The report is not newer than the one held (a reordered or duplicated message).
    #[error("report from pulse {got} is not newer than the held one from pulse {held}")]
    Stale {
        /// The held report's pulse.
        held: u64,
        /// The received report's pulse.
        got: u64,
    },
    /// A second, different report for a pulse whose report is held: the group's primary
    /// signed two synopses for one pulse (SPEC §8.4 equivocation evidence). The first is kept.
    #[error("group {group} sent two different reports for pulse {pulse}")]
    Equivocation {
        /// The group.
        group: Prefix,
        /// The pulse both reports claim.
        pulse: u64,
    },
}

/// What changed when the chief closed a pulse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PulseOutcome {
    /// Transfers matched in this pulse.
    pub matched: Vec<Hash32>,
    /// Transfers aborted in this pulse.
    pub aborted: Vec<Hash32>,
    /// The root built in this pulse, if something changed.
    pub new_root: Option<RootSynopsis>,
    /// Clears carried out at one side only, as the new root's clearing entry counts them.
    pub clears_in_transit: usize,
}

/// The prefix under which the root commits to the clearing entry: all 160 bits set, which no
/// group of a two-level tree has (D-023).
pub fn clearing_prefix() -> Prefix {
    Prefix::new(crate::id::Id([0xFF; 20]), crate::id::ID_BITS)
}

/// `(tx, half) → (group, counterpart, amount)` over the held reports.
type PendingIndex = BTreeMap<(Hash32, Half), (Prefix, Prefix, u64)>;

/// The clearing entry over clears in transit `(tx, side that cleared, amount)`: a debit
/// cleared alone holds its value as `pending_out`, a credit cleared alone as `pending_in`.
/// `None` if the sums overflow (halves forged by Byzantine primaries: SPEC §4.3).
fn clearing_entry(in_transit: &[(Hash32, Half, u64)]) -> Option<GroupEntry> {
    let mut summary = Summary::ZERO;
    let mut hasher = blake3::Hasher::new();
    for (tx_id, half, amount) in in_transit {
        hasher.update(&tx_id.0);
        hasher.update(&[*half as u8]);
        match half {
            Half::Debit => summary.pending_out = summary.pending_out.checked_add(*amount)?,
            Half::Credit => summary.pending_in = summary.pending_in.checked_add(*amount)?,
        }
    }
    let synopsis = Synopsis { hash: Hash32(*hasher.finalize().as_bytes()), summary };
    Some(GroupEntry { prefix: clearing_prefix(), version: 0, synopsis })
}

/// The chief's state.
#[derive(Clone, Debug)]
pub struct Arbiter {
    groups: BTreeSet<Prefix>,
    timeout_pulses: u64,
    reports: BTreeMap<Prefix, GroupReport>,
    /// Each unmatched half's age: pulses in which both groups involved were heard from.
    first_seen: BTreeMap<(Hash32, Half), u64>,
    /// Outstanding decisions and the transfer's amount, kept until neither group lists the
    /// transfer's halves.
    decisions: BTreeMap<Hash32, (Settlement, u64)>,
    tree: Option<RootTree>,
    root: RootSynopsis,
    /// The reports the held root was built from changed since.
    dirty: bool,
    /// Transfers aborted so far.
    aborted_total: u64,
}

impl Arbiter {
    /// An arbiter for `groups` (the root group included), aborting halves unmatched for
    /// `timeout_pulses`. `genesis` are the groups' sealed genesis entries; the root over them
    /// is version 1.
    pub fn new(genesis: Vec<GroupEntry>, timeout_pulses: u64) -> Option<Arbiter> {
        let groups: BTreeSet<Prefix> = genesis.iter().map(|e| e.prefix).collect();
        let reports = genesis
            .iter()
            .map(|e| (e.prefix, GroupReport { pulse: 0, entry: *e, pending: Vec::new() }))
            .collect();
        let mut entries = genesis;
        entries.push(clearing_entry(&[])?);
        let tree = RootTree::build(entries)?;
        let root = RootSynopsis { version: 1, synopsis: tree.synopsis() };
        Some(Arbiter {
            groups,
            timeout_pulses,
            reports,
            first_seen: BTreeMap::new(),
            decisions: BTreeMap::new(),
            tree: Some(tree),
            root,
            dirty: false,
            aborted_total: 0,
        })
    }

    /// The latest root built.
    pub fn root(&self) -> RootSynopsis {
        self.root
    }

    /// The root version (ts).
    pub fn version(&self) -> Version {
        self.root.version
    }

    /// The path of `group`'s entry in the latest root.
    pub fn path(&self, group: &Prefix) -> Option<GroupPath> {
        self.tree.as_ref()?.path(group)
    }

    /// Transfers aborted since genesis.
    pub fn aborted_total(&self) -> u64 {
        self.aborted_total
    }

    /// Transfers with an outstanding decision.
    pub fn outstanding(&self) -> usize {
        self.decisions.len()
    }

    /// A digest of the whole state, for model checkers that deduplicate states.
    pub fn fingerprint(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.root.version.to_le_bytes());
        hasher.update(&self.root.synopsis.hash.0);
        hasher.update(&[u8::from(self.dirty)]);
        hasher.update(&self.aborted_total.to_le_bytes());
        for report in self.reports.values() {
            hasher.update(&report.pulse.to_le_bytes());
            hasher.update(&report.entry.hash().0);
            for h in &report.pending {
                hasher.update(&h.tx_id.0);
                hasher.update(&[h.half as u8]);
            }
        }
        for ((tx_id, half), since) in &self.first_seen {
            hasher.update(&tx_id.0);
            hasher.update(&[*half as u8]);
            hasher.update(&since.to_le_bytes());
        }
        for (tx_id, (how, _)) in &self.decisions {
            hasher.update(&tx_id.0);
            hasher.update(&[*how as u8]);
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    /// The report held for `group`: its latest taken one (the genesis entry at pulse 0).
    pub fn held_report(&self, group: &Prefix) -> Option<&GroupReport> {
        self.reports.get(group)
    }

    /// Take `report` as the group's latest.
    pub fn report(&mut self, report: GroupReport) -> Result<(), ReportError> {
        let prefix = report.entry.prefix;
        if !self.groups.contains(&prefix) {
            return Err(ReportError::UnknownGroup(prefix));
        }
        // Genesis reports carry pulse 0 and every sealed report a later pulse.
        let held = self.reports.get(&prefix).map_or(0, |r| r.pulse);
        if report.pulse == held && self.reports.get(&prefix).is_some_and(|r| *r != report) {
            return Err(ReportError::Equivocation { group: prefix, pulse: held });
        }
        if report.pulse <= held {
            return Err(ReportError::Stale { held, got: report.pulse });
        }
        self.reports.insert(prefix, report);
        self.dirty = true;
        Ok(())
    }

    /// The orders `group` must carry out: every outstanding decision about a half it still
    /// lists as pending, sorted by transfer id.
    pub fn orders_for(&self, group: &Prefix) -> Vec<Order> {
        let Some(report) = self.reports.get(group) else { return Vec::new() };
        report
            .pending
            .iter()
            .filter_map(|h| self.decisions.get(&h.tx_id).map(|(how, _)| Order { tx_id: h.tx_id, how: *how }))
            .collect()
    }

    /// Close pulse `pulse`: retire carried-out decisions, match, abort what timed out, and
    /// build a new root if a report changed.
    pub fn close_pulse(&mut self, pulse: u64) -> PulseOutcome {
        let pending = self.pending_index();
        self.retire_done(&pending);
        let mut outcome = PulseOutcome::default();
        self.match_and_abort(pulse, &pending, &mut outcome);
        if self.dirty {
            let in_transit = self.clears_in_transit(&pending);
            outcome.clears_in_transit = in_transit.len();
            // Sums that overflow (forged halves) build no root, as forged synopses do not.
            if let Some(clearing) = clearing_entry(&in_transit) {
                self.build_root(clearing, &mut outcome);
            }
        }
        outcome
    }

    /// Every pending half in the held reports: `(tx, half) → (group, counterpart, amount)`.
    fn pending_index(&self) -> PendingIndex {
        let mut index = BTreeMap::new();
        for report in self.reports.values() {
            for h in &report.pending {
                index.insert((h.tx_id, h.half), (report.entry.prefix, h.counterpart, h.amount));
            }
        }
        index
    }

    /// A decision is carried out once neither group lists its halves any more.
    fn retire_done(&mut self, pending: &PendingIndex) {
        self.decisions.retain(|tx_id, _| {
            pending.contains_key(&(*tx_id, Half::Debit)) || pending.contains_key(&(*tx_id, Half::Credit))
        });
        self.first_seen.retain(|key, _| pending.contains_key(key));
    }

    fn match_and_abort(&mut self, pulse: u64, pending: &PendingIndex, outcome: &mut PulseOutcome) {
        for &(tx_id, half) in pending.keys() {
            if self.decisions.contains_key(&tx_id) {
                continue;
            }
            // Matched iff both halves are pending and each names the other's group.
            let debit = pending.get(&(tx_id, Half::Debit));
            let credit = pending.get(&(tx_id, Half::Credit));
            if let (Some(&(payer_group, named_payee, amount)), Some(&(payee_group, named_payer, credited))) =
                (debit, credit)
                && named_payee == payee_group
                && named_payer == payer_group
                && amount == credited
            {
                self.decisions.insert(tx_id, (Settlement::Clear, amount));
                outcome.matched.push(tx_id);
                continue;
            }
            // A half ages only in pulses in which both its group and the counterpart's were
            // heard from: a half reported before a partition must not time out on the first
            // pulse after the heal, before the groups' fresh reports arrive (D-024).
            let (group, counterpart, amount) = pending[&(tx_id, half)];
            let heard = self.fresh(&group, pulse) && self.fresh(&counterpart, pulse);
            let age = self.first_seen.entry((tx_id, half)).or_insert(0);
            *age += u64::from(heard);
            if *age > self.timeout_pulses {
                self.decisions.insert(tx_id, (Settlement::Reverse, amount));
                self.aborted_total += 1;
                outcome.aborted.push(tx_id);
            }
        }
    }

    /// Whether `group` reported at this pulse or the one before (a leaf reports on the
    /// previous pulse's `Settle`; the chief's own group at this pulse).
    fn fresh(&self, group: &Prefix, pulse: u64) -> bool {
        // Saturating: a report's pulse is peer input.
        self.reports.get(group).is_some_and(|r| r.pulse.saturating_add(1) >= pulse)
    }

    /// Clears carried out at one side only: `(tx, the side that cleared, amount)`.
    fn clears_in_transit(&self, pending: &PendingIndex) -> Vec<(Hash32, Half, u64)> {
        let clears = self.decisions.iter().filter(|(_, (how, _))| *how == Settlement::Clear);
        clears
            .filter_map(|(tx_id, (_, amount))| {
                let debit_pends = pending.contains_key(&(*tx_id, Half::Debit));
                let credit_pends = pending.contains_key(&(*tx_id, Half::Credit));
                match (debit_pends, credit_pends) {
                    (false, true) => Some((*tx_id, Half::Debit, *amount)),
                    (true, false) => Some((*tx_id, Half::Credit, *amount)),
                    _ => None,
                }
            })
            .collect()
    }

    fn build_root(&mut self, clearing: GroupEntry, outcome: &mut PulseOutcome) {
        let mut entries: Vec<GroupEntry> = self.reports.values().map(|r| r.entry).collect();
        entries.push(clearing);
        let Some(tree) = RootTree::build(entries) else { return };
        self.dirty = false;
        if tree.synopsis() == self.root.synopsis {
            return; // nothing changed: ts does not advance (SPEC §5.1)
        }
        self.root = RootSynopsis { version: self.root.version + 1, synopsis: tree.synopsis() };
        self.tree = Some(tree);
        outcome.new_root = Some(self.root);
    }
}
