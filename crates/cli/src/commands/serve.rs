//! `organism serve`.

use std::net::SocketAddr;

use clap::Args;
use organism_api::realtime::RealtimeSettings;
use organism_api::{ApiConfig, AppState, AuthMode, Epsilon, MinGroupSize};
use organism_store::scheduler::{Schedule, Scheduler};

use crate::config::GlobalArgs;
use crate::database::Database;
use crate::shutdown;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORGANISM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Largest request body in bytes.
    #[arg(long, env = "ORGANISM_BODY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub body_limit: usize,
    /// Serve without API keys: every caller is an admin. For local use only.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Team aggregates over fewer distinct employees are suppressed.
    #[arg(long, env = "ORGANISM_MIN_GROUP_SIZE", default_value_t = 5)]
    pub min_group_size: u32,
    /// Seconds a client has to send a request's header (also how long an
    /// idle keep-alive connection stays open).
    #[arg(long, env = "ORGANISM_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay silent (no byte either way) while no
    /// handler is computing, e.g. a stalled upload, before it is closed.
    #[arg(long, env = "ORGANISM_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Seconds (plus one per MiB of body) after its body arrived within
    /// which a request must be answered; past it the client gets 503
    /// request_timeout.
    #[arg(long, env = "ORGANISM_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "ORGANISM_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Differential-privacy budget of each noisy average a manager key sees
    /// (smaller: more private, noisier); in (0, 10].
    #[arg(long, env = "ORGANISM_MANAGER_EPSILON", default_value_t = 1.0)]
    pub manager_epsilon: f64,
    /// Graph snapshots computing at once; more get 503 with Retry-After.
    #[arg(long, env = "ORGANISM_SNAPSHOT_CONCURRENCY", default_value_t = organism_api::snapshots::SnapshotSettings::DEFAULT_CONCURRENCY)]
    pub snapshot_concurrency: usize,
    /// Seconds before a failed webhook delivery's first retry; each next
    /// one waits twice as long (up to an hour), less a random part of up to
    /// half (jitter).
    #[arg(long, env = "ORGANISM_ALERT_RETRY_BASE_SECS", default_value_t = 5.0)]
    pub alert_retry_base_secs: f64,
    /// Seconds after which a webhook delivery not yet delivered is given up
    /// (status `dead` in /api/alert-deliveries).
    #[arg(
        long,
        env = "ORGANISM_ALERT_GIVE_UP_AFTER_SECS",
        default_value_t = 86_400
    )]
    pub alert_give_up_after_secs: u64,
    #[command(flatten)]
    pub snapshot: crate::commands::graph::SnapshotArgs,
    #[command(flatten)]
    pub audit_checkpoints: crate::commands::audit::CheckpointArgs,
    /// A NATS server to consume metric batches from, beside the API (as
    /// `organism consume`, with the --nats-* settings); unset, no stream
    /// ingest.
    #[arg(long, env = "ORGANISM_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
    #[command(flatten)]
    pub nats: crate::commands::consume::NatsArgs,
    /// A streaming replica (hot standby) of the database: the read
    /// endpoints use it while its replay lag is within --read-max-lag-ms;
    /// writes, jobs, keys and the audit log stay on the primary.
    #[arg(long, env = "ORGANISM_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<String>,
    /// The most replay lag a read from the replica may have, in
    /// milliseconds; beyond it reads go to the primary.
    #[arg(long, env = "ORGANISM_READ_MAX_LAG_MS", default_value_t = 1000)]
    pub read_max_lag_ms: u64,
}

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let prepared = prepare(&args).await?;
    let db = Database::open(global).await?;
    let result = serve(&db, prepared, || {}).await;
    db.close().await;
    result
}

/// What serving needs that does not need the database, made before it is
/// opened so that a mistake starts (or creates) no embedded cluster: the
/// socket, bound (a port in use is said now), the API's settings, checked,
/// and the audit checkpoints' key, read.
#[derive(Debug)]
pub struct Prepared {
    listener: tokio::net::TcpListener,
    config: ApiConfig,
    realtime: RealtimeSettings,
    /// --read-database-url, parsed, and --read-max-lag-ms.
    read_replica: Option<(tokio_postgres::Config, std::time::Duration)>,
    checkpoints: Option<crate::commands::audit::CheckpointPlan>,
    /// The stream consumer, connected and bound, with --nats-url.
    consumer: Option<organism_stream::Consumer>,
}

/// Checks every flag, then binds the socket.
pub async fn prepare(args: &ServeArgs) -> anyhow::Result<Prepared> {
    crate::check::at_least_one("--body-limit", args.body_limit as u64)?;
    let min_group_size = MinGroupSize::new(args.min_group_size)
        .map_err(|e| anyhow::anyhow!("--min-group-size: {}", e.message))?;
    let manager_epsilon = Epsilon::new(args.manager_epsilon)
        .map_err(|e| anyhow::anyhow!("--manager-epsilon: {}", e.message))?;
    let auth = if args.insecure_no_auth {
        warn_insecure();
        AuthMode::InsecureNoAuth
    } else {
        AuthMode::Keys
    };
    let config = ApiConfig {
        body_limit: args.body_limit,
        auth,
        min_group_size,
        header_read_timeout: positive_secs(
            "--header-read-timeout-secs",
            args.header_read_timeout_secs,
        )?,
        idle_timeout: positive_secs("--idle-timeout-secs", args.idle_timeout_secs)?,
        request_timeout: positive_secs("--request-timeout-secs", args.request_timeout_secs)?,
        max_connections: if args.max_connections == 0 {
            anyhow::bail!("--max-connections must be at least 1")
        } else {
            args.max_connections
        },
        manager_epsilon,
        snapshot: args.snapshot.settings(args.snapshot_concurrency)?,
        clock: organism_api::Clock::System,
    };
    let checkpoints = args.audit_checkpoints.check()?;
    let retry_base = args.alert_retry_base_secs;
    if !(retry_base.is_finite() && (0.01..=3600.0).contains(&retry_base)) {
        anyhow::bail!("--alert-retry-base-secs must be from 0.01 to 3600, got {retry_base}");
    }
    let realtime = RealtimeSettings {
        retry_base: std::time::Duration::from_secs_f64(retry_base),
        give_up_after: positive_secs("--alert-give-up-after-secs", args.alert_give_up_after_secs)?,
        ..RealtimeSettings::default()
    };
    let read_replica = match &args.read_database_url {
        Some(url) => {
            let config: tokio_postgres::Config = url
                .parse()
                .map_err(|e| anyhow::anyhow!("--read-database-url: {e}"))?;
            Some((
                config,
                std::time::Duration::from_millis(args.read_max_lag_ms),
            ))
        }
        None => None,
    };
    let consumer = match &args.nats_url {
        Some(url) => Some(crate::commands::consume::connect(url, &args.nats).await?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("--bind: cannot listen on {}: {e}", args.bind))?;
    Ok(Prepared {
        listener,
        config,
        realtime,
        read_replica,
        checkpoints,
        consumer,
    })
}

/// Serves on `db` until a stop signal; `ready` runs once the socket listens.
/// The lifecycle jobs (organism_store::scheduler) and the audit
/// checkpointer run alongside; on the signal the server drains its requests
/// while they finish the job in progress, and all are awaited.
pub async fn serve(db: &Database, prepared: Prepared, ready: impl FnOnce()) -> anyhow::Result<()> {
    let Prepared {
        listener,
        config,
        realtime,
        read_replica,
        checkpoints,
        consumer,
    } = prepared;
    let mut state = AppState::new(db.store.clone(), config);
    if let Some((connection, max_lag)) = read_replica {
        let replica = db
            .store
            .replica(connection)
            .await
            .map_err(|e| anyhow::anyhow!("--read-database-url: {e}"))?;
        tracing::info!(
            max_lag_ms = max_lag.as_millis() as u64,
            "reads go to the replica while it keeps up"
        );
        state = state.with_replica(organism_api::replica::ReadReplica::new(replica, max_lag));
    }
    tracing::info!(addr = %listener.local_addr()?, engine = %db.store.engine(), "serving");
    let checkpoints = checkpoints.map(|plan| plan.job(db.store.clone()));
    ready();
    // One stop signal for the background jobs: sent when the server starts
    // draining (or dropped if it fails), so that they finish alongside the
    // requests in flight; both are awaited before the database closes.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(
        Scheduler::new(db.store.clone(), Schedule::default()).run_until_stopped(stopped.clone()),
    );
    // The alert evaluators (each sample; the daily rules) and the webhook
    // sender (docs/REALTIME.md).
    let evaluator = tokio::spawn(organism_api::realtime::run_evaluator(
        db.store.clone(),
        realtime.clone(),
        state.metrics.clone(),
        stopped.clone(),
    ));
    let daily = tokio::spawn(organism_api::daily_rules::run_daily_rules(
        db.store.clone(),
        organism_api::daily_rules::DAILY_CHECK_EVERY,
        state.metrics.clone(),
        stopped.clone(),
    ));
    let sender = tokio::spawn(organism_api::realtime::run_sender(
        db.store.clone(),
        realtime,
        state.metrics.clone(),
        stopped.clone(),
    ));
    let consuming = consumer.map(|consumer| {
        tokio::spawn(consumer.run_until_stopped(
            db.store.clone(),
            state.metrics.clone(),
            stopped.clone(),
        ))
    });
    let checkpointer = checkpoints.map(|job| tokio::spawn(job.run_until_stopped(stopped)));
    let signal = async move {
        shutdown::signal().await;
        let _ = stop.send(true);
        tracing::info!("stopping: lifecycle jobs finish the job in progress");
    };
    let served = organism_api::serve(listener, state, signal).await;
    if let Err(e) = scheduler.await {
        tracing::error!(error = %e, "the scheduler ended abnormally");
    }
    for (name, task) in [
        ("alert evaluator", evaluator),
        ("daily alert rules", daily),
        ("webhook sender", sender),
    ] {
        if let Err(e) = task.await {
            tracing::error!(error = %e, "the {name} ended abnormally");
        }
    }
    if let Some(checkpointer) = checkpointer
        && let Err(e) = checkpointer.await
    {
        tracing::error!(error = %e, "the audit checkpointer ended abnormally");
    }
    if let Some(consuming) = consuming {
        match consuming.await {
            Ok(totals) => tracing::info!(
                messages = totals.messages,
                samples = totals.samples,
                dead_lettered = totals.dead_lettered,
                "the stream consumer stopped"
            ),
            Err(e) => tracing::error!(error = %e, "the stream consumer ended abnormally"),
        }
    }
    served?;
    Ok(())
}

fn positive_secs(flag: &str, secs: u64) -> anyhow::Result<std::time::Duration> {
    if secs == 0 {
        anyhow::bail!("{flag} must be at least 1 second");
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// `--insecure-no-auth`: said loudly, in the log and on the terminal.
fn warn_insecure() {
    let text = "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach this port can read every burnout score, write metrics and change interventions. Use it on your own machine only, never on a shared network.";
    tracing::warn!("{text}");
    eprintln!("\n!!! WARNING: {text}\n");
}
