//! The audit log: pages of events, and the chain check.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use organism_domain::{AuditAction, InterventionId, parse_instant};
use organism_store::audit::{AuditFilter, AuditLimit, AuditPage, ChainReport, Cursor};

use crate::params::Params;
use crate::{ApiError, AppState};

pub async fn events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &[
            "intervention_id",
            "action",
            "start",
            "end",
            "limit",
            "cursor",
        ],
    )?;
    let filter = AuditFilter {
        intervention_id: params.optional("intervention_id", |v| InterventionId::parse(v))?,
        action: params.optional("action", |s| s.parse::<AuditAction>())?,
        start: params.optional("start", |s| Ok(parse_instant(s, false)?))?,
        end: params.optional("end", |s| Ok(parse_instant(s, true)?))?,
        after: params.optional("cursor", Cursor::parse)?,
        limit: params.or("limit", AuditLimit::default(), AuditLimit::parse)?,
    };
    if let (Some(start), Some(end)) = (filter.start, filter.end)
        && start >= end
    {
        return Err(ApiError::bad("start", "must be before end"));
    }
    Ok(Json(state.store.audit_events(&filter).await?))
}

/// 200 with `ok: true` when the chain holds; 200 with the first broken link
/// otherwise (the check itself worked; what it found is the answer).
pub async fn verify(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<(StatusCode, Json<ChainReport>), ApiError> {
    Params::parse(query.as_deref(), &[])?;
    Ok((
        StatusCode::OK,
        Json(state.store.verify_audit_chain().await?),
    ))
}
