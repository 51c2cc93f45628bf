//! Credit runs (issue 5): the relationship-chain credit model of SPEC §2 simulated pulse by
//! pulse over a population with free riders, whitewashers, sybil regions and a malicious
//! collective, the trust models of SPEC §2.7 ranking them and deciding bookkeeper seats
//! (SPEC §6.3), and the designer's comparison report over sweeps. A scenario with
//! `kind = "credit"` is a credit scenario; `leither run`, `sweep` and `validate` take both kinds.

pub mod compare;
pub mod ranking;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod summary;

pub use scenario::CreditScenario;
pub use sim::{CreditSimError, CreditSimulation};
