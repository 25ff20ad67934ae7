//! `organism consume`: metric batches from a NATS JetStream durable
//! consumer into the database until Ctrl-C or SIGTERM (crates/stream,
//! docs/STREAM-INGEST.md). `serve --nats-url …` runs the same consumer
//! beside the API.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use organism_stream::{Consumer, RawStreamSettings, StreamSettings};

use crate::config::GlobalArgs;
use crate::database::Database;
use crate::shutdown;

#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    /// The NATS server (nats://host:port; several comma-separated; a
    /// user and password in it are never printed).
    #[arg(long, env = "ORGANISM_NATS_URL", hide_env_values = true)]
    pub nats_url: String,
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// What `consume` and `serve` share about the stream (the URL apart: one
/// needs it, the other consumes only when it is given).
#[derive(Debug, Clone, Args)]
pub struct NatsArgs {
    /// The JetStream stream holding the metric batches; it must exist
    /// unless --nats-create-stream is given.
    #[arg(
        long = "nats-stream",
        visible_alias = "stream",
        env = "ORGANISM_NATS_STREAM",
        default_value = "METRICS"
    )]
    pub stream: String,
    /// The subjects consumed (the durable consumer's filter).
    #[arg(
        long = "nats-subject",
        visible_alias = "subject",
        env = "ORGANISM_NATS_SUBJECT",
        default_value = "metrics.>"
    )]
    pub subject: String,
    /// The durable consumer's name: instances with the same name share
    /// one position in the stream and split its messages.
    #[arg(
        long = "nats-durable",
        visible_alias = "durable",
        env = "ORGANISM_NATS_DURABLE",
        default_value = "organism"
    )]
    pub durable: String,
    /// Where a message that can never be written goes, with the error in
    /// its headers; default `dead.` and the subject's literal prefix
    /// (`dead.metrics` for `metrics.>`). Some stream must capture it.
    #[arg(
        long = "nats-dead-letter-subject",
        visible_alias = "dead-letter-subject",
        env = "ORGANISM_NATS_DEAD_LETTER_SUBJECT"
    )]
    pub dead_letter_subject: Option<String>,
    /// Create the stream (file storage, capturing the subject) and the
    /// dead-letter stream `<STREAM>_DEAD` when they are absent.
    #[arg(
        long = "nats-create-stream",
        visible_alias = "create-stream",
        env = "ORGANISM_NATS_CREATE_STREAM",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub create_stream: bool,
    /// Seconds the server waits for an acknowledgement before it
    /// redelivers (for a new durable consumer; an existing one keeps its
    /// own).
    #[arg(
        long = "nats-ack-wait-secs",
        env = "ORGANISM_NATS_ACK_WAIT_SECS",
        default_value_t = 30
    )]
    pub ack_wait_secs: u64,
    /// Messages pulled per request (each is still written and
    /// acknowledged on its own).
    #[arg(long = "nats-batch", env = "ORGANISM_NATS_BATCH", default_value_t = 64)]
    pub batch: usize,
}

impl NatsArgs {
    /// The settings, checked (no connection yet).
    pub fn settings(&self, url: &str) -> anyhow::Result<StreamSettings> {
        Ok(StreamSettings::new(RawStreamSettings {
            url: url.to_string(),
            stream: self.stream.clone(),
            subject: self.subject.clone(),
            durable: self.durable.clone(),
            dead_letter_subject: self.dead_letter_subject.clone(),
            create_stream: self.create_stream,
            ack_wait_secs: self.ack_wait_secs,
            batch: self.batch,
        })?)
    }
}

/// Checks the settings and connects (the stream, the dead-letter stream
/// and the durable consumer checked), so that a mistake is said before the
/// database is opened.
pub async fn connect(url: &str, nats: &NatsArgs) -> anyhow::Result<Consumer> {
    let settings = nats.settings(url)?;
    Ok(Consumer::connect(settings).await?)
}

pub async fn run(global: &GlobalArgs, args: ConsumeArgs) -> anyhow::Result<()> {
    let consumer = connect(&args.nats_url, &args.nats).await?;
    let db = Database::open(global).await?;
    let metrics = Arc::new(organism_api::Metrics::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let progress = tokio::spawn(log_progress(metrics.clone(), stopped.clone()));
    let consuming =
        tokio::spawn(consumer.run_until_stopped(db.store.clone(), metrics.clone(), stopped));
    eprintln!(
        "consuming {} ({}) as {}; Ctrl-C to stop",
        args.nats.stream, args.nats.subject, args.nats.durable
    );
    shutdown::signal().await;
    let _ = stop.send(true);
    let totals = consuming.await;
    progress.abort();
    db.close().await;
    let totals = totals?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} messages, {} samples stored, {} dead-lettered, {} retried in {secs:.1} s ({:.0} samples/s)",
        totals.messages,
        totals.samples,
        totals.dead_lettered,
        totals.retried,
        totals.samples as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Every ten seconds while something moved: the counts and the lag.
async fn log_progress(
    metrics: Arc<organism_api::Metrics>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    let mut last = u64::MAX;
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = every.tick() => {}
        }
        let s = &metrics.stream;
        let messages = s.messages.load(Ordering::Relaxed) + s.dead_lettered.load(Ordering::Relaxed);
        if messages != last {
            tracing::info!(
                messages = s.messages.load(Ordering::Relaxed),
                samples = s.samples.load(Ordering::Relaxed),
                dead_lettered = s.dead_lettered.load(Ordering::Relaxed),
                pending = s.pending.load(Ordering::Relaxed),
                "consumed"
            );
            last = messages;
        }
    }
}
