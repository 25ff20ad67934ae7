//! Latency percentiles from a plain sorted list (a benchmark run has at most
//! some thousands of measurements per figure: no histogram needed).

use std::time::Duration;

use serde::Serialize;

/// The latencies of one kind of operation.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    millis: Vec<f64>,
}

impl Latencies {
    pub fn record(&mut self, elapsed: Duration) {
        self.millis.push(elapsed.as_secs_f64() * 1000.0);
    }

    pub fn count(&self) -> usize {
        self.millis.len()
    }

    /// The nearest-rank percentile `q` (0 < q ≤ 1) in milliseconds.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let mut sorted = self.millis.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        sorted.get(rank - 1).copied()
    }

    pub fn summary(&self) -> Summary {
        Summary {
            count: self.count(),
            p50_ms: self.percentile(0.50),
            p95_ms: self.percentile(0.95),
            p99_ms: self.percentile(0.99),
            max_ms: self.percentile(1.0),
            mean_ms: (!self.millis.is_empty())
                .then(|| self.millis.iter().sum::<f64>() / self.millis.len() as f64),
        }
    }
}

/// Count and percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let mut l = Latencies::default();
        for ms in (1..=100).rev() {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(s.p95_ms, Some(95.0));
        assert_eq!(s.p99_ms, Some(99.0));
        assert_eq!(s.max_ms, Some(100.0));
    }

    #[test]
    fn no_measurement_has_no_percentile() {
        assert_eq!(Latencies::default().summary().p50_ms, None);
    }
}
