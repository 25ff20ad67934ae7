//! `organism ingest FILE…`: each file all or nothing, with a progress bar.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use clap::Args;
use organism_formats::Format;

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Metrics files: .csv, .parquet, .ndjson/.jsonl or .json (an array),
    /// with the columns time, employee_id, team, degree_centrality,
    /// betweenness_centrality, clustering_coeff, burnout_score.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Samples per COPY round trip (the rows in memory at once).
    #[arg(long, default_value_t = 50_000)]
    pub chunk_rows: usize,
}

pub async fn run(global: &GlobalArgs, args: IngestArgs) -> anyhow::Result<()> {
    // Check every file's format, and that it can be read, before opening
    // anything: a typo must not start (or create) an embedded cluster.
    let mut files = Vec::new();
    for path in &args.files {
        let format = Format::from_path(path).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: unknown file type (expected .csv, .parquet, .ndjson, .jsonl or .json); nothing was started",
                path.display()
            )
        })?;
        crate::check::readable_file("", path)?;
        files.push((path.clone(), format));
    }
    crate::check::at_least_one("--chunk-rows", args.chunk_rows as u64)?;
    let db = Database::open(global).await?;
    let result = ingest(&db, &files, args.chunk_rows).await;
    db.close().await;
    result
}

async fn ingest(
    db: &Database,
    files: &[(PathBuf, Format)],
    chunk_rows: usize,
) -> anyhow::Result<()> {
    let mut total = 0usize;
    let started = Instant::now();
    for (path, format) in files {
        let progress = indicatif::ProgressBar::new_spinner();
        progress.set_message(format!("reading {}", path.display()));
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let window = db.store.sample_window(Utc::now());
        progress.finish_and_clear();
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(indicatif::ProgressStyle::with_template(
            "{msg} {spinner} {pos} rows ({per_sec})",
        )?);
        bar.set_message(path.display().to_string());
        let bar_for_chunks = bar.clone();
        let summary = organism_api::bulk::write_document(
            &db.store,
            *format,
            bytes.into(),
            window,
            chunk_rows,
            move |rows| bar_for_chunks.inc(rows as u64),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing of it was written", path.display()))?;
        bar.finish_and_clear();
        println!(
            "{}: {} rows read, {} stored, {} new or changed",
            path.display(),
            summary.received,
            summary.stored,
            summary.changed
        );
        total += summary.received;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} rows in {secs:.1} s ({:.0} rows/s)",
        total as f64 / secs.max(1e-9)
    );
    Ok(())
}
