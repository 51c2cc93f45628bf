//! Trust plugged into bookkeeper eligibility and vote weight (SPEC §2.7, §3.6, §6.3): the
//! organization's relationship graph is the graph of its live letters of credit weighted by
//! their caps; a trust model scores it from the supervisor and the structural-reward holders;
//! an election asks [`TrustedMembers`] whether a member may keep the books (the `bookkeep`
//! right), what deposit it has frozen, and its trust; a `trust`-weighted vote asks it for the
//! member's weight.

use std::collections::{BTreeMap, BTreeSet};

use crate::consensus::election::Eligibility;
use crate::id::Id;
use crate::org::{Organization, Right, Weights};

use super::line::CreditBook;
use super::trust::{Graph, Node, TrustError, TrustModel};

/// Vote weights are integers: a trust score counts as this many parts of the whole.
pub const TRUST_WEIGHT_SCALE: f64 = 1_000_000.0;

/// The organization's relationship graph as trust-graph edges (SPEC §2.7): `lender →
/// borrower` weighted by the cap, for every live line with a positive cap (a revoked line
/// vouches for nobody). `index` maps an Id to its graph node; lines whose ends it does not map
/// are left out.
pub fn credit_edges(book: &CreditBook, index: impl Fn(&Id) -> Option<Node>) -> Vec<(Node, Node, f64)> {
    book.lines()
        .iter()
        .filter(|(_, line)| line.revoked_cap.is_none() && line.cap > 0)
        .filter_map(|((lender, borrower), line)| Some((index(lender)?, index(borrower)?, line.cap as f64)))
        .collect()
}

/// A snapshot of what an election needs to know about each member.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustedMembers {
    may_bookkeep: BTreeSet<Id>,
    deposits: BTreeMap<Id, u64>,
    trust: BTreeMap<Id, f64>,
}

impl TrustedMembers {
    /// Score the graph of `book`'s live lines (lender → borrower, weight = cap) with `model`
    /// seeded by the supervisor and `reward_holders`; `deposit` gives each member's frozen
    /// deposit (from the ledger). Ids in no line get trust 0.
    pub fn compute(
        org: &Organization,
        book: &CreditBook,
        model: &dyn TrustModel,
        reward_holders: &[Id],
        deposit: impl Fn(&Id) -> u64,
    ) -> Result<TrustedMembers, TrustError> {
        let mut ids: BTreeSet<Id> = org.members().keys().copied().collect();
        for (lender, borrower) in book.lines().keys() {
            ids.insert(*lender);
            ids.insert(*borrower);
        }
        let index: BTreeMap<Id, Node> = ids.iter().enumerate().map(|(i, id)| (*id, i as Node)).collect();
        let edges = credit_edges(book, |id| index.get(id).copied());
        let graph = Graph::from_edges(ids.len(), &edges)?;
        let seeds: Vec<Node> = std::iter::once(org.supervisor())
            .chain(reward_holders.iter().copied())
            .filter_map(|id| index.get(&id).copied())
            .collect();
        let scores = model.scores(&graph, &seeds, None)?.scores;
        let trust = ids.iter().zip(scores).map(|(id, score)| (*id, score)).collect();
        let may_bookkeep =
            org.members().iter().filter(|(_, m)| m.rights.has(Right::Bookkeep)).map(|(id, _)| *id).collect();
        let deposits = org.members().keys().map(|id| (*id, deposit(id))).collect();
        Ok(TrustedMembers { may_bookkeep, deposits, trust })
    }

    /// The trust score of `id` (0 for an Id the graph does not know).
    pub fn score(&self, id: &Id) -> f64 {
        self.trust.get(id).copied().unwrap_or(0.0)
    }
}

impl Eligibility for TrustedMembers {
    fn may_bookkeep(&self, id: &Id) -> bool {
        self.may_bookkeep.contains(id)
    }

    fn frozen_deposit(&self, id: &Id) -> u64 {
        self.deposits.get(id).copied().unwrap_or(0)
    }

    fn trust(&self, id: &Id) -> f64 {
        self.score(id)
    }
}

impl Weights for TrustedMembers {
    /// The member's trust in millionths of the whole (scores of the teleporting models sum
    /// to 1), rounded down.
    fn weight(&self, member: &Id) -> u64 {
        (self.score(member) * TRUST_WEIGHT_SCALE) as u64
    }
}
