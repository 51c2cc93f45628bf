//! The root committee's part in governance (D-041): the acting chief applies a signed request
//! in its cycle and answers its author; a root backup's replay does the same through the same
//! code; every pulse closes the proposals whose window is over.

use crate::id::Id;
use crate::node::governance::GovRequest;
use crate::node::{ClosedNotice, Message, NodeEvent, Output};

use super::registry::At;
use super::{Bookkeeper, Books, Chief};

impl Bookkeeper {
    /// `author`'s signed governance request, at the acting chief.
    pub(super) fn on_gov(&mut self, author: Id, request: &GovRequest, out: &mut Vec<Output>) {
        if let Some(root) = self.role.root_mut() {
            root.chief.on_gov(&self.books, author, request, out);
        }
    }
}

impl Chief {
    /// Apply `author`'s request at the current pulse and answer it. A retry of the author's
    /// latest request is answered again; only a new one is an event.
    pub(super) fn on_gov(&mut self, books: &Books, author: Id, request: &GovRequest, out: &mut Vec<Output>) {
        let pulse = books.pulse;
        let at = At {
            pulse,
            // The root sent with this pulse's settlements (`close_chief_pulse`), the same at
            // every root member's replay: the arbiter is replicated state.
            root: books.announced(self.arbiter.root()),
            roster: &books.config.roster,
            pulse_ms: books.config.pulse_ms,
            config: &books.config.governance,
            verifier: books.verifier.as_ref(),
        };
        let (result, pulse, fresh) = self.registry.handle(author, request, &at);
        if fresh {
            out.push(Output::Event(NodeEvent::GovHandled {
                org: request.org,
                author,
                nonce: request.nonce,
                action: request.action.kind(),
                pulse,
                result,
            }));
        }
        let msg = Message::GovOutcome { org: request.org, nonce: request.nonce, pulse, result };
        out.push(Output::Send { to: author, msg });
    }

    /// Close the proposals whose window is over at the pulse just begun: an event for each,
    /// and what the pulse's [`Message::Closed`] announces (D-050), sent after its `Pulse`.
    pub(super) fn close_proposals(&mut self, books: &Books, out: &mut Vec<Output>) -> Vec<ClosedNotice> {
        if self.registry.is_empty() {
            return Vec::new();
        }
        let pulse = books.pulse;
        let mut notices = Vec::new();
        for closed in self.registry.close_due(pulse, &books.config.governance) {
            notices.push(ClosedNotice {
                org: closed.org,
                number: closed.number,
                kind: closed.kind.clone(),
                passed: closed.outcome.passed,
                yes: closed.outcome.yes,
                no: closed.outcome.no,
                total_weight: closed.outcome.total_weight,
            });
            out.push(Output::Event(NodeEvent::ProposalClosed { pulse, closed: Box::new(closed) }));
        }
        self.registry.forget_idle(pulse, books.config.pulse_ms, &books.config.governance);
        self.registry.seal(pulse);
        notices
    }
}
