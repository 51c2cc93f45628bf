//! The consensus layer (SPEC §5–§9), built up piece by piece. So far: node groups (§6.1), bookkeeper election (§6.2–§6.3), terms and failover (§6.4), per-version capacity (§6.5).

pub mod capacity;
pub mod election;
pub mod failover;
pub mod groups;
pub mod root;
pub mod settlement;
