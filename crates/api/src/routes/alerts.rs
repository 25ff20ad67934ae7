//! Alert rules (create, list, read, enable or disable, delete) and the log
//! of their webhook deliveries. Admin only: a rule's notifications name
//! employees, and its destinations hold secrets.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use organism_domain::alert::{
    AlertRule, DestinationFormat, Direction, RuleId, RuleKind, WebhookUrl,
};
use organism_domain::{Actor, MetricName, TeamName, ValidationError};
use organism_store::alerts::{
    DeliveryInfo, DestinationSecret, NewAlertRule, NewDestination, StoredRule,
};
use serde::{Deserialize, Serialize};

use super::interventions::json_body;
use super::trends::segment;
use crate::params::Params;
use crate::{ApiError, AppState};

/// Most destinations a rule may have.
const MAX_DESTINATIONS: usize = 10;

/// A webhook of a new rule.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationBody {
    #[schema(value_type = WebhookUrl)]
    url: String,
    /// `json` (the alert event, default) or `slack` (`{"text": …}` for a
    /// Slack incoming webhook).
    #[serde(default)]
    #[schema(value_type = Option<DestinationFormat>)]
    format: Option<DestinationFormat>,
    /// How long an attempt may take, in milliseconds (default 5000).
    #[serde(default)]
    #[schema(minimum = 100, maximum = 60000)]
    timeout_ms: Option<u32>,
    /// Attempts to this destination at once, at most (default 4).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 64)]
    max_in_flight: Option<u32>,
}

/// A new alert rule.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rule_id": "rule-high-burnout", "name": "High burnout", "metric": "burnout_score", "direction": "above", "threshold": 80, "hysteresis": 5, "team": "Data Platform", "min_samples": 2, "destinations": [{"url": "https://hooks.example.com/organism"}], "actor": "hr.partner@example.com"}))]
pub struct CreateRuleBody {
    /// Chosen by the client so that a retry is safe; generated when absent.
    #[serde(default)]
    #[schema(value_type = Option<RuleId>)]
    rule_id: Option<String>,
    #[schema(value_type = Actor)]
    name: String,
    metric: MetricName,
    /// `threshold` (default): each committed sample's value. `forecast`:
    /// once a day, the furthest point forecast of each employee's daily
    /// means over the next `within_days` days (fires when the forecast
    /// reaches the threshold within them). `anomaly`: once a day, the
    /// robust z-score of each employee's change from the day before to the
    /// day just ended (`threshold` is then a score; `above` watches rises,
    /// `below` drops). See docs/REALTIME.md, "Rule kinds".
    #[serde(default)]
    #[schema(value_type = Option<RuleKind>)]
    kind: Option<RuleKind>,
    /// A forecast rule's horizon: 1 to 30 days (required for `forecast`,
    /// refused for the other kinds).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 30)]
    within_days: Option<u32>,
    direction: Direction,
    /// Within the metric's range: 0 to 100 for `burnout_score`, 0 to 1
    /// for the others (400 naming `threshold` otherwise). For an anomaly
    /// rule, a z-score from 0.5 to 100 (default 3.5, the anomaly list's);
    /// required for the other kinds.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    threshold: Option<f64>,
    /// A firing rule resolves only once the value is beyond
    /// `threshold − hysteresis` (`+` for `below`); within the metric's
    /// range (a score for an anomaly rule); default 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    hysteresis: Option<f64>,
    /// Only samples recorded with this team.
    #[serde(default)]
    #[schema(value_type = Option<TeamName>)]
    team: Option<String>,
    /// Samples in a row past the threshold before it fires (default 1);
    /// days in a row for the daily kinds.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    min_samples: Option<u32>,
    /// Default true.
    #[serde(default)]
    enabled: Option<bool>,
    /// Where its notifications go (at most 10; none: the feed and the
    /// audit log only).
    #[schema(max_items = 10)]
    destinations: Vec<DestinationBody>,
    #[schema(value_type = Actor)]
    actor: String,
}

/// A created rule, with each destination's signing secret: shown here
/// only (and to a retry of the same create).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedRuleBody {
    rule: StoredRule,
    secrets: Vec<DestinationSecret>,
}

fn parse_rule(body: CreateRuleBody) -> Result<NewAlertRule, ApiError> {
    if body.destinations.len() > MAX_DESTINATIONS {
        return Err(ApiError::bad(
            "destinations",
            format!(
                "at most {MAX_DESTINATIONS}, got {}",
                body.destinations.len()
            ),
        ));
    }
    let team = body
        .team
        .map(TeamName::parse)
        .transpose()
        .map_err(|e| e.for_field("team"))?;
    let kind = body.kind.unwrap_or(RuleKind::Threshold);
    let threshold = match (body.threshold, kind) {
        (Some(t), _) => t,
        (None, RuleKind::Anomaly) => organism_analytics::anomaly::DEFAULT_THRESHOLD,
        (None, _) => {
            return Err(ApiError::bad(
                "threshold",
                format!("a {} rule needs it", kind.as_str()),
            ));
        }
    };
    let rule = AlertRule::new(
        body.name,
        body.metric,
        (kind, body.within_days),
        body.direction,
        threshold,
        body.hysteresis.unwrap_or(0.0),
        team,
        body.min_samples.unwrap_or(1),
    )?;
    let destinations = body
        .destinations
        .into_iter()
        .enumerate()
        .map(|(i, d)| destination(i, d))
        .collect::<Result<Vec<_>, ValidationError>>()?;
    Ok(NewAlertRule {
        rule_id: body.rule_id.map(RuleId::parse).transpose()?,
        rule,
        enabled: body.enabled.unwrap_or(true),
        destinations,
        actor: Actor::parse(body.actor)?,
    })
}

fn destination(i: usize, d: DestinationBody) -> Result<NewDestination, ValidationError> {
    let field = |name: &str| format!("destinations[{i}].{name}");
    let url = WebhookUrl::parse(&field("url"), d.url)?;
    // What the sender will parse: a host the pattern allows but no URL
    // parser takes ("http://[" say) is refused now, not at the first alert.
    reqwest::Url::parse(url.as_str())
        .map_err(|e| ValidationError::new(field("url"), format!("is not a valid URL: {e}")))?;
    let timeout_ms = d.timeout_ms.unwrap_or(NewDestination::DEFAULT_TIMEOUT_MS);
    if !(100..=60_000).contains(&timeout_ms) {
        return Err(ValidationError::new(
            field("timeout_ms"),
            format!("must be from 100 to 60000, got {timeout_ms}"),
        ));
    }
    let max_in_flight = d
        .max_in_flight
        .unwrap_or(NewDestination::DEFAULT_MAX_IN_FLIGHT);
    if !(1..=64).contains(&max_in_flight) {
        return Err(ValidationError::new(
            field("max_in_flight"),
            format!("must be from 1 to 64, got {max_in_flight}"),
        ));
    }
    Ok(NewDestination {
        url,
        format: d.format.unwrap_or(DestinationFormat::Json),
        timeout_ms,
        max_in_flight,
    })
}

/// Create an alert rule.
///
/// Evaluated against every sample committed from then on (within about a
/// second), once per (rule, employee) episode: see docs/REALTIME.md. The
/// answer holds each destination's signing secret, which is never shown
/// again. Retrying with the same `rule_id` and content returns the rule
/// unchanged (200); the same id with other content is 409.
#[utoipa::path(
    post,
    path = "/api/alert-rules",
    tag = "alerts",
    operation_id = "create_alert_rule",
    request_body(content = CreateRuleBody, content_type = "application/json"),
    responses(
        (status = 201, description = "created", body = CreatedRuleBody, links(
            ("rule" = (operation_id = "get_alert_rule", parameters(("rule_id" = "$response.body#/rule/rule_id")))),
            ("change" = (operation_id = "change_alert_rule", parameters(("rule_id" = "$response.body#/rule/rule_id")))),
        ), example = json!({"rule": {"rule_id": "rule-high-burnout", "name": "High burnout", "metric": "burnout_score", "kind": "threshold", "within_days": null, "direction": "above", "threshold": 80.0, "hysteresis": 5.0, "team": "Data Platform", "min_samples": 2, "enabled": true, "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-10T09:00:00Z", "destinations": [{"destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "url": "https://hooks.example.com/organism", "format": "json", "timeout_ms": 5000, "max_in_flight": 4}]}, "secrets": [{"destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "secret": "3f9a0c5e8b7d6a4f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1"}]})),
        (status = 200, description = "already there with the same content (a retry)", body = CreatedRuleBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Result<Json<CreateRuleBody>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedRuleBody>), ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let new = parse_rule(json_body(body, state.config.body_limit)?)?;
    let created = state.store.create_alert_rule(new).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(CreatedRuleBody {
            rule: created.rule,
            secrets: created.secrets,
        }),
    ))
}

/// List the alert rules (not deleted), oldest first. Never a secret.
#[utoipa::path(
    get,
    path = "/api/alert-rules",
    tag = "alerts",
    operation_id = "list_alert_rules",
    responses((status = 200, description = "the rules", body = Vec<StoredRule>, example = json!([{"rule_id": "rule-high-burnout", "name": "High burnout", "metric": "burnout_score", "kind": "threshold", "within_days": null, "direction": "above", "threshold": 80.0, "hysteresis": 5.0, "team": "Data Platform", "min_samples": 2, "enabled": true, "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-10T09:00:00Z", "destinations": [{"destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "url": "https://hooks.example.com/organism", "format": "json", "timeout_ms": 5000, "max_in_flight": 4}]}]))),
)]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<StoredRule>>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    Ok(Json(state.store.list_alert_rules().await?))
}

fn rule_id(path: Result<Path<String>, PathRejection>) -> Result<RuleId, ApiError> {
    Ok(RuleId::parse(segment(path, "rule_id")?)?)
}

/// One alert rule.
#[utoipa::path(
    get,
    path = "/api/alert-rules/{rule_id}",
    tag = "alerts",
    operation_id = "get_alert_rule",
    params(("rule_id" = inline(RuleId), Path, description = "the rule")),
    responses((status = 200, description = "the rule", body = StoredRule, example = json!({"rule_id": "rule-high-burnout", "name": "High burnout", "metric": "burnout_score", "kind": "threshold", "within_days": null, "direction": "above", "threshold": 80.0, "hysteresis": 5.0, "team": "Data Platform", "min_samples": 2, "enabled": true, "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-10T09:00:00Z", "destinations": [{"destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "url": "https://hooks.example.com/organism", "format": "json", "timeout_ms": 5000, "max_in_flight": 4}]}))),
)]
pub async fn get(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<StoredRule>, ApiError> {
    let id = rule_id(path)?;
    Params::parse(query.as_deref(), &[])?;
    Ok(Json(state.store.alert_rule(&id).await?))
}

/// Enabling or disabling a rule.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false, "actor": "hr.partner@example.com"}))]
pub struct ChangeRuleBody {
    enabled: bool,
    #[schema(value_type = Actor)]
    actor: String,
}

/// Enable or disable an alert rule.
///
/// A disabled rule evaluates nothing; its states stay as they are and its
/// queued deliveries are still sent. Asking for what it already is changes
/// nothing; a change is an audit event.
#[utoipa::path(
    patch,
    path = "/api/alert-rules/{rule_id}",
    tag = "alerts",
    operation_id = "change_alert_rule",
    params(("rule_id" = inline(RuleId), Path, description = "the rule")),
    request_body(content = ChangeRuleBody, content_type = "application/json"),
    responses((status = 200, description = "the rule after the change", body = StoredRule, example = json!({"rule_id": "rule-high-burnout", "name": "High burnout", "metric": "burnout_score", "kind": "threshold", "within_days": null, "direction": "above", "threshold": 80.0, "hysteresis": 5.0, "team": "Data Platform", "min_samples": 2, "enabled": false, "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-11T08:00:00Z", "destinations": [{"destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "url": "https://hooks.example.com/organism", "format": "json", "timeout_ms": 5000, "max_in_flight": 4}]}))),
)]
pub async fn change(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    body: Result<Json<ChangeRuleBody>, JsonRejection>,
) -> Result<Json<StoredRule>, ApiError> {
    let id = rule_id(path)?;
    Params::parse(query.as_deref(), &[])?;
    let body = json_body(body, state.config.body_limit)?;
    let actor = Actor::parse(body.actor)?;
    Ok(Json(
        state
            .store
            .set_alert_rule_enabled(&id, body.enabled, &actor)
            .await?,
    ))
}

/// `actor` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeleteQuery {
    /// Who deletes it (recorded in the audit event).
    #[param(value_type = Actor, required = true)]
    actor: String,
}

/// Delete an alert rule.
///
/// It is no longer listed, evaluated or delivered: deliveries still queued
/// are cancelled. Its audit events and delivery log stay. 404 for an
/// unknown or already deleted rule. Answers the rule as it was deleted.
#[utoipa::path(
    delete,
    path = "/api/alert-rules/{rule_id}",
    tag = "alerts",
    operation_id = "delete_alert_rule",
    params(("rule_id" = inline(RuleId), Path, description = "the rule"), DeleteQuery),
    responses((status = 200, description = "the rule as it was deleted (disabled)", body = StoredRule, example = json!({"rule_id": "rule-high-burnout", "name": "High burnout", "metric": "burnout_score", "kind": "threshold", "within_days": null, "direction": "above", "threshold": 80.0, "hysteresis": 5.0, "team": "Data Platform", "min_samples": 2, "enabled": false, "created_at": "2026-06-10T09:00:00Z", "updated_at": "2026-06-11T08:00:00Z", "destinations": [{"destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "url": "https://hooks.example.com/organism", "format": "json", "timeout_ms": 5000, "max_in_flight": 4}]}))),
)]
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<StoredRule>, ApiError> {
    let id = rule_id(path)?;
    let params = Params::documented::<DeleteQuery>(query.as_deref())?;
    let actor = params.required("actor", |a| Actor::parse(a))?;
    Ok(Json(state.store.delete_alert_rule(&id, &actor).await?))
}

/// A delivery's status, as a filter.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
    Cancelled,
}

impl DeliveryStatus {
    fn parse(text: &str) -> Result<&'static str, ValidationError> {
        ["pending", "delivered", "dead", "cancelled"]
            .into_iter()
            .find(|s| *s == text)
            .ok_or_else(|| {
                ValidationError::new(
                    "status",
                    format!("must be pending, delivered, dead or cancelled; got {text:?}"),
                )
            })
    }
}

/// `rule_id`, `status` and `limit` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeliveriesQuery {
    /// Only this rule's deliveries.
    #[param(inline, nullable = false)]
    rule_id: Option<RuleId>,
    /// Only deliveries in this status.
    #[param(inline, nullable = false)]
    status: Option<DeliveryStatus>,
    /// Most deliveries returned.
    #[param(minimum = 1, maximum = 1000, default = 100, nullable = false)]
    limit: Option<u32>,
}

/// The webhook deliveries, newest first, each with every attempt.
#[utoipa::path(
    get,
    path = "/api/alert-deliveries",
    tag = "alerts",
    operation_id = "list_alert_deliveries",
    params(DeliveriesQuery),
    responses((status = 200, description = "the deliveries", body = Vec<DeliveryInfo>, example = json!([{"delivery_id": 42, "rule_id": "rule-high-burnout", "destination_id": "dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "episode_id": "0b8e5c1e-2f7a-4d3b-9c61-7a5e4d3c2b1a", "state": "firing", "idempotency_key": "0b8e5c1e-2f7a-4d3b-9c61-7a5e4d3c2b1a:firing:dest-7f1c2a9e-5b1d-4c1e-9a55-0c1d2e3f4a5b", "status": "delivered", "created_at": "2026-06-10T09:05:00Z", "next_attempt_at": null, "finished_at": "2026-06-10T09:05:07Z", "last_error": null, "attempts": [{"attempt": 1, "started_at": "2026-06-10T09:05:00Z", "duration_ms": 5001.2, "http_status": null, "outcome": "failed", "error": "timed out"}, {"attempt": 2, "started_at": "2026-06-10T09:05:07Z", "duration_ms": 12.4, "http_status": 200, "outcome": "delivered", "error": null}]}]))),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DeliveryInfo>>, ApiError> {
    let params = Params::documented::<DeliveriesQuery>(query.as_deref())?;
    let rule = params.optional("rule_id", |r| RuleId::parse(r))?;
    let status = params.optional("status", DeliveryStatus::parse)?;
    let limit = i64::from(params.or("limit", 100, super::interventions::limit)?);
    Ok(Json(
        state
            .store
            .list_deliveries(rule.as_ref(), status, limit)
            .await?,
    ))
}
