//! L3 against the network's delay bound (D-036): which ts every node must hold by now.
//!
//! The chief releases a ts with its pulse broadcast; a node holds it once the broadcast reaches
//! it, at most the network's delay bound later. At the end of a pulse every node must so hold
//! the newest ts released at least one delay bound ago. With a bound under a pulse that is
//! every ts released before the pulse — "all nodes hold one ts"; with a longer one, the pulses
//! in flight are not yet owed.

use std::collections::VecDeque;

use reference::invariants::{self, Violation};
use reference::smt::Version;

/// The chief's recent releases, enough to say which ts is owed at any later time.
#[derive(Debug)]
pub struct HealCheck {
    delay_bound_ms: u64,
    /// `(time, ts)` in release order; the first is the newest released at least a delay bound
    /// before the last release (older ones can never be owed again, being older).
    releases: VecDeque<(u64, Version)>,
}

impl HealCheck {
    /// A check for a network whose one-way delays are at most `delay_bound_ms`.
    pub fn new(delay_bound_ms: u64) -> HealCheck {
        HealCheck { delay_bound_ms, releases: VecDeque::new() }
    }

    /// The chief broadcast `ts` at `now_ms`.
    pub fn released(&mut self, now_ms: u64, ts: Version) {
        self.releases.push_back((now_ms, ts));
        while self.releases.get(1).is_some_and(|(at_ms, _)| self.arrived(*at_ms, now_ms)) {
            self.releases.pop_front();
        }
    }

    /// Whether a broadcast at `at_ms` has reached every node by `now_ms`. Strictly after the
    /// bound: a delivery at exactly `at_ms + bound` may run after another event of that ms.
    fn arrived(&self, at_ms: u64, now_ms: u64) -> bool {
        at_ms.saturating_add(self.delay_bound_ms) < now_ms
    }

    /// The ts every node must hold at `now_ms`: the newest whose broadcast has arrived everywhere.
    pub fn owed(&self, now_ms: u64) -> Option<Version> {
        let arrived = self.releases.iter().take_while(|(at_ms, _)| self.arrived(*at_ms, now_ms));
        arrived.map(|(_, ts)| *ts).max()
    }

    /// L3 at `now_ms` over the ts each node that is up holds.
    pub fn check(
        &self,
        now_ms: u64,
        held: impl IntoIterator<Item = (usize, Version)>,
    ) -> Result<(), Violation> {
        match self.owed(now_ms) {
            Some(required) => invariants::healed_by(held, required),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ts_is_owed_one_delay_bound_after_its_release() {
        let mut heal = HealCheck::new(1_001);
        for pulse in 1..=5u64 {
            heal.released(pulse * 1_000, pulse);
        }
        assert_eq!(heal.owed(5_999), Some(4), "ts 5 released at 5000 arrives by 6001");
        assert_eq!(heal.owed(6_001), Some(4), "a delivery at 6001 may run after the check at 6001");
        assert_eq!(heal.owed(6_002), Some(5));
        assert_eq!(heal.owed(1_500), None);
        assert!(heal.check(5_999, [(1, 4), (2, 5)]).is_ok(), "one node still waits for ts 5");
        let error = heal.check(5_999, [(1, 3), (2, 5)]).unwrap_err();
        assert!(error.detail.contains("node 1 holds ts 3 but ts 4 was released"), "{error}");
    }

    #[test]
    fn under_a_pulse_every_node_holds_the_last_ts_at_the_end_of_the_pulse() {
        let mut heal = HealCheck::new(998);
        heal.released(1_000, 1);
        heal.released(2_000, 2);
        assert_eq!(heal.owed(2_999), Some(2));
        assert!(heal.check(2_999, [(1, 1)]).is_err());
    }
}
