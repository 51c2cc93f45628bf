//! Per-version capacity (SPEC §6.5) and I11.

use proptest::prelude::*;
use reference::consensus::capacity::{Capacity, CapacityError};
use reference::invariants::{self, Invariant};

#[test]
fn transfers_beyond_the_remaining_capacity_wait_for_the_next_version() {
    let mut capacity = Capacity::new(1000);
    capacity.reserve(600).unwrap();
    assert_eq!(capacity.reserve(500), Err(CapacityError::Exceeded { deposit: 1000, used: 600, amount: 500 }));
    capacity.reserve(400).unwrap();
    assert_eq!(capacity.used(), 1000);
    capacity.seal();
    capacity.reserve(500).unwrap();
    assert_eq!(capacity.reserve(1001), Err(CapacityError::NeverCovered { deposit: 1000, amount: 1001 }));
}

#[test]
fn i11_reports_a_version_over_the_deposit() {
    invariants::capacity(&[600, 400], 1000).unwrap();
    let violation = invariants::capacity(&[600, 401], 1000).unwrap_err();
    assert_eq!(violation.invariant, Invariant::Capacity);
}

proptest! {
    /// Whatever is asked, what a version accepts stays within the deposit (I11).
    #[test]
    fn accepted_amounts_never_exceed_the_deposit(
        deposit in 0u64..10_000,
        versions in proptest::collection::vec(proptest::collection::vec(0u64..4_000, 0..20), 1..5),
    ) {
        let mut capacity = Capacity::new(deposit);
        for asked in versions {
            let accepted: Vec<u64> = asked.into_iter().filter(|a| capacity.reserve(*a).is_ok()).collect();
            prop_assert!(invariants::capacity(&accepted, deposit).is_ok());
            prop_assert_eq!(accepted.iter().sum::<u64>(), capacity.used());
            capacity.seal();
        }
    }
}
