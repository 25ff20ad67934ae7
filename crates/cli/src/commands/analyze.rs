//! `organism analyze`: the analytics answers for operators, on the
//! database, without a server or a key.
//!
//! `effect`, `forecast`, `anomalies` and `correlations` call the very
//! functions behind the `/api/analytics/...` endpoints
//! (`organism_api::analytics`) as an unrestricted admin, so they print the
//! same answer an admin key gets, as JSON (the endpoint's body) or as a
//! short summary (`--format text`). `backtest` has no endpoint: it holds
//! out the last days of every employee and measures the forecast against
//! them (`organism_analytics::backtest`).
//!
//! Every flag is parsed by the domain type the endpoint's parameter is
//! parsed by (its range and its error text are said once, there), and every
//! flag is checked before the database is opened.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use organism_analytics::DayValue;
use organism_analytics::backtest::Backtest;
use organism_analytics::regression::Estimate;
use organism_api::analytics::{
    self as answers, AnalysisDays, AnomaliesAnswer, AnomalyDays, AnomalyParams, Context,
    CorrelationParams, CorrelationsAnswer, DayRange, EffectAnswer, EffectDays, EffectParams,
    ForecastAnswer, ForecastParams, HistoryDays, HorizonDays,
};
use organism_api::{Epsilon, MinGroupSize, Principal};
use organism_domain::{EmployeeId, InterventionId, MetricName, Role, TeamName, ValidationError};
use serde::Serialize;

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    #[command(subcommand)]
    pub command: AnalyzeCommand,
    /// The time to answer as (RFC 3339 or YYYY-MM-DD); the current time by
    /// default. Every analysis uses the whole UTC days before its day.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Team aggregates (a comparison group, correlations) over fewer
    /// distinct employees are suppressed, as `organism serve` does.
    #[arg(
        long,
        env = "ORGANISM_MIN_GROUP_SIZE",
        default_value_t = 5,
        global = true
    )]
    pub min_group_size: u32,
    /// Output: the endpoint's JSON answer (pretty), or a short summary.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The JSON body the endpoint answers with, indented.
    Json,
    /// A few lines for a person.
    Text,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AnalyzeCommand {
    /// Did an intervention work? Interrupted time series on its target's
    /// daily means and difference in differences against the target's team
    /// (GET /api/analytics/interventions/{id}/effect).
    Effect(EffectArgs),
    /// Where is an employee or a team heading? A daily forecast with 80%
    /// and 95% intervals (GET /api/analytics/forecast/...).
    Forecast(ForecastArgs),
    /// What is unusual? Employee-days whose change is unusual for the
    /// employee, highest score first (GET /api/analytics/anomalies).
    Anomalies(AnomalyArgs),
    /// What moves together? Pearson and Spearman coefficients of every pair
    /// of metrics and the lagged correlations with burnout
    /// (GET /api/analytics/correlations).
    Correlations(CorrelationArgs),
    /// How good is the forecast? Holds out the last days of every employee,
    /// forecasts them from the days before and reports the mean absolute
    /// error against the naive and drift forecasts and the intervals'
    /// coverage.
    Backtest(BacktestArgs),
}

#[derive(Debug, Clone, Args)]
pub struct EffectArgs {
    /// The intervention whose effect is measured.
    #[arg(long, value_parser = domain(|s| InterventionId::parse(s)))]
    pub intervention: InterventionId,
    /// The metric whose daily means are analysed.
    #[arg(long, default_value = "burnout_score", value_parser = domain(|s| s.parse::<MetricName>()))]
    pub metric: MetricName,
    /// Whole days before the day of activation (1 to 365).
    #[arg(long, default_value = "28", value_parser = domain(EffectDays::parse))]
    pub before_days: EffectDays,
    /// Whole days from the first one after activation (1 to 365), capped at
    /// the end of the intervention or today.
    #[arg(long, default_value = "28", value_parser = domain(EffectDays::parse))]
    pub after_days: EffectDays,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("subject").required(true).args(["employee", "team"])))]
pub struct ForecastArgs {
    /// Forecast this employee's daily means.
    #[arg(long, value_parser = domain(|s| EmployeeId::parse(s)))]
    pub employee: Option<EmployeeId>,
    /// Forecast this team's daily means (days under the minimum group size
    /// left out, as in its team trend).
    #[arg(long, value_parser = domain(|s| TeamName::parse(s)))]
    pub team: Option<TeamName>,
    /// The metric to forecast.
    #[arg(long, default_value = "burnout_score", value_parser = domain(|s| s.parse::<MetricName>()))]
    pub metric: MetricName,
    /// Whole days of history the model is fitted on, ending yesterday (1 to
    /// 365).
    #[arg(long, default_value = "90", value_parser = domain(HistoryDays::parse))]
    pub history_days: HistoryDays,
    /// Days to forecast, from today (1 to 30).
    #[arg(long, default_value = "14", value_parser = domain(HorizonDays::parse))]
    pub horizon_days: HorizonDays,
    /// Report the first forecast day at or above this value (within the
    /// metric's range: 0 to 100 for burnout, 0 to 1 for the others).
    #[arg(long)]
    pub threshold: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct AnomalyArgs {
    /// The metric whose day-over-day changes are judged.
    #[arg(long, default_value = "burnout_score", value_parser = domain(|s| s.parse::<MetricName>()))]
    pub metric: MetricName,
    /// Whole days searched, ending yesterday (1 to 90).
    #[arg(long, default_value = "30", value_parser = domain(AnomalyDays::parse))]
    pub days: AnomalyDays,
    /// Only this team's members (their days in the team).
    #[arg(long, value_parser = domain(|s| TeamName::parse(s)))]
    pub team: Option<TeamName>,
    /// Anomalies shown by --format text (the JSON has them all).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Debug, Clone, Args)]
pub struct CorrelationArgs {
    /// Whole days, ending yesterday (1 to 365).
    #[arg(long, default_value = "90", value_parser = domain(AnalysisDays::parse))]
    pub days: AnalysisDays,
    /// Only this team's member-days.
    #[arg(long, value_parser = domain(|s| TeamName::parse(s)))]
    pub team: Option<TeamName>,
    /// The longest lag of the lagged correlations with burnout (0 to 30).
    #[arg(long, default_value = "14", value_parser = domain(answers::lag_days))]
    pub max_lag_days: u32,
}

#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// The last days of each employee held out and forecast (1 to 30).
    #[arg(long, default_value = "14", value_parser = domain(HorizonDays::parse))]
    pub holdout_days: HorizonDays,
    /// Whole days read per employee, ending yesterday, the held-out days
    /// included (1 to 365; more than --holdout-days).
    #[arg(long, default_value = "90", value_parser = domain(HistoryDays::parse))]
    pub history_days: HistoryDays,
    /// The metric forecast.
    #[arg(long, default_value = "burnout_score", value_parser = domain(|s| s.parse::<MetricName>()))]
    pub metric: MetricName,
    /// Only this team's members (their days in the team).
    #[arg(long, value_parser = domain(|s| TeamName::parse(s)))]
    pub team: Option<TeamName>,
}

// ------------------------------------------------------------- parsing

/// A domain parser as a clap value parser: clap names the flag, the domain
/// type says the rule (its field is the endpoint's parameter name, not the
/// flag's, so only the message is kept).
fn domain<T: 'static>(
    parse: fn(&str) -> Result<T, ValidationError>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| parse(text).map_err(|e| e.message)
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    organism_domain::parse_instant(text, false).map_err(|e| e.to_string())
}

// ----------------------------------------------------------------- run

/// The command, its flags checked: what runs once the database is open.
#[derive(Debug)]
enum Analysis {
    Effect(InterventionId, EffectParams),
    ForecastEmployee(EmployeeId, ForecastParams),
    ForecastTeam(TeamName, ForecastParams),
    Anomalies(AnomalyParams, usize),
    Correlations(CorrelationParams),
    Backtest(BacktestParams),
}

/// What a backtest reads and holds out.
#[derive(Debug, Clone)]
pub struct BacktestParams {
    pub metric: MetricName,
    pub history_days: HistoryDays,
    pub holdout_days: HorizonDays,
    pub team: Option<TeamName>,
}

/// The checks clap cannot make (one flag's range depending on another).
fn analysis(command: AnalyzeCommand) -> anyhow::Result<Analysis> {
    Ok(match command {
        AnalyzeCommand::Effect(a) => Analysis::Effect(
            a.intervention,
            EffectParams {
                metric: a.metric,
                before_days: a.before_days,
                after_days: a.after_days,
            },
        ),
        AnalyzeCommand::Forecast(a) => {
            let threshold = a
                .threshold
                .as_deref()
                .map(|t| answers::metric_threshold(a.metric, t))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--threshold: {}", e.message))?;
            let params = ForecastParams {
                metric: a.metric,
                history_days: a.history_days,
                horizon_days: a.horizon_days,
                threshold,
            };
            match (a.employee, a.team) {
                (Some(employee), _) => Analysis::ForecastEmployee(employee, params),
                (None, Some(team)) => Analysis::ForecastTeam(team, params),
                (None, None) => anyhow::bail!("give --employee or --team"),
            }
        }
        AnalyzeCommand::Anomalies(a) => Analysis::Anomalies(
            AnomalyParams {
                metric: a.metric,
                days: a.days,
                team: a.team,
            },
            a.top,
        ),
        AnalyzeCommand::Correlations(a) => Analysis::Correlations(CorrelationParams {
            days: a.days,
            team: a.team,
            max_lag_days: a.max_lag_days,
        }),
        AnalyzeCommand::Backtest(a) => {
            if a.holdout_days.get() >= a.history_days.get() {
                anyhow::bail!(
                    "--holdout-days ({}) must be fewer than --history-days ({}): the model needs days before the held-out ones",
                    a.holdout_days.get(),
                    a.history_days.get()
                );
            }
            Analysis::Backtest(BacktestParams {
                metric: a.metric,
                history_days: a.history_days,
                holdout_days: a.holdout_days,
                team: a.team,
            })
        }
    })
}

pub async fn run(global: &GlobalArgs, args: AnalyzeArgs) -> anyhow::Result<()> {
    let min_group_size = MinGroupSize::new(args.min_group_size)
        .map_err(|e| anyhow::anyhow!("--min-group-size: {}", e.message))?;
    let analysis = analysis(args.command)?;
    let now = args.now.unwrap_or_else(Utc::now);
    let db = Database::open(global).await?;
    let cx = Context {
        store: &db.store,
        primary: &db.store,
        on_replica: false,
        min_group_size,
        // Only a manager key's answers are noisy; the operator is an admin.
        manager_epsilon: Epsilon::DEFAULT,
        now,
    };
    let result = answer(cx, analysis, args.format).await;
    db.close().await;
    print!("{}", result?);
    Ok(())
}

/// The operator: an admin not limited to teams, as a key-less server sees
/// every caller.
fn operator() -> Principal {
    Principal {
        key_id: None,
        role: Role::Admin,
        teams: None,
    }
}

/// The printed answer of `analysis`.
async fn answer(cx: Context<'_>, analysis: Analysis, format: Format) -> anyhow::Result<String> {
    let me = operator();
    Ok(match analysis {
        Analysis::Effect(id, params) => {
            let a = answers::effect(cx, &me, &id, params).await?;
            shown(&a, format, effect_text)?
        }
        Analysis::ForecastEmployee(employee, params) => {
            let a = answers::forecast_employee(cx, &me, &employee, params).await?;
            shown(&a, format, forecast_text)?
        }
        Analysis::ForecastTeam(team, params) => {
            let a = answers::forecast_team(cx, &me, &team, params).await?;
            shown(&a, format, forecast_text)?
        }
        Analysis::Anomalies(params, top) => {
            let a = answers::anomalies(cx, &me, params).await?;
            shown(&a, format, |a| anomalies_text(a, top))?
        }
        Analysis::Correlations(params) => {
            let a = answers::correlations(cx, &me, params).await?;
            shown(&a, format, correlations_text)?
        }
        Analysis::Backtest(params) => {
            let a = backtest(cx, params).await?;
            shown(&a, format, backtest_text)?
        }
    })
}

fn shown<T: Serialize>(
    answer: &T,
    format: Format,
    text: impl Fn(&T) -> String,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(answer)? + "\n",
        Format::Text => text(answer),
    })
}

// ------------------------------------------------------------ backtest

/// A backtest of the forecast on every employee's daily means.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestAnswer {
    pub metric: MetricName,
    pub team: Option<String>,
    /// The whole days read, held-out days included.
    pub window: DayRange,
    pub holdout_days: u32,
    #[serde(flatten)]
    pub backtest: Backtest,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Reads each employee's daily means of the window (merged across the teams
/// of a day, weighted by samples, as the anomalies read them) and backtests
/// the forecast on them.
async fn backtest(cx: Context<'_>, params: BacktestParams) -> anyhow::Result<BacktestAnswer> {
    let today = cx.now.date_naive();
    let window = DayRange {
        start: today - Duration::days(i64::from(params.history_days.get())),
        end: today,
    };
    let (lo, hi) = (midnight(window.start), midnight(window.end));
    let days = match &params.team {
        Some(team) => {
            let days = cx.store.team_member_days(team, lo, hi).await?;
            if days.is_empty() {
                cx.store.ensure_team_known(team).await?;
            }
            days
        }
        None => cx.store.member_days(lo, hi, None).await?,
    };
    let (_, panel) = answers::per_employee_day(&days);
    let mut per_unit: BTreeMap<usize, Vec<DayValue>> = BTreeMap::new();
    for p in answers::one_metric(&panel, params.metric) {
        per_unit.entry(p.unit).or_default().push(DayValue {
            day: p.day,
            value: p.value,
        });
    }
    let series: Vec<Vec<DayValue>> = per_unit.into_values().collect();
    let backtest = organism_analytics::backtest::backtest(&series, params.holdout_days.get())?;
    Ok(BacktestAnswer {
        metric: params.metric,
        team: params.team.map(|t| t.to_string()),
        window,
        holdout_days: params.holdout_days.get(),
        backtest,
    })
}

// ---------------------------------------------------------------- text

fn range(r: &DayRange) -> String {
    let days = (r.end - r.start).num_days();
    match days {
        0 => format!("none (from {})", r.start),
        _ => format!("{} to {} ({days} days)", r.start, r.end - Duration::days(1)),
    }
}

fn estimate(name: &str, e: &Estimate) -> String {
    format!(
        "  {name:<14} {:>9.3}  95% CI [{:.3}, {:.3}]  SE {:.3}  p = {:.3e}\n",
        e.estimate, e.ci95[0], e.ci95[1], e.std_error, e.p_value
    )
}

fn effect_text(a: &EffectAnswer) -> String {
    let mut out = format!(
        "effect of intervention {} on {} of employee {} (team {})\n",
        a.intervention_id,
        a.metric,
        a.target_employee_id,
        a.team.as_deref().unwrap_or("unknown")
    );
    let ended = a
        .ended_at
        .map_or_else(|| "still active".to_string(), |t| format!("ended {t}"));
    let _ = writeln!(out, "active from {}, {ended}", a.activated_at);
    let _ = writeln!(out, "before: {}", range(&a.before));
    let _ = writeln!(out, "after:  {}", range(&a.after));
    match (&a.interrupted_time_series, &a.its_unavailable) {
        (Some(its), _) => {
            let _ = writeln!(
                out,
                "interrupted time series ({} days before, {} after; Newey-West, {} lags):",
                its.days_before, its.days_after, its.hac_lags
            );
            out += &estimate("level change", &its.level_change);
            out += &estimate("slope change", &its.slope_change);
        }
        (None, why) => {
            let _ = writeln!(
                out,
                "interrupted time series: none ({})",
                why.as_deref().unwrap_or("no reason given")
            );
        }
    }
    match (&a.difference_in_differences, &a.comparison_unavailable) {
        (Some(did), _) => {
            let _ = writeln!(
                out,
                "difference in differences against {} comparison employees ({} employee-days; cluster-robust by employee):",
                did.comparison_units, did.observations
            );
            out += &estimate("effect", &did.estimate);
        }
        (None, why) => {
            let _ = writeln!(
                out,
                "difference in differences: none ({})",
                why.as_deref().unwrap_or("no reason given")
            );
        }
    }
    out
}

fn forecast_text(a: &ForecastAnswer) -> String {
    let m = &a.forecast.model;
    let mut out = format!(
        "forecast of {} for {} {}, fitted on {}, {} of them with a value\n",
        a.metric,
        a.subject,
        a.id,
        range(&a.history_window),
        m.observations
    );
    let optional =
        |name: &str, v: Option<f64>| v.map(|v| format!(", {name} {v:.4}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "model {}: alpha {:.4}{}{}, sigma {:.3}, AICc {:.1}",
        m.name,
        m.alpha,
        optional("beta", m.beta),
        optional("phi", m.phi),
        m.sigma,
        m.aicc
    );
    let points = &a.forecast.points;
    let mut shown = Vec::new();
    shown.extend(points.first().map(|p| ("first", p)));
    if points.len() > 1 {
        shown.extend(points.last().map(|p| ("last", p)));
    }
    for (name, p) in shown {
        let _ = writeln!(
            out,
            "{name:<5} {}: {:.2}  80% [{:.2}, {:.2}]  95% [{:.2}, {:.2}]",
            p.day, p.value, p.lower_80, p.upper_80, p.lower_95, p.upper_95
        );
    }
    if let Some(threshold) = a.forecast.threshold {
        let _ = match a.forecast.threshold_reached_on {
            Some(day) => writeln!(out, "threshold {threshold}: reached on {day}"),
            None => writeln!(
                out,
                "threshold {threshold}: not reached within {} days",
                points.len()
            ),
        };
    }
    out
}

fn anomalies_text(a: &AnomaliesAnswer, top: usize) -> String {
    let mut out = format!(
        "{} anomalies of {}{} in {}, |score| at least {}\nrule: {}\n",
        a.count,
        a.metric,
        a.team
            .as_ref()
            .map(|t| format!(" in team {t}"))
            .unwrap_or_default(),
        range(&a.window),
        a.threshold,
        a.rule,
    );
    if a.anomalies.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:>8}  {:<20} {:<10}  {:>9} -> {:<9} {:>9}",
        "score", "employee", "day", "before", "after", "change"
    );
    for r in a.anomalies.iter().take(top) {
        let _ = writeln!(
            out,
            "{:>8.2}  {:<20} {:<10}  {:>9.3} -> {:<9.3} {:>+9.3}",
            r.score, r.employee_id, r.day, r.before, r.after, r.change
        );
    }
    if a.anomalies.len() > top {
        let _ = writeln!(
            out,
            "… and {} more (--top, or the JSON)",
            a.anomalies.len() - top
        );
    }
    out
}

/// The four metrics' short names, in `MetricName::ALL` order.
fn short(metric: &str) -> &str {
    match metric {
        "degree_centrality" => "degree",
        "betweenness_centrality" => "betweenness",
        "clustering_coeff" => "clustering",
        "burnout_score" => "burnout",
        other => other,
    }
}

fn correlations_text(a: &CorrelationsAnswer) -> String {
    let mut out = format!(
        "correlations over {} {}s{}{} in {}\n",
        a.pairs.first().map_or(0, |p| p.n),
        a.unit,
        a.employees
            .map(|e| format!(" of {e} employees"))
            .unwrap_or_default(),
        a.team
            .as_ref()
            .map(|t| format!(" in team {t}"))
            .unwrap_or_default(),
        range(&a.window)
    );
    if a.suppressed {
        let _ = writeln!(
            out,
            "suppressed: fewer employees than the minimum group size of {}",
            a.min_group_size
        );
        return out;
    }
    let metrics: Vec<&str> = MetricName::ALL.iter().map(|m| m.column()).collect();
    let cell = |i: usize, j: usize| -> String {
        if i == j {
            return "1".into();
        }
        let (x, y) = (metrics[i.min(j)], metrics[i.max(j)]);
        let pair = a.pairs.iter().find(|p| p.x == x && p.y == y);
        // Pearson below the diagonal, Spearman above.
        let c = pair.and_then(|p| if i > j { p.pearson } else { p.spearman });
        c.map_or_else(|| "-".into(), |c| format!("{:.3}", c.coefficient))
    };
    let _ = writeln!(out, "Pearson below the diagonal, Spearman above:");
    let _ = write!(out, "{:<12}", "");
    for m in &metrics {
        let _ = write!(out, "{:>12}", short(m));
    }
    out.push('\n');
    for (i, m) in metrics.iter().enumerate() {
        let _ = write!(out, "{:<12}", short(m));
        for j in 0..metrics.len() {
            let _ = write!(out, "{:>12}", cell(i, j));
        }
        out.push('\n');
    }
    // The lag at which each network metric moves most with burnout.
    for m in &metrics[..metrics.len() - 1] {
        let strongest = a
            .lagged
            .iter()
            .filter(|l| l.metric == *m)
            .filter_map(|l| Some((l, l.coefficient?)))
            .max_by(|(_, x), (_, y)| x.abs().total_cmp(&y.abs()));
        if let Some((l, r)) = strongest {
            let _ = writeln!(
                out,
                "{} vs burnout {} days later: r = {r:.3} (strongest of lags 0-{}; n {}, p = {:.3e})",
                short(m),
                l.lag_days,
                a.lagged
                    .iter()
                    .filter(|l| l.metric == *m)
                    .count()
                    .saturating_sub(1),
                l.n,
                l.p_value.unwrap_or(f64::NAN)
            );
        }
    }
    out
}

fn backtest_text(a: &BacktestAnswer) -> String {
    let b = &a.backtest;
    let mut out = format!(
        "backtest of {}{}: the last {} days of each of {} employees held out ({} held-out days), read from {}\n",
        a.metric,
        a.team
            .as_ref()
            .map(|t| format!(" in team {t}"))
            .unwrap_or_default(),
        a.holdout_days,
        b.units,
        b.days,
        range(&a.window)
    );
    if b.skipped > 0 {
        let _ = writeln!(
            out,
            "{} employees skipped (too few days with a value, or no model fit)",
            b.skipped
        );
    }
    // Burnout is 0 to 100, the network metrics 0 to 1.
    let p = if a.metric.max() > 1.0 { 3 } else { 5 };
    let _ = writeln!(
        out,
        "MAE: model {:.p$}, naive (last value) {:.p$}, drift {:.p$}",
        b.mae_model, b.mae_naive, b.mae_drift
    );
    let _ = writeln!(
        out,
        "coverage: 80% intervals {:.3}, 95% intervals {:.3}",
        b.coverage_80, b.coverage_95
    );
    out
}
