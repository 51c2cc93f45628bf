//! What nodes say to each other in the minimal pulse protocol.

use crate::consensus::root::{AccountProof, GroupPath};
use std::sync::Arc;

use crate::consensus::settlement::{GroupReport, Order};
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::ledger::{LedgerError, SignedTx, Tx};
use crate::smt::RootSynopsis;

use super::roster::ViewEntry;
use crate::id::Prefix;

/// The chief's message to a group's primary at each pulse (SPEC §5.2, §7.3 steps 4–6; D-023).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SettleMsg {
    /// The pulse counter `p`.
    pub pulse: u64,
    /// The latest root synopsis.
    pub root: RootSynopsis,
    /// The receiving group's entry in that root and its path to it.
    pub path: GroupPath,
    /// Halves of the group to clear or reverse.
    pub orders: Vec<Order>,
    /// The group's view (D-032): the receiver acts as the group's primary in it.
    pub view: u32,
}

/// One sealed cycle of a group's primary, as its backups replay it (D-032): every input the
/// primary handled since its previous seal, in order, ending with the chief's `Settle` that
/// sealed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplicaCycle {
    /// The pulse the primary's state was at before the cycle (its previous `Settle`).
    pub before_pulse: u64,
    /// The pulse of the `Settle` that sealed the cycle.
    pub pulse: u64,
    /// The inputs, as their senders signed them (D-039).
    pub inputs: Vec<super::Envelope>,
    /// The digest of the report the primary built at the seal (what a faithful replay
    /// reproduces).
    pub report_digest: Hash32,
}

/// Acting primary → a member that fell out of step with it (a backup whose replay diverged,
/// a deposed primary with cycles the chief never took): the primary's whole state as of its
/// latest seal, and the report it built then (D-032). Compared and ordered by its digest.
#[derive(Clone)]
pub struct StateSnapshot {
    /// The group.
    pub group: Prefix,
    /// The sender's view of the group.
    pub view: u32,
    /// The report of the seal the state is from.
    pub report: GroupReport,
    /// The encoded size of the state (accounts, open halves, remembered credits, waiting
    /// submissions), which the simulator charges.
    pub state_bytes: usize,
    pub(super) state: Arc<super::bookkeeper::Snapshot>,
}

impl StateSnapshot {
    fn key(&self) -> (Prefix, u32, u64, Hash32) {
        (self.group, self.view, self.report.pulse, super::bookkeeper::report_digest(&self.report))
    }
}

impl PartialEq for StateSnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for StateSnapshot {}

impl PartialOrd for StateSnapshot {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StateSnapshot {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl std::hash::Hash for StateSnapshot {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl std::fmt::Debug for StateSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot")
            .field("group", &self.group)
            .field("view", &self.view)
            .field("pulse", &self.report.pulse)
            .finish_non_exhaustive()
    }
}

/// Primary → backup: the sealed cycles the backup has not attested yet (D-032).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplicaBatch {
    /// The group.
    pub group: Prefix,
    /// The sender's view of the group.
    pub view: u32,
    /// The cycles, oldest first.
    pub cycles: Vec<std::sync::Arc<ReplicaCycle>>,
}

/// A message between nodes. Every field is validated by the receiver; none is trusted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Message {
    /// Payer → payee: a transfer the payer has signed, for the payee to co-sign (SPEC §7.1).
    Propose {
        /// The transfer.
        tx: Tx,
        /// The payer's public key.
        payer_key: PublicKey,
        /// The payer's signature of `tx.id()`.
        payer_sig: Signature,
    },
    /// Payee → the payer's group primary: the doubly signed transfer (SPEC §7.3 step 1).
    Submit(Box<SignedTx>),
    /// Payer's group primary → payee's group primary: the credit half of a cross-group
    /// transfer, its debit applied (SPEC §7.3 step 2).
    CreditHalf(Box<SignedTx>),
    /// Group primary → chief after each seal: its synopsis and pending halves (SPEC §7.3 step 4).
    GroupSeal(Box<GroupReport>),
    /// Chief → group primary at each pulse: the root, the group's path in it and the
    /// settlement orders (SPEC §7.3 steps 4–6).
    Settle(Box<SettleMsg>),
    /// Bookkeeper → each party: the transfer is sealed; `proof` shows the receiver's account in
    /// `root.version` (SPEC §4.6, §7.3 step 7).
    Committed {
        /// The transfer's id.
        tx_id: Hash32,
        /// The sealed version's root synopsis.
        root: RootSynopsis,
        /// The receiver's account in its group's version under that root.
        proof: Box<AccountProof>,
    },
    /// Bookkeeper → payer: the transfer was refused and will not be applied.
    Rejected {
        /// The transfer's id.
        tx_id: Hash32,
        /// Why.
        error: LedgerError,
    },
    /// Chief → everyone: the pulse and the root synopsis of the current ts (SPEC §5.2), and
    /// every group view above 0 (D-032; empty while no group failed over).
    Pulse {
        /// The pulse counter `p`.
        pulse: u64,
        /// The ts and its root synopsis.
        root: RootSynopsis,
        /// Groups whose acting primary is not the term's first (D-032). Shared: the chief
        /// sends the same list until it changes, and a receiver that holds it skips it.
        views: std::sync::Arc<[ViewEntry]>,
        /// Committees elected from a pool, in effect or taking the state (D-035; empty
        /// without pools).
        seatings: std::sync::Arc<[super::roster::Seating]>,
    },
    /// Acting primary → its backups: sealed cycles to replay (D-032).
    Replicate(Box<ReplicaBatch>),
    /// Backup → chief and acting primary: the report the backup's replay of a cycle built —
    /// the backup's co-signature of the primary's report (D-032).
    Attest {
        /// The report the replay built.
        report: Box<GroupReport>,
        /// The view of the group the backup replayed in: the chief counts only attestations
        /// of the group's current view.
        view: u32,
    },
    /// Member → acting primary: its state diverged; it asks for the primary's (D-032).
    StateRequest {
        /// The group.
        group: Prefix,
    },
    /// Acting primary → member: its state as of its latest seal (D-032).
    State(Box<StateSnapshot>),
    /// Root backup → acting chief: its replay of the chief's cycle for `pulse` reproduced
    /// `digest` — its co-signature of the pulse, which the chief needs from a majority before
    /// it sends the pulse's `Settle`s and `Pulse` (SPEC §5.2, D-033).
    CoSign {
        /// The pulse co-signed.
        pulse: u64,
        /// The root view the cycle was replicated in.
        view: u32,
        /// The digest the replay rebuilt.
        digest: Hash32,
    },
    /// Root committee member → the others: it stopped hearing the acting chief and votes for
    /// `view`, whose member takes over once a majority voted (D-033).
    ViewChange {
        /// The root view voted for.
        view: u32,
        /// The latest pulse the voter's state holds, so that the new chief starts from the
        /// most advanced state among its voters.
        pulse: u64,
    },
    /// Member or guest → acting chief: a governance request it signed (D-041).
    Gov(Box<super::governance::GovRequest>),
    /// Acting chief → a request's author: what the root committee did with it, at which pulse.
    GovOutcome {
        /// The organization.
        org: crate::id::Id,
        /// The request's number.
        nonce: u64,
        /// The pulse it was applied in.
        pulse: u64,
        /// The answer.
        result: super::governance::GovResult,
    },
    /// Anyone → a bookkeeper of `account`'s group: prove `account` under the root of `pulse`
    /// (D-049: a balance-weighted vote carries its voter's account under the root its
    /// proposal pinned when it opened).
    ProveAccount {
        /// The account.
        account: crate::id::Id,
        /// The pulse whose root the proof is under.
        pulse: u64,
    },
    /// Bookkeeper → the asker of a [`Message::ProveAccount`]: the proof, or the pulses it can
    /// prove under.
    AccountAt {
        /// The account.
        account: crate::id::Id,
        /// The pulse asked for.
        pulse: u64,
        /// The proof or why not.
        answer: ProofAnswer,
    },
    /// Acting chief → everyone, after a pulse's `Pulse`: the proposals that pulse closed
    /// (D-050). One of the pulse's outputs, so released only once the root committee co-signed
    /// the pulse: members learn outcomes as they learn the root.
    Closed {
        /// The pulse that closed them.
        pulse: u64,
        /// The proposals, in organization and number order.
        closed: Vec<ClosedNotice>,
    },
}

/// A closed proposal as the chief announces it (D-050).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClosedNotice {
    /// The organization.
    pub org: crate::id::Id,
    /// The proposal.
    pub number: u64,
    /// What it proposed.
    pub kind: crate::org::ProposalKind,
    /// Whether it passed.
    pub passed: bool,
    /// Weight of the yes votes.
    pub yes: u64,
    /// Weight of the no votes.
    pub no: u64,
    /// The total weight its quorum was measured against.
    pub total_weight: u64,
}

/// A bookkeeper's answer to [`Message::ProveAccount`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProofAnswer {
    /// The account (or its absence) under the root of the pulse asked for.
    Proven {
        /// The root of that pulse.
        root: RootSynopsis,
        /// The account's proof under it.
        proof: Box<AccountProof>,
    },
    /// This bookkeeper proves accounts of its group under the roots of pulses `oldest..=newest`
    /// only (both 0 if none, or if the account is not in its group): the pulse asked for was
    /// pruned, or is not yet settled here.
    NotHeld {
        /// The oldest pulse it proves under.
        oldest: u64,
        /// The newest.
        newest: u64,
    },
}

/// The kind of a [`Message`], for metrics and traces.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum MessageKind {
    /// [`Message::Propose`].
    Propose,
    /// [`Message::Submit`].
    Submit,
    /// [`Message::CreditHalf`].
    CreditHalf,
    /// [`Message::GroupSeal`].
    GroupSeal,
    /// [`Message::Settle`].
    Settle,
    /// [`Message::Committed`].
    Committed,
    /// [`Message::Rejected`].
    Rejected,
    /// [`Message::Pulse`].
    Pulse,
    /// [`Message::Replicate`].
    Replicate,
    /// [`Message::Attest`].
    Attest,
    /// [`Message::StateRequest`].
    StateRequest,
    /// [`Message::State`].
    State,
    /// [`Message::CoSign`].
    CoSign,
    /// [`Message::ViewChange`].
    ViewChange,
    /// [`Message::Gov`].
    Gov,
    /// [`Message::GovOutcome`].
    GovOutcome,
    /// [`Message::ProveAccount`].
    ProveAccount,
    /// [`Message::AccountAt`].
    AccountAt,
    /// [`Message::Closed`].
    Closed,
}

impl MessageKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MessageKind; 19] = [
        MessageKind::Propose,
        MessageKind::Submit,
        MessageKind::CreditHalf,
        MessageKind::GroupSeal,
        MessageKind::Settle,
        MessageKind::Committed,
        MessageKind::Rejected,
        MessageKind::Pulse,
        MessageKind::Replicate,
        MessageKind::Attest,
        MessageKind::StateRequest,
        MessageKind::State,
        MessageKind::CoSign,
        MessageKind::ViewChange,
        MessageKind::Gov,
        MessageKind::GovOutcome,
        MessageKind::ProveAccount,
        MessageKind::AccountAt,
        MessageKind::Closed,
    ];

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Propose => "propose",
            MessageKind::Submit => "submit",
            MessageKind::CreditHalf => "credit_half",
            MessageKind::GroupSeal => "group_seal",
            MessageKind::Settle => "settle",
            MessageKind::Committed => "committed",
            MessageKind::Rejected => "rejected",
            MessageKind::Pulse => "pulse",
            MessageKind::Replicate => "replicate",
            MessageKind::Attest => "attest",
            MessageKind::StateRequest => "state_request",
            MessageKind::State => "state",
            MessageKind::CoSign => "co_sign",
            MessageKind::ViewChange => "view_change",
            MessageKind::Gov => "gov",
            MessageKind::GovOutcome => "gov_outcome",
            MessageKind::ProveAccount => "prove_account",
            MessageKind::AccountAt => "account_at",
            MessageKind::Closed => "closed",
        }
    }
}

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Propose { .. } => MessageKind::Propose,
            Message::Submit(_) => MessageKind::Submit,
            Message::CreditHalf(_) => MessageKind::CreditHalf,
            Message::GroupSeal(_) => MessageKind::GroupSeal,
            Message::Settle(_) => MessageKind::Settle,
            Message::Committed { .. } => MessageKind::Committed,
            Message::Rejected { .. } => MessageKind::Rejected,
            Message::Pulse { .. } => MessageKind::Pulse,
            Message::Replicate(_) => MessageKind::Replicate,
            Message::Attest { .. } => MessageKind::Attest,
            Message::StateRequest { .. } => MessageKind::StateRequest,
            Message::State(_) => MessageKind::State,
            Message::CoSign { .. } => MessageKind::CoSign,
            Message::ViewChange { .. } => MessageKind::ViewChange,
            Message::Gov(_) => MessageKind::Gov,
            Message::GovOutcome { .. } => MessageKind::GovOutcome,
            Message::ProveAccount { .. } => MessageKind::ProveAccount,
            Message::AccountAt { .. } => MessageKind::AccountAt,
            Message::Closed { .. } => MessageKind::Closed,
        }
    }

    /// The length of the message's frame without an envelope: the version byte and its
    /// encoding (D-038) — for a state snapshot, whose body is not on the wire yet, its
    /// header's and the body's estimated size.
    pub fn wire_bytes(&self) -> usize {
        let body = match self {
            Message::State(snapshot) => snapshot.state_bytes,
            _ => 0,
        };
        1 + crate::wire::encoded_len(self) + body
    }
}
