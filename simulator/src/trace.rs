//! The event trace: a rolling hash over every event of a run (always), optionally the events
//! themselves as JSON lines, and a flight recorder that keeps the last events in memory so that
//! a run that breaks an invariant can write out what led to it without a full trace.
//!
//! Format `leither-trace` version 1: the first line is a header
//! `{"format":"leither-trace","version":1,"seed":S,"nodes":N,"scenario":"<TOML>"}`; then one
//! object per event with `t` (virtual ms) and `ev` (the event kind, [`Ev`]) and kind-specific
//! fields; the last line is `{"end":true,"records":N,"trace_hash":"<hex>"}`. The hash covers the
//! same facts as the lines, so two runs with equal hashes took the same steps.
//!
//! An event is recorded as its kind and up to five words (what the hash covers) plus, for two
//! kinds, a text the hash does not cover (a refusal's reason, an election's seats). A line is
//! rendered from that record alone, so the trace file and the flight recorder print the same
//! line for the same event.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{self, Write};

use reference::node::MessageKind;
use serde::Serialize;

/// The trace format version this build writes and reads.
pub const TRACE_VERSION: u64 = 1;

/// Events the flight recorder keeps: about 1 MB.
pub const FLIGHT_RECORDER_EVENTS: usize = 10_000;

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

/// How a word of an event is printed.
#[derive(Clone, Copy, Debug)]
enum Format {
    Number,
    Bool,
    /// A `MessageKind` by its index.
    Message,
    /// 0 = pulse, 1 = retry.
    Timer,
    /// 1 = drop, 0 = partition.
    LostReason,
}

/// A field of a line: its name, which word it prints and how.
type Field = (&'static str, usize, Format);

macro_rules! events {
    ($($variant:ident = $name:literal [$(($field:literal, $word:literal, $format:ident)),*]),* $(,)?) => {
        /// The kinds of event a trace records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Ev { $(#[doc = $name] $variant),* }

        impl Ev {
            /// Every kind, in a fixed order.
            pub const ALL: &'static [Ev] = &[$(Ev::$variant),*];

            /// The `ev` of its lines.
            pub fn name(self) -> &'static str {
                match self { $(Ev::$variant => $name),* }
            }

            fn fields(self) -> &'static [Field] {
                match self { $(Ev::$variant => &[$(($field, $word, Format::$format)),*]),* }
            }
        }
    };
}

events! {
    Deliver = "deliver" [("from", 0, Number), ("to", 1, Number), ("msg", 2, Message)],
    Timer = "timer" [("node", 0, Number), ("timer", 1, Timer)],
    Request = "request" [("tag", 0, Number), ("payer", 1, Number), ("payee", 2, Number), ("amount", 3, Number)],
    Crash = "crash" [("node", 0, Number)],
    Restart = "restart" [("node", 0, Number), ("durable", 1, Bool)],
    Partition = "partition" [("partition", 0, Number)],
    Heal = "heal" [("partition", 0, Number)],
    Lost = "lost" [("from", 0, Number), ("to", 1, Number), ("reason", 2, LostReason)],
    DoubleSpend = "double_spend" [("node", 0, Number), ("payee", 1, Number)],
    Sealed = "sealed" [("pulse", 0, Number), ("version", 1, Number), ("txs", 2, Number)],
    ChiefFailover = "chief_failover" [("pulse", 0, Number), ("view", 1, Number), ("to", 2, Number)],
    ViewChangeVote = "view_change_vote" [("node", 2, Number), ("view", 0, Number), ("pulse", 1, Number)],
    Root = "root" [("pulse", 0, Number), ("ts", 1, Number)],
    Committed = "committed" [("node", 0, Number), ("tag", 1, Number), ("value", 2, Number)],
    Refused = "refused" [("node", 0, Number), ("tag", 1, Number), ("value", 2, Number)],
    Abandoned = "abandoned" [("node", 0, Number), ("tag", 1, Number), ("value", 2, Number)],
    LostRequest = "lost_request" [("node", 0, Number), ("tag", 1, Number), ("value", 2, Number)],
    Resync = "resync" [("node", 0, Number), ("tag", 1, Number), ("value", 2, Number)],
    Failover = "failover" [("pulse", 0, Number), ("view", 1, Number), ("from", 2, Number), ("to", 3, Number)],
    Reseated = "reseated" [("pulse", 0, Number), ("term", 1, Number), ("view", 2, Number), ("from", 3, Number), ("to", 4, Number)],
    Elected = "elected" [("pulse", 0, Number), ("term", 1, Number)],
    Seated = "seated" [("pulse", 0, Number), ("term", 1, Number), ("view", 2, Number), ("from", 3, Number), ("to", 4, Number)],
    BadMessage = "bad_message" [("node", 0, Number), ("from", 1, Number)],
    Reward = "reward" [("tag", 0, Number), ("payer", 1, Number), ("payee", 2, Number), ("amount", 3, Number)],
}

impl Ev {
    /// The kind named `name`, if any.
    pub fn named(name: &str) -> Option<Ev> {
        Ev::ALL.iter().copied().find(|ev| ev.name() == name)
    }
}

/// One recorded event.
#[derive(Clone, Debug)]
struct Record {
    t_ms: u64,
    ev: Ev,
    words: [u64; 5],
    /// Further JSON fields, `,"key":value…`, that the hash does not cover.
    extra: Option<Box<str>>,
}

impl Record {
    /// The event's JSON line (without the newline).
    fn render(&self, line: &mut String) {
        line.clear();
        let _ = write!(line, "{{\"t\":{},\"ev\":\"{}\"", self.t_ms, self.ev.name());
        for &(name, word, format) in self.ev.fields() {
            let value = self.words[word];
            let _ = match format {
                Format::Number => write!(line, ",\"{name}\":{value}"),
                Format::Bool => write!(line, ",\"{name}\":{}", value != 0),
                Format::Message => {
                    let kind = MessageKind::ALL.get(value as usize).map_or("?", |k| k.name());
                    write!(line, ",\"{name}\":\"{kind}\"")
                }
                Format::Timer => {
                    write!(line, ",\"{name}\":\"{}\"", if value == 0 { "pulse" } else { "retry" })
                }
                Format::LostReason => {
                    write!(line, ",\"{name}\":\"{}\"", if value == 1 { "drop" } else { "partition" })
                }
            };
        }
        line.push_str(self.extra.as_deref().unwrap_or(""));
        line.push('}');
    }
}

/// The last [`FLIGHT_RECORDER_EVENTS`] events, oldest first.
#[derive(Debug, Default)]
struct FlightRecorder {
    records: VecDeque<Record>,
}

/// Where trace lines go, if anywhere.
pub struct Trace {
    hash: TraceHash,
    events: u64,
    sink: Option<Box<dyn Write>>,
    recorder: Option<FlightRecorder>,
    line: String,
}

#[derive(Serialize)]
struct Header<'a> {
    format: &'static str,
    version: u64,
    seed: u64,
    nodes: u64,
    scenario: &'a str,
}

impl Trace {
    /// A trace that only hashes.
    pub fn hash_only() -> Trace {
        Trace { hash: TraceHash::default(), events: 0, sink: None, recorder: None, line: String::new() }
    }

    /// A trace that also writes lines to `sink`, starting with the header.
    pub fn to_writer(
        mut sink: Box<dyn Write>,
        seed: u64,
        nodes: u64,
        scenario_toml: &str,
    ) -> io::Result<Trace> {
        let header =
            Header { format: "leither-trace", version: TRACE_VERSION, seed, nodes, scenario: scenario_toml };
        serde_json::to_writer(&mut sink, &header)?;
        sink.write_all(b"\n")?;
        Ok(Trace { sink: Some(sink), ..Trace::hash_only() })
    }

    /// Also keep the last events in memory ([`Trace::flight_recording`]).
    pub fn with_flight_recorder(mut self) -> Trace {
        self.recorder = Some(FlightRecorder::default());
        self
    }

    /// Whether events are kept beyond the hash (callers skip building texts otherwise).
    #[inline]
    pub fn writing(&self) -> bool {
        self.sink.is_some() || self.recorder.is_some()
    }

    /// Record one event of kind `ev` with its `words`, which go into the hash.
    #[inline]
    pub fn record(&mut self, t_ms: u64, ev: Ev, words: &[u64]) -> io::Result<()> {
        self.record_with(t_ms, ev, words, String::new)
    }

    /// [`Trace::record`] with further fields the hash does not cover: `extra` returns them as
    /// `,"key":value…` and is called only when the event is kept.
    #[inline]
    pub fn record_with(
        &mut self,
        t_ms: u64,
        ev: Ev,
        words: &[u64],
        extra: impl FnOnce() -> String,
    ) -> io::Result<()> {
        debug_assert!(words.len() <= 5 && ev.fields().iter().all(|f| f.1 < words.len()), "{ev:?}");
        self.events += 1;
        self.hash.mix(t_ms);
        self.hash.mix(kind_word(ev.name()));
        for word in words {
            self.hash.mix(*word);
        }
        if !self.writing() {
            return Ok(());
        }
        self.keep(t_ms, ev, words, extra())
    }

    /// Write and record an event (kept out of line: most runs only hash).
    #[inline(never)]
    fn keep(&mut self, t_ms: u64, ev: Ev, words: &[u64], extra: String) -> io::Result<()> {
        let mut record = Record { t_ms, ev, words: [0; 5], extra: None };
        record.words[..words.len()].copy_from_slice(words);
        record.extra = (!extra.is_empty()).then(|| extra.into_boxed_str());
        if let Some(sink) = &mut self.sink {
            record.render(&mut self.line);
            self.line.push('\n');
            sink.write_all(self.line.as_bytes())?;
        }
        if let Some(recorder) = &mut self.recorder {
            if recorder.records.len() == FLIGHT_RECORDER_EVENTS {
                recorder.records.pop_front();
            }
            recorder.records.push_back(record);
        }
        Ok(())
    }

    /// The flight recorder's events as trace lines, oldest first (empty without one).
    pub fn flight_recording(&self) -> Vec<String> {
        let Some(recorder) = &self.recorder else { return Vec::new() };
        let mut line = String::new();
        recorder
            .records
            .iter()
            .map(|r| {
                r.render(&mut line);
                line.clone()
            })
            .collect()
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

/// The format of a flight recording's first line.
pub const FLIGHT_RECORDING_FORMAT: &str = "leither-flight-recorder";

/// A flight recording as a file: a header line like a trace's (format, version, seed, the
/// run's node count, where it stopped), then its events as trace lines. It has no end line.
pub fn flight_recording_file(seed: u64, nodes: u64, stopped_at_ms: Option<u64>, lines: &[String]) -> String {
    let header = serde_json::json!({
        "format": FLIGHT_RECORDING_FORMAT,
        "version": TRACE_VERSION,
        "seed": seed,
        "nodes": nodes,
        "events": lines.len(),
        "stopped_at_ms": stopped_at_ms,
    });
    let mut out = header.to_string() + "\n";
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_words_differ_for_every_kind() {
        let mut words: Vec<u64> = Ev::ALL.iter().map(|ev| kind_word(ev.name())).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), Ev::ALL.len(), "two kinds would hash alike");
    }

    #[test]
    fn the_flight_recorder_keeps_the_last_events_and_renders_them_as_trace_lines() {
        let mut trace = Trace::hash_only().with_flight_recorder();
        for t in 0..FLIGHT_RECORDER_EVENTS as u64 + 5 {
            trace.record(t, Ev::Crash, &[t % 7]).unwrap();
        }
        trace.record_with(99_999, Ev::BadMessage, &[3, 4], || ",\"error\":\"no\"".into()).unwrap();
        let lines = trace.flight_recording();
        assert_eq!(lines.len(), FLIGHT_RECORDER_EVENTS);
        assert_eq!(lines[0], "{\"t\":6,\"ev\":\"crash\",\"node\":6}");
        assert_eq!(
            lines.last().unwrap(),
            "{\"t\":99999,\"ev\":\"bad_message\",\"node\":3,\"from\":4,\"error\":\"no\"}"
        );
    }
}
