//! Health and Prometheus metrics.

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Duration;
use serde_json::json;

use crate::params::Params;
use crate::{ApiError, AppState, Principal};

/// 200 when the database answers, 503 (with the same body) when it does not.
///
/// A writer key sees whether the service and its database are up, and
/// nothing counted from stored data: the samples of the last hour, the
/// rollup's watermark and the jobs' runs all move with what an incremental
/// snapshot did or did not write, which would tell a writer how its
/// computed metrics compare with the stored ones (DESIGN.md §11).
pub async fn health(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let store = &state.store;
    let pool = store.pool_status();
    let pool = json!({"max_size": pool.max_size, "size": pool.size, "available": pool.available, "waiting": pool.waiting});
    let probe = async {
        let version = store.schema_version().await?;
        let recent = store
            .recent_samples(Duration::hours(1), state.config.clock.now())
            .await?;
        let watermark = store.rollup_watermark().await?;
        let jobs = store.job_status().await?;
        let ts_errors = store.timescaledb_job_errors().await?;
        Ok::<_, organism_store::StoreError>((version, recent, watermark, jobs, ts_errors))
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
    let (status, body) = match probe.await {
        Ok((version, recent, watermark, jobs, ts_errors)) => (
            StatusCode::OK,
            json!({
                "status": "ok",
                "database": {"reachable": true, "engine": store.engine(), "schema_version": version},
                "samples_last_hour": recent,
                "rollup": {"materialised_until": watermark},
                "jobs": jobs,
                "timescaledb_job_errors_last_day": ts_errors,
                "pool": pool,
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "status": "unavailable",
                    "database": {"reachable": false, "engine": store.engine(), "error": e.to_string()},
                    "pool": pool,
                }),
            )
        }
    };
    let body = if principal.role == organism_domain::Role::Writer {
        without_stored_counts(body)
    } else {
        body
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    Ok(response)
}

/// The health body less what is counted from stored data.
fn without_stored_counts(mut body: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = body.as_object_mut() {
        for field in [
            "samples_last_hour",
            "rollup",
            "jobs",
            "timescaledb_job_errors_last_day",
        ] {
            fields.remove(field);
        }
    }
    body
}

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
