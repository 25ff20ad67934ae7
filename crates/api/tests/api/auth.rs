//! API keys and roles: 401 without a valid key, 403 for the wrong role or
//! team, and nothing written by a refused request.

use organism_api::auth::Access;
use organism_api::routes::table;
use organism_api::{ApiConfig, AuthMode};
use organism_domain::Role;
use organism_store::Store;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, sample, spawn_app, spawn_on};

/// A concrete path for a route of the table.
fn concrete(path: &str) -> String {
    path.replace("{employee_id}", "emp_a")
        .replace("{team_name}", "Core")
        .replace("{metric_name}", "burnout_score")
        .replace("{intervention_id}", "iv-1")
}

fn method(name: &str) -> Method {
    name.to_uppercase().parse().unwrap()
}

async fn seeded(store: Store) -> TestApp {
    let app = spawn_app(store).await;
    let batch = json!([
        sample("emp_a", "Core", 50, 80.0),
        sample("emp_b", "Core", 20, 75.0),
        sample("emp_c", "Edge", 15, 95.0),
        // emp_m moved from Edge to Core, emp_x from Core to Edge, more than
        // an hour ago: each sample's hour counts for its own team.
        sample("emp_m", "Edge", 200, 90.0),
        sample("emp_m", "Core", 10, 85.0),
        sample("emp_x", "Core", 200, 91.0),
        sample("emp_x", "Edge", 10, 88.0),
    ]);
    let (status, body) = app.post_json("/api/metrics", &batch).await;
    assert_eq!(status, 200, "{body}");
    app
}

async fn every_non_public_route_answers_401_without_a_valid_key(store: Store) {
    let app = spawn_app(store).await;
    let unknown = format!("otk_{}", "0".repeat(64));
    let revoked = app.key(Role::Admin, &[]).await;
    let id = app
        .store
        .list_api_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.label == "test")
        .unwrap()
        .key_id;
    app.store.revoke_api_key(&id).await.unwrap();
    for e in table() {
        if e.access == Access::Public {
            continue;
        }
        let path = concrete(&e.path);
        for (key, code) in [
            (None, "missing_api_key"),
            (Some(unknown.as_str()), "invalid_api_key"),
            (Some("' OR '1'='1"), "invalid_api_key"),
            (Some(revoked.as_str()), "invalid_api_key"),
        ] {
            let (status, body) = app
                .send_as(key, method(e.method), &path, Some(&json!({})))
                .await;
            assert_eq!(status, 401, "{} {path} with {key:?}: {body}", e.method);
            assert_eq!(error_code(&body), code, "{} {path}", e.method);
        }
    }
    // A scheme other than Bearer is refused, and 401 says which scheme to use.
    let response = reqwest::Client::new()
        .get(format!("{}/api/trends/burnout-alerts", app.base))
        .header("authorization", format!("Basic {}", app.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

async fn the_dashboard_and_the_openapi_document_are_public_health_and_metrics_need_any_key(
    store: Store,
) {
    let app = spawn_app(store).await;
    assert_eq!(app.get_as(None, "/api/openapi.json").await.0, 200);
    let page = reqwest::get(format!("{}/", app.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    for asset in ["dashboard.js", "dashboard.css", "vendor/uplot/LICENSE"] {
        let file = reqwest::get(format!("{}/assets/{asset}", app.base))
            .await
            .unwrap();
        assert_eq!(file.status(), 200, "{asset} without a key");
    }
    for role in Role::ALL {
        let teams: &[&str] = if role == Role::Manager {
            &["Core"]
        } else {
            &[]
        };
        let key = app.key(role, teams).await;
        assert_eq!(
            app.get_as(Some(&key), "/api/trends/health").await.0,
            200,
            "{role}"
        );
        let metrics = crate::helpers::client_with_key(&key)
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200, "{role}");
    }
    assert_eq!(app.get_as(None, "/api/trends/health").await.0, 401);
    assert_eq!(app.get_as(None, "/metrics").await.0, 401);
}

async fn each_role_reaches_only_its_endpoints(store: Store) {
    let app = seeded(store).await;
    let reader = app.key(Role::Reader, &[]).await;
    let writer = app.key(Role::Writer, &[]).await;
    let admin = app.admin_key.clone();
    let batch = json!([sample("emp_w", "Core", 5, 10.0)]);
    let intervention =
        json!({"intervention_id": "iv-1", "kind": "one_on_one", "actor": "hr@example.org"});
    // (method, path, body, reader, writer, admin)
    type Expectation<'a> = (Method, &'a str, Option<Value>, u16, u16, u16);
    let cases: Vec<Expectation> = vec![
        (
            Method::GET,
            "/api/trends/employee/emp_a?days=1",
            None,
            200,
            403,
            200,
        ),
        (
            Method::GET,
            "/api/trends/team/Core?days=1",
            None,
            200,
            403,
            200,
        ),
        (
            Method::GET,
            "/api/trends/burnout-alerts",
            None,
            200,
            403,
            200,
        ),
        (
            Method::GET,
            "/api/trends/statistics/burnout_score",
            None,
            200,
            403,
            200,
        ),
        (Method::POST, "/api/metrics", Some(batch), 403, 200, 200),
        (
            Method::POST,
            "/api/interventions",
            Some(intervention),
            403,
            403,
            201,
        ),
        (Method::GET, "/api/interventions", None, 403, 403, 200),
        (Method::GET, "/api/audit", None, 403, 403, 200),
        (Method::GET, "/api/audit/verify", None, 403, 403, 200),
    ];
    for (m, path, body, for_reader, for_writer, for_admin) in cases {
        for (who, key, expected) in [
            ("reader", &reader, for_reader),
            ("writer", &writer, for_writer),
            ("admin", &admin, for_admin),
        ] {
            let (status, answer) = app.send_as(Some(key), m.clone(), path, body.as_ref()).await;
            assert_eq!(status, expected, "{who} {m} {path}: {answer}");
            if status == 403 {
                assert_eq!(error_code(&answer), "wrong_role");
            }
        }
    }
}

async fn a_refused_write_writes_nothing(store: Store) {
    let app = seeded(store).await;
    let before = app.metric_rows().await;
    let reader = app.key(Role::Reader, &[]).await;
    let batch = json!([sample("emp_new", "Core", 5, 10.0)]);
    for key in [None, Some(reader.as_str())] {
        let (status, _) = app
            .send_as(key, Method::POST, "/api/metrics", Some(&batch))
            .await;
        assert!(status == 401 || status == 403, "{status}");
    }
    assert_eq!(app.metric_rows().await, before);
    let audit = app.audit_rows().await;
    let (status, _) = app
        .send_as(
            Some(&reader),
            Method::POST,
            "/api/interventions",
            Some(&json!({"kind": "one_on_one", "actor": "hr@example.org"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(app.audit_rows().await, audit);
}

async fn a_team_restricted_reader_sees_only_its_teams_and_their_employees(store: Store) {
    let app = seeded(store).await;
    let core = app.key(Role::Reader, &["Core"]).await;
    let key = Some(core.as_str());
    for path in [
        "/api/trends/employee/emp_a?days=1",
        "/api/trends/employee/emp_m?days=1",
        "/api/trends/employee/emp_a/range?start_date=2000-01-01&end_date=2001-01-01",
        "/api/trends/team/Core?days=1",
    ] {
        let (status, body) = app.get_as(key, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    for path in [
        "/api/trends/employee/emp_c?days=1",
        "/api/trends/employee/emp_c?days=1&use_hourly=true",
        "/api/trends/employee/emp_c/range?start_date=2000-01-01&end_date=2001-01-01",
        // Unknown employees and teams are 403, not 404: no probing.
        "/api/trends/employee/nobody?days=1",
        "/api/trends/team/Edge?days=1",
        "/api/trends/team/Nowhere",
        "/api/trends/statistics/burnout_score",
    ] {
        let (status, body) = app.get_as(key, path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(error_code(&body), "team_forbidden", "{path}");
    }
    // The movers are seen through their Core samples only, both ways.
    for (id, burnout) in [("emp_m", 85.0), ("emp_x", 91.0)] {
        let (status, body) = app
            .get_as(key, &format!("/api/trends/employee/{id}?days=1"))
            .await;
        assert_eq!(status, 200, "{id}: {body}");
        let points = body["points"].as_array().unwrap();
        assert_eq!(points.len(), 1, "{id}: {body}");
        assert_eq!(points[0]["burnout_score"], burnout, "{id}");
        assert_eq!(points[0]["team"], "Core", "{id}");
    }
    // Alerts are computed from the key's samples: emp_x's latest Core score
    // alerts, its Edge one is never shown.
    let (status, body) = app
        .get_as(key, "/api/trends/burnout-alerts?threshold=50&days=1")
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<&str> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["employee_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec!["emp_a", "emp_b", "emp_m", "emp_x"]);
    for alert in body["alerts"].as_array().unwrap() {
        assert_eq!(alert["team"], "Core", "{alert}");
        for field in ["latest_score", "peak_score", "average_score"] {
            let v = alert[field].as_f64().unwrap();
            assert!(v != 88.0 && v != 90.0, "an Edge score leaks: {alert}");
        }
    }
    // An unrestricted reader sees all of them.
    let all = app.key(Role::Reader, &[]).await;
    let (_, body) = app
        .get_as(Some(&all), "/api/trends/burnout-alerts?threshold=50&days=1")
        .await;
    assert_eq!(body["count"], 5, "{body}");
}

async fn only_reader_and_manager_keys_carry_teams_and_a_manager_must(store: Store) {
    let app = spawn_app(store).await;
    let team = organism_domain::TeamName::parse("Core").unwrap();
    for role in [Role::Writer, Role::Admin] {
        let err = app
            .store
            .create_api_key(role, std::slice::from_ref(&team), "")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("teams"), "{err}");
    }
    let err = app
        .store
        .create_api_key(Role::Manager, &[], "")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("teams"), "{err}");
    // The database refuses it too, whoever inserts the row.
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let refused = client
        .execute(
            "INSERT INTO api_keys (key_id, key_hash, role) VALUES ('m1', sha256('x'), 'manager')",
            &[],
        )
        .await;
    assert!(refused.is_err());
}

async fn keys_are_stored_only_as_hashes(store: Store) {
    let app = spawn_app(store).await;
    let key = app.key(Role::Reader, &[]).await;
    let client = organism_testkit::superuser(app.store.settings(), "organism").await;
    let rows = client
        .query(
            "SELECT key_id, encode(key_hash, 'hex'), role FROM api_keys",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        for column in 0..3 {
            let value: String = row.get(column);
            assert!(!value.contains(&key[4..]), "column {column} holds the key");
        }
    }
}

async fn with_authentication_off_every_caller_is_an_admin(store: Store) {
    let app = spawn_on(
        store,
        ApiConfig {
            auth: AuthMode::InsecureNoAuth,
            ..ApiConfig::default()
        },
    )
    .await;
    for path in ["/api/audit/verify", "/api/interventions", "/metrics"] {
        let (status, body) = app.get_as(None, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

organism_testkit::engine_tests!(
    every_non_public_route_answers_401_without_a_valid_key,
    the_dashboard_and_the_openapi_document_are_public_health_and_metrics_need_any_key,
    each_role_reaches_only_its_endpoints,
    a_refused_write_writes_nothing,
    a_team_restricted_reader_sees_only_its_teams_and_their_employees,
    only_reader_and_manager_keys_carry_teams_and_a_manager_must,
    keys_are_stored_only_as_hashes,
    with_authentication_off_every_caller_is_an_admin,
);
