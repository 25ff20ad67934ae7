//! Prometheus counters kept by the service itself: requests by route and
//! status, their latency, and samples written. A handful of atomics and a
//! mutex-guarded map are enough here; the text format is written by hand.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), RequestStats>>,
    pub samples_written: AtomicU64,
    pub batches_written: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy)]
struct RequestStats {
    count: u64,
    seconds: f64,
}

impl Metrics {
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut map) = self.requests.lock() {
            let entry = map
                .entry((method.to_string(), route.to_string(), status))
                .or_default();
            entry.count += 1;
            entry.seconds += elapsed.as_secs_f64();
        }
    }

    pub fn record_write(&self, rows: usize) {
        self.samples_written
            .fetch_add(rows as u64, Ordering::Relaxed);
        self.batches_written.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP organism_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE organism_http_requests_total counter");
        let snapshot: Vec<_> = self
            .requests
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        for ((method, route, status), stats) in &snapshot {
            let _ = writeln!(
                out,
                "organism_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                stats.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP organism_http_request_seconds_sum Time spent answering, by route."
        );
        let _ = writeln!(out, "# TYPE organism_http_request_seconds_sum counter");
        for ((method, route, status), stats) in &snapshot {
            let _ = writeln!(
                out,
                "organism_http_request_seconds_sum{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                stats.seconds
            );
        }
        let _ = writeln!(
            out,
            "# HELP organism_samples_written_total Metric samples accepted by POST /api/metrics."
        );
        let _ = writeln!(out, "# TYPE organism_samples_written_total counter");
        let _ = writeln!(
            out,
            "organism_samples_written_total {}",
            self.samples_written.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP organism_batches_written_total Batches accepted by POST /api/metrics."
        );
        let _ = writeln!(out, "# TYPE organism_batches_written_total counter");
        let _ = writeln!(
            out,
            "organism_batches_written_total {}",
            self.batches_written.load(Ordering::Relaxed)
        );
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_requests_appear_in_the_exposition() {
        let m = Metrics::default();
        m.record_request("GET", "/api/trends/health", 200, Duration::from_millis(3));
        m.record_request("GET", "/api/trends/health", 200, Duration::from_millis(3));
        m.record_write(10);
        let text = m.render(&[("organism_pool_size", "Pool size.", 20.0)]);
        assert!(text.contains(
            "organism_http_requests_total{method=\"GET\",route=\"/api/trends/health\",status=\"200\"} 2"
        ));
        assert!(text.contains("organism_samples_written_total 10"));
        assert!(text.contains("organism_pool_size 20"));
    }
}
