//! Health and Prometheus metrics.

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use organism_store::Engine;
use organism_store::jobs::JobRecord;
use serde::Serialize;

use crate::params::Params;
use crate::{ApiError, AppState, Principal};

/// Whether the database answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Unavailable,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseHealth {
    pub reachable: bool,
    pub engine: Engine,
    /// The schema version recorded in the database (when reachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i32>,
    /// Why it is not reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolHealth {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RollupHealth {
    /// The hourly rollup is complete up to this hour (none before the
    /// first refresh).
    pub materialised_until: Option<DateTime<Utc>>,
}

/// What is counted from stored data: for keys other than writers (module
/// docs of [`health`]).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredHealth {
    /// When these figures were read from the database (wall clock): at most
    /// [`KEPT_FOR`] before the answer, and after the last sample or job
    /// run this service committed.
    pub figures_as_of: DateTime<Utc>,
    pub samples_last_hour: i64,
    pub rollup: RollupHealth,
    /// Each lifecycle job's last run.
    pub jobs: Vec<JobRecord>,
    /// Failed TimescaleDB background job runs in the last day (timescale
    /// engine; null on the portable one).
    pub timescaledb_job_errors_last_day: Option<i64>,
}

/// How long health keeps its figures counted from stored data.
pub const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// The figures counted from stored data as last read, with when and at
/// which [`Store::changes`](organism_store::Store::changes) count. Health
/// pings the database on every request (one short query) and reads the
/// figures again only when they are older than [`KEPT_FOR`] or this
/// service has committed a write or a job run since: a monitoring probe
/// every second costs one query, not five scans, and a client that writes
/// and then asks sees its write counted. Writes by other processes (an
/// `ingest`, another `serve`) are counted within [`KEPT_FOR`].
#[derive(Debug, Default)]
pub struct KeptFigures {
    last: tokio::sync::Mutex<Option<Kept>>,
}

#[derive(Debug)]
struct Kept {
    read_at: std::time::Instant,
    changes: u64,
    figures: StoredHealth,
}

impl KeptFigures {
    /// The kept figures while they are fresh, else read anew (one reader at
    /// a time: requests arriving meanwhile wait for its answer).
    async fn get(&self, state: &AppState) -> Result<StoredHealth, organism_store::StoreError> {
        let store = &state.store;
        let mut last = self.last.lock().await;
        let changes = store.changes();
        if let Some(kept) = last.as_ref()
            && kept.changes == changes
            && kept.read_at.elapsed() < KEPT_FOR
        {
            return Ok(kept.figures.clone());
        }
        let read_at = std::time::Instant::now();
        let now = state.config.clock.now();
        let figures = StoredHealth {
            figures_as_of: Utc::now(),
            samples_last_hour: store.recent_samples(Duration::hours(1), now).await?,
            rollup: RollupHealth {
                materialised_until: store.rollup_watermark().await?,
            },
            jobs: store.job_status().await?,
            timescaledb_job_errors_last_day: store.timescaledb_job_errors().await?,
        };
        *last = Some(Kept {
            read_at,
            changes,
            figures: figures.clone(),
        });
        Ok(figures)
    }
}

/// The health answer. A writer key gets no figure counted from stored data,
/// and an unreachable database none at all.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthAnswer {
    pub status: HealthStatus,
    pub database: DatabaseHealth,
    #[serde(flatten)]
    #[schema(inline)]
    pub stored: Option<StoredHealth>,
    pub pool: PoolHealth,
    /// The read replica, with `--read-database-url` (absent without):
    /// whether reads go to it now and its replay lag, as last measured
    /// (every 200 ms, not by this request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_replica: Option<crate::replica::ReplicaStatus>,
}

/// Service health.
///
/// 200 when the database answers, 503 (with the same body, and
/// `Retry-After`) when it does not: engine, schema version, samples of the
/// last hour, the rollup's watermark, each lifecycle job's last run, pool.
/// A writer key gets no figure counted from stored data (samples, rollup,
/// jobs), which would tell it how its snapshots compare with the stored
/// scores (DESIGN.md §11). The database is asked on every request; the
/// figures are kept for up to a second unless this service wrote since
/// ([`KeptFigures`]; `figures_as_of` says when they were read).
#[utoipa::path(
    get,
    path = "/api/trends/health",
    tag = "operations",
    operation_id = "get_health",
    responses(
        (status = 200, description = "the service and its database are up", body = HealthAnswer,
            example = json!({"status": "ok", "database": {"reachable": true, "engine": "timescale", "schema_version": 16}, "figures_as_of": "2026-06-10T11:02:30Z", "samples_last_hour": 40000, "rollup": {"materialised_until": "2026-06-10T11:00:00Z"}, "jobs": [{"job": "refresh", "last_started": "2026-06-10T11:02:00Z", "last_finished": "2026-06-10T11:02:01Z", "last_seconds": 0.8, "last_rows": 10000, "last_ok": true, "last_error": null, "last_detail": {}, "runs": 240, "failures": 0}], "timescaledb_job_errors_last_day": 0, "pool": {"max_size": 20, "size": 3, "available": 3, "waiting": 0}})),
        (status = 503, description = "the database does not answer; retry after `Retry-After` seconds", body = HealthAnswer,
            headers(("Retry-After" = u32, description = "seconds to wait before retrying"))),
    ),
)]
pub async fn health(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let store = &state.store;
    let pool = store.pool_status();
    let pool = PoolHealth {
        max_size: pool.max_size,
        size: pool.size,
        available: pool.available,
        waiting: pool.waiting,
    };
    let writer = principal.role == organism_domain::Role::Writer;
    let probe = async {
        // The ping, on every request: the database answers now.
        let version = store.schema_version().await?;
        let stored = if writer {
            None
        } else {
            Some(state.health.get(&state).await?)
        };
        Ok::<_, organism_store::StoreError>((version, stored))
    };
    // A database that stopped answering without closing its sockets (a
    // frozen server) must not hold health: bounded like a pool wait.
    let bound = store
        .settings()
        .acquire_timeout
        .max(std::time::Duration::from_secs(1));
    let probe = async {
        tokio::time::timeout(bound, probe)
            .await
            .unwrap_or_else(|_| {
                Err(organism_store::StoreError::Unavailable(format!(
                    "no answer within {} s",
                    bound.as_secs_f64()
                )))
            })
    };
    let read_replica = state.replica.as_ref().map(|r| r.status());
    let (status, body) = match probe.await {
        Ok((version, stored)) => (
            StatusCode::OK,
            HealthAnswer {
                status: HealthStatus::Ok,
                database: DatabaseHealth {
                    reachable: true,
                    engine: store.engine(),
                    schema_version: Some(version),
                    error: None,
                },
                stored,
                pool,
                read_replica,
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HealthAnswer {
                    status: HealthStatus::Unavailable,
                    database: DatabaseHealth {
                        reachable: false,
                        engine: store.engine(),
                        schema_version: None,
                        error: Some(e.to_string()),
                    },
                    stored: None,
                    pool,
                    read_replica,
                },
            )
        }
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    Ok(response)
}

/// Prometheus metrics.
///
/// Requests by route and status, latencies, samples written, pool gauges,
/// in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "get_prometheus_metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain; version=0.0.4",
        example = "# HELP organism_db_pool_size Open pooled connections.\n# TYPE organism_db_pool_size gauge\norganism_db_pool_size 3\n")),
)]
pub async fn prometheus(State(state): State<AppState>) -> Response {
    let pool = state.store.pool_status();
    let text = state.metrics.render(&[
        (
            "organism_db_pool_max_size",
            "Largest number of pooled connections.",
            pool.max_size as f64,
        ),
        (
            "organism_db_pool_size",
            "Open pooled connections.",
            pool.size as f64,
        ),
        (
            "organism_db_pool_available",
            "Idle pooled connections.",
            pool.available as f64,
        ),
        (
            "organism_db_pool_waiting",
            "Requests waiting for a connection.",
            pool.waiting as f64,
        ),
    ]);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
