//! Credit scenario files (`kind = "credit"`): a population on a relationship chain exchanging
//! services on credit, the adversaries among them, the trust model that ranks them and the
//! elections that trust decides. Unknown keys and bad values are errors naming the file, the
//! key and the line, as for protocol scenarios; every key is documented in
//! `scenarios/README.md`.

use std::collections::BTreeMap;
use std::path::Path;

use reference::credit::line::CreditParams;
use serde::{Deserialize, Serialize};

use crate::bounds::*;
use crate::scenario::validate::{self, Invalid, int_in};
use crate::scenario::{self, Override, ScenarioError};

/// A whole credit scenario.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CreditScenario {
    /// Must be `"credit"`: what tells a credit scenario from a protocol one.
    pub kind: String,
    /// A short name, used in reports and output directories.
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// The seed every random choice derives from (overridden by `--seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Pulses simulated (one pulse is one step of the credit model).
    pub pulses: u64,
    /// Who takes part and how they are related.
    #[serde(default)]
    pub population: Population,
    /// The credit parameters (SPEC §15 names).
    #[serde(default)]
    pub credit: CreditSettings,
    /// The services members use.
    #[serde(default)]
    pub workload: ServiceWorkload,
    /// The trust model (SPEC §2.7).
    #[serde(default)]
    pub trust: TrustSettings,
    /// Bookkeeper elections decided by trust (SPEC §6.3).
    #[serde(default)]
    pub election: ElectionSettings,
    /// Adversaries (SPEC §14 and the EigenTrust threat models).
    #[serde(default)]
    pub adversaries: CreditAdversaries,
    /// What a designer minimises: metric name → weight (negative to maximise). Ranks the
    /// configurations of a sweep.
    #[serde(default)]
    pub objective: BTreeMap<String, f64>,
    /// Parameter lists × seeds for `leither sweep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<CreditSweep>,
}

fn default_seed() -> u64 {
    1
}

/// The members of the organization and their relationship chain.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Population {
    /// Honest members, the supervisor (member 0) included.
    pub honest: u32,
    /// The pre-trusted set: the supervisor and the next `pretrusted − 1` members as
    /// structural-reward holders (SPEC §2.7).
    pub pretrusted: u32,
    /// Relations each honest member forms with other honest members (each relation is a
    /// letter of credit in both directions).
    pub relations_per_node: u32,
    /// Relative weights of closeness 1..=5 for a new relation.
    pub closeness_weights: [f64; 5],
    /// Each identity's balance at genesis.
    pub initial_balance: u64,
    /// Each identity's frozen bookkeeper deposit (SPEC §6.3).
    pub deposit: u64,
}

impl Default for Population {
    fn default() -> Self {
        Population {
            honest: 200,
            pretrusted: 4,
            relations_per_node: 6,
            closeness_weights: [0.30, 0.30, 0.20, 0.15, 0.05],
            initial_balance: 1_000_000,
            deposit: 1_000,
        }
    }
}

/// The credit parameters of SPEC §2.2–§2.6 under their SPEC §15 names.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CreditSettings {
    /// `credit_grant_by_closeness`: the initial cap for closeness 0..=5.
    pub grant_by_closeness: [u64; 6],
    /// `credit_raise_step`.
    pub raise_step: u64,
    /// `credit_raise_period` (pulses).
    pub raise_period_pulses: u64,
    /// `credit_cap_max`.
    pub cap_max: u64,
    /// `default_after_pulses`.
    pub default_after_pulses: u64,
    /// `credit_max_hops`.
    pub max_hops: u32,
    /// `unit_coef_storage`.
    pub unit_coef_storage: f64,
    /// `unit_coef_cpu`.
    pub unit_coef_cpu: f64,
    /// `iou_settle_period` (pulses): each member settles its IOUs this often, members
    /// staggered over the period.
    pub iou_settle_period: u64,
}

impl Default for CreditSettings {
    fn default() -> Self {
        let p = CreditParams::default();
        CreditSettings {
            grant_by_closeness: p.grant_by_closeness,
            raise_step: p.raise_step,
            raise_period_pulses: p.raise_period_pulses,
            cap_max: p.cap_max,
            default_after_pulses: p.default_after_pulses,
            max_hops: p.max_hops as u32,
            unit_coef_storage: 0.5,
            unit_coef_cpu: 0.25,
            iou_settle_period: 3_600,
        }
    }
}

impl CreditSettings {
    /// The reference crate's parameters (coefficients rounded to per mille).
    pub fn params(&self) -> CreditParams {
        CreditParams {
            grant_by_closeness: self.grant_by_closeness,
            raise_step: self.raise_step,
            raise_period_pulses: self.raise_period_pulses,
            cap_max: self.cap_max,
            default_after_pulses: self.default_after_pulses,
            max_hops: self.max_hops as usize,
            storage_permille: (self.unit_coef_storage * 1000.0).round() as u64,
            cpu_permille: (self.unit_coef_cpu * 1000.0).round() as u64,
        }
    }
}

/// The services members use of each other.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceWorkload {
    /// Mean service requests per pulse over the whole organization (Poisson).
    pub requests_per_pulse: f64,
    /// Smallest amount of one request, in its unit.
    pub amount_min: u64,
    /// Largest amount of one request, in its unit.
    pub amount_max: u64,
    /// Relative weights of bandwidth, storage and CPU requests.
    pub unit_mix: [f64; 3],
    /// Probability that the provider is one of the consumer's own lenders; otherwise it is
    /// any member, reached through intermediaries (SPEC §2.6).
    pub neighbour_fraction: f64,
    /// How many times an honest member's demand an adversarial consumer asks for.
    pub adversary_demand: f64,
}

impl Default for ServiceWorkload {
    fn default() -> Self {
        ServiceWorkload {
            requests_per_pulse: 10.0,
            amount_min: 1,
            amount_max: 20,
            unit_mix: [0.5, 0.3, 0.2],
            neighbour_fraction: 0.7,
            adversary_demand: 1.0,
        }
    }
}

/// The trust models of SPEC §2.7.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TrustModelName {
    /// EigenTrust with the pre-trusted set.
    Eigentrust,
    /// Personalised PageRank from the supervisor.
    PersonalizedPagerank,
    /// SybilRank (early-stopped walk, normalised by weighted degree: D-048).
    Sybilrank,
    /// Advogato max-flow certification.
    Maxflow,
}

impl TrustModelName {
    /// The name a scenario uses.
    pub fn name(self) -> &'static str {
        match self {
            TrustModelName::Eigentrust => "eigentrust",
            TrustModelName::PersonalizedPagerank => "personalized_pagerank",
            TrustModelName::Sybilrank => "sybilrank",
            TrustModelName::Maxflow => "maxflow",
        }
    }
}

/// How trust is computed.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrustSettings {
    /// `trust_model`.
    pub model: TrustModelName,
    /// `trust_alpha`: EigenTrust's weight of the pre-trust vector (PPR always teleports 0.15).
    pub alpha: f64,
    /// Pulses between trust updates.
    pub update_period_pulses: u64,
    /// Start each update from the previous scores.
    pub warm_start: bool,
    /// Max-flow capacities by distance from the seeds; empty = scaled to the graph (D-027).
    pub maxflow_capacities: Vec<u64>,
}

impl Default for TrustSettings {
    fn default() -> Self {
        TrustSettings {
            model: TrustModelName::Eigentrust,
            alpha: 0.15,
            update_period_pulses: 60,
            warm_start: true,
            maxflow_capacities: Vec::new(),
        }
    }
}

/// How votes are weighed (SPEC §3.6).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VoteWeight {
    /// One member, one vote.
    OneMemberOneVote,
    /// The voter's balance.
    Balance,
    /// The voter's trust score.
    Trust,
}

/// Bookkeeper elections (SPEC §6.3) run on the trust scores.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ElectionSettings {
    /// `election_cycle_pulses`: an election every this many pulses (0 = none).
    pub cycle_pulses: u64,
    /// Committees seated per term (one seat per node across all of them).
    pub committees: u32,
    /// `backups` per committee.
    pub backups: u32,
    /// `election_pool_factor`.
    pub pool_factor: u32,
    /// `bookkeeper_deposit_min`.
    pub deposit_min: u64,
    /// `bookkeeper_trust_min`, in multiples of the mean score (D-028), so that one threshold
    /// means the same under every model.
    pub trust_min: f64,
    /// `vote_weight`.
    pub vote_weight: VoteWeight,
    /// Candidates each voter backs.
    pub votes_per_voter: u32,
}

impl Default for ElectionSettings {
    fn default() -> Self {
        ElectionSettings {
            cycle_pulses: 1_800,
            committees: 8,
            backups: 3,
            pool_factor: 2,
            deposit_min: 1_000,
            trust_min: 0.0,
            vote_weight: VoteWeight::Balance,
            votes_per_voter: 32,
        }
    }
}

/// What sybils do with the credit their attack edges give them.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SybilStrategy {
    /// Consume and never settle.
    Greedy,
    /// Settle every IOU, to keep the attack edges and the trust they bring (a bookkeeper
    /// capture attempt).
    Patient,
}

/// Adversaries among the members.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CreditAdversaries {
    /// Members who join and relate like honest ones but never settle (SPEC §14 free riders).
    pub free_riders: u32,
    /// Free riders who, once a line to them defaults, leave and rejoin under a new Id.
    pub whitewashers: u32,
    /// Relations (closeness 1) a rejoined identity forms with random honest members.
    pub whitewash_relations: u32,
    /// Sybil identities S (SPEC §14).
    pub sybils: u32,
    /// Attack edges g: relations between an honest member and a sybil.
    pub attack_edges: u32,
    /// Closeness of an attack edge.
    pub attack_closeness: u8,
    /// Relations (closeness 5) each sybil forms with other sybils.
    pub sybil_degree: u32,
    /// What sybils do.
    pub sybil_strategy: SybilStrategy,
    /// A malicious collective: members who relate like honest ones, vouch for each other at
    /// closeness 5 and never settle (EigenTrust threat model B).
    pub malicious: u32,
    /// Probability that a malicious member settles an IOU when its turn comes (camouflage,
    /// threat model C).
    pub camouflage: f64,
    /// Spies: members who behave honestly but vouch for the collective at closeness 5
    /// (threat model D).
    pub spies: u32,
}

impl Default for CreditAdversaries {
    fn default() -> Self {
        CreditAdversaries {
            free_riders: 0,
            whitewashers: 0,
            whitewash_relations: 3,
            sybils: 0,
            attack_edges: 0,
            attack_closeness: 2,
            sybil_degree: 6,
            sybil_strategy: SybilStrategy::Greedy,
            malicious: 0,
            camouflage: 0.0,
            spies: 0,
        }
    }
}

/// A sweep of a credit scenario.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CreditSweep {
    /// Seeds every combination runs with.
    pub seeds: Vec<u64>,
    /// Dotted key → values.
    #[serde(default)]
    pub parameters: BTreeMap<String, Vec<toml::Value>>,
    /// The swept key on the plots' x axis (default: the first swept key that is not `lines`).
    #[serde(default)]
    pub x: Option<String>,
    /// The swept key drawn as one line each (default: `trust.model` when swept).
    #[serde(default)]
    pub lines: Option<String>,
}

/// The metrics an objective may name (see `summary::CreditSummary::metric`).
pub const OBJECTIVE_METRICS: [&str; 9] = [
    "defaulted_bill_fraction",
    "value_lost_fraction",
    "settlement_failure_rate",
    "accepted_sybils_per_attack_edge",
    "credit_lost_per_attack_edge",
    "auc_honest_vs_sybil",
    "auc_honest_vs_adversary",
    "precision_at_honest",
    "adversary_seat_fraction",
];

impl CreditScenario {
    /// Whether `text` is meant as a credit scenario: it has a top-level `kind` key (protocol
    /// scenarios have none), so that `kind = "credti"` is reported as a bad `kind` rather than
    /// as an unknown key of a protocol scenario. Text that is not TOML is not: the protocol
    /// scenario parser reports its syntax error.
    pub fn is_credit(text: &str) -> bool {
        scenario::strict_table(text, Path::new("")).is_ok_and(|t| t.contains_key("kind"))
    }

    /// Read, parse and validate the credit scenario at `path`.
    pub fn load(path: &Path) -> Result<CreditScenario, ScenarioError> {
        CreditScenario::parse(&scenario::read(path)?, path)
    }

    /// Parse and validate `text` (`file` names it in errors).
    pub fn parse(text: &str, file: &Path) -> Result<CreditScenario, ScenarioError> {
        let s: CreditScenario = scenario::deserialize(text, file)?;
        s.validate(&scenario::invalid_in(file))?;
        Ok(s)
    }

    /// Parse `text`, apply `overrides` and validate (see `scenario::with_overrides`).
    pub fn parse_with_overrides(
        text: &str,
        file: &Path,
        overrides: &[Override],
        origin: &str,
        drop_sweep: bool,
    ) -> Result<CreditScenario, ScenarioError> {
        scenario::with_overrides(text, file, overrides, origin, drop_sweep, CreditScenario::parse)
    }

    /// The scenario as TOML (what a report embeds).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a credit scenario serializes")
    }

    /// All identities present at genesis.
    pub fn identities(&self) -> u64 {
        let (p, a) = (&self.population, &self.adversaries);
        [p.honest, a.free_riders, a.whitewashers, a.sybils, a.malicious, a.spies]
            .iter()
            .map(|n| u64::from(*n))
            .sum()
    }

    fn validate(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        self.validate_header(invalid)?;
        self.validate_population(invalid)?;
        self.validate_credit(invalid)?;
        self.validate_workload(invalid)?;
        self.validate_trust(invalid)?;
        self.validate_election(invalid)?;
        self.validate_adversaries(invalid)?;
        self.validate_objective_and_sweep(invalid)
    }

    /// The kind, the name and the length of the run.
    fn validate_header(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        if self.kind != "credit" {
            return Err(invalid("kind", scenario::KIND_EXPECTED, format!("{:?}", self.kind)));
        }
        if self.name.trim().is_empty()
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return Err(invalid(
                "name",
                "a non-empty name of letters, digits, `-` and `_`",
                format!("{:?}", self.name),
            ));
        }
        int_in(invalid, "pulses", self.pulses, 1, CREDIT_PULSES_MAX, "")?;
        Ok(())
    }

    /// `[population]`: sizes, relations, balances.
    fn validate_population(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        let p = &self.population;
        if p.honest < 2 {
            return Err(invalid("population.honest", "at least 2", p.honest.to_string()));
        }
        if self.identities() > CREDIT_IDENTITIES_MAX {
            return Err(invalid(
                "population.honest",
                &format!(
                    "at most {CREDIT_IDENTITIES_MAX} identities in all (population.honest and every \
                     adversary count)"
                ),
                format!("{} identities", self.identities()),
            ));
        }
        if p.pretrusted == 0 || p.pretrusted > p.honest {
            return Err(invalid(
                "population.pretrusted",
                "1 ..= population.honest",
                p.pretrusted.to_string(),
            ));
        }
        let relations_max = (p.honest - 1).min(RELATIONS_PER_NODE_MAX);
        if p.relations_per_node == 0 || p.relations_per_node > relations_max {
            return Err(invalid(
                "population.relations_per_node",
                &format!("1 ..= {relations_max} (population.honest − 1, at most {RELATIONS_PER_NODE_MAX})"),
                p.relations_per_node.to_string(),
            ));
        }
        weights(invalid, "population.closeness_weights", &p.closeness_weights)?;
        if u128::from(self.identities()) * u128::from(p.initial_balance) > u128::from(u64::MAX / 2) {
            return Err(invalid(
                "population.initial_balance",
                "a genesis that fits in u64",
                p.initial_balance.to_string(),
            ));
        }
        if p.deposit > p.initial_balance {
            return Err(invalid(
                "population.deposit",
                "at most population.initial_balance",
                p.deposit.to_string(),
            ));
        }
        Ok(())
    }

    /// `[credit]`: periods, hops, unit coefficients.
    fn validate_credit(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        let c = &self.credit;
        positive(invalid, "credit.raise_period_pulses", c.raise_period_pulses)?;
        positive(invalid, "credit.default_after_pulses", c.default_after_pulses)?;
        positive(invalid, "credit.iou_settle_period", c.iou_settle_period)?;
        int_in(invalid, "credit.max_hops", u64::from(c.max_hops), 1, u64::from(CREDIT_MAX_HOPS_MAX), "")?;
        for (key, coef) in
            [("credit.unit_coef_storage", c.unit_coef_storage), ("credit.unit_coef_cpu", c.unit_coef_cpu)]
        {
            // Coefficients are kept in per mille: below 0.001 a service would cost nothing.
            if !(coef.is_finite() && (0.001..=1000.0).contains(&coef)) {
                return Err(invalid(key, "a coefficient in [0.001, 1000]", coef.to_string()));
            }
        }
        Ok(())
    }

    /// `[workload]`: rate, amounts, mix.
    fn validate_workload(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        let w = &self.workload;
        if !(w.requests_per_pulse.is_finite() && (0.0..=10_000.0).contains(&w.requests_per_pulse)) {
            return Err(invalid(
                "workload.requests_per_pulse",
                "a rate in [0, 10000]",
                w.requests_per_pulse.to_string(),
            ));
        }
        positive(invalid, "workload.amount_min", w.amount_min)?;
        if w.amount_max < w.amount_min {
            return Err(invalid(
                "workload.amount_max",
                "at least workload.amount_min",
                w.amount_max.to_string(),
            ));
        }
        weights(invalid, "workload.unit_mix", &w.unit_mix)?;
        probability(invalid, "workload.neighbour_fraction", w.neighbour_fraction)?;
        if !(w.adversary_demand.is_finite() && (0.0..=100.0).contains(&w.adversary_demand)) {
            return Err(invalid(
                "workload.adversary_demand",
                "a factor in [0, 100]",
                w.adversary_demand.to_string(),
            ));
        }
        Ok(())
    }

    /// `[trust]`: the models' parameters.
    fn validate_trust(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        let t = &self.trust;
        if !(t.alpha > 0.0 && t.alpha <= 1.0) {
            return Err(invalid("trust.alpha", "a value in (0, 1]", t.alpha.to_string()));
        }
        positive(invalid, "trust.update_period_pulses", t.update_period_pulses)?;
        if t.maxflow_capacities.len() > 64 {
            return Err(invalid(
                "trust.maxflow_capacities",
                "at most 64 capacities (one per distance from the seeds)",
                format!("{} capacities", t.maxflow_capacities.len()),
            ));
        }
        Ok(())
    }

    /// `[election]`: committees, pools, votes, trust floor.
    fn validate_election(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        let e = &self.election;
        if e.cycle_pulses > 0 {
            let most = u64::from(ELECTION_SIZE_MAX);
            int_in(invalid, "election.committees", u64::from(e.committees), 1, most, "")?;
            int_in(invalid, "election.pool_factor", u64::from(e.pool_factor), 1, POOL_FACTOR_MAX as u64, "")?;
            int_in(invalid, "election.votes_per_voter", u64::from(e.votes_per_voter), 1, most, "")?;
            int_in(
                invalid,
                "election.backups",
                u64::from(e.backups),
                0,
                crate::scenario::MAX_BACKUPS as u64,
                "",
            )?;
        }
        if !(e.trust_min.is_finite() && e.trust_min >= 0.0) {
            return Err(invalid(
                "election.trust_min",
                "a non-negative multiple of the mean score",
                e.trust_min.to_string(),
            ));
        }
        Ok(())
    }

    /// `[adversaries]`: sybils and their edges, whitewashers, camouflage.
    fn validate_adversaries(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        let (a, p) = (&self.adversaries, &self.population);
        if a.sybils == 0 && a.attack_edges > 0 {
            return Err(invalid(
                "adversaries.attack_edges",
                "0 when there are no sybils",
                a.attack_edges.to_string(),
            ));
        }
        if a.attack_edges > p.honest {
            return Err(invalid(
                "adversaries.attack_edges",
                "at most population.honest (one per honest member)",
                a.attack_edges.to_string(),
            ));
        }
        if !(1..=5).contains(&a.attack_closeness) {
            return Err(invalid(
                "adversaries.attack_closeness",
                "a closeness in 1..=5",
                a.attack_closeness.to_string(),
            ));
        }
        if a.sybils > 1 && a.sybil_degree >= a.sybils {
            return Err(invalid(
                "adversaries.sybil_degree",
                "less than adversaries.sybils",
                a.sybil_degree.to_string(),
            ));
        }
        if a.whitewash_relations > p.honest {
            return Err(invalid(
                "adversaries.whitewash_relations",
                "at most population.honest",
                a.whitewash_relations.to_string(),
            ));
        }
        probability(invalid, "adversaries.camouflage", a.camouflage)?;
        Ok(())
    }

    /// `[objective]` metrics and the `[sweep]` shape.
    fn validate_objective_and_sweep(&self, invalid: Invalid<'_>) -> Result<(), ScenarioError> {
        for key in self.objective.keys() {
            if !OBJECTIVE_METRICS.contains(&key.as_str()) {
                return Err(invalid(
                    &format!("objective.{key}"),
                    &format!("one of {}", OBJECTIVE_METRICS.join(", ")),
                    key.clone(),
                ));
            }
        }
        if let Some(sweep) = &self.sweep {
            validate::sweep_shape(invalid, &sweep.seeds, &sweep.parameters)?;
            for (key, role) in [(&sweep.x, "sweep.x"), (&sweep.lines, "sweep.lines")] {
                if let Some(key) = key
                    && !sweep.parameters.contains_key(key)
                {
                    return Err(invalid(role, "a key of [sweep.parameters]", key.clone()));
                }
            }
        }
        Ok(())
    }
}

fn positive(invalid: Invalid<'_>, key: &str, v: u64) -> Result<(), ScenarioError> {
    if v == 0 { Err(invalid(key, "a positive integer", "0".into())) } else { Ok(()) }
}

fn probability(invalid: Invalid<'_>, key: &str, v: f64) -> Result<(), ScenarioError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(invalid(key, "a probability in [0, 1]", v.to_string()))
    }
}

fn weights(invalid: Invalid<'_>, key: &str, w: &[f64]) -> Result<(), ScenarioError> {
    if w.iter().all(|x| x.is_finite() && *x >= 0.0) && w.iter().sum::<f64>() > 0.0 {
        Ok(())
    } else {
        Err(invalid(key, "non-negative weights with a positive sum", format!("{w:?}")))
    }
}
