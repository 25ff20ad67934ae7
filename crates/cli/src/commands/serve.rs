//! `organism serve`.

use std::net::SocketAddr;

use chrono::Utc;
use clap::Args;
use organism_api::{ApiConfig, AppState};

use crate::config::GlobalArgs;
use crate::database::Database;
use crate::shutdown;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORGANISM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Largest request body in bytes.
    #[arg(long, env = "ORGANISM_BODY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub body_limit: usize,
}

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let db = Database::open(global).await?;
    let result = serve(&db, &args, || {}).await;
    db.close().await;
    result
}

/// Serves on `db` until a stop signal; `ready` runs once the socket listens.
pub async fn serve(db: &Database, args: &ServeArgs, ready: impl FnOnce()) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
    let state = AppState::new(
        db.store.clone(),
        ApiConfig {
            body_limit: args.body_limit,
        },
    );
    tracing::info!(addr = %listener.local_addr()?, engine = %db.store.engine(), "serving");
    ready();
    let scheduler = tokio::spawn(lifecycle_jobs(db.store.clone()));
    let served = organism_api::serve(listener, state, shutdown::signal()).await;
    scheduler.abort();
    served?;
    Ok(())
}

/// The scheduler: refreshes the hourly rollup at start and a few minutes
/// after every hour, and applies retention (which refreshes first) and, on
/// the timescale engine, compression at start and then once a day. Several instances may run it: the refresh and
/// retention lock the rollup's state row, so they run one at a time.
async fn lifecycle_jobs(store: organism_store::Store) {
    let mut last_retention: Option<std::time::Instant> = None;
    loop {
        let started = std::time::Instant::now();
        let retention_due =
            last_retention.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(86_400));
        if retention_due {
            match store.apply_retention(Utc::now()).await {
                Ok(report) => {
                    last_retention = Some(started);
                    tracing::info!(
                        watermark = %report.refresh.watermark,
                        raw_kept_from = %report.raw_kept_from,
                        raw_dropped = report.raw_parts_dropped,
                        rollup_kept_from = %report.rollup_kept_from,
                        rollup_dropped = report.rollup_dropped,
                        seconds = started.elapsed().as_secs_f64(),
                        "rollup refreshed and retention applied"
                    )
                }
                Err(e) => tracing::warn!(error = %e, "retention failed; retrying next hour"),
            }
            if store.engine() == organism_store::Engine::Timescale {
                match store.compress(Utc::now()).await {
                    Ok(report) => tracing::info!(
                        chunks = report.chunks_compressed,
                        bytes_before = report.bytes_before,
                        bytes_after = report.bytes_after,
                        "old chunks compressed"
                    ),
                    Err(e) => tracing::warn!(error = %e, "compression failed; retrying tomorrow"),
                }
            }
        } else {
            match store.refresh_rollup(Utc::now()).await {
                Ok(report) => tracing::info!(
                    watermark = %report.watermark,
                    late_hours = report.hours_recomputed,
                    rows = report.rows_written,
                    seconds = started.elapsed().as_secs_f64(),
                    "hourly rollup refreshed"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "hourly rollup refresh failed; retrying next hour")
                }
            }
        }
        let now = Utc::now();
        let next = organism_store::rollup::hour_start(now) + chrono::Duration::minutes(62);
        let wait = (next - now)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(3600));
        tokio::time::sleep(wait).await;
    }
}
