//! Per-version capacity (SPEC §6.5): a bookkeeper processes per version at most the amount its
//! frozen deposit covers; larger transfers wait for a later version (I11).

use thiserror::Error;

/// Why a transfer must wait for a later version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// This version's remaining capacity does not cover the amount.
    #[error("capacity exceeded: {used} of {deposit} used this version, {amount} more asked")]
    Exceeded {
        /// The frozen deposit.
        deposit: u64,
        /// Already processed this version.
        used: u64,
        /// The transfer's amount.
        amount: u64,
    },
    /// The amount is larger than the whole deposit: this bookkeeper can never process it.
    #[error("{amount} exceeds the whole deposit {deposit}")]
    NeverCovered {
        /// The frozen deposit.
        deposit: u64,
        /// The transfer's amount.
        amount: u64,
    },
}

/// A bookkeeper's capacity in the current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Capacity {
    deposit: u64,
    used: u64,
}

impl Capacity {
    /// A fresh version's capacity for a bookkeeper with `deposit` frozen.
    pub fn new(deposit: u64) -> Capacity {
        Capacity { deposit, used: 0 }
    }

    /// The deposit.
    pub fn deposit(&self) -> u64 {
        self.deposit
    }

    /// Processed so far this version.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Whether `amount` fits in this version, or why it must wait (changes nothing).
    pub fn check(&self, amount: u64) -> Result<(), CapacityError> {
        if amount > self.deposit {
            return Err(CapacityError::NeverCovered { deposit: self.deposit, amount });
        }
        if amount > self.deposit - self.used {
            return Err(CapacityError::Exceeded { deposit: self.deposit, used: self.used, amount });
        }
        Ok(())
    }

    /// Reserve `amount` for a transfer in this version, or say why it must wait.
    pub fn reserve(&mut self, amount: u64) -> Result<(), CapacityError> {
        self.check(amount)?;
        self.used += amount;
        Ok(())
    }

    /// The version is sealed: the next one starts with the full deposit.
    pub fn seal(&mut self) {
        self.used = 0;
    }
}
