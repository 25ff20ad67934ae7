//! Interventions, their transitions, and the append-only, hash-chained log.

use chrono::{Duration, Utc};
use organism_domain::{
    Actor, AuditAction, EmployeeId, InterventionId, InterventionKind, InterventionStatus,
};
use organism_testkit::organism_store::audit::checkpoint::{Checkpoint, SigningKey};
use organism_testkit::organism_store::audit::{
    AuditFilter, AuditLimit, BrokenLink, ChainReport, Check, Cursor, HashFunction,
};
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
        effective_at: None,
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

// ---------------------------------------------------------------------
// Attacks by the PostgreSQL superuser (the test clusters connect as one):
// triggers off, functions replaced, rows edited, and each must be caught by
// `verify` (which trusts no function in the database) or by `verify` against
// a signed checkpoint kept outside it.

/// Five events: iv-1, iv-2, iv-3 created (1-3), iv-1 approved (4) and
/// activated (5).
async fn five_events(store: &Store) {
    for id in ["iv-1", "iv-2", "iv-3"] {
        store.create_intervention(new(id)).await.unwrap();
    }
    for status in [InterventionStatus::Approved, InterventionStatus::Active] {
        store.change_status(&iv("iv-1"), to(status)).await.unwrap();
    }
}

async fn superuser(store: &Store) -> tokio_postgres::Client {
    organism_testkit::superuser(store.settings(), &store.settings().schema).await
}

/// A checkpoint of the current head, and the key that signed it.
async fn checkpoint(store: &Store) -> (Checkpoint, SigningKey) {
    let key = SigningKey::generate().unwrap();
    let head = store.audit_chain_head().await.unwrap().unwrap();
    (key.sign(&head, Utc::now()), key)
}

async fn verify_against(store: &Store, checkpoint: &Checkpoint, key: &SigningKey) -> ChainReport {
    store
        .verify_audit_log(Some(checkpoint), Some(&key.public_key()))
        .await
        .unwrap()
}

fn first(report: &ChainReport) -> &BrokenLink {
    assert!(!report.ok, "{report:?}");
    report.first_broken.as_ref().unwrap()
}

/// Recomputes every hash and link with the database's own function, in
/// chain order, and moves the head: the attacker's way to make an edit
/// consistent. Run with triggers off.
const RECHAIN: &str = "DO $$
DECLARE r record; prev text := repeat('0', 64); h text;
BEGIN
    FOR r IN SELECT * FROM intervention_audit_log ORDER BY seq LOOP
        h := audit_event_hash(r.seq, r.time, r.event_id, r.intervention_id, r.action,
                              r.actor, r.target_employee_id, r.details, prev);
        UPDATE intervention_audit_log SET prev_hash = prev, hash = h WHERE seq = r.seq;
        prev := h;
    END LOOP;
    UPDATE audit_chain_head
       SET seq = coalesce((SELECT max(seq) FROM intervention_audit_log), 0), hash = prev;
END $$";

async fn as_superuser_without_triggers(store: &Store, sql: &str) {
    superuser(store)
        .await
        .batch_execute(&format!(
            "SET session_replication_role = replica; {sql}; {RECHAIN}; SET session_replication_role = origin;"
        ))
        .await
        .unwrap();
}

async fn events_written_by_the_sql_function_verify_in_rust(store: Store) {
    // Chains written before the hash moved to Rust used append_audit_event();
    // the Rust canonical form must agree with it on awkward content.
    let su = superuser(&store).await;
    su.batch_execute(
        r#"INSERT INTO interventions VALUES
               ('iv-old', 'one_on_one', NULL, 'proposed', now(), now(),
                '{"zz": 1.50, "a": "line\nbreak \"quoted\" ✓ é", "list": [1e2, -0.0, {"k": null}]}');
           SELECT 1 FROM append_audit_event('iv-old', 'created', 'Zoë <hr@corp>', NULL,
               jsonb_build_object('status', 'proposed', 'kind', 'one_on_one',
                                  'details', (SELECT details FROM interventions WHERE intervention_id = 'iv-old')));
           UPDATE interventions SET created_at = l.time, updated_at = l.time
             FROM intervention_audit_log l WHERE l.seq = 1 AND interventions.intervention_id = 'iv-old';"#,
    )
    .await
    .unwrap();
    store.create_intervention(new("iv-new")).await.unwrap();
    store
        .change_status(&iv("iv-new"), to(InterventionStatus::Cancelled))
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events_checked, 3);
    assert_eq!(report.interventions_checked, 2);
    assert_eq!(report.hash_function, HashFunction::Agrees);
    // And the SQL function agrees with the hashes the Rust writer stored.
    let stored_ok: bool = su
        .query_one(
            "SELECT bool_and(hash = audit_event_hash(seq, time, event_id, intervention_id, action,
                                  actor, target_employee_id, details, prev_hash))
             FROM intervention_audit_log",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stored_ok);
}

async fn a_replaced_hash_function_hides_nothing(store: Store) {
    five_events(&store).await;
    let su = superuser(&store).await;
    // The attacker's function says every stored hash is right.
    su.batch_execute(
        "CREATE OR REPLACE FUNCTION audit_event_hash(
             p_seq bigint, p_time timestamptz, p_event_id uuid, p_intervention_id text,
             p_action text, p_actor text, p_target text, p_details jsonb, p_prev_hash text)
         RETURNS text LANGUAGE sql STABLE AS $$
             SELECT hash FROM intervention_audit_log WHERE seq = p_seq
         $$",
    )
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = first(&report);
    assert_eq!(broken.check, Check::HashFunction, "{report:?}");
    assert_eq!(report.hash_function, HashFunction::Differs);
    // Then edits an event with the triggers off, and the function covers it.
    su.batch_execute(
        "ALTER TABLE intervention_audit_log DISABLE TRIGGER ALL;
         UPDATE intervention_audit_log SET actor = 'nobody' WHERE seq = 2;
         ALTER TABLE intervention_audit_log ENABLE TRIGGER ALL;",
    )
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = first(&report);
    assert_eq!((broken.seq, broken.check), (2, Check::Hash), "{report:?}");
    assert_eq!(broken.intervention_id.as_deref(), Some("iv-2"));
    assert!(broken.problem.contains("altered"), "{}", broken.problem);
    // Writes after the replacement still hash correctly: the writer does
    // not use the database's function.
    su.batch_execute(
        "ALTER TABLE intervention_audit_log DISABLE TRIGGER ALL;
         UPDATE intervention_audit_log SET actor = 'manager_1' WHERE seq = 2;
         ALTER TABLE intervention_audit_log ENABLE TRIGGER ALL;",
    )
    .await
    .unwrap();
    store.create_intervention(new("iv-4")).await.unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!(first(&report).check, Check::HashFunction, "{report:?}");
    assert_eq!(report.events_checked, 6);
}

async fn a_state_changed_behind_the_log_is_reported(store: Store) {
    five_events(&store).await;
    let su = superuser(&store).await;
    su.batch_execute(
        "UPDATE interventions SET status = 'completed' WHERE intervention_id = 'iv-2'",
    )
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = first(&report);
    assert_eq!(broken.check, Check::Interventions, "{report:?}");
    assert_eq!(broken.intervention_id.as_deref(), Some("iv-2"));
    assert_eq!(broken.seq, 2, "iv-2's last event");
    assert!(
        broken.problem.contains("status") && broken.problem.contains("completed"),
        "{}",
        broken.problem
    );
    su.batch_execute("UPDATE interventions SET status = 'proposed' WHERE intervention_id = 'iv-2'")
        .await
        .unwrap();
    assert!(store.verify_audit_chain().await.unwrap().ok);

    // Other columns, a row with no events, a row removed.
    for (edit, undo, expected) in [
        (
            "UPDATE interventions SET details = '{\"note\": \"other\"}' WHERE intervention_id = 'iv-1'",
            "UPDATE interventions SET details = '{\"note\": \"fewer meetings\"}' WHERE intervention_id = 'iv-1'",
            "details",
        ),
        (
            "UPDATE interventions SET updated_at = updated_at + interval '1 day' WHERE intervention_id = 'iv-1'",
            "UPDATE interventions SET updated_at = updated_at - interval '1 day' WHERE intervention_id = 'iv-1'",
            "updated_at",
        ),
        (
            "INSERT INTO interventions VALUES ('iv-0', 'one_on_one', NULL, 'active', now(), now(), '{}')",
            "DELETE FROM interventions WHERE intervention_id = 'iv-0'",
            "no created event",
        ),
        (
            "DELETE FROM interventions WHERE intervention_id = 'iv-3'",
            "INSERT INTO interventions SELECT 'iv-3', 'workload_rebalance', 'emp_a', 'proposed', time, time,
                 '{\"note\": \"fewer meetings\"}' FROM intervention_audit_log WHERE seq = 3",
            "deleted",
        ),
    ] {
        su.batch_execute(edit).await.unwrap();
        let report = store.verify_audit_chain().await.unwrap();
        let broken = first(&report);
        assert_eq!(broken.check, Check::Interventions, "{edit}: {report:?}");
        assert!(broken.problem.contains(expected), "{edit}: {}", broken.problem);
        su.batch_execute(undo).await.unwrap();
        let report = store.verify_audit_chain().await.unwrap();
        assert!(report.ok, "{undo}: {report:?}");
    }
}

async fn a_consistent_rewrite_of_the_whole_chain_is_caught_by_a_checkpoint(store: Store) {
    five_events(&store).await;
    let (cp, key) = checkpoint(&store).await;
    // A log that grew after the checkpoint extends it.
    store.create_intervention(new("iv-4")).await.unwrap();
    let report = verify_against(&store, &cp, &key).await;
    assert!(report.ok, "{report:?}");
    assert!(report.checkpoint.as_ref().unwrap().extended);

    as_superuser_without_triggers(
        &store,
        "UPDATE intervention_audit_log SET actor = 'nobody' WHERE seq = 2",
    )
    .await;
    // Every hash is consistent again: without a checkpoint nothing shows...
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    // ...but the event the checkpoint signed no longer has its hash.
    let report = verify_against(&store, &cp, &key).await;
    let broken = first(&report);
    assert_eq!(
        (broken.seq, broken.check),
        (5, Check::Checkpoint),
        "{report:?}"
    );
    assert!(broken.problem.contains("rewritten"), "{}", broken.problem);
    assert!(!report.checkpoint.unwrap().extended);
}

async fn a_truncated_tail_with_a_moved_head_is_caught_by_a_checkpoint(store: Store) {
    five_events(&store).await;
    let (cp, key) = checkpoint(&store).await;
    // Remove iv-1's approval and activation, and put its row back where
    // its remaining events leave it.
    as_superuser_without_triggers(
        &store,
        "DELETE FROM intervention_audit_log WHERE seq > 3;
         UPDATE interventions SET status = 'proposed', updated_at = created_at
          WHERE intervention_id = 'iv-1'",
    )
    .await;
    let report = store.verify_audit_chain().await.unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.head_seq, 3);
    let report = verify_against(&store, &cp, &key).await;
    let broken = first(&report);
    assert_eq!(broken.check, Check::Checkpoint, "{report:?}");
    assert!(
        broken.problem.contains("ends at event 3") && broken.problem.contains("removed"),
        "{}",
        broken.problem
    );
}

async fn a_back_dated_event_is_caught(store: Store) {
    five_events(&store).await;
    let (cp, key) = checkpoint(&store).await;
    // Before the previous event: the time check alone sees it, however
    // consistent the rest is made.
    as_superuser_without_triggers(
        &store,
        "UPDATE intervention_audit_log SET time = time - interval '1 second' WHERE seq = 3;
         UPDATE interventions SET created_at = created_at - interval '1 second',
                                  updated_at = updated_at - interval '1 second'
          WHERE intervention_id = 'iv-3'",
    )
    .await;
    let report = store.verify_audit_chain().await.unwrap();
    let broken = first(&report);
    assert_eq!((broken.seq, broken.check), (3, Check::Time), "{report:?}");
    assert!(broken.problem.contains("back-dated"), "{}", broken.problem);
    as_superuser_without_triggers(
        &store,
        "UPDATE intervention_audit_log SET time = time + interval '1 second' WHERE seq = 3;
         UPDATE interventions SET created_at = created_at + interval '1 second',
                                  updated_at = updated_at + interval '1 second'
          WHERE intervention_id = 'iv-3'",
    )
    .await;
    assert!(verify_against(&store, &cp, &key).await.ok);
    // Still in order (iv-1's approval moved back to iv-3's creation): only
    // the checkpoint sees it.
    as_superuser_without_triggers(
        &store,
        "UPDATE intervention_audit_log
            SET time = (SELECT time FROM intervention_audit_log WHERE seq = 3) WHERE seq = 4",
    )
    .await;
    assert!(store.verify_audit_chain().await.unwrap().ok);
    let report = verify_against(&store, &cp, &key).await;
    assert_eq!(
        (first(&report).seq, first(&report).check),
        (5, Check::Checkpoint),
        "{report:?}"
    );
}

async fn a_forged_event_is_caught(store: Store) {
    five_events(&store).await;
    let (cp, key) = checkpoint(&store).await;
    let su = superuser(&store).await;
    // Appended through the database's own function, so its hash and link
    // are right; but no row moved with it.
    su.batch_execute(
        "SELECT 1 FROM append_audit_event('iv-2', 'approved', 'intruder', 'emp_a',
             '{\"from\": \"proposed\", \"to\": \"approved\", \"details\": {}}')",
    )
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = first(&report);
    assert_eq!(broken.check, Check::Interventions, "{report:?}");
    assert_eq!(broken.intervention_id.as_deref(), Some("iv-2"));
    assert_eq!(broken.seq, 6);
    // An event the state machine never allows.
    su.batch_execute(
        "SELECT 1 FROM append_audit_event('iv-3', 'completed', 'intruder', 'emp_a',
             '{\"from\": \"proposed\", \"to\": \"completed\", \"details\": {}}')",
    )
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = first(&report);
    assert_eq!((broken.seq, broken.check), (7, Check::Replay), "{report:?}");
    assert!(broken.problem.contains("not allowed"), "{}", broken.problem);
    // Inside the checkpointed log, made consistent with its row: iv-1's
    // activation becomes a cancellation.
    as_superuser_without_triggers(
        &store,
        "DELETE FROM intervention_audit_log WHERE seq > 5;
         UPDATE intervention_audit_log SET action = 'cancelled',
                details = '{\"from\": \"approved\", \"to\": \"cancelled\", \"details\": {}}'
          WHERE seq = 5;
         UPDATE interventions SET status = 'cancelled' WHERE intervention_id = 'iv-1'",
    )
    .await;
    assert!(store.verify_audit_chain().await.unwrap().ok);
    let report = verify_against(&store, &cp, &key).await;
    assert_eq!(
        (first(&report).seq, first(&report).check),
        (5, Check::Checkpoint),
        "{report:?}"
    );
}

async fn a_checkpoint_signed_by_another_key_or_altered_proves_nothing(store: Store) {
    five_events(&store).await;
    let (cp, key) = checkpoint(&store).await;
    // The attacker rewrites the log and signs a checkpoint of their own.
    as_superuser_without_triggers(
        &store,
        "UPDATE intervention_audit_log SET actor = 'nobody' WHERE seq = 2",
    )
    .await;
    let (forged, _) = checkpoint(&store).await;
    let report = verify_against(&store, &forged, &key).await;
    let broken = first(&report);
    assert_eq!(broken.check, Check::Checkpoint, "{report:?}");
    assert!(
        broken.problem.contains("not the trusted key"),
        "{}",
        broken.problem
    );
    // Or edits the genuine checkpoint to the new head.
    let mut edited = cp.clone();
    edited.head_hash = forged.head_hash.clone();
    let report = verify_against(&store, &edited, &key).await;
    assert!(first(&report).problem.contains("signature"), "{report:?}");
    assert!(!report.checkpoint.unwrap().signature_valid);
}

organism_testkit::engine_tests!(
    events_written_by_the_sql_function_verify_in_rust,
    a_replaced_hash_function_hides_nothing,
    a_state_changed_behind_the_log_is_reported,
    a_consistent_rewrite_of_the_whole_chain_is_caught_by_a_checkpoint,
    a_truncated_tail_with_a_moved_head_is_caught_by_a_checkpoint,
    a_back_dated_event_is_caught,
    a_forged_event_is_caught,
    a_checkpoint_signed_by_another_key_or_altered_proves_nothing,
    a_full_lifecycle_writes_one_event_per_change,
    retries_are_recognised_and_reused_ids_refused,
    an_illegal_transition_changes_nothing,
    the_audit_log_refuses_update_delete_and_truncate,
    tampering_around_the_triggers_is_detected,
    removing_the_newest_events_is_detected,
    audit_pages_follow_the_cursor_without_gaps_or_repeats,
    concurrent_changes_keep_one_unbroken_chain,
);
