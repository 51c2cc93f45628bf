//! The SPEC §13 invariants as predicates.
//!
//! Each predicate returns `Ok(())` or a [`Violation`] naming the invariant, its SPEC line and
//! what was seen. The same predicates serve the property tests, the stateright models and the
//! simulator (which calls them after every event), so "the invariant" means one piece of code
//! everywhere. Stateful invariants (I5, I7) are monitors that observe a history.
//!
//! Implemented: I1–I12, L1 and L3 (L2 arrives with disputes). The rest arrive with the layers they are about.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::id::Id;
use crate::smt::{Account, Synopsis, Version, VersionedSmt};

/// The invariants of SPEC §13.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[non_exhaustive]
pub enum Invariant {
    /// I1 Conservation.
    Conservation,
    /// I2 Non-negativity.
    NonNegativity,
    /// I3 Truthful intention.
    TruthfulIntention,
    /// I4 Atomicity.
    Atomicity,
    /// I5 No double spend.
    NoDoubleSpend,
    /// I6 Agreement.
    Agreement,
    /// I7 Immutability.
    Immutability,
    /// I8 Proof soundness.
    ProofSoundness,
    /// I9 One chief per term.
    OneChief,
    /// I10 Governance.
    Governance,
    /// I11 Capacity.
    Capacity,
    /// I12 Credit.
    Credit,
    /// L1 Commit within 2 pulses.
    Commit,
    /// L3 Heal.
    Heal,
}

impl Invariant {
    /// The SPEC's short name, e.g. `I1`.
    pub fn code(&self) -> &'static str {
        match self {
            Invariant::Conservation => "I1",
            Invariant::NonNegativity => "I2",
            Invariant::TruthfulIntention => "I3",
            Invariant::Atomicity => "I4",
            Invariant::NoDoubleSpend => "I5",
            Invariant::Agreement => "I6",
            Invariant::Immutability => "I7",
            Invariant::ProofSoundness => "I8",
            Invariant::OneChief => "I9",
            Invariant::Governance => "I10",
            Invariant::Capacity => "I11",
            Invariant::Credit => "I12",
            Invariant::Commit => "L1",
            Invariant::Heal => "L3",
        }
    }

    /// The SPEC §13 statement.
    pub fn statement(&self) -> &'static str {
        match self {
            Invariant::Conservation => "every sealed version's root supply (§4.3) equals the genesis supply",
            Invariant::NonNegativity => "no balance underflows; frozen ≤ balance for every account",
            Invariant::TruthfulIntention => "every applied tx carries both valid signatures",
            Invariant::Atomicity => {
                "every debit half is eventually matched by its credit half or reversed; never both \
                 matched and reversed; no credit half is ever matched without its debit half"
            }
            Invariant::NoDoubleSpend => "each (from, nonce) is applied at most once",
            Invariant::Agreement => "honest nodes holding a root synopsis for ts hold the same one",
            Invariant::Immutability => "a sealed version never changes; ts never decreases at an honest node",
            Invariant::ProofSoundness => "a proof verifies iff the account is in that version",
            Invariant::Capacity => {
                "per version, a bookkeeper processes no more than its frozen deposit covers"
            }
            Invariant::OneChief => "one chief per term as seen by honest nodes",
            Invariant::Credit => "no IOU exceeds its letter-of-credit cap",
            Invariant::Commit => {
                "with honest committees and bounded delay, a valid tx commits within 2 pulses"
            }
            Invariant::Heal => "after faults stop, honest nodes converge on one ts within heal_pulses_max",
            Invariant::Governance => {
                "only approved applicants become members; guests never vote; a proposal passes iff quorum \
                 and threshold hold; no voter's votes exceed its weight"
            }
        }
    }
}

/// A broken invariant: which one, and what was seen.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violation {
    /// The invariant.
    pub invariant: Invariant,
    /// What was observed, with the values involved.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated ({}): {}", self.invariant.code(), self.invariant.statement(), self.detail)
    }
}

impl std::error::Error for Violation {}

fn violation(invariant: Invariant, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

/// I1 (SPEC §13, §4.3): the root supply of sealed `version` is `genesis_supply`.
/// O(1): the root summary already holds the sums.
pub fn conservation(tree: &VersionedSmt, version: Version, genesis_supply: u64) -> Result<(), Violation> {
    let root = match tree.root(version) {
        Ok(root) => root,
        Err(error) => return violation(Invariant::Conservation, error.to_string()),
    };
    let supply = root.synopsis.summary.supply();
    if supply != i128::from(genesis_supply) {
        return violation(
            Invariant::Conservation,
            format!("version {version} holds supply {supply}, genesis supply is {genesis_supply}"),
        );
    }
    Ok(())
}

/// I2 (SPEC §13) for one account: `frozen ≤ balance`, and the unconfirmed credits stay
/// reversible: `frozen + pending_in ≤ balance` (docs/decisions.md D-002).
pub fn account_non_negative(id: &Id, account: &Account) -> Result<(), Violation> {
    let locked = u128::from(account.frozen) + u128::from(account.pending_in);
    if u128::from(account.balance) < locked {
        return violation(
            Invariant::NonNegativity,
            format!(
                "account {id}: balance {} < frozen {} + pending_in {}",
                account.balance, account.frozen, account.pending_in
            ),
        );
    }
    Ok(())
}

/// I2 (SPEC §13) for every account of `version`. O(accounts): for tests and periodic checks;
/// the simulator checks the accounts each event touched with [`account_non_negative`].
pub fn non_negativity(tree: &VersionedSmt, version: Version) -> Result<(), Violation> {
    let accounts = match tree.iter(version) {
        Ok(accounts) => accounts,
        Err(error) => return violation(Invariant::NonNegativity, error.to_string()),
    };
    for (id, account) in accounts {
        account_non_negative(&id, &account)?;
    }
    Ok(())
}

/// I8 (SPEC §13, §4.6): the proof the tree gives for `id` in `version` verifies against that
/// version's root, and says exactly what a direct read says.
pub fn proof_soundness(tree: &VersionedSmt, version: Version, id: &Id) -> Result<(), Violation> {
    let checked = tree.root(version).and_then(|root| {
        let proof = tree.prove(version, id)?;
        Ok((proof.verify(&root), tree.get(version, id)?))
    });
    match checked {
        Err(error) => violation(Invariant::ProofSoundness, error.to_string()),
        Ok((Err(error), _)) => violation(
            Invariant::ProofSoundness,
            format!("proof of {id} in version {version} does not verify: {error}"),
        ),
        Ok((Ok(proved), read)) if proved != read => violation(
            Invariant::ProofSoundness,
            format!("proof of {id} in version {version} shows {proved:?}, the tree holds {read:?}"),
        ),
        Ok(_) => Ok(()),
    }
}

/// I6 (SPEC §13): a node holds, for `version`, the same root synopsis as the one sealed for it
/// (`canonical`, e.g. what the bookkeeper sealed, or what another honest node holds).
pub fn agreement(version: Version, held: &Synopsis, canonical: &Synopsis) -> Result<(), Violation> {
    if held == canonical {
        return Ok(());
    }
    violation(
        Invariant::Agreement,
        format!("ts {version}: a node holds root {} but {} was sealed", held.hash, canonical.hash),
    )
}

/// I1 at the root (SPEC §13, §4.3, D-023): the supply of a root synopsis over the groups'
/// sealed subtrees is the genesis supply.
pub fn root_conservation(root: &crate::smt::RootSynopsis, genesis_supply: u64) -> Result<(), Violation> {
    let supply = root.synopsis.summary.supply();
    if supply != i128::from(genesis_supply) {
        return violation(
            Invariant::Conservation,
            format!("root ts {} holds supply {supply}, genesis supply is {genesis_supply}", root.version),
        );
    }
    Ok(())
}

/// I9 (SPEC §13, §6.3–§6.4): every term names one chief across the honest nodes' views
/// `(term, chief)`.
pub fn one_chief_per_term(views: &[(u64, Id)]) -> Result<(), Violation> {
    let mut chiefs: BTreeMap<u64, Id> = BTreeMap::new();
    for (term, chief) in views {
        match chiefs.insert(*term, *chief) {
            Some(other) if other != *chief => {
                return violation(Invariant::OneChief, format!("term {term} has chiefs {other} and {chief}"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The L1 bound of the node protocol (SPEC §7.4, D-025): 2 pulses, plus the 3 message delays
/// of the worst case — a transfer reaching its group just after the group's `Settle` waits for
/// the next one, and the commit needs the chief's next `Settle` and the notification to arrive.
pub fn commit_bound_ms(pulse_ms: u64, hop_delay_max_ms: u64) -> u64 {
    2 * pulse_ms + 3 * hop_delay_max_ms
}

/// L1 (SPEC §13, §7.4): a transfer started `latency_ms` before its commit committed within
/// [`commit_bound_ms`].
pub fn commit_within_bound(latency_ms: u64, pulse_ms: u64, hop_delay_max_ms: u64) -> Result<(), Violation> {
    let bound = commit_bound_ms(pulse_ms, hop_delay_max_ms);
    if latency_ms > bound {
        return violation(Invariant::Commit, format!("committed after {latency_ms} ms, bound {bound} ms"));
    }
    Ok(())
}

/// L3 (SPEC §13): the honest nodes' held ts values, `heal_pulses_max` after the last fault
/// stopped, are all one.
pub fn healed(held_ts: impl IntoIterator<Item = (usize, Version)>) -> Result<(), Violation> {
    let mut first: Option<(usize, Version)> = None;
    for (node, ts) in held_ts {
        match first {
            None => first = Some((node, ts)),
            Some((other, other_ts)) if other_ts != ts => {
                return violation(
                    Invariant::Heal,
                    format!("node {other} holds ts {other_ts} but node {node} holds ts {ts}"),
                );
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// L3 (SPEC §13) over a network whose one-way delay is bounded (D-036): `heal_pulses_max` after
/// the last fault stopped, every honest node holds at least `required` — the newest ts the chief
/// released at least one delay bound ago, which every node must have received by now. When the
/// bound is under a pulse this is [`healed`]'s "all one ts" at the end of a pulse; when it is
/// longer, later pulses are in flight and nodes a ts or more apart are only waiting for them.
pub fn healed_by(
    held_ts: impl IntoIterator<Item = (usize, Version)>,
    required: Version,
) -> Result<(), Violation> {
    for (node, ts) in held_ts {
        if ts < required {
            return violation(
                Invariant::Heal,
                format!(
                    "node {node} holds ts {ts} but ts {required} was released longer ago than the \
                     network's delay bound"
                ),
            );
        }
    }
    Ok(())
}

/// I12 (SPEC §13, §2.3): every IOU is within its letter-of-credit cap — for a revoked line,
/// within the cap it had when it was revoked (the default sets the cap to 0, the debt stays).
pub fn credit_caps(book: &crate::credit::line::CreditBook) -> Result<(), Violation> {
    for ((lender, borrower), line) in book.lines() {
        let cap = line.revoked_cap.unwrap_or(line.cap);
        if line.owed > cap {
            return violation(
                Invariant::Credit,
                format!("{borrower} owes {lender} {} past the cap {cap}", line.owed),
            );
        }
    }
    Ok(())
}

/// What happened to one half of a cross-group transfer, as the I4 monitor sees it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum HalfStep {
    /// The half was applied in its group.
    Applied(crate::ledger::Half),
    /// The half was settled (cleared or reversed) in its group.
    Settled(crate::ledger::Half, crate::ledger::Settlement),
}

/// The life of one transfer's halves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
struct HalfLife {
    debit_applied: bool,
    credit_applied: bool,
    debit_settled: Option<crate::ledger::Settlement>,
    credit_settled: Option<crate::ledger::Settlement>,
}

/// I4 (SPEC §13, §7.3): follows every cross-group transfer's halves and reports a half applied
/// or settled twice, a half cleared that was never applied, a cleared credit whose debit was
/// never applied, and a transfer with one half cleared and the other reversed. The liveness
/// part ("eventually matched or reversed") is [`AtomicityMonitor::unsettled`], for a driver to
/// judge after faults stop.
#[derive(Clone, Debug, Default)]
pub struct AtomicityMonitor {
    transfers: BTreeMap<crate::crypto::Hash32, HalfLife>,
}

impl AtomicityMonitor {
    /// An empty history.
    pub fn new() -> AtomicityMonitor {
        AtomicityMonitor::default()
    }

    /// Record `step` of transfer `tx_id`.
    pub fn observe(&mut self, tx_id: crate::crypto::Hash32, step: HalfStep) -> Result<(), Violation> {
        use crate::ledger::{Half, Settlement};
        let life = self.transfers.entry(tx_id).or_default();
        let fail = |what: &str| violation(Invariant::Atomicity, format!("transfer {tx_id}: {what}"));
        match step {
            HalfStep::Applied(half) => {
                let applied = match half {
                    Half::Debit => &mut life.debit_applied,
                    Half::Credit => &mut life.credit_applied,
                };
                if std::mem::replace(applied, true) {
                    return fail(&format!("{half:?} half applied twice"));
                }
            }
            HalfStep::Settled(half, how) => {
                let (applied, settled) = match half {
                    Half::Debit => (life.debit_applied, &mut life.debit_settled),
                    Half::Credit => (life.credit_applied, &mut life.credit_settled),
                };
                if !applied {
                    return fail(&format!("{half:?} half settled ({how:?}) but never applied"));
                }
                if settled.replace(how).is_some() {
                    return fail(&format!("{half:?} half settled twice"));
                }
                if how == Settlement::Clear && half == Half::Credit && !life.debit_applied {
                    return fail("credit half matched without a debit half");
                }
                let mixed = matches!(
                    (life.debit_settled, life.credit_settled),
                    (Some(Settlement::Clear), Some(Settlement::Reverse))
                        | (Some(Settlement::Reverse), Some(Settlement::Clear))
                );
                if mixed {
                    return fail("one half cleared and the other reversed");
                }
            }
        }
        Ok(())
    }

    /// Transfers with an applied half not yet settled.
    pub fn unsettled(&self) -> usize {
        self.transfers
            .values()
            .filter(|l| {
                (l.debit_applied && l.debit_settled.is_none())
                    || (l.credit_applied && l.credit_settled.is_none())
            })
            .count()
    }
}

/// I5 (SPEC §13): remembers every applied `(from, nonce)` and reports a second application.
#[derive(Clone, Debug, Default)]
pub struct DoubleSpendMonitor {
    applied: BTreeSet<(Id, u64)>,
}

impl DoubleSpendMonitor {
    /// An empty history.
    pub fn new() -> DoubleSpendMonitor {
        DoubleSpendMonitor::default()
    }

    /// Record that `(from, nonce)` was applied.
    pub fn observe(&mut self, from: Id, nonce: u64) -> Result<(), Violation> {
        if !self.applied.insert((from, nonce)) {
            return violation(
                Invariant::NoDoubleSpend,
                format!("({from}, nonce {nonce}) applied a second time"),
            );
        }
        Ok(())
    }

    /// Number of distinct `(from, nonce)` pairs applied.
    pub fn len(&self) -> usize {
        self.applied.len()
    }

    /// Whether nothing was applied yet.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }
}

/// I7 (SPEC §13): remembers the root synopsis of every sealed version it has seen and the
/// highest ts; reports a held version whose root changed, or a ts that went back.
#[derive(Clone, Debug, Default)]
pub struct ImmutabilityMonitor {
    roots: BTreeMap<Version, Synopsis>,
    highest: Option<Version>,
}

impl ImmutabilityMonitor {
    /// An empty history.
    pub fn new() -> ImmutabilityMonitor {
        ImmutabilityMonitor::default()
    }

    /// Check the tree against the history, then record its latest version. Checks every
    /// remembered version the tree still holds; pruned versions are forgotten.
    pub fn observe(&mut self, tree: &VersionedSmt) -> Result<(), Violation> {
        let latest = tree.latest_version();
        if let Some(highest) = self.highest
            && latest < highest
        {
            return violation(Invariant::Immutability, format!("ts went back from {highest} to {latest}"));
        }
        self.roots.retain(|version, _| *version >= tree.oldest_version());
        for (version, remembered) in &self.roots {
            match tree.root(*version) {
                Ok(root) if root.synopsis == *remembered => {}
                Ok(root) => {
                    return violation(
                        Invariant::Immutability,
                        format!(
                            "version {version} changed: root {} became {}",
                            remembered.hash, root.synopsis.hash
                        ),
                    );
                }
                Err(error) => {
                    return violation(Invariant::Immutability, format!("version {version}: {error}"));
                }
            }
        }
        if let Ok(root) = tree.root(latest) {
            self.roots.insert(latest, root.synopsis);
        }
        self.highest = Some(latest);
        Ok(())
    }

    /// Record a root synopsis received for `version` (e.g. from a peer) without a tree, and
    /// report it if it differs from one already recorded for that version.
    pub fn observe_root(&mut self, version: Version, synopsis: Synopsis) -> Result<(), Violation> {
        match self.roots.get(&version) {
            Some(remembered) if *remembered != synopsis => violation(
                Invariant::Immutability,
                format!("version {version} changed: root {} became {}", remembered.hash, synopsis.hash),
            ),
            _ => {
                self.roots.insert(version, synopsis);
                self.highest = self.highest.max(Some(version));
                Ok(())
            }
        }
    }
}

/// I10 (SPEC §13, §3.4–§3.6): every member was admitted (founded, approved or earned by task);
/// every voter was admitted (guests never vote); every closed proposal's tally is the sum of its
/// recorded votes, each voter counted once with its weight; and it passed iff quorum and
/// threshold hold for that tally under the parameters it was decided with.
pub fn governance(org: &crate::org::Organization) -> Result<(), Violation> {
    use crate::org::{passes_quorum, passes_threshold};
    if let Some(id) = org.members().keys().find(|id| !org.admitted().contains(id)) {
        return violation(Invariant::Governance, format!("{id} is a member but was never admitted"));
    }
    for (number, proposal) in org.proposals() {
        if let Some(voter) = proposal.votes.keys().find(|id| !org.admitted().contains(id)) {
            return violation(Invariant::Governance, format!("proposal {number}: guest {voter} voted"));
        }
        let Some(outcome) = proposal.outcome else { continue };
        let sum = |yes: bool| proposal.votes.values().filter(|v| v.yes == yes).map(|v| v.weight).sum::<u64>();
        if (outcome.yes, outcome.no) != (sum(true), sum(false)) {
            return violation(
                Invariant::Governance,
                format!(
                    "proposal {number}: tally {}/{} is not the votes' {}/{}",
                    outcome.yes,
                    outcome.no,
                    sum(true),
                    sum(false)
                ),
            );
        }
        let should_pass = passes_quorum(outcome.yes, outcome.no, outcome.total_weight, &outcome.params)
            && passes_threshold(outcome.yes, outcome.no, &outcome.params);
        if outcome.passed != should_pass {
            return violation(
                Invariant::Governance,
                format!(
                    "proposal {number}: passed = {} but quorum and threshold say {should_pass} ({} yes, {} no of {})",
                    outcome.passed, outcome.yes, outcome.no, outcome.total_weight
                ),
            );
        }
    }
    Ok(())
}

/// I10 with weights (SPEC §3.6: "a voter's votes may not exceed its balance"): everything
/// [`governance`] checks, and no recorded vote on proposal `number` weighs more than
/// `bound(number, voter, rule)` gives its voter under the rule it was cast under (under
/// `balance`: the voter's balance under the root the proposal pinned, D-049).
pub fn governance_weighed(
    org: &crate::org::Organization,
    bound: impl Fn(u64, &Id, crate::org::WeightRule) -> u64,
) -> Result<(), Violation> {
    governance(org)?;
    for (number, proposal) in org.proposals() {
        for (voter, vote) in &proposal.votes {
            let most = bound(*number, voter, vote.rule);
            if vote.weight > most {
                return violation(
                    Invariant::Governance,
                    format!(
                        "proposal {number}: {voter} voted with weight {} under {:?}, above its {most}",
                        vote.weight, vote.rule
                    ),
                );
            }
        }
    }
    Ok(())
}

/// I11 (SPEC §13, §6.5): the amounts a bookkeeper processed in one version sum to at most its
/// frozen deposit.
pub fn capacity(processed: &[u64], deposit: u64) -> Result<(), Violation> {
    let total: u128 = processed.iter().map(|a| u128::from(*a)).sum();
    if total > u128::from(deposit) {
        return violation(
            Invariant::Capacity,
            format!("processed {total} in one version with a deposit of {deposit}"),
        );
    }
    Ok(())
}

/// I3 (SPEC §13, §7.2): an applied transfer carries both parties' valid signatures, by keys
/// that belong to the Ids it names.
pub fn truthful_intention(
    signed: &crate::ledger::SignedTx,
    verifier: &dyn crate::crypto::Verifier,
) -> Result<(), Violation> {
    crate::ledger::check_signatures(signed, verifier).map_err(|error| Violation {
        invariant: Invariant::TruthfulIntention,
        detail: format!("tx {}: {error}", signed.tx.id()),
    })
}
