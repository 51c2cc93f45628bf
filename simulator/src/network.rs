//! The virtual network: per-link latency, loss, duplication, reordering, slow uplinks and
//! partitions (SPEC §14, network part). All draws come from the sender's network stream.

use rand_chacha::ChaCha8Rng;
use reference::Id;

use crate::rng::{self, Purpose};
use crate::scenario::{Latency, Network, NodeIndex, Scenario};

/// What happened to one message handed to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Route {
    /// Delivery times (virtual ms); empty if the message was lost.
    pub deliveries: [Option<u64>; 2],
    /// Lost to random drop.
    pub dropped: bool,
    /// Lost to a partition.
    pub partitioned: bool,
    /// Delivered twice.
    pub duplicated: bool,
    /// Held back by the reorder fault.
    pub reordered: bool,
    /// Delayed by a slow uplink, in ms.
    pub queued_ms: u64,
}

impl Route {
    /// Whether anything but a plain delivery happened (what the metrics and trace count).
    #[inline]
    pub fn is_eventful(&self) -> bool {
        self.dropped || self.partitioned || self.duplicated || self.reordered || self.queued_ms > 0
    }
}

#[derive(Debug)]
struct Override {
    from: Vec<bool>,
    to: Vec<bool>,
    latency: Sampler,
}

/// A partition in force: `side[i]` says which side node `i` is on.
#[derive(Debug)]
struct ActivePartition {
    id: usize,
    side: Vec<bool>,
}

/// The network of one run.
#[derive(Debug)]
pub struct VirtualNetwork {
    config: Network,
    latency: Sampler,
    overrides: Vec<Override>,
    /// Uplink bandwidth of slow nodes (bytes/s), and when each uplink is next free.
    bandwidth: Vec<Option<u64>>,
    uplink_free_ms: Vec<u64>,
    partitions: Vec<ActivePartition>,
    streams: Vec<ChaCha8Rng>,
    /// Add delays with wrapping arithmetic, as the engine once did (tests of the engine's
    /// property tests only).
    #[cfg(feature = "fault-injection")]
    pub wrap_delays: bool,
}

/// `a + b` ms, saturating — or wrapping, when a test broke the network on purpose.
#[inline]
fn later(wrap: bool, a: u64, b: u64) -> u64 {
    if wrap { a.wrapping_add(b) } else { a.saturating_add(b) }
}

fn membership(set: &crate::scenario::NodeSet, clients: u32, nodes: usize) -> Vec<bool> {
    let mut member = vec![false; nodes];
    // Validation resolved every set before a run starts.
    for index in set.resolve(clients).expect("node sets are validated") {
        member[index as usize] = true;
    }
    member
}

impl VirtualNetwork {
    /// The network of `scenario`'s `n` nodes (clients, chief and group primaries) for a run
    /// seeded with `seed`.
    pub fn new(scenario: &Scenario, seed: u64, n: usize) -> VirtualNetwork {
        let clients = scenario.nodes.clients;
        let overrides = scenario
            .network
            .links
            .iter()
            .map(|link| Override {
                from: membership(&link.from, clients, n),
                to: membership(&link.to, clients, n),
                latency: Sampler::new(&link.latency),
            })
            .collect();
        let mut bandwidth = vec![None; n];
        for slow in &scenario.network.slow_links {
            for (i, member) in membership(&slow.nodes, clients, n).into_iter().enumerate() {
                if member {
                    bandwidth[i] = Some(slow.bandwidth_bytes_per_s);
                }
            }
        }
        VirtualNetwork {
            latency: Sampler::new(&scenario.network.latency),
            config: scenario.network.clone(),
            overrides,
            bandwidth,
            uplink_free_ms: vec![0; n],
            partitions: Vec::new(),
            streams: (0..n as u64).map(|i| rng::stream(seed, Purpose::Network, i)).collect(),
            #[cfg(feature = "fault-injection")]
            wrap_delays: false,
        }
    }

    /// Start partition number `id` with one side given per node.
    pub fn partition(&mut self, id: usize, side: Vec<bool>) {
        self.partitions.push(ActivePartition { id, side });
    }

    /// End partition number `id`.
    pub fn heal(&mut self, id: usize) {
        self.partitions.retain(|p| p.id != id);
    }

    /// Number of partitions in force.
    pub fn partitions_in_force(&self) -> usize {
        self.partitions.len()
    }

    /// Hand a message of `bytes` from `from` to `to` to the network at `now_ms`.
    pub fn route(&mut self, now_ms: u64, from: NodeIndex, to: NodeIndex, bytes: usize) -> Route {
        let mut route = Route::default();
        if self.partitions.iter().any(|p| p.side[from as usize] != p.side[to as usize]) {
            route.partitioned = true;
            return route;
        }
        #[cfg(feature = "fault-injection")]
        let wrap = self.wrap_delays;
        #[cfg(not(feature = "fault-injection"))]
        let wrap = false;
        let departure_ms = self.depart(now_ms, from, bytes);
        route.queued_ms = departure_ms - now_ms;
        let latency = Self::latency_of(&self.latency, &self.overrides, from, to);
        let config = &self.config;
        let stream = &mut self.streams[from as usize];
        // One word decides drop, duplicate and reorder (21 bits each), so every message costs
        // the same draws whatever its fate; only a held-back message draws its extra delay.
        let word = rand::Rng::next_u64(stream);
        let fraction = |shift: u32| ((word >> shift) & 0x1F_FFFF) as f64 / (1u64 << 21) as f64;
        let (drop_draw, dup_draw, reorder_draw) = (fraction(0), fraction(21), fraction(42));
        if drop_draw < config.drop {
            route.dropped = true;
            return route;
        }
        // Saturating: validation bounds every delay, but an unvalidated scenario must still
        // not wrap a delivery into the past.
        let mut arrival_ms = later(wrap, departure_ms, latency.sample(stream));
        if reorder_draw < config.reorder {
            route.reordered = true;
            arrival_ms = later(wrap, arrival_ms, rng::between(stream, 1, config.reorder_max_ms.max(1)));
        }
        route.deliveries[0] = Some(arrival_ms);
        if dup_draw < config.duplicate {
            route.duplicated = true;
            route.deliveries[1] = Some(later(wrap, departure_ms, latency.sample(stream)));
        }
        route
    }

    /// When a message of `bytes` leaves `from`'s uplink.
    fn depart(&mut self, now_ms: u64, from: NodeIndex, bytes: usize) -> u64 {
        let Some(bandwidth) = self.bandwidth[from as usize] else { return now_ms };
        let start_ms = self.uplink_free_ms[from as usize].max(now_ms);
        let transmit_ms = (bytes as u64).saturating_mul(1000).div_ceil(bandwidth.max(1));
        let done_ms = start_ms.saturating_add(transmit_ms);
        self.uplink_free_ms[from as usize] = done_ms;
        done_ms
    }

    fn latency_of<'a>(
        default: &'a Sampler,
        overrides: &'a [Override],
        from: NodeIndex,
        to: NodeIndex,
    ) -> &'a Sampler {
        overrides.iter().find(|o| o.from[from as usize] && o.to[to as usize]).map_or(default, |o| &o.latency)
    }
}

/// Entries of a quantile table: the resolution of table-sampled distributions.
const QUANTILES: usize = 1 << 16;

/// Draws latencies in whole ms. Normal and log-normal latencies are sampled from a table of
/// 65,536 quantiles (one random word and one load per draw instead of a log, a square root and
/// a cosine); the table truncates the tails beyond the 1/131072 quantiles (±4.4σ).
#[derive(Clone, Debug)]
pub enum Sampler {
    /// Always this many ms.
    Fixed(u64),
    /// Uniform in `[min, max]`.
    Uniform(u64, u64),
    /// Quantile `(i + ½) / 65536` at index `i`.
    Table(Vec<u32>),
}

impl Sampler {
    /// The sampler of `latency`.
    pub fn new(latency: &Latency) -> Sampler {
        match *latency {
            Latency::Fixed { ms } => Sampler::Fixed(ms),
            Latency::Uniform { min_ms, max_ms } => Sampler::Uniform(min_ms, max_ms),
            Latency::Normal { mean_ms, stddev_ms } => Sampler::table(|z| mean_ms + stddev_ms * z),
            Latency::Lognormal { median_ms, sigma } => Sampler::table(|z| median_ms * (sigma * z).exp()),
        }
    }

    fn table(of_z: impl Fn(f64) -> f64) -> Sampler {
        Sampler::Table((0..QUANTILES).map(|i| quantile_ms(&of_z, i)).collect())
    }

    /// The largest delay `latency` ever draws, in ms, computed without building its table (what
    /// validation bounds, and the delay bound of the timing-based checks).
    pub fn largest_ms(latency: &Latency) -> u64 {
        // A table is monotone in z, so its largest entry is its first or its last; unlike the
        // table (whose entries stop at u32::MAX) this says how far the distribution reaches.
        let ends = |of_z: &dyn Fn(f64) -> f64| {
            let at = |i: usize| of_z(inverse_normal_cdf((i as f64 + 0.5) / QUANTILES as f64)).round();
            at(0).max(at(QUANTILES - 1)).max(0.0) as u64 // a float cast saturates; NaN is 0
        };
        match *latency {
            Latency::Fixed { ms } => ms,
            Latency::Uniform { min_ms, max_ms } => min_ms.max(max_ms),
            Latency::Normal { mean_ms, stddev_ms } => ends(&|z| mean_ms + stddev_ms * z),
            Latency::Lognormal { median_ms, sigma } => ends(&|z| median_ms * (sigma * z).exp()),
        }
    }

    /// One draw.
    #[inline]
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        match self {
            Sampler::Fixed(ms) => *ms,
            Sampler::Uniform(min, max) => rng::between(rng, *min, (*max).max(*min)),
            Sampler::Table(table) => u64::from(table[(rand::Rng::next_u64(rng) >> 48) as usize]),
        }
    }
}

/// Entry `i` of a quantile table: the delay at quantile `(i + ½) / 65536`, in whole ms
/// (negative and NaN delays are 0; the largest is `u32::MAX`).
fn quantile_ms(of_z: &impl Fn(f64) -> f64, i: usize) -> u32 {
    let z = inverse_normal_cdf((i as f64 + 0.5) / QUANTILES as f64);
    of_z(z).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9), for `p` in (0, 1).
#[allow(clippy::excessive_precision)] // the published coefficients, digit for digit
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Which side of a prefix partition a node is on: whether its Id starts with `prefix`.
pub fn has_prefix(id: &Id, prefix: &str) -> bool {
    prefix.chars().enumerate().all(|(i, bit)| id.bit(i) == (bit == '1'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal_cdf_matches_known_quantiles() {
        for (p, z) in [(0.5, 0.0), (0.975, 1.959_963_985), (0.025, -1.959_963_985), (0.001, -3.090_232_306)] {
            assert!((inverse_normal_cdf(p) - z).abs() < 1e-8, "p = {p}");
        }
    }

    #[test]
    fn lognormal_table_has_the_requested_median_and_spread() {
        let sampler = Sampler::new(&Latency::Lognormal { median_ms: 40.0, sigma: 0.5 });
        let mut rng = rng::stream(3, rng::Purpose::Network, 0);
        let mut draws: Vec<u64> = (0..20_001).map(|_| sampler.sample(&mut rng)).collect();
        draws.sort_unstable();
        assert!((39..=41).contains(&draws[10_000]), "median {}", draws[10_000]);
        // The 84th percentile of a log-normal is median · e^σ ≈ 66 ms.
        assert!((62..=70).contains(&draws[16_800]), "p84 {}", draws[16_800]);
    }
}
