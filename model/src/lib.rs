//! # model — stateright models of `reference::node::Node`
//!
//! The actors here are thin adapters: every step calls the same `Node::handle_*` a production
//! node or the simulator calls, and turns its `Output`s into stateright sends and timers
//! (DESIGN §1). States are deduplicated by [`Node::fingerprint`]. A [`PaymentModel`] is a few
//! clients paying each other over a network that loses, duplicates and reorders messages,
//! with pulses bounded by [`PaymentModel::max_pulses`]. With [`PaymentModel::grouped`] each
//! client's account lives in its own leaf group whose primary may crash and restart without
//! its unsealed cycle, and every payment crosses groups through the chief (SPEC §7.3, D-023);
//! without, one group keeps every account (the minimal protocol of D-012). With
//! [`PaymentModel::failover`] the payer's group is kept by a primary and a backup that replays
//! its sealed cycles; the primary may crash for good and the chief fails the group over
//! (D-032), and the model checks that the member acting holds every version the chief took.
//!
//! ```
//! use model::PaymentModel;
//! use stateright::{Checker, Model};
//!
//! // A reliable network and one pulse keep this example small; the tests check bigger ones.
//! let cfg = PaymentModel { lossy: false, max_pulses: 1, ..PaymentModel::one_payment() };
//! let checker = cfg.into_model().checker().spawn_bfs().join();
//! checker.assert_properties();
//! ```

pub mod gov_node;
pub mod governance;

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use reference::Prefix;
use reference::crypto::{Hash32, Signer, SimScheme};
use reference::invariants;
use reference::node::{Command, Envelope, Genesis, Node, NodeConfig, Output, Roster, Timer, To};
use stateright::Expectation;
use stateright::actor::{
    Actor, ActorModel, ActorModelState, Id as ActorId, LossyNetwork, Network, Out, model_timeout,
};

/// A node as a model state: equality and hashing by fingerprint (and the crashes it may
/// still suffer).
#[derive(Clone, Debug)]
pub struct NodeState {
    /// The node.
    pub node: Node,
    /// Crashes the model may still inflict on it.
    pub crashes_left: u8,
    /// Crashed for good: it handles nothing more (the failover model's primary).
    pub down: bool,
    /// The fingerprint, computed once per state change rather than on every hash and compare.
    fingerprint: Hash32,
}

impl NodeState {
    pub(crate) fn new(node: Node, crashes_left: u8) -> NodeState {
        let fingerprint = node.fingerprint();
        NodeState { node, crashes_left, down: false, fingerprint }
    }

    pub(crate) fn refresh(&mut self) {
        self.fingerprint = self.node.fingerprint();
    }
}

impl PartialEq for NodeState {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
            && self.crashes_left == other.crashes_left
            && self.down == other.down
    }
}

impl Eq for NodeState {}

impl Hash for NodeState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.fingerprint.hash(state);
        self.crashes_left.hash(state);
        self.down.hash(state);
    }
}

/// A model timer: the node's own, or a crash the model inflicts on a leaf primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelTimer {
    /// A timer the node set.
    Node(Timer),
    /// Crash now and restart without the unsealed cycle (D-011).
    Crash,
}

/// One payment a client asks for at start: `(payee index, amount)`.
pub type Payment = (usize, u64);

/// The configuration of a payment model.
#[derive(Clone, Debug)]
pub struct PaymentModel {
    /// Number of clients (actors `1..=clients`; actor 0 is the bookkeeper).
    pub clients: usize,
    /// The payments each client asks for at start, by client (index 0 = client 1).
    pub payments: Vec<Vec<Payment>>,
    /// Each client's balance at genesis.
    pub initial_balance: u64,
    /// The bookkeeper seals at most this many pulses (the state-space bound).
    pub max_pulses: u64,
    /// Proposals of one transfer before a payer gives up.
    pub max_attempts: u32,
    /// Whether the network may lose messages.
    pub lossy: bool,
    /// Each client in its own leaf group, with its own primary (actors after the clients).
    pub grouped: bool,
    /// Crashes each leaf primary may suffer (grouped models only).
    pub crashes: u8,
    /// Committees and failover (D-032, grouped models): only the payer (client 1) has a leaf
    /// group, kept by a primary and one backup (the last actor); the other clients' accounts
    /// are the root group's, kept by the chief. Only the leaf primary may crash — for good — so
    /// that the chief fails the group over to the backup.
    pub failover: bool,
    /// Term length (SPEC §6.3; `None`: one term): at each multiple the chief re-seats the
    /// payer's committee by the election beacon (D-032).
    pub election_cycle_pulses: Option<u64>,
    /// Deliberately broken ledger behaviour (tests only).
    #[cfg(feature = "fault-injection")]
    pub ledger_faults: reference::ledger::LedgerFaults,
    /// Deliberately broken node behaviour, for the bookkeepers (tests only).
    #[cfg(feature = "fault-injection")]
    pub node_faults: reference::node::NodeFaults,
}

const GENESIS_SUPPLY: u64 = 1_000_000;
const SCHEME_SEED: u64 = 11;
const TIMEOUT_PULSES: u64 = 1;

impl PaymentModel {
    /// The configurations the `model` binary and the tests know by name.
    pub fn named(name: &str) -> Option<PaymentModel> {
        match name {
            "one-payment" => Some(PaymentModel::one_payment()),
            "two-payments" => Some(PaymentModel::two_payments()),
            "cross-group" => Some(PaymentModel::cross_group()),
            "cross-group-crash" => Some(PaymentModel::cross_group_crash()),
            "failover" => Some(PaymentModel::failover()),
            "failover-terms" => Some(PaymentModel::failover_terms()),
            _ => None,
        }
    }

    /// The names [`PaymentModel::named`] knows.
    pub const NAMES: [&'static str; 6] =
        ["one-payment", "two-payments", "cross-group", "cross-group-crash", "failover", "failover-terms"];

    /// [`PaymentModel::failover`] across a term boundary at pulse 2 (SPEC §6.3; model (b)):
    /// the chief re-seats the payer's committee by the beacon — the seat may move without a
    /// crash — while the primary may still crash for good, before or after the boundary.
    pub fn failover_terms() -> PaymentModel {
        PaymentModel { election_cycle_pulses: Some(2), ..PaymentModel::failover() }
    }

    /// [`PaymentModel::cross_group`] over a reliable network, the payer's group kept by a
    /// primary and a backup; the primary may crash for good at any point, and the chief fails
    /// the group over to the backup once its reports are missing (D-032). Five pulses: enough
    /// to fail over and still commit or abort.
    pub fn failover() -> PaymentModel {
        PaymentModel {
            lossy: false,
            failover: true,
            crashes: 1,
            max_pulses: 3,
            ..PaymentModel::cross_group()
        }
    }

    /// Two clients in two leaf groups under the chief; client 1 pays client 2 once over a
    /// lossy, duplicating network; four pulses (enough to match, clear, or time out).
    pub fn cross_group() -> PaymentModel {
        PaymentModel { grouped: true, max_pulses: 3, max_attempts: 1, ..PaymentModel::one_payment() }
    }

    /// [`PaymentModel::cross_group`] over a reliable network whose leaf primaries may each
    /// crash once, losing their unsealed cycle.
    pub fn cross_group_crash() -> PaymentModel {
        PaymentModel { lossy: false, crashes: 1, ..PaymentModel::cross_group() }
    }

    /// Two clients; client 1 pays client 2 twice; a reliable but duplicating network.
    pub fn two_payments() -> PaymentModel {
        PaymentModel {
            payments: vec![vec![(2, 30), (2, 20)], vec![]],
            lossy: false,
            ..PaymentModel::one_payment()
        }
    }

    /// Two clients; client 1 pays client 2 once; a lossy, duplicating network; two pulses.
    pub fn one_payment() -> PaymentModel {
        PaymentModel {
            clients: 2,
            payments: vec![vec![(2, 30)], vec![]],
            initial_balance: 100,
            max_pulses: 2,
            max_attempts: 2,
            lossy: true,
            grouped: false,
            crashes: 0,
            failover: false,
            election_cycle_pulses: None,
            #[cfg(feature = "fault-injection")]
            ledger_faults: reference::ledger::LedgerFaults::default(),
            #[cfg(feature = "fault-injection")]
            node_faults: reference::node::NodeFaults::default(),
        }
    }

    /// Actors: the chief, the clients, then (grouped) one primary per client's group, then
    /// (failover) the payer group's backup.
    fn actor_count(&self) -> usize {
        1 + self.clients + self.leaf_groups() + usize::from(self.failover)
    }

    /// Leaf groups: one per client (grouped), only the payer's (failover), or none.
    fn leaf_groups(&self) -> usize {
        match (self.grouped, self.failover) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => self.clients,
        }
    }

    /// The failover model's backup actor.
    fn backup_index(&self) -> Option<usize> {
        self.failover.then(|| self.clients + 2)
    }

    fn ids(&self) -> Vec<reference::Id> {
        let scheme = SimScheme::new(SCHEME_SEED);
        (0..self.actor_count() as u64).map(|i| scheme.signer(i).id()).collect()
    }

    /// The roster: one group, or one leaf group per client (8-bit prefixes, D-023).
    fn roster(&self, ids: &[reference::Id]) -> Roster {
        if !self.grouped {
            return Roster::single(ids[0]);
        }
        let leaves = (1..=self.leaf_groups()).map(|c| (Prefix::new(ids[c], 8), ids[self.clients + c]));
        let roster = Roster::new(ids[0], leaves).expect("the model's clients have distinct 8-bit prefixes");
        match self.backup_index() {
            Some(backup) => roster
                .with_backups([(Prefix::new(ids[1], 8), vec![ids[backup]])])
                .expect("the backup is a fresh node"),
            None => roster,
        }
    }

    /// What client `payee` is owed in total by the payments of the model.
    pub fn owed_to(&self, payee: usize) -> u64 {
        self.payments.iter().flatten().filter(|(to, _)| *to == payee).map(|(_, amount)| amount).sum()
    }

    /// The stateright model: actors, network, properties and the pulse bound.
    pub fn into_model(self) -> ActorModel<PaymentActor, PaymentModel> {
        let cfg = Arc::new(self.clone());
        let ids = Arc::new(self.ids());
        let roster = Arc::new(self.roster(&ids));
        let actors: Vec<PaymentActor> = (0..self.actor_count())
            .map(|index| PaymentActor {
                index,
                cfg: Arc::clone(&cfg),
                ids: Arc::clone(&ids),
                roster: Arc::clone(&roster),
            })
            .collect();
        let lossy = if self.lossy { LossyNetwork::Yes } else { LossyNetwork::No };
        let (grouped, failover, terms) = (self.grouped, self.failover, self.election_cycle_pulses.is_some());
        let model = ActorModel::new(self, ())
            .actors(actors)
            // Grouped models send several messages per pulse; redelivering each any number of
            // times would make their state spaces unbounded in practice, so duplicates are
            // explored only in the one-group models.
            .init_network(if grouped {
                Network::new_unordered_nonduplicating([])
            } else {
                Network::new_unordered_duplicating([])
            })
            .lossy_network(lossy)
            .property(Expectation::Always, "I1 conservation", |_, state| conserves(state))
            .property(Expectation::Always, "no payee receives more than it was paid", |model, state| {
                paid_at_most_once(&model.cfg, state)
            })
            .property(Expectation::Always, "I4 settled halves balance", |model, state| {
                settled_halves_balance(&model.cfg, state)
            })
            .property(Expectation::Sometimes, "a transfer commits", |model, state| {
                committed(&model.cfg, state)
            })
            .within_boundary(|cfg, state| chief(state).pulse() <= cfg.max_pulses);
        let model = if grouped {
            model.property(Expectation::Sometimes, "a transfer is aborted and reversed", |model, state| {
                aborted(&model.cfg, state)
            })
        } else {
            model
        };
        let model = if failover {
            model
                .property(Expectation::Always, "the acting primary holds the taken state", |model, state| {
                    acting_holds_taken_state(&model.cfg, state)
                })
                .property(Expectation::Sometimes, "the payer's group fails over", |model, state| {
                    failed_over(&model.cfg, state)
                })
                .property(Expectation::Sometimes, "a transfer commits after a failover", |model, state| {
                    failed_over(&model.cfg, state) && committed(&model.cfg, state)
                })
        } else {
            model
        };
        if failover && terms {
            model.property(
                Expectation::Sometimes,
                "a term boundary hands the seat to a live member",
                |model, state| {
                    failed_over(&model.cfg, state) && !state.actor_states[model.cfg.clients + 1].down
                },
            )
        } else {
            model
        }
    }
}

fn chief(state: &ActorModelState<PaymentActor>) -> &Node {
    &state.actor_states[0].node
}

/// Client `c`'s account in the working state of whichever member acts for its group, as the
/// chief sees it.
fn account(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>, c: usize) -> reference::smt::Account {
    // The node's own Id: deriving the keys again for every state checked would cost a hash.
    let id = state.actor_states[c].node.id();
    let keeper = if !cfg.grouped || c > cfg.leaf_groups() {
        0
    } else if failed_over(cfg, state) {
        cfg.backup_index().expect("only the failover model fails over")
    } else {
        cfg.clients + c
    };
    let ledger = state.actor_states[keeper].node.ledger().expect("a bookkeeper");
    ledger.account(&id).unwrap_or_default()
}

/// I1 on the chief's root (SPEC §13, D-023).
fn conserves(state: &ActorModelState<PaymentActor>) -> bool {
    let chief = chief(state);
    chief.root().is_some_and(|root| invariants::root_conservation(&root, GENESIS_SUPPLY).is_ok())
}

/// I5 as a state predicate: every payee's balance is at most its genesis balance plus what the
/// model's payers asked to pay it. Applying one transfer twice breaks it.
fn paid_at_most_once(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    (1..=cfg.clients).all(|c| account(cfg, state, c).balance <= cfg.initial_balance + cfg.owed_to(c))
}

/// I4's safety as a state predicate: once no half pends anywhere, every transfer was either
/// cleared at both sides or reversed at both, so the clients' balances sum to their genesis
/// sum. A transfer cleared at one side and reversed at the other creates or destroys money.
fn settled_halves_balance(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    let accounts: Vec<_> = (1..=cfg.clients).map(|c| account(cfg, state, c)).collect();
    if accounts.iter().any(|a| a.pending_in > 0 || a.pending_out > 0) {
        return true;
    }
    accounts.iter().map(|a| a.balance).sum::<u64>() == cfg.initial_balance * cfg.clients as u64
}

/// Some payer's transfer is in a root the chief built: its nonce moved and no half pends.
fn committed(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    (1..=cfg.clients).any(|c| {
        let a = account(cfg, state, c);
        a.nonce > 0 && a.pending_out == 0 && a.balance < cfg.initial_balance
    })
}

/// The chief made the payer group's backup its primary.
fn failed_over(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    if !cfg.failover {
        return false;
    }
    let payer = state.actor_states[1].node.id();
    chief(state).view_of(&Prefix::new(payer, 8)).is_some_and(|(view, _)| view > 0)
}

/// Failover safety (D-032): the member the chief has acting for the payer's group — crashed
/// or not — holds the version of the group's report the chief took, with the same synopsis.
/// A successor without it would lose what the root already covers.
fn acting_holds_taken_state(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    let group = Prefix::new(state.actor_states[1].node.id(), 8);
    let Some(taken) = chief(state).arbiter().and_then(|a| a.held_report(&group)) else { return true };
    let keeper =
        if failed_over(cfg, state) { cfg.backup_index().expect("failover model") } else { cfg.clients + 1 };
    let ledger = state.actor_states[keeper].node.ledger().expect("a bookkeeper");
    ledger.tree().root(taken.entry.version).is_ok_and(|root| root.synopsis == taken.entry.synopsis)
}

/// The chief aborted a transfer, and every half is settled since.
fn aborted(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    let settled = (1..=cfg.clients).all(|c| {
        let a = account(cfg, state, c);
        a.pending_in == 0 && a.pending_out == 0
    });
    settled && chief(state).arbiter().is_some_and(|a| a.aborted_total() > 0)
}

/// The sequence number of every envelope the model seals.
pub const MODEL_SEQ: u64 = 1;

/// `msg` for `to`, signed by `node`'s key with [`MODEL_SEQ`].
fn seal(node: &Node, to: To, msg: reference::node::Message) -> Envelope {
    Envelope::seal(node.signer().as_ref(), to, MODEL_SEQ, msg)
}

/// The actor for node `index` of a [`PaymentModel`].
#[derive(Clone, Debug)]
pub struct PaymentActor {
    /// The node's index (its stateright actor id).
    pub index: usize,
    cfg: Arc<PaymentModel>,
    ids: Arc<Vec<reference::Id>>,
    roster: Arc<Roster>,
}

impl PaymentActor {
    fn build(&self) -> Node {
        let cfg = &self.cfg;
        let scheme = SimScheme::new(SCHEME_SEED);
        let config = NodeConfig {
            pulse_ms: 1000,
            retry_ms: 3000,
            max_attempts: cfg.max_attempts,
            transfer_timeout_pulses: TIMEOUT_PULSES,
            roster: Arc::clone(&self.roster),
            bookkeeper_deposit: None,
            failover_timeout_pulses: 1,
            election_cycle_pulses: cfg.election_cycle_pulses,
            election_pool_factor: 2,
            bookkeeper_deposit_min: 0,
            governance: Default::default(),
        };
        let verifier = Arc::new(scheme.clone());
        let signer = Arc::new(scheme.signer(self.index as u64));
        debug_assert_eq!(signer.id(), self.ids[self.index], "the actor's Id is its key's");
        if (1..=cfg.clients).contains(&self.index) {
            let mut node = Node::client(signer, verifier, config);
            // See below: the model keeps every behaviour without the fence (D-039).
            node.forgo_replay_fence();
            return node;
        }
        let distribution: Vec<_> =
            self.ids[1..=cfg.clients].iter().map(|id| (*id, cfg.initial_balance)).collect();
        let organization = scheme.signer(u64::MAX).id();
        let genesis =
            Genesis::split(&self.roster, organization, GENESIS_SUPPLY, &distribution, TIMEOUT_PULSES)
                .expect("the model's genesis is valid");
        let group = match self.index {
            0 => 0,
            // The backup starts from its group's genesis share, as its primary does.
            index if Some(index) == cfg.backup_index() => 1,
            index => index - cfg.clients,
        };
        #[allow(unused_mut)] // mutated only with fault injection
        let mut node = match genesis.ledgers.into_iter().nth(group) {
            Some((_, ledger)) if self.index == 0 => {
                Node::chief(signer, ledger, genesis.arbiter, verifier, config)
            }
            Some((_, ledger)) => Node::bookkeeper(signer, ledger, verifier, config),
            None => unreachable!("one ledger per group"),
        };
        // The model's network loses and duplicates anything, so a refused replay is a loss it
        // explores anyway: without the fence the model keeps every behaviour (D-039).
        node.forgo_replay_fence();
        #[cfg(feature = "fault-injection")]
        {
            node.inject_ledger_faults(cfg.ledger_faults);
            node.inject_faults(cfg.node_faults);
        }
        node
    }

    /// Whether the model may crash this actor: grouped leaf primaries only (in the failover
    /// model only the payer group's primary).
    fn crashes(&self) -> u8 {
        let primary =
            self.cfg.grouped && self.index > self.cfg.clients && Some(self.index) != self.cfg.backup_index();
        if primary { self.cfg.crashes } else { 0 }
    }

    /// Turn the node's outputs into stateright effects, each message sealed in its envelope
    /// with the one sequence number [`MODEL_SEQ`] (the nodes keep no replay fence, so the
    /// number means nothing, and a message sent twice stays one envelope; D-039). Time does
    /// not exist in the model: every timer may fire at any point, and
    /// stateright explores each order.
    fn emit(&self, node: &Node, outputs: Vec<Output>, o: &mut Out<Self>) {
        for output in outputs {
            match output {
                Output::Send { to, msg } => {
                    if let Some(index) = self.ids.iter().position(|id| *id == to) {
                        o.send(ActorId::from(index), seal(node, To::Node(to), msg));
                    }
                }
                // Grouped models leave the chief's pulse broadcast out: clients learn roots from
                // their commits, and four more deliveries per pulse in every order would swamp
                // the state space. The broadcast's I6/I7 are checked by the simulator.
                Output::Broadcast { .. } if self.cfg.grouped => {}
                Output::Broadcast { msg } => {
                    let peers: Vec<ActorId> =
                        (0..self.ids.len()).filter(|i| *i != self.index).map(ActorId::from).collect();
                    o.broadcast(&peers, &seal(node, To::Everyone, msg));
                }
                Output::SetTimer { timer, .. } => o.set_timer(ModelTimer::Node(timer), model_timeout()),
                Output::Event(_) => {}
            }
        }
    }

    fn index_of(&self, id: ActorId) -> usize {
        usize::from(id)
    }
}

impl Actor for PaymentActor {
    type Msg = Envelope;
    type Timer = ModelTimer;
    type State = NodeState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, _id: ActorId, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        let mut node = self.build();
        let mut out = Vec::new();
        node.start(0, &mut out);
        if (1..=self.cfg.clients).contains(&self.index) {
            for (tag, (payee, amount)) in self.cfg.payments[self.index - 1].iter().enumerate() {
                let command = Command::Transfer { to: self.ids[*payee], amount: *amount, tag: tag as u64 };
                node.handle_command(0, command, &mut out);
            }
        }
        let crashes_left = self.crashes();
        if crashes_left > 0 {
            o.set_timer(ModelTimer::Crash, model_timeout());
        }
        self.emit(&node, out, o);
        NodeState::new(node, crashes_left)
    }

    fn on_msg(
        &self,
        _id: ActorId,
        state: &mut Cow<NodeState>,
        src: ActorId,
        envelope: Envelope,
        o: &mut Out<Self>,
    ) {
        if state.down {
            return;
        }
        debug_assert_eq!(envelope.from(), self.ids[self.index_of(src)], "honest actors sign as themselves");
        let mut out = Vec::new();
        let state = state.to_mut();
        state.node.handle_message(0, &envelope, &mut out);
        self.emit(&state.node, out, o);
        state.refresh();
    }

    fn on_timeout(&self, _id: ActorId, state: &mut Cow<NodeState>, timer: &ModelTimer, o: &mut Out<Self>) {
        if state.down {
            return;
        }
        let mut out = Vec::new();
        let state = state.to_mut();
        match timer {
            ModelTimer::Node(timer) => state.node.handle_timer(0, *timer, &mut out),
            ModelTimer::Crash if self.cfg.failover => {
                state.down = true;
                state.crashes_left = 0;
            }
            ModelTimer::Crash => {
                state.node.restart(0, false, &mut out);
                state.crashes_left -= 1;
                if state.crashes_left > 0 {
                    o.set_timer(ModelTimer::Crash, model_timeout());
                }
            }
        }
        self.emit(&state.node, out, o);
        state.refresh();
    }
}
