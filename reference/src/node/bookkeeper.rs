//! A group's primary bookkeeper (SPEC §6.2, §7.3; D-023). It keeps the ledger of its group's
//! accounts: a transfer between two of them applies at once; a transfer to another group is
//! applied as a debit half here and a credit half at the payee's group. On every `Settle` from
//! the chief it carries out the chief's orders (clear or reverse halves), tells parties whose
//! transfer a root now covers, seals, and reports its synopsis and pending halves upward. The
//! root group's primary — the chief — does the same on its own pulse timer and also runs the
//! [`Arbiter`] that matches halves and builds the root.

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::consensus::capacity::{Capacity, CapacityError};
use crate::consensus::root::{AccountProof, GroupEntry, GroupPath};
use crate::consensus::settlement::{Arbiter, GroupReport, Order, PendingHalf, ReportError};
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};
use crate::ledger::{Applied, Half, Ledger, LedgerError, Settlement, SignedTx};
use crate::smt::{RootSynopsis, Version};

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
    chief: Option<Box<Arbiter>>,
    /// This version's capacity (SPEC §6.5), when the primary has a bounded deposit.
    capacity: Option<Capacity>,
    /// Submissions that did not fit this version's capacity, in arrival order: they wait for
    /// the next version (D-031).
    deferred: VecDeque<SignedTx>,
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
        let group = if chief.is_some() {
            Prefix::ROOT
        } else {
            config.roster.group_kept_by(&id).unwrap_or(config.roster.group_of(&id))
        };
        let root = chief.as_ref().and_then(|a| a.path(&group).map(|p| (a.root(), p)));
        let capacity = config.bookkeeper_deposit.map(Capacity::new);
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
            chief: chief.map(Box::new),
            capacity,
            deferred: VecDeque::new(),
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
        self.root.as_ref().map(|(root, _)| *root)
    }

    pub(super) fn start(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        if self.chief.is_some() {
            out.push(Output::SetTimer { at_ms: now_ms + self.config.pulse_ms, timer: Timer::Pulse });
        }
    }

    /// Sealed versions are durable (SPEC §5.2: data becomes read-only at the pulse); the
    /// unsealed cycle survives only a durable restart (D-011). Halves applied in a lost cycle
    /// are forgotten with it: the chief never saw them, so no order names them.
    pub(super) fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        if !durable {
            self.ledger.discard_unsealed();
            self.unsealed_ids.clear();
            self.open.retain(|_, open| open.sealed_in.is_some());
            self.credited.clear();
            self.settled.clear();
            // The waiting submissions were never applied; their payers retry.
            self.deferred.clear();
            if let Some(capacity) = &mut self.capacity {
                *capacity = Capacity::new(capacity.deposit());
            }
        }
        self.start(now_ms, out);
    }

    pub(super) fn handle_message(&mut self, from: Id, msg: &Message, out: &mut Vec<Output>) {
        let result = match msg {
            Message::Submit(signed) => {
                self.on_submit(signed, out);
                Ok(())
            }
            Message::CreditHalf(signed) => self.on_credit_half(from, signed),
            Message::Settle(settle) => self.on_settle(from, settle, out),
            Message::GroupSeal(report) => self.on_group_seal(from, report),
            // Every node hears the chief's pulse broadcast; a bookkeeper follows `Settle`.
            Message::Pulse { .. } if from == self.config.roster.chief() => Ok(()),
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
            self.on_chief_pulse(out);
            out.push(Output::SetTimer { at_ms: now_ms + self.config.pulse_ms, timer: Timer::Pulse });
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
                let to = self.config.roster.primary(&counterpart);
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
        let Some((root, path)) = &self.root else { return };
        let party = signed.tx.from;
        if let Some(msg) = self.commit_message(tx_id, party, root, path) {
            out.push(Output::Send { to: party, msg });
        }
    }

    fn on_credit_half(&mut self, from: Id, signed: &SignedTx) -> Result<(), NodeError> {
        let payer_primary = self.config.roster.primary_for(&signed.tx.from);
        if from != payer_primary {
            return Err(NodeError::NotFromBookkeeper {
                bookkeeper: payer_primary,
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

    fn on_settle(&mut self, from: Id, settle: &SettleMsg, out: &mut Vec<Output>) -> Result<(), NodeError> {
        let chief = self.config.roster.chief();
        if from != chief {
            return Err(NodeError::NotFromBookkeeper { bookkeeper: chief, kind: MessageKind::Settle });
        }
        if settle.path.entry.prefix != self.group {
            return Err(NodeError::WrongGroupPath);
        }
        settle.path.verify(&settle.root).map_err(|_| NodeError::WrongGroupPath)?;
        if settle.pulse <= self.pulse {
            return Ok(()); // a duplicated or reordered settle: its orders were carried out
        }
        self.pulse = settle.pulse;
        if self.root.as_ref().is_none_or(|(held, _)| settle.root.version >= held.version) {
            self.root = Some((settle.root, settle.path.clone()));
        }
        self.carry_out(&settle.orders, out);
        self.announce(out);
        let report = self.seal(out);
        out.push(Output::Send { to: chief, msg: Message::GroupSeal(Box::new(report)) });
        Ok(())
    }

    fn on_group_seal(&mut self, from: Id, report: &GroupReport) -> Result<(), NodeError> {
        let Some(arbiter) = self.chief.as_mut() else {
            return Err(NodeError::UnexpectedMessage { role: "bookkeeper", kind: MessageKind::GroupSeal });
        };
        let primary = self.config.roster.primary(&report.entry.prefix);
        if from != primary || report.entry.prefix == Prefix::ROOT {
            return Err(NodeError::NotFromBookkeeper { bookkeeper: primary, kind: MessageKind::GroupSeal });
        }
        match arbiter.report(report.clone()) {
            // Two different reports for one pulse: evidence against the group's primary
            // (SPEC §8.4); the first stays.
            Err(ReportError::Equivocation { group, pulse }) => Err(NodeError::Equivocation { group, pulse }),
            // A stale report (reordered or duplicated) is expected on a lossy network: ignore it.
            _ => Ok(()),
        }
    }

    /// The chief's pulse: seal its own group and report to itself, close the pulse, carry out
    /// its own group's orders at once (as a leaf primary does on `Settle`), tell parties, and
    /// send every other group its `Settle`.
    fn on_chief_pulse(&mut self, out: &mut Vec<Output>) {
        self.pulse += 1;
        let pulse = self.pulse;
        let report = self.seal(out);
        let arbiter = self.chief.as_mut().expect("only the chief has a pulse timer");
        arbiter.report(report).expect("the chief's own report is always newer");
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
        self.send_settles(out);
        let announced = self.announced(root);
        out.push(Output::Broadcast { msg: Message::Pulse { pulse, root: announced } });
    }

    fn send_settles(&self, out: &mut Vec<Output>) {
        let arbiter = self.chief.as_ref().expect("only the chief settles");
        let root = self.announced(arbiter.root());
        for (group, primary) in self.config.roster.groups().skip(1) {
            let Some(path) = arbiter.path(&group) else { continue };
            let orders = arbiter.orders_for(&group);
            let settle = SettleMsg { pulse: self.pulse, root, path, orders };
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
                let to = self.config.roster.primary(&open.counterpart);
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
