//! Faults: tampering with the audit log behind the service's back, and the
//! database going away and coming back while clients write.

use organism_api::ApiConfig;
use organism_pgcluster::{ClusterOptions, EmbeddedCluster};
use organism_store::{DbSettings, Store};
use serde_json::{Value, json};

use crate::helpers::{batch, choice_of, error_code, private_cluster, spawn_app, spawn_on};

async fn verify_over_http_reports_the_first_event_a_superuser_altered_or_deleted(store: Store) {
    let app = spawn_app(store).await;
    for id in ["iv-1", "iv-2", "iv-3", "iv-4"] {
        let (status, body) = app
            .post_json(
                "/api/interventions",
                &json!({"intervention_id": id, "kind": "one_on_one", "actor": "hr@example.org"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, report) = app.get_json("/api/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["events_checked"], 4);
    // Recomputed outside the database, with every intervention replayed.
    assert_eq!(report["interventions_checked"], 4, "{report}");
    assert_eq!(report["hash_function"], "agrees", "{report}");
    assert_eq!(report["head_seq"], 4, "{report}");

    let su = organism_testkit::superuser(app.store.settings(), "organism").await;
    // The guard refuses a plain edit...
    assert!(
        su.batch_execute("UPDATE intervention_audit_log SET actor = 'x' WHERE seq = 3")
            .await
            .is_err()
    );
    // ...so the superuser switches it off, edits event 3 and deletes event 2.
    su.batch_execute(
        "ALTER TABLE intervention_audit_log DISABLE TRIGGER audit_log_append_only;
         UPDATE intervention_audit_log SET actor = 'nobody' WHERE seq = 3;
         ALTER TABLE intervention_audit_log ENABLE TRIGGER audit_log_append_only;",
    )
    .await
    .unwrap();
    let (_, report) = app.get_json("/api/audit/verify").await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["seq"], 3, "{report}");
    assert_eq!(report["first_broken"]["check"], "hash", "{report}");
    assert_eq!(
        report["first_broken"]["intervention_id"], "iv-3",
        "{report}"
    );
    su.batch_execute(
        "ALTER TABLE intervention_audit_log DISABLE TRIGGER audit_log_append_only;
         DELETE FROM intervention_audit_log WHERE seq = 2;
         ALTER TABLE intervention_audit_log ENABLE TRIGGER audit_log_append_only;",
    )
    .await
    .unwrap();
    let (_, report) = app.get_json("/api/audit/verify").await;
    assert_eq!(report["ok"], false, "{report}");
    let first = report["first_broken"]["seq"].as_i64().unwrap();
    assert!(
        first <= 3,
        "the deletion comes first in the chain: {report}"
    );
}

async fn a_batch_refused_while_the_database_is_down_is_written_once_when_retried(store: Store) {
    // A private cluster to stop and start; the case's store only names the engine.
    let engine = store.engine();
    drop(store);
    let options = private_cluster("restart");
    let root = options.root.clone();
    let start = |options: ClusterOptions| async move {
        tokio::task::spawn_blocking(move || EmbeddedCluster::start(options))
            .await
            .unwrap()
            .unwrap()
    };
    let mut cluster = start(options.clone()).await;
    let url = cluster.connection_string("postgres");
    let mut settings = DbSettings::from_url(&url)
        .unwrap()
        .with_engine(choice_of(engine));
    settings.acquire_timeout = std::time::Duration::from_millis(500);
    let store = Store::open(settings).await.unwrap();
    let app = spawn_on(store, ApiConfig::default()).await;
    let first = batch("a", 20);
    let (status, body) = app.post_json("/api/metrics", &first).await;
    assert_eq!(status, 200, "{body}");

    cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();
    drop(cluster);

    // While it is down: 503 with Retry-After, for writes and reads.
    let second = batch("b", 30);
    for _ in 0..2 {
        let response = app
            .http
            .post(format!("{}/api/metrics", app.base))
            .header("content-type", "application/json")
            .body(second.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "database_unavailable");
    }

    // The database comes back; the service is not restarted.
    let cluster = start(options).await;
    let mut written = None;
    for _ in 0..50 {
        let (status, body) = app.post_json("/api/metrics", &second).await;
        if status == 200 {
            written = Some(body);
            break;
        }
        assert_eq!(status, 503, "only 503 until it recovers: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let written = written.expect("the service recovers once the database is back");
    assert_eq!(written["stored"], 30, "{written}");
    // A client unsure whether its retry landed sends it again: nothing doubles.
    let (status, again) = app.post_json("/api/metrics", &second).await;
    assert_eq!(status, 200);
    assert_eq!(again["changed"], 0, "{again}");

    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*), count(DISTINCT (employee_id, time)) FROM organism.employee_metrics",
            &[],
        )
        .await
        .unwrap();
    let (rows, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((rows, distinct), (50, 50));
    drop(client);
    drop(app);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

organism_testkit::engine_tests!(
    verify_over_http_reports_the_first_event_a_superuser_altered_or_deleted,
    a_batch_refused_while_the_database_is_down_is_written_once_when_retried,
);
