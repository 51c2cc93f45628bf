//! What nodes say to each other in the minimal pulse protocol.

use crate::crypto::{Hash32, PublicKey, Signature};
use crate::ledger::{LedgerError, SignedTx, Tx};
use crate::smt::{Proof, RootSynopsis};

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
    /// Payee → bookkeeper: the doubly signed transfer (SPEC §7.3 step 1).
    Submit(Box<SignedTx>),
    /// Bookkeeper → each party: the transfer is sealed; `proof` shows the receiver's account in
    /// `root.version` (SPEC §4.6, §7.3 step 7).
    Committed {
        /// The transfer's id.
        tx_id: Hash32,
        /// The sealed version's root synopsis.
        root: RootSynopsis,
        /// The receiver's account in that version.
        proof: Box<Proof>,
    },
    /// Bookkeeper → payer: the transfer was refused and will not be applied.
    Rejected {
        /// The transfer's id.
        tx_id: Hash32,
        /// Why.
        error: LedgerError,
    },
    /// Bookkeeper → everyone: the pulse and the root synopsis of the current ts (SPEC §5.2).
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
    /// [`Message::Committed`].
    Committed,
    /// [`Message::Rejected`].
    Rejected,
    /// [`Message::Pulse`].
    Pulse,
}

impl MessageKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MessageKind; 5] = [
        MessageKind::Propose,
        MessageKind::Submit,
        MessageKind::Committed,
        MessageKind::Rejected,
        MessageKind::Pulse,
    ];

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Propose => "propose",
            MessageKind::Submit => "submit",
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
/// One tag byte in front of every message.
const TAG_BYTES: usize = 1;

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Propose { .. } => MessageKind::Propose,
            Message::Submit(_) => MessageKind::Submit,
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
                Message::Submit(_) => TX_BYTES + 2 * (KEY_BYTES + SIG_BYTES),
                Message::Committed { proof, .. } => {
                    32 + ROOT_BYTES + 8 + 20 + proof.steps.len() * PROOF_STEP_BYTES + LEAF_BYTES
                }
                Message::Rejected { .. } => 32 + 1 + 16,
                Message::Pulse { .. } => 8 + ROOT_BYTES,
            }
    }
}
