//! Lifecycle job runs: one runner at a time, and every run recorded.

use organism_testkit::organism_store::jobs::{Job, JobOutcome};
use organism_testkit::organism_store::{Engine, Store};

use crate::data::{now, seed};

async fn a_job_held_by_another_runner_is_skipped(store: Store) {
    seed(&store).await;
    // Another instance (here: a plain session) is running the refresh.
    let other = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    other
        .execute("SELECT pg_advisory_lock($1)", &[&Job::Refresh.lock_key()])
        .await
        .unwrap();
    let outcome = store.run_job(Job::Refresh, now()).await.unwrap();
    assert_eq!(outcome, JobOutcome::Skipped { job: Job::Refresh });
    assert!(store.job_status().await.unwrap().is_empty());
    // Other jobs are not held by it.
    let retention = store.run_job(Job::Retention, now()).await.unwrap();
    assert!(
        matches!(retention, JobOutcome::Ran { ok: true, .. }),
        "{retention:?}"
    );

    other
        .execute("SELECT pg_advisory_unlock($1)", &[&Job::Refresh.lock_key()])
        .await
        .unwrap();
    let outcome = store.run_job(Job::Refresh, now()).await.unwrap();
    assert!(
        matches!(outcome, JobOutcome::Ran { ok: true, .. }),
        "{outcome:?}"
    );
}

async fn every_run_is_recorded_with_its_outcome(store: Store) {
    seed(&store).await;
    store.run_job(Job::Refresh, now()).await.unwrap();
    store.run_job(Job::Refresh, now()).await.unwrap();
    let compression = store.run_job(Job::Compression, now()).await.unwrap();
    let status = store.job_status().await.unwrap();
    let refresh = status.iter().find(|j| j.job == "refresh").unwrap();
    assert_eq!(
        (refresh.runs, refresh.failures, refresh.last_ok),
        (2, 0, true)
    );
    assert_eq!(refresh.last_rows, 0, "the second refresh had nothing to do");
    assert!(refresh.last_detail["watermark"].is_string());
    let compress = status.iter().find(|j| j.job == "compression").unwrap();
    assert!(
        matches!(compression, JobOutcome::Ran { ok: true, .. }),
        "{compression:?}"
    );
    assert_eq!((compress.runs, compress.failures), (1, 0));
    if store.engine() == Engine::Timescale {
        assert_eq!(
            store
                .timescaledb_job_errors()
                .await
                .unwrap()
                .map(|n| n >= 0),
            Some(true)
        );
    }

    // A run that fails is recorded as a failure, with the database's reason.
    let admin = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    admin
        .batch_execute("ALTER TABLE lifecycle_state RENAME TO lifecycle_state_away")
        .await
        .unwrap();
    let retention = store.run_job(Job::Retention, now()).await.unwrap();
    assert!(
        matches!(retention, JobOutcome::Ran { ok: false, .. }),
        "{retention:?}"
    );
    admin
        .batch_execute("ALTER TABLE lifecycle_state_away RENAME TO lifecycle_state")
        .await
        .unwrap();
    let status = store.job_status().await.unwrap();
    let failed = status.iter().find(|j| j.job == "retention").unwrap();
    assert_eq!(
        (failed.runs, failed.failures, failed.last_ok),
        (1, 1, false)
    );
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("lifecycle_state"),
        "{failed:?}"
    );
    let retention = store.run_job(Job::Retention, now()).await.unwrap();
    assert!(
        matches!(retention, JobOutcome::Ran { ok: true, .. }),
        "{retention:?}"
    );
}

/// The store's sessions in the database, as a superuser sees them.
async fn sessions(other: &tokio_postgres::Client) -> i64 {
    other
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = 'organism-trends' AND datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn connections_are_readied_for_reads_within_the_pool(store: Store) {
    seed(&store).await;
    let other = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let before = sessions(&other).await;
    // New connections are made until three are ready, and each runs the
    // raw read (for no employee) without error.
    assert_eq!(store.warm_reads(3).await.unwrap(), 3);
    assert!(
        sessions(&other).await >= before.max(3),
        "three sessions at least"
    );
    // Never more than the pool holds, however many are asked for.
    let size = store.settings().pool_size;
    assert_eq!(store.warm_reads(size + 50).await.unwrap(), size);
    assert!(sessions(&other).await <= i64::try_from(size).unwrap() + 4 + 1);
    // Asking for none readies the idle ones only: all of them now.
    assert_eq!(store.warm_reads(0).await.unwrap(), size);
    // A job readies the idle connections again after it ran, and reads
    // answer as before.
    let outcome = store.run_job(Job::Compression, now()).await.unwrap();
    assert!(
        matches!(outcome, JobOutcome::Ran { ok: true, .. }),
        "{outcome:?}"
    );
    let trend = store
        .employee_trend(
            &organism_domain::EmployeeId::parse("emp_a").unwrap(),
            organism_domain::TimeRange::parse(
                &(now() - chrono::Duration::days(30))
                    .date_naive()
                    .to_string(),
                &now().date_naive().to_string(),
            )
            .unwrap(),
            false,
        )
        .await
        .unwrap();
    assert_eq!(trend.points.len(), 3, "emp_a's seeded samples");
}

organism_testkit::engine_tests!(
    a_job_held_by_another_runner_is_skipped,
    every_run_is_recorded_with_its_outcome,
    connections_are_readied_for_reads_within_the_pool,
);
