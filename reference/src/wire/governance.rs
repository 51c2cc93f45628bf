//! Wire encodings of governance requests and answers (D-041): enums as a one-byte tag and
//! their fields, a reward's reason as a `u32` length and UTF-8 bytes of at most
//! [`MAX_REASON_BYTES`].

use super::codec::{Decode, DecodeError, Encode, Problem, Reader, Writer, record};
use crate::consensus::root::AccountProof;
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::id::{Id, Prefix};
use crate::node::governance::{
    Bound, Endorsement, GovAccepted, GovAction, GovRefusal, GovRequest, MAX_REASON_BYTES,
};
use crate::org::{OrgError, OrgParams, ProposalKind, Right, Rights, WeightRule};

record!(GovRequest { org: Id, nonce: u64, action: GovAction });
record!(Endorsement { endorser_key: PublicKey, sig: Signature });
record!(OrgParams {
    vote_window_pulses: u64,
    quorum_permille: u32,
    threshold_permille: u32,
    weight_rule: WeightRule,
    supervisor_absence_pulses: u64,
});

impl Encode for WeightRule {
    fn encode(&self, w: &mut Writer) {
        w.u8(*self as u8);
    }
}

impl Decode for WeightRule {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(match r.u8(field)? {
            0 => WeightRule::OneMemberOneVote,
            1 => WeightRule::Balance,
            2 => WeightRule::Trust,
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

impl Encode for Rights {
    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.bits().to_le_bytes());
    }
}

impl Decode for Rights {
    const MIN_BYTES: usize = 2;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let bits = u16::from_le_bytes(r.array::<2>(field)?);
        Rights::from_bits(bits)
            .ok_or_else(|| r.error_before(2, field, Problem::NonCanonical("unknown right bits")))
    }
}

impl Encode for Right {
    fn encode(&self, w: &mut Writer) {
        w.u8(Right::ALL.iter().position(|r| r == self).expect("every right is listed") as u8);
    }
}

impl Decode for Right {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let tag = r.u8(field)?;
        Right::ALL.get(usize::from(tag)).copied().ok_or_else(|| r.error_before(1, field, Problem::Tag(tag)))
    }
}

/// A reason: its length, then its UTF-8 bytes.
fn encode_reason(reason: &str, w: &mut Writer) {
    w.len_prefix(reason.len());
    w.bytes(reason.as_bytes());
}

fn decode_reason(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let len = r.len_prefix(1, field)?;
    if len > MAX_REASON_BYTES {
        return Err(r.error_before(4, field, Problem::NotAllowed("a reason is at most 256 bytes")));
    }
    let bytes = r.take(len, field)?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| r.error_before(len, field, Problem::NonCanonical("a reason is UTF-8")))
}

impl Encode for ProposalKind {
    fn encode(&self, w: &mut Writer) {
        match self {
            ProposalKind::StructuralReward { to, amount, reason } => {
                w.u8(0);
                to.encode(w);
                amount.encode(w);
                encode_reason(reason, w);
            }
            ProposalKind::Expel { member } => {
                w.u8(1);
                member.encode(w);
            }
            ProposalKind::ParamChange { params } => {
                w.u8(2);
                params.encode(w);
            }
            ProposalKind::SupervisorElect { candidate } => {
                w.u8(3);
                candidate.encode(w);
            }
            ProposalKind::DisputeVerdict { dispute, at_fault } => {
                w.u8(4);
                dispute.encode(w);
                at_fault.encode(w);
            }
        }
    }
}

impl Decode for ProposalKind {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let f = "ProposalKind";
        Ok(match r.u8(field)? {
            0 => ProposalKind::StructuralReward {
                to: Id::decode(r, "StructuralReward.to")?,
                amount: u64::decode(r, "StructuralReward.amount")?,
                reason: decode_reason(r, "StructuralReward.reason")?,
            },
            1 => ProposalKind::Expel { member: Id::decode(r, f)? },
            2 => ProposalKind::ParamChange { params: OrgParams::decode(r, f)? },
            3 => ProposalKind::SupervisorElect { candidate: Id::decode(r, f)? },
            4 => ProposalKind::DisputeVerdict { dispute: Hash32::decode(r, f)?, at_fault: Id::decode(r, f)? },
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

impl Encode for GovAction {
    fn encode(&self, w: &mut Writer) {
        match self {
            GovAction::Create { org_key, org_sig, params } => {
                w.u8(0);
                org_key.encode(w);
                org_sig.encode(w);
                params.encode(w);
            }
            GovAction::Apply { endorsement } => {
                w.u8(1);
                endorsement.encode(w);
            }
            GovAction::Decide { applicant, admit } => {
                w.u8(2);
                applicant.encode(w);
                admit.encode(w);
            }
            GovAction::AdmitByTask { guest } => {
                w.u8(3);
                guest.encode(w);
            }
            GovAction::Leave => w.u8(4),
            GovAction::NarrowRights { member, rights } => {
                w.u8(5);
                member.encode(w);
                rights.encode(w);
            }
            GovAction::Heartbeat => w.u8(6),
            GovAction::Propose { kind } => {
                w.u8(7);
                kind.encode(w);
            }
            GovAction::Vote { number, yes } => {
                w.u8(8);
                number.encode(w);
                yes.encode(w);
            }
            GovAction::Ballot { group, approve } => {
                w.u8(9);
                group.encode(w);
                w.seq(approve);
            }
            GovAction::VoteByBalance { number, yes, proof } => {
                w.u8(10);
                number.encode(w);
                yes.encode(w);
                proof.encode(w);
            }
            GovAction::ProveOrgAccount { number, proof } => {
                w.u8(11);
                number.encode(w);
                proof.encode(w);
            }
        }
    }
}

impl Decode for GovAction {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let f = "GovAction";
        Ok(match r.u8(field)? {
            0 => GovAction::Create {
                org_key: PublicKey::decode(r, "Create.org_key")?,
                org_sig: Signature::decode(r, "Create.org_sig")?,
                params: OrgParams::decode(r, "Create.params")?,
            },
            1 => GovAction::Apply { endorsement: Option::<Endorsement>::decode(r, "Apply.endorsement")? },
            2 => GovAction::Decide { applicant: Id::decode(r, f)?, admit: bool::decode(r, f)? },
            3 => GovAction::AdmitByTask { guest: Id::decode(r, f)? },
            4 => GovAction::Leave,
            5 => GovAction::NarrowRights { member: Id::decode(r, f)?, rights: Rights::decode(r, f)? },
            6 => GovAction::Heartbeat,
            7 => GovAction::Propose { kind: ProposalKind::decode(r, "Propose.kind")? },
            8 => GovAction::Vote { number: u64::decode(r, f)?, yes: bool::decode(r, f)? },
            9 => GovAction::Ballot { group: Prefix::decode(r, f)?, approve: r.seq("Ballot.approve")? },
            10 => GovAction::VoteByBalance {
                number: u64::decode(r, f)?,
                yes: bool::decode(r, f)?,
                proof: Box::<AccountProof>::decode(r, "VoteByBalance.proof")?,
            },
            11 => GovAction::ProveOrgAccount {
                number: u64::decode(r, f)?,
                proof: Box::<AccountProof>::decode(r, "ProveOrgAccount.proof")?,
            },
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

impl Encode for OrgError {
    fn encode(&self, w: &mut Writer) {
        match self {
            OrgError::NotMember(id) => tagged(w, 0, id),
            OrgError::LacksRight { actor, right } => {
                tagged(w, 1, actor);
                right.encode(w);
            }
            OrgError::NotSupervisor => w.u8(2),
            OrgError::AlreadyMember(id) => tagged(w, 3, id),
            OrgError::AlreadyApplied(id) => tagged(w, 4, id),
            OrgError::NoApplication(id) => tagged(w, 5, id),
            OrgError::SupervisorStays => w.u8(6),
            OrgError::BadRightsChange => w.u8(7),
            OrgError::UnknownProposal(n) => tagged(w, 8, n),
            OrgError::VotingClosed(n) => tagged(w, 9, n),
            OrgError::VotingOpen(n) => tagged(w, 10, n),
            OrgError::AlreadyVoted(id) => tagged(w, 11, id),
            OrgError::SupervisorNotAbsent { seen_pulses_ago, needed } => {
                tagged(w, 12, seen_pulses_ago);
                needed.encode(w);
            }
            OrgError::BadParams => w.u8(13),
        }
    }
}

impl Decode for OrgError {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let f = "OrgError";
        Ok(match r.u8(field)? {
            0 => OrgError::NotMember(Id::decode(r, f)?),
            1 => OrgError::LacksRight { actor: Id::decode(r, f)?, right: Right::decode(r, f)? },
            2 => OrgError::NotSupervisor,
            3 => OrgError::AlreadyMember(Id::decode(r, f)?),
            4 => OrgError::AlreadyApplied(Id::decode(r, f)?),
            5 => OrgError::NoApplication(Id::decode(r, f)?),
            6 => OrgError::SupervisorStays,
            7 => OrgError::BadRightsChange,
            8 => OrgError::UnknownProposal(r.u64(f)?),
            9 => OrgError::VotingClosed(r.u64(f)?),
            10 => OrgError::VotingOpen(r.u64(f)?),
            11 => OrgError::AlreadyVoted(Id::decode(r, f)?),
            12 => OrgError::SupervisorNotAbsent { seen_pulses_ago: r.u64(f)?, needed: r.u64(f)? },
            13 => OrgError::BadParams,
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

const BOUNDS: [Bound; 4] = [Bound::Organizations, Bound::Members, Bound::Applications, Bound::OpenProposals];

impl Encode for GovRefusal {
    fn encode(&self, w: &mut Writer) {
        match self {
            GovRefusal::Org(error) => tagged(w, 0, error),
            GovRefusal::UnknownOrg(id) => tagged(w, 1, id),
            GovRefusal::OrgExists(id) => tagged(w, 2, id),
            GovRefusal::BadFounding => w.u8(3),
            GovRefusal::BadEndorsement => w.u8(4),
            GovRefusal::Stale { nonce, floor } => {
                tagged(w, 5, nonce);
                floor.encode(w);
            }
            GovRefusal::VoteForm(rule) => tagged(w, 6, rule),
            GovRefusal::Full { what, limit } => {
                w.u8(7);
                w.u8(BOUNDS.iter().position(|b| b == what).expect("every bound is listed") as u8);
                limit.encode(w);
            }
            GovRefusal::ReasonTooLong => w.u8(8),
            GovRefusal::OutOfTime { request_ms, chief_ms } => {
                tagged(w, 9, request_ms);
                chief_ms.encode(w);
            }
            GovRefusal::NotElectorate(org) => tagged(w, 10, org),
            GovRefusal::BadBallot => w.u8(11),
            GovRefusal::BadProof => w.u8(12),
        }
    }
}

impl Decode for GovRefusal {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let f = "GovRefusal";
        Ok(match r.u8(field)? {
            0 => GovRefusal::Org(OrgError::decode(r, f)?),
            1 => GovRefusal::UnknownOrg(Id::decode(r, f)?),
            2 => GovRefusal::OrgExists(Id::decode(r, f)?),
            3 => GovRefusal::BadFounding,
            4 => GovRefusal::BadEndorsement,
            5 => GovRefusal::Stale { nonce: r.u64(f)?, floor: r.u64(f)? },
            6 => GovRefusal::VoteForm(WeightRule::decode(r, f)?),
            7 => {
                let tag = r.u8(f)?;
                let what =
                    *BOUNDS.get(usize::from(tag)).ok_or_else(|| r.error_before(1, f, Problem::Tag(tag)))?;
                GovRefusal::Full { what, limit: u32::decode(r, f)? }
            }
            8 => GovRefusal::ReasonTooLong,
            9 => GovRefusal::OutOfTime { request_ms: r.u64(f)?, chief_ms: r.u64(f)? },
            10 => GovRefusal::NotElectorate(Id::decode(r, f)?),
            11 => GovRefusal::BadBallot,
            12 => GovRefusal::BadProof,
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

impl Encode for GovAccepted {
    fn encode(&self, w: &mut Writer) {
        match self {
            GovAccepted::Done => w.u8(0),
            GovAccepted::Opened { number } => tagged(w, 1, number),
        }
    }
}

impl Decode for GovAccepted {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(match r.u8(field)? {
            0 => GovAccepted::Done,
            1 => GovAccepted::Opened { number: r.u64("GovAccepted.number")? },
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

/// An answer: `0` and what was done, or `1` and why not.
pub(super) fn encode_result(result: &Result<GovAccepted, GovRefusal>, w: &mut Writer) {
    match result {
        Ok(accepted) => tagged(w, 0, accepted),
        Err(refusal) => tagged(w, 1, refusal),
    }
}

pub(super) fn decode_result(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<Result<GovAccepted, GovRefusal>, DecodeError> {
    Ok(match r.u8(field)? {
        0 => Ok(GovAccepted::decode(r, field)?),
        1 => Err(GovRefusal::decode(r, field)?),
        other => return Err(r.error_before(1, field, Problem::Tag(other))),
    })
}

fn tagged(w: &mut Writer, tag: u8, value: &impl Encode) {
    w.u8(tag);
    value.encode(w);
}
