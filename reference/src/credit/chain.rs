//! The relationship chain (SPEC §2.1): each user keeps its own relations on its own node — no
//! global registry holds them. A relation is formed by an invitation the inviter signs and a
//! peer accepts, signing too; each side then records the relation in its own chain and grants
//! the other a letter of credit for the credit it stated (SPEC §2.2). Decisions: D-029.
//!
//! The flow, between two nodes:
//! 1. the inviter issues a [`SignedInvite`] ([`RelationshipChain::invite`]);
//! 2. the peer checks it and signs a [`SignedAcceptance`] ([`RelationshipChain::accept`]),
//!    recording the relation on its side;
//! 3. the inviter checks the acceptance against its own invitation
//!    ([`RelationshipChain::on_acceptance`]) and records the relation on its side.
//!
//! Every refusal is a [`ChainError`] and changes nothing.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::crypto::{Domain, Hash32, PublicKey, Signature, SignatureError, Signer, Verifier, hash_parts};
use crate::id::Id;

/// Relation tags (SPEC §2.1 `tags`): a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tags(pub u32);

impl Tags {
    /// Family.
    pub const FAMILY: Tags = Tags(1);
    /// Friend.
    pub const FRIEND: Tags = Tags(1 << 1);
    /// Colleague.
    pub const COLLEAGUE: Tags = Tags(1 << 2);
    /// Neighbour.
    pub const NEIGHBOUR: Tags = Tags(1 << 3);
    /// Business partner.
    pub const BUSINESS: Tags = Tags(1 << 4);

    /// Both sets of tags.
    pub fn with(self, other: Tags) -> Tags {
        Tags(self.0 | other.0)
    }

    /// Whether every tag of `other` is set.
    pub fn has(self, other: Tags) -> bool {
        self.0 & other.0 == other.0
    }
}

/// One relation as its holder keeps it (SPEC §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The other side.
    pub peer: Id,
    /// What the relation is.
    pub tags: Tags,
    /// 1 (acquaintance) ..= 5 (closest).
    pub closeness: u8,
    /// The pulse it was formed.
    pub since_pulse: u64,
    /// The credit this holder grants the peer (its letter of credit's initial cap).
    pub credit_granted: u64,
    /// The credit the peer grants this holder.
    pub credit_received: u64,
    /// The invitation that formed it.
    pub invite: Hash32,
}

/// An invitation (SPEC §2.1 `Invite { validity_pulses, credit, friend_count }`), with what a
/// signed message needs besides: who invites, at which closeness and tags, when, and a nonce
/// that makes each invitation distinct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Invite {
    /// The inviter.
    pub inviter: Id,
    /// Closeness offered (1..=5).
    pub closeness: u8,
    /// Tags offered.
    pub tags: Tags,
    /// The pulse it was issued.
    pub issued_pulse: u64,
    /// Pulses it can be accepted for, from `issued_pulse` (inclusive start, exclusive end).
    pub validity_pulses: u64,
    /// The credit the inviter grants whoever accepts (at most the closeness allows, SPEC §2.2).
    pub credit: u64,
    /// How many distinct peers may accept it.
    pub friend_count: u32,
    /// Makes the invitation unique among the inviter's.
    pub nonce: u64,
}

/// Encoded length of an [`Invite`] body.
pub const INVITE_BYTES: usize = 20 + 1 + 4 + 8 * 3 + 4 + 8;

impl Invite {
    /// The canonical encoding (D-029): inviter, closeness, tags, issued pulse, validity,
    /// credit, friend count, nonce; integers little-endian.
    pub fn encode(&self) -> [u8; INVITE_BYTES] {
        let mut out = [0u8; INVITE_BYTES];
        out[..20].copy_from_slice(&self.inviter.0);
        out[20] = self.closeness;
        out[21..25].copy_from_slice(&self.tags.0.to_le_bytes());
        out[25..33].copy_from_slice(&self.issued_pulse.to_le_bytes());
        out[33..41].copy_from_slice(&self.validity_pulses.to_le_bytes());
        out[41..49].copy_from_slice(&self.credit.to_le_bytes());
        out[49..53].copy_from_slice(&self.friend_count.to_le_bytes());
        out[53..61].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// The invitation's id: `H(0x13 ‖ body)`.
    pub fn id(&self) -> Hash32 {
        hash_parts(Domain::Invite, &[&self.encode()])
    }

    /// Whether it can still be accepted at `pulse`.
    pub fn valid_at(&self, pulse: u64) -> bool {
        pulse >= self.issued_pulse && pulse - self.issued_pulse < self.validity_pulses
    }
}

/// An invitation signed by its inviter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignedInvite {
    /// The body.
    pub invite: Invite,
    /// The inviter's key (its Id must be `invite.inviter`).
    pub inviter_key: PublicKey,
    /// The inviter's signature of the id.
    pub sig: Signature,
}

/// A peer's acceptance of an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Acceptance {
    /// The invitation accepted.
    pub invite: Hash32,
    /// Who accepts.
    pub invitee: Id,
    /// The credit the invitee grants the inviter in return (at most the closeness allows).
    pub credit: u64,
    /// The pulse of the acceptance.
    pub pulse: u64,
}

impl Acceptance {
    /// The acceptance's id: `H(0x14 ‖ invite id ‖ invitee ‖ credit ‖ pulse)`.
    pub fn id(&self) -> Hash32 {
        hash_parts(
            Domain::Acceptance,
            &[&self.invite.0, &self.invitee.0, &self.credit.to_le_bytes(), &self.pulse.to_le_bytes()],
        )
    }
}

/// An acceptance signed by the invitee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignedAcceptance {
    /// The body.
    pub acceptance: Acceptance,
    /// The invitee's key.
    pub invitee_key: PublicKey,
    /// The invitee's signature of the id.
    pub sig: Signature,
}

/// Why an invitation or an acceptance was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChainError {
    /// Closeness must be 1..=5.
    #[error("closeness {0} is not in 1..=5")]
    BadCloseness(u8),
    /// The credit exceeds what the closeness allows (`credit_grant_by_closeness`).
    #[error("credit {credit} exceeds the {limit} closeness {closeness} allows")]
    CreditAboveCloseness {
        /// The credit stated.
        credit: u64,
        /// The closeness.
        closeness: u8,
        /// Its grant.
        limit: u64,
    },
    /// An invitation must be valid for at least one pulse and admit at least one friend.
    #[error("an invitation must be valid for at least one pulse and admit at least one friend")]
    EmptyInvite,
    /// The key does not belong to the Id named, or the signature does not verify.
    #[error("bad signature of {0}: {1}")]
    BadSignature(Id, SignatureError),
    /// Accepting outside the validity window.
    #[error(
        "invitation expired or not yet valid at pulse {pulse} (issued {issued}, valid {validity} pulses)"
    )]
    Expired {
        /// The pulse of the acceptance.
        pulse: u64,
        /// When it was issued.
        issued: u64,
        /// Its validity.
        validity: u64,
    },
    /// A user cannot relate to itself.
    #[error("{0} cannot accept its own invitation")]
    SelfRelation(Id),
    /// The two already have a relation.
    #[error("a relation with {0} exists already")]
    Exists(Id),
    /// The invitation was accepted by as many peers as it admits.
    #[error("the invitation admits {0} friends and all have accepted")]
    Exhausted(u32),
    /// The acceptance is for an invitation this chain did not issue.
    #[error("no invitation of ours has id {0}")]
    UnknownInvite(Hash32),
    /// The acceptance's pulse is not the pulse it arrived at or later (it claims the future).
    #[error("the acceptance is dated {claimed}, after the pulse {now} it arrived")]
    FutureAcceptance {
        /// Its date.
        claimed: u64,
        /// Now.
        now: u64,
    },
}

/// One user's relationship chain: its relations and the invitations it issued.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelationshipChain {
    owner: Id,
    grants: [u64; 6],
    relations: BTreeMap<Id, Relation>,
    /// Issued invitations by id, with the peers who accepted each.
    issued: BTreeMap<Hash32, (Invite, Vec<Id>)>,
}

impl RelationshipChain {
    /// The empty chain of `owner`; `grants` is `credit_grant_by_closeness` (closeness 0..=5).
    pub fn new(owner: Id, grants: [u64; 6]) -> RelationshipChain {
        RelationshipChain { owner, grants, ..RelationshipChain::default() }
    }

    /// Whose chain it is.
    pub fn owner(&self) -> Id {
        self.owner
    }

    /// Every relation, by peer.
    pub fn relations(&self) -> &BTreeMap<Id, Relation> {
        &self.relations
    }

    /// The relation with `peer`.
    pub fn relation(&self, peer: &Id) -> Option<&Relation> {
        self.relations.get(peer)
    }

    /// Drop the relation with `peer` — what an invitee does when the inviter refuses its
    /// acceptance (the relation then exists on neither side).
    pub fn withdraw(&mut self, peer: &Id) -> Option<Relation> {
        self.relations.remove(peer)
    }

    fn check_credit(&self, closeness: u8, credit: u64) -> Result<(), ChainError> {
        if !(1..=5).contains(&closeness) {
            return Err(ChainError::BadCloseness(closeness));
        }
        let limit = self.grants[usize::from(closeness)];
        if credit > limit {
            return Err(ChainError::CreditAboveCloseness { credit, closeness, limit });
        }
        Ok(())
    }

    /// Issue `invite` (its `inviter` must be the owner, `signer` the owner's key).
    pub fn invite(&mut self, invite: Invite, signer: &dyn Signer) -> Result<SignedInvite, ChainError> {
        self.check_credit(invite.closeness, invite.credit)?;
        if invite.validity_pulses == 0 || invite.friend_count == 0 {
            return Err(ChainError::EmptyInvite);
        }
        if signer.id() != self.owner || invite.inviter != self.owner {
            return Err(ChainError::BadSignature(invite.inviter, SignatureError::Mismatch));
        }
        let id = invite.id();
        self.issued.entry(id).or_insert((invite, Vec::new()));
        Ok(SignedInvite { invite, inviter_key: signer.public_key(), sig: signer.sign(&id.0) })
    }

    /// Accept `signed` at `pulse`, granting the inviter `credit` in return: checks the
    /// inviter's signature, the validity window, the closeness bound, and that the two have no
    /// relation yet; records the relation and returns the signed acceptance for the inviter.
    pub fn accept(
        &mut self,
        signed: &SignedInvite,
        credit: u64,
        pulse: u64,
        signer: &dyn Signer,
        verifier: &dyn Verifier,
    ) -> Result<SignedAcceptance, ChainError> {
        let invite = &signed.invite;
        verify(invite.inviter, &signed.inviter_key, &invite.id(), &signed.sig, verifier)?;
        if invite.inviter == self.owner {
            return Err(ChainError::SelfRelation(self.owner));
        }
        if !invite.valid_at(pulse) {
            return Err(expired(invite, pulse));
        }
        self.check_credit(invite.closeness, invite.credit)?;
        self.check_credit(invite.closeness, credit)?;
        if self.relations.contains_key(&invite.inviter) {
            return Err(ChainError::Exists(invite.inviter));
        }
        if signer.id() != self.owner {
            return Err(ChainError::BadSignature(self.owner, SignatureError::Mismatch));
        }
        let acceptance = Acceptance { invite: invite.id(), invitee: self.owner, credit, pulse };
        self.relations.insert(
            invite.inviter,
            Relation {
                peer: invite.inviter,
                tags: invite.tags,
                closeness: invite.closeness,
                since_pulse: pulse,
                credit_granted: credit,
                credit_received: invite.credit,
                invite: acceptance.invite,
            },
        );
        Ok(SignedAcceptance {
            acceptance,
            invitee_key: signer.public_key(),
            sig: signer.sign(&acceptance.id().0),
        })
    }

    /// The inviter's side: `signed` accepts one of this chain's invitations, received at
    /// `pulse`. Checks the invitee's signature, that the invitation is ours, was valid when
    /// accepted, admits another friend, the credit bound, and that we have no relation with the
    /// invitee yet; records and returns the relation.
    pub fn on_acceptance(
        &mut self,
        signed: &SignedAcceptance,
        pulse: u64,
        verifier: &dyn Verifier,
    ) -> Result<Relation, ChainError> {
        let a = &signed.acceptance;
        verify(a.invitee, &signed.invitee_key, &a.id(), &signed.sig, verifier)?;
        let (invite, accepted) = self.issued.get(&a.invite).ok_or(ChainError::UnknownInvite(a.invite))?;
        if a.pulse > pulse {
            return Err(ChainError::FutureAcceptance { claimed: a.pulse, now: pulse });
        }
        if !invite.valid_at(a.pulse) {
            return Err(expired(invite, a.pulse));
        }
        if a.invitee == self.owner {
            return Err(ChainError::SelfRelation(self.owner));
        }
        if self.relations.contains_key(&a.invitee) {
            return Err(ChainError::Exists(a.invitee));
        }
        if accepted.len() >= invite.friend_count as usize {
            return Err(ChainError::Exhausted(invite.friend_count));
        }
        self.check_credit(invite.closeness, a.credit)?;
        let relation = Relation {
            peer: a.invitee,
            tags: invite.tags,
            closeness: invite.closeness,
            since_pulse: a.pulse,
            credit_granted: invite.credit,
            credit_received: a.credit,
            invite: a.invite,
        };
        self.issued.get_mut(&a.invite).expect("found above").1.push(a.invitee);
        self.relations.insert(a.invitee, relation);
        Ok(relation)
    }
}

fn expired(invite: &Invite, pulse: u64) -> ChainError {
    ChainError::Expired { pulse, issued: invite.issued_pulse, validity: invite.validity_pulses }
}

/// `key` must be `id`'s and `sig` its signature of `message`.
fn verify(
    id: Id,
    key: &PublicKey,
    message: &Hash32,
    sig: &Signature,
    verifier: &dyn Verifier,
) -> Result<(), ChainError> {
    if key.id() != id {
        return Err(ChainError::BadSignature(id, SignatureError::Mismatch));
    }
    verifier.verify(key, &message.0, sig).map_err(|e| ChainError::BadSignature(id, e))
}
