//! Scenario files: what a run simulates. A scenario is TOML; unknown keys and bad values are
//! rejected with the file, the key path, the line and what was expected. Every key is
//! documented, with an example, in `scenarios/README.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Index of a node in a run: 0 is the bookkeeper, `1..=clients` are the clients.
pub type NodeIndex = u32;

/// A whole scenario.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in reports and output directories.
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// The seed every random choice derives from (overridden by `--seed`).
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Virtual time the run lasts.
    pub duration_ms: u64,
    /// Who takes part.
    #[serde(default)]
    pub nodes: Nodes,
    /// Protocol parameters (SPEC §15 names).
    #[serde(default)]
    pub parameters: Parameters,
    /// Latency, loss and link limits.
    #[serde(default)]
    pub network: Network,
    /// The transfers users ask for.
    #[serde(default)]
    pub workload: Workload,
    /// Declared faults.
    #[serde(default)]
    pub faults: Faults,
    /// Faults drawn at random from the seed.
    #[serde(default)]
    pub swarm: Swarm,
    /// Byzantine behaviour.
    #[serde(default)]
    pub adversaries: Adversaries,
    /// An organization run over the network (D-041): its parameters, its members' workload
    /// and its adversaries. Absent: no organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governance: Option<Governance>,
    /// Bounds that turn a runaway run into a clear error.
    #[serde(default)]
    pub limits: Limits,
    /// What a run writes besides the report.
    #[serde(default)]
    pub output: Output,
    /// Parameter lists × seeds for `leither sweep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

/// Who takes part.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Nodes {
    /// Number of client nodes (the bookkeeper is node 0 and comes in addition).
    pub clients: u32,
    /// Balance each client holds at genesis (from the first distribution, SPEC §3.3).
    pub initial_balance: u64,
    /// Signature scheme: `sim` (a fast keyed-hash MAC) or `ed25519`.
    pub signatures: SignatureScheme,
}

impl Default for Nodes {
    fn default() -> Self {
        Nodes { clients: 16, initial_balance: 1_000_000, signatures: SignatureScheme::Sim }
    }
}

/// Signature schemes a run can use.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignatureScheme {
    /// `reference::crypto::SimScheme`.
    Sim,
    /// ed25519 (slower; what production uses).
    Ed25519,
}

/// The most backups a committee may have in a scenario.
pub const MAX_BACKUPS: usize = 16;
/// The most standby candidates a leaf group may have.
pub const MAX_STANDBYS: usize = 64;

/// Protocol parameters, with SPEC §15 names and defaults.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Parameters {
    /// Pulse period.
    pub pulse_ms: u64,
    /// Pulses a payer waits for an outcome before proposing again.
    pub transfer_timeout_pulses: u64,
    /// Proposals of one transfer before the payer gives up on it.
    pub max_attempts: u32,
    /// Bound on each node's clock drift (each node draws its own drift within ±this).
    pub clock_drift_ppm: u32,
    /// Sealed versions the bookkeeper keeps.
    pub versions_retained: u64,
    /// The organization's supply.
    pub genesis_supply: u64,
    /// Id bits per stratum of the group tree (SPEC §6.1).
    pub stratum_bits: usize,
    /// Accounts a group needs; sparser prefixes merge into the root group (SPEC §6.1).
    pub group_min_accounts: usize,
    /// Pulses after the last fault stops within which every node must hold one ts (L3).
    pub heal_pulses_max: u64,
    /// Each group primary's frozen deposit (SPEC §6.5): per version it processes at most this
    /// amount, more waits for the next version; absent = no bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookkeeper_deposit: Option<u64>,
    /// Backups in each leaf group's committee (SPEC §6.2; D-032). They replay the primary's
    /// sealed cycles, attest its reports and take over on failover. 0 (the default here,
    /// unlike SPEC §15's 3) runs one primary per group, as the scenarios before D-032 did.
    pub backups: usize,
    /// Backups in the root group's committee (SPEC §5.2, §6.2; D-033): they replay the chief's
    /// cycles and co-sign its pulses (none goes out before a majority did), and vote a
    /// successor when the chief falls silent. 0 (the default here): a chief without failover.
    #[serde(skip_serializing_if = "is_zero")]
    pub root_backups: usize,
    /// Pulses a group's reports may be missing before the chief fails it over (SPEC §6.4).
    pub failover_timeout_pulses: u64,
    /// Term length (SPEC §6.3): at each multiple the chief seats every leaf committee by the
    /// election beacon; absent: one term for the whole run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub election_cycle_pulses: Option<u64>,
    /// Standby candidates per leaf group besides its committee (SPEC §6.3, D-035): each term
    /// the chief elects every leaf committee from its pool (committee + standbys) by the
    /// clients' balance-weighted votes and the beacon; elected standbys join by state
    /// transfer. Needs `backups > 0` and `election_cycle_pulses`. 0: committees are fixed.
    #[serde(skip_serializing_if = "is_zero")]
    pub standbys: usize,
    /// `election_pool_factor` (SPEC §6.3): the election pool is the most-voted eligible
    /// candidates, this many times the committee size.
    #[serde(skip_serializing_if = "is_default_pool_factor")]
    pub election_pool_factor: usize,
    /// `bookkeeper_deposit_min` (SPEC §6.3): candidates with a smaller frozen deposit are not
    /// eligible. Each candidate freezes `bookkeeper_deposit` (or this minimum if that is unset).
    #[serde(skip_serializing_if = "is_default_deposit_min")]
    pub bookkeeper_deposit_min: u64,
}

fn is_default_pool_factor(factor: &usize) -> bool {
    *factor == DEFAULT_POOL_FACTOR
}

fn is_default_deposit_min(deposit: &u64) -> bool {
    *deposit == DEFAULT_DEPOSIT_MIN
}

/// SPEC §15's `election_pool_factor`.
const DEFAULT_POOL_FACTOR: usize = 2;
/// SPEC §15's `bookkeeper_deposit_min`.
const DEFAULT_DEPOSIT_MIN: u64 = 1000;

impl Default for Parameters {
    fn default() -> Self {
        Parameters {
            pulse_ms: 1000,
            transfer_timeout_pulses: 4,
            max_attempts: 10,
            clock_drift_ppm: 0,
            versions_retained: 64,
            genesis_supply: 1_000_000_000_000,
            stratum_bits: 8,
            group_min_accounts: 16,
            heal_pulses_max: 10,
            bookkeeper_deposit: None,
            backups: 0,
            root_backups: 0,
            failover_timeout_pulses: 2,
            election_cycle_pulses: None,
            standbys: 0,
            election_pool_factor: DEFAULT_POOL_FACTOR,
            bookkeeper_deposit_min: DEFAULT_DEPOSIT_MIN,
        }
    }
}

/// A latency distribution, in milliseconds.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Latency {
    /// Always `ms`.
    Fixed {
        /// The latency.
        ms: u64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: u64,
        /// Upper bound.
        max_ms: u64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean.
        mean_ms: f64,
        /// Standard deviation.
        stddev_ms: f64,
    },
    /// Log-normal with the given median and shape `sigma`.
    Lognormal {
        /// Median.
        median_ms: f64,
        /// Shape (standard deviation of the log).
        sigma: f64,
    },
}

impl fmt::Display for Latency {
    /// The latency as a scenario writes it (a TOML inline table), for error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Latency::Fixed { ms } => write!(f, "{{ kind = \"fixed\", ms = {ms} }}"),
            Latency::Uniform { min_ms, max_ms } => {
                write!(f, "{{ kind = \"uniform\", min_ms = {min_ms}, max_ms = {max_ms} }}")
            }
            Latency::Normal { mean_ms, stddev_ms } => {
                write!(f, "{{ kind = \"normal\", mean_ms = {mean_ms}, stddev_ms = {stddev_ms} }}")
            }
            Latency::Lognormal { median_ms, sigma } => {
                write!(f, "{{ kind = \"lognormal\", median_ms = {median_ms}, sigma = {sigma} }}")
            }
        }
    }
}

impl Network {
    /// The longest one-way delay any link's latency distribution draws (without reordering or
    /// slow uplinks): the delay bound the timing-based checks allow for (L3, D-036).
    pub fn latency_max_ms(&self) -> u64 {
        let links = self.links.iter().map(|l| crate::network::Sampler::largest_ms(&l.latency));
        links.fold(crate::network::Sampler::largest_ms(&self.latency), u64::max)
    }
}

/// The network between nodes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Latency of every link without an override.
    pub latency: Latency,
    /// Probability that a message is lost.
    pub drop: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back (and so overtaken by later ones).
    pub reorder: f64,
    /// Extra delay of a held-back message: uniform in `[1, reorder_max_ms]`.
    pub reorder_max_ms: u64,
    /// Per-link latency overrides; the first matching one applies.
    pub links: Vec<LinkOverride>,
    /// Nodes whose uplink has limited bandwidth.
    pub slow_links: Vec<SlowLink>,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency: Latency::Lognormal { median_ms: 20.0, sigma: 0.5 },
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_max_ms: 200,
            links: Vec::new(),
            slow_links: Vec::new(),
        }
    }
}

/// A latency override for the links from `from` to `to`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Senders.
    pub from: NodeSet,
    /// Receivers.
    pub to: NodeSet,
    /// Their latency.
    pub latency: Latency,
}

/// Nodes whose outgoing messages share a limited uplink, one after the other.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlowLink {
    /// The nodes.
    pub nodes: NodeSet,
    /// Their uplink bandwidth.
    pub bandwidth_bytes_per_s: u64,
}

/// The transfers users ask for.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Mean transfer requests per second, over all clients (Poisson arrivals).
    pub transfers_per_s: f64,
    /// When requests start.
    pub start_ms: u64,
    /// When requests stop (default: 80% into the run, so that the tail can commit).
    pub stop_ms: Option<u64>,
    /// Which clients pay.
    pub payer: Popularity,
    /// Which clients are paid.
    pub payee: Popularity,
    /// How much.
    pub amount: Amount,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            transfers_per_s: 10.0,
            start_ms: 0,
            stop_ms: None,
            payer: Popularity::Uniform,
            payee: Popularity::Uniform,
            amount: Amount::Uniform { min: 1, max: 100 },
        }
    }
}

/// How clients are picked.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Popularity {
    /// Every client equally.
    Uniform,
    /// Client `k` (1-based) with weight `1 / k^exponent`.
    Zipf {
        /// The exponent (> 0).
        exponent: f64,
    },
}

/// Transfer amounts.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Amount {
    /// Always `value`.
    Fixed {
        /// The amount.
        value: u64,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound (≥ 1).
        min: u64,
        /// Upper bound.
        max: u64,
    },
}

/// Declared faults.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Network partitions.
    pub partitions: Vec<Partition>,
    /// Node crashes.
    pub crashes: Vec<Crash>,
    /// Random crash-restarts of clients.
    pub churn: Option<Churn>,
    /// Crashes of leaf groups' primaries (the members the term started with).
    pub primary_crashes: Vec<PrimaryCrash>,
}

/// The primaries of a fraction of the leaf groups crash at `at_ms` (chosen with the run's
/// fault stream) and, if `restart_at_ms` is given, come back then.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PrimaryCrash {
    /// Fraction of the leaf groups whose primary crashes (at least one group if > 0).
    pub groups: f64,
    /// When they crash.
    pub at_ms: u64,
    /// When they restart.
    pub restart_at_ms: Option<u64>,
    /// Whether they keep their volatile state (D-011).
    #[serde(default)]
    pub durable: bool,
}

/// A partition: from `at_ms` until `heal_at_ms`, messages between the two sides are lost.
/// One side is given by `side` (node set) or `prefix` (Id bits, e.g. `"01"`); the other side
/// is everyone else.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// Start.
    pub at_ms: u64,
    /// End (never, if absent).
    pub heal_at_ms: Option<u64>,
    /// One side, as nodes.
    pub side: Option<NodeSet>,
    /// One side, as the nodes whose Id starts with these bits.
    pub prefix: Option<String>,
}

/// Nodes that crash at `at_ms` and, if `restart_at_ms` is given, come back then.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// Which nodes.
    pub nodes: NodeSet,
    /// When they crash.
    pub at_ms: u64,
    /// When they restart.
    pub restart_at_ms: Option<u64>,
    /// Whether they keep their volatile state (see docs/decisions.md D-011).
    #[serde(default)]
    pub durable: bool,
}

/// Clients crash at random (Poisson) and restart after a uniform down time.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Mean crashes per minute over all clients.
    pub crashes_per_min: f64,
    /// Shortest down time.
    pub down_min_ms: u64,
    /// Longest down time.
    pub down_max_ms: u64,
    /// Whether restarted clients keep their volatile state.
    #[serde(default)]
    pub durable: bool,
}

/// Swarm mode: the seed picks a fault mix on top of the declared faults.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Swarm {
    /// Turn it on.
    pub enabled: bool,
}

/// Byzantine behaviour (SPEC §14).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Adversaries {
    /// Clients that sign a conflicting transfer with the nonce of each transfer they propose.
    pub double_spenders: Option<NodeSet>,
    /// Probability that a double spender doubles a given nonce.
    pub double_spend_probability: f64,
    /// Fraction of the leaf groups whose primary censors: it drops every submission from a
    /// censored payer (SPEC §14, censoring bookkeeper).
    pub censoring_groups: f64,
    /// Fraction of the clients a censoring primary censors (each client drawn once per run).
    pub censored_payers: f64,
    /// Fraction of the leaf groups whose primary reports a forged synopsis to the chief
    /// (SPEC §14, forged summary).
    pub forging_groups: f64,
    /// Fraction of the leaf groups whose primary sends the chief two different reports for
    /// each pulse (SPEC §14, equivocating bookkeeper).
    pub equivocating_groups: f64,
    /// Fraction of the backup seats held by the adversary that holds the forging primaries
    /// (SPEC §14, colluding committee): a colluding backup attests its forging primary's
    /// forged report instead of the one its replay built. Needs `parameters.backups > 0`.
    pub colluding_backups: f64,
    /// Fraction of each leaf group's standbys the adversary holds (SPEC §14, colluding
    /// committee through elections, D-035): seated as primary such a candidate forges its
    /// reports, seated as backup it attests its group's forged reports. Needs
    /// `parameters.standbys > 0`.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub forging_candidates: f64,
    /// Ballot stuffing (SPEC §14): each of the adversary's candidates gathers, on top of its
    /// votes, sybil ballots worth `ballot_stuffing − 1` times the votes an average candidate of
    /// its group got. 1 = none.
    #[serde(skip_serializing_if = "is_one")]
    pub ballot_stuffing: f64,
    /// Fraction of the leaf groups whose primary impersonates other bookkeepers while holding
    /// only its own keys (SPEC §14, D-039): it broadcasts a forged pulse in the chief's name at
    /// every pulse and a forged report in the next group's primary's name with each of its
    /// own. At least one primary when above 0; needs two leaf groups.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub impersonating_groups: f64,
}

fn is_zero_f64(value: &f64) -> bool {
    *value == 0.0
}

fn is_one(value: &f64) -> bool {
    *value == 1.0
}

impl Default for Adversaries {
    fn default() -> Self {
        Adversaries {
            double_spenders: None,
            double_spend_probability: 1.0,
            censoring_groups: 0.0,
            censored_payers: 1.0,
            forging_groups: 0.0,
            equivocating_groups: 0.0,
            colluding_backups: 0.0,
            forging_candidates: 0.0,
            ballot_stuffing: 1.0,
            impersonating_groups: 0.0,
        }
    }
}

/// The weight rule of `[governance]` (SPEC §3.6 `vote_weight`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VoteWeight {
    /// Every member weighs 1.
    OneMemberOneVote,
    /// A member weighs its trust score (`trust_honest` / `trust_sybil`, D-041).
    Trust,
    /// A member weighs its balance — not on the wire yet (D-041): refused by validation.
    Balance,
}

/// `[governance]`: one organization founded by client 1 (its supervisor), its members' and
/// guests' requests as signed messages to the root committee, and who attacks it (D-041).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Governance {
    /// When client 1 founds the organization.
    pub found_at_ms: u64,
    /// Clients `2..=founding_members` apply at founding and are approved (the first members).
    pub founding_members: u32,
    /// `vote_window_pulses`.
    pub vote_window_pulses: u64,
    /// `vote_quorum`: turnout must reach this share of the total weight.
    pub vote_quorum: f64,
    /// `vote_threshold`: yes must exceed this share of the votes cast.
    pub vote_threshold: f64,
    /// `vote_weight`.
    pub vote_weight: VoteWeight,
    /// `supervisor_absence_pulses`.
    pub supervisor_absence_pulses: u64,
    /// Guests' applications per second (after founding).
    pub applications_per_s: f64,
    /// Share of honest applications a member endorses.
    pub endorsed_share: f64,
    /// Share of unendorsed honest applications an honest supervisor approves (it approves every
    /// endorsed one).
    pub approve_unendorsed: f64,
    /// Proposals per second, each opened by a random member.
    pub proposals_per_s: f64,
    /// Share of members that vote on a proposal.
    pub turnout: f64,
    /// Share of honest voters that vote yes on an honest proposal.
    pub yes_share: f64,
    /// Trust score of an honest client under the `trust` rule (D-041: fixed until the credit
    /// model feeds it, issue 19).
    pub trust_honest: u64,
    /// Trust score of a sybil.
    pub trust_sybil: u64,
    /// Share of the clients that are sybils: they apply, endorse each other, and once members
    /// propose to expel honest members and vote as a bloc (ballot stuffing); each also votes a
    /// second time and forges a vote in an honest member's name.
    pub sybil_share: f64,
    /// The supervisor is hostile: it approves every sybil, rejects every honest applicant.
    pub hostile_supervisor: bool,
    /// From this time on the supervisor is silent: members propose to elect a new one once it
    /// was silent for `supervisor_absence_pulses`.
    pub supervisor_silent_from_ms: Option<u64>,
    /// The organization elects the leaf committees (D-044): the supervisor admits every pool
    /// candidate as a member, every client member casts a ballot each term (sybils for the
    /// adversary's standbys first), and the chief counts the ballots instead of the genesis
    /// standings. Needs `parameters.standbys > 0`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub elect_bookkeepers: bool,
    /// Structural rewards the supervisor proposes per second (SPEC §3.6), each of
    /// `reward_amount` to a random member (a hostile supervisor: to a sybil member first). A
    /// passed one is paid from the organization's account by the founder's node, which holds
    /// the organization's key, through the transfer flow (D-046).
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub rewards_per_s: f64,
    /// The amount of each structural reward.
    pub reward_amount: u64,
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            found_at_ms: 1_000,
            founding_members: 10,
            vote_window_pulses: 30,
            vote_quorum: 0.2,
            vote_threshold: 0.5,
            vote_weight: VoteWeight::OneMemberOneVote,
            supervisor_absence_pulses: 60,
            applications_per_s: 1.0,
            endorsed_share: 0.5,
            approve_unendorsed: 0.5,
            proposals_per_s: 0.1,
            turnout: 0.6,
            yes_share: 0.6,
            trust_honest: 10,
            trust_sybil: 1,
            sybil_share: 0.0,
            hostile_supervisor: false,
            supervisor_silent_from_ms: None,
            elect_bookkeepers: false,
            rewards_per_s: 0.0,
            reward_amount: 100,
        }
    }
}

/// Bounds on a run.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most events a run may process.
    pub max_events: u64,
    /// Most events that may be pending at once.
    pub max_queue: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_events: 2_000_000_000, max_queue: 50_000_000 }
    }
}

/// What a run writes besides the report.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Write the full event trace (`trace.jsonl`); also `--trace`.
    pub trace: bool,
}

/// `leither sweep`: the cartesian product of `parameters` × `seeds`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The seeds of each parameter combination.
    pub seeds: Vec<u64>,
    /// Dotted key → values, e.g. `"network.drop" = [0.0, 0.05]`.
    #[serde(default)]
    pub parameters: BTreeMap<String, Vec<toml::Value>>,
}

/// A set of nodes, written `"0"`, `"1-10,15"`, `"bookkeeper"`, `"clients"` or `"all"` (or a
/// bare node number, `3`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct NodeSet {
    text: String,
    ranges: Vec<(NodeIndex, NodeIndex)>,
    /// `clients` / `all` resolve against the node count at validation.
    symbolic: Option<Symbolic>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Symbolic {
    Clients,
    All,
}

impl TryFrom<String> for NodeSet {
    type Error = String;

    fn try_from(text: String) -> Result<NodeSet, String> {
        let symbolic = match text.trim() {
            "clients" => Some(Symbolic::Clients),
            "all" => Some(Symbolic::All),
            _ => None,
        };
        if symbolic.is_some() {
            return Ok(NodeSet { text, ranges: Vec::new(), symbolic });
        }
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            ranges.push(parse_range(part)?);
        }
        Ok(NodeSet { text, ranges, symbolic })
    }
}

fn parse_range(part: &str) -> Result<(NodeIndex, NodeIndex), String> {
    let expected = || format!("`{part}` is not a node, a range `a-b`, `bookkeeper`, `clients` or `all`");
    if part == "bookkeeper" {
        return Ok((0, 0));
    }
    let (low, high) = part.split_once('-').unwrap_or((part, part));
    let low: NodeIndex = low.trim().parse().map_err(|_| expected())?;
    let high: NodeIndex = high.trim().parse().map_err(|_| expected())?;
    if low > high {
        return Err(format!("range `{part}` is empty (start after end)"));
    }
    Ok((low, high))
}

impl<'de> Deserialize<'de> for NodeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<NodeSet, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NodeSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node set such as \"3\", \"1-10,15\", \"clients\" or \"all\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<NodeSet, E> {
                NodeSet::try_from(text.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, node: i64) -> Result<NodeSet, E> {
                match u32::try_from(node) {
                    Ok(node) => self.visit_str(&node.to_string()),
                    Err(_) => Err(E::custom(format!("{node} is not a node (nodes are 0, 1, 2, …)"))),
                }
            }
            fn visit_u64<E: serde::de::Error>(self, node: u64) -> Result<NodeSet, E> {
                self.visit_i64(i64::try_from(node).unwrap_or(-1))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl From<NodeSet> for String {
    fn from(set: NodeSet) -> String {
        set.text
    }
}

impl NodeSet {
    /// Its ranges of node indices, merged and sorted, given the number of clients; `Err` names
    /// the first index out of range. As many ranges as the text wrote at most, whatever they
    /// cover: `"1-1000000,1-1000000,…"` merges into one.
    pub fn ranges(&self, clients: u32) -> Result<Vec<(NodeIndex, NodeIndex)>, NodeIndex> {
        let mut ranges = match self.symbolic {
            Some(Symbolic::Clients) => vec![(1, clients)],
            Some(Symbolic::All) => vec![(0, clients)],
            None => self.ranges.clone(),
        };
        if let Some(&(_, high)) = ranges.iter().find(|(_, high)| *high > clients) {
            return Err(high);
        }
        ranges.sort_unstable();
        let mut merged: Vec<(NodeIndex, NodeIndex)> = Vec::with_capacity(ranges.len());
        for (low, high) in ranges {
            match merged.last_mut() {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => merged.push((low, high)),
            }
        }
        Ok(merged)
    }

    /// How many nodes it holds, without listing them.
    pub fn count(&self, clients: u32) -> Result<u64, NodeIndex> {
        Ok(self.ranges(clients)?.iter().map(|(low, high)| u64::from(high - low) + 1).sum())
    }

    /// The members, given the number of clients; `Err` names the first index out of range.
    pub fn resolve(&self, clients: u32) -> Result<Vec<NodeIndex>, NodeIndex> {
        Ok(self.ranges(clients)?.into_iter().flat_map(|(low, high)| low..=high).collect())
    }
}

impl fmt::Display for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

mod defaults {
    pub fn seed() -> u64 {
        1
    }
}

// ----- loading and validation -----------------------------------------------------------

/// Why a scenario could not be loaded. Messages name the file, the key and the line.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}: TOML syntax error: {message}", location(file, *line))]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// A key is unknown, missing or of the wrong type.
    #[error("{}: `{key}`: {message}", location(file, *line))]
    Schema {
        /// The file.
        file: PathBuf,
        /// 1-based line (0 if unknown, e.g. in a scenario changed by overrides).
        line: usize,
        /// Dotted key path.
        key: String,
        /// What was wrong.
        message: String,
    },
    /// A value is of the right type but not allowed.
    #[error("{file}: `{key}`: expected {expected}, got {got}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Dotted key path.
        key: String,
        /// What is allowed.
        expected: String,
        /// What the file says.
        got: String,
    },
}

/// `file:line`, or just `file` when the line is unknown.
fn location(file: &Path, line: usize) -> String {
    if line == 0 { file.display().to_string() } else { format!("{}:{line}", file.display()) }
}

impl Scenario {
    /// Read, parse and validate the scenario at `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&read(path)?, path)
    }

    /// Parse and validate scenario `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = deserialize(text, file)?;
        scenario.validate(file)?;
        Ok(scenario)
    }

    /// The scenario as TOML (what summaries and traces embed).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario always serializes")
    }

    /// Check every value against what the simulator can run.
    pub fn validate(&self, file: &Path) -> Result<(), ScenarioError> {
        validate::check(self, &invalid_in(file))
    }

    /// When every fault of the scenario has stopped, if they all do: the last partition heal,
    /// crash or restart. `None` when a fault never stops — loss, duplication, reordering, slow
    /// links, clock drift, churn, swarm mode, a partition that never heals, or Byzantine nodes —
    /// since L3 ("after faults stop") then does not apply.
    pub fn faults_stop_ms(&self) -> Option<u64> {
        let n = &self.network;
        let a = &self.adversaries;
        let persistent = n.drop > 0.0
            || n.duplicate > 0.0
            || n.reorder > 0.0
            || !n.slow_links.is_empty()
            || self.parameters.clock_drift_ppm > 0
            || self.faults.churn.is_some()
            || self.swarm.enabled
            || a.double_spenders.is_some()
            || a.censoring_groups > 0.0
            || a.forging_groups > 0.0
            || a.equivocating_groups > 0.0
            || a.colluding_backups > 0.0
            || a.forging_candidates > 0.0
            || a.impersonating_groups > 0.0;
        if persistent {
            return None;
        }
        let mut stop_ms = 0;
        for p in &self.faults.partitions {
            stop_ms = stop_ms.max(p.heal_at_ms?);
        }
        for c in &self.faults.crashes {
            stop_ms = stop_ms.max(c.restart_at_ms.unwrap_or(c.at_ms));
        }
        for c in &self.faults.primary_crashes {
            stop_ms = stop_ms.max(c.restart_at_ms.unwrap_or(c.at_ms));
        }
        Some(stop_ms)
    }

    /// The time requests stop.
    pub fn workload_stop_ms(&self) -> u64 {
        self.workload.stop_ms.unwrap_or(self.duration_ms / 10 * 8)
    }
}

/// One `key = value` change to a scenario: a sweep point's parameter, or `leither run --set`.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// Dotted key, e.g. `network.drop`.
    pub key: String,
    /// The value.
    pub value: toml::Value,
}

impl Override {
    /// Parse `KEY=VALUE`, the value written in TOML (`network.drop=0.05`,
    /// `nodes.signatures="ed25519"`).
    pub fn parse(text: &str) -> Result<Override, String> {
        let expected = || {
            format!(
                "`{text}`: expected KEY=VALUE with a TOML value, e.g. network.drop=0.05 or nodes.signatures=\"ed25519\""
            )
        };
        let (key, value) = text.split_once('=').ok_or_else(expected)?;
        let document: toml::Table = toml::from_str(&format!("value = {value}")).map_err(|_| expected())?;
        let value = document.get("value").cloned().ok_or_else(expected)?;
        Ok(Override { key: key.trim().to_string(), value })
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl Scenario {
    /// Parse scenario `text`, apply `overrides` (which must name keys of the schema), and
    /// validate. `origin` says where the overrides come from in errors (`--set`,
    /// `sweep.parameters`); `drop_sweep` removes the `[sweep]` table (for sweep points).
    pub fn parse_with_overrides(
        text: &str,
        file: &Path,
        overrides: &[Override],
        origin: &str,
        drop_sweep: bool,
    ) -> Result<Scenario, ScenarioError> {
        with_overrides(text, file, overrides, origin, drop_sweep, Scenario::parse)
    }
}

/// Parse `text` with `parse`, apply `overrides` (dotted keys of the schema) and parse again, so
/// that every override is validated like the file; `drop_sweep` removes the `[sweep]` table.
/// Shared by the protocol scenarios and the credit scenarios (`crate::credit`).
pub(crate) fn with_overrides<T>(
    text: &str,
    file: &Path,
    overrides: &[Override],
    origin: &str,
    drop_sweep: bool,
    parse: impl Fn(&str, &Path) -> Result<T, ScenarioError>,
) -> Result<T, ScenarioError> {
    if overrides.is_empty() && !drop_sweep {
        return parse(text, file);
    }
    parse(text, file)?; // report errors of the file itself with their lines
    let mut table = strict_table(text, file)?;
    if drop_sweep {
        table.remove("sweep");
    }
    for o in overrides {
        set_dotted(&mut table, &o.key, o.value.clone()).map_err(|expected| ScenarioError::Invalid {
            file: file.to_path_buf(),
            key: format!("{origin} {}", o.key),
            expected,
            got: o.value.to_string(),
        })?;
    }
    let label = overrides.iter().map(Override::to_string).collect::<Vec<_>>().join(", ");
    let changed = PathBuf::from(format!("{} [{origin} {label}]", file.display()));
    // Lines of the regenerated text mean nothing to the user: the file names the overrides.
    parse(&toml::to_string(&table).expect("a TOML table serializes"), &changed).map_err(|error| match error {
        ScenarioError::Schema { file, key, message, .. } => {
            ScenarioError::Schema { file, line: 0, key, message }
        }
        other => other,
    })
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|l| !l.is_empty()).ok_or("a dotted key such as network.drop")?;
    let mut current = table;
    for part in parts {
        let entry = current.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| format!("`{part}` to be a table in a dotted key"))?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

/// What a scenario file describes: the transfer protocol, or the credit model (`kind = "credit"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A protocol scenario (no top-level `kind`).
    Protocol,
    /// A credit scenario.
    Credit,
}

/// What `kind` must say, in every message about it.
pub(crate) const KIND_EXPECTED: &str = "\"credit\" (a credit scenario; a protocol scenario has no `kind`)";

impl Kind {
    /// Which kind of scenario `text` is: a syntax error, or a `kind` that is not `"credit"`, is
    /// reported as such rather than as some unknown key of the other kind.
    pub fn detect(text: &str, file: &Path) -> Result<Kind, ScenarioError> {
        let table = strict_table(text, file)?;
        match table.get("kind") {
            None => Ok(Kind::Protocol),
            Some(toml::Value::String(kind)) if kind == "credit" => Ok(Kind::Credit),
            Some(other) => Err(ScenarioError::Invalid {
                file: file.to_path_buf(),
                key: "kind".into(),
                expected: KIND_EXPECTED.into(),
                got: other.to_string(),
            }),
        }
    }
}

/// The file as a TOML table, by the TOML rules: integers are 64-bit signed, so one above
/// `i64::MAX` is an error here (with its line) even where the key is a `u64`.
pub(crate) fn strict_table(text: &str, file: &Path) -> Result<toml::Table, ScenarioError> {
    toml::from_str::<toml::Table>(text).map_err(|error| ScenarioError::Syntax {
        file: file.to_path_buf(),
        line: line_of(text, error.span()),
        message: syntax_language(error.message()),
    })
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    span.map_or(0, |span| text[..span.start.min(text.len())].matches('\n').count() + 1)
}

/// A TOML parser message, with the integer-range ones said in TOML's terms.
fn syntax_language(message: &str) -> String {
    if message.contains("value was too large") || message.contains(" as i128") {
        return format!("an integer above {} (TOML integers are 64-bit signed)", i64::MAX);
    }
    message.to_string()
}

/// A serde message in the scenario's terms: TOML types and tables, never Rust types.
pub(crate) fn scenario_language(message: &str) -> String {
    let mut out = message.replace(" as i128", "");
    for (named, said) in [
        ("expected struct ", "expected a table"),
        ("expected internally tagged enum ", "expected an inline table with `kind`"),
    ] {
        while let Some(start) = out.find(named) {
            let rest = &out[start + named.len()..];
            let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(rest.len());
            out.replace_range(start..start + named.len() + name_len, said);
        }
    }
    for (rust, toml) in [
        ("expected u64", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected u32", "expected an integer in 0 ..= 4294967295"),
        ("expected u8", "expected an integer in 0 ..= 255"),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("invalid type: sequence", "invalid type: array"),
        ("invalid type: map", "invalid type: table"),
    ] {
        out = out.replace(rust, toml);
    }
    out
}

/// Deserialize a TOML document into `T`, errors naming the file, the key path and the line.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned + Serialize>(
    text: &str,
    file: &Path,
) -> Result<T, ScenarioError> {
    let table = strict_table(text, file)?;
    let value = deserialize_schema(text, file)?;
    sections_are_tables(&table, &value, file)?;
    Ok(value)
}

/// serde reads a struct from an array too (`nodes = [40]` as `clients = 40`): refuse a section
/// that the schema writes as a table but the file gives as an array.
fn sections_are_tables<T: Serialize>(
    table: &toml::Table,
    value: &T,
    file: &Path,
) -> Result<(), ScenarioError> {
    let Ok(toml::Value::Table(schema)) = toml::Value::try_from(value) else { return Ok(()) };
    for (key, given) in table {
        if given.is_array() && schema.get(key).is_some_and(toml::Value::is_table) {
            return Err(ScenarioError::Schema {
                file: file.to_path_buf(),
                line: 0,
                key: key.clone(),
                message: format!("invalid type: array, expected a table ([{key}])"),
            });
        }
    }
    Ok(())
}

/// Any TOML file into `T`, with errors naming the file, the line and the dotted key (the host
/// reads its node files with it too).
pub fn deserialize_schema<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &Path,
) -> Result<T, ScenarioError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|error| ScenarioError::Syntax {
        file: file.to_path_buf(),
        line: line_of(text, error.span()),
        message: syntax_language(error.message()),
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let key = match error.path().to_string() {
            root if root == "." => "(top level)".to_string(),
            key => key,
        };
        let inner = error.into_inner();
        ScenarioError::Schema {
            file: file.to_path_buf(),
            line: line_of(text, inner.span()),
            key,
            message: scenario_language(inner.message()),
        }
    })
}

pub(crate) mod validate;

/// A scenario file's text, or an error naming the file. Both scenario kinds read through it.
pub(crate) fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: path.to_path_buf(), source })
}

/// How both scenario kinds' checks report an invalid value of `file`: the key, what was
/// expected, what was found.
pub(crate) fn invalid_in(file: &Path) -> impl Fn(&str, &str, String) -> ScenarioError + '_ {
    move |key: &str, expected: &str, got: String| ScenarioError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        expected: expected.to_string(),
        got,
    }
}
