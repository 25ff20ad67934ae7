//! Degree centrality, betweenness centrality and the local clustering
//! coefficient, with NetworkX's definitions and defaults (unweighted,
//! betweenness `normalized=True`), checked against NetworkX to 1e-9 in
//! `tests/networkx_reference.rs`.
//!
//! Petgraph 0.8 has none of the three (its `algo` module offers shortest
//! paths, flows, matchings, page rank, cliques…, but no betweenness or
//! clustering), so they are written here over a compressed adjacency list
//! ([`Adjacency`]): one contiguous array of neighbours is what Brandes' inner
//! loop wants, and it drops the edge weights the unweighted metrics ignore.
//!
//! The functions take any petgraph `UnGraph`, not only [`crate::OrgGraph`]'s,
//! so the reference tests can feed them plain edge lists. Parallel edges
//! count once and self-loops are ignored, as in a NetworkX `Graph` without
//! self-loops (the organisation graph has neither).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use petgraph::graph::UnGraph;
use petgraph::visit::EdgeRef;

use crate::budget::{Budget, Interrupted};
use crate::sampling::{self, Accuracy, BetweennessMethod};

/// Sources per unit of parallel work in [`betweenness_centrality_with_threads`].
///
/// Fixed, not derived from the thread count, so that the partial sums and
/// the order they are added in, and therefore every bit of the result, are
/// the same on a laptop and on a 64-core server. 64 sources is enough work
/// per chunk to hide the hand-off, and small enough to balance two cores.
pub const SOURCES_PER_CHUNK: usize = 64;

/// Neighbour lists in one array (CSR): node `v`'s neighbours are
/// `targets[offsets[v]..offsets[v + 1]]`, sorted, without duplicates or `v`.
#[derive(Debug, Clone)]
pub struct Adjacency {
    offsets: Vec<usize>,
    targets: Vec<u32>,
}

impl Adjacency {
    pub fn from_graph<N, E>(graph: &UnGraph<N, E>) -> Self {
        let n = graph.node_count();
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); n];
        for edge in graph.edge_references() {
            let (a, b) = (edge.source().index(), edge.target().index());
            if a != b {
                // Petgraph's default index type is u32, so these fit.
                lists[a].push(b as u32);
                lists[b].push(a as u32);
            }
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut targets = Vec::with_capacity(2 * graph.edge_count());
        offsets.push(0);
        for mut list in lists {
            list.sort_unstable();
            list.dedup();
            targets.extend_from_slice(&list);
            offsets.push(targets.len());
        }
        Self { offsets, targets }
    }

    pub fn node_count(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn neighbours(&self, v: usize) -> &[u32] {
        &self.targets[self.offsets[v]..self.offsets[v + 1]]
    }

    pub fn degree(&self, v: usize) -> usize {
        self.offsets[v + 1] - self.offsets[v]
    }
}

/// The three metrics of every node, in node order.
#[derive(Debug, Clone, PartialEq)]
pub struct Centralities {
    pub degree: Vec<f64>,
    pub betweenness: Vec<f64>,
    pub clustering: Vec<f64>,
}

/// All three metrics over one shared adjacency list, exact, to the end.
pub fn centralities<N, E>(graph: &UnGraph<N, E>, threads: NonZeroUsize) -> Centralities {
    let adjacency = Adjacency::from_graph(graph);
    let unlimited = Budget::unlimited();
    Centralities {
        degree: degree_of(&adjacency),
        betweenness: exact_betweenness(&adjacency, threads, &unlimited)
            .unwrap_or_else(|_| unreachable!("an unlimited budget never runs out")),
        clustering: clustering_of(&adjacency, &unlimited)
            .unwrap_or_else(|_| unreachable!("an unlimited budget never runs out")),
    }
}

/// When betweenness is sampled instead of exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Approximation {
    /// Sample when `nodes × edges` (the order of Brandes' work) is above this.
    pub above_work: u64,
    pub accuracy: Accuracy,
}

/// The method [`centralities_within`] uses on a graph of `adjacency`'s size:
/// exact at or below the threshold, and also above it when the sample the
/// bound needs is at least one per node (exact is then no dearer).
pub fn choose_method(
    adjacency: &Adjacency,
    approximation: Option<&Approximation>,
) -> BetweennessMethod {
    let Some(approximation) = approximation else {
        return BetweennessMethod::Exact;
    };
    let n = adjacency.node_count();
    let edges = adjacency.targets.len() / 2;
    if (n as u64).saturating_mul(edges as u64) <= approximation.above_work {
        return BetweennessMethod::Exact;
    }
    let vertex_diameter_bound = sampling::vertex_diameter_bound(adjacency);
    let samples = sampling::sample_size(&approximation.accuracy, n, vertex_diameter_bound);
    if samples >= n {
        return BetweennessMethod::Exact;
    }
    BetweennessMethod::Sampled {
        samples,
        epsilon: approximation.accuracy.epsilon,
        delta: approximation.accuracy.delta,
        vertex_diameter_bound,
        seed: approximation.accuracy.seed,
    }
}

/// All three metrics, betweenness by [`choose_method`], stopping with
/// [`Interrupted`] once `budget` runs out. Returns the method used.
pub fn centralities_within<N, E>(
    graph: &UnGraph<N, E>,
    threads: NonZeroUsize,
    approximation: Option<&Approximation>,
    budget: &Budget,
) -> Result<(Centralities, BetweennessMethod), Interrupted> {
    let adjacency = Adjacency::from_graph(graph);
    let method = choose_method(&adjacency, approximation);
    let betweenness = match method {
        BetweennessMethod::Exact => exact_betweenness(&adjacency, threads, budget)?,
        BetweennessMethod::Sampled { samples, seed, .. } => {
            sampling::sampled_betweenness(&adjacency, samples, seed, threads.get(), budget)?
        }
    };
    let centralities = Centralities {
        degree: degree_of(&adjacency),
        betweenness,
        clustering: clustering_of(&adjacency, budget)?,
    };
    Ok((centralities, method))
}

/// `degree / (n − 1)`, as `networkx.degree_centrality`.
///
/// Like NetworkX, a graph of one node gives that node 1, not 0: NetworkX
/// returns `{n: 1 for n in G}` when `len(G) <= 1` (a lone node is connected
/// to every other node there is), and we match NetworkX exactly.
pub fn degree_centrality<N, E>(graph: &UnGraph<N, E>) -> Vec<f64> {
    degree_of(&Adjacency::from_graph(graph))
}

/// Normalised betweenness (Brandes 2001), as
/// `networkx.betweenness_centrality(G)`, on all available cores.
pub fn betweenness_centrality<N, E>(graph: &UnGraph<N, E>) -> Vec<f64> {
    betweenness_centrality_with_threads(graph, default_threads())
}

/// As [`betweenness_centrality`] on at most `threads` threads. The result
/// does not depend on `threads`, bit for bit (see [`SOURCES_PER_CHUNK`]).
pub fn betweenness_centrality_with_threads<N, E>(
    graph: &UnGraph<N, E>,
    threads: NonZeroUsize,
) -> Vec<f64> {
    exact_betweenness(&Adjacency::from_graph(graph), threads, &Budget::unlimited())
        .unwrap_or_else(|_| unreachable!("an unlimited budget never runs out"))
}

/// Sampled betweenness (see [`crate::sampling`]) with the sample size its
/// bound needs for `accuracy`, whatever the graph's size, and the method
/// record; for tests and for comparing with the exact values.
pub fn sampled_betweenness_centrality<N, E>(
    graph: &UnGraph<N, E>,
    accuracy: &Accuracy,
    threads: NonZeroUsize,
) -> (Vec<f64>, BetweennessMethod) {
    let adjacency = Adjacency::from_graph(graph);
    let n = adjacency.node_count();
    let vertex_diameter_bound = sampling::vertex_diameter_bound(&adjacency);
    let samples = sampling::sample_size(accuracy, n, vertex_diameter_bound);
    let values = sampling::sampled_betweenness(
        &adjacency,
        samples,
        accuracy.seed,
        threads.get(),
        &Budget::unlimited(),
    )
    .unwrap_or_else(|_| unreachable!("an unlimited budget never runs out"));
    (
        values,
        BetweennessMethod::Sampled {
            samples,
            epsilon: accuracy.epsilon,
            delta: accuracy.delta,
            vertex_diameter_bound,
            seed: accuracy.seed,
        },
    )
}

/// Triangles through a node over the pairs of its neighbours,
/// `t / (d(d − 1)/2)`, 0 when `d < 2`, as `networkx.clustering(G)`.
pub fn clustering_coefficients<N, E>(graph: &UnGraph<N, E>) -> Vec<f64> {
    clustering_of(&Adjacency::from_graph(graph), &Budget::unlimited())
        .unwrap_or_else(|_| unreachable!("an unlimited budget never runs out"))
}

/// All cores the OS gives us, or one if it will not say.
pub fn default_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

fn degree_of(adjacency: &Adjacency) -> Vec<f64> {
    let n = adjacency.node_count();
    if n <= 1 {
        return vec![1.0; n];
    }
    // Multiply by the reciprocal, as NetworkX does, so the values agree bit for bit.
    let scale = 1.0 / (n as f64 - 1.0);
    (0..n).map(|v| adjacency.degree(v) as f64 * scale).collect()
}

/// Nodes of the clustering loop between two looks at the budget: a node
/// costs the degrees of its neighbours, which a hub shared by many makes
/// large (two hubs over n nodes cost 2n per node).
const CLUSTERING_NODES_PER_CHECK: usize = 64;

fn clustering_of(adjacency: &Adjacency, budget: &Budget) -> Result<Vec<f64>, Interrupted> {
    let n = adjacency.node_count();
    // marked[u] == v + 1 means u is a neighbour of v; no reset between nodes.
    let mut marked = vec![0usize; n];
    (0..n)
        .map(|v| {
            if v % CLUSTERING_NODES_PER_CHECK == 0 {
                budget.check()?;
            }
            let neighbours = adjacency.neighbours(v);
            let d = neighbours.len();
            if d < 2 {
                return Ok(0.0);
            }
            for &u in neighbours {
                marked[u as usize] = v + 1;
            }
            // Each triangle is seen twice, once from each of its other corners,
            // hence d(d − 1) below rather than d(d − 1)/2.
            let twice_triangles: usize = neighbours
                .iter()
                .map(|&w| {
                    adjacency
                        .neighbours(w as usize)
                        .iter()
                        .filter(|&&u| marked[u as usize] == v + 1)
                        .count()
                })
                .sum();
            Ok(if twice_triangles == 0 {
                0.0
            } else {
                twice_triangles as f64 / (d * (d - 1)) as f64
            })
        })
        .collect()
}

fn exact_betweenness(
    adjacency: &Adjacency,
    threads: NonZeroUsize,
    budget: &Budget,
) -> Result<Vec<f64>, Interrupted> {
    let n = adjacency.node_count();
    let chunks = n.div_ceil(SOURCES_PER_CHUNK);
    let workers = threads.get().min(chunks);
    let mut total = vec![0.0; n];
    let mut fold = OrderedFold::new(&mut total);

    if workers <= 1 {
        let mut brandes = Brandes::new(n);
        for chunk in 0..chunks {
            fold.add(chunk, brandes.chunk(adjacency, chunk, budget)?);
        }
    } else {
        let next_chunk = AtomicUsize::new(0);
        let (sender, receiver) = mpsc::channel::<(usize, Vec<f64>)>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let sender = sender.clone();
                let next_chunk = &next_chunk;
                scope.spawn(move || {
                    let mut brandes = Brandes::new(n);
                    loop {
                        let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                        if chunk >= chunks {
                            break;
                        }
                        let Ok(partial) = brandes.chunk(adjacency, chunk, budget) else {
                            // Out of budget: the others see it at their next source.
                            break;
                        };
                        // The receiver outlives every worker inside this scope.
                        if sender.send((chunk, partial)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(sender);
            for (chunk, partial) in receiver {
                fold.add(chunk, partial);
            }
        });
        if fold.next < chunks {
            // A worker stopped early, so the budget has run out.
            budget.check()?;
            return Err(Interrupted::Deadline);
        }
    }

    // NetworkX counts each unordered pair twice on an undirected graph and
    // then divides by (n − 1)(n − 2): the same as halving, then dividing by the
    // (n − 1)(n − 2)/2 pairs that exclude the node. No rescaling below 3 nodes,
    // where every value is 0 anyway.
    if n > 2 {
        let scale = 1.0 / ((n as f64 - 1.0) * (n as f64 - 2.0));
        for value in &mut total {
            *value *= scale;
        }
    }
    Ok(total)
}

/// Adds per-chunk partial sums into the total strictly in chunk order,
/// whatever order the threads finish in, holding early arrivals meanwhile.
struct OrderedFold<'a> {
    total: &'a mut [f64],
    next: usize,
    waiting: BTreeMap<usize, Vec<f64>>,
}

impl<'a> OrderedFold<'a> {
    fn new(total: &'a mut [f64]) -> Self {
        Self {
            total,
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    fn add(&mut self, chunk: usize, partial: Vec<f64>) {
        self.waiting.insert(chunk, partial);
        while let Some(partial) = self.waiting.remove(&self.next) {
            for (sum, value) in self.total.iter_mut().zip(partial) {
                *sum += value;
            }
            self.next += 1;
        }
    }
}

/// One thread's scratch space for Brandes' algorithm, reused across sources
/// so that a source costs O(nodes it reaches + their edges), not O(n).
/// A breadth-first search from one source that counts shortest paths:
/// the half that Brandes' betweenness and the sampled approximation
/// (sampling.rs) share. Scratch space, reused from source to source.
pub(crate) struct ShortestPaths {
    /// BFS distance from the source; `UNSEEN` when not reached.
    pub(crate) distance: Vec<u32>,
    /// Number of shortest paths from the source (f64, as NetworkX: it
    /// overflows no integer type on dense graphs).
    pub(crate) paths: Vec<f64>,
    /// BFS queue; afterwards, the reached nodes by non-decreasing distance.
    pub(crate) order: Vec<u32>,
}

pub(crate) const UNSEEN: u32 = u32::MAX;

impl ShortestPaths {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            distance: vec![UNSEEN; n],
            paths: vec![0.0; n],
            order: Vec::with_capacity(n),
        }
    }

    /// Distances and path counts from `source`; with `target`, stops as
    /// soon as every node closer than it has been expanded, when σ(target)
    /// and the σ of its predecessors are final.
    pub(crate) fn search(&mut self, adjacency: &Adjacency, source: usize, target: Option<usize>) {
        self.order.clear();
        self.order.push(source as u32);
        self.distance[source] = 0;
        self.paths[source] = 1.0;
        let mut head = 0;
        while head < self.order.len() {
            let v = self.order[head] as usize;
            if let Some(t) = target
                && self.distance[t] != UNSEEN
                && self.distance[v] >= self.distance[t]
            {
                break;
            }
            head += 1;
            let next_distance = self.distance[v] + 1;
            for &w in adjacency.neighbours(v) {
                let w = w as usize;
                if self.distance[w] == UNSEEN {
                    self.distance[w] = next_distance;
                    self.order.push(w as u32);
                }
                if self.distance[w] == next_distance {
                    self.paths[w] += self.paths[v];
                }
            }
        }
    }

    /// Back to the state of [`ShortestPaths::new`], touching only the
    /// nodes the last search reached.
    pub(crate) fn reset(&mut self) {
        for &v in &self.order {
            self.distance[v as usize] = UNSEEN;
            self.paths[v as usize] = 0.0;
        }
    }
}

struct Brandes {
    search: ShortestPaths,
    /// Brandes' dependency of the source on each node.
    dependency: Vec<f64>,
}

impl Brandes {
    fn new(n: usize) -> Self {
        Self {
            search: ShortestPaths::new(n),
            dependency: vec![0.0; n],
        }
    }

    /// Unnormalised betweenness contributions of the sources in `chunk`;
    /// the budget is checked before each source.
    fn chunk(
        &mut self,
        adjacency: &Adjacency,
        chunk: usize,
        budget: &Budget,
    ) -> Result<Vec<f64>, Interrupted> {
        let n = adjacency.node_count();
        let mut partial = vec![0.0; n];
        let first = chunk * SOURCES_PER_CHUNK;
        for source in first..(first + SOURCES_PER_CHUNK).min(n) {
            budget.check()?;
            self.single_source(adjacency, source, &mut partial);
        }
        Ok(partial)
    }

    fn single_source(&mut self, adjacency: &Adjacency, source: usize, partial: &mut [f64]) {
        self.search.search(adjacency, source, None);
        let ShortestPaths {
            distance,
            paths,
            order,
        } = &self.search;

        // Walk back from the farthest nodes; predecessors are the neighbours
        // one step closer to the source, so no predecessor lists are stored.
        // The source itself comes first in `order` and has no predecessors.
        for &w in order.iter().skip(1).rev() {
            let w = w as usize;
            let coefficient = (1.0 + self.dependency[w]) / paths[w];
            let previous_distance = distance[w] - 1;
            for &v in adjacency.neighbours(w) {
                let v = v as usize;
                if distance[v] == previous_distance {
                    self.dependency[v] += paths[v] * coefficient;
                }
            }
            partial[w] += self.dependency[w];
        }

        for &v in order {
            self.dependency[v as usize] = 0.0;
        }
        self.search.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(u32, u32)]) -> UnGraph<(), ()> {
        let mut graph = UnGraph::with_capacity(n, edges.len());
        for _ in 0..n {
            graph.add_node(());
        }
        graph.extend_with_edges(edges);
        graph
    }

    #[test]
    fn parallel_edges_and_self_loops_do_not_change_the_adjacency() {
        let g = graph(3, &[(0, 1), (1, 0), (1, 1), (1, 2)]);
        let adjacency = Adjacency::from_graph(&g);
        assert_eq!(adjacency.neighbours(1), &[0, 2]);
        assert_eq!(adjacency.degree(0), 1);
    }

    #[test]
    fn betweenness_is_the_same_bit_for_bit_on_any_number_of_threads() {
        // A ring of 300 nodes with chords: several chunks, uneven paths.
        let n = 300u32;
        let mut edges: Vec<(u32, u32)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        edges.extend((0..n).step_by(7).map(|i| (i, (i * 13 + 5) % n)));
        let g = graph(n as usize, &edges);
        let one = betweenness_centrality_with_threads(&g, NonZeroUsize::MIN);
        for threads in [2, 3, 8] {
            let many = betweenness_centrality_with_threads(&g, NonZeroUsize::new(threads).unwrap());
            let same = one
                .iter()
                .zip(&many)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{threads} threads differ from one");
        }
    }
}
