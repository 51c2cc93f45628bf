//! One integration-test binary for the `reference` crate (matklad's "one test binary per
//! crate": faster to link, one place to look).

mod capacity;
mod chain;
mod chief_failover;
mod credit;
mod election;
mod eligibility;
mod failover;
mod governance;
mod groups;
mod invariants;
mod ledger;
mod node;
mod org;
mod org_state_machine;
mod settlement;
mod smt_model;
mod smt_proofs;
mod snapshots;
mod support;
mod trust;
mod wire;
