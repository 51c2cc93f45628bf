//! Fuzzer bytes — a sender, then a frame — decoded and handed to a standby node whose state an
//! honest run built (`simulator::harness`): no frame a peer sends may panic it (D-038).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use simulator::harness::{Harness, Role};

static HARNESS: LazyLock<Harness> = LazyLock::new(Harness::new);

fuzz_target!(|data: &[u8]| {
    HARNESS.feed(Role::Standby, data);
});
