//! Engine throughput on trivial events — each event sends one message to a random node with a
//! random latency — for the timing wheel and, in the same run, the naive binary-heap queue,
//! at 1k, 10k and 100k pending events; then the wheel with one million nodes (one event
//! pending per node). Both queues process exactly the same events in the same order (checked
//! here before measuring, and by the tests in `src/queue.rs`).
//!
//! `LEITHER_BENCH_QUICK=1` skips the million-node group.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use simulator::queue::{HeapQueue, TimingWheel, trivial};

const EVENTS: u64 = 1_000_000;

fn trivial_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_trivial_events");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    for pending in [1_000usize, 10_000, 100_000] {
        let nodes = 10_000;
        let wheel = trivial::run(&mut TimingWheel::new(), nodes, pending, EVENTS, 1);
        let heap = trivial::run(&mut HeapQueue::default(), nodes, pending, EVENTS, 1);
        assert_eq!(wheel, heap, "the two queues must process the same events in the same order");
        group.bench_with_input(BenchmarkId::new("timing_wheel", pending), &pending, |b, &pending| {
            b.iter(|| trivial::run(&mut TimingWheel::new(), nodes, pending, EVENTS, 1))
        });
        group.bench_with_input(BenchmarkId::new("binary_heap", pending), &pending, |b, &pending| {
            b.iter(|| trivial::run(&mut HeapQueue::default(), nodes, pending, EVENTS, 1))
        });
    }
    group.finish();
}

fn million_nodes(c: &mut Criterion) {
    if std::env::var_os("LEITHER_BENCH_QUICK").is_some() {
        return;
    }
    let mut group = c.benchmark_group("engine_million_nodes");
    let events = 5 * EVENTS;
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    let nodes = 1_000_000;
    group.bench_function("timing_wheel", |b| {
        b.iter(|| trivial::run(&mut TimingWheel::new(), nodes, nodes as usize, events, 2))
    });
    group.bench_function("binary_heap", |b| {
        b.iter(|| trivial::run(&mut HeapQueue::default(), nodes, nodes as usize, events, 2))
    });
    group.finish();
    println!(
        "memory: {} B per pending event, {} B of engine state per node (plus what a node allocates)",
        simulator::sim::PENDING_EVENT_BYTES,
        simulator::sim::NODE_BYTES
    );
}

criterion_group!(benches, trivial_events, million_nodes);
criterion_main!(benches);
