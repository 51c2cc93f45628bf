//! The organizations the root committee keeps (SPEC §3, D-041): every request a member or guest
//! signs is applied here, in the acting chief's cycle, and rebuilt by the root backups' replay;
//! open proposals close at the first pulse after their window. Pure: the caller passes the
//! pulse, the verifier and the configuration.

use std::collections::BTreeMap;

use crate::consensus::root::AccountProof;
use crate::crypto::{Hash32, PublicKey, Verifier};
use crate::id::{Id, Prefix};
use crate::org::{Effect, OrgError, Organization, Outcome, ProposalKind, WeightRule, Weights};
use crate::smt::RootSynopsis;

use crate::node::governance::{
    Bound, GovAccepted, GovAction, GovConfig, GovRefusal, GovRequest, GovResult, MAX_BALLOT_CANDIDATES,
    MAX_REASON_BYTES, check_endorsement, check_founding, request_ms,
};

/// A proposal the pulse closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClosedProposal {
    /// The organization.
    pub org: Id,
    /// The proposal's number.
    pub number: u64,
    /// What it proposed.
    pub kind: ProposalKind,
    /// How it ended.
    pub outcome: Outcome,
    /// What the rest of the system must do.
    pub effect: Effect,
}

/// How many of an author's latest requests the registry remembers, with their answers: a
/// client may have this many in flight at once (it keeps fewer, [`crate::node::GOV_IN_FLIGHT`])
/// and they may arrive in any order; one older than all of them is refused as stale (D-041).
pub const GOV_WINDOW: usize = 32;

/// An author's latest requests at one organization: those at most `floor` are forgotten and
/// refused; the `recent` ones are answered again, with the pulse they were applied in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Window {
    floor: u64,
    recent: BTreeMap<u64, (GovResult, u64)>,
}

/// What an open proposal pinned when it opened (D-049): the root of the pulse it opened in,
/// under which a balance-weighted vote proves its voter's account, and the organization's own
/// balance under it once someone proved it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pin {
    root: RootSynopsis,
    org_balance: Option<u64>,
}

impl Pin {
    /// The money the quorum of a balance-weighted vote is measured against: everything under
    /// the pinned root but the organization's own account, once that is proven (until then the
    /// whole supply: a quorum that only errs towards failing).
    fn circulating(&self) -> u64 {
        self.root.synopsis.summary.balance.saturating_sub(self.org_balance.unwrap_or(0))
    }
}

/// The organizations and each author's latest requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::node) struct Registry {
    orgs: BTreeMap<Id, Organization>,
    /// `(organization, author)` → the author's latest taken request numbers and their answers: a retry
    /// with the same number is answered again without acting twice; an older one is refused.
    latest: BTreeMap<(Id, Id), Window>,
    /// `(organization, voter)` → the voter's ballot of this term: the leaf group and the
    /// candidates it approves (D-044). Cleared at every election.
    ballots: BTreeMap<(Id, Id), (Prefix, Vec<Id>)>,
    /// `(organization, proposal)` → the open proposal's pinned root (D-049), removed when it
    /// closes: at most the open proposals.
    pins: BTreeMap<(Id, u64), Pin>,
    /// The digest as of the last pulse this member closed (sealed or replayed), for drivers
    /// that check the members agree (derived: not part of the digest).
    sealed: Option<(u64, Hash32)>,
    /// Counts every change (derived, not part of the digest): a driver that checks the
    /// organizations after every event skips the events that changed nothing.
    revision: u64,
    #[cfg(feature = "fault-injection")]
    faults: crate::org::OrgFaults,
}

/// Where a request is applied: the pulse (and the chief's time at it), the root as of that
/// pulse, the configuration and the signature scheme.
#[derive(Clone, Copy)]
pub(in crate::node) struct At<'a> {
    pub pulse: u64,
    /// The root the chief sent with `pulse`'s settlements: a proposal opened now pins it.
    pub root: RootSynopsis,
    /// The groups: an account is proven only in its own (the root group's prefix contains
    /// every Id, so its ledger would show any leaf account absent).
    pub roster: &'a crate::node::Roster,
    pub pulse_ms: u64,
    pub config: &'a GovConfig,
    pub verifier: &'a dyn Verifier,
}

/// Weights under the `trust` rule from the configuration's table.
struct TrustTable<'a>(&'a BTreeMap<Id, u64>);

impl Weights for TrustTable<'_> {
    fn weight(&self, member: &Id) -> u64 {
        self.0.get(member).copied().unwrap_or(0)
    }
}

/// One voter's balance as its proof showed it (D-049).
struct Proven(Id, u64);

impl Weights for Proven {
    fn weight(&self, member: &Id) -> u64 {
        if *member == self.0 { self.1 } else { 0 }
    }
}

/// The weights a proposal closes with: the trust table, and under `balance` the money under
/// its pinned root (the root committee knows no member's balance, D-049).
struct Closing<'a> {
    trust: TrustTable<'a>,
    circulating: Option<u64>,
}

impl Weights for Closing<'_> {
    fn weight(&self, member: &Id) -> u64 {
        self.trust.weight(member)
    }
    fn total(&self) -> Option<u64> {
        self.circulating
    }
}

impl Registry {
    /// The organizations, by Id.
    pub(in crate::node) fn orgs(&self) -> &BTreeMap<Id, Organization> {
        &self.orgs
    }

    pub(in crate::node) fn is_empty(&self) -> bool {
        self.orgs.is_empty() && self.latest.is_empty() && self.ballots.is_empty()
    }

    /// Apply `author`'s `request` at `at.pulse`. The answer, the pulse it was decided in, and
    /// whether the request was new: a retry or a duplicate of a taken request is answered
    /// again — the very same answer, so that the network carries one message, not one per
    /// pulse — and changes nothing; a refused one is judged again.
    pub(in crate::node) fn handle(
        &mut self,
        author: Id,
        request: &GovRequest,
        at: &At<'_>,
    ) -> (GovResult, u64, bool) {
        let key = (request.org, author);
        if let Some(window) = self.latest.get(&key) {
            if let Some((result, pulse)) = window.recent.get(&request.nonce)
                && !self.acts_on_duplicates()
            {
                return (*result, *pulse, false);
            }
            if request.nonce <= window.floor {
                let stale = GovRefusal::Stale { nonce: request.nonce, floor: window.floor };
                return (Err(stale), at.pulse, false);
            }
        }
        // A request outside the horizon could be a replay of one whose window was forgotten
        // (`forget_idle`): refused, whatever it asks.
        let (request_ms, chief_ms) = (request_ms(request.nonce), at.pulse.saturating_mul(at.pulse_ms));
        if request_ms.abs_diff(chief_ms) > horizon_ms(at.config, at.pulse_ms) {
            return (Err(GovRefusal::OutOfTime { request_ms, chief_ms }), at.pulse, false);
        }
        let result = self.act(author, request, at);
        if result.is_err() {
            // A refusal changed nothing, so it need not be remembered: a retry is judged
            // again (and acted on at most once, if it is taken then). Remembering refusals
            // would let anyone grow the registry with requests from fresh keys.
            return (result, at.pulse, true);
        }
        self.revision += 1;
        let window = self.latest.entry(key).or_default();
        window.recent.insert(request.nonce, (result, at.pulse));
        if window.recent.len() > GOV_WINDOW {
            let (oldest, _) = window.recent.pop_first().expect("more than the window");
            window.floor = oldest;
        }
        (result, at.pulse, true)
    }

    fn act(&mut self, author: Id, request: &GovRequest, at: &At<'_>) -> GovResult {
        let At { pulse, config, verifier, .. } = *at;
        if let GovAction::Create { org_key, org_sig, params } = &request.action {
            return self.create(author, request.org, (org_key, org_sig), *params, at);
        }
        let org = self.orgs.get_mut(&request.org).ok_or(GovRefusal::UnknownOrg(request.org))?;
        let trust = TrustTable(&config.trust);
        match &request.action {
            GovAction::Create { .. } => unreachable!("handled above"),
            GovAction::Apply { endorsement } => {
                bounded(Bound::Applications, org.applications(), config.max_applications)?;
                let endorser = match endorsement {
                    Some(endorsement) => Some(check_endorsement(verifier, request.org, author, endorsement)?),
                    None => None,
                };
                org.apply(author, endorser)?;
            }
            GovAction::Decide { applicant, admit } => {
                if *admit {
                    bounded(Bound::Members, org.members().len(), config.max_members)?;
                }
                org.decide_application(author, *applicant, *admit, pulse)?;
            }
            GovAction::AdmitByTask { guest } => {
                bounded(Bound::Members, org.members().len(), config.max_members)?;
                org.admit_by_task(author, *guest, pulse)?;
            }
            GovAction::Leave => org.leave(author)?,
            GovAction::NarrowRights { member, rights } => {
                org.narrow_rights(author, *member, *rights, pulse)?
            }
            GovAction::Heartbeat => org.supervisor_heartbeat(author, pulse)?,
            GovAction::Propose { kind } => {
                bounded(Bound::OpenProposals, org.open_proposals(), config.max_open_proposals)?;
                check_kind(kind)?;
                let number = org.propose(author, kind.clone(), pulse)?;
                self.pins.insert((request.org, number), Pin { root: at.root, org_balance: None });
                return Ok(GovAccepted::Opened { number });
            }
            GovAction::Vote { number, yes } => {
                if org.params().weight_rule == WeightRule::Balance {
                    return Err(GovRefusal::VoteForm(WeightRule::Balance));
                }
                org.vote(author, *number, *yes, pulse, &trust)?
            }
            GovAction::VoteByBalance { number, yes, proof } => {
                let rule = org.params().weight_rule;
                if rule != WeightRule::Balance {
                    return Err(GovRefusal::VoteForm(rule));
                }
                let pin = pin_of(&self.pins, org, request.org, *number)?;
                let balance = proven_balance((&pin.root, at.roster), proof, author)?;
                org.vote(author, *number, *yes, pulse, &Proven(author, balance))?
            }
            GovAction::ProveOrgAccount { number, proof } => {
                let pin = pin_of(&self.pins, org, request.org, *number)?;
                let balance = proven_balance((&pin.root, at.roster), proof, request.org)?;
                let pin = self.pins.get_mut(&(request.org, *number)).expect("just found");
                pin.org_balance = Some(balance);
            }
            GovAction::Ballot { group, approve } => {
                if config.electorate != Some(request.org) {
                    return Err(GovRefusal::NotElectorate(request.org));
                }
                // A balance-weighted ballot would need its voter's account proof as a vote does;
                // ballots do not carry one yet (D-049).
                if org.params().weight_rule == WeightRule::Balance {
                    return Err(GovRefusal::VoteForm(WeightRule::Balance));
                }
                may_vote(org, author)?;
                let distinct: std::collections::BTreeSet<&Id> = approve.iter().collect();
                if approve.is_empty()
                    || approve.len() > MAX_BALLOT_CANDIDATES
                    || distinct.len() != approve.len()
                {
                    return Err(GovRefusal::BadBallot);
                }
                self.ballots.insert((request.org, author), (*group, approve.clone()));
            }
        }
        Ok(GovAccepted::Done)
    }

    fn create(
        &mut self,
        founder: Id,
        org: Id,
        (org_key, org_sig): (&PublicKey, &crate::crypto::Signature),
        params: crate::org::OrgParams,
        at: &At<'_>,
    ) -> GovResult {
        let At { pulse, config, verifier, .. } = *at;
        if self.orgs.contains_key(&org) {
            return Err(GovRefusal::OrgExists(org));
        }
        bounded(Bound::Organizations, self.orgs.len(), config.max_orgs)?;
        check_founding(verifier, org, founder, org_key, org_sig)?;
        #[allow(unused_mut)] // changed only with fault injection
        let mut organization = Organization::create(org, founder, params, pulse)?;
        #[cfg(feature = "fault-injection")]
        organization.inject_faults(self.faults);
        self.orgs.insert(org, organization);
        Ok(GovAccepted::Done)
    }

    /// Close every proposal whose window is over at `pulse`, organization by organization in
    /// Id order and proposal by proposal in number order.
    pub(in crate::node) fn close_due(&mut self, pulse: u64, config: &GovConfig) -> Vec<ClosedProposal> {
        let mut closed = Vec::new();
        for (id, org) in &mut self.orgs {
            for number in org.due(pulse) {
                let kind = org.proposals()[&number].kind.clone();
                let pin = self.pins.remove(&(*id, number));
                debug_assert!(pin.is_some(), "every open proposal pinned its root");
                let balance = org.params().weight_rule == WeightRule::Balance;
                let circulating = pin.filter(|_| balance).map(|p| p.circulating());
                let weights = Closing { trust: TrustTable(&config.trust), circulating };
                let (outcome, effect) = org.close(number, pulse, &weights).expect("a due proposal closes");
                closed.push(ClosedProposal { org: *id, number, kind, outcome, effect });
            }
        }
        closed
    }

    /// Forget every author's window whose newest taken request was numbered more than the
    /// horizon before the chief's time at `pulse` (D-043): every request it could tell from a
    /// replay is older still and is refused `OutOfTime` anyway. So the windows of authors who
    /// stopped asking (rejected applicants, departed members, fresh keys that each got one
    /// request taken) do not pile up. Every root member forgets at the same pulses: the
    /// windows are part of the digest.
    pub(in crate::node) fn forget_idle(&mut self, pulse: u64, pulse_ms: u64, config: &GovConfig) {
        let Some(oldest_ms) = pulse.saturating_mul(pulse_ms).checked_sub(horizon_ms(config, pulse_ms)) else {
            return;
        };
        let before = self.latest.len();
        self.latest.retain(|_, window| {
            let newest = window.recent.last_key_value().map_or(window.floor, |(nonce, _)| *nonce);
            request_ms(newest) >= oldest_ms
        });
        if self.latest.len() != before {
            self.revision += 1;
        }
    }

    /// The standings of the candidates for `group`'s committee from `org`'s ballots of this
    /// term (D-044): each ballot adds its voter's weight under the organization's rule to each
    /// candidate it approves; ballots of voters who lost the vote since (expelled, gone) do not
    /// count. None if there is no such organization.
    pub(in crate::node) fn standings(
        &self,
        org: Id,
        group: Prefix,
        config: &GovConfig,
    ) -> Option<BTreeMap<Id, u64>> {
        let organization = self.orgs.get(&org)?;
        // `balance` ballots are refused (D-049), so the table is the trust rule's.
        let trust = TrustTable(&config.trust);
        let weight = |voter: &Id| organization.weight_of(voter, &trust);
        let mut standings = BTreeMap::new();
        let ballots = self.ballots.range((org, Id::ZERO)..).take_while(|((o, _), _)| *o == org);
        for ((_, voter), (ballot_group, approve)) in ballots {
            if *ballot_group != group || may_vote(organization, *voter).is_err() {
                continue;
            }
            for candidate in approve {
                let standing: &mut u64 = standings.entry(*candidate).or_default();
                *standing = standing.saturating_add(weight(voter));
            }
        }
        Some(standings)
    }

    /// Whether `id` is a member of `org` with the `bookkeep` right (SPEC §6.3's eligibility).
    pub(in crate::node) fn may_bookkeep(&self, org: Id, id: &Id) -> bool {
        self.orgs.get(&org).is_some_and(|o| o.require(*id, crate::org::Right::Bookkeep).is_ok())
    }

    /// The term's ballots of `org` were counted: the next term's start empty.
    pub(in crate::node) fn clear_ballots(&mut self, org: Id) {
        let before = self.ballots.len();
        self.ballots.retain(|(o, _), _| *o != org);
        if self.ballots.len() != before {
            self.revision += 1;
        }
    }

    /// Ballots cast this term, all organizations.
    pub(in crate::node) fn ballots(&self) -> usize {
        self.ballots.len()
    }

    /// The authors' windows kept.
    pub(in crate::node) fn windows(&self) -> usize {
        self.latest.len()
    }

    /// The digest as of the last pulse closed here.
    pub(in crate::node) fn sealed(&self) -> Option<(u64, Hash32)> {
        self.sealed
    }

    /// Remember the digest as of closing `pulse`.
    pub(in crate::node) fn seal(&mut self, pulse: u64) {
        self.sealed = Some((pulse, self.digest()));
        self.revision += 1;
    }

    /// The change counter.
    pub(in crate::node) fn revision(&self) -> u64 {
        self.revision
    }

    /// Adopted from another member's snapshot: a revision past both, so that a driver sees
    /// the change.
    pub(in crate::node) fn adopted(&mut self, previous_revision: u64) {
        self.revision = self.revision.max(previous_revision) + 1;
    }

    /// A digest of every organization and every author's latest request, in one order.
    pub(in crate::node) fn digest(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(self.orgs.len() as u64).to_le_bytes());
        for org in self.orgs.values() {
            org.digest(&mut hasher);
        }
        hasher.update(&(self.latest.len() as u64).to_le_bytes());
        for ((org, author), window) in &self.latest {
            hasher.update(&org.0);
            hasher.update(&author.0);
            hasher.update(&window.floor.to_le_bytes());
            hasher.update(&(window.recent.len() as u64).to_le_bytes());
            for (nonce, (result, pulse)) in &window.recent {
                hasher.update(&nonce.to_le_bytes());
                hasher.update(&pulse.to_le_bytes());
                // The answer is determined by the requests; whether it was taken is enough to
                // tell a replica that answered differently.
                hasher.update(&[u8::from(result.is_ok())]);
            }
        }
        // Only where ballots were cast, so that every digest before D-044 stays as it was.
        if !self.ballots.is_empty() {
            hasher.update(&(self.ballots.len() as u64).to_le_bytes());
            for ((org, voter), (group, approve)) in &self.ballots {
                hasher.update(&org.0);
                hasher.update(&voter.0);
                hasher.update(&group.bits().0);
                hasher.update(&[group.len_bits() as u8]);
                hasher.update(&(approve.len() as u64).to_le_bytes());
                approve.iter().for_each(|id| {
                    hasher.update(&id.0);
                });
            }
        }
        // Only where proposals are open, so that digests without them stay as they were.
        if !self.pins.is_empty() {
            hasher.update(&(self.pins.len() as u64).to_le_bytes());
            for ((org, number), pin) in &self.pins {
                hasher.update(&org.0);
                hasher.update(&number.to_le_bytes());
                hasher.update(&pin.root.version.to_le_bytes());
                hasher.update(&pin.root.synopsis.hash.0);
                hasher.update(&pin.org_balance.map_or([0xff; 9], |b| {
                    let mut bytes = [0u8; 9];
                    bytes[1..].copy_from_slice(&b.to_le_bytes());
                    bytes
                }));
            }
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    /// Whether a copy of a taken request is acted on again (fault injection only).
    fn acts_on_duplicates(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.faults.act_on_duplicates;
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// Turn on deliberately broken tallies in every organization (tests only).
    #[cfg(feature = "fault-injection")]
    pub(in crate::node) fn inject_faults(&mut self, faults: crate::org::OrgFaults) {
        self.faults = faults;
        for org in self.orgs.values_mut() {
            org.inject_faults(faults);
        }
    }
}

/// A member with the `vote` right (guests never vote, SPEC §3.6).
fn may_vote(org: &Organization, voter: Id) -> Result<(), GovRefusal> {
    Ok(org.require(voter, crate::org::Right::Vote)?)
}

fn horizon_ms(config: &GovConfig, pulse_ms: u64) -> u64 {
    config.request_horizon_pulses.saturating_mul(pulse_ms)
}

fn bounded(what: Bound, len: usize, limit: u32) -> Result<(), GovRefusal> {
    if len >= limit as usize { Err(GovRefusal::Full { what, limit }) } else { Ok(()) }
}

/// The pin of `org`'s open proposal `number`: none once it closed (or if there is no such
/// proposal), refused as the organization would refuse a vote on it.
fn pin_of(
    pins: &BTreeMap<(Id, u64), Pin>,
    org: &Organization,
    id: Id,
    number: u64,
) -> Result<Pin, GovRefusal> {
    match pins.get(&(id, number)) {
        Some(pin) => Ok(*pin),
        None if org.proposals().contains_key(&number) => Err(OrgError::VotingClosed(number).into()),
        None => Err(OrgError::UnknownProposal(number).into()),
    }
}

/// The balance `proof` shows `holder`'s account holds under `root` (0 if it shows the account
/// absent); `BadProof` if it does not verify, shows another account, or comes from another
/// group than the one the roster gives it — so every valid proof tells the same balance.
fn proven_balance(
    (root, roster): (&RootSynopsis, &crate::node::Roster),
    proof: &AccountProof,
    holder: Id,
) -> Result<u64, GovRefusal> {
    if proof.account.key != holder {
        return Err(GovRefusal::BadProof);
    }
    match proof.verify_in(root, &roster.group_of(&holder)) {
        Ok(account) => Ok(account.map_or(0, |a| a.balance)),
        Err(_) => Err(GovRefusal::BadProof),
    }
}

fn check_kind(kind: &ProposalKind) -> Result<(), GovRefusal> {
    match kind {
        ProposalKind::StructuralReward { reason, .. } if reason.len() > MAX_REASON_BYTES => {
            Err(GovRefusal::ReasonTooLong)
        }
        _ => Ok(()),
    }
}
