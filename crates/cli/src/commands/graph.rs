//! `organism graph`: compute and store a metrics snapshot from files.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Args;
use organism_api::snapshots::{SnapshotRequest, take_snapshot};
use organism_graph::parse::{self, Parsed};

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// Interactions: CSV with a header, or NDJSON (.ndjson, .jsonl), with
    /// from, to, time, channel (email|chat|meeting), and optionally weight and
    /// duration_minutes.
    #[arg(long)]
    pub interactions: PathBuf,
    /// The directory: CSV or NDJSON with employee_id, and optionally team,
    /// work_start_hour, work_end_hour, utc_offset_minutes.
    #[arg(long)]
    pub directory: PathBuf,
    /// The snapshot's time (RFC 3339); the window ends here. Default: now.
    #[arg(long, value_parser = parse_at)]
    pub at: Option<DateTime<Utc>>,
    /// The window's length in days.
    #[arg(long, default_value_t = SnapshotRequest::DEFAULT_WINDOW_DAYS)]
    pub window_days: u32,
    /// Write only the employees whose metrics moved since their latest sample.
    #[arg(long)]
    pub incremental: bool,
    /// How far a metric must move to count as moved (with --incremental).
    #[arg(long, default_value_t = SnapshotRequest::DEFAULT_TOLERANCE)]
    pub tolerance: f64,
}

fn parse_at(text: &str) -> Result<DateTime<Utc>, String> {
    organism_domain::parse_instant(text, false).map_err(|e| e.to_string())
}

fn is_ndjson(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ndjson" | "jsonl")
    )
}

fn read<T>(
    path: &Path,
    csv: fn(&[u8]) -> Result<Parsed<T>, organism_graph::ParseError>,
    ndjson: fn(&[u8]) -> Parsed<T>,
) -> anyhow::Result<Parsed<T>> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if is_ndjson(path) {
        Ok(ndjson(&bytes))
    } else {
        csv(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

pub async fn run(global: &GlobalArgs, args: GraphArgs) -> anyhow::Result<()> {
    let directory = read(
        &args.directory,
        parse::directory_from_csv,
        parse::directory_from_ndjson,
    )?;
    let interactions = read(
        &args.interactions,
        parse::interactions_from_csv,
        parse::interactions_from_ndjson,
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
    let request = SnapshotRequest {
        at: args.at.unwrap_or_else(Utc::now),
        window_days: args.window_days,
        incremental: args.incremental,
        tolerance: args.tolerance,
    };
    let db = Database::open(global).await?;
    let result = take_snapshot(
        &db.store,
        directory.rows,
        interactions.rows,
        malformed,
        request,
    )
    .await;
    db.close().await;
    let s = result?;
    println!(
        "snapshot at {}: {} employees, {} edges from {} interactions ({} self-loops, {} unknown employees, {} outside the window, {} malformed rows skipped); {} samples written, {} unchanged; graph {:.2} s, total {:.2} s",
        s.at.to_rfc3339(),
        s.employees,
        s.edges,
        s.interactions_used,
        s.self_loops,
        s.unknown_employees,
        s.outside_window,
        s.malformed_rows,
        s.rows_written,
        s.unchanged,
        s.seconds_graph,
        s.seconds_total
    );
    Ok(())
}
