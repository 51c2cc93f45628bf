//! The relationship-chain credit model (SPEC §2), built up piece by piece. So far: trust
//! models over the relationship graph (SPEC §2.7) — `trust`.

pub mod trust;
