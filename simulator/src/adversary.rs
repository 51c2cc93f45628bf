//! Byzantine behaviour injected around honest nodes (SPEC §14): the double-spending payer,
//! which signs a second, conflicting transfer with the nonce of each transfer it proposes and
//! sends it to another payee (an honest bookkeeper applies at most one per `(payer, nonce)`,
//! I5); and Byzantine leaf primaries — a censoring one drops the submissions of censored payers,
//! an equivocating one reports two different synopses for one pulse (the chief detects it);
//! a forging one reports a forged synopsis to the chief (its clients' proofs then fail to
//! verify, and they never see their transfers committed). The metrics count what each did.

use rand_chacha::ChaCha8Rng;
use reference::Id;
use reference::crypto::Hash32;
use reference::id::Prefix;
use reference::ledger::{Applied, Tx};
use reference::node::{Message, SharedSigner};
use rustc_hash::FxHashSet;

use crate::rng::{self, Purpose};
use crate::scenario::{NodeIndex, Scenario};
use crate::sim::Layout;

/// The double-spending payers of a run.
pub struct DoubleSpenders {
    member: Vec<bool>,
    probability: f64,
    rng: ChaCha8Rng,
    signers: Vec<Option<SharedSigner>>,
    clients: u64,
    /// `(payer, nonce)` pairs already doubled: one conflict per nonce.
    doubled: FxHashSet<(NodeIndex, u64)>,
    conflicts: FxHashSet<Hash32>,
    /// Conflicting transfers created.
    pub attempts: u64,
    /// Conflicting transfers the bookkeeper applied (the original lost the race).
    pub conflicts_applied: u64,
}

impl DoubleSpenders {
    /// The double spenders of `scenario`, if it declares any; they sign with `signers`.
    pub fn new(scenario: &Scenario, seed: u64, signers: &[SharedSigner]) -> Option<DoubleSpenders> {
        let set = scenario.adversaries.double_spenders.as_ref()?;
        let clients = scenario.nodes.clients;
        let mut member = vec![false; clients as usize + 1];
        let mut held = vec![None; clients as usize + 1];
        for index in set.resolve(clients).expect("validated") {
            member[index as usize] = true;
            held[index as usize] = Some(signers[index as usize].clone());
        }
        Some(DoubleSpenders {
            member,
            probability: scenario.adversaries.double_spend_probability,
            rng: rng::stream(seed, Purpose::Adversary, 0),
            signers: held,
            clients: u64::from(clients),
            doubled: FxHashSet::default(),
            conflicts: FxHashSet::default(),
            attempts: 0,
            conflicts_applied: 0,
        })
    }

    /// Number of double-spending payers.
    pub fn count(&self) -> u64 {
        self.member.iter().filter(|m| **m).count() as u64
    }

    /// If node `from` is a double spender about to propose `msg`, maybe a conflicting
    /// proposal to send as well: the payee's index and the message.
    pub fn conflict(&mut self, from: NodeIndex, msg: &Message, ids: &[Id]) -> Option<(NodeIndex, Message)> {
        let Message::Propose { tx, payer_key, .. } = msg else { return None };
        let member = self.member.get(from as usize).copied().unwrap_or(false);
        if !member || !self.doubled.insert((from, tx.from_nonce)) {
            return None;
        }
        // Two draws per new nonce, whatever the outcome, so the stream stays aligned.
        let (coin, pick) = (rng::unit(&mut self.rng), rng::between(&mut self.rng, 1, self.clients));
        if coin >= self.probability {
            return None;
        }
        let payee = (1..=self.clients).map(|k| ((pick + k - 1) % self.clients) + 1).find(|i| {
            let id = ids[*i as usize];
            id != tx.to && id != tx.from
        })? as NodeIndex;
        let conflict = Tx { to: ids[payee as usize], ..*tx };
        let signer = self.signers[from as usize].as_ref().expect("members hold their signer");
        let payer_sig = signer.sign(&conflict.id().0);
        self.conflicts.insert(conflict.id());
        self.attempts += 1;
        Some((payee, Message::Propose { tx: conflict, payer_key: *payer_key, payer_sig }))
    }

    /// Count the conflicting transfers among those just sealed.
    pub fn observe_sealed(&mut self, applied: &[Applied]) {
        self.conflicts_applied += applied.iter().filter(|a| self.conflicts.contains(&a.id)).count() as u64;
    }
}

/// `fraction` of the backup seats, drawn with the adversary stream.
fn colluding_backups(fraction: f64, layout: Layout, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let first = layout.first_backup();
    let seats = layout.leaves * layout.backups;
    let mut colluding = vec![false; first + seats];
    if fraction == 0.0 {
        return colluding;
    }
    let mut order: Vec<usize> = (first..first + seats).collect();
    rng::shuffle(&mut order, rng);
    let held = (fraction * seats as f64).round() as usize;
    order.into_iter().take(held).for_each(|index| colluding[index] = true);
    colluding
}

impl std::fmt::Debug for DoubleSpenders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoubleSpenders")
            .field("count", &self.count())
            .field("attempts", &self.attempts)
            .field("conflicts_applied", &self.conflicts_applied)
            .finish_non_exhaustive()
    }
}

/// What a Byzantine leaf primary does (SPEC §14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Drops every submission from a censored payer.
    Censor,
    /// Reports a forged synopsis (one bit of its hash flipped) to the chief.
    Forge,
    /// Reports its true synopsis and, right after, a second one for the same pulse with a bit
    /// flipped: two signed synopses for one ts (SPEC §14 equivocating bookkeeper).
    Equivocate,
}

/// The Byzantine leaf primaries of a run and what they did.
#[derive(Debug)]
pub struct ByzantinePrimaries {
    /// By node index: what the node does, if it is a Byzantine primary.
    role: Vec<Option<Misbehaviour>>,
    /// By node index: whether a censoring primary censors this payer.
    censored: Vec<bool>,
    /// Submissions dropped by censoring primaries.
    pub censored_submissions: u64,
    /// Reports forged.
    pub forged_reports: u64,
    /// Second, conflicting reports sent by equivocating primaries.
    pub equivocating_reports: u64,
    /// By node index: whether the node is a backup colluding with its group's forging primary.
    colluding: Vec<bool>,
    /// Forged attestations sent by colluding backups.
    pub forged_attestations: u64,
    /// `(group, pulse)` of every forged report, to tell which of the reports the chief took
    /// were forged.
    forged: FxHashSet<(Prefix, u64)>,
}

impl ByzantinePrimaries {
    /// Pick `censoring_groups × leaves`, `forging_groups × leaves` and `equivocating_groups ×
    /// leaves` of the leaf primaries (nodes `first_primary..nodes`) with the adversary stream,
    /// and the censored payers.
    pub fn new(scenario: &Scenario, seed: u64, layout: Layout) -> Option<ByzantinePrimaries> {
        let a = &scenario.adversaries;
        let none = [
            a.censoring_groups,
            a.forging_groups,
            a.equivocating_groups,
            a.colluding_backups,
            a.forging_candidates,
        ];
        if none.iter().all(|f| *f == 0.0) {
            return None;
        }
        let mut rng = rng::stream(seed, Purpose::Adversary, 1);
        let (first_primary, leaves) = (layout.first_primary, layout.leaves);
        let nodes = layout.nodes();
        let mut order: Vec<usize> = (first_primary..layout.first_backup()).collect();
        // The run's stream: a deterministic choice of seats.
        rng::shuffle(&mut order, &mut rng);
        let censors = (a.censoring_groups * leaves as f64).round() as usize;
        let forgers = (a.forging_groups * leaves as f64).round() as usize;
        let equivocators = (a.equivocating_groups * leaves as f64).round() as usize;
        let mut role = vec![None; nodes];
        for (k, index) in order.into_iter().enumerate().take(censors + forgers + equivocators) {
            role[index] = Some(match k {
                k if k < censors => Misbehaviour::Censor,
                k if k < censors + forgers => Misbehaviour::Forge,
                _ => Misbehaviour::Equivocate,
            });
        }
        let censored = (0..nodes)
            .map(|i| i >= 1 && i < first_primary && rng::unit(&mut rng) < a.censored_payers)
            .collect();
        let mut colluding = colluding_backups(a.colluding_backups, layout, &mut rng);
        colluding.resize(nodes, false);
        // Standbys the adversary holds forge when seated as primary and collude as backups.
        let candidates = crate::election::forging_standbys(scenario, seed, layout);
        for (index, _) in candidates.iter().enumerate().filter(|(_, held)| **held) {
            role[index] = Some(Misbehaviour::Forge);
            colluding[index] = true;
        }
        Some(ByzantinePrimaries {
            role,
            censored,
            censored_submissions: 0,
            forged_reports: 0,
            equivocating_reports: 0,
            colluding,
            forged_attestations: 0,
            forged: FxHashSet::default(),
        })
    }

    /// Leaf primaries that misbehave (standbys the adversary holds not counted).
    pub fn seats(&self, layout: &Layout) -> u64 {
        self.role[..layout.first_backup().min(self.role.len())].iter().filter(|r| r.is_some()).count() as u64
    }

    /// Backup seats the adversary holds (standbys it holds not counted).
    pub fn colluding_seats(&self, layout: &Layout) -> u64 {
        let backups = layout.first_backup()..layout.first_root_backup();
        self.colluding[backups].iter().filter(|c| **c).count() as u64
    }

    /// Whether the chief's taking of `group`'s report of `pulse` took a forged one.
    pub fn was_forged(&self, group: Prefix, pulse: u64) -> bool {
        self.forged.contains(&(group, pulse))
    }

    /// Whether node `to` drops `msg` instead of handling it: a censoring primary and a
    /// submission from a censored payer.
    pub fn censors(
        &mut self,
        to: NodeIndex,
        msg: &Message,
        index_of: impl Fn(&Id) -> Option<NodeIndex>,
    ) -> bool {
        let Message::Submit(signed) = msg else { return false };
        if self.role.get(to as usize) != Some(&Some(Misbehaviour::Censor)) {
            return false;
        }
        let censored = index_of(&signed.tx.from).is_some_and(|payer| self.censored[payer as usize]);
        self.censored_submissions += u64::from(censored);
        censored
    }

    /// Tamper with `msg` if node `from` forges its reports; return the second, conflicting
    /// report to send after it if `from` equivocates.
    pub fn tamper(&mut self, from: NodeIndex, msg: &mut Message, layout: &Layout) -> Option<Message> {
        if let Message::Attest { report, .. } = msg {
            // A colluding backup attests the forged report its group's (forging) primary sent.
            layout.backup_group(from as usize).or(layout.standby_group(from as usize))?;
            let forged = self.forged.contains(&(report.entry.prefix, report.pulse));
            if self.colluding[from as usize] && forged {
                report.entry.synopsis.hash.0[0] ^= 1;
                self.forged_attestations += 1;
            }
            return None;
        }
        let Message::GroupSeal(report) = msg else { return None };
        match self.role.get(from as usize).copied().flatten()? {
            Misbehaviour::Forge => {
                report.entry.synopsis.hash.0[0] ^= 1;
                self.forged_reports += 1;
                self.forged.insert((report.entry.prefix, report.pulse));
                None
            }
            Misbehaviour::Equivocate => {
                let mut second = report.clone();
                second.entry.synopsis.hash.0[0] ^= 1;
                self.equivocating_reports += 1;
                Some(Message::GroupSeal(second))
            }
            Misbehaviour::Censor => None,
        }
    }
}
