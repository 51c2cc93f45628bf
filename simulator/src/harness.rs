//! Nodes in every role, with honest state, for fuzzing what a peer may send them (D-038).
//!
//! A small world — leaf groups with backups and standby pools, a root committee, clients — runs
//! a few seconds of an honest workload; then one node of each role is kept, with the messages
//! it received. [`Harness::feed`] takes fuzzer bytes — two bytes that pick the sender among the
//! world's nodes, then a message frame — decodes the frame and, if it is a message, seals it
//! with the sender's own key (D-039) and hands the envelope to a copy of the node: what a
//! peer holding a key of the world may send, so that fuzzing reaches past the signature check
//! into the handlers (the `decode` target fuzzes whole envelope frames). Nothing a peer sends
//! may panic a node; a frame the decoder accepts must re-encode to itself.

use std::path::Path;

use reference::Id;
use reference::node::{Envelope, Message, Node, SEQ_CLOCK_SHIFT, SharedSigner, To};
use reference::wire;

use crate::scenario::Scenario;
use crate::sim::{KeptWorld, RunOptions, Simulation};

/// The roles a node plays, one harness node each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A user's node.
    Client,
    /// A leaf group's acting primary.
    LeafPrimary,
    /// A leaf group's backup.
    LeafBackup,
    /// A standby candidate of a leaf group's pool (D-035).
    Standby,
    /// The acting chief.
    Chief,
    /// A root committee backup (D-033).
    RootBackup,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] =
        [Role::Client, Role::LeafPrimary, Role::LeafBackup, Role::Standby, Role::Chief, Role::RootBackup];

    /// The role's name (the fuzz target's, and its corpus directory's).
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::LeafPrimary => "leaf_primary",
            Role::LeafBackup => "leaf_backup",
            Role::Standby => "standby",
            Role::Chief => "chief",
            Role::RootBackup => "root_backup",
        }
    }
}

/// The world the harness runs before it keeps its nodes: every role present, small enough to
/// build in well under a second.
const WORLD: &str = r#"
name = "fuzz-harness"
seed = 1
duration_ms = 8_000
[nodes]
clients = 48
[parameters]
stratum_bits = 2
group_min_accounts = 4
backups = 2
root_backups = 2
standbys = 2
election_cycle_pulses = 4
[workload]
transfers_per_s = 20.0
"#;

/// How far past the kept world's time the harness's envelopes are numbered: above every
/// sequence number a sender sealed during the run (they follow its clock, D-039).
const FRESH_AHEAD_MS: u64 = 1_000;

/// How many of the messages each kept node received become its seed frames.
const SEEDS_PER_ROLE: usize = 64;

/// One node of each role after an honest run, and the frames each was sent.
pub struct Harness {
    nodes: Vec<(Role, Node)>,
    senders: Vec<SharedSigner>,
    now_ms: u64,
    seeds: Vec<(Role, Vec<(Id, Message)>)>,
}

/// What one input did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fed {
    /// Too short to name a sender.
    TooShort,
    /// The decoder refused the frame.
    Refused,
    /// The node handled the message.
    Handled,
}

impl Harness {
    /// Build the world and keep its nodes.
    pub fn new() -> Harness {
        let scenario =
            Scenario::parse(WORLD, Path::new("fuzz-harness.toml")).expect("the harness world is valid");
        let simulation =
            Simulation::new(&scenario, 1, RunOptions::default()).expect("the harness world builds");
        let world = simulation.run_keeping_world(SEEDS_PER_ROLE).expect("the honest run breaks nothing");
        Harness::keep(world)
    }

    fn keep(world: KeptWorld) -> Harness {
        let KeptWorld { nodes, ids, layout, now_ms, mut received } = world;
        // Node 0 is the chief; clients follow it; then the primaries, backups, root backups and
        // standbys (`Layout`).
        let index = |role: Role| match role {
            Role::Chief => 0,
            Role::Client => 1,
            Role::LeafPrimary => layout.first_primary,
            Role::LeafBackup => layout.first_backup(),
            Role::RootBackup => layout.first_root_backup(),
            Role::Standby => layout.first_standby(),
        };
        let kept: Vec<(Role, Node)> = Role::ALL.iter().map(|r| (*r, nodes[index(*r)].clone())).collect();
        let seeds = Role::ALL.iter().map(|r| (*r, std::mem::take(&mut received[index(*r)]))).collect();
        let senders = nodes.iter().map(|node| node.signer().clone()).collect();
        debug_assert!(nodes.iter().zip(&ids).all(|(node, id)| node.id() == *id));
        Harness { nodes: kept, senders, now_ms, seeds }
    }

    /// The node kept for `role`.
    pub fn node(&self, role: Role) -> &Node {
        &self.nodes.iter().find(|(r, _)| *r == role).expect("every role is kept").1
    }

    /// Inputs a fuzzer starts from: what the role's node was sent in the honest run, each as
    /// the two sender bytes and the frame.
    pub fn seed_inputs(&self, role: Role) -> Vec<Vec<u8>> {
        let received = &self.seeds.iter().find(|(r, _)| *r == role).expect("every role is kept").1;
        received
            .iter()
            .filter_map(|(from, msg)| {
                let sender = self.senders.iter().position(|s| s.id() == *from)? as u16;
                let frame = wire::encode(msg).ok()?;
                Some([sender.to_le_bytes().as_slice(), &frame].concat())
            })
            .collect()
    }

    /// Decode `input` (a sender, then a frame), seal the message as that sender, and hand the
    /// envelope to a copy of `role`'s node. Panics only on a bug: a frame accepted that does
    /// not re-encode to itself, or a node that panics on what a peer sent.
    pub fn feed(&self, role: Role, input: &[u8]) -> Fed {
        let envelope = match self.seal(role, input) {
            Ok(envelope) => envelope,
            Err(fed) => return fed,
        };
        let mut node = self.node(role).clone();
        let mut out = Vec::new();
        node.handle_message(self.now_ms, &envelope, &mut out);
        Fed::Handled
    }

    /// The whole envelope frame `feed` would hand `role`'s node for `input` (the `decode`
    /// target's seeds), if `input` holds a message.
    pub fn envelope_frame(&self, role: Role, input: &[u8]) -> Option<Vec<u8>> {
        wire::encode_envelope(&self.seal(role, input).ok()?).ok()
    }

    fn seal(&self, role: Role, input: &[u8]) -> Result<Envelope, Fed> {
        let Some((sender, frame)) = input.split_first_chunk::<2>() else { return Err(Fed::TooShort) };
        let Ok(msg) = wire::decode(frame) else { return Err(Fed::Refused) };
        assert_eq!(wire::encode(&msg).as_deref(), Ok(frame), "an accepted frame re-encodes to itself");
        let signer = &self.senders[usize::from(u16::from_le_bytes(*sender)) % self.senders.len()];
        // Pulses are broadcast; everything else is addressed to the node. The sequence number
        // lies above any the sender sealed in the run, as a fresh envelope's would.
        let to =
            if matches!(msg, Message::Pulse { .. }) { To::Everyone } else { To::Node(self.node(role).id()) };
        let seq = (self.now_ms + FRESH_AHEAD_MS) << SEQ_CLOCK_SHIFT;
        Ok(Envelope::seal(signer.as_ref(), to, seq, msg))
    }
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("nodes", &self.nodes)
            .field("senders", &self.senders.len())
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}
