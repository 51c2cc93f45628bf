//! The wire (D-038): one canonical, versioned binary encoding of every message a node sends.
//!
//! A frame is a version byte ([`WIRE_VERSION`]) and a signed envelope (D-039): the sender's
//! key, the addressee, a sequence number, the message — its one-byte tag and its fields — and
//! the signature ([`encode_envelope`], [`decode_envelope`]). [`encode`] and [`decode`] take a
//! bare message behind the version byte: what the envelope's signature covers, and what
//! tests and benchmarks of the message encodings use.
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
mod governance;
mod message;
mod types;

#[cfg(feature = "fault-injection")]
pub use codec::WireFaults;
pub use codec::{Decode, DecodeError, Encode, MAX_FRAME_BYTES, Problem, Reader, Writer};

use crate::node::{Envelope, Message, MessageKind};
use thiserror::Error;

/// The version of the encoding this node speaks: the first byte of every frame.
pub const WIRE_VERSION: u8 = 2;

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
    read_version(&mut r, len)?;
    let msg = Message::decode(&mut r, "message")?;
    r.finish()?;
    Ok(msg)
}

/// Check the frame's length and read its version byte.
fn read_version(r: &mut Reader<'_>, len: usize) -> Result<(), DecodeError> {
    assert_eq!(r.position(), 0, "a frame is read from its start");
    if len > MAX_FRAME_BYTES {
        let problem = Problem::FrameTooLarge { len, max: MAX_FRAME_BYTES };
        return Err(r.error("frame", problem));
    }
    let version = r.u8("version")?;
    if version != WIRE_VERSION {
        return Err(r.error_before(1, "version", Problem::Version { got: version, supported: WIRE_VERSION }));
    }
    Ok(())
}

/// The frame that carries `envelope` over a link (D-039).
pub fn encode_envelope(envelope: &Envelope) -> Result<Vec<u8>, EncodeError> {
    encode_envelope_into(envelope, Writer::new())
}

/// [`encode_envelope`] with a broken encoder (tests of the checks only).
#[cfg(feature = "fault-injection")]
pub fn encode_envelope_faulty(envelope: &Envelope, faults: WireFaults) -> Result<Vec<u8>, EncodeError> {
    encode_envelope_into(envelope, Writer::with_faults(faults))
}

fn encode_envelope_into(envelope: &Envelope, mut w: Writer) -> Result<Vec<u8>, EncodeError> {
    assert!(w.is_empty(), "a frame starts with its version");
    if envelope.msg.kind() == MessageKind::State {
        return Err(EncodeError::NotOnTheWire(MessageKind::State));
    }
    w.u8(WIRE_VERSION);
    envelope.encode(&mut w);
    let len = w.len();
    if len > MAX_FRAME_BYTES {
        return Err(EncodeError::TooLarge { len, max: MAX_FRAME_BYTES });
    }
    Ok(w.into_bytes())
}

/// The envelope `frame` carries, or why it carries none. The signature is not checked here:
/// the receiving node checks it against its roster ([`crate::node::Node::handle_message`]).
pub fn decode_envelope(frame: &[u8]) -> Result<Envelope, DecodeError> {
    decode_envelope_from(Reader::new(frame), frame.len())
}

/// [`decode_envelope`] with a broken decoder (tests of the checks only).
#[cfg(feature = "fault-injection")]
pub fn decode_envelope_faulty(frame: &[u8], faults: WireFaults) -> Result<Envelope, DecodeError> {
    decode_envelope_from(Reader::with_faults(frame, faults), frame.len())
}

fn decode_envelope_from(mut r: Reader<'_>, len: usize) -> Result<Envelope, DecodeError> {
    read_version(&mut r, len)?;
    let envelope = message::decode_envelope(&mut r, true)?;
    r.finish()?;
    Ok(envelope)
}

/// The length of `msg`'s encoding (tag and fields; for a state snapshot, its header).
pub fn encoded_len(msg: &Message) -> usize {
    let mut w = Writer::new();
    msg.encode(&mut w);
    w.len()
}
