//! A node's events as JSON lines (`events.jsonl`): what the cluster's checker reads. The
//! checker-relevant values (transfers, synopses, prefixes) are carried as hex of their wire
//! encoding, so they come back bit for bit; each line names the input it came from, so a node
//! that restarts re-emits exactly the events a kill cut off and no others.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::path::Path;

use reference::crypto::Hash32;
use reference::ledger::{Applied, Half, Settlement};
use reference::node::NodeEvent;
use reference::smt::RootSynopsis;
use reference::wire::{Decode, DecodeError, Encode, Reader, Writer};
use reference::{Id, Prefix};
use serde::{Deserialize, Serialize};

/// One line of a node's event file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Line {
    /// Local time (ms from the cluster's start).
    pub t_ms: u64,
    /// The node.
    pub node: u32,
    /// The input that caused it (`u64::MAX`: none, e.g. a link event).
    pub input: u64,
    /// What happened.
    #[serde(flatten)]
    pub ev: Ev,
}

/// What happened (the node's events the checker and the summary read, and the host's own).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "ev", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Ev {
    Sealed {
        pulse: u64,
        group: String,
        version: u64,
        applied: Vec<String>,
        debits: Vec<String>,
        credited: Vec<String>,
        settled: Vec<String>,
    },
    RootBuilt {
        pulse: u64,
        root: String,
    },
    /// The root the node holds changed (I6, I7).
    Held {
        root: String,
    },
    Started {
        tag: u64,
    },
    Committed {
        tag: u64,
        version: u64,
    },
    Refused {
        tag: u64,
        reason: String,
    },
    Abandoned {
        tag: u64,
    },
    Lost {
        tags: Vec<u64>,
    },
    TookOver {
        group: String,
        view: u32,
        pulse: u64,
    },
    Replayed {
        group: String,
        pulse: u64,
        from: String,
    },
    Resynced {
        group: String,
        pulse: u64,
        from: String,
    },
    ReportAttested {
        group: String,
        pulse: u64,
    },
    FailedOver {
        group: String,
        pulse: u64,
        view: u32,
        from: String,
        to: String,
    },
    Reseated {
        group: String,
        pulse: u64,
        view: u32,
        from: String,
        to: String,
    },
    BadMessage {
        from: String,
        error: String,
    },
    /// A client learnt the answer to its governance request `tag`: `accepted` or `refused`,
    /// hex of the wire encoding.
    GovAnswered {
        tag: u64,
        pulse: u64,
        accepted: Option<String>,
        refused: Option<String>,
    },
    /// A client gave up waiting for the answer to request `tag`.
    GovGaveUp {
        tag: u64,
    },
    /// A pulse closed a proposal (`kind`: hex of its wire encoding).
    ProposalClosed {
        pulse: u64,
        org: String,
        number: u64,
        kind: String,
        passed: bool,
        yes: u64,
        no: u64,
    },
    /// A client learnt from the chief's announcement that a pulse closed a proposal (D-050).
    ProposalLearnt {
        pulse: u64,
        org: String,
        number: u64,
        kind: String,
        passed: bool,
    },
    /// A root member's organizations as of the last pulse it sealed (the agreement check).
    GovSealed {
        pulse: u64,
        digest: String,
    },
    /// Any other node event, by name.
    Other {
        name: String,
    },
    /// A link closed, and why.
    LinkClosed {
        peer: Option<u32>,
        dialled: bool,
        reason: String,
    },
    /// A frame could not be sent (queue full, unknown peer, not on the wire).
    SendDropped {
        to: Option<u32>,
        reason: String,
    },
    /// The node's state after a batch of inputs up to `input` was handled.
    Checkpoint {
        fingerprint: String,
    },
    /// The node replayed `replayed` inputs from its log (reading and handling them took
    /// `replay_us` of wall time) and restarted.
    Restarted {
        replayed: u64,
        replay_us: u64,
        fingerprint: String,
    },
    /// A local invariant check failed (I2 at a bookkeeper).
    Violation {
        invariant: String,
        detail: String,
    },
    /// The node stopped on SIGTERM.
    Shutdown,
}

/// Hex of `value`'s wire encoding.
pub fn blob<T: Encode + ?Sized>(value: &T) -> String {
    let mut w = Writer::new();
    value.encode(&mut w);
    crate::config::to_hex(&w.into_bytes())
}

/// A value back from [`blob`].
pub fn unblob<T: Decode>(hex: &str) -> Result<T, String> {
    let bytes = unhex(hex)?;
    let mut r = Reader::new(&bytes);
    let value = T::decode(&mut r, "blob").map_err(|e: DecodeError| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Bytes back from lowercase (or uppercase) hex.
pub fn unhex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("not hex: {hex:.20}"));
    }
    Ok((0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect())
}

/// An applied transfer: its id, then the signed transfer.
pub fn applied_blob(applied: &Applied) -> String {
    let mut w = Writer::new();
    applied.id.encode(&mut w);
    applied.signed.encode(&mut w);
    crate::config::to_hex(&w.into_bytes())
}

/// An applied transfer back.
pub fn unapplied(hex: &str) -> Result<Applied, String> {
    let bytes = unhex(hex)?;
    let mut r = Reader::new(&bytes);
    let id = Hash32::decode(&mut r, "id").map_err(|e| e.to_string())?;
    let signed = Decode::decode(&mut r, "signed").map_err(|e: DecodeError| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    Ok(Applied { id, signed })
}

/// A settled half: id, half, how.
pub fn settled_blob(settled: &(Hash32, Half, Settlement)) -> String {
    let mut w = Writer::new();
    settled.0.encode(&mut w);
    settled.1.encode(&mut w);
    settled.2.encode(&mut w);
    crate::config::to_hex(&w.into_bytes())
}

/// A settled half back.
pub fn unsettled(hex: &str) -> Result<(Hash32, Half, Settlement), String> {
    let bytes = unhex(hex)?;
    let mut r = Reader::new(&bytes);
    let decoded = (|| {
        Ok::<_, DecodeError>((
            Hash32::decode(&mut r, "id")?,
            Half::decode(&mut r, "half")?,
            Settlement::decode(&mut r, "how")?,
        ))
    })()
    .map_err(|e| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    Ok(decoded)
}

/// A node event as a line's `ev`.
pub fn of_node_event(event: &NodeEvent) -> Ev {
    match event {
        NodeEvent::Sealed { pulse, group, version, applied, debits, credited, settled } => Ev::Sealed {
            pulse: *pulse,
            group: blob(group),
            version: *version,
            applied: applied.iter().map(applied_blob).collect(),
            debits: debits.iter().map(blob).collect(),
            credited: credited.iter().map(applied_blob).collect(),
            settled: settled.iter().map(settled_blob).collect(),
        },
        NodeEvent::RootBuilt { pulse, root, .. } => Ev::RootBuilt { pulse: *pulse, root: blob(root) },
        NodeEvent::Started { tag } => Ev::Started { tag: *tag },
        NodeEvent::Committed { tag, version } => Ev::Committed { tag: *tag, version: *version },
        NodeEvent::Refused { tag, error } => Ev::Refused { tag: *tag, reason: error.to_string() },
        NodeEvent::Abandoned { tag } => Ev::Abandoned { tag: *tag },
        NodeEvent::Lost { tags } => Ev::Lost { tags: tags.clone() },
        NodeEvent::TookOver { group, view, pulse } => {
            Ev::TookOver { group: blob(group), view: *view, pulse: *pulse }
        }
        NodeEvent::Replayed { group, pulse, from } => {
            Ev::Replayed { group: blob(group), pulse: *pulse, from: blob(from) }
        }
        NodeEvent::Resynced { group, pulse, from } => {
            Ev::Resynced { group: blob(group), pulse: *pulse, from: blob(from) }
        }
        NodeEvent::ReportAttested { group, pulse } => {
            Ev::ReportAttested { group: blob(group), pulse: *pulse }
        }
        NodeEvent::FailedOver { pulse, group, view, from, to } => {
            Ev::FailedOver { group: blob(group), pulse: *pulse, view: *view, from: blob(from), to: blob(to) }
        }
        NodeEvent::Reseated { pulse, group, view, from, to, .. } => {
            Ev::Reseated { group: blob(group), pulse: *pulse, view: *view, from: blob(from), to: blob(to) }
        }
        NodeEvent::BadMessage { from, error } => {
            Ev::BadMessage { from: blob(from), error: error.to_string() }
        }
        NodeEvent::GovAnswered { tag, pulse, result, .. } => Ev::GovAnswered {
            tag: *tag,
            pulse: *pulse,
            accepted: result.as_ref().ok().map(blob),
            refused: result.as_ref().err().map(blob),
        },
        NodeEvent::GovGaveUp { tag } => Ev::GovGaveUp { tag: *tag },
        NodeEvent::ProposalClosed { pulse, closed } => Ev::ProposalClosed {
            pulse: *pulse,
            org: blob(&closed.org),
            number: closed.number,
            kind: blob(&closed.kind),
            passed: closed.outcome.passed,
            yes: closed.outcome.yes,
            no: closed.outcome.no,
        },
        NodeEvent::ProposalLearnt { pulse, notice } => Ev::ProposalLearnt {
            pulse: *pulse,
            org: blob(&notice.org),
            number: notice.number,
            kind: blob(&notice.kind),
            passed: notice.passed,
        },
        other => {
            Ev::Other { name: format!("{other:?}").split([' ', '{', '(']).next().unwrap_or("?").to_string() }
        }
    }
}

/// A prefix back from its blob.
pub fn prefix(hex: &str) -> Result<Prefix, String> {
    unblob(hex)
}

/// An Id back from its blob.
pub fn id(hex: &str) -> Result<Id, String> {
    unblob(hex)
}

/// A root back from its blob.
pub fn root(hex: &str) -> Result<RootSynopsis, String> {
    unblob(hex)
}

/// Appends lines to a node's event file.
#[derive(Debug)]
pub struct EventLog {
    out: BufWriter<File>,
    /// The highest input any line in the file names (`None`: none yet).
    pub last_input: Option<u64>,
}

impl EventLog {
    /// Open `path` for appending, cutting a last line a kill left unfinished, and note the
    /// last input the file already has events of.
    pub fn open(path: &Path) -> io::Result<EventLog> {
        let mut last_input = None;
        let mut good_len = 0u64;
        if let Ok(file) = File::open(path) {
            let mut reader = BufReader::new(file);
            let mut line = String::new();
            while reader.read_line(&mut line)? > 0 {
                if !line.ends_with('\n') {
                    break; // cut short by a kill
                }
                if let Ok(parsed) = serde_json::from_str::<Line>(&line)
                    && parsed.input != u64::MAX
                {
                    last_input = Some(last_input.map_or(parsed.input, |l: u64| l.max(parsed.input)));
                }
                good_len += line.len() as u64;
                line.clear();
            }
        }
        let mut file =
            OpenOptions::new().create(true).append(false).write(true).truncate(false).open(path)?;
        file.set_len(good_len)?;
        file.seek(io::SeekFrom::End(0))?;
        Ok(EventLog { out: BufWriter::new(file), last_input })
    }

    /// Add one line.
    pub fn write(&mut self, line: &Line) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")
    }

    /// Hand what was written to the kernel (a SIGKILL after this loses none of it).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Every line of the event file at `path`.
pub fn read(path: &Path) -> io::Result<Vec<Line>> {
    let reader = BufReader::new(File::open(path)?);
    let mut lines = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        let parsed = serde_json::from_str(&line).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}:{}: {e}", path.display(), number + 1))
        })?;
        lines.push(parsed);
    }
    Ok(lines)
}
