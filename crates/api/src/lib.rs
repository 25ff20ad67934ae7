//! The REST API of Organism Trends (DESIGN.md §5).
//!
//! Handlers parse their input into domain types, call one storage function,
//! and map the result; they hold no SQL. Every route is declared once in
//! [`routes::ENDPOINTS`] together with its documentation, and both the router
//! and `GET /api/openapi.json` are built from that table, so the published
//! document cannot miss a route.

pub mod auth;
pub mod error;
mod params;
pub mod routes;
pub mod snapshots;
mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use organism_store::Store;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use auth::{AuthMode, Principal};
pub use error::ApiError;
pub use organism_domain::MinGroupSize;
pub use telemetry::Metrics;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body accepted (default 64 MiB); larger ones get 413.
    pub body_limit: usize,
    /// API keys required (default), or off for local use.
    pub auth: AuthMode,
    /// Team aggregates over fewer distinct employees are suppressed.
    pub min_group_size: MinGroupSize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024 * 1024,
            auth: AuthMode::Keys,
            min_group_size: MinGroupSize::DEFAULT,
        }
    }
}

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// The whole application: every route of the table, request tracing,
/// request metrics, the body limit, and JSON 404/405 answers.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for endpoint in routes::ENDPOINTS {
        router = router.route(endpoint.path, (endpoint.handler)());
    }
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
            record_request,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn record_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    state.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
