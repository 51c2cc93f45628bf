//! Event queues ordered by `(time_ms, seq)`: `seq` is the insertion counter, so two events at
//! the same virtual time always run in the order they were scheduled — never in an order that
//! depends on memory addresses, hashing or the queue's internals.
//!
//! [`TimingWheel`] is the engine's queue: one bucket per millisecond over a window of
//! [`WHEEL_SLOTS`] ms, with a heap for events further out. Events arrive in a bucket in `seq`
//! order except when the overflow heap refills one, which marks it for a sort before it is
//! drained. [`HeapQueue`] is the plain binary-heap queue, kept as the baseline the benchmark
//! and the equivalence test compare against.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Milliseconds covered by the wheel's buckets (a power of two). Most events are messages and
/// timers a few ms to a few pulses ahead, so this window keeps nearly all of them out of the heap.
pub const WHEEL_SLOTS: usize = 1 << 13;
const SLOT_MASK: u64 = WHEEL_SLOTS as u64 - 1;

/// An event taken from a queue.
#[derive(Debug, PartialEq, Eq)]
pub struct Scheduled<E> {
    /// Virtual time at which it runs.
    pub time_ms: u64,
    /// Insertion order, the tie-breaker among events at one time.
    pub seq: u64,
    /// The event.
    pub event: E,
}

/// A queue of events ordered by `(time_ms, seq)`.
pub trait EventQueue<E> {
    /// Schedule `event` at `time_ms`, which must not be earlier than the last event popped.
    fn push(&mut self, time_ms: u64, event: E);
    /// Take the earliest event.
    fn pop(&mut self) -> Option<Scheduled<E>>;
    /// Number of pending events.
    fn len(&self) -> usize;
    /// Whether nothing is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
struct Slotted<E> {
    seq: u64,
    event: E,
}

#[derive(Debug)]
struct Timed<E> {
    time_ms: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Timed<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ms, self.seq) == (other.time_ms, other.seq)
    }
}
impl<E> Eq for Timed<E> {}
impl<E> PartialOrd for Timed<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Timed<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time_ms, self.seq).cmp(&(other.time_ms, other.seq))
    }
}

/// The engine's queue: a hashed timing wheel with 1 ms buckets and an overflow heap.
#[derive(Debug)]
pub struct TimingWheel<E> {
    slots: Vec<Vec<Slotted<E>>>,
    needs_sort: Vec<bool>,
    /// The bucket being drained, reversed so that `pop` takes the lowest `seq` from the end.
    draining: Vec<Slotted<E>>,
    /// The time of the bucket being drained; no pending event is earlier.
    now_ms: u64,
    in_wheel: usize,
    overflow: BinaryHeap<Reverse<Timed<E>>>,
    next_seq: u64,
}

impl<E> Default for TimingWheel<E> {
    fn default() -> Self {
        TimingWheel::new()
    }
}

impl<E> TimingWheel<E> {
    /// An empty queue at time 0.
    pub fn new() -> TimingWheel<E> {
        TimingWheel {
            slots: (0..WHEEL_SLOTS).map(|_| Vec::new()).collect(),
            needs_sort: vec![false; WHEEL_SLOTS],
            draining: Vec::new(),
            now_ms: 0,
            in_wheel: 0,
            overflow: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// The event `pop` returns `ahead + 1` pops from now, if it is in the bucket being drained
    /// (a cheap look-ahead that lets the engine start loading that event's node early).
    #[inline]
    pub fn peek_draining(&self, ahead: usize) -> Option<&E> {
        let len = self.draining.len();
        if ahead < len { Some(&self.draining[len - 1 - ahead].event) } else { None }
    }

    fn slot_of(time_ms: u64) -> usize {
        (time_ms & SLOT_MASK) as usize
    }

    fn push_to_slot(&mut self, time_ms: u64, seq: u64, event: E) {
        let slot = Self::slot_of(time_ms);
        let bucket = &mut self.slots[slot];
        if bucket.last().is_some_and(|last| last.seq > seq) {
            self.needs_sort[slot] = true;
        }
        bucket.push(Slotted { seq, event });
        self.in_wheel += 1;
    }

    /// Move overflow events that now fall inside the window into their buckets. The window is
    /// measured as a distance from now (every pending event is at or after now), not as
    /// `now + WHEEL_SLOTS`, which would wrap near `u64::MAX` and strand the events there.
    fn refill_from_overflow(&mut self) {
        let now_ms = self.now_ms;
        while self.overflow.peek().is_some_and(|Reverse(top)| top.time_ms - now_ms < WHEEL_SLOTS as u64) {
            let Some(Reverse(timed)) = self.overflow.pop() else { break };
            self.push_to_slot(timed.time_ms, timed.seq, timed.event);
        }
    }

    /// Make the bucket at `now_ms` the draining one, if it has events.
    fn open_current_slot(&mut self) -> bool {
        let slot = Self::slot_of(self.now_ms);
        if self.slots[slot].is_empty() {
            return false;
        }
        std::mem::swap(&mut self.draining, &mut self.slots[slot]);
        if std::mem::take(&mut self.needs_sort[slot]) {
            self.draining.sort_unstable_by_key(|e| e.seq);
        }
        self.draining.reverse();
        true
    }

    fn advance(&mut self) {
        self.now_ms = if self.in_wheel == 0 {
            // Nothing in the window: jump straight to the earliest overflow event.
            self.overflow.peek().map_or(self.now_ms.saturating_add(1), |Reverse(top)| top.time_ms)
        } else {
            // Events in the window are within WHEEL_SLOTS of now, and none is in the bucket at
            // now (it was empty), so now is below u64::MAX.
            debug_assert!(self.now_ms < u64::MAX);
            self.now_ms + 1
        };
        self.refill_from_overflow();
    }
}

impl<E> EventQueue<E> for TimingWheel<E> {
    fn push(&mut self, time_ms: u64, event: E) {
        assert!(time_ms >= self.now_ms, "event scheduled at {time_ms} ms, before now ({} ms)", self.now_ms);
        let seq = self.next_seq;
        self.next_seq += 1;
        if time_ms - self.now_ms < WHEEL_SLOTS as u64 {
            self.push_to_slot(time_ms, seq, event);
        } else {
            self.overflow.push(Reverse(Timed { time_ms, seq, event }));
        }
    }

    fn pop(&mut self) -> Option<Scheduled<E>> {
        // A bound on the loop (TIGER_STYLE): each advance moves now by at least 1 ms within the
        // window, or jumps to the overflow's earliest event, which the next turn refills — so
        // one pop advances at most a window's worth of times. Counted off the fast path.
        let mut advances = 0;
        loop {
            if let Some(slotted) = self.draining.pop() {
                self.in_wheel -= 1;
                return Some(Scheduled { time_ms: self.now_ms, seq: slotted.seq, event: slotted.event });
            }
            if self.open_current_slot() {
                continue;
            }
            if self.in_wheel == 0 && self.overflow.is_empty() {
                return None;
            }
            advances += 1;
            assert!(
                advances <= WHEEL_SLOTS + 2,
                "the timing wheel made no progress (now {} ms)",
                self.now_ms
            );
            self.advance();
        }
    }

    fn len(&self) -> usize {
        self.in_wheel + self.overflow.len()
    }
}

/// The baseline: a binary heap of `Reverse((time_ms, seq, event))`.
#[derive(Debug)]
pub struct HeapQueue<E> {
    heap: BinaryHeap<Reverse<Timed<E>>>,
    next_seq: u64,
}

impl<E> Default for HeapQueue<E> {
    fn default() -> Self {
        HeapQueue { heap: BinaryHeap::new(), next_seq: 0 }
    }
}

impl<E> EventQueue<E> for HeapQueue<E> {
    fn push(&mut self, time_ms: u64, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Timed { time_ms, seq, event }));
    }

    fn pop(&mut self) -> Option<Scheduled<E>> {
        self.heap.pop().map(|Reverse(t)| Scheduled { time_ms: t.time_ms, seq: t.seq, event: t.event })
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Popped = Vec<(u64, u64, u32)>;

    /// Interleave pushes (at any time at or after now, up to `u64::MAX`) and pops on both
    /// queues; then drain them, the wheel in no more pops than it holds events.
    fn run_both(ops: &[(bool, u64)]) -> (Popped, Popped) {
        let mut wheel = TimingWheel::new();
        let mut heap = HeapQueue::default();
        let (mut out_wheel, mut out_heap) = (Vec::new(), Vec::new());
        let mut now = 0u64;
        for (i, (is_pop, delay)) in ops.iter().enumerate() {
            if *is_pop {
                let (a, b) = (wheel.pop(), heap.pop());
                if let Some(a) = &a {
                    now = a.time_ms;
                }
                out_wheel.extend(a.map(|s| (s.time_ms, s.seq, s.event)));
                out_heap.extend(b.map(|s| (s.time_ms, s.seq, s.event)));
            } else {
                wheel.push(now.saturating_add(*delay), i as u32);
                heap.push(now.saturating_add(*delay), i as u32);
            }
            assert_eq!(wheel.len(), heap.len());
        }
        for _ in 0..wheel.len() {
            out_wheel.extend(wheel.pop().map(|s| (s.time_ms, s.seq, s.event)));
            out_heap.extend(heap.pop().map(|s| (s.time_ms, s.seq, s.event)));
        }
        assert!(wheel.pop().is_none() && wheel.is_empty(), "every event popped once");
        (out_wheel, out_heap)
    }

    proptest! {
        #[test]
        fn wheel_pops_in_exactly_the_heap_order(
            ops in proptest::collection::vec(
                (any::<bool>(), prop_oneof![0u64..3, 0u64..50, 0u64..(3 * WHEEL_SLOTS as u64)]),
                0..600,
            )
        ) {
            let (wheel, heap) = run_both(&ops);
            prop_assert_eq!(wheel, heap);
        }
    }

    proptest! {
        #[test]
        fn events_at_any_u64_time_pop_in_heap_order_and_the_wheel_never_loops(
            ops in proptest::collection::vec(
                (any::<bool>(), prop_oneof![
                    0u64..3,
                    0u64..(3 * WHEEL_SLOTS as u64),
                    any::<u64>(),
                    (u64::MAX - 3 * WHEEL_SLOTS as u64)..=u64::MAX,
                ]),
                0..400,
            )
        ) {
            let (wheel, heap) = run_both(&ops);
            prop_assert_eq!(wheel, heap);
        }
    }

    #[test]
    fn events_at_the_end_of_time_are_popped() {
        let mut wheel = TimingWheel::new();
        for time_ms in [u64::MAX, u64::MAX - 1, u64::MAX, 5, u64::MAX - WHEEL_SLOTS as u64] {
            wheel.push(time_ms, time_ms);
        }
        let popped: Vec<u64> = std::iter::from_fn(|| wheel.pop()).map(|s| s.time_ms).collect();
        let max = u64::MAX;
        assert_eq!(popped, [5, max - WHEEL_SLOTS as u64, max - 1, max, max]);
    }

    #[test]
    fn ties_at_one_time_run_in_scheduling_order() {
        let mut wheel = TimingWheel::new();
        wheel.push(20_000, "far, first"); // goes to the overflow heap
        for _ in 0..20_000 - WHEEL_SLOTS as u64 + 1 {
            wheel.push(wheel.now_ms + 1, "filler");
            wheel.pop();
        }
        wheel.push(20_000, "near, second"); // now inside the window, same bucket
        let rest: Vec<&str> = std::iter::from_fn(|| wheel.pop()).map(|s| s.event).collect();
        let at_20000: Vec<&&str> = rest.iter().filter(|e| e.contains("far") || e.contains("near")).collect();
        assert_eq!(at_20000, [&"far, first", &"near, second"]);
    }

    #[test]
    fn the_trivial_workload_runs_in_the_same_order_on_both_queues() {
        for pending in [1_000, 20_000] {
            let wheel = trivial::run(&mut TimingWheel::new(), 5_000, pending, 200_000, 7);
            let heap = trivial::run(&mut HeapQueue::default(), 5_000, pending, 200_000, 7);
            assert_eq!(wheel, heap);
            assert_eq!(wheel.1, 200_000);
        }
    }

    #[test]
    #[should_panic(expected = "before now")]
    fn scheduling_in_the_past_is_refused() {
        let mut wheel = TimingWheel::new();
        wheel.push(10, ());
        wheel.pop();
        wheel.push(9, ());
    }
}

/// The trivial-event workload of the engine benchmark: each event sends one message to a
/// random node with a random latency. Shared by `benches/engine.rs` and the tests that show
/// the wheel and the heap produce the same event order.
pub mod trivial {
    use rand::Rng;

    use super::EventQueue;
    use crate::rng::{self, Purpose};

    /// Largest latency of a trivial message, in ms.
    pub const LATENCY_MAX_MS: u64 = 2_000;

    /// Fill `queue` with `pending` events to random nodes at random times, then process
    /// `events` events, each scheduling one more. Returns a hash of the processed order
    /// `(time, node)`, so two queues can be compared, and the per-node delivery counts' sum.
    pub fn run<Q: EventQueue<u32>>(
        queue: &mut Q,
        nodes: u32,
        pending: usize,
        events: u64,
        seed: u64,
    ) -> (u64, u64) {
        let mut stream = rng::stream(seed, Purpose::Network, 0);
        let mut received = vec![0u32; nodes as usize];
        for _ in 0..pending {
            let node = rng::between(&mut stream, 0, u64::from(nodes) - 1) as u32;
            queue.push(rng::between(&mut stream, 0, LATENCY_MAX_MS), node);
        }
        let mut order_hash = 0xcbf2_9ce4_8422_2325u64;
        for _ in 0..events {
            let Some(event) = queue.pop() else { break };
            received[event.event as usize] += 1;
            order_hash =
                (order_hash ^ event.time_ms ^ (u64::from(event.event) << 40)).wrapping_mul(0x100_0000_01b3);
            let word = stream.next_u64();
            let to = ((word >> 32) * u64::from(nodes)) >> 32;
            let latency_ms = 1 + (((word & 0xFFFF_FFFF) * LATENCY_MAX_MS) >> 32);
            queue.push(event.time_ms + latency_ms, to as u32);
        }
        (order_hash, received.iter().map(|r| u64::from(*r)).sum())
    }
}
