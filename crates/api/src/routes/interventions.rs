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
use utoipa::PartialSchema;

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

/// A new intervention. Parsed field by field with the domain types, so an
/// error names the field.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"intervention_id": "int-2026-0042", "kind": "workload_rebalance", "target_employee_id": "emp_017", "details": {"note": "move two projects to the platform team"}, "actor": "hr.partner@example.com"}))]
pub struct CreateBody {
    /// Chosen by the client so that a retry is safe; generated when absent.
    #[schema(value_type = Option<InterventionId>)]
    intervention_id: Option<String>,
    #[schema(value_type = InterventionKind)]
    kind: String,
    /// The employee it helps; absent for a team-wide intervention.
    #[schema(value_type = Option<EmployeeId>)]
    target_employee_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Details>)]
    details: Option<Value>,
    #[schema(value_type = Actor)]
    actor: String,
}

/// A status change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "approved", "actor": "manager@example.com", "details": {"reason": "agreed in the 1:1"}}))]
pub struct ChangeBody {
    /// The new status: proposed → approved → active → completed; any open
    /// status → cancelled; active → rolled_back. Another move is 409; the
    /// current status again changes nothing.
    #[schema(value_type = InterventionStatus)]
    status: String,
    #[schema(value_type = Actor)]
    actor: String,
    #[serde(default)]
    #[schema(value_type = Option<Details>)]
    details: Option<Value>,
    /// When the change took effect, if earlier than now (a change recorded
    /// after the fact): an RFC 3339 timestamp, not in the future and not
    /// before the intervention's previous status change. Recorded in the
    /// audit event; the effect analysis starts at an activation's
    /// `effective_at`. Without it, the change took effect when recorded.
    #[serde(default)]
    #[schema(schema_with = organism_domain::schema::timestamp_or_null)]
    effective_at: Option<String>,
}

/// `details`: any JSON object of at most 16 KiB that PostgreSQL can store
/// and give back, that is with no NUL character (U+0000) in any key or
/// string and no number beyond ±1e300, at any depth. Documentation only; [`organism_store::interventions::check_details`]
/// enforces it.
#[derive(Debug)]
pub struct Details;

/// Any JSON value without NUL in a key or string, at any depth.
#[derive(Debug)]
pub struct StorableJson;

fn no_nul() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^[^\\x00]*$"))
        .build()
}

fn storable_object() -> utoipa::openapi::ObjectBuilder {
    use utoipa::openapi::schema::{AdditionalProperties, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(no_nul()))
        .additional_properties(Some(AdditionalProperties::RefOr(
            utoipa::openapi::Ref::from_schema_name("StorableJson").into(),
        )))
}

impl utoipa::PartialSchema for Details {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        storable_object()
            .description(Some(
                "any JSON object of at most 16384 bytes with no NUL character (U+0000) in a key or string and no number beyond ±1e300, at any depth",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Details {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((StorableJson::name().into(), StorableJson::schema()));
    }
}

impl utoipa::PartialSchema for StorableJson {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
        let reference = utoipa::openapi::Ref::from_schema_name("StorableJson");
        Schema::OneOf(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .item(ObjectBuilder::new().schema_type(Type::Boolean))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Number)
                        .minimum(Some(-organism_domain::MAX_JSON_NUMBER))
                        .maximum(Some(organism_domain::MAX_JSON_NUMBER)),
                )
                .item(no_nul())
                .item(ArrayBuilder::new().items(reference))
                .item(storable_object())
                .build(),
        )
        .into()
    }
}

impl utoipa::ToSchema for StorableJson {}

fn details(value: Option<Value>) -> Value {
    value.unwrap_or_else(|| Value::Object(Default::default()))
}

/// Create an intervention.
///
/// It starts as `proposed`, with its `created` audit event in the same
/// transaction. Retrying with the same id and content returns it unchanged
/// (200); the same id with other content is 409.
#[utoipa::path(
    post,
    path = "/api/interventions",
    tag = "interventions",
    operation_id = "create_intervention",
    request_body(content = CreateBody, content_type = "application/json"),
    responses(
        (status = 201, description = "created", body = Intervention, links(
            ("change_status" = (operation_id = "change_intervention_status", parameters(("intervention_id" = "$response.body#/intervention_id")))),
            ("audit_events" = (operation_id = "get_audit_events", parameters(("intervention_id" = "$response.body#/intervention_id")))),
        ), example = json!({"intervention_id": "int-2026-0042", "kind": "workload_rebalance", "target_employee_id": "emp_017", "status": "proposed", "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-10T09:00:00Z", "details": {"note": "move two projects to the platform team"}})),
        (status = 200, description = "already there with the same content (a retry)", body = Intervention),
    ),
)]
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

/// Change an intervention's status.
///
/// Along the allowed transitions only (see the body's `status`), with its
/// audit event in the same transaction.
#[utoipa::path(
    patch,
    path = "/api/interventions/{intervention_id}",
    tag = "interventions",
    operation_id = "change_intervention_status",
    params(("intervention_id" = inline(InterventionId), Path, description = "the intervention")),
    request_body(content = ChangeBody, content_type = "application/json"),
    responses((status = 200, description = "the intervention after the change", body = Intervention,
        example = json!({"intervention_id": "int-2026-0042", "kind": "workload_rebalance", "target_employee_id": "emp_017", "status": "approved", "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-10T10:30:00Z", "details": {"note": "move two projects to the platform team"}}))),
)]
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
        effective_at: body
            .effective_at
            .map(|t| {
                organism_domain::time::parse_timestamp(&t).map_err(|e| e.for_field("effective_at"))
            })
            .transpose()?,
    };
    Ok(Json(
        state
            .store
            .change_status_at(&id, change, state.config.clock.now())
            .await?,
    ))
}

/// `limit`: 1 to 1000 (also the alert deliveries').
pub(super) fn limit(text: &str) -> Result<u32, ValidationError> {
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

/// `status`, `target` and `limit` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// Only interventions in this status.
    #[param(inline, nullable = false)]
    status: Option<InterventionStatus>,
    /// Only interventions for this employee.
    #[param(inline, nullable = false)]
    target: Option<EmployeeId>,
    /// Most interventions returned.
    #[param(minimum = 1, maximum = 1000, default = 100, nullable = false)]
    limit: Option<u32>,
}

/// List interventions, newest first.
#[utoipa::path(
    get,
    path = "/api/interventions",
    tag = "interventions",
    operation_id = "list_interventions",
    params(ListQuery),
    responses((status = 200, description = "the interventions", body = Vec<Intervention>, example = json!([{"intervention_id": "int-2026-0042", "kind": "workload_rebalance", "target_employee_id": "emp_017", "status": "proposed", "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-10T09:00:00Z", "details": {"note": "move two projects to the platform team"}}]))),
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Intervention>>, ApiError> {
    let params = Params::documented::<ListQuery>(query.as_deref())?;
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
