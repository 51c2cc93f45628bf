//! The chief (SPEC §6.2, §7.3; D-023): it closes each pulse — its own group sealed, the
//! arbiter's matching and root, the groups' `Settle`s, the pulse broadcast — and takes the
//! groups' reports, attested by a majority of their committees where they have backups (D-032).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::consensus::settlement::{GroupReport, ReportError};
use crate::id::{Id, Prefix};

use super::replication::report_digest;
use super::{Bookkeeper, Books, Chief, Role};
use crate::node::{Message, MessageKind, NodeError, NodeEvent, Output, SettleMsg};

impl Bookkeeper {
    pub(super) fn on_group_seal(
        &mut self,
        from: Id,
        report: &GroupReport,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let Role::Root(root) = &mut self.role else {
            return Err(NodeError::UnexpectedMessage { role: "bookkeeper", kind: MessageKind::GroupSeal });
        };
        root.chief.on_group_seal(&mut self.books, from, report, out)
    }

    /// An attestation: at the chief, a member's co-signature of its group's report; at the
    /// acting primary, a backup's acknowledgement of the cycles it replayed.
    pub(super) fn on_attest(
        &mut self,
        from: Id,
        report: &GroupReport,
        view: u32,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        self.books.check_attester(from, report)?;
        let group = report.entry.prefix;
        let Role::Root(root) = &mut self.role else {
            let books = &mut self.books;
            if let Some(replica) = books.replica.as_mut().filter(|_| books.acting && group == books.group) {
                let acked = replica.acked.entry(from).or_default();
                *acked = (*acked).max(report.pulse);
            }
            return Ok(());
        };
        root.chief.on_attest(&mut self.books, from, report, view, out)
    }
}

impl Chief {
    /// A group primary's report of its seal.
    pub(super) fn on_group_seal(
        &mut self,
        books: &mut Books,
        from: Id,
        report: &GroupReport,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let group = report.entry.prefix;
        // Fencing (D-032): only the member acting in the group's current view reports.
        let (_, primary) = books.views.acting(&books.config.roster, &group);
        if from != primary || group == Prefix::ROOT {
            return Err(NodeError::NotFromBookkeeper { bookkeeper: primary, kind: MessageKind::GroupSeal });
        }
        #[allow(unused_mut)] // changed only with fault injection
        let mut unattested = books.config.roster.backups(&group).is_empty();
        #[cfg(feature = "fault-injection")]
        {
            unattested |= books.faults.take_unattested_reports;
        }
        if unattested {
            return self.take_report(books, report.clone(), out);
        }
        self.hold_report(books, report, out)
    }

    /// A member's attestation of its group's report (the sender checked by the caller).
    pub(super) fn on_attest(
        &mut self,
        books: &mut Books,
        from: Id,
        report: &GroupReport,
        view: u32,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let group = report.entry.prefix;
        let roster = &books.config.roster;
        if view != books.views.acting(roster, &group).0 {
            // Replayed in another view — a backup that had not yet learnt of a failover
            // replaying the deposed primary's cycles: not the group's history (D-032; taken for
            // it, such an attestation made a successor of a member of another history, I4).
            return Ok(());
        }
        if !roster.has_committees() {
            return Ok(());
        }
        let committees = &mut self.committees;
        let attests = committees.attests.entry(group).or_default();
        if attests.get(&from).is_some_and(|held| held.pulse >= report.pulse) {
            return Ok(()); // stale or duplicated
        }
        attests.insert(from, report.clone());
        let mismatch = committees.held.get(&group).is_some_and(|h| h.pulse == report.pulse && h != report);
        self.try_take(books, &group, out)?;
        if mismatch {
            return Err(NodeError::AttestMismatch { group, pulse: report.pulse, member: from });
        }
        Ok(())
    }
}

impl Chief {
    /// The chief's pulse: seal its own group and report to itself, close the pulse, carry out
    /// its own group's orders at once (as a leaf primary does on `Settle`), tell parties, and
    /// send every other group its `Settle`. Returns the chief's own report.
    pub(super) fn close_chief_pulse(&mut self, books: &mut Books, out: &mut Vec<Output>) -> GroupReport {
        assert_eq!(books.group, Prefix::ROOT, "the chief keeps the root group's books");
        books.pulse += 1;
        let pulse = books.pulse;
        let closed = self.close_proposals(books, out);
        let report = books.seal(out);
        let arbiter = &mut self.arbiter;
        arbiter.report(report.clone()).expect("the chief's own report is always newer");
        let outcome = arbiter.close_pulse(pulse);
        let root = arbiter.root();
        let path = arbiter.path(&Prefix::ROOT).expect("the root group is always in the root");
        let own_orders = arbiter.orders_for(&Prefix::ROOT);
        if let Some(new_root) = outcome.new_root {
            let clears_in_transit = outcome.clears_in_transit;
            out.push(Output::Event(NodeEvent::RootBuilt { pulse, root: new_root, clears_in_transit }));
        }
        books.proven.remember(pulse, books.announced(root), &path);
        books.root = Some((root, path));
        books.carry_out(&own_orders, out);
        books.announce(out);
        if books.config.election_cycle_pulses.is_some_and(|cycle| pulse.is_multiple_of(cycle.max(1))) {
            self.elect_pools(books, out);
            self.seat_new_term(books, out);
        }
        self.seat_elected(books, out);
        self.fail_over_silent_groups(books, out);
        self.send_settles(books, out);
        books.broadcast_pulse(out);
        if !closed.is_empty() {
            // After the pulse, so that a client that follows a new chief has heard it first.
            out.push(Output::Broadcast { msg: Message::Closed { pulse, closed } });
        }
        debug_assert_eq!(
            books.root.as_ref().map(|(root, _)| root.version),
            Some(self.arbiter.root().version)
        );
        report
    }

    pub(super) fn send_settles(&self, books: &Books, out: &mut Vec<Output>) {
        let arbiter = &self.arbiter;
        let root = books.announced(arbiter.root());
        for (group, _) in books.config.roster.groups().skip(1) {
            let Some(path) = arbiter.path(&group) else { continue };
            let orders = arbiter.orders_for(&group);
            let (view, primary) = books.views.acting(&books.config.roster, &group);
            // Paired with the receiver's checks (`Books::on_settle`): its own group's path, which
            // leads to the root sent (unless a test forges the root).
            debug_assert_eq!(path.entry.prefix, group);
            let settle = SettleMsg { pulse: books.pulse, root, path, orders, view };
            out.push(Output::Send { to: primary, msg: Message::Settle(Box::new(settle)) });
        }
    }

    /// Hold the acting primary's `report` until a majority of its committee attested it.
    pub(super) fn hold_report(
        &mut self,
        books: &mut Books,
        report: &GroupReport,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let group = report.entry.prefix;
        let arbiter = &self.arbiter;
        let committees = &mut self.committees;
        let taken = arbiter.held_report(&group);
        let held = committees.held.get(&group).or(taken);
        if let Some(held) = held.filter(|h| h.pulse == report.pulse && *h != report) {
            return Err(NodeError::Equivocation { group, pulse: held.pulse });
        }
        if held.is_some_and(|h| h.pulse >= report.pulse) || taken.is_some_and(|t| t.pulse >= report.pulse) {
            return Ok(()); // stale or duplicated
        }
        let mismatch = committees.attests.get(&group).and_then(|attests| {
            attests.iter().find(|(_, a)| a.pulse == report.pulse && *a != report).map(|(id, _)| *id)
        });
        committees.held.insert(group, report.clone());
        self.try_take(books, &group, out)?;
        debug_assert!(
            self.committees.held.get(&group).is_none_or(|h| h.pulse == report.pulse),
            "the newest report is held, or taken"
        );
        match mismatch {
            Some(member) => Err(NodeError::AttestMismatch { group, pulse: report.pulse, member }),
            None => Ok(()),
        }
    }

    /// Take the held report of `group` if enough members attested it.
    pub(super) fn try_take(
        &mut self,
        books: &mut Books,
        group: &Prefix,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let committees = &mut self.committees;
        let Some(held) = committees.held.get(group) else { return Ok(()) };
        let roster = &books.config.roster;
        let attested = committees.attested(held, |id| books.views.is_member(roster, group, id));
        if attested < books.views.attestations_required(roster, group) {
            return Ok(());
        }
        let report = committees.held.remove(group).expect("just seen");
        self.take_report(books, report, out)
    }

    /// Give `report` to the arbiter.
    pub(super) fn take_report(
        &mut self,
        books: &mut Books,
        report: GroupReport,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let arbiter = &mut self.arbiter;
        let (group, pulse) = (report.entry.prefix, report.pulse);
        match arbiter.report(report) {
            Ok(()) if books.config.roster.has_committees() => {
                out.push(Output::Event(NodeEvent::ReportAttested { group, pulse }));
                Ok(())
            }
            // Two different reports for one pulse: evidence against the group's primary
            // (SPEC §8.4); the first stays.
            Err(ReportError::Equivocation { group, pulse }) => Err(NodeError::Equivocation { group, pulse }),
            // A stale report (reordered or duplicated) is expected on a lossy network: ignore it.
            _ => Ok(()),
        }
    }
}

impl Books {
    /// Only a candidate of a leaf group's committee attests its reports.
    pub(super) fn check_attester(&self, from: Id, report: &GroupReport) -> Result<(), NodeError> {
        let group = report.entry.prefix;
        let roster = &self.config.roster;
        if group == Prefix::ROOT || !roster.is_candidate(&group, &from) {
            let bookkeeper = roster.primary(&group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::Attest });
        }
        Ok(())
    }

    /// The chief's pulse broadcast: the pulse, the root and the views and seatings in effect.
    pub(super) fn broadcast_pulse(&mut self, out: &mut Vec<Output>) {
        let root = self.announced(self.root().expect("the chief holds its root"));
        let views = self.views.entries();
        if *self.announced.views != *views {
            self.announced.views = views.into();
        }
        let seatings = self.views.seatings();
        if *self.announced.seatings != *seatings {
            self.announced.seatings = seatings.into();
        }
        let (views, seatings) = (Arc::clone(&self.announced.views), Arc::clone(&self.announced.seatings));
        out.push(Output::Broadcast { msg: Message::Pulse { pulse: self.pulse, root, views, seatings } });
    }
}

/// The chief's view of the committees: attestations and reports waiting for them.
#[derive(Clone, Debug, Default)]
pub(super) struct ChiefCommittees {
    /// Per group: each member's latest attested report.
    pub(super) attests: BTreeMap<Prefix, BTreeMap<Id, GroupReport>>,
    /// Per group: the acting primary's latest report, not yet attested by a majority.
    pub(super) held: BTreeMap<Prefix, GroupReport>,
    /// Per group: the pulse its current view began (a new primary gets a full timeout).
    pub(super) view_since: BTreeMap<Prefix, u64>,
}

impl ChiefCommittees {
    /// How many members (those `is_member` accepts) attested exactly `report` (a learner's or
    /// a former member's attestation does not count, D-035).
    pub(super) fn attested(&self, report: &GroupReport, is_member: impl Fn(&Id) -> bool) -> usize {
        self.attests
            .get(&report.entry.prefix)
            .map_or(0, |a| a.iter().filter(|(id, r)| *r == report && is_member(id)).count())
    }

    /// The latest pulse `member` of `group` attested (0: none).
    pub(super) fn attested_pulse(&self, group: &Prefix, member: &Id) -> u64 {
        self.attests.get(group).and_then(|a| a.get(member)).map_or(0, |r| r.pulse)
    }

    /// Whether `member` of `group` holds the state of the report the chief took (`taken`):
    /// it acts as the group's primary (`acting`), or its attestations reach that report. The
    /// rule for handing the primary's seat to a member at a term boundary and for putting an
    /// elected committee in effect (D-032, D-035).
    pub(super) fn holds_taken(&self, group: &Prefix, member: &Id, acting: &Id, taken: u64) -> bool {
        member == acting || self.attested_pulse(group, member) >= taken
    }

    /// The chief moves `entry.group`'s primary seat to `entry.primary` at `pulse`: a new view
    /// in `views` (which the chief announces), a full timeout for the new primary, and the old
    /// primary's unattested report dropped.
    pub(super) fn begin_view(
        &mut self,
        views: &mut crate::node::roster::Views,
        entry: crate::node::roster::ViewEntry,
        pulse: u64,
    ) {
        views.learn(&[entry]);
        self.view_since.insert(entry.group, pulse);
        self.held.remove(&entry.group);
    }

    /// Digest of the state that decides what the chief does next.
    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        for (group, attests) in &self.attests {
            hasher.update(&group.bits().0);
            for (id, report) in attests {
                hasher.update(&id.0);
                hasher.update(&report_digest(report).0);
            }
        }
        for report in self.held.values() {
            hasher.update(&report_digest(report).0);
        }
        for (group, since) in &self.view_since {
            hasher.update(&group.bits().0);
            hasher.update(&since.to_le_bytes());
        }
    }
}
