//! Spawning the app (zero2prod's `tests/api/helpers.rs`).

use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use organism_api::{ApiConfig, AppState};
use organism_domain::{Role, TeamName};
use organism_store::{Engine, Store};
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

pub async fn spawn_app() -> TestApp {
    spawn_with(ApiConfig::default()).await
}

pub async fn spawn_with(config: ApiConfig) -> TestApp {
    let store = organism_testkit::store(Engine::Portable).await;
    spawn_on(store, config).await
}

pub async fn spawn_on(store: Store, config: ApiConfig) -> TestApp {
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

/// A sample as JSON, `minutes_ago` before now.
pub fn sample(employee: &str, team: &str, minutes_ago: i64, burnout: f64) -> Value {
    let time: DateTime<Utc> = Utc::now() - Duration::minutes(minutes_ago);
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
