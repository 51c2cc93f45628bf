//! # model — stateright models of `reference::node::Node`
//!
//! The actors here are thin adapters: every step calls the same `Node::handle_*` a production
//! node or the simulator calls, and turns its `Output`s into stateright sends and timers
//! (DESIGN §1). States are deduplicated by [`Node::fingerprint`]. The first model covers the
//! minimal pulse protocol (docs/decisions.md D-012): one bookkeeper and a few clients, a
//! network that loses, duplicates and reorders messages, pulses bounded by
//! [`PaymentModel::max_pulses`].
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

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use reference::crypto::{Signer, SimScheme};
use reference::invariants;
use reference::ledger::Ledger;
use reference::node::{Command, Message, Node, NodeConfig, Output, Timer};
use stateright::Expectation;
use stateright::actor::{
    Actor, ActorModel, ActorModelState, Id as ActorId, LossyNetwork, Network, Out, model_timeout,
};

/// A node as a model state: equality and hashing by fingerprint.
#[derive(Clone, Debug)]
pub struct NodeState(pub Node);

impl PartialEq for NodeState {
    fn eq(&self, other: &Self) -> bool {
        self.0.fingerprint() == other.0.fingerprint()
    }
}

impl Eq for NodeState {}

impl Hash for NodeState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.fingerprint().hash(state);
    }
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
    /// Deliberately broken ledger behaviour (tests only).
    #[cfg(feature = "fault-injection")]
    pub ledger_faults: reference::ledger::LedgerFaults,
}

const GENESIS_SUPPLY: u64 = 1_000_000;
const SCHEME_SEED: u64 = 11;

impl PaymentModel {
    /// The configurations the `model` binary and the tests know by name.
    pub fn named(name: &str) -> Option<PaymentModel> {
        match name {
            "one-payment" => Some(PaymentModel::one_payment()),
            "two-payments" => Some(PaymentModel::two_payments()),
            _ => None,
        }
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
            #[cfg(feature = "fault-injection")]
            ledger_faults: reference::ledger::LedgerFaults::default(),
        }
    }

    fn ids(&self) -> Vec<reference::Id> {
        let scheme = SimScheme::new(SCHEME_SEED);
        (0..=self.clients as u64).map(|i| scheme.signer(i).id()).collect()
    }

    /// What client `payee` is owed in total by the payments of the model.
    pub fn owed_to(&self, payee: usize) -> u64 {
        self.payments.iter().flatten().filter(|(to, _)| *to == payee).map(|(_, amount)| amount).sum()
    }

    /// The stateright model: actors, network, properties and the pulse bound.
    pub fn into_model(self) -> ActorModel<PaymentActor, PaymentModel> {
        let cfg = Arc::new(self.clone());
        let ids = Arc::new(self.ids());
        let actors: Vec<PaymentActor> = (0..=self.clients)
            .map(|index| PaymentActor { index, cfg: Arc::clone(&cfg), ids: Arc::clone(&ids) })
            .collect();
        let lossy = if self.lossy { LossyNetwork::Yes } else { LossyNetwork::No };
        ActorModel::new(self, ())
            .actors(actors)
            .init_network(Network::new_unordered_duplicating([]))
            .lossy_network(lossy)
            .property(Expectation::Always, "I1 conservation", |_, state| conserves(state))
            .property(Expectation::Always, "no payee receives more than it was paid", |model, state| {
                paid_at_most_once(&model.cfg, state)
            })
            .property(Expectation::Sometimes, "a transfer commits", |_, state| committed(state))
            .within_boundary(|cfg, state| bookkeeper(state).pulse() <= cfg.max_pulses)
    }
}

fn bookkeeper(state: &ActorModelState<PaymentActor>) -> &Node {
    &state.actor_states[0].0
}

fn ledger(state: &ActorModelState<PaymentActor>) -> &Ledger {
    bookkeeper(state).ledger().expect("actor 0 is the bookkeeper")
}

fn conserves(state: &ActorModelState<PaymentActor>) -> bool {
    let ledger = ledger(state);
    invariants::conservation(ledger.tree(), ledger.tree().latest_version(), GENESIS_SUPPLY).is_ok()
}

/// I5 as a state predicate: every payee's balance is at most its genesis balance plus what the
/// model's payers asked to pay it. Applying one transfer twice breaks it.
fn paid_at_most_once(cfg: &PaymentModel, state: &ActorModelState<PaymentActor>) -> bool {
    let ledger = ledger(state);
    (1..=cfg.clients).all(|payee| {
        // The node's own Id: deriving the keys again for every state checked would cost a
        // hash per client per state.
        let id = state.actor_states[payee].0.id();
        let balance = ledger.account(&id).map_or(0, |a| a.balance);
        balance <= cfg.initial_balance + cfg.owed_to(payee)
    })
}

fn committed(state: &ActorModelState<PaymentActor>) -> bool {
    let ledger = ledger(state);
    ledger
        .tree()
        .iter(ledger.tree().latest_version())
        .is_ok_and(|mut accounts| accounts.any(|(_, a)| a.nonce > 0))
}

/// The actor for node `index` of a [`PaymentModel`].
#[derive(Clone, Debug)]
pub struct PaymentActor {
    /// The node's index (its stateright actor id).
    pub index: usize,
    cfg: Arc<PaymentModel>,
    ids: Arc<Vec<reference::Id>>,
}

impl PaymentActor {
    fn build(&self) -> Node {
        let cfg = &self.cfg;
        let scheme = SimScheme::new(SCHEME_SEED);
        let config = NodeConfig {
            pulse_ms: 1000,
            retry_ms: 3000,
            max_attempts: cfg.max_attempts,
            bookkeeper: self.ids[0],
        };
        let verifier = Arc::new(scheme.clone());
        if self.index == 0 {
            let distribution: Vec<_> = self.ids[1..].iter().map(|id| (*id, cfg.initial_balance)).collect();
            let organization = scheme.signer(u64::MAX).id();
            #[allow(unused_mut)] // mutated only with fault injection
            let mut ledger = Ledger::genesis_with_distribution(organization, GENESIS_SUPPLY, &distribution)
                .expect("the model's genesis is valid");
            #[cfg(feature = "fault-injection")]
            ledger.inject_faults(cfg.ledger_faults);
            Node::bookkeeper(self.ids[0], ledger, verifier, config)
        } else {
            Node::client(Arc::new(scheme.signer(self.index as u64)), verifier, config)
        }
    }

    /// Turn the node's outputs into stateright effects. Time does not exist in the model:
    /// every timer may fire at any point, and stateright explores each order.
    fn emit(&self, outputs: Vec<Output>, o: &mut Out<Self>) {
        for output in outputs {
            match output {
                Output::Send { to, msg } => {
                    if let Some(index) = self.ids.iter().position(|id| *id == to) {
                        o.send(ActorId::from(index), msg);
                    }
                }
                Output::Broadcast { msg } => {
                    let peers: Vec<ActorId> =
                        (0..self.ids.len()).filter(|i| *i != self.index).map(ActorId::from).collect();
                    o.broadcast(&peers, &msg);
                }
                Output::SetTimer { timer, .. } => o.set_timer(timer, model_timeout()),
                Output::Event(_) => {}
            }
        }
    }

    fn index_of(&self, id: ActorId) -> usize {
        usize::from(id)
    }
}

impl Actor for PaymentActor {
    type Msg = Message;
    type Timer = Timer;
    type State = NodeState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, _id: ActorId, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        let mut node = self.build();
        let mut out = Vec::new();
        node.start(0, &mut out);
        if self.index > 0 {
            for (tag, (payee, amount)) in self.cfg.payments[self.index - 1].iter().enumerate() {
                let command = Command::Transfer { to: self.ids[*payee], amount: *amount, tag: tag as u64 };
                node.handle_command(0, command, &mut out);
            }
        }
        self.emit(out, o);
        NodeState(node)
    }

    fn on_msg(
        &self,
        _id: ActorId,
        state: &mut Cow<NodeState>,
        src: ActorId,
        msg: Message,
        o: &mut Out<Self>,
    ) {
        let from = self.ids[self.index_of(src)];
        let mut out = Vec::new();
        state.to_mut().0.handle_message(0, from, &msg, &mut out);
        self.emit(out, o);
    }

    fn on_timeout(&self, _id: ActorId, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        let mut out = Vec::new();
        state.to_mut().0.handle_timer(0, *timer, &mut out);
        self.emit(out, o);
    }
}
