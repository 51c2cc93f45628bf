//! Organizations (SPEC §3): roles, rights, membership, proposals and votes, as a pure state
//! machine. Every call names the acting member (the caller has checked its signature) and the
//! current pulse; every refusal is a typed [`OrgError`] and leaves the organization unchanged.
//! Effects on the ledger (a structural reward) come back as [`Effect`]s for the caller to apply.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use crate::crypto::Hash32;
use crate::id::Id;

/// One right (SPEC §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum Right {
    /// Read public data.
    ReadPublic = 1 << 0,
    /// Read members-only data.
    ReadMember = 1 << 1,
    /// Endorse applications.
    Invite = 1 << 2,
    /// Vote on proposals.
    Vote = 1 << 3,
    /// Approve or reject applications.
    ApproveJoin = 1 << 4,
    /// Open proposals.
    Propose = 1 << 5,
    /// Expel (directly; members expel by proposal).
    Expel = 1 << 6,
    /// Change parameters (directly; members change them by proposal).
    SetParams = 1 << 7,
    /// Stand for bookkeeper.
    Bookkeep = 1 << 8,
}

impl Right {
    /// Every right, in bit order.
    pub const ALL: [Right; 9] = [
        Right::ReadPublic,
        Right::ReadMember,
        Right::Invite,
        Right::Vote,
        Right::ApproveJoin,
        Right::Propose,
        Right::Expel,
        Right::SetParams,
        Right::Bookkeep,
    ];
}

/// A set of [`Right`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rights(u16);

impl Rights {
    /// No rights.
    pub const NONE: Rights = Rights(0);
    /// Every right: the supervisor's preset.
    pub const SUPERVISOR: Rights = Rights(0x1FF);
    /// The member preset: read public and member data, invite, vote, propose, bookkeep.
    pub const MEMBER: Rights = Rights(
        Right::ReadPublic as u16
            | Right::ReadMember as u16
            | Right::Invite as u16
            | Right::Vote as u16
            | Right::Propose as u16
            | Right::Bookkeep as u16,
    );
    /// The guest preset: read public data.
    pub const GUEST: Rights = Rights(Right::ReadPublic as u16);

    /// Whether `right` is in the set.
    pub fn has(self, right: Right) -> bool {
        self.0 & right as u16 != 0
    }

    /// Whether every right of `self` is in `other`.
    pub fn is_subset_of(self, other: Rights) -> bool {
        self.0 & !other.0 == 0
    }

    /// The set as its bits (the `Right` values or-ed).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// The set of `bits`, if every bit names a right.
    pub fn from_bits(bits: u16) -> Option<Rights> {
        (bits & !Rights::SUPERVISOR.0 == 0).then_some(Rights(bits))
    }

    /// The set with `right` added.
    pub fn with(self, right: Right) -> Rights {
        Rights(self.0 | right as u16)
    }
}

/// How votes are weighed (SPEC §3.6, `vote_weight`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum WeightRule {
    /// Every voting member weighs 1.
    OneMemberOneVote,
    /// A member weighs its balance (the default: "a voter's votes may not exceed its balance").
    Balance,
    /// A member weighs its trust score.
    Trust,
}

/// The voting parameters (SPEC §15). Fractions are in per mille so that tallies are exact
/// integer comparisons (docs/decisions.md D-020).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgParams {
    /// `vote_window_pulses`.
    pub vote_window_pulses: u64,
    /// `vote_quorum` × 1000: turnout must reach this share of the total weight.
    pub quorum_permille: u32,
    /// `vote_threshold` × 1000: yes must exceed this share of the votes cast.
    pub threshold_permille: u32,
    /// `vote_weight`.
    pub weight_rule: WeightRule,
    /// `supervisor_absence_pulses`.
    pub supervisor_absence_pulses: u64,
}

impl Default for OrgParams {
    fn default() -> Self {
        OrgParams {
            vote_window_pulses: 600,
            quorum_permille: 200,
            threshold_permille: 500,
            weight_rule: WeightRule::Balance,
            supervisor_absence_pulses: 3600,
        }
    }
}

/// What the members can vote on (SPEC §3.6).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProposalKind {
    /// Pay `amount` from the organization account to `to` (opened by the supervisor only).
    StructuralReward {
        /// The receiver.
        to: Id,
        /// The amount.
        amount: u64,
        /// Why.
        reason: String,
    },
    /// Remove a member.
    Expel {
        /// The member.
        member: Id,
    },
    /// Change the voting parameters.
    ParamChange {
        /// The new parameters.
        params: OrgParams,
    },
    /// Replace a supervisor silent for `supervisor_absence_pulses`.
    SupervisorElect {
        /// The member who becomes supervisor.
        candidate: Id,
    },
    /// Decide a dispute the evidence does not settle by itself (SPEC §8).
    DisputeVerdict {
        /// The dispute.
        dispute: Hash32,
        /// The party found at fault.
        at_fault: Id,
    },
}

/// A recorded vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vote {
    /// For or against.
    pub yes: bool,
    /// The voter's weight when it voted.
    pub weight: u64,
    /// The weight rule in effect when it voted (I10 bounds the weight under it).
    pub rule: WeightRule,
}

/// How a closed proposal ended, with the tally it was decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Outcome {
    /// Whether it passed.
    pub passed: bool,
    /// Weight of the yes votes.
    pub yes: u64,
    /// Weight of the no votes.
    pub no: u64,
    /// The total weight of the voting members at closing.
    pub total_weight: u64,
    /// The parameters it was decided under.
    pub params: OrgParams,
}

/// A proposal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proposal {
    /// What it proposes.
    pub kind: ProposalKind,
    /// Who opened it.
    pub proposer: Id,
    /// The pulse it opened at.
    pub opened_pulse: u64,
    /// Votes by voter.
    pub votes: BTreeMap<Id, Vote>,
    /// Set when it closes.
    pub outcome: Option<Outcome>,
}

/// A member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    /// Its rights.
    pub rights: Rights,
}

/// What a passed proposal asks of the rest of the system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing beyond the organization's own state.
    None,
    /// Transfer `amount` from the organization account to `to` (a structural reward).
    Reward {
        /// The receiver.
        to: Id,
        /// The amount.
        amount: u64,
    },
    /// A dispute was decided against `at_fault` (the dispute layer confiscates).
    Verdict {
        /// The dispute.
        dispute: Hash32,
        /// The party at fault.
        at_fault: Id,
    },
}

/// Why the organization refused an action. Nothing changes on a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Error)]
#[non_exhaustive]
pub enum OrgError {
    /// The actor is not a member.
    #[error("{0} is not a member")]
    NotMember(Id),
    /// The actor lacks a right.
    #[error("{actor} lacks the {right:?} right")]
    LacksRight {
        /// The actor.
        actor: Id,
        /// The right.
        right: Right,
    },
    /// Only the supervisor may do this.
    #[error("only the supervisor may do this")]
    NotSupervisor,
    /// The applicant is already a member.
    #[error("{0} is already a member")]
    AlreadyMember(Id),
    /// The applicant already has an open application.
    #[error("{0} has already applied")]
    AlreadyApplied(Id),
    /// No open application from this guest.
    #[error("no application from {0}")]
    NoApplication(Id),
    /// The supervisor cannot leave or be expelled while supervisor.
    #[error("the supervisor cannot leave or be expelled")]
    SupervisorStays,
    /// Rights can only be narrowed, and `vote` only removed by expulsion.
    #[error("rights may only be narrowed, and vote is removed only by expulsion")]
    BadRightsChange,
    /// No such proposal.
    #[error("no proposal {0}")]
    UnknownProposal(u64),
    /// The voting window is over (or the proposal is closed).
    #[error("voting on proposal {0} is closed")]
    VotingClosed(u64),
    /// The voting window is still open.
    #[error("proposal {0} is still open for voting")]
    VotingOpen(u64),
    /// The voter already voted on this proposal.
    #[error("{0} already voted")]
    AlreadyVoted(Id),
    /// A supervisor election while the supervisor is not absent long enough.
    #[error("the supervisor was seen {seen_pulses_ago} pulses ago; an election needs {needed}")]
    SupervisorNotAbsent {
        /// Pulses since the supervisor last acted.
        seen_pulses_ago: u64,
        /// `supervisor_absence_pulses`.
        needed: u64,
    },
    /// Parameters out of range (window 0, fractions above 1000 per mille).
    #[error("parameters out of range")]
    BadParams,
}

impl OrgError {
    /// The refusal's name in summaries and logs (stable, snake case).
    pub fn name(&self) -> &'static str {
        match self {
            OrgError::NotMember(_) => "not_member",
            OrgError::LacksRight { .. } => "lacks_right",
            OrgError::NotSupervisor => "not_supervisor",
            OrgError::AlreadyMember(_) => "already_member",
            OrgError::AlreadyApplied(_) => "already_applied",
            OrgError::NoApplication(_) => "no_application",
            OrgError::SupervisorStays => "supervisor_stays",
            OrgError::BadRightsChange => "bad_rights_change",
            OrgError::UnknownProposal(_) => "unknown_proposal",
            OrgError::VotingClosed(_) => "voting_closed",
            OrgError::VotingOpen(_) => "voting_open",
            OrgError::AlreadyVoted(_) => "already_voted",
            OrgError::SupervisorNotAbsent { .. } => "supervisor_not_absent",
            OrgError::BadParams => "bad_params",
        }
    }
}

/// Supplies voting weights under the `balance` and `trust` rules.
pub trait Weights {
    /// The weight of `member` now.
    fn weight(&self, member: &Id) -> u64;

    /// The total weight a quorum is measured against, where the weights know it better than
    /// the sum over the voting members (D-049: under `balance` the root committee holds no
    /// member's balance, but knows the money under the proposal's pinned root). `None`: the
    /// sum over the voting members.
    fn total(&self) -> Option<u64> {
        None
    }
}

/// Deliberately broken tallying (feature `fault-injection`, tests only).
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OrgFaults {
    /// Pass proposals on the threshold alone, whatever the turnout.
    pub ignore_quorum: bool,
    /// Record every vote with twice the voter's weight (ballot stuffing by the tally: breaks
    /// I10's "votes never exceed weight").
    pub double_count_votes: bool,
    /// Admit new members with a guest's rights: a replica that diverges from the others
    /// without breaking I10 (shows the agreement check of D-041 on its own).
    pub admit_without_vote: bool,
    /// Add a member's second vote on a proposal to its first instead of refusing it (breaks
    /// I10 once a second vote reaches the organization).
    pub count_repeated_votes: bool,
    /// The root committee's registry acts on every copy of a request it already took instead
    /// of answering it from the author's window (D-041): with `count_repeated_votes`, a vote
    /// the network duplicated counts twice (D-047).
    pub act_on_duplicates: bool,
}

/// An organization.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Organization {
    id: Id,
    supervisor: Id,
    supervisor_seen_pulse: u64,
    members: BTreeMap<Id, Member>,
    applications: BTreeMap<Id, Option<Id>>,
    /// Everyone ever admitted (the founder, approved applicants, task earners): I10's witness.
    admitted: BTreeSet<Id>,
    proposals: BTreeMap<u64, Proposal>,
    params: OrgParams,
    #[cfg(feature = "fault-injection")]
    faults: OrgFaults,
}

impl Organization {
    /// A new organization `id` founded by `founder` at `pulse` (SPEC §3.3).
    pub fn create(id: Id, founder: Id, params: OrgParams, pulse: u64) -> Result<Organization, OrgError> {
        check_params(&params)?;
        Ok(Organization {
            id,
            supervisor: founder,
            supervisor_seen_pulse: pulse,
            members: BTreeMap::from([(founder, Member { rights: Rights::SUPERVISOR })]),
            applications: BTreeMap::new(),
            admitted: BTreeSet::from([founder]),
            proposals: BTreeMap::new(),
            params,
            #[cfg(feature = "fault-injection")]
            faults: OrgFaults::default(),
        })
    }

    /// Turn on deliberately broken behaviours (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_faults(&mut self, faults: OrgFaults) {
        self.faults = faults;
    }

    // ----- getters ----------------------------------------------------------------------

    /// The organization's Id (its account).
    pub fn id(&self) -> Id {
        self.id
    }

    /// The supervisor.
    pub fn supervisor(&self) -> Id {
        self.supervisor
    }

    /// The members.
    pub fn members(&self) -> &BTreeMap<Id, Member> {
        &self.members
    }

    /// Everyone ever admitted.
    pub fn admitted(&self) -> &BTreeSet<Id> {
        &self.admitted
    }

    /// The proposals by number.
    pub fn proposals(&self) -> &BTreeMap<u64, Proposal> {
        &self.proposals
    }

    /// The voting parameters.
    pub fn params(&self) -> OrgParams {
        self.params
    }

    /// The open proposals whose voting window is over at `pulse`, in number order: what the
    /// pulse closes.
    pub fn due(&self, pulse: u64) -> Vec<u64> {
        let window = self.params.vote_window_pulses;
        self.proposals
            .iter()
            .filter(|(_, p)| p.outcome.is_none() && pulse >= p.opened_pulse.saturating_add(window))
            .map(|(number, _)| *number)
            .collect()
    }

    /// Proposals still open for votes.
    pub fn open_proposals(&self) -> usize {
        self.proposals.values().filter(|p| p.outcome.is_none()).count()
    }

    /// Open applications.
    pub fn applications(&self) -> usize {
        self.applications.len()
    }

    /// When the supervisor last acted (SPEC §3.5).
    pub fn supervisor_seen_pulse(&self) -> u64 {
        self.supervisor_seen_pulse
    }

    /// Whether `applicant` has an open application.
    pub fn has_applied(&self, applicant: &Id) -> bool {
        self.applications.contains_key(applicant)
    }

    /// A digest of the whole organization, in one canonical order (its maps are ordered), so
    /// that replicas can compare their copies (an I6-style agreement on governance, D-041).
    pub fn digest(&self, hasher: &mut blake3::Hasher) {
        hasher.update(&self.id.0);
        hasher.update(&self.supervisor.0);
        hasher.update(&self.supervisor_seen_pulse.to_le_bytes());
        hash_params(hasher, &self.params);
        hasher.update(&(self.members.len() as u64).to_le_bytes());
        for (id, member) in &self.members {
            hasher.update(&id.0);
            hasher.update(&member.rights.bits().to_le_bytes());
        }
        hasher.update(&(self.applications.len() as u64).to_le_bytes());
        for (id, endorser) in &self.applications {
            hasher.update(&id.0);
            hasher.update(&endorser.unwrap_or(Id::ZERO).0);
        }
        hasher.update(&(self.admitted.len() as u64).to_le_bytes());
        for id in &self.admitted {
            hasher.update(&id.0);
        }
        hasher.update(&(self.proposals.len() as u64).to_le_bytes());
        for (number, proposal) in &self.proposals {
            hasher.update(&number.to_le_bytes());
            hash_proposal(hasher, proposal);
        }
    }

    // ----- membership (SPEC §3.4, §3.5) -------------------------------------------------

    /// A guest applies, directly or endorsed by a member with the `invite` right.
    pub fn apply(&mut self, applicant: Id, endorser: Option<Id>) -> Result<(), OrgError> {
        if self.members.contains_key(&applicant) {
            return Err(OrgError::AlreadyMember(applicant));
        }
        if self.applications.contains_key(&applicant) {
            return Err(OrgError::AlreadyApplied(applicant));
        }
        if let Some(endorser) = endorser {
            self.require(endorser, Right::Invite)?;
        }
        self.applications.insert(applicant, endorser);
        Ok(())
    }

    /// The supervisor approves (`admit = true`) or rejects an application.
    pub fn decide_application(
        &mut self,
        actor: Id,
        applicant: Id,
        admit: bool,
        pulse: u64,
    ) -> Result<(), OrgError> {
        self.require(actor, Right::ApproveJoin)?;
        self.applications.remove(&applicant).ok_or(OrgError::NoApplication(applicant))?;
        self.seen(actor, pulse);
        if admit {
            self.admit(applicant);
        }
        Ok(())
    }

    /// The supervisor confirms that a guest completed a published task: it becomes a member.
    pub fn admit_by_task(&mut self, actor: Id, guest: Id, pulse: u64) -> Result<(), OrgError> {
        self.require(actor, Right::ApproveJoin)?;
        if self.members.contains_key(&guest) {
            return Err(OrgError::AlreadyMember(guest));
        }
        self.applications.remove(&guest);
        self.seen(actor, pulse);
        self.admit(guest);
        Ok(())
    }

    /// A member leaves (self-signed).
    pub fn leave(&mut self, member: Id) -> Result<(), OrgError> {
        self.member(member)?;
        if member == self.supervisor {
            return Err(OrgError::SupervisorStays);
        }
        self.members.remove(&member);
        Ok(())
    }

    /// The supervisor narrows a member's rights (never adds; `vote` goes only by expulsion).
    pub fn narrow_rights(
        &mut self,
        actor: Id,
        member: Id,
        rights: Rights,
        pulse: u64,
    ) -> Result<(), OrgError> {
        if actor != self.supervisor {
            return Err(OrgError::NotSupervisor);
        }
        let current = self.member(member)?.rights;
        if member == self.supervisor
            || !rights.is_subset_of(current)
            || (current.has(Right::Vote) && !rights.has(Right::Vote))
        {
            return Err(OrgError::BadRightsChange);
        }
        self.members.insert(member, Member { rights });
        self.seen(actor, pulse);
        Ok(())
    }

    /// The supervisor shows it is present (any signed supervisor action counts too).
    pub fn supervisor_heartbeat(&mut self, actor: Id, pulse: u64) -> Result<(), OrgError> {
        if actor != self.supervisor {
            return Err(OrgError::NotSupervisor);
        }
        self.seen(actor, pulse);
        Ok(())
    }

    // ----- proposals and votes (SPEC §3.6) ----------------------------------------------

    /// A member with the `propose` right opens a proposal; returns its number.
    pub fn propose(&mut self, proposer: Id, kind: ProposalKind, pulse: u64) -> Result<u64, OrgError> {
        self.require(proposer, Right::Propose)?;
        match &kind {
            ProposalKind::StructuralReward { .. } if proposer != self.supervisor => {
                return Err(OrgError::NotSupervisor);
            }
            ProposalKind::Expel { member } => {
                self.member(*member)?;
                if *member == self.supervisor {
                    return Err(OrgError::SupervisorStays);
                }
            }
            ProposalKind::ParamChange { params } => check_params(params)?,
            ProposalKind::SupervisorElect { candidate } => {
                self.member(*candidate)?;
                let seen_pulses_ago = pulse.saturating_sub(self.supervisor_seen_pulse);
                let needed = self.params.supervisor_absence_pulses;
                if seen_pulses_ago < needed {
                    return Err(OrgError::SupervisorNotAbsent { seen_pulses_ago, needed });
                }
            }
            _ => {}
        }
        self.seen(proposer, pulse);
        let number = self.proposals.keys().next_back().map_or(0, |n| n + 1);
        let proposal =
            Proposal { kind, proposer, opened_pulse: pulse, votes: BTreeMap::new(), outcome: None };
        self.proposals.insert(number, proposal);
        Ok(number)
    }

    /// A member with the `vote` right votes, with its weight now. Guests never vote.
    pub fn vote(
        &mut self,
        voter: Id,
        number: u64,
        yes: bool,
        pulse: u64,
        weights: &dyn Weights,
    ) -> Result<(), OrgError> {
        self.require(voter, Right::Vote)?;
        let weight = self.weight_of(&voter, weights);
        let window = self.params.vote_window_pulses;
        let proposal = self.proposals.get_mut(&number).ok_or(OrgError::UnknownProposal(number))?;
        if proposal.outcome.is_some() || pulse >= proposal.opened_pulse.saturating_add(window) {
            return Err(OrgError::VotingClosed(number));
        }
        if let Some(_recorded) = proposal.votes.get_mut(&voter) {
            #[cfg(feature = "fault-injection")]
            if self.faults.count_repeated_votes {
                _recorded.weight = _recorded.weight.saturating_add(weight);
                return Ok(());
            }
            return Err(OrgError::AlreadyVoted(voter));
        }
        #[cfg(feature = "fault-injection")]
        let weight = if self.faults.double_count_votes { weight.saturating_mul(2) } else { weight };
        proposal.votes.insert(voter, Vote { yes, weight, rule: self.params.weight_rule });
        self.seen(voter, pulse);
        Ok(())
    }

    /// Close proposal `number` once its window is over: tally, decide, apply its effect on the
    /// organization and return what the rest of the system must do.
    pub fn close(
        &mut self,
        number: u64,
        pulse: u64,
        weights: &dyn Weights,
    ) -> Result<(Outcome, Effect), OrgError> {
        let proposal = self.proposals.get(&number).ok_or(OrgError::UnknownProposal(number))?;
        if proposal.outcome.is_some() {
            return Err(OrgError::VotingClosed(number));
        }
        if pulse < proposal.opened_pulse.saturating_add(self.params.vote_window_pulses) {
            return Err(OrgError::VotingOpen(number));
        }
        let outcome = self.tally(proposal, weights);
        let kind = proposal.kind.clone();
        let effect = if outcome.passed { self.enact(kind, pulse) } else { Effect::None };
        self.proposals.get_mut(&number).expect("just read").outcome = Some(outcome);
        Ok((outcome, effect))
    }

    // ----- internals --------------------------------------------------------------------

    fn member(&self, id: Id) -> Result<&Member, OrgError> {
        self.members.get(&id).ok_or(OrgError::NotMember(id))
    }

    /// Whether `actor` is a member holding `right`: `NotMember` or `LacksRight` if not.
    pub fn require(&self, actor: Id, right: Right) -> Result<(), OrgError> {
        if self.member(actor)?.rights.has(right) {
            Ok(())
        } else {
            Err(OrgError::LacksRight { actor, right })
        }
    }

    fn seen(&mut self, actor: Id, pulse: u64) {
        if actor == self.supervisor {
            self.supervisor_seen_pulse = self.supervisor_seen_pulse.max(pulse);
        }
    }

    fn admit(&mut self, id: Id) {
        #[allow(unused_mut)] // changed only with fault injection
        let mut rights = Rights::MEMBER;
        #[cfg(feature = "fault-injection")]
        if self.faults.admit_without_vote {
            rights = Rights::GUEST;
        }
        self.members.insert(id, Member { rights });
        self.admitted.insert(id);
    }

    /// The weight of `voter`'s vote under the organization's rule, read from `weights` unless
    /// the rule is one member, one vote.
    pub fn weight_of(&self, voter: &Id, weights: &dyn Weights) -> u64 {
        match self.params.weight_rule {
            WeightRule::OneMemberOneVote => 1,
            WeightRule::Balance | WeightRule::Trust => weights.weight(voter),
        }
    }

    fn tally(&self, proposal: &Proposal, weights: &dyn Weights) -> Outcome {
        let (yes, no) = proposal.votes.values().fold((0u64, 0u64), |(yes, no), v| {
            if v.yes { (yes.saturating_add(v.weight), no) } else { (yes, no.saturating_add(v.weight)) }
        });
        let summed = || {
            self.members
                .iter()
                .filter(|(_, m)| m.rights.has(Right::Vote))
                .map(|(id, _)| self.weight_of(id, weights))
                .fold(0u64, u64::saturating_add)
        };
        let total_weight = match self.params.weight_rule {
            WeightRule::OneMemberOneVote => summed(),
            WeightRule::Balance | WeightRule::Trust => weights.total().unwrap_or_else(summed),
        };
        #[allow(unused_mut)] // changed only with fault injection
        let mut quorum = passes_quorum(yes, no, total_weight, &self.params);
        #[cfg(feature = "fault-injection")]
        if self.faults.ignore_quorum {
            quorum = true;
        }
        let passed = quorum && passes_threshold(yes, no, &self.params);
        Outcome { passed, yes, no, total_weight, params: self.params }
    }

    fn enact(&mut self, kind: ProposalKind, pulse: u64) -> Effect {
        match kind {
            ProposalKind::StructuralReward { to, amount, .. } => Effect::Reward { to, amount },
            ProposalKind::Expel { member } => {
                if member != self.supervisor {
                    self.members.remove(&member);
                }
                Effect::None
            }
            ProposalKind::ParamChange { params } => {
                self.params = params;
                Effect::None
            }
            ProposalKind::SupervisorElect { candidate } => {
                if self.members.contains_key(&candidate) {
                    let old = self.supervisor;
                    if let Some(m) = self.members.get_mut(&old) {
                        m.rights = Rights::MEMBER;
                    }
                    self.members.insert(candidate, Member { rights: Rights::SUPERVISOR });
                    self.supervisor = candidate;
                    self.supervisor_seen_pulse = pulse;
                }
                Effect::None
            }
            ProposalKind::DisputeVerdict { dispute, at_fault } => Effect::Verdict { dispute, at_fault },
        }
    }
}

fn hash_params(hasher: &mut blake3::Hasher, params: &OrgParams) {
    hasher.update(&params.vote_window_pulses.to_le_bytes());
    hasher.update(&params.quorum_permille.to_le_bytes());
    hasher.update(&params.threshold_permille.to_le_bytes());
    hasher.update(&[params.weight_rule as u8]);
    hasher.update(&params.supervisor_absence_pulses.to_le_bytes());
}

fn hash_proposal(hasher: &mut blake3::Hasher, proposal: &Proposal) {
    match &proposal.kind {
        ProposalKind::StructuralReward { to, amount, reason } => {
            hasher.update(&[0]);
            hasher.update(&to.0);
            hasher.update(&amount.to_le_bytes());
            hasher.update(&(reason.len() as u64).to_le_bytes());
            hasher.update(reason.as_bytes());
        }
        ProposalKind::Expel { member } => {
            hasher.update(&[1]);
            hasher.update(&member.0);
        }
        ProposalKind::ParamChange { params } => {
            hasher.update(&[2]);
            hash_params(hasher, params);
        }
        ProposalKind::SupervisorElect { candidate } => {
            hasher.update(&[3]);
            hasher.update(&candidate.0);
        }
        ProposalKind::DisputeVerdict { dispute, at_fault } => {
            hasher.update(&[4]);
            hasher.update(&dispute.0);
            hasher.update(&at_fault.0);
        }
    }
    hasher.update(&proposal.proposer.0);
    hasher.update(&proposal.opened_pulse.to_le_bytes());
    for (voter, vote) in &proposal.votes {
        hasher.update(&voter.0);
        hasher.update(&[u8::from(vote.yes), vote.rule as u8]);
        hasher.update(&vote.weight.to_le_bytes());
    }
    if let Some(outcome) = &proposal.outcome {
        hasher.update(&[u8::from(outcome.passed)]);
        hasher.update(&outcome.yes.to_le_bytes());
        hasher.update(&outcome.no.to_le_bytes());
        hasher.update(&outcome.total_weight.to_le_bytes());
        hash_params(hasher, &outcome.params);
    }
}

fn check_params(params: &OrgParams) -> Result<(), OrgError> {
    if params.vote_window_pulses == 0 || params.quorum_permille > 1000 || params.threshold_permille > 1000 {
        return Err(OrgError::BadParams);
    }
    Ok(())
}

/// Turnout (yes + no) reaches `quorum` of the total weight (SPEC §3.6), in exact integers.
pub fn passes_quorum(yes: u64, no: u64, total_weight: u64, params: &OrgParams) -> bool {
    let turnout = u128::from(yes) + u128::from(no);
    turnout * 1000 >= u128::from(params.quorum_permille) * u128::from(total_weight)
}

/// Yes exceeds `threshold` of the votes cast (SPEC §3.6), in exact integers.
pub fn passes_threshold(yes: u64, no: u64, params: &OrgParams) -> bool {
    let cast = u128::from(yes) + u128::from(no);
    cast > 0 && u128::from(yes) * 1000 > u128::from(params.threshold_permille) * cast
}
