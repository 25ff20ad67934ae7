//! Prometheus counters kept by the service itself: requests by route and
//! status, their latency, and samples written. A handful of atomics and a
//! mutex-guarded map are enough here; the text format is written by hand.
//!
//! And each request's tracing span (STYLE habit 9): its method, its route
//! as declared (`/api/trends/employee/{employee_id}`, never the path with
//! the id, nor the query string: both may name a person), then its status
//! and latency. No header is recorded, so no API key reaches a log.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, TraceLayer};
use tracing::Span;

/// The route a request matched, as declared; `unmatched` for a 404.
pub fn route(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
}

/// tower-http's request tracing with [`request_span`] and
/// [`record_response`].
pub type RequestTrace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request) -> Span,
    DefaultOnRequest,
    fn(&Response, Duration, &Span),
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
>;

/// The request tracing layer; applied with `Router::layer`, so that it runs
/// after routing and sees the matched route.
pub fn trace_layer() -> RequestTrace {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request) -> Span)
        .on_response(record_response as fn(&Response, Duration, &Span))
        // A 5xx is in `on_response`'s status, and the handler logged why.
        .on_failure(())
}

/// The span a request is answered in.
fn request_span(request: &Request) -> Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = route(request),
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

/// Records the answer on the request's span.
fn record_response(response: &Response, latency: Duration, span: &Span) {
    span.record("status", response.status().as_u16());
    span.record("latency_ms", latency.as_secs_f64() * 1000.0);
    tracing::debug!(parent: span, "answered");
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), RequestStats>>,
    pub samples_written: AtomicU64,
    pub batches_written: AtomicU64,
    /// The alert evaluator's, the webhook sender's and the live streams'.
    pub realtime: crate::realtime::Counters,
    /// The NATS JetStream consumer's figures, when one runs in this
    /// process (crates/stream).
    pub stream: StreamMetrics,
}

/// What the stream consumer counts: messages and samples consumed (their
/// rate is the throughput), dead letters, retries, and its lag as the
/// server last reported it. Rendered only once a consumer has started.
#[derive(Debug, Default)]
pub struct StreamMetrics {
    pub enabled: AtomicBool,
    /// Messages whose batch was committed and acknowledged.
    pub messages: AtomicU64,
    /// Samples in those messages.
    pub samples: AtomicU64,
    /// Messages sent to the dead-letter subject.
    pub dead_lettered: AtomicU64,
    /// Messages handed back for redelivery (database failures).
    pub retried: AtomicU64,
    /// Messages that arrived for a second or later time.
    pub redelivered: AtomicU64,
    /// Microseconds spent writing committed batches.
    pub write_micros: AtomicU64,
    /// The consumer's lag: messages in the stream not yet delivered to it.
    pub pending: AtomicU64,
    /// Messages delivered and not yet acknowledged.
    pub ack_pending: AtomicU64,
}

impl StreamMetrics {
    fn render(&self, out: &mut String) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let load = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let counters: [(&str, &str, f64); 6] = [
            (
                "organism_stream_messages_total",
                "Stream messages whose batch was committed and acknowledged.",
                load(&self.messages) as f64,
            ),
            (
                "organism_stream_samples_total",
                "Metric samples committed from stream messages.",
                load(&self.samples) as f64,
            ),
            (
                "organism_stream_dead_lettered_total",
                "Stream messages sent to the dead-letter subject.",
                load(&self.dead_lettered) as f64,
            ),
            (
                "organism_stream_retried_total",
                "Stream messages handed back for redelivery after a database failure.",
                load(&self.retried) as f64,
            ),
            (
                "organism_stream_redelivered_total",
                "Stream messages received for a second or later time.",
                load(&self.redelivered) as f64,
            ),
            (
                "organism_stream_write_seconds_sum",
                "Time spent writing committed stream batches.",
                load(&self.write_micros) as f64 / 1e6,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {value}");
        }
        let gauges: [(&str, &str, f64); 2] = [
            (
                "organism_stream_pending_messages",
                "Consumer lag: stream messages not yet delivered to the consumer.",
                load(&self.pending) as f64,
            ),
            (
                "organism_stream_ack_pending_messages",
                "Stream messages delivered and not yet acknowledged.",
                load(&self.ack_pending) as f64,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
    }
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
        self.realtime.render(&mut out);
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        self.stream.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
        assert!(
            !text.contains("organism_stream_"),
            "no consumer, no stream figures"
        );
    }

    #[test]
    fn a_running_stream_consumer_shows_its_counts_and_lag() {
        let m = Metrics::default();
        m.stream.enabled.store(true, Ordering::Relaxed);
        m.stream.messages.store(3, Ordering::Relaxed);
        m.stream.samples.store(1500, Ordering::Relaxed);
        m.stream.pending.store(7, Ordering::Relaxed);
        let text = m.render(&[]);
        assert!(text.contains("organism_stream_messages_total 3"), "{text}");
        assert!(
            text.contains("organism_stream_samples_total 1500"),
            "{text}"
        );
        assert!(text.contains("# TYPE organism_stream_pending_messages gauge"));
        assert!(
            text.contains("organism_stream_pending_messages 7"),
            "{text}"
        );
    }

    /// Every span and event field seen: (span or event name, field, value).
    #[derive(Clone, Default)]
    struct Capture {
        fields: std::sync::Arc<Mutex<Vec<(String, String, String)>>>,
        names: std::sync::Arc<Mutex<Vec<String>>>,
    }

    struct Recorder<'a>(&'a Capture, String);

    impl tracing::field::Visit for Recorder<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if let Ok(mut fields) = self.0.fields.lock() {
                fields.push((
                    self.1.clone(),
                    field.name().to_string(),
                    format!("{value:?}"),
                ));
            }
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let name = span.metadata().name().to_string();
            let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
            names.push(name.clone());
            let id = names.len() as u64;
            drop(names);
            span.record(&mut Recorder(self, name));
            tracing::span::Id::from_u64(id)
        }
        fn record(&self, span: &tracing::span::Id, values: &tracing::span::Record<'_>) {
            let index = span.into_u64() as usize - 1;
            let name = self
                .names
                .lock()
                .map(|n| n[index].clone())
                .unwrap_or_default();
            values.record(&mut Recorder(self, name));
        }
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            event.record(&mut Recorder(self, "event".to_string()));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_span_has_the_route_status_and_latency_and_no_ids_keys_or_query() {
        use tower::ServiceExt;
        let capture = Capture::default();
        let _default = tracing::subscriber::set_default(capture.clone());
        let router = axum::Router::new()
            .route(
                "/api/trends/employee/{employee_id}",
                axum::routing::get(|| async { "ok" }),
            )
            .layer(trace_layer());
        let request = axum::http::Request::get("/api/trends/employee/emp_jane?team=Payroll")
            .header("authorization", "Bearer ot_secretkey")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);

        let fields = capture.fields.lock().unwrap().clone();
        let request_field = |name: &str| {
            fields
                .iter()
                .find(|(span, field, _)| span == "request" && field == name)
                .map(|(_, _, value)| value.clone())
        };
        assert_eq!(request_field("method").as_deref(), Some("GET"));
        assert_eq!(
            request_field("route").as_deref(),
            Some("\"/api/trends/employee/{employee_id}\"")
        );
        assert_eq!(request_field("status").as_deref(), Some("200"));
        assert!(request_field("latency_ms").is_some(), "{fields:?}");
        for secret in ["emp_jane", "Payroll", "ot_secretkey"] {
            assert!(
                !fields.iter().any(|(_, _, value)| value.contains(secret)),
                "{secret} in {fields:?}"
            );
        }
    }
}
