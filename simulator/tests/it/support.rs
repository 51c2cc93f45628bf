//! Shared helpers.

use std::path::{Path, PathBuf};

use simulator::scenario::Scenario;
use simulator::sim::{RunOptions, Simulation};
use simulator::summary::RunResult;

/// The repository's `scenarios/` directory.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Load a shipped scenario.
pub fn shipped(name: &str) -> Scenario {
    Scenario::load(&scenarios_dir().join(format!("{name}.toml"))).expect("shipped scenarios are valid")
}

/// Parse scenario text.
pub fn parse(text: &str) -> Scenario {
    Scenario::parse(text, Path::new("test.toml")).expect("a valid test scenario")
}

/// Run `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> RunResult {
    Simulation::new(scenario, seed, RunOptions::default()).expect("setup").run(|_| {}).expect("run")
}

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}
