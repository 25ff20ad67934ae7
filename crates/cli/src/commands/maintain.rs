//! `organism maintain`: run the lifecycle jobs now.
//!
//! The hourly rollup's refresh is the one job so far; retention and
//! compression come with the rest of the lifecycle work.

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Job {
    /// Materialise the hourly rollup up to the current hour, recomputing the
    /// hours that late writes touched.
    Refresh,
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
        match args.job {
            Job::Refresh => {
                let started = std::time::Instant::now();
                let report = db
                    .store
                    .refresh_rollup(args.now.unwrap_or_else(Utc::now))
                    .await?;
                println!(
                    "refresh: rollup materialised up to {} ({} late hours recomputed, {} rows written) in {:.1} s",
                    report.watermark.to_rfc3339(),
                    report.hours_recomputed,
                    report.rows_written,
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
