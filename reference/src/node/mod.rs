//! A protocol node as a sans-IO state machine (DESIGN §1): inputs come in through `handle_*`
//! calls with the current local time, effects go out as [`Output`] values pushed into a buffer
//! the driver owns. The node never reads a clock, draws a random number or does I/O.
//!
//! This is the *minimal pulse protocol* the simulator drives until the full consensus of
//! SPEC §5–§7 lands: one bookkeeper holds the whole [`Ledger`], clients pay each other with
//! doubly signed transfers (SPEC §7.1), the bookkeeper seals a version every pulse (SPEC §5.1)
//! and broadcasts the root synopsis; each party receives a proof of its account in the version
//! that committed its transfer (SPEC §4.6, §7.3 step 7). Everything is real: signatures are
//! checked, proofs are verified, and bad peer input becomes a [`NodeError`], never a panic.
//!
//! Call order for a driver: [`Node::start`] once; then any sequence of
//! [`Node::handle_message`], [`Node::handle_timer`] and [`Node::handle_command`]; after a crash,
//! drop the node's pending timers and call [`Node::restart`]. Each call appends its outputs to
//! `out` in the order they must take effect.

mod bookkeeper;
mod client;
mod message;

use std::sync::Arc;

use thiserror::Error;

use crate::crypto::{Hash32, Signer, Verifier};
use crate::id::Id;
use crate::ledger::{Applied, Ledger, LedgerError};
use crate::smt::{ProofError, RootSynopsis, Version};

pub use bookkeeper::Bookkeeper;
pub use client::Client;
pub use message::{Message, MessageKind};

/// Protocol parameters a node needs (SPEC §15 names, in milliseconds where the SPEC counts
/// pulses so that a node never needs the pulse length to schedule a timer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// `pulse_ms`: the pulse period.
    pub pulse_ms: u64,
    /// How long a payer waits for an outcome before proposing the same transfer again.
    pub retry_ms: u64,
    /// How many times a payer proposes one transfer before it gives up on it.
    pub max_attempts: u32,
    /// The bookkeeper every client submits to.
    pub bookkeeper: Id,
}

/// A node's timers. Timers cannot be cancelled; a node ignores one that no longer applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// The bookkeeper's pulse: seal the cycle and broadcast the root.
    Pulse,
    /// A payer's retry of the transfer with this id.
    Retry {
        /// The transfer the timer was set for.
        tx_id: Hash32,
    },
}

/// What a user asks its own node to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Pay `amount` to `to`. `tag` is the driver's handle; events about it carry it back.
    Transfer {
        /// The payee.
        to: Id,
        /// The amount.
        amount: u64,
        /// The driver's handle for this command.
        tag: u64,
    },
}

/// An effect of a `handle_*` call.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send `msg` to node `to`.
    Send {
        /// The receiver.
        to: Id,
        /// The message.
        msg: Message,
    },
    /// Send `msg` to every other node.
    Broadcast {
        /// The message.
        msg: Message,
    },
    /// Call [`Node::handle_timer`] with `timer` when the local clock reads `at_ms`.
    SetTimer {
        /// Local time at which the timer fires.
        at_ms: u64,
        /// The timer.
        timer: Timer,
    },
    /// Something happened that a driver may observe (metrics, invariant checks).
    Event(NodeEvent),
}

/// Observable facts about a node's progress.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeEvent {
    /// The bookkeeper sealed `version` at pulse `pulse`; `applied` are the transfers it holds
    /// that the previous version did not.
    Sealed {
        /// The pulse counter.
        pulse: u64,
        /// The sealed version (the ts; unchanged if nothing was applied).
        version: Version,
        /// The transfers sealed in it.
        applied: Vec<Applied>,
    },
    /// The payer holds a proof that its transfer `tag` is in `version`.
    Committed {
        /// The command's tag.
        tag: u64,
        /// The version that holds it.
        version: Version,
    },
    /// The payee holds a proof of its account in a version that includes a credit.
    Credited {
        /// The transfer.
        tx_id: Hash32,
        /// The version.
        version: Version,
    },
    /// The bookkeeper refused transfer `tag` for good; the payer moves on.
    Refused {
        /// The command's tag.
        tag: u64,
        /// Why.
        error: LedgerError,
    },
    /// The payer gave up on `tag` after `max_attempts` proposals without an outcome.
    Abandoned {
        /// The command's tag.
        tag: u64,
    },
    /// The payer learnt its nonce was stale and re-signed the transfer with the right one.
    NonceResynced {
        /// The command's tag.
        tag: u64,
        /// The nonce it now uses.
        nonce: u64,
    },
    /// A crash without durable state lost these queued or in-flight commands.
    Lost {
        /// Their tags.
        tags: Vec<u64>,
    },
    /// A peer sent something invalid; it was ignored.
    BadMessage {
        /// The sender.
        from: Id,
        /// What was wrong.
        error: NodeError,
    },
}

/// Why a node ignored a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The message is not one this node's role handles.
    #[error("a {role} does not handle {kind:?} messages")]
    UnexpectedMessage {
        /// The receiver's role.
        role: &'static str,
        /// The message kind.
        kind: MessageKind,
    },
    /// A proposed transfer does not name this node as payee.
    #[error("proposal is addressed to {payee}, not to this node")]
    NotThePayee {
        /// The payee it names.
        payee: Id,
    },
    /// A proposal's payer key or signature is invalid, or the transfer is malformed.
    #[error("invalid proposal: {0}")]
    BadProposal(LedgerError),
    /// A commit notification's proof does not verify against its root.
    #[error("commit proof does not verify: {0}")]
    BadProof(ProofError),
    /// A commit notification proves another account than the receiver's, or shows an account
    /// that does not include the transfer.
    #[error("commit proof does not show this node's account with the transfer")]
    ProofDoesNotShowTransfer,
    /// A message claims to come from the bookkeeper but does not.
    #[error("only the bookkeeper {bookkeeper} may send {kind:?}")]
    NotFromBookkeeper {
        /// The configured bookkeeper.
        bookkeeper: Id,
        /// The message kind.
        kind: MessageKind,
    },
}

/// Deliberately broken node behaviours (feature `fault-injection`, tests only), so that the
/// simulator's checks of I6 and I7 can be shown to fire.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFaults {
    /// A client takes any root it is sent, even one older than the root it holds (breaks I7).
    pub accept_older_root: bool,
    /// A payee co-signs with a corrupted signature (an honest ledger refuses the transfer; one
    /// that skips signature checks applies it and breaks I3).
    pub forge_payee_signature: bool,
    /// The bookkeeper broadcasts a forged root (one bit of its hash flipped) from this pulse
    /// on, as a forged summary would (breaks I6).
    pub forge_root_from_pulse: Option<u64>,
}

/// A protocol node: a bookkeeper or a client.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // the size difference is the point: see `Client`
pub enum Node {
    /// Holds the ledger and seals it every pulse.
    Bookkeeper(Box<Bookkeeper>),
    /// A user's node: pays and gets paid. Held inline (not boxed): a simulator touches
    /// thousands of clients per pulse, and the extra pointer hop was a cache miss each time.
    Client(Client),
}

/// A shareable signer, as nodes hold it.
pub type SharedSigner = Arc<dyn Signer + Send + Sync>;
/// A shareable verifier, as nodes hold it.
pub type SharedVerifier = Arc<dyn Verifier + Send + Sync>;

impl Node {
    /// A bookkeeper holding `ledger`.
    pub fn bookkeeper(id: Id, ledger: Ledger, verifier: SharedVerifier, config: NodeConfig) -> Node {
        Node::Bookkeeper(Box::new(Bookkeeper::new(id, ledger, verifier, config)))
    }

    /// A client signing with `signer`.
    pub fn client(signer: SharedSigner, verifier: SharedVerifier, config: NodeConfig) -> Node {
        Node::Client(Client::new(signer, verifier, config))
    }

    // ----- getters ----------------------------------------------------------------------

    /// The node's Id.
    pub fn id(&self) -> Id {
        match self {
            Node::Bookkeeper(node) => node.id(),
            Node::Client(node) => node.id(),
        }
    }

    /// The latest root synopsis this node holds (the bookkeeper's own; a client's received).
    pub fn root(&self) -> Option<RootSynopsis> {
        match self {
            Node::Bookkeeper(node) => Some(node.root()),
            Node::Client(node) => node.root(),
        }
    }

    /// The pulse counter as this node knows it (SPEC §5.1).
    pub fn pulse(&self) -> u64 {
        match self {
            Node::Bookkeeper(node) => node.pulse(),
            Node::Client(node) => node.pulse(),
        }
    }

    /// The ledger, if this node holds one.
    pub fn ledger(&self) -> Option<&Ledger> {
        match self {
            Node::Bookkeeper(node) => Some(node.ledger()),
            Node::Client(_) => None,
        }
    }

    /// A digest of everything that determines the node's future behaviour, for model checkers
    /// that deduplicate states (two nodes with equal fingerprints act alike on every input).
    pub fn fingerprint(&self) -> Hash32 {
        match self {
            Node::Bookkeeper(node) => node.fingerprint(),
            Node::Client(node) => node.fingerprint(),
        }
    }

    /// Commands waiting behind the one in flight (0 for a bookkeeper).
    pub fn queue_len(&self) -> usize {
        match self {
            Node::Bookkeeper(_) => 0,
            Node::Client(node) => node.queue_len(),
        }
    }

    /// Turn on deliberately broken behaviours (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_faults(&mut self, faults: NodeFaults) {
        match self {
            Node::Bookkeeper(node) => node.inject_faults(faults),
            Node::Client(node) => node.inject_faults(faults),
        }
    }

    // ----- inputs -----------------------------------------------------------------------

    /// Start the node at local time `now_ms`.
    pub fn start(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        if let Node::Bookkeeper(node) = self {
            node.start(now_ms, out);
        }
    }

    /// Restart after a crash. With `durable` the node kept everything it had; without, it
    /// lost what it had not made durable (the bookkeeper: the unsealed cycle; a client: its
    /// queue, its transfer in flight and its nonce). The driver drops the timers the node set
    /// before the crash.
    pub fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        match self {
            Node::Bookkeeper(node) => node.restart(now_ms, durable, out),
            Node::Client(node) => node.restart(now_ms, durable, out),
        }
    }

    /// A message from `from` arrived.
    pub fn handle_message(&mut self, now_ms: u64, from: Id, msg: &Message, out: &mut Vec<Output>) {
        match self {
            Node::Bookkeeper(node) => node.handle_message(from, msg, out),
            Node::Client(node) => node.handle_message(now_ms, from, msg, out),
        }
    }

    /// A timer this node set fired.
    pub fn handle_timer(&mut self, now_ms: u64, timer: Timer, out: &mut Vec<Output>) {
        match self {
            Node::Bookkeeper(node) => node.handle_timer(now_ms, timer, out),
            Node::Client(node) => node.handle_timer(now_ms, timer, out),
        }
    }

    /// The user asks for something. A bookkeeper has no user and ignores commands.
    pub fn handle_command(&mut self, now_ms: u64, command: Command, out: &mut Vec<Output>) {
        if let Node::Client(node) = self {
            node.handle_command(now_ms, command, out);
        }
    }
}

fn unexpected(role: &'static str, from: Id, msg: &Message) -> Output {
    Output::Event(NodeEvent::BadMessage {
        from,
        error: NodeError::UnexpectedMessage { role, kind: msg.kind() },
    })
}
