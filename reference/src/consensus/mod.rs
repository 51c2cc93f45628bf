//! The consensus layer (SPEC §5–§9), built up piece by piece. So far: node groups (§6.1) and bookkeeper election (§6.2–§6.3).

pub mod election;
pub mod groups;
