//! When the lifecycle jobs run: a pure rule ([`due`], [`next_wake`]) over
//! the last runs this process made, one step that runs what is due
//! ([`Scheduler::run_once`]), and a loop around it that stops when asked
//! ([`Scheduler::run_until_stopped`], STYLE habit 10).
//!
//! The rule is kept apart from the running so that it can be tested without
//! a database or a clock: "what is due at 03:00 after a failed retention at
//! 02:50" is a function call. The loop only reads the clock, calls
//! [`Scheduler::run_once`] and sleeps until [`next_wake`].
//!
//! The state is this process's own runs, not the `lifecycle_jobs` records:
//! a starting instance runs every job once (they are idempotent, and cheap
//! when there is nothing to do), and several instances do not need to agree
//! on a clock; the jobs' advisory locks (jobs.rs) keep them from running a
//! job twice at once.
//!
//! Stopping: the loop checks the stop signal between jobs and while it
//! sleeps, never inside a job. A job that has started is finished and
//! recorded; the jobs still due after it wait for the next start.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

use crate::jobs::{Job, JobOutcome};
use crate::{Result, Store};

/// How often a job runs, after its first run at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Once an hour, this long after the hour starts (so that the hour just
    /// ended is complete).
    Hourly { past: Duration },
    /// This long after its last run.
    Every(Duration),
}

/// Which jobs run, how often, and in what order when several are due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// In running order.
    pub jobs: Vec<(Job, Cadence)>,
    /// A job that failed or could not start is tried again this long after,
    /// unless its cadence brings it sooner.
    pub retry_after: Duration,
}

impl Default for Schedule {
    /// Partitions ahead first (so the day's writes find their partition),
    /// the hourly rollup two minutes after each hour, retention and
    /// compression daily; a failure is retried after 15 minutes.
    fn default() -> Self {
        Self {
            jobs: vec![
                (Job::Partitions, Cadence::Every(Duration::days(1))),
                (
                    Job::Refresh,
                    Cadence::Hourly {
                        past: Duration::minutes(2),
                    },
                ),
                (Job::Retention, Cadence::Every(Duration::days(1))),
                (Job::Compression, Cadence::Every(Duration::days(1))),
            ],
            retry_after: Duration::minutes(15),
        }
    }
}

/// A job's last run by this scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRun {
    /// The time it was run as.
    pub at: DateTime<Utc>,
    /// It succeeded, or another instance held it (and so is running it).
    pub ok: bool,
}

/// Each job's last run; a job absent has not run since start.
pub type LastRuns = HashMap<Job, LastRun>;

/// When a job that last ran as `last` is due next.
pub fn next_due(cadence: Cadence, last: LastRun, retry_after: Duration) -> DateTime<Utc> {
    let regular = match cadence {
        Cadence::Hourly { past } => crate::rollup::hour_start(last.at) + Duration::hours(1) + past,
        Cadence::Every(interval) => last.at + interval,
    };
    if last.ok {
        regular
    } else {
        regular.min(last.at + retry_after)
    }
}

/// The jobs due at `now`, in the schedule's order: those that have not run
/// since start, and those whose next time has come. A last run later than
/// `now` means the clock went back: that record says nothing about the
/// present, so the job is due (the jobs are idempotent) and its schedule
/// starts again from the new time.
pub fn due(now: DateTime<Utc>, last_runs: &LastRuns, schedule: &Schedule) -> Vec<Job> {
    schedule
        .jobs
        .iter()
        .filter(|(job, cadence)| match last_runs.get(job) {
            None => true,
            Some(last) if now < last.at => true,
            Some(last) => now >= next_due(*cadence, *last, schedule.retry_after),
        })
        .map(|(job, _)| *job)
        .collect()
}

/// The earliest time a job is due: `now` when one is due already.
pub fn next_wake(now: DateTime<Utc>, last_runs: &LastRuns, schedule: &Schedule) -> DateTime<Utc> {
    schedule
        .jobs
        .iter()
        .map(|(job, cadence)| match last_runs.get(job) {
            Some(last) if now >= last.at => next_due(*cadence, *last, schedule.retry_after),
            _ => now,
        })
        .min()
        .unwrap_or(now + Duration::hours(1))
        .max(now)
}

/// Runs the lifecycle jobs of one store by a [`Schedule`].
#[derive(Debug)]
pub struct Scheduler {
    store: Store,
    schedule: Schedule,
    last_runs: LastRuns,
}

/// One job run by [`Scheduler::run_once`]: its outcome, or why it could
/// not start.
pub type Ran = (Job, Result<JobOutcome>);

impl Scheduler {
    pub fn new(store: Store, schedule: Schedule) -> Self {
        Self {
            store,
            schedule,
            last_runs: LastRuns::new(),
        }
    }

    pub fn last_runs(&self) -> &LastRuns {
        &self.last_runs
    }

    /// Runs the jobs due at `now`, one after the other, each as of `now`
    /// (each in its `job` span, see jobs.rs), and returns what ran.
    pub async fn run_once(&mut self, now: DateTime<Utc>) -> Vec<Ran> {
        self.run_due(now, || false).await
    }

    /// [`Self::run_once`], asking `stopping` before each job.
    async fn run_due(&mut self, now: DateTime<Utc>, stopping: impl Fn() -> bool) -> Vec<Ran> {
        let mut ran = Vec::new();
        for job in due(now, &self.last_runs, &self.schedule) {
            if stopping() {
                break;
            }
            let outcome = self.store.run_job(job, now).await;
            let ok = matches!(
                outcome,
                Ok(JobOutcome::Ran { ok: true, .. } | JobOutcome::Skipped { .. })
            );
            self.last_runs.insert(job, LastRun { at: now, ok });
            ran.push((job, outcome));
        }
        ran
    }

    /// Runs what is due, sleeps until the next job is, and again, until
    /// `stop` says `true` or its sender is dropped. A job in progress is
    /// finished first; jobs due after it are left for the next start.
    pub async fn run_until_stopped(mut self, mut stop: watch::Receiver<bool>) {
        while !stop_requested(&stop) {
            self.run_due(Utc::now(), || stop_requested(&stop)).await;
            let now = Utc::now();
            let wait = (next_wake(now, &self.last_runs, &self.schedule) - now)
                .to_std()
                .unwrap_or_default()
                // At least a second, against a clock that keeps jumping; at
                // most an hour, so that a clock set forward is noticed.
                .clamp(
                    std::time::Duration::from_secs(1),
                    std::time::Duration::from_secs(3600),
                );
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stop| *stop) => break,
            }
        }
        tracing::info!("scheduler stopped");
    }
}

/// `true` was sent, or the sender is gone.
pub fn stop_requested(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 10, h, m, 0).unwrap()
    }

    fn ran(jobs: &[Job], when: DateTime<Utc>, ok: bool) -> LastRuns {
        jobs.iter()
            .map(|job| (*job, LastRun { at: when, ok }))
            .collect()
    }

    const ALL: [Job; 4] = [
        Job::Partitions,
        Job::Refresh,
        Job::Retention,
        Job::Compression,
    ];

    #[test]
    fn at_first_start_every_job_is_due_in_order() {
        let schedule = Schedule::default();
        assert_eq!(due(at(10, 30), &LastRuns::new(), &schedule), ALL);
        assert_eq!(
            next_wake(at(10, 30), &LastRuns::new(), &schedule),
            at(10, 30)
        );
    }

    #[test]
    fn the_refresh_is_hourly_two_minutes_past_and_the_others_daily() {
        let schedule = Schedule::default();
        let last = ran(&ALL, at(10, 30), true);
        assert!(due(at(10, 31), &last, &schedule).is_empty());
        assert!(due(at(11, 1), &last, &schedule).is_empty());
        assert_eq!(next_wake(at(10, 31), &last, &schedule), at(11, 2));
        assert_eq!(due(at(11, 2), &last, &schedule), [Job::Refresh]);

        let mut last = last;
        last.insert(
            Job::Refresh,
            LastRun {
                at: at(23, 2),
                ok: true,
            },
        );
        let next_day = at(10, 30) + Duration::days(1);
        assert_eq!(
            due(next_day, &last, &schedule),
            [
                Job::Partitions,
                Job::Refresh,
                Job::Retention,
                Job::Compression
            ]
        );
        assert!(due(next_day - Duration::seconds(1), &last, &schedule).contains(&Job::Refresh));
        assert!(!due(next_day - Duration::seconds(1), &last, &schedule).contains(&Job::Retention));
    }

    #[test]
    fn a_failed_job_is_retried_after_the_retry_delay_not_a_day() {
        let schedule = Schedule::default();
        let mut last = ran(&ALL, at(2, 50), true);
        last.insert(
            Job::Retention,
            LastRun {
                at: at(2, 50),
                ok: false,
            },
        );
        assert_eq!(next_wake(at(2, 51), &last, &schedule), at(3, 2));
        assert_eq!(due(at(3, 2), &last, &schedule), [Job::Refresh]);
        assert_eq!(
            due(at(3, 5), &last, &schedule),
            [Job::Refresh, Job::Retention]
        );
        // A failed hourly refresh comes back at the retry, before the hour.
        let mut last = ran(&ALL, at(3, 2), true);
        last.insert(
            Job::Refresh,
            LastRun {
                at: at(3, 2),
                ok: false,
            },
        );
        assert_eq!(next_wake(at(3, 3), &last, &schedule), at(3, 17));
        assert_eq!(due(at(3, 17), &last, &schedule), [Job::Refresh]);
    }

    #[test]
    fn a_clock_gone_back_past_a_run_makes_the_job_due_once() {
        let schedule = Schedule::default();
        let last = ran(&ALL, at(10, 30), true);
        assert_eq!(due(at(9, 0), &last, &schedule), ALL);
        assert_eq!(next_wake(at(9, 0), &last, &schedule), at(9, 0));
        // Once run at the new time, the schedule counts from there.
        let rerun = ran(&ALL, at(9, 0), true);
        assert!(due(at(9, 1), &rerun, &schedule).is_empty());
        assert_eq!(next_wake(at(9, 1), &rerun, &schedule), at(10, 2));
    }

    #[test]
    fn the_stop_signal_is_true_or_a_dropped_sender() {
        let (tx, rx) = watch::channel(false);
        assert!(!stop_requested(&rx));
        tx.send(true).unwrap();
        assert!(stop_requested(&rx));
        let (tx, rx) = watch::channel(false);
        drop(tx);
        assert!(stop_requested(&rx));
    }
}
