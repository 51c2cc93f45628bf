//! Observers of node events, one per event family: seals and roots (checked by the checker,
//! through the seal history of groups with committees), transfer outcomes, committees,
//! elections and bad messages.

use crate::checker::Seal;
use crate::metrics::Count;
use crate::scenario::NodeIndex;
use crate::trace::Ev;
use reference::node::NodeEvent;
use reference::{Id, Prefix};
use std::collections::BTreeMap;
use std::io;

use super::*;

/// A group's seal as the simulator holds it until its invariants are checked.
#[derive(Debug)]
pub(super) struct OwnedSeal {
    pub(super) node: NodeIndex,
    pub(super) pulse: u64,
    pub(super) group: Prefix,
    pub(super) applied: Vec<reference::ledger::Applied>,
    pub(super) debits: Vec<reference::crypto::Hash32>,
    pub(super) credited: Vec<reference::ledger::Applied>,
    pub(super) settled:
        Vec<(reference::crypto::Hash32, reference::ledger::Half, reference::ledger::Settlement)>,
}

impl Simulation {
    pub(super) fn node_event(&mut self, node: NodeIndex, event: NodeEvent) -> Result<(), SimError> {
        if self.layout.root_backups > 0 && self.released_twice(&event) {
            return Ok(());
        }
        match event {
            NodeEvent::Sealed { pulse, group, version, applied, debits, credited, settled } => {
                self.metrics.seals += 1;
                self.trace.record(self.now_ms, Ev::Sealed, &[pulse, version, applied.len() as u64])?;
                if !applied.is_empty() {
                    self.metrics.versions += 1;
                }
                if let Some(double_spenders) = &mut self.double_spenders {
                    double_spenders.observe_sealed(&applied);
                }
                let seal = OwnedSeal { node, pulse, group, applied, debits, credited, settled };
                self.observe_seal(seal)?;
            }
            NodeEvent::TookOver { group, pulse, view } if group == Prefix::ROOT => {
                self.acting_node.insert(group, node);
                self.metrics.committees.chief_failovers += 1;
                self.trace.record(
                    self.now_ms,
                    Ev::ChiefFailover,
                    &[pulse, u64::from(view), u64::from(node)],
                )?;
            }
            NodeEvent::VotedViewChange { view, pulse } => {
                self.metrics.committees.view_change_votes += 1;
                self.trace.record(
                    self.now_ms,
                    Ev::ViewChangeVote,
                    &[u64::from(view), pulse, u64::from(node)],
                )?;
            }
            // Which seals are the group's history is decided when the chief takes a report, by
            // the history of the member that sent it (D-032).
            NodeEvent::TookOver { group, .. } => {
                self.acting_node.insert(group, node);
            }
            NodeEvent::Replayed { group, pulse, from } => {
                let from = self.index_of.get(&from).copied().unwrap_or(node);
                let members = self.histories.entry(group).or_default();
                let sealer = members.get(&from).and_then(|h| h.get(&pulse)).copied().unwrap_or(from);
                members.entry(node).or_default().insert(pulse, sealer);
            }
            NodeEvent::RootBuilt { pulse, root, clears_in_transit } => {
                self.metrics.roots += 1;
                self.metrics.roots_with_clears_in_transit += u64::from(clears_in_transit > 0);
                self.trace.record(self.now_ms, Ev::Root, &[pulse, root.version])?;
                self.checker.after_root(root).map_err(|v| self.violation(v))?;
            }

            NodeEvent::Committed { tag, version } => {
                self.trace_outcome(Ev::Committed, node, tag, version)?;
                let issued_ms = self.issued_at_ms.get(tag as usize).copied().unwrap_or(FINISHED);
                if issued_ms != FINISHED {
                    let latency_ms = self.now_ms - issued_ms;
                    let started_ms = self.started_at_ms[tag as usize];
                    self.metrics.latencies_from_start_ms.push(self.now_ms - started_ms);
                    self.finish_request(tag, Count::Committed, Some(latency_ms));
                } else {
                    self.duplicate_outcomes += 1;
                }
            }
            NodeEvent::Started { tag } => {
                if let Some(started) = self.started_at_ms.get_mut(tag as usize) {
                    *started = self.now_ms;
                }
            }
            NodeEvent::Refused { tag, error } => {
                *self.metrics.refused_by_reason.entry(refusal_reason(&error)).or_default() += 1;
                self.trace_outcome(Ev::Refused, node, tag, 0)?;
                self.finish_request(tag, Count::Refused, None);
            }
            NodeEvent::Abandoned { tag } => {
                self.trace_outcome(Ev::Abandoned, node, tag, 0)?;
                self.finish_request(tag, Count::Abandoned, None);
            }
            NodeEvent::Lost { tags } => {
                for tag in tags {
                    self.trace_outcome(Ev::LostRequest, node, tag, 0)?;
                    self.finish_request(tag, Count::Lost, None);
                }
            }
            NodeEvent::NonceResynced { tag, nonce } => {
                self.metrics.nonce_resyncs += 1;
                self.trace_outcome(Ev::Resync, node, tag, nonce)?;
            }
            NodeEvent::Credited { .. } => {}
            NodeEvent::Deferred { .. } => self.metrics.deferred_for_capacity += 1,
            NodeEvent::FailedOver { pulse, view, from, to, .. } => {
                self.metrics.committees.failovers += 1;
                let (from, to) = (self.index(&from), self.index(&to));
                self.trace.record(self.now_ms, Ev::Failover, &[pulse, u64::from(view), from, to])?;
            }
            NodeEvent::SteppedDown { .. } => self.metrics.committees.stepped_down += 1,
            NodeEvent::Reseated { pulse, term, view, from, to, .. } => {
                self.metrics.committees.term_handovers += 1;
                let (from, to) = (self.index(&from), self.index(&to));
                self.trace.record(self.now_ms, Ev::Reseated, &[pulse, term, u64::from(view), from, to])?;
            }
            NodeEvent::Elected { pulse, term, group, seats } => {
                let seats: Vec<usize> = seats.iter().map(|id| self.index(id) as usize).collect();
                if let Some(log) = self.elections.as_mut() {
                    log.elected(group, term, pulse, &seats);
                }
                let primary = seats.first().copied().unwrap_or(0) as u64;
                self.trace.record_with(self.now_ms, Ev::Elected, &[pulse, term, primary], || {
                    format!(",\"seats\":{seats:?}")
                })?;
            }
            NodeEvent::NotElected { .. } => {
                if let Some(log) = self.elections.as_mut() {
                    log.not_elected();
                }
            }
            NodeEvent::Seated { pulse, term, group, view, from, to, joined } => {
                if let Some(log) = self.elections.as_mut() {
                    log.seated(group, term, pulse, joined, from != to);
                }
                let (from, to) = (self.index(&from), self.index(&to));
                let words = [pulse, term, u64::from(view), from, to];
                self.trace
                    .record_with(self.now_ms, Ev::Seated, &words, || format!(",\"joined\":{joined}"))?;
            }
            NodeEvent::ReplicaDiverged { .. } => self.metrics.committees.replica_divergences += 1,
            NodeEvent::Resynced { group, pulse, from } => {
                self.metrics.committees.resyncs += 1;
                self.resynced(node, group, pulse, from);
            }
            NodeEvent::ReportAttested { group, pulse } => {
                self.metrics.committees.reports_attested += 1;
                self.check_taken_seals(group, pulse)?;
                let forged = self.byzantine.as_ref().is_some_and(|b| b.was_forged(group, pulse));
                self.metrics.committees.forged_reports_taken += u64::from(forged);
            }
            NodeEvent::BadMessage { from, error } => {
                self.metrics.bad_messages += 1;
                self.metrics.bad_proofs +=
                    u64::from(matches!(error, reference::node::NodeError::BadProof(_)));
                self.metrics.equivocations_detected +=
                    u64::from(matches!(error, reference::node::NodeError::Equivocation { .. }));
                self.metrics.committees.attest_mismatches +=
                    u64::from(matches!(error, reference::node::NodeError::AttestMismatch { .. }));
                self.metrics.committees.not_acting +=
                    u64::from(matches!(error, reference::node::NodeError::NotActing { .. }));
                let from = self.index_of.get(&from).copied().unwrap_or(NodeIndex::MAX);
                self.trace.record_with(
                    self.now_ms,
                    Ev::BadMessage,
                    &[u64::from(node), u64::from(from)],
                    || format!(",\"error\":{:?}", error.to_string()),
                )?;
            }
        }
        Ok(())
    }

    /// Check a seal's invariants — at once for a group without backups; for a group with a
    /// committee once the chief took its report, because until then a failover may orphan it
    /// (D-032). A seal by a member no longer acting is an orphan.
    pub(super) fn observe_seal(&mut self, seal: OwnedSeal) -> Result<(), SimError> {
        if self.layout.backups == 0 || seal.group == Prefix::ROOT {
            return self.check_seal(&seal);
        }
        let history = self.histories.entry(seal.group).or_default().entry(seal.node).or_default();
        history.insert(seal.pulse, seal.node);
        self.tentative.entry(seal.group).or_default().push(seal);
        Ok(())
    }

    /// Member `node` took `from`'s state as of `pulse`: its history is `from`'s up to it, and
    /// its own seals after it were of another history.
    pub(super) fn resynced(&mut self, node: NodeIndex, group: Prefix, pulse: u64, from: Id) {
        let Some(&from) = self.index_of.get(&from) else { return };
        let members = self.histories.entry(group).or_default();
        let copied: BTreeMap<u64, NodeIndex> = members
            .get(&from)
            .map(|h| h.range(..=pulse).map(|(p, s)| (*p, *s)).collect())
            .unwrap_or_default();
        members.insert(node, copied);
        if let Some(pending) = self.tentative.get_mut(&group) {
            let before = pending.len();
            pending.retain(|s| s.node != node || s.pulse <= pulse);
            self.metrics.committees.orphaned_seals += (before - pending.len()) as u64;
        }
    }

    /// The root node `index` holds, for I6 and I7 — none for a member of a root committee: it
    /// holds each root before a majority co-signed it (D-033). Their roots are checked as the
    /// chief builds them, against the chief's history (I7), whichever member acts.
    pub(super) fn held_root(&self, index: NodeIndex) -> Option<reference::smt::RootSynopsis> {
        let root_member = self.layout.root_backups > 0
            && (index == BOOKKEEPER || self.layout.is_root_backup(index as usize));
        if root_member { None } else { self.nodes[index as usize].root() }
    }

    /// Whether `event` is the chief's seal or root of a pulse already seen: a new chief
    /// releases the last cycle it replayed unless it heard the old chief do so, and if only
    /// its copy of the old chief's broadcast was lost, that cycle's events come twice (D-033).
    pub(super) fn released_twice(&mut self, event: &NodeEvent) -> bool {
        let (seen, pulse) = match event {
            NodeEvent::Sealed { pulse, group, .. } if *group == Prefix::ROOT => {
                (&mut self.root_seen.0, *pulse)
            }
            NodeEvent::RootBuilt { pulse, .. } => (&mut self.root_seen.1, *pulse),
            _ => return false,
        };
        let twice = pulse <= *seen;
        *seen = (*seen).max(pulse);
        twice
    }

    /// The chief took `group`'s report of `pulse` from its acting member: the seals up to it
    /// that the member's state is made of are history, the other seals up to it orphans — a
    /// deposed primary's cycles, unless a later successor replayed them before the failover
    /// (then they are history again, which dropping them at the failover got wrong).
    pub(super) fn check_taken_seals(&mut self, group: Prefix, pulse: u64) -> Result<(), SimError> {
        let Some(pending) = self.tentative.get_mut(&group) else { return Ok(()) };
        let (mut taken, rest): (Vec<OwnedSeal>, Vec<OwnedSeal>) =
            std::mem::take(pending).into_iter().partition(|s| s.pulse <= pulse);
        *pending = rest;
        let acting = match self.acting_node.get(&group) {
            Some(node) => *node,
            None => self.layout_primary(&group),
        };
        let members = self.histories.entry(group).or_default();
        let history = members.get(&acting).cloned().unwrap_or_default();
        for member in members.values_mut() {
            *member = member.split_off(&(pulse + 1));
        }
        taken.sort_by_key(|s| s.pulse);
        let before = taken.len();
        taken.retain(|s| history.get(&s.pulse) == Some(&s.node));
        self.metrics.committees.orphaned_seals += (before - taken.len()) as u64;
        taken.iter().try_for_each(|seal| self.check_seal(seal))
    }

    /// The node of `group`'s primary in view 0.
    pub(super) fn layout_primary(&self, group: &Prefix) -> NodeIndex {
        let chief = self.acting_node.get(&Prefix::ROOT).copied().unwrap_or(BOOKKEEPER);
        let primary = self.nodes[chief as usize].view_of(group).map(|(_, id)| id);
        primary.and_then(|id| self.index_of.get(&id).copied()).unwrap_or(NodeIndex::MAX)
    }

    pub(super) fn check_seal(&mut self, seal: &OwnedSeal) -> Result<(), SimError> {
        let seal = Seal {
            group: seal.group,
            applied: &seal.applied,
            debits: &seal.debits,
            credited: &seal.credited,
            settled: &seal.settled,
        };
        let result = self.checker.after_seal(&seal);
        result.map_err(|v| self.violation(v))
    }

    pub(super) fn trace_outcome(
        &mut self,
        kind: Ev,
        node: NodeIndex,
        tag: u64,
        value: u64,
    ) -> io::Result<()> {
        self.trace.record(self.now_ms, kind, &[u64::from(node), tag, value])
    }

    /// Count the outcome of request `tag` once (with its latency if it committed); a second
    /// outcome for one request is a protocol bug, counted so that tests can assert there are none.
    pub(super) fn finish_request(&mut self, tag: u64, outcome: Count, latency_ms: Option<u64>) {
        let Some(issued) = self.issued_at_ms.get_mut(tag as usize) else { return };
        if *issued == FINISHED {
            self.duplicate_outcomes += 1;
            return;
        }
        *issued = FINISHED;
        self.metrics.outstanding -= 1;
        let acc = self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms);
        acc.counts[outcome] += 1;
        acc.latencies_ms.extend(latency_ms);
    }
}

/// A short name for why a transfer was refused, for the summary's breakdown.
pub(super) fn refusal_reason(error: &reference::ledger::LedgerError) -> &'static str {
    use reference::ledger::LedgerError as E;
    match error {
        E::TimedOut => "timed_out",
        E::InsufficientSpendable { .. } => "insufficient_spendable",
        E::BadNonce { .. } => "bad_nonce",
        E::BadSignature { .. } | E::KeyMismatch { .. } => "bad_signature",
        E::UnknownAccount { .. } => "unknown_account",
        E::BeyondCapacity { .. } => "beyond_capacity",
        _ => "other",
    }
}
