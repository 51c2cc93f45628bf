//! `leither run --wire-check` (D-038): every message a run sends is encoded, decoded and
//! compared before the network carries it, and the receivers get the decoded copy, so a run
//! shows that what it simulated is exactly what the wire carries. A checked run's trace is the
//! unchecked run's: the check changes nothing it does not also catch.

use reference::node::{Message, MessageKind};
use reference::wire::{self, EncodeError};
use serde::{Deserialize, Serialize};

/// What the check saw.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireCheckCounts {
    /// Messages encoded, decoded and found equal (a broadcast counts once).
    pub messages: u64,
    /// Their frames' bytes.
    pub bytes: u64,
    /// The largest frame.
    pub largest_frame_bytes: u64,
    /// State snapshots, which have no wire encoding yet (D-038): carried unchecked.
    pub not_on_the_wire: u64,
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
    /// `msg` as the wire carries it: encoded, decoded, compared and re-encoded.
    pub fn carry(&mut self, msg: Message) -> Result<Message, WireFailure> {
        let kind = msg.kind();
        let fail = |what: String| WireFailure { kind, what };
        let frame = match wire::encode(&msg) {
            Ok(frame) => frame,
            Err(EncodeError::NotOnTheWire(_)) => {
                self.not_on_the_wire += 1;
                return Ok(msg);
            }
            Err(error) => return Err(fail(error.to_string())),
        };
        let back = wire::decode(&frame).map_err(|e| fail(format!("its own frame does not decode: {e}")))?;
        if back != msg {
            return Err(fail(format!("decoded to another message: sent {msg:?}, received {back:?}")));
        }
        if wire::encode(&back).as_ref() != Ok(&frame) {
            return Err(fail("the decoded message encodes to other bytes".to_string()));
        }
        self.messages += 1;
        self.bytes += frame.len() as u64;
        self.largest_frame_bytes = self.largest_frame_bytes.max(frame.len() as u64);
        Ok(back)
    }
}
