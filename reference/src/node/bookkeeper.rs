//! The bookkeeper of the minimal pulse protocol: applies submitted transfers to its ledger,
//! seals a version every pulse and tells each party, with a proof, where its transfer landed.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::crypto::Hash32;
use crate::id::Id;
use crate::ledger::{Applied, Ledger, LedgerError, SignedTx};
use crate::smt::RootSynopsis;

use super::{Message, NodeConfig, NodeEvent, Output, SharedVerifier, Timer, unexpected};

/// The bookkeeper's state.
#[derive(Clone)]
pub struct Bookkeeper {
    id: Id,
    ledger: Ledger,
    verifier: SharedVerifier,
    config: NodeConfig,
    pulse: u64,
    /// Each payer's latest sealed transfer `(nonce, id)`, so that a retried submission of a
    /// transfer already sealed is answered with its commit again instead of a nonce error.
    /// One entry per payer, so it stays as small as the ledger.
    last_sealed: FxHashMap<Id, (u64, Hash32)>,
    /// Ids of the transfers applied in the current cycle; their commits go out at the pulse.
    unsealed_ids: FxHashSet<Hash32>,
    #[cfg(feature = "fault-injection")]
    faults: super::NodeFaults,
}

impl Bookkeeper {
    pub(super) fn new(id: Id, ledger: Ledger, verifier: SharedVerifier, config: NodeConfig) -> Bookkeeper {
        Bookkeeper {
            id,
            ledger,
            verifier,
            config,
            pulse: 0,
            last_sealed: FxHashMap::default(),
            unsealed_ids: FxHashSet::default(),
            #[cfg(feature = "fault-injection")]
            faults: super::NodeFaults::default(),
        }
    }

    pub(super) fn id(&self) -> Id {
        self.id
    }

    pub(super) fn pulse(&self) -> u64 {
        self.pulse
    }

    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The sealed root, the unsealed cycle (its transfers in order determine the working
    /// state), the pulse counter and the payers' latest sealed transfers.
    pub(super) fn fingerprint(&self) -> Hash32 {
        let mut hasher = blake3::Hasher::new();
        let root = self.root();
        hasher.update(&root.version.to_le_bytes());
        hasher.update(&root.synopsis.hash.0);
        hasher.update(&self.pulse.to_le_bytes());
        for applied in self.ledger.journal() {
            hasher.update(&applied.id.0);
        }
        let mut last_sealed: Vec<_> = self.last_sealed.iter().collect();
        last_sealed.sort_unstable();
        for (payer, (nonce, id)) in last_sealed {
            hasher.update(&payer.0);
            hasher.update(&nonce.to_le_bytes());
            hasher.update(&id.0);
        }
        Hash32(*hasher.finalize().as_bytes())
    }

    pub(super) fn root(&self) -> RootSynopsis {
        let tree = self.ledger.tree();
        // The latest sealed version is always held: pruning keeps at least one version.
        tree.root(tree.latest_version()).expect("the latest version is held")
    }

    pub(super) fn start(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        out.push(Output::SetTimer { at_ms: now_ms + self.config.pulse_ms, timer: Timer::Pulse });
    }

    /// Sealed versions are durable (SPEC §5.2: data becomes read-only at the pulse); the
    /// unsealed cycle survives only a durable restart (D-011).
    pub(super) fn restart(&mut self, now_ms: u64, durable: bool, out: &mut Vec<Output>) {
        if !durable {
            self.ledger.discard_unsealed();
            self.unsealed_ids.clear();
        }
        self.start(now_ms, out);
    }

    pub(super) fn handle_message(&mut self, from: Id, msg: &Message, out: &mut Vec<Output>) {
        match msg {
            Message::Submit(signed) => self.on_submit(signed, out),
            _ => out.push(unexpected("bookkeeper", from, msg)),
        }
    }

    pub(super) fn handle_timer(&mut self, now_ms: u64, timer: Timer, out: &mut Vec<Output>) {
        if timer == Timer::Pulse {
            self.on_pulse(out);
            out.push(Output::SetTimer { at_ms: now_ms + self.config.pulse_ms, timer: Timer::Pulse });
        }
    }

    fn on_submit(&mut self, signed: &SignedTx, out: &mut Vec<Output>) {
        let tx_id = signed.tx.id();
        if self.unsealed_ids.contains(&tx_id) {
            return; // a retry of a transfer applied this cycle: its commit goes out at the pulse
        }
        if self.last_sealed.get(&signed.tx.from) == Some(&(signed.tx.from_nonce, tx_id)) {
            let root = self.root();
            self.notify_parties(&Applied { id: tx_id, signed: *signed }, &root, out);
            return;
        }
        match self.ledger.apply(signed, &*self.verifier) {
            Ok(applied) => {
                self.unsealed_ids.insert(applied.id);
            }
            Err(error) => out.push(reject(signed, tx_id, error)),
        }
    }

    fn on_pulse(&mut self, out: &mut Vec<Output>) {
        let applied = self.ledger.journal().to_vec();
        let version = self.ledger.seal();
        self.pulse += 1;
        self.unsealed_ids.clear();
        let root = self.root(); // once per seal, not once per transfer
        for tx in &applied {
            self.last_sealed.insert(tx.tx().from, (tx.tx().from_nonce, tx.id));
            self.notify_parties(tx, &root, out);
        }
        out.push(Output::Event(NodeEvent::Sealed { pulse: self.pulse, version, applied }));
        out.push(Output::Broadcast { msg: Message::Pulse { pulse: self.pulse, root: self.announced(root) } });
    }

    /// The root as broadcast: the true one, unless a test made this bookkeeper forge it.
    fn announced(&self, root: RootSynopsis) -> RootSynopsis {
        #[cfg(feature = "fault-injection")]
        if self.faults.forge_root_from_pulse.is_some_and(|from| self.pulse >= from) {
            let mut forged = root;
            forged.synopsis.hash.0[0] ^= 1;
            return forged;
        }
        root
    }

    #[cfg(feature = "fault-injection")]
    pub(super) fn inject_faults(&mut self, faults: super::NodeFaults) {
        self.faults = faults;
    }

    /// Send each party of a sealed transfer a proof of its account in `root`'s version.
    fn notify_parties(&self, applied: &Applied, root: &RootSynopsis, out: &mut Vec<Output>) {
        let root = *root;
        for party in [applied.tx().from, applied.tx().to] {
            // The party's account exists in the version that sealed the transfer, and every
            // later one: accounts are never removed in this protocol.
            let proof = self.ledger.tree().prove(root.version, &party).expect("latest version is held");
            out.push(Output::Send {
                to: party,
                msg: Message::Committed { tx_id: applied.id, root, proof: Box::new(proof) },
            });
        }
    }
}

fn reject(signed: &SignedTx, tx_id: Hash32, error: LedgerError) -> Output {
    Output::Send { to: signed.tx.from, msg: Message::Rejected { tx_id, error } }
}

impl std::fmt::Debug for Bookkeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bookkeeper").field("id", &self.id).field("pulse", &self.pulse).finish_non_exhaustive()
    }
}
