//! The connection pool.
//!
//! Every connection is set to UTC and to our schema first in `search_path`,
//! so that `date_trunc('day', …)` means a UTC day and SQL names our tables
//! without splicing the schema name into every statement. JIT compilation
//! is off: our queries are short, and compiling their many aggregate
//! expressions cost seconds per query on the rollup view (measured: 5–6 s
//! with JIT, 15–50 ms without, on the demo's data).
//!
//! Two kinds of session (issue 13, item 7). The request pool's sessions have
//! `statement_timeout`, `lock_timeout` and
//! `idle_in_transaction_session_timeout` (DbSettings), so a statement stuck
//! behind a lock or running away answers 503 within a bound. The maintenance
//! sessions (lifecycle jobs, migrations, dedicated connections) run for
//! minutes at scale (a refresh of 86 M samples takes 5–20 minutes) and wait
//! for locks on purpose, so they have only
//! `DbSettings::maintenance_statement_timeout` (none by default). Both have
//! TCP keepalives and a TCP user timeout, so that a database host that
//! vanishes (not a frozen process: its kernel still answers) is noticed.

use std::time::Instant;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::{DbSettings, StoreError};

/// Which sessions a pool makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Session {
    /// Request handling: every bound of DbSettings.
    Request,
    /// Jobs, migrations, dedicated connections.
    Maintenance,
}

/// `-c name=value` in milliseconds (0 switches the setting off).
fn millis(name: &str, d: std::time::Duration) -> String {
    format!(" -c {name}={}", d.as_millis())
}

/// The connection settings with our session options applied.
fn connection_config(settings: &DbSettings, session: Session) -> tokio_postgres::Config {
    let mut config = settings.connection.clone();
    // Generic plans: our statements are prepared and reused, and planning
    // the views over every daily partition afresh costs more than running
    // them (PostgreSQL would otherwise plan each statement 5 times per
    // connection before settling on a generic plan; see PERFORMANCE.md).
    let mut ours = format!(
        "-c TimeZone=UTC -c client_min_messages=warning -c jit=off \
         -c plan_cache_mode=force_generic_plan -c search_path={},public",
        settings.schema
    );
    match session {
        Session::Request => {
            ours += &millis("statement_timeout", settings.statement_timeout);
            ours += &millis("lock_timeout", settings.lock_timeout);
            ours += &millis(
                "idle_in_transaction_session_timeout",
                settings.idle_in_transaction_timeout,
            );
        }
        Session::Maintenance => {
            ours += &millis("statement_timeout", settings.maintenance_statement_timeout);
        }
    }
    let options = match config.get_options() {
        Some(existing) if !existing.is_empty() => format!("{existing} {ours}"),
        _ => ours,
    };
    config.options(&options);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.acquire_timeout);
    }
    // libpq's defaults (keepalive after 2 h idle, no user timeout) notice a
    // vanished host only after hours; ours after about a minute.
    if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(std::time::Duration::from_secs(30));
        config.keepalives_interval(std::time::Duration::from_secs(10));
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(std::time::Duration::from_secs(60));
    }
    config.application_name("organism-trends");
    config
}

/// The request pool.
pub fn build(settings: &DbSettings) -> Result<Pool, StoreError> {
    build_for(
        settings,
        Session::Request,
        settings.pool_size,
        settings.acquire_timeout,
    )
}

/// The maintenance pool: a few connections, made when a job first needs
/// one; a job waits longer for one than a request does.
pub fn build_maintenance(settings: &DbSettings) -> Result<Pool, StoreError> {
    build_for(
        settings,
        Session::Maintenance,
        MAINTENANCE_POOL_SIZE,
        settings
            .acquire_timeout
            .max(std::time::Duration::from_secs(60)),
    )
}

/// Enough for the three jobs at once, one of which (compression) holds two.
const MAINTENANCE_POOL_SIZE: usize = 4;

fn build_for(
    settings: &DbSettings,
    session: Session,
    size: usize,
    wait: std::time::Duration,
) -> Result<Pool, StoreError> {
    settings.validate()?;
    let manager = Manager::from_config(
        connection_config(settings, session),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(wait))
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
    let (client, connection) = connection_config(settings, Session::Maintenance)
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "maintenance connection ended");
        }
    });
    Ok(client)
}
