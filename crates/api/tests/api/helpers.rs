//! Spawning the app (zero2prod's `tests/api/helpers.rs`).

use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use organism_api::{ApiConfig, AppState};
use organism_domain::{Role, TeamName};
use organism_pgcluster::ClusterOptions;
use organism_store::{Engine, EngineChoice, Store};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    /// A client that sends the admin key with every request.
    pub http: reqwest::Client,
    /// The admin key `http` sends.
    pub admin_key: String,
    pub store: Store,
    /// The served state (a test can hold one of its snapshot permits).
    pub state: AppState,
    _stop: oneshot::Sender<()>,
}

/// A client that sends `key` as a bearer token with every request.
pub fn client_with_key(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The app with the default configuration on `store`. A test that touches
/// storage takes its store from `organism_testkit::engine_tests!`, which runs
/// it once per engine (`<file>::portable::<test>`, `<file>::timescale::<test>`;
/// the timescale case skips loudly where TimescaleDB is absent and fails
/// there when `ORGANISM_REQUIRE_TIMESCALE=1`).
pub async fn spawn_app(store: Store) -> TestApp {
    spawn_on(store, ApiConfig::default()).await
}

/// The app on a fresh database of `engine` (a second app in a test that
/// already got its store, and so its engine, from the macro).
pub async fn spawn_engine(engine: Engine, config: ApiConfig) -> TestApp {
    spawn_on(organism_testkit::store(engine).await, config).await
}

/// The app on the portable engine only: for tests of HTTP alone (transport
/// timeouts, headers, routing), whose answers cannot depend on the engine.
pub async fn spawn_with(config: ApiConfig) -> TestApp {
    spawn_engine(Engine::Portable, config).await
}

/// The choice that opens a store of `engine`.
pub fn choice_of(engine: Engine) -> EngineChoice {
    match engine {
        Engine::Portable => EngineChoice::Portable,
        Engine::Timescale => EngineChoice::Timescale,
    }
}

/// Options for a private throwaway cluster under `/tmp/organism-test-<pid>-<name>`
/// (for a test that stops or freezes its database), with the shared test
/// cluster's server binaries, so that a timescale case has TimescaleDB.
pub fn private_cluster(name: &str) -> ClusterOptions {
    let root = std::env::temp_dir().join(format!("organism-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut options = ClusterOptions::new(&root);
    options.durable = false;
    options.bin_dir = Some(organism_testkit::cluster().binaries().bin_dir.clone());
    options
}

/// The time every test app goes by (unless its config says otherwise): a
/// fixed noon, so that no answer depends on when the suite runs.
pub fn now() -> DateTime<Utc> {
    chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 6, 10, 12, 0, 0).unwrap()
}

/// The app on `store` with `config`, on the fixed clock [`now`] unless the
/// config fixes another.
pub async fn spawn_on(store: Store, config: ApiConfig) -> TestApp {
    let config = ApiConfig {
        clock: match config.clock {
            organism_api::Clock::System => organism_api::Clock::Fixed(now()),
            fixed => fixed,
        },
        ..config
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let admin_key = store
        .create_api_key(Role::Admin, &[], "test admin")
        .await
        .unwrap()
        .key;
    let state = AppState::new(store.clone(), config);
    tokio::spawn(organism_api::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        http: client_with_key(&admin_key),
        admin_key,
        store,
        state,
        _stop: stop,
    }
}

impl TestApp {
    /// A new key with this role (and, for a reader, these teams).
    pub async fn key(&self, role: Role, teams: &[&str]) -> String {
        let teams: Vec<TeamName> = teams.iter().map(|t| TeamName::parse(*t).unwrap()).collect();
        self.store
            .create_api_key(role, &teams, "test")
            .await
            .unwrap()
            .key
    }

    /// GET with this key (`None`: no Authorization header): status and body.
    pub async fn get_as(&self, key: Option<&str>, path: &str) -> (u16, Value) {
        let client = key.map_or_else(reqwest::Client::new, client_with_key);
        let r = client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A request with any method, body and key.
    pub async fn send_as(
        &self,
        key: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let client = key.map_or_else(reqwest::Client::new, client_with_key);
        let mut request = client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_body(path, "application/json", body.to_string())
            .await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .patch(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Rows in employee_metrics, counted through the API's own statistics
    /// would hide bugs; count through a superuser connection instead.
    pub async fn metric_rows(&self) -> i64 {
        let client = organism_testkit::superuser(self.store.settings(), "organism").await;
        client
            .query_one("SELECT count(*) FROM employee_metrics", &[])
            .await
            .unwrap()
            .get(0)
    }

    pub async fn audit_rows(&self) -> i64 {
        let client = organism_testkit::superuser(self.store.settings(), "organism").await;
        client
            .query_one("SELECT count(*) FROM intervention_audit_log", &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// A sample as JSON, `minutes_ago` before [`now`].
pub fn sample(employee: &str, team: &str, minutes_ago: i64, burnout: f64) -> Value {
    let time: DateTime<Utc> = now() - Duration::minutes(minutes_ago);
    json!({
        "time": time.to_rfc3339(),
        "employee_id": employee,
        "team": team,
        "degree_centrality": 0.25,
        "betweenness_centrality": 0.1,
        "clustering_coeff": 0.5,
        "burnout_score": burnout,
    })
}

/// Asserts the DESIGN.md §5 error body and returns its code.
pub fn error_code(body: &Value) -> String {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(body["error"]["message"].is_string(), "{body}");
    code.to_string()
}

/// `n` samples of team Core, employees `{prefix}0..`, 5, 6, … minutes
/// before [`now`], burnout 50, as one JSON batch.
pub fn batch(prefix: &str, n: usize) -> Value {
    json!(
        (0..n)
            .map(|i| sample(&format!("{prefix}{i}"), "Core", 5 + i as i64, 50.0))
            .collect::<Vec<_>>()
    )
}
