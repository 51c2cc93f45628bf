//! Bookkeeper election (SPEC §6.2–§6.3): who is eligible, the candidate pool, and the
//! beacon-based seat assignment, one seat per node per term. Pure functions: the votes, the
//! eligibility facts and the beacon come in as arguments. See docs/decisions.md D-022.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::crypto::{Domain, Hash32, hash_parts};
use crate::id::{Id, Prefix};

use super::groups::GroupTree;

/// What decides whether a member may keep the books (SPEC §6.3). The credit layer plugs real
/// trust in by implementing this.
pub trait Eligibility {
    /// Whether `id` is a member holding the `bookkeep` right.
    fn may_bookkeep(&self, id: &Id) -> bool;
    /// `id`'s frozen deposit.
    fn frozen_deposit(&self, id: &Id) -> u64;
    /// `id`'s trust score.
    fn trust(&self, id: &Id) -> f64;
}

/// Election parameters (SPEC §15).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElectionParams {
    /// `backups`: seats besides the primary.
    pub backups: usize,
    /// `election_pool_factor`: the pool is this many times the committee size.
    pub pool_factor: usize,
    /// `bookkeeper_deposit_min`.
    pub deposit_min: u64,
    /// `bookkeeper_trust_min`.
    pub trust_min: f64,
}

impl Default for ElectionParams {
    fn default() -> Self {
        ElectionParams { backups: 3, pool_factor: 2, deposit_min: 1000, trust_min: 0.0 }
    }
}

/// A group's committee for one term.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Committee {
    /// The primary bookkeeper (the chief, for the root group).
    pub primary: Id,
    /// The backups, in failover order (SPEC §6.4).
    pub backups: Vec<Id>,
}

impl Committee {
    /// Primary first, then the backups.
    pub fn seats(&self) -> impl Iterator<Item = &Id> {
        std::iter::once(&self.primary).chain(&self.backups)
    }
}

/// Why a group could not be seated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ElectionError {
    /// Fewer eligible, unseated candidates than seats.
    #[error("group {group}: {eligible} eligible candidates for {seats} seats")]
    NotEnoughCandidates {
        /// The group.
        group: Prefix,
        /// Eligible candidates not seated elsewhere this term.
        eligible: usize,
        /// Seats to fill.
        seats: usize,
    },
}

/// The beacon of a group for a term: `H(root hash at the election pulse ‖ group prefix)`.
pub fn beacon(root_hash: &Hash32, group: &Prefix) -> Hash32 {
    hash_parts(
        Domain::Synthetic,
        &[b"leither-election-beacon", &root_hash.0, &group.bits().0, &[group.len_bits() as u8]],
    )
}

/// Seat one group. `votes` are the weighted votes each candidate received; `seated` holds the
/// nodes already seated elsewhere this term and gains this committee's members.
pub fn elect_group(
    group: Prefix,
    votes: &BTreeMap<Id, u64>,
    eligibility: &dyn Eligibility,
    params: &ElectionParams,
    root_hash: &Hash32,
    seated: &mut BTreeSet<Id>,
) -> Result<Committee, ElectionError> {
    let seats = 1 + params.backups;
    let mut eligible: Vec<(&Id, u64)> = votes
        .iter()
        .filter(|(id, _)| !seated.contains(*id) && is_eligible(id, eligibility, params))
        .map(|(id, votes)| (id, *votes))
        .collect();
    if eligible.len() < seats {
        return Err(ElectionError::NotEnoughCandidates { group, eligible: eligible.len(), seats });
    }
    // The pool: the most voted, ties broken by Id so that the result is a function of the input.
    eligible.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    eligible.truncate(seats * params.pool_factor.max(1));
    // Seats by the beacon: nobody chooses where in the pool it lands.
    let beacon = beacon(root_hash, &group);
    let mut pool: Vec<(Hash32, Id)> = eligible
        .into_iter()
        .map(|(id, _)| (hash_parts(Domain::Synthetic, &[&beacon.0, &id.0]), *id))
        .collect();
    pool.sort_unstable();
    let chosen: Vec<Id> = pool.into_iter().take(seats).map(|(_, id)| id).collect();
    seated.extend(chosen.iter().copied());
    Ok(Committee { primary: chosen[0], backups: chosen[1..].to_vec() })
}

fn is_eligible(id: &Id, eligibility: &dyn Eligibility, params: &ElectionParams) -> bool {
    eligibility.may_bookkeep(id)
        && eligibility.frozen_deposit(id) >= params.deposit_min
        && eligibility.trust(id) >= params.trust_min
}

/// Seat every group of `tree`, root first and then stratum by stratum in prefix order, each
/// node in at most one committee (SPEC §6.3). `votes` maps each group to its candidates' votes.
pub fn elect_all(
    tree: &GroupTree,
    votes: &BTreeMap<Prefix, BTreeMap<Id, u64>>,
    eligibility: &dyn Eligibility,
    params: &ElectionParams,
    root_hash: &Hash32,
) -> Result<BTreeMap<Prefix, Committee>, ElectionError> {
    let mut order: Vec<(usize, Prefix)> = tree.groups().iter().map(|(p, g)| (g.stratum, *p)).collect();
    order.sort_unstable();
    let mut seated = BTreeSet::new();
    let empty = BTreeMap::new();
    let mut committees = BTreeMap::new();
    for (_, group) in order {
        let group_votes = votes.get(&group).unwrap_or(&empty);
        committees
            .insert(group, elect_group(group, group_votes, eligibility, params, root_hash, &mut seated)?);
    }
    Ok(committees)
}
