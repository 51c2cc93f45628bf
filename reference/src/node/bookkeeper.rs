//! A group's primary bookkeeper (SPEC §6.2, §7.3; D-023). It keeps the ledger of its group's
//! accounts: a transfer between two of them applies at once; a transfer to another group is
//! applied as a debit half here and a credit half at the payee's group. On every `Settle` from
//! the chief it carries out the chief's orders (clear or reverse halves), tells parties whose
//! transfer a root now covers, seals, and reports its synopsis and pending halves upward. The
//! root group's primary — the chief — does the same on its own pulse timer and also runs the
//! [`Arbiter`] that matches halves and builds the root.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::consensus::capacity::{Capacity, CapacityError};
use crate::consensus::root::{AccountProof, GroupEntry, GroupPath};
use crate::consensus::settlement::{Arbiter, GroupReport, Order, PendingHalf, ReportError};
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};
use crate::ledger::{Applied, Half, Ledger, LedgerError, Settlement, SignedTx, Tx};
use crate::smt::{RootSynopsis, Version};

use super::committee::{ChiefCommittees, ClosedPulse, Replication, RootCommittee, report_digest};
use super::message::{ReplicaBatch, ReplicaCycle, StateSnapshot};
use super::roster::{Seating, ViewEntry, Views};
use super::{
    Message, MessageKind, NodeConfig, NodeError, NodeEvent, Output, SettleMsg, SharedVerifier, Timer,
    unexpected,
};

/// A half applied here and not yet settled.
#[derive(Clone, Copy, Debug)]
struct OpenHalf {
    half: Half,
    signed: SignedTx,
    counterpart: Prefix,
    /// The version that sealed it (`None` while in the unsealed cycle).
    sealed_in: Option<Version>,
}

/// A party to tell, once a root covers `version`, that transfer `tx_id` is committed.
#[derive(Clone, Copy, Debug)]
struct Notice {
    version: Version,
    tx_id: Hash32,
    party: Id,
}

/// The bookkeeper's state.
#[derive(Clone)]
pub struct Bookkeeper {
    id: Id,
    group: Prefix,
    ledger: Ledger,
    verifier: SharedVerifier,
    config: NodeConfig,
    pulse: u64,
    /// The newest root received (the chief's own for the chief) and this group's path in it.
    root: Option<(RootSynopsis, GroupPath)>,
    /// Each payer's latest sealed transfer `(nonce, id)`, so that a retried submission of a
    /// transfer already committed is answered with its commit again instead of a nonce error.
    last_sealed: FxHashMap<Id, (u64, Hash32)>,
    /// Ids of the transfers applied in the current cycle; they are announced after the seal.
    unsealed_ids: FxHashSet<Hash32>,
    /// Cross-group halves applied here and not settled, by transfer id.
    open: BTreeMap<Hash32, OpenHalf>,
    /// Settled or refused credit halves → the transfer's `created_pulse`, so that a duplicated
    /// credit half is not applied again; forgotten once older than the credit horizon.
    closed_credits: BTreeMap<Hash32, u64>,
    notices: Vec<Notice>,
    /// This cycle's credits and settlements, for the `Sealed` event.
    credited: Vec<Applied>,
    settled: Vec<(Hash32, Half, Settlement)>,
    /// Settlements carried out since the last seal, with their transfers. Only the chief has
    /// any between calls: it carries out its own group's orders after sealing, so a restart
    /// without the unsealed cycle must carry them out again — the arbiter counts them done.
    unsealed_settlements: Vec<(Hash32, Half, Tx, Settlement)>,
    chief: Option<Box<Arbiter>>,
    /// A candidate without a seat (a standby, or a member the last election left out) gets no
    /// `Settle`: it follows the root in the chief's pulses, as a client does (D-035).
    heard_root: Option<RootSynopsis>,
    /// The view and seating lists of the last pulse: the chief's as it sent them, any other
    /// node's as it learnt them. The chief resends the same lists until they change, so a
    /// node that holds them skips them (every node hears every pulse; comparing the lists
    /// entry by entry cost more than the rest of the pulse).
    announced: Announced,
    /// This version's capacity (SPEC §6.5), when the primary has a bounded deposit.
    capacity: Option<Capacity>,
    /// Submissions that did not fit this version's capacity, in arrival order: they wait for
    /// the next version (D-031).
    deferred: VecDeque<SignedTx>,
    /// Whether this member acts as its group's primary; a backup replays instead (D-032).
    acting: bool,
    /// The group views this node knows of (authoritative at the chief).
    views: Views,
    /// Replication within the committee, when the group has backups (D-032).
    replica: Option<Box<Replication>>,
    /// The chief's attestations and failover bookkeeping, when the roster runs committees.
    committees: Option<Box<ChiefCommittees>>,
    /// Co-signing of the chief's pulses and its election, when the root group has backups
    /// (D-033).
    root_committee: Option<Box<RootCommittee>>,
    /// True only while a backup replays a cycle, whose outputs are dropped: work that only
    /// builds outputs (commit proofs) is skipped. Never true between calls.
    replaying: bool,
    #[cfg(feature = "fault-injection")]
    faults: super::NodeFaults,
}

impl Bookkeeper {
    pub(super) fn new(
        id: Id,
        ledger: Ledger,
        verifier: SharedVerifier,
        config: NodeConfig,
        chief: Option<Arbiter>,
    ) -> Bookkeeper {
        let roster = &config.roster;
        let group =
            if chief.is_some() { Prefix::ROOT } else { roster.seat_of(&id).unwrap_or(roster.group_of(&id)) };
        let root = chief.as_ref().and_then(|a| a.path(&group).map(|p| (a.root(), p)));
        let capacity = config.bookkeeper_deposit.map(Capacity::new);
        // A root committee member is built with an arbiter like the chief: it replays the
        // chief's cycles through the same code (D-033).
        let acting = roster.primary(&group) == id;
        let replica = (!roster.backups(&group).is_empty()).then(Box::default);
        let committees = (chief.is_some() && roster.has_committees()).then(Box::default);
        let root_committee = (group == Prefix::ROOT && !roster.backups(&group).is_empty()).then(Box::default);
        Bookkeeper {
            id,
            group,
            ledger,
            verifier,
            config,
            pulse: 0,
            root,
            last_sealed: FxHashMap::default(),
            unsealed_ids: FxHashSet::default(),
            open: BTreeMap::new(),
            closed_credits: BTreeMap::new(),
            notices: Vec::new(),
            credited: Vec::new(),
            settled: Vec::new(),
            unsealed_settlements: Vec::new(),
            chief: chief.map(Box::new),
            heard_root: None,
            announced: Announced::default(),
            capacity,
            deferred: VecDeque::new(),
            acting,
            views: Views::default(),
            replica,
            committees,
            root_committee,
            replaying: false,
            #[cfg(feature = "fault-injection")]
            faults: super::NodeFaults::default(),
        }
    }

    pub(super) fn id(&self) -> Id {
        self.id
    }

    pub(super) fn pulse(&self) -> u64 {
        self.pulse
    }

    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The group this bookkeeper keeps.
    pub(super) fn group(&self) -> Prefix {
        self.group
    }

    /// The chief's arbiter, if this is the chief.
    pub(super) fn arbiter(&self) -> Option<&Arbiter> {
        self.chief.as_deref()
    }

    /// Everything that determines what the bookkeeper does next.
    pub(super) fn fingerprint(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        let sealed = self.sealed_root();
        hasher.update(&sealed.version.to_le_bytes());
        hasher.update(&sealed.synopsis.hash.0);
        hasher.update(&self.pulse.to_le_bytes());
        if let Some((root, _)) = &self.root {
            hasher.update(&root.version.to_le_bytes());
            hasher.update(&root.synopsis.hash.0);
        }
        for applied in self.ledger.journal() {
            hasher.update(&applied.id.0);
        }
        let mut last_sealed: Vec<_> = self.last_sealed.iter().collect();
        last_sealed.sort_unstable();
        for (payer, (nonce, id)) in last_sealed {
            hasher.update(&payer.0);
            hasher.update(&nonce.to_le_bytes());
            hasher.update(&id.0);
        }
        for (id, open) in &self.open {
            hasher.update(&id.0);
            hasher.update(&[open.half as u8, u8::from(open.sealed_in.is_some())]);
        }
        for id in self.closed_credits.keys() {
            hasher.update(&id.0);
        }
        for notice in &self.notices {
            hasher.update(&notice.tx_id.0);
            hasher.update(&notice.party.0);
        }
        for (tx_id, half, _, how) in &self.unsealed_settlements {
            hasher.update(&tx_id.0);
            hasher.update(&[*half as u8, *how as u8]);
        }
        if let Some(arbiter) = &self.chief {
            hasher.update(&arbiter.fingerprint().0);
        }
        // Only a bounded primary has this state; unbounded ones keep their old fingerprint.
        if let Some(capacity) = &self.capacity {
            hasher.update(&capacity.used().to_le_bytes());
            for signed in &self.deferred {
                hasher.update(&signed.tx.id().0);
            }
        }
        // Likewise only a roster with committees has views, replication and attestations.
        if self.config.roster.has_committees() {
            hasher.update(&[u8::from(self.acting)]);
            for entry in self.views.entries() {
                hasher.update(&entry.view.to_le_bytes());
                hasher.update(&entry.primary.0);
            }
            if self.config.roster.has_pools() {
                if let Some(heard) = &self.heard_root {
                    hasher.update(&heard.version.to_le_bytes());
                }
                for seating in self.views.seatings() {
                    hasher.update(&seating.term.to_le_bytes());
                    hasher.update(&[u8::from(seating.in_effect)]);
                    for id in &seating.seats {
                        hasher.update(&id.0);
                    }
                }
            }
            if let Some(replica) = &self.replica {
                replica.fingerprint(&mut hasher);
            }
            if let Some(committees) = &self.committees {
                committees.fingerprint(&mut hasher);
            }
            if let Some(root_committee) = &self.root_committee {
                root_committee.fingerprint(&mut hasher);
            }
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    /// The latest sealed version of this group's ledger.
    fn sealed_root(&self) -> RootSynopsis {
        let tree = self.ledger.tree();
        // The latest sealed version is always held: pruning keeps at least one version.
        tree.root(tree.latest_version()).expect("the latest version is held")
    }

    /// The newest organization root this node holds.
    pub(super) fn root(&self) -> Option<RootSynopsis> {
        let settled = self.root.as_ref().map(|(root, _)| *root);
        match (settled, self.heard_root) {
            (Some(settled), Some(heard)) if heard.version > settled.version => Some(heard),
            (None, heard) => heard,
            (settled, _) => settled,
        }
    }

    pub(super) fn start(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        if self.chief.is_some() {
            out.push(Output::SetTimer {
                at_ms: now_ms.saturating_add(self.config.pulse_ms),
                timer: Timer::Pulse,
            });
        }
    }

    /// Sealed versions are durable (SPEC §5.2: data becomes read-only at the pulse); the
    /// unsealed cycle survives only a durable restart (D-011). Halves applied in a lost cycle
    /// are forgotten with it: the chief never saw them, so no order names them.
    pub(super) fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        if !durable {
            self.drop_unsealed();
        }
        self.start(now_ms, out);
    }

    /// Forget the unsealed cycle: what was applied since the last seal and what waits.
    fn drop_unsealed(&mut self) {
        self.ledger.discard_unsealed();
        self.unsealed_ids.clear();
        self.open.retain(|_, open| open.sealed_in.is_some());
        self.credited.clear();
        // The chief's own orders of the last pulse: its arbiter counts them carried out.
        self.settled.clear();
        for (tx_id, half, tx, how) in self.unsealed_settlements.clone() {
            if self.ledger.settle(half, &tx, how).is_ok() {
                self.settled.push((tx_id, half, how));
            }
        }
        // The waiting submissions were never applied; their payers retry.
        self.deferred.clear();
        if let Some(capacity) = &mut self.capacity {
            *capacity = Capacity::new(capacity.deposit());
        }
        if let Some(replica) = &mut self.replica {
            replica.current.clear();
        }
    }

    pub(super) fn handle_message(&mut self, from: Id, msg: &Message, out: &mut Vec<Output>) {
        let result = match msg {
            Message::Submit(_) | Message::CreditHalf(_) if !self.acting => Err(self.not_acting()),
            Message::Submit(_) | Message::CreditHalf(_) | Message::GroupSeal(_) | Message::Attest { .. }
                if self.root_committee.as_ref().is_some_and(|r| r.pending.is_some()) =>
            {
                // The cycle waits for co-signatures: the next one's inputs wait for it (D-033).
                let root_committee = self.root_committee.as_mut().expect("just checked");
                root_committee.buffered.push((from, msg.clone()));
                Ok(())
            }
            Message::Submit(signed) => {
                self.record(from, msg);
                self.on_submit(signed, out);
                Ok(())
            }
            Message::CreditHalf(signed) => {
                self.record(from, msg);
                self.on_credit_half(from, signed)
            }
            Message::Settle(settle) => self.on_direct_settle(from, settle, msg, out),
            Message::GroupSeal(_) | Message::Attest { .. } if self.is_root_backup() => Err(self.not_acting()),
            Message::GroupSeal(report) => {
                self.record_at_chief(from, msg);
                self.in_cycle(out, |node, out| node.on_group_seal(from, report, out))
            }
            Message::Attest { report, view } => {
                self.record_at_chief(from, msg);
                self.in_cycle(out, |node, out| node.on_attest(from, report, *view, out))
            }
            Message::Replicate(batch) => self.on_replicate(from, batch, out),
            Message::StateRequest { group } => self.on_state_request(from, *group, out),
            Message::State(snapshot) => self.on_state(from, snapshot, out),
            Message::CoSign { pulse, view, digest } => self.on_cosign(from, *pulse, *view, *digest, out),
            Message::ViewChange { view, pulse } => self.on_view_change(from, *view, *pulse, out),
            // Every node hears the chief's pulse broadcast; a bookkeeper follows `Settle` for the
            // pulse and learns the groups' views from it.
            Message::Pulse { pulse, views, seatings, root }
                if self.views.is_chief_pulse(&self.config.roster, &from, views) =>
            {
                self.heard_chief(Some(*pulse));
                if !self.announced.holds(views, seatings) {
                    self.learn_seatings(seatings, out);
                    self.learn_views(views, out);
                    self.announced = Announced { views: Arc::clone(views), seatings: Arc::clone(seatings) };
                }
                self.hear_root(root);
                Ok(())
            }
            _ => {
                out.push(unexpected("bookkeeper", from, msg));
                Ok(())
            }
        };
        if let Err(error) = result {
            out.push(Output::Event(NodeEvent::BadMessage { from, error }));
        }
    }

    pub(super) fn handle_timer(&mut self, now_ms: u64, timer: Timer, out: &mut Vec<Output>) {
        if timer == Timer::Pulse && self.chief.is_some() {
            if self.acting {
                self.on_chief_timer(out);
            } else {
                self.watch_chief(out);
            }
            out.push(Output::SetTimer {
                at_ms: now_ms.saturating_add(self.config.pulse_ms),
                timer: Timer::Pulse,
            });
        }
    }

    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_faults(&mut self, faults: super::NodeFaults) {
        self.faults = faults;
    }

    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_ledger_faults(&mut self, faults: crate::ledger::LedgerFaults) {
        self.ledger.inject_faults(faults);
    }

    // ----- transfers --------------------------------------------------------------------

    fn on_submit(&mut self, signed: &SignedTx, out: &mut Vec<Output>) {
        let tx_id = signed.tx.id();
        if self.unsealed_ids.contains(&tx_id) || self.open.contains_key(&tx_id) {
            return; // a retry of a transfer under way: its outcome goes out when it is known
        }
        if self.last_sealed.get(&signed.tx.from) == Some(&(signed.tx.from_nonce, tx_id)) {
            self.recommit(tx_id, signed, out);
            return;
        }
        if self.deferred.iter().any(|d| d.tx.id() == tx_id) {
            return; // a retry of a transfer waiting for capacity
        }
        if !self.within_capacity(signed, tx_id, out) {
            return;
        }
        self.apply_submission(signed, tx_id, out);
    }

    /// Whether this version's capacity takes `signed` (SPEC §6.5); if not, it waits for the
    /// next version, or — larger than the whole deposit — is refused.
    fn within_capacity(&mut self, signed: &SignedTx, tx_id: Hash32, out: &mut Vec<Output>) -> bool {
        let Some(capacity) = &self.capacity else { return true };
        #[cfg(feature = "fault-injection")]
        if self.faults.skip_capacity {
            return true;
        }
        // First come, first served: while anything waits, a newcomer waits behind it (else a
        // stream of small transfers could starve a large one for ever).
        let waiting = !self.deferred.is_empty();
        match capacity.check(signed.tx.amount) {
            Ok(()) if !waiting => true,
            Ok(()) | Err(CapacityError::Exceeded { .. }) => {
                self.deferred.push_back(*signed);
                out.push(Output::Event(NodeEvent::Deferred { tx_id }));
                false
            }
            Err(CapacityError::NeverCovered { deposit, amount }) => {
                out.push(reject(signed, tx_id, LedgerError::BeyondCapacity { deposit, amount }));
                false
            }
        }
    }

    /// Apply a submission: a whole transfer within the group, or the debit half of one to
    /// another group (whose credit half goes to the payee's primary).
    fn apply_submission(&mut self, signed: &SignedTx, tx_id: Hash32, out: &mut Vec<Output>) {
        let counterpart = self.config.roster.group_of(&signed.tx.to);
        if counterpart == self.group {
            match self.ledger.apply(signed, &*self.verifier) {
                Ok(applied) => {
                    self.unsealed_ids.insert(applied.id);
                    self.use_capacity(signed.tx.amount);
                }
                Err(error) => out.push(reject(signed, tx_id, error)),
            }
            return;
        }
        match self.ledger.apply_debit(signed, &*self.verifier) {
            Ok(applied) => {
                self.unsealed_ids.insert(applied.id);
                self.use_capacity(signed.tx.amount);
                let open = OpenHalf { half: Half::Debit, signed: *signed, counterpart, sealed_in: None };
                self.open.insert(tx_id, open);
                let (_, to) = self.views.acting(&self.config.roster, &counterpart);
                out.push(Output::Send { to, msg: Message::CreditHalf(Box::new(*signed)) });
            }
            Err(error) => out.push(reject(signed, tx_id, error)),
        }
    }

    fn use_capacity(&mut self, amount: u64) {
        if let Some(capacity) = &mut self.capacity {
            // Checked before applying, except under the test-only `skip_capacity` fault.
            let _ = capacity.reserve(amount);
        }
    }

    /// The version is sealed: a fresh capacity, and the waiting submissions go first, in
    /// order, as far as it reaches (the rest wait again).
    fn resume_deferred(&mut self, out: &mut Vec<Output>) {
        let Some(capacity) = &mut self.capacity else { return };
        capacity.seal();
        let waiting = std::mem::take(&mut self.deferred);
        let mut full = false;
        for signed in waiting {
            let tx_id = signed.tx.id();
            let fits = !full && self.capacity.as_ref().is_some_and(|c| c.check(signed.tx.amount).is_ok());
            if fits {
                self.apply_submission(&signed, tx_id, out);
            } else {
                // First come, first served: once one waits, the later ones wait behind it.
                full = true;
                self.deferred.push_back(signed);
            }
        }
    }

    /// A retried submission of a committed transfer: send the commit again, with the newest
    /// root, if the transfer was not reversed since.
    fn recommit(&self, tx_id: Hash32, signed: &SignedTx, out: &mut Vec<Output>) {
        let Some((root, path)) = self.root.as_ref().filter(|_| !self.replaying) else { return };
        let party = signed.tx.from;
        if let Some(msg) = self.commit_message(tx_id, party, root, path) {
            out.push(Output::Send { to: party, msg });
        }
    }

    fn on_credit_half(&mut self, from: Id, signed: &SignedTx) -> Result<(), NodeError> {
        // Any member of the payer's committee may act as its primary: the check must not depend
        // on views, which backups replaying this input may not share (D-032).
        let roster = &self.config.roster;
        let payer_group = roster.group_of(&signed.tx.from);
        if !roster.is_candidate(&payer_group, &from) {
            return Err(NodeError::NotFromBookkeeper {
                bookkeeper: roster.primary(&payer_group),
                kind: MessageKind::CreditHalf,
            });
        }
        let tx_id = signed.tx.id();
        if self.open.contains_key(&tx_id) || self.closed_credits.contains_key(&tx_id) {
            return Ok(()); // a duplicate
        }
        // Saturating: `created_pulse` is the payer's word; a far-future one is not "too old".
        if signed.tx.created_pulse.saturating_add(self.credit_horizon_pulses()) < self.pulse {
            // Too old to be matched: the chief has aborted its debit, or will.
            self.closed_credits.insert(tx_id, signed.tx.created_pulse);
            return Err(NodeError::BadCredit(LedgerError::TimedOut));
        }
        self.ledger.apply_credit(signed, &*self.verifier).map_err(NodeError::BadCredit)?;
        let counterpart = self.config.roster.group_of(&signed.tx.from);
        self.open
            .insert(tx_id, OpenHalf { half: Half::Credit, signed: *signed, counterpart, sealed_in: None });
        self.credited.push(Applied { id: tx_id, signed: *signed });
        Ok(())
    }

    fn credit_horizon_pulses(&self) -> u64 {
        super::credit_horizon_pulses(self.config.transfer_timeout_pulses)
    }

    // ----- the pulse cycle --------------------------------------------------------------

    /// Carry out a `Settle`: orders, notices, the seal. Returns the report for the chief, or
    /// `None` for a duplicated or reordered `Settle`.
    fn on_settle(
        &mut self,
        from: Id,
        settle: &SettleMsg,
        out: &mut Vec<Output>,
    ) -> Result<Option<GroupReport>, NodeError> {
        // Any member of the root committee may be the chief; a deposed one cannot release a
        // `Settle`, as its co-signers left its view (D-033).
        let roster = &self.config.roster;
        if !roster.is_member(&Prefix::ROOT, &from) {
            let bookkeeper = self.views.acting(roster, &Prefix::ROOT).1;
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::Settle });
        }
        if settle.path.entry.prefix != self.group {
            return Err(NodeError::WrongGroupPath);
        }
        settle.path.verify(&settle.root).map_err(|_| NodeError::WrongGroupPath)?;
        if settle.pulse <= self.pulse {
            return Ok(None); // a duplicated or reordered settle: its orders were carried out
        }
        self.pulse = settle.pulse;
        if self.root.as_ref().is_none_or(|(held, _)| settle.root.version >= held.version) {
            self.root = Some((settle.root, settle.path.clone()));
        }
        self.carry_out(&settle.orders, out);
        self.announce(out);
        Ok(Some(self.seal(out)))
    }

    fn on_group_seal(
        &mut self,
        from: Id,
        report: &GroupReport,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        if self.chief.is_none() {
            return Err(NodeError::UnexpectedMessage { role: "bookkeeper", kind: MessageKind::GroupSeal });
        }
        let group = report.entry.prefix;
        // Fencing (D-032): only the member acting in the group's current view reports.
        let (_, primary) = self.views.acting(&self.config.roster, &group);
        if from != primary || group == Prefix::ROOT {
            return Err(NodeError::NotFromBookkeeper { bookkeeper: primary, kind: MessageKind::GroupSeal });
        }
        #[allow(unused_mut)] // changed only with fault injection
        let mut unattested = self.config.roster.backups(&group).is_empty();
        #[cfg(feature = "fault-injection")]
        {
            unattested |= self.faults.take_unattested_reports;
        }
        if unattested {
            return self.take_report(report.clone(), out);
        }
        self.hold_report(report, out)
    }

    /// Give `report` to the arbiter.
    fn take_report(&mut self, report: GroupReport, out: &mut Vec<Output>) -> Result<(), NodeError> {
        let arbiter = self.chief.as_mut().expect("only the chief takes reports");
        let (group, pulse) = (report.entry.prefix, report.pulse);
        match arbiter.report(report) {
            Ok(()) if self.committees.is_some() => {
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

    /// The acting chief's pulse timer. Without a root committee the pulse closes and goes out at
    /// once. With one, the closed cycle goes to the root backups first, and its outputs wait
    /// until a majority of the committee co-signed it (SPEC §5.2, D-033); while they wait the
    /// chief starts no new pulse and repeats the cycle to the backups that did not co-sign.
    fn on_chief_timer(&mut self, out: &mut Vec<Output>) {
        let Some(root_committee) = self.root_committee.as_mut() else {
            self.close_chief_pulse(out);
            return;
        };
        if root_committee.pending.is_some() {
            root_committee.stalled_ticks += 1;
            self.send_root_batches(out);
            return;
        }
        let before_pulse = self.pulse;
        let mut held = std::mem::take(&mut root_committee.cycle_events);
        let report = self.close_chief_pulse(&mut held);
        let digest = self.root_cycle_digest();
        let replica = self.replica.as_mut().expect("a root committee replicates");
        let inputs = std::mem::take(&mut replica.current);
        let pulse = self.pulse;
        replica.push(Arc::new(ReplicaCycle { before_pulse, pulse, inputs, report_digest: digest }));
        replica.last_attest = Some(report.clone());
        let wanted = std::mem::take(&mut replica.state_wanted);
        let closed = ClosedPulse { pulse, digest, outputs: held, cosigners: BTreeSet::new() };
        let root_committee = self.root_committee.as_mut().expect("checked above");
        root_committee.pending = Some(closed);
        root_committee.stalled_ticks = 0;
        if !wanted.is_empty() {
            let view = self.own_view();
            self.send_state(view, &report, &wanted, out);
        }
        #[cfg(feature = "fault-injection")]
        if self.faults.release_uncosigned {
            self.release(out);
        }
        self.send_root_batches(out);
    }

    /// Send each root backup the chief's cycles it has not co-signed.
    fn send_root_batches(&self, out: &mut Vec<Output>) {
        let replica = self.replica.as_ref().expect("a root committee replicates");
        let view = self.own_view();
        for member in self.config.roster.committee(&Prefix::ROOT).filter(|m| *m != self.id) {
            let cycles = replica.unacked(&member, super::committee::ROOT_BATCH_CYCLES);
            let batch = ReplicaBatch { group: Prefix::ROOT, view, cycles };
            out.push(Output::Send { to: member, msg: Message::Replicate(Box::new(batch)) });
        }
    }

    /// What a replay of the chief's cycle must rebuild: the pulse, the root, the arbiter's
    /// whole state, the chief's own ledger and the groups' views.
    fn root_cycle_digest(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.pulse.to_le_bytes());
        if let Some(arbiter) = &self.chief {
            hasher.update(&arbiter.fingerprint().0);
        }
        hasher.update(&self.sealed_root().synopsis.hash.0);
        for entry in self.views.entries().iter().filter(|e| e.group != Prefix::ROOT) {
            hasher.update(&entry.group.bits().0);
            hasher.update(&entry.view.to_le_bytes());
            hasher.update(&entry.primary.0);
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    /// The acting chief sends what its co-signed cycle released.
    fn release(&mut self, out: &mut Vec<Output>) {
        let Some(root_committee) = self.root_committee.as_mut() else { return };
        let Some(closed) = root_committee.pending.take() else { return };
        let buffered = std::mem::take(&mut root_committee.buffered);
        out.extend(closed.outputs);
        for (from, msg) in buffered {
            self.handle_message(from, &msg, out);
        }
    }

    /// A root backup's co-signature of the acting chief's cycle for `pulse`.
    fn on_cosign(
        &mut self,
        from: Id,
        pulse: u64,
        view: u32,
        digest: Hash32,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.config.roster;
        if self.root_committee.is_none() || !roster.is_member(&Prefix::ROOT, &from) || from == self.id {
            let bookkeeper = self.acting_chief();
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::CoSign });
        }
        if !self.acting || view != self.own_view() {
            return Ok(()); // late: this member no longer acts in that view
        }
        let replica = self.replica.as_mut().expect("a root committee replicates");
        let acked = replica.acked.entry(from).or_default();
        *acked = (*acked).max(pulse);
        if replica.log.back().is_some_and(|latest| latest.pulse > pulse) {
            // Behind: the next window goes at once rather than at the next pulse period, so
            // that a member catching up is not taken for a silent chief's victim.
            let cycles = replica.unacked(&from, super::committee::ROOT_BATCH_CYCLES);
            let batch = ReplicaBatch { group: Prefix::ROOT, view, cycles };
            out.push(Output::Send { to: from, msg: Message::Replicate(Box::new(batch)) });
        }
        let required = roster.attestations_required(&Prefix::ROOT);
        let root_committee = self.root_committee.as_mut().expect("checked above");
        let Some(pending) = root_committee.pending.as_mut().filter(|p| p.pulse == pulse) else {
            return Ok(()); // an earlier cycle, already released
        };
        if pending.digest != digest {
            return Err(NodeError::AttestMismatch { group: Prefix::ROOT, pulse, member: from });
        }
        pending.cosigners.insert(from);
        if pending.cosigners.len() >= required {
            self.release(out);
        }
        Ok(())
    }

    /// The chief's pulse: seal its own group and report to itself, close the pulse, carry out
    /// its own group's orders at once (as a leaf primary does on `Settle`), tell parties, and
    /// send every other group its `Settle`. Returns the chief's own report.
    fn close_chief_pulse(&mut self, out: &mut Vec<Output>) -> GroupReport {
        self.pulse += 1;
        let pulse = self.pulse;
        let report = self.seal(out);
        let arbiter = self.chief.as_mut().expect("only the chief has a pulse timer");
        arbiter.report(report.clone()).expect("the chief's own report is always newer");
        let outcome = arbiter.close_pulse(pulse);
        let root = arbiter.root();
        let path = arbiter.path(&Prefix::ROOT).expect("the root group is always in the root");
        let own_orders = arbiter.orders_for(&Prefix::ROOT);
        if let Some(new_root) = outcome.new_root {
            let clears_in_transit = outcome.clears_in_transit;
            out.push(Output::Event(NodeEvent::RootBuilt { pulse, root: new_root, clears_in_transit }));
        }
        self.root = Some((root, path));
        self.carry_out(&own_orders, out);
        self.announce(out);
        if self.config.election_cycle_pulses.is_some_and(|cycle| pulse.is_multiple_of(cycle.max(1))) {
            self.elect_pools(out);
            self.seat_new_term(out);
        }
        self.seat_elected(out);
        self.fail_over_silent_groups(out);
        self.send_settles(out);
        self.broadcast_pulse(out);
        report
    }

    fn broadcast_pulse(&mut self, out: &mut Vec<Output>) {
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

    /// Fail over every group with backups whose reports have not been taken for
    /// `failover_timeout_pulses` pulses (SPEC §6.4, D-032): the next member, in committee order
    /// after the acting one, whose attestations reach the taken report acts from the next view.
    /// A member that never attested qualifies only while the taken report is the genesis one.
    fn fail_over_silent_groups(&mut self, out: &mut Vec<Output>) {
        let blind = self.blind_failover();
        let Some(committees) = self.committees.as_mut() else { return };
        let arbiter = self.chief.as_ref().expect("only the chief fails groups over");
        let roster = &self.config.roster;
        let pulse = self.pulse;
        for (group, _) in roster.groups().skip(1) {
            if roster.backups(&group).is_empty() {
                continue;
            }
            let taken = arbiter.held_report(&group).map_or(0, |r| r.pulse);
            let since = committees.view_since.get(&group).copied().unwrap_or(0);
            if pulse.saturating_sub(taken.max(since)) <= self.config.failover_timeout_pulses {
                continue;
            }
            let (view, from) = self.views.acting(roster, &group);
            let members = self.views.committee(roster, &group);
            let at = members.iter().position(|m| *m == from).unwrap_or(0);
            // The most advanced member holding the taken state, the first in committee order
            // after the acting one among equals: members behind it catch up by replay, and
            // fewer are ahead of it (whose cycles the chief never took) to resync.
            let candidates = (1..members.len()).map(|k| members[(at + k) % members.len()]);
            let next = candidates
                .map(|m| (committees.attested_pulse(&group, &m), m))
                .filter(|(attested, _)| *attested >= taken || blind)
                .fold(None, |best: Option<(u64, Id)>, (attested, m)| match best {
                    Some((b, _)) if b >= attested => best,
                    _ => Some((attested, m)),
                })
                .map(|(_, m)| m);
            let Some(to) = next else { continue };
            let view = view + 1;
            committees.begin_view(&mut self.views, ViewEntry { group, view, primary: to }, pulse);
            out.push(Output::Event(NodeEvent::FailedOver { pulse, group, view, from, to }));
        }
    }

    /// Whether the test-only `fail_over_blindly` fault is on.
    fn blind_failover(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        if self.faults.fail_over_blindly {
            return true;
        }
        false
    }

    /// The committee of `group` as this node knows it.
    pub(super) fn committee_of(&self, group: &Prefix) -> Vec<Id> {
        self.views.committee(&self.config.roster, group)
    }

    /// This node's view of `group`.
    pub(super) fn view_of(&self, group: &Prefix) -> (u32, Id) {
        self.views.acting(&self.config.roster, group)
    }

    /// A new term: seat every leaf committee by the election beacon over the latest root (SPEC
    /// §6.3, `consensus::election::elect_group` with the committee as the pool), so that no
    /// member keeps the primary's seat by choice. The member seated first takes it if it holds
    /// the taken state (attested at least the taken report); else the first that does, in the
    /// seated order; the acting member always does (D-032).
    fn seat_new_term(&mut self, out: &mut Vec<Output>) {
        use crate::consensus::election::{ElectionParams, elect_group};
        let blind = self.blind_failover();
        let Some(committees) = self.committees.as_mut() else { return };
        let arbiter = self.chief.as_ref().expect("only the chief seats terms");
        let roster = &self.config.roster;
        let root_hash = arbiter.root().synopsis.hash;
        let (pulse, cycle) = (self.pulse, self.config.election_cycle_pulses.unwrap_or(1).max(1));
        for (group, _) in roster.groups().skip(1) {
            let members: Vec<Id> = roster.committee(&group).collect();
            if members.len() < 2 || !roster.pool(&group).is_empty() {
                continue; // a group with a pool is elected by `elect_pools`
            }
            let votes = members.iter().map(|m| (*m, 1)).collect();
            let params =
                ElectionParams { backups: members.len() - 1, pool_factor: 1, deposit_min: 0, trust_min: 0.0 };
            let mut seated = BTreeSet::new();
            let Ok(seats) = elect_group(group, &votes, &CommitteeMembers, &params, &root_hash, &mut seated)
            else {
                continue;
            };
            let (view, from) = self.views.acting(roster, &group);
            let taken = arbiter.held_report(&group).map_or(0, |r| r.pulse);
            let holds = |m: &Id| blind || committees.holds_taken(&group, m, &from, taken);
            let Some(to) = seats.seats().copied().find(holds) else { continue };
            if to == from {
                continue;
            }
            let view = view + 1;
            committees.begin_view(&mut self.views, ViewEntry { group, view, primary: to }, pulse);
            let term = pulse / cycle;
            out.push(Output::Event(NodeEvent::Reseated { pulse, term, group, view, from, to }));
        }
    }

    /// A new term in the groups elected from a pool (SPEC §6.3, D-035): each pool's candidates
    /// stand with their votes and deposits, the most-voted eligible ones form the election
    /// pool, the beacon over the latest root seats the committee. The elected committee takes
    /// the group's state while the one before keeps the books ([`Self::seat_elected`]). A pool
    /// without enough eligible candidates keeps its committee for another term.
    fn elect_pools(&mut self, out: &mut Vec<Output>) {
        use crate::consensus::election::{ElectionError, ElectionParams, elect_group};
        let roster = Arc::clone(&self.config.roster);
        let Some(arbiter) = self.chief.as_ref().filter(|_| roster.has_pools()) else { return };
        let root_hash = arbiter.root().synopsis.hash;
        let (pulse, cycle) = (self.pulse, self.config.election_cycle_pulses.unwrap_or(1).max(1));
        let term = pulse / cycle;
        // One seat per node per term across the tree (SPEC §6.3); pools are disjoint anyway.
        let mut seated = BTreeSet::new();
        for (group, _) in roster.groups().skip(1) {
            let pool = roster.pool(&group);
            if pool.is_empty() {
                continue;
            }
            let votes = pool.iter().map(|c| (c.id, c.votes)).collect();
            let params = ElectionParams {
                backups: roster.backups(&group).len(),
                pool_factor: self.config.election_pool_factor,
                deposit_min: self.config.bookkeeper_deposit_min,
                trust_min: 0.0,
            };
            match elect_group(group, &votes, &PoolStanding(pool), &params, &root_hash, &mut seated) {
                Ok(committee) => {
                    let seats: Vec<Id> = committee.seats().copied().collect();
                    self.views.elect(Seating { group, term, seats: seats.clone(), in_effect: false });
                    out.push(Output::Event(NodeEvent::Elected { pulse, term, group, seats }));
                }
                Err(ElectionError::NotEnoughCandidates { eligible, .. }) => {
                    out.push(Output::Event(NodeEvent::NotElected { pulse, term, group, eligible }));
                }
            }
        }
    }

    /// Put each elected committee in effect once a majority of it holds the group's taken
    /// state — attested at least the report the chief took, or acting as its primary — so that
    /// it can co-sign the next report at once (D-035). Its first primary is the first seat
    /// that holds the state; a new primary is a view change like a failover.
    fn seat_elected(&mut self, out: &mut Vec<Output>) {
        let blind = self.blind_failover();
        let roster = Arc::clone(&self.config.roster);
        if !roster.has_pools() {
            return;
        }
        let Some(committees) = self.committees.as_mut() else { return };
        let arbiter = self.chief.as_ref().expect("only the chief seats committees");
        let pulse = self.pulse;
        for (group, _) in roster.groups().skip(1) {
            let Some(elected) = self.views.elected(&group) else { continue };
            let taken = arbiter.held_report(&group).map_or(0, |r| r.pulse);
            let (view, from) = self.views.acting(&roster, &group);
            let holds = |m: &&Id| blind || committees.holds_taken(&group, m, &from, taken);
            let holders = elected.seats.iter().filter(holds).count();
            if 2 * holders <= elected.seats.len() {
                continue;
            }
            let to = *elected.seats.iter().find(holds).expect("a majority holds the state");
            let before = self.views.committee(&roster, &group);
            let seating = self.views.seat(&group).expect("just seen");
            let joined = seating.seats.iter().filter(|m| !before.contains(m)).count();
            let view = if to == from {
                view
            } else {
                let entry = ViewEntry { group, view: view + 1, primary: to };
                committees.begin_view(&mut self.views, entry, pulse);
                view + 1
            };
            let term = seating.term;
            out.push(Output::Event(NodeEvent::Seated { pulse, term, group, view, from, to, joined }));
        }
    }

    /// The root in a chief's pulse: a candidate without a seat follows it (D-035).
    fn hear_root(&mut self, root: &RootSynopsis) {
        let roster = &self.config.roster;
        if self.chief.is_some() || !roster.has_pools() {
            return;
        }
        // A member waiting for the group's state follows the pulses too.
        let waiting = self.replica.as_ref().is_some_and(|r| r.diverged);
        if self.views.is_member(roster, &self.group, &self.id) && !waiting {
            return;
        }
        if self.root().is_none_or(|held| root.version > held.version) {
            self.heard_root = Some(*root);
        }
    }

    /// Seatings announced in the chief's pulse (D-035). A member elected to its group's next
    /// committee takes the group's state from the acting primary; a member left out of the
    /// committee in effect stops replaying, and would take the state again if re-elected.
    fn learn_seatings(&mut self, seatings: &[Seating], out: &mut Vec<Output>) {
        if self.chief.is_some() || seatings.is_empty() {
            // The chief's seatings are its state, which root members rebuild by replay.
            return;
        }
        let roster = Arc::clone(&self.config.roster);
        let (group, id) = (self.group, self.id);
        let seated =
            |views: &Views| views.is_member(&roster, &group, &id) || views.is_learner(&roster, &group, &id);
        let was_seated = seated(&self.views);
        if !self.views.learn_seatings(seatings).iter().any(|s| s.group == group) || self.acting {
            return;
        }
        let now_seated = seated(&self.views);
        let Some(replica) = self.replica.as_mut() else { return };
        if now_seated && !was_seated {
            // Elected without a seat before: its state is a standby's, or a former member's.
            replica.diverged = true;
            let primary = self.views.acting(&roster, &group).1;
            out.push(Output::Send { to: primary, msg: Message::StateRequest { group } });
        } else if !now_seated {
            replica.diverged = true;
        }
    }

    /// Hold the acting primary's `report` until a majority of its committee attested it.
    fn hold_report(&mut self, report: &GroupReport, out: &mut Vec<Output>) -> Result<(), NodeError> {
        let group = report.entry.prefix;
        let arbiter = self.chief.as_ref().expect("only the chief holds reports");
        let committees = self.committees.as_mut().expect("a roster with backups has committees");
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
        self.try_take(&group, out)?;
        match mismatch {
            Some(member) => Err(NodeError::AttestMismatch { group, pulse: report.pulse, member }),
            None => Ok(()),
        }
    }

    /// Take the held report of `group` if enough members attested it.
    fn try_take(&mut self, group: &Prefix, out: &mut Vec<Output>) -> Result<(), NodeError> {
        let committees = self.committees.as_mut().expect("only with committees");
        let Some(held) = committees.held.get(group) else { return Ok(()) };
        let roster = &self.config.roster;
        let attested = committees.attested(held, |id| self.views.is_member(roster, group, id));
        if attested < self.views.attestations_required(roster, group) {
            return Ok(());
        }
        let report = committees.held.remove(group).expect("just seen");
        self.take_report(report, out)
    }

    /// An attestation: at the chief, a member's co-signature of its group's report; at the
    /// acting primary, a backup's acknowledgement of the cycles it replayed.
    fn on_attest(
        &mut self,
        from: Id,
        report: &GroupReport,
        view: u32,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let group = report.entry.prefix;
        let roster = &self.config.roster;
        if group == Prefix::ROOT || !roster.is_candidate(&group, &from) {
            let bookkeeper = roster.primary(&group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::Attest });
        }
        if self.chief.is_none() {
            if let Some(replica) = self.replica.as_mut().filter(|_| self.acting && group == self.group) {
                let acked = replica.acked.entry(from).or_default();
                *acked = (*acked).max(report.pulse);
            }
            return Ok(());
        }
        if view != self.views.acting(roster, &group).0 {
            // Replayed in another view — a backup that had not yet learnt of a failover
            // replaying the deposed primary's cycles: not the group's history (D-032; taken for
            // it, such an attestation made a successor of a member of another history, I4).
            return Ok(());
        }
        let Some(committees) = self.committees.as_mut() else { return Ok(()) };
        let attests = committees.attests.entry(group).or_default();
        if attests.get(&from).is_some_and(|held| held.pulse >= report.pulse) {
            return Ok(()); // stale or duplicated
        }
        attests.insert(from, report.clone());
        let mismatch = committees.held.get(&group).is_some_and(|h| h.pulse == report.pulse && h != report);
        self.try_take(&group, out)?;
        if mismatch {
            return Err(NodeError::AttestMismatch { group, pulse: report.pulse, member: from });
        }
        Ok(())
    }

    // ----- replication within the committee (D-032) ----------------------------------

    fn not_acting(&self) -> NodeError {
        NodeError::NotActing { group: self.group, view: self.own_view() }
    }

    /// This node's view of its own group.
    fn own_view(&self) -> u32 {
        self.views.acting(&self.config.roster, &self.group).0
    }

    /// The acting primary keeps every input for its backups' replay.
    fn record(&mut self, from: Id, msg: &Message) {
        if let Some(replica) = self.replica.as_mut().filter(|_| self.acting) {
            replica.current.push((from, msg.clone()));
        }
    }

    /// A `Settle` from the network. A backup takes it as the order to take over when it names
    /// a view in which the chief made this member the primary.
    fn on_direct_settle(
        &mut self,
        from: Id,
        settle: &SettleMsg,
        msg: &Message,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let (view, primary) = self.views.acting(&self.config.roster, &self.group);
        let from_chief =
            self.config.roster.is_member(&Prefix::ROOT, &from) && settle.path.entry.prefix == self.group;
        if from_chief && settle.view < view {
            return Ok(()); // a delayed `Settle` of an earlier view
        }
        let named = settle.view > view || (settle.view == view && primary == self.id && !self.acting);
        if from_chief && named && self.replica.is_some() {
            self.take_over(settle.view, out);
        }
        if !self.acting {
            return Err(self.not_acting());
        }
        let before_pulse = self.pulse;
        self.record(from, msg);
        let Some(report) = self.on_settle(from, settle, out)? else { return Ok(()) };
        out.push(Output::Send { to: from, msg: Message::GroupSeal(Box::new(report.clone())) });
        self.replicate(before_pulse, &report, out);
        Ok(())
    }

    /// Close the cycle just sealed and send every other member the cycles it has not attested.
    fn replicate(&mut self, before_pulse: u64, report: &GroupReport, out: &mut Vec<Output>) {
        let Some(replica) = self.replica.as_mut() else { return };
        let inputs = std::mem::take(&mut replica.current);
        let pulse = report.pulse;
        replica.push(Arc::new(ReplicaCycle {
            before_pulse,
            pulse,
            inputs,
            report_digest: report_digest(report),
        }));
        let view = self.views.acting(&self.config.roster, &self.group).0;
        let wanted = std::mem::take(&mut replica.state_wanted);
        if !wanted.is_empty() {
            self.send_state(view, report, &wanted, out);
        }
        let targets = self.replication_targets();
        let replica = self.replica.as_mut().expect("checked above");
        for member in targets.into_iter().filter(|m| *m != self.id && !wanted.contains(m)) {
            let cycles = replica.unacked(&member, super::committee::LOG_CYCLES);
            let batch = ReplicaBatch { group: self.group, view, cycles };
            out.push(Output::Send { to: member, msg: Message::Replicate(Box::new(batch)) });
        }
    }

    /// Who replays this primary's cycles: its committee and, while an elected committee takes
    /// the group's state, that committee's new members (D-035).
    fn replication_targets(&self) -> Vec<Id> {
        let roster = &self.config.roster;
        let mut targets = self.views.committee(roster, &self.group);
        if let Some(elected) = self.views.elected(&self.group) {
            targets
                .extend(elected.seats.iter().filter(|m| !targets.contains(m)).copied().collect::<Vec<_>>());
        }
        targets
    }

    /// Send `members` this primary's state as of the seal that built `report`: they take it
    /// in place of theirs and replay from there.
    fn send_state(&mut self, view: u32, report: &GroupReport, members: &BTreeSet<Id>, out: &mut Vec<Output>) {
        let state_bytes = self.state_bytes();
        let state = Arc::new(self.clone());
        let snapshot = StateSnapshot { group: self.group, view, report: report.clone(), state_bytes, state };
        let replica = self.replica.as_mut().expect("only a committee member sends state");
        for member in members {
            replica.acked.insert(*member, report.pulse);
            out.push(Output::Send { to: *member, msg: Message::State(Box::new(snapshot.clone())) });
        }
    }

    /// The encoded size of the state a snapshot carries: accounts, open halves, remembered
    /// credits and payers' last sealed transfers, waiting submissions.
    fn state_bytes(&self) -> usize {
        const LEAF_BYTES: usize = 20 + 40;
        const SIGNED_TX_BYTES: usize = crate::ledger::TX_BODY_BYTES + 2 * (32 + 64);
        let tree = self.ledger.tree();
        let accounts = tree.len(tree.latest_version()).unwrap_or(0) as usize;
        accounts * LEAF_BYTES
            + (self.open.len() + self.deferred.len()) * (SIGNED_TX_BYTES + 8)
            + self.closed_credits.len() * (32 + 8)
            + self.last_sealed.len() * (20 + 8 + 32)
    }

    /// A member asks for this primary's state.
    fn on_state_request(&mut self, from: Id, group: Prefix, out: &mut Vec<Output>) -> Result<(), NodeError> {
        let roster = &self.config.roster;
        if group != self.group || !roster.is_candidate(&group, &from) {
            let bookkeeper = roster.primary(&group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::StateRequest });
        }
        if !self.views.is_member(roster, &group, &from) && !self.views.is_learner(roster, &group, &from) {
            return Ok(()); // a candidate not seated (a late request from a former member)
        }
        if !self.acting && self.voted_for(&from) {
            // The candidate this member voted for is behind it: its state goes at once, as
            // of its latest replayed cycle (D-033).
            if let Some(report) = self.replica.as_ref().and_then(|r| r.last_attest.clone()) {
                let view = self.own_view();
                self.send_state(view, &report, &BTreeSet::from([from]), out);
            }
            return Ok(());
        }
        if !self.acting {
            return Err(self.not_acting());
        }
        if self.root_committee.as_ref().is_some_and(|r| r.pending.is_some()) {
            // While its cycle waits, the chief's state is the closed one: it goes at once —
            // the release may wait for this very member's co-signature (D-033).
            if let Some(report) = self.replica.as_ref().and_then(|r| r.last_attest.clone()) {
                let view = self.own_view();
                self.send_state(view, &report, &BTreeSet::from([from]), out);
                return Ok(());
            }
        }
        if let Some(replica) = self.replica.as_mut() {
            replica.state_wanted.insert(from);
        }
        Ok(())
    }

    /// The acting primary's state: take it if it holds the group's entry of the root this
    /// member holds (so it is not older and not another history), and replay on from it.
    fn on_state(
        &mut self,
        from: Id,
        snapshot: &StateSnapshot,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.config.roster;
        let (view, _) = self.views.acting(roster, &self.group);
        let awaited =
            self.root_committee.as_ref().is_some_and(|r| r.awaiting_state.is_some_and(|(_, v)| v == from));
        let wanted = self.replica.as_ref().is_some_and(|r| r.diverged) || awaited;
        if snapshot.group != self.group || !roster.is_candidate(&self.group, &from) || snapshot.view < view {
            let bookkeeper = roster.primary(&snapshot.group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::State });
        }
        // Not asked for: a duplicate, or a member already resynced — unless the acting primary
        // sent it a state ahead of its own, counting it as holding that state from now on (a
        // request it kept from an earlier view of its own, D-035).
        let acting = self.views.acting(roster, &self.group).1;
        let pushed = from == acting && snapshot.report.pulse > self.pulse;
        if self.acting || !(wanted || pushed) {
            return Ok(());
        }
        let bad = NodeError::BadSnapshot { group: self.group };
        let state = &snapshot.state;
        if state.group != self.group || state.pulse != snapshot.report.pulse {
            return Err(bad);
        }
        if self.root_committee.is_some() {
            // A root member's own root may be one no majority co-signed (a deposed chief's
            // last cycle): it cannot judge the snapshot by it. It takes the state of the
            // acting chief, or of the voter it asked as a candidate (D-033).
            if !awaited && from != self.acting_chief() {
                return Err(bad);
            }
        } else if let Some((_, path)) = &self.root {
            let tree = state.ledger.tree();
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

    /// Become a copy of the primary's state, as this member (id, views, faults kept).
    fn adopt(&mut self, from: Id, snapshot: &StateSnapshot, out: &mut Vec<Output>) {
        let mut state = (*snapshot.state).clone();
        state.id = self.id;
        state.acting = false;
        if let Some(mine) = self.root_committee.take() {
            // The chief's views of the leaf groups are part of its state; the root view and
            // this member's votes are its own. It would release the sender's last cycle.
            let own_root: Vec<ViewEntry> =
                self.views.entries().into_iter().filter(|e| e.group == Prefix::ROOT).collect();
            state.views.learn(&own_root);
            let theirs = state.root_committee.take().unwrap_or_default();
            let mut replayed = theirs.pending.or(theirs.replayed);
            if let Some(closed) = replayed.as_mut() {
                closed.cosigners.clear();
            }
            state.root_committee = Some(Box::new(RootCommittee {
                replayed,
                cycle_events: Vec::new(),
                buffered: Vec::new(),
                stalled_ticks: 0,
                ..*mine
            }));
        } else {
            state.views = std::mem::take(&mut self.views);
            state.views.learn(&[ViewEntry { group: self.group, view: snapshot.view, primary: from }]);
            // The pulses it followed while waiting may be newer than the snapshot: ts never
            // goes back (I7).
            state.heard_root = self.heard_root.or(state.heard_root);
        }
        #[cfg(feature = "fault-injection")]
        {
            state.faults = self.faults;
        }
        if let Some(replica) = state.replica.as_mut() {
            replica.acked.clear();
            replica.current.clear();
            replica.state_wanted.clear();
            replica.early = None;
            replica.diverged = false;
            replica.last_attest = Some(snapshot.report.clone());
        }
        *self = state;
        let report = Box::new(snapshot.report.clone());
        out.push(Output::Event(NodeEvent::Resynced { group: self.group, pulse: report.pulse, from }));
        let Some(root_committee) = self.root_committee.as_mut() else {
            let view = self.own_view();
            out.push(Output::Send {
                to: self.acting_chief(),
                msg: Message::Attest { report: report.clone(), view },
            });
            out.push(Output::Send { to: from, msg: Message::Attest { report, view } });
            return;
        };
        match root_committee.awaiting_state.take() {
            Some((view, _)) => self.lead(view, out),
            None => self.acknowledge(from, out),
        }
    }

    /// Whether this root member's latest vote went to the view that names `candidate`.
    fn voted_for(&self, candidate: &Id) -> bool {
        self.root_committee.as_ref().is_some_and(|r| {
            r.voted > self.own_view()
                && self.config.roster.named_by_view(&Prefix::ROOT, r.voted) == *candidate
        })
    }

    fn take_over(&mut self, view: u32, out: &mut Vec<Output>) {
        self.acting = true;
        out.push(Output::Event(NodeEvent::TookOver { group: self.group, view, pulse: self.pulse }));
        self.views.learn(&[ViewEntry { group: self.group, view, primary: self.id }]);
        if let Some(replica) = self.replica.as_mut() {
            replica.acked.clear();
            replica.current.clear();
            // Its own history is the group's from now on.
            replica.diverged = false;
        }
    }

    fn step_down(&mut self, view: u32, successor: Id, out: &mut Vec<Output>) {
        self.acting = false;
        if let Some(replica) = self.replica.as_mut() {
            // Members still waiting for its state ask the new primary on its next batch.
            replica.state_wanted.clear();
        }
        // What it applied since its last seal never reaches a root: the new primary carries
        // on from the sealed cycles (D-032). The submissions of the lost cycle go to it, so
        // that a handover does not cost their payers a retry (credit halves are resent by
        // their senders at their next seal).
        let submissions: Vec<Message> = self.replica.as_ref().map_or_else(Vec::new, |r| {
            r.current
                .iter()
                .filter(|(_, m)| matches!(m, Message::Submit(_)))
                .map(|(_, m)| m.clone())
                .collect()
        });
        self.drop_unsealed();
        out.push(Output::Event(NodeEvent::SteppedDown { group: self.group, view }));
        out.extend(submissions.into_iter().map(|msg| Output::Send { to: successor, msg }));
    }

    /// Views announced by the chief; a primary that learns of a later view of its own group
    /// steps down.
    fn learn_views(&mut self, views: &[ViewEntry], out: &mut Vec<Output>) {
        if self.chief.is_some() {
            // A root member takes only the root group's view from a pulse: the leaf groups'
            // views are the chief's state, which the members rebuild by replay (D-033).
            let root: Vec<ViewEntry> = views.iter().filter(|e| e.group == Prefix::ROOT).copied().collect();
            for entry in self.views.learn(&root) {
                self.enter_root_view(entry, out);
            }
            return;
        }
        for entry in self.views.learn(views) {
            if entry.group == self.group && entry.primary != self.id && self.acting {
                self.step_down(entry.view, entry.primary, out);
            }
        }
        self.replay_early_batch(out);
    }

    /// Replay the batch that arrived before the pulse announcing its view, once this member
    /// knows that view and its sender acts in it.
    fn replay_early_batch(&mut self, out: &mut Vec<Output>) {
        let Some(replica) = self.replica.as_mut() else { return };
        let Some((from, batch)) = replica.early.take() else { return };
        let (view, primary) = self.views.acting(&self.config.roster, &self.group);
        if batch.view > view {
            self.replica.as_mut().expect("just seen").early = Some((from, batch));
        } else if batch.view == view && primary == from && !self.acting {
            self.replay(from, &batch.cycles, out);
        }
    }

    /// A batch of sealed cycles from a member acting as the group's primary.
    fn on_replicate(
        &mut self,
        from: Id,
        batch: &ReplicaBatch,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let roster = &self.config.roster;
        if batch.group != self.group || self.replica.is_none() || !roster.is_candidate(&self.group, &from) {
            let bookkeeper = roster.primary(&batch.group);
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::Replicate });
        }
        // Views come from the chief alone: a member that claimed a later view in its batch
        // could otherwise make the backups ignore, or the primary step down for, nobody. A new
        // primary's first batches wait for the chief's pulse; it resends them at every seal.
        // In the root committee a member that voted for the batch's view takes it from the
        // member it names: that member's pulse announcing it may be lost, and the new chief
        // releases no other until a majority co-signs (D-033).
        let (view, _) = self.views.acting(roster, &self.group);
        let voted_for_batch = self.root_committee.as_ref().is_some_and(|r| r.voted == batch.view);
        if voted_for_batch && batch.view > view && roster.named_by_view(&Prefix::ROOT, batch.view) == from {
            let entry = ViewEntry { group: Prefix::ROOT, view: batch.view, primary: from };
            self.learn_views(&[entry], out);
        }
        let roster = &self.config.roster;
        let (view, primary) = self.views.acting(roster, &self.group);
        if batch.view > view && self.root_committee.is_none() {
            // Its view is not announced here yet: it waits for the chief's pulse (D-032).
            let replica = self.replica.as_mut().expect("checked above");
            replica.early = Some((from, batch.clone()));
            return Ok(());
        }
        if batch.view != view || primary != from {
            return Ok(());
        }
        // A root member that voted for a later view replays nothing of this one (D-033).
        if self.root_committee.as_ref().is_some_and(|r| r.voted > view) {
            return Ok(());
        }
        self.replay(from, &batch.cycles, out);
        Ok(())
    }

    /// Replay the cycles that follow this backup's state, attesting each rebuilt report.
    fn replay(&mut self, from: Id, cycles: &[Arc<ReplicaCycle>], out: &mut Vec<Output>) {
        let chief = self.acting_chief();
        let mut attested_any = false;
        for cycle in cycles {
            if self.replica.as_ref().is_none_or(|r| r.diverged) {
                // Still out of step: ask again (the request or the state may have been lost).
                out.push(Output::Send { to: from, msg: Message::StateRequest { group: self.group } });
                return;
            }
            if cycle.pulse <= self.pulse {
                continue;
            }
            if cycle.before_pulse != self.pulse {
                // Before our state: a gap to wait out. Behind it: we sealed a different cycle.
                if cycle.before_pulse < self.pulse {
                    self.diverge(from, cycle.pulse, out);
                }
                break;
            }
            let rebuilt = if self.root_committee.is_some() {
                self.replay_root_cycle(cycle)
            } else {
                self.replay_cycle(cycle)
            };
            let Some(report) = rebuilt else {
                self.diverge(from, cycle.pulse, out);
                break;
            };
            let replica = self.replica.as_mut().expect("checked above");
            replica.push(cycle.clone());
            replica.last_attest = Some(report.clone());
            out.push(Output::Event(NodeEvent::Replayed { group: self.group, pulse: cycle.pulse, from }));
            if self.root_committee.is_none() {
                let view = self.own_view();
                out.push(Output::Send { to: chief, msg: Message::Attest { report: Box::new(report), view } });
            }
            self.acknowledge(from, out);
            attested_any = true;
        }
        if attested_any {
            self.heard_chief(None);
        } else if !cycles.is_empty() {
            // Nothing new: our acknowledgement was lost; repeat it to the primary.
            self.acknowledge(from, out);
        }
    }

    /// Tell the acting primary `to` the latest cycle this member rebuilt: an `Attest` of its
    /// report, or, in the root committee, a `CoSign` of the chief's cycle.
    fn acknowledge(&self, to: Id, out: &mut Vec<Output>) {
        if let Some(root_committee) = &self.root_committee {
            // The state is a closed cycle's (a backup's replay, or a chief that gave way); its
            // digest is at hand unless this member never replayed since it last acted.
            let digest = match &root_committee.replayed {
                Some(closed) if closed.pulse == self.pulse => closed.digest,
                _ => self.root_cycle_digest(),
            };
            let (pulse, view) = (self.pulse, self.own_view());
            out.push(Output::Send { to, msg: Message::CoSign { pulse, view, digest } });
            return;
        }
        if let Some(last) = self.replica.as_ref().and_then(|r| r.last_attest.clone()) {
            let view = self.own_view();
            out.push(Output::Send { to, msg: Message::Attest { report: Box::new(last), view } });
        }
    }

    /// Run one of the chief's cycles through the chief's own handlers and close its pulse; the
    /// rebuilt report if the cycle's digest matches. What the pulse would release is kept, for
    /// this member to release if it takes over before hearing the chief do so (D-033).
    fn replay_root_cycle(&mut self, cycle: &ReplicaCycle) -> Option<GroupReport> {
        let mut held = Vec::new();
        let mut ignored = Vec::new();
        for (from, msg) in &cycle.inputs {
            // As at the acting chief, the events of reports and attestations are the cycle's.
            let _ = match msg {
                Message::Submit(signed) => {
                    self.on_submit(signed, &mut ignored);
                    Ok(())
                }
                Message::CreditHalf(signed) => self.on_credit_half(*from, signed),
                Message::GroupSeal(report) => self.on_group_seal(*from, report, &mut held),
                Message::Attest { report, view } => self.on_attest(*from, report, *view, &mut held),
                _ => Ok(()),
            };
            ignored.clear();
        }
        let report = self.close_chief_pulse(&mut held);
        let digest = self.root_cycle_digest();
        if digest != cycle.report_digest || self.pulse != cycle.pulse {
            return None;
        }
        let closed = ClosedPulse { pulse: self.pulse, digest, outputs: held, cosigners: BTreeSet::new() };
        self.root_committee.as_mut().expect("a root cycle is replayed in the root committee").replayed =
            Some(closed);
        Some(report)
    }

    /// Run one cycle's inputs through the primary's own handlers, outputs dropped; the rebuilt
    /// report if it is the primary's.
    fn replay_cycle(&mut self, cycle: &ReplicaCycle) -> Option<GroupReport> {
        let mut ignored = Vec::new();
        let mut report = None;
        self.replaying = true;
        for (from, msg) in &cycle.inputs {
            match msg {
                Message::Submit(signed) => self.on_submit(signed, &mut ignored),
                Message::CreditHalf(signed) => {
                    #[cfg(feature = "fault-injection")]
                    if self.faults.replay_skips_credit_halves {
                        continue;
                    }
                    let _ = self.on_credit_half(*from, signed);
                }
                Message::Settle(settle) => {
                    if let Ok(Some(built)) = self.on_settle(*from, settle, &mut ignored) {
                        report = Some(built);
                    }
                }
                _ => {}
            }
            ignored.clear();
        }
        self.replaying = false;
        report.filter(|r| report_digest(r) == cycle.report_digest && r.pulse == cycle.pulse)
    }

    /// Our state is not the primary's `from`: stop replaying and ask for its state.
    fn diverge(&mut self, from: Id, pulse: u64, out: &mut Vec<Output>) {
        if let Some(replica) = self.replica.as_mut() {
            replica.diverged = true;
        }
        out.push(Output::Event(NodeEvent::ReplicaDiverged { group: self.group, pulse }));
        out.push(Output::Send { to: from, msg: Message::StateRequest { group: self.group } });
    }

    // ----- the root committee: co-signed pulses and the chief's failover (D-033) ---------

    /// Whether this member of the root committee is not the acting chief.
    fn is_root_backup(&self) -> bool {
        self.root_committee.is_some() && !self.acting
    }

    /// The member acting as chief, as far as this node knows.
    fn acting_chief(&self) -> Id {
        self.views.acting(&self.config.roster, &Prefix::ROOT).1
    }

    /// The acting chief with a committee keeps the reports and attestations it handles for
    /// its backups' replay.
    fn record_at_chief(&mut self, from: Id, msg: &Message) {
        if self.root_committee.is_some() {
            self.record(from, msg);
        }
    }

    /// Run `handle`; at an acting chief with a committee its outputs (events of taken reports)
    /// are the cycle's and go out when the cycle is co-signed, as a replay rebuilds them.
    fn in_cycle(
        &mut self,
        out: &mut Vec<Output>,
        handle: impl FnOnce(&mut Self, &mut Vec<Output>) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        if self.root_committee.is_none() {
            return handle(self, out);
        }
        let mut held = Vec::new();
        let result = handle(self, &mut held);
        self.root_committee.as_mut().expect("checked above").cycle_events.extend(held);
        result
    }

    /// A root member heard the acting chief make progress: a pulse broadcast (`Some(pulse)`)
    /// or a new cycle to replay. A chief that repeats a cycle nobody co-signs is not heard.
    fn heard_chief(&mut self, pulse: Option<u64>) {
        if let Some(root_committee) = self.root_committee.as_mut() {
            root_committee.silent_ticks = 0;
            if let Some(pulse) = pulse {
                root_committee.heard_pulse = root_committee.heard_pulse.max(pulse);
            }
        }
    }

    /// A root backup's watchdog, every pulse period: after `failover_timeout_pulses` periods
    /// without progress from the acting chief it votes for the next view (SPEC §6.4).
    fn watch_chief(&mut self, out: &mut Vec<Output>) {
        let Some(root_committee) = self.root_committee.as_mut() else { return };
        root_committee.silent_ticks += 1;
        if let Some((_, voter)) = root_committee.awaiting_state {
            out.push(Output::Send { to: voter, msg: Message::StateRequest { group: Prefix::ROOT } });
        }
        if root_committee.silent_ticks <= self.config.failover_timeout_pulses {
            return;
        }
        let view = root_committee.voted.max(self.own_view()).saturating_add(1);
        self.vote(view, out);
    }

    /// Vote for root view `view`: from now on this member replays and co-signs nothing of an
    /// earlier view.
    fn vote(&mut self, view: u32, out: &mut Vec<Output>) {
        let (id, pulse) = (self.id, self.pulse);
        let root_committee = self.root_committee.as_mut().expect("only root members vote");
        root_committee.voted = view;
        root_committee.silent_ticks = 0;
        root_committee.awaiting_state = None;
        root_committee.votes.entry(view).or_default().insert(id, pulse);
        out.push(Output::Event(NodeEvent::VotedViewChange { view, pulse }));
        for member in self.config.roster.committee(&Prefix::ROOT).filter(|m| *m != id) {
            out.push(Output::Send { to: member, msg: Message::ViewChange { view, pulse } });
        }
        self.try_lead(view, out);
    }

    /// Another root member's vote. A backup joins a vote for a later view than its own (so
    /// that the members converge on one view); the acting chief does not vote against itself
    /// — it learns of its successor from the successor's pulse.
    fn on_view_change(
        &mut self,
        from: Id,
        view: u32,
        pulse: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let current = self.own_view();
        let Some(root_committee) = self.root_committee.as_mut().filter(|_| from != self.id) else {
            let bookkeeper = self.acting_chief();
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::ViewChange });
        };
        if !self.config.roster.is_member(&Prefix::ROOT, &from) {
            let bookkeeper = self.acting_chief();
            return Err(NodeError::NotFromBookkeeper { bookkeeper, kind: MessageKind::ViewChange });
        }
        if view <= current {
            return Ok(());
        }
        if self.acting {
            // A chief whose pulse waits in vain for co-signatures gives way to a vote: without
            // it, a crashed member and one out of step could hold a committee of four forever.
            if root_committee.pending.is_none()
                || root_committee.stalled_ticks <= self.config.failover_timeout_pulses
            {
                return Ok(());
            }
            root_committee.votes.entry(view).or_default().insert(from, pulse);
            self.abdicate(out);
            self.vote(view, out);
            return Ok(());
        }
        root_committee.votes.entry(view).or_default().insert(from, pulse);
        if view > root_committee.voted {
            self.vote(view, out);
        } else {
            self.try_lead(view, out);
        }
        Ok(())
    }

    /// The stalled chief stops acting. Its state is its closed cycle's (later inputs wait in
    /// the buffer, and are dropped: their senders repeat them to the successor), so it votes
    /// like any member, offering that cycle.
    fn abdicate(&mut self, out: &mut Vec<Output>) {
        let view = self.own_view();
        self.acting = false;
        let root_committee = self.root_committee.as_mut().expect("only a root member");
        // Its closed cycle is now one it would release if it led again.
        root_committee.replayed = root_committee.pending.take();
        root_committee.cycle_events.clear();
        root_committee.buffered.clear();
        out.push(Output::Event(NodeEvent::SteppedDown { group: Prefix::ROOT, view }));
    }

    /// The member `view` names takes over once a majority of the committee voted for it —
    /// first taking the state of the most advanced voter if it is behind, so that it holds
    /// every pulse a majority co-signed (any co-signing majority meets the voting one).
    fn try_lead(&mut self, view: u32, out: &mut Vec<Output>) {
        let roster = &self.config.roster;
        if self.acting || roster.named_by_view(&Prefix::ROOT, view) != self.id {
            return;
        }
        if self.replica.as_ref().is_some_and(|r| r.diverged) {
            return; // out of step: the next view names another member
        }
        let quorum = roster.view_change_quorum(&Prefix::ROOT);
        let root_committee = self.root_committee.as_mut().expect("only root members lead");
        let Some(votes) = root_committee.votes.get(&view).filter(|v| v.len() >= quorum) else { return };
        if root_committee.awaiting_state.is_some() {
            return;
        }
        let ahead = votes.iter().filter(|(_, pulse)| **pulse > self.pulse).max_by_key(|(_, pulse)| **pulse);
        if let Some((voter, _)) = ahead {
            root_committee.awaiting_state = Some((view, *voter));
            out.push(Output::Send { to: *voter, msg: Message::StateRequest { group: Prefix::ROOT } });
            return;
        }
        self.lead(view, out);
    }

    /// Act as the chief in root view `view`: announce it, and release the last cycle if this
    /// member did not hear the old chief release it (a duplicate `Settle` is ignored).
    fn lead(&mut self, view: u32, out: &mut Vec<Output>) {
        self.acting = true;
        self.views.learn(&[ViewEntry { group: Prefix::ROOT, view, primary: self.id }]);
        let root_committee = self.root_committee.as_mut().expect("only root members lead");
        let voters = root_committee.votes.get(&view).cloned().unwrap_or_default();
        root_committee.votes.retain(|v, _| *v > view);
        root_committee.voted = root_committee.voted.max(view);
        root_committee.awaiting_state = None;
        root_committee.silent_ticks = 0;
        root_committee.cycle_events.clear();
        let unreleased = root_committee.replayed.take().filter(|c| c.pulse > root_committee.heard_pulse);
        if let Some(replica) = self.replica.as_mut() {
            // The voters' states are known from their votes: send each what it lacks.
            replica.acked = voters.into_iter().filter(|(id, _)| *id != self.id).collect();
            replica.current.clear();
            replica.diverged = false;
        }
        out.push(Output::Event(NodeEvent::TookOver { group: Prefix::ROOT, view, pulse: self.pulse }));
        self.broadcast_pulse(out);
        let is_pulse = |o: &Output| matches!(o, Output::Broadcast { msg: Message::Pulse { .. } });
        out.extend(unreleased.into_iter().flat_map(|c| c.outputs).filter(|o| !is_pulse(o)));
        self.send_root_batches(out);
    }

    /// The chief's pulse named a later root view: its old votes are moot, and a deposed chief
    /// steps down — its unreleased cycle was never the organization's — and asks for the new
    /// chief's state.
    fn enter_root_view(&mut self, entry: ViewEntry, out: &mut Vec<Output>) {
        if entry.primary == self.id {
            return;
        }
        if let Some(root_committee) = self.root_committee.as_mut() {
            root_committee.votes.retain(|v, _| *v > entry.view);
            if root_committee.awaiting_state.is_some_and(|(view, _)| view <= entry.view) {
                root_committee.awaiting_state = None;
            }
            root_committee.silent_ticks = 0;
        }
        if !self.acting {
            return;
        }
        if let Some(root_committee) = self.root_committee.as_mut() {
            root_committee.pending = None;
            root_committee.cycle_events.clear();
        }
        self.step_down(entry.view, entry.primary, out);
        if let Some(replica) = self.replica.as_mut() {
            replica.diverged = true;
        }
        out.push(Output::Send { to: entry.primary, msg: Message::StateRequest { group: Prefix::ROOT } });
    }

    fn send_settles(&self, out: &mut Vec<Output>) {
        let arbiter = self.chief.as_ref().expect("only the chief settles");
        let root = self.announced(arbiter.root());
        for (group, _) in self.config.roster.groups().skip(1) {
            let Some(path) = arbiter.path(&group) else { continue };
            let orders = arbiter.orders_for(&group);
            let (view, primary) = self.views.acting(&self.config.roster, &group);
            let settle = SettleMsg { pulse: self.pulse, root, path, orders, view };
            out.push(Output::Send { to: primary, msg: Message::Settle(Box::new(settle)) });
        }
    }

    /// Clear or reverse the halves the chief ordered.
    fn carry_out(&mut self, orders: &[Order], out: &mut Vec<Output>) {
        for order in orders {
            let Some(open) = self.open.get(&order.tx_id).copied() else { continue };
            #[allow(unused_mut)] // changed only with fault injection
            let mut order = *order;
            #[cfg(feature = "fault-injection")]
            if self.faults.reverse_cleared_debits && open.half == Half::Debit {
                order.how = Settlement::Reverse;
            }
            if self.ledger.settle(open.half, &open.signed.tx, order.how).is_err() {
                continue; // cannot happen for a half applied here; never panic on it
            }
            self.unsealed_settlements.push((order.tx_id, open.half, open.signed.tx, order.how));
            self.open.remove(&order.tx_id);
            self.settled.push((order.tx_id, open.half, order.how));
            let tx = open.signed.tx;
            if open.half == Half::Credit {
                self.closed_credits.insert(order.tx_id, tx.created_pulse);
            }
            let party = if open.half == Half::Debit { tx.from } else { tx.to };
            match order.how {
                Settlement::Clear => {
                    let version = open.sealed_in.unwrap_or(Version::MAX);
                    self.notices.push(Notice { version, tx_id: order.tx_id, party });
                }
                Settlement::Reverse if open.half == Half::Debit => {
                    // The nonce stays used: a retry must be signed anew.
                    if self.last_sealed.get(&tx.from) == Some(&(tx.from_nonce, order.tx_id)) {
                        self.last_sealed.remove(&tx.from);
                    }
                    out.push(reject(&open.signed, order.tx_id, LedgerError::TimedOut));
                }
                Settlement::Reverse => {}
            }
        }
        let horizon = self.credit_horizon_pulses();
        let pulse = self.pulse;
        self.closed_credits.retain(|_, created| created.saturating_add(horizon) >= pulse);
    }

    /// Tell every party whose transfer the held root covers.
    fn announce(&mut self, out: &mut Vec<Output>) {
        let Some((root, path)) = &self.root else { return };
        let covered = path.entry.version;
        let mut waiting = Vec::new();
        for notice in std::mem::take(&mut self.notices) {
            if notice.version > covered {
                waiting.push(notice);
                continue;
            }
            // A replay drops its outputs: do not build the proofs.
            if self.replaying {
                continue;
            }
            if let Some(msg) = self.commit_message(notice.tx_id, notice.party, root, path) {
                out.push(Output::Send { to: notice.party, msg });
            }
        }
        self.notices = waiting;
    }

    fn commit_message(
        &self,
        tx_id: Hash32,
        party: Id,
        root: &RootSynopsis,
        path: &GroupPath,
    ) -> Option<Message> {
        let account = self.ledger.tree().prove(path.entry.version, &party).ok()?;
        let proof = AccountProof { account, path: path.clone() };
        Some(Message::Committed { tx_id, root: *root, proof: Box::new(proof) })
    }

    /// Seal the cycle (SPEC §5.2) and build the report for the chief.
    fn seal(&mut self, out: &mut Vec<Output>) -> GroupReport {
        let applied = self.ledger.journal().to_vec();
        let version = self.ledger.seal();
        self.unsealed_settlements.clear();
        self.unsealed_ids.clear();
        for tx in &applied {
            self.last_sealed.insert(tx.tx().from, (tx.tx().from_nonce, tx.id));
            if !self.open.contains_key(&tx.id) {
                // Within the group: committed once a root covers this version.
                for party in [tx.tx().from, tx.tx().to] {
                    self.notices.push(Notice { version, tx_id: tx.id, party });
                }
            }
        }
        self.resend_credit_halves(out);
        let mut pending = Vec::with_capacity(self.open.len());
        for (tx_id, open) in self.open.iter_mut() {
            open.sealed_in.get_or_insert(version);
            let (half, counterpart, amount) = (open.half, open.counterpart, open.signed.tx.amount);
            pending.push(PendingHalf { tx_id: *tx_id, half, counterpart, amount });
        }
        for notice in &mut self.notices {
            notice.version = notice.version.min(version);
        }
        let debits = applied.iter().filter(|a| self.open.contains_key(&a.id)).map(|a| a.id).collect();
        out.push(Output::Event(NodeEvent::Sealed {
            pulse: self.pulse,
            group: self.group,
            version,
            applied,
            debits,
            credited: std::mem::take(&mut self.credited),
            settled: std::mem::take(&mut self.settled),
        }));
        let synopsis = self.sealed_root().synopsis;
        let entry = GroupEntry { prefix: self.group, version, synopsis: self.forged(synopsis) };
        let report = GroupReport { pulse: self.pulse, entry, pending };
        // After the report: what was waiting goes into the next version.
        self.resume_deferred(out);
        report
    }

    /// A debit still open a pulse after it was sealed has not been matched: its credit half
    /// may have been lost, so send it again (the payee's group ignores duplicates). Without
    /// this a single lost message aborts the transfer after `transfer_timeout_pulses`.
    fn resend_credit_halves(&self, out: &mut Vec<Output>) {
        for open in self.open.values() {
            if open.half == Half::Debit && open.sealed_in.is_some() {
                let (_, to) = self.views.acting(&self.config.roster, &open.counterpart);
                out.push(Output::Send { to, msg: Message::CreditHalf(Box::new(open.signed)) });
            }
        }
    }

    /// The group synopsis as reported: the true one, unless a test made this bookkeeper
    /// forge it (a forged summary, SPEC §14).
    fn forged(&self, synopsis: crate::smt::Synopsis) -> crate::smt::Synopsis {
        #[cfg(feature = "fault-injection")]
        if self.chief.is_none() && self.faults.forge_root_from_pulse.is_some_and(|from| self.pulse >= from) {
            let mut forged = synopsis;
            forged.hash.0[0] ^= 1;
            return forged;
        }
        synopsis
    }

    /// The root as broadcast: the true one, unless a test made the chief forge it.
    fn announced(&self, root: RootSynopsis) -> RootSynopsis {
        #[cfg(feature = "fault-injection")]
        if self.faults.forge_root_from_pulse.is_some_and(|from| self.pulse >= from) {
            let mut forged = root;
            forged.synopsis.hash.0[0] ^= 1;
            return forged;
        }
        root
    }
}

/// The lists a chief's pulse carries, shared between the chief and every receiver.
#[derive(Clone, Debug, Default)]
pub(super) struct Announced {
    pub views: Arc<[ViewEntry]>,
    pub seatings: Arc<[Seating]>,
}

impl Announced {
    /// Whether these are the very lists held (the same allocation: learnt already).
    pub fn holds(&self, views: &Arc<[ViewEntry]>, seatings: &Arc<[Seating]>) -> bool {
        Arc::ptr_eq(&self.views, views) && Arc::ptr_eq(&self.seatings, seatings)
    }
}

/// A pool's candidates as the organization's record lists them: each may keep the books with
/// its frozen deposit; trust is the credit layer's and is not simulated here (D-035).
struct PoolStanding<'a>(&'a [crate::node::roster::Candidate]);

impl crate::consensus::election::Eligibility for PoolStanding<'_> {
    fn may_bookkeep(&self, id: &Id) -> bool {
        self.0.iter().any(|c| c.id == *id)
    }
    fn frozen_deposit(&self, id: &Id) -> u64 {
        self.0.iter().find(|c| c.id == *id).map_or(0, |c| c.deposit)
    }
    fn trust(&self, _: &Id) -> f64 {
        1.0
    }
}

/// Every member of a committee stands for its next term: the roster seated them (deposit and
/// trust were checked when the roster was elected).
struct CommitteeMembers;

impl crate::consensus::election::Eligibility for CommitteeMembers {
    fn may_bookkeep(&self, _: &Id) -> bool {
        true
    }
    fn frozen_deposit(&self, _: &Id) -> u64 {
        u64::MAX
    }
    fn trust(&self, _: &Id) -> f64 {
        1.0
    }
}

fn reject(signed: &SignedTx, tx_id: Hash32, error: LedgerError) -> Output {
    Output::Send { to: signed.tx.from, msg: Message::Rejected { tx_id, error } }
}

impl std::fmt::Debug for Bookkeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bookkeeper")
            .field("id", &self.id)
            .field("group", &self.group)
            .field("pulse", &self.pulse)
            .finish_non_exhaustive()
    }
}
