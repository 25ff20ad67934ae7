//! The scheduler's step: what is due runs, is recorded, and leaves the
//! portable engine with partitions for the coming week.

use chrono::Duration;
use organism_testkit::organism_store::jobs::{Job, JobOutcome};
use organism_testkit::organism_store::partitions::DAYS_AHEAD;
use organism_testkit::organism_store::scheduler::{Schedule, Scheduler};
use organism_testkit::organism_store::{Engine, Store};

use crate::data::now;

/// The jobs that ran, in order (whether each succeeded is the business of
/// its own tests; the partitions job must have).
fn jobs_ran(ran: &[(Job, organism_testkit::organism_store::Result<JobOutcome>)]) -> Vec<Job> {
    ran.iter()
        .map(|(job, outcome)| {
            assert!(
                *job != Job::Partitions || matches!(outcome, Ok(JobOutcome::Ran { ok: true, .. })),
                "{job:?}: {outcome:?}"
            );
            *job
        })
        .collect()
}

async fn run_once_runs_what_is_due_and_makes_the_coming_week_of_partitions(store: Store) {
    let mut scheduler = Scheduler::new(store.clone(), Schedule::default());
    let ran = scheduler.run_once(now()).await;
    assert_eq!(
        jobs_ran(&ran),
        [
            Job::Partitions,
            Job::Refresh,
            Job::Retention,
            Job::Compression
        ]
    );
    let partitions = ran
        .iter()
        .find_map(|(job, outcome)| match outcome {
            Ok(JobOutcome::Ran { detail, rows, .. }) if *job == Job::Partitions => {
                Some((*rows, detail.clone()))
            }
            _ => None,
        })
        .unwrap();

    let week: Vec<_> = now()
        .date_naive()
        .iter_days()
        .take(DAYS_AHEAD as usize + 1)
        .collect();
    let admin = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let tables: Vec<String> = admin
        .query(
            "SELECT relname::text FROM pg_class
             WHERE relname ~ '^employee_metrics_p[0-9]{8}$' AND relnamespace = $1::text::regnamespace
             ORDER BY relname",
            &[&store.settings().schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    match store.engine() {
        Engine::Portable => {
            assert_eq!(store.partition_days().await.unwrap(), week);
            assert_eq!(partitions.0, week.len() as i64, "{partitions:?}");
        }
        Engine::Timescale => {
            // TimescaleDB makes chunks; the job succeeds and makes nothing.
            assert_eq!(tables, Vec::<String>::new());
            assert_eq!(partitions.0, 0, "{partitions:?}");
        }
    }
    assert_eq!(partitions.1["through"], week[week.len() - 1].to_string());

    // Nothing is due again at once; the refresh is, two minutes past the
    // next hour; everything, a day later (and the week moves on by a day).
    assert!(scheduler.run_once(now()).await.is_empty());
    let next_hour = now() + Duration::minutes(62);
    assert_eq!(
        jobs_ran(&scheduler.run_once(next_hour).await),
        [Job::Refresh]
    );
    let tomorrow = now() + Duration::days(1);
    assert_eq!(jobs_ran(&scheduler.run_once(tomorrow).await).len(), 4);
    if store.engine() == Engine::Portable {
        let days = store.partition_days().await.unwrap();
        assert_eq!(days.len(), week.len() + 1);
        assert_eq!(days.last().copied(), week.last().and_then(|d| d.succ_opt()));
    }
    let status = store.job_status().await.unwrap();
    let runs = status.iter().find(|j| j.job == "partitions").unwrap();
    assert_eq!((runs.runs, runs.failures), (2, 0));
}

organism_testkit::engine_tests!(run_once_runs_what_is_due_and_makes_the_coming_week_of_partitions);
