//! Deliberately broken behaviours (feature `fault-injection`, tests only) and the hooks where
//! they act, so that every check of the node's invariants can be shown to fire.

use crate::smt::RootSynopsis;

use super::{Bookkeeper, Books};

impl Bookkeeper {
    #[cfg(feature = "fault-injection")]
    pub(in crate::node) fn inject_faults(&mut self, faults: crate::node::NodeFaults) {
        self.books.faults = faults;
    }

    #[cfg(feature = "fault-injection")]
    pub(in crate::node) fn inject_ledger_faults(&mut self, faults: crate::ledger::LedgerFaults) {
        self.books.ledger.inject_faults(faults);
    }
}

impl Books {
    /// Whether the test-only `fail_over_blindly` fault is on.
    pub(super) fn blind_failover(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        if self.faults.fail_over_blindly {
            return true;
        }
        false
    }

    /// The group synopsis as reported: the true one, unless a test made this bookkeeper
    /// forge it (a forged summary, SPEC §14).
    pub(super) fn forged(&self, synopsis: crate::smt::Synopsis) -> crate::smt::Synopsis {
        #[cfg(feature = "fault-injection")]
        if self.group != crate::id::Prefix::ROOT
            && self.faults.forge_root_from_pulse.is_some_and(|from| self.pulse >= from)
        {
            let mut forged = synopsis;
            forged.hash.0[0] ^= 1;
            return forged;
        }
        synopsis
    }

    /// The root as broadcast: the true one, unless a test made the chief forge it.
    pub(super) fn announced(&self, root: RootSynopsis) -> RootSynopsis {
        #[cfg(feature = "fault-injection")]
        if self.faults.forge_root_from_pulse.is_some_and(|from| self.pulse >= from) {
            let mut forged = root;
            forged.synopsis.hash.0[0] ^= 1;
            return forged;
        }
        root
    }
}
