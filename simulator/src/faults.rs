//! Node faults: declared crashes, churn, clock drift, and swarm mode, which lets the seed pick
//! a fault mix (SPEC §14, node and network parts).

use rand::Rng;

use crate::rng::{self, Purpose};
use crate::scenario::{Churn, Crash, NodeSet, Partition, Scenario};

/// One clock drift per node, uniform in `±clock_drift_ppm` (bounded drift, SPEC §5.3).
/// Node `i`'s drift is the `i`-th draw of the faults stream 1, so adding nodes keeps the
/// drifts of the others.
pub fn clock_drifts_ppm(scenario: &Scenario, seed: u64, nodes: usize) -> Vec<i64> {
    let bound = i64::from(scenario.parameters.clock_drift_ppm);
    let mut stream = rng::stream(seed, Purpose::Faults, 1);
    (0..nodes)
        .map(|_| {
            let draw = rng::between(&mut stream, 0, 2 * bound as u64) as i64;
            if bound == 0 { 0 } else { draw - bound }
        })
        .collect()
}

/// A local clock reading for virtual time `virtual_ms` on a node drifting by `drift_ppm`.
#[inline]
pub fn local_ms(virtual_ms: u64, drift_ppm: i64) -> u64 {
    if drift_ppm == 0 {
        return virtual_ms; // the common case skips a 128-bit division
    }
    let scaled = i128::from(virtual_ms) * i128::from(1_000_000 + drift_ppm) / 1_000_000;
    saturate(scaled)
}

/// `value` clamped into `u64` (a fast clock near the end of time reads `u64::MAX`, not a
/// wrapped small number).
fn saturate(value: i128) -> u64 {
    u64::try_from(value.max(0)).unwrap_or(u64::MAX)
}

/// The virtual time at which a node drifting by `drift_ppm` reads `local` on its clock
/// (rounded up, so a timer never fires before its local time).
#[inline]
pub fn virtual_ms(local: u64, drift_ppm: i64) -> u64 {
    if drift_ppm == 0 {
        return local;
    }
    let rate = i128::from(1_000_000 + drift_ppm).max(1);
    let scaled = (i128::from(local) * 1_000_000 + rate - 1) / rate;
    saturate(scaled)
}

/// What swarm mode added to a scenario, one line per choice (printed at the top of the run
/// and recorded in the summary).
pub fn expand_swarm(scenario: &mut Scenario, seed: u64) -> Vec<String> {
    if !scenario.swarm.enabled {
        return Vec::new();
    }
    let mut stream = rng::stream(seed, Purpose::Swarm, 0);
    let mut choices = Vec::new();
    let duration_ms = scenario.duration_ms;
    let clients = scenario.nodes.clients;
    let pulse_ms = scenario.parameters.pulse_ms;
    // Each fault is switched on with probability 1/2 and then given random strength, the
    // swarm-testing recipe: fewer faults at once find more distinct bugs than all at once.
    let coin = |stream: &mut rand_chacha::ChaCha8Rng| stream.next_u32() & 1 == 1;
    if coin(&mut stream) {
        scenario.network.drop = round3(rng::unit(&mut stream) * 0.1);
        choices.push(format!("network.drop = {}", scenario.network.drop));
    }
    if coin(&mut stream) {
        scenario.network.duplicate = round3(rng::unit(&mut stream) * 0.1);
        choices.push(format!("network.duplicate = {}", scenario.network.duplicate));
    }
    if coin(&mut stream) {
        scenario.network.reorder = round3(rng::unit(&mut stream) * 0.3);
        choices.push(format!("network.reorder = {}", scenario.network.reorder));
    }
    if coin(&mut stream) {
        scenario.parameters.clock_drift_ppm = rng::between(&mut stream, 1, 2_000) as u32;
        choices.push(format!("parameters.clock_drift_ppm = {}", scenario.parameters.clock_drift_ppm));
    }
    if coin(&mut stream) {
        let at_ms = rng::between(&mut stream, 0, duration_ms / 2);
        let heal_at_ms = at_ms + rng::between(&mut stream, 2, 20) * pulse_ms;
        let last = rng::between(&mut stream, 1, u64::from(clients) / 2) as u32;
        let side = NodeSet::try_from(format!("1-{last}")).expect("a valid range");
        // A heal after the run is no heal: the scenario says so, as a valid scenario must.
        let heal_at_ms = (heal_at_ms < duration_ms).then_some(heal_at_ms);
        let until = heal_at_ms.map_or("the end".to_string(), |heal| format!("{heal} ms"));
        choices.push(format!("partition of clients 1-{last} from {at_ms} ms to {until}"));
        scenario.faults.partitions.push(Partition { at_ms, heal_at_ms, side: Some(side), prefix: None });
    }
    if coin(&mut stream) {
        let node = rng::between(&mut stream, 0, u64::from(clients)) as u32;
        let at_ms = rng::between(&mut stream, 0, duration_ms / 2);
        let restart_at_ms = at_ms + rng::between(&mut stream, 1, 10) * pulse_ms;
        let durable = coin(&mut stream);
        let restart_at_ms = (restart_at_ms < duration_ms).then_some(restart_at_ms);
        let restart = restart_at_ms.map_or("no restart".to_string(), |at| format!("restart at {at} ms"));
        choices.push(format!("crash of node {node} at {at_ms} ms, {restart}, durable = {durable}"));
        let nodes = NodeSet::try_from(node.to_string()).expect("a valid node");
        scenario.faults.crashes.push(Crash { nodes, at_ms, restart_at_ms, durable });
    }
    if coin(&mut stream) && scenario.faults.churn.is_none() {
        let crashes_per_min = round3(rng::unit(&mut stream) * 10.0);
        let durable = coin(&mut stream);
        choices.push(format!("churn of {crashes_per_min} crashes/min, down 1–5 pulses, durable = {durable}"));
        let (down_min_ms, down_max_ms) = (pulse_ms.min(duration_ms), (5 * pulse_ms).min(duration_ms));
        scenario.faults.churn = Some(Churn { crashes_per_min, down_min_ms, down_max_ms, durable });
    }
    if choices.is_empty() {
        choices.push("no faults (every coin came up tails)".to_string());
    }
    choices
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_virtual_time_round_trip_within_a_ms() {
        for drift in [-2_000, -1, 0, 1, 150, 2_000] {
            for t in [0, 1, 999, 1_000, 3_600_000] {
                let local = local_ms(t, drift);
                let back = virtual_ms(local, drift);
                assert!(back <= t + 1 && local_ms(back, drift) >= local, "drift {drift}, t {t}");
            }
        }
    }
}
