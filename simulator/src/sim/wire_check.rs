//! `leither run --wire-check` (D-038, D-039): every envelope a run sends is encoded, decoded
//! and compared before the network carries it, and the receivers get the decoded copy, so a
//! run shows that what it simulated is exactly what the wire carries — signature included —
//! and that the bytes it charged the links are the frame's true length. A checked run's trace
//! is the unchecked run's: the check changes nothing it does not also catch.

use std::collections::BTreeMap;

use reference::node::{Envelope, MessageKind};
use reference::wire::{self, EncodeError};
use serde::{Deserialize, Serialize};

/// What the check saw.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireCheckCounts {
    /// Envelopes encoded, decoded and found equal (a broadcast counts once).
    pub messages: u64,
    /// Their frames' bytes.
    pub bytes: u64,
    /// The largest frame.
    pub largest_frame_bytes: u64,
    /// State snapshots, which have no wire encoding yet (D-038): carried unchecked.
    pub not_on_the_wire: u64,
    /// Per message kind: how many, and their frames' bytes.
    pub by_kind: BTreeMap<String, KindBytes>,
}

/// One message kind's frames under `--wire-check`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KindBytes {
    /// Messages.
    pub messages: u64,
    /// Their frames' bytes (what the links were charged: the check fails if they differ).
    pub frame_bytes: u64,
}

/// The encoder a checked run uses: the real one, or (tests only) one broken on purpose.
#[derive(Clone, Copy, Debug, Default)]
pub struct Encoder {
    #[cfg(feature = "fault-injection")]
    faults: Option<reference::wire::WireFaults>,
}

impl Encoder {
    /// An encoder broken so (tests of the check only).
    #[cfg(feature = "fault-injection")]
    pub fn broken(faults: reference::wire::WireFaults) -> Encoder {
        Encoder { faults: Some(faults) }
    }

    fn encode(&self, envelope: &Envelope) -> Result<Vec<u8>, EncodeError> {
        #[cfg(feature = "fault-injection")]
        if let Some(faults) = self.faults {
            return wire::encode_envelope_faulty(envelope, faults);
        }
        wire::encode_envelope(envelope)
    }
}

/// Why a message did not survive the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFailure {
    /// The message's kind.
    pub kind: MessageKind,
    /// What went wrong.
    pub what: String,
}

impl WireCheckCounts {
    /// `envelope` as the wire carries it: encoded, decoded, compared and re-encoded, its
    /// charged size compared with its frame's.
    pub fn carry(&mut self, envelope: Envelope, encoder: &Encoder) -> Result<Envelope, WireFailure> {
        let kind = envelope.msg().kind();
        let fail = |what: String| WireFailure { kind, what };
        let frame = match encoder.encode(&envelope) {
            Ok(frame) => frame,
            Err(EncodeError::NotOnTheWire(_)) => {
                self.not_on_the_wire += 1;
                return Ok(envelope);
            }
            Err(error) => return Err(fail(error.to_string())),
        };
        let back =
            wire::decode_envelope(&frame).map_err(|e| fail(format!("its own frame does not decode: {e}")))?;
        if back != envelope {
            return Err(fail(format!("decoded to another envelope: sent {envelope:?}, received {back:?}")));
        }
        if wire::encode_envelope(&back).as_ref() != Ok(&frame) {
            return Err(fail("the decoded envelope encodes to other bytes".to_string()));
        }
        if envelope.frame_bytes() != frame.len() {
            let charged = envelope.frame_bytes();
            return Err(fail(format!("links were charged {charged} bytes for a {}-byte frame", frame.len())));
        }
        self.messages += 1;
        self.bytes += frame.len() as u64;
        let of_kind = self.by_kind.entry(kind.name().to_string()).or_default();
        of_kind.messages += 1;
        of_kind.frame_bytes += frame.len() as u64;
        self.largest_frame_bytes = self.largest_frame_bytes.max(frame.len() as u64);
        Ok(back)
    }
}
