//! Trend queries (DESIGN.md §5), the same SQL on both engines: they read
//! only the read interface each engine's migrations define (migration 11
//! lists it), never an engine's own tables.
//!
//! Aggregates read `employee_metrics_hourly`, whose columns hold per-hour
//! sums, sums of squares, minima and maxima, so that days, teams and any
//! range re-aggregate exactly: an average is Σsum / Σcount, a variance comes
//! from Σsum and Σsum². Every query takes `now` as an argument, so tests move
//! the clock instead of waiting.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use organism_domain::privacy::{Epsilon, NoiseSecret, noisy_mean};
use organism_domain::{
    AlertDays, EmployeeId, MetricName, MinGroupSize, StatsDays, TeamName, Threshold, TimeRange,
    TrendDays,
};
use serde::Serialize;
use tokio_postgres::types::ToSql;

use crate::{Result, Store, StoreError};

/// Raw samples, or hourly aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    Raw,
    Hourly,
}

/// One raw sample.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RawPoint {
    pub time: DateTime<Utc>,
    pub team: Option<String>,
    pub degree_centrality: f64,
    pub betweenness_centrality: f64,
    pub clustering_coeff: f64,
    pub burnout_score: f64,
}

/// One hour of one employee: averages of each metric, and the range of the
/// burnout score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HourlyPoint {
    pub time: DateTime<Utc>,
    pub team: Option<String>,
    pub samples: i64,
    pub degree_centrality: f64,
    pub betweenness_centrality: f64,
    pub clustering_coeff: f64,
    pub burnout_score: f64,
    pub burnout_min: f64,
    pub burnout_max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TrendPoints {
    Raw(Vec<RawPoint>),
    Hourly(Vec<HourlyPoint>),
}

/// `anyOf` the two arrays (an empty one is both; `resolution` tells them
/// apart).
impl utoipa::PartialSchema for TrendPoints {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::ToSchema;
        use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Schema};
        let array = |name| ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name(name));
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(array(RawPoint::name()))
                .item(array(HourlyPoint::name()))
                .build(),
        )
        .into()
    }
}

impl utoipa::ToSchema for TrendPoints {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((RawPoint::name().into(), RawPoint::schema()));
        schemas.push((HourlyPoint::name().into(), HourlyPoint::schema()));
    }
}

impl TrendPoints {
    pub fn len(&self) -> usize {
        match self {
            TrendPoints::Raw(p) => p.len(),
            TrendPoints::Hourly(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EmployeeTrend {
    pub employee_id: String,
    pub resolution: Resolution,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub points: TrendPoints,
}

/// One UTC day of a team.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamDay {
    pub day: NaiveDate,
    /// Distinct employees measured in the team that day.
    pub members: i64,
    pub samples: i64,
    pub degree_centrality: f64,
    pub betweenness_centrality: f64,
    pub clustering_coeff: f64,
    pub burnout_score: f64,
    pub burnout_max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamTrend {
    pub team: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub days: Vec<TeamDay>,
}

/// One UTC day of a team as shown to callers: the averages and the peak are
/// `null` when fewer distinct employees than the minimum group size were
/// measured that day (`suppressed`). `members` and `samples` stay visible, so
/// a caller can tell a suppressed day from a day without data.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PublishedTeamDay {
    pub day: NaiveDate,
    pub members: i64,
    pub samples: i64,
    pub suppressed: bool,
    pub degree_centrality: Option<f64>,
    pub betweenness_centrality: Option<f64>,
    pub clustering_coeff: Option<f64>,
    pub burnout_score: Option<f64>,
    pub burnout_max: Option<f64>,
}

/// A team trend with the minimum group size applied.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PublishedTeamTrend {
    pub team: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub min_group_size: u32,
    pub days: Vec<PublishedTeamDay>,
}

impl TeamTrend {
    /// Hides every aggregate of a day computed from fewer than `min`
    /// distinct employees. Each day is judged on its own members, and the
    /// rows are the same whatever window was asked for, so no choice of
    /// `days` turns a suppressed day into a visible one.
    pub fn with_minimum_group(self, min: MinGroupSize) -> PublishedTeamTrend {
        PublishedTeamTrend {
            team: self.team,
            start: self.start,
            end: self.end,
            min_group_size: min.get(),
            days: self
                .days
                .into_iter()
                .map(|d| {
                    let hide = min.suppresses(d.members);
                    let show = |v: f64| (!hide).then_some(v);
                    PublishedTeamDay {
                        day: d.day,
                        members: d.members,
                        samples: d.samples,
                        suppressed: hide,
                        degree_centrality: show(d.degree_centrality),
                        betweenness_centrality: show(d.betweenness_centrality),
                        clustering_coeff: show(d.clustering_coeff),
                        burnout_score: show(d.burnout_score),
                        burnout_max: show(d.burnout_max),
                    }
                })
                .collect(),
        }
    }
}

/// How a manager's aggregates are protected: the minimum group size, and
/// the privacy budget of each noisy value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManagerPrivacy {
    pub min_group_size: MinGroupSize,
    pub epsilon: Epsilon,
}

impl ManagerPrivacy {
    /// One day as a manager sees it, from its true member count and the sum
    /// over members of each member's daily mean (in `MetricName::ALL` order).
    fn publish_day(
        &self,
        secret: &NoiseSecret,
        team: &TeamName,
        day: NaiveDate,
        members: i64,
        sums: [f64; 4],
    ) -> ManagerTeamDay {
        if self.min_group_size.suppresses(members) {
            return ManagerTeamDay {
                day,
                suppressed: true,
                members: None,
                degree_centrality: None,
                betweenness_centrality: None,
                clustering_coeff: None,
                burnout_score: None,
                noise_scale_centralities: None,
                noise_scale_burnout: None,
            };
        }
        let n = u32::try_from(members).unwrap_or(u32::MAX);
        let day_text = day.to_string();
        let release = |i: usize| {
            let metric = MetricName::ALL[i];
            let range = metric.max();
            noisy_mean(
                secret,
                self.epsilon,
                &[
                    team.as_str().as_bytes(),
                    day_text.as_bytes(),
                    metric.column().as_bytes(),
                ],
                sums[i] / members as f64,
                n,
                range,
            )
        };
        let released: Vec<_> = (0..4).map(release).collect();
        ManagerTeamDay {
            day,
            suppressed: false,
            members: Some(members),
            degree_centrality: Some(released[0].value),
            betweenness_centrality: Some(released[1].value),
            clustering_coeff: Some(released[2].value),
            burnout_score: Some(released[3].value),
            noise_scale_centralities: Some(released[0].scale),
            noise_scale_burnout: Some(released[3].scale),
        }
    }
}

/// One whole UTC day of a team as a manager sees it. A suppressed day (fewer
/// members than the minimum group size) shows neither its member count nor
/// any value; a shown day has the exact member count and noisy averages of
/// the members' daily means. Never a maximum, a minimum or a sample count.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ManagerTeamDay {
    pub day: NaiveDate,
    pub suppressed: bool,
    pub members: Option<i64>,
    pub degree_centrality: Option<f64>,
    pub betweenness_centrality: Option<f64>,
    pub clustering_coeff: Option<f64>,
    pub burnout_score: Option<f64>,
    /// The Laplace scale of the noise on the three metrics in 0..1 (flat
    /// fields, so that the CSV form has them as columns).
    pub noise_scale_centralities: Option<f64>,
    /// The Laplace scale of the noise on the burnout score (0..100): a
    /// hundred times the other.
    pub noise_scale_burnout: Option<f64>,
}

/// What the answer says of its protection.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PrivacyNote {
    pub mechanism: &'static str,
    pub unit: &'static str,
    pub epsilon_per_value: f64,
    pub complete_days_only: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ManagerTeamTrend {
    pub team: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub min_group_size: u32,
    pub privacy: PrivacyNote,
    pub days: Vec<ManagerTeamDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BurnoutAlert {
    pub employee_id: String,
    pub team: Option<String>,
    /// The employee's latest score in the window.
    pub latest_score: f64,
    pub latest_time: DateTime<Utc>,
    pub peak_score: f64,
    pub average_score: f64,
    pub samples: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MetricStatistics {
    pub metric: MetricName,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub count: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    /// Sample standard deviation (n − 1), as PostgreSQL's `stddev` and
    /// pandas' `std`; absent below two samples.
    pub stddev: Option<f64>,
}

fn hour_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t - Duration::seconds(i64::from(t.timestamp().rem_euclid(3600) as u32))
        - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
}

/// The first hour boundary at or after `t`.
fn hour_ceil(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = hour_floor(t);
    if floor == t {
        t
    } else {
        floor + Duration::hours(1)
    }
}

fn raw_point(r: &tokio_postgres::Row) -> RawPoint {
    RawPoint {
        time: r.get(0),
        team: r.get(1),
        degree_centrality: r.get(2),
        betweenness_centrality: r.get(3),
        clustering_coeff: r.get(4),
        burnout_score: r.get(5),
    }
}

pub(crate) fn day_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(t, |d| d.and_utc())
}

/// Every raw sample with `lo <= time < hi` (SQL expressions), as a table of
/// the columns of `employee_metrics`, compressed ones included: the read
/// interface both engines define (`metrics_between`, migration 11).
fn samples_between(lo: &str, hi: &str) -> String {
    format!("metrics_between({lo}, {hi})")
}

/// A team's member-days in [$2, $3) for team $1 (one row per day, employee
/// and part), from the read interface (`team_member_days`, migration 11).
const MEMBER_DAYS: &str = "team_member_days_read($1, $2, $3)";

/// One expression per metric, in `MetricName::ALL` order, separated by
/// commas: `expression` is given each metric's column name (from the enum,
/// never from input).
pub(crate) fn per_metric(expression: impl Fn(&str) -> String) -> String {
    MetricName::ALL
        .iter()
        .map(|m| expression(m.column()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The average of each metric over hourly rollup rows, in
/// `MetricName::ALL` order.
fn avg_columns() -> String {
    per_metric(|c| format!("sum({c}_sum) / sum(samples) AS {c}"))
}

/// Employee $1's hours in [$2, $3), only those of teams $4 unless $4 is
/// NULL: each hour's average of each metric and its burnout range.
fn hourly_trend_sql() -> String {
    format!(
        "SELECT bucket, team, samples,
                {avgs},
                burnout_score_min, burnout_score_max
         FROM (SELECT bucket, team, samples, burnout_score_min, burnout_score_max,
                      {cols}
               FROM employee_hours($1, $2, $3)
               WHERE $4::text[] IS NULL OR team = ANY($4::text[])) h
         ORDER BY bucket",
        avgs = per_metric(|c| format!("{c}_sum / samples AS {c}")),
        cols = per_metric(|c| format!("{c}_sum")),
    )
}

/// Employee $1's raw samples in [$2, $3), oldest first, by the prepared
/// statement's generic plan: planned once per connection with every raw
/// (and packed) partition, then about 0.04 ms a run.
const RAW_TREND: &str =
    "SELECT time, team, degree_centrality, betweenness_centrality, clustering_coeff, burnout_score
     FROM metrics_between($2, $3)
     WHERE employee_id = $1
     ORDER BY time";

/// [`RAW_TREND`] through `employee_samples` (migration 22): planned on
/// each run with the bounds as values, so with the window's partitions
/// only. For a short window that is cheaper than a connection's first run
/// of the generic plan (`SHORT_WINDOW`).
const RAW_TREND_SHORT: &str =
    "SELECT time, team, degree_centrality, betweenness_centrality, clustering_coeff, burnout_score
     FROM employee_samples($1, $2, $3)
     ORDER BY time";

/// The longest window read through [`RAW_TREND_SHORT`]. Measured on 10,000
/// employees × 90 days (403 partitions): 7 days planned with their bounds
/// cost ~1 ms of planning on every run, while a generic plan's first run on
/// a connection costs 5-140 ms (the 7-day range's p99 17.9 -> 6.9 ms in
/// the benchmark); 90 days planned with their bounds cost 7 ms every run
/// against 0.04 ms for the kept generic plan (p50 7.8 -> 16.9 ms).
const SHORT_WINDOW: chrono::Duration = chrono::Duration::days(31);

/// The raw-sample statement for a window of `range`'s length.
fn raw_trend_for(range: TimeRange) -> &'static str {
    if range.end() - range.start() <= SHORT_WINDOW {
        RAW_TREND_SHORT
    } else {
        RAW_TREND
    }
}

/// Employee $1's raw samples in [$4, $5) whose hour counts for one of
/// teams $6, oldest first. The team of a sample's hour is the team of the
/// employee's last sample in that hour, so whole hours, [$2, $3), are read
/// around the range.
const RAW_TREND_OF_TEAMS: &str =
    "SELECT time, team, degree_centrality, betweenness_centrality, clustering_coeff, burnout_score
     FROM (SELECT m.*, first_value(m.team) OVER
                  (PARTITION BY date_trunc('hour', m.time) ORDER BY m.time DESC) AS hour_team
           FROM metrics_between($2, $3) m
           WHERE m.employee_id = $1) s
     WHERE time >= $4 AND time < $5 AND hour_team = ANY($6::text[])
     ORDER BY time";

/// A row of [`hourly_trend_sql`].
fn hourly_point(r: &tokio_postgres::Row) -> HourlyPoint {
    HourlyPoint {
        time: r.get(0),
        team: r.get(1),
        samples: r.get(2),
        degree_centrality: r.get(3),
        betweenness_centrality: r.get(4),
        clustering_coeff: r.get(5),
        burnout_score: r.get(6),
        burnout_min: r.get(7),
        burnout_max: r.get(8),
    }
}

impl Store {
    /// An employee's samples in a range, raw or hourly, as an unrestricted
    /// reader sees them.
    pub async fn employee_trend(
        &self,
        employee: &EmployeeId,
        range: TimeRange,
        hourly: bool,
    ) -> Result<EmployeeTrend> {
        self.employee_trend_as(employee, range, hourly, None).await
    }

    /// An employee's samples in a range, raw or hourly. 404 (NotFound) when
    /// the employee has no data at all; an empty list when it has none in
    /// the range.
    ///
    /// `teams` is the reader's restriction (`None`: every team): then only
    /// the samples it may read are returned, those of the hours whose team is
    /// one of `teams` (see [`Visibility`]); an employee with no such hour at
    /// all is [`StoreError::NotVisible`], whether it exists or not.
    pub async fn employee_trend_as(
        &self,
        employee: &EmployeeId,
        range: TimeRange,
        hourly: bool,
        teams: Option<&[String]>,
    ) -> Result<EmployeeTrend> {
        let (resolution, points) = if hourly {
            (
                Resolution::Hourly,
                self.hourly_points(employee, range, teams).await?,
            )
        } else {
            let points = match teams {
                None => self.raw_points(employee, range).await?,
                Some(teams) => self.raw_points_of_teams(employee, range, teams).await?,
            };
            (Resolution::Raw, points)
        };
        if points.is_empty() {
            self.ensure_employee_readable(employee, teams).await?;
        }
        Ok(EmployeeTrend {
            employee_id: employee.to_string(),
            resolution,
            start: range.start(),
            end: range.end(),
            points,
        })
    }

    /// The employee's hours that start in the range (the first one may
    /// start before it), only those of `teams` when given.
    async fn hourly_points(
        &self,
        employee: &EmployeeId,
        range: TimeRange,
        teams: Option<&[String]>,
    ) -> Result<TrendPoints> {
        let rows = self
            .query_prepared(
                &hourly_trend_sql(),
                &[
                    &employee.as_str(),
                    &hour_floor(range.start()),
                    &range.end(),
                    &teams,
                ],
            )
            .await?;
        Ok(TrendPoints::Hourly(rows.iter().map(hourly_point).collect()))
    }

    /// Every raw sample of the employee in the range.
    async fn raw_points(&self, employee: &EmployeeId, range: TimeRange) -> Result<TrendPoints> {
        let rows = self
            .query_prepared(
                raw_trend_for(range),
                &[&employee.as_str(), &range.start(), &range.end()],
            )
            .await?;
        Ok(TrendPoints::Raw(rows.iter().map(raw_point).collect()))
    }

    /// The raw samples of the employee in the range whose hour counts for
    /// one of `teams` (see [`Visibility`]).
    async fn raw_points_of_teams(
        &self,
        employee: &EmployeeId,
        range: TimeRange,
        teams: &[String],
    ) -> Result<TrendPoints> {
        // Whole hours are read around the range: see `RAW_TREND_OF_TEAMS`.
        let rows = self
            .query_prepared(
                RAW_TREND_OF_TEAMS,
                &[
                    &employee.as_str(),
                    &hour_floor(range.start()),
                    &hour_ceil(range.end()),
                    &range.start(),
                    &range.end(),
                    &teams,
                ],
            )
            .await?;
        Ok(TrendPoints::Raw(rows.iter().map(raw_point).collect()))
    }

    /// Runs `sql` as a cached prepared statement, so that after a few runs
    /// PostgreSQL keeps a generic plan instead of planning the read
    /// interface's many partitions each time.
    async fn query_prepared(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, params).await?)
    }

    /// Readies pooled connections for reads, so that no request pays for
    /// what a session does once: on each, the raw-sample read's generic
    /// plan is made and kept ([`RAW_TREND`]), which also loads every raw and
    /// packed partition's (or chunk's) descriptors into the session. A
    /// fresh connection's first raw read costs 12-19 ms of that alone on
    /// 10,000 employees × 90 days (against 1.5 ms after), and four of those
    /// at once on two cores were the raw trend's p99 (60-79 ms against a
    /// p95 of 14-36). Readies every idle connection, and makes new ones
    /// until `at_least` are ready (never more than the pool's size).
    /// Returns how many were readied.
    pub async fn warm_reads(&self, at_least: usize) -> Result<usize> {
        let status = self.pool.status();
        let n = status.available.max(at_least).min(status.max_size);
        let now = Utc::now();
        let (lo, hi) = (
            now - Duration::days(90),
            now + organism_domain::MAX_FUTURE_SKEW,
        );
        let clients = futures_util::future::try_join_all((0..n).map(|_| self.client())).await?;
        futures_util::future::try_join_all(clients.iter().map(|client| async move {
            let statement = client.prepare_cached(RAW_TREND).await?;
            // No employee has an empty id: the plan is made, nothing is read.
            client.query(&statement, &[&"", &lo, &hi]).await?;
            Ok::<_, StoreError>(())
        }))
        .await?;
        Ok(n)
    }

    /// For an answer with no point: whether that is an empty range or no
    /// such employee. Unrestricted, an employee with no data at all is
    /// [`StoreError::NotFound`]; restricted to `teams`, one with no hour of
    /// those teams is [`StoreError::NotVisible`], whether it exists or not.
    pub async fn ensure_employee_readable(
        &self,
        employee: &EmployeeId,
        teams: Option<&[String]>,
    ) -> Result<()> {
        let id = || employee.to_string();
        match teams {
            None if !self.employee_known(employee).await? => Err(StoreError::NotFound {
                what: "employee",
                id: id(),
            }),
            Some(teams) if !self.employee_visible(employee, teams).await? => {
                Err(StoreError::NotVisible {
                    what: "employee",
                    id: id(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The last `days` days up to `now`.
    pub async fn employee_trend_days(
        &self,
        employee: &EmployeeId,
        days: TrendDays,
        hourly: bool,
        now: DateTime<Utc>,
    ) -> Result<EmployeeTrend> {
        self.employee_trend_days_as(employee, days, hourly, now, None)
            .await
    }

    /// The last `days` days up to `now`, as a reader restricted to `teams`
    /// sees them (see [`Store::employee_trend_as`]).
    pub async fn employee_trend_days_as(
        &self,
        employee: &EmployeeId,
        days: TrendDays,
        hourly: bool,
        now: DateTime<Utc>,
        teams: Option<&[String]>,
    ) -> Result<EmployeeTrend> {
        self.employee_trend_as(
            employee,
            days.ending_at(now + organism_domain::MAX_FUTURE_SKEW),
            hourly,
            teams,
        )
        .await
        .map(|mut t| {
            t.start = now - days.duration();
            t
        })
    }

    /// Whether any hour of the employee's history counts for one of `teams`
    /// (the hourly rollup covers every hour kept, raw or rolled up).
    async fn employee_visible(&self, employee: &EmployeeId, teams: &[String]) -> Result<bool> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM employee_metrics_hourly
                                WHERE employee_id = $1 AND team = ANY($2::text[]))",
            )
            .await?;
        let row = client
            .query_one(&statement, &[&employee.as_str(), &teams])
            .await?;
        Ok(row.get(0))
    }

    async fn employee_known(&self, employee: &EmployeeId) -> Result<bool> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT employee_known($1)", &[&employee.as_str()])
            .await?;
        Ok(row.get(0))
    }

    /// A team's daily trend over the last `days` UTC calendar days, today
    /// included: members, the average of each metric and the highest burnout.
    /// An hour counts for the team its employee was in at the end of that hour.
    pub async fn team_trend(
        &self,
        team: &TeamName,
        days: TrendDays,
        now: DateTime<Utc>,
    ) -> Result<TeamTrend> {
        let start = day_floor(now) - Duration::days(i64::from(days.get()) - 1);
        let end = now + organism_domain::MAX_FUTURE_SKEW;
        let client = self.client().await?;
        let sql = format!(
            "SELECT (bucket AT TIME ZONE 'UTC')::date AS day,
                    count(DISTINCT employee_id) AS members,
                    sum(samples)::bigint AS samples,
                    {avgs},
                    max(burnout_score_max) AS burnout_max
             FROM {member_days}
             GROUP BY 1 ORDER BY 1",
            avgs = avg_columns(),
            member_days = MEMBER_DAYS,
        );
        let statement = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&statement, &[&team.as_str(), &start, &end])
            .await?;
        let days_out: Vec<TeamDay> = rows
            .iter()
            .map(|r| TeamDay {
                day: r.get(0),
                members: r.get(1),
                samples: r.get(2),
                degree_centrality: r.get(3),
                betweenness_centrality: r.get(4),
                clustering_coeff: r.get(5),
                burnout_score: r.get(6),
                burnout_max: r.get(7),
            })
            .collect();
        if days_out.is_empty() {
            let known: bool = client
                .query_one("SELECT team_known($1)", &[&team.as_str()])
                .await?
                .get(0);
            if !known {
                return Err(StoreError::NotFound {
                    what: "team",
                    id: team.to_string(),
                });
            }
        }
        Ok(TeamTrend {
            team: team.to_string(),
            start,
            end: now,
            days: days_out,
        })
    }

    /// A team's daily trend as a manager sees it: the whole UTC days of the
    /// last `days` days before today (today is left out: its answer would
    /// change, and draw new noise, with every sample that arrives), each
    /// day's members and the mean over its members of each member's own
    /// daily mean, with the minimum group size and noise applied
    /// ([`organism_domain::privacy`]).
    pub async fn team_trend_for_manager(
        &self,
        team: &TeamName,
        days: TrendDays,
        now: DateTime<Utc>,
        privacy: &ManagerPrivacy,
    ) -> Result<ManagerTeamTrend> {
        let end = day_floor(now);
        let start = end - Duration::days(i64::from(days.get()));
        let client = self.client().await?;
        let sql = format!(
            "SELECT day, count(*) AS members, {sums}
             FROM (SELECT (bucket AT TIME ZONE 'UTC')::date AS day, employee_id, {means}
                   FROM {member_days}
                   GROUP BY 1, 2) per_member
             GROUP BY 1 ORDER BY 1",
            sums = per_metric(|c| format!("sum({c}) AS {c}")),
            means = avg_columns(),
            member_days = MEMBER_DAYS,
        );
        let statement = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&statement, &[&team.as_str(), &start, &end])
            .await?;
        let secret = self.noise_secret().await?;
        let days_out = rows
            .iter()
            .map(|r| {
                let day: NaiveDate = r.get(0);
                let members: i64 = r.get(1);
                let sums: [f64; 4] = [r.get(2), r.get(3), r.get(4), r.get(5)];
                privacy.publish_day(&secret, team, day, members, sums)
            })
            .collect();
        Ok(ManagerTeamTrend {
            team: team.to_string(),
            start,
            end,
            min_group_size: privacy.min_group_size.get(),
            privacy: PrivacyNote {
                mechanism: "laplace",
                unit: "member-day",
                epsilon_per_value: privacy.epsilon.get(),
                complete_days_only: true,
            },
            days: days_out,
        })
    }

    /// The secret the managers' noise is drawn from (migration 9).
    pub async fn noise_secret(&self) -> Result<NoiseSecret> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT secret FROM privacy_secret")
            .await?;
        let row = client.query_one(&statement, &[]).await?;
        NoiseSecret::new(row.get(0)).map_err(|e| StoreError::Database(e.to_string()))
    }

    /// Employees whose latest score in the last `days` days is at or above
    /// the threshold, highest first, with their peak and average over the
    /// window.
    pub async fn burnout_alerts(
        &self,
        threshold: Threshold,
        days: AlertDays,
        now: DateTime<Utc>,
    ) -> Result<Vec<BurnoutAlert>> {
        self.burnout_alerts_in(threshold, days, now, None).await
    }

    /// Burnout alerts as a reader restricted to `teams` sees them (every
    /// employee when `None`): computed over the samples it may read only,
    /// those of the hours that count for one of its teams. An employee's
    /// latest score is its latest such sample, and its peak and average are
    /// over such samples, so an alert never carries a value of an hour spent
    /// in another team.
    pub async fn burnout_alerts_in(
        &self,
        threshold: Threshold,
        days: AlertDays,
        now: DateTime<Utc>,
        teams: Option<&[String]>,
    ) -> Result<Vec<BurnoutAlert>> {
        match teams {
            None => self.burnout_alerts_all(threshold, days, now).await,
            Some(teams) => {
                self.burnout_alerts_of_teams(threshold, days, now, teams)
                    .await
            }
        }
    }

    /// Alerts over the samples whose hour counts for one of `teams`.
    async fn burnout_alerts_of_teams(
        &self,
        threshold: Threshold,
        days: AlertDays,
        now: DateTime<Utc>,
        teams: &[String],
    ) -> Result<Vec<BurnoutAlert>> {
        let start = now - days.duration();
        let client = self.client().await?;
        // Candidates are the employees with an hour of the teams in the
        // window (the hourly rollup, by its team index); their samples are
        // read from the start of the window's first hour, so that each
        // sample's hour team is known.
        let statement = client
            .prepare_cached(&format!(
                "WITH candidates AS (
                     SELECT DISTINCT employee_id FROM employee_metrics_hourly
                     WHERE bucket >= $1 AND team = ANY($4::text[])),
                 readable AS (
                     SELECT s.* FROM (
                         SELECT m.employee_id, m.time, m.burnout_score,
                                first_value(m.team) OVER (PARTITION BY m.employee_id, date_trunc('hour', m.time)
                                                          ORDER BY m.time DESC) AS hour_team
                         FROM candidates c
                         CROSS JOIN LATERAL (SELECT * FROM {samples} x WHERE x.employee_id = c.employee_id) m) s
                     WHERE s.time >= $2 AND s.hour_team = ANY($4::text[]))
                 SELECT employee_id,
                        (array_agg(hour_team ORDER BY time DESC))[1],
                        (array_agg(burnout_score ORDER BY time DESC))[1] AS latest,
                        max(time), max(burnout_score), avg(burnout_score), count(*)
                 FROM readable
                 GROUP BY employee_id
                 HAVING (array_agg(burnout_score ORDER BY time DESC))[1] >= $3
                 ORDER BY latest DESC, employee_id",
                samples = samples_between("$1", "'infinity'")
            ))
            .await?;
        let rows = client
            .query(
                &statement,
                &[&hour_floor(start), &start, &threshold.get(), &teams],
            )
            .await?;
        Ok(rows.iter().map(alert).collect())
    }

    /// Alerts over every employee.
    async fn burnout_alerts_all(
        &self,
        threshold: Threshold,
        days: AlertDays,
        now: DateTime<Utc>,
    ) -> Result<Vec<BurnoutAlert>> {
        let start = now - days.duration();
        let client = self.client().await?;
        // The latest score of each employee is one row of employee_latest;
        // the window's statistics are read for the flagged employees only,
        // planned with the window's partitions (migration 22).
        let statement = client
            .prepare_cached(
                "SELECT employee_id, team, burnout_score, time, peak, average, samples
                 FROM burnout_alerts_since($1, $2)
                 ORDER BY burnout_score DESC, employee_id",
            )
            .await?;
        let rows = client
            .query(&statement, &[&start, &threshold.get()])
            .await?;
        Ok(rows.iter().map(alert).collect())
    }

    /// min, max, avg, stddev and count of one metric over the last `days`
    /// days, from the start of the hour `days` days ago.
    pub async fn metric_statistics(
        &self,
        metric: MetricName,
        days: StatsDays,
        now: DateTime<Utc>,
    ) -> Result<MetricStatistics> {
        let start = hour_floor(now - days.duration());
        let end = now + organism_domain::MAX_FUTURE_SKEW;
        let c = metric.column();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT coalesce(sum(samples), 0)::bigint, min({c}_min), max({c}_max), sum({c}_sum), sum({c}_sumsq)
                 FROM org_hours($1, $2)"
            ))
            .await?;
        let row = client.query_one(&statement, &[&start, &end]).await?;
        let count: i64 = row.get(0);
        let sum: Option<f64> = row.get(3);
        let sumsq: Option<f64> = row.get(4);
        let (avg, stddev) = moments(count, sum, sumsq);
        Ok(MetricStatistics {
            metric,
            start,
            end: now,
            count,
            min: row.get(1),
            max: row.get(2),
            avg,
            stddev,
        })
    }

    /// Each employee's latest values (degree, betweenness, clustering,
    /// burnout) measured at or after `since`: what an incremental graph
    /// snapshot compares against.
    pub async fn latest_values(
        &self,
        since: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, [f64; 4]>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT employee_id, degree_centrality, betweenness_centrality, clustering_coeff,
                        burnout_score
                 FROM employee_latest WHERE time >= $1",
                &[&since],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), [r.get(1), r.get(2), r.get(3), r.get(4)]))
            .collect())
    }

    /// Samples whose measurement time is within `window` before `now`.
    pub async fn recent_samples(&self, window: Duration, now: DateTime<Utc>) -> Result<i64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {samples} m",
                    samples = samples_between("$1", "'infinity'")
                ),
                &[&(now - window)],
            )
            .await?;
        Ok(row.get(0))
    }
}

fn alert(r: &tokio_postgres::Row) -> BurnoutAlert {
    BurnoutAlert {
        employee_id: r.get(0),
        team: r.get(1),
        latest_score: r.get(2),
        latest_time: r.get(3),
        peak_score: r.get(4),
        average_score: r.get(5),
        samples: r.get(6),
    }
}

/// Mean and sample standard deviation from count, sum and sum of squares.
pub fn moments(count: i64, sum: Option<f64>, sumsq: Option<f64>) -> (Option<f64>, Option<f64>) {
    let (Some(sum), Some(sumsq)) = (sum, sumsq) else {
        return (None, None);
    };
    if count == 0 {
        return (None, None);
    }
    let n = count as f64;
    let avg = sum / n;
    let stddev = (count > 1).then(|| ((sumsq - sum * sum / n) / (n - 1.0)).max(0.0).sqrt());
    (Some(avg), stddev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_a_direct_computation() {
        let xs = [1.0, 2.0, 4.0, 8.0, 16.5];
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let (avg, sd) = moments(
            5,
            Some(xs.iter().sum()),
            Some(xs.iter().map(|x| x * x).sum()),
        );
        assert!((avg.unwrap() - mean).abs() < 1e-12);
        assert!((sd.unwrap() - var.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_single_sample_has_no_standard_deviation() {
        assert_eq!(moments(1, Some(3.0), Some(9.0)), (Some(3.0), None));
        assert_eq!(moments(0, None, None), (None, None));
    }

    fn day(members: i64) -> TeamDay {
        TeamDay {
            day: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            members,
            samples: members * 3,
            degree_centrality: 0.1,
            betweenness_centrality: 0.2,
            clustering_coeff: 0.3,
            burnout_score: 40.0,
            burnout_max: 90.0,
        }
    }

    #[test]
    fn a_day_below_the_minimum_group_hides_every_aggregate() {
        let trend = TeamTrend {
            team: "T".into(),
            start: Utc::now(),
            end: Utc::now(),
            days: vec![day(4), day(5)],
        }
        .with_minimum_group(MinGroupSize::new(5).unwrap());
        let small = &trend.days[0];
        assert!(small.suppressed);
        assert_eq!(small.members, 4);
        assert_eq!(
            [
                small.degree_centrality,
                small.betweenness_centrality,
                small.clustering_coeff,
                small.burnout_score,
                small.burnout_max
            ],
            [None; 5]
        );
        let big = &trend.days[1];
        assert!(!big.suppressed);
        assert_eq!(big.burnout_max, Some(90.0));
        assert_eq!(big.burnout_score, Some(40.0));
    }

    #[test]
    fn hour_and_day_floors() {
        let t = DateTime::parse_from_rfc3339("2026-03-04T05:06:07.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(hour_floor(t).to_rfc3339(), "2026-03-04T05:00:00+00:00");
        assert_eq!(day_floor(t).to_rfc3339(), "2026-03-04T00:00:00+00:00");
    }
}
