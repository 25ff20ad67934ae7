//! The route table: every endpoint, its handler, who may call it and its
//! documentation.

mod alerts;
mod analytics;
mod audit;
mod dashboard;
mod graph;
pub mod health;
pub(crate) mod ingest;
mod interventions;
mod openapi;
mod respond;
mod stream;
mod trends;

use std::sync::LazyLock;

use axum::routing::get;
use utoipa::openapi::path::PathItem;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::auth::Access;
use crate::{ApiError, AppState};

/// One endpoint of the API: its handler as `routes!` makes it from the
/// handler's `#[utoipa::path]` annotation (path, method, parameters, request
/// bodies and success responses, so the route and its document cannot
/// differ), who may call it, and the error statuses it answers besides the
/// ones its access implies (401 and 403; see [`openapi`]).
pub struct Endpoint {
    pub access: Access,
    pub errors: &'static [u16],
    pub route: UtoipaMethodRouter<AppState>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("access", &self.access)
            .field("paths", &self.route.1.paths.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn endpoint(
    access: Access,
    errors: &'static [u16],
    route: UtoipaMethodRouter<AppState>,
) -> Endpoint {
    Endpoint {
        access,
        errors,
        route,
    }
}

/// The API's endpoints. Called once for the router of each [`crate::app`]
/// and once for [`table`] and the document.
pub fn endpoints() -> Vec<Endpoint> {
    const READ: &[u16] = &[400, 404, 503];
    const BODY: &[u16] = &[400, 413, 415, 422, 503];
    // 422: the data cannot answer (too little history, no target).
    const ANALYSIS: &[u16] = &[400, 404, 422, 503];
    vec![
        endpoint(Access::Read, READ, routes!(trends::employee)),
        endpoint(Access::Read, READ, routes!(trends::employee_range)),
        endpoint(Access::Aggregate, READ, routes!(trends::team)),
        endpoint(Access::Read, &[400, 503], routes!(trends::burnout_alerts)),
        endpoint(Access::Read, &[400, 503], routes!(trends::statistics)),
        // Its 503 has the health body itself (the handler's annotation).
        endpoint(Access::AnyKey, &[400], routes!(health::health)),
        endpoint(Access::Write, BODY, routes!(ingest::write_metrics)),
        endpoint(Access::Write, BODY, routes!(graph::create_snapshot)),
        endpoint(
            Access::Admin,
            &[400, 409, 413, 415, 503],
            routes!(interventions::create),
        ),
        endpoint(Access::Admin, &[400, 503], routes!(interventions::list)),
        endpoint(
            Access::Admin,
            &[400, 404, 409, 413, 415, 503],
            routes!(interventions::change_status),
        ),
        endpoint(Access::Admin, &[400, 503], routes!(audit::events)),
        endpoint(Access::Admin, &[400, 503], routes!(audit::verify)),
        endpoint(Access::Read, ANALYSIS, routes!(analytics::effect)),
        endpoint(
            Access::Read,
            ANALYSIS,
            routes!(analytics::forecast_employee),
        ),
        endpoint(
            Access::Aggregate,
            ANALYSIS,
            routes!(analytics::forecast_team),
        ),
        endpoint(Access::Read, READ, routes!(analytics::anomalies)),
        endpoint(Access::Aggregate, READ, routes!(analytics::correlations)),
        endpoint(Access::Aggregate, &[400, 503], routes!(analytics::overview)),
        endpoint(
            Access::Admin,
            &[400, 409, 413, 415, 503],
            routes!(alerts::create),
        ),
        endpoint(Access::Admin, &[400, 503], routes!(alerts::list)),
        endpoint(Access::Admin, READ, routes!(alerts::get)),
        endpoint(
            Access::Admin,
            &[400, 404, 413, 415, 503],
            routes!(alerts::change),
        ),
        endpoint(Access::Admin, READ, routes!(alerts::delete)),
        endpoint(Access::Admin, &[400, 503], routes!(alerts::deliveries)),
        endpoint(Access::Read, &[400, 503], routes!(stream::stream)),
        endpoint(Access::AnyKey, &[], routes!(health::prometheus)),
        endpoint(Access::Public, &[], routes!(openapi::document)),
    ]
}

/// The dashboard's routes: public, and left out of the API document (they
/// answer HTML, scripts and stylesheets to a browser, not JSON to a client).
pub const DASHBOARD_ROUTES: [&str; 2] = ["/", "/assets/{*file}"];

pub fn dashboard(router: axum::Router<AppState>) -> axum::Router<AppState> {
    router
        .route(DASHBOARD_ROUTES[0], get(dashboard::index))
        .route(DASHBOARD_ROUTES[1], get(dashboard::file))
}

/// One route as the router matches it: method (lower case), path in axum's
/// syntax, and who may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
    pub access: Access,
    pub errors: &'static [u16],
    /// Whether the API document describes it (every route but the
    /// dashboard's).
    pub documented: bool,
}

/// The methods of one path item, lower case.
fn methods(item: &PathItem) -> Vec<&'static str> {
    [
        ("get", item.get.is_some()),
        ("post", item.post.is_some()),
        ("put", item.put.is_some()),
        ("patch", item.patch.is_some()),
        ("delete", item.delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(m, present)| present.then_some(m))
    .collect()
}

/// Every route, built once from [`endpoints`] and [`DASHBOARD_ROUTES`]: the
/// auth layer looks a request's access up here, and the tests walk it.
pub fn table() -> &'static [Route] {
    static TABLE: LazyLock<Vec<Route>> = LazyLock::new(|| {
        let mut table = Vec::new();
        for e in endpoints() {
            let (_, paths, _) = &e.route;
            for (path, item) in &paths.paths {
                for method in methods(item) {
                    table.push(Route {
                        method,
                        path: path.clone(),
                        access: e.access,
                        errors: e.errors,
                        documented: true,
                    });
                }
            }
        }
        for path in DASHBOARD_ROUTES {
            table.push(Route {
                method: "get",
                path: path.to_string(),
                access: Access::Public,
                errors: &[404],
                documented: false,
            });
        }
        table
    });
    &TABLE
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound {
        code: "no_such_route",
        message: "no such endpoint; see /api/openapi.json".into(),
    }
}

pub async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({"error": {"code": "method_not_allowed", "message": "method not allowed on this endpoint"}})),
    )
        .into_response()
}
