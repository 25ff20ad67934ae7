//! The audit log: pages of events, and the chain check.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use organism_domain::{AuditAction, InterventionId, parse_instant};
use organism_store::audit::{AuditFilter, AuditLimit, AuditPage, ChainReport, Cursor};

use crate::params::Params;
use crate::{ApiError, AppState};

/// The audit log's filters and page (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventsQuery {
    /// Only this intervention's events.
    #[param(inline, nullable = false)]
    intervention_id: Option<InterventionId>,
    /// Only events of this action.
    #[param(inline, nullable = false)]
    action: Option<AuditAction>,
    /// Events at or after this instant (a bare date: its start). Before
    /// `end` when both are given.
    #[param(schema_with = organism_domain::schema::instant)]
    start: Option<String>,
    /// Events before this instant (a bare date: its end).
    #[param(schema_with = organism_domain::schema::instant)]
    end: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 1000, default = 100, nullable = false)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$", nullable = false)]
    cursor: Option<String>,
}

/// Audit events, oldest first.
///
/// One page at a time; `next_cursor` continues after the page's last
/// event (keyset pagination, stable while events are appended).
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "audit",
    operation_id = "get_audit_events",
    params(EventsQuery),
    responses((status = 200, description = "a page of events", body = AuditPage,
        example = json!({"events": [{"seq": 1, "time": "2026-06-10T09:00:00Z", "event_id": "fe3ef7f3-1625-45b8-b80b-7dc4929647fb", "intervention_id": "int-2026-0042", "action": "created", "actor": "hr.partner@example.com", "target_employee_id": "emp_017", "details": {"details": {}, "kind": "workload_rebalance", "status": "proposed"}, "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "hash": "ca823993c138f4291ecdb99de8ab00b40f2629c9e96c0e254d72da8d1b9828c8"}], "next_cursor": "1"}))),
)]
pub async fn events(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let params = Params::documented::<EventsQuery>(query.as_deref())?;
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

/// Check the audit log.
///
/// Hashes recomputed outside the database, links, times, and each
/// intervention replayed from its events. 200 with `ok: true` when the chain
/// holds; 200 with the first broken link otherwise (the check itself
/// worked; what it found is the answer).
#[utoipa::path(
    get,
    path = "/api/audit/verify",
    tag = "audit",
    operation_id = "verify_audit_log",
    responses((status = 200, description = "what the check found", body = ChainReport,
        example = json!({"ok": true, "events_checked": 35, "first_broken": null, "head_seq": 35, "head_hash": "d8c2181de7e8bfcaaddce9ba852cb4b5b0634fb45582f3162f2a7fed19f55967", "interventions_checked": 23, "hash_function": "agrees", "checkpoint": null}))),
)]
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
