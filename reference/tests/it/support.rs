//! Shared helpers for the integration tests.

use proptest::prelude::*;
use reference::Id;
use reference::smt::Account;

/// A pool of keys that exercises the tree's shapes: keys spread over the whole space, and
/// pairs that share long prefixes (differing only in their last bits) so that deep branches
/// and path compression around them are covered.
pub fn key_pool() -> Vec<Id> {
    let mut keys: Vec<Id> = (0..12).map(Id::spread).collect();
    for base in [Id::spread(100), Id::spread(101)] {
        for last_bits in [1u8, 2, 3] {
            let mut near = base;
            near.0[19] ^= last_bits;
            keys.push(near);
        }
        keys.push(base);
    }
    keys.push(Id::ZERO);
    keys.push(Id([0xFF; 20]));
    keys
}

/// An index into [`key_pool`].
pub fn key_index() -> impl Strategy<Value = usize> {
    0..key_pool().len()
}

/// Accounts with small field values, so equal values (no-op updates) occur too.
pub fn account() -> impl Strategy<Value = Account> {
    (0u64..6, 0u64..3, 0u64..3, 0u64..3, 0u64..3).prop_map(
        |(balance, frozen, nonce, pending_out, pending_in)| Account {
            balance,
            frozen,
            nonce,
            pending_out,
            pending_in,
        },
    )
}
