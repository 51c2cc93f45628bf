//! # simulator — a deterministic discrete-event simulator of the Leither protocol
//!
//! A run is a function of `(scenario, seed, commit)`: the engine ([`sim`]) keeps virtual time
//! in integer milliseconds and one event queue ordered by `(time, seq)` ([`queue`]), drives
//! `reference::node::Node`s only through their `handle_*` inputs and `Output` values, takes
//! every random choice from ChaCha8 streams split by purpose ([`rng`]), injects the network
//! and node faults of SPEC §14 ([`network`], [`faults`]) and Byzantine payers ([`adversary`]),
//! checks the SPEC §13 invariants after
//! every event ([`checker`]), hashes (and optionally writes) the event trace ([`trace`]), and
//! turns the measurements ([`metrics`], [`summary`]) into reports ([`report`], [`plot`]).
//! [`sweep`] runs parameter grids × seeds in parallel and shards them over machines.
//!
//! ```
//! use simulator::scenario::Scenario;
//! use simulator::sim::{RunOptions, Simulation};
//!
//! let text = "name = \"doc\"\nduration_ms = 5000\n[nodes]\nclients = 4\n";
//! let scenario = Scenario::parse(text, "doc.toml".as_ref()).unwrap();
//! let result = Simulation::new(&scenario, 7, RunOptions::default()).unwrap().run(|_| {}).unwrap();
//! assert!(result.summary.transfers.committed > 0);
//! ```

pub mod adversary;
pub mod arrivals;
pub mod bounds;
pub mod campaign;
pub mod checker;
pub mod cli;
pub mod console;
pub mod credit;
pub mod election;
pub mod faults;
pub mod governance;
pub mod harness;
pub mod heal;
pub mod impersonation;
pub mod memory;
pub mod metrics;
pub mod network;
pub mod plot;
pub mod queue;
pub mod replay;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod summary;
pub mod sweep;
pub mod trace;
pub mod trace_filter;
pub mod workload;
