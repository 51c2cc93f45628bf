//! A stateright model of governance on the wire (D-041) driving `reference::node::Node` and its
//! real messages: the chief (actor 0) keeps the organization; client 1 founds it, decides the
//! guests' applications, proposes to expel a guest and votes; each guest applies and then votes
//! against — taken only if it was admitted by then. Every request is a `Message::Gov` its node
//! signs, every answer a `Message::GovOutcome`; the network loses anything and, with a
//! duplication budget, carries each request up to twice (D-047). The script reacts only to what each node learns (its answers), so the
//! checker explores every order of applications, decisions, votes, pulses and losses.

use std::borrow::Cow;
use std::sync::Arc;

use reference::crypto::{Signer, SimScheme};
use reference::node::governance::{GovAccepted, GovAction, GovConfig};
use reference::node::{Command, Envelope, Genesis, Message, Node, NodeConfig, NodeEvent, Output, Roster, To};
use reference::org::{OrgError, OrgParams, ProposalKind, WeightRule};
use reference::{Id, invariants};
use stateright::Expectation;
use stateright::actor::{
    Actor, ActorModel, ActorModelState, Id as ActorId, LossyNetwork, Network, Out, model_timeout,
};

use crate::{MODEL_SEQ, ModelTimer, NodeState};

const SCHEME_SEED: u64 = 13;
/// The organization's key: no actor's.
const ORG_KEY: u64 = 1_000;

/// The configuration.
#[derive(Clone, Debug)]
pub struct GovNodeModel {
    /// Guests (actors `2..=guests + 1`; actor 0 is the chief, actor 1 the supervisor).
    pub guests: usize,
    /// Pulses the chief runs (the state-space bound).
    pub max_pulses: u64,
    /// Whether messages may be lost.
    pub lossy: bool,
    /// Extra copies of every governance request the network carries (D-047): each copy is
    /// delivered or lost on its own, in any order, so a request may reach the chief up to
    /// `1 + duplicates` times. A budget, where stateright's duplicating network redelivers
    /// without end (its state space outgrew 14 GB).
    pub duplicates: u8,
    /// Attempts of each request before a node gives up.
    pub max_attempts: u32,
    /// Deliberately broken tallying at the chief (tests only).
    #[cfg(feature = "fault-injection")]
    pub org_faults: reference::org::OrgFaults,
}

impl GovNodeModel {
    /// One guest over a lossy network; two pulses (a one-pulse window); each request sent
    /// once and carried once. Retries are left out: with them the state space outgrew 14 GB
    /// (every resent request multiplies the orders to explore); the Node tests show a retried
    /// request answered the same without acting twice (D-041).
    pub fn one_guest() -> GovNodeModel {
        GovNodeModel {
            guests: 1,
            max_pulses: 2,
            lossy: true,
            duplicates: 0,
            max_attempts: 1,
            #[cfg(feature = "fault-injection")]
            org_faults: reference::org::OrgFaults::default(),
        }
    }

    /// [`GovNodeModel::one_guest`] over a network that also duplicates: every request may
    /// arrive twice (D-047).
    pub fn one_guest_duplicating() -> GovNodeModel {
        GovNodeModel { duplicates: 1, ..GovNodeModel::one_guest() }
    }

    fn ids(&self) -> Vec<Id> {
        let scheme = SimScheme::new(SCHEME_SEED);
        (0..self.guests as u64 + 2).map(|i| scheme.signer(i).id()).collect()
    }

    fn org(&self) -> Id {
        SimScheme::new(SCHEME_SEED).signer(ORG_KEY).id()
    }

    /// The stateright model.
    pub fn into_model(self) -> ActorModel<GovNodeActor, GovNodeModel> {
        let cfg = Arc::new(self.clone());
        let ids = Arc::new(self.ids());
        let actors =
            (0..ids.len()).map(|index| GovNodeActor { index, cfg: Arc::clone(&cfg), ids: Arc::clone(&ids) });
        let lossy = if self.lossy { LossyNetwork::Yes } else { LossyNetwork::No };
        ActorModel::new(self, ())
            .actors(actors.collect::<Vec<_>>())
            // A multiset: the copies `emit` sends are the duplicates, each delivered once.
            .init_network(Network::new_unordered_nonduplicating([]))
            .lossy_network(lossy)
            .property(Expectation::Always, "I10 governance", |_, state| i10(state))
            .property(Expectation::Sometimes, "a vote passes", |_, state| {
                orgs(state).any(|org| org.proposals().values().any(|p| p.outcome.is_some_and(|o| o.passed)))
            })
            .property(Expectation::Sometimes, "an expulsion takes effect", |model, state| {
                expelled(&model.cfg, state)
            })
            .property(Expectation::Sometimes, "a guest's vote is counted", |model, state| {
                let guests = &model.cfg.ids()[2..];
                orgs(state)
                    .any(|org| org.proposals().values().any(|p| p.votes.keys().any(|v| guests.contains(v))))
            })
            .within_boundary(|cfg, state| chief(state).pulse() <= cfg.max_pulses)
    }
}

fn chief(state: &ActorModelState<GovNodeActor>) -> &Node {
    &state.actor_states[0].node
}

fn orgs(state: &ActorModelState<GovNodeActor>) -> impl Iterator<Item = &reference::org::Organization> {
    chief(state).organizations().into_iter().flat_map(|orgs| orgs.values())
}

fn i10(state: &ActorModelState<GovNodeActor>) -> bool {
    orgs(state).all(|org| invariants::governance_weighed(org, |_, _, _| 1).is_ok())
}

fn expelled(cfg: &GovNodeModel, state: &ActorModelState<GovNodeActor>) -> bool {
    let victim = cfg.ids()[2];
    orgs(state).any(|org| {
        org.admitted().contains(&victim)
            && !org.members().contains_key(&victim)
            && org.proposals().values().any(|p| p.outcome.is_some_and(|o| o.passed))
    })
}

/// An actor: the chief, the supervisor or a guest.
#[derive(Clone, Debug)]
pub struct GovNodeActor {
    index: usize,
    cfg: Arc<GovNodeModel>,
    ids: Arc<Vec<Id>>,
}

/// Command tags: what each request was, so that its answer can be followed up.
const TAG_CREATE: u64 = 0;
const TAG_APPLY: u64 = 1;
const TAG_PROPOSE: u64 = 2;
const TAG_VOTE: u64 = 3;
/// `TAG_DECIDE + g`: the decision on guest `g` (first attempt), `+ 100` the second.
const TAG_DECIDE: u64 = 10;

impl GovNodeActor {
    fn build(&self) -> Node {
        let scheme = SimScheme::new(SCHEME_SEED);
        let roster = Roster::single(self.ids[0]);
        let config = NodeConfig {
            pulse_ms: 1000,
            retry_ms: 3000,
            max_attempts: self.cfg.max_attempts,
            transfer_timeout_pulses: 1,
            roster: Arc::new(roster.clone()),
            bookkeeper_deposit: None,
            failover_timeout_pulses: 1,
            election_cycle_pulses: None,
            election_pool_factor: 2,
            bookkeeper_deposit_min: 0,
            governance: GovConfig::default(),
        };
        let verifier = Arc::new(scheme.clone());
        let signer = Arc::new(scheme.signer(self.index as u64));
        let mut node = if self.index == 0 {
            let distribution: Vec<_> = self.ids[1..].iter().map(|id| (*id, 100)).collect();
            let genesis = Genesis::split(&roster, scheme.signer(u64::MAX).id(), 1_000_000, &distribution, 1)
                .expect("the model's genesis is valid");
            let ledger = genesis.ledgers.into_iter().next().expect("one group").1;
            #[allow(unused_mut)] // mutated only with fault injection
            let mut chief = Node::chief(signer, ledger, genesis.arbiter, verifier, config);
            #[cfg(feature = "fault-injection")]
            chief.inject_org_faults(self.cfg.org_faults);
            chief
        } else {
            Node::client(signer, verifier, config)
        };
        // As in the payment models: a refused replay is a loss the model explores anyway.
        node.forgo_replay_fence();
        node
    }

    fn command(&self, node: &mut Node, action: GovAction, tag: u64, out: &mut Vec<Output>) {
        node.handle_command(0, Command::Gov { org: self.cfg.org(), action, tag }, out);
    }

    /// The script: what this actor's user asks once its node learnt `event`.
    fn react(&self, node: &mut Node, event: &NodeEvent, out: &mut Vec<Output>) {
        let NodeEvent::GovAnswered { tag, result, .. } = event else { return };
        match (self.index, *tag, result) {
            // The supervisor decides every guest once the organization exists.
            (1, TAG_CREATE, Ok(_)) => {
                for g in 0..self.cfg.guests {
                    let applicant = self.ids[2 + g];
                    self.command(
                        node,
                        GovAction::Decide { applicant, admit: true },
                        TAG_DECIDE + g as u64,
                        out,
                    );
                }
            }
            // An application not there yet: decide once more.
            (
                1,
                tag,
                Err(reference::node::governance::GovRefusal::Org(OrgError::NoApplication(applicant))),
            ) if (TAG_DECIDE..TAG_DECIDE + 100).contains(&tag) => {
                let action = GovAction::Decide { applicant: *applicant, admit: true };
                self.command(node, action, tag + 100, out);
            }
            // The first admission: propose to expel the first guest.
            (1, tag, Ok(_)) if tag % 100 == TAG_DECIDE => {
                let kind = ProposalKind::Expel { member: self.ids[2] };
                self.command(node, GovAction::Propose { kind }, TAG_PROPOSE, out);
            }
            (1, TAG_PROPOSE, Ok(GovAccepted::Opened { number })) => {
                self.command(node, GovAction::Vote { number: *number, yes: true }, TAG_VOTE, out);
            }
            // A guest whose application was taken votes against the expulsion (counted only if
            // it was admitted and the proposal is open by then).
            (g, TAG_APPLY, Ok(_)) if g >= 2 => {
                self.command(node, GovAction::Vote { number: 0, yes: false }, TAG_VOTE, out);
            }
            _ => {}
        }
    }

    /// Seal and send the node's messages, set its timers, and follow up its answers.
    fn emit(&self, node: &mut Node, outputs: Vec<Output>, o: &mut Out<Self>) {
        let mut work = outputs;
        while !work.is_empty() {
            let mut more = Vec::new();
            for output in work {
                match output {
                    Output::Send { to, msg } => {
                        if let Some(index) = self.ids.iter().position(|id| *id == to) {
                            // Only votes: duplicating every request (or every answer too)
                            // took the state space past 14 GB (24 GB), and a vote counted
                            // twice is what a duplicate could break (I10).
                            let duplicable =
                                matches!(&msg, Message::Gov(r) if matches!(r.action, GovAction::Vote { .. }));
                            let copies = 1 + if duplicable { usize::from(self.cfg.duplicates) } else { 0 };
                            let envelope =
                                Envelope::seal(node.signer().as_ref(), To::Node(to), MODEL_SEQ, msg);
                            for _ in 0..copies {
                                o.send(ActorId::from(index), envelope.clone());
                            }
                        }
                    }
                    // Clients follow no root here; the pulse broadcast would only swamp the states.
                    Output::Broadcast { .. } => {}
                    Output::SetTimer { timer, .. } => o.set_timer(ModelTimer::Node(timer), model_timeout()),
                    Output::Event(event) => self.react(node, &event, &mut more),
                }
            }
            work = more;
        }
    }
}

impl Actor for GovNodeActor {
    type Msg = Envelope;
    type Timer = ModelTimer;
    type State = NodeState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, _id: ActorId, _storage: &Option<()>, o: &mut Out<Self>) -> NodeState {
        let mut node = self.build();
        let mut out = Vec::new();
        node.start(0, &mut out);
        match self.index {
            0 => {}
            1 => {
                let org_key = SimScheme::new(SCHEME_SEED).signer(ORG_KEY);
                let params = OrgParams {
                    vote_window_pulses: 1,
                    quorum_permille: 500,
                    threshold_permille: 500,
                    weight_rule: WeightRule::OneMemberOneVote,
                    supervisor_absence_pulses: 100,
                };
                let action = GovAction::create(&org_key, self.ids[1], params);
                self.command(&mut node, action, TAG_CREATE, &mut out);
            }
            _ => self.command(&mut node, GovAction::Apply { endorsement: None }, TAG_APPLY, &mut out),
        }
        self.emit(&mut node, out, o);
        NodeState::new(node, 0)
    }

    fn on_msg(
        &self,
        _id: ActorId,
        state: &mut Cow<NodeState>,
        _src: ActorId,
        envelope: Envelope,
        o: &mut Out<Self>,
    ) {
        let mut out = Vec::new();
        let state = state.to_mut();
        state.node.handle_message(0, &envelope, &mut out);
        self.emit(&mut state.node, out, o);
        state.refresh();
    }

    fn on_timeout(&self, _id: ActorId, state: &mut Cow<NodeState>, timer: &ModelTimer, o: &mut Out<Self>) {
        let ModelTimer::Node(timer) = timer else { return };
        let mut out = Vec::new();
        let state = state.to_mut();
        state.node.handle_timer(0, *timer, &mut out);
        self.emit(&mut state.node, out, o);
        state.refresh();
    }
}
