//! The books of one group (SPEC §7.3, D-023), in the order a transfer meets them: a
//! submission, the version's capacity (SPEC §6.5, D-031), the debit and credit halves of a
//! transfer across groups, the chief's settle orders carried out, the notices to parties whose
//! transfer a root now covers, and the seal that builds the group's report.

use crate::consensus::capacity::{Capacity, CapacityError};
use crate::consensus::root::{AccountProof, GroupEntry, GroupPath};
use crate::consensus::settlement::{GroupReport, Order, PendingHalf};
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};
use crate::ledger::{Applied, Half, LedgerError, Settlement, SignedTx};
use crate::smt::{RootSynopsis, Version};

use super::{Books, Notice, OpenHalf, reject};
use crate::node::{Message, MessageKind, NodeError, NodeEvent, Output, SettleMsg};

impl Books {
    pub(super) fn on_submit(&mut self, signed: &SignedTx, out: &mut Vec<Output>) {
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

    /// A retried submission of a committed transfer: send the commit again, with the newest
    /// root, if the transfer was not reversed since.
    pub(super) fn recommit(&self, tx_id: Hash32, signed: &SignedTx, out: &mut Vec<Output>) {
        debug_assert_eq!(self.last_sealed.get(&signed.tx.from), Some(&(signed.tx.from_nonce, tx_id)));
        let Some((root, path)) = self.root.as_ref().filter(|_| !self.replaying) else { return };
        let party = signed.tx.from;
        if let Some(msg) = self.commit_message(tx_id, party, root, path) {
            out.push(Output::Send { to: party, msg });
        }
    }

    /// Whether this version's capacity takes `signed` (SPEC §6.5); if not, it waits for the
    /// next version, or — larger than the whole deposit — is refused.
    pub(super) fn within_capacity(
        &mut self,
        signed: &SignedTx,
        tx_id: Hash32,
        out: &mut Vec<Output>,
    ) -> bool {
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
    pub(super) fn apply_submission(&mut self, signed: &SignedTx, tx_id: Hash32, out: &mut Vec<Output>) {
        debug_assert_eq!(signed.tx.id(), tx_id);
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
                let earlier = self.open.insert(tx_id, open);
                assert!(earlier.is_none(), "a debit half is applied once (on_submit skips one under way)");
                let (_, to) = self.views.acting(&self.config.roster, &counterpart);
                // Paired with the payee's group's check of the payer's group (`on_credit_half`).
                debug_assert_ne!(counterpart, self.group, "a credit half goes to another group");
                out.push(Output::Send { to, msg: Message::CreditHalf(Box::new(*signed)) });
            }
            Err(error) => out.push(reject(signed, tx_id, error)),
        }
    }

    pub(super) fn use_capacity(&mut self, amount: u64) {
        let Some(capacity) = &mut self.capacity else { return };
        let reserved = capacity.reserve(amount);
        #[cfg(feature = "fault-injection")]
        if self.faults.skip_capacity {
            return; // the test-only fault applies past the capacity: I11 must catch it
        }
        assert!(reserved.is_ok(), "a submission is applied only within the version's capacity: {reserved:?}");
    }

    pub(super) fn on_credit_half(&mut self, from: Id, signed: &SignedTx) -> Result<(), NodeError> {
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
        debug_assert!(!self.open.contains_key(&tx_id), "a duplicate was returned above");
        self.open
            .insert(tx_id, OpenHalf { half: Half::Credit, signed: *signed, counterpart, sealed_in: None });
        self.credited.push(Applied { id: tx_id, signed: *signed });
        Ok(())
    }

    pub(super) fn credit_horizon_pulses(&self) -> u64 {
        crate::node::credit_horizon_pulses(self.config.transfer_timeout_pulses)
    }

    /// Carry out a `Settle`: orders, notices, the seal. Returns the report for the chief, or
    /// `None` for a duplicated or reordered `Settle`.
    pub(super) fn on_settle(
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
        self.proven.remember(settle.pulse, settle.root, &settle.path);
        self.carry_out(&settle.orders, out);
        self.announce(out);
        let report = self.seal(out);
        assert_eq!(report.pulse, settle.pulse, "the report is of the pulse the chief settled");
        Ok(Some(report))
    }

    /// Clear or reverse the halves the chief ordered.
    pub(super) fn carry_out(&mut self, orders: &[Order], out: &mut Vec<Output>) {
        for order in orders {
            let Some(open) = self.open.get(&order.tx_id).copied() else { continue };
            #[allow(unused_mut)] // changed only with fault injection
            let mut order = *order;
            #[cfg(feature = "fault-injection")]
            if self.faults.reverse_cleared_debits && open.half == Half::Debit {
                order.how = Settlement::Reverse;
            }
            // Only `how` is the chief's word, and either settlement of a half applied here fits
            // the ledger: it holds the half's amount pending.
            let settled = self.ledger.settle(open.half, &open.signed.tx, order.how);
            assert!(settled.is_ok(), "an open half settles: {settled:?}");
            self.unsealed_settlements.push((order.tx_id, open.half, open.signed.tx, order.how));
            let removed = self.open.remove(&order.tx_id);
            debug_assert!(removed.is_some(), "the order names an open half (looked up above)");
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
    pub(super) fn announce(&mut self, out: &mut Vec<Output>) {
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

    pub(super) fn commit_message(
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
    pub(super) fn seal(&mut self, out: &mut Vec<Output>) -> GroupReport {
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
        // What the chief checks on receipt (`Chief::on_group_seal`, the arbiter): this group's
        // latest version, every open half in it, nothing left unsealed.
        assert!(self.ledger.journal().is_empty() && self.unsealed_ids.is_empty(), "the cycle is sealed");
        assert_eq!(version, self.ledger.tree().latest_version(), "the report is of the latest version");
        debug_assert!(self.open.values().all(|open| open.sealed_in.is_some()), "every open half is sealed");
        // After the report: what was waiting goes into the next version.
        self.resume_deferred(out);
        report
    }

    /// A debit still open a pulse after it was sealed has not been matched: its credit half
    /// may have been lost, so send it again (the payee's group ignores duplicates). Without
    /// this a single lost message aborts the transfer after `transfer_timeout_pulses`.
    pub(super) fn resend_credit_halves(&self, out: &mut Vec<Output>) {
        for open in self.open.values() {
            if open.half == Half::Debit && open.sealed_in.is_some() {
                let (_, to) = self.views.acting(&self.config.roster, &open.counterpart);
                out.push(Output::Send { to, msg: Message::CreditHalf(Box::new(open.signed)) });
            }
        }
    }

    /// The version is sealed: a fresh capacity, and the waiting submissions go first, in
    /// order, as far as it reaches (the rest wait again).
    pub(super) fn resume_deferred(&mut self, out: &mut Vec<Output>) {
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

    /// The newest organization root this node holds.
    pub(super) fn root(&self) -> Option<RootSynopsis> {
        let settled = self.root.as_ref().map(|(root, _)| *root);
        match (settled, self.heard_root) {
            (Some(settled), Some(heard)) if heard.version > settled.version => Some(heard),
            (None, heard) => heard,
            (settled, _) => settled,
        }
    }
    /// The latest sealed version of this group's ledger.
    pub(super) fn sealed_root(&self) -> RootSynopsis {
        let tree = self.ledger.tree();
        // The latest sealed version is always held: pruning keeps at least one version.
        tree.root(tree.latest_version()).expect("the latest version is held")
    }
    /// Forget the unsealed cycle: what was applied since the last seal and what waits.
    pub(super) fn drop_unsealed(&mut self) {
        self.ledger.discard_unsealed();
        self.unsealed_ids.clear();
        self.open.retain(|_, open| open.sealed_in.is_some());
        self.credited.clear();
        // The chief's own orders of the last pulse: its arbiter counts them carried out.
        self.settled.clear();
        for (tx_id, half, tx, how) in self.unsealed_settlements.clone() {
            // Carried out on the sealed version before; it is that version again.
            let settled = self.ledger.settle(half, &tx, how);
            assert!(settled.is_ok(), "a settlement of the sealed version settles again: {settled:?}");
            self.settled.push((tx_id, half, how));
        }
        // The waiting submissions were never applied; their payers retry.
        self.deferred.clear();
        if let Some(capacity) = &mut self.capacity {
            *capacity = Capacity::new(capacity.deposit());
        }
    }
    /// This node's view of its own group.
    pub(super) fn own_view(&self) -> u32 {
        self.views.acting(&self.config.roster, &self.group).0
    }
    pub(super) fn not_acting(&self) -> NodeError {
        NodeError::NotActing { group: self.group, view: self.own_view() }
    }
    /// The member acting as chief, as far as this node knows.
    pub(super) fn acting_chief(&self) -> Id {
        self.views.acting(&self.config.roster, &Prefix::ROOT).1
    }
}

/// The parts of a bookkeeper's fingerprint its books hold.
impl Books {
    /// The sealed version, the pulse, the root held, the unsealed cycle, the payers' last
    /// sealed transfers, the open halves, remembered credits, notices and settlements.
    pub(super) fn hash_books(&self, hasher: &mut blake3::Hasher) {
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
    }

    /// Only a bounded primary has this state; unbounded ones keep their old fingerprint.
    pub(super) fn hash_capacity(&self, hasher: &mut blake3::Hasher) {
        if let Some(capacity) = &self.capacity {
            hasher.update(&capacity.used().to_le_bytes());
            for signed in &self.deferred {
                hasher.update(&signed.tx.id().0);
            }
        }
    }

    /// Whether it acts, the views, and with pools the root followed and the seatings.
    pub(super) fn hash_views(&self, hasher: &mut blake3::Hasher) {
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
    }
}
