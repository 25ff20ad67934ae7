//! The six read endpoints of the requirements.

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use organism_domain::{
    AlertDays, EmployeeId, MetricName, StatsDays, TeamName, Threshold, TimeRange, TrendDays,
};
use organism_store::queries::{
    BurnoutAlert, EmployeeTrend, ManagerPrivacy, ManagerTeamTrend, MetricStatistics,
    PublishedTeamTrend, TrendPoints,
};
use serde::Serialize;

use super::respond::json_or_csv;
use crate::params::{Params, boolean, days_schema, threshold_schema};
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

/// `days` and `use_hourly` (documentation; the handler parses each with its
/// domain type).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TrendQuery {
    /// Window in days, ending now.
    #[param(schema_with = days_schema::<730, 30>)]
    days: Option<TrendDays>,
    /// Hourly averages (from the rollup) instead of raw samples.
    #[param(default = false, nullable = false)]
    use_hourly: Option<bool>,
}

/// `start_date`, `end_date` and `use_hourly` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RangeQuery {
    /// Start of the range (inclusive): an RFC 3339 timestamp, one without
    /// offset (UTC) or a date `YYYY-MM-DD` (the start of that UTC day).
    /// Before `end_date`, at most 731 days before it.
    #[param(schema_with = organism_domain::schema::instant, required = true)]
    start_date: String,
    /// End of the range (exclusive); a bare date means the end of that day.
    #[param(schema_with = organism_domain::schema::instant, required = true)]
    end_date: String,
    /// Hourly averages (from the rollup) instead of raw samples.
    #[param(default = false, nullable = false)]
    use_hourly: Option<bool>,
}

/// An employee's trend over the last `days` days.
///
/// Raw samples, or with `use_hourly=true` hourly averages from the rollup
/// (which also covers the time older than raw retention). A reader limited
/// to teams gets the samples of its teams' hours only. Answers CSV (the
/// points) when `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/api/trends/employee/{employee_id}",
    tag = "trends",
    operation_id = "get_employee_trend",
    params(("employee_id" = inline(EmployeeId), Path, description = "pseudonymous employee id"), TrendQuery),
    responses((status = 200, description = "the trend", content(
        (EmployeeTrend = "application/json", example = json!({"employee_id": "emp_001", "resolution": "raw", "start": "2026-06-03T12:00:00Z", "end": "2026-06-10T12:00:00Z", "points": [{"time": "2026-06-10T11:45:00Z", "team": "Data Platform", "degree_centrality": 0.42, "betweenness_centrality": 0.07, "clustering_coeff": 0.31, "burnout_score": 63.5}]})),
        (String = "text/csv"),
    ))),
)]
pub async fn employee(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (store, from) = state.reads(&headers)?;
    let employee = employee_id(path)?;
    let params = Params::documented::<TrendQuery>(query.as_deref())?;
    let days = params.or("days", TrendDays::new(30)?, TrendDays::parse)?;
    let hourly = params.or("use_hourly", false, boolean)?;
    // A reader restricted to teams reads the samples of its teams' hours
    // only; an employee with none is 403, whether it exists or not.
    let trend = store
        .employee_trend_days_as(
            &employee,
            days,
            hourly,
            state.config.clock.now(),
            principal.teams(),
        )
        .await?;
    from.answer(trend_response(&headers, &trend))
}

/// An employee's trend between two instants.
///
/// Same answer as the `days` form. The range is at most 731 days; a bare
/// date as `end_date` means the end of that day.
#[utoipa::path(
    get,
    path = "/api/trends/employee/{employee_id}/range",
    tag = "trends",
    operation_id = "get_employee_trend_range",
    params(("employee_id" = inline(EmployeeId), Path, description = "pseudonymous employee id"), RangeQuery),
    responses((status = 200, description = "the trend", content(
        (EmployeeTrend = "application/json", example = json!({"employee_id": "emp_001", "resolution": "hourly", "start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z", "points": [{"time": "2026-06-01T09:00:00Z", "team": "Data Platform", "samples": 4, "degree_centrality": 0.41, "betweenness_centrality": 0.07, "clustering_coeff": 0.30, "burnout_score": 62.8, "burnout_min": 61.0, "burnout_max": 64.5}]})),
        (String = "text/csv", example = "time,team,samples,degree_centrality,betweenness_centrality,clustering_coeff,burnout_score,burnout_min,burnout_max\n2026-06-01T09:00:00Z,Data Platform,4,0.41,0.07,0.3,62.8,61.0,64.5\n"),
    ))),
)]
pub async fn employee_range(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (store, from) = state.reads(&headers)?;
    let employee = employee_id(path)?;
    let params = Params::documented::<RangeQuery>(query.as_deref())?;
    let start = params.required("start_date", |s| Ok(s.to_string()))?;
    let end = params.required("end_date", |s| Ok(s.to_string()))?;
    let range = TimeRange::parse(&start, &end)?;
    let hourly = params.or("use_hourly", false, boolean)?;
    let trend = store
        .employee_trend_as(&employee, range, hourly, principal.teams())
        .await?;
    from.answer(trend_response(&headers, &trend))
}

/// `days` of a team trend (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DaysQuery {
    /// Window in days, ending now.
    #[param(schema_with = days_schema::<730, 30>)]
    days: Option<TrendDays>,
}

/// A team's answer: per day for a reader or admin, noisy whole days for a
/// manager key.
#[derive(Debug)]
pub struct TeamTrendAnswer;

/// `anyOf`, not `oneOf`: an answer without days fits both shapes.
impl utoipa::PartialSchema for TeamTrendAnswer {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::ToSchema;
        utoipa::openapi::schema::Schema::AnyOf(
            utoipa::openapi::schema::AnyOfBuilder::new()
                .item(utoipa::openapi::Ref::from_schema_name(
                    PublishedTeamTrend::name(),
                ))
                .item(utoipa::openapi::Ref::from_schema_name(
                    ManagerTeamTrend::name(),
                ))
                .build(),
        )
        .into()
    }
}

impl utoipa::ToSchema for TeamTrendAnswer {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((
            PublishedTeamTrend::name().into(),
            PublishedTeamTrend::schema(),
        ));
        schemas.push((ManagerTeamTrend::name().into(), ManagerTeamTrend::schema()));
        PublishedTeamTrend::schemas(schemas);
        ManagerTeamTrend::schemas(schemas);
    }
}

/// A team's daily trend.
///
/// Per UTC day: distinct members, samples, the average of each metric and
/// the highest burnout; days with fewer members than the minimum group size
/// are `suppressed` with no values. A manager key gets whole past days only,
/// without the highest burnout or sample counts, with the minimum group size
/// (at least 5) and differential-privacy noise applied (`privacy` says how).
#[utoipa::path(
    get,
    path = "/api/trends/team/{team_name}",
    tag = "trends",
    operation_id = "get_team_trend",
    params(("team_name" = inline(TeamName), Path, description = "team name"), DaysQuery),
    responses((status = 200, description = "the team's days", content(
        (TeamTrendAnswer = "application/json", example = json!({"team": "Data Platform", "start": "2026-06-08T12:00:00Z", "end": "2026-06-10T12:00:00Z", "min_group_size": 5, "days": [{"day": "2026-06-09", "members": 12, "samples": 1152, "suppressed": false, "degree_centrality": 0.38, "betweenness_centrality": 0.05, "clustering_coeff": 0.33, "burnout_score": 48.1, "burnout_max": 81.0}, {"day": "2026-06-10", "members": 3, "samples": 144, "suppressed": true, "degree_centrality": null, "betweenness_centrality": null, "clustering_coeff": null, "burnout_score": null, "burnout_max": null}]})),
        (String = "text/csv"),
    ))),
)]
pub async fn team(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (store, from) = state.reads(&headers)?;
    let team =
        TeamName::parse(segment(path, "team_name")?).map_err(|e| e.for_field("team_name"))?;
    let params = Params::documented::<DaysQuery>(query.as_deref())?;
    let days = params.or("days", TrendDays::new(30)?, TrendDays::parse)?;
    principal.require_team(Some(team.as_str()))?;
    if principal.is_manager() {
        let privacy = ManagerPrivacy {
            min_group_size: state.config.min_group_size.for_managers(),
            epsilon: state.config.manager_epsilon,
        };
        let trend = store
            .team_trend_for_manager(&team, days, state.config.clock.now(), &privacy)
            .await?;
        return from.answer(json_or_csv(&headers, &trend, &trend.days));
    }
    let trend = store
        .team_trend(&team, days, state.config.clock.now())
        .await?
        .with_minimum_group(state.config.min_group_size);
    from.answer(json_or_csv(&headers, &trend, &trend.days))
}

/// `threshold` and `days` of the burnout alerts (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AlertsQuery {
    /// Burnout threshold, 0 to 100.
    #[param(schema_with = threshold_schema)]
    threshold: Option<Threshold>,
    /// Window in days, ending now.
    #[param(schema_with = days_schema::<90, 7>)]
    days: Option<AlertDays>,
}

/// The burnout alerts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertsAnswer {
    pub threshold: f64,
    pub days: u32,
    pub count: usize,
    pub alerts: Vec<BurnoutAlert>,
}

/// Employees at or above a burnout threshold.
///
/// Employees whose latest burnout score in the window is at or above the
/// threshold, highest first; a reader limited to teams sees its teams'
/// employees only.
#[utoipa::path(
    get,
    path = "/api/trends/burnout-alerts",
    tag = "trends",
    operation_id = "get_burnout_alerts",
    params(AlertsQuery),
    responses((status = 200, description = "the alerts", content(
        (AlertsAnswer = "application/json", example = json!({"threshold": 70.0, "days": 7, "count": 1, "alerts": [{"employee_id": "emp_017", "team": "Payments", "latest_score": 82.5, "latest_time": "2026-06-10T11:45:00Z", "peak_score": 84.0, "average_score": 77.9, "samples": 672}]})),
        (String = "text/csv"),
    ))),
)]
pub async fn burnout_alerts(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (store, from) = state.reads(&headers)?;
    let params = Params::documented::<AlertsQuery>(query.as_deref())?;
    let threshold = params.or("threshold", Threshold::new(70.0)?, Threshold::parse)?;
    let days = params.or("days", AlertDays::new(7)?, AlertDays::parse)?;
    let alerts = store
        .burnout_alerts_in(threshold, days, state.config.clock.now(), principal.teams())
        .await?;
    let body = AlertsAnswer {
        threshold: threshold.get(),
        days: days.get(),
        count: alerts.len(),
        alerts,
    };
    from.answer(json_or_csv(&headers, &body, &body.alerts))
}

/// `days` of the statistics (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StatsQuery {
    /// Window in days, ending now.
    #[param(schema_with = days_schema::<365, 30>)]
    days: Option<StatsDays>,
}

/// Statistics of one metric over the organisation.
///
/// min, max, avg, stddev and count over the window (from the hourly rollup
/// for whole hours). Needs a key not limited to teams.
#[utoipa::path(
    get,
    path = "/api/trends/statistics/{metric_name}",
    tag = "trends",
    operation_id = "get_metric_statistics",
    params(("metric_name" = inline(MetricName), Path, description = "the metric"), StatsQuery),
    responses((status = 200, description = "the statistics", content(
        (MetricStatistics = "application/json", example = json!({"metric": "burnout_score", "start": "2026-05-11T12:00:00Z", "end": "2026-06-10T12:00:00Z", "count": 1440000, "min": 3.2, "max": 97.5, "avg": 41.7, "stddev": 14.9})),
        (String = "text/csv"),
    ))),
)]
pub async fn statistics(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (store, from) = state.reads(&headers)?;
    let metric: MetricName = segment(path, "metric_name")?.parse()?;
    let params = Params::documented::<StatsQuery>(query.as_deref())?;
    let days = params.or("days", StatsDays::new(30)?, StatsDays::parse)?;
    principal.require_unrestricted()?;
    let stats = store
        .metric_statistics(metric, days, state.config.clock.now())
        .await?;
    from.answer(json_or_csv(&headers, &stats, std::slice::from_ref(&stats)))
}
