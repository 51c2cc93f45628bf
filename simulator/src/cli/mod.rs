//! The `leither` commands, as a library the binary (`main.rs`, the argument parser) calls and
//! the tests drive: runs and seed campaigns ([`run`]), sweeps and merges ([`sweep`]), and
//! reading what runs left behind ([`inspect`]). Every command prints through
//! [`crate::console::Console`], so a closed pipe ends it quietly and a full disk is an error.

pub mod inspect;
pub mod outdir;
pub mod run;
pub mod seeds;
pub mod sweep;

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a command fails with: printed as `error: …`, exit code 1.
pub type Failure = Box<dyn std::error::Error>;

/// An I/O error with the path it happened on (the bare OS message does not say which file).
pub fn at_path(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |error| format!("{}: {error}", path.display()).into()
}

/// Whether `error` is standard output having been closed (the command then ends quietly).
pub fn output_closed(error: &Failure) -> bool {
    matches!(error.downcast_ref::<crate::console::Printed>(), Some(crate::console::Printed::Closed))
}

/// A progress bar on standard error, drawn only when it is a terminal.
pub fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}} left)");
    bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
    bar
}

/// Run `f` and measure its wall time in seconds: the CLI's one clock, for `timing.json` and the
/// printed rate only — never fed into a run, never in a report.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let started = std::time::Instant::now();
    let value = f();
    (value, started.elapsed().as_secs_f64())
}

/// Refuse the memory a run needs if the machine does not have it.
pub fn check_memory(estimate: &crate::memory::Estimate) -> Result<(), Failure> {
    match crate::memory::available_bytes() {
        Some(available) => crate::memory::check(estimate, available).map_err(Failure::from),
        None => Ok(()),
    }
}
