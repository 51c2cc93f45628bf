//! A client of the minimal pulse protocol: pays with doubly signed transfers, one in flight
//! at a time per account, retries until it holds a verified proof, and co-signs transfers paid
//! to it. Besides its own it may hold other accounts' keys and pay from them (D-046).

use crate::consensus::root::AccountProof;
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::id::{Id, Prefix};
use crate::ledger::{LedgerError, Party, SignedTx, Tx};
use crate::smt::{Account, RootSynopsis};

use super::roster::{ViewEntry, Views};

use super::client_gov::{GovClient, Sending, check_answer_from};
use super::client_pay::{Held, Payer, Paying, Queued};
use super::client_proof::{Asking, ProvenUse};
use super::envelope::Link;
use super::{
    Command, Envelope, Message, MessageKind, NodeConfig, NodeError, NodeEvent, Output, ProofAnswer,
    SharedSigner, SharedVerifier, Timer, To, unexpected,
};

/// The client's state. `repr(C)` with the fields a pulse touches first, so that handling the
/// most frequent message (every client receives every pulse) reads two cache lines, not four.
#[repr(C)]
#[derive(Clone)]
pub struct Client {
    /// The newest root synopsis received; ts never goes back at an honest node (I7).
    root: Option<RootSynopsis>,
    /// The acting chief, whose pulses the client follows (next to `root` for the same reason).
    chief: Id,
    /// Next to `chief`: two 20-byte Ids together pad once, not twice (a node stays ≤ 1 KiB).
    id: Id,
    pulse: u64,
    /// The payments from its own account.
    own: Payer,
    config: NodeConfig,
    /// The other accounts whose keys it holds, and their payments (D-046); usually none, so
    /// boxed only when there are (a client stays within the simulator's 1 KiB a node).
    #[allow(clippy::box_collection)] // one word where a `Vec` is three, for the same reason
    held: Option<Box<Vec<Held>>>,
    /// The group views announced by the chief (D-032).
    views: Views,
    /// The view list of the last pulse learnt: the chief resends the same list until it
    /// changes, and comparing it entry by entry at every client was most of a pulse's cost.
    last_views: std::sync::Arc<[ViewEntry]>,
    /// Its key and what it remembers of bookkeepers' envelopes (D-039).
    link: Link,
    verifier: SharedVerifier,
    /// Its governance requests, once it made one (D-041).
    gov: Option<Box<GovClient>>,
    #[cfg(feature = "fault-injection")]
    faults: super::NodeFaults,
}

impl Client {
    pub(super) fn new(signer: SharedSigner, verifier: SharedVerifier, config: NodeConfig) -> Client {
        let id = signer.id();
        Client {
            chief: config.roster.chief(),
            link: Link::new(signer),
            verifier,
            config,
            id,
            own: Payer::default(),
            held: None,
            views: Views::default(),
            last_views: Default::default(),
            gov: None,
            root: None,
            pulse: 0,
            #[cfg(feature = "fault-injection")]
            faults: super::NodeFaults::default(),
        }
    }

    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_faults(&mut self, faults: super::NodeFaults) {
        self.faults = faults;
    }

    /// Whether to take `root` in place of the one held: only if it is not older (I7).
    fn takes_root(&self, root: &RootSynopsis) -> bool {
        #[cfg(feature = "fault-injection")]
        {
            if self.faults.accept_older_root {
                return true;
            }
            if self.faults.stuck_root {
                return self.root.is_none();
            }
        }
        self.root.is_none_or(|held| root.version >= held.version)
    }

    pub(super) fn id(&self) -> Id {
        self.id
    }

    pub(super) fn pulse(&self) -> u64 {
        self.pulse
    }

    pub(super) fn root(&self) -> Option<RootSynopsis> {
        self.root
    }

    /// Everything that determines what the client does next.
    /// Switch envelope checks off (tests only).
    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_envelope_faults(&mut self, faults: super::EnvelopeFaults) {
        self.link.inject_faults(faults);
    }

    pub(super) fn fingerprint(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&self.id.0);
        hasher.update(&self.own.nonce.to_le_bytes());
        hasher.update(&self.pulse.to_le_bytes());
        if let Some(root) = &self.root {
            hasher.update(&root.version.to_le_bytes());
            hasher.update(&root.synopsis.hash.0);
        }
        self.own.fingerprint_transfers(&mut hasher);
        for entry in self.views.entries() {
            hasher.update(&entry.view.to_le_bytes());
            hasher.update(&entry.primary.0);
        }
        self.link.fingerprint(&mut hasher);
        if let Some(gov) = &self.gov {
            gov.fingerprint(&mut hasher);
        }
        // After everything else, so a client holding no other account hashes as it always did.
        for held in self.held() {
            held.fingerprint(&mut hasher);
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    pub(super) fn queue_len(&self) -> usize {
        self.own.queue.len() + self.held().iter().map(|h| h.payer.queue.len()).sum::<usize>()
    }

    /// Hold `signer`'s account beside its own and pay from it on [`Command::TransferFrom`]
    /// (D-046). Holding it again, or holding its own, changes nothing.
    pub(super) fn hold_account(&mut self, signer: SharedSigner) {
        let id = signer.id();
        if self.holds(&id) {
            return;
        }
        self.link.also_addressed_as(id);
        self.held.get_or_insert_default().push(Held { signer, payer: Payer::default() });
    }

    fn held(&self) -> &[Held] {
        self.held.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The accounts it holds besides its own.
    pub(super) fn held_accounts(&self) -> impl Iterator<Item = Id> + '_ {
        self.held().iter().map(Held::id)
    }

    /// What paying from `account` needs, and its payments: its own or a held account's.
    fn payer_of(&mut self, now_ms: u64, account: Id) -> Option<(Paying<'_>, &mut Payer)> {
        let (pulse, retry_ms, max_attempts) = (self.pulse, self.config.retry_ms, self.config.max_attempts);
        let (signer, payer) = if account == self.id {
            (self.link.signer(), &mut self.own)
        } else {
            let held = self.held.as_deref_mut()?.iter_mut().find(|h| h.signer.id() == account)?;
            (&held.signer, &mut held.payer)
        };
        Some((Paying { now_ms, pulse, signer, retry_ms, max_attempts }, payer))
    }

    /// The account whose transfer in flight is `tx_id`.
    fn paying_account(&self, tx_id: &Hash32) -> Option<Id> {
        if self.own.has_in_flight(tx_id) {
            return Some(self.id);
        }
        self.held().iter().find(|h| h.payer.has_in_flight(tx_id)).map(Held::id)
    }

    /// Every account it pays from: its own first.
    fn accounts(&self) -> Vec<Id> {
        std::iter::once(self.id).chain(self.held_accounts()).collect()
    }

    /// Without durable state the node forgets its queue, its transfer in flight and its nonce;
    /// a stale nonce is corrected by the bookkeeper's `BadNonce` answer. The root it holds
    /// stays: a party *stores* its ts and root (SPEC §7.3 step 7), so ts never goes back (I7).
    pub(super) fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        let mut tags = Vec::new();
        for account in self.accounts() {
            let (paying, payer) = self.payer_of(now_ms, account).expect("a held account");
            payer.restart(&paying, durable, &mut tags, out);
        }
        if durable {
            let sending = self.sending(now_ms);
            if let Some(gov) = self.gov.as_deref_mut() {
                gov.resume(&sending, out);
            }
            let fetches = self.gov.as_deref().map_or(Vec::new(), |gov| gov.proofs.resume());
            for tag in fetches {
                self.retry_proof(now_ms, tag, out);
            }
            return;
        }
        if let Some(gov) = self.gov.as_deref_mut() {
            // Governance tags are the driver's other handles: given up, not lost transfers.
            out.extend(gov.forget().into_iter().map(|tag| Output::Event(NodeEvent::GovGaveUp { tag })));
        }
        if !tags.is_empty() {
            out.push(Output::Event(NodeEvent::Lost { tags }));
        }
    }

    pub(super) fn handle_command(&mut self, now_ms: u64, command: Command, out: &mut Vec<Output>) {
        match command {
            Command::Transfer { to, amount, tag } => {
                let (paying, payer) = self.payer_of(now_ms, self.id).expect("its own account");
                payer.enqueue(&paying, Queued { to, amount, tag }, out);
            }
            Command::TransferFrom { from, to, amount, tag } => match self.payer_of(now_ms, from) {
                Some((paying, payer)) => payer.enqueue(&paying, Queued { to, amount, tag }, out),
                None => {
                    // It holds no key for `from`: nothing to sign with.
                    let error = LedgerError::KeyMismatch { party: Party::Payer, id: from };
                    out.push(Output::Event(NodeEvent::Refused { tag, error }));
                }
            },
            Command::Gov { org, action, tag } => {
                let sending = self.sending(now_ms);
                self.gov.get_or_insert_default().command(org, action, tag, &sending, out);
            }
            Command::VoteByBalance { org, number, opened_pulse, yes, tag } => {
                let then = ProvenUse::Vote { yes };
                self.fetch_proof((org, number, opened_pulse), self.id, then, tag, now_ms, out);
            }
            Command::ProveOrgAccount { org, number, opened_pulse, tag } => {
                self.fetch_proof((org, number, opened_pulse), org, ProvenUse::OrgAccount, tag, now_ms, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // the command's fields, then the call's
    fn fetch_proof(
        &mut self,
        proposal: (Id, u64, u64),
        account: Id,
        then: ProvenUse,
        tag: u64,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let asking = self.asking(now_ms, account);
        self.gov.get_or_insert_default().proofs.start(proposal, account, then, tag, &asking, out);
    }

    /// Where a proof request about `account` goes now: the bookkeeper acting for its group.
    fn asking(&self, now_ms: u64, account: Id) -> Asking {
        Asking {
            now_ms,
            bookkeeper: self.views.acting_for(&self.config.roster, &account),
            retry_ms: self.config.retry_ms,
            max_attempts: self.config.max_attempts,
        }
    }

    /// A bookkeeper's answer to a proof request: the governance requests it makes ready go out.
    fn on_account_at(
        &mut self,
        now_ms: u64,
        from: Id,
        (account, pulse): (Id, u64),
        answer: &ProofAnswer,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        self.check_from_bookkeeper(account, from, MessageKind::AccountAt)?;
        let group = self.config.roster.group_of(&account);
        let sending = self.sending(now_ms);
        let Some(gov) = self.gov.as_deref_mut() else { return Ok(()) };
        for ready in gov.proofs.answer((account, pulse, group), answer, out)? {
            gov.command(ready.org, ready.action, ready.tag, &sending, out);
        }
        Ok(())
    }

    /// What a governance request needs to go out now.
    fn sending(&self, now_ms: u64) -> Sending {
        Sending {
            now_ms,
            chief: self.chief,
            retry_ms: self.config.retry_ms,
            max_attempts: self.config.max_attempts,
        }
    }

    pub(super) fn handle_timer(&mut self, now_ms: u64, timer: Timer, out: &mut Vec<Output>) {
        if let Timer::ProofRetry { tag } = timer {
            self.retry_proof(now_ms, tag, out);
            return;
        }
        if let Timer::GovRetry { nonce } = timer {
            let sending = self.sending(now_ms);
            if let Some(gov) = self.gov.as_deref_mut() {
                gov.retry(nonce, &sending, out);
            }
            return;
        }
        let Timer::Retry { tx_id } = timer else { return };
        let Some(account) = self.paying_account(&tx_id) else { return };
        let (paying, payer) = self.payer_of(now_ms, account).expect("the account paying it");
        payer.retry(&paying, tx_id, out);
    }

    fn retry_proof(&mut self, now_ms: u64, tag: u64, out: &mut Vec<Output>) {
        let Some(account) = self.gov.as_deref().and_then(|gov| gov.proofs.account_of(tag)) else { return };
        let asking = self.asking(now_ms, account);
        if let Some(gov) = self.gov.as_deref_mut() {
            gov.proofs.retry(tag, &asking, out);
        }
    }

    /// `msg` sealed for `to` at local time `now_ms` (D-039).
    pub(super) fn forgo_replay_fence(&mut self) {
        self.link.forgo_replay_fence();
    }

    pub(super) fn signer(&self) -> &SharedSigner {
        self.link.signer()
    }

    pub(super) fn seal(&mut self, now_ms: u64, to: To, msg: Message) -> Envelope {
        self.link.seal(now_ms, to, msg)
    }

    /// An envelope arrived: the envelope checks (D-039), then the message.
    pub(super) fn handle_message(&mut self, now_ms: u64, envelope: &Envelope, out: &mut Vec<Output>) {
        let (msg, roster) = (&envelope.msg, &self.config.roster);
        let from = match self.link.open(envelope, roster, self.verifier.as_ref()) {
            Ok(from) => from,
            Err(error) => {
                out.push(Output::Event(NodeEvent::BadMessage { from: envelope.from(), error }));
                return;
            }
        };
        match msg {
            Message::Propose { tx, payer_key, payer_sig } => {
                if let Err(error) = self.co_sign(tx, payer_key, payer_sig, out) {
                    out.push(Output::Event(NodeEvent::BadMessage { from, error }));
                }
            }
            Message::Committed { tx_id, root, proof } => {
                if let Err(error) = self.on_committed(now_ms, from, *tx_id, root, proof, out) {
                    out.push(Output::Event(NodeEvent::BadMessage { from, error }));
                }
            }
            Message::Rejected { tx_id, error } => self.on_rejected(now_ms, from, *tx_id, *error, out),
            Message::Pulse { pulse, root, views, .. } => self.on_pulse(from, *pulse, root, views, out),
            Message::GovOutcome { org, nonce, pulse, result } => {
                if let Err(error) = check_answer_from(&self.config.roster, from) {
                    out.push(Output::Event(NodeEvent::BadMessage { from, error }));
                    return;
                }
                let sending = self.sending(now_ms);
                if let Some(gov) = self.gov.as_deref_mut() {
                    gov.answer((*org, *nonce, *pulse), *result, &sending, out);
                }
            }
            Message::Closed { pulse, closed } => self.on_closed(from, *pulse, closed, out),
            Message::AccountAt { account, pulse, answer } => {
                if let Err(error) = self.on_account_at(now_ms, from, (*account, *pulse), answer, out) {
                    out.push(Output::Event(NodeEvent::BadMessage { from, error }));
                }
            }
            Message::Submit(_)
            | Message::ProveAccount { .. }
            | Message::Gov(_)
            | Message::CreditHalf(_)
            | Message::GroupSeal(_)
            | Message::Settle(_)
            | Message::Replicate(_)
            | Message::StateRequest { .. }
            | Message::State(_)
            | Message::CoSign { .. }
            | Message::ViewChange { .. }
            | Message::Attest { .. } => out.push(unexpected("client", from, msg)),
        }
    }

    // ----- paying -----------------------------------------------------------------------

    fn on_committed(
        &mut self,
        now_ms: u64,
        from: Id,
        tx_id: Hash32,
        root: &RootSynopsis,
        proof: &AccountProof,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        // The sender is checked first, against its own group unless the proof names an account
        // it holds: the order of the checks (and so the error) is the one it always had.
        let holder = proof.account.key;
        let account = if self.holds(&holder) { holder } else { self.id };
        self.check_from_bookkeeper(account, from, MessageKind::Committed)?;
        if account != holder {
            return Err(NodeError::ProofDoesNotShowTransfer);
        }
        let account = verified_account(root, proof)?;
        let (paying, payer) = self.payer_of(now_ms, holder).expect("held: checked above");
        match payer.committed(&paying, (tx_id, account.nonce, root.version), out) {
            Ok(true) => {}
            // Not a payment in flight: a credit to us, or a late duplicate of our own commit.
            Ok(false) => out.push(Output::Event(NodeEvent::Credited { tx_id, version: root.version })),
            Err(()) => return Err(NodeError::ProofDoesNotShowTransfer),
        }
        Ok(())
    }

    /// Whether `account` is its own or one it holds.
    fn holds(&self, account: &Id) -> bool {
        *account == self.id || self.held().iter().any(|h| h.id() == *account)
    }

    fn on_rejected(
        &mut self,
        now_ms: u64,
        from: Id,
        tx_id: Hash32,
        error: LedgerError,
        out: &mut Vec<Output>,
    ) {
        let account = self.paying_account(&tx_id).unwrap_or(self.id);
        if let Err(error) = self.check_from_bookkeeper(account, from, MessageKind::Rejected) {
            out.push(Output::Event(NodeEvent::BadMessage { from, error }));
            return;
        }
        let (paying, payer) = self.payer_of(now_ms, account).expect("its own or the one paying");
        payer.rejected(&paying, tx_id, error, out);
    }

    // ----- being paid -------------------------------------------------------------------

    /// Check the payer's half and submit the doubly signed transfer (SPEC §7.1, §7.3 step 1).
    fn co_sign(
        &self,
        tx: &Tx,
        payer_key: &PublicKey,
        payer_sig: &Signature,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        let payee = if tx.to == self.id {
            self.link.signer()
        } else {
            // Paid to an account it holds (D-046): that account's key co-signs.
            let held = self.held().iter().find(|h| h.id() == tx.to);
            &held.ok_or(NodeError::NotThePayee { payee: tx.to })?.signer
        };
        if payer_key.id() != tx.from {
            return Err(NodeError::BadProposal(LedgerError::KeyMismatch {
                party: Party::Payer,
                id: tx.from,
            }));
        }
        if tx.amount == 0 {
            return Err(NodeError::BadProposal(LedgerError::NonPositiveAmount));
        }
        let tx_id = tx.id();
        self.verifier.verify(payer_key, &tx_id.0, payer_sig).map_err(|reason| {
            NodeError::BadProposal(LedgerError::BadSignature { party: Party::Payer, reason })
        })?;
        #[allow(unused_mut)] // changed only with fault injection
        let mut signed = SignedTx {
            tx: *tx,
            payer_key: *payer_key,
            payee_key: payee.public_key(),
            payer_sig: *payer_sig,
            payee_sig: payee.sign(&tx_id.0),
        };
        #[cfg(feature = "fault-injection")]
        if self.faults.forge_payee_signature {
            signed.payee_sig.0[0] ^= 1;
        }
        let payer_primary = self.views.acting_for(&self.config.roster, &tx.from);
        out.push(Output::Send { to: payer_primary, msg: Message::Submit(Box::new(signed)) });
        Ok(())
    }

    // ----- pulses -----------------------------------------------------------------------

    fn on_pulse(
        &mut self,
        from: Id,
        pulse: u64,
        root: &RootSynopsis,
        views: &std::sync::Arc<[ViewEntry]>,
        out: &mut Vec<Output>,
    ) {
        if from != self.chief && !self.views.is_chief_pulse(&self.config.roster, &from, views) {
            let error = NodeError::NotFromBookkeeper { bookkeeper: self.chief, kind: MessageKind::Pulse };
            out.push(Output::Event(NodeEvent::BadMessage { from, error }));
            return;
        }
        self.pulse = self.pulse.max(pulse);
        if !std::sync::Arc::ptr_eq(&self.last_views, views) {
            self.last_views = std::sync::Arc::clone(views);
            if !self.views.learn(views).is_empty() {
                // The chief failed over (D-033): follow its successor's pulses.
                self.chief = self.views.acting(&self.config.roster, &Prefix::ROOT).1;
            }
        }
        // A reordered, older pulse must not move ts back (I7).
        if self.takes_root(root) {
            self.root = Some(*root);
        }
    }

    /// The chief's announcement of the proposals a pulse closed (D-050): taken from the chief
    /// this client follows only, as its pulses are.
    fn on_closed(&mut self, from: Id, pulse: u64, closed: &[super::ClosedNotice], out: &mut Vec<Output>) {
        if from != self.chief {
            let error = NodeError::NotFromBookkeeper { bookkeeper: self.chief, kind: MessageKind::Closed };
            out.push(Output::Event(NodeEvent::BadMessage { from, error }));
            return;
        }
        for notice in closed {
            out.push(Output::Event(NodeEvent::ProposalLearnt { pulse, notice: Box::new(notice.clone()) }));
        }
    }

    /// A commit about `account` carries a proof, so any member of the account's committee may
    /// send it (a backup that took over announces what its predecessor sealed) — any candidate
    /// of its pool, when the committee is elected from one (D-035); a refusal only the member
    /// acting as its group's primary, as far as the client knows (D-032).
    fn check_from_bookkeeper(
        &self,
        account: Id,
        from: Id,
        kind: super::MessageKind,
    ) -> Result<(), NodeError> {
        let roster = &self.config.roster;
        let accepted = match kind {
            // A proof speaks for itself: any candidate of the account's group may send one.
            MessageKind::Committed | MessageKind::AccountAt => {
                roster.is_candidate(&roster.group_of(&account), &from)
            }
            _ => from == self.views.acting_for(roster, &account),
        };
        if accepted {
            Ok(())
        } else {
            let bookkeeper = self.views.acting_for(roster, &account);
            Err(NodeError::NotFromBookkeeper { bookkeeper, kind })
        }
    }
}

/// The account `proof` shows under `root`, once the proof verifies.
fn verified_account(root: &RootSynopsis, proof: &AccountProof) -> Result<Account, NodeError> {
    match proof.verify(root) {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(NodeError::ProofDoesNotShowTransfer),
        Err(error) => Err(NodeError::BadProof(error)),
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("nonce", &self.own.nonce)
            .field("queued", &self.own.queue.len())
            .field("in_flight", &self.own.in_flight.map(|f| f.tag))
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}
