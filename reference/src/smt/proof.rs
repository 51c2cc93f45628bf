//! Inclusion and non-inclusion proofs (SPEC §4.6, invariant I8).
//!
//! A proof lists, from the root down, every branch on the path that `key`'s bits select: the
//! branch's bit index and the hash and summary of the sibling the path does not take. It ends
//! at the leaf the path reaches (or at the empty tree). Verifying recomputes the root hash and
//! the root summary from the bottom up and compares both with the root synopsis the verifier
//! trusts. If the leaf holds `key`, the proof shows the account; if it holds another key, it
//! shows that `key` is absent, because in a path-compressed tree following a present key's bits
//! always reaches that key's leaf.

use blake3::platform::Platform;
use thiserror::Error;

use crate::crypto::Hash32;
use crate::id::{ID_BITS, Id};

use super::account::{Account, Summary};
use super::hasher::{branch_message, fast_branch_hash, fast_leaf_hash};
use super::tree::{RootSynopsis, Synopsis, Version};

/// One branch on a proof's path.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ProofStep {
    /// The branch's bit index: where its two subtrees first differ.
    pub bit: u8,
    /// Hash of the subtree the path does not take.
    pub sibling_hash: Hash32,
    /// Summary of the subtree the path does not take.
    pub sibling_summary: Summary,
}

/// Where a proof's path ends.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Terminal {
    /// The tree is empty.
    Empty,
    /// The leaf the path reaches: the proved key itself (inclusion) or the leaf that shows the
    /// key is absent (non-inclusion).
    Leaf {
        /// The leaf's key.
        id: Id,
        /// The leaf's account.
        account: Account,
    },
}

/// A proof that `key` holds a given account, or no account, in `version` (SPEC §4.6).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Proof {
    /// The version proved against.
    pub version: Version,
    /// The key the proof is about.
    pub key: Id,
    /// The branches on the path, root first.
    pub steps: Vec<ProofStep>,
    /// The end of the path.
    pub terminal: Terminal,
}

/// Why a proof did not verify. Every variant means "reject"; the variants say why, for logs
/// and for disputes (SPEC §8.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof is about another version than the root synopsis.
    #[error("proof is for version {proof}, root synopsis is for version {root}")]
    VersionMismatch {
        /// The proof's version.
        proof: Version,
        /// The root synopsis's version.
        root: Version,
    },
    /// An empty-tree proof that still lists branches.
    #[error("an empty-tree proof lists {steps} branches")]
    StepsUnderEmpty {
        /// Number of steps listed.
        steps: usize,
    },
    /// Bit indices must grow strictly from the root down and stay below 160.
    #[error("step {step}: bit index {bit} does not follow {previous:?} or is out of range")]
    BadBitOrder {
        /// Position of the step, root first.
        step: usize,
        /// Its bit index.
        bit: u8,
        /// The previous step's bit index.
        previous: Option<u8>,
    },
    /// The terminal leaf is not on the path that the key's bits select.
    #[error("step {step}: the terminal leaf is not on the key's path")]
    OffPath {
        /// Position of the step, root first.
        step: usize,
    },
    /// Sibling summaries overflow when summed (forged input).
    #[error("summaries overflow when summed")]
    SummaryOverflow,
    /// The recomputed root hash differs from the trusted one.
    #[error("recomputed root hash does not match")]
    HashMismatch,
    /// The recomputed root summary differs from the trusted one.
    #[error("recomputed root summary does not match")]
    SummaryMismatch,
}

impl Proof {
    /// Whether the proof shows `key` present.
    pub fn is_inclusion(&self) -> bool {
        matches!(self.terminal, Terminal::Leaf { id, .. } if id == self.key)
    }

    /// Check the proof against a trusted root synopsis: `Ok(Some(account))` if `key` holds
    /// `account`, `Ok(None)` if `key` is absent, `Err` if the proof is not valid.
    pub fn verify(&self, root: &RootSynopsis) -> Result<Option<Account>, ProofError> {
        if self.version != root.version {
            return Err(ProofError::VersionMismatch { proof: self.version, root: root.version });
        }
        let computed = self.recompute()?;
        if computed.hash != root.synopsis.hash {
            return Err(ProofError::HashMismatch);
        }
        if computed.summary != root.synopsis.summary {
            return Err(ProofError::SummaryMismatch);
        }
        Ok(match self.terminal {
            Terminal::Leaf { id, account } if id == self.key => Some(account),
            _ => None,
        })
    }

    /// The root synopsis this proof implies, after checking its shape.
    fn recompute(&self) -> Result<Synopsis, ProofError> {
        let (leaf_id, account) = match self.terminal {
            Terminal::Empty if self.steps.is_empty() => return Ok(Synopsis::empty()),
            Terminal::Empty => return Err(ProofError::StepsUnderEmpty { steps: self.steps.len() }),
            Terminal::Leaf { id, account } => (id, account),
        };
        self.check_path(&leaf_id)?;
        // The fast paths, bit for bit `leaf_hash` and `branch_hash` (D-004).
        let platform = Platform::detect();
        let mut hash = fast_leaf_hash(&platform, &leaf_id, &account);
        let mut summary = account.summary();
        for step in self.steps.iter().rev() {
            summary = summary.checked_add(&step.sibling_summary).ok_or(ProofError::SummaryOverflow)?;
            let message = if self.key.bit(usize::from(step.bit)) {
                branch_message(step.bit, &step.sibling_hash, &hash, &summary)
            } else {
                branch_message(step.bit, &hash, &step.sibling_hash, &summary)
            };
            hash = fast_branch_hash(&platform, &message);
        }
        Ok(Synopsis { hash, summary })
    }

    /// Bits strictly increasing and in range; the terminal leaf agrees with the key at every
    /// step's bit (it lies on the key's path).
    fn check_path(&self, leaf_id: &Id) -> Result<(), ProofError> {
        let mut previous: Option<u8> = None;
        for (index, step) in self.steps.iter().enumerate() {
            let in_order = previous.is_none_or(|prev| step.bit > prev);
            if !in_order || usize::from(step.bit) >= ID_BITS {
                return Err(ProofError::BadBitOrder { step: index, bit: step.bit, previous });
            }
            let bit = usize::from(step.bit);
            if leaf_id.bit(bit) != self.key.bit(bit) {
                return Err(ProofError::OffPath { step: index });
            }
            previous = Some(step.bit);
        }
        Ok(())
    }
}
