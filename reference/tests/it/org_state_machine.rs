//! Governance against a simple model of roles and votes (proptest-state-machine): random
//! sequences of applications, decisions, departures, expulsion proposals, votes, closings and
//! time steps are applied to the model and to `Organization`; after each, both must agree on
//! whether the action was accepted, on the members, the supervisor and every verdict.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use reference::Id;
use reference::invariants;
use reference::org::{OrgParams, Organization, ProposalKind, WeightRule, Weights};

const SUPERVISOR: u64 = 1;
const PEOPLE: u64 = 6;
const WINDOW: u64 = 10;

#[derive(Clone, Debug)]
enum Step {
    Apply(u64),
    Decide(u64, bool),
    Leave(u64),
    ProposeExpel(u64, u64),
    Vote(u64, usize, bool),
    Close(usize),
    Tick(u64),
}

#[derive(Clone, Debug, Default)]
struct ModelProposal {
    target: u64,
    opened: u64,
    votes: BTreeMap<u64, bool>,
    passed: Option<bool>,
}

/// Roles and votes, stated as simply as possible: one member one vote, everyone votes.
#[derive(Clone, Debug)]
struct Model {
    members: BTreeSet<u64>,
    applications: BTreeSet<u64>,
    proposals: Vec<ModelProposal>,
    pulse: u64,
    accepted: bool,
}

impl Model {
    fn step(&mut self, step: &Step) -> bool {
        match *step {
            Step::Apply(a) => !self.members.contains(&a) && self.applications.insert(a),
            Step::Decide(a, admit) => {
                let known = self.applications.remove(&a);
                if known && admit {
                    self.members.insert(a);
                }
                known
            }
            Step::Leave(a) => a != SUPERVISOR && self.members.remove(&a),
            Step::ProposeExpel(by, target) => {
                let ok = self.members.contains(&by) && self.members.contains(&target) && target != SUPERVISOR;
                if ok {
                    self.proposals.push(ModelProposal {
                        target,
                        opened: self.pulse,
                        ..ModelProposal::default()
                    });
                }
                ok
            }
            Step::Vote(by, n, yes) => {
                let (pulse, member) = (self.pulse, self.members.contains(&by));
                match self.proposals.get_mut(n) {
                    Some(p)
                        if member
                            && p.passed.is_none()
                            && pulse < p.opened + WINDOW
                            && !p.votes.contains_key(&by) =>
                    {
                        p.votes.insert(by, yes);
                        true
                    }
                    _ => false,
                }
            }
            Step::Close(n) => {
                let (pulse, total) = (self.pulse, self.members.len() as u64);
                let Some(p) = self.proposals.get_mut(n) else { return false };
                if p.passed.is_some() || pulse < p.opened + WINDOW {
                    return false;
                }
                let yes = p.votes.values().filter(|y| **y).count() as u64;
                let cast = p.votes.len() as u64;
                // Quorum 20% of all members; more than half of the votes cast say yes.
                let passed = cast * 5 >= total && cast > 0 && yes * 2 > cast;
                p.passed = Some(passed);
                if passed {
                    let target = p.target;
                    self.members.remove(&target);
                }
                true
            }
            Step::Tick(p) => {
                self.pulse += p;
                true
            }
        }
    }
}

struct GovernanceModel;

impl ReferenceStateMachine for GovernanceModel {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        let members = BTreeSet::from([SUPERVISOR]);
        Just(Model {
            members,
            applications: BTreeSet::new(),
            proposals: Vec::new(),
            pulse: 0,
            accepted: true,
        })
        .boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        // Mostly steps the model can accept, drawn from its actual members, applications and
        // proposals, so that proposals get voted on and closed; some arbitrary ones for refusals.
        let pick = |set: &BTreeSet<u64>| {
            let v: Vec<u64> = set.iter().copied().collect();
            if v.is_empty() { Just(SUPERVISOR).boxed() } else { proptest::sample::select(v).boxed() }
        };
        let members = pick(&state.members);
        let applicants = pick(&state.applications);
        let person = 1..=PEOPLE;
        let proposal = 0..state.proposals.len().max(1);
        prop_oneof![
            2 => person.clone().prop_map(Step::Apply),
            3 => (applicants, prop::bool::weighted(0.8)).prop_map(|(a, y)| Step::Decide(a, y)),
            1 => person.clone().prop_map(Step::Leave),
            2 => (members.clone(), members.clone()).prop_map(|(a, b)| Step::ProposeExpel(a, b)),
            6 => (members, proposal.clone(), any::<bool>()).prop_map(|(a, n, y)| Step::Vote(a, n, y)),
            1 => (person, proposal.clone(), any::<bool>()).prop_map(|(a, n, y)| Step::Vote(a, n, y)),
            3 => proposal.prop_map(Step::Close),
            3 => (1..8u64).prop_map(Step::Tick),
        ]
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        state.accepted = state.step(step);
        state
    }
}

struct OneVoteEach;

impl Weights for OneVoteEach {
    fn weight(&self, _: &Id) -> u64 {
        1
    }
}

struct Sut {
    org: Organization,
    pulse: u64,
}

fn id(n: u64) -> Id {
    Id::from_u64(n)
}

impl StateMachineTest for Sut {
    type SystemUnderTest = Sut;
    type Reference = GovernanceModel;

    fn init_test(_: &Model) -> Sut {
        let params = OrgParams {
            vote_window_pulses: WINDOW,
            quorum_permille: 200,
            threshold_permille: 500,
            weight_rule: WeightRule::OneMemberOneVote,
            supervisor_absence_pulses: 1_000_000,
        };
        Sut { org: Organization::create(id(100), id(SUPERVISOR), params, 0).unwrap(), pulse: 0 }
    }

    fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
        let pulse = sut.pulse;
        let org = &mut sut.org;
        let accepted = match step {
            Step::Apply(a) => org.apply(id(a), None).is_ok(),
            Step::Decide(a, admit) => org.decide_application(id(SUPERVISOR), id(a), admit, pulse).is_ok(),
            Step::Leave(a) => org.leave(id(a)).is_ok(),
            Step::ProposeExpel(by, t) => {
                org.propose(id(by), ProposalKind::Expel { member: id(t) }, pulse).is_ok()
            }
            Step::Vote(by, n, yes) => org.vote(id(by), n as u64, yes, pulse, &OneVoteEach).is_ok(),
            Step::Close(n) => org.close(n as u64, pulse, &OneVoteEach).is_ok(),
            Step::Tick(p) => {
                sut.pulse += p;
                true
            }
        };
        assert_eq!(accepted, model.accepted, "accepted? for {step:?}");
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        let members: BTreeSet<Id> = sut.org.members().keys().copied().collect();
        assert_eq!(members, model.members.iter().map(|m| id(*m)).collect::<BTreeSet<_>>());
        assert_eq!(sut.org.supervisor(), id(SUPERVISOR));
        for (n, p) in model.proposals.iter().enumerate() {
            let outcome = sut.org.proposals()[&(n as u64)].outcome.map(|o| o.passed);
            assert_eq!(outcome, p.passed, "verdict of proposal {n}");
        }
        invariants::governance(&sut.org).unwrap();
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]
    #[test]
    fn governance_matches_the_model(sequential 1..100 => Sut);
}
