//! What a node tells its driver ([`NodeEvent`]: facts about its progress, for metrics and
//! invariant checks) and why it refused a peer's message ([`NodeError`]).

use thiserror::Error;

use crate::consensus::root::RootProofError;
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};
use crate::ledger::{Applied, Half, LedgerError, Settlement};
use crate::smt::{RootSynopsis, Version};

use super::MessageKind;

/// Observable facts about a node's progress.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeEvent {
    /// A group's primary sealed `version` of its ledger at pulse `pulse`.
    Sealed {
        /// The pulse counter.
        pulse: u64,
        /// The group.
        group: Prefix,
        /// The sealed version (unchanged if nothing changed, SPEC §5.1).
        version: Version,
        /// Transfers that consumed a payer nonce here: whole transfers within the group and
        /// debit halves of transfers to other groups.
        applied: Vec<Applied>,
        /// The ids of those in `applied` that are debit halves.
        debits: Vec<Hash32>,
        /// Credit halves applied here.
        credited: Vec<Applied>,
        /// Halves settled here: cleared or reversed.
        settled: Vec<(Hash32, Half, Settlement)>,
    },
    /// The chief built a new root synopsis (a new ts).
    RootBuilt {
        /// The pulse counter.
        pulse: u64,
        /// The root.
        root: RootSynopsis,
        /// Clears carried out at one side only, held in the root's clearing entry.
        clears_in_transit: usize,
    },

    /// The payer started transfer `tag`: it signed and proposed it, having waited for its
    /// earlier transfers. Commit latency from here has no queueing in it (L1).
    Started {
        /// The command's tag.
        tag: u64,
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
    /// A group primary put the submitted transfer `tx_id` off to a later version: this
    /// version's capacity (its deposit, SPEC §6.5) is used up.
    Deferred {
        /// The transfer.
        tx_id: Hash32,
    },
    /// The chief failed `group` over: `to` acts as its primary from `view` on, because `from`'s
    /// reports stopped arriving (or were not attested) for `failover_timeout_pulses` (D-032).
    FailedOver {
        /// The pulse.
        pulse: u64,
        /// The group.
        group: Prefix,
        /// The new view.
        view: u32,
        /// The primary of the previous view.
        from: Id,
        /// The member acting from now on.
        to: Id,
    },
    /// A new term began and the chief seated `group`'s committee by the beacon: `to` is its
    /// primary from `view` on, in place of `from` (D-032).
    Reseated {
        /// The pulse the term began at.
        pulse: u64,
        /// The term (`pulse / election_cycle_pulses`).
        term: u64,
        /// The group.
        group: Prefix,
        /// The new view.
        view: u32,
        /// The primary of the term before.
        from: Id,
        /// The primary of the new term.
        to: Id,
    },
    /// The chief elected `group`'s committee for `term` from its pool (D-035); it takes over
    /// once a majority of it holds the group's state.
    Elected {
        /// The pulse of the election.
        pulse: u64,
        /// The term.
        term: u64,
        /// The seats in beacon order.
        seats: Vec<Id>,
        /// The group.
        group: Prefix,
    },
    /// A pool had fewer eligible candidates than seats: its committee stays for another term.
    NotElected {
        /// The pulse of the election.
        pulse: u64,
        /// The term.
        term: u64,
        /// The group.
        group: Prefix,
        /// Eligible candidates.
        eligible: usize,
    },
    /// `group`'s committee elected for `term` keeps the books from `pulse` on, with `to` as
    /// its primary in `view` (in place of `from`); `joined` of its members were not in the
    /// committee before and took the group's state (D-035).
    Seated {
        /// The pulse it took effect.
        pulse: u64,
        /// The term it was elected for.
        term: u64,
        /// The group.
        group: Prefix,
        /// The group's view from now on.
        view: u32,
        /// The primary before.
        from: Id,
        /// The primary now.
        to: Id,
        /// Members new to the committee.
        joined: usize,
    },
    /// This member took over as its group's primary in `view`, its state the group's as of the
    /// cycle sealed at `pulse` (later cycles another member sealed are not its history, D-032).
    TookOver {
        /// The group.
        group: Prefix,
        /// The view.
        view: u32,
        /// The pulse of the last cycle its state holds.
        pulse: u64,
    },
    /// This member stopped acting as its group's primary: it learnt of a later view (D-032).
    SteppedDown {
        /// The group.
        group: Prefix,
        /// The view it learnt of.
        view: u32,
    },
    /// A backup's replay of a cycle did not reproduce the primary's report: its state has
    /// diverged from the primary's and it stops replaying (it no longer attests, D-032).
    ReplicaDiverged {
        /// The group.
        group: Prefix,
        /// The cycle's pulse.
        pulse: u64,
    },
    /// A member that had fallen out of step took its acting primary's state as of the seal
    /// at `pulse` and replays again (D-032).
    Resynced {
        /// The group.
        group: Prefix,
        /// The pulse of the seal the state is from.
        pulse: u64,
        /// The member whose state it took.
        from: Id,
    },
    /// A backup's replay of the cycle `from` sealed at `pulse` reproduced its report: this
    /// member's state now holds that cycle (a driver tracing whose seals a member's state is
    /// made of needs it when a failover revives them, D-032).
    Replayed {
        /// The group.
        group: Prefix,
        /// The cycle's pulse.
        pulse: u64,
        /// The member that sent the cycle.
        from: Id,
    },
    /// This root committee member stopped hearing the chief (or joined another member's vote)
    /// and voted for root view `view`, its state holding `pulse` (D-033).
    VotedViewChange {
        /// The root view voted for.
        view: u32,
        /// The latest pulse its state holds.
        pulse: u64,
    },
    /// The chief took a group's report: a majority of its committee signed it (D-032).
    ReportAttested {
        /// The group.
        group: Prefix,
        /// The report's pulse.
        pulse: u64,
    },
    /// A crash without durable state lost these queued or in-flight commands.
    Lost {
        /// Their tags.
        tags: Vec<u64>,
    },
    /// The acting chief (or a root backup's replay) applied a new governance request (D-041).
    GovHandled {
        /// The organization.
        org: Id,
        /// Its author.
        author: Id,
        /// Its number.
        nonce: u64,
        /// What it asked.
        action: super::governance::GovActionKind,
        /// The pulse it was applied in.
        pulse: u64,
        /// The answer.
        result: super::governance::GovResult,
    },
    /// A pulse closed a proposal whose window was over (D-041).
    ProposalClosed {
        /// The pulse.
        pulse: u64,
        /// The proposal, its outcome and effect.
        closed: Box<super::bookkeeper::ClosedProposal>,
    },
    /// A client learnt from the chief's announcement that a pulse closed a proposal (D-050).
    ProposalLearnt {
        /// The pulse that closed it.
        pulse: u64,
        /// What was announced.
        notice: Box<super::ClosedNotice>,
    },
    /// A client learnt the answer to its governance request `tag`.
    GovAnswered {
        /// The driver's handle of the command.
        tag: u64,
        /// The organization.
        org: Id,
        /// The pulse the root committee applied it in.
        pulse: u64,
        /// The answer.
        result: super::governance::GovResult,
    },
    /// A client gave up on governance request `tag`: no answer after its attempts.
    GovGaveUp {
        /// The driver's handle of the command.
        tag: u64,
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
    BadProof(RootProofError),
    /// A credit half was refused.
    #[error("credit half refused: {0}")]
    BadCredit(LedgerError),
    /// A `Settle` names another group, or its path does not lead to its root.
    #[error("settle carries a path that is not this group's or does not verify")]
    WrongGroupPath,
    /// A commit notification proves another account than the receiver's, or shows an account
    /// that does not include the transfer.
    #[error("commit proof does not show this node's account with the transfer")]
    ProofDoesNotShowTransfer,
    /// An account proof answered for `asked` shows another account (D-049).
    #[error("the proof answered for {asked} shows {shown}")]
    ProofOfOtherAccount {
        /// The account asked for.
        asked: Id,
        /// The account the proof shows.
        shown: Id,
    },
    /// A group's primary reported two different synopses for one pulse (SPEC §8.4
    /// equivocation); the chief keeps the first.
    #[error("group {group}'s primary equivocated: two different reports for pulse {pulse}")]
    Equivocation {
        /// The group.
        group: Prefix,
        /// The pulse.
        pulse: u64,
    },
    /// A backup attested a different report than the acting primary sent for the same pulse:
    /// evidence that one of them lies (a forged summary, SPEC §14) or that the backup diverged
    /// (D-032). The chief takes neither until a majority of the committee agrees.
    #[error(
        "group {group}'s member {member} attested a different report for pulse {pulse} than its primary sent"
    )]
    AttestMismatch {
        /// The group.
        group: Prefix,
        /// The pulse.
        pulse: u64,
        /// The attesting member.
        member: Id,
    },
    /// A member was sent a state snapshot that does not hold its group's entry of the root
    /// the member holds (or is older than it), D-032.
    #[error("state snapshot for group {group} does not hold the group's entry in the held root")]
    BadSnapshot {
        /// The group.
        group: Prefix,
    },
    /// A group member that is not acting as the primary was sent a primary's work (a sender
    /// with an old view, D-032).
    #[error("this member does not act as group {group}'s primary in view {view}")]
    NotActing {
        /// The group.
        group: Prefix,
        /// The receiver's view of it.
        view: u32,
    },
    /// An envelope's signature does not verify under the key it names (D-039): forged, or
    /// changed on the way.
    #[error("the {kind:?} envelope's signature does not verify under its sender's key")]
    BadSignature {
        /// The message kind.
        kind: MessageKind,
    },
    /// An envelope arrived again, or is older than the sender's messages this node still
    /// remembers (D-039): a replay, or a duplicate the network made.
    #[error("{kind:?} envelope {seq} was already received from this sender, or is too old")]
    Replayed {
        /// The message kind.
        kind: MessageKind,
        /// The envelope's sequence number.
        seq: u64,
    },
    /// An envelope is addressed to another node, or to everyone though its kind is not a
    /// broadcast (D-039).
    #[error("the {kind:?} envelope is addressed to {to}, not to this node")]
    Misaddressed {
        /// The message kind.
        kind: MessageKind,
        /// The addressee it names.
        to: super::To,
    },
    /// A sender that holds no seat and no candidacy in the roster sent a message only
    /// bookkeepers send (D-039).
    #[error("{kind:?} comes from a node the roster does not list as a bookkeeper")]
    NotABookkeeper {
        /// The message kind.
        kind: MessageKind,
    },
    /// A message claims to come from the bookkeeper but does not.
    #[error("only the bookkeeper {bookkeeper} may send {kind:?}")]
    NotFromBookkeeper {
        /// The configured bookkeeper.
        bookkeeper: Id,
        /// The message kind.
        kind: MessageKind,
    },
}
