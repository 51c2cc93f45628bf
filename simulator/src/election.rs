//! Elections over candidate pools in the protocol simulation (SPEC §6.3, §14; D-035): who
//! stands in each leaf group (its first committee and `parameters.standbys` standbys), the
//! votes each candidate gathers — every client of the group approves as many candidates as
//! the committee has seats, weighted by its balance (SPEC §3.6), drawn from the election
//! stream — which standbys the adversary holds (`adversaries.forging_candidates`) and how
//! many more votes they gather (`adversaries.ballot_stuffing`), and the per-term record of
//! the seats the chief's elections gave them.

use std::collections::BTreeMap;

use reference::Id;
use reference::id::Prefix;
use reference::node::{Candidate, Roster, SharedSigner};
use serde::{Deserialize, Serialize};

use crate::rng::{self, Purpose};
use crate::scenario::Scenario;
use crate::sim::Layout;

/// By node index: whether the node is a standby the adversary holds. Each group gets
/// `round(forging_candidates × standbys)` of its standbys, drawn with the adversary stream.
pub fn forging_standbys(scenario: &Scenario, seed: u64, layout: Layout) -> Vec<bool> {
    let mut held = vec![false; layout.nodes()];
    let fraction = scenario.adversaries.forging_candidates;
    if fraction == 0.0 || layout.standbys == 0 {
        return held;
    }
    let per_group = (fraction * layout.standbys as f64).round() as usize;
    let mut rng = rng::stream(seed, Purpose::Adversary, 2);
    for group in 0..layout.leaves {
        let first = layout.first_standby() + group * layout.standbys;
        let mut order: Vec<usize> = (first..first + layout.standbys).collect();
        rng::shuffle(&mut order, &mut rng);
        order.into_iter().take(per_group).for_each(|index| held[index] = true);
    }
    held
}

/// Every leaf group's pool: its committee and its standbys, with the votes each gathered.
pub fn pools(
    scenario: &Scenario,
    seed: u64,
    roster: &Roster,
    signers: &[SharedSigner],
    layout: Layout,
) -> Vec<(Prefix, Vec<Candidate>)> {
    let adversary = forging_standbys(scenario, seed, layout);
    let index_of: BTreeMap<Id, usize> = signers.iter().enumerate().map(|(i, s)| (s.id(), i)).collect();
    let deposit =
        scenario.parameters.bookkeeper_deposit.unwrap_or(scenario.parameters.bookkeeper_deposit_min);
    let seats = 1 + layout.backups;
    let balance = scenario.nodes.initial_balance;
    let mut rng = rng::stream(seed, Purpose::Election, 0);
    let mut voters: BTreeMap<Prefix, u64> = BTreeMap::new();
    for signer in &signers[1..=scenario.nodes.clients as usize] {
        *voters.entry(roster.group_of(&signer.id())).or_default() += 1;
    }
    let leaf_groups: Vec<Prefix> = roster.groups().skip(1).map(|(prefix, _)| prefix).collect();
    leaf_groups
        .into_iter()
        .enumerate()
        .map(|(g, group)| {
            let first = layout.first_standby() + g * layout.standbys;
            let ids: Vec<Id> = roster
                .committee(&group)
                .chain(signers[first..first + layout.standbys].iter().map(|s| s.id()))
                .collect();
            let mut votes = vec![0u64; ids.len()];
            for _ in 0..voters.get(&group).copied().unwrap_or(0) {
                let mut order: Vec<usize> = (0..ids.len()).collect();
                rng::shuffle(&mut order, &mut rng);
                order.into_iter().take(seats).for_each(|k| votes[k] = votes[k].saturating_add(balance));
            }
            // Sybil ballots: each adversary candidate gains (stuffing − 1) times the votes an
            // average candidate of the group got.
            let mean = votes.iter().map(|v| *v as f64).sum::<f64>() / votes.len().max(1) as f64;
            let extra = ((scenario.adversaries.ballot_stuffing - 1.0) * mean).min(u64::MAX as f64) as u64;
            let candidates = ids.iter().zip(votes).map(|(id, votes)| {
                let votes = if adversary[index_of[id]] { votes.saturating_add(extra) } else { votes };
                Candidate { id: *id, votes, deposit }
            });
            (group, candidates.collect())
        })
        .collect()
}

/// What the elections did (D-035). Omitted from summaries of runs without standbys.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ElectionCounts {
    /// Standby candidates per leaf group.
    pub standbys: u64,
    /// Standbys the adversary held.
    pub adversary_candidates: u64,
    /// Committees elected (one per leaf group per term).
    pub committees_elected: u64,
    /// Elected committees that took over (a majority of them held the group's state).
    pub committees_seated: u64,
    /// Elections a pool could not fill (too few eligible candidates).
    pub not_elected: u64,
    /// Members new to their committee when it took over; each took the group's state.
    pub members_joined: u64,
    /// Seatings that moved the primary's seat to another member.
    pub primary_moves: u64,
    /// Pulses from an election to its committee taking over: mean and maximum.
    pub handover_pulses_mean: f64,
    /// The longest of them.
    pub handover_pulses_max: u64,
    /// Per term: the seats elected and those the adversary won.
    pub terms: Vec<TermSeats>,
}

/// The seats of one term's elections.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TermSeats {
    /// The term.
    pub term: u64,
    /// Seats elected (all leaf committees).
    pub seats: u64,
    /// Of them, held by the adversary.
    pub adversary_seats: u64,
    /// Primary seats the adversary won (first in the beacon order).
    pub adversary_primaries: u64,
    /// Committees elected.
    pub committees: u64,
}

/// The simulator's running record of elections.
#[derive(Debug, Default)]
pub struct ElectionLog {
    /// By node index: whether the adversary holds the node (a forging standby).
    adversary: Vec<bool>,
    /// `(group, term)` → the pulse it was elected at (a re-released election counts once).
    elected_at: BTreeMap<(Prefix, u64), u64>,
    seated: BTreeMap<(Prefix, u64), ()>,
    handover_pulses: Vec<u64>,
    terms: BTreeMap<u64, TermSeats>,
    counts: ElectionCounts,
}

impl ElectionLog {
    /// The record of a run with `standbys` per group, `adversary` telling (by node index)
    /// which nodes the adversary holds.
    pub fn new(standbys: usize, adversary: Vec<bool>) -> ElectionLog {
        let counts = ElectionCounts {
            standbys: standbys as u64,
            adversary_candidates: adversary.iter().filter(|a| **a).count() as u64,
            ..ElectionCounts::default()
        };
        ElectionLog { adversary, counts, ..ElectionLog::default() }
    }

    /// The chief elected the nodes `seats` for `group` in `term` at `pulse`.
    pub fn elected(&mut self, group: Prefix, term: u64, pulse: u64, seats: &[usize]) {
        if self.elected_at.insert((group, term), pulse).is_some() {
            return;
        }
        let held = |index: &usize| self.adversary.get(*index).copied().unwrap_or(false);
        self.counts.committees_elected += 1;
        let record = self.terms.entry(term).or_insert_with(|| TermSeats { term, ..TermSeats::default() });
        record.committees += 1;
        record.seats += seats.len() as u64;
        record.adversary_seats += seats.iter().filter(|index| held(index)).count() as u64;
        record.adversary_primaries += u64::from(seats.first().is_some_and(held));
    }

    /// A pool could not be filled.
    pub fn not_elected(&mut self) {
        self.counts.not_elected += 1;
    }

    /// `group`'s committee of `term` took over at `pulse`.
    pub fn seated(&mut self, group: Prefix, term: u64, pulse: u64, joined: usize, moved: bool) {
        if self.seated.insert((group, term), ()).is_some() {
            return;
        }
        self.counts.committees_seated += 1;
        self.counts.members_joined += joined as u64;
        self.counts.primary_moves += u64::from(moved);
        if let Some(at) = self.elected_at.get(&(group, term)) {
            self.handover_pulses.push(pulse.saturating_sub(*at));
        }
    }

    /// The counts, with the handover statistics and the per-term seats filled in.
    pub fn finish(&self) -> ElectionCounts {
        let mut counts = self.counts.clone();
        let handovers = &self.handover_pulses;
        counts.handover_pulses_max = handovers.iter().copied().max().unwrap_or(0);
        counts.handover_pulses_mean = if handovers.is_empty() {
            0.0
        } else {
            handovers.iter().sum::<u64>() as f64 / handovers.len() as f64
        };
        counts.terms = self.terms.values().cloned().collect();
        counts
    }
}
