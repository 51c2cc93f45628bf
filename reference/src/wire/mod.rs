//! The wire (D-038): one canonical, versioned binary encoding of every message a node sends.
//!
//! A frame is a version byte ([`WIRE_VERSION`]), the message's one-byte tag and its fields.
//! Integers are fixed-width little-endian, keys, hashes and signatures their bytes, sequences
//! a `u32` length and their elements, options and booleans one byte that is `0` or `1`. Each
//! value has exactly one encoding, and the decoder refuses anything else, so
//! `encode(decode(b)) == b` for every frame `b` it accepts — what a signature over the bytes
//! needs. Decoding never panics, checks every length against what is left of the frame
//! before allocating (so it holds at most a fixed multiple of its input), and says what was
//! wrong, at which byte, in which field ([`DecodeError`]).
//!
//! ```
//! use reference::node::Message;
//! use reference::wire;
//!
//! let msg = Message::ViewChange { view: 3, pulse: 41 };
//! let frame = wire::encode(&msg).unwrap();
//! assert_eq!(frame.len(), 1 + 1 + 4 + 8);
//! assert_eq!(wire::decode(&frame).unwrap(), msg);
//! let error = wire::decode(&frame[..frame.len() - 1]).unwrap_err();
//! assert_eq!(error.field, "ViewChange.pulse");
//! ```

mod codec;
mod message;
mod types;

#[cfg(feature = "fault-injection")]
pub use codec::WireFaults;
pub use codec::{Decode, DecodeError, Encode, MAX_FRAME_BYTES, Problem, Reader, Writer};

use crate::node::{Message, MessageKind};
use thiserror::Error;

/// The version of the encoding this node speaks: the first byte of every frame.
pub const WIRE_VERSION: u8 = 1;

/// Why a message cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Its encoding is longer than [`MAX_FRAME_BYTES`].
    #[error("the message encodes to {len} bytes, over the {max}-byte frame limit")]
    TooLarge {
        /// The encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Its kind has no wire encoding yet.
    #[error("{} messages have no wire encoding yet", .0.name())]
    NotOnTheWire(MessageKind),
}

/// The frame that carries `msg`.
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    encode_into(msg, Writer::new())
}

/// [`encode`] with a broken encoder (tests of the checks only).
#[cfg(feature = "fault-injection")]
pub fn encode_faulty(msg: &Message, faults: WireFaults) -> Result<Vec<u8>, EncodeError> {
    encode_into(msg, Writer::with_faults(faults))
}

fn encode_into(msg: &Message, mut w: Writer) -> Result<Vec<u8>, EncodeError> {
    assert!(w.is_empty(), "a frame starts with its version");
    if msg.kind() == MessageKind::State {
        return Err(EncodeError::NotOnTheWire(MessageKind::State));
    }
    w.u8(WIRE_VERSION);
    msg.encode(&mut w);
    let len = w.len();
    if len > MAX_FRAME_BYTES {
        return Err(EncodeError::TooLarge { len, max: MAX_FRAME_BYTES });
    }
    Ok(w.into_bytes())
}

/// The message `frame` carries, or why it carries none.
pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    decode_from(Reader::new(frame), frame.len())
}

/// [`decode`] with a broken decoder (tests of the checks only).
#[cfg(feature = "fault-injection")]
pub fn decode_faulty(frame: &[u8], faults: WireFaults) -> Result<Message, DecodeError> {
    decode_from(Reader::with_faults(frame, faults), frame.len())
}

fn decode_from(mut r: Reader<'_>, len: usize) -> Result<Message, DecodeError> {
    assert_eq!(r.position(), 0, "a frame is read from its start");
    if len > MAX_FRAME_BYTES {
        let problem = Problem::FrameTooLarge { len, max: MAX_FRAME_BYTES };
        return Err(r.error("frame", problem));
    }
    let version = r.u8("version")?;
    if version != WIRE_VERSION {
        return Err(r.error_before(1, "version", Problem::Version { got: version, supported: WIRE_VERSION }));
    }
    let msg = Message::decode(&mut r, "message")?;
    r.finish()?;
    Ok(msg)
}
