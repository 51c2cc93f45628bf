//! `leither replay`: re-run a saved trace from the seed and scenario in its header and compare
//! the new trace with the saved one line by line, streaming (traces can be gigabytes).

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Lines, Write};
use std::iter::Peekable;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use thiserror::Error;

use crate::scenario::{Scenario, ScenarioError};
use crate::sim::{RunOptions, SimError, Simulation};
use crate::trace::TRACE_VERSION;

/// The first line where a replay differs from the saved trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// A line differs.
    Line {
        /// 1-based line number.
        line: usize,
        /// The saved line.
        saved: String,
        /// The replayed line.
        replayed: String,
    },
    /// The saved trace ends (without its end line) where the replay goes on: it was cut short.
    Truncated {
        /// Lines the saved trace has.
        saved_lines: usize,
        /// The replay's next line.
        replayed: String,
    },
    /// The replay ended before the saved trace did.
    Longer {
        /// Lines the replay wrote.
        replayed_lines: usize,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Line { line, saved, replayed } => {
                write!(f, "replay diverges at line {line}:\n  saved:  {saved}\n  replay: {replayed}")
            }
            Difference::Truncated { saved_lines, replayed } => write!(
                f,
                "the saved trace is truncated: it ends after line {saved_lines} without its end line, and \
                 up to there the replay is identical; the replay goes on with:\n  {replayed}"
            ),
            Difference::Longer { replayed_lines } => {
                write!(f, "the saved trace goes on after the replay's {replayed_lines} lines")
            }
        }
    }
}

/// The outcome of a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// Lines the replay wrote.
    pub lines: usize,
    /// The replay's trace hash.
    pub trace_hash: String,
    /// The first difference, if any.
    pub first_difference: Option<Difference>,
    /// Why the replayed run stopped early, if it did (a saved violation reproduced).
    pub stopped: Option<String>,
}

/// Why a trace could not be replayed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// Reading the trace failed.
    #[error("{path}: {error}")]
    Io {
        /// The trace.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// The header is missing or of another format or version.
    #[error("{path}: not a leither-trace version {TRACE_VERSION} file: {reason}")]
    BadHeader {
        /// The trace.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The embedded scenario does not load.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] SimError),
}

struct Comparer {
    saved: Peekable<Lines<BufReader<std::fs::File>>>,
    pending: Vec<u8>,
    lines: usize,
    first_difference: Option<Difference>,
    extra_saved_line: bool,
}

impl Comparer {
    fn compare_line(&mut self, replayed: String) -> std::io::Result<()> {
        self.lines += 1;
        if self.first_difference.is_some() {
            return Ok(());
        }
        let saved = self.saved.next().transpose()?;
        if self.lines == 1 {
            // The header: `read_header` checked its format, version, seed and scenario, and
            // the replay's own header may carry fields an older writer did not.
            return Ok(());
        }
        let cut_short =
            |saved: &str, rest: &mut Peekable<_>| replayed.starts_with(saved) && Self::at_end(rest);
        self.first_difference = match saved {
            Some(saved) if saved == replayed => None,
            // A last line that is the start of the replayed one: the file was cut mid-line.
            Some(saved) if cut_short(&saved, &mut self.saved) => {
                Some(Difference::Truncated { saved_lines: self.lines - 1, replayed })
            }
            Some(saved) => Some(Difference::Line { line: self.lines, saved, replayed }),
            None => Some(Difference::Truncated { saved_lines: self.lines - 1, replayed }),
        };
        Ok(())
    }

    fn at_end(rest: &mut Peekable<Lines<BufReader<std::fs::File>>>) -> bool {
        rest.peek().is_none()
    }
}

struct SharedComparer(Rc<RefCell<Comparer>>);

impl Write for SharedComparer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut comparer = self.0.borrow_mut();
        comparer.pending.extend_from_slice(bytes);
        while let Some(end) = comparer.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = comparer.pending.drain(..=end).collect();
            comparer.compare_line(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned())?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut comparer = self.0.borrow_mut();
        comparer.extra_saved_line = comparer.saved.next().is_some();
        Ok(())
    }
}

/// Seed and scenario from a trace's header line.
pub fn read_header(path: &Path) -> Result<(u64, Scenario), ReplayError> {
    let io = |error| ReplayError::Io { path: path.to_path_buf(), error };
    let bad = |reason: &str| ReplayError::BadHeader { path: path.to_path_buf(), reason: reason.to_string() };
    let mut lines = BufReader::new(std::fs::File::open(path).map_err(io)?).lines();
    let first = lines.next().transpose().map_err(io)?.ok_or_else(|| bad("the file is empty"))?;
    let header: serde_json::Value = serde_json::from_str(&first).map_err(|e| bad(&e.to_string()))?;
    if header["format"] != "leither-trace" || header["version"] != TRACE_VERSION {
        return Err(bad(&format!("format {} version {}", header["format"], header["version"])));
    }
    let seed = header["seed"].as_u64().ok_or_else(|| bad("no seed"))?;
    let text = header["scenario"].as_str().ok_or_else(|| bad("no scenario"))?;
    let scenario = Scenario::parse(text, &PathBuf::from(format!("{} (header)", path.display())))?;
    Ok((seed, scenario))
}

/// Replay the trace at `path`.
pub fn replay(path: &Path) -> Result<Replay, ReplayError> {
    let (seed, scenario) = read_header(path)?;
    let io = |error| ReplayError::Io { path: path.to_path_buf(), error };
    let saved = BufReader::new(std::fs::File::open(path).map_err(io)?).lines().peekable();
    let comparer = Rc::new(RefCell::new(Comparer {
        saved,
        pending: Vec::new(),
        lines: 0,
        first_difference: None,
        extra_saved_line: false,
    }));
    // The header holds the scenario as run: swarm mode's choices already in it.
    let options = RunOptions {
        trace: Some(Box::new(SharedComparer(Rc::clone(&comparer)))),
        source: Some(path.to_path_buf()),
        swarm_expanded: true,
        ..RunOptions::default()
    };
    let outcome = Simulation::new(&scenario, seed, options)?.run_to_outcome(|_| {});
    let stopped = match outcome.stopped {
        Some(SimError::Io(error)) => return Err(ReplayError::Io { path: path.to_path_buf(), error }),
        other => other.map(|e| e.to_string()),
    };
    let mut comparer = comparer.borrow_mut();
    if comparer.first_difference.is_none() && comparer.extra_saved_line {
        comparer.first_difference = Some(Difference::Longer { replayed_lines: comparer.lines });
    }
    Ok(Replay {
        lines: comparer.lines,
        trace_hash: outcome.result.summary.trace_hash,
        first_difference: comparer.first_difference.take(),
        stopped,
    })
}
