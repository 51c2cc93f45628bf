//! State transfer within a committee (D-032, D-033, D-035): a member out of step asks the
//! acting primary (or the candidate it voted for) for its state, checks the snapshot against
//! the root it holds and adopts it.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::consensus::settlement::GroupReport;
use crate::id::{Id, Prefix};

use super::Bookkeeper;
use crate::node::message::StateSnapshot;
use crate::node::{Message, MessageKind, NodeError, NodeEvent, Output};

impl Bookkeeper {
    /// A member asks for this primary's state.
    pub(super) fn on_state_request(
        &mut self,
        from: Id,
        group: Prefix,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.books.config.roster;
        if group != self.books.group || !roster.is_candidate(&group, &from) {
            let bookkeeper = roster.primary(&group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::StateRequest });
        }
        if !self.books.views.is_member(roster, &group, &from)
            && !self.books.views.is_learner(roster, &group, &from)
        {
            return Ok(()); // a candidate not seated (a late request from a former member)
        }
        if !self.books.acting && self.role.cosigning().is_some_and(|c| c.voted_for(&self.books, &from)) {
            // The candidate this member voted for is behind it: its state goes at once, as
            // of its latest replayed cycle (D-033).
            if let Some(report) = self.log().and_then(|r| r.last_attest.clone()) {
                let view = self.books.own_view();
                self.send_state(view, &report, &BTreeSet::from([from]), out);
            }
            return Ok(());
        }
        if !self.books.acting {
            return Err(self.books.not_acting());
        }
        if self.role.cosigning().is_some_and(|r| r.pending.is_some()) {
            // While its cycle waits, the chief's state is the closed one: it goes at once —
            // the release may wait for this very member's co-signature (D-033).
            if let Some(report) = self.log().and_then(|r| r.last_attest.clone()) {
                let view = self.books.own_view();
                self.send_state(view, &report, &BTreeSet::from([from]), out);
                return Ok(());
            }
        }
        if let Some(replica) = self.log_mut() {
            replica.state_wanted.insert(from);
        }
        Ok(())
    }

    /// Send `members` this primary's state as of the seal that built `report`: they take it
    /// in place of theirs and replay from there.
    pub(super) fn send_state(
        &mut self,
        view: u32,
        report: &GroupReport,
        members: &BTreeSet<Id>,
        out: &mut Vec<Output>,
    ) {
        let state_bytes = self.state_bytes();
        let state = Arc::new(self.books.snapshot(&self.role));
        let snapshot =
            StateSnapshot { group: self.books.group, view, report: report.clone(), state_bytes, state };
        for member in members {
            out.push(Output::Send { to: *member, msg: Message::State(Box::new(snapshot.clone())) });
        }
        // What the members hold now; a group of one keeps no log, and nobody to serve.
        if let Some(replica) = self.log_mut() {
            for member in members {
                replica.acked.insert(*member, report.pulse);
            }
        }
    }

    /// The encoded size of the state a snapshot carries: accounts, open halves, remembered
    /// credits and payers' last sealed transfers, waiting submissions.
    pub(super) fn state_bytes(&self) -> usize {
        const LEAF_BYTES: usize = 20 + 40;
        const SIGNED_TX_BYTES: usize = crate::ledger::TX_BODY_BYTES + 2 * (32 + 64);
        let tree = self.books.ledger.tree();
        let accounts = tree.len(tree.latest_version()).unwrap_or(0) as usize;
        accounts * LEAF_BYTES
            + (self.books.open.len() + self.books.deferred.len()) * (SIGNED_TX_BYTES + 8)
            + self.books.closed_credits.len() * (32 + 8)
            + self.books.last_sealed.len() * (20 + 8 + 32)
    }

    /// The acting primary's state: take it if it holds the group's entry of the root this
    /// member holds (so it is not older and not another history), and replay on from it.
    pub(super) fn on_state(
        &mut self,
        from: Id,
        snapshot: &StateSnapshot,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.books.config.roster;
        let (view, _) = self.books.views.acting(roster, &self.books.group);
        let awaited = self.role.cosigning().is_some_and(|r| r.awaiting_state.is_some_and(|(_, v)| v == from));
        let wanted = self.log().is_some_and(|r| r.diverged) || awaited;
        if snapshot.group != self.books.group
            || !roster.is_candidate(&self.books.group, &from)
            || snapshot.view < view
        {
            let bookkeeper = roster.primary(&snapshot.group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::State });
        }
        // Not asked for: a duplicate, or a member already resynced — unless the acting primary
        // sent it a state ahead of its own, counting it as holding that state from now on (a
        // request it kept from an earlier view of its own, D-035).
        let acting = self.books.views.acting(roster, &self.books.group).1;
        let pushed = from == acting && snapshot.report.pulse > self.books.pulse;
        if self.books.acting || !(wanted || pushed) {
            return Ok(());
        }
        let bad = NodeError::BadSnapshot { group: self.books.group };
        let state = &snapshot.state;
        state.check(self.books.group, &snapshot.report)?;
        if self.role.cosigning().is_some() {
            // A root member's own root may be one no majority co-signed (a deposed chief's
            // last cycle): it cannot judge the snapshot by it. It takes the state of the
            // acting chief, or of the voter it asked as a candidate (D-033).
            if !awaited && from != self.books.acting_chief() {
                return Err(bad);
            }
        } else if let Some((_, path)) = &self.books.root {
            let tree = state.ledger().tree();
            match tree.root(path.entry.version) {
                Ok(held) if held.synopsis == path.entry.synopsis => {}
                // Pruned from the snapshot: this member's root is older than the versions the
                // primary keeps — a member re-elected after terms away (D-035). The snapshot is
                // far newer; it comes from the member the chief names acting.
                Err(_) if tree.latest_version() > path.entry.version && from == acting => {}
                _ => return Err(bad),
            }
        }
        self.adopt(from, snapshot, out);
        Ok(())
    }

    /// Become a copy of the primary's state, as this member, and tell it (and the chief) which
    /// cycle this member now holds.
    pub(super) fn adopt(&mut self, from: Id, snapshot: &StateSnapshot, out: &mut Vec<Output>) {
        self.adopt_snapshot(from, snapshot.view, &snapshot.report, &snapshot.state);
        let report = Box::new(snapshot.report.clone());
        out.push(Output::Event(NodeEvent::Resynced { group: self.books.group, pulse: report.pulse, from }));
        let Some(root_committee) = self.role.cosigning_mut() else {
            let view = self.books.own_view();
            out.push(Output::Send {
                to: self.books.acting_chief(),
                msg: Message::Attest { report: report.clone(), view },
            });
            out.push(Output::Send { to: from, msg: Message::Attest { report, view } });
            return;
        };
        match root_committee.awaiting_state.take() {
            Some((view, _)) => root_committee.lead(&mut self.books, view, out),
            None => self.acknowledge(from, out),
        }
    }
}
