//! Seeded randomness. Every random choice of a run comes from the scenario seed through a
//! ChaCha8 stream chosen by *purpose* and an index, so adding a node or a fault does not
//! reshuffle the draws of unrelated streams (the network stream of node 3 is the same whether
//! or not node 4 exists). There is no other source of randomness in the simulator.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a stream is used for. Each purpose has its own key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Latency, drop, duplicate and reorder draws of messages a node sends (index = sender).
    Network,
    /// Transfer arrivals, payers, payees and amounts.
    Workload,
    /// Churn, clock drift and partitions drawn at random.
    Faults,
    /// Adversarial behaviour.
    Adversary,
    /// The fault mix swarm mode picks.
    Swarm,
    /// The relationship graph of a credit run.
    Relations,
    /// The clients' votes in the protocol simulation's elections (D-035).
    Election,
    /// What an organization's users ask of it (D-041).
    Governance,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Network => b"network",
            Purpose::Workload => b"workload",
            Purpose::Faults => b"faults",
            Purpose::Adversary => b"adversary",
            Purpose::Swarm => b"swarm",
            Purpose::Relations => b"relations",
            Purpose::Election => b"election",
            Purpose::Governance => b"governance",
        }
    }
}

/// The stream for `(seed, purpose, index)`: a ChaCha8 generator keyed by
/// `BLAKE3("leither-sim-rng" ‖ seed ‖ purpose ‖ index)`.
pub fn stream(seed: u64, purpose: Purpose, index: u64) -> ChaCha8Rng {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"leither-sim-rng");
    hasher.update(&seed.to_le_bytes());
    hasher.update(purpose.label());
    hasher.update(&index.to_le_bytes());
    ChaCha8Rng::from_seed(*hasher.finalize().as_bytes())
}

/// A uniform draw in `[0, 1)` with 53 bits of precision.
pub fn unit(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `[low, high]` (inclusive; `low ≤ high`). Uses Lemire's method without
/// rejection: the bias is below 2⁻³² for the ranges a scenario uses, and the draw count per
/// call is fixed at one, which keeps streams aligned when parameters change.
pub fn between(rng: &mut impl Rng, low: u64, high: u64) -> u64 {
    debug_assert!(low <= high);
    let span = high - low + 1;
    if span == 0 {
        return rng.next_u64(); // the full u64 range
    }
    low + ((u128::from(rng.next_u64()) * u128::from(span)) >> 64) as u64
}

/// Shuffle `items` in place with `rng` (Fisher–Yates: a deterministic order per stream).
pub fn shuffle<T>(items: &mut [T], rng: &mut impl Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, between(rng, 0, i as u64) as usize);
    }
}

/// A standard normal draw (Box–Muller; uses two uniform draws and discards the twin).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // in (0, 1], so ln is finite
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An exponential draw with the given mean.
pub fn exponential(rng: &mut impl Rng, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// Zipf-distributed ranks `0..n` (rank 0 most popular) by inverse CDF over a precomputed table.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with `P(k) ∝ 1 / (k + 1)^exponent`.
    pub fn new(n: usize, exponent: f64) -> Zipf {
        let mut total = 0.0;
        let mut cdf = Vec::with_capacity(n);
        for rank in 0..n {
            total += 1.0 / ((rank + 1) as f64).powf(exponent);
            cdf.push(total);
        }
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf }
    }

    /// Draw a rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u = unit(rng);
        self.cdf.partition_point(|c| *c <= u).min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_of_each_other_and_reproducible() {
        let a1: Vec<u64> = (0..4).map(|_| stream(1, Purpose::Network, 3).next_u64()).collect();
        assert!(a1.windows(2).all(|w| w[0] == w[1]), "same key, same stream");
        let mut by_index = stream(1, Purpose::Network, 4);
        let mut by_purpose = stream(1, Purpose::Workload, 3);
        let mut by_seed = stream(2, Purpose::Network, 3);
        let first = a1[0];
        assert_ne!(by_index.next_u64(), first);
        assert_ne!(by_purpose.next_u64(), first);
        assert_ne!(by_seed.next_u64(), first);
    }

    #[test]
    fn zipf_prefers_low_ranks_and_stays_in_range() {
        let zipf = Zipf::new(100, 1.2);
        let mut rng = stream(9, Purpose::Workload, 0);
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[zipf.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[10] && counts[10] > counts[99]);
    }

    #[test]
    fn between_covers_both_ends() {
        let mut rng = stream(5, Purpose::Faults, 0);
        let draws: Vec<u64> = (0..2_000).map(|_| between(&mut rng, 3, 6)).collect();
        assert!((3..=6).all(|v| draws.contains(&v)));
        assert!(draws.iter().all(|v| (3..=6).contains(v)));
    }
}
