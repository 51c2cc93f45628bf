//! 160-bit identities (SPEC §1.1).
//!
//! Every principal — user, node, organization — is named by an [`Id`]: the first 20 bytes of
//! the domain-separated BLAKE3 hash of its public key. Ids are also the keys of the ledger's
//! sparse Merkle tree (SPEC §4.1), so this module provides the bit-level views the tree needs.

use std::fmt;

use crate::crypto::{Domain, PublicKey, hash_parts};

/// Length of an [`Id`] in bytes (SPEC §1.1: 160 bits).
pub const ID_BYTES: usize = 20;
/// Length of an [`Id`] in bits.
pub const ID_BITS: usize = ID_BYTES * 8;

/// A 160-bit identity. Ordered lexicographically by its bytes, which is also the order of the
/// leaves of the sparse Merkle tree (bit 0 is the most significant bit of byte 0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Id(pub [u8; ID_BYTES]);

impl Ord for Id {
    /// Lexicographic byte order, compared as two big-endian integers: sorting a seal's
    /// changes is hot, and this avoids a `memcmp` call per comparison.
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        let (high, low) = self.as_integers();
        let (other_high, other_low) = other.as_integers();
        high.cmp(&other_high).then(low.cmp(&other_low))
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Id {
    /// The all-zero Id.
    pub const ZERO: Id = Id([0; ID_BYTES]);

    /// The Id of the holder of `public_key` (SPEC §1.1: truncated BLAKE3, domain-separated).
    pub fn from_public_key(public_key: &PublicKey) -> Id {
        let digest = hash_parts(Domain::IdFromKey, &[&public_key.0]);
        let mut bytes = [0u8; ID_BYTES];
        bytes.copy_from_slice(&digest.0[..ID_BYTES]);
        Id(bytes)
    }

    /// An Id whose first eight bytes are `n` big-endian and the rest zero: handy for tests
    /// and examples that want readable, well-ordered keys.
    pub fn from_u64(n: u64) -> Id {
        let mut bytes = [0u8; ID_BYTES];
        bytes[..8].copy_from_slice(&n.to_be_bytes());
        Id(bytes)
    }

    /// An Id spread uniformly over the key space from a counter, as random public keys would
    /// be; deterministic (it is a hash), so benchmarks and tests can use it without an RNG.
    pub fn spread(n: u64) -> Id {
        let digest = hash_parts(Domain::Synthetic, &[&n.to_le_bytes()]);
        let mut bytes = [0u8; ID_BYTES];
        bytes.copy_from_slice(&digest.0[..ID_BYTES]);
        Id(bytes)
    }

    /// The first 16 bytes and the last 4 as big-endian integers.
    fn as_integers(&self) -> (u128, u32) {
        let (high, low) = self.0.split_at(16);
        (
            u128::from_be_bytes(high.try_into().expect("16 bytes")),
            u32::from_be_bytes(low.try_into().expect("4 bytes")),
        )
    }

    /// Bit `index` (0 = most significant bit of the first byte). `index` must be < 160.
    #[inline]
    pub fn bit(&self, index: usize) -> bool {
        debug_assert!(index < ID_BITS, "bit index {index} out of range");
        (self.0[index / 8] >> (7 - index % 8)) & 1 == 1
    }

    /// Length, in bits, of the longest common prefix of `self` and `other` (160 if equal).
    #[inline]
    pub fn common_prefix_bits(&self, other: &Id) -> usize {
        for (byte_index, (a, b)) in self.0.iter().zip(other.0.iter()).enumerate() {
            let diff = a ^ b;
            if diff != 0 {
                return byte_index * 8 + diff.leading_zeros() as usize;
            }
        }
        ID_BITS
    }

    /// Lower-case hex of all 20 bytes.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The first `n` hex digits, for compact human output.
    pub fn short(&self) -> String {
        let mut text = self.to_hex();
        text.truncate(8);
        text
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An Id prefix: the first `len_bits` bits of `bits` (the remaining bits are ignored).
/// Names a node group or child organization (SPEC §4.5, §6.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Prefix {
    bits: Id,
    len_bits: u8,
}

impl Prefix {
    /// The empty prefix: the whole key space.
    pub const ROOT: Prefix = Prefix { bits: Id::ZERO, len_bits: 0 };

    /// The first `len_bits` bits of `id`. Bits after the prefix are cleared so that equal
    /// prefixes compare equal.
    ///
    /// # Panics
    /// If `len_bits > 160`; a prefix longer than an Id is a caller bug, not input.
    pub fn new(id: Id, len_bits: usize) -> Prefix {
        assert!(len_bits <= ID_BITS, "prefix of {len_bits} bits is longer than an Id");
        let mut bits = Id::ZERO;
        let full_bytes = len_bits / 8;
        bits.0[..full_bytes].copy_from_slice(&id.0[..full_bytes]);
        let rest_bits = len_bits % 8;
        if rest_bits > 0 {
            bits.0[full_bytes] = id.0[full_bytes] & (0xFF << (8 - rest_bits));
        }
        Prefix { bits, len_bits: len_bits as u8 }
    }

    /// Length in bits.
    pub fn len_bits(&self) -> usize {
        usize::from(self.len_bits)
    }

    /// The prefix bits, padded with zeros to a full Id.
    pub fn bits(&self) -> Id {
        self.bits
    }

    /// Whether `id` starts with this prefix.
    pub fn contains(&self, id: &Id) -> bool {
        self.bits.common_prefix_bits(id) >= self.len_bits()
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = (0..self.len_bits()).map(|i| if self.bits.bit(i) { '1' } else { '0' }).collect();
        write!(f, "{shown}/{}", self.len_bits)
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xF)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_most_significant_first() {
        let id = Id::from_u64(0x8000_0000_0000_0001);
        assert!(id.bit(0));
        assert!(!id.bit(1));
        assert!(id.bit(63));
        assert!(!id.bit(64));
    }

    #[test]
    fn common_prefix_counts_equal_leading_bits() {
        let a = Id::from_u64(0b1010 << 60);
        let b = Id::from_u64(0b1011 << 60);
        assert_eq!(a.common_prefix_bits(&b), 3);
        assert_eq!(a.common_prefix_bits(&a), ID_BITS);
    }

    #[test]
    fn prefix_clears_trailing_bits_and_matches_members() {
        let id = Id::from_u64(0xABCD << 48);
        let prefix = Prefix::new(id, 12);
        assert_eq!(prefix, Prefix::new(Id::from_u64(0xABC0 << 48), 12));
        assert!(prefix.contains(&id));
        assert!(!prefix.contains(&Id::from_u64(0xABD0 << 48)));
        assert_eq!(Prefix::ROOT.len_bits(), 0);
        assert!(Prefix::ROOT.contains(&id));
    }

    #[test]
    fn order_is_lexicographic_byte_order() {
        let ids: Vec<Id> = (0..200).map(Id::spread).chain([Id::ZERO, Id([0xFF; 20])]).collect();
        for a in &ids {
            for b in &ids {
                assert_eq!(a.cmp(b), a.0.cmp(&b.0), "{a:?} vs {b:?}");
            }
        }
        let mut low_differs = Id::ZERO;
        low_differs.0[19] = 1;
        assert!(Id::ZERO < low_differs);
    }

    #[test]
    fn hex_is_lower_case_and_full_length() {
        assert_eq!(Id::from_u64(0xAB).to_hex().len(), 40);
        assert!(Id::from_u64(0xAB).to_hex().starts_with("00000000000000ab"));
    }
}
