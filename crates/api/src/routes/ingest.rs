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
use organism_domain::{EmployeeId, Role, TeamName};
use organism_formats::{Format, FormatError};
use organism_store::writer::WriteSummary;
use serde::Serialize;

use crate::bulk::{BulkError, CHUNK_ROWS, write_document};
use crate::params::Params;
use crate::{ApiError, AppState, Principal};

/// The answer: [`WriteSummary`], `changed` for an admin only (module docs).
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// One sample of a batch (documentation: the formats crate reads it). In
/// CSV and Parquet these are the columns; in NDJSON, one object per line.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MetricRow {
    /// When it was measured. Accepted from now minus the rollup retention
    /// (730 days by default) to 5 minutes ahead; outside that, 422.
    #[schema(schema_with = organism_domain::schema::timestamp)]
    time: String,
    employee_id: EmployeeId,
    /// The employee's team at that time; absent, null or empty for none.
    #[schema(schema_with = optional_team)]
    team: Option<String>,
    #[schema(minimum = 0, maximum = 1)]
    degree_centrality: f64,
    #[schema(minimum = 0, maximum = 1)]
    betweenness_centrality: f64,
    #[schema(minimum = 0, maximum = 1)]
    clustering_coeff: f64,
    #[schema(minimum = 0, maximum = 100)]
    burnout_score: f64,
}

/// A team name, or null or "" for no team.
fn optional_team() -> utoipa::openapi::schema::Schema {
    use utoipa::PartialSchema;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(TeamName::schema())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([""])),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

/// A CSV body (documentation). Its schema is the text itself, in the
/// canonical form the service writes: this header, then one line per sample
/// with the cells of [`MetricRow`]. The service also reads the columns in
/// any order and RFC 4180 quoting; a cell is text, so a CSV body is
/// described by the pattern of its text rather than by typed fields.
#[derive(Debug)]
pub struct CsvBody;

/// The CSV header line of a metrics body.
pub const CSV_HEADER: &str =
    "time,employee_id,team,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score";

fn unanchored(pattern: &str) -> &str {
    pattern.trim_start_matches('^').trim_end_matches('$')
}

impl utoipa::PartialSchema for CsvBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use organism_domain::schema::IDENTIFIER_PATTERN;
        // A team cell: empty, or a team name without the characters that
        // would need quoting (comma, quote, line breaks).
        let team = r"(?:[^\s\x00-\x1f\x7f-\x9f,\x22](?:[^\x00-\x1f\x7f-\x9f,\x22]*[^\s\x00-\x1f\x7f-\x9f,\x22])?)?";
        let number = r"[0-9]{1,3}(?:\.[0-9]{1,12})?";
        let line = format!(
            "{time},{id},{team},{number},{number},{number},{number}",
            time = unanchored(organism_domain::TIMESTAMP_PATTERN),
            id = unanchored(IDENTIFIER_PATTERN),
        );
        let pattern = format!("^(?:{CSV_HEADER}(?:\\r?\\n{line}){{0,20}}(?:\\r?\\n)?)?$");
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(pattern))
            .description(Some(format!(
                "CSV: the header `{CSV_HEADER}`, then one line per sample with the fields of MetricRow (team empty for none); an empty body or the header alone is an empty batch. The pattern is the canonical form, up to 20 lines; the service also reads more lines, the columns in any order and RFC 4180 quoting."
            )))
            .examples([format!(
                "{CSV_HEADER}\n2026-06-10T09:30:00Z,emp_001,Data Platform,0.42,0.07,0.31,63.5\n"
            )])
            .into()
    }
}

impl utoipa::ToSchema for CsvBody {}

/// Write a batch of samples.
///
/// All or nothing: a bad row refuses the whole batch (422 naming the row and
/// field) and nothing is written. Idempotent: the same batch again changes
/// nothing, and a sample for an (employee, time) already stored replaces
/// it. The format is the Content-Type: a JSON array, NDJSON, CSV with a
/// header line, or Parquet; each carries the same fields.
#[utoipa::path(
    post,
    path = "/api/metrics",
    tag = "ingest",
    operation_id = "write_metrics",
    request_body(description = "the samples", content(
        (Vec<MetricRow> = "application/json", example = json!([{"time": "2026-06-10T09:30:00Z", "employee_id": "emp_001", "team": "Data Platform", "degree_centrality": 0.42, "betweenness_centrality": 0.07, "clustering_coeff": 0.31, "burnout_score": 63.5}])),
        (Vec<MetricRow> = "application/x-ndjson"),
        (CsvBody = "text/csv"),
        (Vec<MetricRow> = "application/vnd.apache.parquet"),
    )),
    responses((status = 200, description = "stored (`changed`: rows that differed from what was stored, for admin keys only)", body = WriteReceipt,
        example = json!({"received": 1, "stored": 1}))),
)]
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
