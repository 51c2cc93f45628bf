//! A client's governance requests (D-041): up to [`GOV_IN_FLIGHT`] in flight, each sent to the
//! acting chief and retried with its number until the chief answers or the attempts run out.
//! The root committee remembers an author's latest 32 numbers with their answers, so requests
//! may arrive in any order and a retry is answered again without acting twice. Numbers never go
//! back, even across a restart that lost them: each is at least the local clock's milliseconds
//! shifted as envelope sequence numbers are (D-039). Requests in flight together must not
//! depend on each other's order (a vote waits for its proposal's answer, which has its number).

use std::collections::{BTreeMap, VecDeque};

use crate::id::{Id, Prefix};

use super::governance::{GovAction, GovRequest, GovResult};
use super::{Message, MessageKind, NodeError, NodeEvent, Output, SEQ_CLOCK_SHIFT, Timer};

/// At most this many governance requests wait behind those in flight; more are refused with
/// [`NodeEvent::GovGaveUp`] at once (a bound on what a user can pile up).
pub const GOV_QUEUE_MAX: usize = 1_024;

/// At most this many of a client's governance requests are in flight at once: a supervisor
/// deciding a stream of applications is not held to one round trip each.
pub const GOV_IN_FLIGHT: usize = 16;

/// A request waiting or in flight.
#[derive(Clone, Debug)]
struct Pending {
    org: Id,
    action: GovAction,
    tag: u64,
}

/// The request in flight.
#[derive(Clone, Debug)]
struct InFlight {
    request: GovRequest,
    tag: u64,
    attempts: u32,
}

/// A client's governance state, kept apart (boxed) so that a client that never governs stays
/// small.
#[derive(Clone, Debug, Default)]
pub(super) struct GovClient {
    latest_nonce: u64,
    in_flight: BTreeMap<u64, InFlight>,
    queue: VecDeque<Pending>,
    /// Account proofs fetched for balance-weighted votes (D-049).
    pub(super) proofs: super::client_proof::ProofFetches,
}

/// What the client needs from itself to send: where the chief is and how long to wait.
pub(super) struct Sending {
    pub now_ms: u64,
    pub chief: Id,
    pub retry_ms: u64,
    pub max_attempts: u32,
}

impl GovClient {
    /// The user asks for `action` at `org`.
    pub(super) fn command(
        &mut self,
        org: Id,
        action: GovAction,
        tag: u64,
        at: &Sending,
        out: &mut Vec<Output>,
    ) {
        if self.queue.len() >= GOV_QUEUE_MAX {
            out.push(Output::Event(NodeEvent::GovGaveUp { tag }));
            return;
        }
        self.queue.push_back(Pending { org, action, tag });
        self.start_next(at, out);
    }

    /// Send waiting requests while fewer than [`GOV_IN_FLIGHT`] are in flight.
    fn start_next(&mut self, at: &Sending, out: &mut Vec<Output>) {
        while self.in_flight.len() < GOV_IN_FLIGHT {
            let Some(next) = self.queue.pop_front() else { return };
            let nonce = (self.latest_nonce + 1).max(at.now_ms << SEQ_CLOCK_SHIFT);
            self.latest_nonce = nonce;
            let request = GovRequest { org: next.org, nonce, action: next.action };
            self.send(InFlight { request, tag: next.tag, attempts: 1 }, at, out);
        }
    }

    fn send(&mut self, in_flight: InFlight, at: &Sending, out: &mut Vec<Output>) {
        out.push(Output::Send { to: at.chief, msg: Message::Gov(Box::new(in_flight.request.clone())) });
        let nonce = in_flight.request.nonce;
        out.push(Output::SetTimer {
            at_ms: at.now_ms.saturating_add(at.retry_ms),
            timer: Timer::GovRetry { nonce },
        });
        self.in_flight.insert(nonce, in_flight);
    }

    /// The retry timer of request `nonce` fired.
    pub(super) fn retry(&mut self, nonce: u64, at: &Sending, out: &mut Vec<Output>) {
        let Some(in_flight) = self.in_flight.remove(&nonce) else { return };
        if in_flight.attempts >= at.max_attempts {
            out.push(Output::Event(NodeEvent::GovGaveUp { tag: in_flight.tag }));
            self.start_next(at, out);
            return;
        }
        self.send(InFlight { attempts: in_flight.attempts + 1, ..in_flight }, at, out);
    }

    /// The chief's answer to request `nonce`. An answer to no request in flight (a duplicate, a
    /// late answer to an earlier attempt) is dropped.
    pub(super) fn answer(
        &mut self,
        (org, nonce, pulse): (Id, u64, u64),
        result: GovResult,
        at: &Sending,
        out: &mut Vec<Output>,
    ) {
        if self.in_flight.get(&nonce).is_none_or(|f| f.request.org != org) {
            return;
        }
        let in_flight = self.in_flight.remove(&nonce).expect("just found");
        out.push(Output::Event(NodeEvent::GovAnswered { tag: in_flight.tag, org, pulse, result }));
        self.start_next(at, out);
    }

    /// A restart without durable state forgets what waited and what was in flight: their tags.
    pub(super) fn forget(&mut self) -> Vec<u64> {
        let in_flight = std::mem::take(&mut self.in_flight);
        let mut tags: Vec<u64> =
            in_flight.into_values().map(|f| f.tag).chain(self.queue.drain(..).map(|p| p.tag)).collect();
        tags.extend(self.proofs.forget());
        self.latest_nonce = 0;
        tags
    }

    /// A durable restart sends the requests in flight again.
    pub(super) fn resume(&mut self, at: &Sending, out: &mut Vec<Output>) {
        for (_, in_flight) in std::mem::take(&mut self.in_flight) {
            self.send(in_flight, at, out);
        }
    }

    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        hasher.update(&self.latest_nonce.to_le_bytes());
        for f in self.in_flight.values() {
            hasher.update(&f.request.nonce.to_le_bytes());
            hasher.update(&f.tag.to_le_bytes());
            hasher.update(&f.attempts.to_le_bytes());
        }
        hasher.update(&(self.queue.len() as u64).to_le_bytes());
        self.proofs.fingerprint(hasher);
    }
}

/// Only a root committee member answers governance requests.
pub(super) fn check_answer_from(roster: &super::Roster, from: Id) -> Result<(), NodeError> {
    if roster.is_member(&Prefix::ROOT, &from) {
        Ok(())
    } else {
        Err(NodeError::NotFromBookkeeper { bookkeeper: roster.chief(), kind: MessageKind::GovOutcome })
    }
}
