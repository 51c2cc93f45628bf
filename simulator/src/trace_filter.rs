//! `leither trace`: print a saved trace's events, filtered by node, kind and time. Filters
//! that cannot match are refused before reading (an unknown kind, an empty window, a node the
//! run did not have), and a filter that matched nothing says so and what the trace held.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::console::Printed;
use crate::trace::Ev;

/// What to print.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only events involving this node.
    pub node: Option<u64>,
    /// Only events of this kind.
    pub ev: Option<String>,
    /// Only events at or after this virtual time.
    pub from_ms: Option<u64>,
    /// Only events before this virtual time.
    pub to_ms: Option<u64>,
    /// At most this many events.
    pub limit: Option<usize>,
}

/// Why a trace could not be filtered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A filter that can match nothing, refused before reading.
    #[error("{0}")]
    Refused(String),
    /// Reading the trace failed.
    #[error("{path}: {error}")]
    Io {
        /// The trace.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// A line is not JSON.
    #[error("{path}:{line}: not a trace line (not JSON): {error}")]
    BadLine {
        /// The trace.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the parser said.
        error: serde_json::Error,
    },
    /// A node the run did not have.
    #[error("--node {node}: the run had nodes 0..={last}")]
    NoSuchNode {
        /// The node asked for.
        node: u64,
        /// The last node of the run.
        last: u64,
    },
    /// The file holds no event at all.
    #[error("{0}: holds no events: not a leither trace or flight recording, or an empty one")]
    Empty(PathBuf),
    /// Nothing matched.
    #[error("no event matched {filters}: the trace holds {events} events from {first_ms} ms to {last_ms} ms")]
    NoMatch {
        /// The filters, as given.
        filters: String,
        /// Events in the trace.
        events: u64,
        /// The first event's time.
        first_ms: u64,
        /// The last event's time.
        last_ms: u64,
    },
    /// Printing failed.
    #[error(transparent)]
    Printed(#[from] Printed),
}

/// What a filtered read found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filtered {
    /// Events printed.
    pub printed: u64,
    /// Whether the trace ended with its end line (a trace without one was cut short; a read
    /// stopped by `--limit` does not judge).
    pub complete: bool,
}

impl Filter {
    /// Refuse filters that can match nothing whatever the trace holds.
    pub fn check(&self) -> Result<(), FilterError> {
        if let Some(ev) = &self.ev
            && Ev::named(ev).is_none()
        {
            let kinds: Vec<&str> = Ev::ALL.iter().map(|e| e.name()).collect();
            return Err(FilterError::Refused(format!(
                "--ev {ev}: not an event kind; kinds: {}",
                kinds.join(", ")
            )));
        }
        if let (Some(from), Some(to)) = (self.from_ms, self.to_ms)
            && from >= to
        {
            return Err(FilterError::Refused(format!(
                "--from-ms {from} is not before --to-ms {to}: the window holds no time"
            )));
        }
        if self.limit == Some(0) {
            return Err(FilterError::Refused(
                "--limit 0 prints nothing; leave it out to print every match".into(),
            ));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.node {
            parts.push(format!("--node {n}"));
        }
        if let Some(e) = &self.ev {
            parts.push(format!("--ev {e}"));
        }
        if let Some(f) = self.from_ms {
            parts.push(format!("--from-ms {f}"));
        }
        if let Some(t) = self.to_ms {
            parts.push(format!("--to-ms {t}"));
        }
        if parts.is_empty() { "(no filter)".into() } else { parts.join(" ") }
    }

    fn keeps(&self, value: &serde_json::Value, t: u64) -> bool {
        let involves =
            |n: u64| ["node", "from", "to", "payer", "payee"].iter().any(|k| value[*k].as_u64() == Some(n));
        self.node.is_none_or(involves)
            && self.ev.as_ref().is_none_or(|e| value["ev"] == **e)
            && self.from_ms.is_none_or(|f| t >= f)
            && self.to_ms.is_none_or(|to| t < to)
    }
}

/// Print the events of the trace (or flight recording) at `path` that `filter` keeps to `out`.
pub fn print(path: &Path, filter: &Filter, out: &mut impl Write) -> Result<Filtered, FilterError> {
    filter.check()?;
    let io = |error| FilterError::Io { path: path.to_path_buf(), error };
    let reader = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let (mut printed, mut events, mut first_ms, mut last_ms) = (0u64, 0u64, None, 0u64);
    let mut complete = false;
    let mut lines = reader.lines().enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        let line = line.map_err(io)?;
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(value) => value,
            // A last line cut mid-way: the trace was truncated there (said by the caller).
            Err(_) if lines.peek().is_none() => break,
            Err(error) => {
                return Err(FilterError::BadLine { path: path.to_path_buf(), line: number + 1, error });
            }
        };
        // A flight recording ends without an end line by design: it is whole as written.
        complete |= value["format"] == crate::trace::FLIGHT_RECORDING_FORMAT;
        if let (Some(node), Some(nodes)) = (filter.node, value["nodes"].as_u64())
            && node >= nodes
        {
            return Err(FilterError::NoSuchNode { node, last: nodes.saturating_sub(1) });
        }
        complete |= value["end"] == true;
        let Some(t) = value["t"].as_u64() else { continue }; // header and end lines
        events += 1;
        first_ms.get_or_insert(t);
        last_ms = t;
        if filter.keeps(&value, t) {
            out.write_all(line.as_bytes()).map_err(Printed::from)?;
            out.write_all(b"\n").map_err(Printed::from)?;
            printed += 1;
            if filter.limit.is_some_and(|l| printed >= l as u64) {
                out.flush().map_err(Printed::from)?;
                return Ok(Filtered { printed, complete: true }); // not read to the end: not judged
            }
        }
    }
    out.flush().map_err(Printed::from)?;
    if events == 0 {
        return Err(FilterError::Empty(path.to_path_buf()));
    }
    if printed == 0 {
        let filters = filter.describe();
        return Err(FilterError::NoMatch { filters, events, first_ms: first_ms.unwrap_or(0), last_ms });
    }
    Ok(Filtered { printed, complete })
}
