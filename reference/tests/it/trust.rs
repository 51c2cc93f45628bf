//! Trust models (SPEC §2.7) against independent computations: a dense linear solve of the
//! teleporting fixed point, on hand-made and random graphs; SybilRank on graphs whose answer is
//! known; and every refusal.

use proptest::prelude::*;
use reference::credit::trust::{
    EigenTrust, Graph, Node, PersonalizedPageRank, SybilRank, TrustError, TrustModel,
};

/// The exact fixed point `t = (1 − α)·M·t + α·p`, where `M` is the column-stochastic matrix
/// with dangling columns replaced by `p`, solved densely by Gaussian elimination with partial
/// pivoting — an independent route to the answer the power iteration approximates.
fn exact(nodes: usize, edges: &[(Node, Node, f64)], seeds: &[Node], alpha: f64) -> Vec<f64> {
    let mut p = vec![0.0; nodes];
    let unique: std::collections::BTreeSet<Node> = seeds.iter().copied().collect();
    unique.iter().for_each(|s| p[*s as usize] = 1.0 / unique.len() as f64);
    let mut out = vec![vec![0.0; nodes]; nodes]; // out[i][j] = weight of i → j
    for &(f, t, w) in edges.iter().filter(|(f, t, _)| f != t) {
        out[f as usize][t as usize] += w;
    }
    let mut a = vec![vec![0.0; nodes + 1]; nodes]; // [I − (1 − α)M | α·p]
    for j in 0..nodes {
        a[j][j] = 1.0;
        a[j][nodes] = alpha * p[j];
    }
    for (i, row) in out.iter().enumerate() {
        let total: f64 = row.iter().sum();
        for j in 0..nodes {
            let m_ji = if total > 0.0 { row[j] / total } else { p[j] };
            a[j][i] -= (1.0 - alpha) * m_ji;
        }
    }
    for col in 0..nodes {
        let pivot = (col..nodes).max_by(|x, y| a[*x][col].abs().total_cmp(&a[*y][col].abs())).unwrap();
        a.swap(col, pivot);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= factor * p;
                }
            }
        }
    }
    (0..nodes).map(|i| a[i][nodes] / a[i][i]).collect()
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

#[test]
fn eigentrust_matches_the_exact_fixed_point_on_a_hand_made_graph() {
    // 0 vouches for 1 and 2; 1 for 2; 2 for 0; 3 vouches for 0 only; 4 vouches for nobody.
    let edges = [(0, 1, 1.0), (0, 2, 3.0), (1, 2, 1.0), (2, 0, 2.0), (3, 0, 1.0), (2, 4, 1.0)];
    let graph = Graph::from_edges(5, &edges).unwrap();
    let model = EigenTrust::default();
    let got = model.scores(&graph, &[0, 3], None).unwrap();
    let want = exact(5, &edges, &[0, 3], model.alpha);
    assert!(l1(&got.scores, &want) < 1e-9, "{:?} vs {want:?}", got.scores);
    assert!((got.scores.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(got.residual < 1e-9 && got.iterations > 10);
}

fn graph_strategy() -> impl Strategy<Value = (usize, Vec<(Node, Node, f64)>, Vec<Node>)> {
    (2usize..40).prop_flat_map(|n| {
        let edge = (0..n as Node, 0..n as Node, 0.1f64..10.0);
        (Just(n), proptest::collection::vec(edge, 0..n * 4), proptest::collection::vec(0..n as Node, 1..4))
    })
}

proptest! {
    #[test]
    fn teleporting_models_match_the_dense_solve_on_random_graphs((n, edges, seeds) in graph_strategy()) {
        let graph = Graph::from_edges(n, &edges).unwrap();
        let eigen = EigenTrust::default().scores(&graph, &seeds, None).unwrap();
        prop_assert!(l1(&eigen.scores, &exact(n, &edges, &seeds, 0.15)) < 1e-8);
        let ppr = PersonalizedPageRank { teleport: 0.3, ..PersonalizedPageRank::default() };
        let got = ppr.scores(&graph, &seeds, None).unwrap();
        prop_assert!(l1(&got.scores, &exact(n, &edges, &seeds[..1], 0.3)) < 1e-8);
    }

    #[test]
    fn a_warm_start_gives_the_same_scores_in_fewer_iterations((n, edges, seeds) in graph_strategy()) {
        let graph = Graph::from_edges(n, &edges).unwrap();
        let model = EigenTrust::default();
        let cold = model.scores(&graph, &seeds, None).unwrap();
        let warm = model.scores(&graph, &seeds, Some(&cold.scores)).unwrap();
        prop_assert!(l1(&cold.scores, &warm.scores) < 1e-8);
        prop_assert!(warm.iterations <= 2, "warm from the answer: {} iterations", warm.iterations);
    }
}

/// An honest region `0..h` (a ring with multiplicative chords: it mixes in a few steps, as a
/// social graph's core does) and a sybil region `h..h+s` (a dense clique), joined by `g`
/// attack edges.
fn sybil_graph(h: Node, s: Node, g: Node) -> (usize, Vec<(Node, Node, f64)>) {
    let mut edges = Vec::new();
    for i in 0..h {
        // `i + 2` keeps the graph from being bipartite (a walk on a bipartite graph alternates
        // sides, and an early-stopped one leaves half the nodes at zero).
        for target in [i + 1, i + 2, i * 5 + 3, i * 11 + 7, i * 17 + 1] {
            edges.push((i, target % h, 1.0));
        }
    }
    for i in h..h + s {
        for j in h..h + s {
            if i != j {
                edges.push((i, j, 1.0));
            }
        }
    }
    for k in 0..g {
        edges.push((k * 3 % h, h + k % s, 1.0));
    }
    ((h + s) as usize, edges)
}

/// Area under the ROC curve: the chance an honest node outranks a sybil (ties count half).
fn auc(scores: &[f64], honest: usize) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for h in &scores[..honest] {
        for s in &scores[honest..] {
            pairs += 1.0;
            wins += if h > s {
                1.0
            } else if h == s {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

#[test]
fn without_attack_edges_sybils_get_exactly_nothing_from_every_model() {
    let (n, edges) = sybil_graph(60, 30, 0);
    let directed = Graph::from_edges(n, &edges).unwrap();
    let undirected = Graph::undirected(n, &edges).unwrap();
    let seeds = [0, 10, 20];
    let results = [
        EigenTrust::default().scores(&directed, &seeds, None).unwrap(),
        PersonalizedPageRank::default().scores(&directed, &seeds, None).unwrap(),
        SybilRank::default().scores(&undirected, &seeds, None).unwrap(),
    ];
    for result in results {
        assert!(result.scores[60..].iter().all(|s| *s == 0.0), "{:?}", &result.scores[60..]);
        assert_eq!(auc(&result.scores, 60), 1.0);
    }
}

#[test]
fn few_attack_edges_leave_sybils_ranked_below_honest_nodes_and_more_edges_leak_more() {
    let trust_in_sybils = |g| {
        let (n, edges) = sybil_graph(200, 100, g);
        let graph = Graph::from_edges(n, &edges).unwrap();
        let scores = EigenTrust::default().scores(&graph, &[0, 50, 100, 150], None).unwrap().scores;
        let undirected = Graph::undirected(n, &edges).unwrap();
        let sybilrank = SybilRank::default().scores(&undirected, &[0, 50, 100, 150], None).unwrap().scores;
        (scores[200..].iter().sum::<f64>(), auc(&scores, 200), auc(&sybilrank, 200))
    };
    let (few, few_auc, few_sybilrank_auc) = trust_in_sybils(2);
    let (many, _, _) = trust_in_sybils(40);
    assert!(few_auc > 0.9 && few_sybilrank_auc > 0.9, "AUC {few_auc} / {few_sybilrank_auc}");
    assert!(many > few, "more attack edges, more trust leaks: {few} → {many}");
}

#[test]
fn bad_graphs_and_parameters_are_typed_errors() {
    assert!(matches!(Graph::from_edges(2, &[(0, 2, 1.0)]), Err(TrustError::NodeOutOfRange { to: 2, .. })));
    assert!(matches!(Graph::from_edges(2, &[(0, 1, 0.0)]), Err(TrustError::BadWeight { .. })));
    assert!(matches!(Graph::from_edges(2, &[(0, 1, f64::NAN)]), Err(TrustError::BadWeight { .. })));
    let graph = Graph::from_edges(2, &[(0, 1, 1.0), (0, 1, 2.0), (1, 1, 5.0)]).unwrap();
    assert_eq!(graph.edges(), 1, "parallel edges merge, self-loops drop");
    assert_eq!(EigenTrust::default().scores(&graph, &[], None), Err(TrustError::BadSeeds));
    assert_eq!(EigenTrust::default().scores(&graph, &[7], None), Err(TrustError::BadSeeds));
    let bad = EigenTrust { alpha: 0.0, ..EigenTrust::default() };
    assert_eq!(bad.scores(&graph, &[0], None), Err(TrustError::BadAlpha(0.0)));
}

// ----- Advogato max-flow ------------------------------------------------------------------

use reference::credit::trust::MaxFlow;

#[test]
fn maxflow_certifies_along_a_chain_as_far_as_the_capacities_reach() {
    let graph = Graph::from_edges(5, &[(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 4, 1.0)]).unwrap();
    let model = MaxFlow { capacities: vec![3, 2, 1] };
    // The seed keeps 1 and passes 2; node 1 keeps 1 and passes 1; node 2 keeps it; 3, 4 get none.
    let scores = model.scores(&graph, &[0], None).unwrap().scores;
    assert_eq!(scores, [1.0, 1.0, 1.0, 0.0, 0.0]);
}

/// Breadth-first distance from the nearest seed, over the edge list directly.
fn bfs_distances(n: usize, edges: &[(Node, Node, f64)], seeds: &[Node]) -> Vec<Option<usize>> {
    let mut distance = vec![None; n];
    let mut queue = std::collections::VecDeque::new();
    for &s in seeds {
        if distance[s as usize].is_none() {
            distance[s as usize] = Some(0usize);
            queue.push_back(s as usize);
        }
    }
    while let Some(x) = queue.pop_front() {
        for &(_, t, _) in edges.iter().filter(|(f, t, _)| *f as usize == x && f != t) {
            if distance[t as usize].is_none() {
                distance[t as usize] = Some(distance[x].expect("queued") + 1);
                queue.push_back(t as usize);
            }
        }
    }
    distance
}

/// The certified count by an independent Edmonds–Karp over a dense capacity matrix of the same
/// Advogato construction.
fn edmonds_karp_certified(n: usize, edges: &[(Node, Node, f64)], seeds: &[Node], capacities: &[u64]) -> u64 {
    let distance = bfs_distances(n, edges, seeds);
    let cap = |x: usize| distance[x].map_or(0, |d| *capacities.get(d).unwrap_or(capacities.last().unwrap()));
    let size = 2 * n + 2;
    let (sink, source) = (2 * n, 2 * n + 1);
    let mut c = vec![vec![0u64; size]; size];
    for x in 0..n {
        if cap(x) > 0 {
            c[2 * x][sink] += 1;
            c[2 * x][2 * x + 1] += cap(x) - 1;
            for &(_, t, _) in edges.iter().filter(|(f, t, _)| *f as usize == x && f != t) {
                c[2 * x + 1][2 * t as usize] = 1 << 40;
            }
        }
    }
    let unique: std::collections::BTreeSet<Node> = seeds.iter().copied().collect();
    for s in unique {
        c[source][2 * s as usize] += cap(s as usize);
    }
    let mut total = 0;
    loop {
        let mut parent = vec![usize::MAX; size];
        parent[source] = source;
        let mut queue = std::collections::VecDeque::from([source]);
        while let Some(v) = queue.pop_front() {
            for w in 0..size {
                if parent[w] == usize::MAX && c[v][w] > 0 {
                    parent[w] = v;
                    queue.push_back(w);
                }
            }
        }
        if parent[sink] == usize::MAX {
            return total;
        }
        let mut push = u64::MAX;
        let mut w = sink;
        while w != source {
            push = push.min(c[parent[w]][w]);
            w = parent[w];
        }
        let mut w = sink;
        while w != source {
            c[parent[w]][w] -= push;
            c[w][parent[w]] += push;
            w = parent[w];
        }
        total += push;
    }
}

proptest! {
    #[test]
    fn maxflow_certifies_as_many_nodes_as_an_independent_max_flow((n, edges, seeds) in graph_strategy()) {
        let graph = Graph::from_edges(n, &edges).unwrap();
        let model = MaxFlow { capacities: vec![6, 3, 2, 1] };
        let certified: f64 = model.scores(&graph, &seeds, None).unwrap().scores.iter().sum();
        prop_assert_eq!(certified as u64, edmonds_karp_certified(n, &edges, &seeds, &model.capacities));
    }
}

#[test]
fn maxflow_bounds_certified_sybils_by_the_attacked_nodes_capacities() {
    let seeds = [0, 50, 100, 150];
    let (n, edges) = sybil_graph(200, 100, 0);
    let graph = Graph::from_edges(n, &edges).unwrap();
    let scaled = MaxFlow::scaled(&graph).capacities;
    assert!(
        scaled.windows(2).all(|w| w[0] > w[1]) && scaled.first() == Some(&300) && scaled.last() == Some(&1)
    );
    let model = MaxFlow { capacities: vec![100, 30, 8, 3, 1] };
    assert!(model.scores(&graph, &seeds, None).unwrap().scores[200..].iter().all(|s| *s == 0.0));
    for g in [2, 10] {
        let (n, edges) = sybil_graph(200, 100, g);
        let graph = Graph::from_edges(n, &edges).unwrap();
        let scores = model.scores(&graph, &seeds, None).unwrap().scores;
        let certified_sybils = scores[200..].iter().sum::<f64>() as u64;
        // Every unit of flow into the sybil region crosses an attack edge out of an honest
        // node, which passes on at most its capacity − 1 (capacity by distance from the seeds).
        let distance = bfs_distances(n, &edges, &seeds);
        let distance_capacity = |x: Node| {
            let d = distance[x as usize].expect("honest nodes are reachable");
            *model.capacities.get(d).unwrap_or(model.capacities.last().unwrap())
        };
        let attackers: std::collections::BTreeSet<Node> = (0..g).map(|k| k * 3 % 200).collect();
        let bound: u64 = attackers.iter().map(|x| distance_capacity(*x) - 1).sum();
        assert!(certified_sybils <= bound, "g = {g}: {certified_sybils} sybils certified, bound {bound}");
        assert!(scores[..200].iter().sum::<f64>() > 150.0, "most honest nodes are certified");
    }
}

/// A small weighted social graph: connected, with triangles (so not bipartite), and weights
/// (credit caps) from 1 to 9, so that weighted degrees and edge counts rank nodes differently.
fn weighted_social_graph() -> (usize, Vec<(Node, Node, f64)>) {
    let edges = vec![
        (0, 1, 1.0),
        (1, 2, 9.0),
        (2, 0, 2.0),
        (2, 3, 5.0),
        (3, 4, 1.0),
        (4, 5, 3.0),
        (5, 3, 1.0),
        (5, 6, 8.0),
        (6, 7, 1.0),
        (7, 0, 4.0),
        (1, 6, 2.0),
    ];
    (8, edges)
}

#[test]
fn sybilrank_run_to_convergence_gives_every_node_the_same_normalised_score_on_a_weighted_graph() {
    // The walk spreads trust in proportion to edge weights, so at convergence each node holds
    // trust in proportion to its weighted degree; divided by it, every score is the same.
    let (n, edges) = weighted_social_graph();
    let graph = Graph::undirected(n, &edges).unwrap();
    let scores = SybilRank { steps: Some(2_000) }.scores(&graph, &[0], None).unwrap().scores;
    let (lo, hi) = scores.iter().fold((f64::MAX, 0.0f64), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
    assert!(lo > 0.0, "every node reached: {scores:?}");
    assert!(hi / lo < 1.0 + 1e-9, "ratio {} between the largest and smallest: {scores:?}", hi / lo);
    // The weighted degrees really differ from the edge counts here (else the test could not
    // tell the two normalisations apart): node 1 has 3 edges of weight 12, node 0 3 of 7.
    assert_eq!((graph.degree(1), graph.strength(1)), (3, 12.0));
    assert_eq!((graph.degree(0), graph.strength(0)), (3, 7.0));
    // And on an unweighted graph the weighted degree is the degree.
    let unit: Vec<_> = edges.iter().map(|&(f, t, _)| (f, t, 1.0)).collect();
    let unit = Graph::undirected(n, &unit).unwrap();
    assert!((0..n as Node).all(|i| unit.strength(i) == unit.degree(i) as f64));
}
