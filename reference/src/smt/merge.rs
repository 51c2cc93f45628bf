//! Applying one seal's sorted changes to the tree (SPEC §4.2, §4.4).
//!
//! The natural way to apply sorted changes is a recursion that splits them at each branch. It
//! is correct, and it is what this module computes, but at a million accounts it spends most of
//! its time waiting: each step down the tree is a cache miss (≈ 280 ns on this project's
//! machines) that depends on the one before. So the recursion is unrolled into two passes over
//! an explicit task list, in the spirit of a breadth-first traversal:
//!
//! 1. **plan**, root first: each task reads its node and splits its changes between the
//!    children, appending a task per child that has changes. Tasks next to each other in the
//!    list are independent, so the pass first *touches* a window of upcoming tasks' nodes in a
//!    tight loop — the CPU overlaps those misses — and then plans them from cache.
//! 2. **combine**, in reverse (children before parents): each task joins its children's results
//!    into a new branch, queued in the [`BranchQueue`], or keeps its node if nothing below it
//!    changed. The untouched sibling subtrees whose hash and summary a new branch needs are
//!    again touched a window at a time.
//!
//! Subtrees that are new (keys not in the tree) are built directly by [`Merger::build`].

use std::hint::black_box;

use crate::id::{ID_BITS, Id};

use super::account::Account;
use super::queue::{BranchQueue, Sub};
use super::store::{Node, NodeRef, Store};
use super::tree::Change;

/// Parent index of the root task.
const ROOT: u32 = u32::MAX;
/// How many tasks are touched ahead of being worked on.
const TOUCH_WINDOW: usize = 64;
/// Keys per chunk when a tree is built from nothing (its queue then fits in the L2 cache).
const BUILD_CHUNK: usize = 2048;

/// What a task will do once its children are done.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// Not planned yet.
    Unplanned,
    /// The result is already delivered to the parent.
    Done,
    /// The task's node is a branch at `bit` over `left` and `right`; its changes were split
    /// between them.
    Branch { bit: u8, left: NodeRef, right: NodeRef },
    /// Some changes leave the task's subtree at `bit`, above its node: a new branch at `bit`
    /// joins the (merged) node and a newly built sibling.
    Split { bit: u8 },
}

/// One subtree to merge: an existing node and the changes whose keys fall under it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Task {
    node: NodeRef,
    start: u32,
    end: u32,
    parent: u32,
    is_right: bool,
    plan: Plan,
    /// The children's results: the left and right subtree of the new version (`None` = empty).
    slots: [Option<Sub>; 2],
}

/// The state of one seal's merge.
pub(crate) struct Merger<'a> {
    pub(crate) store: &'a mut Store,
    pub(crate) queue: &'a mut BranchQueue,
    /// Nodes of the previous version that the new version no longer contains.
    pub(crate) replaced: &'a mut Vec<NodeRef>,
    /// Scratch task list (reused between seals).
    pub(crate) tasks: &'a mut Vec<Task>,
    /// The changes, sorted by key, no key repeated.
    pub(crate) changes: &'a [Change],
}

impl<'a> Merger<'a> {
    /// The root of the new version: `root` with every change applied. Unchanged subtrees are
    /// kept as they are, so unchanged values produce no new nodes.
    pub(crate) fn run(mut self, root: Option<NodeRef>) -> Option<Sub> {
        let all = self.changes;
        let Some(root) = root else { return self.build_in_chunks(all) };
        if all.is_empty() {
            return Some(Sub::Ready(root));
        }
        self.tasks.clear();
        let end = u32::try_from(all.len()).expect("fewer than 2^32 changes per seal");
        self.tasks.push(Task {
            node: root,
            start: 0,
            end,
            parent: ROOT,
            is_right: false,
            plan: Plan::Unplanned,
            slots: [None, None],
        });
        let mut result = None;
        self.plan_all(&mut result);
        self.combine_all(&mut result);
        result
    }

    fn plan_all(&mut self, root_result: &mut Option<Sub>) {
        let mut next = 0;
        while next < self.tasks.len() {
            let window_end = (next + TOUCH_WINDOW).min(self.tasks.len());
            let touched =
                self.tasks[next..window_end].iter().fold(0u8, |acc, t| acc ^ self.store.touch(t.node));
            black_box(touched);
            for index in next..window_end {
                self.plan(index, root_result);
            }
            next = window_end;
        }
    }

    fn combine_all(&mut self, root_result: &mut Option<Sub>) {
        let mut window_end = self.tasks.len();
        while window_end > 0 {
            let window_start = window_end.saturating_sub(TOUCH_WINDOW);
            let touched = self.tasks[window_start..window_end].iter().flat_map(|task| task.slots).fold(
                0u8,
                |acc, slot| match slot {
                    Some(Sub::Ready(node)) => acc ^ self.store.touch(node),
                    _ => acc,
                },
            );
            black_box(touched);
            for index in (window_start..window_end).rev() {
                self.combine(index, root_result);
            }
            window_end = window_start;
        }
    }

    fn changes_of(&self, task: &Task) -> &'a [Change] {
        let all: &'a [Change] = self.changes;
        &all[task.start as usize..task.end as usize]
    }

    /// Hand a finished subtree to the task's parent (or out, for the root).
    fn deliver(&mut self, parent: u32, is_right: bool, result: Option<Sub>, root_result: &mut Option<Sub>) {
        if parent == ROOT {
            *root_result = result;
        } else {
            self.tasks[parent as usize].slots[usize::from(is_right)] = result;
        }
    }

    fn plan(&mut self, index: usize, root_result: &mut Option<Sub>) {
        let task = self.tasks[index];
        let plan = match *self.store.get(task.node) {
            Node::Leaf { id, account, .. } => {
                let result = self.merge_leaf(task.node, id, account, self.changes_of(&task));
                self.deliver(task.parent, task.is_right, result, root_result);
                Plan::Done
            }
            Node::Branch { bit, left, right, key, .. } => self.plan_branch(index, bit, (left, right), key),
            Node::Vacant => panic!("merge reached a freed node"),
        };
        self.tasks[index].plan = plan;
    }

    fn plan_branch(&mut self, index: usize, bit: u8, (left, right): (NodeRef, NodeRef), key: Id) -> Plan {
        let task = self.tasks[index];
        let changes = self.changes_of(&task);
        // Keys in sorted order share the fewest leading bits with `key` at the ends of the run.
        let first = &changes[0].0;
        let last = &changes[changes.len() - 1].0;
        let shared = key.common_prefix_bits(first).min(key.common_prefix_bits(last));
        if shared < usize::from(bit) {
            return self.plan_split(index, key, shared);
        }
        let split = task.start + changes.partition_point(|change| !change.0.bit(usize::from(bit))) as u32;
        self.child(index, left, (task.start, split), false);
        self.child(index, right, (split, task.end), true);
        Plan::Branch { bit, left, right }
    }

    /// Some changes leave the task's subtree (whose keys share `key`'s first bits) at bit
    /// `bit_index`: those on the node's side merge into it, the rest build a new sibling.
    fn plan_split(&mut self, index: usize, key: Id, bit_index: usize) -> Plan {
        let task = self.tasks[index];
        let changes = self.changes_of(&task);
        let split = task.start + changes.partition_point(|change| !change.0.bit(bit_index)) as u32;
        let (zeros, ones) = ((task.start, split), (split, task.end));
        let node_is_right = key.bit(bit_index);
        let (node_side, other_side) = if node_is_right { (ones, zeros) } else { (zeros, ones) };
        let all: &'a [Change] = self.changes;
        let other = self.build(&all[other_side.0 as usize..other_side.1 as usize], None);
        self.tasks[index].slots[usize::from(!node_is_right)] = other;
        self.child(index, task.node, node_side, node_is_right);
        Plan::Split { bit: u8::try_from(bit_index).expect("bit index below 160") }
    }

    /// Give the task's child `node` the changes in `start..end`: an unchanged child goes
    /// straight into the slot, a changed one becomes a task.
    fn child(&mut self, parent: usize, node: NodeRef, (start, end): (u32, u32), is_right: bool) {
        if start == end {
            self.tasks[parent].slots[usize::from(is_right)] = Some(Sub::Ready(node));
            return;
        }
        let parent = u32::try_from(parent).expect("fewer than 2^32 tasks");
        self.tasks.push(Task {
            node,
            start,
            end,
            parent,
            is_right,
            plan: Plan::Unplanned,
            slots: [None, None],
        });
    }

    fn combine(&mut self, index: usize, root_result: &mut Option<Sub>) {
        let task = self.tasks[index];
        let [left_result, right_result] = task.slots;
        let result = match task.plan {
            Plan::Done => return,
            Plan::Branch { bit, left, right } => {
                if task.slots == [Some(Sub::Ready(left)), Some(Sub::Ready(right))] {
                    Some(Sub::Ready(task.node))
                } else {
                    self.replaced.push(task.node);
                    self.join(bit, left_result, right_result)
                }
            }
            Plan::Split { bit } => self.join(bit, left_result, right_result),
            Plan::Unplanned => panic!("task {index} combined before it was planned"),
        };
        self.deliver(task.parent, task.is_right, result, root_result);
    }

    fn merge_leaf(&mut self, leaf: NodeRef, id: Id, account: Account, changes: &[Change]) -> Option<Sub> {
        match changes.binary_search_by(|change| change.0.cmp(&id)) {
            Ok(index) if changes.len() == 1 => match changes[index].1 {
                Some(new) if new == account => Some(Sub::Ready(leaf)),
                Some(new) => {
                    self.replaced.push(leaf);
                    Some(Sub::Ready(self.store.new_leaf(id, new)))
                }
                None => {
                    self.replaced.push(leaf);
                    None
                }
            },
            Ok(index) => {
                // The leaf's own key is among several changes; an equal value keeps the node.
                if changes[index].1 == Some(account) {
                    let others: Vec<Change> = changes.iter().filter(|c| c.0 != id).copied().collect();
                    self.build(&others, Some((id, leaf)))
                } else {
                    self.replaced.push(leaf);
                    self.build(changes, None)
                }
            }
            Err(_) => self.build(changes, Some((id, leaf))),
        }
    }

    /// A branch at `bit` over the two sides; a side that became empty collapses the branch
    /// into the other side (path compression, SPEC §4.2).
    fn join(&mut self, bit: u8, left: Option<Sub>, right: Option<Sub>) -> Option<Sub> {
        match (left, right) {
            (Some(left), Some(right)) => Some(self.queue.push(self.store, bit, left, right)),
            (side, None) | (None, side) => side,
        }
    }

    /// [`build`](Self::build) for a tree built from nothing, written out a chunk of at most
    /// [`BUILD_CHUNK`] keys at a time: each chunk's branches are queued, hashed and written
    /// while they are still in cache, and the queue stays small instead of holding a branch per
    /// key. Only valid when no other queued branch is outstanding (the queue is emptied after
    /// each chunk), which holds when the whole tree is new.
    fn build_in_chunks(&mut self, changes: &[Change]) -> Option<Sub> {
        if changes.len() <= BUILD_CHUNK {
            let built = self.build(changes, None);
            return self.queue.finish(self.store, built).map(Sub::Ready);
        }
        let written: Vec<Change>;
        let changes = if changes.iter().any(|change| change.1.is_none()) {
            written = changes.iter().filter(|c| c.1.is_some()).copied().collect();
            &written[..]
        } else {
            changes
        };
        let (lowest, highest) = (changes[0].0, changes[changes.len() - 1].0);
        let bit_index = lowest.common_prefix_bits(&highest);
        let split = changes.partition_point(|change| !change.0.bit(bit_index));
        let left = self.build_in_chunks(&changes[..split]);
        let right = self.build_in_chunks(&changes[split..]);
        let joined = self.join(u8::try_from(bit_index).expect("bit index below 160"), left, right);
        self.queue.finish(self.store, joined).map(Sub::Ready)
    }

    /// A new subtree holding the written values of `changes` (deletions of absent keys are
    /// dropped) plus an optional `existing` leaf that `changes` does not mention.
    fn build(&mut self, changes: &[Change], existing: Option<(Id, NodeRef)>) -> Option<Sub> {
        if changes.iter().any(|change| change.1.is_none()) {
            let written: Vec<Change> = changes.iter().filter(|c| c.1.is_some()).copied().collect();
            return self.build_written(&written, existing);
        }
        self.build_written(changes, existing)
    }

    /// [`build`](Self::build) for changes that are all writes.
    fn build_written(&mut self, changes: &[Change], existing: Option<(Id, NodeRef)>) -> Option<Sub> {
        match (changes, existing) {
            ([], None) => None,
            ([], Some((_, leaf))) => Some(Sub::Ready(leaf)),
            ([(id, Some(account))], None) => Some(Sub::Ready(self.store.new_leaf(*id, *account))),
            _ => {
                let (lowest, highest) = key_range(changes, existing);
                let bit_index = lowest.common_prefix_bits(&highest);
                debug_assert!(bit_index < ID_BITS, "two equal keys in one build");
                let split = changes.partition_point(|change| !change.0.bit(bit_index));
                let (existing_left, existing_right) = match existing {
                    Some((id, _)) if id.bit(bit_index) => (None, existing),
                    _ => (existing, None),
                };
                let left = self.build_written(&changes[..split], existing_left);
                let right = self.build_written(&changes[split..], existing_right);
                let bit = u8::try_from(bit_index).expect("bit index below 160");
                self.join(bit, left, right)
            }
        }
    }
}

/// The lowest and highest key among sorted `changes` and `existing` (at least two keys).
fn key_range(changes: &[Change], existing: Option<(Id, NodeRef)>) -> (Id, Id) {
    let keys = changes.first().map(|c| c.0).into_iter().chain(changes.last().map(|c| c.0));
    let keys = keys.chain(existing.map(|(id, _)| id));
    let lowest = keys.clone().min();
    let highest = keys.max();
    // Invariant: the caller has at least two keys.
    (lowest.expect("keys"), highest.expect("keys"))
}
