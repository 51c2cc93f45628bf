//! The relationship chain (SPEC §2.1, D-029): a relation forms from a signed invitation and a
//! signed acceptance, is held on each side's own chain, and every bad invitation or
//! acceptance is refused with a typed error that changes nothing.

use proptest::prelude::*;
use reference::credit::chain::{ChainError, Invite, RelationshipChain, SignedAcceptance, SignedInvite, Tags};
use reference::credit::line::{CreditBook, CreditParams};
use reference::crypto::{SignatureError, Signer, SimScheme, SimSigner};

const GRANTS: [u64; 6] = [0, 10, 50, 100, 500, 1000];

struct Party {
    signer: SimSigner,
    chain: RelationshipChain,
}

fn party(scheme: &SimScheme, index: u64) -> Party {
    let signer = scheme.signer(index);
    let chain = RelationshipChain::new(signer.id(), GRANTS);
    Party { signer, chain }
}

fn invite(from: &Party, closeness: u8, credit: u64) -> Invite {
    Invite {
        inviter: from.signer.id(),
        closeness,
        tags: Tags::FRIEND.with(Tags::NEIGHBOUR),
        issued_pulse: 10,
        validity_pulses: 5,
        credit,
        friend_count: 2,
        nonce: 1,
    }
}

fn issue(from: &mut Party, body: Invite) -> SignedInvite {
    let signer = from.signer.clone();
    from.chain.invite(body, &signer).expect("a valid invitation")
}

fn accept(
    to: &mut Party,
    signed: &SignedInvite,
    credit: u64,
    pulse: u64,
    scheme: &SimScheme,
) -> Result<SignedAcceptance, ChainError> {
    let signer = to.signer.clone();
    to.chain.accept(signed, credit, pulse, &signer, scheme)
}

#[test]
fn an_accepted_invitation_forms_the_relation_on_both_sides_and_letters_of_credit_follow() {
    let scheme = SimScheme::new(1);
    let (mut alice, mut bob) = (party(&scheme, 1), party(&scheme, 2));
    let signed = {
        let body = invite(&alice, 3, 80);
        issue(&mut alice, body)
    };
    let acceptance = accept(&mut bob, &signed, 60, 12, &scheme).unwrap();
    let on_alice = alice.chain.on_acceptance(&acceptance, 13, &scheme).unwrap();
    let on_bob = *bob.chain.relation(&alice.signer.id()).unwrap();
    assert_eq!((on_alice.peer, on_bob.peer), (bob.signer.id(), alice.signer.id()));
    assert_eq!(
        (on_alice.closeness, on_alice.since_pulse, on_alice.tags),
        (3, 12, Tags::FRIEND.with(Tags::NEIGHBOUR))
    );
    assert!(on_bob.tags.has(Tags::NEIGHBOUR) && !on_bob.tags.has(Tags::FAMILY));
    assert_eq!((on_alice.credit_granted, on_alice.credit_received), (80, 60));
    assert_eq!((on_bob.credit_granted, on_bob.credit_received), (60, 80));
    // Each side's stated credit becomes the cap of its letter of credit.
    let mut book = CreditBook::new(CreditParams::default());
    book.grant_capped(alice.signer.id(), bob.signer.id(), 3, on_alice.credit_granted, 12).unwrap();
    book.grant_capped(bob.signer.id(), alice.signer.id(), 3, on_bob.credit_granted, 12).unwrap();
    assert_eq!(book.line(alice.signer.id(), bob.signer.id()).unwrap().cap, 80);
    assert_eq!(book.line(bob.signer.id(), alice.signer.id()).unwrap().cap, 60);
    // The chains are each side's own: nobody else holds the relation.
    let carol = party(&scheme, 3);
    assert!(carol.chain.relations().is_empty());
}

#[test]
fn an_invitation_admits_friend_count_peers_and_no_more() {
    let scheme = SimScheme::new(2);
    let mut alice = party(&scheme, 1);
    let signed = {
        let body = invite(&alice, 2, 50);
        issue(&mut alice, body)
    };
    for index in [2, 3] {
        let mut peer = party(&scheme, index);
        let a = accept(&mut peer, &signed, 10, 11, &scheme).unwrap();
        alice.chain.on_acceptance(&a, 11, &scheme).unwrap();
    }
    let mut late = party(&scheme, 4);
    let a = accept(&mut late, &signed, 10, 11, &scheme).unwrap();
    let before = alice.chain.clone();
    assert_eq!(alice.chain.on_acceptance(&a, 11, &scheme), Err(ChainError::Exhausted(2)));
    assert_eq!(alice.chain, before, "a refusal changes nothing");
    // The refused invitee withdraws its side, so the relation exists on neither.
    assert!(late.chain.withdraw(&alice.signer.id()).is_some());
    assert!(late.chain.relations().is_empty());
}

#[test]
fn bad_invitations_are_refused_when_issued() {
    let scheme = SimScheme::new(3);
    let mut alice = party(&scheme, 1);
    let signer = alice.signer.clone();
    let mut refuse = |body: Invite| alice.chain.invite(body, &signer).unwrap_err();
    let base = invite(&party(&scheme, 1), 2, 50);
    assert_eq!(refuse(Invite { closeness: 0, ..base }), ChainError::BadCloseness(0));
    assert_eq!(refuse(Invite { closeness: 6, ..base }), ChainError::BadCloseness(6));
    assert_eq!(
        refuse(Invite { credit: 51, ..base }),
        ChainError::CreditAboveCloseness { credit: 51, closeness: 2, limit: 50 }
    );
    assert_eq!(refuse(Invite { validity_pulses: 0, ..base }), ChainError::EmptyInvite);
    assert_eq!(refuse(Invite { friend_count: 0, ..base }), ChainError::EmptyInvite);
    let other = party(&scheme, 9).signer.id();
    assert!(matches!(refuse(Invite { inviter: other, ..base }), ChainError::BadSignature(..)));
}

#[test]
fn bad_acceptances_are_refused_by_the_invitee_and_by_the_inviter() {
    let scheme = SimScheme::new(4);
    let (mut alice, mut bob) = (party(&scheme, 1), party(&scheme, 2));
    let signed = {
        let body = invite(&alice, 2, 50);
        issue(&mut alice, body)
    };
    // Outside the window [10, 15).
    assert_eq!(
        accept(&mut bob, &signed, 10, 15, &scheme),
        Err(ChainError::Expired { pulse: 15, issued: 10, validity: 5 })
    );
    assert!(matches!(accept(&mut bob, &signed, 10, 9, &scheme), Err(ChainError::Expired { .. })));
    // A forged or altered invitation.
    let mut altered = signed;
    altered.invite.credit = 40;
    assert_eq!(
        accept(&mut bob, &altered, 10, 11, &scheme),
        Err(ChainError::BadSignature(alice.signer.id(), SignatureError::Mismatch))
    );
    let mut wrong_key = signed;
    wrong_key.inviter_key = bob.signer.public_key();
    assert!(matches!(accept(&mut bob, &wrong_key, 10, 11, &scheme), Err(ChainError::BadSignature(..))));
    // Too much credit in return, and one's own invitation.
    assert!(matches!(
        accept(&mut bob, &signed, 51, 11, &scheme),
        Err(ChainError::CreditAboveCloseness { .. })
    ));
    assert_eq!(
        accept(&mut alice, &signed, 10, 11, &scheme),
        Err(ChainError::SelfRelation(alice.signer.id()))
    );
    assert!(bob.chain.relations().is_empty(), "every refusal changed nothing");

    let acceptance = accept(&mut bob, &signed, 10, 11, &scheme).unwrap();
    assert_eq!(accept(&mut bob, &signed, 10, 12, &scheme), Err(ChainError::Exists(alice.signer.id())));
    // The inviter: a forged acceptance, a future date, an invitation it never issued.
    let mut forged = acceptance;
    forged.acceptance.credit = 20;
    assert!(matches!(alice.chain.on_acceptance(&forged, 11, &scheme), Err(ChainError::BadSignature(..))));
    assert_eq!(
        alice.chain.on_acceptance(&acceptance, 10, &scheme),
        Err(ChainError::FutureAcceptance { claimed: 11, now: 10 })
    );
    let mut stranger = party(&scheme, 5);
    let theirs = {
        let body = invite(&stranger, 1, 10);
        issue(&mut stranger, body)
    };
    let mut carol = party(&scheme, 6);
    let for_stranger = accept(&mut carol, &theirs, 0, 11, &scheme).unwrap();
    assert_eq!(
        alice.chain.on_acceptance(&for_stranger, 11, &scheme),
        Err(ChainError::UnknownInvite(theirs.invite.id()))
    );
    assert!(alice.chain.relations().is_empty());
    // Accepted in time, it still counts when it arrives after the window.
    assert!(alice.chain.on_acceptance(&acceptance, 40, &scheme).is_ok());
    assert_eq!(alice.chain.on_acceptance(&acceptance, 41, &scheme), Err(ChainError::Exists(bob.signer.id())));
}

proptest! {
    /// Whatever invitations are issued and accepted (an invitation may be accepted by several
    /// peers, more than it admits), the relations are symmetric: if one side holds one, the
    /// other holds the same closeness, tags and invitation with the credits swapped.
    #[test]
    fn relations_on_both_sides_agree(
        steps in proptest::collection::vec((any::<bool>(), 0usize..5, 1u8..6, 0u32..3, 0u64..20, 0usize..8), 1..40),
    ) {
        let scheme = SimScheme::new(7);
        let mut parties: Vec<Party> = (0..5).map(|i| party(&scheme, i)).collect();
        let mut issued: Vec<(usize, SignedInvite)> = Vec::new();
        for (k, (is_invite, who, closeness, friends, pulse, pick)) in steps.into_iter().enumerate() {
            if is_invite || issued.is_empty() {
                let body = Invite {
                    inviter: parties[who].signer.id(),
                    closeness,
                    tags: Tags(k as u32 % 7),
                    issued_pulse: 5,
                    validity_pulses: 10,
                    credit: GRANTS[usize::from(closeness)] / 2,
                    friend_count: friends,
                    nonce: k as u64,
                };
                if let Ok(signed) = issue_checked(&mut parties[who], body) {
                    issued.push((who, signed));
                }
                continue;
            }
            let (inviter, signed) = issued[pick % issued.len()];
            let Ok(acceptance) = accept(&mut parties[who], &signed, 0, pulse, &scheme) else { continue };
            if parties[inviter].chain.on_acceptance(&acceptance, pulse, &scheme).is_err() {
                parties[who].chain.withdraw(&signed.invite.inviter);
            }
        }
        for a in &parties {
            for (peer, r) in a.chain.relations() {
                let b = parties.iter().find(|p| p.signer.id() == *peer).unwrap();
                let back = b.chain.relation(&a.signer.id());
                prop_assert!(back.is_some(), "one-sided relation");
                let back = back.unwrap();
                prop_assert_eq!((back.closeness, back.tags, back.invite), (r.closeness, r.tags, r.invite));
                prop_assert_eq!((back.credit_granted, back.credit_received), (r.credit_received, r.credit_granted));
            }
        }
    }
}

fn issue_checked(from: &mut Party, body: Invite) -> Result<SignedInvite, ChainError> {
    let signer = from.signer.clone();
    from.chain.invite(body, &signer)
}
