//! The codec's primitives (D-038): a [`Writer`] that appends fixed-width little-endian
//! integers, byte arrays, one-byte tags and `u32` lengths, and a [`Reader`] that takes them
//! back and refuses everything no writer could have produced.
//!
//! Two rules make the encoding canonical without a re-encoding pass: every primitive has
//! exactly one encoding (fixed widths, booleans and option tags only `0` or `1`), and types
//! whose value would lose information in memory (a [`crate::id::Prefix`] with bits after its
//! length) are refused by their decoder. Two rules bound a decoder's memory: every length is
//! checked against the bytes left before anything is allocated (each element takes at least
//! [`Decode::MIN_BYTES`] of them), and a frame is at most [`MAX_FRAME_BYTES`].

use thiserror::Error;

/// The largest frame a node accepts or sends: a state snapshot of a large group is the biggest
/// message (its accounts and replication log); 16 MiB holds one of ~200,000 accounts.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// Why bytes are not a message: what was wrong, at which byte, in which field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("byte {at}, {field}: {problem}")]
pub struct DecodeError {
    /// The offset in the frame where the problem was found.
    pub at: usize,
    /// The field being read (`Type.field`).
    pub field: &'static str,
    /// What was wrong.
    pub problem: Problem,
}

/// What was wrong with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// The frame is longer than [`MAX_FRAME_BYTES`].
    #[error("the frame is {len} bytes, over the {max}-byte limit")]
    FrameTooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame's version byte is not one this node speaks.
    #[error("wire version {got} is not supported (this node speaks {supported})")]
    Version {
        /// The frame's version.
        got: u8,
        /// The version this node speaks.
        supported: u8,
    },
    /// The frame ends inside a field.
    #[error("{needed} bytes needed, {left} left")]
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the frame.
        left: usize,
    },
    /// A tag names no variant.
    #[error("unknown tag {0}")]
    Tag(u8),
    /// A boolean or option tag other than 0 and 1.
    #[error("{0} is neither 0 nor 1")]
    Bool(u8),
    /// A length whose elements cannot fit in what is left of the frame.
    #[error("{len} elements of at least {min_bytes} bytes cannot fit in the {left} bytes left")]
    Length {
        /// The length read.
        len: u32,
        /// The least bytes one element takes.
        min_bytes: usize,
        /// Bytes left in the frame.
        left: usize,
    },
    /// Bytes after the message.
    #[error("{0} bytes follow the message")]
    Trailing(usize),
    /// A value no encoder produces (it would not survive a round trip).
    #[error("not canonical: {0}")]
    NonCanonical(&'static str),
    /// A well-formed value that may not appear here.
    #[error("{0}")]
    NotAllowed(&'static str),
}

/// Appends encoded values to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    bytes: Vec<u8>,
    #[cfg(feature = "fault-injection")]
    faults: WireFaults,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// A writer broken so (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn with_faults(faults: WireFaults) -> Writer {
        Writer { bytes: Vec::new(), faults }
    }

    /// How this writer is broken (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn faults(&self) -> WireFaults {
        self.faults
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// One byte (a tag or a small number).
    pub fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    /// A `u32`, little-endian.
    pub fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// A `u64`, little-endian.
    pub fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// A `u128`, little-endian.
    pub fn u128(&mut self, value: u128) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// Raw bytes of a fixed-size field.
    pub fn bytes(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
    }

    /// `0` or `1`.
    pub fn bool(&mut self, value: bool) {
        self.bytes.push(u8::from(value));
    }

    /// A sequence's length. Every sequence a node builds is far below `u32::MAX` elements
    /// (a frame is at most [`MAX_FRAME_BYTES`]).
    pub fn len_prefix(&mut self, len: usize) {
        let len = u32::try_from(len).expect("a sequence in a message has fewer than 2^32 elements");
        self.u32(len);
    }

    /// A sequence: its length, then each element.
    pub fn seq<T: Encode>(&mut self, items: &[T]) {
        self.len_prefix(items.len());
        for item in items {
            item.encode(self);
        }
    }
}

/// Takes encoded values from a frame, refusing what no [`Writer`] produces.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    #[cfg(feature = "fault-injection")]
    faults: WireFaults,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            at: 0,
            #[cfg(feature = "fault-injection")]
            faults: WireFaults::default(),
        }
    }

    /// A reader broken so (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn with_faults(bytes: &'a [u8], faults: WireFaults) -> Reader<'a> {
        Reader { bytes, at: 0, faults }
    }

    /// Where the reader is.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// An error at the current position.
    pub fn error(&self, field: &'static str, problem: Problem) -> DecodeError {
        DecodeError { at: self.at, field, problem }
    }

    /// An error at the value that ends `len` bytes before the current position (a tag just
    /// read).
    pub fn error_before(&self, len: usize, field: &'static str, problem: Problem) -> DecodeError {
        debug_assert!(len <= self.at, "the value was read from this frame");
        DecodeError { at: self.at - len, field, problem }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let left = self.remaining();
        if n > left {
            return Err(self.error(field, Problem::Truncated { needed: n, left }));
        }
        let taken = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(taken)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let taken = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(taken);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A little-endian `u128`.
    pub fn u128(&mut self, field: &'static str) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array(field)?))
    }

    /// `0` or `1`.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        let at = self.at;
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            #[cfg(feature = "fault-injection")]
            _ if self.faults.lenient_bools => Ok(true),
            other => Err(DecodeError { at, field, problem: Problem::Bool(other) }),
        }
    }

    /// A length whose elements (each at least `min_bytes`) fit in what is left: checked before
    /// anything is allocated, so a decoder never holds more than a fixed multiple of its input.
    pub fn len_prefix(&mut self, min_bytes: usize, field: &'static str) -> Result<usize, DecodeError> {
        debug_assert!(min_bytes > 0, "every element takes at least one byte");
        let at = self.at;
        let len = self.u32(field)?;
        let left = self.remaining();
        #[cfg(feature = "fault-injection")]
        if self.faults.unchecked_lengths {
            return Ok(len as usize);
        }
        if (len as usize).saturating_mul(min_bytes) > left {
            return Err(DecodeError { at, field, problem: Problem::Length { len, min_bytes, left } });
        }
        Ok(len as usize)
    }

    /// A sequence of `T`.
    pub fn seq<T: Decode>(&mut self, field: &'static str) -> Result<Vec<T>, DecodeError> {
        let len = self.len_prefix(T::MIN_BYTES, field)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::decode(self, field)?);
        }
        Ok(items)
    }

    /// Nothing may follow the message.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(self.error("frame", Problem::Trailing(left))),
        }
    }
}

/// A value with a wire encoding.
pub trait Encode {
    /// Append the value's encoding.
    fn encode(&self, w: &mut Writer);
}

/// A value that can be read back from its wire encoding.
pub trait Decode: Sized {
    /// The fewest bytes any value's encoding takes (at least 1): what a length is checked
    /// against.
    const MIN_BYTES: usize;

    /// Read one value, refusing bytes no encoder produces; `field` names it in errors where
    /// it has no fields of its own (a number, a key).
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError>;
}

/// Wire encodings of a record type, field by field in declaration order; each field named
/// `Type.field` in decode errors.
macro_rules! record {
    ($ty:ident { $($field:ident: $t:ty),* $(,)? }) => {
        impl $crate::wire::Encode for $ty {
            fn encode(&self, w: &mut $crate::wire::Writer) {
                $( $crate::wire::Encode::encode(&self.$field, w); )*
            }
        }
        impl $crate::wire::Decode for $ty {
            const MIN_BYTES: usize = 0 $( + <$t as $crate::wire::Decode>::MIN_BYTES )*;
            fn decode(
                r: &mut $crate::wire::Reader<'_>,
                _field: &'static str,
            ) -> Result<Self, $crate::wire::DecodeError> {
                Ok($ty {
                    $( $field: <$t as $crate::wire::Decode>::decode(
                        r,
                        concat!(stringify!($ty), ".", stringify!($field)),
                    )?, )*
                })
            }
        }
    };
}
pub(crate) use record;

macro_rules! number {
    ($($t:ident),*) => {$(
        impl Encode for $t {
            fn encode(&self, w: &mut Writer) {
                w.$t(*self);
            }
        }
        impl Decode for $t {
            const MIN_BYTES: usize = std::mem::size_of::<$t>();
            fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
                r.$t(field)
            }
        }
    )*};
}
number!(u8, u32, u64, u128);

impl Encode for bool {
    fn encode(&self, w: &mut Writer) {
        w.bool(*self);
    }
}

impl Decode for bool {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.bool(field)
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, w: &mut Writer) {
        w.seq(self);
    }
}

impl<T: Decode> Decode for Vec<T> {
    const MIN_BYTES: usize = 4;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.seq(field)
    }
}

impl<T: Encode> Encode for std::sync::Arc<[T]> {
    fn encode(&self, w: &mut Writer) {
        w.seq(self);
    }
}

impl<T: Decode> Decode for std::sync::Arc<[T]> {
    const MIN_BYTES: usize = 4;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        r.seq(field).map(Into::into)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, w: &mut Writer) {
        match self {
            None => w.u8(0),
            Some(value) => {
                w.u8(1);
                value.encode(w);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    const MIN_BYTES: usize = 1;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        if r.bool(field)? { T::decode(r, field).map(Some) } else { Ok(None) }
    }
}

impl<T: Encode> Encode for Box<T> {
    fn encode(&self, w: &mut Writer) {
        (**self).encode(w);
    }
}

impl<T: Decode> Decode for Box<T> {
    const MIN_BYTES: usize = T::MIN_BYTES;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        T::decode(r, field).map(Box::new)
    }
}

impl<T: Encode> Encode for std::sync::Arc<T> {
    fn encode(&self, w: &mut Writer) {
        (**self).encode(w);
    }
}

impl<T: Decode> Decode for std::sync::Arc<T> {
    const MIN_BYTES: usize = T::MIN_BYTES;
    fn decode(r: &mut Reader<'_>, field: &'static str) -> Result<Self, DecodeError> {
        T::decode(r, field).map(std::sync::Arc::new)
    }
}

/// Test-only ways to break the codec, to show that the checks catch them. Passed to
/// `wire::encode_faulty` / `wire::decode_faulty` (never global state).
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireFaults {
    /// Any non-zero byte reads as `true` (a second encoding of `true`).
    pub lenient_bools: bool,
    /// Lengths are not checked against the bytes left (allocation follows the claim).
    pub unchecked_lengths: bool,
    /// The encoder writes an attestation's view one higher (what `--wire-check` must catch).
    pub shifted_attest_views: bool,
}
