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
//!   undirected graph, then each score divided by the node's degree (Cao et al. 2012).
//!   Early termination is the point: the walk has not yet leaked far across the few attack
//!   edges into a sybil region.

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
        for i in 0..nodes {
            let row = offsets[i]..offsets[i + 1];
            let total: f64 = weights[row.clone()].iter().sum();
            weights[row].iter_mut().for_each(|w| *w /= total);
        }
        Ok(Graph { offsets, targets, weights })
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

/// SybilRank: early-terminated trust propagation, degree-normalised. Run it on an
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
            let dangling = graph.spread(&t, &mut next);
            // An isolated node keeps what it has (it has nowhere to send it).
            for (i, x) in next.iter_mut().enumerate() {
                if graph.degree(i as Node) == 0 {
                    *x += t[i];
                }
            }
            debug_assert!(dangling >= 0.0);
            std::mem::swap(&mut t, &mut next);
        }
        for (i, x) in t.iter_mut().enumerate() {
            let degree = graph.degree(i as Node);
            if degree > 0 {
                *x /= degree as f64;
            }
        }
        Ok(Scores { scores: t, iterations: steps, residual: 0.0 })
    }
}
