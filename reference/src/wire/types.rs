//! Wire encodings of the values messages carry (D-038): keys, hashes and signatures as their
//! bytes; transfers, reports, orders, proofs, views and seatings field by field; enums as a
//! one-byte tag and their fields.

use super::codec::{Decode, DecodeError, Encode, Problem, Reader, Writer, record};
use crate::consensus::root::{AccountProof, GroupEntry, GroupPath, GroupStep};
use crate::consensus::settlement::{GroupReport, Order, PendingHalf};
use crate::crypto::{Hash32, PublicKey, Signature, SignatureError};
use crate::id::{ID_BITS, Id, Prefix};
use crate::ledger::{Half, LedgerError, Party, Settlement, SignedTx, TX_BODY_BYTES, Tx};
use crate::node::{Seating, ViewEntry};
use crate::smt::account::{ACCOUNT_BYTES, SUMMARY_BYTES};
use crate::smt::{Account, Proof, ProofStep, RootSynopsis, Summary, Synopsis, Terminal};

/// Types that are a fixed array of bytes.
macro_rules! bytes {
    ($($ty:ident: $n:expr),* $(,)?) => {$(
        impl Encode for $ty {
            fn encode(&self, w: &mut Writer) {
                w.bytes(&self.0);
            }
        }
        impl Decode for $ty {
            const MIN_BYTES: usize = $n;
            fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
                r.array::<{ $n }>(field).map($ty)
            }
        }
    )*};
}
bytes!(Id: crate::id::ID_BYTES, Hash32: 32, PublicKey: 32, Signature: 64);

/// Types that already have one fixed-size encoding — a transfer's body (what its id hashes and
/// its parties sign), a summary and an account (what the tree hashes): the wire carries those
/// very bytes, so there is one definition of each.
macro_rules! fixed {
    ($($ty:ident: $n:expr, $encode:expr, $decode:expr;)*) => {$(
        impl Encode for $ty {
            fn encode(&self, w: &mut Writer) {
                w.bytes(&($encode)(self));
            }
        }
        impl Decode for $ty {
            const MIN_BYTES: usize = $n;
            fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
                r.array::<{ $n }>(field).map(|bytes| ($decode)(&bytes))
            }
        }
    )*};
}
fixed! {
    Tx: TX_BODY_BYTES, Tx::encode, Tx::decode;
    Summary: SUMMARY_BYTES, |s: &Summary| {
        let mut bytes = [0u8; SUMMARY_BYTES];
        s.encode(&mut bytes);
        bytes
    }, Summary::decode;
    Account: ACCOUNT_BYTES, |a: &Account| {
        let mut bytes = [0u8; ACCOUNT_BYTES];
        a.encode(&mut bytes);
        bytes
    }, Account::decode;
}

/// Enums without fields, as a one-byte tag.
macro_rules! unit_enum {
    ($($ty:ident { $($variant:ident = $tag:literal),* $(,)? })*) => {$(
        impl Encode for $ty {
            fn encode(&self, w: &mut Writer) {
                w.u8(match self { $( $ty::$variant => $tag, )* });
            }
        }
        impl Decode for $ty {
            const MIN_BYTES: usize = 1;
            fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
                match r.u8(field)? {
                    $( $tag => Ok($ty::$variant), )*
                    other => Err(r.error_before(1, field, Problem::Tag(other))),
                }
            }
        }
    )*};
}
unit_enum! {
    Half { Debit = 0, Credit = 1 }
    Settlement { Clear = 0, Reverse = 1 }
    Party { Payer = 0, Payee = 1 }
    SignatureError { MalformedKey = 0, Mismatch = 1 }
}

impl Encode for Prefix {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.bits().0);
        w.u8(self.len_bits() as u8);
    }
}

impl Decode for Prefix {
    const MIN_BYTES: usize = crate::id::ID_BYTES + 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let bits = Id::decode(r, field)?;
        let len_bits = usize::from(r.u8(field)?);
        if len_bits > ID_BITS {
            return Err(r.error_before(1, field, Problem::NotAllowed("a prefix longer than an Id")));
        }
        let prefix = Prefix::new(bits, len_bits);
        if prefix.bits() != bits {
            let at = r.position() - Self::MIN_BYTES;
            return Err(DecodeError {
                at,
                field,
                problem: Problem::NonCanonical("bits set after the prefix"),
            });
        }
        Ok(prefix)
    }
}

record!(SignedTx {
    tx: Tx,
    payer_key: PublicKey,
    payee_key: PublicKey,
    payer_sig: Signature,
    payee_sig: Signature,
});
record!(Synopsis { hash: Hash32, summary: Summary });
record!(RootSynopsis { version: u64, synopsis: Synopsis });
record!(GroupEntry { prefix: Prefix, version: u64, synopsis: Synopsis });
record!(PendingHalf { tx_id: Hash32, half: Half, counterpart: Prefix, amount: u64 });
record!(GroupReport { pulse: u64, entry: GroupEntry, pending: Vec<PendingHalf> });
record!(Order { tx_id: Hash32, how: Settlement });
record!(GroupStep { sibling_left: bool, sibling: Synopsis });
record!(GroupPath { entry: GroupEntry, steps: Vec<GroupStep> });
record!(ProofStep { bit: u8, sibling_hash: Hash32, sibling_summary: Summary });
record!(Proof { version: u64, key: Id, steps: Vec<ProofStep>, terminal: Terminal });
record!(AccountProof { account: Proof, path: GroupPath });
record!(ViewEntry { group: Prefix, view: u32, primary: Id });
record!(Seating { group: Prefix, term: u64, seats: Vec<Id>, in_effect: bool });

impl Encode for Terminal {
    fn encode(&self, w: &mut Writer) {
        match self {
            Terminal::Empty => w.u8(0),
            Terminal::Leaf { id, account } => {
                w.u8(1);
                id.encode(w);
                Encode::encode(account, w);
            }
        }
    }
}

impl Decode for Terminal {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        match r.u8(field)? {
            0 => Ok(Terminal::Empty),
            1 => Ok(Terminal::Leaf {
                id: Id::decode(r, "Terminal.id")?,
                account: <Account as Decode>::decode(r, field)?,
            }),
            other => Err(r.error_before(1, field, Problem::Tag(other))),
        }
    }
}

impl Encode for LedgerError {
    fn encode(&self, w: &mut Writer) {
        match self {
            LedgerError::NonPositiveAmount => w.u8(0),
            LedgerError::SelfTransfer(id) => tagged(w, 1, id),
            LedgerError::KeyMismatch { party, id } => {
                tagged(w, 2, party);
                id.encode(w);
            }
            LedgerError::BadSignature { party, reason } => {
                tagged(w, 3, party);
                reason.encode(w);
            }
            LedgerError::UnknownAccount { id, party } => {
                tagged(w, 4, id);
                party.encode(w);
            }
            LedgerError::BadNonce { expected, got } => pair(w, 5, *expected, *got),
            LedgerError::InsufficientSpendable { spendable, amount } => pair(w, 6, *spendable, *amount),
            LedgerError::BalanceOverflow => w.u8(7),
            LedgerError::AccountExists(id) => tagged(w, 8, id),
            LedgerError::InsufficientFrozen { frozen, amount } => pair(w, 9, *frozen, *amount),
            LedgerError::BeyondCapacity { deposit, amount } => pair(w, 10, *deposit, *amount),
            LedgerError::TimedOut => w.u8(11),
            LedgerError::NotPending { half, pending, amount } => {
                tagged(w, 12, half);
                pending.encode(w);
                amount.encode(w);
            }
        }
    }
}

fn tagged(w: &mut Writer, tag: u8, value: &impl Encode) {
    w.u8(tag);
    value.encode(w);
}

fn pair(w: &mut Writer, tag: u8, first: u64, second: u64) {
    w.u8(tag);
    w.u64(first);
    w.u64(second);
}

impl Decode for LedgerError {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let f = "LedgerError";
        Ok(match r.u8(field)? {
            0 => LedgerError::NonPositiveAmount,
            1 => LedgerError::SelfTransfer(Id::decode(r, f)?),
            2 => LedgerError::KeyMismatch { party: Party::decode(r, f)?, id: Id::decode(r, f)? },
            3 => LedgerError::BadSignature {
                party: Party::decode(r, f)?,
                reason: SignatureError::decode(r, f)?,
            },
            4 => LedgerError::UnknownAccount { id: Id::decode(r, f)?, party: Party::decode(r, f)? },
            5 => LedgerError::BadNonce { expected: r.u64(f)?, got: r.u64(f)? },
            6 => LedgerError::InsufficientSpendable { spendable: r.u64(f)?, amount: r.u64(f)? },
            7 => LedgerError::BalanceOverflow,
            8 => LedgerError::AccountExists(Id::decode(r, f)?),
            9 => LedgerError::InsufficientFrozen { frozen: r.u64(f)?, amount: r.u64(f)? },
            10 => LedgerError::BeyondCapacity { deposit: r.u64(f)?, amount: r.u64(f)? },
            11 => LedgerError::TimedOut,
            12 => {
                LedgerError::NotPending { half: Half::decode(r, f)?, pending: r.u64(f)?, amount: r.u64(f)? }
            }
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}
