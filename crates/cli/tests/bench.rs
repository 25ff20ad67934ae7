//! `organism bench` works end to end: CI runs a small `--quick` benchmark
//! once per engine against the test cluster and checks that the JSON report
//! has every figure, with counts that add up and percentiles in order.
//! Timings are never asserted (they are measured and reported, see
//! docs/PERFORMANCE.md).
//!
//! The organisation is smaller than `--quick`'s 1,000 × 30 days so that a
//! debug build finishes in well under two minutes, and it spans 32 days so
//! that some raw data is older than the 30 days after which it is
//! compressed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::process::Command;

use organism_store::Engine;
use serde_json::Value;

const EMPLOYEES: u64 = 120;
const DAYS: u64 = 32;
const REQUESTS: u64 = 200;
const WRITES: u64 = 40;
const PROBES: u64 = 20;

/// Runs the binary's benchmark on a fresh database of the test cluster and
/// returns its JSON report.
async fn bench(engine: Engine) -> Value {
    let settings = organism_testkit::fresh_database().await;
    let url = organism_testkit::cluster()
        .connection_string(settings.connection.get_dbname().expect("a database name"));
    // One directory per test: the tests run in parallel, and each removes its own.
    let dir = std::env::temp_dir().join(format!(
        "organism-test-bench-{}-{engine}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join(format!("bench-{engine}.json"));
    let output = tokio::task::spawn_blocking({
        let json = json.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_organism"))
                .args(["--database-url", &url, "--engine", &engine.to_string()])
                .args(["--log", "warn", "bench", "--quick"])
                .args(["--employees", &EMPLOYEES.to_string()])
                .args(["--days", &DAYS.to_string()])
                .args(["--requests", &REQUESTS.to_string()])
                .args(["--writes", &WRITES.to_string()])
                .args(["--alert-probes", &PROBES.to_string()])
                .arg("--json")
                .arg(&json)
                .output()
                .expect("run organism bench")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "organism bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("| measure"),
        "the table is printed: {stdout}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    report
}

fn number(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{path} is a number in {v:#}"))
}

/// count, and p50 ≤ p95 ≤ p99 ≤ max, all positive.
fn assert_latencies(v: &Value, what: &str, count: u64) {
    assert_eq!(number(v, "/count") as u64, count, "{what}: count");
    let p: Vec<f64> = ["/p50_ms", "/p95_ms", "/p99_ms", "/max_ms"]
        .iter()
        .map(|k| number(v, k))
        .collect();
    assert!(p[0] > 0.0, "{what}: positive latencies {p:?}");
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "{what}: ordered {p:?}");
}

fn assert_report(r: &Value, engine: Engine) {
    assert_eq!(r["engine"], engine.to_string());
    let expected = EMPLOYEES * DAYS * 96;
    assert_eq!(number(r, "/dataset/rows_expected") as u64, expected);
    assert_eq!(number(r, "/ingest/rows") as u64, expected);
    assert!(number(r, "/ingest/rows_per_second") > 0.0);
    // The yardstick: PostgreSQL's own COPY of the same rows, and our ratio.
    let copy = number(r, "/ingest/copy_baseline_rows_per_second");
    let ratio = number(r, "/ingest/ratio_to_copy");
    assert!(copy > 0.0, "COPY baseline measured");
    assert!(
        (ratio - number(r, "/ingest/rows_per_second") / copy).abs() < 1e-9,
        "the ratio is ingest over COPY"
    );
    assert_latencies(&r["single_write"], "single write", WRITES);
    assert_latencies(&r["batch_100"], "batch of 100", WRITES / 2);
    assert!(number(r, "/rollup_refresh_seconds") >= 0.0);
    assert_eq!(r["jobs"]["refresh"]["ok"], true);
    assert_eq!(r["jobs"]["retention"]["ok"], true);

    let storage = &r["storage"];
    let before = number(storage, "/raw_before_compression/bytes");
    assert!(
        before > 0.0,
        "some raw data is older than 30 days: {storage:#}"
    );
    assert!(number(storage, "/all_raw_before_compression/bytes") >= before);
    assert_eq!(storage["compression"], "ok", "{storage:#}");
    let reduction = number(storage, "/reduction_percent");
    assert!((0.0..100.0).contains(&reduction), "{storage:#}");
    assert!(
        number(storage, "/raw_after_compression/bytes") < before,
        "compression made the old days smaller: {storage:#}"
    );

    let reads = r["reads"].as_array().unwrap();
    // The eight of the requirements and the eight analytics reads.
    assert_eq!(reads.len(), 16, "every read endpoint");
    for read in reads {
        let name = read["endpoint"].as_str().unwrap();
        // The organisation-wide analyses get a tenth of the requests, at
        // least ten.
        // Their first request is timed apart (it computes the answer the
        // others are served), so their latencies count one fewer.
        let org_wide =
            ["anomalies_org_30d", "correlations_org_90d", "overview_30d"].contains(&name);
        let requests = if org_wide {
            (REQUESTS / 10).max(10)
        } else {
            REQUESTS
        };
        let timed = requests - u64::from(org_wide);
        assert_eq!(read["requests"], requests, "{name}");
        assert_eq!(read["ok"], timed, "{name}: {read:#}");
        assert_eq!(read["errors"], 0, "{name}");
        assert!(number(read, "/bytes") > 0.0, "{name}");
        assert_latencies(&read["latency"], name, timed);
        if org_wide {
            assert!(number(read, "/first_ms") > 0.0, "{name}: {read:#}");
        } else {
            assert!(read["first_ms"].is_null(), "{name}: {read:#}");
        }
    }

    // Every probe's notification arrived (a lost one fails the run), with
    // the load written meanwhile.
    let alerts = &r["alerts"];
    assert_eq!(alerts["probes"], PROBES, "{alerts:#}");
    assert_eq!(alerts["notified"], PROBES, "{alerts:#}");
    assert_latencies(&alerts["sample_to_webhook"], "sample to webhook", PROBES);
    assert!(number(alerts, "/load_rows") > 0.0, "{alerts:#}");

    let targets = r["targets"].as_array().unwrap();
    // ingest, ingest/COPY, single write, batch, each read, compression,
    // refresh, alert latency, ingest meanwhile
    assert_eq!(targets.len(), 4 + reads.len() + 2 + 2);
    for t in targets {
        assert!(
            t["requirement"].is_string() && t["target"].is_string(),
            "{t}"
        );
    }
    assert!(r["machine"]["postgresql"].is_string());
}

#[tokio::test]
async fn a_quick_benchmark_on_the_portable_engine_reports_every_figure() {
    let report = bench(Engine::Portable).await;
    assert_report(&report, Engine::Portable);
}

#[tokio::test]
async fn a_quick_benchmark_on_the_timescale_engine_reports_every_figure() {
    if let Some(why) = organism_testkit::timescale_unavailable() {
        eprintln!("SKIPPED the timescale benchmark: {why}");
        return;
    }
    let report = bench(Engine::Timescale).await;
    assert_report(&report, Engine::Timescale);
}
