//! The root committee (SPEC §5.2, §6.4; D-033): the acting chief's closed pulse waits for a
//! majority's co-signatures before it is released; root backups replay the chief's cycles,
//! co-sign them, watch for a silent chief and elect its successor by view-change votes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::consensus::settlement::GroupReport;
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};

use super::replication::{ROOT_BATCH_CYCLES, Replication};
use super::{Bookkeeper, Books, Chief, Role, Root, refused};
use crate::node::Envelope;
use crate::node::message::{ReplicaBatch, ReplicaCycle};
use crate::node::roster::ViewEntry;
use crate::node::{Message, MessageKind, NodeError, NodeEvent, Output};

impl Root {
    /// The acting chief's pulse timer. Without a root committee the pulse closes and goes out at
    /// once. With one, the closed cycle goes to the root backups first, and its outputs wait
    /// until a majority of the committee co-signed it (SPEC §5.2, D-033); while they wait the
    /// chief starts no new pulse and repeats the cycle to the backups that did not co-sign.
    pub(super) fn on_pulse_timer(&mut self, books: &mut Books, out: &mut Vec<Output>) -> ChiefTick {
        let Some(root_committee) = self.cosigning.as_deref_mut() else {
            self.chief.close_chief_pulse(books, out);
            return ChiefTick::Released;
        };
        if root_committee.pending.is_some() {
            root_committee.stalled_ticks += 1;
            return ChiefTick::Waiting;
        }
        let before_pulse = books.pulse;
        let mut held = std::mem::take(&mut root_committee.cycle_events);
        let report = self.chief.close_chief_pulse(books, &mut held);
        let digest = self.chief.cycle_digest(books);
        let log = &mut root_committee.log;
        let inputs = std::mem::take(&mut log.current);
        let pulse = books.pulse;
        log.push(Arc::new(ReplicaCycle { before_pulse, pulse, inputs, report_digest: digest }));
        log.last_attest = Some(report.clone());
        let state_wanted = std::mem::take(&mut log.state_wanted);
        let closed = ClosedPulse { pulse, digest, outputs: held, cosigners: BTreeSet::new() };
        assert!(root_committee.pending.is_none(), "one closed pulse waits at a time");
        root_committee.pending = Some(closed);
        root_committee.stalled_ticks = 0;
        ChiefTick::Closed { report, state_wanted }
    }

    /// Send each root backup the chief's cycles it has not co-signed.
    fn send_root_batches(&self, books: &Books, out: &mut Vec<Output>) {
        if let Some(root_committee) = self.cosigning.as_deref() {
            root_committee.send_batches(books, out);
        }
    }

    /// Run one of the chief's cycles through the chief's own handlers and close its pulse; the
    /// rebuilt report if the cycle's digest matches. What the pulse would release is kept, for
    /// this member to release if it takes over before hearing the chief do so (D-033).
    pub(super) fn replay_cycle(&mut self, books: &mut Books, cycle: &ReplicaCycle) -> Option<GroupReport> {
        let mut held = Vec::new();
        let mut ignored = Vec::new();
        for input in &cycle.inputs {
            let (from, msg) = (&input.from(), &input.msg);
            // As at the acting chief, the events of reports and attestations are the cycle's.
            let result = match msg {
                Message::Submit(signed) => {
                    books.on_submit(signed, &mut ignored);
                    Ok(())
                }
                Message::CreditHalf(signed) => books.on_credit_half(*from, signed),
                Message::GroupSeal(report) => self.chief.on_group_seal(books, *from, report, &mut held),
                Message::Attest { report, view } => books
                    .check_attester(*from, report)
                    .and_then(|()| self.chief.on_attest(books, *from, report, *view, &mut held)),
                Message::Gov(request) => {
                    self.chief.on_gov(books, *from, request, &mut held);
                    Ok(())
                }
                _ => Ok(()),
            };
            refused(&mut ignored, *from, result);
            ignored.clear();
        }
        let report = self.chief.close_chief_pulse(books, &mut held);
        let digest = self.chief.cycle_digest(books);
        if digest != cycle.report_digest || books.pulse != cycle.pulse {
            return None;
        }
        let closed = ClosedPulse { pulse: books.pulse, digest, outputs: held, cosigners: BTreeSet::new() };
        if let Some(cosigning) = self.cosigning.as_deref_mut() {
            cosigning.replayed = Some(closed);
        }
        Some(report)
    }
}

impl Chief {
    /// What a replay of the chief's cycle must rebuild: the pulse, the root, the arbiter's
    /// whole state, the chief's own ledger and the groups' views.
    pub(super) fn cycle_digest(&self, books: &Books) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&books.pulse.to_le_bytes());
        hasher.update(&self.arbiter.fingerprint().0);
        hasher.update(&books.sealed_root().synopsis.hash.0);
        for entry in books.views.entries().iter().filter(|e| e.group != Prefix::ROOT) {
            hasher.update(&entry.group.bits().0);
            hasher.update(&entry.view.to_le_bytes());
            hasher.update(&entry.primary.0);
        }
        // The organizations are co-signed with the rest (D-041); without any, the digest is
        // the one it was before they existed.
        if !self.registry.is_empty() {
            hasher.update(&self.registry.digest().0);
        }
        Hash32(*hasher.finalize().as_bytes())
    }
}

/// What the acting chief's pulse timer did, for the steps that follow it.
pub(super) enum ChiefTick {
    /// The pulse closed and went out at once (no root committee).
    Released,
    /// The closed pulse still waits for co-signatures.
    Waiting,
    /// A pulse closed and waits for co-signatures; `state_wanted` asked for the chief's state.
    Closed {
        /// The chief's own report of the pulse.
        report: GroupReport,
        /// Members that asked for the chief's state.
        state_wanted: BTreeSet<Id>,
    },
}

impl Bookkeeper {
    /// What follows the acting chief's pulse timer: the state for members that asked for it,
    /// and the cycles each root backup has not co-signed.
    pub(super) fn after_pulse_timer(&mut self, tick: ChiefTick, out: &mut Vec<Output>) {
        let ChiefTick::Closed { report, state_wanted } = tick else {
            if matches!(tick, ChiefTick::Waiting)
                && let Role::Root(root) = &self.role
            {
                root.send_root_batches(&self.books, out);
            }
            return;
        };
        if !state_wanted.is_empty() {
            let view = self.books.own_view();
            self.send_state(view, &report, &state_wanted, out);
        }
        #[cfg(feature = "fault-injection")]
        if self.books.faults.release_uncosigned {
            self.release(out);
        }
        if let Role::Root(root) = &self.role {
            root.send_root_batches(&self.books, out);
        }
    }

    /// A root backup's co-signature of the acting chief's cycle for `pulse`.
    pub(super) fn on_cosign(
        &mut self,
        from: Id,
        pulse: u64,
        view: u32,
        digest: Hash32,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.books.config.roster;
        let other_member = roster.is_member(&Prefix::ROOT, &from) && from != self.books.id;
        let Some(root_committee) = self.role.cosigning_mut().filter(|_| other_member) else {
            let bookkeeper = self.books.acting_chief();
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::CoSign });
        };
        let released = root_committee.on_cosign(&mut self.books, from, (pulse, view, digest), out)?;
        self.handle_released(released, out);
        Ok(())
    }

    /// The acting chief sends what its closed cycle holds without waiting for co-signatures
    /// (the test-only `release_uncosigned` fault).
    #[cfg(feature = "fault-injection")]
    pub(super) fn release(&mut self, out: &mut Vec<Output>) {
        let Some(root_committee) = self.role.cosigning_mut() else { return };
        let released = root_committee.release(out);
        self.handle_released(released, out);
    }

    /// The inputs that waited for a released cycle are handled now, in arrival order (D-033).
    fn handle_released(&mut self, released: Vec<(Id, Envelope)>, out: &mut Vec<Output>) {
        for (from, envelope) in released {
            self.handle_opened(from, &envelope, out);
        }
    }

    /// Whether this member of the root committee is not the acting chief.
    pub(super) fn is_root_backup(&self) -> bool {
        self.role.cosigning().is_some() && !self.books.acting
    }

    /// The acting chief with a committee keeps the reports and attestations it handles for
    /// its backups' replay.
    pub(super) fn record_at_chief(&mut self, envelope: &Envelope) {
        if self.role.cosigning().is_some() {
            self.record(envelope);
        }
    }

    /// Run `handle`; at an acting chief with a committee its outputs (events of taken reports)
    /// are the cycle's and go out when the cycle is co-signed, as a replay rebuilds them.
    pub(super) fn in_cycle(
        &mut self,
        out: &mut Vec<Output>,
        handle: impl FnOnce(&mut Self, &mut Vec<Output>) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        if self.role.cosigning().is_none() {
            return handle(self, out);
        }
        let mut held = Vec::new();
        let result = handle(self, &mut held);
        if let Some(cosigning) = self.role.cosigning_mut() {
            cosigning.cycle_events.append(&mut held);
        }
        result
    }

    /// A root member heard the acting chief make progress: a pulse broadcast (`Some(pulse)`)
    /// or a new cycle to replay. A chief that repeats a cycle nobody co-signs is not heard.
    pub(super) fn heard_chief(&mut self, pulse: Option<u64>) {
        if let Some(root_committee) = self.role.cosigning_mut() {
            root_committee.silent_ticks = 0;
            if let Some(pulse) = pulse {
                root_committee.heard_pulse = root_committee.heard_pulse.max(pulse);
            }
        }
    }

    /// Another root member's vote. A backup joins a vote for a later view than its own (so
    /// that the members converge on one view); the acting chief does not vote against itself
    /// — it learns of its successor from the successor's pulse.
    pub(super) fn on_view_change(
        &mut self,
        from: Id,
        view: u32,
        pulse: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let current = self.books.own_view();
        let Some(root_committee) = self.role.cosigning_mut().filter(|_| from != self.books.id) else {
            let bookkeeper = self.books.acting_chief();
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::ViewChange });
        };
        if !self.books.config.roster.is_member(&Prefix::ROOT, &from) {
            let bookkeeper = self.books.acting_chief();
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::ViewChange });
        }
        if view <= current {
            return Ok(());
        }
        if self.books.acting {
            // A chief whose pulse waits in vain for co-signatures gives way to a vote: without
            // it, a crashed member and one out of step could hold a committee of four forever.
            if root_committee.pending.is_none()
                || root_committee.stalled_ticks <= self.books.config.failover_timeout_pulses
            {
                return Ok(());
            }
            root_committee.votes.entry(view).or_default().insert(from, pulse);
            root_committee.abdicate(&mut self.books, out);
            root_committee.vote(&mut self.books, view, out);
            return Ok(());
        }
        root_committee.votes.entry(view).or_default().insert(from, pulse);
        if view > root_committee.voted {
            root_committee.vote(&mut self.books, view, out);
        } else {
            root_committee.try_lead(&mut self.books, view, out);
        }
        Ok(())
    }

    /// The chief's pulse named a later root view: its old votes are moot, and a deposed chief
    /// steps down — its unreleased cycle was never the organization's — and asks for the new
    /// chief's state.
    pub(super) fn enter_root_view(&mut self, entry: ViewEntry, out: &mut Vec<Output>) {
        if entry.primary == self.books.id {
            return;
        }
        if let Some(root_committee) = self.role.cosigning_mut() {
            root_committee.votes.retain(|v, _| *v > entry.view);
            if root_committee.awaiting_state.is_some_and(|(view, _)| view <= entry.view) {
                root_committee.awaiting_state = None;
            }
            root_committee.silent_ticks = 0;
        }
        if !self.books.acting {
            return;
        }
        if let Some(root_committee) = self.role.cosigning_mut() {
            root_committee.pending = None;
            root_committee.cycle_events.clear();
        }
        self.step_down(entry.view, entry.primary, out);
        if let Some(replica) = self.log_mut() {
            replica.diverged = true;
        }
        out.push(Output::Send { to: entry.primary, msg: Message::StateRequest { group: Prefix::ROOT } });
    }
}

impl RootCommittee {
    /// The acting chief counts a backup's co-signature `(pulse, view, digest)`; a majority
    /// releases the closed cycle, and the inputs that waited for it are returned.
    pub(super) fn on_cosign(
        &mut self,
        books: &mut Books,
        from: Id,
        (pulse, view, digest): (u64, u32, Hash32),
        out: &mut Vec<Output>,
    ) -> Result<Vec<(Id, Envelope)>, NodeError> {
        if !books.acting || view != books.own_view() {
            return Ok(Vec::new()); // late: this member no longer acts in that view
        }
        let log = &mut self.log;
        let acked = log.acked.entry(from).or_default();
        *acked = (*acked).max(pulse);
        if log.log.back().is_some_and(|latest| latest.pulse > pulse) {
            // Behind: the next window goes at once rather than at the next pulse period, so
            // that a member catching up is not taken for a silent chief's victim.
            let cycles = log.unacked(&from, ROOT_BATCH_CYCLES);
            let batch = ReplicaBatch { group: Prefix::ROOT, view, cycles };
            out.push(Output::Send { to: from, msg: Message::Replicate(Box::new(batch)) });
        }
        let required = books.config.roster.attestations_required(&Prefix::ROOT);
        let Some(pending) = self.pending.as_mut().filter(|p| p.pulse == pulse) else {
            return Ok(Vec::new()); // an earlier cycle, already released
        };
        if pending.digest != digest {
            return Err(NodeError::AttestMismatch { group: Prefix::ROOT, pulse, member: from });
        }
        pending.cosigners.insert(from);
        if pending.cosigners.len() < required {
            return Ok(Vec::new());
        }
        Ok(self.release(out))
    }

    /// Send what the closed cycle released; the inputs that waited for it are returned.
    pub(super) fn release(&mut self, out: &mut Vec<Output>) -> Vec<(Id, Envelope)> {
        let Some(closed) = self.pending.take() else { return Vec::new() };
        out.extend(closed.outputs);
        std::mem::take(&mut self.buffered)
    }

    /// A root backup's watchdog, every pulse period: after `failover_timeout_pulses` periods
    /// without progress from the acting chief it votes for the next view (SPEC §6.4).
    pub(super) fn watch_chief(&mut self, books: &mut Books, out: &mut Vec<Output>) {
        let root_committee = self;
        root_committee.silent_ticks += 1;
        if let Some((_, voter)) = root_committee.awaiting_state {
            out.push(Output::Send { to: voter, msg: Message::StateRequest { group: Prefix::ROOT } });
        }
        if root_committee.silent_ticks <= books.config.failover_timeout_pulses {
            return;
        }
        let view = root_committee.voted.max(books.own_view()).saturating_add(1);
        root_committee.vote(books, view, out);
    }

    /// Vote for root view `view`: from now on this member replays and co-signs nothing of an
    /// earlier view.
    pub(super) fn vote(&mut self, books: &mut Books, view: u32, out: &mut Vec<Output>) {
        let (id, pulse) = (books.id, books.pulse);
        let root_committee = &mut *self;
        assert!(view > books.own_view(), "a member votes only for a later view");
        root_committee.voted = view;
        root_committee.silent_ticks = 0;
        root_committee.awaiting_state = None;
        root_committee.votes.entry(view).or_default().insert(id, pulse);
        out.push(Output::Event(NodeEvent::VotedViewChange { view, pulse }));
        for member in books.config.roster.committee(&Prefix::ROOT).filter(|m| *m != id) {
            out.push(Output::Send { to: member, msg: Message::ViewChange { view, pulse } });
        }
        self.try_lead(books, view, out);
    }

    /// Whether this root member's latest vote went to the view that names `candidate`.
    pub(super) fn voted_for(&self, books: &Books, candidate: &Id) -> bool {
        self.voted > books.own_view()
            && books.config.roster.named_by_view(&Prefix::ROOT, self.voted) == *candidate
    }

    /// The stalled chief stops acting. Its state is its closed cycle's (later inputs wait in
    /// the buffer, and are dropped: their senders repeat them to the successor), so it votes
    /// like any member, offering that cycle.
    pub(super) fn abdicate(&mut self, books: &mut Books, out: &mut Vec<Output>) {
        assert!(books.acting, "only the acting chief abdicates");
        let view = books.own_view();
        books.acting = false;
        let root_committee = self;
        // Its closed cycle is now one it would release if it led again.
        root_committee.replayed = root_committee.pending.take();
        root_committee.cycle_events.clear();
        root_committee.buffered.clear();
        out.push(Output::Event(NodeEvent::SteppedDown { group: Prefix::ROOT, view }));
    }

    /// The member `view` names takes over once a majority of the committee voted for it —
    /// first taking the state of the most advanced voter if it is behind, so that it holds
    /// every pulse a majority co-signed (any co-signing majority meets the voting one).
    pub(super) fn try_lead(&mut self, books: &mut Books, view: u32, out: &mut Vec<Output>) {
        let roster = &books.config.roster;
        if books.acting || roster.named_by_view(&Prefix::ROOT, view) != books.id {
            return;
        }
        if self.log.diverged {
            return; // out of step: the next view names another member
        }
        let quorum = roster.view_change_quorum(&Prefix::ROOT);
        let root_committee = &mut *self;
        let Some(votes) = root_committee.votes.get(&view).filter(|v| v.len() >= quorum) else { return };
        if root_committee.awaiting_state.is_some() {
            return;
        }
        let ahead = votes.iter().filter(|(_, pulse)| **pulse > books.pulse).max_by_key(|(_, pulse)| **pulse);
        if let Some((voter, _)) = ahead {
            root_committee.awaiting_state = Some((view, *voter));
            out.push(Output::Send { to: *voter, msg: Message::StateRequest { group: Prefix::ROOT } });
            return;
        }
        self.lead(books, view, out);
    }

    /// Act as the chief in root view `view`: announce it, and release the last cycle if this
    /// member did not hear the old chief release it (a duplicate `Settle` is ignored).
    pub(super) fn lead(&mut self, books: &mut Books, view: u32, out: &mut Vec<Output>) {
        assert_eq!(
            books.config.roster.named_by_view(&Prefix::ROOT, view),
            books.id,
            "the view names this member"
        );
        books.acting = true;
        books.views.learn(&[ViewEntry { group: Prefix::ROOT, view, primary: books.id }]);
        let root_committee = &mut *self;
        let voters = root_committee.votes.get(&view).cloned().unwrap_or_default();
        root_committee.votes.retain(|v, _| *v > view);
        root_committee.voted = root_committee.voted.max(view);
        root_committee.awaiting_state = None;
        root_committee.silent_ticks = 0;
        root_committee.cycle_events.clear();
        let unreleased = root_committee.replayed.take().filter(|c| c.pulse > root_committee.heard_pulse);
        // The voters' states are known from their votes: send each what it lacks.
        root_committee.log.acked = voters.into_iter().filter(|(id, _)| *id != books.id).collect();
        root_committee.log.current.clear();
        root_committee.log.diverged = false;
        out.push(Output::Event(NodeEvent::TookOver { group: Prefix::ROOT, view, pulse: books.pulse }));
        books.broadcast_pulse(out);
        let is_pulse = |o: &Output| matches!(o, Output::Broadcast { msg: Message::Pulse { .. } });
        out.extend(unreleased.into_iter().flat_map(|c| c.outputs).filter(|o| !is_pulse(o)));
        self.send_batches(books, out);
    }
}

impl RootCommittee {
    /// Send each root backup the chief's cycles it has not co-signed.
    fn send_batches(&self, books: &Books, out: &mut Vec<Output>) {
        let view = books.own_view();
        for member in books.config.roster.committee(&Prefix::ROOT).filter(|m| *m != books.id) {
            let cycles = self.log.unacked(&member, ROOT_BATCH_CYCLES);
            let batch = ReplicaBatch { group: Prefix::ROOT, view, cycles };
            out.push(Output::Send { to: member, msg: Message::Replicate(Box::new(batch)) });
        }
    }
}

/// A closed chief cycle and what it releases once co-signed: the pulse's events, `Settle`s,
/// commit notices and `Pulse` broadcast (D-033).
#[derive(Clone, Debug)]
pub(super) struct ClosedPulse {
    /// The pulse closed.
    pub(super) pulse: u64,
    /// The digest a replay of the cycle must rebuild.
    pub(super) digest: Hash32,
    /// What the chief sends and reports once a majority co-signed.
    pub(super) outputs: Vec<Output>,
    /// Acting chief: the backups whose replay reproduced `digest`.
    pub(super) cosigners: BTreeSet<Id>,
}

/// A root committee member's part in co-signing the chief's pulses and electing its
/// successor (SPEC §5.2, §6.4; D-033).
#[derive(Clone, Debug, Default)]
pub(super) struct RootCommittee {
    /// The root group's replication log: the chief's closed cycles, which its backups replay.
    pub(super) log: Replication,
    /// Events of the chief's handling of reports and attestations in the current cycle; they
    /// are released with the cycle.
    pub(super) cycle_events: Vec<Output>,
    /// Acting chief: the closed cycle waiting for co-signatures.
    pub(super) pending: Option<ClosedPulse>,
    /// Backup: the latest cycle its replay closed, with what it would release — a new chief
    /// releases it on taking over unless it heard the old chief release it.
    pub(super) replayed: Option<ClosedPulse>,
    /// The latest pulse this member heard the acting chief broadcast.
    pub(super) heard_pulse: u64,
    /// Watchdog ticks (one per pulse period) since it last heard the acting chief.
    pub(super) silent_ticks: u64,
    /// The latest root view this member voted for (0: none). It replays and co-signs nothing
    /// of an earlier view afterwards, which is what fences the old chief.
    pub(super) voted: u32,
    /// Votes per root view above the current one: voter → the pulse its state holds.
    pub(super) votes: BTreeMap<u32, BTreeMap<Id, u64>>,
    /// A candidate with a quorum, waiting for the state of the most advanced voter.
    pub(super) awaiting_state: Option<(u32, Id)>,
    /// Acting chief: pulse periods its closed cycle has waited for co-signatures.
    pub(super) stalled_ticks: u64,
    /// Acting chief: inputs that arrived while its closed cycle waits for co-signatures; it
    /// handles them once the cycle is released, so that until then its state is exactly the
    /// closed one (what a member asking for its state, or a candidate, gets).
    pub(super) buffered: Vec<(Id, Envelope)>,
}

impl RootCommittee {
    /// Digest of the state that decides what the member does next.
    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
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
