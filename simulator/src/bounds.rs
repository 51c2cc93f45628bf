//! The bound of every time, rate, size and count a scenario file or the command line can set.
//!
//! Each bound is a named constant used by validation, and a row of [`TABLE`], which
//! `scenarios/README.md` reproduces verbatim (a test compares them), so that what the docs say
//! is what `leither validate` enforces. The bounds exist so that no input can make the engine's
//! time arithmetic overflow, a run loop forever or a run exhaust memory before it is refused:
//! with `duration_ms ≤ DURATION_MS_MAX` and every delay `≤ LATENCY_MS_MAX`, no virtual time a
//! run computes comes near `u64::MAX` (the engine saturates anyway, `queue.rs`). Sizes the
//! bounds allow can still be too large for the machine; [`crate::memory`] estimates a run's
//! memory before it starts and refuses one that does not fit.

/// Longest run: 30 days of virtual time.
pub const DURATION_MS_MAX: u64 = 30 * 24 * 3_600_000;
/// Most pulses one run may simulate (`duration_ms / pulse_ms`): each pulse is a row of the
/// report's time series and a root in the checker's history.
pub const PULSES_MAX: u64 = 10_000_000;
/// Shortest pulse: 10 ms.
pub const PULSE_MS_MIN: u64 = 10;
/// Longest pulse: one hour.
pub const PULSE_MS_MAX: u64 = 3_600_000;
/// Longest one-way delay any latency distribution may draw, and the longest reorder hold-back:
/// one hour.
pub const LATENCY_MS_MAX: u64 = 3_600_000;
/// Largest log-normal shape: at σ = 4 the 99.99th percentile is already 3.7 million times the
/// median.
pub const SIGMA_MAX: f64 = 4.0;
/// Most clients in one run.
pub const CLIENTS_MAX: u32 = 1_000_000;
/// Highest transfer request rate, over all clients.
pub const TRANSFERS_PER_S_MAX: f64 = 100_000.0;
/// Highest churn rate, over all clients.
pub const CRASHES_PER_MIN_MAX: f64 = 6_000.0;
/// Largest Zipf exponent (beyond it every draw is the first client).
pub const ZIPF_EXPONENT_MAX: f64 = 10.0;
/// Most entries of each fault or link list (`faults.partitions`, `faults.crashes`,
/// `faults.primary_crashes`, `network.links`, `network.slow_links`).
pub const LIST_MAX: usize = 1_000;
/// Fastest slow uplink: 10^12 bytes per second.
pub const BANDWIDTH_BYTES_PER_S_MAX: u64 = 1_000_000_000_000;
/// Most pulses in any pulse count (`transfer_timeout_pulses`, `failover_timeout_pulses`,
/// `heal_pulses_max`, `election_cycle_pulses`).
pub const PULSE_COUNT_MAX: u64 = 1_000_000;
/// Most proposals of one transfer.
pub const MAX_ATTEMPTS_MAX: u32 = 1_000;
/// Most sealed versions a bookkeeper keeps.
pub const VERSIONS_RETAINED_MAX: u64 = 1_000_000;
/// Largest election pool factor.
pub const POOL_FACTOR_MAX: usize = 64;
/// Most points (parameter combinations × seeds) one sweep may have.
pub const SWEEP_POINTS_MAX: u64 = 100_000;
/// Most seeds one campaign (`run --seeds`) may run.
pub const CAMPAIGN_SEEDS_MAX: u64 = 1_000_000;
/// Most shards a sweep may be split into.
pub const SHARDS_MAX: usize = 100_000;
/// Most pulses one credit run may simulate.
pub const CREDIT_PULSES_MAX: u64 = 10_000_000;
/// Most identities (members, adversaries) one credit run may hold at genesis.
pub const CREDIT_IDENTITIES_MAX: u64 = 1_000_000;
/// Most relations each honest member forms at genesis.
pub const RELATIONS_PER_NODE_MAX: u32 = 1_000;
/// Most hops of a path of credit lines (the route search visits every line within it).
pub const CREDIT_MAX_HOPS_MAX: u32 = 16;
/// Most committees a credit run's election seats, and most candidates each voter backs.
pub const ELECTION_SIZE_MAX: u32 = 100_000;

/// One row of the bounds table: a key (or a group of keys) and its allowed values.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// The scenario key, or the command-line flag.
    pub key: &'static str,
    /// The allowed values.
    pub allowed: &'static str,
    /// Why that bound.
    pub why: &'static str,
}

/// Every bound, in the order `scenarios/README.md` lists them.
pub const TABLE: &[Bound] = &[
    Bound {
        key: "duration_ms",
        allowed: "1 ..= 2592000000 (30 days), at least one pulse, at most 10000000 pulses",
        why: "every virtual time stays far below u64::MAX; one report row per pulse",
    },
    Bound { key: "nodes.clients", allowed: "2 ..= 1000000", why: "memory; the run's estimate decides below" },
    Bound { key: "parameters.pulse_ms", allowed: "10 ..= 3600000", why: "one pulse per 10 ms at most" },
    Bound {
        key: "parameters.*_pulses (transfer timeout, failover timeout, heal, election cycle)",
        allowed: "1 ..= 1000000",
        why: "pulse counts times pulse_ms stay within a run",
    },
    Bound { key: "parameters.max_attempts", allowed: "1 ..= 1000", why: "retries of one transfer" },
    Bound {
        key: "parameters.versions_retained",
        allowed: "1 ..= 1000000",
        why: "each version holds tree nodes",
    },
    Bound { key: "parameters.election_pool_factor", allowed: "1 ..= 64", why: "pool size" },
    Bound {
        key: "network latencies (`ms`, `min_ms`, `max_ms`, `mean_ms`, `stddev_ms`, `median_ms`)",
        allowed: "0 ..= 3600000 ms, and the distribution's largest draw at most 3600000 ms",
        why: "one hour one way; normal and log-normal tails are cut at ±4.4σ",
    },
    Bound { key: "lognormal `sigma`", allowed: "0 ..= 4", why: "beyond it the tail is the distribution" },
    Bound { key: "network.reorder_max_ms", allowed: "1 ..= 3600000", why: "a hold-back is a delay" },
    Bound {
        key: "network.slow_links[].bandwidth_bytes_per_s",
        allowed: "1 ..= 1000000000000",
        why: "transmission times stay in whole ms",
    },
    Bound {
        key: "network.links, network.slow_links, faults.partitions, faults.crashes, faults.primary_crashes",
        allowed: "at most 1000 entries each",
        why: "each is checked per message or per node",
    },
    Bound {
        key: "workload.transfers_per_s",
        allowed: "0 ..= 100000",
        why: "arrivals are exact to the nanosecond up to this rate",
    },
    Bound {
        key: "workload.start_ms, workload.stop_ms",
        allowed: "start_ms < stop_ms ≤ duration_ms",
        why: "requests outside the run are never issued",
    },
    Bound {
        key: "workload.amount",
        allowed: "1 ≤ min ≤ max, min ≤ nodes.initial_balance",
        why: "a larger amount is refused every time",
    },
    Bound {
        key: "workload payer / payee Zipf `exponent`",
        allowed: "(0, 10]",
        why: "beyond it one client pays",
    },
    Bound {
        key: "fault times (`at_ms`, `heal_at_ms`, `restart_at_ms`)",
        allowed: "before duration_ms; a heal or restart after its fault",
        why: "a fault after the run never happens: leave it out",
    },
    Bound { key: "faults.churn.crashes_per_min", allowed: "0 ..= 6000", why: "100 crashes per second" },
    Bound {
        key: "faults.churn.down_max_ms",
        allowed: "down_min_ms ..= duration_ms",
        why: "a down time is a delay",
    },
    Bound {
        key: "sweep",
        allowed: "at most 100000 points; seeds distinct; every parameter list non-empty",
        why: "validate counts points without enumerating them",
    },
    Bound { key: "credit `pulses`", allowed: "1 ..= 10000000", why: "one step per pulse" },
    Bound {
        key: "credit identities (population.honest + every adversary count)",
        allowed: "at most 1000000",
        why: "memory; the run's estimate decides below",
    },
    Bound {
        key: "credit population.relations_per_node",
        allowed: "1 ..= min(honest − 1, 1000)",
        why: "genesis edges",
    },
    Bound {
        key: "credit credit.max_hops",
        allowed: "1 ..= 16",
        why: "the route search visits every line within it",
    },
    Bound {
        key: "credit election.committees, election.votes_per_voter",
        allowed: "at most 100000",
        why: "one seat per identity",
    },
    Bound {
        key: "`run --seeds`",
        allowed: "at most 1000000 seeds",
        why: "seeds are listed, then run one by one",
    },
    Bound {
        key: "`sweep --jobs`",
        allowed: "capped at the points, the cores and the memory",
        why: "more threads than points or cores only contend",
    },
    Bound {
        key: "`sweep --shard I/N`",
        allowed: "N ≤ 100000 and N ≤ the sweep's points",
        why: "no shard is empty",
    },
];

/// [`TABLE`] as the Markdown table `scenarios/README.md` carries.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | allowed | why |\n|---|---|---|\n");
    for b in TABLE {
        out.push_str(&format!("| {} | {} | {} |\n", b.key, b.allowed, b.why));
    }
    out
}
