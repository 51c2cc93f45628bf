//! The node arena behind the versioned tree.
//!
//! Nodes are immutable once written: a new version writes new nodes for the changed paths and
//! points at the old ones everywhere else (structural sharing, SPEC §4.4). Nodes are addressed
//! by 32-bit indices instead of `Arc`s, which keeps a node small, needs no reference counting on
//! the hot path, and lets pruning free whole versions in O(changed nodes) using the stale index
//! kept by the tree (see `tree.rs`).

use std::num::NonZeroU32;

use blake3::platform::Platform;

use crate::crypto::Hash32;
use crate::id::Id;

use super::account::{Account, Summary};
use super::hasher::fast_leaf_hash;

/// Index of a node in the arena (1-based so that `Option<NodeRef>` is four bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub(crate) struct NodeRef(NonZeroU32);

impl NodeRef {
    fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

/// One node of the path-compressed binary tree (SPEC §4.2).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    /// An account.
    Leaf { id: Id, account: Account, hash: Hash32 },
    /// A node with two non-empty subtrees that first differ at bit `bit`. `key` is one Id
    /// from the subtree (its leftmost), which gives the prefix every key below shares.
    Branch { bit: u8, left: NodeRef, right: NodeRef, key: Id, summary: Summary, hash: Hash32 },
    /// A freed slot, waiting on the free list (written in debug builds only, see `free`).
    Vacant,
}

/// The arena: a vector of nodes plus a free list of pruned slots.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    nodes: Vec<Node>,
    free: Vec<NodeRef>,
    platform: Platform,
}

impl Default for Store {
    fn default() -> Self {
        Store { nodes: Vec::new(), free: Vec::new(), platform: Platform::detect() }
    }
}

impl Store {
    pub(crate) fn get(&self, node: NodeRef) -> &Node {
        &self.nodes[node.index()]
    }

    /// The BLAKE3 implementation detected for this CPU.
    pub(crate) fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Number of live (non-vacant) nodes.
    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Bytes held by the arena, live or free (for memory reports).
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * std::mem::size_of::<NodeRef>()
    }

    pub(crate) fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional.saturating_sub(self.free.len()));
    }

    /// A new leaf, hashed at once (one compression).
    pub(crate) fn new_leaf(&mut self, id: Id, account: Account) -> NodeRef {
        let hash = fast_leaf_hash(&self.platform, &id, &account);
        self.alloc(Node::Leaf { id, account, hash })
    }

    /// Write a finished branch.
    pub(crate) fn alloc_branch(
        &mut self,
        bit: u8,
        left: NodeRef,
        right: NodeRef,
        key: Id,
        summary: Summary,
        hash: Hash32,
    ) -> NodeRef {
        self.alloc(Node::Branch { bit, left, right, key, summary, hash })
    }

    /// The representative key, hash and summary of a node.
    pub(crate) fn key_hash_summary(&self, node: NodeRef) -> (Id, Hash32, Summary) {
        match self.get(node) {
            Node::Leaf { id, account, hash } => (*id, *hash, account.summary()),
            Node::Branch { key, summary, hash, .. } => (*key, *hash, *summary),
            Node::Vacant => panic!("read of freed node {node:?}"),
        }
    }

    pub(crate) fn key(&self, node: NodeRef) -> Id {
        match self.get(node) {
            Node::Leaf { id, .. } => *id,
            Node::Branch { key, .. } => *key,
            Node::Vacant => panic!("read of freed node {node:?}"),
        }
    }

    /// Load `node`'s cache lines and return a byte of each. Loops that touch many independent
    /// nodes before working on them let the CPU overlap the cache misses, which a dependent
    /// walk down the tree cannot (see `merge.rs`).
    pub(crate) fn touch(&self, node: NodeRef) -> u8 {
        match self.get(node) {
            Node::Leaf { id, account, hash } => id.0[0] ^ account.balance as u8 ^ hash.0[31],
            Node::Branch { key, summary, hash, .. } => {
                key.0[0] ^ summary.balance as u8 ^ summary.accounts as u8 ^ hash.0[0] ^ hash.0[31]
            }
            Node::Vacant => 0,
        }
    }

    /// Return `node`'s slot to the free list. Debug builds overwrite the slot so that a read
    /// of a freed node panics; release builds leave it, because that write is a cache miss per
    /// freed node and the stale-node bookkeeping that decides what to free is covered by the
    /// debug-built property tests.
    pub(crate) fn free(&mut self, node: NodeRef) {
        if cfg!(debug_assertions) {
            let slot = &mut self.nodes[node.index()];
            assert!(!matches!(slot, Node::Vacant), "double free of node {node:?}");
            *slot = Node::Vacant;
        }
        self.free.push(node);
    }

    fn alloc(&mut self, node: Node) -> NodeRef {
        if let Some(slot) = self.free.pop() {
            self.nodes[slot.index()] = node;
            return slot;
        }
        self.nodes.push(node);
        let one_based = u32::try_from(self.nodes.len()).expect("more than 2^32 - 1 tree nodes");
        // Invariant: the length after a push is at least 1.
        NodeRef(NonZeroU32::new(one_based).expect("length after push is non-zero"))
    }
}
