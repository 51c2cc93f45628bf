//! The relationship-chain credit model (SPEC §2): each user's relationship chain of relations
//! formed by signed invitations (SPEC §2.1) — `chain`; letters of credit, IOUs, defaults and settlement through intermediaries (SPEC §2.2–§2.6) — `line`;
//! trust models over the relationship graph (SPEC §2.7) — `trust`; trust plugged into
//! bookkeeper eligibility and vote weight (SPEC §6.3, §3.6) — `eligibility`.

pub mod chain;
pub mod eligibility;
pub mod line;
pub mod trust;
