//! Health and Prometheus metrics.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde_json::json;

use crate::params::Params;
use crate::{ApiError, AppState};

/// 200 when the database answers, 503 (with the same body) when it does not.
pub async fn health(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let store = &state.store;
    let pool = store.pool_status();
    let pool = json!({"max_size": pool.max_size, "size": pool.size, "available": pool.available, "waiting": pool.waiting});
    let probe = async {
        let version = store.schema_version().await?;
        let recent = store.recent_samples(Duration::hours(1), Utc::now()).await?;
        let watermark = store.rollup_watermark().await?;
        let jobs = store.job_status().await?;
        let ts_errors = store.timescaledb_job_errors().await?;
        Ok::<_, organism_store::StoreError>((version, recent, watermark, jobs, ts_errors))
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
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    }
    Ok(response)
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
