//! Account proofs under recent roots (D-049): every bookkeeper of a group remembers the roots
//! of its group's latest [`PROVEN_PULSES`] settled pulses with the group's path in each, and
//! proves any account of its group under any of them while its ledger still holds the
//! version the root covers. A balance-weighted vote carries such a proof under the root its
//! proposal pinned when it opened, so the vote weighs the balance as of the opening and moving
//! money mid-vote cannot count twice.

use std::collections::VecDeque;

use crate::consensus::root::{AccountProof, GroupPath};
use crate::id::Id;
use crate::node::{Message, Output, ProofAnswer};
use crate::smt::RootSynopsis;

use super::Books;

/// How many settled pulses a bookkeeper proves accounts under: a balance-weighted voter must
/// fetch its proof within this many pulses of the proposal's opening (and the group's ledger
/// must still hold the version, `versions_retained`).
pub const PROVEN_PULSES: usize = 64;

/// The roots of the latest settled pulses, oldest first, with this group's path in each.
#[derive(Clone, Debug, Default)]
pub(super) struct ProvenRoots {
    roots: VecDeque<(u64, RootSynopsis, GroupPath)>,
}

impl ProvenRoots {
    /// Remember `root` as `pulse`'s (a pulse not after the newest is a duplicate: skipped).
    pub(super) fn remember(&mut self, pulse: u64, root: RootSynopsis, path: &GroupPath) {
        if self.roots.back().is_some_and(|(newest, _, _)| *newest >= pulse) {
            return;
        }
        if self.roots.len() == PROVEN_PULSES {
            self.roots.pop_front();
        }
        self.roots.push_back((pulse, root, path.clone()));
    }

    fn at(&self, pulse: u64) -> Option<&(u64, RootSynopsis, GroupPath)> {
        let index = self.roots.binary_search_by_key(&pulse, |(p, _, _)| *p).ok()?;
        self.roots.get(index)
    }

    fn range(&self) -> (u64, u64) {
        match (self.roots.front(), self.roots.back()) {
            (Some((oldest, _, _)), Some((newest, _, _))) => (*oldest, *newest),
            _ => (0, 0),
        }
    }
}

impl Books {
    /// `from` asks for `account`'s proof under the root of `pulse`: answered with the proof,
    /// or with the pulses this bookkeeper proves under. Changes nothing here.
    pub(super) fn on_prove_account(&self, from: Id, account: Id, pulse: u64, out: &mut Vec<Output>) {
        let answer = self.prove_at(account, pulse).unwrap_or_else(|| {
            let (oldest, newest) = if self.keeps(&account) { self.proven.range() } else { (0, 0) };
            ProofAnswer::NotHeld { oldest, newest }
        });
        out.push(Output::Send { to: from, msg: Message::AccountAt { account, pulse, answer } });
    }

    /// `account`'s balance under the root of `pulse`, read from the ledger (0 if absent).
    pub(super) fn balance_under(&self, pulse: u64, account: &Id) -> Option<u64> {
        if !self.keeps(account) {
            return None;
        }
        let (_, _, path) = self.proven.at(pulse)?;
        let held = self.ledger.tree().get(path.entry.version, account).ok()?;
        Some(held.map_or(0, |a| a.balance))
    }

    /// Whether `account` is in this group (not merely under its prefix: the root group's
    /// prefix holds every Id, its ledger only the accounts no leaf group takes).
    fn keeps(&self, account: &Id) -> bool {
        self.config.roster.group_of(account) == self.group
    }

    fn prove_at(&self, account: Id, pulse: u64) -> Option<ProofAnswer> {
        if !self.keeps(&account) {
            return None;
        }
        let (_, root, path) = self.proven.at(pulse)?;
        let proof = self.ledger.tree().prove(path.entry.version, &account).ok()?;
        let proof = AccountProof { account: proof, path: path.clone() };
        Some(ProofAnswer::Proven { root: *root, proof: Box::new(proof) })
    }
}
