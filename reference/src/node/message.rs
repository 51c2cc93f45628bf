//! What nodes say to each other in the minimal pulse protocol.

use crate::consensus::root::{AccountProof, GroupPath};
use crate::consensus::settlement::{GroupReport, Order};
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::ledger::{LedgerError, SignedTx, Tx};
use crate::smt::RootSynopsis;

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
    /// Chief → everyone: the pulse and the root synopsis of the current ts (SPEC §5.2).
    Pulse {
        /// The pulse counter `p`.
        pulse: u64,
        /// The ts and its root synopsis.
        root: RootSynopsis,
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
}

impl MessageKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MessageKind; 8] = [
        MessageKind::Propose,
        MessageKind::Submit,
        MessageKind::CreditHalf,
        MessageKind::GroupSeal,
        MessageKind::Settle,
        MessageKind::Committed,
        MessageKind::Rejected,
        MessageKind::Pulse,
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
        }
    }
}

/// Bytes of an encoded transfer body, key and signature (SPEC §7.1, §1.2).
const TX_BYTES: usize = crate::ledger::TX_BODY_BYTES;
const KEY_BYTES: usize = 32;
const SIG_BYTES: usize = 64;
/// Version + hash + the four u128 sums of a summary.
const ROOT_BYTES: usize = 8 + 32 + 64;
/// Bit index + sibling hash + sibling summary.
const PROOF_STEP_BYTES: usize = 1 + 32 + 64;
/// Id + the five u64 account fields.
const LEAF_BYTES: usize = 20 + 40;
/// A group entry: prefix (21) + version + synopsis.
const ENTRY_BYTES: usize = 21 + 8 + 32 + 64;
/// A group path step: side + sibling hash and summary.
const GROUP_STEP_BYTES: usize = 1 + 32 + 64;
/// A pending half or an order: transfer id + kind (+ counterpart prefix for a half).
const HALF_BYTES: usize = 32 + 1 + 21;
const ORDER_BYTES: usize = 32 + 1;
/// One tag byte in front of every message.
const TAG_BYTES: usize = 1;

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
        }
    }

    /// The size of the message in a compact binary encoding, which the simulator charges
    /// against link bandwidth and reports as bytes sent.
    pub fn wire_bytes(&self) -> usize {
        TAG_BYTES
            + match self {
                Message::Propose { .. } => TX_BYTES + KEY_BYTES + SIG_BYTES,
                Message::Submit(_) | Message::CreditHalf(_) => TX_BYTES + 2 * (KEY_BYTES + SIG_BYTES),
                Message::GroupSeal(report) => 8 + ENTRY_BYTES + 4 + report.pending.len() * HALF_BYTES,
                Message::Settle(settle) => {
                    8 + ROOT_BYTES + path_bytes(&settle.path) + 4 + settle.orders.len() * ORDER_BYTES
                }
                Message::Committed { proof, .. } => {
                    32 + ROOT_BYTES
                        + 8
                        + 20
                        + proof.account.steps.len() * PROOF_STEP_BYTES
                        + LEAF_BYTES
                        + path_bytes(&proof.path)
                }
                Message::Rejected { .. } => 32 + 1 + 16,
                Message::Pulse { .. } => 8 + ROOT_BYTES,
            }
    }
}

fn path_bytes(path: &GroupPath) -> usize {
    ENTRY_BYTES + 1 + path.steps.len() * GROUP_STEP_BYTES
}
