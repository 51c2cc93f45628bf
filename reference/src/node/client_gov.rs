//! A client's governance requests (D-041): one in flight at a time, sent to the acting chief,
//! retried with the same number until the chief answers or the attempts run out. The number
//! never goes back, even across a restart that lost it: it is at least the local clock's
//! milliseconds shifted as envelope sequence numbers are (D-039), so a replay of an old request
//! is always older than the author's latest.

use std::collections::VecDeque;

use crate::id::{Id, Prefix};

use super::governance::{GovAction, GovRequest, GovResult};
use super::{Message, MessageKind, NodeError, NodeEvent, Output, SEQ_CLOCK_SHIFT, Timer};

/// At most this many governance requests wait behind the one in flight; more are refused with
/// [`NodeEvent::GovGaveUp`] at once (a bound on what a user can pile up).
pub const GOV_QUEUE_MAX: usize = 64;

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
    in_flight: Option<InFlight>,
    queue: VecDeque<Pending>,
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
        if self.in_flight.is_none() {
            self.start_next(at, out);
        }
    }

    fn start_next(&mut self, at: &Sending, out: &mut Vec<Output>) {
        let Some(next) = self.queue.pop_front() else { return };
        let nonce = (self.latest_nonce + 1).max(at.now_ms << SEQ_CLOCK_SHIFT);
        self.latest_nonce = nonce;
        let request = GovRequest { org: next.org, nonce, action: next.action };
        self.send(InFlight { request, tag: next.tag, attempts: 1 }, at, out);
    }

    fn send(&mut self, in_flight: InFlight, at: &Sending, out: &mut Vec<Output>) {
        out.push(Output::Send { to: at.chief, msg: Message::Gov(Box::new(in_flight.request.clone())) });
        let timer = Timer::GovRetry { nonce: in_flight.request.nonce };
        out.push(Output::SetTimer { at_ms: at.now_ms.saturating_add(at.retry_ms), timer });
        self.in_flight = Some(in_flight);
    }

    /// The retry timer of request `nonce` fired.
    pub(super) fn retry(&mut self, nonce: u64, at: &Sending, out: &mut Vec<Output>) {
        let Some(in_flight) = self.in_flight.take_if(|f| f.request.nonce == nonce) else { return };
        if in_flight.attempts >= at.max_attempts {
            out.push(Output::Event(NodeEvent::GovGaveUp { tag: in_flight.tag }));
            self.start_next(at, out);
            return;
        }
        self.send(InFlight { attempts: in_flight.attempts + 1, ..in_flight }, at, out);
    }

    /// The chief's answer to request `nonce`. An answer to anything but the request in flight
    /// (a duplicate, a late answer to an earlier attempt) is dropped.
    pub(super) fn answer(
        &mut self,
        (org, nonce, pulse): (Id, u64, u64),
        result: GovResult,
        at: &Sending,
        out: &mut Vec<Output>,
    ) {
        let Some(in_flight) = self.in_flight.take_if(|f| f.request.nonce == nonce && f.request.org == org)
        else {
            return;
        };
        out.push(Output::Event(NodeEvent::GovAnswered { tag: in_flight.tag, org, pulse, result }));
        self.start_next(at, out);
    }

    /// A restart without durable state forgets what waited and what was in flight: their tags.
    pub(super) fn forget(&mut self) -> Vec<u64> {
        let tags =
            self.in_flight.take().map(|f| f.tag).into_iter().chain(self.queue.drain(..).map(|p| p.tag));
        let tags = tags.collect();
        self.latest_nonce = 0;
        tags
    }

    /// A durable restart sends the request in flight again.
    pub(super) fn resume(&mut self, at: &Sending, out: &mut Vec<Output>) {
        if let Some(in_flight) = self.in_flight.take() {
            self.send(in_flight, at, out);
        }
    }

    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        hasher.update(&self.latest_nonce.to_le_bytes());
        if let Some(f) = &self.in_flight {
            hasher.update(&f.request.nonce.to_le_bytes());
            hasher.update(&f.tag.to_le_bytes());
            hasher.update(&f.attempts.to_le_bytes());
        }
        hasher.update(&(self.queue.len() as u64).to_le_bytes());
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
