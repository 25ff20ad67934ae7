//! The real-time jobs that run inside `organism serve` (docs/REALTIME.md):
//! the alert evaluator, which takes committed samples from the inbox as
//! they arrive, and the webhook sender, which delivers each queued
//! notification, signed, with retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use organism_domain::alert::DestinationFormat;
use organism_store::Store;
use organism_store::alerts::{AttemptRecord, ClaimedDelivery, Evaluated, NextStep};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{Semaphore, watch};

use crate::Metrics;

/// The headers of a delivery.
pub const SIGNATURE_HEADER: &str = "organism-signature";
pub const IDEMPOTENCY_HEADER: &str = "organism-idempotency-key";
pub const EVENT_HEADER: &str = "organism-event";

/// How the real-time jobs pace themselves.
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// How often the evaluator looks at the inbox when it was empty.
    pub evaluate_every: Duration,
    /// How often the sender looks for due deliveries.
    pub deliver_every: Duration,
    /// The first retry's delay; each next one doubles, up to `retry_cap`,
    /// with jitter (a random half of it).
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// A delivery not delivered this long after it was queued is dead.
    pub give_up_after: Duration,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        Self {
            evaluate_every: Duration::from_millis(500),
            deliver_every: Duration::from_millis(500),
            retry_base: Duration::from_secs(5),
            retry_cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// What the real-time jobs counted, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    samples_evaluated: AtomicU64,
    daily_passes: AtomicU64,
    daily_rules_evaluated: AtomicU64,
    alert_changes: AtomicU64,
    deliveries_delivered: AtomicU64,
    deliveries_failed: AtomicU64,
    deliveries_dead: AtomicU64,
    /// Live streams open now.
    pub streams_open: AtomicI64,
    /// Told when an evaluation in this process queued deliveries: the
    /// sender looks at once instead of at its next poll (deliveries queued
    /// by another process wait for the poll).
    queued: tokio::sync::Notify,
}

impl Counters {
    /// Deliveries were queued: the sender looks now.
    pub(crate) fn wake_sender(&self) {
        self.queued.notify_one();
    }

    fn evaluated(&self, done: &Evaluated) {
        self.samples_evaluated
            .fetch_add(done.samples as u64, Ordering::Relaxed);
        self.alert_changes
            .fetch_add(done.changes as u64, Ordering::Relaxed);
    }

    pub(crate) fn daily(&self, pass: &crate::daily_rules::DailyPass) {
        self.daily_passes.fetch_add(1, Ordering::Relaxed);
        self.daily_rules_evaluated
            .fetch_add(pass.rules as u64, Ordering::Relaxed);
        self.alert_changes
            .fetch_add(pass.changes as u64, Ordering::Relaxed);
    }

    fn attempted(&self, record: &AttemptRecord) {
        let counter = match (&record.error, record.next) {
            (None, _) => &self.deliveries_delivered,
            (Some(_), NextStep::DeadLetter) => &self.deliveries_dead,
            (Some(_), _) => &self.deliveries_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let counters = [
            (
                "organism_alert_samples_evaluated_total",
                "Committed samples the alert evaluator stepped.",
                &self.samples_evaluated,
            ),
            (
                "organism_alert_daily_passes_total",
                "Passes that looked for forecast and anomaly rules due.",
                &self.daily_passes,
            ),
            (
                "organism_alert_daily_rule_days_total",
                "Days of forecast and anomaly rules evaluated.",
                &self.daily_rules_evaluated,
            ),
            (
                "organism_alert_state_changes_total",
                "Alert episodes that fired or resolved.",
                &self.alert_changes,
            ),
            (
                "organism_webhook_deliveries_total{outcome=\"delivered\"}",
                "Webhook delivery attempts by outcome.",
                &self.deliveries_delivered,
            ),
            (
                "organism_webhook_deliveries_total{outcome=\"failed\"}",
                "",
                &self.deliveries_failed,
            ),
            (
                "organism_webhook_deliveries_total{outcome=\"dead\"}",
                "",
                &self.deliveries_dead,
            ),
        ];
        for (name, help, value) in counters {
            if !help.is_empty() {
                let family = name.split('{').next().unwrap_or(name);
                let _ = writeln!(out, "# HELP {family} {help}");
                let _ = writeln!(out, "# TYPE {family} counter");
            }
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP organism_streams_open Live streams (GET /api/stream) open now."
        );
        let _ = writeln!(out, "# TYPE organism_streams_open gauge");
        let _ = writeln!(
            out,
            "organism_streams_open {}",
            self.streams_open.load(Ordering::Relaxed)
        );
    }
}

/// Samples one evaluation takes at most.
const EVALUATE_BATCH: i64 = 5000;

/// Evaluates the inbox until `stop`: at once again while it was full.
pub async fn run_evaluator(
    store: Store,
    settings: RealtimeSettings,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let pause = match store.evaluate_realtime(EVALUATE_BATCH).await {
            Ok(done) => {
                metrics.realtime.evaluated(&done);
                if done.deliveries > 0 {
                    metrics.realtime.wake_sender();
                }
                if done.changes > 0 {
                    tracing::info!(
                        samples = done.samples,
                        changes = done.changes,
                        deliveries = done.deliveries,
                        "alert states changed"
                    );
                }
                if done.samples as i64 >= EVALUATE_BATCH {
                    Duration::ZERO
                } else {
                    settings.evaluate_every
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "alert evaluation failed; retrying");
                settings.evaluate_every.max(Duration::from_secs(2))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The signature header's value for `body` sent at `timestamp` (Unix
/// seconds): `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`,
/// keyed with the destination's secret (its text, as shown once).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The body a destination receives.
pub fn body_for(format: DestinationFormat, payload: &Value) -> Value {
    match format {
        DestinationFormat::Json => payload.clone(),
        DestinationFormat::Slack => {
            let text = |k: &str| payload.get(k).map(text_of).unwrap_or_default();
            let rule = payload.get("rule").cloned().unwrap_or(Value::Null);
            let rule_text = |k: &str| rule.get(k).map(text_of).unwrap_or_default();
            let state = text("state");
            let mark = if state == "firing" { "🔴" } else { "✅" };
            let sign = match (rule_text("direction").as_str(), state.as_str()) {
                ("above", "firing") => "≥",
                ("below", "firing") => "≤",
                ("above", _) => "<",
                _ => ">",
            };
            json!({
                "text": format!(
                    "{mark} {} {state}: {} ({}) {} {} {sign} {} at {}",
                    rule_text("name"),
                    text("employee_id"),
                    payload.get("team").and_then(Value::as_str).unwrap_or("no team"),
                    text("metric"),
                    text("value"),
                    rule_text("threshold"),
                    text("time"),
                ),
            })
        }
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The delay before attempt `attempt + 1`: the base doubled per attempt
/// made, capped, less a random part of up to half of it.
pub fn backoff(settings: &RealtimeSettings, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let full = settings
        .retry_base
        .saturating_mul(1u32 << doublings)
        .min(settings.retry_cap);
    let half = full / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

/// Sends due deliveries until `stop`, each destination at most its
/// `max_in_flight` at once; waits for those in flight before returning.
pub async fn run_sender(
    store: Store,
    settings: RealtimeSettings,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("organism-trends/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; no deliveries");
            return;
        }
    };
    let mut permits: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let claimed = claim(&store, &mut permits).await;
        for (delivery, permit) in claimed {
            let (store, client, settings, metrics) = (
                store.clone(),
                client.clone(),
                settings.clone(),
                metrics.clone(),
            );
            in_flight.spawn(async move {
                let record = attempt(&client, &delivery, &settings).await;
                metrics.realtime.attempted(&record);
                if let Some(error) = &record.error {
                    tracing::warn!(
                        delivery_id = delivery.delivery_id,
                        destination_id = %delivery.destination_id,
                        attempt = delivery.attempt,
                        error = %error,
                        "webhook delivery failed"
                    );
                }
                if let Err(e) = store.record_attempt(&delivery, &record).await {
                    // The lease runs out and the delivery is sent again, with
                    // the same idempotency key.
                    tracing::warn!(error = %e, delivery_id = delivery.delivery_id, "cannot record a delivery attempt");
                }
                drop(permit);
            });
        }
        while in_flight.try_join_next().is_some() {}
        tokio::select! {
            () = tokio::time::sleep(settings.deliver_every) => {}
            () = metrics.realtime.queued.notified() => {}
            _ = stop.changed() => break,
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// Due deliveries, as many per destination as it has free permits, each
/// with its permit.
async fn claim(
    store: &Store,
    permits: &mut HashMap<String, Arc<Semaphore>>,
) -> Vec<(ClaimedDelivery, tokio::sync::OwnedSemaphorePermit)> {
    let due = match store.due_destinations().await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for due deliveries");
            return Vec::new();
        }
    };
    let mut claimed = Vec::new();
    for (destination_id, max_in_flight, timeout_ms) in due {
        let semaphore = permits
            .entry(destination_id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(max_in_flight.max(1) as usize)))
            .clone();
        let free = semaphore.available_permits();
        if free == 0 {
            continue;
        }
        // Sending starts at once: the lease is the timeout and a margin.
        let lease = Duration::from_millis(timeout_ms.max(0) as u64) + Duration::from_secs(30);
        match store
            .claim_deliveries(&destination_id, free as i64, lease)
            .await
        {
            Ok(deliveries) => {
                for d in deliveries {
                    if let Ok(permit) = semaphore.clone().try_acquire_owned() {
                        claimed.push((d, permit));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot claim deliveries"),
        }
    }
    claimed
}

/// One attempt: the signed POST, and what comes next.
async fn attempt(
    client: &reqwest::Client,
    delivery: &ClaimedDelivery,
    settings: &RealtimeSettings,
) -> AttemptRecord {
    let started_at = Utc::now();
    let clock = Instant::now();
    let body = serde_json::to_vec(&body_for(delivery.format, &delivery.payload))
        .unwrap_or_else(|_| b"{}".to_vec());
    let timestamp = started_at.timestamp();
    let sent = client
        .post(&delivery.url)
        .timeout(Duration::from_millis(delivery.timeout_ms.max(1) as u64))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(&delivery.secret, timestamp, &body),
        )
        .header(IDEMPOTENCY_HEADER, &delivery.idempotency_key)
        .header(EVENT_HEADER, format!("alert.{}", delivery.state))
        .header("organism-delivery", delivery.delivery_id.to_string())
        .header("organism-attempt", delivery.attempt.to_string())
        .body(body)
        .send()
        .await;
    let (http_status, error) = match sent {
        Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
        Ok(response) => (
            Some(response.status().as_u16()),
            Some(format!("the receiver answered {}", response.status())),
        ),
        // Without the URL: it may hold a token (a Slack webhook's does).
        Err(e) => (None, Some(describe(&e))),
    };
    let next = if error.is_none() {
        NextStep::Delivered
    } else {
        let at = Utc::now()
            + chrono::Duration::from_std(backoff(settings, delivery.attempt))
                .unwrap_or(chrono::Duration::hours(1));
        let give_up = delivery.created_at
            + chrono::Duration::from_std(settings.give_up_after)
                .unwrap_or(chrono::Duration::hours(24));
        if at > give_up {
            NextStep::DeadLetter
        } else {
            NextStep::RetryAt(at)
        }
    };
    AttemptRecord {
        started_at,
        duration_ms: clock.elapsed().as_secs_f64() * 1000.0,
        http_status,
        error,
        next,
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "the request failed"
    } else {
        "failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2's key and data, split as "<t>.<body>".
        let got = signature("Jefe", 1, b"what do ya want for nothing?");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"1.what do ya want for nothing?");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(got, format!("t=1,v1={want}"));
        assert_ne!(got, signature("Jefe", 2, b"what do ya want for nothing?"));
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_cap() {
        let s = RealtimeSettings {
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(60),
            ..RealtimeSettings::default()
        };
        for attempt in 1..=10 {
            let full = (2u64 << (attempt - 1)).min(60);
            let d = backoff(&s, attempt).as_secs_f64();
            assert!(d >= full as f64 / 2.0 && d <= full as f64, "{attempt}: {d}");
        }
    }

    #[test]
    fn slack_text_says_who_what_and_which_way() {
        let payload = json!({
            "rule": {"name": "High burnout", "direction": "above", "threshold": 80.0},
            "employee_id": "emp_017", "team": "Data Platform", "metric": "burnout_score",
            "value": 87.5, "time": "2026-12-02T10:00:00Z", "state": "firing",
        });
        let text = body_for(DestinationFormat::Slack, &payload)["text"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_default();
        assert_eq!(
            text,
            "🔴 High burnout firing: emp_017 (Data Platform) burnout_score 87.5 ≥ 80.0 at 2026-12-02T10:00:00Z"
        );
        assert_eq!(body_for(DestinationFormat::Json, &payload), payload);
    }
}
