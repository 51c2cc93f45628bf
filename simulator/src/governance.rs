//! The users of one organization (D-041): what they ask of it, as commands to their own nodes,
//! which sign them and send them to the root committee. The driver stands in for people — who
//! applies, who endorses, what the supervisor approves, who proposes and how members vote —
//! and learns only what their nodes learn: the answers to their requests and the proposals
//! the pulses close. Every choice is drawn from one ChaCha8 stream of the seed.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use reference::Id;
use reference::id::Prefix;
use reference::invariants::Violation;
use reference::node::governance::{Endorsement, GovAccepted, GovAction, GovRefusal, GovResult};
use reference::node::{Command, Roster, SharedSigner};
use reference::org::{OrgError, OrgParams, Organization, ProposalKind, WeightRule};

use crate::rng::{self, Purpose};
use crate::scenario::{Governance, NodeIndex, Scenario, VoteWeight};
use crate::sim::Layout;

/// The supervisor: client 1.
pub const FOUNDER: NodeIndex = 1;

/// What a request was for, so that its answer can be followed up.
#[derive(Clone, Debug)]
enum Asked {
    Create,
    Apply { applied_at_ms: u64, endorsed: bool },
    Decide { applicant: NodeIndex, admit: bool, applied_at_ms: u64 },
    Propose { by_sybil: bool, kind: &'static str },
    Vote { number: u64 },
    Heartbeat,
    AdmitCandidate,
    Ballot,
    OrgAccount,
}

/// What a user asks its node for: a governance action, or (under `balance`, D-049) to show
/// the organization's account under a proposal's pinned root.
#[derive(Clone, Debug)]
enum Todo {
    Act(GovAction),
    ShowOrgAccount { number: u64 },
}

/// A request issued, by tag.
#[derive(Clone, Debug)]
struct Issued {
    node: NodeIndex,
    asked: Asked,
}

/// What a proposal was about, as the driver knows it.
#[derive(Clone, Copy, Debug)]
struct Opened {
    by_sybil: bool,
    kind: &'static str,
    /// The pulse it opened in (its root is the one balance votes prove under, D-049).
    pulse: u64,
}

/// What the organization's users achieved, and what its adversaries did (the summary's
/// `governance`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GovernanceCounts {
    /// The weight rule.
    pub vote_weight: String,
    /// Requests the users' nodes sent (each retried until answered).
    pub requests: u64,
    /// Answered: taken / refused, by reason.
    pub accepted: u64,
    /// Refused requests by reason.
    pub refused: BTreeMap<String, u64>,
    /// Requests whose node gave up waiting for an answer.
    pub given_up: u64,
    /// Applications taken by the root committee.
    pub applications: u64,
    /// Honest applicants admitted.
    pub honest_admitted: u64,
    /// Sybils admitted.
    pub sybils_admitted: u64,
    /// Mean time from an application's acceptance to the supervisor's approval being applied.
    pub mean_ms_to_admission: u64,
    /// Members at the end, as the supervisor's answers and closed proposals tell.
    pub members: u64,
    /// Sybil members at the end.
    pub sybil_members: u64,
    /// Proposals opened.
    pub proposals_opened: u64,
    /// Proposals closed, by kind: `[passed, failed]`.
    pub proposals_closed: BTreeMap<String, [u64; 2]>,
    /// Votes taken.
    pub votes: u64,
    /// Votes taken on the closed proposals over the votes their members could have cast (the
    /// members when each closed: one who joined mid-vote counts, though it was not asked).
    pub turnout: f64,
    /// The adversary's proposals that passed: sybils' expulsions of honest members, a hostile
    /// supervisor's rewards to sybils.
    pub captured: u64,
    /// Honest members expelled.
    pub honest_expelled: u64,
    /// Sybils' votes refused as a second vote by one member (`already voted`): every sybil
    /// votes twice, so this is one per sybil vote that reached the root.
    pub double_votes_refused: u64,
    /// Supervisor changes by election.
    pub supervisor_changes: u64,
    /// Pool candidates the supervisor admitted as members (`elect_bookkeepers`, D-044).
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub candidates_admitted: u64,
    /// Bookkeeper-election ballots taken (`elect_bookkeepers`).
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub ballots: u64,
    /// Of them, cast by sybils (for the adversary's standbys first).
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub sybil_ballots: u64,
    /// Structural rewards that passed: each ordered paid from the organization's account
    /// (D-046).
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub rewards_passed: u64,
    /// Of them, paid: the founder's node holds the transfer's proof.
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub rewards_paid: u64,
    /// Of them, whose payment ended without committing (refused, abandoned, or lost to a
    /// restart of the holder's node): the reward stays unpaid.
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub rewards_failed: u64,
    /// The value paid as rewards.
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub reward_value_paid: u64,
    /// Of it, paid to sybils (a hostile supervisor's rewards).
    #[serde(default, skip_serializing_if = "crate::summary::is_zero")]
    pub reward_value_to_sybils: u64,
}

/// The bookkeeper elections the members decide (`elect_bookkeepers`, D-044).
#[derive(Clone, Debug)]
struct Elections {
    /// Each leaf group's pool candidates.
    pools: BTreeMap<Prefix, Vec<Id>>,
    /// Each client's leaf group, by node index.
    group_of: Vec<Prefix>,
    /// The candidates the adversary holds (`adversaries.forging_candidates`).
    adversary: BTreeSet<Id>,
    /// Seats of each committee.
    seats: usize,
    /// A term.
    cycle_ms: u64,
    /// The start of the next term whose ballots are still to be drawn.
    next_term_ms: u64,
}

/// The organization's users.
pub struct GovDriver {
    cfg: Governance,
    clients: u32,
    pulse_ms: u64,
    /// The organization's key and Id.
    org_key: SharedSigner,
    rng: ChaCha8Rng,
    sybil: Vec<bool>,
    supervisor: NodeIndex,
    founded: bool,
    members: BTreeSet<NodeIndex>,
    applied: BTreeSet<NodeIndex>,
    issued: BTreeMap<u64, Issued>,
    due: BTreeMap<u64, Vec<(NodeIndex, Todo, Asked)>>,
    next_tag: u64,
    next_application_ms: u64,
    next_proposal_ms: u64,
    proposals: BTreeMap<u64, Opened>,
    closed: BTreeSet<u64>,
    /// Members who could vote when each closed proposal closed, summed (turnout's denominator).
    possible_votes: u64,
    /// Votes taken on each proposal not yet closed.
    votes_on: BTreeMap<u64, u64>,
    /// Votes taken on the proposals that closed (turnout's numerator).
    closed_votes: u64,
    admission_ms_total: u64,
    last_election_ms: u64,
    /// The governance trust scores the root committee is configured with.
    trust: BTreeMap<Id, u64>,
    elections: Option<Elections>,
    /// When the supervisor next proposes a structural reward (`rewards_per_s`).
    next_reward_ms: u64,
    /// Passed rewards to pay, `(payee, amount)`, until the run takes them ([`GovDriver::payments`]).
    payments: Vec<(Id, u64)>,
    /// The rewards being paid, by transfer tag: `(payee, amount)`.
    paying: BTreeMap<u64, (Id, u64)>,
    counts: GovernanceCounts,
}

impl GovDriver {
    /// The users of `scenario`'s organization, if it has one. `ids` are the nodes' Ids,
    /// `roster` and `layout` the genesis's (who stands in which pool); `org_key` the
    /// organization's key (no node's).
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        ids: &[Id],
        (roster, layout): (&Roster, Layout),
        org_key: SharedSigner,
    ) -> Option<GovDriver> {
        let cfg = scenario.governance.clone()?;
        let elections = cfg.elect_bookkeepers.then(|| elections(scenario, seed, ids, roster, layout));
        let clients = scenario.nodes.clients;
        let mut rng = rng::stream(seed, Purpose::Governance, 0);
        // Client 1 (the supervisor) and the founding members are honest.
        let sybil: Vec<bool> =
            (0..=clients).map(|i| i > cfg.founding_members && chance(&mut rng, cfg.sybil_share)).collect();
        let trust = (1..=clients)
            .map(|i| (ids[i as usize], if sybil[i as usize] { cfg.trust_sybil } else { cfg.trust_honest }))
            .collect();
        let counts =
            GovernanceCounts { vote_weight: weight_name(cfg.vote_weight).into(), ..Default::default() };
        Some(GovDriver {
            next_application_ms: cfg.found_at_ms + 5 * scenario.parameters.pulse_ms,
            next_proposal_ms: cfg.found_at_ms + 10 * scenario.parameters.pulse_ms,
            next_reward_ms: cfg.found_at_ms + 10 * scenario.parameters.pulse_ms,
            payments: Vec::new(),
            paying: BTreeMap::new(),
            last_election_ms: 0,
            pulse_ms: scenario.parameters.pulse_ms,
            clients,
            org_key,
            rng,
            sybil,
            supervisor: FOUNDER,
            founded: false,
            members: BTreeSet::new(),
            applied: BTreeSet::new(),
            issued: BTreeMap::new(),
            due: BTreeMap::new(),
            next_tag: 0,
            proposals: BTreeMap::new(),
            closed: BTreeSet::new(),
            possible_votes: 0,
            votes_on: BTreeMap::new(),
            closed_votes: 0,
            admission_ms_total: 0,
            trust,
            elections,
            counts,
            cfg,
        })
    }

    /// Whether the organization elects the leaf committees (the root committee's electorate).
    pub fn elects_bookkeepers(&self) -> bool {
        self.elections.is_some()
    }

    /// The organization's Id.
    pub fn org(&self) -> Id {
        self.org_key.id()
    }

    /// The organization's key.
    pub fn org_key(&self) -> &SharedSigner {
        &self.org_key
    }

    /// The node that holds the organization's key and pays from its account: its founder's
    /// (SPEC §3.3), whoever is supervisor later (D-046).
    pub fn holder(&self) -> NodeIndex {
        FOUNDER
    }

    /// The passed rewards to pay now, `(payee, amount)`: the run hands each to the holder's
    /// node as a transfer from the organization's account and reports its tag back with
    /// [`GovDriver::paying`].
    pub fn payments(&mut self) -> Vec<(Id, u64)> {
        std::mem::take(&mut self.payments)
    }

    /// The reward `(payee, amount)` is being paid as transfer `tag`.
    pub fn paying(&mut self, tag: u64, reward: (Id, u64)) {
        self.paying.insert(tag, reward);
    }

    /// Transfer `tag` ended without committing (refused, abandoned, lost): counted if it was
    /// to pay a reward, which then stays unpaid.
    pub fn transfer_failed(&mut self, tag: u64) {
        if self.paying.remove(&tag).is_some() {
            self.counts.rewards_failed += 1;
        }
    }

    /// Transfer `tag` committed at the payer: counted if it paid a reward.
    pub fn transfer_committed(&mut self, tag: u64, index_of: &dyn Fn(&Id) -> Option<NodeIndex>) {
        if let Some((payee, amount)) = self.paying.remove(&tag) {
            self.counts.rewards_paid += 1;
            self.counts.reward_value_paid += amount;
            if index_of(&payee).is_some_and(|p| self.is_sybil(p)) {
                self.counts.reward_value_to_sybils += amount;
            }
        }
    }

    /// The trust scores the root committee weighs `trust` votes with.
    pub fn trust(&self) -> &BTreeMap<Id, u64> {
        &self.trust
    }

    /// Whether client `node` is a sybil.
    pub fn is_sybil(&self, node: NodeIndex) -> bool {
        self.sybil.get(node as usize).copied().unwrap_or(false)
    }

    /// When the first tick is.
    pub fn first_tick_ms(&self) -> u64 {
        self.cfg.found_at_ms
    }

    /// The organization's parameters.
    pub fn params(&self) -> OrgParams {
        org_params(&self.cfg)
    }

    /// One pulse's worth of user decisions at `now_ms`: the commands to hand to the nodes.
    pub fn tick(
        &mut self,
        now_ms: u64,
        ids: &[Id],
        signers: &dyn Fn(NodeIndex) -> SharedSigner,
    ) -> Vec<(NodeIndex, Command)> {
        let mut out = Vec::new();
        if !self.founded && self.issued.is_empty() {
            let action = GovAction::create(self.org_key.as_ref(), ids[FOUNDER as usize], self.params());
            self.issue(FOUNDER, action, Asked::Create, &mut out);
        }
        if self.founded {
            self.applications(now_ms, ids, signers, &mut out);
            self.propose(now_ms, ids, &mut out);
            self.propose_rewards(now_ms, ids, &mut out);
            self.heartbeat(now_ms, &mut out);
            self.ballots(now_ms);
        }
        let later = self.due.split_off(&(now_ms + 1));
        for (_, actions) in std::mem::replace(&mut self.due, later) {
            for (node, todo, asked) in actions {
                self.issue_todo(node, todo, asked, &mut out);
            }
        }
        out
    }

    fn issue(
        &mut self,
        node: NodeIndex,
        action: GovAction,
        asked: Asked,
        out: &mut Vec<(NodeIndex, Command)>,
    ) {
        self.issue_todo(node, Todo::Act(action), asked, out);
    }

    /// Hand `todo` to `node` as a command. Under `balance` a vote is one the node sends with
    /// its account's proof under the proposal's pinned root (D-049).
    fn issue_todo(&mut self, node: NodeIndex, todo: Todo, asked: Asked, out: &mut Vec<(NodeIndex, Command)>) {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.counts.requests += 1;
        self.issued.insert(tag, Issued { node, asked });
        let org = self.org();
        let opened_pulse = |number: &u64| self.proposals.get(number).map_or(0, |o| o.pulse);
        let command = match todo {
            Todo::Act(GovAction::Vote { number, yes }) if self.cfg.vote_weight == VoteWeight::Balance => {
                Command::VoteByBalance { org, number, opened_pulse: opened_pulse(&number), yes, tag }
            }
            Todo::Act(action) => Command::Gov { org, action, tag },
            Todo::ShowOrgAccount { number } => {
                Command::ProveOrgAccount { org, number, opened_pulse: opened_pulse(&number), tag }
            }
        };
        out.push((node, command));
    }

    fn later(&mut self, at_ms: u64, node: NodeIndex, action: GovAction, asked: Asked) {
        self.due.entry(at_ms).or_default().push((node, Todo::Act(action), asked));
    }

    fn supervisor_silent(&self, now_ms: u64) -> bool {
        self.cfg.supervisor_silent_from_ms.is_some_and(|at| now_ms >= at) && self.supervisor == FOUNDER
    }

    /// Guests apply at the configured rate; sybils are endorsed by sybil members.
    fn applications(
        &mut self,
        now_ms: u64,
        ids: &[Id],
        signers: &dyn Fn(NodeIndex) -> SharedSigner,
        out: &mut Vec<(NodeIndex, Command)>,
    ) {
        while self.cfg.applications_per_s > 0.0 && self.next_application_ms <= now_ms {
            let gap_ms = rng::exponential(&mut self.rng, 1000.0 / self.cfg.applications_per_s) as u64;
            self.next_application_ms += gap_ms.max(1);
            let guest = rng::between(&mut self.rng, 2, u64::from(self.clients)) as NodeIndex;
            if self.members.contains(&guest) || self.applied.contains(&guest) {
                continue;
            }
            let sybil = self.is_sybil(guest);
            let endorser = if sybil {
                self.random_member(|d, m| d.is_sybil(m))
            } else if chance(&mut self.rng, self.cfg.endorsed_share) {
                self.random_member(|d, m| !d.is_sybil(m))
            } else {
                None
            };
            let endorsement =
                endorser.map(|e| Endorsement::sign(signers(e).as_ref(), self.org(), ids[guest as usize]));
            self.applied.insert(guest);
            let asked = Asked::Apply { applied_at_ms: now_ms, endorsed: endorsement.is_some() };
            self.issue(guest, GovAction::Apply { endorsement }, asked, out);
        }
    }

    fn random_member(&mut self, keep: impl Fn(&GovDriver, NodeIndex) -> bool) -> Option<NodeIndex> {
        let eligible: Vec<NodeIndex> = self.members.iter().copied().filter(|m| keep(self, *m)).collect();
        (!eligible.is_empty())
            .then(|| eligible[rng::between(&mut self.rng, 0, eligible.len() as u64 - 1) as usize])
    }

    /// A member opens a proposal at the configured rate: a sybil proposes to expel an honest
    /// member, an honest member a parameter change; once the supervisor was silent for
    /// `supervisor_absence_pulses`, an honest member proposes itself as supervisor.
    fn propose(&mut self, now_ms: u64, ids: &[Id], out: &mut Vec<(NodeIndex, Command)>) {
        if self.supervisor_silent(now_ms) {
            let silent_ms = now_ms - self.cfg.supervisor_silent_from_ms.unwrap_or(now_ms);
            let absence_ms = self.cfg.supervisor_absence_pulses * self.pulse_ms;
            let window_ms = self.cfg.vote_window_pulses * self.pulse_ms;
            if silent_ms > absence_ms + self.pulse_ms
                && now_ms >= self.last_election_ms + window_ms + 2 * self.pulse_ms
                && let Some(candidate) = self.random_member(|d, m| !d.is_sybil(m) && m != d.supervisor)
            {
                self.last_election_ms = now_ms;
                let kind = ProposalKind::SupervisorElect { candidate: ids[candidate as usize] };
                let asked = Asked::Propose { by_sybil: false, kind: "supervisor_elect" };
                self.issue(candidate, GovAction::Propose { kind }, asked, out);
            }
        }
        while self.cfg.proposals_per_s > 0.0 && self.next_proposal_ms <= now_ms {
            let gap_ms = rng::exponential(&mut self.rng, 1000.0 / self.cfg.proposals_per_s) as u64;
            self.next_proposal_ms += gap_ms.max(1);
            let Some(proposer) = self.random_member(|_, _| true) else { continue };
            let (kind, name) = if self.is_sybil(proposer) {
                let Some(victim) = self.random_member(|d, m| !d.is_sybil(m) && m != d.supervisor) else {
                    continue;
                };
                (ProposalKind::Expel { member: ids[victim as usize] }, "expel")
            } else {
                let mut params = self.params();
                params.quorum_permille = rng::between(&mut self.rng, 100, 300) as u32;
                (ProposalKind::ParamChange { params }, "param_change")
            };
            let asked = Asked::Propose { by_sybil: self.is_sybil(proposer), kind: name };
            self.issue(proposer, GovAction::Propose { kind }, asked, out);
        }
    }

    /// The supervisor proposes structural rewards at `rewards_per_s` (only it may, SPEC §3.6):
    /// an honest one to a random honest member, a hostile one to a sybil member when it has
    /// one. A silent supervisor proposes nothing.
    fn propose_rewards(&mut self, now_ms: u64, ids: &[Id], out: &mut Vec<(NodeIndex, Command)>) {
        while self.cfg.rewards_per_s > 0.0 && self.next_reward_ms <= now_ms {
            let gap_ms = rng::exponential(&mut self.rng, 1000.0 / self.cfg.rewards_per_s) as u64;
            self.next_reward_ms += gap_ms.max(1);
            if self.supervisor_silent(now_ms) {
                continue;
            }
            let hostile = self.cfg.hostile_supervisor && self.supervisor == FOUNDER;
            let sybil = if hostile { self.random_member(|d, m| d.is_sybil(m)) } else { None };
            let Some(payee) = sybil.or_else(|| self.random_member(|d, m| !d.is_sybil(m))) else { continue };
            let kind = ProposalKind::StructuralReward {
                to: ids[payee as usize],
                amount: self.cfg.reward_amount,
                reason: "work for the organization".into(),
            };
            // A hostile supervisor's reward to a sybil is the adversary's proposal: its sybils
            // vote for it as a bloc, and it counts as captured if it passes.
            let asked = Asked::Propose { by_sybil: sybil.is_some(), kind: "structural_reward" };
            self.issue(self.supervisor, GovAction::Propose { kind }, asked, out);
        }
    }

    /// At each term's start every client member draws its ballot for its group's next
    /// election and casts it within the term's first half: an honest one approves `seats`
    /// candidates of its pool at random, a sybil the adversary's candidates first.
    fn ballots(&mut self, now_ms: u64) {
        let Some(mut elections) = self.elections.take() else { return };
        while elections.next_term_ms <= now_ms {
            let term_ms = elections.next_term_ms;
            elections.next_term_ms += elections.cycle_ms;
            let voters: Vec<NodeIndex> = self.members.iter().copied().collect();
            for voter in voters {
                let group = elections.group_of[voter as usize];
                let Some(pool) = elections.pools.get(&group) else { continue };
                let mut order: Vec<Id> = pool.clone();
                rng::shuffle(&mut order, &mut self.rng);
                if self.is_sybil(voter) {
                    order.sort_by_key(|id| !elections.adversary.contains(id)); // stable
                }
                order.truncate(elections.seats);
                let last_ms = term_ms + (elections.cycle_ms / 2).max(self.pulse_ms);
                let at_ms = rng::between(&mut self.rng, term_ms + self.pulse_ms, last_ms);
                self.later(at_ms, voter, GovAction::Ballot { group, approve: order }, Asked::Ballot);
            }
        }
        self.elections = Some(elections);
    }

    /// An honest, present supervisor shows it is there four times per absence period.
    fn heartbeat(&mut self, now_ms: u64, out: &mut Vec<(NodeIndex, Command)>) {
        let every_ms = (self.cfg.supervisor_absence_pulses * self.pulse_ms / 4).max(self.pulse_ms);
        if !self.supervisor_silent(now_ms) && now_ms.is_multiple_of(every_ms) {
            self.issue(self.supervisor, GovAction::Heartbeat, Asked::Heartbeat, out);
        }
    }

    /// The answer to request `tag`, as its node learnt it, applied at `pulse`.
    pub fn answered(&mut self, now_ms: u64, (tag, pulse): (u64, u64), result: GovResult, ids: &[Id]) {
        let Some(issued) = self.issued.remove(&tag) else { return };
        match result {
            Ok(accepted) => {
                self.counts.accepted += 1;
                self.follow_up(now_ms, (issued, pulse), accepted, ids);
            }
            Err(refusal) => {
                *self.counts.refused.entry(refusal.name().to_string()).or_default() += 1;
                // Either of a sybil's two votes: the first may arrive second, after retries.
                if let Asked::Vote { .. } = issued.asked
                    && self.is_sybil(issued.node)
                {
                    self.counts.double_votes_refused +=
                        u64::from(matches!(refusal, GovRefusal::Org(OrgError::AlreadyVoted(_))));
                }
                if let Asked::Apply { .. } = issued.asked {
                    self.applied.remove(&issued.node);
                }
            }
        }
    }

    fn follow_up(&mut self, now_ms: u64, (issued, pulse): (Issued, u64), accepted: GovAccepted, ids: &[Id]) {
        match issued.asked {
            Asked::Create => {
                self.founded = true;
                self.members.insert(FOUNDER);
                // The founding members apply at five a second: the supervisor's node keeps only
                // so many requests waiting (GOV_QUEUE_MAX), as a person would pace the work.
                for member in 2..=self.cfg.founding_members {
                    let at_ms = now_ms + self.pulse_ms + u64::from(member - 2) * 200;
                    let asked = Asked::Apply { applied_at_ms: at_ms, endorsed: true };
                    self.later(at_ms, member, GovAction::Apply { endorsement: None }, asked);
                    self.applied.insert(member);
                }
                // Then it admits every pool candidate, at the same pace: those who may keep
                // the books must be members with the `bookkeep` right (SPEC §6.3).
                let candidates: Vec<Id> =
                    self.elections.iter().flat_map(|e| e.pools.values().flatten().copied()).collect();
                let after_ms = now_ms + self.pulse_ms + u64::from(self.cfg.founding_members) * 200;
                for (k, guest) in candidates.into_iter().enumerate() {
                    let at_ms = after_ms + k as u64 * 200;
                    self.later(at_ms, FOUNDER, GovAction::AdmitByTask { guest }, Asked::AdmitCandidate);
                }
            }
            Asked::Apply { applied_at_ms, endorsed } => {
                self.counts.applications += 1;
                self.decide(now_ms, issued.node, applied_at_ms, endorsed, ids);
            }
            Asked::Decide { applicant, admit, applied_at_ms } => {
                self.applied.remove(&applicant);
                if admit {
                    self.members.insert(applicant);
                    self.admission_ms_total += now_ms.saturating_sub(applied_at_ms);
                    if self.is_sybil(applicant) {
                        self.counts.sybils_admitted += 1;
                    } else {
                        self.counts.honest_admitted += 1;
                    }
                }
            }
            Asked::Propose { by_sybil, kind } => {
                if let GovAccepted::Opened { number } = accepted {
                    self.counts.proposals_opened += 1;
                    self.proposals.insert(number, Opened { by_sybil, kind, pulse });
                    if self.cfg.vote_weight == VoteWeight::Balance {
                        // The proposer shows the organization's account, so that the quorum
                        // counts the members' money, not the undistributed supply.
                        let todo = Todo::ShowOrgAccount { number };
                        self.due.entry(now_ms).or_default().push((issued.node, todo, Asked::OrgAccount));
                    }
                    self.cast_votes(now_ms, number, by_sybil);
                }
            }
            Asked::Vote { number, .. } => {
                self.counts.votes += 1;
                *self.votes_on.entry(number).or_default() += 1;
            }
            Asked::Heartbeat | Asked::OrgAccount => {}
            Asked::AdmitCandidate => self.counts.candidates_admitted += 1,
            Asked::Ballot => {
                self.counts.ballots += 1;
                self.counts.sybil_ballots += u64::from(self.is_sybil(issued.node));
            }
        }
    }

    /// The supervisor decides an application a few pulses after it was taken: an honest one
    /// approves every endorsed application and some unendorsed ones; a hostile one approves
    /// sybils only; a silent one never decides.
    fn decide(&mut self, now_ms: u64, applicant: NodeIndex, applied_at_ms: u64, endorsed: bool, ids: &[Id]) {
        let at_ms = now_ms + rng::between(&mut self.rng, 1, 3) * self.pulse_ms;
        if self.supervisor_silent(at_ms) {
            return;
        }
        let admit = if applicant <= self.cfg.founding_members {
            true
        } else if self.cfg.hostile_supervisor && self.supervisor == FOUNDER {
            self.is_sybil(applicant)
        } else {
            endorsed || chance(&mut self.rng, self.cfg.approve_unendorsed)
        };
        let action = GovAction::Decide { applicant: ids[applicant as usize], admit };
        self.later(at_ms, self.supervisor, action, Asked::Decide { applicant, admit, applied_at_ms });
    }

    /// Members vote on proposal `number`: sybils as a bloc (yes on their own, no on honest
    /// ones — and each a second time), honest members at the configured turnout, against sybil
    /// proposals and with `yes_share` on honest ones.
    fn cast_votes(&mut self, now_ms: u64, number: u64, by_sybil: bool) {
        let window_ms = self.cfg.vote_window_pulses * self.pulse_ms;
        let voters: Vec<NodeIndex> = self.members.iter().copied().collect();
        for voter in voters {
            let sybil = self.is_sybil(voter);
            if !sybil && !chance(&mut self.rng, self.cfg.turnout) {
                continue;
            }
            let yes = if sybil {
                by_sybil
            } else if by_sybil {
                false
            } else {
                chance(&mut self.rng, self.cfg.yes_share)
            };
            let at_ms = now_ms + rng::between(&mut self.rng, 0, (window_ms / 2).max(1) - 1);
            if voter == self.supervisor && self.supervisor_silent(at_ms) {
                continue; // a silent supervisor does not vote either
            }
            self.later(at_ms, voter, GovAction::Vote { number, yes }, Asked::Vote { number });
            if sybil {
                let again = at_ms + self.pulse_ms * 2;
                self.later(again, voter, GovAction::Vote { number, yes }, Asked::Vote { number });
            }
        }
    }

    /// A pulse closed proposal `number` about `kind`, passed or not (each is counted once,
    /// whichever root member told of it first).
    pub fn closed(
        &mut self,
        number: u64,
        kind: &ProposalKind,
        passed: bool,
        index_of: &dyn Fn(&Id) -> Option<NodeIndex>,
    ) {
        if !self.closed.insert(number) {
            return;
        }
        let opened = self.proposals.get(&number).copied();
        let name = opened.map_or_else(|| kind_name(kind), |o| o.kind);
        let entry = self.counts.proposals_closed.entry(name.to_string()).or_default();
        entry[usize::from(!passed)] += 1;
        self.possible_votes += self.members.len() as u64;
        self.closed_votes += self.votes_on.remove(&number).unwrap_or(0);
        if !passed {
            return;
        }
        if opened.is_some_and(|o| o.by_sybil) {
            self.counts.captured += 1;
        }
        match kind {
            ProposalKind::Expel { member } => {
                if let Some(member) = index_of(member) {
                    self.members.remove(&member);
                    self.counts.honest_expelled += u64::from(!self.is_sybil(member));
                }
            }
            ProposalKind::SupervisorElect { candidate } => {
                if let Some(candidate) = index_of(candidate) {
                    self.supervisor = candidate;
                    self.counts.supervisor_changes += 1;
                }
            }
            ProposalKind::StructuralReward { to, amount, .. } => {
                self.counts.rewards_passed += 1;
                self.payments.push((*to, *amount));
            }
            _ => {}
        }
    }

    /// A node gave up on request `tag`.
    pub fn gave_up(&mut self, tag: u64) {
        if let Some(issued) = self.issued.remove(&tag) {
            self.counts.given_up += 1;
            if let Asked::Apply { .. } = issued.asked {
                self.applied.remove(&issued.node);
            }
        }
    }

    /// The counts at the end of the run.
    pub fn finish(mut self) -> GovernanceCounts {
        let admitted = self.counts.honest_admitted + self.counts.sybils_admitted;
        self.counts.mean_ms_to_admission = self.admission_ms_total / admitted.max(1);
        self.counts.members = self.members.len() as u64;
        self.counts.sybil_members = self.members.iter().filter(|m| self.is_sybil(**m)).count() as u64;
        let cast = self.closed_votes;
        self.counts.turnout = if self.possible_votes == 0 {
            0.0
        } else {
            (cast as f64 / self.possible_votes as f64 * 1000.0).round() / 1000.0
        };
        self.counts
    }
}

/// Who stands where in the elections, from the genesis roster.
fn elections(scenario: &Scenario, seed: u64, ids: &[Id], roster: &Roster, layout: Layout) -> Elections {
    let pools =
        roster.groups().skip(1).map(|(g, _)| (g, roster.pool(&g).iter().map(|c| c.id).collect())).collect();
    let group_of = ids.iter().map(|id| roster.group_of(id)).collect();
    let held = crate::election::forging_standbys(scenario, seed, layout);
    let adversary = ids.iter().zip(held).filter(|(_, held)| *held).map(|(id, _)| *id).collect();
    let params = &scenario.parameters;
    let cycle_ms = params.election_cycle_pulses.unwrap_or(1).max(1) * params.pulse_ms;
    let found_at_ms = scenario.governance.as_ref().map_or(0, |g| g.found_at_ms);
    Elections {
        pools,
        group_of,
        adversary,
        seats: 1 + params.backups,
        cycle_ms,
        // The first term that starts after the founding (and its first members) is the first
        // whose ballots are cast.
        next_term_ms: (found_at_ms / cycle_ms + 1) * cycle_ms,
    }
}

/// Each balance vote's bound: `(organization, proposal, voter)` → the voter's balance under
/// the proposal's pinned root (looked up for every vote at every check: hashed, and only
/// looked up, never iterated, so its order reaches no output).
pub type BalanceBounds = rustc_hash::FxHashMap<(Id, u64, Id), u64>;

/// I10 over `orgs` (a root member's organizations): no tally exceeds the weights its voters
/// may cast under each organization's rule, with `trust` the scores trust votes weigh by and
/// `balances` each balance vote's bound — `(organization, proposal, voter)` → the voter's
/// balance in the ledger under the proposal's pinned root (D-049), as a bookkeeper of its
/// group holds it. A balance vote whose bound no bookkeeper could tell is not bounded. Returns
/// the number of organizations checked.
pub fn weights_hold(
    orgs: &BTreeMap<Id, Organization>,
    trust: &BTreeMap<Id, u64>,
    balances: &BalanceBounds,
) -> Result<u64, Violation> {
    for (id, org) in orgs {
        let bound = |number: u64, voter: &Id, rule: WeightRule| match rule {
            WeightRule::OneMemberOneVote => 1,
            WeightRule::Trust => trust.get(voter).copied().unwrap_or(0),
            WeightRule::Balance => balances.get(&(*id, number, *voter)).copied().unwrap_or(u64::MAX),
        };
        reference::invariants::governance_weighed(org, bound)?;
    }
    Ok(orgs.len() as u64)
}

/// True with probability `p`.
fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng::unit(rng) < p
}

impl std::fmt::Debug for GovDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovDriver")
            .field("org", &self.org())
            .field("members", &self.members.len())
            .field("issued", &self.issued.len())
            .finish_non_exhaustive()
    }
}

/// The organization's parameters from `[governance]`.
pub fn org_params(cfg: &Governance) -> OrgParams {
    OrgParams {
        vote_window_pulses: cfg.vote_window_pulses,
        quorum_permille: (cfg.vote_quorum * 1000.0).round() as u32,
        threshold_permille: (cfg.vote_threshold * 1000.0).round() as u32,
        weight_rule: match cfg.vote_weight {
            VoteWeight::OneMemberOneVote => WeightRule::OneMemberOneVote,
            VoteWeight::Trust => WeightRule::Trust,
            VoteWeight::Balance => WeightRule::Balance,
        },
        supervisor_absence_pulses: cfg.supervisor_absence_pulses,
    }
}

fn weight_name(weight: VoteWeight) -> &'static str {
    match weight {
        VoteWeight::OneMemberOneVote => "one_member_one_vote",
        VoteWeight::Trust => "trust",
        VoteWeight::Balance => "balance",
    }
}

fn kind_name(kind: &ProposalKind) -> &'static str {
    match kind {
        ProposalKind::StructuralReward { .. } => "structural_reward",
        ProposalKind::Expel { .. } => "expel",
        ProposalKind::ParamChange { .. } => "param_change",
        ProposalKind::SupervisorElect { .. } => "supervisor_elect",
        ProposalKind::DisputeVerdict { .. } => "dispute_verdict",
    }
}
