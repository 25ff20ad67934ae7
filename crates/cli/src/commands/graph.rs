//! `organism graph`: compute and store a metrics snapshot from files.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use organism_api::snapshots::{SnapshotRequest, SnapshotSettings, take_snapshot};
use organism_graph::BetweennessMethod;
use organism_graph::parse::{InputFormat, Parsed};

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// Interactions file: .csv (with a header), .ndjson/.jsonl or .parquet,
    /// with from, to, time, channel (email|chat|meeting), and optionally
    /// weight and duration_minutes.
    #[arg(long, value_name = "FILE")]
    pub interactions: PathBuf,
    /// The employee directory file: .csv, .ndjson/.jsonl or .parquet, with
    /// employee_id, and optionally team, work_start_hour, work_end_hour,
    /// utc_offset_minutes.
    #[arg(long, value_name = "FILE")]
    pub directory: PathBuf,
    /// The snapshot's time (RFC 3339); the window ends here. Default: now.
    #[arg(long, value_parser = parse_at)]
    pub at: Option<DateTime<Utc>>,
    /// The window's length in days (1 to 365).
    #[arg(long, default_value_t = SnapshotRequest::DEFAULT_WINDOW_DAYS)]
    pub window_days: u32,
    /// Write only the employees whose metrics moved since their latest sample.
    #[arg(long)]
    pub incremental: bool,
    #[command(flatten)]
    pub limits: SnapshotArgs,
}

/// Limits of a snapshot's work and the incremental tolerance: flags of both
/// `organism graph` and `organism serve` (where they bound
/// `POST /api/graph/snapshots`), with the same environment variables.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// Most distinct directory employees a snapshot takes.
    #[arg(long, env = "ORGANISM_SNAPSHOT_MAX_EMPLOYEES", default_value_t = SnapshotSettings::DEFAULT_MAX_EMPLOYEES)]
    pub snapshot_max_employees: usize,
    /// Most edges (distinct pairs who interacted in the window).
    #[arg(long, env = "ORGANISM_SNAPSHOT_MAX_EDGES", default_value_t = SnapshotSettings::DEFAULT_MAX_EDGES)]
    pub snapshot_max_edges: usize,
    /// Longest a snapshot's computation may run, in seconds; then it stops.
    #[arg(long, env = "ORGANISM_SNAPSHOT_TIMEOUT_SECS", default_value_t = SnapshotSettings::DEFAULT_TIMEOUT.as_secs())]
    pub snapshot_timeout_secs: u64,
    /// Threads of one betweenness computation.
    #[arg(long, env = "ORGANISM_SNAPSHOT_THREADS", default_value_t = SnapshotSettings::DEFAULT_THREADS)]
    pub snapshot_threads: NonZeroUsize,
    /// Betweenness is sampled, with the error bound below, when employees ×
    /// edges is above this.
    #[arg(long, env = "ORGANISM_SNAPSHOT_APPROXIMATE_ABOVE", default_value_t = SnapshotSettings::DEFAULT_APPROXIMATE_ABOVE)]
    pub snapshot_approximate_above: u64,
    /// Largest error of a sampled betweenness value, in (0, 1).
    #[arg(long, env = "ORGANISM_SNAPSHOT_EPSILON", default_value_t = SnapshotSettings::DEFAULT_EPSILON)]
    pub snapshot_epsilon: f64,
    /// Probability that some sampled value is off by more than epsilon, in (0, 1).
    #[arg(long, env = "ORGANISM_SNAPSHOT_DELTA", default_value_t = SnapshotSettings::DEFAULT_DELTA)]
    pub snapshot_delta: f64,
    /// How far a metric must move to be written again (incremental mode).
    #[arg(long, alias = "tolerance", env = "ORGANISM_SNAPSHOT_TOLERANCE", default_value_t = SnapshotSettings::DEFAULT_TOLERANCE)]
    pub snapshot_tolerance: f64,
}

impl SnapshotArgs {
    /// The settings, with `concurrency` snapshots at once, checked.
    pub fn settings(&self, concurrency: usize) -> anyhow::Result<SnapshotSettings> {
        let settings = SnapshotSettings {
            max_employees: self.snapshot_max_employees,
            max_edges: self.snapshot_max_edges,
            timeout: Duration::from_secs(self.snapshot_timeout_secs),
            concurrency,
            threads: self.snapshot_threads,
            approximate_above: self.snapshot_approximate_above,
            epsilon: self.snapshot_epsilon,
            delta: self.snapshot_delta,
            tolerance: self.snapshot_tolerance,
        };
        settings
            .check()
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
        Ok(settings)
    }
}

fn parse_at(text: &str) -> Result<DateTime<Utc>, String> {
    organism_domain::parse_instant(text, false).map_err(|e| e.to_string())
}

/// The file's format by its extension, checked with its readability before
/// anything starts.
fn format_of(flag: &str, path: &Path) -> anyhow::Result<InputFormat> {
    let format = InputFormat::from_path(path).ok_or_else(|| {
        anyhow::anyhow!(
            "{flag} {}: unknown file type (expected {}); nothing was started",
            path.display(),
            InputFormat::EXTENSIONS
        )
    })?;
    crate::check::readable_file(flag, path)?;
    Ok(format)
}

/// Reads and parses a file; malformed rows are skipped and counted, a file
/// that cannot be parsed at all is an error naming the flag.
fn read<T>(
    flag: &str,
    path: &Path,
    format: InputFormat,
    parse: fn(InputFormat, &[u8]) -> Result<Parsed<T>, organism_graph::ParseError>,
) -> anyhow::Result<Parsed<T>> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{flag} {}: cannot be read: {e}", path.display()))?;
    parse(format, &bytes)
        .map_err(|e| anyhow::anyhow!("{flag} {}: {e}; nothing was started", path.display()))
}

pub async fn run(global: &GlobalArgs, args: GraphArgs) -> anyhow::Result<()> {
    // Every argument is checked, and both files read, before the database
    // is opened: a mistake starts (or creates) no embedded cluster.
    let directory_format = format_of("--directory", &args.directory)?;
    let interactions_format = format_of("--interactions", &args.interactions)?;
    let now = Utc::now();
    let request = SnapshotRequest {
        at: args.at.unwrap_or(now),
        now,
        window_days: args.window_days,
        incremental: args.incremental,
    };
    request
        .check()
        .map_err(|e| anyhow::anyhow!("--window-days: {}", e.message))?;
    organism_domain::SampleWindow::new(now, global.rollup_retention_days)
        .check(request.at)
        .map_err(|e| anyhow::anyhow!("--at: {}", e.message))?;
    let settings = args.limits.settings(1)?;
    let directory = read(
        "--directory",
        &args.directory,
        directory_format,
        InputFormat::directory,
    )?;
    let interactions = read(
        "--interactions",
        &args.interactions,
        interactions_format,
        InputFormat::interactions,
    )?;
    for (file, malformed) in [
        (&args.directory, &directory.malformed),
        (&args.interactions, &interactions.malformed),
    ] {
        for e in &malformed.first {
            eprintln!("{}: row {} skipped: {}", file.display(), e.row, e.reason);
        }
    }
    let malformed = directory.malformed.count + interactions.malformed.count;
    let db = Database::open(global).await?;
    let result = take_snapshot(
        &db.store,
        directory.rows,
        interactions.rows,
        malformed,
        request,
        &settings,
        None,
    )
    .await;
    db.close().await;
    let s = result?;
    let betweenness = match s.betweenness {
        BetweennessMethod::Exact => "exact betweenness".to_string(),
        BetweennessMethod::Sampled {
            samples,
            epsilon,
            delta,
            ..
        } => format!(
            "sampled betweenness ({samples} samples; every value within {epsilon} with probability {})",
            1.0 - delta
        ),
    };
    println!(
        "snapshot at {}: {} employees, {} edges from {} interactions ({} self-loops, {} unknown employees, {} outside the window, {} malformed rows skipped); {betweenness}; {} samples written, {} unchanged; graph {:.2} s, total {:.2} s",
        s.at.to_rfc3339(),
        s.employees,
        s.edges,
        s.interactions_used,
        s.self_loops,
        s.unknown_employees,
        s.outside_window,
        s.malformed_rows,
        s.rows_written.unwrap_or_default(),
        s.unchanged.unwrap_or_default(),
        s.seconds_graph,
        s.seconds_total
    );
    Ok(())
}
