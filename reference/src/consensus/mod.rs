//! The consensus layer (SPEC §5–§9), built up piece by piece. So far: node groups (§6.1).

pub mod groups;
