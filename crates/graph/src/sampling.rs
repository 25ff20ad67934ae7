//! Sampled betweenness for graphs too large for Brandes' exact algorithm:
//! the estimator of Riondato and Kornaropoulos, "Fast approximation of
//! betweenness centrality through sampling" (WSDM 2014; Data Mining and
//! Knowledge Discovery 30(2), 2016).
//!
//! # The estimator
//!
//! Draw `r` ordered pairs `(s, t)`, `s ≠ t`, uniformly; for each, one
//! shortest path from `s` to `t` uniformly among all of them (a breadth-first
//! search from `s` that stops once `t`'s level is complete, then a walk back
//! from `t` choosing each predecessor `u` of `w` with probability
//! `σ(s,u) / σ(s,w)`); every node strictly inside the path gets `1/r`. The
//! expectation for node `v` is `(1/(n(n−1))) Σ_{s≠t} σ_st(v)/σ_st`, the
//! betweenness normalised over all `n(n−1)` ordered pairs; NetworkX's
//! normalisation (ours) divides by the `(n−1)(n−2)` pairs that exclude `v`,
//! so the estimate is multiplied by `n/(n−2)`.
//!
//! # The bound
//!
//! With `VD` the vertex diameter (the most nodes on any shortest path) and
//! `r ≥ (c/ε²)(⌊log₂(VD − 2)⌋ + 1 + ln(1/δ))`, `c = 0.5`, every node's
//! estimate is within `ε` of its betweenness (over `n(n−1)` pairs) at once,
//! with probability at least `1 − δ` (their Theorem 2, through the VC
//! dimension of shortest paths). We want `ε` in NetworkX's units, so we
//! sample for `ε·(n−2)/n`. `VD` is bounded from above, cheaply and safely:
//! one breadth-first search per connected component from its first node `x`
//! gives its eccentricity `e`, and any shortest path in that component has at
//! most `2e + 1` nodes (and at most as many as the component), so
//! `VD ≤ max over components of min(2e + 1, size)`; a larger `VD` only
//! means more samples.
//!
//! # Determinism
//!
//! The pairs come from a seeded generator (SplitMix64, below; statistical
//! quality is all we need, not unpredictability), one stream per block of
//! [`SAMPLES_PER_CHUNK`] samples, and each node's count is an integer sum,
//! so the result is the same on any number of threads and on every run: the
//! same interactions give the same metrics, and incremental writes compare
//! like with like.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use crate::budget::{Budget, Interrupted};
use crate::centrality::{Adjacency, ShortestPaths, UNSEEN};

/// Samples per unit of parallel work (one generator stream each).
pub const SAMPLES_PER_CHUNK: usize = 64;

/// Riondato and Kornaropoulos' universal constant, as they use it.
const C: f64 = 0.5;

/// The accuracy asked of a sampled betweenness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Largest absolute error of any node's (normalised) betweenness.
    pub epsilon: f64,
    /// Probability that some node's error is larger than `epsilon`.
    pub delta: f64,
    /// Seed of the pair generator.
    pub seed: u64,
}

impl Accuracy {
    /// `epsilon` in `(0, 1)` and `delta` in `(0, 1)`, finite.
    pub fn new(epsilon: f64, delta: f64, seed: u64) -> Result<Self, crate::ConfigError> {
        for (name, value) in [("epsilon", epsilon), ("delta", delta)] {
            if !(value.is_finite() && value > 0.0 && value < 1.0) {
                return Err(crate::ConfigError::Accuracy { name, value });
            }
        }
        Ok(Self {
            epsilon,
            delta,
            seed,
        })
    }
}

/// How betweenness was computed, as a snapshot reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum BetweennessMethod {
    /// Brandes' algorithm: exact.
    Exact,
    /// Riondato–Kornaropoulos sampling: every value within `epsilon` of the
    /// exact one with probability at least `1 − delta`.
    Sampled {
        samples: usize,
        epsilon: f64,
        delta: f64,
        vertex_diameter_bound: usize,
        seed: u64,
    },
}

/// Samples needed for `accuracy` on a graph of `n` nodes whose vertex
/// diameter is at most `vertex_diameter`.
pub fn sample_size(accuracy: &Accuracy, n: usize, vertex_diameter: usize) -> usize {
    if n < 3 {
        return 0;
    }
    // ε over n(n − 1) pairs that gives `accuracy.epsilon` over (n − 1)(n − 2).
    let epsilon = accuracy.epsilon * (n as f64 - 2.0) / n as f64;
    let log_term = vertex_diameter.saturating_sub(2).max(1).ilog2() as f64;
    let r = C / (epsilon * epsilon) * (log_term + 1.0 + (1.0 / accuracy.delta).ln());
    // Far below usize::MAX for any accepted ε; `as` saturates anyway.
    r.ceil() as usize
}

/// An upper bound of the vertex diameter (module docs).
pub fn vertex_diameter_bound(adjacency: &Adjacency) -> usize {
    let n = adjacency.node_count();
    let mut distance = vec![u32::MAX; n];
    let mut queue: Vec<u32> = Vec::new();
    let mut bound = 0;
    for start in 0..n {
        if distance[start] != u32::MAX {
            continue;
        }
        queue.clear();
        queue.push(start as u32);
        distance[start] = 0;
        let mut head = 0;
        let mut eccentricity = 0;
        while head < queue.len() {
            let v = queue[head] as usize;
            head += 1;
            eccentricity = eccentricity.max(distance[v] as usize);
            for &w in adjacency.neighbours(v) {
                if distance[w as usize] == u32::MAX {
                    distance[w as usize] = distance[v] + 1;
                    queue.push(w);
                }
            }
        }
        bound = bound.max((2 * eccentricity + 1).min(queue.len()));
    }
    bound
}

/// The sampled betweenness of every node with `samples` samples, on at most
/// `threads` threads (the result does not depend on it), normalised as
/// NetworkX normalises the exact one.
pub fn sampled_betweenness(
    adjacency: &Adjacency,
    samples: usize,
    seed: u64,
    threads: usize,
    budget: &Budget,
) -> Result<Vec<f64>, Interrupted> {
    let n = adjacency.node_count();
    if n < 3 || samples == 0 {
        return Ok(vec![0.0; n]);
    }
    let chunks = samples.div_ceil(SAMPLES_PER_CHUNK);
    let workers = threads.clamp(1, chunks);
    let next_chunk = AtomicUsize::new(0);
    let totals = Mutex::new(vec![0u64; n]);
    let failure = Mutex::new(None);
    let work = || {
        let mut sampler = PathSampler::new(n);
        let mut counts = vec![0u64; n];
        loop {
            let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
            if chunk >= chunks {
                break;
            }
            let mut rng = SplitMix64::new(seed ^ SplitMix64::new(chunk as u64).next_u64());
            let first = chunk * SAMPLES_PER_CHUNK;
            for _ in first..(first + SAMPLES_PER_CHUNK).min(samples) {
                if let Err(e) = budget.check() {
                    if let Ok(mut f) = failure.lock() {
                        *f = Some(e);
                    }
                    // Let the other workers see there is no more to do.
                    next_chunk.store(chunks, Ordering::Relaxed);
                    return;
                }
                let s = rng.below(n);
                let mut t = rng.below(n - 1);
                if t >= s {
                    t += 1;
                }
                sampler.sample(adjacency, s, t, &mut rng, &mut counts);
            }
        }
        if let Ok(mut totals) = totals.lock() {
            for (total, count) in totals.iter_mut().zip(&counts) {
                *total += count;
            }
        }
    };
    if workers == 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(work);
            }
        });
    }
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let totals = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    let scale = n as f64 / ((n as f64 - 2.0) * samples as f64);
    Ok(totals.iter().map(|&c| c as f64 * scale).collect())
}

/// One thread's scratch space for drawing shortest paths.
struct PathSampler {
    search: ShortestPaths,
}

impl PathSampler {
    fn new(n: usize) -> Self {
        Self {
            search: ShortestPaths::new(n),
        }
    }

    /// Draws one shortest `s`–`t` path uniformly and counts its inner nodes.
    fn sample(
        &mut self,
        adjacency: &Adjacency,
        s: usize,
        t: usize,
        rng: &mut SplitMix64,
        counts: &mut [u64],
    ) {
        self.search.search(adjacency, s, Some(t));
        let ShortestPaths {
            distance, paths, ..
        } = &self.search;
        if distance[t] != UNSEEN {
            let mut w = t;
            while distance[w] > 1 {
                let before = distance[w] - 1;
                let pick = rng.unit() * paths[w];
                let mut sum = 0.0;
                let mut chosen = None;
                for &u in adjacency.neighbours(w) {
                    let u = u as usize;
                    if distance[u] == before {
                        sum += paths[u];
                        chosen = Some(u);
                        if pick < sum {
                            break;
                        }
                    }
                }
                // A node past the source always has a predecessor; rounding
                // can only leave us on the last one.
                let Some(u) = chosen else { break };
                counts[u] += 1;
                w = u;
            }
        }
        self.search.reset();
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014, as in `java.util.SplittableRandom`):
/// tiny, fast, and good enough to draw sample pairs.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound > 0`), without modulo bias (rejection).
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = bound as u64;
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % bound) as usize;
            }
        }
    }

    /// Uniform in `[0, 1)`, 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_size_follows_the_formula() {
        let a = Accuracy::new(0.01, 0.1, 1).unwrap();
        // n large: ε barely changes; VD = 10 → ⌊log₂ 8⌋ = 3.
        let r = sample_size(&a, 1_000_000, 10);
        let expected = 0.5 / (0.01f64 * 0.01) * (3.0 + 1.0 + 10f64.ln());
        assert!(
            (r as f64 - expected).abs() / expected < 1e-4,
            "{r} vs {expected}"
        );
    }

    #[test]
    fn the_generator_stays_below_its_bound_and_covers_it() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] = true;
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn accuracy_outside_zero_to_one_is_refused() {
        assert!(Accuracy::new(0.0, 0.1, 0).is_err());
        assert!(Accuracy::new(0.1, 1.0, 0).is_err());
        assert!(Accuracy::new(f64::NAN, 0.1, 0).is_err());
    }
}
