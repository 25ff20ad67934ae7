//! Time to write 1,000,000 samples through the batch writer, into every
//! engine this machine can run.
//!
//! ```text
//! cargo bench -p organism-store --bench batch_write            # 1,000,000 samples
//! BENCH_SAMPLES=200000 cargo bench -p organism-store --bench batch_write
//! ```
//!
//! A durable embedded cluster (fsync on, the service's memory settings) is
//! made under `target/bench-batch-write` and removed afterwards. The samples
//! are 1,000 employees × 1,000 measurements 15 minutes apart, written as one
//! all-or-nothing batch streamed in chunks of 50,000 (as `organism ingest`
//! does); then the same batch is written again, which must change nothing.
#![allow(clippy::disallowed_methods)] // reads BENCH_SAMPLES and PATH
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::{Duration, DurationRound, Utc};
use futures_util::stream;
use organism_domain::{EmployeeId, MetricSample, MetricValues, SampleWindow, TeamName};
use organism_pgcluster::{ClusterOptions, EmbeddedCluster};
use organism_store::{DbSettings, Engine, EngineChoice, Store};

const EMPLOYEES: usize = 1000;
const CHUNK: usize = 50_000;

fn samples(total: usize) -> Vec<MetricSample> {
    let now = Utc::now().duration_trunc(Duration::minutes(15)).unwrap();
    let steps = total.div_ceil(EMPLOYEES);
    let ids: Vec<EmployeeId> = (0..EMPLOYEES)
        .map(|e| EmployeeId::parse(format!("emp_{e:05}")).unwrap())
        .collect();
    let teams: Vec<TeamName> = (0..40)
        .map(|t| TeamName::parse(format!("Team {t:02}")).unwrap())
        .collect();
    let window = SampleWindow::new(now, 730);
    let mut out = Vec::with_capacity(total);
    'outer: for step in 0..steps {
        let time = now - Duration::minutes(15 * (steps - step) as i64);
        for (e, id) in ids.iter().enumerate() {
            if out.len() == total {
                break 'outer;
            }
            // Values that hold between 4-hourly graph rebuilds, as real ones do.
            let epoch = (step / 16) as f64;
            let x = ((e as f64) * 0.37 + epoch * 0.11).sin().abs();
            let values =
                MetricValues::new(x * 0.6, x * 0.2, 1.0 - x * 0.5, 30.0 + 50.0 * x).unwrap();
            out.push(
                MetricSample::new(
                    time,
                    id.clone(),
                    Some(teams[e % 40].clone()),
                    values,
                    &window,
                )
                .unwrap(),
            );
        }
    }
    out
}

async fn write_all(
    store: &Store,
    batch: &[MetricSample],
) -> (f64, organism_store::writer::WriteSummary) {
    let chunks: Vec<_> = batch.chunks(CHUNK).map(|c| Ok(c.to_vec())).collect();
    let started = Instant::now();
    let summary = store.write_chunks(stream::iter(chunks)).await.unwrap();
    (started.elapsed().as_secs_f64(), summary)
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-batch-write");
    let _ = std::fs::remove_dir_all(&root);
    let mut options = ClusterOptions::new(&root).for_service();
    options.search_path = std::env::var("PATH").ok();
    let cluster = tokio::task::spawn_blocking(move || EmbeddedCluster::start(options))
        .await
        .unwrap()
        .expect("start the benchmark cluster");
    let batch = samples(total);
    println!(
        "batch_write: {} samples, chunks of {CHUNK}, PostgreSQL {}",
        batch.len(),
        cluster.binaries().major
    );
    let mut engines = vec![Engine::Portable];
    if cluster.timescaledb() {
        engines.push(Engine::Timescale);
    } else {
        println!("timescale engine: SKIPPED (the TimescaleDB extension is not installed here)");
    }
    for engine in engines {
        let db = format!("bench_{engine}");
        let (admin, conn) = tokio_postgres::connect(
            &cluster.connection_string("postgres"),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
        let choice = match engine {
            Engine::Portable => EngineChoice::Portable,
            Engine::Timescale => EngineChoice::Timescale,
        };
        let settings = DbSettings::from_url(&cluster.connection_string(&db))
            .unwrap()
            .with_engine(choice);
        let store = Store::open(settings).await.unwrap();
        let (first, summary) = write_all(&store, &batch).await;
        assert_eq!(summary.changed as usize, batch.len());
        let (again, retry) = write_all(&store, &batch).await;
        assert_eq!(retry.changed, 0, "a retried batch must change nothing");
        println!(
            "{engine:>9}: first write {first:>6.1} s ({:>7.0} samples/s); same batch again {again:>6.1} s, 0 rows changed",
            batch.len() as f64 / first
        );
        store.close();
    }
    drop(cluster);
    let _ = std::fs::remove_dir_all(&root);
}
