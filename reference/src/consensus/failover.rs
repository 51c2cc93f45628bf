//! Terms and failover (SPEC §6.3–§6.4): elections every `election_cycle_pulses`; within a term,
//! a backup replaces a primary that has been silent for `failover_timeout_pulses`, in the
//! committee's failover order. Pure state: the caller reports what it heard and each pulse.

use crate::id::Id;

use super::election::Committee;

/// The term a pulse belongs to.
pub fn term_of(pulse: u64, election_cycle_pulses: u64) -> u64 {
    pulse / election_cycle_pulses.max(1)
}

/// A failover: `to` takes over from the silent `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Failover {
    /// The silent primary.
    pub from: Id,
    /// The backup that takes over.
    pub to: Id,
    /// The pulse it happened at.
    pub pulse: u64,
}

/// A committee during its term, as one node sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommitteeState {
    committee: Committee,
    /// Index into the seats (primary first, then backups) of the acting primary.
    acting: usize,
    last_heard_pulse: u64,
}

impl CommitteeState {
    /// The committee at the start of its term.
    pub fn new(committee: Committee, term_start_pulse: u64) -> CommitteeState {
        CommitteeState { committee, acting: 0, last_heard_pulse: term_start_pulse }
    }

    /// The member acting as primary now.
    pub fn acting_primary(&self) -> Id {
        *self.committee.seats().nth(self.acting).expect("acting indexes a seat")
    }

    /// Whether every backup has already taken over once (no one is left to fail over to).
    pub fn exhausted(&self) -> bool {
        self.acting == self.committee.backups.len()
    }

    /// A message from `from` arrived at `pulse`; only the acting primary's count.
    pub fn heard_from(&mut self, from: &Id, pulse: u64) {
        if *from == self.acting_primary() {
            self.last_heard_pulse = self.last_heard_pulse.max(pulse);
        }
    }

    /// Pulse `pulse` began: fail over if the acting primary has been silent for `timeout_pulses`
    /// (SPEC §6.4) and a backup is left. The new primary gets a full timeout of its own.
    pub fn on_pulse(&mut self, pulse: u64, timeout_pulses: u64) -> Option<Failover> {
        if pulse.saturating_sub(self.last_heard_pulse) < timeout_pulses || self.exhausted() {
            return None;
        }
        let from = self.acting_primary();
        self.acting += 1;
        self.last_heard_pulse = pulse;
        Some(Failover { from, to: self.acting_primary(), pulse })
    }
}
