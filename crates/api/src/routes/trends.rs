//! The six read endpoints of the requirements.

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use organism_domain::{
    AlertDays, EmployeeId, MetricName, StatsDays, TeamName, Threshold, TimeRange, TrendDays,
};
use organism_store::queries::{EmployeeTrend, ManagerPrivacy, TrendPoints};

use super::respond::json_or_csv;
use crate::params::{Params, boolean};
use crate::{ApiError, AppState, Principal};

/// A path segment, or a 400 naming it.
pub fn segment(path: Result<Path<String>, PathRejection>, name: &str) -> Result<String, ApiError> {
    path.map(|Path(v)| v)
        .map_err(|e| ApiError::bad(name, e.body_text()))
}

fn employee_id(path: Result<Path<String>, PathRejection>) -> Result<EmployeeId, ApiError> {
    Ok(EmployeeId::parse(segment(path, "employee_id")?)?)
}

fn trend_response(headers: &HeaderMap, trend: &EmployeeTrend) -> Result<Response, ApiError> {
    match &trend.points {
        TrendPoints::Raw(points) => json_or_csv(headers, trend, points),
        TrendPoints::Hourly(points) => json_or_csv(headers, trend, points),
    }
}

pub async fn employee(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let employee = employee_id(path)?;
    let params = Params::parse(query.as_deref(), &["days", "use_hourly"])?;
    let days = params.or("days", TrendDays::new(30)?, TrendDays::parse)?;
    let hourly = params.or("use_hourly", false, boolean)?;
    // A reader restricted to teams reads the samples of its teams' hours
    // only; an employee with none is 403, whether it exists or not.
    let trend = state
        .store
        .employee_trend_days_as(
            &employee,
            days,
            hourly,
            state.config.clock.now(),
            principal.teams(),
        )
        .await?;
    trend_response(&headers, &trend)
}

pub async fn employee_range(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let employee = employee_id(path)?;
    let params = Params::parse(query.as_deref(), &["start_date", "end_date", "use_hourly"])?;
    let start = params.required("start_date", |s| Ok(s.to_string()))?;
    let end = params.required("end_date", |s| Ok(s.to_string()))?;
    let range = TimeRange::parse(&start, &end)?;
    let hourly = params.or("use_hourly", false, boolean)?;
    let trend = state
        .store
        .employee_trend_as(&employee, range, hourly, principal.teams())
        .await?;
    trend_response(&headers, &trend)
}

pub async fn team(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let team =
        TeamName::parse(segment(path, "team_name")?).map_err(|e| e.for_field("team_name"))?;
    let params = Params::parse(query.as_deref(), &["days"])?;
    let days = params.or("days", TrendDays::new(30)?, TrendDays::parse)?;
    principal.require_team(Some(team.as_str()))?;
    if principal.is_manager() {
        let privacy = ManagerPrivacy {
            min_group_size: state.config.min_group_size.for_managers(),
            epsilon: state.config.manager_epsilon,
        };
        let trend = state
            .store
            .team_trend_for_manager(&team, days, state.config.clock.now(), &privacy)
            .await?;
        return json_or_csv(&headers, &trend, &trend.days);
    }
    let trend = state
        .store
        .team_trend(&team, days, state.config.clock.now())
        .await?
        .with_minimum_group(state.config.min_group_size);
    json_or_csv(&headers, &trend, &trend.days)
}

pub async fn burnout_alerts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["threshold", "days"])?;
    let threshold = params.or("threshold", Threshold::new(70.0)?, Threshold::parse)?;
    let days = params.or("days", AlertDays::new(7)?, AlertDays::parse)?;
    let alerts = state
        .store
        .burnout_alerts_in(threshold, days, state.config.clock.now(), principal.teams())
        .await?;
    let body = serde_json::json!({
        "threshold": threshold.get(),
        "days": days.get(),
        "count": alerts.len(),
        "alerts": alerts,
    });
    json_or_csv(&headers, &body, &alerts)
}

pub async fn statistics(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let metric: MetricName = segment(path, "metric_name")?.parse()?;
    let params = Params::parse(query.as_deref(), &["days"])?;
    let days = params.or("days", StatsDays::new(30)?, StatsDays::parse)?;
    principal.require_unrestricted()?;
    let stats = state
        .store
        .metric_statistics(metric, days, state.config.clock.now())
        .await?;
    json_or_csv(&headers, &stats, std::slice::from_ref(&stats))
}
