//! Scenario validation: every value against what the simulator can run and what makes a
//! meaningful run. Each error names the key, the value and the bound (`crate::bounds`), in the
//! scenario's own terms — never a Rust type or `Debug` output.

use std::collections::BTreeMap;

use super::*;
use crate::bounds::*;

pub(crate) type Invalid<'a> = &'a dyn Fn(&str, &str, String) -> ScenarioError;

pub(super) fn check(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    if s.name.trim().is_empty() || !s.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
        return Err(invalid(
            "name",
            "a non-empty name of letters, digits, `-` and `_`",
            format!("{:?}", s.name),
        ));
    }
    int_in(invalid, "duration_ms", s.duration_ms, 1, DURATION_MS_MAX, " ms (30 days)")?;
    int_in(invalid, "nodes.clients", u64::from(s.nodes.clients), 2, u64::from(CLIENTS_MAX), "")?;
    parameters(s, invalid)?;
    pulses(s, invalid)?;
    network(s, invalid)?;
    workload(s, invalid)?;
    faults(s, invalid)?;
    adversaries(s, invalid)?;
    if let Some(g) = &s.governance {
        governance(s, g, invalid)?;
    }
    leaf_groups_possible(s, invalid)?;
    int_in(invalid, "limits.max_events", s.limits.max_events, 1, u64::MAX, "")?;
    int_in(invalid, "limits.max_queue", s.limits.max_queue, 1, u64::MAX, "")?;
    if let Some(sweep) = &s.sweep {
        sweep_shape(invalid, &sweep.seeds, &sweep.parameters)?;
    }
    Ok(())
}

/// `value` in `min ..= max`; `unit` follows the bound in the message (" ms", " pulses").
pub(crate) fn int_in(
    invalid: Invalid<'_>,
    key: &str,
    value: u64,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<(), ScenarioError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    let expected = match (min, max) {
        (1, u64::MAX) => "a positive integer".to_string(),
        (0, max) => format!("at most {max}{unit}"),
        (min, max) => format!("{min} ..= {max}{unit}"),
    };
    Err(invalid(key, &expected, value.to_string()))
}

/// A finite `value` in `[min, max]`.
pub(crate) fn number_in(
    invalid: Invalid<'_>,
    key: &str,
    value: f64,
    min: f64,
    max: f64,
) -> Result<(), ScenarioError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(key, &format!("a number in [{min}, {max}]"), value.to_string()))
    }
}

pub(crate) fn probability(invalid: Invalid<'_>, key: &str, value: f64) -> Result<(), ScenarioError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(key, "a probability in [0, 1]", value.to_string()))
    }
}

/// A list of at most [`LIST_MAX`] entries.
fn list(invalid: Invalid<'_>, key: &str, len: usize) -> Result<(), ScenarioError> {
    if len <= LIST_MAX {
        Ok(())
    } else {
        Err(invalid(key, &format!("at most {LIST_MAX} entries"), format!("{len} entries")))
    }
}

/// A time at which something happens during the run.
fn during_run(
    invalid: Invalid<'_>,
    s: &Scenario,
    key: &str,
    at_ms: u64,
    what: &str,
) -> Result<(), ScenarioError> {
    if at_ms < s.duration_ms {
        return Ok(());
    }
    Err(invalid(key, &format!("a time before duration_ms ({} ms): {what}", s.duration_ms), at_ms.to_string()))
}

/// The end of a fault (a heal, a restart): after its start, before the run ends.
fn fault_end(
    invalid: Invalid<'_>,
    s: &Scenario,
    key: &str,
    (start_ms, end_ms): (u64, Option<u64>),
    leave_out: &str,
) -> Result<(), ScenarioError> {
    let Some(end_ms) = end_ms else { return Ok(()) };
    if end_ms <= start_ms {
        return Err(invalid(key, &format!("a time after at_ms ({start_ms} ms)"), end_ms.to_string()));
    }
    during_run(invalid, s, key, end_ms, &format!("leave it out for {leave_out}"))
}

/// Elections over pools (D-035) need committees to elect and terms to elect them in.
fn standby_parameters(p: &Parameters, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    int_in(
        invalid,
        "parameters.election_pool_factor",
        p.election_pool_factor as u64,
        1,
        POOL_FACTOR_MAX as u64,
        "",
    )?;
    if p.standbys == 0 {
        return Ok(());
    }
    if p.backups == 0 || p.election_cycle_pulses.is_none() {
        return Err(invalid(
            "parameters.standbys",
            "0 unless parameters.backups > 0 and parameters.election_cycle_pulses is set (standbys \
             stand for the leaf committees elected each term)",
            p.standbys.to_string(),
        ));
    }
    int_in(invalid, "parameters.standbys", p.standbys as u64, 0, MAX_STANDBYS as u64, "")?;
    let deposit = p.bookkeeper_deposit.unwrap_or(p.bookkeeper_deposit_min);
    if deposit < p.bookkeeper_deposit_min {
        return Err(invalid(
            "parameters.bookkeeper_deposit_min",
            &format!(
                "at most parameters.bookkeeper_deposit ({deposit}): each candidate freezes that much, so \
                 with a larger minimum no committee could ever be elected"
            ),
            p.bookkeeper_deposit_min.to_string(),
        ));
    }
    Ok(())
}

fn parameters(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    let p = &s.parameters;
    int_in(invalid, "parameters.pulse_ms", p.pulse_ms, PULSE_MS_MIN, PULSE_MS_MAX, " ms")?;
    let counts = [
        ("parameters.transfer_timeout_pulses", p.transfer_timeout_pulses),
        ("parameters.heal_pulses_max", p.heal_pulses_max),
        ("parameters.failover_timeout_pulses", p.failover_timeout_pulses),
    ];
    for (key, value) in
        counts.into_iter().chain(p.election_cycle_pulses.map(|c| ("parameters.election_cycle_pulses", c)))
    {
        int_in(invalid, key, value, 1, PULSE_COUNT_MAX, " pulses")?;
    }
    int_in(
        invalid,
        "parameters.max_attempts",
        u64::from(p.max_attempts),
        1,
        u64::from(MAX_ATTEMPTS_MAX),
        "",
    )?;
    int_in(invalid, "parameters.versions_retained", p.versions_retained, 1, VERSIONS_RETAINED_MAX, "")?;
    int_in(invalid, "parameters.group_min_accounts", p.group_min_accounts as u64, 1, u64::MAX, "")?;
    if let Some(deposit) = p.bookkeeper_deposit {
        int_in(invalid, "parameters.bookkeeper_deposit", deposit, 1, u64::MAX, "")?;
    }
    int_in(invalid, "parameters.backups", p.backups as u64, 0, MAX_BACKUPS as u64, "")?;
    if p.root_backups == 1 || p.root_backups > MAX_BACKUPS {
        return Err(invalid(
            "parameters.root_backups",
            &format!(
                "0, or 2 ..= {MAX_BACKUPS} (with 1 the view change needs both members, so a crashed \
                 chief could never be replaced)"
            ),
            p.root_backups.to_string(),
        ));
    }
    standby_parameters(p, invalid)?;
    if p.stratum_bits == 0 || p.stratum_bits > 160 || 160 % p.stratum_bits != 0 {
        return Err(invalid(
            "parameters.stratum_bits",
            "a divisor of 160 (the Id bits)",
            p.stratum_bits.to_string(),
        ));
    }
    int_in(invalid, "parameters.clock_drift_ppm", u64::from(p.clock_drift_ppm), 0, 100_000, " (10%)")?;
    let distributed = u128::from(s.nodes.clients) * u128::from(s.nodes.initial_balance);
    if distributed > u128::from(p.genesis_supply) {
        return Err(invalid(
            "parameters.genesis_supply",
            &format!("at least nodes.clients × nodes.initial_balance = {distributed}"),
            p.genesis_supply.to_string(),
        ));
    }
    Ok(())
}

/// At least one pulse, and at most [`PULSES_MAX`].
fn pulses(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    let pulse_ms = s.parameters.pulse_ms;
    if s.duration_ms < pulse_ms {
        return Err(invalid(
            "duration_ms",
            &format!("at least one pulse (parameters.pulse_ms = {pulse_ms} ms)"),
            s.duration_ms.to_string(),
        ));
    }
    let pulses = s.duration_ms.div_ceil(pulse_ms);
    if pulses > PULSES_MAX {
        return Err(invalid(
            "duration_ms",
            &format!("at most {PULSES_MAX} pulses of parameters.pulse_ms = {pulse_ms} ms"),
            format!("{} ({pulses} pulses)", s.duration_ms),
        ));
    }
    Ok(())
}

pub(crate) fn latency(invalid: Invalid<'_>, key: &str, latency: &Latency) -> Result<(), ScenarioError> {
    let max = LATENCY_MS_MAX as f64;
    match *latency {
        Latency::Fixed { ms } => {
            int_in(invalid, &format!("{key}.ms"), ms, 0, LATENCY_MS_MAX, " ms (one hour)")?
        }
        Latency::Uniform { min_ms, max_ms } => {
            if min_ms > max_ms {
                return Err(invalid(
                    &format!("{key}.min_ms"),
                    &format!("at most max_ms ({max_ms})"),
                    min_ms.to_string(),
                ));
            }
            int_in(invalid, &format!("{key}.max_ms"), max_ms, 0, LATENCY_MS_MAX, " ms (one hour)")?;
        }
        Latency::Normal { mean_ms, stddev_ms } => {
            number_in(invalid, &format!("{key}.mean_ms"), mean_ms, 0.0, max)?;
            number_in(invalid, &format!("{key}.stddev_ms"), stddev_ms, 0.0, max)?;
        }
        Latency::Lognormal { median_ms, sigma } => {
            if !(median_ms.is_finite() && median_ms > 0.0 && median_ms <= max) {
                return Err(invalid(
                    &format!("{key}.median_ms"),
                    &format!("a number in (0, {max}]"),
                    median_ms.to_string(),
                ));
            }
            number_in(invalid, &format!("{key}.sigma"), sigma, 0.0, SIGMA_MAX)?;
        }
    }
    let largest_ms = crate::network::Sampler::largest_ms(latency);
    if largest_ms > LATENCY_MS_MAX {
        return Err(invalid(
            key,
            &format!("a distribution whose largest draw is at most {LATENCY_MS_MAX} ms (one hour)"),
            format!("{latency}, which draws up to {largest_ms} ms"),
        ));
    }
    Ok(())
}

fn nodes(s: &Scenario, invalid: Invalid<'_>, key: &str, set: &NodeSet) -> Result<(), ScenarioError> {
    set.ranges(s.nodes.clients).map(|_| ()).map_err(|index| {
        invalid(key, &format!("node indices in 0..={} (0 is the chief)", s.nodes.clients), index.to_string())
    })
}

fn network(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    let n = &s.network;
    latency(invalid, "network.latency", &n.latency)?;
    probability(invalid, "network.drop", n.drop)?;
    probability(invalid, "network.duplicate", n.duplicate)?;
    probability(invalid, "network.reorder", n.reorder)?;
    int_in(invalid, "network.reorder_max_ms", n.reorder_max_ms, 1, LATENCY_MS_MAX, " ms (one hour)")?;
    list(invalid, "network.links", n.links.len())?;
    list(invalid, "network.slow_links", n.slow_links.len())?;
    for (i, link) in n.links.iter().enumerate() {
        nodes(s, invalid, &format!("network.links[{i}].from"), &link.from)?;
        nodes(s, invalid, &format!("network.links[{i}].to"), &link.to)?;
        latency(invalid, &format!("network.links[{i}].latency"), &link.latency)?;
    }
    for (i, slow) in n.slow_links.iter().enumerate() {
        nodes(s, invalid, &format!("network.slow_links[{i}].nodes"), &slow.nodes)?;
        let key = format!("network.slow_links[{i}].bandwidth_bytes_per_s");
        int_in(invalid, &key, slow.bandwidth_bytes_per_s, 1, BANDWIDTH_BYTES_PER_S_MAX, "")?;
    }
    Ok(())
}

fn popularity(invalid: Invalid<'_>, key: &str, popularity: &Popularity) -> Result<(), ScenarioError> {
    match *popularity {
        Popularity::Zipf { exponent } if !(exponent > 0.0 && exponent <= ZIPF_EXPONENT_MAX) => Err(invalid(
            &format!("{key}.exponent"),
            &format!("a number in (0, {ZIPF_EXPONENT_MAX}]"),
            exponent.to_string(),
        )),
        _ => Ok(()),
    }
}

fn workload(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    let w = &s.workload;
    number_in(invalid, "workload.transfers_per_s", w.transfers_per_s, 0.0, TRANSFERS_PER_S_MAX)?;
    popularity(invalid, "workload.payer", &w.payer)?;
    popularity(invalid, "workload.payee", &w.payee)?;
    let smallest = match w.amount {
        Amount::Fixed { value: 0 } => {
            return Err(invalid("workload.amount.value", "a positive amount", "0".into()));
        }
        Amount::Uniform { min, max } if min == 0 || min > max => {
            return Err(invalid("workload.amount", "1 ≤ min ≤ max", format!("min = {min}, max = {max}")));
        }
        Amount::Fixed { value } => value,
        Amount::Uniform { min, .. } => min,
    };
    if w.transfers_per_s > 0.0 && smallest > s.nodes.initial_balance {
        return Err(invalid(
            "workload.amount",
            &format!(
                "amounts a client can pay: at most nodes.initial_balance ({}), else every transfer is refused",
                s.nodes.initial_balance
            ),
            smallest.to_string(),
        ));
    }
    if let Some(stop_ms) = w.stop_ms
        && stop_ms > s.duration_ms
    {
        return Err(invalid(
            "workload.stop_ms",
            &format!("at most duration_ms ({} ms): requests after the run are never issued", s.duration_ms),
            stop_ms.to_string(),
        ));
    }
    let stop_ms = s.workload_stop_ms();
    if w.transfers_per_s > 0.0 && w.start_ms >= stop_ms {
        let stop = match w.stop_ms {
            Some(stop_ms) => format!("workload.stop_ms ({stop_ms} ms)"),
            None => format!("workload.stop_ms (by default 80% of duration_ms: {stop_ms} ms)"),
        };
        return Err(invalid(
            "workload.start_ms",
            &format!("a time before {stop}: no request would be issued"),
            w.start_ms.to_string(),
        ));
    }
    Ok(())
}

fn partitions(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    list(invalid, "faults.partitions", s.faults.partitions.len())?;
    for (i, p) in s.faults.partitions.iter().enumerate() {
        let key = format!("faults.partitions[{i}]");
        match (&p.side, &p.prefix) {
            (Some(side), None) => nodes(s, invalid, &format!("{key}.side"), side)?,
            (None, Some(prefix))
                if !prefix.is_empty()
                    && prefix.len() <= 160
                    && prefix.chars().all(|c| c == '0' || c == '1') => {}
            (None, Some(prefix)) => {
                return Err(invalid(
                    &format!("{key}.prefix"),
                    "1 to 160 bits written as 0s and 1s",
                    format!("{prefix:?}"),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(&key, "exactly one of `side` and `prefix`", "both".into()));
            }
            (None, None) => {
                return Err(invalid(&key, "exactly one of `side` and `prefix`", "neither".into()));
            }
        }
        during_run(invalid, s, &format!("{key}.at_ms"), p.at_ms, "the partition would never start")?;
        let end = (p.at_ms, p.heal_at_ms);
        fault_end(invalid, s, &format!("{key}.heal_at_ms"), end, "a partition that never heals")?;
    }
    Ok(())
}

fn faults(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    partitions(s, invalid)?;
    list(invalid, "faults.crashes", s.faults.crashes.len())?;
    for (i, c) in s.faults.crashes.iter().enumerate() {
        let key = format!("faults.crashes[{i}]");
        nodes(s, invalid, &format!("{key}.nodes"), &c.nodes)?;
        during_run(invalid, s, &format!("{key}.at_ms"), c.at_ms, "the crash would never happen")?;
        let end = (c.at_ms, c.restart_at_ms);
        fault_end(invalid, s, &format!("{key}.restart_at_ms"), end, "a node that stays down")?;
    }
    list(invalid, "faults.primary_crashes", s.faults.primary_crashes.len())?;
    for (i, c) in s.faults.primary_crashes.iter().enumerate() {
        let key = format!("faults.primary_crashes[{i}]");
        probability(invalid, &format!("{key}.groups"), c.groups)?;
        during_run(invalid, s, &format!("{key}.at_ms"), c.at_ms, "the crashes would never happen")?;
        let end = (c.at_ms, c.restart_at_ms);
        fault_end(invalid, s, &format!("{key}.restart_at_ms"), end, "primaries that stay down")?;
    }
    if let Some(churn) = &s.faults.churn {
        number_in(invalid, "faults.churn.crashes_per_min", churn.crashes_per_min, 0.0, CRASHES_PER_MIN_MAX)?;
        if churn.down_min_ms > churn.down_max_ms {
            let expected = format!("at least down_min_ms ({} ms)", churn.down_min_ms);
            return Err(invalid("faults.churn.down_max_ms", &expected, churn.down_max_ms.to_string()));
        }
        let key = "faults.churn.down_max_ms";
        int_in(invalid, key, churn.down_max_ms, 0, s.duration_ms, " ms (duration_ms)")?;
    }
    Ok(())
}

fn governance(s: &Scenario, g: &Governance, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    int_in(invalid, "governance.found_at_ms", g.found_at_ms, 0, s.duration_ms.saturating_sub(1), " ms")?;
    let clients = u64::from(s.nodes.clients);
    int_in(
        invalid,
        "governance.founding_members",
        u64::from(g.founding_members),
        1,
        clients,
        " (the clients)",
    )?;
    int_in(invalid, "governance.vote_window_pulses", g.vote_window_pulses, 1, 1_000_000, " pulses")?;
    int_in(
        invalid,
        "governance.supervisor_absence_pulses",
        g.supervisor_absence_pulses,
        1,
        100_000_000,
        " pulses",
    )?;
    probability(invalid, "governance.vote_quorum", g.vote_quorum)?;
    probability(invalid, "governance.vote_threshold", g.vote_threshold)?;
    if g.vote_weight == VoteWeight::Balance {
        balance_fits(invalid, s, g)?;
    }
    number_in(invalid, "governance.applications_per_s", g.applications_per_s, 0.0, 1_000.0)?;
    number_in(invalid, "governance.proposals_per_s", g.proposals_per_s, 0.0, 100.0)?;
    number_in(invalid, "governance.rewards_per_s", g.rewards_per_s, 0.0, 100.0)?;
    let supply = s.parameters.genesis_supply.max(1);
    int_in(invalid, "governance.reward_amount", g.reward_amount, 1, supply, "")?;
    for (key, value) in [
        ("governance.endorsed_share", g.endorsed_share),
        ("governance.approve_unendorsed", g.approve_unendorsed),
        ("governance.turnout", g.turnout),
        ("governance.yes_share", g.yes_share),
        ("governance.sybil_share", g.sybil_share),
    ] {
        probability(invalid, key, value)?;
    }
    int_in(invalid, "governance.trust_honest", g.trust_honest, 0, 1_000_000_000, "")?;
    int_in(invalid, "governance.trust_sybil", g.trust_sybil, 0, 1_000_000_000, "")?;
    if let Some(at_ms) = g.supervisor_silent_from_ms {
        int_in(invalid, "governance.supervisor_silent_from_ms", at_ms, g.found_at_ms, s.duration_ms, " ms")?;
    }
    if g.elect_bookkeepers && s.parameters.standbys == 0 {
        return Err(invalid(
            "governance.elect_bookkeepers",
            "parameters.standbys > 0 (elections run over pools of candidates, D-035)",
            "true".to_string(),
        ));
    }
    Ok(())
}

/// Balance weights (D-049): members cast their votes within the window's first half, each
/// with its account's proof under the root of the proposal's opening pulse, which its group
/// proves under for `PROVEN_PULSES` pulses and while its ledger keeps the version; ballots do
/// not carry proofs yet.
fn balance_fits(invalid: Invalid<'_>, s: &Scenario, g: &Governance) -> Result<(), ScenarioError> {
    if g.elect_bookkeepers {
        return Err(invalid(
            "governance.vote_weight",
            "\"one_member_one_vote\" or \"trust\" with elect_bookkeepers (ballots do not carry account proofs yet: D-049)",
            "\"balance\"".to_string(),
        ));
    }
    let proven_pulses = (reference::node::PROVEN_PULSES as u64).min(s.parameters.versions_retained);
    int_in(
        invalid,
        "governance.vote_window_pulses",
        g.vote_window_pulses,
        1,
        2 * proven_pulses,
        " pulses under balance weights (votes fall in the window's first half and prove accounts under the opening pulse's root, kept for min(64, versions_retained) pulses: D-049)",
    )
}

fn adversaries(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    let a = &s.adversaries;
    if let Some(set) = &a.double_spenders {
        nodes(s, invalid, "adversaries.double_spenders", set)?;
        if set.ranges(s.nodes.clients).is_ok_and(|ranges| ranges.first().is_some_and(|r| r.0 == 0)) {
            return Err(invalid(
                "adversaries.double_spenders",
                "clients only (not node 0, the chief)",
                set.to_string(),
            ));
        }
    }
    probability(invalid, "adversaries.double_spend_probability", a.double_spend_probability)?;
    probability(invalid, "adversaries.censoring_groups", a.censoring_groups)?;
    probability(invalid, "adversaries.censored_payers", a.censored_payers)?;
    probability(invalid, "adversaries.forging_groups", a.forging_groups)?;
    probability(invalid, "adversaries.equivocating_groups", a.equivocating_groups)?;
    probability(invalid, "adversaries.colluding_backups", a.colluding_backups)?;
    probability(invalid, "adversaries.impersonating_groups", a.impersonating_groups)?;
    if a.colluding_backups > 0.0 && s.parameters.backups == 0 {
        return Err(invalid(
            "adversaries.colluding_backups",
            "0 unless parameters.backups > 0 (there are no backup seats to hold)",
            a.colluding_backups.to_string(),
        ));
    }
    probability(invalid, "adversaries.forging_candidates", a.forging_candidates)?;
    if a.forging_candidates > 0.0 && s.parameters.standbys == 0 {
        return Err(invalid(
            "adversaries.forging_candidates",
            "0 unless parameters.standbys > 0 (there are no standby candidates to hold)",
            a.forging_candidates.to_string(),
        ));
    }
    if !(1.0..=1000.0).contains(&a.ballot_stuffing) {
        return Err(invalid(
            "adversaries.ballot_stuffing",
            "a factor in [1, 1000] on the adversary's candidates' votes",
            a.ballot_stuffing.to_string(),
        ));
    }
    if a.censoring_groups + a.forging_groups + a.equivocating_groups > 1.0 {
        let got = format!("{} + {} + {}", a.censoring_groups, a.forging_groups, a.equivocating_groups);
        return Err(invalid(
            "adversaries.equivocating_groups",
            "censoring_groups + forging_groups + equivocating_groups ≤ 1",
            got,
        ));
    }
    Ok(())
}

/// Keys that only mean something for leaf groups, refused when no Id prefix can hold one: a
/// leaf group needs `group_min_accounts` accounts (the clients' and the organization's). Which
/// prefixes do hold one depends on the seed's Ids; `Simulation::new` checks that tree.
fn leaf_groups_possible(s: &Scenario, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
    let accounts = u64::from(s.nodes.clients) + 1;
    let needed = s.parameters.group_min_accounts as u64;
    if accounts >= needed {
        return Ok(());
    }
    let Some((key, got)) = leaf_only_keys(s).into_iter().next() else { return Ok(()) };
    Err(invalid(
        key,
        &format!(
            "none: with {} clients and parameters.group_min_accounts = {needed} no Id prefix holds a leaf \
             group, so the chief keeps every account",
            s.nodes.clients
        ),
        got,
    ))
}

/// The leaf-group keys a scenario sets, with their values.
pub(crate) fn leaf_only_keys(s: &Scenario) -> Vec<(&'static str, String)> {
    let (p, a) = (&s.parameters, &s.adversaries);
    let mut keys = Vec::new();
    if p.backups > 0 {
        keys.push(("parameters.backups", p.backups.to_string()));
    }
    if !s.faults.primary_crashes.is_empty() {
        let n = s.faults.primary_crashes.len();
        keys.push(("faults.primary_crashes", if n == 1 { "1 entry".into() } else { format!("{n} entries") }));
    }
    for (key, value) in [
        ("adversaries.censoring_groups", a.censoring_groups),
        ("adversaries.forging_groups", a.forging_groups),
        ("adversaries.equivocating_groups", a.equivocating_groups),
        ("adversaries.impersonating_groups", a.impersonating_groups),
    ] {
        if value > 0.0 {
            keys.push((key, value.to_string()));
        }
    }
    keys
}

/// The shape of a `[sweep]` table, shared with credit scenarios: seeds given and distinct,
/// every parameter list non-empty, and the points (combinations × seeds) counted — not
/// enumerated — against [`SWEEP_POINTS_MAX`].
pub(crate) fn sweep_shape(
    invalid: Invalid<'_>,
    seeds: &[u64],
    parameters: &BTreeMap<String, Vec<toml::Value>>,
) -> Result<(), ScenarioError> {
    if seeds.is_empty() {
        return Err(invalid("sweep.seeds", "at least one seed", "[]".into()));
    }
    let mut sorted = seeds.to_vec();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(
            "sweep.seeds",
            "distinct seeds (repeating one repeats an identical run, and the 95% interval would be over copies)",
            format!("seed {} more than once", pair[0]),
        ));
    }
    let mut points = seeds.len() as u128;
    for (key, values) in parameters {
        if values.is_empty() {
            return Err(invalid(&format!("sweep.parameters.\"{key}\""), "at least one value", "[]".into()));
        }
        points = points.saturating_mul(values.len() as u128);
    }
    if points > u128::from(SWEEP_POINTS_MAX) {
        return Err(invalid(
            "sweep",
            &format!("at most {SWEEP_POINTS_MAX} points (parameter combinations × seeds)"),
            format!("{points} points"),
        ));
    }
    Ok(())
}
