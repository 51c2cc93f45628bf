//! A group's primary bookkeeper (SPEC §6.2, §7.3; D-023). It keeps the ledger of its group's
//! accounts: a transfer between two of them applies at once; a transfer to another group is
//! applied as a debit half here and a credit half at the payee's group. On every `Settle` from
//! the chief it carries out the chief's orders (clear or reverse halves), tells parties whose
//! transfer a root now covers, seals, and reports its synopsis and pending halves upward. The
//! root group's primary — the chief — does the same on its own pulse timer and also runs the
//! [`Arbiter`] that matches halves and builds the root.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::consensus::capacity::Capacity;
use crate::consensus::root::GroupPath;
use crate::consensus::settlement::Arbiter;
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};
use crate::ledger::{Applied, Half, Ledger, LedgerError, Settlement, SignedTx, Tx};
use crate::smt::{RootSynopsis, Version};

mod books;
mod chief;
mod faults;
mod governance;
mod leaf_committee;
mod proofs;
mod registry;
mod replication;
mod root_committee;
mod snapshot;
mod state_transfer;
mod terms;

pub use proofs::PROVEN_PULSES;
pub(in crate::node) use snapshot::Snapshot;

use super::envelope::Link;
use super::roster::{Seating, ViewEntry, Views};
use super::{
    Envelope, Message, NodeConfig, NodeError, NodeEvent, Output, SharedSigner, SharedVerifier, Timer, To,
};
use chief::ChiefCommittees;
use registry::Registry;
pub use registry::{ClosedProposal, GOV_WINDOW};
use replication::Replication;
pub(in crate::node) use replication::report_digest;
use root_committee::RootCommittee;

/// What the guard pass decided about a message.
enum Admitted {
    /// Handle it now.
    Now,
    /// It waits for the acting chief's closed cycle (D-033).
    Buffered,
}

/// A half applied here and not yet settled.
#[derive(Clone, Copy, Debug)]
struct OpenHalf {
    half: Half,
    signed: SignedTx,
    counterpart: Prefix,
    /// The version that sealed it (`None` while in the unsealed cycle).
    sealed_in: Option<Version>,
}

/// A party to tell, once a root covers `version`, that transfer `tx_id` is committed.
#[derive(Clone, Copy, Debug)]
struct Notice {
    version: Version,
    tx_id: Hash32,
    party: Id,
}

/// The books of one group and what every member of its committee knows: the state that
/// every role reads and the transfer flow changes.
#[derive(Clone)]
pub(super) struct Books {
    id: Id,
    group: Prefix,
    ledger: Ledger,
    verifier: SharedVerifier,
    config: NodeConfig,
    pulse: u64,
    /// The newest root received (the chief's own for the chief) and this group's path in it.
    root: Option<(RootSynopsis, GroupPath)>,
    /// The roots of the latest settled pulses, to prove accounts under (D-049). Derived from
    /// the settles and left out of the fingerprint: answering a proof request changes nothing.
    proven: proofs::ProvenRoots,
    /// Each payer's latest sealed transfer `(nonce, id)`, so that a retried submission of a
    /// transfer already committed is answered with its commit again instead of a nonce error.
    last_sealed: FxHashMap<Id, (u64, Hash32)>,
    /// Ids of the transfers applied in the current cycle; they are announced after the seal.
    unsealed_ids: FxHashSet<Hash32>,
    /// Cross-group halves applied here and not settled, by transfer id.
    open: BTreeMap<Hash32, OpenHalf>,
    /// Settled or refused credit halves → the transfer's `created_pulse`, so that a duplicated
    /// credit half is not applied again; forgotten once older than the credit horizon.
    closed_credits: BTreeMap<Hash32, u64>,
    notices: Vec<Notice>,
    /// This cycle's credits and settlements, for the `Sealed` event.
    credited: Vec<Applied>,
    settled: Vec<(Hash32, Half, Settlement)>,
    /// Settlements carried out since the last seal, with their transfers. Only the chief has
    /// any between calls: it carries out its own group's orders after sealing, so a restart
    /// without the unsealed cycle must carry them out again — the arbiter counts them done.
    unsealed_settlements: Vec<(Hash32, Half, Tx, Settlement)>,
    /// A candidate without a seat (a standby, or a member the last election left out) gets no
    /// `Settle`: it follows the root in the chief's pulses, as a client does (D-035).
    heard_root: Option<RootSynopsis>,
    /// The view and seating lists of the last pulse: the chief's as it sent them, any other
    /// node's as it learnt them. The chief resends the same lists until they change, so a
    /// node that holds them skips them (every node hears every pulse; comparing the lists
    /// entry by entry cost more than the rest of the pulse).
    announced: Announced,
    /// This version's capacity (SPEC §6.5), when the primary has a bounded deposit.
    capacity: Option<Capacity>,
    /// Submissions that did not fit this version's capacity, in arrival order: they wait for
    /// the next version (D-031).
    deferred: VecDeque<SignedTx>,
    /// Whether this member acts as its group's primary; a backup replays instead (D-032).
    acting: bool,
    /// The group views this node knows of (authoritative at the chief).
    views: Views,
    /// A leaf committee member's replication log, when the group has backups (D-032). A
    /// root member's is its co-signing state's: [`Bookkeeper::log`] finds either.
    replica: Option<Box<Replication>>,
    /// True only while a backup replays a cycle, whose outputs are dropped: work that only
    /// builds outputs (commit proofs) is skipped. Never true between calls.
    replaying: bool,
    #[cfg(feature = "fault-injection")]
    faults: super::NodeFaults,
}
/// A bookkeeper: the books of its group and what its role adds.
#[derive(Clone)]
pub struct Bookkeeper {
    /// The group's books and what every member knows.
    books: Books,
    /// What its role adds.
    role: Role,
    /// Its key and what it remembers of its peers' envelopes (D-039).
    link: Link,
}

/// What a bookkeeper does beside keeping its group's books. A handler that belongs to one role
/// takes that role's state, so it cannot be called where the role does not exist.
#[derive(Clone, Debug)]
enum Role {
    /// A leaf group's primary, one of its backups, or a standby of its pool (D-032, D-035).
    Leaf,
    /// A member of the root committee: the chief while it acts, a root backup otherwise. Both
    /// hold the arbiter: a backup replays the chief's cycles through the same code (D-033).
    Root(Box<Root>),
}

/// The chief's state (SPEC §6.2, §7.3): the arbiter and the committees' attestations.
#[derive(Clone, Debug)]
struct Chief {
    /// Matches halves, builds the root and issues the groups' orders (SPEC §7.3).
    arbiter: Arbiter,
    /// Attestations and failover bookkeeping: empty unless the roster runs committees.
    committees: ChiefCommittees,
    /// The organizations (D-041): replicated with the rest of the chief's state.
    registry: Registry,
}

impl Role {
    /// The root member's state, if this is one.
    fn root(&self) -> Option<&Root> {
        match self {
            Role::Root(root) => Some(root),
            Role::Leaf => None,
        }
    }

    /// The root member's state, if this is one.
    fn root_mut(&mut self) -> Option<&mut Root> {
        match self {
            Role::Root(root) => Some(root),
            Role::Leaf => None,
        }
    }

    /// The co-signing state, if this is a member of a root committee with backups.
    fn cosigning(&self) -> Option<&RootCommittee> {
        self.root().and_then(|root| root.cosigning.as_deref())
    }

    /// The co-signing state, if this is a member of a root committee with backups.
    fn cosigning_mut(&mut self) -> Option<&mut RootCommittee> {
        self.root_mut().and_then(|root| root.cosigning.as_deref_mut())
    }

    fn is_root(&self) -> bool {
        matches!(self, Role::Root(_))
    }
}

/// A root committee member's own state: the chief's, which a root backup rebuilds by replay,
/// and its part in co-signing.
#[derive(Clone, Debug)]
struct Root {
    /// The chief's state.
    chief: Chief,
    /// Co-signing of the chief's pulses and its election, when the root group has backups
    /// (D-033).
    cosigning: Option<Box<RootCommittee>>,
}

impl Bookkeeper {
    pub(super) fn new(
        signer: SharedSigner,
        ledger: Ledger,
        verifier: SharedVerifier,
        config: NodeConfig,
        chief: Option<Arbiter>,
    ) -> Bookkeeper {
        let id = signer.id();
        let roster = &config.roster;
        let group =
            if chief.is_some() { Prefix::ROOT } else { roster.seat_of(&id).unwrap_or(roster.group_of(&id)) };
        let root = chief.as_ref().and_then(|a| a.path(&group).map(|p| (a.root(), p)));
        let capacity = config.bookkeeper_deposit.map(Capacity::new);
        // A root committee member is built with an arbiter like the chief: it replays the
        // chief's cycles through the same code (D-033).
        let acting = roster.primary(&group) == id;
        assert!(
            chief.is_some() || group != Prefix::ROOT,
            "a root committee member is built with the arbiter"
        );
        // A committee's log: a leaf member's in its books, a root member's in its co-signing
        // state (which exists exactly where the root group has backups).
        let has_backups = !roster.backups(&group).is_empty();
        let replica = (group != Prefix::ROOT && has_backups).then(Box::default);
        let cosigning = (group == Prefix::ROOT && has_backups).then(Box::default);
        let books = Books {
            id,
            group,
            ledger,
            verifier,
            config,
            pulse: 0,
            root,
            proven: proofs::ProvenRoots::default(),
            last_sealed: FxHashMap::default(),
            unsealed_ids: FxHashSet::default(),
            open: BTreeMap::new(),
            closed_credits: BTreeMap::new(),
            notices: Vec::new(),
            credited: Vec::new(),
            settled: Vec::new(),
            unsealed_settlements: Vec::new(),
            heard_root: None,
            announced: Announced::default(),
            capacity,
            deferred: VecDeque::new(),
            acting,
            views: Views::default(),
            replica,
            replaying: false,
            #[cfg(feature = "fault-injection")]
            faults: super::NodeFaults::default(),
        };
        let link = if chief.is_some() { Link::for_root_member(signer) } else { Link::new(signer) };
        let role = match chief {
            Some(arbiter) => Role::Root(Box::new(Root {
                chief: Chief {
                    arbiter,
                    committees: ChiefCommittees::default(),
                    registry: Registry::default(),
                },
                cosigning,
            })),
            None => Role::Leaf,
        };
        Bookkeeper { books, role, link }
    }

    /// The newest organization root this node holds.
    pub(super) fn root(&self) -> Option<RootSynopsis> {
        self.books.root()
    }

    pub(super) fn id(&self) -> Id {
        self.books.id
    }

    pub(super) fn pulse(&self) -> u64 {
        self.books.pulse
    }

    pub(super) fn ledger(&self) -> &Ledger {
        &self.books.ledger
    }

    /// The group this bookkeeper keeps.
    pub(super) fn group(&self) -> Prefix {
        self.books.group
    }

    /// The chief's arbiter, if this is the chief.
    pub(super) fn arbiter(&self) -> Option<&Arbiter> {
        match &self.role {
            Role::Root(root) => Some(&root.chief.arbiter),
            Role::Leaf => None,
        }
    }

    /// The organizations, if this is a root committee member (D-041).
    pub(super) fn registry(&self) -> Option<&Registry> {
        self.role.root().map(|root| &root.chief.registry)
    }

    /// Break every organization's tally (tests only).
    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_org_faults(&mut self, faults: crate::org::OrgFaults) {
        if let Some(root) = self.role.root_mut() {
            root.chief.registry.inject_faults(faults);
        }
    }

    /// The committee of `group` as this node knows it.
    pub(super) fn committee_of(&self, group: &Prefix) -> Vec<Id> {
        self.books.views.committee(&self.books.config.roster, group)
    }

    /// This node's view of `group`.
    pub(super) fn view_of(&self, group: &Prefix) -> (u32, Id) {
        self.books.views.acting(&self.books.config.roster, group)
    }

    /// Everything that determines what the bookkeeper does next.
    /// Switch envelope checks off (tests only).
    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_envelope_faults(&mut self, faults: super::EnvelopeFaults) {
        self.link.inject_faults(faults);
    }

    pub(super) fn fingerprint(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        self.books.hash_books(&mut hasher);
        if let Some(arbiter) = self.arbiter() {
            hasher.update(&arbiter.fingerprint().0);
        }
        // Without organizations the fingerprint is the one it was before they existed.
        if let Some(registry) = self.registry().filter(|r| !r.is_empty()) {
            hasher.update(&registry.digest().0);
        }
        self.books.hash_capacity(&mut hasher);
        // Only a roster with committees has views, replication and attestations; the others
        // keep the fingerprint they had before committees existed.
        if self.books.config.roster.has_committees() {
            self.books.hash_views(&mut hasher);
            if let Some(replica) = self.log() {
                replica.fingerprint(&mut hasher);
            }
            if let Role::Root(root) = &self.role {
                root.chief.committees.fingerprint(&mut hasher);
                if let Some(cosigning) = &root.cosigning {
                    cosigning.fingerprint(&mut hasher);
                }
            }
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    pub(super) fn start(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        if matches!(self.role, Role::Root(_)) {
            out.push(Output::SetTimer {
                at_ms: now_ms.saturating_add(self.books.config.pulse_ms),
                timer: Timer::Pulse,
            });
        }
    }

    /// Sealed versions are durable (SPEC §5.2: data becomes read-only at the pulse); the
    /// unsealed cycle survives only a durable restart (D-011). Halves applied in a lost cycle
    /// are forgotten with it: the chief never saw them, so no order names them.
    pub(super) fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        if !durable {
            self.drop_unsealed();
        }
        self.start(now_ms, out);
    }

    /// `msg` sealed for `to` at local time `now_ms` (D-039).
    pub(super) fn forgo_replay_fence(&mut self) {
        self.link.forgo_replay_fence();
    }

    pub(super) fn signer(&self) -> &SharedSigner {
        self.link.signer()
    }

    pub(super) fn seal(&mut self, now_ms: u64, to: To, msg: Message) -> Envelope {
        self.link.seal(now_ms, to, msg)
    }

    /// `account`'s balance under the root of `pulse` (D-049), if this member can tell.
    pub(super) fn balance_under(&self, pulse: u64, account: &Id) -> Option<u64> {
        self.books.balance_under(pulse, account)
    }

    /// An envelope arrived: the envelope checks (D-039), then the message.
    pub(super) fn handle_message(&mut self, envelope: &Envelope, out: &mut Vec<Output>) {
        let books = &self.books;
        match self.link.open(envelope, &books.config.roster, books.verifier.as_ref()) {
            Ok(from) => self.handle_opened(from, envelope, out),
            Err(error) => out.push(Output::Event(NodeEvent::BadMessage { from: envelope.from(), error })),
        }
    }

    /// A message from `from` whose envelope passed: one guard pass, then exactly one handler
    /// per message kind.
    fn handle_opened(&mut self, from: Id, envelope: &Envelope, out: &mut Vec<Output>) {
        let result = match self.admit(from, envelope) {
            Ok(Admitted::Now) => self.dispatch(from, envelope, out),
            Ok(Admitted::Buffered) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            out.push(Output::Event(NodeEvent::BadMessage { from, error }));
        }
    }

    /// The guard pass: whether `msg` is handled now, waits for the acting chief's closed cycle,
    /// or is refused before any handler sees it.
    fn admit(&mut self, from: Id, envelope: &Envelope) -> Result<Admitted, NodeError> {
        let msg = &envelope.msg;
        let transfer = matches!(msg, Message::Submit(_) | Message::CreditHalf(_));
        if transfer && !self.books.acting {
            return Err(self.books.not_acting());
        }
        let governance = matches!(msg, Message::Gov(_));
        if governance && !self.role.is_root() {
            return Err(NodeError::UnexpectedMessage { role: "leaf bookkeeper", kind: msg.kind() });
        }
        if governance && !self.books.acting {
            return Err(self.books.not_acting());
        }
        let for_the_chief = governance || matches!(msg, Message::GroupSeal(_) | Message::Attest { .. });
        if (transfer || for_the_chief)
            && let Some(cosigning) = self.role.cosigning_mut().filter(|c| c.pending.is_some())
        {
            // The cycle waits for co-signatures: the next one's inputs wait for it (D-033).
            cosigning.buffered.push((from, envelope.clone()));
            return Ok(Admitted::Buffered);
        }
        if for_the_chief && !governance && self.is_root_backup() {
            return Err(self.books.not_acting());
        }
        if let Message::Pulse { views, .. } = msg
            && !self.books.views.is_chief_pulse(&self.books.config.roster, &from, views)
        {
            return Err(NodeError::UnexpectedMessage { role: "bookkeeper", kind: msg.kind() });
        }
        Ok(Admitted::Now)
    }

    /// One handler per message kind.
    fn dispatch(&mut self, from: Id, envelope: &Envelope, out: &mut Vec<Output>) -> Result<(), NodeError> {
        let msg = &envelope.msg;
        match msg {
            Message::Submit(signed) => {
                self.record(envelope);
                self.books.on_submit(signed, out);
                Ok(())
            }
            Message::CreditHalf(signed) => {
                self.record(envelope);
                self.books.on_credit_half(from, signed)
            }
            Message::Settle(settle) => self.on_direct_settle(from, settle, envelope, out),
            Message::GroupSeal(report) => {
                self.record_at_chief(envelope);
                self.in_cycle(out, |node, out| node.on_group_seal(from, report, out))
            }
            Message::Attest { report, view } => {
                self.record_at_chief(envelope);
                self.in_cycle(out, |node, out| node.on_attest(from, report, *view, out))
            }
            Message::Gov(request) => {
                self.record_at_chief(envelope);
                self.in_cycle(out, |node, out| {
                    node.on_gov(from, request, out);
                    Ok(())
                })
            }
            Message::Replicate(batch) => self.on_replicate(from, batch, out),
            Message::StateRequest { group } => self.on_state_request(from, *group, out),
            Message::State(snapshot) => self.on_state(from, snapshot, out),
            Message::CoSign { pulse, view, digest } => self.on_cosign(from, *pulse, *view, *digest, out),
            Message::ViewChange { view, pulse } => self.on_view_change(from, *view, *pulse, out),
            Message::Pulse { pulse, views, seatings, root } => {
                self.on_pulse(from, *pulse, (views, seatings), root, out);
                Ok(())
            }
            Message::ProveAccount { account, pulse } => {
                self.books.on_prove_account(from, *account, *pulse, out);
                Ok(())
            }
            // Every node hears the chief's announcements; a bookkeeper's users are elsewhere.
            Message::Closed { .. } => Ok(()),
            Message::Propose { .. }
            | Message::Committed { .. }
            | Message::Rejected { .. }
            | Message::AccountAt { .. }
            | Message::GovOutcome { .. } => {
                Err(NodeError::UnexpectedMessage { role: "bookkeeper", kind: msg.kind() })
            }
        }
    }

    /// The chief's pulse broadcast, which every node hears: a bookkeeper follows `Settle` for
    /// the pulse and learns the groups' views and seatings from it.
    fn on_pulse(
        &mut self,
        _from: Id,
        pulse: u64,
        (views, seatings): (&Arc<[ViewEntry]>, &Arc<[Seating]>),
        root: &RootSynopsis,
        out: &mut Vec<Output>,
    ) {
        self.heard_chief(Some(pulse));
        if !self.books.announced.holds(views, seatings) {
            self.learn_seatings(seatings, out);
            self.learn_views(views, out);
            self.books.announced = Announced { views: Arc::clone(views), seatings: Arc::clone(seatings) };
        }
        self.hear_root(root);
    }

    pub(super) fn handle_timer(&mut self, now_ms: u64, timer: Timer, out: &mut Vec<Output>) {
        if timer == Timer::Pulse
            && let Role::Root(root) = &mut self.role
        {
            if self.books.acting {
                let tick = root.on_pulse_timer(&mut self.books, out);
                self.after_pulse_timer(tick, out);
            } else {
                if let Some(cosigning) = root.cosigning.as_deref_mut() {
                    cosigning.watch_chief(&mut self.books, out);
                }
            }
            out.push(Output::SetTimer {
                at_ms: now_ms.saturating_add(self.books.config.pulse_ms),
                timer: Timer::Pulse,
            });
        }
    }
}

/// The lists a chief's pulse carries, shared between the chief and every receiver.
#[derive(Clone, Debug, Default)]
pub(super) struct Announced {
    pub views: Arc<[ViewEntry]>,
    pub seatings: Arc<[Seating]>,
}

impl Announced {
    /// Whether these are the very lists held (the same allocation: learnt already).
    pub fn holds(&self, views: &Arc<[ViewEntry]>, seatings: &Arc<[Seating]>) -> bool {
        Arc::ptr_eq(&self.views, views) && Arc::ptr_eq(&self.seatings, seatings)
    }
}

/// A replay refuses what the primary refused when the input arrived: the refusal goes with the
/// replay's other outputs, which are dropped (the primary reported it).
fn refused(out: &mut Vec<Output>, from: Id, result: Result<(), NodeError>) {
    if let Err(error) = result {
        out.push(Output::Event(NodeEvent::BadMessage { from, error }));
    }
}

fn reject(signed: &SignedTx, tx_id: Hash32, error: LedgerError) -> Output {
    Output::Send { to: signed.tx.from, msg: Message::Rejected { tx_id, error } }
}

impl std::fmt::Debug for Bookkeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bookkeeper")
            .field("id", &self.books.id)
            .field("group", &self.books.group)
            .field("pulse", &self.books.pulse)
            .finish_non_exhaustive()
    }
}
