//! Alert rules evaluated as samples commit: states, episodes, deliveries,
//! the feed and the audit chain (common migration 20).

use chrono::{Duration, Utc};
use organism_domain::alert::{
    AlertRule, DestinationFormat, Direction, RuleId, RuleKind, WebhookUrl,
};
use organism_domain::{
    Actor, EmployeeId, MetricName, MetricSample, MetricValues, SampleWindow, TeamName,
};
use organism_testkit::organism_store::Store;
use organism_testkit::organism_store::alerts::{
    AttemptRecord, DailyObservation, NewAlertRule, NewDestination, NextStep,
};
use organism_testkit::organism_store::audit::AuditFilter;

use crate::data::count_rows;

fn live(employee: &str, team: &str, minutes_ago: i64, burnout: f64) -> MetricSample {
    let now = Utc::now();
    MetricSample::new(
        now - Duration::minutes(minutes_ago),
        EmployeeId::parse(employee).unwrap(),
        Some(TeamName::parse(team).unwrap()),
        MetricValues::new(0.5, 0.1, 0.3, burnout).unwrap(),
        &SampleWindow::new(now, 730),
    )
    .unwrap()
}

fn rule(id: &str, team: Option<&str>, min_samples: u32, destinations: usize) -> NewAlertRule {
    NewAlertRule {
        rule_id: Some(RuleId::parse(id).unwrap()),
        rule: AlertRule::new(
            "High burnout".into(),
            MetricName::BurnoutScore,
            (RuleKind::Threshold, None),
            Direction::Above,
            80.0,
            5.0,
            team.map(|t| TeamName::parse(t).unwrap()),
            min_samples,
        )
        .unwrap(),
        enabled: true,
        destinations: (0..destinations)
            .map(|i| NewDestination {
                url: WebhookUrl::parse("url", format!("http://127.0.0.1:9/hook{i}")).unwrap(),
                format: DestinationFormat::Json,
                timeout_ms: 1000,
                max_in_flight: 2,
            })
            .collect(),
        actor: Actor::parse("hr.partner").unwrap(),
    }
}

async fn evaluate(store: &Store) -> (usize, usize, usize) {
    let done = store.evaluate_realtime(10_000).await.unwrap();
    assert!(!done.busy);
    (done.samples, done.changes, done.deliveries)
}

async fn states(store: &Store, rule: &str) -> Vec<(String, String)> {
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .query(
            "SELECT employee_id, state FROM alert_states WHERE rule_id = $1 ORDER BY employee_id",
            &[&rule],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn alert_events(store: &Store) -> Vec<(String, Option<String>, String)> {
    let page = store.audit_events(&AuditFilter::default()).await.unwrap();
    page.events
        .into_iter()
        .filter(|e| e.action.starts_with("alert_"))
        .map(|e| (e.action, e.target_employee_id, e.intervention_id))
        .collect()
}

async fn an_episode_is_notified_once_when_it_fires_and_once_when_it_resolves(store: Store) {
    // Nothing wants samples yet: the inbox stays empty.
    store
        .write_batch(&[live("emp_a", "Core", 50, 90.0)])
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "realtime_inbox").await, 0);

    let created = store
        .create_alert_rule(rule("r1", None, 1, 2))
        .await
        .unwrap();
    assert!(created.created);
    assert_eq!(created.secrets.len(), 2);
    assert!(created.secrets.iter().all(|s| s.secret.len() == 64));

    // Written out of order in one batch; stepped in time order.
    store
        .write_batch(&[
            live("emp_a", "Core", 30, 90.0),
            live("emp_a", "Core", 40, 70.0),
            live("emp_b", "Core", 40, 60.0),
        ])
        .await
        .unwrap();
    store
        .write_sample(&live("emp_a", "Core", 20, 77.0))
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "realtime_inbox").await, 4);
    // 70 (ok), 90 (fires), 77 (in the band: still firing).
    assert_eq!(evaluate(&store).await, (4, 1, 2));
    assert_eq!(count_rows(&store, "realtime_inbox").await, 0);
    assert_eq!(
        states(&store, "r1").await,
        [
            ("emp_a".into(), "firing".into()),
            ("emp_b".into(), "ok".into())
        ]
    );

    // The same batch again (a retry) and a late sample change nothing.
    store
        .write_batch(&[
            live("emp_a", "Core", 30, 90.0),
            live("emp_a", "Core", 25, 10.0),
        ])
        .await
        .unwrap();
    assert_eq!(evaluate(&store).await, (2, 0, 0));

    // Back below threshold − hysteresis: resolved, same episode.
    store
        .write_sample(&live("emp_a", "Core", 10, 74.0))
        .await
        .unwrap();
    assert_eq!(evaluate(&store).await, (1, 1, 2));
    // And over again: a new episode.
    store
        .write_sample(&live("emp_a", "Core", 5, 85.0))
        .await
        .unwrap();
    assert_eq!(evaluate(&store).await, (1, 1, 2));

    let deliveries = store.list_deliveries(None, None, 100).await.unwrap();
    assert_eq!(deliveries.len(), 6);
    let mut by_state: Vec<(String, String)> = deliveries
        .iter()
        .map(|d| (d.episode_id.clone(), d.state.clone()))
        .collect();
    by_state.sort();
    by_state.dedup();
    assert_eq!(by_state.len(), 3, "{by_state:?}");
    let episodes: std::collections::BTreeSet<&str> =
        deliveries.iter().map(|d| d.episode_id.as_str()).collect();
    assert_eq!(episodes.len(), 2);
    // Each (episode, state, destination) is one key.
    let keys: std::collections::BTreeSet<&str> = deliveries
        .iter()
        .map(|d| d.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), 6);

    // Every change is an audit event in the chain, which still verifies.
    let events = alert_events(&store).await;
    let actions: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "alert_rule_created",
            "alert_firing",
            "alert_resolved",
            "alert_firing"
        ]
    );
    assert!(events.iter().all(|e| e.2 == "alert-rule/r1"));
    assert_eq!(events[1].1.as_deref(), Some("emp_a"));
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
}

async fn a_run_of_samples_a_team_scope_and_old_samples(store: Store) {
    store
        .create_alert_rule(rule("r2", Some("Core"), 3, 1))
        .await
        .unwrap();
    store
        .write_batch(&[
            // Another team: never watched.
            live("emp_x", "Sales", 50, 99.0),
            live("emp_x", "Sales", 40, 99.0),
            live("emp_x", "Sales", 30, 99.0),
            // A broken run, then three in a row.
            live("emp_a", "Core", 60, 90.0),
            live("emp_a", "Core", 50, 90.0),
            live("emp_a", "Core", 45, 79.0),
            live("emp_a", "Core", 40, 90.0),
            live("emp_a", "Core", 30, 90.0),
        ])
        .await
        .unwrap();
    assert_eq!(evaluate(&store).await.1, 0);
    store
        .write_sample(&live("emp_a", "Core", 20, 90.0))
        .await
        .unwrap();
    assert_eq!(evaluate(&store).await.1, 1);
    assert_eq!(
        states(&store, "r2").await,
        [("emp_a".into(), "firing".into())]
    );

    // Samples measured two days ago are history: evaluated, never alerting.
    store
        .create_alert_rule(rule("r3", None, 1, 0))
        .await
        .unwrap();
    store
        .write_batch(&[live("emp_old", "Core", 2 * 24 * 60, 99.0)])
        .await
        .unwrap();
    let (samples, changes, _) = evaluate(&store).await;
    assert_eq!((samples, changes), (1, 0));
    assert!(states(&store, "r3").await.is_empty());
}

async fn one_evaluator_at_a_time_and_a_rolled_back_evaluation_loses_nothing(store: Store) {
    store
        .create_alert_rule(rule("r4", None, 1, 1))
        .await
        .unwrap();
    store
        .write_sample(&live("emp_a", "Core", 10, 95.0))
        .await
        .unwrap();
    // Another process holds the evaluator's lock: this one takes nothing.
    let mut other = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    let tx = other.transaction().await.unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&organism_testkit::organism_store::alerts::EVALUATOR_LOCK],
    )
    .await
    .unwrap();
    let done = store.evaluate_realtime(100).await.unwrap();
    assert!(done.busy);
    assert_eq!(count_rows(&store, "realtime_inbox").await, 1);
    tx.rollback().await.unwrap();
    assert_eq!(evaluate(&store).await, (1, 1, 1));
}

async fn deliveries_are_claimed_once_retried_and_dead_lettered(store: Store) {
    store
        .create_alert_rule(rule("r5", None, 1, 1))
        .await
        .unwrap();
    store
        .write_sample(&live("emp_a", "Core", 10, 95.0))
        .await
        .unwrap();
    evaluate(&store).await;
    let due = store.due_destinations().await.unwrap();
    assert_eq!(due.len(), 1);
    let lease = std::time::Duration::from_secs(60);
    let claimed = store.claim_deliveries(&due[0].0, 10, lease).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempt, 1);
    assert_eq!(claimed[0].payload["state"], "firing");
    assert_eq!(claimed[0].payload["employee_id"], "emp_a");
    // Leased: not claimed again, not due.
    assert!(
        store
            .claim_deliveries(&due[0].0, 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.due_destinations().await.unwrap().is_empty());

    let failed = |next| AttemptRecord {
        started_at: Utc::now(),
        duration_ms: 3.0,
        http_status: Some(500),
        error: Some("the receiver answered 500".into()),
        next,
    };
    store
        .record_attempt(
            &claimed[0],
            &failed(NextStep::RetryAt(Utc::now() - Duration::seconds(1))),
        )
        .await
        .unwrap();
    let again = store.claim_deliveries(&due[0].0, 10, lease).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    store
        .record_attempt(&again[0], &failed(NextStep::DeadLetter))
        .await
        .unwrap();
    let listed = store.list_deliveries(None, Some("dead"), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let attempts: Vec<(i32, Option<i32>)> = listed[0]
        .attempts
        .iter()
        .map(|a| (a.attempt, a.http_status))
        .collect();
    assert_eq!(attempts, [(1, Some(500)), (2, Some(500))]);
    assert!(store.due_destinations().await.unwrap().is_empty());
}

async fn deleting_a_rule_cancels_its_queue_and_a_retried_create_is_recognised(store: Store) {
    let first = store
        .create_alert_rule(rule("r6", None, 1, 1))
        .await
        .unwrap();
    let again = store
        .create_alert_rule(rule("r6", None, 1, 1))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.secrets, first.secrets);
    let mut other = rule("r6", None, 1, 1);
    other.rule.threshold = 90.0;
    assert!(store.create_alert_rule(other).await.is_err());

    store
        .write_sample(&live("emp_a", "Core", 10, 95.0))
        .await
        .unwrap();
    evaluate(&store).await;
    let id = RuleId::parse("r6").unwrap();
    store
        .delete_alert_rule(&id, &Actor::parse("hr.partner").unwrap())
        .await
        .unwrap();
    let listed = store.list_deliveries(Some(&id), None, 10).await.unwrap();
    assert_eq!(listed[0].status, "cancelled");
    assert!(store.list_alert_rules().await.unwrap().is_empty());
    assert!(store.alert_rule(&id).await.is_err());
    // Deleted: its id stays taken, and nothing is evaluated for it.
    assert!(
        store
            .create_alert_rule(rule("r6", None, 1, 1))
            .await
            .is_err()
    );
    store
        .write_sample(&live("emp_a", "Core", 5, 10.0))
        .await
        .unwrap();
    let feed_before = count_rows(&store, "realtime_feed").await;
    assert_eq!(count_rows(&store, "realtime_inbox").await, 0);
    assert_eq!(count_rows(&store, "realtime_feed").await, feed_before);
}

async fn the_feed_numbers_events_in_commit_order_and_carries_samples_for_listeners(store: Store) {
    store.touch_listener("stream-test").await.unwrap();
    store
        .create_alert_rule(rule("r7", None, 1, 0))
        .await
        .unwrap();
    let head = store.feed_head().await.unwrap();
    store
        .write_batch(&[
            live("emp_a", "Core", 10, 95.0),
            live("emp_b", "Sales", 10, 20.0),
        ])
        .await
        .unwrap();
    evaluate(&store).await;
    let (events, first) = store.feed_after(head, 100).await.unwrap();
    let kinds: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.team.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("alert", Some("Core")),
            ("samples", Some("Core")),
            ("samples", Some("Sales"))
        ]
    );
    assert!(events.windows(2).all(|w| w[1].event_id > w[0].event_id));
    assert_eq!(first, Some(events[0].event_id));
    assert_eq!(events[2].payload["samples"][0]["employee_id"], "emp_b");
    // Resuming after the second event gives exactly the third.
    let (rest, _) = store.feed_after(events[1].event_id, 100).await.unwrap();
    assert_eq!(rest, events[2..]);
    // With the listener gone and the rule disabled, nothing is queued.
    store.drop_listener("stream-test").await.unwrap();
    store
        .set_alert_rule_enabled(
            &RuleId::parse("r7").unwrap(),
            false,
            &Actor::parse("hr.partner").unwrap(),
        )
        .await
        .unwrap();
    store
        .write_sample(&live("emp_a", "Core", 5, 95.0))
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "realtime_inbox").await, 0);
}

fn observed(employee: &str, score: f64) -> DailyObservation {
    DailyObservation {
        employee_id: employee.into(),
        team: Some("Core".into()),
        value: score,
        evidence: serde_json::json!({"change": score}),
    }
}

const LEASE: std::time::Duration = std::time::Duration::from_secs(600);

/// No daily rule is due on `day` (or each is claimed by another process).
async fn nothing_due(store: &Store, day: chrono::NaiveDate) -> bool {
    store
        .claim_daily_rules(day, LEASE)
        .await
        .unwrap()
        .is_empty()
}

async fn a_daily_rule_steps_once_a_day_whichever_process_applies_it(store: Store) {
    let mut anomaly = rule("d1", None, 1, 1);
    anomaly.rule = AlertRule::new(
        "Sudden rise".into(),
        MetricName::BurnoutScore,
        (RuleKind::Anomaly, None),
        Direction::Above,
        3.5,
        1.0,
        None,
        1,
    )
    .unwrap();
    store.create_alert_rule(anomaly).await.unwrap();
    // Only a daily rule is enabled: samples are not queued for it.
    store
        .write_sample(&live("emp_a", "Core", 10, 95.0))
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "realtime_inbox").await, 0);

    let day = Utc::now().date_naive();
    let claimed = store.claim_daily_rules(day, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].stored.kind, RuleKind::Anomaly);
    // Claimed: a second process gets nothing to do.
    assert!(nothing_due(&store, day).await);
    let rule_d1 = claimed[0].clone();

    let head = store.feed_head().await.unwrap();
    let first = [observed("emp_a", 5.2), observed("emp_b", -6.0)];
    let applied = store.apply_daily_rule(&rule_d1, day, &first).await.unwrap();
    // A drop is no rise: one change, one delivery.
    assert!(applied.applied);
    assert_eq!((applied.changes, applied.deliveries), (1, 1));
    // The same day again, by this process or another: nothing.
    let again = store.apply_daily_rule(&rule_d1, day, &first).await.unwrap();
    assert!(!again.applied);
    assert!(nothing_due(&store, day).await);

    // The next day, applied by two processes at once: once.
    let next = day + Duration::days(1);
    let calm = [observed("emp_a", 0.4), observed("emp_b", 0.1)];
    let (a, b) = tokio::join!(
        store.apply_daily_rule(&rule_d1, next, &calm),
        store.apply_daily_rule(&rule_d1, next, &calm)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        [a.applied, b.applied].iter().filter(|x| **x).count(),
        1,
        "{a:?} {b:?}"
    );
    assert_eq!(a.changes + b.changes, 1);
    assert_eq!(
        states(&store, "d1").await,
        [
            ("emp_a".into(), "resolved".into()),
            ("emp_b".into(), "ok".into())
        ]
    );

    let (events, _) = store.feed_after(head, 100).await.unwrap();
    let states_fed: Vec<&str> = events
        .iter()
        .map(|e| e.payload["state"].as_str().unwrap())
        .collect();
    assert_eq!(states_fed, ["firing", "resolved"]);
    assert_eq!(events[0].payload["rule"]["kind"], "anomaly");
    assert_eq!(events[0].payload["evidence"]["change"], 5.2);
    assert_eq!(events[0].team.as_deref(), Some("Core"));
    let deliveries = store.list_deliveries(None, None, 10).await.unwrap();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[0].episode_id, deliveries[1].episode_id);
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");

    // A disabled rule is neither claimed nor applied.
    let actor = Actor::parse("hr.partner").unwrap();
    store
        .set_alert_rule_enabled(&RuleId::parse("d1").unwrap(), false, &actor)
        .await
        .unwrap();
    let later = next + Duration::days(1);
    assert!(nothing_due(&store, later).await);
    let off = store
        .apply_daily_rule(&rule_d1, later, &first)
        .await
        .unwrap();
    assert!(!off.applied);
}

organism_testkit::engine_tests!(
    a_daily_rule_steps_once_a_day_whichever_process_applies_it,
    an_episode_is_notified_once_when_it_fires_and_once_when_it_resolves,
    a_run_of_samples_a_team_scope_and_old_samples,
    one_evaluator_at_a_time_and_a_rolled_back_evaluation_loses_nothing,
    deliveries_are_claimed_once_retried_and_dead_lettered,
    deleting_a_rule_cancels_its_queue_and_a_retried_create_is_recognised,
    the_feed_numbers_events_in_commit_order_and_carries_samples_for_listeners,
);
