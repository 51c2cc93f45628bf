//! Fast paths for the tree's hashes, bit-for-bit equal to [`leaf_hash`](super::leaf_hash) and
//! [`branch_hash`](super::branch_hash) (tests compare them on random inputs).
//!
//! Hashing is a large part of the cost of a seal, so the tree does not hash a branch when it
//! plans it: the seal queues the branch's message (`queue.rs`) and, once the seal's structure is
//! known, hashes the queue level by level, up to 16 messages at a time with BLAKE3's SIMD
//! `hash_many` (AVX-512 on this project's machines): a branch message is exactly 128 bytes —
//! two whole BLAKE3 blocks (SPEC §4.3) — so `hash_many` hashes the whole message of 16
//! branches of one level at once, finalisation included.
//!
//! This uses `blake3::platform`, which blake3 exports but marks undocumented and unstable; the
//! version is pinned exactly in the workspace manifest and `hashes_match_the_reference_
//! definition` fails if an upgrade ever changes its behaviour (docs/decisions.md D-004).

use blake3::platform::Platform;
use blake3::{BLOCK_LEN, IncrementCounter};

use crate::crypto::{Domain, Hash32};
use crate::id::{ID_BYTES, Id};

use super::account::{ACCOUNT_BYTES, Account, SUMMARY_BYTES, Summary};

/// BLAKE3's initialisation vector (the BLAKE3 specification, §2.2).
const IV: [u32; 8] =
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19];
/// BLAKE3 block flags (the BLAKE3 specification, Table 3).
const CHUNK_START: u8 = 1 << 0;
const CHUNK_END: u8 = 1 << 1;
const ROOT: u8 = 1 << 3;

const LEAF_MESSAGE_BYTES: usize = 1 + ID_BYTES + ACCOUNT_BYTES;
/// `0x01 ‖ bit ‖ left ‖ right ‖ summary ‖ zeros`: two BLAKE3 blocks (SPEC §4.3).
pub(crate) const BRANCH_MESSAGE_BYTES: usize = 2 * BLOCK_LEN;
const LEFT_AT: usize = 2;
const RIGHT_AT: usize = 34;
const SUMMARY_AT: usize = 66;
const PADDING_AT: usize = SUMMARY_AT + SUMMARY_BYTES;
const _: () = assert!(PADDING_AT <= BRANCH_MESSAGE_BYTES, "the summary fits the two blocks");

/// Messages hashed together by one `hash_many` call (the AVX-512 lane count).
pub(crate) const SIMD_LANES: usize = 16;

/// The leaf message `0x00 ‖ id ‖ account`.
pub(crate) fn leaf_message(id: &Id, account: &Account) -> [u8; LEAF_MESSAGE_BYTES] {
    let mut message = [0u8; LEAF_MESSAGE_BYTES];
    message[0] = Domain::Leaf as u8;
    message[1..1 + ID_BYTES].copy_from_slice(&id.0);
    let account_bytes: &mut [u8; ACCOUNT_BYTES] =
        (&mut message[1 + ID_BYTES..]).try_into().expect("slice length is ACCOUNT_BYTES");
    account.encode(account_bytes);
    message
}

/// The branch message `0x01 ‖ bit ‖ left ‖ right ‖ summary`, zero-padded to 128 bytes.
pub(crate) fn branch_message(
    bit: u8,
    left: &Hash32,
    right: &Hash32,
    summary: &Summary,
) -> [u8; BRANCH_MESSAGE_BYTES] {
    let mut message = [0u8; BRANCH_MESSAGE_BYTES];
    message[0] = Domain::Branch as u8;
    message[1] = bit;
    message[LEFT_AT..RIGHT_AT].copy_from_slice(&left.0);
    message[RIGHT_AT..SUMMARY_AT].copy_from_slice(&right.0);
    let summary_bytes: &mut [u8; SUMMARY_BYTES] =
        (&mut message[SUMMARY_AT..PADDING_AT]).try_into().expect("slice length is SUMMARY_BYTES");
    summary.encode(summary_bytes);
    message
}

/// The leaf hash with one direct compression (a leaf message fits in one block).
pub(crate) fn fast_leaf_hash(platform: &Platform, id: &Id, account: &Account) -> Hash32 {
    let message = leaf_message(id, account);
    let mut block = [0u8; BLOCK_LEN];
    block[..LEAF_MESSAGE_BYTES].copy_from_slice(&message);
    let mut cv = IV;
    platform.compress_in_place(&mut cv, &block, LEAF_MESSAGE_BYTES as u8, 0, CHUNK_START | CHUNK_END | ROOT);
    Hash32(blake3::platform::le_bytes_from_words_32(&cv))
}

/// The branch hash with two direct compressions (one proof step: no hasher to set up, the
/// message already two whole blocks).
pub(crate) fn fast_branch_hash(platform: &Platform, message: &[u8; BRANCH_MESSAGE_BYTES]) -> Hash32 {
    let (first, second) = message.split_at(BLOCK_LEN);
    let mut cv = IV;
    let block = |bytes: &[u8]| -> [u8; BLOCK_LEN] { bytes.try_into().expect("one block") };
    platform.compress_in_place(&mut cv, &block(first), BLOCK_LEN as u8, 0, CHUNK_START);
    platform.compress_in_place(&mut cv, &block(second), BLOCK_LEN as u8, 0, CHUNK_END | ROOT);
    Hash32(blake3::platform::le_bytes_from_words_32(&cv))
}

/// BLAKE3 of up to 16 branch messages, each two whole blocks, at once with SIMD: the first
/// block flagged as a chunk's start, the second as its end and the root, as `blake3::hash` of
/// a 128-byte input does. `out[i]` receives the hash of `messages[i]`.
pub(crate) fn hash_branch_lanes(
    platform: &Platform,
    messages: &[&[u8; BRANCH_MESSAGE_BYTES]],
    out: &mut [Hash32],
) {
    assert!(messages.len() <= SIMD_LANES && out.len() >= messages.len());
    let mut hashes = [0u8; SIMD_LANES * 32];
    platform.hash_many(messages, &IV, 0, IncrementCounter::No, 0, CHUNK_START, CHUNK_END | ROOT, &mut hashes);
    for (hash, bytes) in out.iter_mut().zip(hashes.chunks_exact(32)).take(messages.len()) {
        *hash = Hash32(bytes.try_into().expect("32 bytes"));
    }
}

/// The summary encoded in a branch message.
pub(crate) fn summary_of_message(message: &[u8; BRANCH_MESSAGE_BYTES]) -> Summary {
    let bytes: &[u8; SUMMARY_BYTES] =
        message[SUMMARY_AT..PADDING_AT].try_into().expect("slice length is SUMMARY_BYTES");
    Summary::decode(bytes)
}

/// Where a child's hash goes in its parent's branch message.
pub(crate) fn child_hash_offset(is_right: bool) -> usize {
    if is_right { RIGHT_AT } else { LEFT_AT }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smt::{branch_hash, leaf_hash};

    fn summary(seed: u64) -> Summary {
        // Large values too, so that every byte of every field reaches the hash.
        let n = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Summary { balance: n, frozen: n >> 3, pending_out: n >> 1, pending_in: n >> 2, accounts: seed }
    }

    #[test]
    fn hashes_match_the_reference_definition() {
        let platform = Platform::detect();
        for n in 0..200u64 {
            let account =
                Account { balance: n, frozen: n / 2, nonce: n * 3, pending_out: 1, pending_in: n % 5 };
            assert_eq!(
                fast_leaf_hash(&platform, &Id::spread(n), &account),
                leaf_hash(&Id::spread(n), &account)
            );
        }
        // 1 to 16 lanes at once.
        for lanes in 1..=SIMD_LANES {
            let messages: Vec<[u8; BRANCH_MESSAGE_BYTES]> = (0..lanes as u64)
                .map(|n| {
                    let (left, right) = (Hash32([n as u8; 32]), Hash32([n as u8 ^ 0xFF; 32]));
                    branch_message((n * 7 % 160) as u8, &left, &right, &summary(n))
                })
                .collect();
            let refs: Vec<&[u8; BRANCH_MESSAGE_BYTES]> = messages.iter().collect();
            let mut out = [Hash32::default(); SIMD_LANES];
            hash_branch_lanes(&platform, &refs, &mut out);
            for (n, hash) in out[..lanes].iter().enumerate() {
                let n = n as u64;
                let (left, right) = (Hash32([n as u8; 32]), Hash32([n as u8 ^ 0xFF; 32]));
                let reference = branch_hash((n * 7 % 160) as u8, &left, &right, &summary(n));
                assert_eq!(*hash, reference);
                assert_eq!(fast_branch_hash(&platform, &messages[n as usize]), reference);
            }
        }
    }
}
