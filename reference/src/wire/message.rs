//! Wire encodings of the messages (D-038): a one-byte tag (the kind's place in
//! [`MessageKind::ALL`]) and the message's fields in declaration order. A message a primary
//! recorded for its backups' replay sits inside a `Replicate` and is one of the kinds a cycle
//! records, so nesting goes one level deep and no more.

use std::sync::Arc;

use super::codec::{Decode, DecodeError, Encode, Problem, Reader, Writer, record};
use crate::consensus::root::AccountProof;
use crate::consensus::settlement::GroupReport;
use crate::crypto::{Hash32, PublicKey, Signature};
use crate::id::{Id, Prefix};
use crate::ledger::{LedgerError, SignedTx, Tx};
use crate::node::{
    ClosedNotice, Envelope, Message, MessageKind, ProofAnswer, ReplicaBatch, ReplicaCycle, Seating,
    SettleMsg, To, ViewEntry,
};
use crate::smt::RootSynopsis;

record!(SettleMsg {
    pulse: u64,
    root: RootSynopsis,
    path: crate::consensus::root::GroupPath,
    orders: Vec<crate::consensus::settlement::Order>,
    view: u32,
});
record!(ReplicaCycle { before_pulse: u64, pulse: u64, inputs: Vec<Envelope>, report_digest: Hash32 });
record!(ClosedNotice {
    org: Id,
    number: u64,
    kind: crate::org::ProposalKind,
    passed: bool,
    yes: u64,
    no: u64,
    total_weight: u64,
});
record!(ReplicaBatch { group: Prefix, view: u32, cycles: Vec<Arc<ReplicaCycle>> });

/// The message's tag: its kind's place in [`MessageKind::ALL`], which lists the kinds in
/// declaration order (asserted by `wire_tags_are_the_kinds_in_order`).
pub(crate) fn tag(kind: MessageKind) -> u8 {
    kind as u8
}

#[test]
fn wire_tags_are_the_kinds_in_order() {
    for (i, kind) in MessageKind::ALL.iter().enumerate() {
        assert_eq!(usize::from(tag(*kind)), i, "{kind:?}");
    }
}

impl Encode for Message {
    fn encode(&self, w: &mut Writer) {
        w.u8(tag(self.kind()));
        match self {
            Message::Propose { tx, payer_key, payer_sig } => {
                Encode::encode(tx, w);
                payer_key.encode(w);
                payer_sig.encode(w);
            }
            Message::Submit(signed) | Message::CreditHalf(signed) => signed.encode(w),
            Message::GroupSeal(report) => report.encode(w),
            Message::Settle(settle) => settle.encode(w),
            Message::Committed { tx_id, root, proof } => {
                tx_id.encode(w);
                root.encode(w);
                proof.encode(w);
            }
            Message::Rejected { tx_id, error } => {
                tx_id.encode(w);
                error.encode(w);
            }
            Message::Pulse { pulse, root, views, seatings } => {
                pulse.encode(w);
                root.encode(w);
                views.encode(w);
                seatings.encode(w);
            }
            Message::Replicate(batch) => batch.encode(w),
            Message::Attest { report, view } => {
                report.encode(w);
                #[cfg(feature = "fault-injection")]
                if w.faults().shifted_attest_views {
                    view.wrapping_add(1).encode(w);
                    return;
                }
                view.encode(w);
            }
            Message::StateRequest { group } => group.encode(w),
            // Only the header is encoded — what an envelope's signature covers (D-039); the
            // body is not on the wire yet: `wire::encode` refuses the message and a decoder
            // refuses the tag, so a cycle that held one (no primary records one) would not
            // decode.
            Message::State(snapshot) => {
                snapshot.group.encode(w);
                snapshot.view.encode(w);
                snapshot.report.encode(w);
                (snapshot.state_bytes as u64).encode(w);
            }
            Message::CoSign { pulse, view, digest } => {
                pulse.encode(w);
                view.encode(w);
                digest.encode(w);
            }
            Message::ViewChange { view, pulse } => {
                view.encode(w);
                pulse.encode(w);
            }
            Message::Gov(request) => request.encode(w),
            Message::GovOutcome { org, nonce, pulse, result } => {
                org.encode(w);
                nonce.encode(w);
                pulse.encode(w);
                super::governance::encode_result(result, w);
            }
            Message::ProveAccount { account, pulse } => {
                account.encode(w);
                pulse.encode(w);
            }
            Message::AccountAt { account, pulse, answer } => {
                account.encode(w);
                pulse.encode(w);
                answer.encode(w);
            }
            Message::Closed { pulse, closed } => {
                pulse.encode(w);
                w.seq(closed);
            }
        }
    }
}

impl Encode for ProofAnswer {
    fn encode(&self, w: &mut Writer) {
        match self {
            ProofAnswer::Proven { root, proof } => {
                w.u8(0);
                root.encode(w);
                proof.encode(w);
            }
            ProofAnswer::NotHeld { oldest, newest } => {
                w.u8(1);
                oldest.encode(w);
                newest.encode(w);
            }
        }
    }
}

impl Decode for ProofAnswer {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        Ok(match r.u8(field)? {
            0 => ProofAnswer::Proven {
                root: RootSynopsis::decode(r, "AccountAt.root")?,
                proof: Box::<AccountProof>::decode(r, "AccountAt.proof")?,
            },
            1 => ProofAnswer::NotHeld {
                oldest: u64::decode(r, "AccountAt.oldest")?,
                newest: u64::decode(r, "AccountAt.newest")?,
            },
            other => return Err(r.error_before(1, field, Problem::Tag(other))),
        })
    }
}

impl Decode for Message {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        let kind = kind(r, field)?;
        decode_body(r, kind)
    }
}

/// The kind a tag names.
fn kind(r: &mut Reader<'_>, field: &'static str) -> Result<MessageKind, DecodeError> {
    let tag = r.u8(field)?;
    MessageKind::ALL.get(usize::from(tag)).copied().ok_or_else(|| r.error_before(1, field, Problem::Tag(tag)))
}

fn decode_body(r: &mut Reader<'_>, kind: MessageKind) -> Result<Message, DecodeError> {
    Ok(match kind {
        MessageKind::Propose => Message::Propose {
            tx: <Tx as Decode>::decode(r, "Propose.tx")?,
            payer_key: PublicKey::decode(r, "Propose.payer_key")?,
            payer_sig: Signature::decode(r, "Propose.payer_sig")?,
        },
        MessageKind::Submit => Message::Submit(Box::<SignedTx>::decode(r, "Submit")?),
        MessageKind::CreditHalf => Message::CreditHalf(Box::<SignedTx>::decode(r, "CreditHalf")?),
        MessageKind::GroupSeal => Message::GroupSeal(Box::<GroupReport>::decode(r, "GroupSeal")?),
        MessageKind::Settle => Message::Settle(Box::<SettleMsg>::decode(r, "Settle")?),
        MessageKind::Committed => Message::Committed {
            tx_id: Hash32::decode(r, "Committed.tx_id")?,
            root: RootSynopsis::decode(r, "Committed.root")?,
            proof: Box::<AccountProof>::decode(r, "Committed.proof")?,
        },
        MessageKind::Rejected => Message::Rejected {
            tx_id: Hash32::decode(r, "Rejected.tx_id")?,
            error: LedgerError::decode(r, "Rejected.error")?,
        },
        MessageKind::Pulse => Message::Pulse {
            pulse: u64::decode(r, "Pulse.pulse")?,
            root: RootSynopsis::decode(r, "Pulse.root")?,
            views: Arc::<[ViewEntry]>::decode(r, "Pulse.views")?,
            seatings: Arc::<[Seating]>::decode(r, "Pulse.seatings")?,
        },
        MessageKind::Replicate => Message::Replicate(Box::<ReplicaBatch>::decode(r, "Replicate")?),
        MessageKind::Attest => Message::Attest {
            report: Box::<GroupReport>::decode(r, "Attest.report")?,
            view: u32::decode(r, "Attest.view")?,
        },
        MessageKind::StateRequest => {
            Message::StateRequest { group: Prefix::decode(r, "StateRequest.group")? }
        }
        MessageKind::State => {
            return Err(r.error_before(
                1,
                "message",
                Problem::NotAllowed("state snapshots are not on the wire yet"),
            ));
        }
        MessageKind::CoSign => Message::CoSign {
            pulse: u64::decode(r, "CoSign.pulse")?,
            view: u32::decode(r, "CoSign.view")?,
            digest: Hash32::decode(r, "CoSign.digest")?,
        },
        MessageKind::ViewChange => Message::ViewChange {
            view: u32::decode(r, "ViewChange.view")?,
            pulse: u64::decode(r, "ViewChange.pulse")?,
        },
        MessageKind::Gov => Message::Gov(Box::<crate::node::governance::GovRequest>::decode(r, "Gov")?),
        MessageKind::GovOutcome => Message::GovOutcome {
            org: Id::decode(r, "GovOutcome.org")?,
            nonce: u64::decode(r, "GovOutcome.nonce")?,
            pulse: u64::decode(r, "GovOutcome.pulse")?,
            result: super::governance::decode_result(r, "GovOutcome.result")?,
        },
        MessageKind::ProveAccount => Message::ProveAccount {
            account: Id::decode(r, "ProveAccount.account")?,
            pulse: u64::decode(r, "ProveAccount.pulse")?,
        },
        MessageKind::AccountAt => Message::AccountAt {
            account: Id::decode(r, "AccountAt.account")?,
            pulse: u64::decode(r, "AccountAt.pulse")?,
            answer: ProofAnswer::decode(r, "AccountAt.answer")?,
        },
        MessageKind::Closed => {
            Message::Closed { pulse: u64::decode(r, "Closed.pulse")?, closed: r.seq("Closed.closed")? }
        }
    })
}

/// Whether a primary records messages of `kind` for its backups' replay: only these may sit
/// inside a cycle.
fn recorded(kind: MessageKind) -> bool {
    matches!(
        kind,
        MessageKind::Submit
            | MessageKind::CreditHalf
            | MessageKind::Settle
            | MessageKind::GroupSeal
            | MessageKind::Attest
            | MessageKind::Gov
    )
}

impl Encode for To {
    fn encode(&self, w: &mut Writer) {
        match self {
            To::Node(id) => {
                w.u8(0);
                id.encode(w);
            }
            To::Everyone => w.u8(1),
        }
    }
}

impl Decode for To {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        match r.u8(field)? {
            0 => Ok(To::Node(Id::decode(r, field)?)),
            1 => Ok(To::Everyone),
            tag => Err(r.error_before(1, field, Problem::Tag(tag))),
        }
    }
}

/// An envelope without the frame's version byte: sender, addressee, sequence number, the
/// message and the signature (D-039). Inside a cycle, the message is one a cycle records.
impl Encode for Envelope {
    fn encode(&self, w: &mut Writer) {
        self.sender.encode(w);
        self.to.encode(w);
        self.seq.encode(w);
        self.msg.encode(w);
        self.sig.encode(w);
    }
}

impl Decode for Envelope {
    const MIN_BYTES: usize =
        PublicKey::MIN_BYTES + To::MIN_BYTES + 8 + Message::MIN_BYTES + Signature::MIN_BYTES;
    fn decode(r: &mut Reader<'_>, _field: &'static str) -> Result<Self, DecodeError> {
        decode_envelope(r, false)
    }
}

/// The envelope at `r`; `top`: the frame's own (any kind but a snapshot), else one a cycle
/// recorded.
pub(super) fn decode_envelope(r: &mut Reader<'_>, top: bool) -> Result<Envelope, DecodeError> {
    let start = r.position();
    let sender = PublicKey::decode(r, "Envelope.sender")?;
    let to = To::decode(r, "Envelope.to")?;
    let seq = u64::decode(r, "Envelope.seq")?;
    let kind = kind(r, "Envelope.msg")?;
    if !top && !recorded(kind) {
        let not_recorded = Problem::NotAllowed(
            "a cycle records only submissions, credit halves, settle orders, reports, attestations and governance requests",
        );
        return Err(r.error_before(1, "ReplicaCycle.inputs", not_recorded));
    }
    let msg = decode_body(r, kind)?;
    let sig = Signature::decode(r, "Envelope.sig")?;
    // The frame's version byte (or, nested, the byte it would take) and what was read.
    let frame_bytes = 1 + r.position() - start;
    Ok(Envelope::assemble(sender, to, seq, msg, sig, frame_bytes))
}
