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
use std::sync::atomic::{AtomicU64, Ordering};
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
