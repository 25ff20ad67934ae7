//! `organism maintain`: run the lifecycle jobs now, or show their status.
//!
//! Jobs: the hourly rollup's refresh, retention (which refreshes first),
//! compression (native on timescale, packed days on portable) and the
//! portable engine's partitions ahead. A job another instance is running is
//! skipped, not run twice.

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use organism_store::jobs::{Job as StoreJob, JobOutcome};

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
    /// Compress raw samples older than --compress-after-days (30 by
    /// default): TimescaleDB's native compression, or packed days on the
    /// portable engine.
    Compression,
    /// Make the raw partitions of today and the next 7 days (portable
    /// engine; nothing to do on timescale).
    Partitions,
    /// Every job, in order: partitions, retention (with a refresh first),
    /// then compression.
    All,
}

#[derive(Debug, Clone, Args)]
pub struct MaintainArgs {
    /// The job to run.
    #[arg(long, value_enum, default_value = "all")]
    pub job: Job,
    /// The time to run as (RFC 3339); the current time by default.
    #[arg(long, value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Show each job's last run instead of running anything (not with
    /// --job or --now).
    #[arg(long, conflicts_with_all = ["job", "now"])]
    pub status: bool,
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    organism_domain::parse_instant(text, false).map_err(|e| e.to_string())
}

pub async fn run(global: &GlobalArgs, args: MaintainArgs) -> anyhow::Result<()> {
    let db = Database::open(global).await?;
    let result = if args.status {
        status(&db).await
    } else {
        run_jobs(&db, &args).await
    };
    db.close().await;
    result
}

async fn status(db: &Database) -> anyhow::Result<()> {
    let jobs = db.store.job_status().await?;
    if jobs.is_empty() {
        println!("no lifecycle job has run yet");
    }
    for j in jobs {
        println!(
            "{:<12} last run {} ({:.1} s, {} rows): {}; {} runs, {} failed",
            j.job,
            j.last_started.to_rfc3339(),
            j.last_seconds,
            j.last_rows,
            if j.last_ok {
                "ok".to_string()
            } else {
                format!("FAILED: {}", j.last_error.unwrap_or_default())
            },
            j.runs,
            j.failures
        );
    }
    if let Some(errors) = db.store.timescaledb_job_errors().await? {
        println!("TimescaleDB's own jobs: {errors} failures in the last day");
    }
    Ok(())
}

async fn run_jobs(db: &Database, args: &MaintainArgs) -> anyhow::Result<()> {
    let now = args.now.unwrap_or_else(Utc::now);
    let jobs: Vec<StoreJob> = match args.job {
        Job::Refresh => vec![StoreJob::Refresh],
        Job::Retention => vec![StoreJob::Retention],
        Job::Compression => vec![StoreJob::Compression],
        Job::Partitions => vec![StoreJob::Partitions],
        Job::All => vec![
            StoreJob::Partitions,
            StoreJob::Retention,
            StoreJob::Compression,
        ],
    };
    let mut failed = false;
    for job in jobs {
        match db.store.run_job(job, now).await? {
            JobOutcome::Skipped { job } => {
                println!("{}: skipped, another instance is running it", job.name());
            }
            JobOutcome::Ran {
                job,
                ok,
                seconds,
                rows,
                detail,
                error,
            } => {
                if ok {
                    println!(
                        "{}: ok in {seconds:.1} s, {rows} rows/parts: {detail}",
                        job.name()
                    );
                } else {
                    failed = true;
                    println!(
                        "{}: FAILED after {seconds:.1} s: {}",
                        job.name(),
                        error.unwrap_or_default()
                    );
                }
            }
        }
    }
    if failed {
        anyhow::bail!("a lifecycle job failed (see above)");
    }
    Ok(())
}
