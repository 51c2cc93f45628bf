//! Trust scores over the organization's relationship graph (SPEC §2.7), for bookkeeper
//! eligibility (SPEC §6.3) and sybil resistance. The graph is a compact sparse row (CSR)
//! structure of our own: edge `i → j` with weight `w` (a credit cap) means `i` vouches for `j`.
//!
//! Every model here is a power iteration over the column-stochastic transpose of the
//! row-normalised graph, `t ← (1 − α)·Cᵀt + α·p`, run until the L1 change falls below a
//! tolerance, optionally warm-started from the previous pulse's scores:
//! - [`EigenTrust`]: `p` uniform over the pre-trusted set (the supervisor and the
//!   structural-reward holders), `α = trust_alpha`; a node that vouches for nobody passes its
//!   trust to `p` (Kamvar et al. 2003).
//! - [`PersonalizedPageRank`]: the same iteration with `p` on the supervisor alone and the
//!   usual damping `α = 0.15`; dangling mass returns to the seed.
//! - [`SybilRank`]: no teleport; `⌈log₂ n⌉` steps of trust spreading from the seeds over the
//!   undirected graph, then each score divided by the node's weighted degree (Cao et al. 2012,
//!   whose graphs are unweighted: there the degree).
//!   Early termination is the point: the walk has not yet leaked far across the few attack
//!   edges into a sybil region.
//!
//! [`MaxFlow`] is the fourth model of SPEC §2.7: Advogato's capacity-by-distance network flow,
//! which certifies nodes (score 1) rather than ranking them.

use thiserror::Error;

/// A node of the trust graph (an index; the caller maps Ids to indices).
pub type Node = u32;

/// Why a graph or a computation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum TrustError {
    /// An edge names a node ≥ the node count.
    #[error("edge {from} → {to} names a node outside 0..{nodes}")]
    NodeOutOfRange {
        /// The edge's source.
        from: Node,
        /// The edge's target.
        to: Node,
        /// The node count.
        nodes: usize,
    },
    /// A weight is negative, zero or not finite.
    #[error("edge {from} → {to} has weight {weight}; weights must be positive and finite")]
    BadWeight {
        /// The edge's source.
        from: Node,
        /// The edge's target.
        to: Node,
        /// The weight.
        weight: f64,
    },
    /// The seed set is empty or names a node outside the graph.
    #[error("the seed (pre-trusted) set must be non-empty and inside the graph")]
    BadSeeds,
    /// `alpha` is outside (0, 1].
    #[error("alpha = {0} must be in (0, 1]")]
    BadAlpha(f64),
}

/// A directed weighted graph in CSR form: the out-edges of node `i` are
/// `targets[offsets[i]..offsets[i + 1]]` with the matching `weights`, already divided by the
/// node's total out-weight (so each non-empty row sums to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    offsets: Vec<usize>,
    targets: Vec<Node>,
    weights: Vec<f64>,
    /// Each node's total out-weight before normalisation: its weighted degree in an
    /// [`Graph::undirected`] graph.
    strengths: Vec<f64>,
}

impl Graph {
    /// The graph of `nodes` nodes and `edges` `(from, to, weight)`. Parallel edges add up;
    /// self-loops are dropped (vouching for oneself carries no information).
    pub fn from_edges(nodes: usize, edges: &[(Node, Node, f64)]) -> Result<Graph, TrustError> {
        for &(from, to, weight) in edges {
            if from as usize >= nodes || to as usize >= nodes {
                return Err(TrustError::NodeOutOfRange { from, to, nodes });
            }
            if !(weight.is_finite() && weight > 0.0) {
                return Err(TrustError::BadWeight { from, to, weight });
            }
        }
        let mut sorted: Vec<(Node, Node, f64)> = edges.iter().copied().filter(|(f, t, _)| f != t).collect();
        sorted.sort_unstable_by_key(|&(f, t, _)| (f, t));
        let mut offsets = vec![0usize; nodes + 1];
        let mut targets = Vec::with_capacity(sorted.len());
        let mut weights: Vec<f64> = Vec::with_capacity(sorted.len());
        let mut last: Option<(Node, Node)> = None;
        for (from, to, weight) in sorted {
            if last == Some((from, to)) {
                *weights.last_mut().expect("a previous edge exists") += weight;
            } else {
                targets.push(to);
                weights.push(weight);
            }
            last = Some((from, to));
            offsets[from as usize + 1] = targets.len();
        }
        for i in 1..=nodes {
            offsets[i] = offsets[i].max(offsets[i - 1]);
        }
        let mut strengths = vec![0.0; nodes];
        for (i, strength) in strengths.iter_mut().enumerate() {
            let row = offsets[i]..offsets[i + 1];
            let total: f64 = weights[row.clone()].iter().sum();
            weights[row].iter_mut().for_each(|w| *w /= total);
            *strength = total;
        }
        Ok(Graph { offsets, targets, weights, strengths })
    }

    /// The graph with every edge also present in reverse (for SybilRank's undirected walk).
    pub fn undirected(nodes: usize, edges: &[(Node, Node, f64)]) -> Result<Graph, TrustError> {
        let both: Vec<(Node, Node, f64)> =
            edges.iter().flat_map(|&(f, t, w)| [(f, t, w), (t, f, w)]).collect();
        Graph::from_edges(nodes, &both)
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of (merged) edges.
    pub fn edges(&self) -> usize {
        self.targets.len()
    }

    /// Node `i`'s out-edges: `(target, normalised weight)`.
    pub fn out_edges(&self, i: Node) -> impl Iterator<Item = (Node, f64)> + '_ {
        let row = self.offsets[i as usize]..self.offsets[i as usize + 1];
        self.targets[row.clone()].iter().copied().zip(self.weights[row].iter().copied())
    }

    /// Node `i`'s out-degree.
    pub fn degree(&self, i: Node) -> usize {
        self.offsets[i as usize + 1] - self.offsets[i as usize]
    }

    /// Node `i`'s total out-weight (as given, before normalisation): in an
    /// [`Graph::undirected`] graph its weighted degree, the sum of its edges' weights.
    pub fn strength(&self, i: Node) -> f64 {
        self.strengths[i as usize]
    }

    /// One step `next = Cᵀ·t` (push form: each node sends its trust along its out-edges);
    /// returns the mass held by nodes without out-edges, which the caller redistributes.
    fn spread(&self, t: &[f64], next: &mut [f64]) -> f64 {
        next.iter_mut().for_each(|x| *x = 0.0);
        let mut dangling = 0.0;
        for (i, &ti) in t.iter().enumerate() {
            let row = self.offsets[i]..self.offsets[i + 1];
            if row.is_empty() {
                dangling += ti;
                continue;
            }
            for (&j, &w) in self.targets[row.clone()].iter().zip(&self.weights[row]) {
                next[j as usize] += w * ti;
            }
        }
        dangling
    }
}

/// The scores and how they were reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// One score per node; the teleporting models' scores sum to 1.
    pub scores: Vec<f64>,
    /// Iterations run.
    pub iterations: u32,
    /// The L1 change of the last iteration (0 for SybilRank, which stops by design).
    pub residual: f64,
}

/// A trust model (SPEC §2.7): scores from a graph and a seed (pre-trusted) set.
pub trait TrustModel {
    /// Scores for `graph` seeded by `seeds`; `warm` (the previous scores, same length) starts
    /// the iteration closer to the answer after small changes.
    fn scores(&self, graph: &Graph, seeds: &[Node], warm: Option<&[f64]>) -> Result<Scores, TrustError>;
}

/// Teleporting power iteration shared by EigenTrust and personalised PageRank.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Teleporting {
    alpha: f64,
    tolerance: f64,
    max_iterations: u32,
}

impl Teleporting {
    fn run(&self, graph: &Graph, seeds: &[Node], warm: Option<&[f64]>) -> Result<Scores, TrustError> {
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(TrustError::BadAlpha(self.alpha));
        }
        let p = seed_vector(graph.nodes(), seeds)?;
        let mut t = match warm {
            Some(w) if w.len() == graph.nodes() && (w.iter().sum::<f64>() - 1.0).abs() < 1e-6 => w.to_vec(),
            _ => p.clone(),
        };
        let mut next = vec![0.0; t.len()];
        let (mut iterations, mut residual) = (0, f64::INFINITY);
        while residual >= self.tolerance && iterations < self.max_iterations {
            let dangling = graph.spread(&t, &mut next);
            residual = 0.0;
            for ((x, &pi), &old) in next.iter_mut().zip(&p).zip(&t) {
                // Dangling trust returns to the seeds, so the total stays 1.
                *x = (1.0 - self.alpha) * (*x + dangling * pi) + self.alpha * pi;
                residual += (*x - old).abs();
            }
            std::mem::swap(&mut t, &mut next);
            iterations += 1;
        }
        Ok(Scores { scores: t, iterations, residual })
    }
}

/// The uniform distribution over `seeds`.
fn seed_vector(nodes: usize, seeds: &[Node]) -> Result<Vec<f64>, TrustError> {
    if seeds.is_empty() || seeds.iter().any(|s| *s as usize >= nodes) {
        return Err(TrustError::BadSeeds);
    }
    let mut p = vec![0.0; nodes];
    let unique: std::collections::BTreeSet<Node> = seeds.iter().copied().collect();
    for s in &unique {
        p[*s as usize] = 1.0 / unique.len() as f64;
    }
    Ok(p)
}

/// EigenTrust with pre-trusted peers (SPEC §2.7 `eigentrust`, `trust_alpha`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EigenTrust {
    /// Weight of the pre-trust vector (`trust_alpha`, SPEC default 0.15).
    pub alpha: f64,
    /// Stop when an iteration changes the scores by less than this (L1).
    pub tolerance: f64,
    /// Stop after this many iterations in any case.
    pub max_iterations: u32,
}

impl Default for EigenTrust {
    fn default() -> Self {
        EigenTrust { alpha: 0.15, tolerance: 1e-9, max_iterations: 1_000 }
    }
}

impl TrustModel for EigenTrust {
    fn scores(&self, graph: &Graph, seeds: &[Node], warm: Option<&[f64]>) -> Result<Scores, TrustError> {
        Teleporting { alpha: self.alpha, tolerance: self.tolerance, max_iterations: self.max_iterations }
            .run(graph, seeds, warm)
    }
}

/// Personalised PageRank from the supervisor (SPEC §2.7 `personalized_pagerank`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PersonalizedPageRank {
    /// Teleport probability back to the seed (1 − damping; 0.15 by convention).
    pub teleport: f64,
    /// Stop when an iteration changes the scores by less than this (L1).
    pub tolerance: f64,
    /// Stop after this many iterations in any case.
    pub max_iterations: u32,
}

impl Default for PersonalizedPageRank {
    fn default() -> Self {
        PersonalizedPageRank { teleport: 0.15, tolerance: 1e-9, max_iterations: 1_000 }
    }
}

impl TrustModel for PersonalizedPageRank {
    fn scores(&self, graph: &Graph, seeds: &[Node], warm: Option<&[f64]>) -> Result<Scores, TrustError> {
        let supervisor = seeds.first().ok_or(TrustError::BadSeeds)?;
        Teleporting { alpha: self.teleport, tolerance: self.tolerance, max_iterations: self.max_iterations }
            .run(graph, std::slice::from_ref(supervisor), warm)
    }
}

/// SybilRank: early-terminated trust propagation, normalised by weighted degree. Run it on an
/// [`Graph::undirected`] graph.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SybilRank {
    /// Steps to run; `None` means `⌈log₂ n⌉` (the paper's choice).
    pub steps: Option<u32>,
}

impl TrustModel for SybilRank {
    fn scores(&self, graph: &Graph, seeds: &[Node], _warm: Option<&[f64]>) -> Result<Scores, TrustError> {
        let n = graph.nodes();
        let mut t = seed_vector(n, seeds)?;
        let steps = self.steps.unwrap_or_else(|| (n.max(2) as f64).log2().ceil() as u32);
        let mut next = vec![0.0; n];
        for _ in 0..steps {
            // The mass of isolated nodes is what `spread` reports as dangling: each keeps its
            // own (it has nowhere to send it).
            graph.spread(&t, &mut next);
            for (i, x) in next.iter_mut().enumerate() {
                if graph.degree(i as Node) == 0 {
                    *x += t[i];
                }
            }
            std::mem::swap(&mut t, &mut next);
        }
        // Divide by the weighted degree, not the count of edges: the walk moves along edges in
        // proportion to their weights, so on a connected, non-bipartite graph it converges to
        // trust proportional to each node's weighted degree, and only this division makes the
        // converged scores equal (with edge counts they differed by a factor of 2.7 on the
        // test's small weighted graph, D-048). With every weight 1 the two are the same.
        for (i, x) in t.iter_mut().enumerate() {
            let strength = graph.strength(i as Node);
            if strength > 0.0 {
                *x /= strength;
            }
        }
        Ok(Scores { scores: t, iterations: steps, residual: 0.0 })
    }
}

/// Advogato-style trust metric (SPEC §2.7 `maxflow`; Levien 2004): each node gets a capacity
/// by its distance from the seeds, becomes an edge `in → out` of capacity `capacity − 1` plus
/// an edge `in → sink` of capacity 1, and every relation `x → y` an edge `out(x) → in(y)` of
/// unbounded capacity; a maximum flow from the seeds certifies the nodes whose sink edge
/// carries flow (score 1, others 0). A sybil region reached by few attack edges can be certified
/// at most as far as the capacities of the honest nodes holding those edges allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxFlow {
    /// Capacity by distance from the nearest seed (`capacities[0]` for the seeds); nodes
    /// farther than the list reaches get the last entry; unreachable nodes get nothing.
    pub capacities: Vec<u64>,
}

impl MaxFlow {
    /// Capacities shrinking by the graph's average out-degree per level from `nodes` at the
    /// seeds, down to 1 (Advogato's shape, scaled to the graph; D-027).
    pub fn scaled(graph: &Graph) -> MaxFlow {
        let fanout = (graph.edges() as f64 / graph.nodes().max(1) as f64).max(2.0);
        let mut capacities = Vec::new();
        let mut capacity = graph.nodes().max(1) as f64;
        while capacity > 1.0 {
            capacities.push(capacity.ceil() as u64);
            capacity /= fanout;
        }
        capacities.push(1);
        MaxFlow { capacities }
    }
}

impl TrustModel for MaxFlow {
    fn scores(&self, graph: &Graph, seeds: &[Node], _warm: Option<&[f64]>) -> Result<Scores, TrustError> {
        seed_vector(graph.nodes(), seeds)?; // validates the seeds
        let n = graph.nodes();
        let distance = distances(graph, seeds);
        let capacity = |x: usize| match distance[x] {
            Some(d) => *self.capacities.get(d).or(self.capacities.last()).unwrap_or(&0),
            None => 0,
        };
        // Flow nodes: in(x) = 2x, out(x) = 2x + 1, sink = 2n, source = 2n + 1.
        let (sink, source) = (2 * n, 2 * n + 1);
        let mut flow = FlowNetwork::new(2 * n + 2);
        let mut sink_edges = vec![usize::MAX; n];
        for (x, sink_edge) in sink_edges.iter_mut().enumerate() {
            let c = capacity(x);
            if c == 0 {
                continue;
            }
            *sink_edge = flow.add_edge(2 * x, sink, 1);
            flow.add_edge(2 * x, 2 * x + 1, c - 1);
            for (y, _) in graph.out_edges(x as Node) {
                flow.add_edge(2 * x + 1, 2 * y as usize, UNBOUNDED);
            }
        }
        let unique: std::collections::BTreeSet<Node> = seeds.iter().copied().collect();
        for s in unique {
            flow.add_edge(source, 2 * s as usize, capacity(s as usize));
        }
        let phases = flow.max_flow(source, sink);
        let scores = (0..n)
            .map(|x| if sink_edges[x] != usize::MAX && flow.flow_on(sink_edges[x]) > 0 { 1.0 } else { 0.0 })
            .collect();
        Ok(Scores { scores, iterations: phases, residual: 0.0 })
    }
}

const UNBOUNDED: u64 = u64::MAX / 4;

/// Breadth-first distance of every node from the nearest seed (`None`: unreachable).
fn distances(graph: &Graph, seeds: &[Node]) -> Vec<Option<usize>> {
    let mut distance = vec![None; graph.nodes()];
    let mut queue = std::collections::VecDeque::new();
    for s in seeds {
        if distance[*s as usize].is_none() {
            distance[*s as usize] = Some(0);
            queue.push_back(*s);
        }
    }
    while let Some(x) = queue.pop_front() {
        let d = distance[x as usize].expect("queued nodes have a distance");
        for (y, _) in graph.out_edges(x) {
            if distance[y as usize].is_none() {
                distance[y as usize] = Some(d + 1);
                queue.push_back(y);
            }
        }
    }
    distance
}

/// A flow network for Dinic's algorithm: edges stored in pairs (forward, residual).
struct FlowNetwork {
    adjacency: Vec<Vec<usize>>,
    to: Vec<usize>,
    capacity: Vec<u64>,
}

impl FlowNetwork {
    fn new(nodes: usize) -> FlowNetwork {
        FlowNetwork { adjacency: vec![Vec::new(); nodes], to: Vec::new(), capacity: Vec::new() }
    }

    /// Add `from → to` with `capacity`; returns the forward edge's index.
    fn add_edge(&mut self, from: usize, to: usize, capacity: u64) -> usize {
        let index = self.to.len();
        self.adjacency[from].push(index);
        self.to.push(to);
        self.capacity.push(capacity);
        self.adjacency[to].push(index + 1);
        self.to.push(from);
        self.capacity.push(0);
        index
    }

    /// Flow carried by forward edge `edge` (its residual twin's capacity).
    fn flow_on(&self, edge: usize) -> u64 {
        self.capacity[edge + 1]
    }

    /// Dinic: BFS levels, then blocking flows by DFS with per-node edge cursors. Returns the
    /// number of phases.
    fn max_flow(&mut self, source: usize, sink: usize) -> u32 {
        let mut phases = 0;
        loop {
            let Some(level) = self.levels(source, sink) else { return phases };
            phases += 1;
            let mut cursor = vec![0usize; self.adjacency.len()];
            while self.augment(source, sink, UNBOUNDED, &level, &mut cursor) > 0 {}
        }
    }

    fn levels(&self, source: usize, sink: usize) -> Option<Vec<u32>> {
        let mut level = vec![u32::MAX; self.adjacency.len()];
        level[source] = 0;
        let mut queue = std::collections::VecDeque::from([source]);
        while let Some(v) = queue.pop_front() {
            for &e in &self.adjacency[v] {
                let w = self.to[e];
                if self.capacity[e] > 0 && level[w] == u32::MAX {
                    level[w] = level[v] + 1;
                    queue.push_back(w);
                }
            }
        }
        (level[sink] != u32::MAX).then_some(level)
    }

    /// One augmenting path along increasing levels, iteratively (no recursion depth limit).
    fn augment(
        &mut self,
        source: usize,
        sink: usize,
        limit: u64,
        level: &[u32],
        cursor: &mut [usize],
    ) -> u64 {
        let mut path: Vec<usize> = Vec::new(); // edges
        let mut v = source;
        loop {
            if v == sink {
                let pushed = path.iter().map(|&e| self.capacity[e]).min().unwrap_or(0).min(limit);
                for &e in &path {
                    self.capacity[e] -= pushed;
                    self.capacity[e ^ 1] += pushed;
                }
                return pushed;
            }
            let mut advanced = false;
            while cursor[v] < self.adjacency[v].len() {
                let e = self.adjacency[v][cursor[v]];
                let w = self.to[e];
                if self.capacity[e] > 0 && level[w] == level[v] + 1 {
                    path.push(e);
                    v = w;
                    advanced = true;
                    break;
                }
                cursor[v] += 1;
            }
            if !advanced {
                // Dead end: retreat one edge and skip it from its tail from now on.
                let Some(e) = path.pop() else { return 0 };
                v = self.to[e ^ 1];
                cursor[v] += 1;
            }
        }
    }
}
