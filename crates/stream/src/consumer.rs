//! The durable pull consumer and its loop: pull a few messages, write each
//! one's batch in its own transaction, acknowledge it once committed.
//!
//! Why this is exactly once for the rows although delivery is at least
//! once: the writer upserts on (employee_id, time), so a message delivered
//! again (its acknowledgement lost, the process killed between commit and
//! ack, a nak) writes the same rows over themselves.
//!
//! Each message is one of three outcomes:
//! - **stored**: committed, then acknowledged with a double ack (the
//!   server confirms it), so that a confirmed ack is never redelivered;
//! - **dead-lettered**: it can never be written (a bad row, a missing
//!   field, an unknown format): published to the dead-letter subject with
//!   the error in its headers, confirmed by JetStream, then terminated;
//! - **retried**: the database failed (down, busy, any error that is not
//!   the message's fault): nak with a delay growing with the deliveries,
//!   never dead-lettered, so an outage loses nothing.
//!
//! Messages are written one at a time in the order they arrive: a later
//! message's sample for the same (employee, time) replaces an earlier one's,
//! as two POSTs would. While a write lasts longer than a third of the ack
//! wait, progress is sent so the server does not redeliver it meanwhile.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, Message};
use futures_util::StreamExt;
use organism_api::{Metrics, StreamMetrics};
use organism_store::Store;
use tokio::sync::watch;

use crate::StreamError;
use crate::decode::{self, Rejection};
use crate::settings::StreamSettings;

/// Headers a dead letter carries besides the original body.
pub mod headers {
    /// The error, as the HTTP endpoint's error `message`.
    pub const ERROR: &str = "Organism-Error";
    /// The HTTP endpoint's error `code` (`invalid_row`, …).
    pub const ERROR_CODE: &str = "Organism-Error-Code";
    /// The field or column to blame.
    pub const ERROR_FIELD: &str = "Organism-Error-Field";
    /// The 1-based row to blame.
    pub const ERROR_ROW: &str = "Organism-Error-Row";
    /// The subject the message was published on.
    pub const SOURCE_SUBJECT: &str = "Organism-Source-Subject";
    /// The stream and its sequence number of the original message.
    pub const SOURCE_STREAM: &str = "Organism-Source-Stream";
    pub const SOURCE_SEQUENCE: &str = "Organism-Source-Sequence";
}

/// Connected, with the stream and the durable consumer checked.
#[derive(Debug)]
pub struct Consumer {
    settings: StreamSettings,
    jetstream: jetstream::Context,
    consumer: PullConsumer,
}

/// What became of one message.
#[derive(Debug)]
enum Outcome {
    Stored { samples: usize, took: Duration },
    DeadLettered,
    Retried,
}

/// What a run consumed, for `organism consume` to print.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub messages: u64,
    pub samples: u64,
    pub dead_lettered: u64,
    pub retried: u64,
}

impl Consumer {
    /// Connects, finds (or, with `create_stream`, creates) the stream and a
    /// stream capturing the dead-letter subject, and binds the durable
    /// consumer (created if absent; an existing one must filter on the same
    /// subject and acknowledge explicitly).
    pub async fn connect(settings: StreamSettings) -> Result<Self, StreamError> {
        let client = async_nats::ConnectOptions::new()
            .name("organism-trends")
            .connection_timeout(Duration::from_secs(5))
            .connect(settings.url.as_str())
            .await
            .map_err(|e| StreamError::Connect(format!("{}: {e}", settings.printable_url())))?;
        let jetstream = jetstream::new(client);
        let stream = open_stream(
            &jetstream,
            &settings.stream,
            &settings.subject,
            settings.create_stream,
        )
        .await?;
        check_dead_letter_stream(&jetstream, &settings).await?;
        let consumer = bind_consumer(&stream, &settings).await?;
        tracing::info!(
            stream = %settings.stream,
            subject = %settings.subject,
            durable = %settings.durable,
            dead_letter = %settings.dead_letter_subject,
            "consuming metric batches"
        );
        Ok(Self {
            settings,
            jetstream,
            consumer,
        })
    }

    /// Consumes until `stopped` turns true (or its sender is dropped): the
    /// message in progress is finished (written and acknowledged), the rest
    /// of the pulled ones are handed back at once for another consumer.
    pub async fn run_until_stopped(
        self,
        store: Store,
        all_metrics: Arc<Metrics>,
        mut stopped: watch::Receiver<bool>,
    ) -> Totals {
        let metrics = &all_metrics.stream;
        metrics.enabled.store(true, Ordering::Relaxed);
        let lag = tokio::spawn(report_lag(
            self.consumer.clone(),
            all_metrics.clone(),
            stopped.clone(),
        ));
        let mut totals = Totals::default();
        let mut failures = 0u32;
        'pull: while !*stopped.borrow() {
            let pulled = tokio::select! {
                _ = stopped.changed() => break 'pull,
                pulled = self.consumer.batch()
                    .max_messages(self.settings.batch)
                    .expires(Duration::from_secs(2))
                    .messages() => pulled,
            };
            let mut batch = match pulled {
                Ok(batch) => batch,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "cannot pull from the stream; retrying");
                    pause(backoff(failures), &mut stopped).await;
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    _ = stopped.changed() => {
                        hand_back(&mut batch).await;
                        break 'pull;
                    }
                    next = batch.next() => next,
                };
                let message = match next {
                    None => break,
                    Some(Ok(message)) => message,
                    Some(Err(e)) => {
                        failures += 1;
                        tracing::warn!(error = %e, "the pull request failed; pulling again");
                        pause(backoff(failures), &mut stopped).await;
                        break;
                    }
                };
                failures = 0;
                match self.handle(&store, metrics, &message).await {
                    Outcome::Stored { samples, took } => {
                        totals.messages += 1;
                        totals.samples += samples as u64;
                        metrics.messages.fetch_add(1, Ordering::Relaxed);
                        metrics.samples.fetch_add(samples as u64, Ordering::Relaxed);
                        metrics
                            .write_micros
                            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
                    }
                    Outcome::DeadLettered => {
                        totals.dead_lettered += 1;
                        metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
                    }
                    Outcome::Retried => {
                        totals.retried += 1;
                        metrics.retried.fetch_add(1, Ordering::Relaxed);
                        // The database failed: the rest of this pull would
                        // most likely fail too. Hand it back and wait.
                        hand_back(&mut batch).await;
                        let delay = retry_delay(&message);
                        pause(delay, &mut stopped).await;
                        continue 'pull;
                    }
                }
                if *stopped.borrow() {
                    hand_back(&mut batch).await;
                    break 'pull;
                }
            }
        }
        lag.abort();
        totals
    }

    /// One message: decode, write, acknowledge; or dead-letter; or retry.
    async fn handle(&self, store: &Store, metrics: &StreamMetrics, message: &Message) -> Outcome {
        let (sequence, delivered) = message
            .info()
            .map(|info| {
                metrics.pending.store(info.pending, Ordering::Relaxed);
                (info.stream_sequence, info.delivered)
            })
            .unwrap_or((0, 1));
        if delivered > 1 {
            metrics.redelivered.fetch_add(1, Ordering::Relaxed);
        }
        let content_type = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Content-Type"))
            .map(|v| v.as_str().to_string());
        let window = store.sample_window(chrono::Utc::now());
        let body = message.payload.clone();
        let decoded = tokio::task::spawn_blocking(move || {
            decode::decode(content_type.as_deref(), &body, &window)
        })
        .await;
        let samples = match decoded {
            Ok(Ok(samples)) => samples,
            Ok(Err(rejection)) => return self.dead_letter(message, sequence, rejection).await,
            Err(e) => {
                tracing::error!(sequence, error = %e, "the parser task failed; retrying the message");
                return self.retry(message, delivered).await;
            }
        };
        let started = Instant::now();
        let written = self.write_with_progress(store, samples, message).await;
        match written {
            Ok(summary) => {
                let took = started.elapsed();
                if let Err(e) = message.double_ack().await {
                    // Committed: a redelivery writes the same rows again.
                    tracing::warn!(sequence, error = %e, "committed, but the ack was not confirmed; the message may come again (harmless)");
                }
                tracing::debug!(sequence, samples = summary.received, "stored");
                Outcome::Stored {
                    samples: summary.received,
                    took,
                }
            }
            Err(e) => match decode::rejection_of_store(&e) {
                Some(rejection) => self.dead_letter(message, sequence, rejection).await,
                None => {
                    tracing::warn!(sequence, delivered, error = %e, "the database failed; the message will be redelivered");
                    self.retry(message, delivered).await
                }
            },
        }
    }

    /// The batch written in one transaction; every third of the ack wait
    /// the server is told the message is still being worked on.
    async fn write_with_progress(
        &self,
        store: &Store,
        samples: Vec<organism_domain::MetricSample>,
        message: &Message,
    ) -> Result<organism_store::writer::WriteSummary, organism_store::StoreError> {
        let write = store.write_batch_owned(samples);
        tokio::pin!(write);
        let every = self.settings.ack_wait / 3;
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                written = &mut write => return written,
                _ = progress.tick() => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        }
    }

    /// Publishes the original body and the error to the dead-letter
    /// subject, waits for JetStream to store it, then terminates the
    /// original. If the dead letter cannot be stored the original is
    /// retried instead: it is never dropped.
    async fn dead_letter(&self, message: &Message, sequence: u64, rejection: Rejection) -> Outcome {
        tracing::warn!(sequence, subject = %message.subject, error = %rejection, "dead-lettering a message that cannot be written");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(headers::ERROR, one_line(&rejection.message));
        headers.insert(headers::ERROR_CODE, rejection.code);
        if let Some(field) = &rejection.field {
            headers.insert(headers::ERROR_FIELD, one_line(field));
        }
        if let Some(row) = rejection.row {
            headers.insert(headers::ERROR_ROW, row.to_string());
        }
        headers.insert(headers::SOURCE_SUBJECT, message.subject.as_str());
        headers.insert(headers::SOURCE_STREAM, self.settings.stream.as_str());
        headers.insert(headers::SOURCE_SEQUENCE, sequence.to_string());
        if let Some(content_type) = message.headers.as_ref().and_then(|h| h.get("Content-Type")) {
            headers.insert("Content-Type", content_type.as_str());
        }
        // A redelivery of the same message publishes the same id, which
        // JetStream's duplicate window drops.
        headers.insert(
            "Nats-Msg-Id",
            format!("{}-{sequence}", self.settings.stream),
        );
        let published = match self
            .jetstream
            .publish_with_headers(
                self.settings.dead_letter_subject.clone(),
                headers,
                message.payload.clone(),
            )
            .await
        {
            Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = published {
            tracing::error!(sequence, error = %e, dead_letter = %self.settings.dead_letter_subject, "cannot store the dead letter; the message will be redelivered");
            let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
            return self.retry(message, delivered).await;
        }
        if let Err(e) = message.double_ack_with(AckKind::Term).await {
            tracing::warn!(sequence, error = %e, "dead-lettered, but the term was not confirmed; the message may come again");
        }
        Outcome::DeadLettered
    }

    async fn retry(&self, message: &Message, delivered: i64) -> Outcome {
        let delay = backoff(u32::try_from(delivered).unwrap_or(1));
        if let Err(e) = message.ack_with(AckKind::Nak(Some(delay))).await {
            tracing::warn!(error = %e, "cannot nak; the message comes again after the ack wait");
        }
        Outcome::Retried
    }
}

/// The stream, or an error saying how to make it. With `create`, a file
/// stream capturing `subject` is made when absent.
async fn open_stream(
    jetstream: &jetstream::Context,
    name: &str,
    subject: &str,
    create: bool,
) -> Result<jetstream::stream::Stream, StreamError> {
    match jetstream.get_stream(name).await {
        Ok(stream) => Ok(stream),
        Err(e)
            if matches!(
                e.kind(),
                jetstream::context::GetStreamErrorKind::JetStream(error)
                    if error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
            ) =>
        {
            if !create {
                return Err(StreamError::Setup(format!(
                    "the stream {name:?} does not exist; create it (nats stream add {name} --subjects '{subject}') or pass --nats-create-stream"
                )));
            }
            tracing::info!(stream = name, subject, "creating the stream");
            jetstream
                .create_stream(jetstream::stream::Config {
                    name: name.to_string(),
                    subjects: vec![subject.to_string()],
                    ..Default::default()
                })
                .await
                .map_err(|e| StreamError::Setup(format!("cannot create the stream {name:?}: {e}")))
        }
        Err(e) => Err(StreamError::Setup(format!(
            "cannot read the stream {name:?}: {e}"
        ))),
    }
}

/// Some stream must capture the dead-letter subject, or dead letters would
/// be lost: checked (or, with `create_stream`, made) before consuming.
async fn check_dead_letter_stream(
    jetstream: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<(), StreamError> {
    let subject = &settings.dead_letter_subject;
    if let Ok(stream) = jetstream.stream_by_subject(subject.clone()).await {
        tracing::debug!(stream, subject, "dead letters are kept");
        return Ok(());
    }
    let name = settings.dead_letter_stream();
    if !settings.create_stream {
        return Err(StreamError::Setup(format!(
            "no stream captures the dead-letter subject {subject:?}, so bad messages would be lost; create one (nats stream add {name} --subjects '{subject}') or pass --nats-create-stream"
        )));
    }
    tracing::info!(stream = %name, subject, "creating the dead-letter stream");
    open_stream(jetstream, &name, subject, true)
        .await
        .map(|_| ())
}

/// The durable pull consumer: created when absent (explicit acks, from the
/// stream's first message); an existing one is used as it is, after
/// checking that it reads the same subject with explicit acks.
async fn bind_consumer(
    stream: &jetstream::stream::Stream,
    settings: &StreamSettings,
) -> Result<PullConsumer, StreamError> {
    let config = pull::Config {
        durable_name: Some(settings.durable.clone()),
        description: Some("Organism Trends: metric batches into PostgreSQL".into()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        filter_subject: settings.subject.clone(),
        // Unlimited: a message is retried for as long as the database is
        // down; only the message's own fault dead-letters it.
        max_deliver: -1,
        max_ack_pending: i64::try_from(settings.batch.saturating_mul(4).max(256)).unwrap_or(1024),
        ..Default::default()
    };
    let consumer: PullConsumer = stream
        .get_or_create_consumer(&settings.durable, config)
        .await
        .map_err(|e| {
            StreamError::Setup(format!(
                "cannot bind the durable consumer {:?} on {:?}: {e}",
                settings.durable, settings.stream
            ))
        })?;
    let existing = &consumer.cached_info().config;
    if existing.filter_subject != settings.subject || existing.ack_policy != AckPolicy::Explicit {
        return Err(StreamError::Setup(format!(
            "the durable consumer {:?} exists with subject {:?} and ack policy {:?}; this needs {:?} with explicit acks: choose another --nats-durable, or delete it (nats consumer rm {} {})",
            settings.durable,
            existing.filter_subject,
            existing.ack_policy,
            settings.subject,
            settings.stream,
            settings.durable
        )));
    }
    if existing.ack_wait != settings.ack_wait {
        tracing::warn!(
            durable = %settings.durable,
            existing = ?existing.ack_wait,
            asked = ?settings.ack_wait,
            "the durable consumer keeps the ack wait it was created with"
        );
    }
    Ok(consumer)
}

/// Every two seconds, the consumer's lag as the server counts it.
async fn report_lag(
    consumer: PullConsumer,
    metrics: Arc<Metrics>,
    mut stopped: watch::Receiver<bool>,
) {
    let metrics = &metrics.stream;
    let mut every = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = every.tick() => {}
        }
        match consumer.get_info().await {
            Ok(info) => {
                metrics.pending.store(info.num_pending, Ordering::Relaxed);
                metrics
                    .ack_pending
                    .store(info.num_ack_pending as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "cannot read the consumer's lag"),
        }
    }
}

/// The rest of a pull, handed back (nak without delay) so that another
/// consumer, or this one after its pause, gets them at once rather than
/// after the ack wait.
async fn hand_back(batch: &mut pull::Batch) {
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_millis(100), batch.next()).await
    {
        let _ = message.ack_with(AckKind::Nak(None)).await;
    }
}

/// The pause after a message was handed back for a database failure.
fn retry_delay(message: &Message) -> Duration {
    backoff(
        message
            .info()
            .map(|i| u32::try_from(i.delivered).unwrap_or(1))
            .unwrap_or(1),
    )
}

/// 1 s, 2 s, 4 s, … up to 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

/// Sleeps, or returns early when stopped.
async fn pause(delay: Duration, stopped: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = stopped.changed() => {}
        () = tokio::time::sleep(delay) => {}
    }
}

/// A header value is one line.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_grows_and_stops_at_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(6), Duration::from_secs(30));
        assert_eq!(backoff(100), Duration::from_secs(30));
        assert_eq!(backoff(0), Duration::from_secs(1));
    }
}
