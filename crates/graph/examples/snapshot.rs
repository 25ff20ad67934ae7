//! Reads a directory and interactions from files (.csv, .ndjson/.jsonl or
//! .parquet), computes one snapshot, and writes it as
//! JSON with the time each step took. Used by `bench/compare_networkx.py`;
//! handy for looking at a real export by hand.
//!
//! ```text
//! cargo run --release -p organism-graph --example snapshot -- \
//!     --directory directory.csv --interactions interactions.csv \
//!     --window-end 2024-03-29T00:00:00Z [--window-days 28] [--threads N] \
//!     --out metrics.json
//! ```

use std::error::Error;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use organism_graph::parse::InputFormat;
use organism_graph::{
    DirectoryEntry, Interaction, Parsed, SnapshotInput, SnapshotOptions, Window, compute_snapshot,
};
use serde_json::json;

struct Args {
    directory: PathBuf,
    interactions: PathBuf,
    window_end: DateTime<Utc>,
    window_days: u32,
    threads: Option<NonZeroUsize>,
    out: PathBuf,
}

const USAGE: &str = "usage: snapshot --directory FILE --interactions FILE --window-end RFC3339 \
                     [--window-days 28] [--threads N] --out FILE";

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut directory = None;
    let mut interactions = None;
    let mut window_end = None;
    let mut window_days = Window::DEFAULT_DAYS;
    let mut threads = None;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--directory" => directory = Some(PathBuf::from(value()?)),
            "--interactions" => interactions = Some(PathBuf::from(value()?)),
            "--window-end" => window_end = Some(organism_domain::parse_timestamp(&value()?)?),
            "--window-days" => window_days = value()?.parse()?,
            "--threads" => threads = Some(value()?.parse()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}").into()),
        }
    }
    let missing = |name: &str| format!("{name} is required\n{USAGE}");
    Ok(Args {
        directory: directory.ok_or_else(|| missing("--directory"))?,
        interactions: interactions.ok_or_else(|| missing("--interactions"))?,
        window_end: window_end.ok_or_else(|| missing("--window-end"))?,
        window_days,
        threads,
        out: out.ok_or_else(|| missing("--out"))?,
    })
}

/// The file's format by its extension (.csv, .ndjson/.jsonl, .parquet).
fn format(path: &Path) -> Result<InputFormat, Box<dyn Error>> {
    InputFormat::from_path(path).ok_or_else(|| {
        format!(
            "{}: unknown file type (expected {})",
            path.display(),
            InputFormat::EXTENSIONS
        )
        .into()
    })
}

fn read_directory(path: &Path) -> Result<Parsed<DirectoryEntry>, Box<dyn Error>> {
    let format = format(path)?;
    Ok(format.directory(&std::fs::read(path)?)?)
}

fn read_interactions(path: &Path) -> Result<Parsed<Interaction>, Box<dyn Error>> {
    let format = format(path)?;
    Ok(format.interactions(&std::fs::read(path)?)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let started = Instant::now();
    let directory = read_directory(&args.directory)?;
    let interactions = read_interactions(&args.interactions)?;
    let parse_seconds = started.elapsed().as_secs_f64();

    let mut options = SnapshotOptions::new(Window::ending_at(args.window_end, args.window_days)?);
    if let Some(threads) = args.threads {
        options.threads = threads;
    }
    let computing = Instant::now();
    let snapshot = compute_snapshot(
        SnapshotInput {
            directory: &directory.rows,
            interactions: &interactions.rows,
            malformed_rows: directory.malformed.count + interactions.malformed.count,
        },
        &options,
    );
    let snapshot_seconds = computing.elapsed().as_secs_f64();
    let total_seconds = started.elapsed().as_secs_f64();

    let output = json!({
        "timings_seconds": {
            "parse": parse_seconds,
            "snapshot": snapshot_seconds,
            "total": total_seconds,
        },
        "threads": options.threads.get(),
        "malformed": {
            "directory": directory.malformed,
            "interactions": interactions.malformed,
        },
        "snapshot": snapshot,
    });
    std::fs::write(&args.out, serde_json::to_vec(&output)?)?;
    eprintln!(
        "{} employees, {} edges, {} interactions used: parse {parse_seconds:.3} s, \
         snapshot {snapshot_seconds:.3} s on {} threads",
        snapshot.counts.employees,
        snapshot.counts.edges,
        snapshot.counts.interactions_used,
        options.threads
    );
    Ok(())
}
