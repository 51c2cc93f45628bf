//! A stateright model of organization governance (SPEC §3, D-020) driving
//! `reference::org::Organization` itself: guests apply to the registrar (the supervisor's
//! node, which holds the organization), the supervisor admits them, opens a parameter-change
//! proposal, members vote as they learn of it, and the registrar closes it when its window is
//! over. Messages may be lost, so votes may not arrive and proposals may fail on quorum.

use std::collections::BTreeSet;
use std::sync::Arc;

use reference::Id;
use reference::invariants;
use reference::org::{OrgParams, Organization, ProposalKind, WeightRule, Weights};
use stateright::Expectation;
use stateright::actor::{
    Actor, ActorModel, ActorModelState, Id as ActorId, LossyNetwork, Network, Out, model_timeout,
};

/// A governance configuration.
#[derive(Clone, Debug)]
pub struct GovernanceModel {
    /// Guests that apply (actors `1..=guests`; actor 0 is the registrar).
    pub guests: usize,
    /// Pulses the registrar runs (the state-space bound).
    pub max_pulses: u64,
    /// Whether messages may be lost.
    pub lossy: bool,
    /// Deliberately broken tallying (tests only).
    #[cfg(feature = "fault-injection")]
    pub org_faults: reference::org::OrgFaults,
}

/// Messages between the registrar and the guests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GovMsg {
    /// A guest applies.
    Apply,
    /// The registrar tells an applicant it is admitted.
    Admitted,
    /// The registrar announces proposal `number`.
    Opened(u64),
    /// A member votes on proposal `number`.
    Vote {
        /// The proposal.
        number: u64,
        /// For or against.
        yes: bool,
    },
}

/// An actor's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GovState {
    /// The registrar: the organization and the pulse.
    Registrar {
        /// The organization.
        org: Box<Organization>,
        /// The pulse counter.
        pulse: u64,
    },
    /// A guest or member.
    Participant {
        /// Admitted as a member.
        admitted: bool,
        /// Proposals it heard of and has not voted on.
        heard: BTreeSet<u64>,
    },
}

/// Each actor: the registrar or participant `index`.
#[derive(Clone, Debug)]
pub struct GovActor {
    index: usize,
    ids: Arc<Vec<Id>>,
    cfg: Arc<GovernanceModel>,
}

/// Every member weighs 1 (the model's weight rule is `one_member_one_vote`).
struct Equal;

impl Weights for Equal {
    fn weight(&self, _member: &Id) -> u64 {
        1
    }
}

/// A pulse of the registrar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tick;

/// Quorum 60% of the members at closing, threshold 50%, one vote per member.
fn params() -> OrgParams {
    OrgParams {
        vote_window_pulses: 2,
        quorum_permille: 600,
        threshold_permille: 500,
        weight_rule: WeightRule::OneMemberOneVote,
        supervisor_absence_pulses: 100,
    }
}

impl GovernanceModel {
    /// Three guests, a lossy network, four pulses.
    pub fn three_guests() -> GovernanceModel {
        GovernanceModel {
            guests: 3,
            max_pulses: 4,
            lossy: true,
            #[cfg(feature = "fault-injection")]
            org_faults: reference::org::OrgFaults::default(),
        }
    }

    /// The stateright model.
    pub fn into_model(self) -> ActorModel<GovActor, GovernanceModel> {
        let ids: Arc<Vec<Id>> = Arc::new((0..=self.guests as u64).map(|i| Id::from_u64(i + 1)).collect());
        let cfg = Arc::new(self.clone());
        let actors: Vec<GovActor> = (0..=self.guests)
            .map(|index| GovActor { index, ids: Arc::clone(&ids), cfg: Arc::clone(&cfg) })
            .collect();
        let lossy = if self.lossy { LossyNetwork::Yes } else { LossyNetwork::No };
        ActorModel::new(self, ())
            .actors(actors)
            .init_network(Network::new_unordered_nonduplicating([]))
            .lossy_network(lossy)
            .property(Expectation::Always, "I10 governance", |_, state| {
                invariants::governance(org(state)).is_ok()
            })
            .property(Expectation::Sometimes, "an applicant becomes a member", |_, state| {
                org(state).members().len() > 1
            })
            .property(Expectation::Sometimes, "a vote passes", |_, state| decided(state, true))
            .property(Expectation::Sometimes, "a vote fails", |_, state| decided(state, false))
            .within_boundary(|cfg, state| pulse(state) <= cfg.max_pulses)
    }
}

fn org(state: &ActorModelState<GovActor>) -> &Organization {
    match &*state.actor_states[0] {
        GovState::Registrar { org, .. } => org,
        GovState::Participant { .. } => unreachable!("actor 0 is the registrar"),
    }
}

fn pulse(state: &ActorModelState<GovActor>) -> u64 {
    match &*state.actor_states[0] {
        GovState::Registrar { pulse, .. } => *pulse,
        GovState::Participant { .. } => unreachable!("actor 0 is the registrar"),
    }
}

fn decided(state: &ActorModelState<GovActor>, passed: bool) -> bool {
    org(state).proposals().values().any(|p| p.outcome.is_some_and(|o| o.passed == passed))
}

impl GovActor {
    fn supervisor(&self) -> Id {
        self.ids[0]
    }

    /// Guest `i` votes yes unless it is the last one (so votes can disagree).
    fn vote_of(&self) -> bool {
        self.index < self.cfg.guests
    }

    fn on_registrar_msg(
        &self,
        org: &mut Organization,
        pulse: u64,
        from: usize,
        msg: GovMsg,
        o: &mut Out<Self>,
    ) {
        let sender = self.ids[from];
        match msg {
            GovMsg::Apply => {
                // The supervisor admits every applicant; a refusal (e.g. a duplicate) changes nothing.
                if org.apply(sender, None).is_ok()
                    && org.decide_application(self.supervisor(), sender, true, pulse).is_ok()
                {
                    o.send(ActorId::from(from), GovMsg::Admitted);
                    for number in org.proposals().iter().filter(|(_, p)| p.outcome.is_none()).map(|(n, _)| *n)
                    {
                        o.send(ActorId::from(from), GovMsg::Opened(number));
                    }
                }
            }
            GovMsg::Vote { number, yes } => {
                let _ = org.vote(sender, number, yes, pulse, &Equal);
            }
            GovMsg::Admitted | GovMsg::Opened(_) => {}
        }
    }
}

impl Actor for GovActor {
    type Msg = GovMsg;
    type Timer = Tick;
    type State = GovState;
    type Storage = ();
    type Random = ();

    fn on_start(&self, _id: ActorId, _storage: &Option<()>, o: &mut Out<Self>) -> GovState {
        if self.index > 0 {
            o.send(ActorId::from(0), GovMsg::Apply);
            return GovState::Participant { admitted: false, heard: BTreeSet::new() };
        }
        #[allow(unused_mut)] // changed only with fault injection
        let mut org =
            Organization::create(Id::from_u64(999), self.supervisor(), params(), 0).expect("valid params");
        #[cfg(feature = "fault-injection")]
        org.inject_faults(self.cfg.org_faults);
        let change = ProposalKind::ParamChange { params: OrgParams { quorum_permille: 500, ..params() } };
        let number = org.propose(self.supervisor(), change, 0).expect("the supervisor may propose");
        // The supervisor votes for its own proposal.
        org.vote(self.supervisor(), number, true, 0, &Equal).expect("the supervisor may vote");
        o.set_timer(Tick, model_timeout());
        GovState::Registrar { org: Box::new(org), pulse: 0 }
    }

    fn on_msg(
        &self,
        _id: ActorId,
        state: &mut std::borrow::Cow<GovState>,
        src: ActorId,
        msg: GovMsg,
        o: &mut Out<Self>,
    ) {
        let from = usize::from(src);
        match state.to_mut() {
            GovState::Registrar { org, pulse } => self.on_registrar_msg(org, *pulse, from, msg, o),
            GovState::Participant { admitted, heard } => match msg {
                GovMsg::Admitted => *admitted = true,
                GovMsg::Opened(number) => {
                    if heard.insert(number) && *admitted {
                        o.send(src, GovMsg::Vote { number, yes: self.vote_of() });
                    }
                }
                GovMsg::Apply | GovMsg::Vote { .. } => {}
            },
        }
    }

    fn on_timeout(
        &self,
        _id: ActorId,
        state: &mut std::borrow::Cow<GovState>,
        _timer: &Tick,
        o: &mut Out<Self>,
    ) {
        let GovState::Registrar { org, pulse } = state.to_mut() else { return };
        *pulse += 1;
        let open: Vec<u64> =
            org.proposals().iter().filter(|(_, p)| p.outcome.is_none()).map(|(n, _)| *n).collect();
        for number in open {
            // Refused while the window is open; closed (and decided) once it is over.
            let _ = org.close(number, *pulse, &Equal);
        }
        o.set_timer(Tick, model_timeout());
    }
}
