//! Signed envelopes (D-039): every message between nodes travels inside one, naming its
//! sender's key, its addressee and a sequence number, and signed by the sender over exactly
//! those fields and the message's canonical encoding (D-038). A receiver refuses an envelope
//! that is misaddressed, that a roster bookkeeper already sent it (a replay, or the network's
//! duplicate), whose signature does not verify, or that carries a bookkeeper's message from a
//! node the roster does not list — each a typed [`NodeError`], and none of them changes
//! anything.
//!
//! What the signature covers: `H(Domain::Envelope ‖ sender ‖ to ‖ seq ‖ message)`, the
//! message in its wire encoding, so a changed byte anywhere breaks it. A state snapshot's body
//! is not on the wire yet (D-038): its envelope covers the snapshot's header (group, view,
//! report and the body's size), not the accounts.

use std::collections::BTreeMap;
use std::fmt;

use crate::crypto::{Domain, Hash32, PublicKey, Signature, Signer, Verifier, hash_encoded};
use crate::id::Id;
use crate::wire::{Encode, Writer};

use super::roster::Roster;
use super::{Message, MessageKind, NodeError, SharedSigner};

/// Who an envelope is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum To {
    /// One node.
    Node(Id),
    /// Every node (the chief's pulse, the only broadcast).
    Everyone,
}

impl fmt::Display for To {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            To::Node(id) => write!(f, "{id}"),
            To::Everyone => f.write_str("everyone"),
        }
    }
}

/// A message as it travels: signed by its sender for one addressee (D-039). Its fields are
/// read through accessors and never change after it is built, so its digest is computed once
/// (a pulse is opened by every node that receives it: one encoding and hash, not one each).
/// Tests and adversaries that forge one build a new one ([`Envelope::from_parts`]).
#[derive(Clone, Debug)]
pub struct Envelope {
    /// The sender's public key; the sender is its [`Id`].
    pub(crate) sender: PublicKey,
    /// The addressee.
    pub(crate) to: To,
    /// The sender's sequence number: increasing over every envelope the sender seals, so a
    /// receiver can tell a replay from a new message.
    pub(crate) seq: u64,
    /// The message.
    pub(crate) msg: Message,
    /// The sender's signature of [`Envelope::digest`].
    pub(crate) sig: Signature,
    /// The length of the envelope's frame (D-038): what a link carries for it.
    frame_bytes: u32,
    /// [`Envelope::digest`], computed from the fields when the envelope was built.
    digest: Hash32,
}

impl Envelope {
    /// Everything but the frame length, which follows from the fields.
    fn key(&self) -> (PublicKey, To, u64, &Message, Signature) {
        (self.sender, self.to, self.seq, &self.msg, self.sig)
    }
}

impl PartialEq for Envelope {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Envelope {}

impl PartialOrd for Envelope {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Envelope {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl std::hash::Hash for Envelope {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// Bytes of a frame around the message: version, sender key, addressee (tag and, for one
/// node, its Id), sequence number, signature.
fn frame_overhead(to: &To) -> usize {
    let to_bytes = match to {
        To::Node(_) => 1 + 20,
        To::Everyone => 1,
    };
    1 + 32 + to_bytes + 8 + 64
}

impl Envelope {
    /// `msg` for `to`, signed by `signer`.
    pub fn seal(signer: &dyn Signer, to: To, seq: u64, msg: Message) -> Envelope {
        Envelope::sign_as(signer, signer.public_key(), to, seq, msg)
    }

    /// `msg` for `to` claiming `sender`'s key but signed by `signer` — what an impersonator
    /// holding only its own keys can make (adversaries and tests; receivers refuse it).
    pub fn sign_as(signer: &dyn Signer, sender: PublicKey, to: To, seq: u64, msg: Message) -> Envelope {
        let (digest, message_bytes) = digest_and_len(&sender, &to, seq, &msg);
        let sig = signer.sign(&digest.0);
        let frame_bytes = (frame_overhead(&to) + message_bytes) as u32;
        Envelope { sender, to, seq, msg, sig, frame_bytes, digest }
    }

    /// An envelope of these fields, whoever signed it: what a decoder reads, or what a test or
    /// an adversary forges (a receiver checks `sig` against the fields' digest).
    pub fn from_parts(sender: PublicKey, to: To, seq: u64, msg: Message, sig: Signature) -> Envelope {
        let (digest, message_bytes) = digest_and_len(&sender, &to, seq, &msg);
        let frame_bytes = (frame_overhead(&to) + message_bytes) as u32;
        Envelope { sender, to, seq, msg, sig, frame_bytes, digest }
    }

    /// An envelope read off the wire, `frame_bytes` long (the decoder's constructor). Its
    /// digest is that of the decoded fields, re-encoded: a decoder that misread a field
    /// yields an envelope whose signature does not verify.
    pub(crate) fn assemble(
        sender: PublicKey,
        to: To,
        seq: u64,
        msg: Message,
        sig: Signature,
        frame_bytes: usize,
    ) -> Envelope {
        let digest = digest_and_len(&sender, &to, seq, &msg).0;
        Envelope { sender, to, seq, msg, sig, frame_bytes: frame_bytes as u32, digest }
    }

    /// Its fields, to build another from ([`Envelope::from_parts`]).
    pub fn into_parts(self) -> (PublicKey, To, u64, Message, Signature) {
        (self.sender, self.to, self.seq, self.msg, self.sig)
    }

    /// The sender's key.
    pub fn sender(&self) -> PublicKey {
        self.sender
    }

    /// The addressee.
    pub fn to(&self) -> To {
        self.to
    }

    /// The sender's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The message.
    pub fn msg(&self) -> &Message {
        &self.msg
    }

    /// The signature.
    pub fn sig(&self) -> Signature {
        self.sig
    }

    /// The sender.
    pub fn from(&self) -> Id {
        self.sender.id()
    }

    /// The bytes a link carries for this envelope: its frame's length (for a state snapshot,
    /// whose body is not on the wire yet, the header's frame and the body's estimated size).
    pub fn frame_bytes(&self) -> usize {
        let body = match &self.msg {
            Message::State(snapshot) => snapshot.state_bytes,
            _ => 0,
        };
        self.frame_bytes as usize + body
    }

    /// What the sender signs: `H(Domain::Envelope ‖ sender ‖ to ‖ seq ‖ message)`.
    pub fn digest(&self) -> Hash32 {
        self.digest
    }

    /// Whether the signature is the sender's.
    pub fn verify(&self, verifier: &dyn Verifier) -> Result<(), NodeError> {
        let digest = self.digest();
        verifier
            .verify(&self.sender, &digest.0, &self.sig)
            .map_err(|_| NodeError::BadSignature { kind: self.msg.kind() })
    }
}

/// `H(Domain::Envelope ‖ sender ‖ to ‖ seq ‖ message)` and the message's encoded length.
fn digest_and_len(sender: &PublicKey, to: &To, seq: u64, msg: &Message) -> (Hash32, usize) {
    let mut w = Writer::new();
    w.u8(Domain::Envelope as u8);
    sender.encode(&mut w);
    to.encode(&mut w);
    w.u64(seq);
    let header = w.len();
    msg.encode(&mut w);
    let message_bytes = w.len() - header;
    (hash_encoded(&w.into_bytes()), message_bytes)
}

/// How far a sender's sequence numbers follow its clock: `seq ≥ now_ms << SEQ_CLOCK_SHIFT`, so
/// that a node restarted without its counter still seals numbers above every one it sealed
/// before (it would have to seal 2^20 envelopes in one millisecond to run ahead of its clock).
pub const SEQ_CLOCK_SHIFT: u32 = 20;

/// How many of one sender's latest sequence numbers a receiver remembers: an envelope older
/// than all of them is refused as a replay. Per link, reordering is far below this.
pub(crate) const FENCE_WINDOW: usize = 32;

/// The window at a root committee member (D-045): a leaf member catching up on up to a
/// replication log of cycles (`LOG_CYCLES`, 64) attests each to the chief at once, a burst the
/// network may reorder; twice the log keeps its oldest attestation inside the window. Only the
/// root members pay for it (a client's fences stay small).
pub(crate) const ROOT_FENCE_WINDOW: usize = 128;

/// A node's end of its links: the key it seals with, and what it remembers of each
/// bookkeeper's envelopes.
#[derive(Clone)]
pub(crate) struct Link {
    signer: SharedSigner,
    last_seq: u64,
    /// Boxed: a client is held inline in the simulator's node array, which must stay within
    /// 1 KiB a node (issue 3's goal), and this is touched once per envelope received.
    memory: Box<Memory>,
}

/// What a link remembers of its senders.
#[derive(Clone, Default)]
struct Memory {
    /// One fence per sender the roster lists (so at most the roster's size): clients' own
    /// messages (proposals, submissions) are signed in their bodies and fenced by the payer's
    /// nonce, so they need none here.
    fences: BTreeMap<Id, Fence>,
    /// All false except in tests of the checks (set only under `fault-injection`).
    faults: EnvelopeFaults,
    /// No replay fence (a model checker's abstraction: [`Link::forgo_replay_fence`]).
    unfenced: bool,
    /// How many of each sender's latest envelopes are remembered (0: [`FENCE_WINDOW`]).
    window: usize,
    /// The other Ids it is addressed as: accounts whose keys it holds (D-046).
    also: Vec<Id>,
}

/// The envelope checks a test can switch off (feature `fault-injection`), to show each one
/// is what stops an attack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnvelopeFaults {
    /// Take envelopes whatever their signature.
    pub skip_signature: bool,
    /// Take envelopes already received.
    pub skip_replay_fence: bool,
    /// Take envelopes addressed to another node.
    pub skip_addressee: bool,
    /// Take bookkeepers' messages from nodes the roster does not list.
    pub skip_roster: bool,
}

/// The latest sequence numbers received from one sender.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Fence {
    /// Everything at or below is refused.
    floor: u64,
    /// Received above the floor, ascending; at most the link's window.
    recent: Vec<u64>,
}

impl Fence {
    fn is_fresh(&self, seq: u64) -> bool {
        seq > self.floor && self.recent.binary_search(&seq).is_err()
    }

    fn admit(&mut self, seq: u64, window: usize) {
        let at = self.recent.binary_search(&seq).expect_err("admitted only when fresh");
        self.recent.insert(at, seq);
        if self.recent.len() > window {
            self.floor = self.recent.remove(0);
        }
    }
}

impl Link {
    pub(crate) fn new(signer: SharedSigner) -> Link {
        Link { signer, last_seq: 0, memory: Box::default() }
    }

    /// A root committee member's link: the wider fence of [`ROOT_FENCE_WINDOW`].
    pub(crate) fn for_root_member(signer: SharedSigner) -> Link {
        let mut link = Link::new(signer);
        link.memory.window = ROOT_FENCE_WINDOW;
        link
    }

    pub(crate) fn signer(&self) -> &SharedSigner {
        &self.signer
    }

    /// `msg` sealed for `to` at local time `now_ms`.
    pub(crate) fn seal(&mut self, now_ms: u64, to: To, msg: Message) -> Envelope {
        let seq = (self.last_seq + 1).max(now_ms << SEQ_CLOCK_SHIFT);
        self.last_seq = seq;
        Envelope::seal(self.signer.as_ref(), to, seq, msg)
    }

    /// The checks of D-039, in order: the addressee, the sender's standing, the replay fence,
    /// the signature; only then is the envelope remembered. The sender's Id if it passes.
    pub(crate) fn open(
        &mut self,
        envelope: &Envelope,
        roster: &Roster,
        verifier: &dyn Verifier,
    ) -> Result<Id, NodeError> {
        let kind = envelope.msg.kind();
        self.check_addressee(envelope)?;
        let from = envelope.from();
        let listed = roster.holds_books(&from);
        if !listed && !from_anyone(kind) && !self.skips(|f| f.skip_roster) {
            return Err(NodeError::NotABookkeeper { kind });
        }
        let fenced = listed && !self.memory.unfenced;
        let fence = if fenced { self.memory.fences.get(&from) } else { None };
        if fence.is_some_and(|f| !f.is_fresh(envelope.seq)) && !self.skips(|f| f.skip_replay_fence) {
            return Err(NodeError::Replayed { kind, seq: envelope.seq });
        }
        if !self.skips(|f| f.skip_signature) {
            envelope.verify(verifier)?;
        }
        if fenced {
            let fence = self.memory.fences.entry(from).or_default();
            if fence.is_fresh(envelope.seq) {
                let window = if self.memory.window == 0 { FENCE_WINDOW } else { self.memory.window };
                fence.admit(envelope.seq, window);
            }
        }
        Ok(from)
    }

    /// Take envelopes addressed to `id` as well as to its own Id: an account whose key the
    /// node holds (D-046).
    pub(crate) fn also_addressed_as(&mut self, id: Id) {
        if !self.memory.also.contains(&id) {
            self.memory.also.push(id);
        }
    }

    fn check_addressee(&self, envelope: &Envelope) -> Result<(), NodeError> {
        let kind = envelope.msg.kind();
        let ours = match envelope.to {
            To::Node(id) => id == self.signer.id() || self.memory.also.contains(&id),
            // The chief's broadcasts: its pulse and the proposals a pulse closed (D-050).
            To::Everyone => matches!(kind, MessageKind::Pulse | MessageKind::Closed),
        };
        if ours || self.skips(|f| f.skip_addressee) {
            Ok(())
        } else {
            Err(NodeError::Misaddressed { kind, to: envelope.to })
        }
    }

    fn skips(&self, check: impl Fn(&EnvelopeFaults) -> bool) -> bool {
        check(&self.memory.faults)
    }

    /// Take replays as new envelopes and remember none (see [`crate::node::Node::forgo_replay_fence`]).
    pub(crate) fn forgo_replay_fence(&mut self) {
        self.memory.unfenced = true;
        self.memory.fences.clear();
    }

    /// Switch checks off (tests only).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn inject_faults(&mut self, faults: EnvelopeFaults) {
        self.memory.faults = faults;
    }

    /// Digest of what decides which envelopes this node takes next.
    pub(crate) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        for (id, fence) in &self.memory.fences {
            hasher.update(&id.0);
            hasher.update(&fence.floor.to_le_bytes());
            for seq in &fence.recent {
                hasher.update(&seq.to_le_bytes());
            }
        }
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("last_seq", &self.last_seq)
            .field("fences", &self.memory.fences.len())
            .finish()
    }
}

/// Kinds any node may send: a payer's proposal and a payee's submission carry their own
/// signatures and nonces (SPEC §7.1); a governance request its author's number (D-041).
fn from_anyone(kind: MessageKind) -> bool {
    matches!(kind, MessageKind::Propose | MessageKind::Submit | MessageKind::Gov | MessageKind::ProveAccount)
}
