//! Letters of credit and IOUs (SPEC §2.2–§2.6): one test per rule, atomic multi-hop service
//! including a failure midway, and a property test that I12 holds under any operation sequence
//! (and is caught when the cap check is switched off).

use proptest::prelude::*;
use reference::Id;
use reference::credit::line::{CreditBook, CreditError, CreditParams, Unit};
use reference::invariants::{self, Invariant};

fn id(n: u64) -> Id {
    Id::from_u64(n)
}

fn book() -> CreditBook {
    CreditBook::new(CreditParams {
        raise_period_pulses: 10,
        default_after_pulses: 100,
        cap_max: 120,
        ..CreditParams::default()
    })
}

#[test]
fn a_grant_takes_its_cap_from_the_closeness_and_bad_grants_are_refused() {
    let mut b = book();
    b.grant(id(1), id(2), 3, 0).unwrap();
    assert_eq!(b.line(id(1), id(2)).unwrap().cap, 100);
    assert_eq!(b.available(id(1), id(2)), 100);
    assert_eq!(b.available(id(2), id(1)), 0, "credit is one-way");
    assert_eq!(b.grant(id(1), id(2), 1, 0), Err(CreditError::Exists { lender: id(1), borrower: id(2) }));
    assert_eq!(b.grant(id(1), id(3), 6, 0), Err(CreditError::BadCloseness(6)));
    assert_eq!(b.grant(id(1), id(1), 1, 0), Err(CreditError::SelfCredit(id(1))));
}

#[test]
fn service_past_the_cap_is_refused_and_changes_nothing() {
    let mut b = book();
    b.grant(id(1), id(2), 1, 0).unwrap(); // cap 10
    assert_eq!(b.consume(id(1), id(2), Unit::Bandwidth, 7, 1), Ok(7));
    let before = b.clone();
    assert_eq!(
        b.consume(id(1), id(2), Unit::Bandwidth, 4, 2),
        Err(CreditError::OverCap { cap: 10, owed: 7, amount: 4 })
    );
    assert_eq!(b, before);
    // Storage converts at 0.5, rounded up; CPU at 0.25.
    assert_eq!(b.consume(id(1), id(2), Unit::Storage, 3, 2), Ok(2));
    assert_eq!(b.consume(id(1), id(2), Unit::Cpu, 4, 2), Ok(1));
    assert_eq!(b.line(id(1), id(2)).unwrap().owed, 10);
    assert!(matches!(b.consume(id(2), id(1), Unit::Cpu, 1, 2), Err(CreditError::NoLine { .. })));
    assert_eq!(b.consume(id(1), id(2), Unit::Bandwidth, 0, 2), Err(CreditError::ZeroAmount));
}

#[test]
fn caps_rise_by_the_step_each_period_without_default_up_to_the_maximum() {
    let mut b = book();
    b.grant(id(1), id(2), 3, 0).unwrap(); // cap 100, +10 per 10 pulses, max 120
    assert!(b.tick(9).is_empty());
    assert_eq!(b.line(id(1), id(2)).unwrap().cap, 100);
    b.tick(25);
    assert_eq!(b.line(id(1), id(2)).unwrap().cap, 120, "two periods");
    b.tick(1_000);
    assert_eq!(b.line(id(1), id(2)).unwrap().cap, 120, "never past credit_cap_max");
}

#[test]
fn an_iou_unpaid_too_long_defaults_and_revokes_the_line() {
    let mut b = book();
    b.grant(id(1), id(2), 2, 0).unwrap(); // cap 50
    b.consume(id(1), id(2), Unit::Bandwidth, 30, 5).unwrap();
    assert!(b.tick(104).is_empty(), "99 pulses unpaid: not yet");
    assert_eq!(b.tick(105), [(id(1), id(2))]);
    let line = b.line(id(1), id(2)).unwrap();
    // The cap had risen to the maximum meanwhile (an IOU not yet in default does not stop it).
    assert_eq!((line.cap, line.owed, line.revoked_cap), (0, 30, Some(120)), "the debt stays");
    assert_eq!(b.available(id(1), id(2)), 0);
    assert_eq!(
        b.consume(id(1), id(2), Unit::Bandwidth, 1, 106),
        Err(CreditError::Revoked { lender: id(1), borrower: id(2) })
    );
    assert!(invariants::credit_caps(&b).is_ok(), "a revoked line is held to the cap it had");
    b.tick(10_000);
    assert_eq!(b.line(id(1), id(2)).unwrap().cap, 0, "a revoked line never rises again");
}

#[test]
fn settling_pays_the_iou_down_and_restarts_the_default_clock() {
    let mut b = book();
    b.grant(id(1), id(2), 2, 0).unwrap();
    b.consume(id(1), id(2), Unit::Bandwidth, 30, 0).unwrap();
    b.settle(id(1), id(2), 10, 90).unwrap();
    assert!(b.tick(150).is_empty(), "the rest is unpaid since the settlement at 90");
    assert_eq!(b.settle(id(1), id(2), 21, 150), Err(CreditError::OverSettle { owed: 20, amount: 21 }));
    b.settle(id(1), id(2), 20, 150).unwrap();
    assert_eq!(b.line(id(1), id(2)).unwrap().unpaid_since, None);
    assert!(b.tick(10_000).is_empty(), "nothing owed, no default");
}

/// 1 → 2 → 3 → 4 → 5 (each lends to the next) and a short cut 1 → 6 → 5 with little room.
fn network() -> CreditBook {
    let mut b = book();
    for (lender, borrower, closeness) in [(1, 2, 3), (2, 3, 3), (3, 4, 3), (4, 5, 3), (1, 6, 1), (6, 5, 1)] {
        b.grant(id(lender), id(borrower), closeness, 0).unwrap();
    }
    b
}

#[test]
fn a_route_is_the_shortest_path_of_lines_that_can_carry_the_amount() {
    let b = network();
    assert_eq!(b.route(id(1), id(5), 5).unwrap(), [id(1), id(6), id(5)], "the short cut fits 5");
    assert_eq!(
        b.route(id(1), id(5), 50).unwrap(),
        [id(1), id(2), id(3), id(4), id(5)],
        "only the long way fits 50"
    );
    assert!(matches!(b.route(id(1), id(5), 500), Err(CreditError::NoRoute { .. })));
    let short = CreditBook::new(CreditParams { max_hops: 3, ..*b.params() });
    let mut limited = short;
    for (lender, borrower) in [(1, 2), (2, 3), (3, 4), (4, 5)] {
        limited.grant(id(lender), id(borrower), 3, 0).unwrap();
    }
    assert!(matches!(limited.route(id(1), id(5), 1), Err(CreditError::NoRoute { max_hops: 3, .. })));
}

#[test]
fn multi_hop_service_changes_every_hop_or_none() {
    let mut b = network();
    let path = b.route(id(1), id(5), 40).unwrap();
    assert_eq!(b.consume_via(&path, Unit::Bandwidth, 40, 1), Ok(40));
    for hop in path.windows(2) {
        assert_eq!(b.line(hop[0], hop[1]).unwrap().owed, 40);
    }
    // Failure midway: hop 3 → 4 is drawn down so that it cannot carry 30 more; nothing moves.
    b.consume(id(3), id(4), Unit::Bandwidth, 50, 2).unwrap();
    let before = b.clone();
    assert_eq!(
        b.consume_via(&path, Unit::Bandwidth, 30, 3),
        Err(CreditError::OverCap { cap: 100, owed: 90, amount: 30 })
    );
    assert_eq!(b, before, "the hops before the failing one are untouched");
}

#[derive(Clone, Debug)]
enum Op {
    Grant(u64, u64, u8),
    Consume(u64, u64, u64),
    Via(u64, u64, u64),
    Settle(u64, u64, u64),
    Tick(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let node = 1u64..7;
    prop_oneof![
        (node.clone(), node.clone(), 0u8..6).prop_map(|(a, b, c)| Op::Grant(a, b, c)),
        (node.clone(), node.clone(), 1u64..200).prop_map(|(a, b, n)| Op::Consume(a, b, n)),
        (node.clone(), node.clone(), 1u64..200).prop_map(|(a, b, n)| Op::Via(a, b, n)),
        (node.clone(), node, 1u64..200).prop_map(|(a, b, n)| Op::Settle(a, b, n)),
        (1u64..60).prop_map(Op::Tick),
    ]
}

fn apply(b: &mut CreditBook, op: &Op, pulse: &mut u64) {
    let _ = match *op {
        Op::Grant(l, r, c) => b.grant(id(l), id(r), c, *pulse).map(|_| 0),
        Op::Consume(l, r, n) => b.consume(id(l), id(r), Unit::Bandwidth, n, *pulse),
        Op::Via(l, r, n) => {
            b.route(id(l), id(r), n).and_then(|p| b.consume_via(&p, Unit::Bandwidth, n, *pulse))
        }
        Op::Settle(l, r, n) => b.settle(id(l), id(r), n, *pulse).map(|_| 0),
        Op::Tick(dt) => {
            *pulse += dt;
            b.tick(*pulse);
            Ok(0)
        }
    };
}

proptest! {
    #[test]
    fn any_sequence_of_credit_operations_keeps_i12(ops in proptest::collection::vec(op(), 1..80)) {
        let mut b = book();
        let mut pulse = 0;
        for op in &ops {
            let before = b.clone();
            apply(&mut b, op, &mut pulse);
            prop_assert!(invariants::credit_caps(&b).is_ok(), "{op:?} from {before:?}");
        }
    }
}

#[test]
fn a_book_that_skips_the_cap_check_is_caught_by_i12() {
    let mut b = book();
    b.inject_skip_cap_check();
    b.grant(id(1), id(2), 1, 0).unwrap();
    b.consume(id(1), id(2), Unit::Bandwidth, 11, 0).unwrap();
    assert_eq!(invariants::credit_caps(&b).unwrap_err().invariant, Invariant::Credit);
}

/// The length of the shortest path of lines `from → … → to` that can each carry `amount`, by
/// trying every simple path of at most `max_hops` lines (the definition, not a search).
fn shortest_by_enumeration(b: &CreditBook, from: Id, to: Id, amount: u64, max_hops: usize) -> Option<usize> {
    fn walk(
        b: &CreditBook,
        at: Id,
        to: Id,
        amount: u64,
        left: usize,
        visited: &mut Vec<Id>,
    ) -> Option<usize> {
        if at == to {
            return Some(0);
        }
        if left == 0 {
            return None;
        }
        let next: Vec<Id> = b.lines().keys().filter(|(l, _)| *l == at).map(|(_, r)| *r).collect();
        let mut best: Option<usize> = None;
        for n in next {
            if visited.contains(&n) || b.available(at, n) < amount {
                continue;
            }
            visited.push(n);
            if let Some(rest) = walk(b, n, to, amount, left - 1, visited) {
                best = Some(best.map_or(rest + 1, |x: usize| x.min(rest + 1)));
            }
            visited.pop();
        }
        best
    }
    walk(b, from, to, amount, max_hops, &mut vec![from])
}

proptest! {
    /// `route` finds a path exactly when one exists within `credit_max_hops`, a shortest one,
    /// and every line on it can carry the amount.
    #[test]
    fn a_route_is_a_shortest_carrying_path_whenever_one_exists(
        lines in proptest::collection::vec((1u64..9, 1u64..9, 0u8..6, 0u64..60), 0..30),
        from in 1u64..9, to in 1u64..9, amount in 1u64..60, max_hops in 1usize..5,
    ) {
        let mut b = CreditBook::new(CreditParams { max_hops, ..CreditParams::default() });
        for (lender, borrower, closeness, used) in lines {
            if b.grant(id(lender), id(borrower), closeness, 0).is_ok() && used > 0 {
                let _ = b.consume(id(lender), id(borrower), Unit::Bandwidth, used, 1);
            }
        }
        let expected = shortest_by_enumeration(&b, id(from), id(to), amount, max_hops);
        match b.route(id(from), id(to), amount) {
            Ok(path) => {
                prop_assert_eq!(Some(path.len() - 1), expected);
                prop_assert_eq!(path[0], id(from));
                prop_assert_eq!(*path.last().unwrap(), id(to));
                for hop in path.windows(2) {
                    prop_assert!(b.available(hop[0], hop[1]) >= amount);
                }
            }
            Err(error) => {
                prop_assert_eq!(expected, None, "{}", error);
            }
        }
    }
}
