//! A leaf group's committee (SPEC §6.2, §6.4; D-032): the acting primary records its inputs
//! and replicates each sealed cycle; backups replay and attest them, take over when the chief
//! names them, and step down when a later view names another member.

use std::sync::Arc;

use crate::consensus::settlement::GroupReport;
use crate::id::{Id, Prefix};

use super::replication::{LOG_CYCLES, Replication, report_digest};
use super::{Bookkeeper, refused};
use crate::node::message::{ReplicaBatch, ReplicaCycle};
use crate::node::roster::ViewEntry;
use crate::node::{Envelope, To};
use crate::node::{Message, MessageKind, NodeError, NodeEvent, Output, SettleMsg};

impl Bookkeeper {
    /// A `Settle` from the network. A backup takes it as the order to take over when it names
    /// a view in which the chief made this member the primary.
    pub(super) fn on_direct_settle(
        &mut self,
        from: Id,
        settle: &SettleMsg,
        envelope: &Envelope,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let (view, primary) = self.books.views.acting(&self.books.config.roster, &self.books.group);
        let from_chief = self.books.config.roster.is_member(&Prefix::ROOT, &from)
            && settle.path.entry.prefix == self.books.group;
        if from_chief && settle.view < view {
            return Ok(()); // a delayed `Settle` of an earlier view
        }
        let named =
            settle.view > view || (settle.view == view && primary == self.books.id && !self.books.acting);
        if from_chief && named && self.log().is_some() {
            self.take_over(settle.view, out);
        }
        if !self.books.acting {
            return Err(self.books.not_acting());
        }
        let before_pulse = self.books.pulse;
        self.record(envelope);
        let Some(report) = self.books.on_settle(from, settle, out)? else { return Ok(()) };
        out.push(Output::Send { to: from, msg: Message::GroupSeal(Box::new(report.clone())) });
        self.replicate(before_pulse, &report, out);
        Ok(())
    }

    /// Close the cycle just sealed and send every other member the cycles it has not attested.
    pub(super) fn replicate(&mut self, before_pulse: u64, report: &GroupReport, out: &mut Vec<Output>) {
        let targets = self.replication_targets();
        let (id, group) = (self.books.id, self.books.group);
        let view = self.books.views.acting(&self.books.config.roster, &group).0;
        let Some(replica) = self.log_mut() else {
            return; // a group of one
        };
        let inputs = std::mem::take(&mut replica.current);
        let pulse = report.pulse;
        replica.push(Arc::new(ReplicaCycle {
            before_pulse,
            pulse,
            inputs,
            report_digest: report_digest(report),
        }));
        debug_assert_eq!(replica.log.back().map(|c| c.pulse), Some(pulse), "the sealed cycle is logged");
        let wanted = std::mem::take(&mut replica.state_wanted);
        // Members that asked for the state get it instead of the cycles; the others' batches do
        // not depend on what sending the state changes.
        let batches: Vec<(Id, Vec<Arc<ReplicaCycle>>)> = targets
            .into_iter()
            .filter(|m| *m != id && !wanted.contains(m))
            .map(|member| (member, replica.unacked(&member, LOG_CYCLES)))
            .collect();
        if !wanted.is_empty() {
            self.send_state(view, report, &wanted, out);
        }
        for (member, cycles) in batches {
            let batch = ReplicaBatch { group, view, cycles };
            out.push(Output::Send { to: member, msg: Message::Replicate(Box::new(batch)) });
        }
    }

    /// Who replays this primary's cycles: its committee and, while an elected committee takes
    /// the group's state, that committee's new members (D-035).
    pub(super) fn replication_targets(&self) -> Vec<Id> {
        let roster = &self.books.config.roster;
        let mut targets = self.books.views.committee(roster, &self.books.group);
        if let Some(elected) = self.books.views.elected(&self.books.group) {
            targets
                .extend(elected.seats.iter().filter(|m| !targets.contains(m)).copied().collect::<Vec<_>>());
        }
        targets
    }

    /// A batch of sealed cycles from a member acting as the group's primary.
    pub(super) fn on_replicate(
        &mut self,
        from: Id,
        batch: &ReplicaBatch,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.books.config.roster;
        let has_log = self.log().is_some();
        if batch.group != self.books.group || !has_log || !roster.is_candidate(&self.books.group, &from) {
            let bookkeeper = roster.primary(&batch.group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::Replicate });
        }
        self.check_inputs(batch)?;
        // Views come from the chief alone: a member that claimed a later view in its batch
        // could otherwise make the backups ignore, or the primary step down for, nobody. A new
        // primary's first batches wait for the chief's pulse; it resends them at every seal.
        // In the root committee a member that voted for the batch's view takes it from the
        // member it names: that member's pulse announcing it may be lost, and the new chief
        // releases no other until a majority co-signs (D-033).
        let (view, _) = self.books.views.acting(roster, &self.books.group);
        let voted_for_batch = self.role.cosigning().is_some_and(|r| r.voted == batch.view);
        if voted_for_batch && batch.view > view && roster.named_by_view(&Prefix::ROOT, batch.view) == from {
            let entry = ViewEntry { group: Prefix::ROOT, view: batch.view, primary: from };
            self.learn_views(&[entry], out);
        }
        let roster = &self.books.config.roster;
        let (view, primary) = self.books.views.acting(roster, &self.books.group);
        if batch.view > view && self.role.cosigning().is_none() {
            // Its view is not announced here yet: it waits for the chief's pulse (D-032).
            if let Some(replica) = self.log_mut() {
                replica.early = Some((from, batch.clone()));
            }
            return Ok(());
        }
        if batch.view != view || primary != from {
            return Ok(());
        }
        // A root member that voted for a later view replays nothing of this one (D-033).
        if self.role.cosigning().is_some_and(|r| r.voted > view) {
            return Ok(());
        }
        self.replay(from, &batch.cycles, out);
        Ok(())
    }

    /// Replay the batch that arrived before the pulse announcing its view, once this member
    /// knows that view and its sender acts in it.
    pub(super) fn replay_early_batch(&mut self, out: &mut Vec<Output>) {
        let (view, primary) = self.books.views.acting(&self.books.config.roster, &self.books.group);
        let Some(replica) = self.log_mut() else { return };
        // A batch of a view still unknown here waits on.
        let Some((from, batch)) = replica.early.take_if(|(_, batch)| batch.view <= view) else { return };
        if batch.view == view && primary == from && !self.books.acting {
            self.replay(from, &batch.cycles, out);
        }
    }

    /// Replay the cycles that follow this backup's state, attesting each rebuilt report.
    pub(super) fn replay(&mut self, from: Id, cycles: &[Arc<ReplicaCycle>], out: &mut Vec<Output>) {
        let chief = self.books.acting_chief();
        let mut attested_any = false;
        for cycle in cycles {
            if self.log().is_none_or(|r| r.diverged) {
                // Still out of step: ask again (the request or the state may have been lost).
                out.push(Output::Send { to: from, msg: Message::StateRequest { group: self.books.group } });
                return;
            }
            if cycle.pulse <= self.books.pulse {
                continue;
            }
            if cycle.before_pulse != self.books.pulse {
                // Before our state: a gap to wait out. Behind it: we sealed a different cycle.
                if cycle.before_pulse < self.books.pulse {
                    self.diverge(from, cycle.pulse, out);
                }
                break;
            }
            let rebuilt = match self.role.root_mut() {
                Some(root) if root.cosigning.is_some() => root.replay_cycle(&mut self.books, cycle),
                _ => self.replay_cycle(cycle),
            };
            let Some(report) = rebuilt else {
                self.diverge(from, cycle.pulse, out);
                break;
            };
            assert_eq!(self.books.pulse, cycle.pulse, "a replay that matched reached the cycle's pulse");
            // Checked at the top of the loop: a member out of step does not get here.
            let Some(replica) = self.log_mut() else { break };
            replica.push(cycle.clone());
            replica.last_attest = Some(report.clone());
            out.push(Output::Event(NodeEvent::Replayed {
                group: self.books.group,
                pulse: cycle.pulse,
                from,
            }));
            if self.role.cosigning().is_none() {
                let view = self.books.own_view();
                out.push(Output::Send { to: chief, msg: Message::Attest { report: Box::new(report), view } });
            } else {
                // A root member co-signs every cycle it rebuilt (D-033).
                self.acknowledge(from, out);
            }
            attested_any = true;
        }
        if attested_any {
            self.heard_chief(None);
        }
        // A leaf member acknowledges the last cycle it rebuilt once (it covers every one
        // before): one per cycle was a burst the replay fence could take for replays once
        // reordered (D-045). With nothing new, our acknowledgement was lost: it is repeated.
        if !cycles.is_empty() && (!attested_any || self.role.cosigning().is_none()) {
            self.acknowledge(from, out);
        }
    }

    /// Every input of a batch as its sender signed it, for a member of this committee: a
    /// primary cannot make its backups replay what nobody sent it (D-039). The addressee is
    /// any member, not only the batch's sender: a member that took over serves the cycles it
    /// replayed from the primary before it.
    fn check_inputs(&self, batch: &ReplicaBatch) -> Result<(), NodeError> {
        let (roster, group) = (&self.books.config.roster, &self.books.group);
        for input in batch.cycles.iter().flat_map(|cycle| cycle.inputs.iter()) {
            if !matches!(input.to, To::Node(to) if roster.is_candidate(group, &to)) {
                return Err(NodeError::Misaddressed { kind: input.msg.kind(), to: input.to });
            }
            input.verify(self.books.verifier.as_ref())?;
        }
        Ok(())
    }

    /// Run one cycle's inputs through the primary's own handlers, outputs dropped; the rebuilt
    /// report if it is the primary's.
    pub(super) fn replay_cycle(&mut self, cycle: &ReplicaCycle) -> Option<GroupReport> {
        let mut ignored = Vec::new();
        let mut report = None;
        self.books.replaying = true;
        for input in &cycle.inputs {
            let from = &input.from();
            match &input.msg {
                Message::Submit(signed) => self.books.on_submit(signed, &mut ignored),
                Message::CreditHalf(signed) => {
                    #[cfg(feature = "fault-injection")]
                    if self.books.faults.replay_skips_credit_halves {
                        continue;
                    }
                    let result = self.books.on_credit_half(*from, signed);
                    refused(&mut ignored, *from, result);
                }
                Message::Settle(settle) => match self.books.on_settle(*from, settle, &mut ignored) {
                    Ok(built) => report = built.or(report),
                    Err(error) => refused(&mut ignored, *from, Err(error)),
                },
                _ => {}
            }
            ignored.clear();
        }
        self.books.replaying = false;
        report.filter(|r| report_digest(r) == cycle.report_digest && r.pulse == cycle.pulse)
    }

    /// Tell the acting primary `to` the latest cycle this member rebuilt: an `Attest` of its
    /// report, or, in the root committee, a `CoSign` of the chief's cycle.
    pub(super) fn acknowledge(&self, to: Id, out: &mut Vec<Output>) {
        if let Some(root) = self.role.root()
            && let Some(root_committee) = root.cosigning.as_deref()
        {
            // The state is a closed cycle's (a backup's replay, or a chief that gave way); its
            // digest is at hand unless this member never replayed since it last acted.
            let digest = match &root_committee.replayed {
                Some(closed) if closed.pulse == self.books.pulse => closed.digest,
                _ => root.chief.cycle_digest(&self.books),
            };
            let (pulse, view) = (self.books.pulse, self.books.own_view());
            out.push(Output::Send { to, msg: Message::CoSign { pulse, view, digest } });
            return;
        }
        if let Some(last) = self.log().and_then(|r| r.last_attest.clone()) {
            let view = self.books.own_view();
            out.push(Output::Send { to, msg: Message::Attest { report: Box::new(last), view } });
        }
    }

    /// Our state is not the primary's `from`: stop replaying and ask for its state.
    pub(super) fn diverge(&mut self, from: Id, pulse: u64, out: &mut Vec<Output>) {
        if let Some(replica) = self.log_mut() {
            replica.diverged = true;
        }
        out.push(Output::Event(NodeEvent::ReplicaDiverged { group: self.books.group, pulse }));
        out.push(Output::Send { to: from, msg: Message::StateRequest { group: self.books.group } });
    }

    pub(super) fn take_over(&mut self, view: u32, out: &mut Vec<Output>) {
        self.books.acting = true;
        out.push(Output::Event(NodeEvent::TookOver {
            group: self.books.group,
            view,
            pulse: self.books.pulse,
        }));
        self.books.views.learn(&[ViewEntry { group: self.books.group, view, primary: self.books.id }]);
        if let Some(replica) = self.log_mut() {
            replica.acked.clear();
            replica.current.clear();
            // Its own history is the group's from now on.
            replica.diverged = false;
        }
        debug_assert_eq!(
            self.books.views.acting(&self.books.config.roster, &self.books.group),
            (view, self.books.id)
        );
    }

    pub(super) fn step_down(&mut self, view: u32, successor: Id, out: &mut Vec<Output>) {
        assert!(self.books.acting, "only the acting primary steps down");
        assert_ne!(successor, self.books.id, "a member steps down for another");
        self.books.acting = false;
        if let Some(replica) = self.log_mut() {
            // Members still waiting for its state ask the new primary on its next batch.
            replica.state_wanted.clear();
        }
        // What it applied since its last seal never reaches a root: the new primary carries
        // on from the sealed cycles (D-032). The submissions of the lost cycle go to it, so
        // that a handover does not cost their payers a retry (credit halves are resent by
        // their senders at their next seal).
        let submissions: Vec<Message> = self.log().map_or_else(Vec::new, |r| {
            r.current
                .iter()
                .filter(|input| matches!(input.msg, Message::Submit(_)))
                .map(|input| input.msg.clone())
                .collect()
        });
        self.drop_unsealed();
        debug_assert!(self.books.ledger.journal().is_empty(), "the unsealed cycle is dropped");
        out.push(Output::Event(NodeEvent::SteppedDown { group: self.books.group, view }));
        out.extend(submissions.into_iter().map(|msg| Output::Send { to: successor, msg }));
    }

    /// Views announced by the chief; a primary that learns of a later view of its own group
    /// steps down.
    pub(super) fn learn_views(&mut self, views: &[ViewEntry], out: &mut Vec<Output>) {
        if self.role.is_root() {
            // A root member takes only the root group's view from a pulse: the leaf groups'
            // views are the chief's state, which the members rebuild by replay (D-033).
            let root: Vec<ViewEntry> = views.iter().filter(|e| e.group == Prefix::ROOT).copied().collect();
            for entry in self.books.views.learn(&root) {
                self.enter_root_view(entry, out);
            }
            return;
        }
        for entry in self.books.views.learn(views) {
            if entry.group == self.books.group && entry.primary != self.books.id && self.books.acting {
                self.step_down(entry.view, entry.primary, out);
            }
        }
        self.replay_early_batch(out);
    }
}

impl Bookkeeper {
    /// This committee member's replication log: a leaf member's is in its books, a root
    /// member's in its co-signing state; a group of one has none.
    pub(super) fn log(&self) -> Option<&Replication> {
        match self.role.cosigning() {
            Some(root_committee) => Some(&root_committee.log),
            None => self.books.replica.as_deref(),
        }
    }

    /// This committee member's replication log, to change.
    pub(super) fn log_mut(&mut self) -> Option<&mut Replication> {
        match self.role.cosigning_mut() {
            Some(root_committee) => Some(&mut root_committee.log),
            None => self.books.replica.as_deref_mut(),
        }
    }

    /// The acting primary keeps every input for its backups' replay.
    pub(super) fn record(&mut self, envelope: &Envelope) {
        let acting = self.books.acting;
        if let Some(replica) = self.log_mut().filter(|_| acting) {
            replica.current.push(envelope.clone());
        }
    }

    /// Forget the unsealed cycle, and the inputs logged for it.
    pub(super) fn drop_unsealed(&mut self) {
        self.books.drop_unsealed();
        if let Some(replica) = self.log_mut() {
            replica.current.clear();
        }
    }
}
