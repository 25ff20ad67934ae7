//! `POST /api/graph/snapshots`: interactions and a directory in (JSON), the
//! metrics computed and stored, a summary out.
//!
//! Body: `{"directory": [...], "interactions": [...], "at": RFC 3339
//! (default now), "window_days": 1-365 (28), "incremental": bool (false),
//! "tolerance": number >= 0 (1e-9)}`. Directory entries and interactions
//! use the same keys and rules as the files of `organism graph`: a malformed
//! entry is skipped and counted, never fatal.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::params::Params;
use crate::routes::ingest::body_error;
use crate::snapshots::{SnapshotRequest, SnapshotSummary, take_snapshot};
use crate::{ApiError, AppState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    directory: Vec<Value>,
    interactions: Vec<Value>,
    at: Option<DateTime<Utc>>,
    window_days: Option<u32>,
    incremental: Option<bool>,
    tolerance: Option<f64>,
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

pub async fn create_snapshot(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SnapshotSummary>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
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
    let body: Body = serde_json::from_slice(&body).map_err(|e| ApiError::BadBody {
        code: "malformed_body",
        message: format!("the body is not a snapshot request: {e}"),
    })?;
    let request = SnapshotRequest {
        at: body.at.unwrap_or_else(Utc::now),
        window_days: body
            .window_days
            .unwrap_or(SnapshotRequest::DEFAULT_WINDOW_DAYS),
        incremental: body.incremental.unwrap_or(false),
        tolerance: body.tolerance.unwrap_or(SnapshotRequest::DEFAULT_TOLERANCE),
    };
    request.check().map_err(ApiError::BadParameter)?;
    let (directory, interactions) = tokio::task::spawn_blocking(move || {
        (
            organism_graph::parse::directory_from_ndjson(&ndjson(&body.directory)),
            organism_graph::parse::interactions_from_ndjson(&ndjson(&body.interactions)),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("parser task: {e}")))?;
    let malformed = directory.malformed.count + interactions.malformed.count;
    let summary = take_snapshot(
        &state.store,
        directory.rows,
        interactions.rows,
        malformed,
        request,
    )
    .await?;
    state.metrics.record_write(summary.rows_written);
    Ok(Json(summary))
}
