//! The hourly rollup: the materialised hours give the numbers the raw rows
//! give, late data is visible at once and materialised at the next refresh.

use chrono::Duration;
use organism_domain::{
    AlertDays, EmployeeId, MetricName, StatsDays, TeamName, Threshold, TrendDays,
};
use organism_testkit::organism_store::analytics::MemberDay;
use organism_testkit::organism_store::queries::{
    BurnoutAlert, HourlyPoint, MetricStatistics, TeamDay, TrendPoints,
};
use organism_testkit::organism_store::{Engine, Store};

use crate::data::{at, count_rows, dataset, now, sample, seed};

pub(crate) struct Answers {
    hourly: Vec<HourlyPoint>,
    team: Vec<TeamDay>,
    stats: Vec<MetricStatistics>,
    /// Every employee's alert over windows from a whole hour and from
    /// within one, short and long.
    alerts: Vec<Vec<BurnoutAlert>>,
}

/// An employee's hours over the 30 days before [`now`].
async fn hours_of(store: &Store, employee: &str) -> Vec<HourlyPoint> {
    let trend = store
        .employee_trend_days(
            &EmployeeId::parse(employee).unwrap(),
            TrendDays::new(30).unwrap(),
            true,
            now(),
        )
        .await
        .unwrap();
    let TrendPoints::Hourly(hourly) = trend.points else {
        panic!("hourly points expected")
    };
    hourly
}

pub(crate) async fn answers(store: &Store) -> Answers {
    let hourly = hours_of(store, "emp_a").await;
    let team = store
        .team_trend(
            &TeamName::parse("Core").unwrap(),
            TrendDays::new(30).unwrap(),
            now(),
        )
        .await
        .unwrap()
        .days;
    let mut stats = Vec::new();
    for metric in MetricName::ALL {
        let s = store
            .metric_statistics(metric, StatsDays::new(365).unwrap(), now())
            .await
            .unwrap();
        stats.push(s);
    }
    let mut alerts = Vec::new();
    for (days, start) in [
        (7, now()),
        (7, now() - Duration::minutes(25)),
        (30, now() - Duration::minutes(25)),
        (90, now()),
    ] {
        let a = store
            .burnout_alerts(
                Threshold::new(0.0).unwrap(),
                AlertDays::new(days).unwrap(),
                start,
            )
            .await
            .unwrap();
        alerts.push(a);
    }
    Answers {
        hourly,
        team,
        stats,
        alerts,
    }
}

/// Equal up to floating-point summation order.
pub(crate) fn assert_same(a: &Answers, b: &Answers) {
    assert_eq!(a.hourly.len(), b.hourly.len());
    for (x, y) in a.hourly.iter().zip(&b.hourly) {
        assert_eq!((x.time, x.samples, &x.team), (y.time, y.samples, &y.team));
        assert!((x.burnout_score - y.burnout_score).abs() < 1e-9);
        assert!((x.degree_centrality - y.degree_centrality).abs() < 1e-12);
        assert_eq!(
            (x.burnout_min, x.burnout_max),
            (y.burnout_min, y.burnout_max)
        );
    }
    assert_eq!(a.team.len(), b.team.len());
    for (x, y) in a.team.iter().zip(&b.team) {
        assert_eq!(
            (x.day, x.members, x.samples, x.burnout_max),
            (y.day, y.members, y.samples, y.burnout_max)
        );
        assert!((x.burnout_score - y.burnout_score).abs() < 1e-9);
        assert!((x.clustering_coeff - y.clustering_coeff).abs() < 1e-12);
    }
    for (x, y) in a.stats.iter().zip(&b.stats) {
        assert_eq!((x.count, x.min, x.max), (y.count, y.min, y.max));
        assert!((x.avg.unwrap() - y.avg.unwrap()).abs() < 1e-9);
        assert!((x.stddev.unwrap() - y.stddev.unwrap()).abs() < 1e-9);
    }
    assert_eq!(a.alerts.len(), b.alerts.len());
    for (xs, ys) in a.alerts.iter().zip(&b.alerts) {
        assert_eq!(xs.len(), ys.len(), "{xs:?} {ys:?}");
        for (x, y) in xs.iter().zip(ys) {
            assert_eq!(
                (&x.employee_id, &x.team, x.latest_score, x.latest_time),
                (&y.employee_id, &y.team, y.latest_score, y.latest_time)
            );
            assert_eq!(
                (x.peak_score, x.samples),
                (y.peak_score, y.samples),
                "{x:?}"
            );
            assert!(
                (x.average_score - y.average_score).abs() < 1e-9,
                "{x:?} {y:?}"
            );
        }
    }
}

async fn the_materialised_rollup_equals_the_raw_aggregation(store: Store) {
    seed(&store).await;
    let from_raw = answers(&store).await;
    if store.engine() == Engine::Portable {
        // Nothing is materialised before the first refresh. (On timescale,
        // writing these old samples already refreshed their hours.)
        assert_eq!(store.rollup_watermark().await.unwrap(), None);
    }
    let report = store.refresh_rollup(now()).await.unwrap();
    assert_eq!(report.watermark, now());
    assert_eq!(store.rollup_watermark().await.unwrap(), Some(now()));
    if store.engine() == Engine::Portable {
        // Eight samples in seven distinct (employee, hour) pairs.
        assert_eq!(report.rows_written, 7);
        assert_eq!(count_rows(&store, "employee_metrics_hourly_store").await, 7);
        // Six distinct hours; three member-days wholly before 10 June.
        assert_eq!(count_rows(&store, "metrics_hourly_org_store").await, 6);
        assert_eq!(count_rows(&store, "employee_team_daily_store").await, 3);
        // Nothing new: a second refresh writes nothing.
        let again = store.refresh_rollup(now()).await.unwrap();
        assert_eq!((again.rows_written, again.hours_recomputed), (0, 0));
    }
    let from_rollup = answers(&store).await;
    assert_same(&from_raw, &from_rollup);
    assert_eq!(from_rollup.hourly[1].samples, 2);
}

/// The team's burnout peak on 9 and 10 June, and the organisation's.
fn burnout_peaks(a: &Answers) -> (f64, f64, Option<f64>) {
    let day = |d: u32| {
        a.team
            .iter()
            .find(|t| t.day == at(d, 0, 0).date_naive())
            .expect("the day in the team trend")
            .burnout_max
    };
    let stats = a
        .stats
        .iter()
        .find(|s| s.metric == MetricName::BurnoutScore)
        .expect("burnout statistics");
    (day(9), day(10), stats.max)
}

async fn late_data_is_visible_at_once_and_materialised_at_the_next_refresh(store: Store) {
    seed(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    // The team's whole days (9 June) and the organisation's hours are
    // materialised too: the writes below must reach them through the hours
    // they invalidate.
    let before = answers(&store).await;
    assert_eq!(burnout_peaks(&before), (60.0, 90.0, Some(99.0)));
    // A late sample into the 09:00 hour of 10 June, already rolled up, and a
    // correction of the 60 of 9 June.
    let late = sample("emp_a", Some("Core"), at(10, 9, 45), 0.6, 0.2, 0.4, 100.0);
    store.write_sample(&late).await.unwrap();
    let fix = sample("emp_a", Some("Core"), at(9, 10, 0), 0.4, 0.2, 0.2, 30.0);
    store.write_batch(&[fix]).await.unwrap();

    let check = |a: &Answers| {
        let h = a
            .hourly
            .iter()
            .find(|h| h.time == at(10, 9, 0))
            .expect("the 09:00 hour");
        assert_eq!(h.samples, 3);
        assert!((h.burnout_score - (80.0 + 90.0 + 100.0) / 3.0).abs() < 1e-9);
        assert_eq!(h.burnout_max, 100.0);
        let first = a.hourly.iter().find(|h| h.time == at(9, 10, 0)).unwrap();
        assert_eq!(first.burnout_score, 30.0);
        assert_eq!(burnout_peaks(a), (30.0, 100.0, Some(100.0)));
        let count = |a: &Answers| a.stats[0].count;
        assert_eq!(count(a), count(&before) + 1);
    };
    let at_once = answers(&store).await;
    check(&at_once);

    let report = store.refresh_rollup(now()).await.unwrap();
    if store.engine() == Engine::Portable {
        // The late sample is new and keeps its hour's team: the writer
        // added it to the stored hour. The correction replaced a stored
        // sample: its hour is recomputed.
        assert_eq!(report.hours_recomputed, 1);
        assert_eq!(count_rows(&store, "rollup_invalidations").await, 0);
    }
    let after = answers(&store).await;
    check(&after);
    assert_same(&at_once, &after);
}

async fn hours_after_the_watermark_come_from_raw_rows(store: Store) {
    seed(&store).await;
    // Materialise up to 9 June only; 10 June stays raw.
    store
        .refresh_rollup(now() - Duration::days(1))
        .await
        .unwrap();
    let mixed = answers(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    let full = answers(&store).await;
    assert_same(&mixed, &full);
    assert_eq!(mixed.team.last().unwrap().samples, 4);
}

/// Writers and refreshes at once: single samples and small batches into
/// hours being materialised, while the watermark moves up an hour at a
/// time. No sample may be left out of a materialised hour (the writer holds
/// the watermark row while it decides which hours it invalidates).
async fn writes_racing_refreshes_are_all_rolled_up(store: Store) {
    let start = now() - Duration::hours(48);
    let writers = (0..4).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            for k in 0..30i64 {
                let time = start + Duration::minutes(k * 95 + w * 7);
                let employee = ["emp_a", "emp_b", "emp_c", "emp_d"][w as usize];
                let s = sample(employee, Some("Core"), time, 0.1, 0.2, 0.3, 40.0 + k as f64);
                if k % 2 == 0 {
                    store.write_sample(&s).await.unwrap();
                } else {
                    store.write_batch(&[s]).await.unwrap();
                }
            }
        })
    });
    let refresher = {
        let store = store.clone();
        tokio::spawn(async move {
            for h in 0..=48 {
                store
                    .refresh_rollup(start + Duration::hours(h))
                    .await
                    .unwrap();
            }
        })
    };
    for task in writers.chain([refresher]) {
        task.await.unwrap();
    }
    store.refresh_rollup(now()).await.unwrap();
    let a = answers(&store).await;
    for s in &a.stats {
        assert_eq!(s.count, 120, "{s:?}");
    }
    assert_eq!(a.team.iter().map(|d| d.samples).sum::<i64>(), 120);
}

/// Writers into hours already materialised, all at once: each write's
/// samples are in the rollup's answers as soon as its call returns, though
/// on timescale the refreshes the writes ask for are merged (one writer
/// refreshes every window queued while another refresh ran, the others
/// return when it is done).
async fn late_writes_at_once_are_each_visible_when_they_return(store: Store) {
    seed(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    let start = now() - Duration::days(6);
    let writers = (0..6i64).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let employee = format!("emp_w{w}");
            for k in 0..8i64 {
                // Writers 0-2 share days; 3-5 write days of their own.
                let time = start + Duration::hours(k * 5 + (w % 3) + (w / 3) * 72);
                let batch = [
                    sample(
                        &employee,
                        Some("Core"),
                        time,
                        0.1,
                        0.2,
                        0.3,
                        40.0 + k as f64,
                    ),
                    sample(
                        &employee,
                        Some("Core"),
                        time + Duration::minutes(15),
                        0.1,
                        0.2,
                        0.3,
                        50.0,
                    ),
                ];
                store.write_batch(&batch).await.unwrap();
                let hours = hours_of(&store, &employee).await;
                let counted: i64 = hours.iter().map(|h| h.samples).sum();
                assert_eq!(counted, 2 * (k + 1), "{employee} after its write {k}");
                let hour = hours
                    .iter()
                    .find(|h| h.time == time)
                    .expect("the written hour");
                assert!(
                    (hour.burnout_score - (90.0 + k as f64) / 2.0).abs() < 1e-9,
                    "{employee} {hour:?}"
                );
            }
        })
    });
    for task in writers {
        task.await.unwrap();
    }
    let at_once = answers(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    assert_same(&at_once, &answers(&store).await);
}

/// A database made before the organisation's hours and member-days
/// (version 7) has materialised hours: after the migration every answer
/// stays the same. On portable the migration fills both stores from the
/// materialised hours; on timescale the new continuous aggregates start
/// empty and answer in real time until the next refresh.
async fn upgrading_from_version_7_keeps_every_answer(store: Store) {
    seed(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    let before = answers(&store).await;
    // Back to version 7: what migration 8 made (and portable's 10 revised,
    // and timescale's 11 turned into views), gone; opening applies 8 as
    // released, then 10 and 11.
    let undo = match store.engine() {
        Engine::Portable => {
            "DROP FUNCTION team_member_days(text, timestamptz, timestamptz);
             DROP VIEW metrics_hourly_org, rollup_invalid_days;
             DROP FUNCTION org_hours_from_raw(timestamptz, timestamptz);
             DROP FUNCTION org_hours_from_store(timestamptz, timestamptz);
             DROP FUNCTION team_days_from_store(timestamptz, timestamptz);
             DROP TABLE metrics_hourly_org_store, employee_team_daily_store;"
        }
        // And what 11 made of the aggregates: the union views and the
        // backfill tables, the hourly aggregate under its old name.
        Engine::Timescale => {
            "DROP FUNCTION team_member_days(text, timestamptz, timestamptz);
             DROP VIEW metrics_hourly_org, employee_metrics_hourly;
             DROP TABLE employee_metrics_hourly_backfill, metrics_hourly_org_backfill,
                        employee_team_daily_backfill CASCADE;
             ALTER MATERIALIZED VIEW employee_metrics_hourly_cagg RENAME TO employee_metrics_hourly;
             DROP MATERIALIZED VIEW employee_team_daily;
             DROP MATERIALIZED VIEW metrics_hourly_org_cagg;"
        }
    };
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .batch_execute(&format!(
            "{undo} DELETE FROM schema_migrations WHERE version IN (8, 10, 11);"
        ))
        .await
        .unwrap();
    let upgraded = Store::open(store.settings().clone()).await.unwrap();
    if store.engine() == Engine::Portable {
        assert_eq!(count_rows(&upgraded, "metrics_hourly_org_store").await, 6);
        assert_eq!(count_rows(&upgraded, "employee_team_daily_store").await, 3);
    }
    assert_same(&before, &answers(&upgraded).await);
    upgraded.refresh_rollup(now()).await.unwrap();
    assert_same(&before, &answers(&upgraded).await);
}

/// An employee's team at an instant (the intervention effect's team at
/// activation): the team of its last hour within the 14 days before, the
/// same whether the hours are raw, stored, or stored and invalidated.
async fn the_team_at_an_instant_is_the_last_hours_team(store: Store) {
    seed(&store).await;
    let emp = |e: &str| EmployeeId::parse(e).unwrap();
    // emp_c was in Edge on 1 and 10 June; it moves to Core at 10 June 11:00.
    let moved = sample("emp_c", Some("Core"), at(10, 11, 0), 0.9, 0.8, 0.6, 70.0);
    store.write_sample(&moved).await.unwrap();
    let check = |what: &'static str| {
        let store = store.clone();
        async move {
            let team_at = |e: &'static str, t| {
                let store = store.clone();
                async move { store.team_at(&emp(e), t).await.unwrap() }
            };
            // The hour that holds the instant counts.
            assert_eq!(
                team_at("emp_c", at(10, 10, 30)).await.as_deref(),
                Some("Edge"),
                "{what}"
            );
            assert_eq!(
                team_at("emp_c", at(10, 11, 30)).await.as_deref(),
                Some("Core"),
                "{what}"
            );
            assert_eq!(
                team_at("emp_c", at(9, 0, 0)).await.as_deref(),
                Some("Edge"),
                "{what}"
            );
            // No hour within the 14 days before: no team.
            assert_eq!(team_at("emp_d", at(10, 0, 0)).await, None, "{what}");
            assert_eq!(team_at("emp_a", at(9, 9, 0)).await, None, "{what}");
            assert_eq!(
                team_at("emp_a", at(9, 10, 0)).await.as_deref(),
                Some("Core"),
                "{what}"
            );
            assert_eq!(team_at("nobody", at(10, 0, 0)).await, None, "{what}");
        }
    };
    check("raw hours").await;
    store.refresh_rollup(now()).await.unwrap();
    check("stored hours").await;
    // A late sample moves emp_a to Edge in its already stored 10 June 09:00
    // hour (the hour's team is its last sample's): seen at once.
    let late = sample("emp_a", Some("Edge"), at(10, 9, 50), 0.5, 0.1, 0.3, 80.0);
    store.write_sample(&late).await.unwrap();
    let team = store.team_at(&emp("emp_a"), at(10, 9, 55)).await.unwrap();
    assert_eq!(team.as_deref(), Some("Edge"), "an invalidated hour");
    check("invalidated hours").await;
    store.refresh_rollup(now()).await.unwrap();
    let team = store.team_at(&emp("emp_a"), at(10, 9, 55)).await.unwrap();
    assert_eq!(team.as_deref(), Some("Edge"), "the hour recomputed");
    check("recomputed hours").await;
}

/// History written after the first refresh (a bulk load into a running
/// service) goes into hours the rollup has materialised. On portable the
/// writer adds a batch of new samples to the stored hours itself, so the
/// refresh has nothing to recompute; every answer is the one computed from
/// the raw rows. A batch written again, and a sample that changes the team
/// of an (employee, hour) the store holds, cannot be added: their hours are
/// recorded for the refresh instead, and the answers count each sample once.
async fn history_written_after_the_first_refresh_is_rolled_up_by_the_writer(store: Store) {
    store.refresh_rollup(now()).await.unwrap();
    seed(&store).await;
    let teamless = |h: u32| sample("emp_n", None, at(9, h, 0), 0.2, 0.2, 0.2, 50.0);
    store.write_batch(&[teamless(8)]).await.unwrap();
    let portable = store.engine() == Engine::Portable;
    if portable {
        assert_eq!(count_rows(&store, "rollup_invalidations").await, 0);
        // Eight (employee, hour)s, seven hours, and the member-days of the
        // days before the watermark's (10 June): emp_a and emp_n (no team)
        // on 9 June, emp_c on 1 June, emp_d on 1 May.
        assert_eq!(count_rows(&store, "employee_metrics_hourly_store").await, 8);
        assert_eq!(count_rows(&store, "metrics_hourly_org_store").await, 7);
        assert_eq!(count_rows(&store, "employee_team_daily_store").await, 4);
    }
    let kept = answers(&store).await;
    assert_eq!(kept.stats[3].count, 9);
    // New hours of stored member-days (emp_a in Core and emp_n without a
    // team, 9 June), and a new hour of the watermark's day.
    let more = [
        sample("emp_a", Some("Core"), at(9, 11, 0), 0.3, 0.2, 0.1, 20.0),
        sample("emp_b", Some("Core"), at(10, 8, 0), 0.1, 0.1, 0.1, 30.0),
        teamless(9),
    ];
    store.write_batch(&more).await.unwrap();
    if portable {
        assert_eq!(count_rows(&store, "rollup_invalidations").await, 0);
        assert_eq!(
            count_rows(&store, "employee_metrics_hourly_store").await,
            11
        );
        assert_eq!(count_rows(&store, "employee_team_daily_store").await, 4);
    }
    // A batch meeting a stored (employee, hour): its sums are added where
    // the hour keeps its team, and a new (employee, hour) is inserted.
    let overlapping = [
        sample("emp_a", Some("Core"), at(9, 11, 30), 0.3, 0.2, 0.1, 25.0),
        sample("emp_m", Some("Core"), at(9, 12, 0), 0.3, 0.2, 0.1, 35.0),
    ];
    store.write_batch(&overlapping).await.unwrap();
    if portable {
        assert_eq!(count_rows(&store, "rollup_invalidations").await, 0);
        assert_eq!(
            count_rows(&store, "employee_metrics_hourly_store").await,
            12
        );
        assert_eq!(count_rows(&store, "employee_team_daily_store").await, 5);
    }
    let added = answers(&store).await;
    let june_9: Vec<_> = added
        .team
        .iter()
        .filter(|d| d.day == at(9, 0, 0).date_naive())
        .map(|d| (d.members, d.samples, d.burnout_max))
        .collect();
    assert_eq!(june_9, [(2, 4, 60.0)]);
    assert_eq!(added.stats[3].count, 14);
    assert_eq!(added.stats[3].min, Some(20.0));
    // The same batch again: nothing new, nothing counted twice.
    let again = store.write_batch(&dataset()).await.unwrap();
    assert_eq!((again.stored, again.changed), (8, 0));
    // A sample into emp_a's stored 10 June 09:00 hour that changes its
    // team: not added, the hour is recomputed.
    let late = sample("emp_a", Some("Edge"), at(10, 9, 45), 0.6, 0.2, 0.4, 100.0);
    store.write_batch(&[late]).await.unwrap();
    if portable {
        assert!(count_rows(&store, "rollup_invalidations").await > 0);
    }
    let late_answers = answers(&store).await;
    let nine = late_answers
        .hourly
        .iter()
        .find(|p| p.time == at(10, 9, 0))
        .unwrap();
    assert_eq!((nine.samples, nine.team.as_deref()), (3, Some("Edge")));
    assert_eq!(late_answers.stats[3].count, 15);
    // Every stored hour recomputed from raw rows gives the same answers.
    store.refresh_rollup(now()).await.unwrap();
    if portable {
        let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
        client
            .execute(
                "INSERT INTO rollup_invalidations (bucket)
                 SELECT DISTINCT bucket FROM employee_metrics_hourly_store",
                &[],
            )
            .await
            .unwrap();
        store.refresh_rollup(now()).await.unwrap();
        assert_eq!(count_rows(&store, "rollup_invalidations").await, 0);
        assert_eq!(count_rows(&store, "employee_team_daily_store").await, 5);
    }
    assert_same(&late_answers, &answers(&store).await);
}

/// An alert's window from within an hour, over materialised hours (which
/// portable reads from the rollup): the samples of the first hour before the
/// window's start are not counted, those after the watermark and a late
/// sample into a materialised hour are.
async fn alerts_over_materialised_hours_count_exactly_the_windows_samples(store: Store) {
    let w = |time, burnout| sample("emp_w", Some("Core"), time, 0.1, 0.1, 0.1, burnout);
    store
        .write_batch(&[
            w(at(3, 11, 20), 95.0),
            w(at(3, 11, 50), 60.0),
            w(at(5, 10, 0), 70.0),
            w(at(10, 10, 30), 80.0),
        ])
        .await
        .unwrap();
    let watermark = at(10, 11, 0);
    store.refresh_rollup(watermark).await.unwrap();
    store.write_sample(&w(at(10, 11, 45), 65.0)).await.unwrap();
    // From 3 June 11:35.
    let start = now() - Duration::minutes(25);
    let alert = |store: Store| async move {
        let alerts = store
            .burnout_alerts(
                Threshold::new(0.0).unwrap(),
                AlertDays::new(7).unwrap(),
                start,
            )
            .await
            .unwrap();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = alerts.into_iter().next().unwrap();
        (
            a.latest_score,
            a.latest_time,
            a.peak_score,
            a.samples,
            a.average_score,
        )
    };
    let (latest, time, peak, samples, average) = alert(store.clone()).await;
    assert_eq!(
        (latest, time, peak, samples),
        (65.0, at(10, 11, 45), 80.0, 4)
    );
    assert!((average - 68.75).abs() < 1e-9, "{average}");
    // A late sample into the materialised 5 June 10:00 hour.
    store.write_sample(&w(at(5, 10, 30), 90.0)).await.unwrap();
    let (_, _, peak, samples, average) = alert(store.clone()).await;
    assert_eq!((peak, samples), (90.0, 5));
    assert!((average - 73.0).abs() < 1e-9, "{average}");
    // Materialised again, the same.
    store.refresh_rollup(watermark).await.unwrap();
    let (_, _, peak, samples, average) = alert(store.clone()).await;
    assert_eq!((peak, samples), (90.0, 5));
    assert!((average - 73.0).abs() < 1e-9, "{average}");
}

/// A sample in a materialised hour that the rollup has not caught up with
/// yet (on timescale, TimescaleDB's invalidation logs hold it until a
/// refresh; on portable, the hour is in `rollup_invalidations`): the
/// alerts read the window from raw rows and count it.
async fn alerts_count_a_sample_whose_hour_waits_for_its_refresh(store: Store) {
    let w = |time, burnout| sample("emp_p", Some("Core"), time, 0.1, 0.1, 0.1, burnout);
    store
        .write_batch(&[w(at(5, 10, 0), 70.0), w(at(10, 10, 30), 80.0)])
        .await
        .unwrap();
    store.refresh_rollup(at(10, 11, 0)).await.unwrap();
    // Written around the service, as a write whose refresh failed leaves it.
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .execute(
            "INSERT INTO employee_metrics (time, employee_id, team, degree_centrality,
                 betweenness_centrality, clustering_coeff, burnout_score)
             VALUES ($1, 'emp_p', 'Core', 0.1, 0.1, 0.1, 99.0)",
            &[&at(5, 14, 0)],
        )
        .await
        .unwrap();
    if store.engine() == Engine::Portable {
        client
            .execute(
                "INSERT INTO rollup_invalidations (bucket) VALUES ($1)",
                &[&at(5, 14, 0)],
            )
            .await
            .unwrap();
    }
    let alerts = store
        .burnout_alerts(
            Threshold::new(0.0).unwrap(),
            AlertDays::new(7).unwrap(),
            now() - Duration::minutes(25),
        )
        .await
        .unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!((a.peak_score, a.samples), (99.0, 3), "{a:?}");
    assert!((a.average_score - 83.0).abs() < 1e-9, "{a:?}");
}

/// The member-days the analytics read (the organisation's, and emp_a's).
async fn member_days_of(store: &Store) -> Vec<MemberDay> {
    let mut days = store
        .member_days(at(1, 0, 0), at(11, 0, 0), None)
        .await
        .unwrap();
    days.extend(
        store
            .employee_days(
                &EmployeeId::parse("emp_a").unwrap(),
                at(1, 0, 0),
                at(11, 0, 0),
                None,
            )
            .await
            .unwrap(),
    );
    days
}

fn assert_same_days(a: &[MemberDay], b: &[MemberDay]) {
    assert_eq!(a.len(), b.len(), "{a:?} {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.day, &x.employee_id, &x.team, x.samples),
            (y.day, &y.employee_id, &y.team, y.samples)
        );
        for (m, n) in x.means.iter().zip(&y.means) {
            assert!((m - n).abs() < 1e-9, "{x:?} {y:?}");
        }
    }
}

/// Hours written after they were materialised, read while the refresh
/// that covers them waits and after it: on timescale the store's refresher
/// (migration 28), held here by a lock on the hourly aggregate's
/// materialised hypertable; on portable the next refresh job. Every read
/// (trends, statistics, alerts, member-days) already counts the late
/// samples, and answers the same once the refresh has run.
async fn hours_written_late_read_the_same_before_and_after_their_refresh(store: Store) {
    seed(&store).await;
    store.refresh_rollup(now()).await.unwrap();
    let timescale = store.engine() == Engine::Timescale;
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let late_rows = || async {
        let n: i64 = client
            .query_one("SELECT count(*) FROM late_hours", &[])
            .await
            .unwrap()
            .get(0);
        n
    };
    if timescale {
        // The seed's own late hours refreshed, so the hold below is on ours.
        organism_testkit::until("the seed's late hours refreshed", WAIT, || async {
            match late_rows().await {
                0 => Ok(()),
                n => Err(format!("{n} late hours")),
            }
        })
        .await;
        let mat: String = client
            .query_one(
                "SELECT (cagg_materialised('employee_metrics_hourly_cagg')).hypertable",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        client
            .batch_execute(&format!("BEGIN; LOCK TABLE {mat} IN SHARE MODE"))
            .await
            .unwrap();
    }
    let before = member_days_of(&store).await;
    // Into the materialised 09:00 hour of 10 June (a batch), a correction
    // of 9 June's 60 (one sample), and a new member-day of emp_d.
    let late = sample("emp_a", Some("Core"), at(10, 9, 45), 0.6, 0.2, 0.4, 100.0);
    let new_day = sample("emp_d", Some("Edge"), at(9, 8, 0), 0.3, 0.3, 0.3, 50.0);
    store.write_batch(&[late, new_day]).await.unwrap();
    let fix = sample("emp_a", Some("Core"), at(9, 10, 0), 0.4, 0.2, 0.2, 30.0);
    store.write_sample(&fix).await.unwrap();
    let check = |a: &Answers, days: &[MemberDay]| {
        let h = a
            .hourly
            .iter()
            .find(|h| h.time == at(10, 9, 0))
            .expect("the 09:00 hour");
        assert_eq!((h.samples, h.burnout_max), (3, 100.0));
        let first = a.hourly.iter().find(|h| h.time == at(9, 10, 0)).unwrap();
        assert_eq!(first.burnout_score, 30.0);
        assert_eq!(burnout_peaks(a), (30.0, 100.0, Some(100.0)));
        let day = |e: &str, d: u32| {
            days.iter()
                .find(|m| {
                    m.employee_id == e && m.day == at(d, 0, 0).date_naive() && m.team.is_some()
                })
                .map(|m| (m.samples, m.means[3]))
        };
        assert_eq!(day("emp_a", 10), Some((3, 90.0)));
        assert_eq!(day("emp_a", 9), Some((1, 30.0)));
        assert_eq!(day("emp_d", 9), Some((1, 50.0)));
        assert_eq!(days.len(), before.len() + 1, "emp_d's new day");
    };
    let waiting = answers(&store).await;
    let waiting_days = member_days_of(&store).await;
    check(&waiting, &waiting_days);
    if timescale {
        assert!(
            late_rows().await >= 2,
            "the late hours wait for their refresh"
        );
        client.batch_execute("COMMIT").await.unwrap();
        organism_testkit::until("the late hours refreshed", WAIT, || async {
            match late_rows().await {
                0 => Ok(()),
                n => Err(format!("{n} late hours")),
            }
        })
        .await;
    } else {
        store.refresh_rollup(now()).await.unwrap();
    }
    let refreshed = answers(&store).await;
    let refreshed_days = member_days_of(&store).await;
    check(&refreshed, &refreshed_days);
    assert_same(&waiting, &refreshed);
    assert_same_days(&waiting_days, &refreshed_days);
}

const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

organism_testkit::engine_tests!(
    upgrading_from_version_7_keeps_every_answer,
    history_written_after_the_first_refresh_is_rolled_up_by_the_writer,
    writes_racing_refreshes_are_all_rolled_up,
    late_writes_at_once_are_each_visible_when_they_return,
    the_materialised_rollup_equals_the_raw_aggregation,
    late_data_is_visible_at_once_and_materialised_at_the_next_refresh,
    hours_after_the_watermark_come_from_raw_rows,
    the_team_at_an_instant_is_the_last_hours_team,
    alerts_over_materialised_hours_count_exactly_the_windows_samples,
    alerts_count_a_sample_whose_hour_waits_for_its_refresh,
    hours_written_late_read_the_same_before_and_after_their_refresh,
);
