//! The connection pool.
//!
//! Every connection is set to UTC and to our schema first in `search_path`,
//! so that `date_trunc('day', …)` means a UTC day and SQL names our tables
//! without splicing the schema name into every statement. JIT compilation
//! is off: our queries are short, and compiling their many aggregate
//! expressions cost seconds per query on the rollup view (measured: 5–6 s
//! with JIT, 15–50 ms without, on the demo's data).

use std::time::Instant;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{DbSettings, StoreError};

/// The connection settings with our session options applied.
fn connection_config(settings: &DbSettings) -> tokio_postgres::Config {
    let mut config = settings.connection.clone();
    // Generic plans: our statements are prepared and reused, and planning
    // the views over every daily partition afresh costs more than running
    // them (PostgreSQL would otherwise plan each statement 5 times per
    // connection before settling on a generic plan; see PERFORMANCE.md).
    let ours = format!(
        "-c TimeZone=UTC -c client_min_messages=warning -c jit=off \
         -c plan_cache_mode=force_generic_plan -c search_path={},public",
        settings.schema
    );
    let options = match config.get_options() {
        Some(existing) if !existing.is_empty() => format!("{existing} {ours}"),
        _ => ours,
    };
    config.options(&options);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.acquire_timeout);
    }
    config.application_name("organism-trends");
    config
}

pub fn build(settings: &DbSettings) -> Result<Pool, StoreError> {
    settings.validate()?;
    let manager = Manager::from_config(
        connection_config(settings),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.acquire_timeout))
        .recycle_timeout(Some(settings.acquire_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Schema(format!("cannot build the connection pool: {e}")))
}

/// Takes a connection, telling a busy pool (every connection in use) from a
/// database that cannot be reached.
pub async fn get(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    let started = Instant::now();
    pool.get().await.map_err(|e| match e {
        PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => StoreError::PoolExhausted {
            size: pool.status().max_size,
            waited_ms: started.elapsed().as_millis(),
        },
        PoolError::Backend(e) => StoreError::from(e),
        other => StoreError::Unavailable(other.to_string()),
    })
}

/// A connection outside the pool, for short maintenance work that must not
/// wait for a pooled connection while the caller holds one (a writer making
/// a missing partition). It closes when dropped.
pub async fn dedicated(settings: &DbSettings) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = connection_config(settings).connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "maintenance connection ended");
        }
    });
    Ok(client)
}
