//! `organism maintain`: run the lifecycle jobs now.
//!
//! Jobs: the hourly rollup's refresh, retention (which refreshes first) and
//! compression (timescale engine; the portable codec is not built yet).

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Job {
    /// Materialise the hourly rollup up to the current hour, recomputing the
    /// hours that late writes touched.
    Refresh,
    /// Drop raw samples and rollup hours older than the retention settings
    /// (refreshing the rollup first, so nothing is dropped unrolled).
    Retention,
    /// Compress raw samples older than 30 days (timescale engine).
    Compression,
    /// Every job, in order.
    All,
}

#[derive(Debug, Clone, Args)]
pub struct MaintainArgs {
    /// The job to run.
    #[arg(long, value_enum, default_value = "refresh")]
    pub job: Job,
    /// The time to run as (RFC 3339); the current time by default.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    organism_domain::parse_instant(text, false).map_err(|e| e.to_string())
}

pub async fn run(global: &GlobalArgs, args: MaintainArgs) -> anyhow::Result<()> {
    let db = Database::open(global).await?;
    let result = async {
        let now = args.now.unwrap_or_else(Utc::now);
        let started = std::time::Instant::now();
        match args.job {
            Job::Refresh => {
                let report = db.store.refresh_rollup(now).await?;
                println!(
                    "refresh: rollup materialised up to {} ({} late hours recomputed, {} rows written) in {:.1} s",
                    report.watermark.to_rfc3339(),
                    report.hours_recomputed,
                    report.rows_written,
                    started.elapsed().as_secs_f64()
                );
            }
            Job::Compression => compress(&db.store, now).await?,
            Job::Retention | Job::All => {
                let report = db.store.apply_retention(now).await?;
                println!(
                    "refresh: rollup materialised up to {} ({} late hours recomputed, {} rows written)",
                    report.refresh.watermark.to_rfc3339(),
                    report.refresh.hours_recomputed,
                    report.refresh.rows_written,
                );
                println!(
                    "retention: raw samples kept from {} ({} days/chunks dropped), rollup kept from {} ({} dropped) in {:.1} s",
                    report.raw_kept_from.to_rfc3339(),
                    report.raw_parts_dropped,
                    report.rollup_kept_from.to_rfc3339(),
                    report.rollup_dropped,
                    started.elapsed().as_secs_f64()
                );
                if args.job == Job::All {
                    match db.store.engine() {
                        organism_store::Engine::Timescale => compress(&db.store, now).await?,
                        organism_store::Engine::Portable => println!(
                            "compression: skipped, not available on the portable engine yet"
                        ),
                    }
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    db.close().await;
    result
}

async fn compress(store: &organism_store::Store, now: DateTime<Utc>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = store.compress(now).await?;
    println!(
        "compression: {} chunks older than {} compressed; compressed chunks take {} bytes, {} before ({:.1}% smaller) in {:.1} s",
        report.chunks_compressed,
        report.older_than.to_rfc3339(),
        report.bytes_after,
        report.bytes_before,
        100.0 * (1.0 - report.bytes_after as f64 / (report.bytes_before.max(1)) as f64),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
