//! The analytics endpoints (issue 17): thin wrappers over
//! [`crate::analytics`], which `organism analyze` calls too.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use organism_domain::{EmployeeId, InterventionId, MetricName, TeamName};

use super::trends::segment;
use crate::analytics::{
    self, AnalysisDays, AnomaliesAnswer, AnomalyDays, AnomalyParams, Context, CorrelationParams,
    CorrelationsAnswer, EffectAnswer, EffectDays, EffectParams, ForecastAnswer, ForecastParams,
    HistoryDays, HorizonDays, OverviewAnswer,
};
use crate::params::{Params, days_schema};
use crate::replica::ReadFrom;
use crate::{ApiError, AppState, Principal};

/// What an analysis reads from (the replica while it keeps up) and where
/// the answer says it was read.
fn context<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
) -> Result<(Context<'a>, ReadFrom), ApiError> {
    let (store, from) = state.reads(headers)?;
    Ok((
        Context {
            store,
            primary: &state.store,
            on_replica: from == ReadFrom::Replica,
            min_group_size: state.config.min_group_size,
            manager_epsilon: state.config.manager_epsilon,
            now: state.config.clock.now(),
        },
        from,
    ))
}

/// A JSON answer already serialised (a kept one, or one just computed).
fn json_text(text: String, from: ReadFrom) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/json")], text).into_response();
    from.mark(response.headers_mut());
    response
}

/// A JSON answer, marked with where it was read.
fn json_answer<T: serde::Serialize>(answer: T, from: ReadFrom) -> Response {
    let mut response = Json(answer).into_response();
    from.mark(response.headers_mut());
    response
}

fn metric(params: &Params) -> Result<MetricName, ApiError> {
    params.or("metric", MetricName::BurnoutScore, |s| s.parse())
}

fn team_param(params: &Params) -> Result<Option<TeamName>, ApiError> {
    params.optional("team", |s| TeamName::parse(s))
}

/// The schema of `metric`: one of the four, `burnout_score` when absent.
fn metric_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(MetricName::ALL.iter().map(|m| m.column())))
        .default(Some("burnout_score".into()))
        .build()
}

/// The schema of `max_lag_days`: 0 to 30, 14 when absent.
fn lag_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(0))
        .maximum(Some(analytics::MAX_LAG_DAYS))
        .default(Some(14.into()))
        .build()
}

/// The schema of a forecast's `threshold`: within the metric's range (0 to
/// 100 for burnout, 0 to 1 for the others).
fn forecast_threshold_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Number)
        .minimum(Some(0))
        .maximum(Some(100))
        .build()
}

/// `metric`, `before_days` and `after_days` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EffectQuery {
    /// The metric whose daily means are analysed.
    #[param(schema_with = metric_schema)]
    metric: Option<MetricName>,
    /// Whole days before the day of activation.
    #[param(schema_with = days_schema::<365, 28>)]
    before_days: Option<EffectDays>,
    /// Whole days from the first one after activation, capped at the end
    /// of the intervention or today.
    #[param(schema_with = days_schema::<365, 28>)]
    after_days: Option<EffectDays>,
}

/// Did an intervention work?
///
/// From when the intervention became active (its activation's
/// `effective_at`), an interrupted time series on the target's daily means
/// (level and slope change with Newey–West standard errors) and a
/// difference in differences against the members of the target's team who
/// were not the target of an intervention (cluster-robust by employee),
/// absent with the reason when the group is smaller than the minimum group
/// size. 404 `never_activated` when it never became active; 422
/// `no_target` without a target employee. Not for manager keys (it is
/// about one employee).
#[utoipa::path(
    get,
    path = "/api/analytics/interventions/{intervention_id}/effect",
    tag = "analytics",
    operation_id = "get_intervention_effect",
    params(("intervention_id" = inline(InterventionId), Path, description = "the intervention"), EffectQuery),
    responses((status = 200, description = "the effect", body = EffectAnswer,
        example = json!({"intervention_id": "iv-emp_017", "target_employee_id": "emp_017", "team": "Payments", "metric": "burnout_score", "activated_at": "2026-05-12T09:00:00Z", "ended_at": null, "before": {"start": "2026-05-09", "end": "2026-05-12"}, "after": {"start": "2026-05-13", "end": "2026-05-16"}, "daily_means": [{"day": "2026-05-09", "value": 70.2}, {"day": "2026-05-10", "value": 71.0}, {"day": "2026-05-11", "value": 72.1}, {"day": "2026-05-13", "value": 64.0}, {"day": "2026-05-14", "value": 62.5}, {"day": "2026-05-15", "value": 61.9}], "interrupted_time_series": null, "its_unavailable": "an interrupted time series needs at least 3 days with a value before the start and 3 from the start on", "difference_in_differences": null, "comparison_unavailable": "the comparison group has 3 employees, fewer than the minimum group size of 5"}))),
)]
pub async fn effect(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = InterventionId::parse(segment(path, "intervention_id")?)?;
    let params = Params::documented::<EffectQuery>(query.as_deref())?;
    let params = EffectParams {
        metric: metric(&params)?,
        before_days: params.or("before_days", EffectDays::new(28)?, EffectDays::parse)?,
        after_days: params.or("after_days", EffectDays::new(28)?, EffectDays::parse)?,
    };
    let (cx, from) = context(&state, &headers)?;
    Ok(json_answer(
        analytics::effect(cx, &principal, &id, params).await?,
        from,
    ))
}

/// `metric`, `history_days`, `horizon_days` and `threshold` (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ForecastQuery {
    /// The metric to forecast.
    #[param(schema_with = metric_schema)]
    metric: Option<MetricName>,
    /// Whole days of history the model is fitted on, ending yesterday.
    #[param(schema_with = days_schema::<365, 90>)]
    history_days: Option<HistoryDays>,
    /// Days to forecast, from today.
    #[param(schema_with = days_schema::<30, 14>)]
    horizon_days: Option<HorizonDays>,
    /// Report the first forecast day at or above this value (within the
    /// metric's range).
    #[param(schema_with = forecast_threshold_schema)]
    threshold: Option<f64>,
}

fn forecast_params(query: Option<&str>) -> Result<ForecastParams, ApiError> {
    let params = Params::documented::<ForecastQuery>(query)?;
    let metric = metric(&params)?;
    Ok(ForecastParams {
        metric,
        history_days: params.or(
            "history_days",
            HistoryDays::new(i64::from(crate::analytics::DEFAULT_HISTORY_DAYS))?,
            HistoryDays::parse,
        )?,
        horizon_days: params.or("horizon_days", HorizonDays::new(14)?, HorizonDays::parse)?,
        threshold: params.optional("threshold", |s| analytics::metric_threshold(metric, s))?,
    })
}

/// Where is an employee heading?
///
/// A daily forecast of the employee's daily means (automatic exponential
/// smoothing; the chosen model and its parameters are in `model`) with 80%
/// and 95% intervals, and the first day the forecast reaches `threshold`.
/// 422 `not_enough_history` when the history is too short. Not for manager
/// keys.
#[utoipa::path(
    get,
    path = "/api/analytics/forecast/employee/{employee_id}",
    tag = "analytics",
    operation_id = "get_employee_forecast",
    params(("employee_id" = inline(EmployeeId), Path, description = "pseudonymous employee id"), ForecastQuery),
    responses((status = 200, description = "the forecast", body = ForecastAnswer,
        example = json!({"subject": "employee", "id": "emp_017", "metric": "burnout_score", "history_window": {"start": "2026-03-12", "end": "2026-06-10"}, "history": [{"day": "2026-06-09", "value": 66.2}], "model": {"name": "ETS(A,Ad,N)", "alpha": 0.41, "beta": 0.05, "phi": 0.9, "sigma": 2.1, "aicc": 412.7, "bic": 425.1, "weekly_profile": null, "cycle": null, "observations": 90}, "points": [{"day": "2026-06-10", "value": 67.0, "lower_80": 64.3, "upper_80": 69.7, "lower_95": 62.9, "upper_95": 71.1}], "threshold": 70.0, "threshold_reached_on": null}))),
)]
pub async fn forecast_employee(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let employee = EmployeeId::parse(segment(path, "employee_id")?)?;
    let params = forecast_params(query.as_deref())?;
    let (cx, from) = context(&state, &headers)?;
    Ok(json_answer(
        analytics::forecast_employee(cx, &principal, &employee, params).await?,
        from,
    ))
}

/// Where is a team heading?
///
/// As the employee forecast, on the team's daily means as the key sees them
/// in the team trend: days under the minimum group size left out, and for
/// a manager key its published (noisy) days.
#[utoipa::path(
    get,
    path = "/api/analytics/forecast/team/{team_name}",
    tag = "analytics",
    operation_id = "get_team_forecast",
    params(("team_name" = inline(TeamName), Path, description = "team name"), ForecastQuery),
    responses((status = 200, description = "the forecast", body = ForecastAnswer,
        example = json!({"subject": "team", "id": "Payments", "metric": "burnout_score", "history_window": {"start": "2026-03-12", "end": "2026-06-10"}, "history": [{"day": "2026-06-09", "value": 48.3}], "model": {"name": "ETS(A,N,N) on the series net of its weekly profile", "alpha": 0.3, "beta": null, "phi": null, "sigma": 1.2, "aicc": 301.5, "bic": 306.0, "weekly_profile": [0.8, 0.9, 1.1, 0.7, 0.5, -2.1, -1.9], "cycle": null, "observations": 90}, "points": [{"day": "2026-06-10", "value": 48.1, "lower_80": 46.6, "upper_80": 49.6, "lower_95": 45.8, "upper_95": 50.4}], "threshold": null, "threshold_reached_on": null}))),
)]
pub async fn forecast_team(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let team =
        TeamName::parse(segment(path, "team_name")?).map_err(|e| e.for_field("team_name"))?;
    let params = forecast_params(query.as_deref())?;
    let (cx, from) = context(&state, &headers)?;
    Ok(json_answer(
        analytics::forecast_team(cx, &principal, &team, params).await?,
        from,
    ))
}

/// `metric`, `days` and `team` of the anomalies (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AnomalyQuery {
    /// The metric whose day-over-day changes are judged.
    #[param(schema_with = metric_schema)]
    metric: Option<MetricName>,
    /// Whole days searched, ending yesterday.
    #[param(schema_with = days_schema::<90, 30>)]
    days: Option<AnomalyDays>,
    /// Only this team's members (their days in the team).
    #[param(inline)]
    team: Option<TeamName>,
}

/// What is unusual?
///
/// Employee-days whose change from the employee's previous day is unusual
/// for that employee (robust z-score of the day-over-day change against the
/// employee's own changes, `rule` says how), highest score first. A key
/// limited to teams searches its teams only. Not for manager keys.
#[utoipa::path(
    get,
    path = "/api/analytics/anomalies",
    tag = "analytics",
    operation_id = "get_anomalies",
    params(AnomalyQuery),
    responses((status = 200, description = "the anomalies", body = AnomaliesAnswer,
        example = json!({"metric": "burnout_score", "team": null, "window": {"start": "2026-05-11", "end": "2026-06-10"}, "baseline_days": 60, "rule": "robust z-score of the day-over-day change", "threshold": 3.5, "count": 1, "anomalies": [{"employee_id": "emp_017", "day": "2026-06-02", "before": 51.0, "after": 68.4, "change": 17.4, "score": 9.3}]}))),
)]
pub async fn anomalies(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::documented::<AnomalyQuery>(query.as_deref())?;
    let params = AnomalyParams {
        metric: metric(&params)?,
        days: params.or("days", AnomalyDays::new(30)?, AnomalyDays::parse)?,
        team: team_param(&params)?,
    };
    let (cx, from) = context(&state, &headers)?;
    let key = format!("metric={} team={:?}", params.metric, params.team);
    let window = analytics::window_of(cx, params.days.get());
    let text = analytics::kept(cx, &principal, "anomalies", key, window, || {
        analytics::anomalies(cx, &principal, params)
    })
    .await?;
    Ok(json_text(text, from))
}

/// `days`, `team` and `max_lag_days` of the correlations (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CorrelationQuery {
    /// Whole days, ending yesterday.
    #[param(schema_with = days_schema::<365, 90>)]
    days: Option<AnalysisDays>,
    /// Only this team's member-days (required for a manager key).
    #[param(inline)]
    team: Option<TeamName>,
    /// The longest lag of the lagged correlations with burnout.
    #[param(schema_with = lag_schema)]
    max_lag_days: Option<u32>,
}

/// What moves together?
///
/// Pearson and Spearman coefficients between every pair of the four
/// metrics over employee-days, with n and two-sided p-values, and each
/// network metric's correlation with burnout 0 to `max_lag_days` days
/// later. Suppressed below the minimum group size of employees. A manager
/// key must name one of its teams and gets the coefficients over the
/// team's published days.
#[utoipa::path(
    get,
    path = "/api/analytics/correlations",
    tag = "analytics",
    operation_id = "get_correlations",
    params(CorrelationQuery),
    responses((status = 200, description = "the correlations", body = CorrelationsAnswer,
        example = json!({"team": null, "window": {"start": "2026-03-12", "end": "2026-06-10"}, "unit": "employee-day", "employees": 120, "suppressed": false, "min_group_size": 5, "pairs": [{"x": "degree_centrality", "y": "burnout_score", "n": 10800, "pearson": {"coefficient": 0.31, "p_value": 1.2e-12, "n": 10800}, "spearman": {"coefficient": 0.29, "p_value": 3.4e-11, "n": 10800}}], "lagged": [{"metric": "degree_centrality", "lag_days": 7, "n": 9960, "coefficient": 0.27, "p_value": 2.0e-9}]}))),
)]
pub async fn correlations(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::documented::<CorrelationQuery>(query.as_deref())?;
    let params = CorrelationParams {
        days: params.or("days", AnalysisDays::new(90)?, AnalysisDays::parse)?,
        team: team_param(&params)?,
        max_lag_days: params.or("max_lag_days", 14, analytics::lag_days)?,
    };
    let (cx, from) = context(&state, &headers)?;
    let key = format!("team={:?} max_lag={}", params.team, params.max_lag_days);
    let window = analytics::window_of(cx, params.days.get());
    let text = analytics::kept(cx, &principal, "correlations", key, window, || {
        analytics::correlations(cx, &principal, params)
    })
    .await?;
    Ok(json_text(text, from))
}

/// `days` of the overview (documentation).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct OverviewQuery {
    /// Whole days, ending yesterday.
    #[param(schema_with = days_schema::<365, 30>)]
    days: Option<AnalysisDays>,
}

/// The organisation at a glance.
///
/// Every team the key may see, with each whole day's member count and
/// average burnout score; days under the minimum group size are
/// `suppressed`. A manager key gets its teams' published (noisy) days.
#[utoipa::path(
    get,
    path = "/api/analytics/overview",
    tag = "analytics",
    operation_id = "get_overview",
    params(OverviewQuery),
    responses((status = 200, description = "the overview", body = OverviewAnswer,
        example = json!({"window": {"start": "2026-06-08", "end": "2026-06-10"}, "min_group_size": 5, "values": "exact", "teams": [{"team": "Payments", "days": [{"day": "2026-06-08", "members": 12, "suppressed": false, "burnout_score": 47.9}, {"day": "2026-06-09", "members": 3, "suppressed": true, "burnout_score": null}]}]}))),
)]
pub async fn overview(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::documented::<OverviewQuery>(query.as_deref())?;
    let days = params.or("days", AnalysisDays::new(30)?, AnalysisDays::parse)?;
    let (cx, from) = context(&state, &headers)?;
    let window = analytics::window_of(cx, days.get());
    let text = analytics::kept(cx, &principal, "overview", String::new(), window, || {
        analytics::overview(cx, &principal, days)
    })
    .await?;
    Ok(json_text(text, from))
}
