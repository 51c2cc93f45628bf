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
//! * [`node`] — a protocol node as a sans-IO state machine: clients, and bookkeepers in their
//!   roles (a leaf group's primary, backup or standby; the chief and the root committee) over
//!   the transfer flow of SPEC §5–§7;
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
//!
//! ## A cross-group transfer, by hand
//!
//! The same protocol, as the simulator drives it: a roster of two leaf groups under the chief,
//! a payer in one and a payee in the other, and every message delivered at once by a loop of
//! twenty lines. The payer proposes, the payee co-signs and submits, the payer's primary applies
//! the debit half and sends the credit half to the payee's primary (SPEC §7.3); each of the
//! chief's pulses seals the groups, matches the halves, orders them cleared and builds the
//! root; the parties receive proofs of their accounts under it, which anyone can check.
//!
//! ```
//! use std::collections::VecDeque;
//! use std::sync::Arc;
//!
//! use reference::crypto::{SimScheme, Signer};
//! use reference::node::{
//!     Command, Envelope, Genesis, Message, Node, NodeConfig, NodeEvent, Output, Roster, Timer, To,
//! };
//! use reference::{Id, Prefix};
//!
//! // Who is who: the chief, the organization (it holds the genesis supply), a payer, and a
//! // payee whose Id starts with the other bit, so that its account is in the other group.
//! let scheme = SimScheme::new(1);
//! let (chief, org, payer) = (scheme.signer(0), scheme.signer(1), scheme.signer(2));
//! let group_of = |id: Id| Prefix::new(id, 1);
//! let payee = (3..).map(|i| scheme.signer(i));
//! let payee = payee.into_iter().find(|s| group_of(s.id()) != group_of(payer.id())).unwrap();
//! let primaries = [scheme.signer(100), scheme.signer(101)];
//! let leaves = [(group_of(payer.id()), primaries[0].id()), (group_of(payee.id()), primaries[1].id())];
//! let roster = Roster::new(chief.id(), leaves).unwrap();
//!
//! // Genesis: each group's ledger, and the chief's arbiter over the groups' first entries.
//! let distribution = [(payer.id(), 1_000), (payee.id(), 1_000)];
//! let genesis = Genesis::split(&roster, org.id(), 10_000, &distribution, 4).unwrap();
//! let config = NodeConfig {
//!     pulse_ms: 1_000,
//!     retry_ms: 3_000,
//!     max_attempts: 3,
//!     transfer_timeout_pulses: 4,
//!     roster: Arc::new(roster),
//!     bookkeeper_deposit: None,
//!     failover_timeout_pulses: 2,
//!     election_cycle_pulses: None,
//!     election_pool_factor: 2,
//!     bookkeeper_deposit_min: 0,
//!     governance: Default::default(),
//! };
//! let verifier = Arc::new(scheme.clone());
//! let mut ledgers = genesis.ledgers.into_iter();
//! let (_, root_ledger) = ledgers.next().unwrap(); // the root group's own accounts
//! let chief_node = Node::chief(Arc::new(chief), root_ledger, genesis.arbiter, verifier.clone(), config.clone());
//! let mut nodes = vec![chief_node];
//! for (group, ledger) in ledgers {
//!     let primary = config.roster.primary(&group);
//!     let signer = primaries.iter().find(|s| s.id() == primary).unwrap().clone();
//!     nodes.push(Node::bookkeeper(Arc::new(signer), ledger, verifier.clone(), config.clone()));
//! }
//! for party in [&payer, &payee] {
//!     nodes.push(Node::client(Arc::new(party.clone()), verifier.clone(), config.clone()));
//! }
//!
//! /// Deliver `outputs` of node `from` and everything they cause, at once and in order; keep
//! /// the events and the commit notices. Timers are not kept: the chief's pulses are fired by
//! /// hand below, and nothing here needs a retry.
//! fn deliver(
//!     nodes: &mut [Node],
//!     now_ms: u64,
//!     from: usize,
//!     outputs: Vec<Output>,
//!     seen: &mut Vec<(Id, Output)>,
//! ) {
//!     let mut queue: VecDeque<(usize, Output)> = outputs.into_iter().map(|o| (from, o)).collect();
//!     while let Some((sender, output)) = queue.pop_front() {
//!         let sender_id = nodes[sender].id();
//!         // Every message leaves its node sealed: signed for its addressee (D-039).
//!         let receivers: Vec<(usize, Envelope)> = match &output {
//!             Output::Send { to, msg } => {
//!                 let envelope = nodes[sender].seal(now_ms, To::Node(*to), msg.clone());
//!                 let at = nodes.iter().position(|n| n.id() == *to);
//!                 at.map(|i| (i, envelope)).into_iter().collect()
//!             }
//!             Output::Broadcast { msg } => {
//!                 let envelope = nodes[sender].seal(now_ms, To::Everyone, msg.clone());
//!                 (0..nodes.len()).filter(|i| *i != sender).map(|i| (i, envelope.clone())).collect()
//!             }
//!             Output::SetTimer { .. } | Output::Event(_) => Vec::new(),
//!         };
//!         for (to, envelope) in receivers {
//!             let mut out = Vec::new();
//!             nodes[to].handle_message(now_ms, &envelope, &mut out);
//!             queue.extend(out.into_iter().map(|o| (to, o)));
//!         }
//!         seen.push((sender_id, output));
//!     }
//! }
//!
//! let mut seen = Vec::new();
//! for i in 0..nodes.len() {
//!     let mut out = Vec::new();
//!     nodes[i].start(0, &mut out);
//!     deliver(&mut nodes, 0, i, out, &mut seen);
//! }
//! let at_payer = nodes.iter().position(|n| n.id() == payer.id()).unwrap();
//! let mut out = Vec::new();
//! nodes[at_payer].handle_command(0, Command::Transfer { to: payee.id(), amount: 100, tag: 7 }, &mut out);
//! deliver(&mut nodes, 0, at_payer, out, &mut seen);
//! for pulse in 1..=3 {
//!     let mut out = Vec::new();
//!     nodes[0].handle_timer(pulse * 1_000, Timer::Pulse, &mut out);
//!     deliver(&mut nodes, pulse * 1_000, 0, out, &mut seen);
//! }
//!
//! // The payer's node took its commit: it checked the proof itself.
//! let committed = |o: &Output| matches!(o, Output::Event(NodeEvent::Committed { tag: 7, .. }));
//! assert!(seen.iter().any(|(from, o)| *from == payer.id() && committed(o)));
//! // Anyone can check the payee's proof against the root it came with: its group's entry leads
//! // to the root, and its account holds the credit. The proof is of the version that sealed the
//! // credit half, so the amount still shows as pending there; the chief's order cleared it
//! // since, in a later version.
//! let (root, proof) = seen
//!     .iter()
//!     .find_map(|(_, o)| match o {
//!         Output::Send { to, msg: Message::Committed { root, proof, .. } } if *to == payee.id() => {
//!             Some((root, proof))
//!         }
//!         _ => None,
//!     })
//!     .unwrap();
//! let account = proof.verify(root).unwrap().expect("the payee's account is in the proof");
//! assert_eq!((account.balance, account.pending_in), (1_100, 100));
//! assert_eq!(root.synopsis.summary.supply(), 10_000); // I1 across the groups
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
pub mod wire;

pub use id::{Id, Prefix};
