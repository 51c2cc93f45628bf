//! Arbitrary bytes through the wire decoder, as a bare message and as a whole envelope
//! (D-038, D-039): it never panics, and a frame it accepts re-encodes to exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = wire::decode(data) {
        assert_eq!(wire::encode(&msg).as_deref(), Ok(data), "an accepted frame re-encodes to itself");
    }
    if let Ok(envelope) = wire::decode_envelope(data) {
        let again = wire::encode_envelope(&envelope);
        assert_eq!(again.as_deref(), Ok(data), "an accepted envelope re-encodes to itself");
        assert_eq!(envelope.frame_bytes(), data.len(), "an envelope knows its frame's length");
    }
});
