//! The daily alert rules (docs/REALTIME.md, "Rule kinds"): once a UTC day,
//! each enabled `forecast` and `anomaly` rule is evaluated from the daily
//! means up to the day just ended, with the same analytics as the forecast
//! endpoint and the anomaly list, and its pairs step once with the values
//! found.
//!
//! A pass claims the rules due today (a lease on the rule, so a second
//! serving process leaves them alone), reads their daily means, computes
//! on a blocking thread (a forecast per employee is CPU work) and applies
//! each rule's day in one transaction that checks again that the day was
//! not applied: a day is applied once, whichever process gets there.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use organism_analytics::{anomaly, forecast};
use organism_domain::alert::{Direction, RuleKind};
use organism_store::alerts::{DailyApplied, DailyObservation, LiveRule, day_start};
use organism_store::analytics::MemberDay;
use organism_store::{Store, StoreError};
use serde_json::json;
use tokio::sync::watch;

use crate::Metrics;
use crate::analytics::{
    ANOMALY_BASELINE_DAYS, DEFAULT_HISTORY_DAYS, bounds, one_metric, per_employee_day,
};

/// How long a claim on a rule's day lasts: longer than any pass takes.
const LEASE: Duration = Duration::from_secs(15 * 60);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DailyPass {
    /// Rules whose day was applied by this pass.
    pub rules: usize,
    pub observations: usize,
    pub changes: usize,
    pub deliveries: usize,
}

/// The days of daily means a rule reads to judge the day before `day`.
fn read_window(kind: RuleKind, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let back = match kind {
        // The change into yesterday, judged against the baseline before it.
        RuleKind::Anomaly => 1 + ANOMALY_BASELINE_DAYS,
        _ => i64::from(DEFAULT_HISTORY_DAYS),
    };
    (day - Days::days(back), day)
}

/// Evaluates every daily rule due on `now`'s day that no other process
/// holds.
pub async fn evaluate_daily_rules(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<DailyPass, StoreError> {
    let day = now.date_naive();
    let mut pass = DailyPass::default();
    for rule in store.claim_daily_rules(day, LEASE).await? {
        let (lo, hi) = read_window(rule.rule.kind, day);
        let days = match &rule.rule.team {
            Some(team) => {
                store
                    .team_member_days(team, day_start(lo), day_start(hi))
                    .await?
            }
            None => {
                store
                    .member_days(day_start(lo), day_start(hi), None)
                    .await?
            }
        };
        let computed = rule.clone();
        let observed = tokio::task::spawn_blocking(move || observations(&computed, day, &days))
            .await
            .map_err(|e| StoreError::Database(format!("a daily rule's analysis failed: {e}")))?;
        let applied: DailyApplied = store.apply_daily_rule(&rule, day, &observed).await?;
        if applied.applied {
            pass.rules += 1;
            pass.observations += applied.observations;
            pass.changes += applied.changes;
            pass.deliveries += applied.deliveries;
        }
    }
    Ok(pass)
}

/// Each employee's value of `rule` on `day`, from the member-days before it
/// (an employee without enough history has none, and its pair stays as it
/// is).
pub fn observations(rule: &LiveRule, day: NaiveDate, days: &[MemberDay]) -> Vec<DailyObservation> {
    let (units, panel) = per_employee_day(days);
    let teams = last_teams(days, &units, rule);
    let metric = rule.rule.metric;
    match rule.rule.kind {
        RuleKind::Anomaly => {
            let judged = day - Days::days(1);
            // Every change into the judged day, with its score: the rule's
            // own threshold decides, and a change back to usual resolves.
            anomaly::detect(&one_metric(&panel, metric), judged, 0.0)
                .into_iter()
                .filter(|a| a.day == judged)
                .map(|a| DailyObservation {
                    employee_id: units[a.unit].clone(),
                    team: teams[a.unit].clone(),
                    value: a.score,
                    evidence: json!({
                        "day": a.day,
                        "before": a.before,
                        "after": a.after,
                        "change": a.change,
                        "baseline_days": ANOMALY_BASELINE_DAYS,
                    }),
                })
                .collect()
        }
        RuleKind::Forecast => {
            let horizon = rule.rule.within_days.unwrap_or(1);
            let values = one_metric(&panel, metric);
            values
                .chunk_by(|a, b| a.unit == b.unit)
                .filter_map(|series| {
                    let unit = series[0].unit;
                    let history: Vec<organism_analytics::DayValue> = series
                        .iter()
                        .map(|v| organism_analytics::DayValue {
                            day: v.day,
                            value: v.value,
                        })
                        .collect();
                    let made = forecast::forecast(&history, horizon, None, bounds(metric)).ok()?;
                    let (value, reached) = furthest(rule, &made.points);
                    Some(DailyObservation {
                        employee_id: units[unit].clone(),
                        team: teams[unit].clone(),
                        value,
                        evidence: json!({
                            "within_days": horizon,
                            "reached_on": reached,
                            "model": made.model.name,
                            "history_days": DEFAULT_HISTORY_DAYS,
                        }),
                    })
                })
                .collect()
        }
        RuleKind::Threshold => Vec::new(),
    }
}

/// The furthest point forecast in the rule's direction, and the first day
/// it reaches the threshold.
fn furthest(rule: &LiveRule, points: &[forecast::ForecastPoint]) -> (f64, Option<NaiveDate>) {
    let pick = |a: f64, b: f64| match rule.rule.direction {
        Direction::Above => a.max(b),
        Direction::Below => a.min(b),
    };
    let start = match rule.rule.direction {
        Direction::Above => f64::NEG_INFINITY,
        Direction::Below => f64::INFINITY,
    };
    let value = points.iter().fold(start, |acc, p| pick(acc, p.value));
    let reached = points
        .iter()
        .find(|p| rule.rule.past(p.value))
        .map(|p| p.day);
    (value, reached)
}

/// Each unit's team on its last day (a team rule's own team).
fn last_teams(days: &[MemberDay], units: &[String], rule: &LiveRule) -> Vec<Option<String>> {
    if let Some(team) = &rule.rule.team {
        return vec![Some(team.to_string()); units.len()];
    }
    let mut last: std::collections::HashMap<&str, &MemberDay> = std::collections::HashMap::new();
    for d in days {
        let entry = last.entry(d.employee_id.as_str()).or_insert(d);
        if d.day > entry.day {
            *entry = d;
        }
    }
    units
        .iter()
        .map(|u| last.get(u.as_str()).and_then(|d| d.team.clone()))
        .collect()
}

/// How often the daily pass looks for rules due (cheap: one claim query).
pub const DAILY_CHECK_EVERY: Duration = Duration::from_secs(10);

/// Runs the daily pass until `stop`.
pub async fn run_daily_rules(
    store: Store,
    check_every: Duration,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match evaluate_daily_rules(&store, Utc::now()).await {
            Ok(pass) => {
                metrics.realtime.daily(&pass);
                if pass.deliveries > 0 {
                    metrics.realtime.wake_sender();
                }
                if pass.rules > 0 {
                    tracing::info!(
                        rules = pass.rules,
                        observations = pass.observations,
                        changes = pass.changes,
                        deliveries = pass.deliveries,
                        "daily alert rules evaluated"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "daily alert rules failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(check_every) => {}
            _ = stop.changed() => return,
        }
    }
}
