//! Observers of node events, one per event family: seals and roots (checked by the checker,
//! through the seal history of groups with committees), transfer outcomes, committees,
//! elections and bad messages.

use crate::checker::seal_history::{OwnedSeal, RootEvent};
use crate::metrics::Count;
use crate::scenario::NodeIndex;
use crate::trace::Ev;
use reference::node::NodeError;
use reference::node::NodeEvent;
use reference::{Id, Prefix};
use std::io;

use super::*;

impl Simulation {
    /// A node's event, to the observer of its family.
    pub(super) fn node_event(&mut self, node: NodeIndex, event: NodeEvent) -> Result<(), SimError> {
        match event {
            NodeEvent::Sealed { pulse, group, version, applied, debits, credited, settled } => {
                if group == Prefix::ROOT && self.history.released_twice(RootEvent::Seal(pulse)) {
                    return Ok(());
                }
                let seal = OwnedSeal { node, pulse, group, applied, debits, credited, settled };
                self.on_sealed(version, seal)
            }
            NodeEvent::RootBuilt { pulse, root, clears_in_transit } => {
                if self.history.released_twice(RootEvent::Root(pulse)) {
                    return Ok(());
                }
                self.on_root(pulse, root, clears_in_transit)
            }
            NodeEvent::Started { .. }
            | NodeEvent::Committed { .. }
            | NodeEvent::Refused { .. }
            | NodeEvent::Abandoned { .. }
            | NodeEvent::Lost { .. }
            | NodeEvent::NonceResynced { .. }
            | NodeEvent::Credited { .. }
            | NodeEvent::Deferred { .. } => self.on_transfer_event(node, event),
            NodeEvent::Elected { .. } | NodeEvent::NotElected { .. } | NodeEvent::Seated { .. } => {
                self.on_election_event(event)
            }
            NodeEvent::BadMessage { from, error } => self.on_bad_message(node, from, &error),
            NodeEvent::GovHandled { .. }
            | NodeEvent::ProposalClosed { .. }
            | NodeEvent::ProposalLearnt { .. }
            | NodeEvent::GovAnswered { .. }
            | NodeEvent::GovGaveUp { .. } => self.on_gov_event(event),
            NodeEvent::TookOver { .. }
            | NodeEvent::VotedViewChange { .. }
            | NodeEvent::Replayed { .. }
            | NodeEvent::FailedOver { .. }
            | NodeEvent::SteppedDown { .. }
            | NodeEvent::Reseated { .. }
            | NodeEvent::ReplicaDiverged { .. }
            | NodeEvent::Resynced { .. }
            | NodeEvent::ReportAttested { .. } => self.on_committee_event(node, event),
        }
    }

    /// A group's seal: counted, traced, and checked now or once it is history.
    fn on_sealed(&mut self, version: u64, seal: OwnedSeal) -> Result<(), SimError> {
        self.metrics.seals += 1;
        self.trace.record(self.now_ms, Ev::Sealed, &[seal.pulse, version, seal.applied.len() as u64])?;
        if !seal.applied.is_empty() {
            self.metrics.versions += 1;
        }
        if let Some(double_spenders) = &mut self.double_spenders {
            double_spenders.observe_sealed(&seal.applied);
        }
        match self.history.sealed(seal) {
            Some(seal) => self.check_seal(&seal),
            None => Ok(()),
        }
    }

    /// The chief built a root: counted, traced, checked (I1 at the root, I6, I7).
    fn on_root(
        &mut self,
        pulse: u64,
        root: reference::smt::RootSynopsis,
        clears_in_transit: usize,
    ) -> Result<(), SimError> {
        self.metrics.roots += 1;
        self.metrics.roots_with_clears_in_transit += u64::from(clears_in_transit > 0);
        self.trace.record(self.now_ms, Ev::Root, &[pulse, root.version])?;
        self.checker.after_root(root).map_err(|v| self.violation(v))
    }

    /// A transfer's progress at its payer (or payee): outcomes, latencies, resyncs.
    fn on_transfer_event(&mut self, node: NodeIndex, event: NodeEvent) -> Result<(), SimError> {
        match event {
            NodeEvent::Committed { tag, version } => {
                self.trace_outcome(Ev::Committed, node, tag, version)?;
                let issued_ms = self.issued_at_ms.get(tag as usize).copied().unwrap_or(FINISHED);
                if issued_ms != FINISHED {
                    let latency_ms = self.now_ms - issued_ms;
                    let started_ms = self.started_at_ms[tag as usize];
                    self.metrics.latencies_from_start_ms.push(self.now_ms - started_ms);
                    self.finish_request(tag, Count::Committed, Some(latency_ms));
                    self.gov_transfer_committed(tag);
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
            NodeEvent::Deferred { .. } => self.metrics.deferred_for_capacity += 1,
            _ => {} // `Credited`: the payee's side, not a request's outcome
        }
        Ok(())
    }

    /// Committees: takeovers, votes, replays, failovers, handovers, resyncs, attestations.
    fn on_committee_event(&mut self, node: NodeIndex, event: NodeEvent) -> Result<(), SimError> {
        match event {
            NodeEvent::TookOver { group, pulse, view } => {
                self.history.took_over(group, node);
                if group == Prefix::ROOT {
                    self.metrics.committees.chief_failovers += 1;
                    let words = [pulse, u64::from(view), u64::from(node)];
                    self.trace.record(self.now_ms, Ev::ChiefFailover, &words)?;
                }
            }
            NodeEvent::VotedViewChange { view, pulse } => {
                self.metrics.committees.view_change_votes += 1;
                let words = [u64::from(view), pulse, u64::from(node)];
                self.trace.record(self.now_ms, Ev::ViewChangeVote, &words)?;
            }
            NodeEvent::Replayed { group, pulse, from } => {
                let from = self.index_of.get(&from).copied().unwrap_or(node);
                self.history.replayed(group, node, pulse, from);
            }
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
            NodeEvent::ReplicaDiverged { .. } => self.metrics.committees.replica_divergences += 1,
            NodeEvent::Resynced { group, pulse, from } => {
                self.metrics.committees.resyncs += 1;
                if let Some(&from) = self.index_of.get(&from) {
                    let orphaned = self.history.resynced(group, node, pulse, from);
                    self.metrics.committees.orphaned_seals += orphaned;
                }
            }
            NodeEvent::ReportAttested { group, pulse } => {
                self.metrics.committees.reports_attested += 1;
                self.check_taken_seals(group, pulse)?;
                let forged = self.byzantine.as_ref().is_some_and(|b| b.was_forged(group, pulse));
                self.metrics.committees.forged_reports_taken += u64::from(forged);
            }
            _ => {}
        }
        Ok(())
    }

    /// Elections over candidate pools (D-035).
    fn on_election_event(&mut self, event: NodeEvent) -> Result<(), SimError> {
        match event {
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
            _ => {}
        }
        Ok(())
    }

    /// A node refused a peer's message.
    fn on_bad_message(&mut self, node: NodeIndex, from: Id, error: &NodeError) -> Result<(), SimError> {
        self.metrics.bad_messages += 1;
        self.metrics.bad_proofs += u64::from(matches!(error, NodeError::BadProof(_)));
        self.metrics.equivocations_detected += u64::from(matches!(error, NodeError::Equivocation { .. }));
        self.metrics.committees.attest_mismatches +=
            u64::from(matches!(error, NodeError::AttestMismatch { .. }));
        self.metrics.committees.not_acting += u64::from(matches!(error, NodeError::NotActing { .. }));
        self.metrics.envelopes.count(error);
        if let Some(refused) = self.forgery_refused.as_mut() {
            *refused |= crate::summary::EnvelopeCounts::is_envelope_error(error);
        }
        let from = self.index_of.get(&from).copied().unwrap_or(NodeIndex::MAX);
        self.trace.record_with(self.now_ms, Ev::BadMessage, &[u64::from(node), u64::from(from)], || {
            format!(",\"error\":{:?}", error.to_string())
        })?;
        Ok(())
    }

    /// The root node `index` holds, for I6 and I7 — none for a member of a root committee: it
    /// holds each root before a majority co-signed it (D-033). Their roots are checked as the
    /// chief builds them, against the chief's history (I7), whichever member acts.
    pub(super) fn held_root(&self, index: NodeIndex) -> Option<reference::smt::RootSynopsis> {
        let root_member = self.layout.root_backups > 0
            && (index == BOOKKEEPER || self.layout.is_root_backup(index as usize));
        if root_member { None } else { self.nodes[index as usize].root() }
    }

    /// The chief took `group`'s report of `pulse`: check the seals that are its history.
    fn check_taken_seals(&mut self, group: Prefix, pulse: u64) -> Result<(), SimError> {
        let (nodes, index_of) = (&self.nodes, &self.index_of);
        let chief = self.history.acting(&Prefix::ROOT).unwrap_or(BOOKKEEPER);
        let view0_primary = || {
            let primary = nodes[chief as usize].view_of(&group).map(|(_, id)| id);
            primary.and_then(|id| index_of.get(&id).copied()).unwrap_or(NodeIndex::MAX)
        };
        let (taken, orphaned) = self.history.taken(group, pulse, view0_primary);
        self.metrics.committees.orphaned_seals += orphaned;
        taken.iter().try_for_each(|seal| self.check_seal(seal))
    }

    fn check_seal(&mut self, seal: &OwnedSeal) -> Result<(), SimError> {
        let result = self.checker.after_seal(&seal.as_seal());
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
        if !matches!(outcome, Count::Committed)
            && let Some(driver) = self.governance.as_deref_mut()
        {
            driver.transfer_failed(tag);
        }
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
