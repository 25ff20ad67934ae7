//! `organism maintain`: run the lifecycle jobs now.
//!
//! Jobs: the hourly rollup's refresh and retention (which refreshes first).
//! Compression comes with the rest of the lifecycle work.

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
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    db.close().await;
    result
}
