//! Who keeps which books: the groups of the bookkeeper tree and their primaries (SPEC §6.1–§6.2).
//! The node protocol runs a two-level tree (D-023): the root group, whose primary is the chief,
//! and leaf groups directly below it. An account belongs to the leaf group whose prefix it
//! has, or to the root group if none has ("sparse groups merge upward").

use std::collections::BTreeMap;

use thiserror::Error;

use crate::consensus::groups::GroupTree;
use crate::id::{Id, Prefix};

/// The groups and their primaries, as every node knows them (the organization's public
/// record, SPEC §12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster {
    chief: Id,
    /// Leaf groups (not the root) → primary. Prefixes are disjoint.
    leaves: BTreeMap<Prefix, Id>,
    /// The one prefix length every leaf group has (0 if there is none).
    leaf_bits: usize,
    /// Groups' backups in failover order (SPEC §6.2, §6.4); a group not named has none. The
    /// root group's backups co-sign the chief's pulses and elect its successor (D-033).
    backups: BTreeMap<Prefix, Vec<Id>>,
    /// Leaf groups whose committees are elected each term from a pool larger than the
    /// committee: every candidate, committee members included, with its standing (D-035).
    pools: BTreeMap<Prefix, Vec<Candidate>>,
    /// Every node the above names: who may send what only bookkeepers send (D-039).
    bookkeepers: std::collections::BTreeSet<Id>,
}

/// A candidate for a leaf group's committee and its standing at the election (SPEC §6.3,
/// D-035): the balance-weighted votes it received and its frozen deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Candidate {
    /// The candidate node.
    pub id: Id,
    /// Votes it received, weighted by the voters' balances (SPEC §3.6).
    pub votes: u64,
    /// Its frozen deposit.
    pub deposit: u64,
}

/// Why a roster could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RosterError {
    /// Leaf groups must all sit one stratum below the root (D-023).
    #[error("group {0} is not one stratum below the root: the node protocol runs a two-level tree (D-023)")]
    TooDeep(Prefix),
    /// A primary was not named for every group.
    #[error("{groups} groups but {primaries} primaries")]
    PrimaryCount {
        /// Groups in the tree (root included).
        groups: usize,
        /// Primaries given.
        primaries: usize,
    },
    /// One node was named to two seats (one seat per node, SPEC §6.3).
    #[error("node {0} holds two seats")]
    TwoSeats(Id),
    /// Backups were named for a group that is not a group of the roster.
    #[error("backups named for {0}, which is not a group of the roster")]
    BackupsForUnknownGroup(Prefix),
    /// Backups were named for the root group: the chief's failover is not built (D-032).
    #[error("backups for the root group: the chief has no failover yet (D-032)")]
    RootBackups,
    /// A pool was named for the root group or for a group without backups: elections over a
    /// pool seat leaf committees (D-035).
    #[error("a candidate pool for {0}, which is not a leaf group with backups (D-035)")]
    PoolWithoutCommittee(Prefix),
    /// A group's pool does not list one of its committee members.
    #[error("the candidate pool of {group} does not list its committee member {member}")]
    PoolMissesMember {
        /// The group.
        group: Prefix,
        /// The member left out.
        member: Id,
    },
}

impl Roster {
    /// A roster with only the root group, kept by `chief`.
    pub fn single(chief: Id) -> Roster {
        Roster {
            chief,
            leaves: BTreeMap::new(),
            leaf_bits: 0,
            backups: BTreeMap::new(),
            pools: BTreeMap::new(),
            bookkeepers: std::collections::BTreeSet::from([chief]),
        }
    }

    /// The roster of `tree`, cut to two levels: the groups at stratum 1 are the leaf groups and
    /// deeper groups merge into them. `primaries[0]` keeps the root group, `primaries[i]` the
    /// i-th stratum-1 group in prefix order.
    pub fn from_tree(tree: &GroupTree, primaries: &[Id]) -> Result<Roster, RosterError> {
        let leaf_bits = tree.stratum_bits();
        let leaves: Vec<Prefix> =
            tree.groups().keys().filter(|p| p.len_bits() == leaf_bits).copied().collect();
        if primaries.len() != leaves.len() + 1 {
            return Err(RosterError::PrimaryCount { groups: leaves.len() + 1, primaries: primaries.len() });
        }
        Roster::new(primaries[0], leaves.into_iter().zip(primaries[1..].iter().copied()))
    }

    /// A roster of the root group kept by `chief` and the given leaf groups.
    pub fn new(chief: Id, leaves: impl IntoIterator<Item = (Prefix, Id)>) -> Result<Roster, RosterError> {
        let leaves: BTreeMap<Prefix, Id> = leaves.into_iter().collect();
        let leaf_bits = leaves.keys().next().map_or(0, Prefix::len_bits);
        if let Some(bad) = leaves.keys().find(|p| p.len_bits() != leaf_bits || leaf_bits == 0) {
            return Err(RosterError::TooDeep(*bad));
        }
        let mut seen = std::collections::BTreeSet::from([chief]);
        for primary in leaves.values() {
            if !seen.insert(*primary) {
                return Err(RosterError::TwoSeats(*primary));
            }
        }
        Ok(Roster {
            chief,
            leaves,
            leaf_bits,
            backups: BTreeMap::new(),
            pools: BTreeMap::new(),
            bookkeepers: seen,
        })
    }

    /// This roster with committees: each named group gets `backups` in failover order (SPEC
    /// §6.2, §6.4; D-032), the root group included (the chief's committee, D-033). One seat per
    /// node across the whole roster.
    pub fn with_backups(
        mut self,
        backups: impl IntoIterator<Item = (Prefix, Vec<Id>)>,
    ) -> Result<Roster, RosterError> {
        let mut seen: std::collections::BTreeSet<Id> = self.groups().map(|(_, id)| id).collect();
        seen.extend(self.backups.values().flatten().copied());
        for (group, ids) in backups {
            if group != Prefix::ROOT && !self.leaves.contains_key(&group) {
                return Err(RosterError::BackupsForUnknownGroup(group));
            }
            for id in &ids {
                if !seen.insert(*id) {
                    return Err(RosterError::TwoSeats(*id));
                }
            }
            self.backups.entry(group).or_default().extend(ids);
        }
        self.backups.retain(|_, ids| !ids.is_empty());
        self.bookkeepers.extend(seen);
        Ok(self)
    }

    /// This roster with candidate pools: each named leaf group's committee is elected anew
    /// every term from its pool (D-035). A pool lists the group's committee members and its
    /// standbys — nodes that hold no seat until elected and then join by state transfer. One
    /// seat or pool per node across the whole roster.
    pub fn with_pools(
        mut self,
        pools: impl IntoIterator<Item = (Prefix, Vec<Candidate>)>,
    ) -> Result<Roster, RosterError> {
        let mut seen: std::collections::BTreeSet<Id> = self.groups().map(|(_, id)| id).collect();
        seen.extend(self.backups.values().flatten().copied());
        seen.extend(self.pools.values().flatten().map(|c| c.id));
        for (group, candidates) in pools {
            if group == Prefix::ROOT || self.backups(&group).is_empty() {
                return Err(RosterError::PoolWithoutCommittee(group));
            }
            let listed: std::collections::BTreeSet<Id> = candidates.iter().map(|c| c.id).collect();
            if let Some(member) = self.committee(&group).find(|m| !listed.contains(m)) {
                return Err(RosterError::PoolMissesMember { group, member });
            }
            if listed.len() != candidates.len() {
                let twice =
                    candidates.iter().find(|c| candidates.iter().filter(|d| d.id == c.id).count() > 1);
                return Err(RosterError::TwoSeats(twice.expect("a duplicate exists").id));
            }
            for candidate in &candidates {
                if !self.is_member(&group, &candidate.id) && !seen.insert(candidate.id) {
                    return Err(RosterError::TwoSeats(candidate.id));
                }
            }
            self.bookkeepers.extend(candidates.iter().map(|c| c.id));
            self.pools.insert(group, candidates);
        }
        Ok(self)
    }

    /// The candidate pool of `group` (empty: its committee is not elected from a pool).
    pub fn pool(&self, group: &Prefix) -> &[Candidate] {
        self.pools.get(group).map_or(&[], Vec::as_slice)
    }

    /// Whether any group's committee is elected from a pool (D-035).
    pub fn has_pools(&self) -> bool {
        !self.pools.is_empty()
    }

    /// Whether `id` may hold a seat in `group`'s committee in some term: a member of its
    /// first committee or a candidate of its pool. Inputs that a replay repeats are checked
    /// against this, which does not depend on views a member may not share (D-032, D-035).
    pub fn is_candidate(&self, group: &Prefix, id: &Id) -> bool {
        self.is_member(group, id) || self.pool(group).iter().any(|c| c.id == *id)
    }

    /// Whether the roster names `id` anywhere — chief, primary, backup or pool candidate: a
    /// node that may send what only bookkeepers send (D-039).
    pub fn holds_books(&self, id: &Id) -> bool {
        self.bookkeepers.contains(id)
    }

    /// The backups of `group`, in failover order (empty for a group without a committee).
    pub fn backups(&self, group: &Prefix) -> &[Id] {
        self.backups.get(group).map_or(&[], Vec::as_slice)
    }

    /// Whether any group has backups (the roster runs committees, D-032).
    pub fn has_committees(&self) -> bool {
        !self.backups.is_empty()
    }

    /// The committee of `group`: its primary at the start of the term, then its backups.
    pub fn committee(&self, group: &Prefix) -> impl Iterator<Item = Id> + '_ {
        std::iter::once(self.primary(group)).chain(self.backups(group).iter().copied())
    }

    /// Whether `id` holds a seat in `group`'s committee.
    pub fn is_member(&self, group: &Prefix, id: &Id) -> bool {
        self.primary(group) == *id || self.backups(group).contains(id)
    }

    /// The group in whose committee `id` holds a seat or whose pool lists it, if any.
    pub fn seat_of(&self, id: &Id) -> Option<Prefix> {
        self.group_kept_by(id)
            .or_else(|| self.backups.iter().find(|(_, ids)| ids.contains(id)).map(|(prefix, _)| *prefix))
            .or_else(|| self.pools.iter().find(|(_, pool)| pool.iter().any(|c| c.id == *id)).map(|(p, _)| *p))
    }

    /// How many of `group`'s backups must attest a report before the chief takes it: with the
    /// primary, a majority of the committee (D-032). 0 for a group without backups.
    pub fn attestations_required(&self, group: &Prefix) -> usize {
        let committee = self.backups(group).len() + 1;
        committee / 2
    }

    /// How many members of `group`'s committee must vote for a view change before the member
    /// it names takes over (D-033): a majority of the committee, so that it meets every
    /// majority that co-signed a pulse.
    pub fn view_change_quorum(&self, group: &Prefix) -> usize {
        let committee = self.backups(group).len() + 1;
        committee / 2 + 1
    }

    /// The member of `group`'s committee that view `view` names (round robin from the term's
    /// primary, D-033).
    pub fn named_by_view(&self, group: &Prefix, view: u32) -> Id {
        let size = self.backups(group).len() + 1;
        match view as usize % size {
            0 => self.primary(group),
            k => self.backups(group)[k - 1],
        }
    }

    /// The chief the term started with: the root group's primary in view 0 (a failover may
    /// have moved the seat; nodes track it in their [`Views`]).
    pub fn chief(&self) -> Id {
        self.chief
    }

    /// The group `id`'s account belongs to.
    pub fn group_of(&self, id: &Id) -> Prefix {
        if self.leaf_bits == 0 {
            return Prefix::ROOT;
        }
        let prefix = Prefix::new(*id, self.leaf_bits);
        if self.leaves.contains_key(&prefix) { prefix } else { Prefix::ROOT }
    }

    /// The primary of `group` (the chief for the root group or an unknown prefix).
    pub fn primary(&self, group: &Prefix) -> Id {
        self.leaves.get(group).copied().unwrap_or(self.chief)
    }

    /// The group `primary` keeps, if the roster names it primary of one.
    pub fn group_kept_by(&self, primary: &Id) -> Option<Prefix> {
        self.groups().find(|(_, p)| p == primary).map(|(prefix, _)| prefix)
    }

    /// The primary keeping `id`'s account.
    pub fn primary_for(&self, id: &Id) -> Id {
        self.primary(&self.group_of(id))
    }

    /// Every group: the root first, then the leaf groups in prefix order, with primaries.
    pub fn groups(&self) -> impl Iterator<Item = (Prefix, Id)> + '_ {
        std::iter::once((Prefix::ROOT, self.chief)).chain(self.leaves.iter().map(|(p, id)| (*p, *id)))
    }

    /// Number of groups, the root included.
    pub fn len(&self) -> usize {
        self.leaves.len() + 1
    }

    /// Always false: the root group always exists.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A group's view: which committee member acts as its primary (D-032). View 0 is the primary
/// the term started with; the chief raises the view when it fails the group over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewEntry {
    /// The group.
    pub group: Prefix,
    /// The view number.
    pub view: u32,
    /// The member acting as primary in this view.
    pub primary: Id,
}

/// The views a node knows of: every group starts in view 0 with its roster primary; the
/// chief's pulses announce later ones. Only a higher view replaces a held one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Views {
    changed: BTreeMap<Prefix, ViewEntry>,
    /// Committees elected from pools (D-035); boxed, and only when there are any, so that a
    /// client (which holds views inline, thousands per simulation) stays small.
    seatings: Option<Box<Seatings>>,
}

/// The committees elected from pools that a node knows of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Seatings {
    /// Committees that keep the books; a group not named keeps its roster committee.
    seated: BTreeMap<Prefix, Seating>,
    /// Committees still taking the group's state while the seated one keeps the books.
    elected: BTreeMap<Prefix, Seating>,
}

/// A leaf committee the chief elected from its group's pool for a term (SPEC §6.3, D-035).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seating {
    /// The group.
    pub group: Prefix,
    /// The term it was elected for (`pulse / election_cycle_pulses`).
    pub term: u64,
    /// The seats in beacon order: the term's first primary, then the backups in failover order.
    pub seats: Vec<Id>,
    /// Whether it keeps the books; until a majority of it holds the group's state, the
    /// committee before it does and its new members take the state from that one's primary.
    pub in_effect: bool,
}

impl Views {
    /// The view of `group` and the member acting as its primary.
    pub fn acting(&self, roster: &Roster, group: &Prefix) -> (u32, Id) {
        self.changed.get(group).map_or((0, roster.primary(group)), |e| (e.view, e.primary))
    }

    /// The member acting as primary of the group keeping `id`'s account.
    pub fn acting_for(&self, roster: &Roster, id: &Id) -> Id {
        self.acting(roster, &roster.group_of(id)).1
    }

    /// Whether a `Pulse` from `from` announcing `announced` comes from the chief: from the member
    /// acting in the root group's view as far as this node knows, or from the root committee
    /// member that a later root view in the announcement names — it took over (D-033).
    pub fn is_chief_pulse(&self, roster: &Roster, from: &Id, announced: &[ViewEntry]) -> bool {
        let (view, chief) = self.acting(roster, &Prefix::ROOT);
        *from == chief
            || announced.iter().any(|e| {
                e.group == Prefix::ROOT
                    && e.view > view
                    && e.primary == *from
                    && roster.named_by_view(&Prefix::ROOT, e.view) == *from
            })
    }

    /// Take the announced entries that are newer than the held ones; returns those taken.
    pub fn learn(&mut self, entries: &[ViewEntry]) -> Vec<ViewEntry> {
        // Every pulse repeats the chief's whole list; almost always it is the held one.
        if entries.len() == self.changed.len() && entries.iter().eq(self.changed.values()) {
            return Vec::new();
        }
        let mut taken = Vec::new();
        for entry in entries {
            let held = self.changed.get(&entry.group).map_or(0, |e| e.view);
            if entry.view > held {
                self.changed.insert(entry.group, *entry);
                taken.push(*entry);
            }
        }
        taken
    }

    /// The committee of `group` as this node knows it: the seats of the elected committee in
    /// effect, else the roster's.
    pub fn committee(&self, roster: &Roster, group: &Prefix) -> Vec<Id> {
        match self.seated(group) {
            Some(seating) => seating.seats.clone(),
            None => roster.committee(group).collect(),
        }
    }

    /// Whether `id` holds a seat in `group`'s committee as this node knows it.
    pub fn is_member(&self, roster: &Roster, group: &Prefix, id: &Id) -> bool {
        match self.seated(group) {
            Some(seating) => seating.seats.contains(id),
            None => roster.is_member(group, id),
        }
    }

    /// Whether `id` was elected to `group`'s next committee and holds no seat in the current
    /// one: it takes the group's state from the acting primary and replays with the members.
    pub fn is_learner(&self, roster: &Roster, group: &Prefix, id: &Id) -> bool {
        self.elected(group).is_some_and(|s| s.seats.contains(id)) && !self.is_member(roster, group, id)
    }

    /// How many backups must attest a report of `group` before the chief takes it: with the
    /// primary, a majority of the committee in effect (D-032).
    pub fn attestations_required(&self, roster: &Roster, group: &Prefix) -> usize {
        match self.seated(group) {
            Some(seating) => seating.seats.len() / 2,
            None => roster.attestations_required(group),
        }
    }

    /// The committee elected for `group` that does not keep the books yet, if any.
    pub fn elected(&self, group: &Prefix) -> Option<&Seating> {
        self.seatings.as_ref()?.elected.get(group)
    }

    /// The elected committee of `group` in effect, if any.
    fn seated(&self, group: &Prefix) -> Option<&Seating> {
        self.seatings.as_ref()?.seated.get(group)
    }

    /// The chief elected `seating` for its group's next term.
    pub fn elect(&mut self, seating: Seating) {
        let seating = Seating { in_effect: false, ..seating };
        self.seatings.get_or_insert_default().elected.insert(seating.group, seating);
    }

    /// The chief puts `group`'s elected committee in effect; returns it.
    pub fn seat(&mut self, group: &Prefix) -> Option<Seating> {
        let seatings = self.seatings.as_mut()?;
        let seating = Seating { in_effect: true, ..seatings.elected.remove(group)? };
        seatings.seated.insert(*group, seating.clone());
        Some(seating)
    }

    /// Take the announced seatings that are newer than the held ones; returns those taken.
    pub fn learn_seatings(&mut self, entries: &[Seating]) -> Vec<Seating> {
        if entries.is_empty() {
            return Vec::new();
        }
        self.seatings.get_or_insert_default().learn(entries)
    }

    /// Every elected committee, in effect first, in prefix order (what the chief announces).
    pub fn seatings(&self) -> Vec<Seating> {
        let Some(seatings) = &self.seatings else { return Vec::new() };
        seatings.seated.values().chain(seatings.elected.values()).cloned().collect()
    }

    /// Every view above 0, in prefix order (what the chief announces).
    pub fn entries(&self) -> Vec<ViewEntry> {
        self.changed.values().copied().collect()
    }

    /// Whether every group is still in view 0.
    pub fn is_initial(&self) -> bool {
        self.changed.is_empty()
    }
}

impl Seatings {
    /// Take the announced entries newer than the held ones; returns those taken.
    fn learn(&mut self, entries: &[Seating]) -> Vec<Seating> {
        if entries.iter().eq(self.seated.values().chain(self.elected.values())) {
            return Vec::new(); // every pulse repeats the chief's whole list
        }
        let mut taken = Vec::new();
        for entry in entries {
            let seated_term = self.seated.get(&entry.group).map(|s| s.term);
            if entry.in_effect {
                if seated_term.is_none_or(|t| entry.term > t) {
                    self.seated.insert(entry.group, entry.clone());
                    if self.elected.get(&entry.group).is_some_and(|e| e.term <= entry.term) {
                        self.elected.remove(&entry.group);
                    }
                    taken.push(entry.clone());
                }
                continue;
            }
            let elected_term = self.elected.get(&entry.group).map(|s| s.term);
            if seated_term.is_none_or(|t| entry.term > t) && elected_term.is_none_or(|t| entry.term > t) {
                self.elected.insert(entry.group, entry.clone());
                taken.push(entry.clone());
            }
        }
        taken
    }
}

/// An organization's genesis split over a roster's groups (D-023).
#[derive(Clone, Debug)]
pub struct Genesis {
    /// Each group's ledger, in [`Roster::groups`] order (the root group first).
    pub ledgers: Vec<(Prefix, crate::ledger::Ledger)>,
    /// The chief's arbiter over the groups' genesis entries.
    pub arbiter: crate::consensus::settlement::Arbiter,
}

impl Genesis {
    /// Split the genesis of [`Ledger::genesis_with_distribution`](crate::ledger::Ledger::genesis_with_distribution)
    /// over `roster`'s groups; the chief aborts halves unmatched for `transfer_timeout_pulses`.
    pub fn split(
        roster: &Roster,
        organization: Id,
        genesis_supply: u64,
        distribution: &[(Id, u64)],
        transfer_timeout_pulses: u64,
    ) -> Result<Genesis, crate::ledger::LedgerError> {
        use crate::consensus::root::GroupEntry;
        use crate::ledger::Ledger;
        let whole = Ledger::genesis_with_distribution(organization, genesis_supply, distribution)?;
        let tree = whole.tree();
        let mut shares: BTreeMap<Prefix, Vec<(Id, u64)>> =
            roster.groups().map(|(p, _)| (p, Vec::new())).collect();
        for (id, account) in tree.iter(tree.latest_version()).expect("the latest version is held") {
            shares.entry(roster.group_of(&id)).or_default().push((id, account.balance));
        }
        let mut ledgers = Vec::with_capacity(roster.len());
        let mut entries = Vec::with_capacity(roster.len());
        for (prefix, _) in roster.groups() {
            let ledger = Ledger::genesis_share(organization, genesis_supply, &shares[&prefix])?;
            let sealed = ledger.tree().root(ledger.tree().latest_version()).expect("latest is held");
            entries.push(GroupEntry { prefix, version: sealed.version, synopsis: sealed.synopsis });
            ledgers.push((prefix, ledger));
        }
        let arbiter = crate::consensus::settlement::Arbiter::new(entries, transfer_timeout_pulses)
            .expect("genesis sums fit: the supply is a u64");
        Ok(Genesis { ledgers, arbiter })
    }
}
