//! Read latency while a large graph snapshot computes (issue 13, item 8).
//!
//! Starts a throwaway PostgreSQL (crates/testkit), serves the API on it,
//! and for each betweenness thread count given: measures
//! `GET /api/trends/employee/{id}?days=1` alone, then again while one
//! exact snapshot of an organisation of `employees` computes. Prints p50
//! and p99 of each, and the snapshot's time.
//!
//! ```text
//! cargo run --release -p organism-api --example snapshot_load -- 10000 2 1
//! ```
//!
//! (10,000 employees, about 11.4 edges each; first on 2 threads, what a
//! snapshot used before the bounded pool, then on 1, the default now.)
//! A measurement run by hand, not a test: the figures depend on the machine.

#![allow(clippy::unwrap_used)]

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use chrono::Utc;
use organism_api::{ApiConfig, AppState};
use organism_domain::Role;
use organism_graph::sampling::SplitMix64;
use organism_store::Engine;
use serde_json::{Value, json};

const TEAM: usize = 20;

/// Teams of 20 with every pair linked (190 pairs a team), plus cross-team
/// pairs up to 11.4 edges per employee: 114,000 edges for 10,000.
fn organisation(employees: usize) -> Value {
    let mut rng = SplitMix64::new(1);
    let at = Utc::now() - chrono::Duration::hours(2);
    let directory: Vec<Value> = (0..employees)
        .map(|i| json!({"employee_id": format!("emp_{i}"), "team": format!("team_{}", i / TEAM)}))
        .collect();
    let mut interactions = Vec::new();
    let pair = |a: usize, b: usize| json!({"from": format!("emp_{a}"), "to": format!("emp_{b}"), "time": at.to_rfc3339(), "channel": "chat"});
    for team in 0..employees.div_ceil(TEAM) {
        let first = team * TEAM;
        let last = (first + TEAM).min(employees);
        for a in first..last {
            for b in (a + 1)..last {
                interactions.push(pair(a, b));
            }
        }
    }
    let target = employees * 114 / 10;
    while interactions.len() < target {
        let (a, b) = (rng.below(employees), rng.below(employees));
        if a / TEAM != b / TEAM {
            interactions.push(pair(a, b));
        }
    }
    json!({"directory": directory, "interactions": interactions})
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn read(client: &reqwest::Client, base: &str, i: usize) -> Duration {
    let started = Instant::now();
    let r = client
        .get(format!("{base}/api/trends/employee/emp_{}?days=1", i % 10))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap();
    started.elapsed()
}

fn summary(label: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "{label}: {} reads, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let employees: usize = args.first().map_or(10_000, |a| a.parse().unwrap());
    let thread_counts: Vec<usize> = if args.len() > 1 {
        args[1..].iter().map(|a| a.parse().unwrap()).collect()
    } else {
        vec![2, 1]
    };
    let body = organisation(employees);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{employees} employees, {} interactions, {cores} cores",
        body["interactions"].as_array().unwrap().len()
    );
    for threads in thread_counts {
        let store = organism_testkit::store(Engine::Portable).await;
        let key = store
            .create_api_key(Role::Admin, &[], "snapshot_load")
            .await
            .unwrap()
            .key;
        let mut config = ApiConfig {
            request_timeout: Duration::from_secs(3600),
            ..ApiConfig::default()
        };
        config.snapshot.threads = NonZeroUsize::new(threads).unwrap();
        config.snapshot.timeout = Duration::from_secs(3600);
        config.snapshot.max_employees = usize::MAX;
        config.snapshot.max_edges = usize::MAX;
        // Exact on every run, so the runs do the same work.
        config.snapshot.approximate_above = u64::MAX;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(store.clone(), config);
        tokio::spawn(organism_api::serve(listener, state, std::future::pending()));
        let client = {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {key}").parse().unwrap(),
            );
            reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .unwrap()
        };
        // Something to read: 50 samples for each of ten employees.
        let now = Utc::now();
        let samples: Vec<Value> = (0..500)
            .map(|i| {
                json!({"time": (now - chrono::Duration::minutes(i / 10 + 1)).to_rfc3339(),
                   "employee_id": format!("emp_{}", i % 10), "team": "team_0",
                   "degree_centrality": 0.1, "betweenness_centrality": 0.01,
                   "clustering_coeff": 0.5, "burnout_score": 40.0})
            })
            .collect();
        let r = client
            .post(format!("{base}/api/metrics"))
            .json(&samples)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        let mut idle = Vec::new();
        for i in 0..300 {
            idle.push(read(&client, &base, i).await);
        }
        summary(&format!("threads {threads}, no snapshot"), idle);

        let started = Instant::now();
        let snapshot = {
            let client = client.clone();
            let base = base.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/api/graph/snapshots"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let summary: Value = r.json().await.unwrap();
                (status, summary)
            })
        };
        let mut busy = Vec::new();
        let mut i = 0;
        while !snapshot.is_finished() {
            busy.push(read(&client, &base, i).await);
            i += 1;
        }
        let (status, answer) = snapshot.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        println!(
            "threads {threads}: snapshot {:.1} s (graph {:.1} s)",
            started.elapsed().as_secs_f64(),
            answer["seconds_graph"].as_f64().unwrap_or(f64::NAN)
        );
        summary(&format!("threads {threads}, during the snapshot"), busy);
    }
}
