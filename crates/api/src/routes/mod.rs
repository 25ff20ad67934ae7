//! The route table: every endpoint, its handler and its documentation.

mod audit;
mod dashboard;
mod graph;
mod health;
pub(crate) mod ingest;
mod interventions;
mod openapi;
mod respond;
mod trends;

use axum::routing::{MethodRouter, get, patch, post};

pub use openapi::document_path;

use crate::auth::Access;
use crate::{ApiError, AppState};

/// One documented parameter.
#[derive(Debug)]
pub struct ParamDoc {
    pub name: &'static str,
    /// "path" or "query".
    pub location: &'static str,
    pub required: bool,
    /// A JSON Schema fragment.
    pub schema: &'static str,
    pub description: &'static str,
}

/// One endpoint: path, method, handler and what the OpenAPI document says.
#[derive(Debug)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamDoc],
    /// Request body media types, if it takes a body.
    pub body: &'static [&'static str],
    /// Status codes it answers besides 200.
    pub errors: &'static [u16],
    /// Who may call it.
    pub access: Access,
    pub handler: fn() -> MethodRouter<AppState>,
}

const fn path(name: &'static str, description: &'static str) -> ParamDoc {
    ParamDoc {
        name,
        location: "path",
        required: true,
        schema: r#"{"type":"string"}"#,
        description,
    }
}

const fn query(name: &'static str, schema: &'static str, description: &'static str) -> ParamDoc {
    ParamDoc {
        name,
        location: "query",
        required: false,
        schema,
        description,
    }
}

const fn required(mut p: ParamDoc) -> ParamDoc {
    p.required = true;
    p
}

const DAYS_730: ParamDoc = query(
    "days",
    r#"{"type":"integer","minimum":1,"maximum":730,"default":30}"#,
    "window in days, ending now",
);
const USE_HOURLY: ParamDoc = query(
    "use_hourly",
    r#"{"type":"boolean","default":false}"#,
    "hourly aggregates instead of raw samples",
);

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "get",
        path: "/api/trends/employee/{employee_id}",
        summary: "An employee's trend over the last `days` days (raw or hourly). Answers text/csv when asked.",
        params: &[
            path("employee_id", "pseudonymous employee id"),
            DAYS_730,
            USE_HOURLY,
        ],
        body: &[],
        errors: &[400, 401, 403, 404, 503],
        access: Access::Read,
        handler: || get(trends::employee),
    },
    Endpoint {
        method: "get",
        path: "/api/trends/employee/{employee_id}/range",
        summary: "An employee's trend between two dates. A bare date as end_date means the end of that day.",
        params: &[
            path("employee_id", "pseudonymous employee id"),
            required(query(
                "start_date",
                r#"{"type":"string","format":"date-time"}"#,
                organism_domain::INSTANT_FORMS,
            )),
            required(query(
                "end_date",
                r#"{"type":"string","format":"date-time"}"#,
                organism_domain::INSTANT_FORMS,
            )),
            USE_HOURLY,
        ],
        body: &[],
        errors: &[400, 401, 403, 404, 503],
        access: Access::Read,
        handler: || get(trends::employee_range),
    },
    Endpoint {
        method: "get",
        path: "/api/trends/team/{team_name}",
        summary: "A team's daily trend: members, average of each metric, highest burnout. A manager key gets whole days only, without the highest burnout, with the minimum group size and differential-privacy noise applied.",
        params: &[path("team_name", "team name"), DAYS_730],
        body: &[],
        errors: &[400, 401, 403, 404, 503],
        access: Access::Aggregate,
        handler: || get(trends::team),
    },
    Endpoint {
        method: "get",
        path: "/api/trends/burnout-alerts",
        summary: "Employees whose latest burnout score in the window is at or above the threshold, highest first.",
        params: &[
            query(
                "threshold",
                r#"{"type":"number","minimum":0,"maximum":100,"default":70}"#,
                "burnout threshold",
            ),
            query(
                "days",
                r#"{"type":"integer","minimum":1,"maximum":90,"default":7}"#,
                "window in days",
            ),
        ],
        body: &[],
        errors: &[400, 401, 403, 503],
        access: Access::Read,
        handler: || get(trends::burnout_alerts),
    },
    Endpoint {
        method: "get",
        path: "/api/trends/statistics/{metric_name}",
        summary: "min, max, avg, stddev and count of one metric.",
        params: &[
            path(
                "metric_name",
                "degree_centrality, betweenness_centrality, clustering_coeff or burnout_score",
            ),
            query(
                "days",
                r#"{"type":"integer","minimum":1,"maximum":365,"default":30}"#,
                "window in days",
            ),
        ],
        body: &[],
        errors: &[400, 401, 403, 503],
        access: Access::Read,
        handler: || get(trends::statistics),
    },
    Endpoint {
        method: "get",
        path: "/api/trends/health",
        summary: "Database reachable, engine, schema version, samples in the last hour, pool. A writer key gets no figure counted from stored data (samples, rollup, jobs).",
        params: &[],
        body: &[],
        errors: &[401, 403, 503],
        access: Access::AnyKey,
        handler: || get(health::health),
    },
    Endpoint {
        method: "post",
        path: "/api/metrics",
        summary: "Write a batch of samples, all or nothing; the same batch again changes nothing.",
        params: &[],
        body: &[
            "application/json",
            "application/x-ndjson",
            "text/csv",
            "application/vnd.apache.parquet",
        ],
        errors: &[400, 401, 403, 413, 415, 422, 503],
        access: Access::Write,
        handler: || post(ingest::write_metrics),
    },
    Endpoint {
        method: "post",
        path: "/api/graph/snapshots",
        summary: "Compute the graph metrics of a window of interactions and store one sample per employee. Limits on employees, edges and time (422), one at a time by default (503 with Retry-After); betweenness sampled with a stated bound above a size. `rows_written` and `unchanged` for admin keys only.",
        params: &[],
        body: &["application/json"],
        errors: &[400, 401, 403, 413, 415, 422, 503],
        access: Access::Write,
        handler: || post(graph::create_snapshot),
    },
    Endpoint {
        method: "post",
        path: "/api/interventions",
        summary: "Create an intervention (status proposed) with its audit event. Retrying with the same id and content returns it unchanged.",
        params: &[],
        body: &["application/json"],
        errors: &[400, 401, 403, 415, 422, 503],
        access: Access::Admin,
        handler: || post(interventions::create),
    },
    Endpoint {
        method: "get",
        path: "/api/interventions",
        summary: "List interventions, newest first.",
        params: &[
            query(
                "status",
                r#"{"type":"string","enum":["proposed","approved","active","completed","cancelled","rolled_back"]}"#,
                "status filter",
            ),
            query("target", r#"{"type":"string"}"#, "target employee id"),
            query(
                "limit",
                r#"{"type":"integer","minimum":1,"maximum":1000,"default":100}"#,
                "most rows returned",
            ),
        ],
        body: &[],
        errors: &[400, 401, 403, 503],
        access: Access::Admin,
        handler: || get(interventions::list),
    },
    Endpoint {
        method: "patch",
        path: "/api/interventions/{intervention_id}",
        summary: "Move an intervention to another status along the allowed transitions.",
        params: &[path("intervention_id", "intervention id")],
        body: &["application/json"],
        errors: &[400, 401, 403, 404, 415, 422, 503],
        access: Access::Admin,
        handler: || patch(interventions::change_status),
    },
    Endpoint {
        method: "get",
        path: "/api/audit",
        summary: "Audit events, oldest first, one page at a time (keyset cursor).",
        params: &[
            query(
                "intervention_id",
                r#"{"type":"string"}"#,
                "only this intervention",
            ),
            query(
                "action",
                r#"{"type":"string","enum":["created","approved","activated","completed","cancelled","rolled_back"]}"#,
                "only this action",
            ),
            query(
                "start",
                r#"{"type":"string","format":"date-time"}"#,
                "events at or after",
            ),
            query(
                "end",
                r#"{"type":"string","format":"date-time"}"#,
                "events before",
            ),
            query(
                "limit",
                r#"{"type":"integer","minimum":1,"maximum":1000,"default":100}"#,
                "page size",
            ),
            query(
                "cursor",
                r#"{"type":"string"}"#,
                "next_cursor of the previous page",
            ),
        ],
        body: &[],
        errors: &[400, 401, 403, 503],
        access: Access::Admin,
        handler: || get(audit::events),
    },
    Endpoint {
        method: "get",
        path: "/api/audit/verify",
        summary: "Check the audit log: hashes recomputed outside the database, links, times, and each intervention replayed; reports the first problem.",
        params: &[],
        body: &[],
        errors: &[401, 403, 503],
        access: Access::Admin,
        handler: || get(audit::verify),
    },
    Endpoint {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (text format).",
        params: &[],
        body: &[],
        errors: &[401, 403],
        access: Access::AnyKey,
        handler: || get(health::prometheus),
    },
    Endpoint {
        method: "get",
        path: "/api/openapi.json",
        summary: "This document.",
        params: &[],
        body: &[],
        errors: &[],
        access: Access::Public,
        handler: || get(openapi::document),
    },
    Endpoint {
        method: "get",
        path: "/",
        summary: "The dashboard.",
        params: &[],
        body: &[],
        errors: &[],
        access: Access::Public,
        handler: || get(dashboard::index),
    },
    Endpoint {
        method: "get",
        path: "/assets/{*file}",
        summary: "The dashboard's files, embedded in the binary: dashboard.js, dashboard.css and the vendored chart library under vendor/uplot/ (with its LICENSE).",
        params: &[path(
            "file",
            "file name under /assets/, may contain slashes (vendor/uplot/LICENSE)",
        )],
        body: &[],
        errors: &[404],
        access: Access::Public,
        handler: || get(dashboard::file),
    },
];

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
