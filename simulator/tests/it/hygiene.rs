//! Failure modes other simulators hit, ruled out by reading our own source: no randomness but
//! the seeded streams, no clock in simulation logic, no state in statics, no randomly seeded
//! hash maps. (The behaviours are tested too: `determinism.rs`, and the queue's tie-breaking
//! tests in `src/queue.rs`.)

use std::path::Path;

fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

fn offenders(needles: &[&str], allowed_files: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in [root.join("src"), root.join("../reference/src")] {
        for (file, text) in sources(&dir) {
            if allowed_files.iter().any(|a| file.ends_with(a)) {
                continue;
            }
            for needle in needles {
                if text.contains(needle) {
                    found.push(format!("{file}: {needle}"));
                }
            }
        }
    }
    found
}

#[test]
fn no_randomness_but_the_seeded_streams() {
    let needles = ["thread_rng", "rand::rng(", "StdRng", "from_entropy", "from_os_rng", "OsRng", "getrandom"];
    assert_eq!(offenders(&needles, &[]), Vec::<String>::new());
}

#[test]
fn no_clock_in_simulation_logic() {
    // The CLI measures wall time for `timing.json`, outside every run.
    let needles = ["SystemTime", "Instant"];
    assert_eq!(offenders(&needles, &["src/cli/mod.rs"]), Vec::<String>::new());
}

#[test]
fn no_state_in_statics() {
    let needles =
        ["static mut", "thread_local!", "lazy_static", "OnceLock", "OnceCell", "LazyLock", "AtomicU"];
    // The sweep command counts finished points for its progress bar in a local atomic.
    assert_eq!(offenders(&needles, &["src/main.rs", "src/cli/sweep.rs"]), Vec::<String>::new());
}

#[test]
fn no_randomly_seeded_hash_maps() {
    let needles =
        ["std::collections::HashMap", "std::collections::HashSet", "collections::{HashMap", "RandomState"];
    assert_eq!(offenders(&needles, &[]), Vec::<String>::new());
}
