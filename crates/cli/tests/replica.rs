//! Reads from a streaming replica (issue 15, item 5), with the real parts:
//! a primary cluster made by the test from the server binaries, a hot
//! standby of it made with `pg_basebackup -R` and started beside it, and
//! `organism serve --read-database-url` on the two.
//!
//! - reads go to the replica once it has caught up, and answer exactly
//!   what the primary answers (`Organism-Read-From` says where);
//! - `Organism-Max-Lag-Ms: 0` reads the primary;
//! - with replay paused on the standby, new samples are written: once the
//!   lag passes `--read-max-lag-ms`, reads go to the primary and include
//!   them (the standby, asked directly, does not have them), health shows
//!   the lag in milliseconds and bytes, and writes and the audit log are
//!   unaffected;
//! - replay resumed: reads return to the replica, which now has them;
//! - the standby stopped: reads still answer, from the primary.
//!
//! On both engines (the timescale case says `SKIPPED … why` where the
//! server binaries have no TimescaleDB).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use organism_pgcluster::{ClusterOptions, EmbeddedCluster};
use organism_store::Engine;
use organism_testkit::{DATABASE_VARIABLES, free_port};
use serde_json::{Value, json};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(60);
const MAX_LAG_MS: u64 = 1000;
const DB: &str = "organism_replica";

async fn until<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    organism_testkit::until(what, WAIT, probe).await
}

fn cluster_options(root: &Path, engine: Engine) -> ClusterOptions {
    let mut options = ClusterOptions::new(root);
    options.durable = false;
    options.port = 5432;
    options.bin_dir = Some(organism_testkit::cluster().binaries().bin_dir.clone());
    options.timescaledb = engine == Engine::Timescale;
    options
}

async fn connect(cluster: &EmbeddedCluster, db: &str) -> tokio_postgres::Client {
    let (client, connection) = cluster
        .connection_string(db)
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn command(engine: Engine, url: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"));
    for name in DATABASE_VARIABLES {
        command.env_remove(name);
    }
    command
        .args(["--engine", engine.as_str()])
        .env("DATABASE_URL", url)
        .env("ORGANISM_LOG", "warn")
        .kill_on_drop(true);
    command
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sample(employee: &str, burnout: f64, time: DateTime<Utc>) -> Value {
    json!({
        "time": rfc3339(time), "employee_id": employee, "team": "Core",
        "degree_centrality": 0.1, "betweenness_centrality": 0.2,
        "clustering_coeff": 0.3, "burnout_score": burnout,
    })
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// A read: status, where it was read, body.
    async fn read(&self, path: &str, max_lag_ms: Option<u64>) -> (u16, String, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(ms) = max_lag_ms {
            request = request.header("organism-max-lag-ms", ms.to_string());
        }
        let r = match request.send().await {
            Ok(r) => r,
            // Not listening yet (or gone): status 0.
            Err(e) => return (0, String::new(), Value::String(e.to_string())),
        };
        let status = r.status().as_u16();
        let from = r
            .headers()
            .get("organism-read-from")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, from, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn health(&self) -> Value {
        self.read("/api/trends/health", None).await.2
    }
}

/// An answer without the instants it was computed at (`start` and `end`
/// of a window ending now): what the two servers must agree on.
fn unclocked(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("start");
        o.remove("end");
    }
    v
}

/// Points of an employee's raw trend answer.
fn points(body: &Value) -> usize {
    body["points"].as_array().map_or(0, Vec::len)
}

const TREND: &str = "/api/trends/employee/rep_1?days=2";

async fn reads_go_to_a_hot_standby_while_it_keeps_up(engine: Engine) {
    // Skips loudly (or fails under ORGANISM_REQUIRE_TIMESCALE=1) where the
    // server binaries have no TimescaleDB.
    let test = "reads_go_to_a_hot_standby_while_it_keeps_up";
    let Some(probe) = organism_testkit::store_or_skip(engine, test).await else {
        return;
    };
    probe.close();
    println!("on the {engine} engine");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("organism-replica-{}-{engine}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let primary = EmbeddedCluster::start(cluster_options(&dir.join("primary"), engine)).unwrap();
    connect(&primary, "postgres")
        .await
        .execute(&format!("CREATE DATABASE {DB}"), &[])
        .await
        .unwrap();
    let primary_url = primary.connection_string(DB);
    let migrated = command(engine, &primary_url)
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert!(
        migrated.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    // The standby: a base backup of the migrated primary, started beside it.
    primary
        .base_backup_into(&dir.join("standby"), None)
        .unwrap();
    let mut standby =
        EmbeddedCluster::start(cluster_options(&dir.join("standby"), engine)).unwrap();
    let standby_sql = connect(&standby, DB).await;
    let in_recovery: bool = standby_sql
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery, "the standby is in recovery");

    let port = free_port();
    let mut serve = command(engine, &primary_url)
        .args(["serve", "--insecure-no-auth", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--read-database-url")
        .arg(standby.connection_string(DB))
        .args(["--read-max-lag-ms", &MAX_LAG_MS.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let api = &Api {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };
    until("serve to answer", || async {
        let (status, _, body) = api.read("/api/trends/health", None).await;
        (status == 200)
            .then_some(())
            .ok_or(format!("{status} {body}"))
    })
    .await;

    // Written to the primary; read from the replica once it has them, the
    // same answer as the primary's.
    let now = Utc::now() - chrono::Duration::minutes(30);
    let first: Vec<Value> = (0..10)
        .map(|i| {
            sample(
                "rep_1",
                40.0 + f64::from(i),
                now + chrono::Duration::seconds(i.into()),
            )
        })
        .collect();
    let (status, body) = api.post("/api/metrics", &json!(first)).await;
    assert_eq!(status, 200, "{body}");
    let from_replica = until("the replica to serve the samples", || async {
        let (status, from, body) = api.read(TREND, None).await;
        if status == 200 && from == "replica" && points(&body) == 10 {
            Ok(body)
        } else {
            Err(format!("{status} {from} {body}"))
        }
    })
    .await;
    let (status, from, from_primary) = api.read(TREND, Some(0)).await;
    assert_eq!((status, from.as_str()), (200, "primary"));
    assert_eq!(unclocked(from_replica), unclocked(from_primary));
    for path in [
        "/api/trends/team/Core?days=2",
        "/api/trends/burnout-alerts?threshold=45&days=1",
        "/api/trends/statistics/burnout_score?days=1",
        "/api/analytics/overview?days=7",
    ] {
        let (status, from, body) = api.read(path, None).await;
        assert_eq!((status, from.as_str()), (200, "replica"), "{path}: {body}");
        let (_, _, primary_body) = api.read(path, Some(0)).await;
        assert_eq!(unclocked(body), unclocked(primary_body), "{path}");
    }
    let refused = api
        .http
        .get(format!("{}{TREND}", api.base))
        .header("organism-max-lag-ms", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(body.to_string().contains("Organism-Max-Lag-Ms"), "{body}");
    let health = api.health().await;
    let replica = &health["read_replica"];
    assert_eq!(replica["serving_reads"], true, "{health:#}");
    assert_eq!(replica["in_recovery"], true, "{health:#}");
    assert!(replica["replay_lag_ms"].as_f64().unwrap() <= MAX_LAG_MS as f64);

    // Replay paused: new samples stay on the primary; past the bound,
    // reads go there and include them.
    standby_sql
        .execute("SELECT pg_wal_replay_pause()", &[])
        .await
        .unwrap();
    let later: Vec<Value> = (10..15)
        .map(|i| sample("rep_1", 90.0, now + chrono::Duration::seconds(i.into())))
        .collect();
    let (status, body) = api.post("/api/metrics", &json!(later)).await;
    assert_eq!(status, 200, "{body}");
    let paused_at = Instant::now();
    let fresh = until("reads to go to the primary", || async {
        let (status, from, body) = api.read(TREND, None).await;
        if status == 200 && from == "primary" {
            Ok(body)
        } else {
            Err(format!("{status} {from} {}", points(&body)))
        }
    })
    .await;
    println!(
        "reads went to the primary {:.2} s after replay was paused and samples written",
        paused_at.elapsed().as_secs_f64()
    );
    assert_eq!(points(&fresh), 15, "{fresh}");
    let on_standby: i64 = standby_sql
        .query_one(
            "SELECT count(*) FROM organism.employee_metrics WHERE employee_id = 'rep_1'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(on_standby, 10, "the paused standby has not replayed them");
    let health = api.health().await;
    let replica = &health["read_replica"];
    assert_eq!(replica["serving_reads"], false, "{health:#}");
    assert!(
        replica["replay_lag_ms"].as_f64().unwrap() > MAX_LAG_MS as f64,
        "{health:#}"
    );
    assert!(
        replica["replay_lag_bytes"].as_i64().unwrap() > 0,
        "{health:#}"
    );
    // Interventions and the audit log are the primary's, lag or not.
    let (status, body) = api
        .post(
            "/api/interventions",
            &json!({"intervention_id": "iv-replica", "target_employee_id": "rep_1",
                    "kind": "workload_rebalance", "details": {"note": "lighter sprint"},
                    "actor": "hr.partner"}),
        )
        .await;
    assert!(status == 201 || status == 200, "{status} {body}");
    let (status, _, audit) = api
        .read("/api/audit?intervention_id=iv-replica", None)
        .await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");

    // Resumed: back to the replica, which has caught up.
    standby_sql
        .execute("SELECT pg_wal_replay_resume()", &[])
        .await
        .unwrap();
    until("reads to return to the replica", || async {
        let (status, from, body) = api.read(TREND, None).await;
        if status == 200 && from == "replica" && points(&body) == 15 {
            Ok(())
        } else {
            Err(format!("{status} {from} {}", points(&body)))
        }
    })
    .await;
    let health = api.health().await;
    println!("caught up: {:#}", health["read_replica"]);

    // The standby gone: reads answer from the primary.
    drop(standby_sql);
    standby.stop();
    until("reads to fall back to the primary", || async {
        let (status, from, body) = api.read(TREND, None).await;
        if status == 200 && from == "primary" && points(&body) == 15 {
            Ok(())
        } else {
            Err(format!("{status} {from} {body}"))
        }
    })
    .await;
    let health = api.health().await;
    assert_eq!(health["status"], "ok", "{health:#}");
    assert_eq!(health["read_replica"]["reachable"], false, "{health:#}");

    serve.start_kill().unwrap();
    serve.wait().await.unwrap();
    drop(primary);
    let _ = std::fs::remove_dir_all(&dir);
}

organism_testkit::engine_cases!(reads_go_to_a_hot_standby_while_it_keeps_up);
