//! What a credit run measured: `summary.json` and the per-update series. Deterministic
//! functions of (scenario, seed, commit).

use serde::{Deserialize, Serialize};

use super::scenario::CreditScenario;

/// The summary format this build writes.
pub const CREDIT_SUMMARY_FORMAT: &str = "leither-credit-summary/1";

/// Everything a credit run measured.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CreditSummary {
    /// [`CREDIT_SUMMARY_FORMAT`].
    pub format: String,
    /// Scenario name.
    pub scenario_name: String,
    /// The seed.
    pub seed: u64,
    /// The commit of the simulator.
    pub commit: String,
    /// Pulses simulated.
    pub pulses: u64,
    /// Identities at genesis, and how many rejoined under a new Id (whitewashing).
    pub identities: Identities,
    /// Services asked for, served and refused.
    pub service: Service,
    /// IOUs defaulted and value lost.
    pub defaults: Defaults,
    /// The ledger side: settlements moved through `reference::ledger`.
    pub settlement: Settlement,
    /// The trust ranking's quality and cost.
    pub trust: TrustQuality,
    /// Bookkeeper seats by term.
    pub seats: Seats,
    /// I1, I2 (each sealed settlement version) and I12 (every pulse) evaluations, all passed.
    pub invariant_checks: u64,
    /// The effective scenario.
    pub scenario: CreditScenario,
}

/// Identities.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Identities {
    /// Honest members.
    pub honest: u64,
    /// Adversarial identities at genesis (free riders, whitewashers, sybils, malicious, spies).
    pub adversarial: u64,
    /// New identities taken by whitewashers.
    pub rejoined: u64,
    /// Relations formed by signed invitations and acceptances (SPEC §2.1).
    pub relations: u64,
    /// Letters of credit granted (each relation grants two).
    pub lines_granted: u64,
}

/// Service requests and their outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Service {
    /// Requests made.
    pub requests: u64,
    /// Served on a direct line.
    pub served_direct: u64,
    /// Served through intermediaries (SPEC §2.6).
    pub served_routed: u64,
    /// Refused: a live direct line exists but lacks the capacity, and no path has it.
    pub refused_over_cap: u64,
    /// Refused: the direct line was revoked after a default and no path has the capacity.
    pub refused_revoked: u64,
    /// Refused: no line and no path of at most `credit_max_hops` with the capacity.
    pub refused_no_route: u64,
    /// Refused requests ÷ requests: the settlement failure rate.
    pub settlement_failure_rate: f64,
    /// Mean lines per served request.
    pub mean_hops: f64,
    /// Base units served to consumers.
    pub value_served: u64,
    /// Base units of credit honest lenders extended (a routed service extends credit on
    /// every hop; credit among colluders is not counted).
    pub credit_extended: u64,
    /// Mean cap of the live lines at the end of the run (liquidity).
    pub mean_live_cap: f64,
}

/// Defaults (SPEC §2.5) on honest lenders' lines: what colluders fail to repay each other is
/// nobody's loss.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Defaults {
    /// Honest lenders' lines that carried an IOU at some point (bills).
    pub bills: u64,
    /// Lines that defaulted.
    pub defaulted: u64,
    /// `defaulted ÷ bills`.
    pub defaulted_bill_fraction: f64,
    /// Base units owed on lines when they defaulted, less what was paid on them later.
    pub value_lost: u64,
    /// `value_lost ÷ credit_extended`.
    pub value_lost_fraction: f64,
    /// Value lost to each borrower class: honest, free riders, whitewashers, sybils,
    /// malicious, spies.
    pub value_lost_by_class: [u64; 6],
    /// Defaults by borrower class (same order).
    pub defaulted_by_class: [u64; 6],
}

/// Settlement through the ledger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settlement {
    /// Transfers applied (each double-signed, SPEC §7.2).
    pub transfers: u64,
    /// Base units paid.
    pub value_settled: u64,
    /// Settlements the ledger refused (insufficient spendable balance).
    pub refused: u64,
    /// Versions sealed.
    pub versions: u64,
}

/// Trust ranking quality, measured at every trust update over the active identities.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrustQuality {
    /// The model.
    pub model: String,
    /// Updates computed.
    pub updates: u64,
    /// Mean iterations per update (SybilRank: its fixed steps; max-flow: 0).
    pub mean_iterations: f64,
    /// Largest final L1 change of an update.
    pub max_residual: f64,
    /// AUC of honest against sybil scores, mean over updates (absent without sybils).
    pub auc_honest_vs_sybil: Option<f64>,
    /// The same at the last update.
    pub auc_honest_vs_sybil_final: Option<f64>,
    /// AUC of honest against all adversarial identities, mean over updates.
    pub auc_honest_vs_adversary: Option<f64>,
    /// Fraction honest among the identities a cut at the honest count accepts, mean.
    pub precision_at_honest: f64,
    /// Sybils that cut accepts, mean over updates.
    pub accepted_sybils: f64,
    /// `accepted_sybils ÷ attack_edges` (absent without attack edges).
    pub accepted_sybils_per_attack_edge: Option<f64>,
    /// Value lost to sybil borrowers ÷ attack edges.
    pub credit_lost_per_attack_edge: Option<f64>,
}

/// Bookkeeper seats (SPEC §6.3) over the terms.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Seats {
    /// Terms elected.
    pub terms: u64,
    /// Terms whose election could not fill every seat.
    pub failed_elections: u64,
    /// Seats filled per term.
    pub seats_per_term: u64,
    /// Fraction of seats held by adversarial identities, mean over terms.
    pub adversary_seat_fraction: f64,
    /// The most any term gave them.
    pub adversary_seat_fraction_max: f64,
    /// Fraction of seats held by sybils, mean over terms.
    pub sybil_seat_fraction: f64,
}

/// One row of `timeseries.csv`: the state at a trust update.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UpdateRow {
    /// Pulse of the update.
    pub pulse: u64,
    /// Active identities.
    pub active: u64,
    /// Live lines.
    pub live_lines: u64,
    /// Iterations of this update.
    pub iterations: u64,
    /// AUC honest vs sybil.
    pub auc_honest_vs_sybil: Option<f64>,
    /// AUC honest vs adversary.
    pub auc_honest_vs_adversary: Option<f64>,
    /// Precision of the cut at the honest count.
    pub precision_at_honest: f64,
    /// Sybils accepted by that cut.
    pub accepted_sybils: f64,
    /// Requests so far.
    pub requests: u64,
    /// Refused so far.
    pub refused: u64,
    /// Defaults so far.
    pub defaulted: u64,
    /// Value lost so far.
    pub value_lost: u64,
    /// Adversarial seat fraction of the latest term (absent before the first).
    pub adversary_seat_fraction: Option<f64>,
}

/// A run's result.
#[derive(Clone, Debug, PartialEq)]
pub struct CreditRunResult {
    /// The summary.
    pub summary: CreditSummary,
    /// One row per trust update.
    pub series: Vec<UpdateRow>,
}

impl CreditSummary {
    /// The value of a named metric (the names of `scenario::OBJECTIVE_METRICS`, and
    /// `mean_iterations`); `None`
    /// where the run has no such figure (e.g. sybil metrics without sybils).
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "defaulted_bill_fraction" => Some(self.defaults.defaulted_bill_fraction),
            "value_lost_fraction" => Some(self.defaults.value_lost_fraction),
            "settlement_failure_rate" => Some(self.service.settlement_failure_rate),
            "accepted_sybils_per_attack_edge" => self.trust.accepted_sybils_per_attack_edge,
            "credit_lost_per_attack_edge" => self.trust.credit_lost_per_attack_edge,
            "auc_honest_vs_sybil" => self.trust.auc_honest_vs_sybil,
            "auc_honest_vs_adversary" => self.trust.auc_honest_vs_adversary,
            "precision_at_honest" => Some(self.trust.precision_at_honest),
            "adversary_seat_fraction" => (self.seats.terms > 0).then_some(self.seats.adversary_seat_fraction),
            "mean_iterations" => Some(self.trust.mean_iterations),
            _ => None,
        }
    }
}
