//! Development aid: time bulk build and batched updates of the tree at a given size, outside
//! criterion, for profiling (`perf record`). Usage: smt_profile [accounts] [batches]
#![allow(clippy::print_stdout)]
use reference::Id;
use reference::smt::{Account, VersionedSmt};

fn main() {
    let mut args = std::env::args().skip(1);
    let accounts: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let batches: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let retained: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let started = std::time::Instant::now();
    let mut tree =
        VersionedSmt::from_accounts((0..accounts).map(|n| (Id::spread(n), Account::with_balance(n))))
            .with_versions_retained(retained);
    println!("build {accounts}: {:?} ({:?} nodes, bytes)", started.elapsed(), tree.memory());
    let started = std::time::Instant::now();
    let mut written = 0;
    for round in 1..=batches {
        written += tree
            .apply_batch((0..10_000u64).map(|j| {
                let n = (round * 10_000 + j).wrapping_mul(2_654_435_761) % accounts;
                (Id::spread(n), Some(Account::with_balance(n + round)))
            }))
            .nodes_written;
    }
    let per_update = started.elapsed() / (batches as u32 * 10_000);
    let per_node = started.elapsed() / written as u32;
    println!(
        "batched update: {per_update:?} per update, {} nodes written per update, {per_node:?} per node ({:?} nodes, bytes)",
        written as u64 / (batches * 10_000),
        tree.memory()
    );
}
