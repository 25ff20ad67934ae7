//! Interventions, their transitions, and the append-only, hash-chained log.

use chrono::{Duration, Utc};
use organism_domain::{
    Actor, AuditAction, EmployeeId, InterventionId, InterventionKind, InterventionStatus,
};
use organism_testkit::organism_store::audit::{AuditFilter, AuditLimit, Cursor};
use organism_testkit::organism_store::interventions::{NewIntervention, StatusChange};
use organism_testkit::organism_store::{Store, StoreError};
use serde_json::json;

use crate::data::count_rows;

fn new(id: &str) -> NewIntervention {
    NewIntervention {
        intervention_id: Some(InterventionId::parse(id).unwrap()),
        kind: InterventionKind::parse("workload_rebalance").unwrap(),
        target_employee_id: Some(EmployeeId::parse("emp_a").unwrap()),
        details: json!({"note": "fewer meetings"}),
        actor: Actor::parse("manager_1").unwrap(),
    }
}

fn to(status: InterventionStatus) -> StatusChange {
    StatusChange {
        to: status,
        actor: Actor::parse("manager_1").unwrap(),
        details: json!({}),
    }
}

fn iv(id: &str) -> InterventionId {
    InterventionId::parse(id).unwrap()
}

async fn a_full_lifecycle_writes_one_event_per_change(store: Store) {
    let created = store.create_intervention(new("iv-1")).await.unwrap();
    assert!(created.created);
    assert_eq!(created.intervention.status, InterventionStatus::Proposed);
    for status in [
        InterventionStatus::Approved,
        InterventionStatus::Active,
        InterventionStatus::Completed,
    ] {
        let updated = store.change_status(&iv("iv-1"), to(status)).await.unwrap();
        assert_eq!(updated.status, status);
    }
    let page = store
        .audit_events(&AuditFilter {
            intervention_id: Some(iv("iv-1")),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = page.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["created", "approved", "activated", "completed"]
    );
    let seqs: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(page.events[1].details["from"], "proposed");
    assert_eq!(page.events[1].details["to"], "approved");
    assert_eq!(page.events[0].target_employee_id.as_deref(), Some("emp_a"));
    assert_eq!(page.events[0].actor, "manager_1");
    for pair in page.events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert!(page.next_cursor.is_none());
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events_checked, 4);
}

async fn retries_are_recognised_and_reused_ids_refused(store: Store) {
    store.create_intervention(new("iv-1")).await.unwrap();
    let again = store.create_intervention(new("iv-1")).await.unwrap();
    assert!(!again.created);
    let mut other = new("iv-1");
    other.details = json!({"note": "something else"});
    let err = store.create_intervention(other).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                code: "intervention_id_taken",
                ..
            }
        ),
        "{err:?}"
    );
    // Asking twice for the same status is a retry, not a second event.
    store
        .change_status(&iv("iv-1"), to(InterventionStatus::Approved))
        .await
        .unwrap();
    store
        .change_status(&iv("iv-1"), to(InterventionStatus::Approved))
        .await
        .unwrap();
    assert_eq!(count_rows(&store, "intervention_audit_log").await, 2);
    // Without a client id, the database names it.
    let mut anonymous = new("unused");
    anonymous.intervention_id = None;
    let made = store.create_intervention(anonymous).await.unwrap();
    assert!(made.intervention.intervention_id.starts_with("iv-"));
}

async fn an_illegal_transition_changes_nothing(store: Store) {
    store.create_intervention(new("iv-1")).await.unwrap();
    let before = store.intervention(&iv("iv-1")).await.unwrap();
    for status in [
        InterventionStatus::Completed,
        InterventionStatus::Active,
        InterventionStatus::RolledBack,
    ] {
        let err = store
            .change_status(&iv("iv-1"), to(status))
            .await
            .unwrap_err();
        match err {
            StoreError::Conflict { code, message } => {
                assert_eq!(code, "illegal_transition");
                assert!(message.contains("proposed"), "{message}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(store.intervention(&iv("iv-1")).await.unwrap(), before);
    assert_eq!(count_rows(&store, "intervention_audit_log").await, 1);
    // A final state is final.
    store
        .change_status(&iv("iv-1"), to(InterventionStatus::Cancelled))
        .await
        .unwrap();
    assert!(
        store
            .change_status(&iv("iv-1"), to(InterventionStatus::Approved))
            .await
            .is_err()
    );
    assert_eq!(count_rows(&store, "intervention_audit_log").await, 2);
    let err = store
        .change_status(&iv("iv-nobody"), to(InterventionStatus::Approved))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn the_audit_log_refuses_update_delete_and_truncate(store: Store) {
    store.create_intervention(new("iv-1")).await.unwrap();
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    for sql in [
        "UPDATE intervention_audit_log SET actor = 'someone_else'",
        "DELETE FROM intervention_audit_log",
        "TRUNCATE intervention_audit_log",
    ] {
        let err = client
            .batch_execute(sql)
            .await
            .expect_err(&format!("{sql} must fail"));
        let message = err
            .as_db_error()
            .map(|e| e.message().to_string())
            .unwrap_or_default();
        assert!(message.contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(count_rows(&store, "intervention_audit_log").await, 1);
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok);
}

async fn tampering_around_the_triggers_is_detected(store: Store) {
    for id in ["iv-1", "iv-2", "iv-3"] {
        store.create_intervention(new(id)).await.unwrap();
    }
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    // A superuser switches the guard off and edits an event in place.
    client
        .batch_execute(
            "ALTER TABLE intervention_audit_log DISABLE TRIGGER audit_log_append_only;
             UPDATE intervention_audit_log SET actor = 'nobody' WHERE seq = 2;
             ALTER TABLE intervention_audit_log ENABLE TRIGGER audit_log_append_only;",
        )
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(!report.ok);
    let broken = report.first_broken.unwrap();
    assert_eq!(broken.seq, 2);
    assert!(broken.problem.contains("altered"), "{}", broken.problem);
}

async fn removing_the_newest_events_is_detected(store: Store) {
    for id in ["iv-1", "iv-2", "iv-3"] {
        store.create_intervention(new(id)).await.unwrap();
    }
    let client = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
    client
        .batch_execute(
            "ALTER TABLE intervention_audit_log DISABLE TRIGGER audit_log_append_only;
             DELETE FROM intervention_audit_log WHERE seq = 3;
             ALTER TABLE intervention_audit_log ENABLE TRIGGER audit_log_append_only;",
        )
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(!report.ok);
    assert!(
        report.first_broken.unwrap().problem.contains("removed"),
        "the head records event 3"
    );
}

async fn audit_pages_follow_the_cursor_without_gaps_or_repeats(store: Store) {
    for i in 0..5 {
        let id = format!("iv-{i}");
        store.create_intervention(new(&id)).await.unwrap();
        store
            .change_status(&iv(&id), to(InterventionStatus::Approved))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store
            .audit_events(&AuditFilter {
                after,
                limit: AuditLimit::parse("3").unwrap(),
                ..Default::default()
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.events.len() <= 3);
        seen.extend(page.events.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => after = Some(Cursor::parse(&c).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, (1..=10).collect::<Vec<i64>>());
    assert_eq!(pages, 4);

    // By action, by intervention, by date range.
    let approved = store
        .audit_events(&AuditFilter {
            action: Some(AuditAction::Approved),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(approved.events.len(), 5);
    assert!(approved.events.iter().all(|e| e.action == "approved"));
    let one = store
        .audit_events(&AuditFilter {
            intervention_id: Some(iv("iv-3")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one.events.len(), 2);
    assert!(one.events.iter().all(|e| e.intervention_id == "iv-3"));
    let now = Utc::now();
    let in_range = store
        .audit_events(&AuditFilter {
            start: Some(now - Duration::hours(1)),
            end: Some(now + Duration::hours(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(in_range.events.len(), 10);
    let before = store
        .audit_events(&AuditFilter {
            end: Some(now - Duration::hours(1)),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(before.events.is_empty());
}

async fn concurrent_changes_keep_one_unbroken_chain(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("iv-{i}");
            store.create_intervention(new(&id)).await?;
            store
                .change_status(&iv(&id), to(InterventionStatus::Approved))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events_checked, 32);
}

organism_testkit::engine_tests!(
    a_full_lifecycle_writes_one_event_per_change,
    retries_are_recognised_and_reused_ids_refused,
    an_illegal_transition_changes_nothing,
    the_audit_log_refuses_update_delete_and_truncate,
    tampering_around_the_triggers_is_detected,
    removing_the_newest_events_is_detected,
    audit_pages_follow_the_cursor_without_gaps_or_repeats,
    concurrent_changes_keep_one_unbroken_chain,
);
