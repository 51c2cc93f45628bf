//! The wire encoding (D-038): every message kind round-trips; every frame the decoder accepts
//! re-encodes to itself (canonical); arbitrary and mutated bytes never panic the decoder and
//! get an error naming the field and the byte; lengths are checked before allocation; and a
//! golden file shows one encoded message per kind, so a format change is visible in review.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use reference::consensus::root::{AccountProof, GroupEntry, GroupPath, GroupStep};
use reference::consensus::settlement::{GroupReport, Order, PendingHalf};
use reference::crypto::{Hash32, PublicKey, Signature, SignatureError};
use reference::crypto::{Signer, SimScheme};
use reference::ledger::{Half, LedgerError, Party, Settlement, SignedTx, Tx};
use reference::node::governance::{
    Bound, Endorsement, GovAccepted, GovAction, GovRefusal, GovRequest, GovResult,
};
use reference::node::{
    ClosedNotice, Envelope, Message, MessageKind, ProofAnswer, ReplicaBatch, ReplicaCycle, Seating,
    SettleMsg, To, ViewEntry,
};
use reference::org::{OrgError, OrgParams, ProposalKind, Right, Rights, WeightRule};
use reference::smt::{Account, Proof, ProofStep, RootSynopsis, Summary, Synopsis, Terminal};
use reference::wire::{self, DecodeError, EncodeError, MAX_FRAME_BYTES, Problem, WIRE_VERSION};
use reference::{Id, Prefix};

fn id() -> impl Strategy<Value = Id> {
    any::<[u8; 20]>().prop_map(Id)
}

fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

fn key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}

fn signature() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&a);
        bytes[32..].copy_from_slice(&b);
        Signature(bytes)
    })
}

fn prefix() -> impl Strategy<Value = Prefix> {
    (id(), 0usize..=160).prop_map(|(bits, len)| Prefix::new(bits, len))
}

fn summary() -> impl Strategy<Value = Summary> {
    (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(balance, frozen, pending_out, pending_in, accounts)| Summary {
            balance,
            frozen,
            pending_out,
            pending_in,
            accounts,
        },
    )
}

fn synopsis() -> impl Strategy<Value = Synopsis> {
    (hash(), summary()).prop_map(|(hash, summary)| Synopsis { hash, summary })
}

fn root() -> impl Strategy<Value = RootSynopsis> {
    (any::<u64>(), synopsis()).prop_map(|(version, synopsis)| RootSynopsis { version, synopsis })
}

fn entry() -> impl Strategy<Value = GroupEntry> {
    (prefix(), any::<u64>(), synopsis()).prop_map(|(prefix, version, synopsis)| GroupEntry {
        prefix,
        version,
        synopsis,
    })
}

fn path() -> impl Strategy<Value = GroupPath> {
    let step =
        (any::<bool>(), synopsis()).prop_map(|(sibling_left, sibling)| GroupStep { sibling_left, sibling });
    (entry(), vec(step, 0..4)).prop_map(|(entry, steps)| GroupPath { entry, steps })
}

fn half() -> impl Strategy<Value = Half> {
    prop_oneof![Just(Half::Debit), Just(Half::Credit)]
}

fn settlement() -> impl Strategy<Value = Settlement> {
    prop_oneof![Just(Settlement::Clear), Just(Settlement::Reverse)]
}

fn report() -> impl Strategy<Value = GroupReport> {
    let pending = (hash(), half(), prefix(), any::<u64>())
        .prop_map(|(tx_id, half, counterpart, amount)| PendingHalf { tx_id, half, counterpart, amount });
    (any::<u64>(), entry(), vec(pending, 0..4)).prop_map(|(pulse, entry, pending)| GroupReport {
        pulse,
        entry,
        pending,
    })
}

fn tx() -> impl Strategy<Value = Tx> {
    (id(), id(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(from, to, amount, from_nonce, created_pulse)| Tx { from, to, amount, from_nonce, created_pulse },
    )
}

fn signed() -> impl Strategy<Value = SignedTx> {
    (tx(), key(), key(), signature(), signature()).prop_map(
        |(tx, payer_key, payee_key, payer_sig, payee_sig)| SignedTx {
            tx,
            payer_key,
            payee_key,
            payer_sig,
            payee_sig,
        },
    )
}

/// Accounts over the whole range of every field (`support::account` keeps them small, for
/// the tree's no-op updates).
fn account() -> impl Strategy<Value = Account> {
    (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(balance, frozen, nonce, pending_out, pending_in)| Account {
            balance,
            frozen,
            nonce,
            pending_out,
            pending_in,
        },
    )
}

fn proof() -> impl Strategy<Value = AccountProof> {
    let step = (any::<u8>(), hash(), summary()).prop_map(|(bit, sibling_hash, sibling_summary)| ProofStep {
        bit,
        sibling_hash,
        sibling_summary,
    });
    let terminal = prop_oneof![
        Just(Terminal::Empty),
        (id(), account()).prop_map(|(id, account)| Terminal::Leaf { id, account })
    ];
    (any::<u64>(), id(), vec(step, 0..4), terminal, path()).prop_map(
        |(version, key, steps, terminal, path)| AccountProof {
            account: Proof { version, key, steps, terminal },
            path,
        },
    )
}

fn ledger_error() -> impl Strategy<Value = LedgerError> {
    let party = prop_oneof![Just(Party::Payer), Just(Party::Payee)];
    let reason = prop_oneof![Just(SignatureError::MalformedKey), Just(SignatureError::Mismatch)];
    prop_oneof![
        Just(LedgerError::NonPositiveAmount),
        id().prop_map(LedgerError::SelfTransfer),
        (party.clone(), id()).prop_map(|(party, id)| LedgerError::KeyMismatch { party, id }),
        (party.clone(), reason).prop_map(|(party, reason)| LedgerError::BadSignature { party, reason }),
        (id(), party).prop_map(|(id, party)| LedgerError::UnknownAccount { id, party }),
        (any::<u64>(), any::<u64>()).prop_map(|(expected, got)| LedgerError::BadNonce { expected, got }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(spendable, amount)| LedgerError::InsufficientSpendable { spendable, amount }),
        Just(LedgerError::BalanceOverflow),
        id().prop_map(LedgerError::AccountExists),
        (any::<u64>(), any::<u64>())
            .prop_map(|(frozen, amount)| LedgerError::InsufficientFrozen { frozen, amount }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(deposit, amount)| LedgerError::BeyondCapacity { deposit, amount }),
        Just(LedgerError::TimedOut),
        (half(), any::<u64>(), any::<u64>()).prop_map(|(half, pending, amount)| LedgerError::NotPending {
            half,
            pending,
            amount
        }),
    ]
}

fn settle() -> impl Strategy<Value = SettleMsg> {
    let order = (hash(), settlement()).prop_map(|(tx_id, how)| Order { tx_id, how });
    (any::<u64>(), root(), path(), vec(order, 0..4), any::<u32>())
        .prop_map(|(pulse, root, path, orders, view)| SettleMsg { pulse, root, path, orders, view })
}

fn weight_rule() -> impl Strategy<Value = WeightRule> {
    prop_oneof![Just(WeightRule::OneMemberOneVote), Just(WeightRule::Balance), Just(WeightRule::Trust)]
}

fn org_params() -> impl Strategy<Value = OrgParams> {
    (any::<u64>(), any::<u32>(), any::<u32>(), weight_rule(), any::<u64>()).prop_map(
        |(
            vote_window_pulses,
            quorum_permille,
            threshold_permille,
            weight_rule,
            supervisor_absence_pulses,
        )| {
            OrgParams {
                vote_window_pulses,
                quorum_permille,
                threshold_permille,
                weight_rule,
                supervisor_absence_pulses,
            }
        },
    )
}

fn proposal_kind() -> impl Strategy<Value = ProposalKind> {
    prop_oneof![
        (id(), any::<u64>(), "\\PC{0,40}").prop_map(|(to, amount, reason)| ProposalKind::StructuralReward {
            to,
            amount,
            reason
        }),
        id().prop_map(|member| ProposalKind::Expel { member }),
        org_params().prop_map(|params| ProposalKind::ParamChange { params }),
        id().prop_map(|candidate| ProposalKind::SupervisorElect { candidate }),
        (hash(), id()).prop_map(|(dispute, at_fault)| ProposalKind::DisputeVerdict { dispute, at_fault }),
    ]
}

fn gov_action() -> impl Strategy<Value = GovAction> {
    let endorsement = (key(), signature()).prop_map(|(endorser_key, sig)| Endorsement { endorser_key, sig });
    prop_oneof![
        (key(), signature(), org_params()).prop_map(|(org_key, org_sig, params)| GovAction::Create {
            org_key,
            org_sig,
            params
        }),
        proptest::option::of(endorsement).prop_map(|endorsement| GovAction::Apply { endorsement }),
        (id(), any::<bool>()).prop_map(|(applicant, admit)| GovAction::Decide { applicant, admit }),
        id().prop_map(|guest| GovAction::AdmitByTask { guest }),
        Just(GovAction::Leave),
        (id(), 0u16..0x200).prop_map(|(member, bits)| GovAction::NarrowRights {
            member,
            rights: Rights::from_bits(bits).expect("nine rights")
        }),
        Just(GovAction::Heartbeat),
        proposal_kind().prop_map(|kind| GovAction::Propose { kind }),
        (any::<u64>(), any::<bool>()).prop_map(|(number, yes)| GovAction::Vote { number, yes }),
        (prefix(), proptest::collection::vec(id(), 0..20))
            .prop_map(|(group, approve)| GovAction::Ballot { group, approve }),
        (any::<u64>(), any::<bool>(), proof()).prop_map(|(number, yes, proof)| GovAction::VoteByBalance {
            number,
            yes,
            proof: Box::new(proof)
        }),
        (any::<u64>(), proof())
            .prop_map(|(number, proof)| GovAction::ProveOrgAccount { number, proof: Box::new(proof) }),
    ]
}

fn gov_request() -> impl Strategy<Value = Message> {
    (id(), any::<u64>(), gov_action())
        .prop_map(|(org, nonce, action)| Message::Gov(Box::new(GovRequest { org, nonce, action })))
}

fn org_error() -> impl Strategy<Value = OrgError> {
    prop_oneof![
        id().prop_map(OrgError::NotMember),
        (id(), 0usize..9).prop_map(|(actor, i)| OrgError::LacksRight { actor, right: Right::ALL[i] }),
        Just(OrgError::NotSupervisor),
        id().prop_map(OrgError::AlreadyMember),
        id().prop_map(OrgError::AlreadyApplied),
        id().prop_map(OrgError::NoApplication),
        Just(OrgError::SupervisorStays),
        Just(OrgError::BadRightsChange),
        any::<u64>().prop_map(OrgError::UnknownProposal),
        any::<u64>().prop_map(OrgError::VotingClosed),
        any::<u64>().prop_map(OrgError::VotingOpen),
        id().prop_map(OrgError::AlreadyVoted),
        (any::<u64>(), any::<u64>())
            .prop_map(|(seen_pulses_ago, needed)| OrgError::SupervisorNotAbsent { seen_pulses_ago, needed }),
        Just(OrgError::BadParams),
    ]
}

fn gov_result() -> impl Strategy<Value = GovResult> {
    let bound = prop_oneof![
        Just(Bound::Organizations),
        Just(Bound::Members),
        Just(Bound::Applications),
        Just(Bound::OpenProposals)
    ];
    let refusal = prop_oneof![
        org_error().prop_map(GovRefusal::Org),
        id().prop_map(GovRefusal::UnknownOrg),
        id().prop_map(GovRefusal::OrgExists),
        Just(GovRefusal::BadFounding),
        Just(GovRefusal::BadEndorsement),
        (any::<u64>(), any::<u64>()).prop_map(|(nonce, floor)| GovRefusal::Stale { nonce, floor }),
        weight_rule().prop_map(GovRefusal::VoteForm),
        (bound, any::<u32>()).prop_map(|(what, limit)| GovRefusal::Full { what, limit }),
        Just(GovRefusal::ReasonTooLong),
        (any::<u64>(), any::<u64>())
            .prop_map(|(request_ms, chief_ms)| GovRefusal::OutOfTime { request_ms, chief_ms }),
        id().prop_map(GovRefusal::NotElectorate),
        Just(GovRefusal::BadBallot),
        Just(GovRefusal::BadProof),
    ];
    prop_oneof![
        Just(Ok(GovAccepted::Done)),
        any::<u64>().prop_map(|number| Ok(GovAccepted::Opened { number })),
        refusal.prop_map(Err),
    ]
}

/// A message a primary records for replay (what may sit inside a cycle).
fn recorded() -> impl Strategy<Value = Message> {
    prop_oneof![
        gov_request(),
        signed().prop_map(|s| Message::Submit(Box::new(s))),
        signed().prop_map(|s| Message::CreditHalf(Box::new(s))),
        report().prop_map(|r| Message::GroupSeal(Box::new(r))),
        settle().prop_map(|s| Message::Settle(Box::new(s))),
        (report(), any::<u32>()).prop_map(|(r, view)| Message::Attest { report: Box::new(r), view }),
    ]
}

fn to() -> impl Strategy<Value = To> {
    prop_oneof![id().prop_map(To::Node), Just(To::Everyone)]
}

/// `msg` sealed by one of a few simulation signers, for any addressee and sequence number.
fn sealed(msg: impl Strategy<Value = Message>) -> impl Strategy<Value = Envelope> {
    (0..4u64, to(), any::<u64>(), msg)
        .prop_map(|(signer, to, seq, msg)| Envelope::seal(&SimScheme::new(1).signer(signer), to, seq, msg))
}

fn batch() -> impl Strategy<Value = ReplicaBatch> {
    let cycle = (any::<u64>(), any::<u64>(), vec(sealed(recorded()), 0..3), hash()).prop_map(
        |(before_pulse, pulse, inputs, report_digest)| {
            Arc::new(ReplicaCycle { before_pulse, pulse, inputs, report_digest })
        },
    );
    (prefix(), any::<u32>(), vec(cycle, 0..3)).prop_map(|(group, view, cycles)| ReplicaBatch {
        group,
        view,
        cycles,
    })
}

fn pulse() -> impl Strategy<Value = Message> {
    let view =
        (prefix(), any::<u32>(), id()).prop_map(|(group, view, primary)| ViewEntry { group, view, primary });
    let seating = (prefix(), any::<u64>(), vec(id(), 0..4), any::<bool>())
        .prop_map(|(group, term, seats, in_effect)| Seating { group, term, seats, in_effect });
    (any::<u64>(), root(), vec(view, 0..4), vec(seating, 0..3)).prop_map(|(pulse, root, views, seatings)| {
        Message::Pulse { pulse, root, views: views.into(), seatings: seatings.into() }
    })
}

/// Every kind on the wire (`State` is not yet: D-038).
fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (tx(), key(), signature()).prop_map(|(tx, payer_key, payer_sig)| Message::Propose {
            tx,
            payer_key,
            payer_sig
        }),
        recorded(),
        (hash(), root(), proof()).prop_map(|(tx_id, root, proof)| Message::Committed {
            tx_id,
            root,
            proof: Box::new(proof)
        }),
        (hash(), ledger_error()).prop_map(|(tx_id, error)| Message::Rejected { tx_id, error }),
        pulse(),
        batch().prop_map(|b| Message::Replicate(Box::new(b))),
        prefix().prop_map(|group| Message::StateRequest { group }),
        (any::<u64>(), any::<u32>(), hash()).prop_map(|(pulse, view, digest)| Message::CoSign {
            pulse,
            view,
            digest
        }),
        (any::<u32>(), any::<u64>()).prop_map(|(view, pulse)| Message::ViewChange { view, pulse }),
        (id(), any::<u64>(), any::<u64>(), gov_result())
            .prop_map(|(org, nonce, pulse, result)| { Message::GovOutcome { org, nonce, pulse, result } }),
        (id(), any::<u64>()).prop_map(|(account, pulse)| Message::ProveAccount { account, pulse }),
        (id(), any::<u64>(), proof_answer()).prop_map(|(account, pulse, answer)| Message::AccountAt {
            account,
            pulse,
            answer
        }),
        (any::<u64>(), proptest::collection::vec(closed_notice(), 0..4))
            .prop_map(|(pulse, closed)| Message::Closed { pulse, closed }),
    ]
}

fn closed_notice() -> impl Strategy<Value = ClosedNotice> {
    (id(), any::<u64>(), proposal_kind(), any::<bool>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
        |(org, number, kind, passed, yes, no, total_weight)| ClosedNotice {
            org,
            number,
            kind,
            passed,
            yes,
            no,
            total_weight,
        },
    )
}

fn proof_answer() -> impl Strategy<Value = ProofAnswer> {
    prop_oneof![
        (root(), proof()).prop_map(|(root, proof)| ProofAnswer::Proven { root, proof: Box::new(proof) }),
        (any::<u64>(), any::<u64>()).prop_map(|(oldest, newest)| ProofAnswer::NotHeld { oldest, newest }),
    ]
}

fn frame(msg: &Message) -> Vec<u8> {
    wire::encode(msg).expect("a generated message fits a frame")
}

/// What a decoder made of `bytes`: the message re-encodes to exactly `bytes`, or an error that
/// lies inside the frame.
fn check_canonical_or_refused(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<Message, DecodeError>,
) -> Result<(), TestCaseError> {
    match decode(bytes) {
        Ok(msg) => prop_assert_eq!(frame(&msg), bytes, "an accepted frame re-encodes to itself"),
        Err(error) => prop_assert!(error.at <= bytes.len(), "the error's byte {} is in the frame", error.at),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_message_round_trips_and_its_frame_is_canonical(msg in message()) {
        let bytes = frame(&msg);
        prop_assert_eq!(bytes[0], WIRE_VERSION);
        let back = wire::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(frame(&back), bytes);
    }

    #[test]
    fn every_cut_of_a_frame_is_refused_at_a_named_field(msg in message(), cut in any::<prop::sample::Index>()) {
        let bytes = frame(&msg);
        let len = cut.index(bytes.len());
        let error = wire::decode(&bytes[..len]).expect_err("a cut frame is refused");
        prop_assert!(error.at <= len);
        prop_assert!(!error.field.is_empty());
    }

    #[test]
    fn mutated_frames_are_canonical_or_refused(
        msg in message(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        insert in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    ) {
        let mut bytes = frame(&msg);
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= value;
        }
        if let Some((at, value)) = insert {
            bytes.insert(at.index(bytes.len() + 1), value);
        }
        check_canonical_or_refused(&bytes, wire::decode)?;
    }

    #[test]
    fn arbitrary_bytes_are_canonical_or_refused(tag in 0u8..19, body in vec(any::<u8>(), 0..600)) {
        let mut bytes = vec![WIRE_VERSION, tag];
        bytes.extend(body);
        check_canonical_or_refused(&bytes, wire::decode)?;
    }
}

fn envelope_frame(envelope: &Envelope) -> Vec<u8> {
    wire::encode_envelope(envelope).expect("a generated envelope fits a frame")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_envelope_round_trips_verifies_and_its_length_is_known(envelope in sealed(message())) {
        let bytes = envelope_frame(&envelope);
        prop_assert_eq!(bytes.len(), envelope.frame_bytes(), "frame_bytes is the true length");
        let back = wire::decode_envelope(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &envelope);
        prop_assert_eq!(back.frame_bytes(), bytes.len());
        prop_assert!(back.verify(&SimScheme::new(1)).is_ok(), "the signature survives the wire");
        prop_assert_eq!(envelope_frame(&back), bytes);
    }

    #[test]
    fn a_flipped_envelope_byte_is_refused_or_breaks_its_signature(
        envelope in sealed(message()),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut bytes = envelope_frame(&envelope);
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        match wire::decode_envelope(&bytes) {
            Ok(back) => {
                prop_assert_eq!(envelope_frame(&back), bytes.clone(), "canonical");
                prop_assert!(back.verify(&SimScheme::new(1)).is_err(), "byte {} changed, still verifies", at);
            }
            Err(error) => prop_assert!(error.at <= bytes.len()),
        }
    }

    #[test]
    fn every_cut_of_an_envelope_is_refused(envelope in sealed(message()), cut in any::<prop::sample::Index>()) {
        let bytes = envelope_frame(&envelope);
        let len = cut.index(bytes.len());
        let error = wire::decode_envelope(&bytes[..len]).expect_err("a cut envelope is refused");
        prop_assert!(error.at <= len && !error.field.is_empty());
    }
}

fn refused(bytes: &[u8]) -> DecodeError {
    wire::decode(bytes).expect_err("refused")
}

#[test]
fn a_length_that_cannot_fit_is_refused_before_anything_is_allocated() {
    // A `Replicate` claiming 2^32 − 1 cycles in a 30-byte frame.
    let mut bytes = vec![WIRE_VERSION, 8];
    bytes.extend_from_slice(&[0u8; 21]); // the root prefix
    bytes.extend_from_slice(&0u32.to_le_bytes()); // view
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    let error = refused(&bytes);
    assert_eq!(error.field, "ReplicaBatch.cycles");
    assert_eq!(error.at, 2 + 21 + 4);
    assert!(matches!(error.problem, Problem::Length { len: u32::MAX, left: 0, .. }), "{error}");
}

#[test]
fn frames_with_another_version_trailing_bytes_or_unknown_tags_are_refused() {
    let good = frame(&Message::ViewChange { view: 1, pulse: 2 });
    let mut other_version = good.clone();
    other_version[0] = WIRE_VERSION + 1;
    assert_eq!(
        refused(&other_version).problem,
        Problem::Version { got: WIRE_VERSION + 1, supported: WIRE_VERSION }
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        refused(&trailing),
        DecodeError { at: good.len(), field: "frame", problem: Problem::Trailing(1) }
    );
    let unknown = [WIRE_VERSION, MessageKind::ALL.len() as u8];
    assert_eq!(refused(&unknown).problem, Problem::Tag(MessageKind::ALL.len() as u8));
    assert_eq!(refused(&[]).problem, Problem::Truncated { needed: 1, left: 0 });
    let too_large = vec![0u8; MAX_FRAME_BYTES + 1];
    assert!(matches!(refused(&too_large).problem, Problem::FrameTooLarge { .. }));
}

#[test]
fn values_with_a_second_encoding_are_refused() {
    // A prefix with bits after its length, and a boolean of 2, would decode to values that
    // re-encode differently: both are refused.
    let mut prefix = vec![WIRE_VERSION, 10];
    prefix.extend_from_slice(&[0xFF; 20]);
    prefix.push(4);
    let error = refused(&prefix);
    assert_eq!((error.at, error.field), (2, "StateRequest.group"));
    assert_eq!(error.problem, Problem::NonCanonical("bits set after the prefix"));
    let mut long = vec![WIRE_VERSION, 10];
    long.extend_from_slice(&[0; 20]);
    long.push(161);
    assert_eq!(refused(&long).problem, Problem::NotAllowed("a prefix longer than an Id"));
    assert_eq!(refused(&true_written_as_2()).problem, Problem::Bool(2));
}

/// A pulse whose last byte, a seating's `in_effect`, is 2: a second encoding of `true`.
fn true_written_as_2() -> Vec<u8> {
    let seat = Seating { group: Prefix::ROOT, term: 1, seats: vec![], in_effect: true };
    let msg = Message::Pulse {
        pulse: 1,
        root: RootSynopsis { version: 1, synopsis: Synopsis::empty() },
        views: Arc::from(Vec::new()),
        seatings: Arc::from(vec![seat]),
    };
    let mut bytes = frame(&msg);
    *bytes.last_mut().expect("in_effect") = 2;
    bytes
}

#[test]
fn a_cycle_holds_only_what_a_primary_records() {
    let inner = Message::ViewChange { view: 1, pulse: 1 };
    let cycle = Arc::new(ReplicaCycle {
        before_pulse: 0,
        pulse: 1,
        inputs: vec![Envelope::seal(&SimScheme::new(1).signer(0), To::Everyone, 1, inner)],
        report_digest: Hash32([0; 32]),
    });
    let msg =
        Message::Replicate(Box::new(ReplicaBatch { group: Prefix::ROOT, view: 0, cycles: vec![cycle] }));
    let error = refused(&frame(&msg));
    assert_eq!(error.field, "ReplicaCycle.inputs");
    assert!(matches!(error.problem, Problem::NotAllowed(_)));
}

#[test]
fn state_snapshots_are_not_on_the_wire_yet() {
    assert_eq!(
        refused(&[WIRE_VERSION, 11]).problem,
        Problem::NotAllowed("state snapshots are not on the wire yet")
    );
    let kind = MessageKind::ALL[11];
    assert_eq!(kind, MessageKind::State);
    assert_eq!(EncodeError::NotOnTheWire(kind).to_string(), "state messages have no wire encoding yet");
}

/// One message of every kind on the wire, small and fixed, for the golden file.
fn one_of_each() -> Vec<Message> {
    let (payer, payee) = (Id([1; 20]), Id([2; 20]));
    let group = Prefix::new(Id([0x80; 20]), 1);
    let summary = Summary { balance: 100, frozen: 0, pending_out: 7, pending_in: 0, accounts: 2 };
    let synopsis = Synopsis { hash: Hash32([3; 32]), summary };
    let root = RootSynopsis { version: 5, synopsis };
    let entry = GroupEntry { prefix: group, version: 4, synopsis };
    let path = GroupPath { entry, steps: vec![GroupStep { sibling_left: true, sibling: synopsis }] };
    let tx = Tx { from: payer, to: payee, amount: 7, from_nonce: 1, created_pulse: 3 };
    let signed = SignedTx {
        tx,
        payer_key: PublicKey([4; 32]),
        payee_key: PublicKey([5; 32]),
        payer_sig: Signature([6; 64]),
        payee_sig: Signature([7; 64]),
    };
    let pending =
        PendingHalf { tx_id: Hash32([8; 32]), half: Half::Debit, counterpart: Prefix::ROOT, amount: 7 };
    let report = GroupReport { pulse: 4, entry, pending: vec![pending] };
    let settle = SettleMsg {
        pulse: 5,
        root,
        path: path.clone(),
        orders: vec![Order { tx_id: Hash32([8; 32]), how: Settlement::Clear }],
        view: 0,
    };
    let account = Account { balance: 93, frozen: 0, nonce: 1, pending_out: 7, pending_in: 0 };
    let proof = AccountProof {
        account: Proof {
            version: 4,
            key: payer,
            steps: vec![],
            terminal: Terminal::Leaf { id: payer, account },
        },
        path,
    };
    let cycle = ReplicaCycle {
        before_pulse: 3,
        pulse: 4,
        inputs: vec![Envelope::seal(
            &SimScheme::new(1).signer(0),
            To::Node(payee),
            1 << 40,
            Message::Submit(Box::new(signed)),
        )],
        report_digest: Hash32([9; 32]),
    };
    vec![
        Message::Propose { tx, payer_key: PublicKey([4; 32]), payer_sig: Signature([6; 64]) },
        Message::Submit(Box::new(signed)),
        Message::CreditHalf(Box::new(signed)),
        Message::GroupSeal(Box::new(report.clone())),
        Message::Settle(Box::new(settle)),
        Message::Committed { tx_id: Hash32([8; 32]), root, proof: Box::new(proof.clone()) },
        Message::Rejected { tx_id: Hash32([8; 32]), error: LedgerError::BadNonce { expected: 2, got: 1 } },
        Message::Pulse {
            pulse: 5,
            root,
            views: Arc::from(vec![ViewEntry { group, view: 1, primary: payee }]),
            seatings: Arc::from(vec![Seating {
                group,
                term: 1,
                seats: vec![payer, payee],
                in_effect: false,
            }]),
        },
        Message::Replicate(Box::new(ReplicaBatch { group, view: 1, cycles: vec![Arc::new(cycle)] })),
        Message::Attest { report: Box::new(report), view: 1 },
        Message::StateRequest { group },
        Message::CoSign { pulse: 5, view: 0, digest: Hash32([9; 32]) },
        Message::ViewChange { view: 1, pulse: 5 },
        Message::Gov(Box::new(GovRequest {
            org: payer,
            nonce: 7 << 20,
            action: GovAction::Apply {
                endorsement: Some(Endorsement { endorser_key: PublicKey([4; 32]), sig: Signature([6; 64]) }),
            },
        })),
        Message::Gov(Box::new(GovRequest {
            org: payer,
            nonce: (7 << 20) + 1,
            action: GovAction::Propose {
                kind: ProposalKind::StructuralReward { to: payee, amount: 50, reason: "audit".into() },
            },
        })),
        Message::GovOutcome {
            org: payer,
            nonce: 7 << 20,
            pulse: 5,
            result: Err(GovRefusal::Org(OrgError::AlreadyVoted(payee))),
        },
        Message::Gov(Box::new(GovRequest {
            org: payee,
            nonce: (7 << 20) + 2,
            action: GovAction::VoteByBalance { number: 3, yes: true, proof: Box::new(proof.clone()) },
        })),
        Message::ProveAccount { account: payer, pulse: 5 },
        Message::AccountAt {
            account: payer,
            pulse: 5,
            answer: ProofAnswer::Proven { root, proof: Box::new(proof.clone()) },
        },
        Message::AccountAt {
            account: payer,
            pulse: 90,
            answer: ProofAnswer::NotHeld { oldest: 10, newest: 73 },
        },
        Message::Closed {
            pulse: 31,
            closed: vec![ClosedNotice {
                org: payer,
                number: 2,
                kind: ProposalKind::Expel { member: payee },
                passed: true,
                yes: 3,
                no: 1,
                total_weight: 5,
            }],
        },
    ]
}

#[test]
fn the_golden_file_shows_one_encoded_message_per_kind() {
    let mut text = String::from(
        "# One encoded frame per message kind (tests/it/wire.rs; LEITHER_BLESS=1 re-pins).\n# A change here is a wire format change: bump WIRE_VERSION.\n",
    );
    let all = one_of_each();
    let kinds: std::collections::BTreeSet<MessageKind> = all.iter().map(Message::kind).collect();
    assert_eq!(kinds.len(), MessageKind::ALL.len() - 1, "every kind but State");
    for msg in all {
        let bytes = frame(&msg);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        text.push_str(&format!("{} {} {hex}\n", msg.kind().name(), bytes.len()));
    }
    // One whole envelope: the frame a peer actually sends (header, message, signature).
    let envelope = Envelope::seal(
        &SimScheme::new(1).signer(1),
        To::Node(SimScheme::new(1).signer(2).id()),
        7 << 20,
        Message::ViewChange { view: 1, pulse: 5 },
    );
    let bytes = envelope_frame(&envelope);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    text.push_str(&format!("envelope {} {hex}\n", bytes.len()));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire/messages.txt");
    if std::env::var_os("LEITHER_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("created");
        std::fs::write(&path, &text).expect("written");
    }
    let pinned = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        pinned == text,
        "{} differs from the encoder's output; re-pin with LEITHER_BLESS=1 if the format change is meant",
        path.display()
    );
}

/// The checks above can fail: with a codec broken on purpose they catch it.
mod broken_codecs {
    use super::*;
    use reference::wire::WireFaults;

    #[test]
    fn a_decoder_that_reads_any_non_zero_byte_as_true_is_not_canonical() {
        let bytes = true_written_as_2();
        assert!(check_canonical_or_refused(&bytes, wire::decode).is_ok(), "the real decoder refuses it");
        let lenient = WireFaults { lenient_bools: true, ..WireFaults::default() };
        let broken = |b: &[u8]| wire::decode_faulty(b, lenient);
        assert!(
            check_canonical_or_refused(&bytes, broken).is_err(),
            "the canonical check catches the second encoding of true"
        );
    }

    #[test]
    fn a_decoder_that_trusts_lengths_is_caught_by_the_length_check() {
        let mut bytes = vec![WIRE_VERSION, 8];
        bytes.extend_from_slice(&[0u8; 21]);
        bytes.extend_from_slice(&0u32.to_le_bytes());
        // Small enough that the broken decoder's allocation succeeds, so that it gets as far
        // as running out of bytes.
        bytes.extend_from_slice(&100_000u32.to_le_bytes());
        assert!(matches!(refused(&bytes).problem, Problem::Length { .. }));
        let trusting = WireFaults { unchecked_lengths: true, ..WireFaults::default() };
        let broken = wire::decode_faulty(&bytes, trusting).expect_err("still refused, but late");
        assert!(matches!(broken.problem, Problem::Truncated { .. }), "it allocated first: {broken}");
    }
}

#[test]
fn a_reward_reason_past_its_bound_or_not_utf8_and_unknown_right_bits_are_refused() {
    let reason = |text: &str| {
        let request = GovRequest {
            org: Id::from_u64(1),
            nonce: 1,
            action: GovAction::Propose {
                kind: ProposalKind::StructuralReward { to: Id::from_u64(2), amount: 1, reason: text.into() },
            },
        };
        frame(&Message::Gov(Box::new(request)))
    };
    let longest = "x".repeat(reference::node::governance::MAX_REASON_BYTES);
    let bytes = reason(&longest);
    assert!(wire::decode(&bytes).is_ok());
    let too_long = reason(&format!("{longest}x"));
    assert_eq!(refused(&too_long).field, "StructuralReward.reason");
    // The last byte of the reason made invalid UTF-8.
    let mut not_utf8 = reason("ok");
    let last = not_utf8.len() - 1;
    not_utf8[last] = 0xFF;
    let error = refused(&not_utf8);
    assert_eq!(
        (error.field, error.problem),
        ("StructuralReward.reason", Problem::NonCanonical("a reason is UTF-8"))
    );
    // Rights bits past the ninth right.
    let narrow = GovRequest {
        org: Id::from_u64(1),
        nonce: 1,
        action: GovAction::NarrowRights { member: Id::from_u64(2), rights: Rights::MEMBER },
    };
    let mut bytes = frame(&Message::Gov(Box::new(narrow)));
    let last = bytes.len() - 1;
    bytes[last] = 0x80;
    assert_eq!(refused(&bytes).problem, Problem::NonCanonical("unknown right bits"));
}
