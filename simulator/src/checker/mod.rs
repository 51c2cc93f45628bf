//! Invariant checking after every event, with the predicates of `reference::invariants`.

pub mod seal_history;

use reference::crypto::Hash32;
use reference::invariants::{
    self, AtomicityMonitor, DoubleSpendMonitor, HalfStep, ImmutabilityMonitor, Invariant, Violation,
};
use reference::ledger::{Applied, Half, Ledger, Settlement};
use reference::node::SharedVerifier;
use reference::smt::{RootSynopsis, Synopsis, Version};
use reference::{Id, Prefix};

/// The checker's memory of the run.
pub struct Checker {
    genesis_supply: u64,
    /// The root synopsis the chief built for each ts (index = ts).
    sealed: Vec<Option<Synopsis>>,
    chief_history: ImmutabilityMonitor,
    double_spend: DoubleSpendMonitor,
    atomicity: AtomicityMonitor,
    /// The highest ts each node has held (I7 at every node).
    highest_ts: Vec<Version>,
    /// Journal length seen at each bookkeeper (indexed by node).
    journal_len: Vec<usize>,
    /// Checks I3 signatures.
    verifier: SharedVerifier,
    /// Each primary's deposit, when bounded: I11 on every seal.
    deposit: Option<u64>,
    /// Predicate evaluations so far.
    pub checks: u64,
}

impl Checker {
    /// A checker for a run of `nodes` nodes whose organization started with `genesis_supply`;
    /// it checks signatures (I3) with `verifier`.
    pub fn new(nodes: usize, genesis_supply: u64, verifier: SharedVerifier) -> Checker {
        Checker {
            genesis_supply,
            sealed: Vec::new(),
            chief_history: ImmutabilityMonitor::new(),
            double_spend: DoubleSpendMonitor::new(),
            atomicity: AtomicityMonitor::new(),
            highest_ts: vec![0; nodes],
            journal_len: vec![0; nodes],
            verifier,
            deposit: None,
            checks: 0,
        }
    }

    /// Check I11 on every seal against each primary's frozen `deposit` (SPEC §6.5).
    pub fn with_deposit(mut self, deposit: Option<u64>) -> Checker {
        self.deposit = deposit;
        self
    }

    /// After the chief built a root: I1 on its supply, I7 on the chief's history of roots.
    pub fn after_root(&mut self, root: RootSynopsis) -> Result<(), Violation> {
        invariants::root_conservation(&root, self.genesis_supply)?;
        self.chief_history.observe_root(root.version, root.synopsis)?;
        self.checks += 2;
        let slot = root.version as usize;
        if self.sealed.len() <= slot {
            self.sealed.resize(slot + 1, None);
        }
        self.sealed[slot] = Some(root.synopsis);
        Ok(())
    }

    /// After a group sealed: I3 on every transfer and credit half it applied, I5 on the
    /// transfers that used a payer nonce, I4 on every half applied or settled.
    pub fn after_seal(&mut self, seal: &Seal<'_>) -> Result<(), Violation> {
        if let Some(deposit) = self.deposit {
            // What the primary processed in this version: whole transfers and debit halves.
            let processed: Vec<u64> = seal.applied.iter().map(|a| a.tx().amount).collect();
            invariants::capacity(&processed, deposit)?;
            self.checks += 1;
        }
        for tx in seal.applied {
            self.double_spend.observe(tx.tx().from, tx.tx().from_nonce)?;
            invariants::truthful_intention(&tx.signed, &*self.verifier)?;
            self.checks += 2;
        }
        for tx_id in seal.debits {
            self.atomicity.observe(*tx_id, HalfStep::Applied(Half::Debit))?;
            self.checks += 1;
        }
        for tx in seal.credited {
            invariants::truthful_intention(&tx.signed, &*self.verifier)?;
            self.atomicity.observe(tx.id, HalfStep::Applied(Half::Credit))?;
            self.checks += 2;
        }
        for (tx_id, half, how) in seal.settled {
            self.atomicity.observe(*tx_id, HalfStep::Settled(*half, *how))?;
            self.checks += 1;
        }
        Ok(())
    }

    /// Halves applied and not (yet) settled: the liveness side of I4, reported at the end.
    pub fn unsettled_halves(&self) -> usize {
        self.atomicity.unsettled()
    }

    /// After any event at bookkeeper `index`: I2 on the accounts of a transfer just applied.
    pub fn after_bookkeeper_event(&mut self, index: usize, ledger: &Ledger) -> Result<(), Violation> {
        let journal = ledger.journal();
        let seen = &mut self.journal_len[index];
        if journal.len() < *seen {
            *seen = journal.len(); // a seal or a crash emptied the cycle's journal
        }
        let start = *seen;
        *seen = journal.len();
        for tx in &journal[start..] {
            check_account(ledger, &tx.tx().from)?;
            check_account(ledger, &tx.tx().to)?;
            self.checks += 2;
        }
        Ok(())
    }

    /// After any event at node `index`: its ts never goes back (I7) and the root it holds is
    /// the one sealed for that ts (I6).
    pub fn after_node_event(&mut self, index: usize, held: Option<RootSynopsis>) -> Result<(), Violation> {
        let Some(held) = held else { return Ok(()) };
        self.checks += 2;
        if held.version < self.highest_ts[index] {
            return Err(Violation {
                invariant: Invariant::Immutability,
                detail: format!(
                    "node {index}: ts went back from {} to {}",
                    self.highest_ts[index], held.version
                ),
            });
        }
        self.highest_ts[index] = held.version;
        match self.sealed.get(held.version as usize).copied().flatten() {
            Some(canonical) => invariants::agreement(held.version, &held.synopsis, &canonical),
            None if held.version <= 1 => Ok(()), // genesis: sealed before the run starts
            None => Err(Violation {
                invariant: Invariant::Agreement,
                detail: format!("node {index} holds ts {} which was never sealed", held.version),
            }),
        }
    }
}

fn check_account(ledger: &Ledger, id: &Id) -> Result<(), Violation> {
    match ledger.account(id) {
        Some(account) => invariants::account_non_negative(id, &account),
        None => Ok(()),
    }
}

/// What a group's seal reports to the checker.
#[derive(Debug)]
pub struct Seal<'a> {
    /// The group.
    pub group: Prefix,
    /// Transfers that used a payer nonce (whole transfers and debit halves).
    pub applied: &'a [Applied],
    /// The ids of the debit halves among them.
    pub debits: &'a [Hash32],
    /// Credit halves.
    pub credited: &'a [Applied],
    /// Settled halves.
    pub settled: &'a [(Hash32, Half, Settlement)],
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").field("checks", &self.checks).finish_non_exhaustive()
    }
}
