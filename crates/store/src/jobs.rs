//! Running the lifecycle jobs: one runner at a time across every service
//! instance, and a record of each job's last run.
//!
//! A run takes a session advisory lock on a connection of its own (outside
//! the pool): if another instance holds it, the run is skipped rather than
//! queued; if the process dies, the connection closes and the lock goes with
//! it. Each run's outcome is upserted into `lifecycle_jobs`. Each run is in
//! a `job` tracing span that records its outcome, duration and rows, so what
//! a job logs on the way carries its name (STYLE habit 9). When each job is
//! due is the scheduler's business (scheduler.rs).

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::{Result, Store};

/// A lifecycle job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Refresh,
    Retention,
    Compression,
    /// Portable daily partitions of the coming days (partitions.rs).
    Partitions,
}

impl Job {
    pub const fn name(self) -> &'static str {
        match self {
            Job::Refresh => "refresh",
            Job::Retention => "retention",
            Job::Compression => "compression",
            Job::Partitions => "partitions",
        }
    }

    /// Advisory lock key: "orgjob" plus the job's number.
    pub const fn lock_key(self) -> i64 {
        0x6f72_676a_6f62_0000
            + match self {
                Job::Refresh => 1,
                Job::Retention => 2,
                Job::Compression => 3,
                Job::Partitions => 4,
            }
    }
}

/// What asking for a run gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum JobOutcome {
    /// It ran (successfully or not: see `ok`).
    Ran {
        job: Job,
        ok: bool,
        seconds: f64,
        rows: i64,
        detail: Value,
        error: Option<String>,
    },
    /// Another runner holds the job's lock.
    Skipped { job: Job },
}

/// A job's last run, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub job: String,
    pub last_started: DateTime<Utc>,
    pub last_finished: DateTime<Utc>,
    pub last_seconds: f64,
    pub last_rows: i64,
    pub last_ok: bool,
    pub last_error: Option<String>,
    pub last_detail: Value,
    pub runs: i64,
    pub failures: i64,
}

impl Store {
    /// Runs `job` as of `now` unless another runner is running it, in a
    /// `job` span that records how it went.
    pub async fn run_job(&self, job: Job, now: DateTime<Utc>) -> Result<JobOutcome> {
        let span = tracing::info_span!(
            "job",
            name = job.name(),
            outcome = tracing::field::Empty,
            seconds = tracing::field::Empty,
            rows = tracing::field::Empty,
        );
        async {
            let result = self.run_job_locked(job, now).await;
            let span = tracing::Span::current();
            match &result {
                Ok(JobOutcome::Ran {
                    ok,
                    seconds,
                    rows,
                    error,
                    ..
                }) => {
                    span.record("outcome", if *ok { "ok" } else { "failed" });
                    span.record("seconds", seconds);
                    span.record("rows", rows);
                    match error {
                        None => tracing::info!("lifecycle job done"),
                        Some(error) => tracing::warn!(error, "lifecycle job failed"),
                    }
                }
                Ok(JobOutcome::Skipped { .. }) => {
                    span.record("outcome", "skipped");
                    tracing::info!("lifecycle job skipped: another instance runs it");
                }
                Err(e) => {
                    span.record("outcome", "not_started");
                    tracing::warn!(error = %e, "lifecycle job could not start");
                }
            }
            // A job that made, packed or dropped partitions (or chunks)
            // made every kept plan over them stale: ready the idle
            // connections again now rather than on a request's time.
            let repartitioned = matches!(job, Job::Retention | Job::Compression | Job::Partitions);
            if repartitioned
                && matches!(result, Ok(JobOutcome::Ran { ok: true, .. }))
                && let Err(e) = self.warm_reads(0).await
            {
                tracing::warn!(error = %e, "could not ready connections for reads after a job");
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn run_job_locked(&self, job: Job, now: DateTime<Utc>) -> Result<JobOutcome> {
        let lock = crate::pool::dedicated(self.settings()).await?;
        let got: bool = lock
            .query_one("SELECT pg_try_advisory_lock($1)", &[&job.lock_key()])
            .await?
            .get(0);
        if !got {
            return Ok(JobOutcome::Skipped { job });
        }
        let started_at = Utc::now();
        let started = Instant::now();
        let result: Result<(i64, Value)> = match job {
            Job::Refresh => self
                .refresh_rollup(now)
                .await
                .map(|r| (r.rows_written as i64, json!(r))),
            Job::Retention => self
                .apply_retention(now)
                .await
                .map(|r| ((r.raw_parts_dropped + r.rollup_dropped) as i64, json!(r))),
            Job::Compression => self
                .compress(now)
                .await
                .map(|r| (r.chunks_compressed, json!(r))),
            Job::Partitions => self
                .make_partitions_ahead(now)
                .await
                .map(|r| (r.created as i64, json!(r))),
        };
        let seconds = started.elapsed().as_secs_f64();
        let (ok, rows, detail, error) = match &result {
            Ok((rows, detail)) => (true, *rows, detail.clone(), None),
            Err(e) => (false, 0, json!({}), Some(e.to_string())),
        };
        let recorded = lock
            .execute(
                "INSERT INTO lifecycle_jobs AS j (job, last_started, last_finished, last_seconds,
                     last_rows, last_ok, last_error, last_detail, runs, failures)
                 VALUES ($1, $2, now(), $3, $4, $5, $6, $7, 1, CASE WHEN $5 THEN 0 ELSE 1 END)
                 ON CONFLICT (job) DO UPDATE SET
                     last_started = EXCLUDED.last_started, last_finished = EXCLUDED.last_finished,
                     last_seconds = EXCLUDED.last_seconds, last_rows = EXCLUDED.last_rows,
                     last_ok = EXCLUDED.last_ok, last_error = EXCLUDED.last_error,
                     last_detail = EXCLUDED.last_detail, runs = j.runs + 1,
                     failures = j.failures + EXCLUDED.failures",
                &[
                    &job.name(),
                    &started_at,
                    &seconds,
                    &rows,
                    &ok,
                    &error,
                    &detail,
                ],
            )
            .await;
        let _ = lock
            .execute("SELECT pg_advisory_unlock($1)", &[&job.lock_key()])
            .await;
        recorded?;
        self.note_change();
        Ok(JobOutcome::Ran {
            job,
            ok,
            seconds,
            rows,
            detail,
            error,
        })
    }

    /// Every job's last run, by name.
    pub async fn job_status(&self) -> Result<Vec<JobRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT job, last_started, last_finished, last_seconds, last_rows, last_ok,
                        last_error, last_detail, runs, failures
                 FROM lifecycle_jobs ORDER BY job",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| JobRecord {
                job: r.get(0),
                last_started: r.get(1),
                last_finished: r.get(2),
                last_seconds: r.get(3),
                last_rows: r.get(4),
                last_ok: r.get(5),
                last_error: r.get(6),
                last_detail: r.get(7),
                runs: r.get(8),
                failures: r.get(9),
            })
            .collect())
    }

    /// TimescaleDB's own job failures in the last day (its scheduled jobs
    /// can fail silently); `None` on the portable engine.
    pub async fn timescaledb_job_errors(&self) -> Result<Option<i64>> {
        self.ops().job_errors(self).await
    }
}
