//! Which seals are a group's history (D-032, D-033), fed by node events: a group without a
//! committee's seal is checked at once; a group with one may fail over and orphan the cycles
//! its deposed primary sealed, so its seals wait until the chief takes a report, and then only
//! the seals the acting member's state is made of — its own, or the ones it replayed or took
//! by state transfer — are checked. With a root committee, a new chief may release the last
//! cycle again: the second sight of a pulse's seal or root is not a new one.

use std::collections::BTreeMap;

use reference::Prefix;
use reference::crypto::Hash32;
use reference::ledger::{Applied, Half, Settlement};

use super::Seal;
use crate::scenario::NodeIndex;

/// A group's seal as the history holds it until its invariants are checked.
#[derive(Debug)]
pub struct OwnedSeal {
    /// The member that sealed it.
    pub node: NodeIndex,
    /// The pulse.
    pub pulse: u64,
    /// The group.
    pub group: Prefix,
    /// Transfers and debit halves applied.
    pub applied: Vec<Applied>,
    /// The ids of those that are debit halves.
    pub debits: Vec<Hash32>,
    /// Credit halves applied.
    pub credited: Vec<Applied>,
    /// Halves settled.
    pub settled: Vec<(Hash32, Half, Settlement)>,
}

impl OwnedSeal {
    /// The seal as the checker reads it.
    pub fn as_seal(&self) -> Seal<'_> {
        Seal {
            group: self.group,
            applied: &self.applied,
            debits: &self.debits,
            credited: &self.credited,
            settled: &self.settled,
        }
    }
}

/// The seal-history observer.
#[derive(Debug, Default)]
pub struct SealHistory {
    /// Leaf groups have committees: their seals wait for the chief.
    leaf_committees: bool,
    /// The root group has a committee: a pulse's events may come twice.
    root_committee: bool,
    /// Groups with a committee: seals not yet checked, waiting for the chief to take them.
    tentative: BTreeMap<Prefix, Vec<OwnedSeal>>,
    /// Groups that failed over (the root group included): the member acting now.
    acting: BTreeMap<Prefix, NodeIndex>,
    /// Groups with a committee: for each member, whose seal each cycle its state holds is (its
    /// own, or the one it replayed), from the last taken pulse on.
    histories: BTreeMap<Prefix, BTreeMap<NodeIndex, BTreeMap<u64, NodeIndex>>>,
    /// The latest pulse of the chief's own seal and of a root seen (root committees only).
    root_seen: (u64, u64),
}

impl SealHistory {
    /// A history for a run whose leaf groups have committees (`leaf_committees`) and whose root
    /// group has one (`root_committee`).
    pub fn new(leaf_committees: bool, root_committee: bool) -> SealHistory {
        SealHistory { leaf_committees, root_committee, ..SealHistory::default() }
    }

    /// The member acting for `group` after a failover, if it failed over.
    pub fn acting(&self, group: &Prefix) -> Option<NodeIndex> {
        self.acting.get(group).copied()
    }

    /// Whether this is the chief's seal (`group` ROOT) or root of a pulse already seen: a new
    /// chief releases the last cycle it replayed unless it heard the old chief do so, and if
    /// only its copy of the old chief's broadcast was lost, that cycle's events come twice.
    pub fn released_twice(&mut self, root_seal_or_root: RootEvent) -> bool {
        if !self.root_committee {
            return false;
        }
        let (seen, pulse) = match root_seal_or_root {
            RootEvent::Seal(pulse) => (&mut self.root_seen.0, pulse),
            RootEvent::Root(pulse) => (&mut self.root_seen.1, pulse),
        };
        let twice = pulse <= *seen;
        *seen = (*seen).max(pulse);
        twice
    }

    /// A seal: returned to be checked now (a group without a committee, or the root group), or
    /// kept until the chief takes the group's report.
    pub fn sealed(&mut self, seal: OwnedSeal) -> Option<OwnedSeal> {
        if !self.leaf_committees || seal.group == Prefix::ROOT {
            return Some(seal);
        }
        let history = self.histories.entry(seal.group).or_default().entry(seal.node).or_default();
        history.insert(seal.pulse, seal.node);
        self.tentative.entry(seal.group).or_default().push(seal);
        None
    }

    /// `node` took over as `group`'s primary (or, for the root group, as the chief).
    pub fn took_over(&mut self, group: Prefix, node: NodeIndex) {
        self.acting.insert(group, node);
    }

    /// Member `node` replayed the cycle `from` sealed at `pulse`: its state holds whoever's seal
    /// `from`'s state held for it.
    pub fn replayed(&mut self, group: Prefix, node: NodeIndex, pulse: u64, from: NodeIndex) {
        let members = self.histories.entry(group).or_default();
        let sealer = members.get(&from).and_then(|h| h.get(&pulse)).copied().unwrap_or(from);
        members.entry(node).or_default().insert(pulse, sealer);
    }

    /// Member `node` took `from`'s state as of `pulse`: its history is `from`'s up to it, and
    /// its own seals after it were of another history. Returns how many seals that orphaned.
    pub fn resynced(&mut self, group: Prefix, node: NodeIndex, pulse: u64, from: NodeIndex) -> u64 {
        let members = self.histories.entry(group).or_default();
        let copied: BTreeMap<u64, NodeIndex> = members
            .get(&from)
            .map(|h| h.range(..=pulse).map(|(p, s)| (*p, *s)).collect())
            .unwrap_or_default();
        members.insert(node, copied);
        let Some(pending) = self.tentative.get_mut(&group) else { return 0 };
        let before = pending.len();
        pending.retain(|s| s.node != node || s.pulse <= pulse);
        (before - pending.len()) as u64
    }

    /// The chief took `group`'s report of `pulse` from its acting member (`view0_primary` if it
    /// never failed over): the seals up to it that the member's state is made of are history,
    /// returned in pulse order to be checked, the other seals up to it orphans — a deposed
    /// primary's cycles, unless a later successor replayed them before the failover (then they
    /// are history again). Returns the seals and how many were orphaned.
    pub fn taken(
        &mut self,
        group: Prefix,
        pulse: u64,
        view0_primary: impl FnOnce() -> NodeIndex,
    ) -> (Vec<OwnedSeal>, u64) {
        let Some(pending) = self.tentative.get_mut(&group) else { return (Vec::new(), 0) };
        let (mut taken, rest): (Vec<OwnedSeal>, Vec<OwnedSeal>) =
            std::mem::take(pending).into_iter().partition(|s| s.pulse <= pulse);
        *pending = rest;
        let acting = self.acting.get(&group).copied().unwrap_or_else(view0_primary);
        let members = self.histories.entry(group).or_default();
        let history = members.get(&acting).cloned().unwrap_or_default();
        for member in members.values_mut() {
            *member = member.split_off(&(pulse + 1));
        }
        taken.sort_by_key(|s| s.pulse);
        let before = taken.len();
        taken.retain(|s| history.get(&s.pulse) == Some(&s.node));
        let orphaned = (before - taken.len()) as u64;
        (taken, orphaned)
    }
}

/// The chief's events that a new chief may release twice.
#[derive(Clone, Copy, Debug)]
pub enum RootEvent {
    /// The chief's own seal of this pulse.
    Seal(u64),
    /// The root built at this pulse.
    Root(u64),
}
