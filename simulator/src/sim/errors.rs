//! Why a run stopped early, and the command that replays it.

use crate::scenario::{Override, Scenario, ScenarioError};
use crate::summary::{StopKind, Stopped};
use reference::invariants::Violation;
use std::io;
use std::path::PathBuf;
use thiserror::Error;

use super::*;

/// Why a run stopped early.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// An invariant broke. The message carries everything needed to reproduce it.
    #[error("invariant {code} violated at {time_ms} ms (seed {seed}): {violation}\n  replay with: {replay}")]
    Violation {
        /// The SPEC code, e.g. `I5`.
        code: &'static str,
        /// What broke.
        violation: Violation,
        /// Virtual time of the event after which it was found.
        time_ms: u64,
        /// The run's seed.
        seed: u64,
        /// A command that replays the run.
        replay: String,
    },
    /// A bound of `[limits]` was exceeded.
    #[error(
        "limit exceeded at {time_ms} ms (seed {seed}): {what} > {limit}; raise limits.{key} if this is expected"
    )]
    Limit {
        /// What grew too large.
        what: &'static str,
        /// The scenario key that sets the bound.
        key: &'static str,
        /// The bound.
        limit: u64,
        /// Virtual time.
        time_ms: u64,
        /// The run's seed.
        seed: u64,
    },
    /// Writing the trace failed.
    #[error("writing the trace failed: {0}")]
    Io(#[from] io::Error),
    /// Under `--wire-check`, a message did not survive encoding and decoding (D-038).
    #[error("wire check failed at {time_ms} ms (seed {seed}): a {kind} message {what}")]
    Wire {
        /// The message's kind.
        kind: &'static str,
        /// What went wrong.
        what: String,
        /// Virtual time.
        time_ms: u64,
        /// The run's seed.
        seed: u64,
    },
    /// The scenario cannot be run: it is invalid, or the group tree its seed makes has no room
    /// for what it asks (leaf committees, primary crashes or Byzantine primaries without leaf
    /// groups).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

impl Simulation {
    /// What the summary says of why a run stopped.
    pub(super) fn stop_record(&self, error: &SimError) -> Stopped {
        let replay = || replay_command(&self.scenario, self.seed, self.source.as_ref(), &self.overrides);
        let (kind, invariant, replay) = match error {
            SimError::Violation { code, replay, .. } => {
                (StopKind::Invariant, Some(code.to_string()), replay.clone())
            }
            SimError::Limit { .. } => (StopKind::Limit, None, replay()),
            SimError::Wire { .. } => (StopKind::Error, None, format!("{} --wire-check", replay())),
            _ => (StopKind::Error, None, replay()),
        };
        Stopped { kind, at_ms: self.now_ms, invariant, reason: error.to_string(), replay }
    }

    pub(super) fn violation(&self, violation: Violation) -> SimError {
        let replay = replay_command(&self.scenario, self.seed, self.source.as_ref(), &self.overrides);
        violation_error(violation, self.now_ms, self.seed, replay)
    }
}

/// The command that reruns this run: the file (or the scenario's name under `scenarios/`),
/// the seed, and each override as a `--set`.
pub(crate) fn replay_command(
    scenario: &Scenario,
    seed: u64,
    source: Option<&PathBuf>,
    overrides: &[Override],
) -> String {
    let file =
        source.map_or_else(|| format!("scenarios/{}.toml", scenario.name), |p| p.display().to_string());
    let sets: String = overrides.iter().map(|o| format!(" --set '{o}'")).collect();
    format!("cargo run --release -p simulator -- run {file} --seed {seed}{sets}")
}

pub(super) fn violation_error(violation: Violation, time_ms: u64, seed: u64, replay: String) -> SimError {
    SimError::Violation { code: violation.invariant.code(), violation, time_ms, seed, replay }
}
