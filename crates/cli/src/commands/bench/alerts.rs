//! The real-time phase: how long a sample takes to become a webhook
//! notification while the batch writer ingests at full speed.
//!
//! An in-process webhook receiver (axum on 127.0.0.1:0) notes when each
//! notification arrives. A threshold rule scoped to a team of probes
//! delivers to it, and the alert evaluator and the webhook sender run as
//! `organism serve` runs them. Meanwhile `--writers` tasks write fresh
//! samples of the whole organisation (times within the last hours, so
//! they are evaluated, not history) through the batch writer, in batches
//! of `--batch-rows`. Every 100 ms one probe sample past the threshold is
//! written for a new probe employee: a new episode each. Its latency runs
//! from the start of its write to the arrival of its webhook, so it counts
//! the commit, the wait for the evaluator, the evaluation, the sender's
//! wait and the HTTP request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use chrono::{Duration, Utc};
use organism_api::realtime::{RealtimeSettings, run_evaluator, run_sender};
use organism_api::{ApiConfig, AppState};
use organism_domain::alert::{
    AlertRule, DestinationFormat, Direction, RuleId, RuleKind, WebhookUrl,
};
use organism_domain::{
    Actor, EmployeeId, MetricName, MetricSample, MetricValues, SampleWindow, TeamName,
};
use organism_store::Store;
use organism_store::alerts::{NewAlertRule, NewDestination};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::BenchArgs;
use super::stats::{Latencies, Summary};
use crate::synth::SyntheticOrg;

const PROBE_TEAM: &str = "bench-probes";
const PROBE_EVERY: StdDuration = StdDuration::from_millis(100);
/// How long a probe's notification is waited for before it counts as lost.
const PATIENCE: StdDuration = StdDuration::from_secs(120);

/// What the phase measured.
#[derive(Debug, Serialize)]
pub struct AlertLatency {
    pub probes: usize,
    /// Probes whose notification arrived (the rest are a failure).
    pub notified: usize,
    /// From the start of a probe's write to its webhook's arrival.
    pub sample_to_webhook: Summary,
    /// The background load while the probes ran.
    pub load_rows: usize,
    pub load_seconds: f64,
    pub load_rows_per_second: f64,
}

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(State(arrivals): State<Arrivals>, Json(body): Json<Value>) -> &'static str {
    let at = Instant::now();
    if let Some(employee) = body["employee_id"].as_str() {
        arrivals
            .lock()
            .await
            .entry(employee.to_string())
            .or_insert(at);
    }
    "ok"
}

fn probe(i: usize) -> anyhow::Result<MetricSample> {
    let now = Utc::now();
    Ok(MetricSample::new(
        now,
        EmployeeId::parse(format!("bench-probe-{i}"))?,
        Some(TeamName::parse(PROBE_TEAM)?),
        MetricValues::new(0.5, 0.1, 0.3, 100.0)?,
        &SampleWindow::new(now, 730),
    )?)
}

/// Runs the phase with `args.alert_probes` probes.
pub async fn alert_latency(
    store: &Store,
    org: &SyntheticOrg,
    args: &BenchArgs,
) -> anyhow::Result<AlertLatency> {
    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(arrivals.clone());
    let receiver = tokio::spawn(async move { axum::serve(listener, app).await });

    let rule = AlertRule::new(
        "bench: probe past 99".into(),
        MetricName::BurnoutScore,
        (RuleKind::Threshold, None),
        Direction::Above,
        99.0,
        0.0,
        Some(TeamName::parse(PROBE_TEAM)?),
        1,
    )?;
    store
        .create_alert_rule(NewAlertRule {
            rule_id: Some(RuleId::parse("bench-latency")?),
            rule,
            enabled: true,
            destinations: vec![NewDestination {
                url: WebhookUrl::parse("url", hook)?,
                format: DestinationFormat::Json,
                timeout_ms: 10_000,
                max_in_flight: 8,
            }],
            actor: Actor::parse("organism bench")?,
        })
        .await
        .context("creating the benchmark's alert rule")?;
    let metrics = AppState::new(store.clone(), ApiConfig::default())
        .metrics
        .clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let evaluator = tokio::spawn(run_evaluator(
        store.clone(),
        RealtimeSettings::default(),
        metrics.clone(),
        stopped.clone(),
    ));
    let sender = tokio::spawn(run_sender(
        store.clone(),
        RealtimeSettings::default(),
        metrics,
        stopped,
    ));

    // The load: fresh batches of the whole organisation, one second of
    // sample time apart, until the probes are done.
    let done = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let next_second = Arc::new(AtomicI64::new(0));
    let base = Utc::now() - Duration::hours(6);
    let per_batch = args.batch_rows.clamp(1, org.employees.len());
    let load_started = Instant::now();
    let writers: Vec<_> = (0..args.writers.max(1))
        .map(|w| {
            let (store, org) = (store.clone(), org.clone());
            let (done, written, next_second) = (done.clone(), written.clone(), next_second.clone());
            tokio::spawn(async move {
                let mut lo = (w * per_batch) % org.employees.len();
                while !done.load(Ordering::Relaxed) {
                    let second = next_second.fetch_add(1, Ordering::Relaxed);
                    let time = base + Duration::seconds(second);
                    let samples: Vec<MetricSample> = (0..per_batch)
                        .map(|k| org.sample(&org.employees[(lo + k) % org.employees.len()], time))
                        .collect();
                    lo = (lo + per_batch) % org.employees.len();
                    let summary = store
                        .write_chunks(futures_util::stream::iter([Ok(samples)]))
                        .await?;
                    written.fetch_add(summary.stored, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();

    let mut sent = Vec::with_capacity(args.alert_probes);
    let mut tick = tokio::time::interval(PROBE_EVERY);
    for i in 0..args.alert_probes {
        tick.tick().await;
        let sample = probe(i)?;
        let started = Instant::now();
        store.write_sample(&sample).await?;
        sent.push((sample.employee_id.to_string(), started));
    }
    let deadline = Instant::now() + PATIENCE;
    while arrivals.lock().await.len() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    done.store(true, Ordering::Relaxed);
    let load_seconds = load_started.elapsed().as_secs_f64();
    for writer in writers {
        writer.await??;
    }
    let _ = stop.send(true);
    evaluator.await?;
    sender.await?;
    receiver.abort();

    let arrived = arrivals.lock().await;
    let mut latencies = Latencies::default();
    for (employee, started) in &sent {
        if let Some(at) = arrived.get(employee) {
            latencies.record(at.duration_since(*started));
        }
    }
    let load_rows = written.load(Ordering::Relaxed);
    let report = AlertLatency {
        probes: sent.len(),
        notified: latencies.count(),
        sample_to_webhook: latencies.summary(),
        load_rows,
        load_seconds,
        load_rows_per_second: load_rows as f64 / load_seconds,
    };
    eprintln!(
        "bench: alert latency p50 {} / p99 {} ms ({} of {} probes notified) under {:.0} rows/s of ingest",
        super::report::ms(report.sample_to_webhook.p50_ms),
        super::report::ms(report.sample_to_webhook.p99_ms),
        report.notified,
        report.probes,
        report.load_rows_per_second
    );
    Ok(report)
}
