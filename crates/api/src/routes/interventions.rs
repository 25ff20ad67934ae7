//! Interventions: create, change status, list.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use organism_domain::{
    Actor, EmployeeId, InterventionId, InterventionKind, InterventionStatus, ValidationError,
};
use organism_store::interventions::{Intervention, NewIntervention, StatusChange};
use serde::Deserialize;
use serde_json::Value;

use super::trends::segment;
use crate::params::Params;
use crate::{ApiError, AppState};

/// A JSON body, or 400/413/415 saying what is wrong with it; `limit` is the
/// body limit in force, named in the 413.
pub fn json_body<T>(body: Result<Json<T>, JsonRejection>, limit: usize) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|rejection| match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("send the body as application/json".into())
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge { limit, size: None }
        }
        other => ApiError::BadBody {
            code: "invalid_json",
            message: other.body_text(),
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    intervention_id: Option<String>,
    kind: String,
    target_employee_id: Option<String>,
    #[serde(default)]
    details: Option<Value>,
    actor: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    status: String,
    actor: String,
    #[serde(default)]
    details: Option<Value>,
}

fn details(value: Option<Value>) -> Value {
    value.unwrap_or_else(|| Value::Object(Default::default()))
}

pub async fn create(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Intervention>), ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let body = json_body(body, state.config.body_limit)?;
    let new = NewIntervention {
        intervention_id: body
            .intervention_id
            .map(InterventionId::parse)
            .transpose()?,
        kind: InterventionKind::parse(body.kind)?,
        target_employee_id: body
            .target_employee_id
            .map(|t| EmployeeId::parse(t).map_err(|e| e.for_field("target_employee_id")))
            .transpose()?,
        details: details(body.details),
        actor: Actor::parse(body.actor)?,
    };
    let created = state.store.create_intervention(new).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created.intervention)))
}

pub async fn change_status(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Json<ChangeBody>, JsonRejection>,
) -> Result<Json<Intervention>, ApiError> {
    let id = InterventionId::parse(segment(path, "intervention_id")?)?;
    Params::parse(query.as_deref(), &[])?;
    let body = json_body(body, state.config.body_limit)?;
    let change = StatusChange {
        to: body.status.parse()?,
        actor: Actor::parse(body.actor)?,
        details: details(body.details),
    };
    Ok(Json(state.store.change_status(&id, change).await?))
}

fn limit(text: &str) -> Result<u32, ValidationError> {
    text.parse::<u32>()
        .ok()
        .filter(|v| (1..=1000).contains(v))
        .ok_or_else(|| {
            ValidationError::new(
                "limit",
                format!("must be a whole number from 1 to 1000, got {text:?}"),
            )
        })
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Intervention>>, ApiError> {
    let params = Params::parse(query.as_deref(), &["status", "target", "limit"])?;
    let status = params.optional("status", |s| s.parse::<InterventionStatus>())?;
    let target = params.optional("target", |v| EmployeeId::parse(v))?;
    let limit = params.or("limit", 100, limit)?;
    Ok(Json(
        state
            .store
            .list_interventions(status, target.as_ref(), limit)
            .await?,
    ))
}
