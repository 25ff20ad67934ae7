//! Interventions and the audit log over HTTP.

use organism_store::Store;
use serde_json::json;

use crate::helpers::{error_code, spawn_app};

fn new_intervention(id: &str) -> serde_json::Value {
    json!({"intervention_id": id, "kind": "workload_rebalance", "target_employee_id": "emp_1",
           "details": {"note": "fewer meetings"}, "actor": "manager@core"})
}

async fn an_intervention_moves_along_its_lifecycle_with_an_audit_trail(store: Store) {
    let app = spawn_app(store).await;
    let (status, body) = app
        .post_json("/api/interventions", &new_intervention("iv-1"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "proposed");
    for to in ["approved", "active", "completed"] {
        let (status, body) = app
            .patch_json(
                "/api/interventions/iv-1",
                &json!({"status": to, "actor": "hr"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], to);
    }
    let (status, page) = app.get_json("/api/audit?intervention_id=iv-1").await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["created", "approved", "activated", "completed"]
    );
    let (status, report) = app.get_json("/api/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true);
    assert_eq!(report["events_checked"], 4);
}

async fn a_retried_create_returns_the_same_intervention_and_a_changed_one_is_refused(store: Store) {
    let app = spawn_app(store).await;
    let (status, first) = app
        .post_json("/api/interventions", &new_intervention("iv-2"))
        .await;
    assert_eq!(status, 201);
    let (status, again) = app
        .post_json("/api/interventions", &new_intervention("iv-2"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(first, again);
    assert_eq!(app.audit_rows().await, 1);
    let mut other = new_intervention("iv-2");
    other["kind"] = json!("one_on_one");
    let (status, body) = app.post_json("/api/interventions", &other).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "intervention_id_taken")
    );
}

async fn an_illegal_transition_is_refused_and_writes_nothing(store: Store) {
    let app = spawn_app(store).await;
    app.post_json("/api/interventions", &new_intervention("iv-3"))
        .await;
    let before = app.audit_rows().await;
    let (status, body) = app
        .patch_json(
            "/api/interventions/iv-3",
            &json!({"status": "completed", "actor": "hr"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "illegal_transition");
    assert_eq!(app.audit_rows().await, before);
    let (_, list) = app.get_json("/api/interventions?status=proposed").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn bad_intervention_requests_are_named(store: Store) {
    let app = spawn_app(store).await;
    let (status, body) = app
        .patch_json(
            "/api/interventions/nope",
            &json!({"status": "approved", "actor": "hr"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (404, "intervention_not_found")
    );
    app.post_json("/api/interventions", &new_intervention("iv-4"))
        .await;
    let (status, body) = app
        .patch_json(
            "/api/interventions/iv-4",
            &json!({"status": "done", "actor": "hr"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("status")),
        "{body}"
    );
    let (status, body) = app
        .patch_json("/api/interventions/iv-4", &json!({"status": "approved"}))
        .await;
    assert_eq!(status, 400, "a missing actor: {body}");
    let mut bad = new_intervention("iv-5");
    bad["kind"] = json!("Drop Table");
    let (status, body) = app.post_json("/api/interventions", &bad).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("kind"))
    );
    let (status, _) = app
        .post_body(
            "/api/interventions",
            "text/plain",
            new_intervention("iv-6").to_string(),
        )
        .await;
    assert_eq!(status, 415);
    let (status, body) = app.get_json("/api/interventions?status=open").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("status"))
    );
}

async fn audit_pages_follow_the_cursor_without_gaps_or_repeats(store: Store) {
    let app = spawn_app(store).await;
    for i in 0..5 {
        app.post_json("/api/interventions", &new_intervention(&format!("iv-p{i}")))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/audit?limit=2&cursor={c}"),
            None => "/api/audit?limit=2".to_string(),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        for e in page["events"].as_array().unwrap() {
            seen.push(e["intervention_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(|i| format!("iv-p{i}")).collect::<Vec<_>>());
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=abc", "cursor"),
        ("action=deleted", "action"),
        ("start=never", "start"),
    ] {
        let (status, body) = app.get_json(&format!("/api/audit?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
}

organism_testkit::engine_tests!(
    an_intervention_moves_along_its_lifecycle_with_an_audit_trail,
    a_retried_create_returns_the_same_intervention_and_a_changed_one_is_refused,
    an_illegal_transition_is_refused_and_writes_nothing,
    bad_intervention_requests_are_named,
    audit_pages_follow_the_cursor_without_gaps_or_repeats,
);
