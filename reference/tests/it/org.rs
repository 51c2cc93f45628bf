//! Organizations (SPEC §3): each rule and each refusal, the three weight rules, and I10 under
//! random action sequences — shown able to fail with a tally that ignores the quorum.

use std::collections::BTreeMap;

use proptest::prelude::*;
use reference::Id;
use reference::invariants::{self, Invariant};
use reference::org::{
    Effect, OrgError, OrgFaults, OrgParams, Organization, ProposalKind, Right, Rights, WeightRule, Weights,
};

struct Balances(BTreeMap<Id, u64>);

impl Weights for Balances {
    fn weight(&self, member: &Id) -> u64 {
        self.0.get(member).copied().unwrap_or(0)
    }
}

fn id(n: u64) -> Id {
    Id::from_u64(n)
}

const ORG: u64 = 1000;
const FOUNDER: u64 = 1;

fn params() -> OrgParams {
    OrgParams { vote_window_pulses: 10, supervisor_absence_pulses: 100, ..OrgParams::default() }
}

/// An organization with the founder and members 2..=n, each weighing 10.
fn org_with(n: u64) -> (Organization, Balances) {
    let mut org = Organization::create(id(ORG), id(FOUNDER), params(), 0).unwrap();
    for m in 2..=n {
        org.apply(id(m), None).unwrap();
        org.decide_application(id(FOUNDER), id(m), true, 0).unwrap();
    }
    let weights = Balances((1..=n).map(|m| (id(m), 10)).collect());
    (org, weights)
}

#[test]
fn the_founder_is_supervisor_with_every_right_and_presets_match_the_spec() {
    let (org, _) = org_with(1);
    assert_eq!(org.supervisor(), id(FOUNDER));
    assert_eq!(org.members()[&id(FOUNDER)].rights, Rights::SUPERVISOR);
    for right in
        [Right::ReadPublic, Right::ReadMember, Right::Invite, Right::Vote, Right::Propose, Right::Bookkeep]
    {
        assert!(Rights::MEMBER.has(right));
    }
    for right in [Right::ApproveJoin, Right::Expel, Right::SetParams] {
        assert!(!Rights::MEMBER.has(right));
    }
    assert!(Rights::GUEST.has(Right::ReadPublic) && !Rights::GUEST.has(Right::Vote));
}

#[test]
fn joining_needs_the_supervisors_approval_and_an_endorser_with_the_invite_right() {
    let (mut org, _) = org_with(2);
    assert_eq!(org.apply(id(2), None), Err(OrgError::AlreadyMember(id(2))));
    org.apply(id(3), Some(id(2))).unwrap();
    assert_eq!(org.apply(id(3), None), Err(OrgError::AlreadyApplied(id(3))));
    assert_eq!(org.apply(id(4), Some(id(9))), Err(OrgError::NotMember(id(9))));
    assert_eq!(
        org.decide_application(id(2), id(3), true, 1),
        Err(OrgError::LacksRight { actor: id(2), right: Right::ApproveJoin })
    );
    org.decide_application(id(FOUNDER), id(3), false, 1).unwrap();
    assert!(!org.members().contains_key(&id(3)), "rejected");
    assert_eq!(org.decide_application(id(FOUNDER), id(3), true, 1), Err(OrgError::NoApplication(id(3))));
    org.admit_by_task(id(FOUNDER), id(5), 2).unwrap();
    assert_eq!(org.members()[&id(5)].rights, Rights::MEMBER);
    assert_eq!(org.admit_by_task(id(FOUNDER), id(5), 2), Err(OrgError::AlreadyMember(id(5))));
    invariants::governance(&org).unwrap();
}

#[test]
fn members_leave_but_the_supervisor_stays() {
    let (mut org, _) = org_with(3);
    org.leave(id(3)).unwrap();
    assert_eq!(org.leave(id(3)), Err(OrgError::NotMember(id(3))));
    assert_eq!(org.leave(id(FOUNDER)), Err(OrgError::SupervisorStays));
}

#[test]
fn rights_are_only_narrowed_and_vote_only_goes_with_expulsion() {
    let (mut org, _) = org_with(2);
    let narrowed = Rights::GUEST.with(Right::Vote);
    assert_eq!(org.narrow_rights(id(2), id(2), narrowed, 1), Err(OrgError::NotSupervisor));
    assert_eq!(
        org.narrow_rights(id(FOUNDER), id(2), Rights::GUEST, 1),
        Err(OrgError::BadRightsChange),
        "drops vote"
    );
    assert_eq!(
        org.narrow_rights(id(FOUNDER), id(2), Rights::MEMBER.with(Right::Expel), 1),
        Err(OrgError::BadRightsChange),
        "adds a right"
    );
    org.narrow_rights(id(FOUNDER), id(2), narrowed, 1).unwrap();
    assert_eq!(
        org.propose(id(2), ProposalKind::Expel { member: id(FOUNDER) }, 2),
        Err(OrgError::LacksRight { actor: id(2), right: Right::Propose })
    );
}

#[test]
fn an_expulsion_passes_with_quorum_and_a_majority_and_removes_the_member() {
    let (mut org, w) = org_with(5);
    let n = org.propose(id(2), ProposalKind::Expel { member: id(5) }, 0).unwrap();
    for voter in [1, 2, 3] {
        org.vote(id(voter), n, true, 3, &w).unwrap();
    }
    org.vote(id(4), n, false, 3, &w).unwrap();
    assert_eq!(org.vote(id(4), n, true, 4, &w), Err(OrgError::AlreadyVoted(id(4))));
    assert_eq!(org.vote(id(9), n, true, 4, &w), Err(OrgError::NotMember(id(9))), "guests never vote");
    assert_eq!(org.close(n, 9, &w), Err(OrgError::VotingOpen(n)));
    assert_eq!(org.vote(id(5), n, false, 10, &w), Err(OrgError::VotingClosed(n)));
    let (outcome, effect) = org.close(n, 10, &w).unwrap();
    assert!(outcome.passed && outcome.yes == 30 && outcome.no == 10 && outcome.total_weight == 50);
    assert_eq!(effect, Effect::None);
    assert!(!org.members().contains_key(&id(5)));
    assert_eq!(org.close(n, 11, &w), Err(OrgError::VotingClosed(n)));
    invariants::governance(&org).unwrap();
}

#[test]
fn low_turnout_or_a_tie_fails() {
    let (mut org, w) = org_with(10); // total weight 100, quorum 20%
    let n = org.propose(id(2), ProposalKind::Expel { member: id(10) }, 0).unwrap();
    org.vote(id(2), n, true, 1, &w).unwrap(); // turnout 10 < 20
    assert!(!org.close(n, 10, &w).unwrap().0.passed);
    let n = org.propose(id(2), ProposalKind::Expel { member: id(10) }, 10).unwrap();
    org.vote(id(2), n, true, 11, &w).unwrap();
    org.vote(id(3), n, false, 11, &w).unwrap(); // 50% yes is not more than 50%
    assert!(!org.close(n, 20, &w).unwrap().0.passed);
    assert!(org.members().contains_key(&id(10)));
    invariants::governance(&org).unwrap();
}

#[test]
fn structural_rewards_are_opened_by_the_supervisor_and_returned_as_transfers() {
    let (mut org, w) = org_with(3);
    let reward = ProposalKind::StructuralReward { to: id(3), amount: 500, reason: "built the relay".into() };
    assert_eq!(org.propose(id(2), reward.clone(), 0), Err(OrgError::NotSupervisor));
    let n = org.propose(id(FOUNDER), reward, 0).unwrap();
    for voter in [1, 2] {
        org.vote(id(voter), n, true, 1, &w).unwrap();
    }
    assert_eq!(org.close(n, 10, &w).unwrap().1, Effect::Reward { to: id(3), amount: 500 });
}

#[test]
fn a_new_supervisor_is_elected_only_after_the_old_one_is_absent() {
    let (mut org, w) = org_with(3);
    let elect = ProposalKind::SupervisorElect { candidate: id(2) };
    assert_eq!(
        org.propose(id(3), elect.clone(), 50),
        Err(OrgError::SupervisorNotAbsent { seen_pulses_ago: 50, needed: 100 })
    );
    let n = org.propose(id(3), elect, 100).unwrap();
    for voter in [2, 3] {
        org.vote(id(voter), n, true, 101, &w).unwrap();
    }
    org.close(n, 110, &w).unwrap();
    assert_eq!(org.supervisor(), id(2));
    assert_eq!(org.members()[&id(2)].rights, Rights::SUPERVISOR);
    assert_eq!(org.members()[&id(FOUNDER)].rights, Rights::MEMBER);
}

#[test]
fn parameters_change_by_vote_and_bad_ones_are_refused() {
    let (mut org, w) = org_with(2);
    let bad = OrgParams { quorum_permille: 1001, ..params() };
    assert_eq!(org.propose(id(2), ProposalKind::ParamChange { params: bad }, 0), Err(OrgError::BadParams));
    let one_vote_each = OrgParams { weight_rule: WeightRule::OneMemberOneVote, ..params() };
    let n = org.propose(id(2), ProposalKind::ParamChange { params: one_vote_each }, 0).unwrap();
    for voter in [1, 2] {
        org.vote(id(voter), n, true, 1, &w).unwrap();
    }
    org.close(n, 10, &w).unwrap();
    assert_eq!(org.params().weight_rule, WeightRule::OneMemberOneVote);
    let n = org.propose(id(2), ProposalKind::Expel { member: id(2) }, 10).unwrap();
    org.vote(id(1), n, false, 11, &w).unwrap();
    let (outcome, _) = org.close(n, 20, &w).unwrap();
    assert_eq!((outcome.no, outcome.total_weight), (1, 2), "one member, one vote");
}

#[test]
fn a_tally_that_ignores_the_quorum_is_caught_by_i10() {
    let (mut org, w) = org_with(10);
    org.inject_faults(OrgFaults { ignore_quorum: true, ..OrgFaults::default() });
    let n = org.propose(id(2), ProposalKind::Expel { member: id(10) }, 0).unwrap();
    org.vote(id(2), n, true, 1, &w).unwrap(); // 10 of 100: below the 20% quorum
    assert!(org.close(n, 10, &w).unwrap().0.passed, "the broken tally passes it");
    let violation = invariants::governance(&org).unwrap_err();
    assert_eq!(violation.invariant, Invariant::Governance);
    assert!(violation.detail.contains("quorum and threshold say false"), "{violation}");
}

#[derive(Clone, Debug)]
enum Action {
    Apply(u64, Option<u64>),
    Decide(u64, u64, bool),
    Task(u64, u64),
    Leave(u64),
    ProposeExpel(u64, u64),
    Vote(u64, u64, bool),
    Close(u64),
    Tick(u64),
}

fn action() -> impl Strategy<Value = Action> {
    let who = 1u64..8;
    prop_oneof![
        (who.clone(), proptest::option::of(1u64..8)).prop_map(|(a, e)| Action::Apply(a, e)),
        (who.clone(), who.clone(), any::<bool>()).prop_map(|(a, b, y)| Action::Decide(a, b, y)),
        (who.clone(), who.clone()).prop_map(|(a, b)| Action::Task(a, b)),
        who.clone().prop_map(Action::Leave),
        (who.clone(), who.clone()).prop_map(|(a, b)| Action::ProposeExpel(a, b)),
        (who.clone(), 0u64..4, any::<bool>()).prop_map(|(a, n, y)| Action::Vote(a, n, y)),
        (0u64..4).prop_map(Action::Close),
        (1u64..8).prop_map(Action::Tick),
    ]
}

proptest! {
    /// Any sequence of actions — most of them refused — keeps I10, and a refusal changes nothing.
    #[test]
    fn any_action_sequence_keeps_governance(actions in proptest::collection::vec(action(), 0..80)) {
        let mut org = Organization::create(id(ORG), id(FOUNDER), params(), 0).unwrap();
        let w = Balances((1..8).map(|m| (id(m), m * 3)).collect());
        let mut pulse = 0;
        for action in actions {
            let before = org.clone();
            let result = match action {
                Action::Apply(a, e) => org.apply(id(a), e.map(id)),
                Action::Decide(a, b, y) => org.decide_application(id(a), id(b), y, pulse),
                Action::Task(a, b) => org.admit_by_task(id(a), id(b), pulse),
                Action::Leave(a) => org.leave(id(a)),
                Action::ProposeExpel(a, b) => org.propose(id(a), ProposalKind::Expel { member: id(b) }, pulse).map(|_| ()),
                Action::Vote(a, n, y) => org.vote(id(a), n, y, pulse, &w),
                Action::Close(n) => org.close(n, pulse, &w).map(|_| ()),
                Action::Tick(p) => { pulse += p; Ok(()) }
            };
            if result.is_err() {
                prop_assert_eq!(&org, &before);
            }
            prop_assert!(invariants::governance(&org).is_ok(), "{:?}", invariants::governance(&org));
        }
    }
}
