//! Governance on the wire (SPEC §3, D-041): what a member or guest asks of an organization, as
//! the signed request its node sends the acting chief, and what the chief answers. The
//! envelope's signature is the author's (D-039); an endorsement and an organization's founding
//! carry a second signature, by the endorser and by the organization's own key.
//!
//! Organizations are replicated state of the root committee: the acting chief applies each
//! request in its cycle, the root backups replay the cycle and co-sign its digest — which
//! covers every organization — so a request takes effect only as part of a co-signed pulse.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;

use crate::consensus::root::AccountProof;
use crate::crypto::{Domain, Hash32, PublicKey, Signature, Signer, Verifier, hash_parts};
use crate::id::Id;
use crate::org::{OrgError, OrgParams, ProposalKind, Rights, WeightRule};

/// The longest reason a structural reward may carry (SPEC §3.6): a line, not a document —
/// the document itself belongs in the organization's public record (§12).
pub const MAX_REASON_BYTES: usize = 256;

/// What an author asks of organization `org`. The envelope around it is the author's.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GovRequest {
    /// The organization (its Id is its key's, SPEC §3.3).
    pub org: Id,
    /// The author's request number for this organization: increasing with every new request,
    /// so that a retried or duplicated one is answered again without acting twice and one older
    /// than the author's latest 32 is refused (D-041).
    pub nonce: u64,
    /// What is asked.
    pub action: GovAction,
}

/// One governance action (SPEC §3.3–§3.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GovAction {
    /// Found the organization: the author becomes its supervisor. `org_sig` is the
    /// organization key's signature of [`founding_digest`], so that only its key's holder
    /// founds it.
    Create {
        /// The organization's public key (`org` is its Id).
        org_key: PublicKey,
        /// The organization key's signature.
        org_sig: Signature,
        /// The voting parameters.
        params: OrgParams,
    },
    /// The author (a guest) applies, directly or endorsed by a member.
    Apply {
        /// A member's signature of [`endorsement_digest`].
        endorsement: Option<Endorsement>,
    },
    /// The supervisor approves or rejects an application.
    Decide {
        /// The applicant.
        applicant: Id,
        /// Approve (true) or reject.
        admit: bool,
    },
    /// The supervisor confirms that a guest completed a published task.
    AdmitByTask {
        /// The guest.
        guest: Id,
    },
    /// The author leaves (self-signed).
    Leave,
    /// The supervisor narrows a member's rights.
    NarrowRights {
        /// The member.
        member: Id,
        /// Its new rights (a subset of its present ones).
        rights: Rights,
    },
    /// The supervisor shows it is present.
    Heartbeat,
    /// The author opens a proposal.
    Propose {
        /// What it proposes.
        kind: ProposalKind,
    },
    /// The author votes on proposal `number`.
    Vote {
        /// The proposal.
        number: u64,
        /// For or against.
        yes: bool,
    },
    /// The author votes on proposal `number` of an organization that weighs votes by balance
    /// (D-049): `proof` shows the author's account under the root the proposal pinned when it
    /// opened, and the vote weighs that account's balance.
    VoteByBalance {
        /// The proposal.
        number: u64,
        /// For or against.
        yes: bool,
        /// The author's account under the proposal's pinned root.
        proof: Box<AccountProof>,
    },
    /// Anyone shows the organization's own account under proposal `number`'s pinned root, so
    /// that a balance-weighted quorum counts the money the members hold, not the undistributed
    /// supply (D-049). Any valid proof shows the same balance: a second one changes nothing.
    ProveOrgAccount {
        /// The proposal.
        number: u64,
        /// The organization's account under the proposal's pinned root.
        proof: Box<AccountProof>,
    },
    /// The author's ballot in the next bookkeeper election of leaf group `group` (SPEC §6.3,
    /// D-044): it approves these candidates (1 to [`MAX_BALLOT_CANDIDATES`], distinct). Only
    /// the organization the root committee is configured to elect by (`GovConfig::electorate`)
    /// takes ballots; one ballot per member per term, a later one replacing it.
    Ballot {
        /// The leaf group whose committee it elects.
        group: crate::id::Prefix,
        /// The candidates it approves.
        approve: Vec<Id>,
    },
}

/// The most candidates one ballot approves.
pub const MAX_BALLOT_CANDIDATES: usize = 16;

/// A member vouches for an applicant: its key and its signature of [`endorsement_digest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endorsement {
    /// The endorser's public key.
    pub endorser_key: PublicKey,
    /// Its signature.
    pub sig: Signature,
}

impl Endorsement {
    /// `endorser`'s endorsement of `applicant`'s application to `org`.
    pub fn sign(endorser: &dyn Signer, org: Id, applicant: Id) -> Endorsement {
        let digest = endorsement_digest(org, applicant);
        Endorsement { endorser_key: endorser.public_key(), sig: endorser.sign(&digest.0) }
    }
}

/// What an endorser signs: the organization and the applicant.
pub fn endorsement_digest(org: Id, applicant: Id) -> Hash32 {
    hash_parts(Domain::Endorsement, &[&org.0, &applicant.0])
}

/// What an organization's key signs when it is founded: the founder.
pub fn founding_digest(founder: Id) -> Hash32 {
    hash_parts(Domain::Founding, &[&founder.0])
}

impl GovAction {
    /// `founder`'s request to found the organization whose key `org_key` signs.
    pub fn create(org_key: &dyn Signer, founder: Id, params: OrgParams) -> GovAction {
        let org_sig = org_key.sign(&founding_digest(founder).0);
        GovAction::Create { org_key: org_key.public_key(), org_sig, params }
    }

    /// The action's kind, for metrics.
    pub fn kind(&self) -> GovActionKind {
        match self {
            GovAction::Create { .. } => GovActionKind::Create,
            GovAction::Apply { .. } => GovActionKind::Apply,
            GovAction::Decide { .. } => GovActionKind::Decide,
            GovAction::AdmitByTask { .. } => GovActionKind::AdmitByTask,
            GovAction::Leave => GovActionKind::Leave,
            GovAction::NarrowRights { .. } => GovActionKind::NarrowRights,
            GovAction::Heartbeat => GovActionKind::Heartbeat,
            GovAction::Propose { .. } => GovActionKind::Propose,
            GovAction::Vote { .. } => GovActionKind::Vote,
            GovAction::VoteByBalance { .. } => GovActionKind::VoteByBalance,
            GovAction::ProveOrgAccount { .. } => GovActionKind::ProveOrgAccount,
            GovAction::Ballot { .. } => GovActionKind::Ballot,
        }
    }
}

/// The kind of a [`GovAction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GovActionKind {
    /// [`GovAction::Create`].
    Create,
    /// [`GovAction::Apply`].
    Apply,
    /// [`GovAction::Decide`].
    Decide,
    /// [`GovAction::AdmitByTask`].
    AdmitByTask,
    /// [`GovAction::Leave`].
    Leave,
    /// [`GovAction::NarrowRights`].
    NarrowRights,
    /// [`GovAction::Heartbeat`].
    Heartbeat,
    /// [`GovAction::Propose`].
    Propose,
    /// [`GovAction::Vote`].
    Vote,
    /// [`GovAction::VoteByBalance`].
    VoteByBalance,
    /// [`GovAction::ProveOrgAccount`].
    ProveOrgAccount,
    /// [`GovAction::Ballot`].
    Ballot,
}

/// What the chief did with a request it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GovAccepted {
    /// Done.
    Done,
    /// A proposal was opened with this number.
    Opened {
        /// The proposal's number.
        number: u64,
    },
}

/// Why the chief refused a request. A refusal changes nothing but the author's latest nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Error)]
#[non_exhaustive]
pub enum GovRefusal {
    /// The organization refused it (SPEC §3).
    #[error("{0}")]
    Org(OrgError),
    /// No organization with this Id.
    #[error("no organization {0}")]
    UnknownOrg(Id),
    /// An organization with this Id exists already.
    #[error("organization {0} exists already")]
    OrgExists(Id),
    /// The founding signature is not the organization key's, or the key is not `org`'s.
    #[error("the founding is not signed by the organization's key")]
    BadFounding,
    /// The endorsement's signature does not verify.
    #[error("the endorsement's signature does not verify")]
    BadEndorsement,
    /// The request's number is older than every one the root committee remembers of the author
    /// (a replay, or a request overtaken by 32 newer ones).
    #[error("request {nonce} is not above {floor}, the newest the root committee forgot")]
    Stale {
        /// The request's nonce.
        nonce: u64,
        /// The newest of the author's request numbers the root committee no longer remembers:
        /// a request must be above it.
        floor: u64,
    },
    /// A vote of the wrong form for the organization's weight rule (D-049): a plain vote
    /// under `balance` (it must carry the voter's account proof), or a proven vote under
    /// another rule.
    #[error("the vote does not fit the organization's {0:?} weight rule")]
    VoteForm(WeightRule),
    /// A bound of D-041 is reached (organizations, members, applications, open proposals).
    #[error("the {what:?} limit of {limit} is reached")]
    Full {
        /// What is full.
        what: Bound,
        /// The bound.
        limit: u32,
    },
    /// The reason of a structural reward is longer than [`MAX_REASON_BYTES`].
    #[error("the reason is longer than {MAX_REASON_BYTES} bytes")]
    ReasonTooLong,
    /// The request was numbered (its nonce's time, [`request_ms`]) further from the chief's
    /// time than `request_horizon_pulses`: too old to be told from a replay once its author's
    /// window may have been compacted, or dated so far ahead that it would outlive the horizon.
    #[error("request numbered at {request_ms} ms, beyond the horizon of the chief's {chief_ms} ms")]
    OutOfTime {
        /// When the author numbered it (its nonce's high bits).
        request_ms: u64,
        /// The chief's time at the pulse it was judged in.
        chief_ms: u64,
    },
    /// A ballot to an organization that does not elect the bookkeepers.
    #[error("organization {0} does not elect the bookkeepers")]
    NotElectorate(Id),
    /// A ballot approving no candidate, more than [`MAX_BALLOT_CANDIDATES`], or one twice.
    #[error("a ballot approves 1 to {MAX_BALLOT_CANDIDATES} distinct candidates")]
    BadBallot,
    /// An account proof that does not verify under the proposal's pinned root, or shows
    /// another account than the one it must (the voter's, the organization's).
    #[error("the account proof does not show the account under the proposal's pinned root")]
    BadProof,
}

/// When a request was numbered: the high bits of its nonce (a client numbers requests
/// `max(last + 1, now_ms << SEQ_CLOCK_SHIFT)`, as envelopes, D-041).
pub fn request_ms(nonce: u64) -> u64 {
    nonce >> super::SEQ_CLOCK_SHIFT
}

impl GovRefusal {
    /// The refusal's name in summaries and logs (stable, snake case; an organization's
    /// refusal by its own name).
    pub fn name(&self) -> &'static str {
        match self {
            GovRefusal::Org(error) => error.name(),
            GovRefusal::UnknownOrg(_) => "unknown_org",
            GovRefusal::OrgExists(_) => "org_exists",
            GovRefusal::BadFounding => "bad_founding",
            GovRefusal::BadEndorsement => "bad_endorsement",
            GovRefusal::Stale { .. } => "stale",
            GovRefusal::VoteForm(_) => "vote_form",
            GovRefusal::Full { .. } => "full",
            GovRefusal::ReasonTooLong => "reason_too_long",
            GovRefusal::OutOfTime { .. } => "out_of_time",
            GovRefusal::NotElectorate(_) => "not_electorate",
            GovRefusal::BadBallot => "bad_ballot",
            GovRefusal::BadProof => "bad_proof",
        }
    }
}

/// The bounds of D-041.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bound {
    /// Organizations the root committee keeps.
    Organizations,
    /// Members of one organization.
    Members,
    /// Open applications to one organization.
    Applications,
    /// Open proposals of one organization.
    OpenProposals,
}

impl From<OrgError> for GovRefusal {
    fn from(error: OrgError) -> GovRefusal {
        GovRefusal::Org(error)
    }
}

/// The answer to a request.
pub type GovResult = Result<GovAccepted, GovRefusal>;

/// What the root committee's governance needs besides the organizations themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GovConfig {
    /// Trust scores under the `trust` weight rule, by member; absent members weigh 0. Fixed
    /// at genesis until the credit model feeds them from the live graph (D-041, issue 19).
    pub trust: Arc<BTreeMap<Id, u64>>,
    /// At most this many organizations.
    pub max_orgs: u32,
    /// At most this many members per organization.
    pub max_members: u32,
    /// At most this many open applications per organization.
    pub max_applications: u32,
    /// At most this many open proposals per organization.
    pub max_open_proposals: u32,
    /// How far (in pulses) a request's time may be from the chief's: one further is refused
    /// `OutOfTime`, and an author's window idle for longer is forgotten (D-043).
    pub request_horizon_pulses: u64,
    /// The organization whose members elect the leaf committees (D-044): its members' ballots
    /// are the votes, and only its members with the `bookkeep` right may be elected. None: the
    /// pools' standings at genesis decide (D-035).
    pub electorate: Option<Id>,
}

impl Default for GovConfig {
    fn default() -> GovConfig {
        GovConfig {
            trust: Arc::default(),
            max_orgs: 64,
            max_members: 100_000,
            max_applications: 10_000,
            max_open_proposals: 64,
            request_horizon_pulses: 600,
            electorate: None,
        }
    }
}

/// Checks a founding's signature: the key is `org`'s and signed `founder`.
pub(crate) fn check_founding(
    verifier: &dyn Verifier,
    org: Id,
    founder: Id,
    org_key: &PublicKey,
    org_sig: &Signature,
) -> Result<(), GovRefusal> {
    if Id::from_public_key(org_key) != org {
        return Err(GovRefusal::BadFounding);
    }
    verifier.verify(org_key, &founding_digest(founder).0, org_sig).map_err(|_| GovRefusal::BadFounding)
}

/// Checks an endorsement of `applicant` to `org`; the endorser's Id if it verifies.
pub(crate) fn check_endorsement(
    verifier: &dyn Verifier,
    org: Id,
    applicant: Id,
    endorsement: &Endorsement,
) -> Result<Id, GovRefusal> {
    let digest = endorsement_digest(org, applicant);
    verifier
        .verify(&endorsement.endorser_key, &digest.0, &endorsement.sig)
        .map_err(|_| GovRefusal::BadEndorsement)?;
    Ok(Id::from_public_key(&endorsement.endorser_key))
}
