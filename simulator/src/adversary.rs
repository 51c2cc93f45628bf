//! Byzantine behaviour injected around honest nodes (SPEC §14). So far: the double-spending
//! payer, which signs a second, conflicting transfer with the nonce of each transfer it
//! proposes and sends it to another payee. An honest bookkeeper applies at most one transfer
//! per `(payer, nonce)` (I5); the metrics count the attempts and which of the two won.

use rand_chacha::ChaCha8Rng;
use reference::Id;
use reference::crypto::Hash32;
use reference::ledger::{Applied, Tx};
use reference::node::{Message, SharedSigner};
use rustc_hash::FxHashSet;

use crate::rng::{self, Purpose};
use crate::scenario::{NodeIndex, Scenario};

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

impl std::fmt::Debug for DoubleSpenders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoubleSpenders")
            .field("count", &self.count())
            .field("attempts", &self.attempts)
            .field("conflicts_applied", &self.conflicts_applied)
            .finish_non_exhaustive()
    }
}
