//! The event trace: a rolling hash over every event of a run (always), and optionally the
//! events themselves as JSON lines.
//!
//! Format `leither-trace` version 1: the first line is a header
//! `{"format":"leither-trace","version":1,"seed":S,"scenario":"<TOML>"}`; then one object per
//! event with `t` (virtual ms) and `ev` (the event kind) and kind-specific fields; the last line
//! is `{"end":true,"records":N,"trace_hash":"<hex>"}`. The hash covers the same facts as the lines,
//! so two runs with equal hashes took the same steps.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

/// The trace format version this build writes and reads.
pub const TRACE_VERSION: u64 = 1;

/// A 128-bit rolling hash: two 64-bit multiply–rotate lanes. Not cryptographic — it compares
/// runs of the same program, it does not defend against an adversary forging traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHash {
    a: u64,
    b: u64,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash { a: 0x243f_6a88_85a3_08d3, b: 0x1319_8a2e_0370_7344 }
    }
}

impl TraceHash {
    /// Mix one word in.
    #[inline]
    pub fn mix(&mut self, word: u64) {
        self.a = (self.a ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
        self.b = (self.b.rotate_left(17) ^ word).wrapping_mul(0xff51_afd7_ed55_8ccd);
    }

    /// Hex of both lanes.
    pub fn to_hex(self) -> String {
        format!("{:016x}{:016x}", self.a, self.b)
    }
}

/// Where trace lines go, if anywhere.
pub struct Trace {
    hash: TraceHash,
    events: u64,
    sink: Option<Box<dyn Write>>,
    line: String,
}

#[derive(Serialize)]
struct Header<'a> {
    format: &'static str,
    version: u64,
    seed: u64,
    scenario: &'a str,
}

impl Trace {
    /// A trace that only hashes.
    pub fn hash_only() -> Trace {
        Trace { hash: TraceHash::default(), events: 0, sink: None, line: String::new() }
    }

    /// A trace that also writes lines to `sink`, starting with the header.
    pub fn to_writer(mut sink: Box<dyn Write>, seed: u64, scenario_toml: &str) -> io::Result<Trace> {
        let header =
            Header { format: "leither-trace", version: TRACE_VERSION, seed, scenario: scenario_toml };
        serde_json::to_writer(&mut sink, &header)?;
        sink.write_all(b"\n")?;
        Ok(Trace { sink: Some(sink), ..Trace::hash_only() })
    }

    /// Whether lines are written (callers skip building them otherwise).
    #[inline]
    pub fn writing(&self) -> bool {
        self.sink.is_some()
    }

    /// Record one event: `words` go into the hash; `line` is called only when writing and
    /// appends the JSON fields after `"t":…,"ev":"…"`.
    #[inline]
    pub fn record(
        &mut self,
        t_ms: u64,
        kind: &'static str,
        words: &[u64],
        line: impl FnOnce(&mut String),
    ) -> io::Result<()> {
        self.events += 1;
        self.hash.mix(t_ms);
        self.hash.mix(kind_word(kind));
        for word in words {
            self.hash.mix(*word);
        }
        if let Some(sink) = &mut self.sink {
            self.line.clear();
            let _ = write!(self.line, "{{\"t\":{t_ms},\"ev\":\"{kind}\"");
            line(&mut self.line);
            self.line.push_str("}\n");
            sink.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Mix a word that belongs to the current event without writing it.
    #[inline]
    pub fn mix(&mut self, word: u64) {
        self.hash.mix(word);
    }

    /// The hash so far.
    pub fn hash(&self) -> TraceHash {
        self.hash
    }

    /// Events recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Write the footer and flush.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(sink) = &mut self.sink {
            writeln!(
                sink,
                "{{\"end\":true,\"records\":{},\"trace_hash\":\"{}\"}}",
                self.events,
                self.hash.to_hex()
            )?;
            sink.flush()?;
        }
        Ok(())
    }
}

/// The first eight bytes of an event kind's name as a word (kind names differ within them).
#[inline]
fn kind_word(kind: &str) -> u64 {
    kind.bytes().take(8).enumerate().fold(0, |word, (i, byte)| word | u64::from(byte) << (8 * i))
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("events", &self.events).field("writing", &self.writing()).finish()
    }
}
