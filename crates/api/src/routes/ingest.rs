//! `POST /api/metrics`: a batch of samples in any of the four formats.
//!
//! The answer says what was received and stored (both counted from the
//! batch alone). How many rows it changed depends on what was stored
//! before (a sample equal to the stored one changes nothing), so only an
//! admin is told: a writer learns nothing about stored values (DESIGN.md
//! §11).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::{Extension, Json};
use organism_domain::Role;
use organism_formats::{Format, FormatError};
use organism_store::writer::WriteSummary;
use serde::Serialize;

use crate::bulk::{BulkError, CHUNK_ROWS, write_document};
use crate::params::Params;
use crate::{ApiError, AppState, Principal};

/// The answer: [`WriteSummary`], `changed` for an admin only (module docs).
#[derive(Debug, Serialize)]
pub struct WriteReceipt {
    pub received: usize,
    pub stored: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<u64>,
}

impl WriteReceipt {
    fn for_role(summary: WriteSummary, role: Role) -> Self {
        Self {
            received: summary.received,
            stored: summary.stored,
            changed: (role == Role::Admin).then_some(summary.changed),
        }
    }
}

/// The body's format from its Content-Type, or 415 naming the accepted ones.
fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    Format::from_content_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "Content-Type {content_type:?} is not supported; send application/json (an array), application/x-ndjson, text/csv or application/vnd.apache.parquet"
        ))
    })
}

/// Maps a body-reading failure: over the limit is 413, anything else 400.
pub fn body_error(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit, size: None }
    } else {
        ApiError::BadBody {
            code: "unreadable_body",
            message: rejection.body_text(),
        }
    }
}

pub async fn write_metrics(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<WriteReceipt>), ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let format = format_of(&headers)?;
    let body = body.map_err(|e| body_error(e, state.config.body_limit))?;
    let window = state.store.sample_window(state.config.clock.now());
    let summary = write_document(&state.store, format, body, window, CHUNK_ROWS, |_| {})
        .await
        .map_err(|e| match e {
            BulkError::Store(e) => ApiError::from(e),
            BulkError::Format(FormatError::Row(row)) => ApiError::BadRow(row),
            BulkError::Format(FormatError::MissingColumn(column)) => ApiError::BadBody {
                code: "missing_column",
                message: format!("required column {column:?} is missing"),
            },
            BulkError::Format(other) => ApiError::BadBody {
                code: "malformed_body",
                message: other.to_string(),
            },
        })?;
    state.metrics.record_write(summary.received);
    Ok((
        StatusCode::OK,
        Json(WriteReceipt::for_role(summary, principal.role)),
    ))
}
