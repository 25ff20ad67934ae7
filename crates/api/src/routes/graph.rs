//! `POST /api/graph/snapshots`: interactions and a directory in (JSON), the
//! metrics computed and stored, a summary out.
//!
//! Body: `{"directory": [...], "interactions": [...], "at": a timestamp of
//! the one grammar ([`organism_domain::time`]: RFC 3339, or without offset
//! taken as UTC; default now), "window_days": 1-365 (28), "incremental":
//! bool (false)}`.
//! Directory entries and interactions use the same keys and rules as the
//! files of `organism graph`: a malformed entry is skipped and counted,
//! never fatal.
//!
//! The incremental tolerance is server configuration
//! (`--snapshot-tolerance`): a request that names `tolerance` is refused
//! with 400 naming the field, whatever its key. A caller-chosen tolerance
//! let a writer bisect it against the stored scores (issue 13); refusing,
//! rather than ignoring, tells an old client its setting no longer applies.
//! Limits, concurrency and what a writer is told: see [`crate::snapshots`].

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::{Extension, Json};
use organism_domain::{Role, parse_timestamp};
use serde::Deserialize;
use serde_json::Value;

use crate::params::Params;
use crate::routes::ingest::body_error;
use crate::snapshots::{SnapshotRequest, SnapshotSummary, take_snapshot};
use crate::{ApiError, AppState, Principal};

/// A snapshot request. Directory entries and interactions are read with the
/// rules of `organism graph`'s files: an entry that does not follow them is
/// skipped and counted in `malformed_rows`, never refused, so any JSON value
/// is accepted as an entry.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"at": "2026-06-10T12:00:00Z", "window_days": 28, "directory": [{"employee_id": "emp_001", "team": "Data Platform"}, {"employee_id": "emp_002", "team": "Data Platform"}], "interactions": [{"from": "emp_001", "to": "emp_002", "time": "2026-06-09T10:00:00Z", "channel": "chat", "weight": 1.0}]}))]
pub struct Body {
    /// The employees: `{"employee_id": …, "team": …, "work_start_hour": …,
    /// "work_end_hour": …, "utc_offset_minutes": …}` (all but the id optional).
    #[schema(value_type = Vec<Value>)]
    directory: Vec<Value>,
    /// Who interacted with whom: `{"from": …, "to": …, "time": …, "channel":
    /// "email" | "chat" | "meeting", "weight": …, "duration_minutes": …}`
    /// (weight 1 and duration 0 when absent).
    #[schema(value_type = Vec<Value>)]
    interactions: Vec<Value>,
    /// The snapshot's time (absent or null: now); the window ends here.
    #[schema(schema_with = organism_domain::schema::timestamp_or_null)]
    at: Option<String>,
    /// Days of interactions before `at` that make the graph.
    #[schema(minimum = 1, maximum = 365, default = 28)]
    window_days: Option<u32>,
    /// Write only the employees whose metrics moved by more than the
    /// server's tolerance (`--snapshot-tolerance`).
    #[schema(default = false)]
    incremental: Option<bool>,
    /// Refused by name: the tolerance is server configuration (module docs).
    #[schema(ignore)]
    tolerance: Option<Value>,
}

/// JSON values as NDJSON lines, for the graph crate's own row rules.
fn ndjson(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// How long a caller refused for concurrency should wait before retrying.
const BUSY_RETRY_AFTER_S: u32 = 5;

/// Compute and store a graph snapshot.
///
/// Builds the collaboration graph of the window's interactions among the
/// directory's employees, computes degree, betweenness (sampled, with a
/// stated error bound, above a size), clustering and burnout, and stores
/// one sample per employee at `at`. Limits on employees, edges and time
/// answer 422; one snapshot computes at a time by default (503 with
/// Retry-After). `rows_written` and `unchanged` for admin keys only.
#[utoipa::path(
    post,
    path = "/api/graph/snapshots",
    tag = "ingest",
    operation_id = "create_graph_snapshot",
    request_body(content = Body, content_type = "application/json"),
    responses((status = 200, description = "computed and stored", body = SnapshotSummary,
        example = json!({"at": "2026-06-10T12:00:00Z", "window_start": "2026-05-13T12:00:00Z", "window_end": "2026-06-10T12:00:00Z", "employees": 2, "edges": 1, "interactions_used": 1, "self_loops": 0, "unknown_employees": 0, "outside_window": 0, "malformed_rows": 0, "duplicate_directory_entries": 0, "incremental": false, "samples": 2, "betweenness": {"method": "exact"}, "rows_written": 2, "unchanged": 0, "seconds_graph": 0.0004, "seconds_total": 0.05}))),
)]
pub async fn create_snapshot(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SnapshotSummary>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let now = state.config.clock.now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {content_type:?} is not supported; send application/json"
        )));
    }
    let body = body.map_err(|e| body_error(e, state.config.body_limit))?;
    // Before any parsing: parsing a large body is CPU work too.
    let settings = &state.config.snapshot;
    let permit = state
        .snapshot_permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Unavailable {
            code: "snapshot_busy",
            message: format!(
                "{} snapshot(s) are being computed, the most allowed at once (--snapshot-concurrency); retry later",
                settings.concurrency
            ),
            retry_after_s: BUSY_RETRY_AFTER_S,
        })?;
    let parsed = tokio::task::spawn_blocking(move || {
        let body: Body = serde_json::from_slice(&body).map_err(|e| ApiError::BadBody {
            code: "malformed_body",
            message: format!("the body is not a snapshot request: {e}"),
        })?;
        if body.tolerance.is_some() {
            return Err(ApiError::bad(
                "tolerance",
                "the incremental tolerance is server configuration (--snapshot-tolerance), not a request field; leave it out",
            ));
        }
        let at = match body.at.as_deref() {
            Some(text) => parse_timestamp(text)
                .map_err(|e| ApiError::BadParameter(e.for_field("at")))?,
            None => now,
        };
        let request = SnapshotRequest {
            at,
            now,
            window_days: body
                .window_days
                .unwrap_or(SnapshotRequest::DEFAULT_WINDOW_DAYS),
            incremental: body.incremental.unwrap_or(false),
        };
        request.check().map_err(ApiError::BadParameter)?;
        let directory = organism_graph::parse::directory_from_ndjson(&ndjson(&body.directory));
        let interactions =
            organism_graph::parse::interactions_from_ndjson(&ndjson(&body.interactions));
        Ok((request, directory, interactions))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("parser task: {e}")))?;
    let (request, directory, interactions) = parsed?;
    let malformed = directory.malformed.count + interactions.malformed.count;
    let summary = take_snapshot(
        &state.store,
        directory.rows,
        interactions.rows,
        malformed,
        request,
        settings,
        Some(permit),
    )
    .await?;
    // What the request offered, not what differed from the stored samples:
    // the counter is readable by any key (DESIGN.md §11).
    state.metrics.record_write(summary.samples);
    Ok(Json(if principal.role == Role::Admin {
        summary
    } else {
        summary.for_writer()
    }))
}
