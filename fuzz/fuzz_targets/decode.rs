//! Arbitrary bytes through the wire decoder: it never panics, and a frame it accepts
//! re-encodes to exactly itself (D-038).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reference::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = wire::decode(data) {
        assert_eq!(wire::encode(&msg).as_deref(), Ok(data), "an accepted frame re-encodes to itself");
    }
});
