//! Terms and failover (SPEC §6.4).

use reference::Id;
use reference::consensus::election::Committee;
use reference::consensus::failover::{CommitteeState, Failover, term_of};

fn committee() -> Committee {
    Committee { primary: Id::from_u64(1), backups: vec![Id::from_u64(2), Id::from_u64(3)] }
}

#[test]
fn terms_follow_the_election_cycle() {
    assert_eq!((term_of(0, 1800), term_of(1799, 1800), term_of(1800, 1800)), (0, 0, 1));
}

#[test]
fn a_primary_silent_for_the_timeout_is_replaced_by_the_next_backup() {
    let mut state = CommitteeState::new(committee(), 100);
    assert_eq!(state.on_pulse(101, 2), None, "one silent pulse is not enough");
    let failover = state.on_pulse(102, 2);
    assert_eq!(failover, Some(Failover { from: Id::from_u64(1), to: Id::from_u64(2), pulse: 102 }));
    assert_eq!(state.acting_primary(), Id::from_u64(2));
    // The new primary gets a full timeout; the old one's messages no longer count.
    state.heard_from(&Id::from_u64(1), 103);
    assert_eq!(state.on_pulse(103, 2), None);
    assert_eq!(state.on_pulse(104, 2).map(|f| f.to), Some(Id::from_u64(3)));
    assert!(state.exhausted());
    assert_eq!(state.on_pulse(200, 2), None, "no backup left");
    assert_eq!(state.acting_primary(), Id::from_u64(3));
}

#[test]
fn a_primary_that_is_heard_keeps_its_seat() {
    let mut state = CommitteeState::new(committee(), 0);
    for pulse in 1..50 {
        state.heard_from(&Id::from_u64(1), pulse);
        assert_eq!(state.on_pulse(pulse, 2), None);
    }
    // A backup's messages do not keep a silent primary in place.
    let mut state = CommitteeState::new(committee(), 0);
    state.heard_from(&Id::from_u64(2), 1);
    assert!(state.on_pulse(2, 2).is_some());
}
