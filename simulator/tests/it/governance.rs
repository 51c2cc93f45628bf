//! Governance on the network (D-041): an organization's requests as signed node messages,
//! applied by the root committee; I10 and the root members' agreement on the organizations,
//! each shown able to fail.

use reference::org::OrgFaults;
use simulator::scenario::Scenario;
use simulator::sim::{RunOptions, SimError, Simulation};

use crate::support::{run, scenarios_dir};

fn small() -> Scenario {
    Scenario::load(&scenarios_dir().join("governance-small.toml")).expect("the shipped scenario loads")
}

/// A shorter run of the shipped scenario (60 virtual seconds).
fn short() -> Scenario {
    Scenario { duration_ms: 60_000, ..small() }
}

#[test]
fn an_organization_runs_on_the_network_and_every_check_holds() {
    let result = run(&small(), 1);
    let g = result.summary.governance.as_ref().expect("the run has an organization");
    // The founding members and most honest applicants are admitted through signed messages.
    assert!(g.honest_admitted >= 60, "{g:?}");
    assert!(g.members > 60, "{g:?}");
    // Proposals open, are voted on and close at pulses.
    let closed: u64 = g.proposals_closed.values().map(|[p, f]| p + f).sum();
    assert!(closed >= 10, "{g:?}");
    assert!(g.votes > 200, "{g:?}");
    // Every second vote is refused by the root committee (one member, one vote per proposal).
    assert!(g.double_votes_refused > 0, "{g:?}");
    assert_eq!(g.refused.get("already_voted").copied().unwrap_or(0), g.double_votes_refused, "{g:?}");
    // Messages of both governance kinds were counted.
    let kinds = &result.summary.messages.by_kind;
    assert!(kinds.get("gov").copied().unwrap_or(0) >= g.requests, "{kinds:?}");
    assert!(kinds.get("gov_outcome").copied().unwrap_or(0) > 0, "{kinds:?}");
    // The users learnt every closing from the chief's announcements (D-050).
    assert!(kinds.get("closed").copied().unwrap_or(0) >= closed, "{kinds:?}");
}

#[test]
fn a_run_without_an_organization_has_no_governance_in_its_summary() {
    let scenario = Scenario { governance: None, ..short() };
    let result = run(&scenario, 1);
    assert!(result.summary.governance.is_none());
    assert!(!result.summary.messages.by_kind.contains_key("gov"));
}

#[test]
fn the_same_seed_gives_the_same_organization() {
    let (a, b) = (run(&short(), 7), run(&short(), 7));
    assert_eq!(a.summary.trace_hash, b.summary.trace_hash);
    assert_eq!(a.summary.governance, b.summary.governance);
    assert_ne!(a.summary.trace_hash, run(&short(), 8).summary.trace_hash);
}

fn run_with(faults: (u32, OrgFaults)) -> SimError {
    let options = RunOptions { org_faults: Some(faults), ..RunOptions::default() };
    let sim = Simulation::new(&short(), 1, options).expect("setup");
    assert_eq!(sim.groups(), 1, "the root backups follow the clients");
    sim.run(|_| {}).expect_err("the broken root member is caught")
}

#[test]
fn a_chief_that_counts_votes_twice_breaks_i10_and_is_caught() {
    let faults = OrgFaults { double_count_votes: true, ..OrgFaults::default() };
    let error = run_with((0, faults));
    let SimError::Violation { code, violation, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I10", "{error}");
    assert!(violation.detail.contains("above its 1"), "{violation}");
}

#[test]
fn a_chief_that_passes_proposals_without_quorum_breaks_i10_and_is_caught() {
    let scenario = Scenario { duration_ms: 90_000, ..small() };
    let mut scenario = scenario;
    let g = scenario.governance.as_mut().expect("governance");
    // A quorum of every member: turnout of 60% never reaches it, so nothing may pass.
    g.vote_quorum = 1.0;
    let faults = OrgFaults { ignore_quorum: true, ..OrgFaults::default() };
    let options = RunOptions { org_faults: Some((0, faults)), ..RunOptions::default() };
    let error = Simulation::new(&scenario, 1, options).unwrap().run(|_| {}).unwrap_err();
    let SimError::Violation { code, violation, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I10", "{error}");
    assert!(violation.detail.contains("quorum and threshold say false"), "{violation}");
    // The honest chief under the same schedule passes nothing.
    let result = Simulation::new(&scenario, 1, RunOptions::default()).unwrap().run(|_| {}).unwrap();
    let g = result.summary.governance.expect("governance");
    assert!(g.proposals_closed.values().all(|[passed, _]| *passed == 0), "{g:?}");
    assert!(g.proposals_closed.values().map(|[_, failed]| failed).sum::<u64>() > 0, "{g:?}");
}

#[test]
fn a_root_backup_whose_organization_diverges_breaks_agreement_and_is_caught() {
    // The first root backup follows the chief and the 200 clients.
    let faults = OrgFaults { admit_without_vote: true, ..OrgFaults::default() };
    let error = run_with((201, faults));
    let SimError::Violation { code, violation, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I6", "{error}");
    assert!(violation.detail.contains("organizations at pulse"), "{violation}");
}

#[test]
fn a_hostile_supervisor_admits_only_sybils_and_the_founders() {
    let mut scenario = small();
    let g = scenario.governance.as_mut().expect("governance");
    g.hostile_supervisor = true;
    let founders = u64::from(g.founding_members);
    let result = run(&scenario, 1);
    let g = result.summary.governance.expect("governance");
    // The founding members (the supervisor's own first decisions) and no other honest guest.
    assert_eq!(g.honest_admitted, founders - 1, "{g:?}");
    assert!(g.sybils_admitted > 0, "{g:?}");
}

#[test]
fn a_silent_supervisor_is_replaced_by_election() {
    let mut scenario = small();
    scenario.governance.as_mut().expect("governance").supervisor_silent_from_ms = Some(40_000);
    let result = run(&scenario, 1);
    let g = result.summary.governance.expect("governance");
    assert_eq!(g.supervisor_changes, 1, "{g:?}");
    assert_eq!(g.proposals_closed.get("supervisor_elect"), Some(&[1, 0]), "{g:?}");
}

fn elections() -> Scenario {
    Scenario::load(&scenarios_dir().join("governance-elections.toml")).expect("the shipped scenario loads")
}

/// The share of the seats the adversary's standbys won, over every term's elections.
fn adversary_share(scenario: &Scenario, seed: u64) -> (f64, u64) {
    let result = run(scenario, seed);
    let e = result.summary.elections.as_ref().expect("elections");
    let (won, seats) = e.terms.iter().fold((0, 0), |(w, s), t| (w + t.adversary_seats, s + t.seats));
    let g = result.summary.governance.as_ref().expect("an organization");
    (won as f64 / seats.max(1) as f64, g.ballots)
}

#[test]
fn members_ballots_elect_the_committees_and_sybil_ballots_win_the_adversary_seats() {
    let base = elections();
    let result = run(&base, 1);
    let g = result.summary.governance.as_ref().expect("an organization");
    let e = result.summary.elections.as_ref().expect("elections");
    // Every pool candidate became a member; every member client cast a ballot each term.
    assert_eq!(g.candidates_admitted, 16 * (2 + e.standbys), "{g:?}");
    assert!(g.ballots >= 6 * 150, "{g:?}");
    assert!(g.sybil_ballots > 0 && g.sybil_ballots < g.ballots, "{g:?}");
    assert!(e.committees_elected >= 16 * 6, "{e:?}");
    // With sybils stuffing real ballots the adversary wins more seats than its share of the
    // candidates (1 in 6) — and more than without sybils, seed for seed.
    let honest = |seed| {
        let mut s = base.clone();
        s.governance.as_mut().unwrap().sybil_share = 0.0;
        adversary_share(&s, seed)
    };
    let stuffed = |seed| {
        let mut s = base.clone();
        s.governance.as_mut().unwrap().sybil_share = 0.6;
        adversary_share(&s, seed)
    };
    let (mut with, mut without) = (0.0, 0.0);
    for seed in 1..=3 {
        let ((h, h_ballots), (s, _)) = (honest(seed), stuffed(seed));
        assert!(h_ballots > 0);
        without += h / 3.0;
        with += s / 3.0;
    }
    assert!(with > without + 0.03, "stuffed {with:.3} vs honest {without:.3}");
    assert!(without < 0.22, "honest ballots leave the adversary about its share: {without:.3}");
}

#[test]
fn ballots_need_pools_of_candidates() {
    let text = std::fs::read_to_string(scenarios_dir().join("governance-elections.toml")).unwrap();
    let text = text.replace("standbys = 4\n", "").replace("forging_candidates = 0.25\n", "");
    let error = Scenario::parse(&text, std::path::Path::new("x.toml")).unwrap_err().to_string();
    assert!(error.contains("governance.elect_bookkeepers") && error.contains("standbys"), "{error}");
}

/// What the organization's account holds at the end of `scenario`'s run with `seed`, and what
/// the genesis left in it.
fn org_account(scenario: &Scenario, seed: u64) -> (u64, u64) {
    let sim = Simulation::new(scenario, seed, RunOptions::default()).expect("setup");
    let world = sim.run_keeping_world(0).expect("the run passes");
    let holder = &world.nodes[1];
    let org = holder.held_accounts()[0];
    let balance =
        world.nodes.iter().find_map(|n| n.ledger().and_then(|l| l.account(&org))).expect("kept").balance;
    let genesis = scenario.parameters.genesis_supply
        - u64::from(scenario.nodes.clients) * scenario.nodes.initial_balance;
    (balance, genesis)
}

#[test]
fn passed_rewards_are_paid_from_the_organizations_account_through_the_transfer_flow() {
    let scenario = small();
    let amount = scenario.governance.as_ref().expect("governance").reward_amount;
    let result = run(&scenario, 1);
    let g = result.summary.governance.as_ref().expect("governance");
    assert!(g.rewards_passed >= 5, "{g:?}");
    assert_eq!(g.proposals_closed.get("structural_reward").map(|[p, _]| *p), Some(g.rewards_passed));
    // Every passed reward was paid, each once, as a request of the run like any transfer.
    assert_eq!(g.rewards_paid, g.rewards_passed, "{g:?}");
    assert_eq!(g.reward_value_paid, g.rewards_paid * amount);
    assert_eq!(g.reward_value_to_sybils, 0, "an honest supervisor rewards honest members");
    let t = &result.summary.transfers;
    assert_eq!(t.committed, t.issued, "{t:?}");
    // The organization's account paid exactly those rewards, no more (I1 held throughout).
    let (balance, genesis) = org_account(&scenario, 1);
    assert_eq!(genesis - balance, g.reward_value_paid);
}

#[test]
fn a_hostile_supervisor_rewards_its_sybils() {
    let mut scenario = small();
    let g = scenario.governance.as_mut().expect("governance");
    // It admits only sybils, so they soon outvote the honest founders.
    (g.hostile_supervisor, g.sybil_share) = (true, 0.5);
    let result = run(&scenario, 1);
    let g = result.summary.governance.expect("governance");
    assert!(g.rewards_paid > 0, "{g:?}");
    assert_eq!(g.reward_value_to_sybils, g.reward_value_paid, "every passed reward went to a sybil: {g:?}");
    assert!(g.captured >= g.rewards_paid, "each one a captured proposal: {g:?}");
}

#[test]
fn a_reward_of_nothing_or_of_more_than_the_supply_is_refused_by_key() {
    let text = std::fs::read_to_string(scenarios_dir().join("governance-small.toml")).unwrap();
    for amount in ["0", "9_223_372_036_854_775_807"] {
        let changed = text.replace("reward_amount = 500\n", &format!("reward_amount = {amount}\n"));
        assert_ne!(changed, text);
        let error = Scenario::parse(&changed, std::path::Path::new("x.toml")).unwrap_err().to_string();
        assert!(error.contains("governance.reward_amount"), "{error}");
    }
}

// ----- balance weights (D-049) ------------------------------------------------------------

fn by_balance(mut scenario: Scenario) -> Scenario {
    scenario.governance.as_mut().expect("governance").vote_weight = simulator::scenario::VoteWeight::Balance;
    scenario
}

#[test]
fn balance_votes_carry_account_proofs_under_the_opening_root_and_every_check_holds() {
    // The quorum counts all the money outside the organization's account, the guests' too
    // (D-049): the members hold about a quarter of it here.
    let mut scenario = by_balance(small());
    scenario.governance.as_mut().expect("governance").vote_quorum = 0.05;
    let result = run(&scenario, 1);
    let g = result.summary.governance.as_ref().expect("the run has an organization");
    assert_eq!(g.vote_weight, "balance");
    // Votes are taken with proofs: none refused for their form or their proof.
    assert!(g.votes > 100, "{g:?}");
    assert_eq!(g.refused.get("vote_form"), None, "{g:?}");
    assert_eq!(g.refused.get("bad_proof"), None, "{g:?}");
    let closed: u64 = g.proposals_closed.values().map(|[p, f]| p + f).sum();
    let passed: u64 = g.proposals_closed.values().map(|[p, _]| p).sum();
    assert!(closed >= 5 && passed > 0, "{g:?}");
    let kinds = &result.summary.messages.by_kind;
    assert!(kinds.get("prove_account").copied().unwrap_or(0) >= g.votes, "{kinds:?}");
    assert!(kinds.get("account_at").copied().unwrap_or(0) >= g.votes, "{kinds:?}");
}

#[test]
fn balance_votes_in_leaf_groups_are_proven_by_their_group_and_every_check_holds() {
    let mut scenario = Scenario::load(&scenarios_dir().join("governance-elections.toml")).expect("loads");
    scenario.duration_ms = 60_000;
    scenario.sweep = None;
    scenario.governance.as_mut().expect("governance").elect_bookkeepers = false;
    let scenario = by_balance(scenario);
    let sim = Simulation::new(&scenario, 1, RunOptions::default()).expect("setup");
    assert!(sim.groups() > 1, "leaf groups hold the accounts");
    let result = sim.run(|_| {}).expect("every check holds");
    let g = result.summary.governance.expect("governance");
    assert!(g.votes > 100, "{g:?}");
    assert_eq!(g.refused.get("bad_proof"), None, "{g:?}");
}

#[test]
fn a_chief_that_counts_balance_votes_twice_breaks_i10_and_is_caught() {
    let faults = OrgFaults { double_count_votes: true, ..OrgFaults::default() };
    let options = RunOptions { org_faults: Some((0, faults)), ..RunOptions::default() };
    let sim = Simulation::new(&by_balance(short()), 1, options).expect("setup");
    let error = sim.run(|_| {}).expect_err("the broken chief is caught");
    let SimError::Violation { code, violation, .. } = &error else { panic!("{error}") };
    assert_eq!(*code, "I10", "{error}");
    assert!(violation.detail.contains("under Balance, above its"), "{violation}");
}

#[test]
fn balance_weights_with_a_window_longer_than_the_proofs_last_are_refused() {
    let mut scenario = by_balance(short());
    scenario.governance.as_mut().expect("governance").vote_window_pulses = 200;
    let error = scenario.validate(std::path::Path::new("balance.toml")).expect_err("refused");
    assert!(error.to_string().contains("governance.vote_window_pulses"), "{error}");
}
