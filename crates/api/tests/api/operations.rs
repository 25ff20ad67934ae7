//! Health, Prometheus metrics, OpenAPI, unknown routes, database down.

use organism_api::ApiConfig;
use organism_pgcluster::EmbeddedCluster;
use organism_store::{DbSettings, Store};

use crate::helpers::{
    batch, choice_of, error_code, private_cluster, spawn_app, spawn_on, spawn_with,
};

async fn health_reports_the_engine_and_schema_version(store: Store) {
    let engine = store.engine().to_string();
    let app = spawn_app(store).await;
    let (status, body) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["reachable"], true);
    assert_eq!(body["database"]["engine"], engine.as_str());
    assert!(body["database"]["schema_version"].as_i64().unwrap() >= 2);
    assert_eq!(body["samples_last_hour"], 0);
}

/// Health keeps its figures counted from stored data for a second, and
/// never past a write of its own: its own writes are counted by the next
/// answer, another process's within the second.
async fn health_counts_its_own_writes_at_once_and_others_within_a_second(store: Store) {
    let app = spawn_app(store.clone()).await;
    let (_, first) = app.get_json("/api/trends/health").await;
    assert_eq!(first["samples_last_hour"], 0, "{first}");
    assert!(first["figures_as_of"].is_string(), "{first}");
    let (status, body) = app.post_json("/api/metrics", &batch("mine", 3)).await;
    assert_eq!(status, 200, "{body}");
    let (_, mine) = app.get_json("/api/trends/health").await;
    assert_eq!(mine["samples_last_hour"], 3, "{mine}");

    // Another service on the same database writes two more.
    let other = spawn_app(Store::open(store.settings().clone()).await.unwrap()).await;
    let (status, body) = other.post_json("/api/metrics", &batch("theirs", 2)).await;
    assert_eq!(status, 200, "{body}");
    let (_, next) = app.get_json("/api/trends/health").await;
    let expected = if next["figures_as_of"] == mine["figures_as_of"] {
        3 // the kept figures, read before the other write
    } else {
        5
    };
    assert_eq!(next["samples_last_hour"], expected, "{next}");
    tokio::time::sleep(
        organism_api::routes::health::KEPT_FOR + std::time::Duration::from_millis(100),
    )
    .await;
    let (status, later) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["samples_last_hour"], 5, "{later}");
    assert_ne!(later["figures_as_of"], mine["figures_as_of"], "read again");
    // A writer key is still told nothing counted.
    let writer = app.key(organism_domain::Role::Writer, &[]).await;
    let (_, told) = app.get_as(Some(&writer), "/api/trends/health").await;
    assert!(told.get("samples_last_hour").is_none(), "{told}");
    assert!(told.get("figures_as_of").is_none(), "{told}");
}

// The OpenAPI document, the dashboard's files and the 404 for an unknown
// route come from the binary and the router alone, not from storage: these
// three run on the portable engine only.
#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = spawn_with(ApiConfig::default()).await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    for e in organism_api::routes::table() {
        assert_eq!(
            doc["paths"][&e.path][e.method].is_object(),
            e.documented,
            "{} {}",
            e.method,
            e.path
        );
    }
    for path in [
        "/api/trends/employee/{employee_id}",
        "/api/trends/employee/{employee_id}/range",
        "/api/trends/team/{team_name}",
        "/api/trends/burnout-alerts",
        "/api/trends/statistics/{metric_name}",
        "/api/trends/health",
        "/api/metrics",
        "/api/interventions",
        "/api/interventions/{intervention_id}",
        "/api/audit",
        "/api/audit/verify",
        "/api/graph/snapshots",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}

async fn prometheus_metrics_count_requests(store: Store) {
    let app = spawn_app(store).await;
    app.get("/api/trends/health").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("organism_http_requests_total{method=\"GET\",route=\"/api/trends/health\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("organism_db_pool_max_size 8"));
}

#[tokio::test]
async fn the_dashboard_and_its_files_are_served_from_the_binary() {
    let app = spawn_with(ApiConfig::default()).await;
    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    for (path, media_type, contains) in [
        ("/assets/dashboard.js", "text/javascript", "Authorization"),
        ("/assets/dashboard.css", "text/css", "suppressed"),
        (
            "/assets/vendor/uplot/uPlot.iife.min.js",
            "text/javascript",
            "uPlot",
        ),
        ("/assets/vendor/uplot/LICENSE", "text/plain", "MIT License"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with(media_type),
            "{path}: {content_type}"
        );
        assert!(response.text().await.unwrap().contains(contains), "{path}");
        assert!(html.contains(path), "the page links {path}");
    }
    let (status, body) = app.get_json("/assets/../Cargo.toml").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.get_json("/assets/vendor/uplot/nothing.js").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "no_such_asset"));
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_with(ApiConfig::default()).await;
    let (status, body) = app.get_json("/api/nothing/here").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "no_such_route"));
}

async fn with_the_database_down_requests_get_503_with_retry_after(store: Store) {
    // A private cluster to stop; the case's store only names the engine.
    let engine = store.engine();
    drop(store);
    let options = private_cluster("down");
    let root = options.root.clone();
    let cluster = tokio::task::spawn_blocking(move || EmbeddedCluster::start(options))
        .await
        .unwrap()
        .unwrap();
    let mut settings = DbSettings::from_url(&cluster.connection_string("postgres"))
        .unwrap()
        .with_engine(choice_of(engine));
    settings.acquire_timeout = std::time::Duration::from_millis(500);
    let store = Store::open(settings).await.unwrap();
    let app = spawn_on(store, ApiConfig::default()).await;
    let (status, _) = app.get_json("/api/trends/health").await;
    assert_eq!(status, 200);

    let mut cluster = cluster;
    tokio::task::spawn_blocking(move || {
        cluster.stop();
        drop(cluster);
    })
    .await
    .unwrap();

    let response = app.get("/api/trends/burnout-alerts").await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "database_unavailable");
    let response = app.get("/api/trends/health").await;
    assert_eq!(response.status(), 503);
    let _ = std::fs::remove_dir_all(&root);
}

async fn with_every_connection_busy_requests_get_503_pool_exhausted(store: Store) {
    // A store of one connection on the case's engine, in a database of its own.
    let engine = store.engine();
    drop(store);
    let mut settings = organism_testkit::fresh_database()
        .await
        .with_engine(choice_of(engine));
    settings.pool_size = 1;
    settings.acquire_timeout = std::time::Duration::from_millis(300);
    let store = Store::open(settings).await.unwrap();
    let app = spawn_on(store.clone(), ApiConfig::default()).await;

    // Hold the only connection: a batch whose input has not ended. The
    // writer takes its connection before it reads its input, so once the
    // input is first asked for, the connection is held (no sleep needed).
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let (asked, asked_for_input) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let chunks = futures_util::stream::once(async move {
            let _ = asked.send(());
            let _ = wait.await;
            Ok(Vec::new())
        });
        store.write_chunks(chunks).await
    });
    asked_for_input.await.unwrap();

    let response = app.get("/api/trends/statistics/burnout_score").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "pool_exhausted");

    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    let (status, _) = app.get_json("/api/trends/statistics/burnout_score").await;
    assert_eq!(status, 200);
}

organism_testkit::engine_tests!(
    health_reports_the_engine_and_schema_version,
    health_counts_its_own_writes_at_once_and_others_within_a_second,
    prometheus_metrics_count_requests,
    with_the_database_down_requests_get_503_with_retry_after,
    with_every_connection_busy_requests_get_503_pool_exhausted,
);
