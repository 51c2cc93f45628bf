//! Invariant checking after every event, with the predicates of `reference::invariants`.

use reference::Id;
use reference::invariants::{self, DoubleSpendMonitor, ImmutabilityMonitor, Invariant, Violation};
use reference::ledger::{Applied, Ledger};
use reference::node::SharedVerifier;
use reference::smt::{RootSynopsis, Synopsis, Version};

/// The checker's memory of the run.
pub struct Checker {
    genesis_supply: u64,
    /// The synopsis the bookkeeper sealed for each version (index = version).
    sealed: Vec<Option<Synopsis>>,
    bookkeeper_history: ImmutabilityMonitor,
    double_spend: DoubleSpendMonitor,
    /// The highest ts each node has held (I7 at every node).
    highest_ts: Vec<Version>,
    journal_len: usize,
    /// Checks I3 signatures.
    verifier: SharedVerifier,
    /// Predicate evaluations so far.
    pub checks: u64,
}

impl Checker {
    /// A checker for a run of `nodes` nodes whose ledger started with `genesis_supply`; it
    /// checks signatures (I3) with `verifier`.
    pub fn new(nodes: usize, genesis_supply: u64, verifier: SharedVerifier) -> Checker {
        Checker {
            genesis_supply,
            sealed: Vec::new(),
            bookkeeper_history: ImmutabilityMonitor::new(),
            double_spend: DoubleSpendMonitor::new(),
            highest_ts: vec![0; nodes],
            journal_len: 0,
            verifier,
            checks: 0,
        }
    }

    /// After a seal: I1 on the new version, I3 and I5 on its transfers, I7 on the bookkeeper's
    /// history. (I2 was checked on each account when the transfer was applied; sealing does
    /// not change accounts.)
    pub fn after_seal(
        &mut self,
        ledger: &Ledger,
        version: Version,
        applied: &[Applied],
    ) -> Result<(), Violation> {
        let tree = ledger.tree();
        invariants::conservation(tree, version, self.genesis_supply)?;
        let root = tree
            .root(version)
            .map_err(|e| Violation { invariant: Invariant::Immutability, detail: e.to_string() })?;
        self.bookkeeper_history.observe_root(version, root.synopsis)?;
        self.checks += 2;
        for tx in applied {
            self.double_spend.observe(tx.tx().from, tx.tx().from_nonce)?;
            invariants::truthful_intention(&tx.signed, &*self.verifier)?;
            self.checks += 2;
        }
        let slot = version as usize;
        if self.sealed.len() <= slot {
            self.sealed.resize(slot + 1, None);
        }
        self.sealed[slot] = Some(root.synopsis);
        self.journal_len = 0;
        Ok(())
    }

    /// After any event at the bookkeeper: I2 on the accounts of a transfer just applied.
    pub fn after_bookkeeper_event(&mut self, ledger: &Ledger) -> Result<(), Violation> {
        let journal = ledger.journal();
        if journal.len() < self.journal_len {
            self.journal_len = journal.len(); // a crash discarded the unsealed cycle
        }
        for tx in &journal[self.journal_len..] {
            self.check_account(ledger, &tx.tx().from)?;
            self.check_account(ledger, &tx.tx().to)?;
            self.checks += 2;
        }
        self.journal_len = journal.len();
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

    /// Record the genesis version, sealed before the run starts.
    pub fn genesis(&mut self, ledger: &Ledger) -> Result<(), Violation> {
        let version = ledger.tree().latest_version();
        self.after_seal(ledger, version, &[])
    }

    fn check_account(&self, ledger: &Ledger, id: &Id) -> Result<(), Violation> {
        match ledger.account(id) {
            Some(account) => invariants::account_non_negative(id, &account),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").field("checks", &self.checks).finish_non_exhaustive()
    }
}
