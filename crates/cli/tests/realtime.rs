//! Real time end to end (issue 18, DESIGN.md §13), with the real parts: the
//! `organism serve` binary on a throwaway database, API keys made with
//! `organism keys create`, and a webhook receiver that is a separate
//! process (a Python 3 standard-library HTTP server this file writes out)
//! which checks every signature, dedupes by idempotency key, appends what
//! it accepts to a file (fsync'd), and can hang or answer 500 on purpose.
//!
//! - a receiver killed (SIGKILL) while it holds deliveries, then restarted
//!   on the same port: every (episode, state) is accepted exactly once,
//!   retried with the same key, and the delivery log shows the failure;
//! - a receiver answering 500 twice: delivered on attempt 3;
//! - hysteresis and episodes: fire, the band, resolve, a new episode;
//! - the live feed (SSE): resumed with `Last-Event-ID` without a gap or a
//!   repeat, a team-limited reader never sees another team, managers and
//!   writers are refused;
//! - `serve` killed and restarted: an episode is never notified twice, the
//!   audit log has one `alert_firing` for it and `organism audit verify`
//!   passes;
//! - a forecast rule with two servers on one database: its day is
//!   evaluated once, and the webhook gets one firing.
//!
//! Each runs on both engines (`portable::…`, `timescale::…`; the latter
//! says `SKIPPED … why` where the test cluster has no TimescaleDB).
//!
//! Waiting is by polling with deadlines, never by fixed sleeps; which
//! samples the evaluator has seen is learnt from a "marker" employee in the
//! same batch (a batch is committed, and so evaluated, all at once).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use organism_store::Engine;
use organism_testkit::{DATABASE_VARIABLES, free_port};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;

/// How long any one thing is waited for before the test fails.
const WAIT: Duration = Duration::from_secs(30);
/// The sender's first retry delay in these tests (`--alert-retry-base-secs`).
const RETRY_BASE_SECS: f64 = 0.2;
const ACTOR: &str = "realtime.test@example.com";

/// The webhook receiver: `receiver.py PORT SECRET MODE FAILURES DIR`.
/// MODE `ok` answers 200; `hang` accepts (records) a delivery, then holds
/// the request without answering; `fail` answers 500 to the first FAILURES
/// well-signed requests. A bad signature is always 401 and recorded in
/// `bad-signature.jsonl`. Accepted deliveries (one per idempotency key,
/// remembered across restarts from the file) go to `accepted.jsonl`; every
/// request to `requests.jsonl`.
const RECEIVER_PY: &str = r#"
import hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, secret, mode, failures, out = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], int(sys.argv[4]), sys.argv[5]
lock = threading.Lock()

def append(name, record):
    with open(os.path.join(out, name), "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())

seen = set()
try:
    with open(os.path.join(out, "accepted.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                seen.add(json.loads(line)["key"])
except FileNotFoundError:
    pass

def verified(header, body):
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t, given = int(parts["t"]), parts["v1"]
    except Exception:
        return False
    if abs(time.time() - t) > 300:
        return False
    want = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, given)

class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status):
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global failures
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("organism-idempotency-key") or ""
        record = {"key": key, "event": self.headers.get("organism-event"),
                  "attempt": self.headers.get("organism-attempt"), "duplicate": False}
        with lock:
            if not verified(self.headers.get("organism-signature") or "", body):
                append("bad-signature.jsonl", record)
                status = 401
            elif mode == "fail" and failures > 0:
                failures -= 1
                status = 500
            else:
                record["duplicate"] = key in seen
                if key not in seen:
                    seen.add(key)
                    append("accepted.jsonl", {"key": key, "event": record["event"],
                                              "body": body.decode("utf-8")})
                status = 200
            record["status"] = status
            append("requests.jsonl", record)
        if mode == "hang" and status == 200:
            append("holding.jsonl", record)
            while True:
                time.sleep(3600)
        self.answer(status)

server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
server.daemon_threads = True
print("listening", flush=True)
server.serve_forever()
"#;

// ---- plumbing ---------------------------------------------------------------

/// A directory of its own for a test's files, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("organism-realtime-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `probe` until it gives `Ok`, for at most [`WAIT`]; on time out
/// fails with what it last said.
async fn until<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    organism_testkit::until(what, WAIT, probe).await
}

/// A fresh database, and the engine every command runs it with.
#[derive(Debug, Clone)]
struct Db {
    url: String,
    engine: Engine,
}

/// A fresh database for `engine`; `None` (having said why) where the test
/// cluster has no TimescaleDB.
async fn database(engine: Engine, test: &str) -> Option<Db> {
    organism_testkit::store_or_skip(engine, test).await?.close();
    let settings = organism_testkit::fresh_database().await;
    let url =
        organism_testkit::cluster().connection_string(settings.connection.get_dbname().unwrap());
    Some(Db { url, engine })
}

fn command(db: &Db) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"));
    for name in DATABASE_VARIABLES {
        command.env_remove(name);
    }
    command
        .args(["--engine", db.engine.as_str()])
        .env("DATABASE_URL", &db.url)
        .env("ORGANISM_LOG", "warn")
        .kill_on_drop(true);
    command
}

async fn organism(db: &Db, args: &[&str]) -> Output {
    command(db).args(args).output().await.unwrap()
}

/// `organism keys create --role <role> [--teams <teams>]`: the key printed.
async fn key(db: &Db, role: &str, teams: Option<&str>) -> String {
    let mut args = vec!["keys", "create", "--role", role];
    if let Some(teams) = teams {
        args.extend(["--teams", teams]);
    }
    let out = organism(db, &args).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "keys create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{role} API key: ")))
        .unwrap_or_else(|| panic!("no key in {stdout}"))
        .trim()
        .to_string()
}

/// A running `organism serve`, its log in a file.
struct Serve {
    child: tokio::process::Child,
    log: PathBuf,
}

impl Serve {
    async fn start(db: &Db, port: u16, log: &Path, admin: &str) -> Serve {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = command(db)
            .env("ORGANISM_LOG", "warn,organism=info")
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--alert-retry-base-secs", &RETRY_BASE_SECS.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        let mut serve = Serve {
            child,
            log: log.to_path_buf(),
        };
        let http = reqwest::Client::new();
        let health = format!("http://127.0.0.1:{port}/api/trends/health");
        let serve_ref = &mut serve;
        until("serve to answer its health check", || {
            let (http, health) = (&http, &health);
            let exited = serve_ref.child.try_wait().unwrap();
            let log = std::fs::read_to_string(&serve_ref.log).unwrap_or_default();
            async move {
                if let Some(status) = exited {
                    panic!("serve exited {status}: {log}");
                }
                match http.get(health).bearer_auth(admin).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await;
        serve
    }

    /// SIGKILL: no drain, no goodbye.
    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The API of one server, with its admin key.
struct Api {
    base: String,
    http: reqwest::Client,
    admin: String,
}

impl Api {
    fn new(port: u16, admin: &str) -> Api {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            admin: admin.to_string(),
        }
    }

    async fn answer(response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get_as(&self, key: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        Self::answer(response).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.get_as(&self.admin, path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(body)
            .send()
            .await
            .unwrap();
        Self::answer(response).await
    }

    async fn samples(&self, rows: &[Value]) {
        let (status, body) = self.post("/api/metrics", &json!(rows)).await;
        assert_eq!(status, 200, "POST /api/metrics: {body}");
        assert_eq!(body["stored"], json!(rows.len()), "{body}");
    }

    /// Creates a rule; returns its id and its destinations' secrets.
    async fn rule(&self, body: Value) -> (String, Vec<String>) {
        let (status, created) = self.post("/api/alert-rules", &body).await;
        assert_eq!(status, 201, "POST /api/alert-rules: {created}");
        let secrets: Vec<String> = created["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["secret"].as_str().unwrap().to_string())
            .collect();
        let id = created["rule"]["rule_id"].as_str().unwrap().to_string();
        // Never shown again.
        let shown = self.get(&format!("/api/alert-rules/{id}")).await;
        for s in &secrets {
            assert!(!shown.to_string().contains(s.as_str()), "{shown}");
        }
        (id, secrets)
    }

    async fn deliveries(&self, rule_id: &str) -> Vec<Value> {
        let all = self
            .get(&format!(
                "/api/alert-deliveries?rule_id={rule_id}&limit=1000"
            ))
            .await;
        let mut all = all.as_array().unwrap().clone();
        all.sort_by_key(|d| d["delivery_id"].as_i64().unwrap());
        all
    }

    /// Waits until `rule_id` has `n` deliveries, all delivered.
    async fn delivered(&self, rule_id: &str, n: usize) -> Vec<Value> {
        until(
            &format!("{n} deliveries of {rule_id} delivered"),
            || async move {
                let all = self.deliveries(rule_id).await;
                let done = all.iter().filter(|d| d["status"] == "delivered").count();
                if all.len() == n && done == n {
                    Ok(all)
                } else {
                    Err(format!("{all:#?}"))
                }
            },
        )
        .await
    }

    /// The audit events with this action, oldest first.
    async fn audit(&self, action: &str) -> Vec<Value> {
        let page = self
            .get(&format!("/api/audit?action={action}&limit=1000"))
            .await;
        page["events"].as_array().unwrap().clone()
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sample times inside the last hour, in whole seconds, increasing.
struct Times(DateTime<Utc>);

impl Times {
    fn new() -> Times {
        let start = Utc::now() - chrono::Duration::minutes(30);
        Times(start - chrono::Duration::nanoseconds(i64::from(start.timestamp_subsec_nanos())))
    }
    fn next(&mut self) -> DateTime<Utc> {
        // Two seconds apart: a test can place a sample between two others.
        self.0 += chrono::Duration::seconds(2);
        self.0
    }
}

fn sample(employee: &str, team: &str, burnout: f64, time: DateTime<Utc>) -> Value {
    json!({
        "time": rfc3339(time), "employee_id": employee, "team": team,
        "degree_centrality": 0.1, "betweenness_centrality": 0.2,
        "clustering_coeff": 0.3, "burnout_score": burnout,
    })
}

/// A burnout rule above `threshold`, delivering to `url` (if any).
fn burnout_rule(id: &str, threshold: f64, hysteresis: f64, url: Option<&str>) -> Value {
    let destinations: Vec<Value> = url
        .map(|u| json!({"url": u, "timeout_ms": 10000}))
        .into_iter()
        .collect();
    json!({
        "rule_id": id, "name": format!("burnout {id}"), "metric": "burnout_score",
        "direction": "above", "threshold": threshold, "hysteresis": hysteresis,
        "destinations": destinations, "actor": ACTOR,
    })
}

/// A python3 interpreter's real path (not a version manager's shim, whose
/// process would not be the one killed).
async fn python() -> String {
    let out = tokio::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .await
        .expect("python3 on PATH");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The receiver process.
struct Receiver {
    child: tokio::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Receiver {
    async fn start(dir: &Path, port: u16, secret: &str, mode: &str, failures: u32) -> Receiver {
        let script = dir.join("receiver.py");
        std::fs::write(&script, RECEIVER_PY).unwrap();
        let mut child = tokio::process::Command::new(python().await)
            .arg(&script)
            .args([&port.to_string(), secret, mode, &failures.to_string()])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the receiver to start")
            .unwrap();
        assert_eq!(first.as_deref(), Some("listening"));
        Receiver {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    fn records(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Accepted deliveries: (key, event header, body).
    fn accepted(&self) -> Vec<(String, String, Value)> {
        self.records("accepted.jsonl")
            .into_iter()
            .map(|r| {
                (
                    r["key"].as_str().unwrap().to_string(),
                    r["event"].as_str().unwrap_or_default().to_string(),
                    serde_json::from_str(r["body"].as_str().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    /// Waits until `n` deliveries were accepted.
    async fn accepted_n(&self, n: usize) -> Vec<(String, String, Value)> {
        until(&format!("{n} deliveries accepted"), || async move {
            let got = self.accepted();
            if got.len() >= n {
                Ok(got)
            } else {
                Err(format!("{got:#?}"))
            }
        })
        .await
    }
}

/// The receiver's own check is real: a wrong signature is refused.
async fn assert_receiver_refuses_a_bad_signature(receiver: &Receiver) {
    let body = r#"{"probe":true}"#;
    let response = reqwest::Client::new()
        .post(receiver.url())
        .header(
            "organism-signature",
            format!("t={},v1={}", Utc::now().timestamp(), "0".repeat(64)),
        )
        .header("organism-idempotency-key", "probe")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(receiver.records("bad-signature.jsonl").len(), 1);
}

/// Every request from organism had a good signature (only the probe of
/// [`assert_receiver_refuses_a_bad_signature`] was refused).
fn assert_signatures_verified(receiver: &Receiver) {
    let bad = receiver.records("bad-signature.jsonl");
    assert!(
        bad.iter().all(|r| r["key"] == "probe"),
        "the receiver refused organism's signature: {bad:#?}"
    );
}

/// A delivery's attempts: (attempt, http_status, outcome).
fn attempts(delivery: &Value) -> Vec<(i64, Option<i64>, String)> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["http_status"].as_i64(),
                a["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn time_of(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// One server on a fresh database with its admin key, and a scratch dir.
struct Setup {
    db: Db,
    port: u16,
    admin: String,
    dir: PathBuf,
}

/// `None` (having said why) where the engine cannot run here.
async fn setup(name: &str, engine: Engine, test: &str) -> Option<Setup> {
    let db = database(engine, test).await?;
    println!("on the {engine} engine");
    let admin = key(&db, "admin", None).await;
    Some(Setup {
        db,
        port: free_port(),
        admin,
        dir: scratch(&format!("{name}-{engine}")),
    })
}

/// The scratch dir goes with a test that passed; a failed one keeps its
/// logs and the receiver's records to read.
impl Drop for Setup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Setup {
    async fn serve(&self) -> Serve {
        Serve::start(
            &self.db,
            self.port,
            &self.dir.join("serve.log"),
            &self.admin,
        )
        .await
    }
    fn api(&self) -> Api {
        Api::new(self.port, &self.admin)
    }
}

// ---- 1. a receiver that dies mid-delivery ------------------------------------

/// The receiver accepts each firing, then hangs before answering; it is
/// killed while it holds them and restarted on the same port. Every
/// (episode, state) is accepted exactly once, the held ones retried with
/// the same idempotency key, and the delivery log shows the failed attempt
/// before `delivered`.
async fn webhook_is_delivered_exactly_once_across_a_receiver_killed_mid_delivery(engine: Engine) {
    let Some(s) = setup(
        "killed-receiver",
        engine,
        "webhook_is_delivered_exactly_once_across_a_receiver_killed_mid_delivery",
    )
    .await
    else {
        return;
    };
    let serve = s.serve().await;
    let api = &s.api();
    let receiver_port = free_port();
    let url = format!("http://127.0.0.1:{receiver_port}/hook");
    let (rule_id, secrets) = api
        .rule(burnout_rule("rule-kill", 80.0, 5.0, Some(&url)))
        .await;
    let mut receiver = Receiver::start(&s.dir, receiver_port, &secrets[0], "hang", 0).await;
    assert_receiver_refuses_a_bad_signature(&receiver).await;

    let mut times = Times::new();
    let employees = ["k1", "k2", "k3"];
    let t = times.next();
    let rows: Vec<Value> = employees
        .iter()
        .map(|e| sample(e, "Core", 90.0, t))
        .collect();
    api.samples(&rows).await;

    // Killed while it holds at least one delivery it has recorded.
    let holder = &receiver;
    let held = until("the receiver to hold a delivery", || async move {
        let held = holder.records("holding.jsonl");
        if held.is_empty() {
            Err("nothing held".into())
        } else {
            Ok(held)
        }
    })
    .await;
    receiver.kill().await;
    let receiver = Receiver::start(&s.dir, receiver_port, &secrets[0], "ok", 0).await;
    api.delivered(&rule_id, 3).await;

    // Each episode resolves too: both states, each once.
    let t = times.next();
    let rows: Vec<Value> = employees
        .iter()
        .map(|e| sample(e, "Core", 50.0, t))
        .collect();
    api.samples(&rows).await;
    let deliveries = api.delivered(&rule_id, 6).await;

    // One delivery per (episode, state), three episodes, one per employee.
    let pairs: BTreeSet<(String, String)> = deliveries
        .iter()
        .map(|d| {
            (
                d["episode_id"].as_str().unwrap().to_string(),
                d["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(pairs.len(), 6, "{deliveries:#?}");
    let episodes: BTreeSet<&String> = pairs.iter().map(|p| &p.0).collect();
    assert_eq!(episodes.len(), 3, "{pairs:?}");
    for e in &episodes {
        for state in ["firing", "resolved"] {
            assert!(pairs.contains(&((*e).clone(), state.to_string())));
        }
    }
    let keys: BTreeSet<String> = deliveries
        .iter()
        .map(|d| d["idempotency_key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 6);

    // The receiver accepted each key exactly once, and nothing else.
    let accepted = receiver.accepted();
    let accepted_keys: Vec<&String> = accepted.iter().map(|a| &a.0).collect();
    assert_eq!(accepted.len(), 6, "{accepted_keys:?}");
    assert_eq!(
        accepted_keys
            .iter()
            .copied()
            .cloned()
            .collect::<BTreeSet<_>>(),
        keys
    );
    let mut by_employee: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (key, event, body) in &accepted {
        let state = body["state"].as_str().unwrap();
        assert_eq!(event, &format!("alert.{state}"));
        assert!(
            key.starts_with(&format!(
                "{}:{state}:",
                body["episode_id"].as_str().unwrap()
            )),
            "{key} for {body}"
        );
        assert_eq!(body["rule"]["rule_id"], rule_id.as_str());
        by_employee
            .entry(body["employee_id"].as_str().unwrap().to_string())
            .or_default()
            .push((
                body["episode_id"].as_str().unwrap().to_string(),
                state.into(),
            ));
    }
    assert_eq!(
        by_employee.keys().map(String::as_str).collect::<Vec<_>>(),
        employees
    );
    for (employee, notified) in &by_employee {
        assert_eq!(notified.len(), 2, "{employee}: {notified:?}");
        assert_eq!(notified[0].0, notified[1].0, "{employee}: one episode");
        assert_eq!(
            (notified[0].1.as_str(), notified[1].1.as_str()),
            ("firing", "resolved")
        );
    }

    // What was held when the receiver died came again, with the same key,
    // and was recognised as a duplicate; its first attempt failed (no
    // answer) and a later one was delivered.
    let requests = receiver.records("requests.jsonl");
    for h in &held {
        let key = h["key"].as_str().unwrap();
        let again: Vec<&Value> = requests
            .iter()
            .filter(|r| r["key"] == key && r["duplicate"] == true)
            .collect();
        assert!(!again.is_empty(), "{key} was not sent again: {requests:#?}");
        let d = deliveries
            .iter()
            .find(|d| d["idempotency_key"] == key)
            .unwrap();
        let tried = attempts(d);
        assert!(tried.len() >= 2, "{d:#}");
        assert_eq!((tried[0].1, tried[0].2.as_str()), (None, "failed"), "{d:#}");
        assert!(d["attempts"][0]["error"].is_string(), "{d:#}");
        let last = tried.last().unwrap();
        assert_eq!(last.2, "delivered", "{d:#}");
        assert!(last.1.is_some_and(|s| (200..300).contains(&s)), "{d:#}");
        assert_eq!(
            tried.iter().map(|t| t.0).collect::<Vec<_>>(),
            (1..=tried.len() as i64).collect::<Vec<_>>()
        );
    }
    assert_signatures_verified(&receiver);
    eprintln!(
        "exactly once: {} deliveries, {} held when the receiver was killed, {} requests received, {} accepted, attempts {:?}",
        deliveries.len(),
        held.len(),
        requests.len(),
        accepted.len(),
        deliveries.iter().map(attempts).collect::<Vec<_>>()
    );
    drop(serve);
}

// ---- 2. 500 → retried ----------------------------------------------------------

async fn a_receiver_answering_500_is_retried_with_backoff_until_delivered(engine: Engine) {
    let Some(s) = setup(
        "answers-500",
        engine,
        "a_receiver_answering_500_is_retried_with_backoff_until_delivered",
    )
    .await
    else {
        return;
    };
    let _serve = s.serve().await;
    let api = &s.api();
    let receiver_port = free_port();
    let url = format!("http://127.0.0.1:{receiver_port}/hook");
    let (rule_id, secrets) = api
        .rule(burnout_rule("rule-500", 80.0, 0.0, Some(&url)))
        .await;
    let receiver = Receiver::start(&s.dir, receiver_port, &secrets[0], "fail", 2).await;

    api.samples(&[sample("f1", "Core", 85.0, Times::new().next())])
        .await;
    let deliveries = api.delivered(&rule_id, 1).await;
    let d = &deliveries[0];
    let tried = attempts(d);
    assert_eq!(tried.len(), 3, "{d:#}");
    assert_eq!(
        tried
            .iter()
            .map(|t| (t.0, t.2.as_str()))
            .collect::<Vec<_>>(),
        [(1, "failed"), (2, "failed"), (3, "delivered")],
        "{d:#}"
    );
    assert_eq!((tried[0].1, tried[1].1), (Some(500), Some(500)), "{d:#}");
    assert!(tried[2].1.is_some_and(|s| (200..300).contains(&s)), "{d:#}");
    assert!(d["last_error"].is_null(), "{d:#}");
    // Each retry waited at least half its backoff (base, then twice it).
    let started: Vec<DateTime<Utc>> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| time_of(&a["started_at"]))
        .collect();
    for (i, pair) in started.windows(2).enumerate() {
        let gap = (pair[1] - pair[0]).as_seconds_f64();
        let least = RETRY_BASE_SECS * f64::from(1u32 << i) / 2.0;
        assert!(gap >= least, "attempt {} after {gap}s: {d:#}", i + 2);
    }

    // The receiver saw the same key three times, accepted it once.
    let requests = receiver.records("requests.jsonl");
    let key = d["idempotency_key"].as_str().unwrap();
    assert_eq!(
        requests
            .iter()
            .map(|r| (
                r["key"].as_str().unwrap(),
                r["attempt"].as_str().unwrap(),
                r["status"].as_i64().unwrap()
            ))
            .collect::<Vec<_>>(),
        [(key, "1", 500), (key, "2", 500), (key, "3", 200)]
    );
    assert_eq!(receiver.accepted().len(), 1);
    assert_signatures_verified(&receiver);
}

// ---- 3. hysteresis and episodes ------------------------------------------------

/// Above the threshold fires; in the band (and exactly at threshold −
/// hysteresis) nothing; below it resolves, in the same episode; a new
/// crossing is a new episode; a late sample (older than the last one
/// evaluated) moves nothing.
async fn hysteresis_and_episodes_end_to_end(engine: Engine) {
    let Some(s) = setup("hysteresis", engine, "hysteresis_and_episodes_end_to_end").await else {
        return;
    };
    let _serve = s.serve().await;
    let api = &s.api();
    let receiver_port = free_port();
    let url = format!("http://127.0.0.1:{receiver_port}/hook");
    let (rule_id, secrets) = api
        .rule(burnout_rule("rule-band", 80.0, 10.0, Some(&url)))
        .await;
    let receiver = Receiver::start(&s.dir, receiver_port, &secrets[0], "ok", 0).await;
    let mut times = Times::new();
    let of = |who: &str| -> Vec<(String, Value)> {
        receiver
            .accepted()
            .into_iter()
            .filter(|a| a.2["employee_id"] == who)
            .map(|a| (a.1, a.2))
            .collect()
    };

    let fired_at = times.next();
    api.samples(&[sample("h1", "Core", 85.0, fired_at)]).await;
    receiver.accepted_n(1).await;
    let first = of("h1");
    assert_eq!(first.len(), 1);
    let (event, body) = &first[0];
    assert_eq!(event, "alert.firing");
    assert_eq!(body["schema"], "organism.alert.v1");
    assert_eq!(body["state"], "firing");
    assert_eq!(body["team"], "Core");
    assert_eq!(body["metric"], "burnout_score");
    assert_eq!(body["value"], 85.0);
    assert_eq!(time_of(&body["time"]), fired_at);
    assert_eq!(body["rule"]["rule_id"], rule_id.as_str());
    assert_eq!(body["rule"]["threshold"], 80.0);
    assert_eq!(body["rule"]["hysteresis"], 10.0);
    let episode = body["episode_id"].as_str().unwrap().to_string();

    // In the band, then exactly on its edge: still firing. The marker's
    // firing, in the same batch, says the batch was evaluated.
    for (i, value) in [75.0, 70.0].into_iter().enumerate() {
        let t = times.next();
        let marker = format!("marker{i}");
        api.samples(&[
            sample("h1", "Core", value, t),
            sample(&marker, "Core", 95.0, t),
        ])
        .await;
        receiver.accepted_n(2 + i).await;
        assert!(!of(&marker).is_empty());
        assert_eq!(of("h1").len(), 1, "{value} resolved: {:#?}", of("h1"));
    }

    let resolved_at = times.next();
    api.samples(&[sample("h1", "Core", 69.9, resolved_at)])
        .await;
    receiver.accepted_n(4).await;
    let notified = of("h1");
    assert_eq!(notified.len(), 2);
    let (event, body) = &notified[1];
    assert_eq!(event, "alert.resolved");
    assert_eq!(body["state"], "resolved");
    assert_eq!(body["episode_id"], episode.as_str());
    assert_eq!(body["value"], 69.9);
    assert_eq!(time_of(&body["time"]), resolved_at);

    // A late sample (before the last one evaluated) above the threshold
    // fires nothing.
    let late = resolved_at - chrono::Duration::seconds(1);
    let t = times.next();
    api.samples(&[
        sample("h1", "Core", 99.0, late),
        sample("marker-late", "Core", 95.0, t),
    ])
    .await;
    receiver.accepted_n(5).await;
    assert!(!of("marker-late").is_empty());
    assert_eq!(of("h1").len(), 2, "a late sample fired: {:#?}", of("h1"));

    // A new crossing: a new episode.
    api.samples(&[sample("h1", "Core", 81.0, times.next())])
        .await;
    receiver.accepted_n(6).await;
    let notified = of("h1");
    assert_eq!(notified.len(), 3);
    let (event, body) = &notified[2];
    assert_eq!(event, "alert.firing");
    assert_ne!(body["episode_id"], episode.as_str(), "a new episode");
    assert!(body["episode_id"].is_string());

    // The audit log agrees: h1 fired twice and resolved once.
    let h1 = |events: Vec<Value>| -> Vec<String> {
        events
            .into_iter()
            .filter(|e| e["target_employee_id"] == "h1")
            .map(|e| e["details"]["episode_id"].as_str().unwrap().to_string())
            .collect()
    };
    let firing = h1(api.audit("alert_firing").await);
    assert_eq!(firing.len(), 2);
    assert_eq!(firing[0], episode);
    assert_eq!(h1(api.audit("alert_resolved").await), [episode]);
    assert_signatures_verified(&receiver);
}

// ---- 4. the live feed ------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct SseEvent {
    id: Option<i64>,
    event: String,
    data: Value,
}

/// An open `GET /api/stream`, read as the bytes come.
struct Sse {
    response: reqwest::Response,
    buffer: Vec<u8>,
    seen: Vec<SseEvent>,
}

impl Sse {
    async fn open(api: &Api, key: &str, query: &str, last_event_id: Option<i64>) -> Sse {
        let mut request = api
            .http
            .get(format!("{}/api/stream{query}", api.base))
            .timeout(Duration::from_secs(3600))
            .bearer_auth(key);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "GET /api/stream{query}");
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Sse {
            response,
            buffer: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// The next event (comments skipped), or `None` at `deadline`.
    async fn next(&mut self, deadline: Instant) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(block).unwrap();
                let (mut id, mut event, mut data) = (None, String::from("message"), Vec::new());
                for line in text.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => id = Some(value.parse().unwrap()),
                        "event" => event = value.to_string(),
                        "data" => data.push(value.to_string()),
                        _ => {} // a comment (keep-alive) or empty
                    }
                }
                if data.is_empty() && id.is_none() {
                    continue;
                }
                let data = serde_json::from_str(&data.join("\n")).unwrap();
                let e = SseEvent { id, event, data };
                self.seen.push(e.clone());
                return Some(e);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()
                .expect("the stream ended");
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Reads until `done` holds for what this stream has seen.
    async fn until(&mut self, what: &str, done: impl Fn(&[SseEvent]) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.seen) {
            if self.next(deadline).await.is_none() {
                panic!("timed out reading {what}; seen: {:#?}", self.seen);
            }
        }
    }

    fn last_id(&self) -> i64 {
        self.seen.iter().rev().find_map(|e| e.id).unwrap()
    }
}

fn has_alert(seen: &[SseEvent], employee: &str, state: &str) -> bool {
    seen.iter().any(|e| {
        e.event == "alert" && e.data["employee_id"] == employee && e.data["state"] == state
    })
}

fn has_sample(seen: &[SseEvent], employee: &str, burnout: f64) -> bool {
    seen.iter().any(|e| {
        e.event == "samples"
            && e.data["samples"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["employee_id"] == employee && s["burnout_score"] == burnout)
    })
}

/// Every event is team A's, by its team and by everything it carries.
fn assert_only_team(events: &[SseEvent], team: &str) {
    for e in events {
        assert_eq!(e.data["team"], team, "{e:#?}");
        match e.event.as_str() {
            "alert" => assert!(e.data["employee_id"].as_str().unwrap().starts_with('a')),
            "samples" => {
                for s in e.data["samples"].as_array().unwrap() {
                    assert_eq!(s["team"], team, "{e:#?}");
                }
            }
            other => panic!("unexpected event {other}: {e:#?}"),
        }
    }
}

fn ids(events: &[SseEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id.unwrap()).collect()
}

/// Readers drop the stream, samples and alert changes happen while no one
/// listens, and they resume with `Last-Event-ID` (header, or the query
/// parameter): the ids continue exactly, compared with the admin's full
/// view from 0 and with the feed in the database. A reader limited to team
/// A sees exactly team A's events; `samples=false` only alerts; managers
/// and writers are refused.
async fn the_live_feed_resumes_without_gaps_and_keeps_to_each_readers_teams(engine: Engine) {
    let Some(s) = setup(
        "stream",
        engine,
        "the_live_feed_resumes_without_gaps_and_keeps_to_each_readers_teams",
    )
    .await
    else {
        return;
    };
    let reader = key(&s.db, "reader", None).await;
    let reader_a = key(&s.db, "reader", Some("TeamA")).await;
    let manager = key(&s.db, "manager", Some("TeamA")).await;
    let writer = key(&s.db, "writer", None).await;
    let _serve = s.serve().await;
    let api = &s.api();

    for (who, k) in [("manager", &manager), ("writer", &writer)] {
        let (status, body) = api.get_as(k, "/api/stream").await;
        assert_eq!(status, 403, "{who}: {body}");
    }
    let (status, _) = api.get_as("not-a-key", "/api/stream").await;
    assert_eq!(status, 401);

    // A rule without destinations: its changes go to the feed (and audit).
    api.rule(burnout_rule("rule-feed", 80.0, 0.0, None)).await;
    let mut times = Times::new();
    let mut all = Sse::open(api, &reader, "", None).await;
    let mut only_a = Sse::open(api, &reader_a, "", None).await;

    // Phase 1, both listening.
    let t = times.next();
    api.samples(&[
        sample("a1", "TeamA", 90.0, t),
        sample("a2", "TeamA", 50.0, t),
        sample("b1", "TeamB", 95.0, t),
        sample("b2", "TeamB", 40.0, t),
    ])
    .await;
    all.until("phase 1, every team", |seen| {
        has_alert(seen, "a1", "firing")
            && has_alert(seen, "b1", "firing")
            && has_sample(seen, "a2", 50.0)
            && has_sample(seen, "b2", 40.0)
    })
    .await;
    only_a
        .until("phase 1, team A", |seen| {
            has_alert(seen, "a1", "firing") && has_sample(seen, "a2", 50.0)
        })
        .await;
    let (all_first, all_last) = (all.seen.clone(), all.last_id());
    let (a_first, a_last) = (only_a.seen.clone(), only_a.last_id());
    drop(all);
    drop(only_a);

    // Phase 2, no one listening: two episodes resolve, two fire, samples
    // arrive. Evaluated when the audit log has the two resolutions.
    let t = times.next();
    api.samples(&[
        sample("a1", "TeamA", 60.0, t),
        sample("b1", "TeamB", 60.0, t),
        sample("a3", "TeamA", 85.0, t),
        sample("b3", "TeamB", 86.0, t),
    ])
    .await;
    until("phase 2 evaluated", || async move {
        let n = api.audit("alert_resolved").await.len();
        if n == 2 { Ok(()) } else { Err(format!("{n}")) }
    })
    .await;

    // Resumed: by the header, and by the query parameter.
    let mut all = Sse::open(api, &reader, "", Some(all_last)).await;
    let mut only_a = Sse::open(api, &reader_a, &format!("?last_event_id={a_last}"), None).await;
    // Phase 3, listening again.
    let t = times.next();
    api.samples(&[
        sample("a3", "TeamA", 50.0, t),
        sample("b3", "TeamB", 51.0, t),
        sample("a4", "TeamA", 30.0, t),
        sample("b4", "TeamB", 31.0, t),
    ])
    .await;
    until("phase 3 evaluated", || async move {
        let n = api.audit("alert_resolved").await.len();
        if n == 4 { Ok(()) } else { Err(format!("{n}")) }
    })
    .await;
    let su = organism_testkit::superuser(
        &organism_testkit::organism_store::DbSettings::from_url(&s.db.url).unwrap(),
        "organism",
    )
    .await;
    let feed: Vec<i64> = su
        .query("SELECT event_id FROM realtime_feed ORDER BY event_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let head = *feed.last().unwrap();

    // The admin's full view, from the start.
    let mut admin = Sse::open(api, &s.admin, "?last_event_id=0", None).await;
    admin
        .until("the admin's full view", |seen| {
            seen.last().and_then(|e| e.id) == Some(head)
        })
        .await;
    let full = admin.seen.clone();
    assert_eq!(ids(&full), feed, "the admin saw the feed, in order");
    assert!(
        full.iter().all(|e| e.id.is_some()),
        "no gap event: {full:#?}"
    );
    // While no one listened, the samples still went to the feed.
    assert!(
        has_sample(&full, "a3", 85.0),
        "phase 2's samples: {full:#?}"
    );
    assert!(has_alert(&full, "b1", "resolved") && has_alert(&full, "a3", "firing"));

    // The unrestricted reader: its two sessions are the full view exactly.
    all.until("the reader's resumed view", |seen| {
        seen.last().and_then(|e| e.id) == Some(head)
    })
    .await;
    let joined: Vec<SseEvent> = all_first.iter().chain(&all.seen).cloned().collect();
    assert_eq!(ids(&joined), ids(&full), "no event missing, none repeated");
    assert_eq!(joined, full);
    assert!(ids(&all.seen).iter().all(|id| *id > all_last));

    // Team A's reader: exactly team A's events of the full view.
    let team_a: Vec<SseEvent> = full
        .iter()
        .filter(|e| e.data["team"] == "TeamA")
        .cloned()
        .collect();
    let last_a = team_a.last().unwrap().id;
    only_a
        .until("team A's resumed view", |seen| {
            seen.last().and_then(|e| e.id) == last_a
        })
        .await;
    let joined_a: Vec<SseEvent> = a_first.iter().chain(&only_a.seen).cloned().collect();
    assert_only_team(&joined_a, "TeamA");
    assert_eq!(joined_a, team_a);
    assert!(has_alert(&joined_a, "a1", "resolved") && has_sample(&joined_a, "a4", 30.0));

    // Alerts only.
    let alerts: Vec<SseEvent> = full
        .iter()
        .filter(|e| e.event == "alert")
        .cloned()
        .collect();
    assert_eq!(alerts.len(), 8, "{alerts:#?}");
    let last_alert = alerts.last().unwrap().id;
    let mut no_samples = Sse::open(api, &reader, "?samples=false&last_event_id=0", None).await;
    no_samples
        .until("the alerts-only view", |seen| {
            seen.last().and_then(|e| e.id) == last_alert
        })
        .await;
    assert_eq!(no_samples.seen, alerts);
}

// ---- 5. a restart never notifies twice -----------------------------------------

/// `serve` is SIGKILLed after an episode fired and was delivered, and
/// started again: more samples in the same episode notify nothing, its
/// resolution is notified once in the same episode, the audit log has one
/// `alert_firing` for it, and `organism audit verify` passes.
async fn a_restarted_server_never_notifies_an_episode_twice(engine: Engine) {
    let Some(s) = setup(
        "restart",
        engine,
        "a_restarted_server_never_notifies_an_episode_twice",
    )
    .await
    else {
        return;
    };
    let mut serve = s.serve().await;
    let api = &s.api();
    let receiver_port = free_port();
    let url = format!("http://127.0.0.1:{receiver_port}/hook");
    let (rule_id, secrets) = api
        .rule(burnout_rule("rule-restart", 80.0, 5.0, Some(&url)))
        .await;
    let receiver = Receiver::start(&s.dir, receiver_port, &secrets[0], "ok", 0).await;
    let mut times = Times::new();

    api.samples(&[sample("r1", "Core", 88.0, times.next())])
        .await;
    let first = api.delivered(&rule_id, 1).await;
    let episode = first[0]["episode_id"].as_str().unwrap().to_string();
    receiver.accepted_n(1).await;
    serve.kill().await;

    let serve = s.serve().await;
    let t = times.next();
    api.samples(&[sample("r1", "Core", 97.0, t), sample("m1", "Core", 99.0, t)])
        .await;
    api.samples(&[sample("r1", "Core", 82.0, times.next())])
        .await;
    let t = times.next();
    api.samples(&[sample("r1", "Core", 90.0, t), sample("m2", "Core", 99.0, t)])
        .await;
    // Both markers notified: every batch was evaluated by the new process.
    let deliveries = api.delivered(&rule_id, 3).await;
    let r1: Vec<Value> = receiver
        .accepted()
        .into_iter()
        .map(|a| a.2)
        .filter(|b| b["employee_id"] == "r1")
        .collect();
    assert_eq!(r1.len(), 1, "r1 notified again after the restart: {r1:#?}");
    assert_eq!(
        deliveries
            .iter()
            .filter(|d| d["episode_id"] == episode.as_str())
            .count(),
        1,
        "{deliveries:#?}"
    );
    let firing: Vec<Value> = api
        .audit("alert_firing")
        .await
        .into_iter()
        .filter(|e| e["target_employee_id"] == "r1")
        .collect();
    assert_eq!(firing.len(), 1, "{firing:#?}");
    assert_eq!(firing[0]["details"]["episode_id"], episode.as_str());
    assert_eq!(
        firing[0]["intervention_id"],
        format!("alert-rule/{rule_id}")
    );

    // The episode still ends, once, as itself.
    api.samples(&[sample("r1", "Core", 10.0, times.next())])
        .await;
    let deliveries = api.delivered(&rule_id, 4).await;
    let resolved: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d["state"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["episode_id"], episode.as_str());
    assert_eq!(receiver.accepted().len(), 4);

    let verify = organism(&s.db, &["audit", "verify"]).await;
    assert!(
        verify.status.success(),
        "audit verify: {}\n{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let report = api.get("/api/audit/verify").await;
    assert_eq!(report["ok"], true, "{report}");
    // created, 3 firing, 1 resolved.
    let checked = report["events_checked"].as_i64().unwrap();
    assert_eq!(checked, 5, "{report}");
    assert_signatures_verified(&receiver);
    assert!(!serve.log().contains(&secrets[0]), "a secret in the log");
}

// ---- 6. a daily rule, two servers ---------------------------------------------

/// A counter of a server's `/metrics`.
async fn counter(api: &Api, name: &str) -> u64 {
    let text = api.get("/metrics").await;
    let text = text.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Two servers on one database and a forecast rule: the day is evaluated
/// by one of them, once; the webhook gets one signed firing, for the one
/// employee whose forecast reaches the threshold, and both servers go on
/// checking without notifying again.
async fn a_daily_rule_is_evaluated_once_by_two_servers(engine: Engine) {
    let Some(s) = setup(
        "daily",
        engine,
        "a_daily_rule_is_evaluated_once_by_two_servers",
    )
    .await
    else {
        return;
    };
    let first = s.serve().await;
    let second_port = free_port();
    let second = Serve::start(&s.db, second_port, &s.dir.join("serve-2.log"), &s.admin).await;
    let api = &s.api();
    let api_2 = &Api::new(second_port, &s.admin);

    // 30 days at noon: "rising" climbs from 40 by 1.2 a day (about 75
    // yesterday), "flat" stays at 30.
    let today = Utc::now().date_naive();
    let rows: Vec<Value> = (1..=30_i64)
        .flat_map(|ago| {
            let noon = (today - chrono::Duration::days(ago))
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc();
            let wiggle = ((ago * 37) % 5) as f64 * 0.2;
            [
                sample(
                    "rising",
                    "Core",
                    40.0 + 1.2 * (30 - ago) as f64 + wiggle,
                    noon,
                ),
                sample("flat", "Core", 30.0 + wiggle, noon),
            ]
        })
        .collect();
    api.samples(&rows).await;

    let receiver_port = free_port();
    let url = format!("http://127.0.0.1:{receiver_port}/hook");
    let (status, created) = api
        .post(
            "/api/alert-rules",
            &json!({"rule_id": "reaches-80", "name": "Burnout reaches 80 within two weeks",
                    "metric": "burnout_score", "kind": "forecast", "within_days": 14,
                    "direction": "above", "threshold": 80,
                    "destinations": [{"url": url}], "actor": ACTOR}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secrets"][0]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let receiver = Receiver::start(&s.dir, receiver_port, &secret, "ok", 0).await;

    let deliveries = api.delivered("reaches-80", 1).await;
    assert_eq!(deliveries[0]["state"], "firing");
    let accepted = receiver.accepted_n(1).await;
    let body = &accepted[0].2;
    assert_eq!(body["employee_id"], "rising", "{body}");
    assert_eq!(body["rule"]["kind"], "forecast");
    assert!(body["value"].as_f64().unwrap() >= 80.0, "{body}");
    assert!(body["evidence"]["reached_on"].is_string(), "{body}");

    // Both servers check twice more after it: still one notification, and
    // one evaluated rule-day between them.
    let passes = [
        counter(api, "organism_alert_daily_passes_total").await,
        counter(api_2, "organism_alert_daily_passes_total").await,
    ];
    until(
        "both servers to check for daily rules twice more",
        || async move {
            let now = [
                counter(api, "organism_alert_daily_passes_total").await,
                counter(api_2, "organism_alert_daily_passes_total").await,
            ];
            if now[0] >= passes[0] + 2 && now[1] >= passes[1] + 2 {
                Ok(())
            } else {
                Err(format!("{now:?} after {passes:?}"))
            }
        },
    )
    .await;
    let days = counter(api, "organism_alert_daily_rule_days_total").await
        + counter(api_2, "organism_alert_daily_rule_days_total").await;
    assert_eq!(days, 1);
    assert_eq!(receiver.accepted().len(), 1);
    assert_eq!(api.deliveries("reaches-80").await.len(), 1);
    assert_signatures_verified(&receiver);
    let firing = api.audit("alert_firing").await;
    assert_eq!(firing.len(), 1, "{firing:#?}");
    drop((first, second));
}

// Each test on each engine: `portable::<test>` and `timescale::<test>`
// (which says `SKIPPED … why` where the cluster has no TimescaleDB).
organism_testkit::engine_cases!(
    webhook_is_delivered_exactly_once_across_a_receiver_killed_mid_delivery,
    a_receiver_answering_500_is_retried_with_backoff_until_delivered,
    hysteresis_and_episodes_end_to_end,
    the_live_feed_resumes_without_gaps_and_keeps_to_each_readers_teams,
    a_restarted_server_never_notifies_an_episode_twice,
    a_daily_rule_is_evaluated_once_by_two_servers,
);
