//! The REST API of Organism Trends (DESIGN.md §5).
//!
//! Handlers parse their input into domain types, call one storage function,
//! and map the result; they hold no SQL. Every route is declared once in
//! [`routes::endpoints`], from the handler's `#[utoipa::path]` annotation
//! and the route's access, and both the router and `GET /api/openapi.json`
//! are built from that table, so the published document cannot miss or
//! misdescribe a route.

pub mod analytics;
pub mod auth;
pub mod bulk;
pub mod daily_rules;
pub mod error;
mod params;
pub mod realtime;
pub mod replica;
pub mod routes;
mod server;
pub mod snapshots;
mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use organism_store::Store;
use tokio::net::TcpListener;

pub use auth::{AuthMode, Principal};
pub use error::ApiError;
pub use organism_domain::MinGroupSize;
pub use organism_domain::privacy::Epsilon;
pub use telemetry::{Metrics, StreamMetrics};

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body accepted (default 64 MiB); larger ones get 413.
    pub body_limit: usize,
    /// API keys required (default), or off for local use.
    pub auth: AuthMode,
    /// Team aggregates over fewer distinct employees are suppressed.
    pub min_group_size: MinGroupSize,
    /// A request's header must arrive within this time of the connection
    /// being ready for it; also how long an idle keep-alive connection stays
    /// open (default 10 s). See [`server`].
    pub header_read_timeout: Duration,
    /// A connection on which nothing moves for this long while no handler
    /// computes is closed (default 60 s).
    pub idle_timeout: Duration,
    /// A handler that has not answered this long (plus 1 s per MiB of
    /// body) after its request arrived gets 503 `request_timeout` (default
    /// 30 s). The client-side bound on a database that stopped answering.
    pub request_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog
    /// (default 1024).
    pub max_connections: usize,
    /// The privacy budget of each noisy value a manager key sees.
    pub manager_epsilon: Epsilon,
    /// Limits of graph snapshots and the incremental tolerance (see
    /// [`snapshots`]).
    pub snapshot: snapshots::SnapshotSettings,
    /// Where handlers read "now" (trend windows, the sample window, a
    /// snapshot's default time): the system clock, or a fixed instant in
    /// tests, so that no answer depends on the time of day a test runs.
    pub clock: Clock,
}

/// The time handlers go by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    #[default]
    System,
    Fixed(chrono::DateTime<chrono::Utc>),
}

impl Clock {
    pub fn now(self) -> chrono::DateTime<chrono::Utc> {
        match self {
            Clock::System => chrono::Utc::now(),
            Clock::Fixed(t) => t,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024 * 1024,
            auth: AuthMode::Keys,
            min_group_size: MinGroupSize::DEFAULT,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            manager_epsilon: Epsilon::DEFAULT,
            snapshot: snapshots::SnapshotSettings::default(),
            clock: Clock::System,
        }
    }
}

impl ApiConfig {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
}

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    /// One permit per snapshot allowed to compute at once
    /// (`config.snapshot.concurrency`); public so a test can hold one.
    pub snapshot_permits: Arc<tokio::sync::Semaphore>,
    /// Health's figures counted from stored data, kept (routes/health.rs).
    pub health: Arc<routes::health::KeptFigures>,
    /// Set when the server starts to stop: live streams end, so that the
    /// server's drain is not held open by them.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    /// The streaming replica the read endpoints use while it keeps up
    /// (`--read-database-url`; replica.rs).
    pub replica: Option<Arc<replica::ReadReplica>>,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig) -> Self {
        Self {
            store,
            snapshot_permits: Arc::new(tokio::sync::Semaphore::new(config.snapshot.concurrency)),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            health: Arc::default(),
            stopping: Arc::new(tokio::sync::watch::channel(false).0),
            replica: None,
        }
    }

    /// Reads go to `replica` while it keeps up; [`serve`] measures its lag.
    pub fn with_replica(mut self, replica: Arc<replica::ReadReplica>) -> Self {
        self.replica = Some(replica);
        self
    }

    /// The store a read endpoint reads from: the replica while its lag is
    /// within the server's bound and the request's `Organism-Max-Lag-Ms`,
    /// else the primary.
    pub(crate) fn reads(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<(&Store, replica::ReadFrom), ApiError> {
        let bound = replica::requested_bound(headers)?;
        Ok(match &self.replica {
            Some(r) if r.usable(bound) => (&r.store, replica::ReadFrom::Replica),
            _ => (&self.store, replica::ReadFrom::Primary),
        })
    }
}

/// The whole application: every route of the table, request tracing,
/// request metrics, the body limit, and JSON 404/405 answers.
pub fn app(state: AppState) -> Router {
    let mut api = utoipa_axum::router::OpenApiRouter::new();
    for endpoint in routes::endpoints() {
        api = api.routes(endpoint.route);
    }
    let (router, _) = api.split_for_parts();
    let router = routes::dashboard(router);
    let body_limit = state.config.body_limit;
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized_body,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(security_headers))
        .layer(telemetry::trace_layer())
        .with_state(state)
}

/// A declared `Content-Length` over the limit is refused at once, before a
/// byte of the body is read (hyper sends no `100 Continue` and then closes
/// the connection rather than drain it). A chunked body is cut off by
/// [`DefaultBodyLimit`] when it crosses the limit; each handler maps that to
/// the same 413.
async fn refuse_oversized_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.config.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > limit as u64) {
        let mut response = ApiError::PayloadTooLarge {
            limit,
            size: Some(size),
        }
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

/// The dashboard's policy: everything from this origin, no inline script or
/// style (the page has none), no framing, no plugins, no form posts.
pub const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'";
/// Every other answer is data, never a document to render.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Security headers on every response, errors included.
async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let dashboard = path == "/" || path.starts_with("/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let csp = if dashboard { DASHBOARD_CSP } else { API_CSP };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn record_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = telemetry::route(&request).to_string();
    let response = next.run(request).await;
    state.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Connections readied before the first request ([`Store::warm_reads`]):
/// as many as a few concurrent readers use; the pool makes the others when
/// they are needed.
const WARM_CONNECTIONS: usize = 4;

/// Readies the store's connections for reads, for at most 10 s; a database
/// that cannot be reached now is health's business, not a reason not to
/// serve.
async fn warm(store: &Store) {
    let started = std::time::Instant::now();
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.warm_reads(WARM_CONNECTIONS),
    )
    .await
    {
        Ok(Ok(n)) => tracing::debug!(
            connections = n,
            ms = started.elapsed().as_millis(),
            "connections readied for reads"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "could not ready connections for reads"),
        Err(_) => tracing::warn!("readying connections for reads took over 10 s; serving anyway"),
    }
}

/// Serves until `shutdown` completes, then lets requests in flight finish.
/// Connections are bounded as [`ApiConfig`] says (see [`server`]).
/// Four database connections are readied for reads first ([`Store::warm_reads`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.config.clone();
    let stopping = state.stopping.clone();
    let monitor = state
        .replica
        .clone()
        .map(|replica| tokio::spawn(replica.monitor(state.store.clone(), stopping.subscribe())));
    let shutdown = async move {
        shutdown.await;
        let _ = stopping.send(true);
    };
    warm(&state.store).await;
    let served = server::serve(listener, app(state), config, shutdown).await;
    if let Some(monitor) = monitor {
        monitor.abort();
    }
    served
}
