//! A protocol node as a sans-IO state machine (DESIGN §1): inputs come in through `handle_*`
//! calls with the current local time, effects go out as [`Output`] values pushed into a buffer
//! the driver owns. The node never reads a clock, draws a random number or does I/O.
//!
//! The protocol is the group transfer flow of SPEC §5–§7 over a two-level bookkeeper tree
//! (D-023): clients pay each other with doubly signed transfers (SPEC §7.1); each group's
//! primary keeps its accounts' [`Ledger`]; a transfer within a group applies at once, one across
//! groups as a debit half at the payer's group and a credit half at the payee's; the chief (the
//! root group's primary) pulses, matches halves, aborts unmatched ones after
//! `transfer_timeout_pulses`, and builds the root synopsis over the groups' sealed synopses
//! and its clearing entry; each party receives a proof of its account under that root (SPEC
//! §4.6, §7.3 step 7). Everything is real: signatures are checked, proofs are verified, and
//! bad peer input becomes a [`NodeError`], never a panic. With one group (a [`Roster::single`])
//! this is the minimal pulse protocol of D-012.
//!
//! Call order for a driver: [`Node::start`] once; then any sequence of
//! [`Node::handle_message`], [`Node::handle_timer`] and [`Node::handle_command`]; after a crash,
//! drop the node's pending timers and call [`Node::restart`]. Each call appends its outputs to
//! `out` in the order they must take effect.

mod bookkeeper;
mod client;
mod client_gov;
mod client_pay;
mod client_proof;
mod envelope;
mod event;
pub mod governance;
mod message;
mod roster;

use std::sync::Arc;

use crate::consensus::settlement::Arbiter;
use crate::crypto::{Hash32, Signer, Verifier};
use crate::id::{Id, Prefix};
use crate::ledger::Ledger;
use crate::smt::RootSynopsis;

pub use bookkeeper::PROVEN_PULSES;
pub use bookkeeper::{Bookkeeper, ClosedProposal, GOV_WINDOW};
pub use client::Client;
pub use client_gov::{GOV_IN_FLIGHT, GOV_QUEUE_MAX};
pub use client_proof::PROOFS_IN_FLIGHT;
#[cfg(feature = "fault-injection")]
pub use envelope::EnvelopeFaults;
pub use envelope::{Envelope, SEQ_CLOCK_SHIFT, To};
pub use event::{NodeError, NodeEvent};
pub use message::{
    ClosedNotice, Message, MessageKind, ProofAnswer, ReplicaBatch, ReplicaCycle, SettleMsg, StateSnapshot,
};
pub use roster::{Candidate, Genesis, Roster, RosterError, Seating, ViewEntry, Views};

/// Protocol parameters a node needs (SPEC §15 names, in milliseconds where the SPEC counts
/// pulses so that a node never needs the pulse length to schedule a timer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// `pulse_ms`: the pulse period.
    pub pulse_ms: u64,
    /// How long a payer waits for an outcome before proposing the same transfer again.
    pub retry_ms: u64,
    /// How many times a payer proposes one transfer before it gives up on it.
    pub max_attempts: u32,
    /// `transfer_timeout_pulses`: the chief aborts a half unmatched for this long.
    pub transfer_timeout_pulses: u64,
    /// The groups and their primaries.
    pub roster: Arc<Roster>,
    /// The frozen deposit each group primary holds (SPEC §6.5): per sealed version it
    /// processes — applies as whole transfers or debit halves — at most this much; more waits
    /// for the next version (D-031). `None`: no bound.
    pub bookkeeper_deposit: Option<u64>,
    /// `failover_timeout_pulses` (SPEC §6.4): the chief fails a group with backups over to its
    /// next backup once the acting primary's report has been missing this many pulses (D-032).
    pub failover_timeout_pulses: u64,
    /// `election_cycle_pulses` (SPEC §6.3): at every multiple of it the chief seats each leaf
    /// committee for the new term by the election beacon over the latest root (D-032); the
    /// member seated first becomes the primary if it holds the taken state. `None`: one term.
    pub election_cycle_pulses: Option<u64>,
    /// `election_pool_factor` (SPEC §6.3): a group elected from a pool seats its committee
    /// among this many times the committee size most-voted eligible candidates (D-035).
    pub election_pool_factor: usize,
    /// `bookkeeper_deposit_min` (SPEC §6.3): a pool candidate with a smaller frozen deposit is
    /// not eligible (D-035).
    pub bookkeeper_deposit_min: u64,
    /// What the root committee's organizations need (D-041): trust scores and bounds.
    pub governance: governance::GovConfig,
}

/// How many pulses after its creation a credit half is still taken, and how long a group
/// remembers the credit halves it settled (to ignore duplicates): 16 timeouts. A late credit
/// within the horizon is applied — matched if its debit still pends, reversed after the
/// timeout if not; one past it is refused (D-024). Long enough that a partition of a few
/// timeouts does not turn late credits into refusals.
pub fn credit_horizon_pulses(transfer_timeout_pulses: u64) -> u64 {
    16 * transfer_timeout_pulses + 2
}

/// A node's timers. Timers cannot be cancelled; a node ignores one that no longer applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// The chief's pulse: seal, close the pulse, send the groups their orders, broadcast.
    Pulse,
    /// A payer's retry of the transfer with this id.
    Retry {
        /// The transfer the timer was set for.
        tx_id: Hash32,
    },
    /// A client's retry of its governance request with this number (D-041).
    GovRetry {
        /// The request the timer was set for.
        nonce: u64,
    },
    /// A client's retry of the account proof it fetches for governance command `tag` (D-049).
    ProofRetry {
        /// The driver's handle of the command.
        tag: u64,
    },
}

/// What a user asks its own node to do.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Pay `amount` to `to` from account `from`, whose key the node holds besides its own
    /// (D-046: the organization's account at its founder's node). Refused at once — a
    /// [`NodeEvent::Refused`] with [`LedgerError::KeyMismatch`](crate::ledger::LedgerError::KeyMismatch) — if it holds no such key.
    TransferFrom {
        /// The paying account.
        from: Id,
        /// The payee.
        to: Id,
        /// The amount.
        amount: u64,
        /// The driver's handle for this command.
        tag: u64,
    },
    /// Ask organization `org` for `action`, signed by this node's key (D-041). `tag` is the
    /// driver's handle; the answer comes back as [`NodeEvent::GovAnswered`].
    Gov {
        /// The organization.
        org: Id,
        /// What is asked.
        action: governance::GovAction,
        /// The driver's handle for this command.
        tag: u64,
    },
    /// Vote on proposal `number` of balance-weighted organization `org`, which opened at
    /// `opened_pulse` (its `GovAnswered` pulse): the node fetches its account's proof under
    /// that pulse's root from its group and sends the vote with it (D-049). The answer comes
    /// back as [`NodeEvent::GovAnswered`], or [`NodeEvent::GovGaveUp`] if no proof came.
    VoteByBalance {
        /// The organization.
        org: Id,
        /// The proposal.
        number: u64,
        /// The pulse it opened at.
        opened_pulse: u64,
        /// For or against.
        yes: bool,
        /// The driver's handle for this command.
        tag: u64,
    },
    /// Show organization `org`'s own account under proposal `number`'s pinned root, so that
    /// its balance-weighted quorum leaves the undistributed supply out (D-049).
    ProveOrgAccount {
        /// The organization.
        org: Id,
        /// The proposal.
        number: u64,
        /// The pulse it opened at.
        opened_pulse: u64,
        /// The driver's handle for this command.
        tag: u64,
    },
}

/// Why a node cannot hold another account's key (D-046).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HoldError {
    /// The node is a bookkeeper: it pays from no account.
    #[error("a bookkeeper holds no account's key (asked to hold {account})")]
    Bookkeeper {
        /// The account it was asked to hold.
        account: Id,
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
    /// From this pulse on, the chief broadcasts a forged root (one bit of its hash flipped;
    /// breaks I6) and a group primary reports a forged synopsis (a forged summary: the parties'
    /// proofs stop verifying).
    pub forge_root_from_pulse: Option<u64>,
    /// A client keeps the first root it receives and ignores every later one (it never
    /// catches up: breaks L3).
    pub stuck_root: bool,
    /// A group primary reverses the debit halves the chief ordered cleared: the payer gets its
    /// money back while the payee keeps it (breaks I4, and I1 at the root).
    pub reverse_cleared_debits: bool,
    /// A group primary ignores its per-version capacity (breaks I11).
    pub skip_capacity: bool,
    /// The chief fails a group over (or hands its seat over at a term boundary) to the next
    /// member whatever that member attested (with
    /// `take_unattested_reports`, a successor without the taken state loses committed cycles:
    /// breaks I1 at the root).
    pub fail_over_blindly: bool,
    /// The chief takes a group's report without waiting for its committee's attestations (a
    /// forged summary then reaches the root: the parties' proofs stop verifying).
    pub take_unattested_reports: bool,
    /// A backup's replay skips credit halves (a buggy replica: its rebuilt reports stop
    /// matching, it diverges and must resync).
    pub replay_skips_credit_halves: bool,
    /// The chief sends a closed pulse's `Settle`s and `Pulse` without waiting for its
    /// committee's co-signatures (a successor that never replayed the pulse then builds a
    /// different root for a ts the old chief announced: breaks I7, D-033).
    pub release_uncosigned: bool,
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
    /// A member of a leaf group's committee keeping `ledger` (its group's accounts): the
    /// group's primary, or — named a backup in the roster — a backup that replays its primary's
    /// sealed cycles, attests them and takes over when the chief fails the group over (D-032).
    ///
    /// # Panics
    /// If `id` sits in the root group: a root committee member holds the arbiter, so it is
    /// built with [`Node::chief`] (D-037).
    pub fn bookkeeper(
        signer: SharedSigner,
        ledger: Ledger,
        verifier: SharedVerifier,
        config: NodeConfig,
    ) -> Node {
        Node::Bookkeeper(Box::new(Bookkeeper::new(signer, ledger, verifier, config, None)))
    }

    /// The chief: the root group's primary, keeping `ledger` (the root group's own accounts)
    /// and arbitrating with `arbiter` (built over every group's genesis entry).
    pub fn chief(
        signer: SharedSigner,
        ledger: Ledger,
        arbiter: Arbiter,
        verifier: SharedVerifier,
        config: NodeConfig,
    ) -> Node {
        Node::Bookkeeper(Box::new(Bookkeeper::new(signer, ledger, verifier, config, Some(arbiter))))
    }

    /// A client signing with `signer`.
    pub fn client(signer: SharedSigner, verifier: SharedVerifier, config: NodeConfig) -> Node {
        Node::Client(Client::new(signer, verifier, config))
    }

    /// Let a client hold `signer`'s account beside its own (D-046): it then takes envelopes
    /// addressed to that account, co-signs transfers paid to it and pays from it on
    /// [`Command::TransferFrom`]. The organization's founder holds the organization's key this
    /// way (SPEC §3.3, §10.1). Drivers deliver what is sent to the account's Id to this node.
    ///
    /// # Errors
    /// [`HoldError::Bookkeeper`] if this node is a bookkeeper: a bookkeeper pays from no
    /// account.
    pub fn hold_account(&mut self, signer: SharedSigner) -> Result<(), HoldError> {
        match self {
            Node::Client(node) => {
                node.hold_account(signer);
                Ok(())
            }
            Node::Bookkeeper(_) => Err(HoldError::Bookkeeper { account: signer.id() }),
        }
    }

    /// The accounts a client holds besides its own (D-046); none at a bookkeeper.
    pub fn held_accounts(&self) -> Vec<Id> {
        match self {
            Node::Client(node) => node.held_accounts().collect(),
            Node::Bookkeeper(_) => Vec::new(),
        }
    }

    // ----- getters ----------------------------------------------------------------------

    /// The node's Id.
    pub fn id(&self) -> Id {
        match self {
            Node::Bookkeeper(node) => node.id(),
            Node::Client(node) => node.id(),
        }
    }

    /// The key this node seals its envelopes with (D-039).
    pub fn signer(&self) -> &SharedSigner {
        match self {
            Node::Bookkeeper(node) => node.signer(),
            Node::Client(node) => node.signer(),
        }
    }

    /// The latest root synopsis this node holds.
    pub fn root(&self) -> Option<RootSynopsis> {
        match self {
            Node::Bookkeeper(node) => node.root(),
            Node::Client(node) => node.root(),
        }
    }

    /// The group a bookkeeper keeps.
    pub fn group(&self) -> Option<Prefix> {
        match self {
            Node::Bookkeeper(node) => Some(node.group()),
            Node::Client(_) => None,
        }
    }

    /// The view of `group` this node knows of, and the member acting as its primary in it
    /// (D-032); `None` for a client.
    pub fn view_of(&self, group: &Prefix) -> Option<(u32, Id)> {
        match self {
            Node::Bookkeeper(node) => Some(node.view_of(group)),
            Node::Client(_) => None,
        }
    }

    /// The committee of `group` this node knows of (D-035): the elected committee in effect,
    /// else the roster's; `None` for a client.
    pub fn committee_of(&self, group: &Prefix) -> Option<Vec<Id>> {
        match self {
            Node::Bookkeeper(node) => Some(node.committee_of(group)),
            Node::Client(_) => None,
        }
    }

    /// The organizations a root committee member holds (D-041); `None` for any other node.
    pub fn organizations(&self) -> Option<&std::collections::BTreeMap<Id, crate::org::Organization>> {
        match self {
            Node::Bookkeeper(node) => node.registry().map(|r| r.orgs()),
            Node::Client(_) => None,
        }
    }

    /// A digest of a root member's organizations and requests (D-041); `None` for any other
    /// node or while there are none.
    pub fn governance_digest(&self) -> Option<Hash32> {
        match self {
            Node::Bookkeeper(node) => node.registry().filter(|r| !r.is_empty()).map(|r| r.digest()),
            Node::Client(_) => None,
        }
    }

    /// A root member's organizations digest as of the last pulse it closed — the acting chief
    /// sealing it or a root backup replaying it — with that pulse (D-041).
    pub fn governance_sealed(&self) -> Option<(u64, Hash32)> {
        match self {
            Node::Bookkeeper(node) => node.registry().and_then(|r| r.sealed()),
            Node::Client(_) => None,
        }
    }

    /// A root member's count of changes to its organizations (D-041): it moves whenever they
    /// may have changed, so a driver checking them can skip the events that left it alone.
    pub fn governance_revision(&self) -> Option<u64> {
        match self {
            Node::Bookkeeper(node) => node.registry().map(|r| r.revision()),
            Node::Client(_) => None,
        }
    }

    /// How many authors' request windows a root member keeps (D-043: idle ones are forgotten
    /// after `request_horizon_pulses`).
    pub fn governance_windows(&self) -> Option<usize> {
        match self {
            Node::Bookkeeper(node) => node.registry().map(|r| r.windows()),
            Node::Client(_) => None,
        }
    }

    /// How many bookkeeper-election ballots a root member holds for the coming election
    /// (D-044).
    pub fn governance_ballots(&self) -> Option<usize> {
        match self {
            Node::Bookkeeper(node) => node.registry().map(|r| r.ballots()),
            Node::Client(_) => None,
        }
    }

    /// The chief's arbiter.
    pub fn arbiter(&self) -> Option<&Arbiter> {
        match self {
            Node::Bookkeeper(node) => node.arbiter(),
            Node::Client(_) => None,
        }
    }

    /// The pulse counter as this node knows it (SPEC §5.1).
    pub fn pulse(&self) -> u64 {
        match self {
            Node::Bookkeeper(node) => node.pulse(),
            Node::Client(node) => node.pulse(),
        }
    }

    /// `account`'s balance in this bookkeeper's group version under the root of `pulse`, if it
    /// keeps that account's group and still holds that root and version (D-049) — for drivers
    /// that check balance-weighted votes against the ledger rather than against the proofs.
    pub fn balance_under(&self, pulse: u64, account: &Id) -> Option<u64> {
        match self {
            Node::Bookkeeper(node) => node.balance_under(pulse, account),
            Node::Client(_) => None,
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

    /// Switch envelope checks off (tests only): shows each is what stops an attack.
    #[cfg(feature = "fault-injection")]
    pub fn inject_envelope_faults(&mut self, faults: EnvelopeFaults) {
        match self {
            Node::Bookkeeper(node) => node.inject_envelope_faults(faults),
            Node::Client(node) => node.inject_envelope_faults(faults),
        }
    }

    /// Drop the replay fence (D-039) — for a model checker, not for a network. A replay the
    /// fence refuses changes nothing, exactly as a lost message; so over a network that may
    /// lose anything, a node without the fence has every behaviour a fenced one has, and more
    /// (duplicates handled again, as before D-039). A model that drops the fence and seals
    /// every envelope with one sequence number checks safety soundly while identical messages
    /// stay identical envelopes — which keeps its state space from growing with every retry.
    pub fn forgo_replay_fence(&mut self) {
        match self {
            Node::Bookkeeper(node) => node.forgo_replay_fence(),
            Node::Client(node) => node.forgo_replay_fence(),
        }
    }

    /// Break the tallies of a root member's organizations (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_org_faults(&mut self, faults: crate::org::OrgFaults) {
        if let Node::Bookkeeper(node) = self {
            node.inject_org_faults(faults);
        }
    }

    /// Break a bookkeeper's ledger (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_ledger_faults(&mut self, faults: crate::ledger::LedgerFaults) {
        if let Node::Bookkeeper(node) = self {
            node.inject_ledger_faults(faults);
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

    /// Seal `msg` for `to` at local time `now_ms`: what a driver does with every
    /// [`Output::Send`] (`To::Node`) and [`Output::Broadcast`] (`To::Everyone`) before it
    /// leaves the node (D-039).
    pub fn seal(&mut self, now_ms: u64, to: To, msg: Message) -> Envelope {
        match self {
            Node::Bookkeeper(node) => node.seal(now_ms, to, msg),
            Node::Client(node) => node.seal(now_ms, to, msg),
        }
    }

    /// An envelope arrived. It is checked first — addressee, sender, replay fence, signature
    /// (D-039) — and the message handled only if it passes; a refusal is a
    /// [`NodeEvent::BadMessage`] and changes nothing else.
    pub fn handle_message(&mut self, now_ms: u64, envelope: &Envelope, out: &mut Vec<Output>) {
        match self {
            Node::Bookkeeper(node) => node.handle_message(envelope, out),
            Node::Client(node) => node.handle_message(now_ms, envelope, out),
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
