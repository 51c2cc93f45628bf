//! Reading what runs left behind: `leither validate`, `leither replay`, `leither trace`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Failure, at_path};
use crate::console::{self, Console};
use crate::credit::{self, CreditScenario};
use crate::replay;
use crate::say;
use crate::scenario::{Kind, Scenario};
use crate::sweep;
use crate::trace_filter::{self, Filter};

/// Check one scenario file without running it: every key, every sweep combination (counted
/// before any is built).
pub fn validate_one(path: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path).map_err(at_path(path))?;
    if Kind::detect(&text, path)? == Kind::Credit {
        let s = CreditScenario::parse(&text, path)?;
        let memory = crate::memory::credit(&s);
        if s.sweep.is_some() {
            let plan = credit::compare::plan_text(&text, path)?;
            return Ok(format!(
                "{}: ok (credit, {} sweep runs; a run needs about {memory})",
                path.display(),
                plan.points.len()
            ));
        }
        return Ok(format!("{}: ok (credit; a run needs about {memory})", path.display()));
    }
    let s = Scenario::parse(&text, path)?;
    crate::sim::check_group_tree(&s, s.seed, path)?;
    if s.sweep.is_some() {
        let plan = sweep::plan_text(&text, path)?;
        let (points, memory) = (plan.points.len(), plan.largest);
        return Ok(format!(
            "{}: ok ({points} sweep points; the largest needs about {memory})",
            path.display()
        ));
    }
    Ok(format!("{}: ok (a run needs about {})", path.display(), crate::memory::protocol(&s)))
}

/// `leither validate FILE...`: each file ok or its error; an error if any is invalid.
pub fn validate_command(paths: &[PathBuf], console: &Console) -> Result<(), Failure> {
    let mut failed = 0;
    for path in paths {
        match validate_one(path) {
            Ok(line) => say!(console, "{line}"),
            Err(error) => {
                console::warn(format_args!("{error}"));
                failed += 1;
            }
        }
    }
    if failed > 0 { Err(format!("{failed} of {} scenarios invalid", paths.len()).into()) } else { Ok(()) }
}

/// `leither replay TRACE`: run again from the trace's seed and scenario and compare.
pub fn replay_command(path: &Path, console: &Console) -> Result<(), Failure> {
    // A trace's header can ask for any run: refuse one the machine cannot hold, as `run` does.
    let (_, scenario) = replay::read_header(path)?;
    super::check_memory(&crate::memory::protocol(&scenario))?;
    let replay = replay::replay(path)?;
    match &replay.first_difference {
        None => {
            say!(console, "replay identical: {} lines, trace hash {}", replay.lines, replay.trace_hash);
            if let Some(stopped) = &replay.stopped {
                say!(
                    console,
                    "  the run stops where the saved one did: {}",
                    stopped.lines().next().unwrap_or("")
                );
            }
            Ok(())
        }
        Some(difference) => Err(difference.to_string().into()),
    }
}

/// `leither trace TRACE …`: print the events the filter keeps.
pub fn trace_command(path: &Path, filter: &Filter) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let found = trace_filter::print(path, filter, &mut out).map_err(|e| match e {
        trace_filter::FilterError::Printed(printed) => Failure::from(printed),
        other => Failure::from(other),
    })?;
    out.flush().map_err(crate::console::Printed::from)?;
    if !found.complete {
        console::warn(format_args!(
            "note: {} has no end line: it was cut short (the run stopped, or the file was truncated)",
            path.display()
        ));
    }
    Ok(())
}
