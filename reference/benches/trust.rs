//! Trust computation (SPEC §2.7) on random graphs, converged to L1 < 1e-9, against petgraph's
//! `page_rank` in the same run on a graph size it can handle (its iteration is O(V²) per
//! step). Goals (issue 5): 100k nodes / 1M edges ≤ 50 ms on one core; 1M / 10M ≤ 1 s; an
//! incremental update after one pulse's changes ≤ 10 ms.
//!
//! `LEITHER_BENCH_QUICK=1` skips the 1M-node graph.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use reference::credit::trust::{EigenTrust, Graph, Node, PersonalizedPageRank, TrustModel};

/// A deterministic pseudo-random graph: `edges` edges with weights 1–100 (splitmix64).
fn random_edges(nodes: usize, edges: usize, seed: u64) -> Vec<(Node, Node, f64)> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..edges)
        .map(|_| {
            let from = (next() % nodes as u64) as Node;
            let to = (next() % nodes as u64) as Node;
            (from, to, 1.0 + (next() % 100) as f64)
        })
        .collect()
}

fn converged(c: &mut Criterion) {
    let mut group = c.benchmark_group("trust_converged_1e-9");
    group.sample_size(10);
    let mut sizes = vec![(10_000, 100_000), (100_000, 1_000_000)];
    if std::env::var_os("LEITHER_BENCH_QUICK").is_none() {
        sizes.push((1_000_000, 10_000_000));
    }
    for (nodes, edges) in sizes {
        let graph = Graph::from_edges(nodes, &random_edges(nodes, edges, 7)).expect("valid graph");
        let seeds: Vec<Node> = (0..16).collect();
        let label = format!("{nodes}n_{edges}e");
        group.bench_function(BenchmarkId::new("eigentrust", &label), |b| {
            b.iter(|| black_box(EigenTrust::default().scores(&graph, &seeds, None).expect("runs")))
        });
        group.bench_function(BenchmarkId::new("personalized_pagerank", &label), |b| {
            b.iter(|| black_box(PersonalizedPageRank::default().scores(&graph, &seeds, None).expect("runs")))
        });
    }
    group.finish();
}

/// One pulse's changes: 100 edges re-weighted, then a warm start from the previous scores.
fn incremental(c: &mut Criterion) {
    let (nodes, edges) = (100_000, 1_000_000);
    let mut list = random_edges(nodes, edges, 7);
    let seeds: Vec<Node> = (0..16).collect();
    let before = Graph::from_edges(nodes, &list).expect("valid graph");
    let previous = EigenTrust::default().scores(&before, &seeds, None).expect("runs").scores;
    for (k, edge) in list.iter_mut().take(100).enumerate() {
        edge.2 = 1.0 + k as f64;
    }
    let after = Graph::from_edges(nodes, &list).expect("valid graph");
    let mut group = c.benchmark_group("trust_incremental_100k");
    group.sample_size(10);
    group.bench_function("warm_start_after_100_edge_changes", |b| {
        b.iter(|| black_box(EigenTrust::default().scores(&after, &seeds, Some(&previous)).expect("runs")))
    });
    group.bench_function("cold_start_same_graph", |b| {
        b.iter(|| black_box(EigenTrust::default().scores(&after, &seeds, None).expect("runs")))
    });
    group.finish();
}

/// Ours against petgraph's `page_rank` (uniform teleport, 100 iterations each) at 1k nodes.
fn against_petgraph(c: &mut Criterion) {
    let (nodes, edges) = (1_000, 10_000);
    let list = random_edges(nodes, edges, 9);
    let ours = Graph::from_edges(nodes, &list).expect("valid graph");
    let mut theirs = petgraph::Graph::<(), f64>::new();
    let ids: Vec<_> = (0..nodes).map(|_| theirs.add_node(())).collect();
    for &(f, t, w) in list.iter().filter(|(f, t, _)| f != t) {
        theirs.add_edge(ids[f as usize], ids[t as usize], w);
    }
    let all: Vec<Node> = (0..nodes as Node).collect();
    let model = EigenTrust { tolerance: 0.0, max_iterations: 100, ..EigenTrust::default() };
    let mut group = c.benchmark_group("pagerank_1k_nodes_10k_edges_100_iterations");
    group.sample_size(10);
    group.bench_function("ours_csr", |b| {
        // Teleport to every node (α = 0.15): the classic PageRank petgraph computes.
        b.iter(|| black_box(uniform(&model, &ours, &all)))
    });
    group.bench_function("petgraph_page_rank", |b| {
        b.iter(|| black_box(petgraph::algo::page_rank(&theirs, 0.85_f64, 100)))
    });
    group.finish();
}

/// PageRank with a uniform teleport: the teleporting iteration with every node pre-trusted.
fn uniform(model: &EigenTrust, graph: &Graph, all: &[Node]) -> Vec<f64> {
    model.scores(graph, all, None).expect("runs").scores
}

criterion_group!(benches, converged, incremental, against_petgraph);
criterion_main!(benches);
