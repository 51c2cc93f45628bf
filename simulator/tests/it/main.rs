//! One integration-test binary for the simulator.

mod campaign;
mod checker;
mod cli;
mod committees;
mod credit;
mod determinism;
mod faults;
mod fuzz_corpus;
mod goldens;
mod governance;
mod hostile;
mod hygiene;
mod impersonation;
mod scenario_errors;
mod snapshots;
mod support;
mod sweep;
mod wire;
