//! The read load: every read endpoint, requested over HTTP by a concurrent
//! client, each request for a different employee, team, threshold or metric.
//!
//! Endpoints are exercised one after another (each with `concurrency`
//! requests in flight), so that one endpoint's percentiles are not those of
//! the mix. A latency is from sending the request to having read the whole
//! body, as a dashboard would see it.

use std::time::Instant;

use chrono::{Duration, Utc};
use futures_util::stream::{self, StreamExt};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Serialize;

use super::stats::{Latencies, Summary};

/// One read endpoint as the benchmark requests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    EmployeeRaw90,
    EmployeeHourly90,
    EmployeeHourly730,
    EmployeeRange7,
    Team730,
    BurnoutAlerts,
    Statistics365,
    Health,
    Effect,
    ForecastEmployee,
    ForecastTeam,
    AnomaliesTeam,
    AnomaliesOrg,
    CorrelationsTeam,
    CorrelationsOrg,
    Overview,
}

impl ReadKind {
    pub const ALL: [ReadKind; 16] = [
        ReadKind::EmployeeRaw90,
        ReadKind::EmployeeHourly90,
        ReadKind::EmployeeHourly730,
        ReadKind::EmployeeRange7,
        ReadKind::Team730,
        ReadKind::BurnoutAlerts,
        ReadKind::Statistics365,
        ReadKind::Health,
        ReadKind::Effect,
        ReadKind::ForecastEmployee,
        ReadKind::ForecastTeam,
        ReadKind::AnomaliesTeam,
        ReadKind::AnomaliesOrg,
        ReadKind::CorrelationsTeam,
        ReadKind::CorrelationsOrg,
        ReadKind::Overview,
    ];

    /// An analysis of every employee-day of its window.
    pub fn organisation_wide(self) -> bool {
        matches!(
            self,
            ReadKind::AnomaliesOrg | ReadKind::CorrelationsOrg | ReadKind::Overview
        )
    }

    /// A stable key for the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            ReadKind::EmployeeRaw90 => "employee_trend_raw_90d",
            ReadKind::EmployeeHourly90 => "employee_trend_hourly_90d",
            ReadKind::EmployeeHourly730 => "employee_trend_hourly_730d",
            ReadKind::EmployeeRange7 => "employee_range_raw_7d",
            ReadKind::Team730 => "team_trend_730d",
            ReadKind::BurnoutAlerts => "burnout_alerts_7d",
            ReadKind::Statistics365 => "statistics_365d",
            ReadKind::Health => "health",
            ReadKind::Effect => "intervention_effect",
            ReadKind::ForecastEmployee => "forecast_employee_90d",
            ReadKind::ForecastTeam => "forecast_team_90d",
            ReadKind::AnomaliesTeam => "anomalies_team_30d",
            ReadKind::AnomaliesOrg => "anomalies_org_30d",
            ReadKind::CorrelationsTeam => "correlations_team_90d",
            ReadKind::CorrelationsOrg => "correlations_org_90d",
            ReadKind::Overview => "overview_30d",
        }
    }

    /// The route, as the API documents it, with the fixed parameters.
    pub fn route(self) -> &'static str {
        match self {
            ReadKind::EmployeeRaw90 => "GET /api/trends/employee/{id}?days=90",
            ReadKind::EmployeeHourly90 => "GET /api/trends/employee/{id}?days=90&use_hourly=true",
            ReadKind::EmployeeHourly730 => "GET /api/trends/employee/{id}?days=730&use_hourly=true",
            ReadKind::EmployeeRange7 => {
                "GET /api/trends/employee/{id}/range?start_date&end_date (7 days, raw)"
            }
            ReadKind::Team730 => "GET /api/trends/team/{team}?days=730",
            ReadKind::BurnoutAlerts => "GET /api/trends/burnout-alerts?threshold=60..80&days=7",
            ReadKind::Statistics365 => "GET /api/trends/statistics/{metric}?days=365",
            ReadKind::Health => "GET /api/trends/health",
            ReadKind::Effect => "GET /api/analytics/interventions/{id}/effect",
            ReadKind::ForecastEmployee => "GET /api/analytics/forecast/employee/{id}",
            ReadKind::ForecastTeam => "GET /api/analytics/forecast/team/{team}",
            ReadKind::AnomaliesTeam => "GET /api/analytics/anomalies?team={team}&days=30",
            ReadKind::AnomaliesOrg => "GET /api/analytics/anomalies?days=30",
            ReadKind::CorrelationsTeam => "GET /api/analytics/correlations?team={team}&days=90",
            ReadKind::CorrelationsOrg => "GET /api/analytics/correlations?days=90",
            ReadKind::Overview => "GET /api/analytics/overview?days=30",
        }
    }
}

/// What the requests may vary over.
#[derive(Debug, Clone)]
pub struct Population {
    pub employees: Vec<String>,
    pub teams: Vec<String>,
    /// Days of data (a range request falls inside them).
    pub days: u32,
    /// The teams of at least the minimum group size.
    pub shown_teams: Vec<String>,
    /// Activated interventions (the effect endpoint's ids).
    pub interventions: Vec<String>,
}

/// The outcome of one endpoint's requests, as the report gives it.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointResult {
    #[serde(skip)]
    pub kind: ReadKind,
    /// [`ReadKind::key`].
    pub endpoint: &'static str,
    /// [`ReadKind::route`].
    pub route: &'static str,
    pub requests: usize,
    /// Requests answered 200: those whose latencies count.
    pub ok: usize,
    pub errors: usize,
    /// The first failure, if any (status and body, or the client error).
    pub first_error: Option<String>,
    pub concurrency: usize,
    pub bytes: u64,
    /// An organisation-wide analysis's first request, sent alone before
    /// the others and not in `latency`: it computes the answer and keeps
    /// it; the others are served the kept answer while the data of its
    /// window stays the same (docs/ANALYTICS.md, "Kept answers").
    pub first_ms: Option<f64>,
    pub latency: Summary,
}

/// A client for the API, sending `Authorization: Bearer <key>`.
pub fn client(api_key: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    let mut value = HeaderValue::from_str(&format!("Bearer {api_key}"))?;
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(64)
        .build()?)
}

/// The URL of the `i`-th request of `kind`.
fn url(
    base: &reqwest::Url,
    kind: ReadKind,
    population: &Population,
    rng: &mut ChaCha8Rng,
) -> reqwest::Url {
    let mut url = base.clone();
    let employee = &population.employees[rng.random_range(0..population.employees.len())];
    let team = &population.teams[rng.random_range(0..population.teams.len())];
    let segments: Vec<&str> = match kind {
        ReadKind::EmployeeRaw90 | ReadKind::EmployeeHourly90 | ReadKind::EmployeeHourly730 => {
            vec!["api", "trends", "employee", employee]
        }
        ReadKind::EmployeeRange7 => vec!["api", "trends", "employee", employee, "range"],
        ReadKind::Team730 => vec!["api", "trends", "team", team],
        ReadKind::BurnoutAlerts => vec!["api", "trends", "burnout-alerts"],
        ReadKind::Statistics365 => {
            const METRICS: [&str; 4] = [
                "degree_centrality",
                "betweenness_centrality",
                "clustering_coeff",
                "burnout_score",
            ];
            vec![
                "api",
                "trends",
                "statistics",
                METRICS[rng.random_range(0..4)],
            ]
        }
        ReadKind::Health => vec!["api", "trends", "health"],
        ReadKind::Effect => {
            let id = population
                .interventions
                .get(rng.random_range(0..population.interventions.len().max(1)))
                .map_or("", String::as_str);
            vec!["api", "analytics", "interventions", id, "effect"]
        }
        ReadKind::ForecastEmployee => vec!["api", "analytics", "forecast", "employee", employee],
        ReadKind::ForecastTeam => {
            let shown = &population.shown_teams;
            let team = shown
                .get(rng.random_range(0..shown.len().max(1)))
                .unwrap_or(team);
            vec!["api", "analytics", "forecast", "team", team]
        }
        ReadKind::AnomaliesTeam | ReadKind::AnomaliesOrg => vec!["api", "analytics", "anomalies"],
        ReadKind::CorrelationsTeam | ReadKind::CorrelationsOrg => {
            vec!["api", "analytics", "correlations"]
        }
        ReadKind::Overview => vec!["api", "analytics", "overview"],
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.clear().extend(segments);
    }
    let query = match kind {
        ReadKind::EmployeeRaw90 => "days=90".to_string(),
        ReadKind::EmployeeHourly90 => "days=90&use_hourly=true".to_string(),
        ReadKind::EmployeeHourly730 => "days=730&use_hourly=true".to_string(),
        ReadKind::EmployeeRange7 => {
            // A 7-day window inside the data.
            let span = i64::from(population.days.saturating_sub(7).max(1));
            let end = Utc::now() - Duration::days(rng.random_range(0..span));
            let start = end - Duration::days(7);
            format!(
                "start_date={}&end_date={}",
                start.format("%Y-%m-%dT%H:%M:%SZ"),
                end.format("%Y-%m-%dT%H:%M:%SZ")
            )
        }
        ReadKind::Team730 => "days=730".to_string(),
        ReadKind::BurnoutAlerts => format!("threshold={}&days=7", 60 + 5 * rng.random_range(0..5)),
        ReadKind::Statistics365 => "days=365".to_string(),
        ReadKind::Health | ReadKind::Effect => String::new(),
        ReadKind::ForecastEmployee | ReadKind::ForecastTeam => "history_days=90".to_string(),
        ReadKind::AnomaliesTeam => format!("team={}&days=30", encode(team)),
        ReadKind::AnomaliesOrg => "days=30".to_string(),
        ReadKind::CorrelationsTeam => format!("team={}&days=90", encode(team)),
        ReadKind::CorrelationsOrg => "days=90".to_string(),
        ReadKind::Overview => "days=30".to_string(),
    };
    url.set_query((!query.is_empty()).then_some(query.as_str()));
    url
}

/// A query parameter's value, form-encoded (team names have spaces).
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Sends `requests` requests of `kind`, `concurrency` at a time.
pub async fn exercise(
    client: &reqwest::Client,
    base: &reqwest::Url,
    kind: ReadKind,
    population: &Population,
    requests: usize,
    concurrency: usize,
    seed: u64,
) -> EndpointResult {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut urls: Vec<reqwest::Url> = (0..requests)
        .map(|_| url(base, kind, population, &mut rng))
        .collect();
    let mut first = None;
    let mut first_failure = None;
    if kind.organisation_wide() && !urls.is_empty() {
        let url = urls.remove(0);
        let started = Instant::now();
        match fetch(client, url).await {
            Ok(_) => first = Some(started.elapsed().as_secs_f64() * 1000.0),
            Err(e) => first_failure = Some(e),
        }
    }
    let outcomes: Vec<(std::time::Duration, Result<u64, String>)> = stream::iter(urls)
        .map(|url| async move {
            let started = Instant::now();
            let outcome = fetch(client, url).await;
            (started.elapsed(), outcome)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut latencies = Latencies::default();
    let mut errors = usize::from(first_failure.is_some());
    let mut first_error = first_failure;
    let mut bytes = 0;
    for (elapsed, outcome) in outcomes {
        match outcome {
            Ok(n) => {
                latencies.record(elapsed);
                bytes += n;
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let latency = latencies.summary();
    EndpointResult {
        kind,
        endpoint: kind.key(),
        route: kind.route(),
        requests,
        ok: latency.count,
        errors,
        first_error,
        concurrency,
        bytes,
        first_ms: first,
        latency,
    }
}

/// One request, its whole body read; an answer other than 200 is an error.
async fn fetch(client: &reqwest::Client, url: reqwest::Url) -> Result<u64, String> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "{url}: {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(body.len() as u64)
}
