//! New branches of one seal, planned first and written later.
//!
//! A seal decides the shape of the new version before it writes any branch: each new branch is
//! queued with its bit, its children, its key and summary, and its hash message with the hashes
//! of the children that already exist. [`BranchQueue::finish`] then hashes the queue level by
//! level (children before parents, up to 16 branches at a time with SIMD) and writes each branch
//! into the arena exactly once, with its final hash. Writing once matters: every write to a
//! recycled arena slot is a cache miss, and a separate "fill in the hash later" write would pay
//! it twice.

use crate::crypto::Hash32;
use crate::id::Id;

use super::account::Summary;
use super::hasher::{
    BRANCH_MESSAGE_BYTES, SIMD_LANES, branch_message, child_hash_offset, hash_branch_lanes,
    summary_of_message,
};
use super::store::{NodeRef, Store};

/// A subtree of the version being sealed: an existing (or newly written) node, or a queued
/// branch that will be written by [`BranchQueue::finish`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Sub {
    /// A node already in the arena.
    Ready(NodeRef),
    /// A queued branch, by queue index.
    Queued(u32),
}

/// A queued branch, without its hash message (kept apart: the message is 138 bytes and only
/// the hashing reads it, so the rest stays dense in cache).
#[derive(Clone, Debug)]
struct QueuedBranch {
    bit: u8,
    /// 1 + the height of the highest queued child: children are written before parents.
    height: u8,
    left: Sub,
    right: Sub,
    key: Id,
    /// Queue index of the parent and whether this is its right child, once a parent exists.
    parent: Option<(u32, bool)>,
    /// The arena slot, once written.
    node: Option<NodeRef>,
}

/// The queued branches of one seal. Kept by the tree between seals so that its buffers are
/// reused: fresh multi-megabyte buffers per seal cost a page fault per 4 KiB.
#[derive(Clone, Debug, Default)]
pub(crate) struct BranchQueue {
    queue: Vec<QueuedBranch>,
    /// `messages[i]` is the hash message of `queue[i]`; it also carries the branch's summary.
    messages: Vec<[u8; BRANCH_MESSAGE_BYTES]>,
    levels: Vec<Vec<u32>>,
}

/// Above this many entries the queue gives memory back after a seal (a bulk build queues one
/// branch per account; steady-state seals need far fewer).
const QUEUE_RETAINED: usize = 1 << 18;

impl BranchQueue {
    /// Key, hash (if known) and summary of a subtree.
    pub(crate) fn key_hash_summary(&self, store: &Store, sub: Sub) -> (Id, Option<Hash32>, Summary) {
        match sub {
            Sub::Ready(node) => {
                let (key, hash, summary) = store.key_hash_summary(node);
                (key, Some(hash), summary)
            }
            Sub::Queued(index) => {
                let summary = summary_of_message(&self.messages[index as usize]);
                (self.queue[index as usize].key, None, summary)
            }
        }
    }

    /// Queue a branch at `bit` over two non-empty subtrees that agree on the bits before `bit`
    /// and hold 0 (left) and 1 (right) at `bit`.
    pub(crate) fn push(&mut self, store: &Store, bit: u8, left: Sub, right: Sub) -> Sub {
        let (left_key, left_hash, left_summary) = self.key_hash_summary(store, left);
        let (right_key, right_hash, right_summary) = self.key_hash_summary(store, right);
        debug_assert!(!left_key.bit(usize::from(bit)) && right_key.bit(usize::from(bit)));
        debug_assert!(left_key.common_prefix_bits(&right_key) == usize::from(bit));
        let summary = left_summary
            .checked_add(&right_summary)
            // Invariant: every sum is bounded by the ledger's `Σbalance + Σpending_out`, which
            // the ledger keeps within u64 (it refuses a credit that would pass it, D-006).
            .expect("subtree summary overflow");
        let index = u32::try_from(self.queue.len()).expect("fewer than 2^32 new branches per seal");
        let message =
            branch_message(bit, &left_hash.unwrap_or_default(), &right_hash.unwrap_or_default(), &summary);
        let mut height = 1;
        for (child, is_right) in [(left, false), (right, true)] {
            if let Sub::Queued(child_index) = child {
                let queued = &mut self.queue[child_index as usize];
                queued.parent = Some((index, is_right));
                height = height.max(queued.height + 1);
            }
        }
        self.queue.push(QueuedBranch { bit, height, left, right, key: left_key, parent: None, node: None });
        self.messages.push(message);
        Sub::Queued(index)
    }

    /// Hash and write every queued branch; returns the arena node of `root` and empties the
    /// queue.
    pub(crate) fn finish(&mut self, store: &mut Store, root: Option<Sub>) -> Option<NodeRef> {
        self.sort_into_levels();
        let levels = std::mem::take(&mut self.levels);
        for level in &levels {
            for lanes in level.chunks(SIMD_LANES) {
                self.write_lanes(store, lanes);
            }
        }
        self.levels = levels;
        let root = root.map(|sub| self.resolve(sub));
        self.queue.clear();
        self.messages.clear();
        if self.queue.capacity() > QUEUE_RETAINED {
            self.queue.shrink_to(QUEUE_RETAINED);
            self.messages.shrink_to(QUEUE_RETAINED);
        }
        root
    }

    /// Hash up to 16 queued branches of one level, write them, and pass each hash up to its
    /// parent's message.
    fn write_lanes(&mut self, store: &mut Store, lanes: &[u32]) {
        static NO_MESSAGE: [u8; BRANCH_MESSAGE_BYTES] = [0; BRANCH_MESSAGE_BYTES];
        let mut messages = [&NO_MESSAGE; SIMD_LANES];
        for (message, &index) in messages.iter_mut().zip(lanes) {
            *message = &self.messages[index as usize];
        }
        let mut hashes = [Hash32::default(); SIMD_LANES];
        hash_branch_lanes(store.platform(), &messages[..lanes.len()], &mut hashes);
        for (&index, hash) in lanes.iter().zip(hashes) {
            let queued = &self.queue[index as usize];
            let (left, right) = (self.resolve(queued.left), self.resolve(queued.right));
            let summary = summary_of_message(&self.messages[index as usize]);
            let node = store.alloc_branch(queued.bit, left, right, queued.key, summary, hash);
            let parent = queued.parent;
            self.queue[index as usize].node = Some(node);
            if let Some((parent, is_right)) = parent {
                let at = child_hash_offset(is_right);
                self.messages[parent as usize][at..at + 32].copy_from_slice(&hash.0);
            }
        }
    }

    /// The arena node of a subtree whose branches are written.
    fn resolve(&self, sub: Sub) -> NodeRef {
        match sub {
            Sub::Ready(node) => node,
            // Invariant: levels are written lowest first, and a child is lower than its parent.
            Sub::Queued(index) => self.queue[index as usize].node.expect("child written before parent"),
        }
    }

    /// Group queue indices by height, lowest first, into `self.levels`.
    fn sort_into_levels(&mut self) {
        let highest = self.queue.iter().map(|q| usize::from(q.height)).max().unwrap_or(0);
        for level in &mut self.levels {
            level.clear();
        }
        if self.levels.len() < highest {
            self.levels.resize_with(highest, Vec::new);
        }
        for (index, queued) in self.queue.iter().enumerate() {
            self.levels[usize::from(queued.height) - 1].push(index as u32);
        }
    }
}
