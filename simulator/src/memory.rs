//! How much memory a run will need, estimated before it starts, so that one the machine cannot
//! hold is refused with the figure instead of dying in the allocator minutes later.
//!
//! The estimate is a sum of terms, each a count the scenario fixes times a per-item cost
//! measured on release builds (peak RSS, `/usr/bin/time -f %M`, 2026-12-03; see
//! `docs/decisions.md` D-036): a client costs 6 KB idle (its state, its account in a ledger,
//! its network stream, its checker slots) and up to ~20 KB with the event queue's buckets sized
//! for its share of a pulse broadcast in flight (10,000 clients in 257 groups for an hour:
//! 267 MB; 100,000: 1.7 GiB); a bookkeeper (the chief, a primary, a backup, a standby) about
//! 140 KB — its group's ledger, replica batches and state snapshots (elected-committees, 1,657
//! bookkeepers: 274 MB); a request waiting at its payer 64 B (1.6 million queued: 100 MB); a
//! pulse 400 B of series row, root history and checker state; a ledger copy of an account on a
//! committee member 2 KB; a transfer in the retained versions 2 KB; leaf groups as many as the
//! Ids are expected to fill. Against measured peaks of the shipped scenarios the estimate errs
//! high, by 1% to 26%, and a refusal says what would have to shrink.

use std::fmt;

use crate::credit::CreditScenario;
use crate::scenario::Scenario;

const KB: u64 = 1 << 10;
const MB: u64 = 1 << 20;

/// A run's estimated memory, by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// `(what, bytes)`, largest first.
    pub parts: Vec<(&'static str, u64)>,
}

impl Estimate {
    fn of(mut parts: Vec<(&'static str, u64)>) -> Estimate {
        parts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Estimate { parts }
    }

    /// The total, in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.parts.iter().fold(0u64, |sum, (_, bytes)| sum.saturating_add(*bytes))
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", human(self.total_bytes()))?;
        let parts: Vec<String> = self
            .parts
            .iter()
            .filter(|(_, b)| *b >= MB)
            .take(4)
            .map(|(w, b)| format!("{w} {}", human(*b)))
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// Bytes as `1.5 GiB`, `320 MiB` or `12 KiB`.
pub fn human(bytes: u64) -> String {
    const GB: u64 = 1 << 30;
    const TB: u64 = 1 << 40;
    match bytes {
        b if b >= TB => format!("{:.1} TiB", b as f64 / TB as f64),
        b if b >= GB => format!("{:.1} GiB", b as f64 / GB as f64),
        b if b >= MB => format!("{} MiB", b.div_ceil(MB)),
        b => format!("{} KiB", b.div_ceil(KB)),
    }
}

/// The leaf groups the group tree is expected to have: each of the `2^stratum_bits` prefixes
/// holds a Poisson number of the accounts (Ids are uniform hashes), and is a leaf group with at
/// least `group_min_accounts` of them. The seed decides the exact count; this is its mean,
/// rounded up (groups-1k: 141 expected, 137 on seed 1).
fn leaves_expected(s: &Scenario) -> u64 {
    let p = &s.parameters;
    let accounts = f64::from(s.nodes.clients) + 1.0;
    let min = p.group_min_accounts as u64;
    let most = (accounts as u64) / min.max(1);
    if most == 0 {
        return 0;
    }
    let prefixes = 2f64.powi(p.stratum_bits.min(1000) as i32);
    let expected = (prefixes * poisson_tail(accounts / prefixes, min)).ceil();
    (expected as u64).min(most)
}

/// `P(X ≥ min)` for `X ~ Poisson(λ)`, with the terms in log space (no underflow at λ = 800, no
/// cancellation at λ = 10⁻⁴⁰), in `O(min)` steps.
fn poisson_tail(lambda: f64, min: u64) -> f64 {
    if min == 0 || lambda <= 0.0 {
        return if min == 0 { 1.0 } else { 0.0 };
    }
    let ln_lambda = lambda.ln();
    if lambda >= min as f64 {
        // Most of the mass is at or above min: one minus the few terms below it.
        let (mut ln_p, mut below) = (-lambda, 0.0);
        for k in 0..min {
            below += ln_p.exp();
            ln_p += ln_lambda - ((k + 1) as f64).ln();
        }
        return (1.0 - below).max(0.0);
    }
    // Little mass at or above min: the terms from min up, each smaller than the last.
    let mut ln_p = -lambda;
    for k in 0..min {
        ln_p += ln_lambda - ((k + 1) as f64).ln();
    }
    let mut tail = 0.0;
    for k in min..min + 200 {
        tail += ln_p.exp();
        ln_p += ln_lambda - ((k + 1) as f64).ln();
    }
    tail.min(1.0)
}

/// The estimate of a protocol run.
pub fn protocol(s: &Scenario) -> Estimate {
    let p = &s.parameters;
    let clients = u64::from(s.nodes.clients);
    let leaves = leaves_expected(s);
    let members = leaves.saturating_mul((1 + p.backups + p.standbys) as u64) + p.root_backups as u64;
    let bookkeepers = 1 + members; // the chief, the primaries and every committee member
    let nodes = clients + bookkeepers;
    let active_s = s.workload_stop_ms().saturating_sub(s.workload.start_ms) as f64 / 1000.0;
    let requests = (s.workload.transfers_per_s * active_s).ceil() as u64;
    let pulses = s.duration_ms.div_ceil(p.pulse_ms.max(1));
    let copies = (p.backups + p.standbys + p.root_backups) as u64;
    let per_version = (s.workload.transfers_per_s * p.pulse_ms as f64 / 1000.0).ceil() as u64;
    let retained = per_version.saturating_mul(p.versions_retained).min(requests);
    // Each link override and partition holds a flag per node; each crashed node two events.
    let sets = (s.network.links.len() * 2 + s.faults.partitions.len()) as u64;
    let crashed: u64 = s.faults.crashes.iter().map(|c| c.nodes.count(s.nodes.clients).unwrap_or(0)).sum();
    let lists = sets.saturating_mul(nodes).saturating_add(crashed.saturating_mul(2 * 64));
    Estimate::of(vec![
        ("engine", 8 * MB),
        ("fault and link lists", lists),
        ("clients", clients.saturating_mul(20 * KB)),
        ("bookkeepers", bookkeepers.saturating_mul(140 * KB)),
        ("requests", requests.saturating_mul(64)),
        ("pulses", pulses.saturating_mul(400)),
        ("committee ledger copies", clients.saturating_mul(copies).saturating_mul(2 * KB)),
        ("retained versions", retained.saturating_mul(2 * KB)),
    ])
}

/// The estimate of a credit run.
pub fn credit(s: &CreditScenario) -> Estimate {
    let identities = s.identities();
    let relations = u64::from(s.population.honest).saturating_mul(u64::from(s.population.relations_per_node));
    let rows = s.pulses / s.trust.update_period_pulses.max(1) + 1;
    Estimate::of(vec![
        ("engine", 8 * MB),
        ("identities", identities.saturating_mul(2 * KB)),
        ("relations", relations.saturating_mul(400)),
        ("trust updates", rows.saturating_mul(300)),
    ])
}

/// A run the machine cannot hold.
#[derive(Debug, thiserror::Error)]
#[error(
    "this run would need about {estimate} of memory, but the machine has {} available; shrink what \
     dominates the estimate (nodes.clients, workload.transfers_per_s or duration_ms; population \
     for credit runs), or set LEITHER_MEMORY_BYTES to the memory a larger machine has",
    human(*available_bytes)
)]
pub struct TooLarge {
    /// The estimate.
    pub estimate: Estimate,
    /// What the machine has.
    pub available_bytes: u64,
}

/// Refuse `estimate` if it exceeds `available_bytes`.
pub fn check(estimate: &Estimate, available_bytes: u64) -> Result<(), TooLarge> {
    if estimate.total_bytes() <= available_bytes {
        return Ok(());
    }
    Err(TooLarge { estimate: estimate.clone(), available_bytes })
}

/// The memory runs may use: `LEITHER_MEMORY_BYTES` if set (tests, and machines where
/// `/proc/meminfo` says less than a job may use), else the kernel's `MemAvailable`; `None`
/// where neither is known (no refusal then). Read once per command, never inside a run: it
/// decides whether a run starts, not what it does.
pub fn available_bytes() -> Option<u64> {
    if let Ok(text) = std::env::var("LEITHER_MEMORY_BYTES") {
        return text.trim().parse().ok();
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(KB))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(duration_ms: u64, extra: &str) -> Scenario {
        let text = format!("name = \"m\"\nduration_ms = {duration_ms}\n{extra}");
        Scenario::parse(&text, "m.toml".as_ref()).unwrap()
    }

    #[test]
    fn the_estimate_grows_with_what_the_scenario_asks_and_a_refusal_says_how_much() {
        let small = protocol(&scenario(60_000, "[nodes]\nclients = 32\n"));
        assert!(small.total_bytes() < 16 * MB, "{small}");
        let many = protocol(&scenario(60_000, "[nodes]\nclients = 100000\n"));
        assert!(many.total_bytes() > 3 << 29, "1.7 GiB measured: {many}");
        let busy =
            protocol(&scenario(crate::bounds::DURATION_MS_MAX, "[workload]\ntransfers_per_s = 100000\n"));
        assert!(busy.total_bytes() > 1 << 40, "30 days at 100,000/s is terabytes of requests: {busy}");
        let error = check(&busy, 16 << 30).unwrap_err().to_string();
        assert!(error.starts_with("this run would need about 12.1 TiB (requests 12.1 TiB"), "{error}");
        assert!(error.contains(" of memory, but the machine has 16.0 GiB available"), "{error}");
        assert!(check(&small, 16 << 30).is_ok());
    }

    #[test]
    fn the_poisson_tail_at_both_ends() {
        assert!((poisson_tail(3.91, 4) - 0.549).abs() < 0.002, "{}", poisson_tail(3.91, 4));
        assert!(poisson_tail(781.0, 16) > 0.999_999);
        assert!(poisson_tail(1e-30, 2) > 0.0 && poisson_tail(1e-30, 2) < 1e-59);
        assert_eq!(poisson_tail(5.0, 0), 1.0);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "1 KiB");
        assert_eq!(human(3 * MB + 1), "4 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
