//! Letters of credit and IOUs (SPEC §2.2–§2.6): a lender lets a borrower use its services
//! before paying, up to a cap set by the closeness of their relation and raised while the
//! borrower does not default; service used and not yet paid is owed (an IOU, in base units);
//! IOUs are settled through the ledger; an IOU unpaid too long is a default that revokes the
//! line; and nodes without a line of their own can be served through a path of lines, every hop
//! changing atomically or not at all. Decisions: docs/decisions.md D-026.

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use crate::id::Id;

/// What a service is measured in (SPEC §2.4). Bandwidth is the base unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// Bandwidth (the base unit).
    Bandwidth,
    /// Storage, converted by `unit_coef_storage`.
    Storage,
    /// CPU, converted by `unit_coef_cpu`.
    Cpu,
}

/// The credit parameters (SPEC §15), coefficients in per mille so that conversions are exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CreditParams {
    /// `credit_grant_by_closeness`: the initial cap for closeness 0..=5.
    pub grant_by_closeness: [u64; 6],
    /// `credit_raise_step`.
    pub raise_step: u64,
    /// `credit_raise_period` (pulses).
    pub raise_period_pulses: u64,
    /// `credit_cap_max`.
    pub cap_max: u64,
    /// `default_after_pulses`.
    pub default_after_pulses: u64,
    /// `credit_max_hops`.
    pub max_hops: usize,
    /// `unit_coef_storage` × 1000.
    pub storage_permille: u64,
    /// `unit_coef_cpu` × 1000.
    pub cpu_permille: u64,
}

impl Default for CreditParams {
    fn default() -> Self {
        CreditParams {
            grant_by_closeness: [0, 10, 50, 100, 500, 1000],
            raise_step: 10,
            raise_period_pulses: 3600,
            cap_max: 10_000,
            default_after_pulses: 86_400,
            max_hops: 4,
            storage_permille: 500,
            cpu_permille: 250,
        }
    }
}

impl CreditParams {
    /// `amount` of `unit` in base units, rounded up: a provider never undercharges.
    pub fn base_units(&self, unit: Unit, amount: u64) -> u64 {
        let permille = match unit {
            Unit::Bandwidth => 1000,
            Unit::Storage => self.storage_permille,
            Unit::Cpu => self.cpu_permille,
        };
        (u128::from(amount) * u128::from(permille)).div_ceil(1000).min(u128::from(u64::MAX)) as u64
    }
}

/// One letter of credit and the IOU running under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Line {
    /// The cap (0 once revoked).
    pub cap: u64,
    /// What the borrower owes, in base units.
    pub owed: u64,
    /// The pulse the cap was last raised (or granted).
    pub raised_pulse: u64,
    /// The oldest pulse since which some of `owed` has been unpaid.
    pub unpaid_since: Option<u64>,
    /// Revoked after a default: the cap it had then (the debt stays owed).
    pub revoked_cap: Option<u64>,
}

/// Why a credit operation was refused. Every refusal changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CreditError {
    /// Closeness must be 0..=5.
    #[error("closeness {0} is not in 0..=5")]
    BadCloseness(u8),
    /// A node cannot lend to itself.
    #[error("{0} cannot grant credit to itself")]
    SelfCredit(Id),
    /// The pair already has a line.
    #[error("{lender} already grants credit to {borrower}")]
    Exists {
        /// The lender.
        lender: Id,
        /// The borrower.
        borrower: Id,
    },
    /// No line from `lender` to `borrower`.
    #[error("{lender} grants no credit to {borrower}")]
    NoLine {
        /// The lender.
        lender: Id,
        /// The borrower.
        borrower: Id,
    },
    /// The line was revoked after a default.
    #[error("the line from {lender} to {borrower} is revoked")]
    Revoked {
        /// The lender.
        lender: Id,
        /// The borrower.
        borrower: Id,
    },
    /// The service would push the IOU past the cap (SPEC §2.3, I12).
    #[error("{amount} more would put the IOU at {owed} + {amount} past its cap {cap}")]
    OverCap {
        /// The cap.
        cap: u64,
        /// What is owed now.
        owed: u64,
        /// The base units asked for.
        amount: u64,
    },
    /// Settling more than is owed.
    #[error("settling {amount} but only {owed} is owed")]
    OverSettle {
        /// What is owed.
        owed: u64,
        /// What was offered.
        amount: u64,
    },
    /// Amounts must be positive.
    #[error("amount must be positive")]
    ZeroAmount,
    /// No path of lines within `credit_max_hops` has the capacity.
    #[error("no path of at most {max_hops} lines from {provider} to {consumer} can carry {amount}")]
    NoRoute {
        /// The provider.
        provider: Id,
        /// The consumer.
        consumer: Id,
        /// Base units asked for.
        amount: u64,
        /// The hop bound.
        max_hops: usize,
    },
}

/// The letters of credit of an organization's members, keyed `(lender, borrower)`. Each user's
/// node holds its own lines (SPEC §2.1); this book is the union a simulator or test keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreditBook {
    params: CreditParams,
    lines: BTreeMap<(Id, Id), Line>,
    /// Deliberately broken: serve past the cap (tests only; I12 must catch it).
    #[cfg(feature = "fault-injection")]
    skip_cap_check: bool,
}

impl CreditBook {
    /// An empty book.
    pub fn new(params: CreditParams) -> CreditBook {
        CreditBook { params, ..CreditBook::default() }
    }

    /// Serve past the cap from now on (tests only: shows that I12 is checked).
    #[cfg(feature = "fault-injection")]
    pub fn inject_skip_cap_check(&mut self) {
        self.skip_cap_check = true;
    }

    /// The parameters.
    pub fn params(&self) -> &CreditParams {
        &self.params
    }

    /// Every line.
    pub fn lines(&self) -> &BTreeMap<(Id, Id), Line> {
        &self.lines
    }

    /// The line from `lender` to `borrower`.
    pub fn line(&self, lender: Id, borrower: Id) -> Option<&Line> {
        self.lines.get(&(lender, borrower))
    }

    /// What `borrower` may still draw from `lender` (0 without a live line).
    pub fn available(&self, lender: Id, borrower: Id) -> u64 {
        self.lines
            .get(&(lender, borrower))
            .filter(|l| l.revoked_cap.is_none())
            .map_or(0, |l| l.cap.saturating_sub(l.owed))
    }

    /// `lender` grants `borrower` a letter of credit for a relation of `closeness` (the
    /// relation itself is formed by a signed invitation, SPEC §2.1).
    pub fn grant(&mut self, lender: Id, borrower: Id, closeness: u8, pulse: u64) -> Result<(), CreditError> {
        self.grant_capped(lender, borrower, closeness, u64::MAX, pulse)
    }

    /// [`CreditBook::grant`] with an initial cap of at most `cap` — the credit a party stated
    /// when the relation was formed (`credit::chain`, D-029); the closeness still bounds it.
    pub fn grant_capped(
        &mut self,
        lender: Id,
        borrower: Id,
        closeness: u8,
        cap: u64,
        pulse: u64,
    ) -> Result<(), CreditError> {
        let grant = *self
            .params
            .grant_by_closeness
            .get(usize::from(closeness))
            .ok_or(CreditError::BadCloseness(closeness))?;
        let cap = cap.min(grant);
        if lender == borrower {
            return Err(CreditError::SelfCredit(lender));
        }
        if self.lines.contains_key(&(lender, borrower)) {
            return Err(CreditError::Exists { lender, borrower });
        }
        let line = Line { cap, owed: 0, raised_pulse: pulse, unpaid_since: None, revoked_cap: None };
        self.lines.insert((lender, borrower), line);
        Ok(())
    }

    /// The borrower uses `amount` of `unit` from the lender: refused, changing nothing, if it
    /// would push the IOU past the cap (I12). Returns the base units now owed for it.
    pub fn consume(
        &mut self,
        lender: Id,
        borrower: Id,
        unit: Unit,
        amount: u64,
        pulse: u64,
    ) -> Result<u64, CreditError> {
        let base = self.params.base_units(unit, amount);
        self.check_draw(lender, borrower, base)?;
        self.draw(lender, borrower, base, pulse);
        Ok(base)
    }

    /// The borrower pays `amount` of its IOU (the caller moves the money through the ledger,
    /// SPEC §2.4). What remains unpaid counts as unpaid from this pulse.
    pub fn settle(&mut self, lender: Id, borrower: Id, amount: u64, pulse: u64) -> Result<(), CreditError> {
        if amount == 0 {
            return Err(CreditError::ZeroAmount);
        }
        let line = self.lines.get_mut(&(lender, borrower)).ok_or(CreditError::NoLine { lender, borrower })?;
        if amount > line.owed {
            return Err(CreditError::OverSettle { owed: line.owed, amount });
        }
        line.owed -= amount;
        line.unpaid_since = (line.owed > 0).then_some(pulse);
        Ok(())
    }

    /// Advance to `pulse`: lines with an IOU unpaid for `default_after_pulses` default (cap
    /// 0, revoked; returned in key order); every other live line gains `raise_step` per full
    /// `credit_raise_period` since its last raise, up to `credit_cap_max`.
    pub fn tick(&mut self, pulse: u64) -> Vec<(Id, Id)> {
        let params = self.params;
        let mut defaults = Vec::new();
        for (key, line) in self.lines.iter_mut().filter(|(_, l)| l.revoked_cap.is_none()) {
            if line
                .unpaid_since
                .is_some_and(|since| pulse.saturating_sub(since) >= params.default_after_pulses)
            {
                line.revoked_cap = Some(line.cap);
                line.cap = 0;
                defaults.push(*key);
                continue;
            }
            let periods = pulse.saturating_sub(line.raised_pulse) / params.raise_period_pulses.max(1);
            if periods > 0 {
                let raised = line.cap.saturating_add(periods.saturating_mul(params.raise_step));
                line.cap = raised.min(params.cap_max).max(line.cap);
                line.raised_pulse += periods * params.raise_period_pulses.max(1);
            }
        }
        defaults
    }

    /// The shortest path of live lines `provider → … → consumer` (each hop a lender lending to
    /// the next) of at most `credit_max_hops` lines that can each carry `amount` base units;
    /// ties broken by Id order, so the choice is deterministic.
    pub fn route(&self, provider: Id, consumer: Id, amount: u64) -> Result<Vec<Id>, CreditError> {
        if provider == consumer {
            return Ok(vec![provider]);
        }
        // Each reached node → the node it was reached from (the provider from itself): one map
        // both marks a node seen and records the path back.
        let mut previous: BTreeMap<Id, Id> = BTreeMap::from([(provider, provider)]);
        let mut queue = VecDeque::from([(provider, 0usize)]);
        while let Some((node, hops)) = queue.pop_front() {
            let lines = self.lines.range((node, Id::ZERO)..).take_while(|((lender, _), _)| *lender == node);
            for ((_, borrower), line) in lines {
                let carries = line.revoked_cap.is_none() && line.cap.saturating_sub(line.owed) >= amount;
                if !carries {
                    continue;
                }
                let std::collections::btree_map::Entry::Vacant(entry) = previous.entry(*borrower) else {
                    continue;
                };
                entry.insert(node);
                // The first discovery is a shortest path: stop here rather than when the
                // consumer is dequeued (same path, far fewer nodes visited).
                if *borrower == consumer {
                    return Ok(Self::path_back(&previous, provider, consumer));
                }
                if hops + 1 < self.params.max_hops {
                    queue.push_back((*borrower, hops + 1));
                }
            }
        }
        Err(CreditError::NoRoute { provider, consumer, amount, max_hops: self.params.max_hops })
    }

    fn path_back(previous: &BTreeMap<Id, Id>, provider: Id, consumer: Id) -> Vec<Id> {
        let mut path = vec![consumer];
        while *path.last().expect("non-empty") != provider {
            path.push(previous[path.last().expect("non-empty")]);
        }
        path.reverse();
        path
    }

    /// Serve `consumer` `amount` of `unit` from `provider` through `path` (from
    /// [`CreditBook::route`]): every hop's IOU grows by the same base units, or — if any hop
    /// lacks the capacity or the line — none does (SPEC §2.6).
    pub fn consume_via(
        &mut self,
        path: &[Id],
        unit: Unit,
        amount: u64,
        pulse: u64,
    ) -> Result<u64, CreditError> {
        let base = self.params.base_units(unit, amount);
        for hop in path.windows(2) {
            self.check_draw(hop[0], hop[1], base)?;
        }
        for hop in path.windows(2) {
            self.draw(hop[0], hop[1], base, pulse);
        }
        Ok(base)
    }

    fn check_draw(&self, lender: Id, borrower: Id, base: u64) -> Result<(), CreditError> {
        if base == 0 {
            return Err(CreditError::ZeroAmount);
        }
        let line = self.lines.get(&(lender, borrower)).ok_or(CreditError::NoLine { lender, borrower })?;
        if line.revoked_cap.is_some() {
            return Err(CreditError::Revoked { lender, borrower });
        }
        #[cfg(feature = "fault-injection")]
        if self.skip_cap_check {
            return Ok(());
        }
        if line.owed.checked_add(base).is_none_or(|owed| owed > line.cap) {
            return Err(CreditError::OverCap { cap: line.cap, owed: line.owed, amount: base });
        }
        Ok(())
    }

    fn draw(&mut self, lender: Id, borrower: Id, base: u64, pulse: u64) {
        let line = self.lines.get_mut(&(lender, borrower)).expect("checked by check_draw");
        line.owed = line.owed.saturating_add(base);
        line.unpaid_since.get_or_insert(pulse);
    }
}
