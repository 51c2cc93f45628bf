//! What the command line prints, and how it ends when it cannot print.
//!
//! `println!` panics when standard output is gone — a closed pipe (`leither … | head -1`) or a
//! full disk. Here every line goes through [`Console::line`], which turns a closed pipe into
//! [`Printed::Closed`] (the program then stops quietly, as Unix tools do when their reader has
//! gone) and any other write error into an error that names standard output.

use std::fmt;
use std::io::{self, Write};

/// Why printing stopped.
#[derive(Debug, thiserror::Error)]
pub enum Printed {
    /// The reader of standard output has gone (`EPIPE`): nothing more is wanted.
    #[error("standard output was closed")]
    Closed,
    /// Writing failed for another reason (a full disk, say).
    #[error("writing to standard output failed: {0}")]
    Failed(io::Error),
}

impl From<io::Error> for Printed {
    fn from(error: io::Error) -> Printed {
        if error.kind() == io::ErrorKind::BrokenPipe { Printed::Closed } else { Printed::Failed(error) }
    }
}

/// Standard output, line by line.
#[derive(Debug, Default)]
pub struct Console;

impl Console {
    /// Print one line (flushed: a reader sees each line as it happens).
    pub fn line(&self, text: fmt::Arguments<'_>) -> Result<(), Printed> {
        let mut out = io::stdout().lock();
        out.write_fmt(text)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }
}

/// Print to standard error, ignoring failure: an error message that cannot be shown has
/// nowhere else to go, and must not turn into a panic.
pub fn warn(text: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(text);
    let _ = err.write_all(b"\n");
}

/// `say!(console, "…", args)`: print a line, returning early with the error if it fails.
#[macro_export]
macro_rules! say {
    ($console:expr, $($arg:tt)*) => {
        $console.line(format_args!($($arg)*))?
    };
}
