//! Leaf values, subtree summaries and their hash encodings (SPEC §4.1, §4.3).

use crate::crypto::{Domain, Hash32, hash_encoded, hash_parts};
use crate::id::Id;

use super::hasher::{branch_message, leaf_message};

/// A ledger account: the value of one leaf (SPEC §4.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Account {
    /// Total balance, including the frozen part and unconfirmed credits.
    pub balance: u64,
    /// The locked part of `balance` (deposits, pledges, dispute freezes); `frozen ≤ balance`.
    pub frozen: u64,
    /// Number of transfers this account has sent; the next one must carry `nonce + 1`.
    pub nonce: u64,
    /// Debits applied here whose credit half is not yet matched (SPEC §7.3).
    pub pending_out: u64,
    /// Credits applied here whose debit half is not yet matched (SPEC §7.3).
    pub pending_in: u64,
}

impl Account {
    /// An account holding `balance` and nothing else.
    pub fn with_balance(balance: u64) -> Account {
        Account { balance, ..Account::default() }
    }

    /// What the owner may spend now: `balance − frozen − pending_in` (SPEC §7.2). Unconfirmed
    /// credits are not spendable, so a reversal of a credit half is always possible.
    /// Saturates at zero for an account that breaks I2, so callers never see an underflow.
    pub fn spendable(&self) -> u64 {
        self.balance.saturating_sub(self.frozen).saturating_sub(self.pending_in)
    }

    /// This account's contribution to a subtree summary.
    pub fn summary(&self) -> Summary {
        Summary {
            balance: self.balance,
            frozen: self.frozen,
            pending_out: self.pending_out,
            pending_in: self.pending_in,
            accounts: 1,
        }
    }

    /// Encoding inside a leaf hash: the five fields, little-endian, in declaration order.
    pub(crate) fn encode(&self, out: &mut [u8; ACCOUNT_BYTES]) {
        let fields = [self.balance, self.frozen, self.nonce, self.pending_out, self.pending_in];
        for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
    }

    /// The account [`Account::encode`] wrote (the wire reads it back with this).
    pub(crate) fn decode(bytes: &[u8; ACCOUNT_BYTES]) -> Account {
        let field = |i: usize| u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        Account {
            balance: field(0),
            frozen: field(1),
            nonce: field(2),
            pending_out: field(3),
            pending_in: field(4),
        }
    }
}

/// Encoded length of an [`Account`].
pub(crate) const ACCOUNT_BYTES: usize = 40;
/// Encoded length of a [`Summary`].
pub(crate) const SUMMARY_BYTES: usize = 5 * 8;

/// The sums over a subtree that every branch carries (SPEC §4.3: the source's "summary
/// information"). Sums are `u64`: every one is bounded by the genesis supply, itself a `u64`
/// (I1), so a summary whose sums overflow is invalid — [`Summary::checked_add`] refuses it, and
/// a ledger refuses the credit that would make its tree's sums overflow (D-006).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Summary {
    /// Σ balance.
    pub balance: u64,
    /// Σ frozen.
    pub frozen: u64,
    /// Σ pending_out.
    pub pending_out: u64,
    /// Σ pending_in.
    pub pending_in: u64,
    /// Number of accounts (leaves).
    pub accounts: u64,
}

impl Summary {
    /// The summary of the empty tree.
    pub const ZERO: Summary = Summary { balance: 0, frozen: 0, pending_out: 0, pending_in: 0, accounts: 0 };

    /// Field-wise sum, or `None` on overflow (an invalid summary: SPEC §4.3).
    pub fn checked_add(&self, other: &Summary) -> Option<Summary> {
        Some(Summary {
            balance: self.balance.checked_add(other.balance)?,
            frozen: self.frozen.checked_add(other.frozen)?,
            pending_out: self.pending_out.checked_add(other.pending_out)?,
            pending_in: self.pending_in.checked_add(other.pending_in)?,
            accounts: self.accounts.checked_add(other.accounts)?,
        })
    }

    /// The supply held by the subtree: `balance + pending_out − pending_in` (SPEC §4.3).
    /// A debit half moves value from `balance` to `pending_out`, a credit half adds it to
    /// `balance` and `pending_in`, so the supply is unchanged at every step of a transfer.
    /// Signed because a forged or broken summary may make it negative.
    pub fn supply(&self) -> i128 {
        // Three u64 values: no overflow in i128.
        i128::from(self.balance) + i128::from(self.pending_out) - i128::from(self.pending_in)
    }

    /// The five fields, little-endian `u64`s in declaration order.
    pub(crate) fn decode(bytes: &[u8; SUMMARY_BYTES]) -> Summary {
        let field = |i: usize| u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        Summary {
            balance: field(0),
            frozen: field(1),
            pending_out: field(2),
            pending_in: field(3),
            accounts: field(4),
        }
    }

    pub(crate) fn encode(&self, out: &mut [u8; SUMMARY_BYTES]) {
        let fields = [self.balance, self.frozen, self.pending_out, self.pending_in, self.accounts];
        for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
    }
}

/// `H(0x00 ‖ id ‖ account)` (SPEC §4.3).
pub fn leaf_hash(id: &Id, account: &Account) -> Hash32 {
    hash_encoded(&leaf_message(id, account))
}

/// `H(0x01 ‖ bit_index ‖ left ‖ right ‖ summary ‖ zeros)` (SPEC §4.3): a 128-byte message,
/// where `summary` is the sum of the two children's summaries.
pub fn branch_hash(bit_index: u8, left: &Hash32, right: &Hash32, summary: &Summary) -> Hash32 {
    hash_encoded(&branch_message(bit_index, left, right, summary))
}

/// `H(0x02)`: the root hash of the empty tree (SPEC §4.3).
pub fn empty_hash() -> Hash32 {
    hash_parts(Domain::Empty, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spendable_excludes_frozen_and_unconfirmed_credit() {
        let account = Account { balance: 100, frozen: 30, pending_in: 20, ..Account::default() };
        assert_eq!(account.spendable(), 50);
        let broken = Account { balance: 10, frozen: 30, ..Account::default() };
        assert_eq!(broken.spendable(), 0);
    }

    #[test]
    fn supply_counts_pending_out_and_excludes_pending_in() {
        // Payer debited 5 (balance 95, pending_out 5), payee credited 5 (balance 5, pending_in 5).
        let payer = Account { balance: 95, pending_out: 5, ..Account::default() };
        let payee = Account { balance: 5, pending_in: 5, ..Account::default() };
        let total = payer.summary().checked_add(&payee.summary()).unwrap();
        assert_eq!(total.supply(), 100);
    }

    #[test]
    fn every_account_field_reaches_the_leaf_hash() {
        let id = Id::from_u64(1);
        let base = Account { balance: 1, frozen: 2, nonce: 3, pending_out: 4, pending_in: 5 };
        let variants = [
            Account { balance: 9, ..base },
            Account { frozen: 9, ..base },
            Account { nonce: 9, ..base },
            Account { pending_out: 9, ..base },
            Account { pending_in: 9, ..base },
        ];
        for variant in variants {
            assert_ne!(leaf_hash(&id, &base), leaf_hash(&id, &variant), "{variant:?}");
        }
        assert_ne!(leaf_hash(&id, &base), leaf_hash(&Id::from_u64(2), &base));
    }

    #[test]
    fn every_summary_field_reaches_the_branch_hash() {
        let (l, r) = (Hash32([1; 32]), Hash32([2; 32]));
        let base = Summary { balance: 1, frozen: 2, pending_out: 3, pending_in: 4, accounts: 5 };
        let variants = [
            Summary { balance: 9, ..base },
            Summary { frozen: 9, ..base },
            Summary { pending_out: 9, ..base },
            Summary { pending_in: 9, ..base },
            Summary { accounts: 9, ..base },
        ];
        for variant in variants {
            assert_ne!(branch_hash(3, &l, &r, &base), branch_hash(3, &l, &r, &variant));
        }
        assert_ne!(branch_hash(3, &l, &r, &base), branch_hash(4, &l, &r, &base));
        assert_ne!(branch_hash(3, &l, &r, &base), branch_hash(3, &r, &l, &base));
    }
}
