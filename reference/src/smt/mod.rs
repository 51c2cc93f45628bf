//! The ledger's versioned sparse Merkle tree (SPEC §4).
//!
//! * [`VersionedSmt`] — a path-compressed binary Merkle tree over 160-bit [`Id`](crate::Id)s
//!   whose leaves are [`Account`]s and whose branches carry the [`Summary`] of their subtree.
//!   Changes are staged and sealed into immutable versions that share structure.
//! * [`Proof`] — inclusion / non-inclusion proofs that verify root hash and root summary.
//! * [`Synopsis`] — the (hash, summary) commitment of any Id prefix.

pub(crate) mod account;
mod hasher;
mod merge;
mod proof;
mod queue;
mod store;
mod tree;

pub use account::{Account, Summary, branch_hash, empty_hash, leaf_hash};
pub use proof::{Proof, ProofError, ProofStep, Terminal};
pub use tree::{Change, RootSynopsis, SealStats, SmtError, Synopsis, Version, VersionedSmt};
