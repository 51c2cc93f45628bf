//! The node arena behind the versioned tree.
//!
//! Nodes are immutable once written: a new version allocates new nodes for the changed paths
//! and points at the old ones everywhere else (structural sharing, SPEC §4.4). Nodes are
//! addressed by 32-bit indices instead of `Arc`s, which keeps a node small, needs no reference
//! counting on the hot path, and lets pruning free whole versions in O(changed nodes) using the
//! stale index kept by the tree (see `tree.rs`).

use std::num::NonZeroU32;

use crate::crypto::Hash32;
use crate::id::Id;

use super::account::{Account, Summary, branch_hash, leaf_hash};

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
    Branch {
        bit: u8,
        left: NodeRef,
        right: NodeRef,
        key: Id,
        summary: Summary,
        hash: Hash32,
    },
    /// A freed slot, waiting on the free list. Reading one is an arena bug.
    Vacant,
}

/// The arena: a vector of nodes plus a free list of pruned slots.
#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    nodes: Vec<Node>,
    free: Vec<NodeRef>,
}

impl Store {
    pub(crate) fn get(&self, node: NodeRef) -> &Node {
        &self.nodes[node.index()]
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

    pub(crate) fn new_leaf(&mut self, id: Id, account: Account) -> NodeRef {
        let hash = leaf_hash(&id, &account);
        self.alloc(Node::Leaf { id, account, hash })
    }

    /// A branch over `left` and `right`, which must be non-empty subtrees that agree on the
    /// bits before `bit` and hold 0 (left) and 1 (right) at `bit`.
    pub(crate) fn new_branch(&mut self, bit: u8, left: NodeRef, right: NodeRef) -> NodeRef {
        let (left_key, left_hash, left_summary) = self.key_hash_summary(left);
        let (right_key, right_hash, right_summary) = self.key_hash_summary(right);
        debug_assert!(!left_key.bit(usize::from(bit)) && right_key.bit(usize::from(bit)));
        debug_assert!(left_key.common_prefix_bits(&right_key) == usize::from(bit));
        let summary = left_summary
            .checked_add(&right_summary)
            // Invariant: sums of u64 fields over < 2^32 leaves cannot overflow u128.
            .expect("subtree summary overflow");
        let hash = branch_hash(bit, &left_hash, &right_hash, &summary);
        self.alloc(Node::Branch { bit, left, right, key: left_key, summary, hash })
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

    pub(crate) fn free(&mut self, node: NodeRef) {
        let slot = &mut self.nodes[node.index()];
        assert!(!matches!(slot, Node::Vacant), "double free of node {node:?}");
        *slot = Node::Vacant;
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
