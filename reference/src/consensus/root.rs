//! The root synopsis over node groups (SPEC §5.2, §7.3 step 6; D-023): the chief commits to
//! the sealed synopsis of every group's subtree with a binary Merkle tree whose branches carry
//! the summed [`Summary`](crate::smt::Summary), as the ledger's own branches do (SPEC §4.3). A party proves its
//! account in two steps (SPEC §7.3 step 7: "ts, the synopses on its path and its own
//! account"): the ledger proof against its group's synopsis, then a [`GroupPath`] from that
//! group's entry to the root.

use crate::crypto::{Domain, Hash32, hash_parts};
use crate::id::Prefix;
use crate::smt::account::SUMMARY_BYTES;
use crate::smt::{Account, Proof, ProofError, RootSynopsis, Synopsis, Version};

use thiserror::Error;

/// One group's sealed state as the chief commits to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupEntry {
    /// The group.
    pub prefix: Prefix,
    /// The group ledger's sealed version.
    pub version: Version,
    /// Its synopsis.
    pub synopsis: Synopsis,
}

impl GroupEntry {
    /// `H(GroupEntry ‖ prefix bits ‖ prefix length ‖ version ‖ hash ‖ summary)`.
    pub fn hash(&self) -> Hash32 {
        let mut summary = [0u8; SUMMARY_BYTES];
        self.synopsis.summary.encode(&mut summary);
        hash_parts(
            Domain::GroupEntry,
            &[
                &self.prefix.bits().0,
                &[self.prefix.len_bits() as u8],
                &self.version.to_le_bytes(),
                &self.synopsis.hash.0,
                &summary,
            ],
        )
    }
}

fn branch(left: &Synopsis, right: &Synopsis) -> Option<Synopsis> {
    let summary = left.summary.checked_add(&right.summary)?;
    let mut encoded = [0u8; SUMMARY_BYTES];
    summary.encode(&mut encoded);
    let hash = hash_parts(Domain::GroupBranch, &[&left.hash.0, &right.hash.0, &encoded]);
    Some(Synopsis { hash, summary })
}

/// One step of a [`GroupPath`]: the sibling subtree and which side it is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupStep {
    /// The sibling is the left child (the proven entry is on the right).
    pub sibling_left: bool,
    /// The sibling's hash and summary.
    pub sibling: Synopsis,
}

/// A path from a group's entry to the root synopsis.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupPath {
    /// The proven entry.
    pub entry: GroupEntry,
    /// Siblings from the entry up to the root.
    pub steps: Vec<GroupStep>,
}

/// Why a [`GroupPath`] or [`AccountProof`] does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RootProofError {
    /// The path does not hash to the root's hash or summary.
    #[error("the group path does not lead to the root synopsis")]
    PathMismatch,
    /// The ledger proof does not verify against the group's synopsis.
    #[error("account proof against the group synopsis: {0}")]
    Account(ProofError),
    /// The account's Id is not under the group's prefix.
    #[error("the account is not in the proven group")]
    WrongGroup,
}

impl GroupPath {
    /// Check the path against `root`.
    pub fn verify(&self, root: &RootSynopsis) -> Result<(), RootProofError> {
        let mut node = Synopsis { hash: self.entry.hash(), summary: self.entry.synopsis.summary };
        for step in &self.steps {
            let joined =
                if step.sibling_left { branch(&step.sibling, &node) } else { branch(&node, &step.sibling) };
            node = joined.ok_or(RootProofError::PathMismatch)?;
        }
        if node == root.synopsis { Ok(()) } else { Err(RootProofError::PathMismatch) }
    }
}

/// A party's proof of its account under a root synopsis.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountProof {
    /// The ledger proof against the group's synopsis at the entry's version.
    pub account: Proof,
    /// The group's entry and its path to the root.
    pub path: GroupPath,
}

impl AccountProof {
    /// The account (or `None` if the proof shows it absent), if both parts verify.
    pub fn verify(&self, root: &RootSynopsis) -> Result<Option<Account>, RootProofError> {
        self.path.verify(root)?;
        if !self.path.entry.prefix.contains(&self.account.key) {
            return Err(RootProofError::WrongGroup);
        }
        let group_root =
            RootSynopsis { version: self.path.entry.version, synopsis: self.path.entry.synopsis };
        self.account.verify(&group_root).map_err(RootProofError::Account)
    }

    /// [`AccountProof::verify`], and the proof comes from `group`, the group that keeps the
    /// account. Where an account's *absence* or balance matters this is the check to use: a
    /// group whose prefix contains the key but does not keep it (the root group's contains
    /// every Id) proves the account absent under a valid root (D-049).
    pub fn verify_in(&self, root: &RootSynopsis, group: &Prefix) -> Result<Option<Account>, RootProofError> {
        if self.path.entry.prefix != *group {
            return Err(RootProofError::WrongGroup);
        }
        self.verify(root)
    }
}

/// The chief's tree over the entries of one root version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootTree {
    entries: Vec<GroupEntry>,
    /// `levels[0]` = entry nodes, last level = the root (one node).
    levels: Vec<Vec<Synopsis>>,
}

impl RootTree {
    /// The tree over `entries` (sorted by prefix here). `None` if the summed summaries
    /// overflow (only possible with forged synopses) or there is no entry.
    pub fn build(mut entries: Vec<GroupEntry>) -> Option<RootTree> {
        entries.sort_unstable();
        let first: Vec<Synopsis> =
            entries.iter().map(|e| Synopsis { hash: e.hash(), summary: e.synopsis.summary }).collect();
        if first.is_empty() {
            return None;
        }
        let mut levels = vec![first];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let below = levels.last().expect("non-empty");
            let mut above = Vec::with_capacity(below.len().div_ceil(2));
            for pair in below.chunks(2) {
                // An odd node out is promoted unchanged.
                above.push(if let [l, r] = pair { branch(l, r)? } else { pair[0] });
            }
            levels.push(above);
        }
        Some(RootTree { entries, levels })
    }

    /// The root hash and summary.
    pub fn synopsis(&self) -> Synopsis {
        self.levels.last().expect("at least one level")[0]
    }

    /// The entries, sorted by prefix.
    pub fn entries(&self) -> &[GroupEntry] {
        &self.entries
    }

    /// The path of `prefix`'s entry, if it has one.
    pub fn path(&self, prefix: &Prefix) -> Option<GroupPath> {
        let mut index = self.entries.binary_search_by(|e| e.prefix.cmp(prefix)).ok()?;
        let entry = self.entries[index];
        let mut steps = Vec::new();
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = index ^ 1;
            if let Some(node) = level.get(sibling) {
                steps.push(GroupStep { sibling_left: sibling < index, sibling: *node });
            }
            index /= 2;
        }
        Some(GroupPath { entry, steps })
    }
}
