//! The analytics answers (issue 17), shared by the endpoints and by
//! `organism analyze`: which daily means to read for whom, the privacy rules
//! applied to them, and the computations of `organism-analytics` on them.
//!
//! Every analysis works on **whole UTC days** before today: a day's mean
//! is final once the day is over, so an answer does not move with every
//! sample that arrives (and a manager's noise is drawn once per day, as in
//! the team trend).
//!
//! Privacy, the rules of the read endpoints:
//! * a reader or admin key not limited to teams reads every employee;
//! * a key limited to teams reads the samples of its teams' hours only (an
//!   employee's series is cut to those hours; a team outside them is 403);
//! * a manager key gets team-level answers only, computed from the same
//!   published days as its team trend (minimum group size of at least 5,
//!   Laplace noise): post-processing of released values, which spends no
//!   further privacy budget. An answer about one employee is 403 for it
//!   (the route table already refuses it the employee endpoints).
//! * aggregates over employees for readers (correlations, the overview's
//!   team-days) are suppressed when drawn from fewer employees than the
//!   minimum group size.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use organism_analytics::correlation::{Lagged, Pair};
use organism_analytics::effect::{Did, Its};
use organism_analytics::forecast::Forecast;
use organism_analytics::{AnalyticsError, DayValue, PanelDay, PanelValue};
use organism_domain::privacy::Epsilon;
use organism_domain::{
    Days, EmployeeId, InterventionId, MetricName, MinGroupSize, TeamName, TrendDays,
    ValidationError,
};
use organism_store::Store;
use organism_store::analytics::MemberDay;
use organism_store::queries::ManagerPrivacy;
use serde::Serialize;

use crate::{ApiError, Principal};

/// `before_days` and `after_days` of an effect: 1 to 365.
pub type EffectDays = Days<365>;
/// `history_days` of a forecast: 1 to 365.
pub type HistoryDays = Days<365>;
/// The days of daily means a forecast is fitted on unless asked otherwise
/// (also a forecast alert rule's).
pub const DEFAULT_HISTORY_DAYS: u32 = 90;
/// `horizon_days` of a forecast: 1 to 30.
pub type HorizonDays = Days<30>;
/// `days` of anomalies: 1 to 90.
pub type AnomalyDays = Days<90>;
/// `days` of correlations and of the overview: 1 to 365.
pub type AnalysisDays = Days<365>;
/// The most lag days of a lagged correlation.
pub const MAX_LAG_DAYS: u32 = 30;
/// The days before an anomaly window that serve as each employee's
/// baseline of day-over-day changes.
pub const ANOMALY_BASELINE_DAYS: i64 = 60;
/// The robust z-score from which a change is an anomaly.
pub const ANOMALY_THRESHOLD: f64 = organism_analytics::anomaly::DEFAULT_THRESHOLD;
/// The rule, as the answer states it.
pub const ANOMALY_RULE: &str = "modified z-score (Iglewicz & Hoaglin) of the change from the \
    previous day, 0.6745 (c - median) / MAD over the employee's own changes in the baseline \
    and the window; flagged when |z| >= threshold";

/// What every analysis needs besides its parameters.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Where the data is read: the primary, or a replica that keeps up
    /// (replica.rs).
    pub store: &'a Store,
    /// The primary: kept answers are read and written there.
    pub primary: &'a Store,
    /// `store` is a replica.
    pub on_replica: bool,
    pub min_group_size: MinGroupSize,
    pub manager_epsilon: Epsilon,
    pub now: DateTime<Utc>,
}

impl Context<'_> {
    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn manager_privacy(&self) -> ManagerPrivacy {
        ManagerPrivacy {
            min_group_size: self.min_group_size.for_managers(),
            epsilon: self.manager_epsilon,
        }
    }
}

/// The `days` whole days before today: the window of the anomalies, the
/// correlations and the overview.
pub fn window_of(cx: Context<'_>, days: u32) -> DayRange {
    DayRange {
        start: cx.today() - Duration::days(i64::from(days)),
        end: cx.today(),
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn index(metric: MetricName) -> usize {
    MetricName::ALL
        .iter()
        .position(|m| *m == metric)
        .unwrap_or_default()
}

fn unprocessable(code: &'static str, e: AnalyticsError) -> ApiError {
    ApiError::Unprocessable {
        code,
        message: e.to_string(),
    }
}

fn only_for_readers(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if principal.is_manager() {
        return Err(ApiError::Forbidden {
            code: "wrong_role",
            message: format!(
                "{what} is about individual employees; a manager key gets team-level answers only"
            ),
        });
    }
    Ok(())
}

/// An organisation-wide or team answer as JSON text, kept in the database
/// between requests and served again while the data of its window is
/// unchanged (migration 13; docs/ANALYTICS.md, "Kept answers"). `kind` and
/// `params` name the computation; the key adds the window, the minimum
/// group size and the teams the key may see, so an answer is served only
/// to a caller who would have computed the same one. A manager's answers
/// (its published days) are not kept.
pub async fn kept<T, F, Fut>(
    cx: Context<'_>,
    principal: &Principal,
    kind: &str,
    params: String,
    window: DayRange,
    compute: F,
) -> Result<String, ApiError>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let to_text =
        |answer: &T| serde_json::to_string(answer).map_err(|e| ApiError::Internal(e.to_string()));
    if principal.is_manager() {
        return to_text(&compute().await?);
    }
    let scope = match principal.teams() {
        None => "all".to_owned(),
        Some(teams) => {
            let sorted: BTreeSet<&String> = teams.iter().collect();
            serde_json::to_string(&sorted).map_err(|e| ApiError::Internal(e.to_string()))?
        }
    };
    let key = format!(
        "{kind}|{params}|{}|{}|min {}|{scope}",
        window.start,
        window.end,
        cx.min_group_size.get()
    );
    let end = midnight(window.end);
    let found = cx.primary.kept_analytics_answer(&key, end).await?;
    if let Some(answer) = found.answer {
        return Ok(answer);
    }
    // Computed on a replica, the answer is kept under the generation just
    // read only if the replica had replayed everything the primary had
    // written by then (else it may miss a change the generation counts).
    let current = if cx.on_replica && found.keepable {
        let seen = cx.primary.wal_position().await?;
        cx.store.replay_position().await?.replayed >= seen
    } else {
        true
    };
    let answer = to_text(&compute().await?)?;
    if found.keepable
        && current
        && let Err(e) = cx
            .primary
            .keep_analytics_answer(&key, found.generation, end, &answer)
            .await
    {
        tracing::warn!(kind, error = %e, "could not keep an analytics answer");
    }
    Ok(answer)
}

/// A threshold within the metric's range.
pub fn metric_threshold(metric: MetricName, text: &str) -> Result<f64, ValidationError> {
    let value: f64 = text.trim().parse().map_err(|_| {
        ValidationError::new("threshold", format!("must be a number, got {text:?}"))
    })?;
    if !(value.is_finite() && (0.0..=metric.max()).contains(&value)) {
        return Err(ValidationError::new(
            "threshold",
            format!(
                "must be a number from 0 to {} for {metric}, got {text:?}",
                metric.max()
            ),
        ));
    }
    Ok(value)
}

/// `max_lag_days`: 0 to [`MAX_LAG_DAYS`].
pub fn lag_days(text: &str) -> Result<u32, ValidationError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| *v <= MAX_LAG_DAYS)
        .ok_or_else(|| {
            ValidationError::new(
                "max_lag_days",
                format!("must be a whole number from 0 to {MAX_LAG_DAYS}, got {text:?}"),
            )
        })
}

/// A range of whole UTC days, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayRange {
    /// The first day.
    pub start: NaiveDate,
    /// The day after the last one.
    pub end: NaiveDate,
}

/// One employee's daily means of `metric` as `DayValue`s.
pub fn series(days: &[MemberDay], metric: MetricName) -> Vec<DayValue> {
    let i = index(metric);
    days.iter()
        .map(|d| DayValue {
            day: d.day,
            value: d.means[i],
        })
        .collect()
}

/// Member-days merged per (employee, day) across the teams of that day,
/// weighted by samples, with each employee given a unit number (also
/// `organism analyze backtest`'s read).
pub fn per_employee_day(days: &[MemberDay]) -> (Vec<String>, Vec<PanelDay>) {
    let mut sums: BTreeMap<(&str, NaiveDate), (i64, [f64; 4])> = BTreeMap::new();
    for d in days {
        let entry = sums
            .entry((d.employee_id.as_str(), d.day))
            .or_insert((0, [0.0; 4]));
        entry.0 += d.samples;
        for (sum, mean) in entry.1.iter_mut().zip(d.means) {
            *sum += mean * d.samples as f64;
        }
    }
    let mut units: Vec<String> = Vec::new();
    let mut unit_of: HashMap<&str, usize> = HashMap::new();
    let mut panel = Vec::with_capacity(sums.len());
    for ((employee, day), (samples, total)) in sums {
        let unit = *unit_of.entry(employee).or_insert_with(|| {
            units.push(employee.to_string());
            units.len() - 1
        });
        panel.push(PanelDay {
            unit,
            day,
            values: total.map(|s| s / samples as f64),
        });
    }
    (units, panel)
}

/// The member-days in [`lo`, `hi`) a reader may see: of `team` (403
/// outside the key's teams, 404 for a team without data), else of every
/// team the key may see.
async fn readable_member_days(
    cx: Context<'_>,
    principal: &Principal,
    team: Option<&TeamName>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<Vec<MemberDay>, ApiError> {
    let Some(team) = team else {
        return Ok(cx.store.member_days(lo, hi, principal.teams()).await?);
    };
    principal.require_team(Some(team.as_str()))?;
    let days = cx.store.team_member_days(team, lo, hi).await?;
    if days.is_empty() {
        cx.store.ensure_team_known(team).await?;
    }
    Ok(days)
}

/// One metric of a panel.
pub fn one_metric(panel: &[PanelDay], metric: MetricName) -> Vec<PanelValue> {
    let i = index(metric);
    panel
        .iter()
        .map(|p| PanelValue {
            unit: p.unit,
            day: p.day,
            value: p.values[i],
        })
        .collect()
}

// ---------------------------------------------------------------- effect

/// An intervention's effect on its target's daily means.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EffectAnswer {
    pub intervention_id: String,
    pub target_employee_id: String,
    /// The target's team at activation: the comparison group's team.
    pub team: Option<String>,
    pub metric: MetricName,
    /// When the intervention became active (its activation's
    /// `effective_at`, else when the activation was recorded).
    pub activated_at: DateTime<Utc>,
    /// When it stopped being active (completed, rolled back or cancelled),
    /// if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// The whole days before the day of activation.
    pub before: DayRange,
    /// The whole days from the first one after activation (the day of
    /// activation itself when it became active at midnight), capped at the
    /// end of the intervention or at today.
    pub after: DayRange,
    /// The target's daily means over both windows.
    pub daily_means: Vec<DayValue>,
    /// The interrupted time series on the target's daily means; absent
    /// when the data cannot support it (`its_unavailable` says why).
    pub interrupted_time_series: Option<Its>,
    pub its_unavailable: Option<String>,
    /// Difference in differences against the target's team; absent when
    /// there is no comparison group (`comparison_unavailable` says why).
    pub difference_in_differences: Option<Did>,
    pub comparison_unavailable: Option<String>,
}

/// Parameters of an effect.
#[derive(Debug, Clone, Copy)]
pub struct EffectParams {
    pub metric: MetricName,
    pub before_days: EffectDays,
    pub after_days: EffectDays,
}

pub async fn effect(
    cx: Context<'_>,
    principal: &Principal,
    id: &InterventionId,
    params: EffectParams,
) -> Result<EffectAnswer, ApiError> {
    only_for_readers(principal, "an intervention's effect")?;
    let timeline = cx.store.intervention_timeline(id).await?;
    let target = timeline
        .intervention
        .target_employee_id
        .clone()
        .ok_or_else(|| ApiError::Unprocessable {
            code: "no_target",
            message: format!(
                "intervention {:?} has no target employee: there is no series to measure its effect on",
                id.as_str()
            ),
        })?;
    let target = EmployeeId::parse(target)?;
    let activated_at = timeline.activated_at.ok_or_else(|| ApiError::NotFound {
        code: "never_activated",
        message: format!(
            "intervention {:?} never became active (status {}): it has no effect to measure",
            id.as_str(),
            timeline.intervention.status
        ),
    })?;
    let activation_day = activated_at.date_naive();
    let first_after = if midnight(activation_day) == activated_at {
        activation_day
    } else {
        activation_day + Duration::days(1)
    };
    let before = DayRange {
        start: activation_day - Duration::days(i64::from(params.before_days.get())),
        end: activation_day,
    };
    let cap = timeline.ended_at.unwrap_or(cx.now).min(cx.now).date_naive();
    let after = DayRange {
        start: first_after,
        end: (first_after + Duration::days(i64::from(params.after_days.get())))
            .min(cap)
            .max(first_after),
    };
    let teams = principal.teams();
    let days = cx
        .store
        .employee_days(&target, midnight(before.start), midnight(after.end), teams)
        .await?;
    if days.is_empty() {
        cx.store.ensure_employee_readable(&target, teams).await?;
    }
    let in_window = |d: &NaiveDate| {
        (before.start..before.end).contains(d) || (after.start..after.end).contains(d)
    };
    let daily_means: Vec<DayValue> = series(&days, params.metric)
        .into_iter()
        .filter(|d| in_window(&d.day))
        .collect();
    let (its, its_unavailable) = match organism_analytics::effect::interrupted_time_series(
        &daily_means,
        after.start,
        None,
    ) {
        Ok(its) => (Some(its), None),
        Err(e) => (None, Some(e.to_string())),
    };

    // The target's team at activation, unless it is outside the key's
    // teams: then not even its name is shown.
    let team = cx
        .store
        .team_at(&target, activated_at)
        .await?
        .filter(|t| principal.require_team(Some(t)).is_ok());
    let team_hidden = team.is_none() && principal.teams().is_some();
    let (did, comparison_unavailable) = if team_hidden {
        (
            None,
            Some("the target's team at activation is not one of this key's teams".to_string()),
        )
    } else {
        match comparison(
            cx,
            id,
            &target,
            team.as_deref(),
            &daily_means,
            before,
            after,
            params.metric,
        )
        .await?
        {
            Ok(did) => (Some(did), None),
            Err(why) => (None, Some(why)),
        }
    };
    Ok(EffectAnswer {
        intervention_id: id.to_string(),
        target_employee_id: target.to_string(),
        team,
        metric: params.metric,
        activated_at,
        ended_at: timeline.ended_at,
        before,
        after,
        daily_means,
        interrupted_time_series: its,
        its_unavailable,
        difference_in_differences: did,
        comparison_unavailable,
    })
}

/// The difference in differences, or why there is none.
#[allow(clippy::too_many_arguments)]
async fn comparison(
    cx: Context<'_>,
    id: &InterventionId,
    target: &EmployeeId,
    team: Option<&str>,
    target_days: &[DayValue],
    before: DayRange,
    after: DayRange,
    metric: MetricName,
) -> Result<Result<Did, String>, ApiError> {
    let Some(team) = team else {
        return Ok(Err(
            "the target had no sample in the 14 days before activation, so it had no team to compare with".into(),
        ));
    };
    let team_name = TeamName::parse(team)?;
    let activation_day = before.end;
    // The team at activation: its members on the day of activation or the
    // day before.
    let at_activation = cx
        .store
        .team_member_days(
            &team_name,
            midnight(activation_day - Duration::days(1)),
            midnight(activation_day + Duration::days(1)),
        )
        .await?;
    let targeted: BTreeSet<String> = cx
        .store
        .employees_targeted_between(midnight(before.start), midnight(after.end), id)
        .await?
        .into_iter()
        .collect();
    let members: BTreeSet<String> = at_activation
        .into_iter()
        .map(|d| d.employee_id)
        .filter(|e| e != target.as_str() && !targeted.contains(e))
        .collect();
    let min = cx.min_group_size;
    if min.suppresses(members.len() as i64) {
        return Ok(Err(format!(
            "the comparison group (members of {team:?} at activation who were not the target of an intervention in the window) has {} employees, fewer than the minimum group size of {}",
            members.len(),
            min.get()
        )));
    }
    let panel_days = cx
        .store
        .team_member_days(&team_name, midnight(before.start), midnight(after.end))
        .await?;
    let i = index(metric);
    let mut units: Vec<&str> = vec![target.as_str()];
    let mut panel: Vec<PanelValue> = target_days
        .iter()
        .map(|d| PanelValue {
            unit: 0,
            day: d.day,
            value: d.value,
        })
        .collect();
    let in_window = |d: &NaiveDate| {
        (before.start..before.end).contains(d) || (after.start..after.end).contains(d)
    };
    for d in panel_days
        .iter()
        .filter(|d| members.contains(&d.employee_id) && in_window(&d.day))
    {
        let unit = match units.iter().position(|u| *u == d.employee_id) {
            Some(u) => u,
            None => {
                units.push(&d.employee_id);
                units.len() - 1
            }
        };
        panel.push(PanelValue {
            unit,
            day: d.day,
            value: d.means[i],
        });
    }
    Ok(
        organism_analytics::effect::difference_in_differences(&panel, &[0], after.start)
            .map_err(|e| e.to_string()),
    )
}

// -------------------------------------------------------------- forecast

/// Parameters of a forecast.
#[derive(Debug, Clone, Copy)]
pub struct ForecastParams {
    pub metric: MetricName,
    pub history_days: HistoryDays,
    pub horizon_days: HorizonDays,
    pub threshold: Option<f64>,
}

/// A forecast of an employee's or a team's daily means.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ForecastAnswer {
    /// `employee` or `team`.
    pub subject: &'static str,
    /// The employee id or team name.
    pub id: String,
    pub metric: MetricName,
    /// The whole days the model was fitted on.
    pub history_window: DayRange,
    /// The daily means fitted on (a team's published days for a manager).
    pub history: Vec<DayValue>,
    #[serde(flatten)]
    pub forecast: Forecast,
}

/// A metric's range, which clamps its forecasts.
pub fn bounds(metric: MetricName) -> Option<(f64, f64)> {
    Some((0.0, metric.max()))
}

fn history_window(cx: Context<'_>, days: HistoryDays) -> DayRange {
    DayRange {
        start: cx.today() - Duration::days(i64::from(days.get())),
        end: cx.today(),
    }
}

pub async fn forecast_employee(
    cx: Context<'_>,
    principal: &Principal,
    employee: &EmployeeId,
    params: ForecastParams,
) -> Result<ForecastAnswer, ApiError> {
    only_for_readers(principal, "an employee's forecast")?;
    let window = history_window(cx, params.history_days);
    let teams = principal.teams();
    let days = cx
        .store
        .employee_days(
            employee,
            midnight(window.start),
            midnight(window.end),
            teams,
        )
        .await?;
    if days.is_empty() {
        cx.store.ensure_employee_readable(employee, teams).await?;
    }
    let history = series(&days, params.metric);
    forecast_answer("employee", employee.to_string(), params, window, history)
}

fn forecast_answer(
    subject: &'static str,
    id: String,
    params: ForecastParams,
    window: DayRange,
    history: Vec<DayValue>,
) -> Result<ForecastAnswer, ApiError> {
    let forecast = organism_analytics::forecast::forecast(
        &history,
        params.horizon_days.get(),
        params.threshold,
        bounds(params.metric),
    )
    .map_err(|e| unprocessable("not_enough_history", e))?;
    Ok(ForecastAnswer {
        subject,
        id,
        metric: params.metric,
        history_window: window,
        history,
        forecast,
    })
}

/// A team's daily means of every metric over `window`, as the caller may
/// see them: a reader's team trend with the minimum group size (suppressed
/// days left out), or a manager's published days (noise and the managers'
/// minimum group size). `None` values are days without a shown value.
async fn team_days(
    cx: Context<'_>,
    principal: &Principal,
    team: &TeamName,
    window: DayRange,
) -> Result<Vec<(NaiveDate, [f64; 4])>, ApiError> {
    principal.require_team(Some(team.as_str()))?;
    // Whole days from window.start to yesterday, today left out.
    let span = (cx.today() - window.start).num_days().max(1);
    let days = TrendDays::new(span)?;
    // Each shown day's four means, the same from either kind of trend.
    let shown = |day: NaiveDate, values: [Option<f64>; 4]| {
        let [a, b, c, e] = values;
        Some((day, [a?, b?, c?, e?]))
    };
    let mut out: Vec<(NaiveDate, [f64; 4])> = if principal.is_manager() {
        cx.store
            .team_trend_for_manager(team, days, cx.now, &cx.manager_privacy())
            .await?
            .days
            .into_iter()
            .filter_map(|d| {
                shown(
                    d.day,
                    [
                        d.degree_centrality,
                        d.betweenness_centrality,
                        d.clustering_coeff,
                        d.burnout_score,
                    ],
                )
            })
            .collect()
    } else {
        cx.store
            .team_trend(team, TrendDays::new(span + 1)?, cx.now)
            .await?
            .with_minimum_group(cx.min_group_size)
            .days
            .into_iter()
            .filter_map(|d| {
                shown(
                    d.day,
                    [
                        d.degree_centrality,
                        d.betweenness_centrality,
                        d.clustering_coeff,
                        d.burnout_score,
                    ],
                )
            })
            .collect()
    };
    out.retain(|(day, _)| (window.start..window.end).contains(day));
    Ok(out)
}

pub async fn forecast_team(
    cx: Context<'_>,
    principal: &Principal,
    team: &TeamName,
    params: ForecastParams,
) -> Result<ForecastAnswer, ApiError> {
    let window = history_window(cx, params.history_days);
    let days = team_days(cx, principal, team, window).await?;
    let i = index(params.metric);
    let history = days
        .iter()
        .map(|(day, values)| DayValue {
            day: *day,
            value: values[i],
        })
        .collect();
    forecast_answer("team", team.to_string(), params, window, history)
}

// ------------------------------------------------------------- anomalies

/// Parameters of the anomalies.
#[derive(Debug, Clone)]
pub struct AnomalyParams {
    pub metric: MetricName,
    pub days: AnomalyDays,
    pub team: Option<TeamName>,
}

/// One unusual employee-day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnomalyRow {
    pub employee_id: String,
    pub day: NaiveDate,
    /// The daily mean of the employee's previous day with data.
    pub before: f64,
    /// The daily mean of this day.
    pub after: f64,
    pub change: f64,
    /// The robust z-score of the change among the employee's changes.
    pub score: f64,
}

/// The unusual employee-days of a window, highest score first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnomaliesAnswer {
    pub metric: MetricName,
    pub team: Option<String>,
    /// The days searched.
    pub window: DayRange,
    /// The days before the window each employee's usual changes are
    /// learnt from, besides the window itself.
    pub baseline_days: i64,
    /// How a change is judged unusual.
    pub rule: String,
    pub threshold: f64,
    pub count: usize,
    pub anomalies: Vec<AnomalyRow>,
}

pub async fn anomalies(
    cx: Context<'_>,
    principal: &Principal,
    params: AnomalyParams,
) -> Result<AnomaliesAnswer, ApiError> {
    only_for_readers(principal, "the anomaly list")?;
    let window = window_of(cx, params.days.get());
    let lo = midnight(window.start - Duration::days(ANOMALY_BASELINE_DAYS));
    let hi = midnight(window.end);
    let days = readable_member_days(cx, principal, params.team.as_ref(), lo, hi).await?;
    let (units, panel) = per_employee_day(&days);
    let found = organism_analytics::anomaly::detect(
        &one_metric(&panel, params.metric),
        window.start,
        ANOMALY_THRESHOLD,
    );
    let anomalies: Vec<AnomalyRow> = found
        .into_iter()
        .map(|a| AnomalyRow {
            employee_id: units[a.unit].clone(),
            day: a.day,
            before: a.before,
            after: a.after,
            change: a.change,
            score: a.score,
        })
        .collect();
    Ok(AnomaliesAnswer {
        metric: params.metric,
        team: params.team.map(|t| t.to_string()),
        window,
        baseline_days: ANOMALY_BASELINE_DAYS,
        rule: ANOMALY_RULE.to_string(),
        threshold: ANOMALY_THRESHOLD,
        count: anomalies.len(),
        anomalies,
    })
}

// ---------------------------------------------------------- correlations

/// Parameters of the correlations.
#[derive(Debug, Clone)]
pub struct CorrelationParams {
    pub days: AnalysisDays,
    pub team: Option<TeamName>,
    pub max_lag_days: u32,
}

/// How the metrics move together.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CorrelationsAnswer {
    pub team: Option<String>,
    pub window: DayRange,
    /// `employee-day` (each employee's daily means) or, for a manager,
    /// `team-day` (the team's published daily means).
    pub unit: &'static str,
    /// Distinct employees the employee-days come from (absent for a
    /// manager's team-days).
    pub employees: Option<usize>,
    /// True when the panel has fewer employees than the minimum group size:
    /// then no coefficient is given.
    pub suppressed: bool,
    pub min_group_size: u32,
    /// Every pair of the four metrics.
    pub pairs: Vec<Pair>,
    /// Each network metric on day d against burnout on day d + k.
    pub lagged: Vec<Lagged>,
}

pub async fn correlations(
    cx: Context<'_>,
    principal: &Principal,
    params: CorrelationParams,
) -> Result<CorrelationsAnswer, ApiError> {
    let window = window_of(cx, params.days.get());
    if principal.is_manager() {
        // A manager key of one team means that team.
        let only = match principal.teams() {
            Some([only]) => Some(TeamName::parse(only.as_str())?),
            _ => None,
        };
        let team = params.team.as_ref().or(only.as_ref()).ok_or_else(|| {
            ApiError::bad(
                "team",
                "is required for a manager key of several teams (team-level answers only)",
            )
        })?;
        let days = team_days(cx, principal, team, window).await?;
        let panel: Vec<PanelDay> = days
            .into_iter()
            .map(|(day, values)| PanelDay {
                unit: 0,
                day,
                values,
            })
            .collect();
        let min = cx.min_group_size.for_managers();
        return Ok(CorrelationsAnswer {
            team: Some(team.to_string()),
            window,
            unit: "team-day",
            employees: None,
            suppressed: false,
            min_group_size: min.get(),
            pairs: organism_analytics::correlation::matrix(&panel),
            lagged: organism_analytics::correlation::lagged(&panel, params.max_lag_days),
        });
    }
    let lo = midnight(window.start);
    let hi = midnight(window.end);
    let days = readable_member_days(cx, principal, params.team.as_ref(), lo, hi).await?;
    let (units, panel) = per_employee_day(&days);
    let min = cx.min_group_size;
    let suppressed = min.suppresses(units.len() as i64);
    let (pairs, lagged) = if suppressed {
        (Vec::new(), Vec::new())
    } else {
        (
            organism_analytics::correlation::matrix(&panel),
            organism_analytics::correlation::lagged(&panel, params.max_lag_days),
        )
    };
    Ok(CorrelationsAnswer {
        team: params.team.map(|t| t.to_string()),
        window,
        unit: "employee-day",
        employees: Some(units.len()),
        suppressed,
        min_group_size: min.get(),
        pairs,
        lagged,
    })
}

// -------------------------------------------------------------- overview

/// One team-day of the overview.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OverviewDay {
    pub day: NaiveDate,
    /// Absent when suppressed for a manager (as in its team trend).
    pub members: Option<i64>,
    pub suppressed: bool,
    /// The day's average burnout score; absent when suppressed.
    pub burnout_score: Option<f64>,
}

/// One team of the overview.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OverviewTeam {
    pub team: String,
    pub days: Vec<OverviewDay>,
}

/// Every visible team's daily average burnout.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OverviewAnswer {
    pub window: DayRange,
    pub min_group_size: u32,
    /// `exact`, or `laplace` for a manager key (its published days).
    pub values: &'static str,
    pub teams: Vec<OverviewTeam>,
}

pub async fn overview(
    cx: Context<'_>,
    principal: &Principal,
    days: AnalysisDays,
) -> Result<OverviewAnswer, ApiError> {
    let window = window_of(cx, days.get());
    if principal.is_manager() {
        let privacy = cx.manager_privacy();
        let mut teams = Vec::new();
        for team in principal.teams().unwrap_or_default() {
            let name = TeamName::parse(team.as_str())?;
            let trend = match cx
                .store
                .team_trend_for_manager(
                    &name,
                    TrendDays::new(i64::from(days.get()))?,
                    cx.now,
                    &privacy,
                )
                .await
            {
                Ok(trend) => trend,
                Err(organism_store::StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            teams.push(OverviewTeam {
                team: team.clone(),
                days: trend
                    .days
                    .into_iter()
                    .map(|d| OverviewDay {
                        day: d.day,
                        members: d.members,
                        suppressed: d.suppressed,
                        burnout_score: d.burnout_score,
                    })
                    .collect(),
            });
        }
        return Ok(OverviewAnswer {
            window,
            min_group_size: privacy.min_group_size.get(),
            values: "laplace",
            teams,
        });
    }
    let min = cx.min_group_size;
    let rows = cx
        .store
        .team_days_overview(
            midnight(window.start),
            midnight(window.end),
            principal.teams(),
        )
        .await?;
    let mut teams: Vec<OverviewTeam> = Vec::new();
    for row in rows {
        let hide = min.suppresses(row.members);
        let day = OverviewDay {
            day: row.day,
            members: Some(row.members),
            suppressed: hide,
            burnout_score: (!hide).then_some(row.burnout_score),
        };
        match teams.last_mut() {
            Some(t) if t.team == row.team => t.days.push(day),
            _ => teams.push(OverviewTeam {
                team: row.team,
                days: vec![day],
            }),
        }
    }
    Ok(OverviewAnswer {
        window,
        min_group_size: min.get(),
        values: "exact",
        teams,
    })
}
