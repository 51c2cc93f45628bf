//! A client's payments from one account: its own, or an account whose key it holds (the
//! organization's, at its founder's node: D-046). One transfer in flight, the rest queued
//! behind it; each is retried until a verified proof shows it (SPEC §7.3).

use std::collections::VecDeque;
use std::num::NonZeroU32;

use crate::crypto::{Hash32, Signature};
use crate::id::Id;
use crate::ledger::{LedgerError, Tx};

use super::{Message, NodeEvent, Output, SharedSigner, Timer};

/// A transfer the user asked for and the node has not started.
#[derive(Clone, Copy, Debug)]
pub(super) struct Queued {
    pub to: Id,
    pub amount: u64,
    pub tag: u64,
}

/// The transfer in flight: signed by the payer, proposed to the payee.
#[derive(Clone, Copy, Debug)]
pub(super) struct InFlight {
    pub tx: Tx,
    /// `tx.id()`, kept because every retry, outcome and timer compares against it.
    pub tx_id: Hash32,
    pub payer_sig: Signature,
    pub tag: u64,
    /// At least 1; non-zero also lets `Option<InFlight>` take no more room than `InFlight`,
    /// which keeps a client within the simulator's 1 KiB a node.
    pub attempts: NonZeroU32,
}

/// What paying needs from the client around the account: the time, the pulse a new transfer is
/// dated in, how long to wait for an answer and how often to ask.
pub(super) struct Paying<'a> {
    pub now_ms: u64,
    pub pulse: u64,
    /// The account's key: it signs the payer's half.
    pub signer: &'a SharedSigner,
    pub retry_ms: u64,
    pub max_attempts: u32,
}

/// The payments from one account.
#[derive(Clone, Debug, Default)]
pub(super) struct Payer {
    /// The nonce of the account's latest committed transfer, as far as the node knows.
    pub nonce: u64,
    pub in_flight: Option<InFlight>,
    pub queue: VecDeque<Queued>,
}

/// An account other than its own whose key a client holds, and its payments (D-046).
#[derive(Clone)]
pub(super) struct Held {
    pub signer: SharedSigner,
    pub payer: Payer,
}

impl Payer {
    /// The user asks to pay `queued`: started at once when nothing is in flight.
    pub(super) fn enqueue(&mut self, paying: &Paying, queued: Queued, out: &mut Vec<Output>) {
        self.queue.push_back(queued);
        if self.in_flight.is_none() {
            self.start_next(paying, out);
        }
    }

    pub(super) fn start_next(&mut self, paying: &Paying, out: &mut Vec<Output>) {
        let Some(next) = self.queue.pop_front() else { return };
        out.push(Output::Event(NodeEvent::Started { tag: next.tag }));
        self.sign_and_propose(paying, next, self.nonce + 1, out);
    }

    fn sign_and_propose(&mut self, paying: &Paying, next: Queued, nonce: u64, out: &mut Vec<Output>) {
        let from = paying.signer.id();
        let tx =
            Tx { from, to: next.to, amount: next.amount, from_nonce: nonce, created_pulse: paying.pulse };
        let tx_id = tx.id();
        let payer_sig = paying.signer.sign(&tx_id.0);
        self.propose(
            paying,
            InFlight { tx, tx_id, payer_sig, tag: next.tag, attempts: NonZeroU32::MIN },
            out,
        );
    }

    /// (Re)send the transfer in flight to its payee and wait for the answer.
    pub(super) fn propose(&mut self, paying: &Paying, in_flight: InFlight, out: &mut Vec<Output>) {
        debug_assert_eq!(
            in_flight.tx.from,
            paying.signer.id(),
            "a payer signs only its own account's transfers"
        );
        self.in_flight = Some(in_flight);
        let msg = Message::Propose {
            tx: in_flight.tx,
            payer_key: paying.signer.public_key(),
            payer_sig: in_flight.payer_sig,
        };
        out.push(Output::Send { to: in_flight.tx.to, msg });
        let timer = Timer::Retry { tx_id: in_flight.tx_id };
        out.push(Output::SetTimer { at_ms: paying.now_ms.saturating_add(paying.retry_ms), timer });
    }

    /// Whether `tx_id` is the transfer in flight.
    pub(super) fn has_in_flight(&self, tx_id: &Hash32) -> bool {
        self.in_flight.is_some_and(|f| f.tx_id == *tx_id)
    }

    /// The retry timer of `tx_id` fired: ask again, or give up after the attempts.
    pub(super) fn retry(&mut self, paying: &Paying, tx_id: Hash32, out: &mut Vec<Output>) {
        let Some(in_flight) = self.in_flight.filter(|f| f.tx_id == tx_id) else { return };
        if in_flight.attempts.get() >= paying.max_attempts {
            self.in_flight = None;
            out.push(Output::Event(NodeEvent::Abandoned { tag: in_flight.tag }));
            self.start_next(paying, out);
            return;
        }
        let attempts = in_flight.attempts.saturating_add(1);
        self.propose(paying, InFlight { attempts, ..in_flight }, out);
    }

    /// A verified proof shows the account at `account_nonce` in `version`: the transfer in
    /// flight is committed if it is `tx_id` and the proof covers its nonce. `Ok(false)` if
    /// `tx_id` is not in flight (a credit, or a late duplicate of a commit).
    pub(super) fn committed(
        &mut self,
        paying: &Paying,
        (tx_id, account_nonce, version): (Hash32, u64, u64),
        out: &mut Vec<Output>,
    ) -> Result<bool, ()> {
        let Some(f) = self.in_flight.filter(|f| f.tx_id == tx_id) else { return Ok(false) };
        if account_nonce < f.tx.from_nonce {
            return Err(());
        }
        self.nonce = f.tx.from_nonce;
        self.in_flight = None;
        out.push(Output::Event(NodeEvent::Committed { tag: f.tag, version }));
        self.start_next(paying, out);
        Ok(true)
    }

    /// The payer's bookkeeper refused `tx_id` with `error`: a stale nonce is corrected and the
    /// transfer signed again; any other refusal is the transfer's outcome.
    pub(super) fn rejected(
        &mut self,
        paying: &Paying,
        tx_id: Hash32,
        error: LedgerError,
        out: &mut Vec<Output>,
    ) {
        let Some(f) = self.in_flight.filter(|f| f.tx_id == tx_id) else { return };
        self.in_flight = None;
        match error {
            // Our idea of the nonce was stale (e.g. after a restart): sign again with the right one.
            LedgerError::BadNonce { expected, .. } if expected != f.tx.from_nonce => {
                self.nonce = expected - 1;
                out.push(Output::Event(NodeEvent::NonceResynced { tag: f.tag, nonce: expected }));
                let again = Queued { to: f.tx.to, amount: f.tx.amount, tag: f.tag };
                self.sign_and_propose(paying, again, expected, out);
            }
            _ => {
                out.push(Output::Event(NodeEvent::Refused { tag: f.tag, error }));
                self.start_next(paying, out);
            }
        }
    }

    /// A restart: with durable state the transfer in flight is proposed again; without, the
    /// queue, the transfer in flight and the nonce are forgotten, their tags pushed on `lost`.
    pub(super) fn restart(
        &mut self,
        paying: &Paying,
        durable: bool,
        lost: &mut Vec<u64>,
        out: &mut Vec<Output>,
    ) {
        if durable {
            if let Some(in_flight) = self.in_flight {
                self.propose(paying, in_flight, out);
            }
            return;
        }
        lost.extend(self.in_flight.take().map(|f| f.tag));
        lost.extend(self.queue.drain(..).map(|q| q.tag));
        self.nonce = 0;
    }

    /// The transfer in flight and the queue, in that order (the nonce is hashed by the caller,
    /// where the client's fingerprint has always put it).
    pub(super) fn fingerprint_transfers(&self, hasher: &mut blake3::Hasher) {
        if let Some(f) = &self.in_flight {
            hasher.update(&f.tx_id.0);
            hasher.update(&f.tag.to_le_bytes());
            hasher.update(&f.attempts.get().to_le_bytes());
        }
        for q in &self.queue {
            hasher.update(&q.to.0);
            hasher.update(&q.amount.to_le_bytes());
            hasher.update(&q.tag.to_le_bytes());
        }
    }
}

impl Held {
    pub(super) fn id(&self) -> Id {
        self.signer.id()
    }

    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        hasher.update(&self.id().0);
        hasher.update(&self.payer.nonce.to_le_bytes());
        self.payer.fingerprint_transfers(hasher);
    }
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("id", &self.id()).field("payer", &self.payer).finish()
    }
}
