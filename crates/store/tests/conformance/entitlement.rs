//! Entitlement by sample (DESIGN.md §11): what a key restricted to teams
//! reads is decided by the team of each sample's hour (the team of the
//! employee's last sample in that UTC hour), the same way for raw trends,
//! hourly trends, team aggregates and alerts, so that an aggregate never
//! holds a sample the key could not read directly. And the manager's view:
//! whole days only, the minimum group size, noisy means of member means.
//!
//! The mover `emp_m` (clock fixed at 2026-06-10 12:00 UTC):
//!
//! | time (UTC)       | team recorded | hour counts for | burnout |
//! |------------------|---------------|-----------------|---------|
//! | 2026-06-09 08:10 | Edge          | Edge            | 31      |
//! | 2026-06-09 09:05 | Edge          | Core (mixed)    | 32      |
//! | 2026-06-09 09:50 | Core          | Core            | 51      |
//! | 2026-06-10 09:00 | Core          | Core            | 52      |
//! | 2026-06-10 10:30 | Edge          | Edge            | 33      |

use chrono::NaiveDate;
use organism_domain::privacy::Epsilon;
use organism_domain::{AlertDays, EmployeeId, MinGroupSize, TeamName, Threshold, TimeRange};
use organism_testkit::organism_store::queries::{ManagerPrivacy, ManagerTeamTrend, TrendPoints};
use organism_testkit::organism_store::{Store, StoreError};

use crate::data::{at, now, sample};

fn emp(id: &str) -> EmployeeId {
    EmployeeId::parse(id).unwrap()
}

fn teams(names: &[&str]) -> Vec<String> {
    names.iter().map(|t| t.to_string()).collect()
}

fn two_days() -> TimeRange {
    TimeRange::new(at(9, 0, 0), at(11, 0, 0)).unwrap()
}

/// The mover, and four steady Core members on 2026-06-09 (burnout 10, 20,
/// 30, 40 at 09:30, and the first of them again at 10:30 with 50).
async fn seed(store: &Store) {
    let mut batch = vec![
        sample("emp_m", Some("Edge"), at(9, 8, 10), 0.1, 0.1, 0.1, 31.0),
        sample("emp_m", Some("Edge"), at(9, 9, 5), 0.1, 0.1, 0.1, 32.0),
        sample("emp_m", Some("Core"), at(9, 9, 50), 0.1, 0.1, 0.1, 51.0),
        sample("emp_m", Some("Core"), at(10, 9, 0), 0.1, 0.1, 0.1, 52.0),
        sample("emp_m", Some("Edge"), at(10, 10, 30), 0.1, 0.1, 0.1, 33.0),
        sample("emp_k1", Some("Core"), at(9, 10, 30), 0.2, 0.2, 0.2, 50.0),
    ];
    for (i, burnout) in [10.0, 20.0, 30.0, 40.0].into_iter().enumerate() {
        batch.push(sample(
            &format!("emp_k{}", i + 1),
            Some("Core"),
            at(9, 9, 30),
            0.2,
            0.2,
            0.2,
            burnout,
        ));
    }
    batch.push(sample(
        "emp_e",
        Some("Edge"),
        at(9, 9, 0),
        0.3,
        0.3,
        0.3,
        77.0,
    ));
    store.write_batch(&batch).await.unwrap();
}

fn burnout_of(points: &TrendPoints) -> Vec<f64> {
    match points {
        TrendPoints::Raw(p) => p.iter().map(|p| p.burnout_score).collect(),
        TrendPoints::Hourly(p) => p.iter().map(|p| p.burnout_score).collect(),
    }
}

async fn a_restricted_reader_reads_the_samples_of_its_teams_hours_only(store: Store) {
    seed(&store).await;
    let core = teams(&["Core"]);
    let edge = teams(&["Edge"]);
    let raw = |t: Vec<String>| {
        let store = store.clone();
        async move {
            store
                .employee_trend_as(&emp("emp_m"), two_days(), false, Some(&t))
                .await
                .unwrap()
        }
    };
    // The 09:05 sample was recorded in Edge, but its hour ended in Core.
    assert_eq!(
        burnout_of(&raw(core.clone()).await.points),
        vec![32.0, 51.0, 52.0]
    );
    assert_eq!(
        burnout_of(&raw(edge.clone()).await.points),
        vec![31.0, 33.0]
    );
    // Unrestricted: everything.
    let all = store
        .employee_trend(&emp("emp_m"), two_days(), false)
        .await
        .unwrap();
    assert_eq!(burnout_of(&all.points), vec![31.0, 32.0, 51.0, 52.0, 33.0]);
    // A range cutting an hour still judges the hour by its last sample.
    let cut = TimeRange::new(at(9, 9, 0), at(9, 9, 30)).unwrap();
    let trend = store
        .employee_trend_as(&emp("emp_m"), cut, false, Some(&core))
        .await
        .unwrap();
    assert_eq!(burnout_of(&trend.points), vec![32.0]);
    let trend = store
        .employee_trend_as(&emp("emp_m"), cut, false, Some(&edge))
        .await
        .unwrap();
    assert_eq!(burnout_of(&trend.points), Vec::<f64>::new());

    // Hourly: the same hours.
    let hourly = store
        .employee_trend_as(&emp("emp_m"), two_days(), true, Some(&core))
        .await
        .unwrap();
    assert_eq!(burnout_of(&hourly.points), vec![41.5, 52.0]);
    let hourly = store
        .employee_trend_as(&emp("emp_m"), two_days(), true, Some(&edge))
        .await
        .unwrap();
    assert_eq!(burnout_of(&hourly.points), vec![31.0, 33.0]);

    // Never in Core, unknown: not visible, and told apart from nothing.
    for id in ["emp_e", "emp_nobody"] {
        let err = store
            .employee_trend_as(&emp(id), two_days(), false, Some(&core))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::NotVisible { .. }),
            "{id}: {err:?}"
        );
    }
    // Visible at some time, nothing in this range: an empty answer.
    let empty = TimeRange::new(at(1, 0, 0), at(2, 0, 0)).unwrap();
    let trend = store
        .employee_trend_as(&emp("emp_m"), empty, true, Some(&core))
        .await
        .unwrap();
    assert!(trend.points.is_empty());
}

async fn a_team_aggregate_holds_exactly_the_samples_its_reader_can_read(store: Store) {
    seed(&store).await;
    let core = teams(&["Core"]);
    let team = TeamName::parse("Core").unwrap();
    for refreshed in [false, true] {
        if refreshed {
            store.refresh_rollup(now()).await.unwrap();
        }
        let trend = store
            .team_trend(&team, organism_domain::TrendDays::new(2).unwrap(), now())
            .await
            .unwrap();
        // What the Core reader reads individually, per day.
        let mut readable: Vec<(NaiveDate, f64)> = Vec::new();
        for id in ["emp_m", "emp_k1", "emp_k2", "emp_k3", "emp_k4"] {
            let t = store
                .employee_trend_as(&emp(id), two_days(), false, Some(&core))
                .await
                .unwrap();
            let TrendPoints::Raw(points) = t.points else {
                panic!("raw")
            };
            readable.extend(
                points
                    .iter()
                    .map(|p| (p.time.date_naive(), p.burnout_score)),
            );
        }
        for day in &trend.days {
            let values: Vec<f64> = readable
                .iter()
                .filter(|(d, _)| *d == day.day)
                .map(|(_, v)| *v)
                .collect();
            assert_eq!(
                day.samples,
                values.len() as i64,
                "refreshed {refreshed}: {day:?}"
            );
            let sum: f64 = values.iter().sum();
            assert!(
                (day.burnout_score * day.samples as f64 - sum).abs() < 1e-9,
                "refreshed {refreshed}: {day:?} against {values:?}"
            );
            let max = values.iter().copied().fold(f64::MIN, f64::max);
            assert_eq!(day.burnout_max, max, "refreshed {refreshed}");
        }
        assert_eq!(trend.days.len(), 2, "{trend:?}");
        assert_eq!(trend.days[0].members, 5);
    }
}

async fn a_restricted_readers_alerts_are_computed_from_its_samples(store: Store) {
    seed(&store).await;
    let threshold = Threshold::new(30.0).unwrap();
    let days = AlertDays::new(2).unwrap();
    let core = teams(&["Core"]);
    let alerts = store
        .burnout_alerts_in(threshold, days, now(), Some(&core))
        .await
        .unwrap();
    let m = alerts
        .iter()
        .find(|a| a.employee_id == "emp_m")
        .expect("the mover's Core hours alert the Core reader");
    assert_eq!(m.latest_score, 52.0);
    assert_eq!(m.latest_time, at(10, 9, 0));
    assert_eq!(m.peak_score, 52.0);
    assert_eq!(m.samples, 3);
    assert!((m.average_score - 45.0).abs() < 1e-9);
    assert_eq!(m.team.as_deref(), Some("Core"));
    // emp_e was never in Core; emp_k1's latest is 50 (its 10:30 sample),
    // emp_k2's 20 is below the threshold.
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.employee_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["emp_k1", "emp_k3", "emp_k4", "emp_m"]);
    for a in &alerts {
        assert!(a.latest_score >= 30.0 && a.peak_score < 77.0, "{a:?}");
    }
    // Unrestricted: the mover's latest sample is its Edge one.
    let all = store.burnout_alerts(threshold, days, now()).await.unwrap();
    let m = all.iter().find(|a| a.employee_id == "emp_m").unwrap();
    assert_eq!(m.latest_score, 33.0);
    assert_eq!(m.samples, 5);
}

/// Core's trend over the last `days` days as a manager sees it.
async fn manager_trend(store: &Store, days: u32, privacy: &ManagerPrivacy) -> ManagerTeamTrend {
    store
        .team_trend_for_manager(
            &TeamName::parse("Core").unwrap(),
            organism_domain::TrendDays::new(days.into()).unwrap(),
            now(),
            privacy,
        )
        .await
        .unwrap()
}

async fn a_manager_sees_whole_days_suppressed_small_groups_and_noisy_member_means(store: Store) {
    seed(&store).await;
    // A day of three members before: suppressed.
    let three: Vec<_> = (1..=3)
        .map(|i| {
            sample(
                &format!("emp_k{i}"),
                Some("Core"),
                at(8, 9, 0),
                0.2,
                0.2,
                0.2,
                60.0,
            )
        })
        .collect();
    store.write_batch(&three).await.unwrap();
    let privacy = ManagerPrivacy {
        min_group_size: MinGroupSize::new(5).unwrap(),
        epsilon: Epsilon::new(10.0).unwrap(),
    };
    let trend = manager_trend(&store, 3, &privacy).await;
    // Today (2026-06-10) is not shown: it is not over.
    let days: Vec<NaiveDate> = trend.days.iter().map(|d| d.day).collect();
    assert_eq!(
        days,
        vec![
            NaiveDate::from_ymd_opt(2026, 6, 8).unwrap(),
            NaiveDate::from_ymd_opt(2026, 6, 9).unwrap()
        ]
    );
    let small = &trend.days[0];
    assert!(small.suppressed);
    assert_eq!(small.members, None);
    assert_eq!(small.burnout_score, None);
    assert_eq!(small.noise_scale_burnout, None);
    let day = &trend.days[1];
    assert!(!day.suppressed);
    assert_eq!(day.members, Some(5));
    // Member means on 06-09: emp_m (32+51)/2 = 41.5, emp_k1 (10+50)/2 = 30,
    // 20, 30, 40: their mean is 32.3. The noise's scale is 100 / (5 · 10).
    let truth = (41.5 + 30.0 + 20.0 + 30.0 + 40.0) / 5.0;
    let burnout_scale = day.noise_scale_burnout.unwrap();
    let centrality_scale = day.noise_scale_centralities.unwrap();
    assert_eq!(burnout_scale, 2.0);
    assert_eq!(centrality_scale, 0.02);
    let shown = day.burnout_score.unwrap();
    assert_ne!(shown, truth, "no noise was added");
    // 25 scales away happens with probability e^-25.
    assert!((shown - truth).abs() < 25.0 * burnout_scale, "{shown}");
    for v in [
        day.degree_centrality,
        day.betweenness_centrality,
        day.clustering_coeff,
    ] {
        let v = v.unwrap();
        assert!((0.0..=1.0).contains(&v) && (v - 0.2).abs() < 25.0 * centrality_scale);
    }
    // The same data gives the same answer, for any window that holds the day.
    for n in [2, 3, 30] {
        let again = manager_trend(&store, n, &privacy).await;
        let same = again.days.iter().find(|d| d.day == day.day).unwrap();
        assert_eq!(same, day, "days={n}");
    }
    // After a refresh of the rollups, still the same.
    store.refresh_rollup(now()).await.unwrap();
    let again = manager_trend(&store, 3, &privacy).await;
    assert_eq!(&again.days[1], day);
    // A change of the data is a new release with a fresh draw.
    store
        .write_batch(&[sample(
            "emp_k2",
            Some("Core"),
            at(9, 11, 0),
            0.2,
            0.2,
            0.2,
            21.0,
        )])
        .await
        .unwrap();
    let changed = manager_trend(&store, 3, &privacy).await;
    assert_ne!(changed.days[1].burnout_score, day.burnout_score);
}

organism_testkit::engine_tests!(
    a_restricted_reader_reads_the_samples_of_its_teams_hours_only,
    a_team_aggregate_holds_exactly_the_samples_its_reader_can_read,
    a_restricted_readers_alerts_are_computed_from_its_samples,
    a_manager_sees_whole_days_suppressed_small_groups_and_noisy_member_means,
);
