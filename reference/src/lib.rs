//! # reference — the Leither protocol as pure, deterministic state machines
//!
//! This crate is the protocol of `SPEC.md`, written so that a model checker, a simulator and a
//! production node can all drive the same code. It never reads a clock, never draws random
//! numbers, never touches the network or the disk: time and randomness come in as arguments,
//! effects go out as values.
//!
//! What is here so far:
//! * [`id`] — 160-bit identities (SPEC §1.1) and Id prefixes;
//! * [`crypto`] — domain-separated BLAKE3 hashing and the [`Signer`](crypto::Signer) /
//!   [`Verifier`](crypto::Verifier) abstraction with ed25519 and a fast simulation scheme
//!   (SPEC §1.2, §4.3);
//! * [`smt`] — the versioned, path-compressed sparse Merkle tree of accounts (SPEC §4);
//! * [`ledger`] — accounts and transfers under the safety conditions of SPEC §7.2;
//! * [`consensus`] — the consensus layer as it grows: node groups, bookkeeper election, terms,
//!   failover and capacity (SPEC §6) so far;
//! * [`org`] — organizations: roles, rights, membership, proposals and votes (SPEC §3);
//! * [`node`] — a protocol node as a sans-IO state machine (the minimal pulse protocol the
//!   simulator and the model drive until the consensus of SPEC §5–§7 lands);
//! * [`invariants`] — the SPEC §13 invariants as predicates shared by tests, the model checker
//!   and the simulator.
//!
//! A first tour: build a ledger, transfer, seal, and check a proof.
//!
//! ```
//! use reference::crypto::{SimScheme, Signer};
//! use reference::ledger::{Ledger, Tx};
//!
//! let scheme = SimScheme::new(7);
//! let (org, alice) = (scheme.signer(0), scheme.signer(1));
//! let mut ledger = Ledger::genesis(org.id(), 1_000);
//! ledger.open_account(alice.id()).unwrap();
//! let tx = Tx { from: org.id(), to: alice.id(), amount: 250, from_nonce: 1, created_pulse: 0 };
//! ledger.apply(&tx.sign(&org, &alice), &scheme).unwrap();
//! let version = ledger.seal();
//!
//! let root = ledger.tree().root(version).unwrap();
//! let proof = ledger.tree().prove(version, &alice.id()).unwrap();
//! assert_eq!(proof.verify(&root).unwrap().unwrap().balance, 250);
//! assert_eq!(root.synopsis.summary.supply(), 1_000); // I1: supply never changes
//! ```

pub mod consensus;
pub mod credit;
pub mod crypto;
pub mod id;
pub mod invariants;
pub mod ledger;
pub mod node;
pub mod org;
pub mod smt;

pub use id::{Id, Prefix};
