//! A client of the minimal pulse protocol: pays with doubly signed transfers, one in flight
//! at a time, retries until it holds a verified proof, and co-signs transfers paid to it.

use std::collections::VecDeque;

use crate::consensus::root::AccountProof;
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::id::{Id, Prefix};
use crate::ledger::{LedgerError, Party, SignedTx, Tx};
use crate::smt::{Account, RootSynopsis};

use super::roster::{ViewEntry, Views};

use super::client_gov::{GovClient, Sending, check_answer_from};
use super::envelope::Link;
use super::{
    Command, Envelope, Message, MessageKind, NodeConfig, NodeError, NodeEvent, Output, SharedSigner,
    SharedVerifier, Timer, To, unexpected,
};

/// A transfer the user asked for and the node has not started.
#[derive(Clone, Copy, Debug)]
struct Queued {
    to: Id,
    amount: u64,
    tag: u64,
}

/// The transfer in flight: signed by the payer, proposed to the payee.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    tx: Tx,
    /// `tx.id()`, kept because every retry, outcome and timer compares against it.
    tx_id: Hash32,
    payer_sig: Signature,
    tag: u64,
    attempts: u32,
}

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
    /// The nonce of this payer's latest committed transfer, as far as the node knows.
    nonce: u64,
    config: NodeConfig,
    in_flight: Option<InFlight>,
    queue: VecDeque<Queued>,
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
            nonce: 0,
            queue: VecDeque::new(),
            views: Views::default(),
            last_views: Default::default(),
            in_flight: None,
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
        hasher.update(&self.nonce.to_le_bytes());
        hasher.update(&self.pulse.to_le_bytes());
        if let Some(root) = &self.root {
            hasher.update(&root.version.to_le_bytes());
            hasher.update(&root.synopsis.hash.0);
        }
        if let Some(f) = &self.in_flight {
            hasher.update(&f.tx_id.0);
            hasher.update(&f.tag.to_le_bytes());
            hasher.update(&f.attempts.to_le_bytes());
        }
        for q in &self.queue {
            hasher.update(&q.to.0);
            hasher.update(&q.amount.to_le_bytes());
            hasher.update(&q.tag.to_le_bytes());
        }
        for entry in self.views.entries() {
            hasher.update(&entry.view.to_le_bytes());
            hasher.update(&entry.primary.0);
        }
        self.link.fingerprint(&mut hasher);
        if let Some(gov) = &self.gov {
            gov.fingerprint(&mut hasher);
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    pub(super) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Without durable state the node forgets its queue, its transfer in flight and its nonce;
    /// a stale nonce is corrected by the bookkeeper's `BadNonce` answer. The root it holds
    /// stays: a party *stores* its ts and root (SPEC §7.3 step 7), so ts never goes back (I7).
    pub(super) fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        if durable {
            if let Some(in_flight) = self.in_flight {
                self.propose(now_ms, in_flight, out);
            }
            let sending = self.sending(now_ms);
            if let Some(gov) = self.gov.as_deref_mut() {
                gov.resume(&sending, out);
            }
            return;
        }
        let tags: Vec<u64> = self
            .in_flight
            .take()
            .map(|f| f.tag)
            .into_iter()
            .chain(self.queue.drain(..).map(|q| q.tag))
            .collect();
        if let Some(gov) = self.gov.as_deref_mut() {
            // Governance tags are the driver's other handles: given up, not lost transfers.
            out.extend(gov.forget().into_iter().map(|tag| Output::Event(NodeEvent::GovGaveUp { tag })));
        }
        self.nonce = 0;
        if !tags.is_empty() {
            out.push(Output::Event(NodeEvent::Lost { tags }));
        }
    }

    pub(super) fn handle_command(&mut self, now_ms: u64, command: Command, out: &mut Vec<Output>) {
        match command {
            Command::Transfer { to, amount, tag } => {
                self.queue.push_back(Queued { to, amount, tag });
                if self.in_flight.is_none() {
                    self.start_next(now_ms, out);
                }
            }
            Command::Gov { org, action, tag } => {
                let sending = self.sending(now_ms);
                self.gov.get_or_insert_default().command(org, action, tag, &sending, out);
            }
        }
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
        if let Timer::GovRetry { nonce } = timer {
            let sending = self.sending(now_ms);
            if let Some(gov) = self.gov.as_deref_mut() {
                gov.retry(nonce, &sending, out);
            }
            return;
        }
        let Timer::Retry { tx_id } = timer else { return };
        let Some(in_flight) = self.in_flight.filter(|f| f.tx_id == tx_id) else { return };
        if in_flight.attempts >= self.config.max_attempts {
            self.in_flight = None;
            out.push(Output::Event(NodeEvent::Abandoned { tag: in_flight.tag }));
            self.start_next(now_ms, out);
            return;
        }
        self.propose(now_ms, InFlight { attempts: in_flight.attempts + 1, ..in_flight }, out);
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
            Message::Submit(_)
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

    fn start_next(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        let Some(next) = self.queue.pop_front() else { return };
        out.push(Output::Event(NodeEvent::Started { tag: next.tag }));
        self.sign_and_propose(now_ms, next.to, next.amount, next.tag, self.nonce + 1, out);
    }

    fn sign_and_propose(
        &mut self,
        now_ms: u64,
        to: Id,
        amount: u64,
        tag: u64,
        nonce: u64,
        out: &mut Vec<Output>,
    ) {
        let tx = Tx { from: self.id, to, amount, from_nonce: nonce, created_pulse: self.pulse };
        let tx_id = tx.id();
        let payer_sig = self.link.signer().sign(&tx_id.0);
        self.propose(now_ms, InFlight { tx, tx_id, payer_sig, tag, attempts: 1 }, out);
    }

    fn propose(&mut self, now_ms: u64, in_flight: InFlight, out: &mut Vec<Output>) {
        self.in_flight = Some(in_flight);
        let msg = Message::Propose {
            tx: in_flight.tx,
            payer_key: self.link.signer().public_key(),
            payer_sig: in_flight.payer_sig,
        };
        out.push(Output::Send { to: in_flight.tx.to, msg });
        let timer = Timer::Retry { tx_id: in_flight.tx_id };
        out.push(Output::SetTimer { at_ms: now_ms.saturating_add(self.config.retry_ms), timer });
    }

    fn on_committed(
        &mut self,
        now_ms: u64,
        from: Id,
        tx_id: Hash32,
        root: &RootSynopsis,
        proof: &AccountProof,
        out: &mut Vec<Output>,
    ) -> Result<(), NodeError> {
        self.check_from_bookkeeper(from, MessageKind::Committed)?;
        let account = self.verified_own_account(root, proof)?;
        match self.in_flight {
            Some(f) if f.tx_id == tx_id => {
                if account.nonce < f.tx.from_nonce {
                    return Err(NodeError::ProofDoesNotShowTransfer);
                }
                self.nonce = f.tx.from_nonce;
                self.in_flight = None;
                out.push(Output::Event(NodeEvent::Committed { tag: f.tag, version: root.version }));
                self.start_next(now_ms, out);
            }
            // Not our payment in flight: a credit to us, or a late duplicate of our own commit.
            _ => out.push(Output::Event(NodeEvent::Credited { tx_id, version: root.version })),
        }
        Ok(())
    }

    fn verified_own_account(&self, root: &RootSynopsis, proof: &AccountProof) -> Result<Account, NodeError> {
        if proof.account.key != self.id {
            return Err(NodeError::ProofDoesNotShowTransfer);
        }
        match proof.verify(root) {
            Ok(Some(account)) => Ok(account),
            Ok(None) => Err(NodeError::ProofDoesNotShowTransfer),
            Err(error) => Err(NodeError::BadProof(error)),
        }
    }

    fn on_rejected(
        &mut self,
        now_ms: u64,
        from: Id,
        tx_id: Hash32,
        error: LedgerError,
        out: &mut Vec<Output>,
    ) {
        if let Err(error) = self.check_from_bookkeeper(from, MessageKind::Rejected) {
            out.push(Output::Event(NodeEvent::BadMessage { from, error }));
            return;
        }
        let Some(f) = self.in_flight.filter(|f| f.tx_id == tx_id) else { return };
        self.in_flight = None;
        match error {
            // Our idea of the nonce was stale (e.g. after a restart): sign again with the right one.
            LedgerError::BadNonce { expected, .. } if expected != f.tx.from_nonce => {
                self.nonce = expected - 1;
                out.push(Output::Event(NodeEvent::NonceResynced { tag: f.tag, nonce: expected }));
                self.sign_and_propose(now_ms, f.tx.to, f.tx.amount, f.tag, expected, out);
            }
            _ => {
                out.push(Output::Event(NodeEvent::Refused { tag: f.tag, error }));
                self.start_next(now_ms, out);
            }
        }
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
        if tx.to != self.id {
            return Err(NodeError::NotThePayee { payee: tx.to });
        }
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
            payee_key: self.link.signer().public_key(),
            payer_sig: *payer_sig,
            payee_sig: self.link.signer().sign(&tx_id.0),
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

    /// A commit carries a proof, so any member of the client's committee may send it (a backup
    /// that took over announces what its predecessor sealed) — any candidate of its pool, when
    /// the committee is elected from one (D-035); a refusal only the member
    /// acting as its group's primary, as far as the client knows (D-032).
    fn check_from_bookkeeper(&self, from: Id, kind: super::MessageKind) -> Result<(), NodeError> {
        let roster = &self.config.roster;
        let accepted = match kind {
            MessageKind::Committed => roster.is_candidate(&roster.group_of(&self.id), &from),
            _ => from == self.views.acting_for(roster, &self.id),
        };
        if accepted {
            Ok(())
        } else {
            let bookkeeper = self.views.acting_for(roster, &self.id);
            Err(NodeError::NotFromBookkeeper { bookkeeper, kind })
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("nonce", &self.nonce)
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight.map(|f| f.tag))
            .finish_non_exhaustive()
    }
}
