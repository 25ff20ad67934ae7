//! The real binary: SIGTERM while a request is in flight lets it finish
//! (its rows are written and it gets its answer), SIGTERM while a lifecycle
//! job runs lets the job finish, then the process exits 0.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

fn batch(n: usize) -> String {
    let now = chrono::Utc::now();
    let rows: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "time": (now - chrono::Duration::minutes(i as i64 + 1)).to_rfc3339(),
                "employee_id": format!("emp_{i}"),
                "team": "Core",
                "degree_centrality": 0.1,
                "betweenness_centrality": 0.2,
                "clustering_coeff": 0.3,
                "burnout_score": 40.0,
            })
        })
        .collect();
    serde_json::to_string(&rows).unwrap()
}

/// `organism serve` on the database at `url`, with this log filter.
fn serve(url: &str, port: u16, log: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args([
            "--engine",
            "portable",
            "serve",
            "--insecure-no-auth",
            "--bind",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", url)
        .env("ORGANISM_LOG", log)
        // The tests hold locks the server waits for, as long as they need.
        .env("ORGANISM_LOCK_TIMEOUT_MS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Waits until the server answers its health check.
async fn wait_until_up(port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(format!("{base}/api/trends/health")).await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish() {
    let settings = organism_testkit::fresh_database().await;
    let dbname = settings.connection.get_dbname().unwrap().to_string();
    let url = organism_testkit::cluster().connection_string(&dbname);
    let port = organism_testkit::free_port();
    let mut child = serve(&url, port, "warn,organism=info");
    let mut log = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    wait_until_up(port).await;

    // Hold the request at a known point, in flight: the writer's update of
    // emp_0's latest sample waits for this row lock (the server's lock
    // timeout is off). A row, not the table: the lifecycle jobs the
    // scheduler starts meanwhile touch employee_latest too, and must not
    // queue behind the test.
    let first = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/metrics"))
        .header("content-type", "application/json")
        .body(batch(1))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let mut holder = connect(&url).await;
    let lock = holder.transaction().await.unwrap();
    lock.batch_execute(
        "SELECT 1 FROM organism.employee_latest WHERE employee_id = 'emp_0' FOR UPDATE",
    )
    .await
    .unwrap();
    let body = batch(200);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "POST /api/metrics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let observer = connect(&url).await;
    let mut waiting = false;
    for _ in 0..300 {
        let n: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE 'INSERT INTO employee_latest%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(waiting, "the request never reached the lock");

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    // The order of events comes from the server's log, not from sleeps.
    let mut seen = Vec::new();
    while let Some(line) = log.next_line().await.unwrap() {
        let stopping = line.contains("stopping: finishing requests in flight");
        seen.push(line);
        if stopping {
            break;
        }
    }
    assert!(
        seen.last()
            .is_some_and(|l| l.contains("finishing requests in flight")),
        "no stop in the log: {seen:?}"
    );
    // The stop has been asked for while the request waits: let it go on.
    lock.commit().await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"stored\":200"), "{answer}");

    let status = child.wait().await.unwrap();
    while let Some(line) = log.next_line().await.unwrap() {
        seen.push(line);
    }
    let log = seen.join("\n");
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(
        log.contains("AUTHENTICATION IS OFF"),
        "the loud warning: {log}"
    );

    let client = connect(&url).await;
    let rows: i64 = client
        .query_one("SELECT count(*) FROM organism.employee_metrics", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 201, "the first sample and the 200");
}

/// SIGTERM while a lifecycle job runs: the job finishes and is recorded, the
/// jobs due after it are not started, and the process exits 0. The job is
/// held at a known point by taking the partition lock first; the order of
/// events is read from the server's log, not from sleeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_job_in_progress_finish() {
    let settings = organism_testkit::fresh_database().await;
    let dbname = settings.connection.get_dbname().unwrap().to_string();
    let url = organism_testkit::cluster().connection_string(&dbname);
    let holder = connect(&url).await;
    let key = organism_store::partitions::PARTITION_LOCK;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .unwrap();

    let port = organism_testkit::free_port();
    let mut child = serve(&url, port, "warn,organism=info");
    let mut log = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    wait_until_up(port).await;
    // The scheduler's first job (partitions ahead) waits for the lock.
    let mut waiting = false;
    for _ in 0..300 {
        let n: i64 = holder
            .query_one(
                "SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND NOT granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(waiting, "the partitions job never reached the lock");

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let mut seen = Vec::new();
    while let Some(line) = log.next_line().await.unwrap() {
        let stopping = line.contains("lifecycle jobs finish the job in progress");
        seen.push(line);
        if stopping {
            break;
        }
    }
    assert!(
        seen.last()
            .is_some_and(|l| l.contains("finish the job in progress")),
        "no stop in the log: {seen:?}"
    );
    // The stop has been asked for: now let the job go on.
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .unwrap();
    while let Some(line) = log.next_line().await.unwrap() {
        seen.push(line);
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "exit {status:?}: {seen:#?}");
    assert!(
        seen.iter().any(|l| l.contains("scheduler stopped")),
        "{seen:#?}"
    );

    let client = connect(&url).await;
    let jobs: Vec<(String, bool, String, String)> = client
        .query(
            "SELECT job, last_ok, last_detail->>'from', last_detail->>'through'
             FROM organism.lifecycle_jobs ORDER BY job",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(jobs.len(), 1, "only the job in progress ran: {jobs:?}");
    let (job, ok, from, through) = &jobs[0];
    assert_eq!((job.as_str(), *ok), ("partitions", true), "{jobs:?}");
    let made: i64 = client
        .query_one(
            "SELECT count(*) FROM generate_series($1::text::date, $2::text::date, '1 day') AS d
             WHERE to_regclass('organism.employee_metrics_p' || to_char(d, 'YYYYMMDD')) IS NOT NULL",
            &[from, through],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(made, organism_store::partitions::DAYS_AHEAD as i64 + 1);
}
