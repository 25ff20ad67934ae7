//! Stream ingest with the real parts: a `nats-server -js` started here on a
//! free port, the real `organism` binary, a throwaway PostgreSQL database.
//!
//! - 100,000 samples published as 200 batches; `organism serve` killed
//!   with SIGKILL mid-stream, started again, drained: every sample stored
//!   exactly once (and ten batches published again by a retrying publisher
//!   change nothing), the consumer's lag 0, both in NATS and in `/metrics`;
//! - bad messages land on the dead-letter subject with the error naming
//!   the field, the good ones around them are stored (`organism consume`);
//! - a database failure is retried, not dead-lettered, and the message is
//!   stored once the database recovers;
//! - a stream that does not exist is said, not created, without
//!   `--nats-create-stream`.
//!
//! Skipped (printing `SKIPPED … nats-server: <why>`) when there is no
//! nats-server binary, unless ORGANISM_REQUIRE_NATS is set (scripts/test.sh
//! sets it when it is installed): then that is a failure.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
#![allow(clippy::disallowed_methods)] // PATH and the skip flag, read from the environment

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use organism_store::Engine;

/// A `nats-server` with JetStream in a temporary directory, killed on drop.
struct NatsServer {
    url: String,
    _child: tokio::process::Child,
    dir: PathBuf,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nats_server_binary() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file());
    on_path.ok_or_else(|| {
        "no nats-server binary on PATH or in /usr/sbin (apt-get install nats-server; scripts/test.sh does)".to_string()
    })
}

/// Starts a server, or `None` (after printing why) when there is none to
/// start and none is required.
async fn nats_or_skip(test: &str) -> Option<NatsServer> {
    let binary = match nats_server_binary() {
        Ok(binary) => binary,
        Err(why) => {
            if std::env::var_os("ORGANISM_REQUIRE_NATS").is_some_and(|v| v == "1") {
                panic!("{test}: nats-server is required here (ORGANISM_REQUIRE_NATS=1) but {why}");
            }
            println!("SKIPPED {test} nats-server: {why}");
            return None;
        }
    };
    let port = organism_testkit::free_port();
    let dir =
        std::env::temp_dir().join(format!("organism-test-nats-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = tokio::process::Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .arg("-sd")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("nats://127.0.0.1:{port}");
    let mut last = String::new();
    for _ in 0..100 {
        match async_nats::connect(&url).await {
            // JetStream answers (here: no such stream) once the server is
            // fully up.
            Ok(client) => match jetstream::new(client).get_stream("PROBE").await {
                Err(e)
                    if matches!(
                        e.kind(),
                        jetstream::context::GetStreamErrorKind::JetStream(_)
                    ) =>
                {
                    return Some(NatsServer {
                        url,
                        _child: child,
                        dir,
                    });
                }
                Ok(_) => panic!("a stream PROBE on a fresh server"),
                Err(e) => last = format!("JetStream: {e}"),
            },
            Err(e) => last = format!("connect: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nats-server did not come up on {url}: {last}");
}

/// A fresh database's connection URL.
async fn database() -> String {
    let settings = organism_testkit::fresh_database().await;
    let dbname = settings.connection.get_dbname().unwrap().to_string();
    organism_testkit::cluster().connection_string(&dbname)
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Rows stored; 0 until the server has made the schema.
async fn rows(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT count(*) FROM organism.employee_metrics", &[])
        .await
        .map_or(0, |row| row.get(0))
}

/// One sample as the platform publishes it.
fn sample(employee: usize, time: chrono::DateTime<chrono::Utc>, burnout: f64) -> serde_json::Value {
    serde_json::json!({
        "time": time.to_rfc3339(),
        "employee_id": format!("emp_{employee:05}"),
        "team": format!("Team {}", employee % 20),
        "degree_centrality": 0.25,
        "betweenness_centrality": 0.05,
        "clustering_coeff": 0.5,
        "burnout_score": burnout,
    })
}

/// A batch body: a JSON array, or NDJSON (one object a line).
fn body(samples: &[serde_json::Value], ndjson: bool) -> bytes::Bytes {
    if ndjson {
        let mut out = String::new();
        for s in samples {
            out.push_str(&s.to_string());
            out.push('\n');
        }
        out.into()
    } else {
        serde_json::to_string(samples).unwrap().into()
    }
}

/// Publishes every body, each confirmed by JetStream.
async fn publish(js: &jetstream::Context, subject: &str, bodies: Vec<bytes::Bytes>) {
    let mut acks = Vec::new();
    for body in bodies {
        acks.push(js.publish(subject.to_string(), body).await.unwrap());
    }
    for ack in acks {
        ack.await.unwrap();
    }
}

async fn make_stream(js: &jetstream::Context, name: &str, subject: &str) {
    js.create_stream(jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        ..Default::default()
    })
    .await
    .unwrap();
}

/// `organism serve` consuming from `nats`, on port `port`.
fn serve(db: &str, nats: &str, port: u16, engine: Engine) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args([
            "--engine",
            engine.as_str(),
            "serve",
            "--insecure-no-auth",
            "--bind",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--nats-url", nats, "--nats-stream", "METRICS"])
        .args(["--nats-subject", "metrics.>", "--nats-durable", "organism"])
        // A killed consumer's unacknowledged messages come back after this.
        .args(["--nats-ack-wait-secs", "3", "--nats-batch", "8"])
        .env("DATABASE_URL", db)
        .env("ORGANISM_LOG", "warn")
        // A lock held by a test fails a write quickly (a database failure).
        .env("ORGANISM_LOCK_TIMEOUT_MS", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn prometheus(port: u16) -> Option<String> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    r.text().await.ok()
}

/// The value of an unlabelled series in a Prometheus text.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

const EMPLOYEES: usize = 500;
const BATCHES: usize = 200;

async fn every_sample_is_stored_exactly_once_when_serve_is_killed_mid_stream(engine: Engine) {
    let test = "every_sample_is_stored_exactly_once_when_serve_is_killed_mid_stream";
    // Skips loudly (or fails under ORGANISM_REQUIRE_TIMESCALE=1) where the
    // test cluster has no TimescaleDB.
    let Some(probe) = organism_testkit::store_or_skip(engine, test).await else {
        return;
    };
    probe.close();
    let Some(nats) = nats_or_skip(test).await else {
        return;
    };
    let db = database().await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let js = jetstream::new(client);
    make_stream(&js, "METRICS", "metrics.>").await;
    make_stream(&js, "METRICS_DEAD", "dead.metrics").await;

    // 200 batches x 500 employees, one minute apart: 100,000 distinct
    // (employee, time) samples, JSON arrays and NDJSON alternating.
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    let bodies: Vec<bytes::Bytes> = (0..BATCHES)
        .map(|b| {
            let time = start + chrono::Duration::minutes(b as i64);
            let samples: Vec<_> = (0..EMPLOYEES)
                .map(|e| sample(e, time, ((b + e) % 100) as f64))
                .collect();
            body(&samples, b % 2 == 1)
        })
        .collect();
    let total = (BATCHES * EMPLOYEES) as i64;
    let published = Instant::now();
    publish(&js, "metrics.org.acme", bodies).await;
    println!("on the {engine} engine");
    println!(
        "published {total} samples in {BATCHES} messages in {:.2} s",
        published.elapsed().as_secs_f64()
    );

    let observer = connect(&db).await;
    let port = organism_testkit::free_port();
    let first = Instant::now();
    let mut child = serve(&db, &nats.url, port, engine);
    // Killed once a tenth is stored, well before the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if rows(&observer).await >= total / 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait().await;
    let after_kill = rows(&observer).await;
    println!(
        "killed (SIGKILL) after {:.2} s with {after_kill} samples stored",
        first.elapsed().as_secs_f64()
    );
    assert!(
        after_kill > 0 && after_kill < total,
        "the kill must fall mid-stream: {after_kill} of {total}"
    );

    // A publisher that retries (its ack lost) sends batches again: the
    // same rows, not new ones.
    let republished = 10;
    let again: Vec<bytes::Bytes> = (0..republished)
        .map(|b| {
            let time = start + chrono::Duration::minutes(b as i64);
            let samples: Vec<_> = (0..EMPLOYEES)
                .map(|e| sample(e, time, ((b + e) % 100) as f64))
                .collect();
            body(&samples, false)
        })
        .collect();
    publish(&js, "metrics.org.acme", again).await;

    let restarted = Instant::now();
    let port = organism_testkit::free_port();
    let mut child = serve(&db, &nats.url, port, engine);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut text = String::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "not drained: {} of {total} stored; /metrics: {text}",
            rows(&observer).await
        );
        if let Some(t) = prometheus(port).await {
            text = t;
            let drained = series(&text, "organism_stream_pending_messages") == Some(0.0)
                && series(&text, "organism_stream_ack_pending_messages") == Some(0.0);
            if drained && rows(&observer).await == total {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let secs = restarted.elapsed().as_secs_f64();
    let consumed = series(&text, "organism_stream_samples_total").unwrap();
    let writing = series(&text, "organism_stream_write_seconds_sum").unwrap();
    println!(
        "restarted: drained in {secs:.2} s (the killed one's unacknowledged messages came back after the 3 s ack wait); {consumed} samples consumed by the second serve, {} messages redelivered; {:.0} samples/s while writing",
        series(&text, "organism_stream_redelivered_total").unwrap_or(0.0),
        consumed / writing
    );

    let stored: (i64, i64) = observer
        .query_one(
            "SELECT count(*), count(DISTINCT (employee_id, time)) FROM organism.employee_metrics",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(stored, (total, total), "every sample exactly once");
    // The values too: batch b's sample of employee e has burnout (b+e)%100.
    let wrong: i64 = observer
        .query_one(
            "SELECT count(*) FROM organism.employee_metrics
             WHERE burnout_score <> ((round(extract(epoch FROM time - $1::timestamptz) / 60)::int
                                      + substr(employee_id, 5)::int) % 100)",
            &[&start],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0, "samples with another batch's values");

    // /metrics: what the second serve consumed (the first one's committed
    // messages that it never acknowledged came again, so at least the rest).
    assert!(
        consumed >= (total - after_kill + republished as i64 * EMPLOYEES as i64) as f64,
        "consumed {consumed}, {after_kill} were stored before the kill: {text}"
    );
    assert!(series(&text, "organism_stream_messages_total").unwrap() >= 1.0);
    assert_eq!(
        series(&text, "organism_stream_dead_lettered_total"),
        Some(0.0)
    );

    // NATS agrees: nothing pending, nothing unacknowledged.
    let info = js
        .get_stream("METRICS")
        .await
        .unwrap()
        .get_consumer::<jetstream::consumer::pull::Config>("organism")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{info:?}");
    println!(
        "consumer: delivered up to stream sequence {}, ack floor {}, {} redelivered",
        info.delivered.stream_sequence, info.ack_floor.stream_sequence, info.num_redelivered
    );

    // Side by side on this serve, for docs/PERFORMANCE.md: the same number
    // of samples in the same 500-sample bodies (at new times), through the
    // stream and then through POST /api/metrics one request at a time.
    // Printed, never asserted; every sample must be stored.
    let fresh = |offset: usize| -> Vec<bytes::Bytes> {
        (0..BATCHES)
            .map(|b| {
                // Earlier than the first run's: in the past, and distinct.
                let time = start - chrono::Duration::minutes((offset + b) as i64);
                let samples: Vec<_> = (0..EMPLOYEES).map(|e| sample(e, time, 50.0)).collect();
                body(&samples, false)
            })
            .collect()
    };
    let streamed = Instant::now();
    publish(&js, "metrics.org.acme", fresh(1)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while rows(&observer).await < 2 * total {
        assert!(
            Instant::now() < deadline,
            "the second stream run did not drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stream_rate = total as f64 / streamed.elapsed().as_secs_f64();
    let http = reqwest::Client::new();
    let posted = Instant::now();
    for body in fresh(1 + BATCHES) {
        let r = http
            .post(format!("http://127.0.0.1:{port}/api/metrics"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let post_rate = total as f64 / posted.elapsed().as_secs_f64();
    assert_eq!(rows(&observer).await, 3 * total);
    println!(
        "side by side: stream {stream_rate:.0} samples/s (publish to stored), POST /api/metrics {post_rate:.0} samples/s (one request at a time), {BATCHES} bodies of {EMPLOYEES} samples each"
    );

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_message_is_dead_lettered_naming_the_field_and_the_good_ones_around_it_are_stored() {
    let Some(nats) = nats_or_skip("stream ingest dead letters").await else {
        return;
    };
    let db = database().await;
    let client = async_nats::connect(&nats.url).await.unwrap();
    let js = jetstream::new(client);

    // `consume` makes both streams (--nats-create-stream) before anything
    // is published; the consumer delivers from the stream's first message.
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args(["--engine", "portable", "consume", "--nats-url", &nats.url])
        .args([
            "--stream",
            "METRICS",
            "--subject",
            "metrics.>",
            "--create-stream",
        ])
        .env("DATABASE_URL", &db)
        .env("ORGANISM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let consumer = loop {
        assert!(
            Instant::now() < deadline,
            "consume did not bind its consumer"
        );
        if let Ok(stream) = js.get_stream("METRICS").await
            && let Ok(c) = stream
                .get_consumer::<jetstream::consumer::pull::Config>("organism")
                .await
        {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let now = chrono::Utc::now() - chrono::Duration::minutes(30);
    let good = |e: usize| body(&[sample(e, now, 40.0), sample(e + 1, now, 41.0)], false);
    let out_of_range = body(&[sample(10, now, 50.0), sample(11, now, 150.0)], true);
    let mut missing = sample(20, now, 30.0);
    missing.as_object_mut().unwrap().remove("clustering_coeff");
    let missing = body(&[missing], false);
    publish(
        &js,
        "metrics.org.acme",
        vec![good(0), out_of_range.clone(), good(2), missing, good(4)],
    )
    .await;

    // The dead letters, read as an operator would: from the dead-letter
    // stream that --create-stream made.
    let dead = js
        .get_stream("METRICS_DEAD")
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("reader".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut letters = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while letters.len() < 2 && Instant::now() < deadline {
        let mut batch = dead
            .fetch()
            .max_messages(2)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap();
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            m.ack().await.unwrap();
            letters.push(m);
        }
    }
    assert_eq!(letters.len(), 2, "two dead letters");
    let header = |m: &jetstream::Message, name: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
    };
    let first = &letters[0];
    assert_eq!(first.subject.as_str(), "dead.metrics");
    assert_eq!(first.payload, out_of_range, "the original body");
    assert_eq!(
        header(first, "Organism-Error-Code").as_deref(),
        Some("invalid_row")
    );
    assert_eq!(
        header(first, "Organism-Error-Field").as_deref(),
        Some("burnout_score")
    );
    assert_eq!(header(first, "Organism-Error-Row").as_deref(), Some("2"));
    let error = header(first, "Organism-Error").unwrap();
    assert!(error.contains("burnout_score"), "{error}");
    assert_eq!(
        header(first, "Organism-Source-Subject").as_deref(),
        Some("metrics.org.acme")
    );
    assert_eq!(
        header(first, "Organism-Source-Sequence").as_deref(),
        Some("2")
    );
    let second = header(&letters[1], "Organism-Error").unwrap();
    assert!(second.contains("clustering_coeff"), "{second}");
    println!("dead letters: {error:?}; {second:?}");

    // The good messages around them: 3 x 2 samples, and nothing is left.
    let observer = connect(&db).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = consumer.get_info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 && rows(&observer).await == 6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {info:?}, {} rows",
            rows(&observer).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored: Vec<String> = observer
        .query(
            "SELECT employee_id FROM organism.employee_metrics ORDER BY employee_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        stored,
        [
            "emp_00000",
            "emp_00001",
            "emp_00002",
            "emp_00003",
            "emp_00004",
            "emp_00005"
        ]
    );

    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("3 messages, 6 samples stored, 2 dead-lettered"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_said_and_not_created_without_create_stream() {
    let Some(nats) = nats_or_skip("stream ingest missing stream").await else {
        return;
    };
    // No database is needed to find out: the stream is checked first, so a
    // DATABASE_URL that points nowhere is never used.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args(["consume", "--nats-url", &nats.url, "--stream", "NOPE"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("the stream \"NOPE\" does not exist"),
        "{stderr}"
    );
    assert!(stderr.contains("--nats-create-stream"), "{stderr}");
    let js = jetstream::new(async_nats::connect(&nats.url).await.unwrap());
    assert!(js.get_stream("NOPE").await.is_err(), "not created");

    // And a dead-letter subject the consumer would read again is refused
    // before anything connects.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_organism"))
        .args(["consume", "--nats-url", &nats.url])
        .args(["--dead-letter-subject", "metrics.dead"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("would be consumed again"), "{stderr}");
}

/// A database failure is not the message's fault: it is handed back and
/// retried (never dead-lettered), and stored once the database recovers.
/// The failure is a lock the test holds on the employee's latest-sample
/// row, past the server's lock timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_is_retried_not_dead_lettered() {
    let Some(nats) = nats_or_skip("stream ingest database failure").await else {
        return;
    };
    let db = database().await;
    let js = jetstream::new(async_nats::connect(&nats.url).await.unwrap());
    make_stream(&js, "METRICS", "metrics.>").await;
    make_stream(&js, "METRICS_DEAD", "dead.metrics").await;
    let port = organism_testkit::free_port();
    let mut child = serve(&db, &nats.url, port, Engine::Portable);
    let observer = connect(&db).await;
    let earlier = chrono::Utc::now() - chrono::Duration::minutes(20);
    publish(
        &js,
        "metrics.a",
        vec![body(&[sample(0, earlier, 10.0)], false)],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&observer).await < 1 {
        assert!(Instant::now() < deadline, "the first sample was not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut holder = connect(&db).await;
    let lock = holder.transaction().await.unwrap();
    lock.batch_execute(
        "SELECT 1 FROM organism.employee_latest WHERE employee_id = 'emp_00000' FOR UPDATE",
    )
    .await
    .unwrap();
    let later = earlier + chrono::Duration::minutes(10);
    publish(
        &js,
        "metrics.a",
        vec![body(&[sample(0, later, 20.0)], false)],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no retry seen");
        if let Some(text) = prometheus(port).await
            && series(&text, "organism_stream_retried_total").is_some_and(|n| n >= 1.0)
        {
            assert_eq!(
                series(&text, "organism_stream_dead_lettered_total"),
                Some(0.0)
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows(&observer).await, 1, "nothing of the failed write");
    lock.rollback().await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&observer).await < 2 {
        assert!(
            Instant::now() < deadline,
            "the retried message was not stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = js
        .get_stream("METRICS_DEAD")
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(dead.state.messages, 0, "nothing dead-lettered");
    kill(Pid::from_raw(child.id().unwrap() as i32), Signal::SIGTERM).unwrap();
    assert!(child.wait().await.unwrap().success());
}

organism_testkit::engine_cases!(
    every_sample_is_stored_exactly_once_when_serve_is_killed_mid_stream
);
