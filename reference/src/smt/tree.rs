//! The versioned, path-compressed binary sparse Merkle tree (SPEC §4).

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use crate::crypto::Hash32;
use crate::id::{Id, Prefix};

use super::account::{Account, Summary, empty_hash};
use super::merge::{Merger, Task};
use super::proof::{Proof, ProofStep, Terminal};
use super::queue::BranchQueue;
use super::store::{Node, NodeRef, Store};

/// A sealed version of the tree: the ledger's time sequence `ts` (SPEC §4.4, §5.1).
pub type Version = u64;

/// A staged change to one key: `Some(account)` writes it, `None` deletes it.
pub type Change = (Id, Option<Account>);

/// The commitment to a subtree: its hash and its summary (SPEC §4.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Synopsis {
    /// Subtree hash (the empty hash for an empty subtree).
    pub hash: Hash32,
    /// Subtree sums.
    pub summary: Summary,
}

impl Synopsis {
    /// The synopsis of an empty subtree.
    pub fn empty() -> Synopsis {
        Synopsis { hash: empty_hash(), summary: Summary::ZERO }
    }
}

/// The root synopsis of one sealed version: what a verifier holds to check proofs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RootSynopsis {
    /// The version.
    pub version: Version,
    /// Root hash and summary of that version.
    pub synopsis: Synopsis,
}

/// Reads of a version the tree does not hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Error)]
#[non_exhaustive]
pub enum SmtError {
    /// The version was never sealed, or has been pruned.
    #[error("version {requested} is not held (held: {oldest}..={latest})")]
    UnknownVersion {
        /// The version asked for.
        requested: Version,
        /// Oldest version still held.
        oldest: Version,
        /// Latest sealed version.
        latest: Version,
    },
}

/// What one seal did, for metrics and tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SealStats {
    /// The version after the seal (unchanged if nothing changed).
    pub version: Version,
    /// Whether a new version was created.
    pub advanced: bool,
    /// Nodes written (each hashed exactly once).
    pub nodes_written: usize,
}

/// A versioned, path-compressed binary sparse Merkle tree over 160-bit keys (SPEC §4).
///
/// Changes are staged with [`insert`](Self::insert) / [`remove`](Self::remove) (or passed as a
/// batch to [`apply_batch`](Self::apply_batch)) and become a new immutable version at
/// [`seal`](Self::seal). Sealing applies the staged changes in key order in one pass, so a branch
/// shared by many changed paths is rebuilt and hashed once per seal, not once per change. Every
/// sealed version can be read and proved until it is pruned.
#[derive(Clone, Debug)]
pub struct VersionedSmt {
    store: Store,
    /// Root of every held version (`None` = empty tree).
    roots: BTreeMap<Version, Option<NodeRef>>,
    /// Nodes replaced by each seal, oldest first: `(first version without the node, node)`.
    /// A node is reachable only from versions before that one, so it can be freed once no
    /// such version is held.
    stale: VecDeque<(Version, NodeRef)>,
    staged: BTreeMap<Id, Option<Account>>,
    latest: Version,
    versions_retained: Option<u64>,
    /// Scratch space reused by every seal.
    queue: BranchQueue,
    tasks: Vec<Task>,
}

impl Default for VersionedSmt {
    fn default() -> Self {
        VersionedSmt::new()
    }
}

impl VersionedSmt {
    /// An empty tree; version 0 is the sealed empty tree.
    pub fn new() -> VersionedSmt {
        VersionedSmt {
            store: Store::default(),
            roots: BTreeMap::from([(0, None)]),
            stale: VecDeque::new(),
            staged: BTreeMap::new(),
            latest: 0,
            versions_retained: None,
            queue: BranchQueue::default(),
            tasks: Vec::new(),
        }
    }

    /// Keep at most `versions` sealed versions (SPEC §15 `versions_retained`); older ones are
    /// pruned at each seal. `0` is treated as 1: the latest version is always held.
    pub fn with_versions_retained(mut self, versions: u64) -> VersionedSmt {
        self.versions_retained = Some(versions.max(1));
        self.prune_to_retention();
        self
    }

    // ----- mutators: staging and sealing ------------------------------------------------

    /// Stage `account` under `id` for the next seal.
    pub fn insert(&mut self, id: Id, account: Account) {
        self.staged.insert(id, Some(account));
    }

    /// Stage the removal of `id` for the next seal (removing an absent key does nothing).
    pub fn remove(&mut self, id: Id) {
        self.staged.insert(id, None);
    }

    /// Drop all staged changes.
    pub fn discard_staged(&mut self) {
        self.staged.clear();
    }

    /// Apply the staged changes as one new version. If they change nothing, no version is
    /// created and the latest version is returned (the time sequence advances only on change,
    /// SPEC §5.1).
    pub fn seal(&mut self) -> Version {
        self.seal_with_stats().version
    }

    /// [`seal`](Self::seal), also reporting how many nodes were written.
    pub fn seal_with_stats(&mut self) -> SealStats {
        if self.staged.is_empty() {
            // Nothing changed: the common case for a quiet group, sealed every pulse.
            return SealStats { version: self.latest, advanced: false, nodes_written: 0 };
        }
        let staged = std::mem::take(&mut self.staged);
        let changes: Vec<Change> = staged.into_iter().collect();
        self.seal_sorted(&changes)
    }

    /// Apply `changes` (any order; for a repeated key the last change wins) together with
    /// anything already staged, as one new version. The batch path: one sort, then one pass.
    pub fn apply_batch(&mut self, changes: impl IntoIterator<Item = Change>) -> SealStats {
        let staged = std::mem::take(&mut self.staged);
        let mut batch: Vec<Change> = if staged.is_empty() {
            changes.into_iter().collect()
        } else {
            staged.into_iter().chain(changes).collect()
        };
        // A stable sort keeps equal keys in arrival order; keeping the last of each run
        // makes the latest change win.
        batch.sort_by_key(|change| change.0);
        keep_last_of_each_key(&mut batch);
        self.seal_sorted(&batch)
    }

    /// Bulk-build: the same result as inserting every account and sealing once.
    pub fn from_accounts(accounts: impl IntoIterator<Item = (Id, Account)>) -> VersionedSmt {
        let mut tree = VersionedSmt::new();
        let changes: Vec<Change> = accounts.into_iter().map(|(id, a)| (id, Some(a))).collect();
        tree.store.reserve(changes.len() * 2);
        tree.apply_batch(changes);
        tree
    }

    /// Free every version older than `oldest_kept` (the latest version is always kept).
    /// Returns the number of nodes freed.
    pub fn prune_before(&mut self, oldest_kept: Version) -> usize {
        let oldest_kept = oldest_kept.min(self.latest);
        self.roots = self.roots.split_off(&oldest_kept);
        let mut freed = 0;
        while let Some(&(stale_since, node)) = self.stale.front() {
            if stale_since > oldest_kept {
                break;
            }
            self.stale.pop_front();
            self.store.free(node);
            freed += 1;
        }
        freed
    }

    // ----- getters ----------------------------------------------------------------------

    /// The latest sealed version.
    pub fn latest_version(&self) -> Version {
        self.latest
    }

    /// The oldest version still held.
    pub fn oldest_version(&self) -> Version {
        // Invariant: the latest version is never pruned, so `roots` is never empty.
        *self.roots.keys().next().expect("the latest version is always held")
    }

    /// Whether changes are staged for the next seal.
    pub fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// The account under `id` in `version`.
    pub fn get(&self, version: Version, id: &Id) -> Result<Option<Account>, SmtError> {
        let root = self.root_node(version)?;
        Ok(self.find_leaf(root, id).and_then(|(leaf_id, account)| (leaf_id == *id).then_some(account)))
    }

    /// The account under `id` in the latest sealed version.
    pub fn get_latest(&self, id: &Id) -> Option<Account> {
        // Invariant: the latest version is always held.
        self.get(self.latest, id).expect("latest version is held")
    }

    /// The account under `id` as the next seal will see it: staged changes first, then the
    /// latest sealed version.
    pub fn get_working(&self, id: &Id) -> Option<Account> {
        match self.staged.get(id) {
            Some(staged) => *staged,
            None => self.get_latest(id),
        }
    }

    /// Root hash and summary of `version`.
    pub fn root(&self, version: Version) -> Result<RootSynopsis, SmtError> {
        let root = self.root_node(version)?;
        Ok(RootSynopsis { version, synopsis: self.synopsis_of(root) })
    }

    /// The synopsis of the subtree of all keys starting with `prefix` in `version`
    /// (SPEC §4.5): its hash and summary, or the empty synopsis if no key has that prefix.
    pub fn synopsis(&self, version: Version, prefix: &Prefix) -> Result<Synopsis, SmtError> {
        let mut node = self.root_node(version)?;
        while let Some(current) = node {
            match self.store.get(current) {
                Node::Branch { bit, left, right, .. } if usize::from(*bit) < prefix.len_bits() => {
                    node = Some(if prefix.bits().bit(usize::from(*bit)) { *right } else { *left });
                }
                _ => break,
            }
        }
        Ok(match node {
            Some(found) if prefix.contains(&self.store.key(found)) => self.synopsis_of(Some(found)),
            _ => Synopsis::empty(),
        })
    }

    /// An inclusion proof for `id` if it is in `version`, else a non-inclusion proof
    /// (SPEC §4.6).
    pub fn prove(&self, version: Version, id: &Id) -> Result<Proof, SmtError> {
        let mut node = self.root_node(version)?;
        let mut steps = Vec::new();
        let terminal = loop {
            let Some(current) = node else { break Terminal::Empty };
            match self.store.get(current) {
                Node::Leaf { id: leaf_id, account, .. } => {
                    break Terminal::Leaf { id: *leaf_id, account: *account };
                }
                Node::Branch { bit, left, right, .. } => {
                    let (next, sibling) =
                        if id.bit(usize::from(*bit)) { (*right, *left) } else { (*left, *right) };
                    let (_, sibling_hash, sibling_summary) = self.store.key_hash_summary(sibling);
                    steps.push(ProofStep { bit: *bit, sibling_hash, sibling_summary });
                    node = Some(next);
                }
                Node::Vacant => panic!("held version {version} reaches a freed node"),
            }
        };
        Ok(Proof { version, key: *id, steps, terminal })
    }

    /// All accounts of `version` in key order.
    pub fn iter(&self, version: Version) -> Result<impl Iterator<Item = (Id, Account)> + '_, SmtError> {
        let root = self.root_node(version)?;
        Ok(Leaves { store: &self.store, stack: root.into_iter().collect() })
    }

    /// Number of accounts in `version`.
    pub fn len(&self, version: Version) -> Result<u64, SmtError> {
        Ok(self.root(version)?.synopsis.summary.accounts)
    }

    /// Whether `version` holds no account.
    pub fn is_empty(&self, version: Version) -> Result<bool, SmtError> {
        Ok(self.len(version)? == 0)
    }

    /// Live tree nodes across all held versions, and the bytes the arena holds.
    pub fn memory(&self) -> (usize, usize) {
        (self.store.live_nodes(), self.store.allocated_bytes())
    }

    /// A human-readable dump of `version`'s structure (for snapshot tests and debugging).
    pub fn dump(&self, version: Version) -> Result<String, SmtError> {
        let root = self.root_node(version)?;
        let mut out = format!("version {version}\n");
        match root {
            None => out.push_str("(empty)\n"),
            Some(node) => self.dump_node(node, 0, &mut out),
        }
        Ok(out)
    }

    // ----- internals --------------------------------------------------------------------

    fn root_node(&self, version: Version) -> Result<Option<NodeRef>, SmtError> {
        self.roots.get(&version).copied().ok_or(SmtError::UnknownVersion {
            requested: version,
            oldest: self.oldest_version(),
            latest: self.latest,
        })
    }

    fn synopsis_of(&self, node: Option<NodeRef>) -> Synopsis {
        match node {
            None => Synopsis::empty(),
            Some(node) => {
                let (_, hash, summary) = self.store.key_hash_summary(node);
                Synopsis { hash, summary }
            }
        }
    }

    /// The leaf reached by following `id`'s bits (it holds `id` iff `id` is present).
    fn find_leaf(&self, mut node: Option<NodeRef>, id: &Id) -> Option<(Id, Account)> {
        while let Some(current) = node {
            match self.store.get(current) {
                Node::Leaf { id: leaf_id, account, .. } => return Some((*leaf_id, *account)),
                Node::Branch { bit, left, right, .. } => {
                    node = Some(if id.bit(usize::from(*bit)) { *right } else { *left });
                }
                Node::Vacant => panic!("held version reaches a freed node"),
            }
        }
        None
    }

    /// `changes` must be sorted by key with no key repeated.
    fn seal_sorted(&mut self, changes: &[Change]) -> SealStats {
        debug_assert!(changes.windows(2).all(|w| w[0].0 < w[1].0), "changes not sorted/unique");
        let before = self.store.live_nodes();
        let old_root = self.roots[&self.latest];
        let mut replaced = Vec::new();
        let merged = Merger {
            store: &mut self.store,
            queue: &mut self.queue,
            replaced: &mut replaced,
            tasks: &mut self.tasks,
            changes,
        }
        .run(old_root);
        let new_root = self.queue.finish(&mut self.store, merged);
        let nodes_written = self.store.live_nodes() - before;
        if new_root == old_root {
            debug_assert!(replaced.is_empty());
            return SealStats { version: self.latest, advanced: false, nodes_written };
        }
        self.latest += 1;
        self.roots.insert(self.latest, new_root);
        self.stale.extend(replaced.into_iter().map(|node| (self.latest, node)));
        self.prune_to_retention();
        SealStats { version: self.latest, advanced: true, nodes_written }
    }

    fn prune_to_retention(&mut self) {
        if let Some(retained) = self.versions_retained {
            let oldest_kept = self.latest.saturating_sub(retained - 1);
            if oldest_kept > self.oldest_version() {
                self.prune_before(oldest_kept);
            }
        }
    }

    fn dump_node(&self, node: NodeRef, depth: usize, out: &mut String) {
        let indent = "  ".repeat(depth);
        match self.store.get(node) {
            Node::Leaf { id, account, hash } => out.push_str(&format!(
                "{indent}leaf {} bal={} frz={} nonce={} out={} in={} #{}\n",
                id.to_hex(),
                account.balance,
                account.frozen,
                account.nonce,
                account.pending_out,
                account.pending_in,
                &hash.to_hex()[..12],
            )),
            Node::Branch { bit, left, right, summary, hash, .. } => {
                out.push_str(&format!(
                    "{indent}branch bit={bit} accounts={} balance={} supply={} #{}\n",
                    summary.accounts,
                    summary.balance,
                    summary.supply(),
                    &hash.to_hex()[..12],
                ));
                self.dump_node(*left, depth + 1, out);
                self.dump_node(*right, depth + 1, out);
            }
            Node::Vacant => out.push_str(&format!("{indent}<freed>\n")),
        }
    }
}

/// Remove all but the last change of each run of equal keys, in place.
fn keep_last_of_each_key(sorted: &mut Vec<Change>) {
    let mut kept = 0;
    for index in 0..sorted.len() {
        let is_last_of_run = sorted.get(index + 1).is_none_or(|next| next.0 != sorted[index].0);
        if is_last_of_run {
            sorted[kept] = sorted[index];
            kept += 1;
        }
    }
    sorted.truncate(kept);
}

/// In-order iterator over the leaves of one version.
struct Leaves<'a> {
    store: &'a Store,
    stack: Vec<NodeRef>,
}

impl Iterator for Leaves<'_> {
    type Item = (Id, Account);

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(node) = self.stack.pop() {
            match self.store.get(node) {
                Node::Leaf { id, account, .. } => return Some((*id, *account)),
                Node::Branch { left, right, .. } => {
                    self.stack.push(*right);
                    self.stack.push(*left);
                }
                Node::Vacant => panic!("held version reaches a freed node"),
            }
        }
        None
    }
}
