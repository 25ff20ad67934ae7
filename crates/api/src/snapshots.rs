//! Graph snapshots: interactions and a directory in, one metrics sample per
//! employee stored (DESIGN.md §7). Shared by `POST /api/graph/snapshots` and
//! `organism graph`; no HTTP here.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use organism_domain::{
    EmployeeId, MetricSample, MetricValues, RowError, TeamName, ValidationError,
};
use organism_graph::{
    DirectoryEntry, Interaction, SnapshotInput, SnapshotOptions, Window, compute_snapshot,
};
use organism_store::{Store, StoreError};
use serde::Serialize;

/// How to take a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRequest {
    /// The snapshot's time: the window ends here and the samples carry it.
    pub at: DateTime<Utc>,
    /// The window's length in days (1–365; 28 by default).
    pub window_days: u32,
    /// Write only employees whose metrics moved more than `tolerance` since
    /// their latest stored sample (of the last `window_days` days).
    pub incremental: bool,
    pub tolerance: f64,
}

impl SnapshotRequest {
    pub const DEFAULT_WINDOW_DAYS: u32 = 28;
    pub const DEFAULT_TOLERANCE: f64 = 1e-9;

    pub fn check(&self) -> Result<Window, ValidationError> {
        if !(1..=365).contains(&self.window_days) {
            return Err(ValidationError::new(
                "window_days",
                format!("must be from 1 to 365, got {}", self.window_days),
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(ValidationError::new(
                "tolerance",
                "must be a finite number >= 0",
            ));
        }
        Window::ending_at(self.at, self.window_days)
            .map_err(|e| ValidationError::new("window_days", e.to_string()))
    }
}

/// What a snapshot did.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    pub at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub employees: usize,
    pub edges: usize,
    pub interactions_used: usize,
    pub self_loops: usize,
    pub unknown_employees: usize,
    pub outside_window: usize,
    pub malformed_rows: usize,
    pub duplicate_directory_entries: usize,
    /// Samples written (all employees, or those that moved when incremental).
    pub rows_written: usize,
    /// Employees left out because their metrics did not move (incremental).
    pub unchanged: usize,
    pub seconds_graph: f64,
    pub seconds_total: f64,
}

/// Computes the snapshot and writes it as one all-or-nothing batch.
/// `malformed_rows` are the rows the parsers skipped. A directory id or team
/// that breaks the domain rules fails the whole snapshot, naming the
/// directory row.
pub async fn take_snapshot(
    store: &Store,
    directory: Vec<DirectoryEntry>,
    interactions: Vec<Interaction>,
    malformed_rows: usize,
    request: SnapshotRequest,
) -> Result<SnapshotSummary, StoreError> {
    let started = Instant::now();
    let window = request.check()?;
    // Ids and teams first: nothing is computed for a directory we cannot store.
    let mut ids = Vec::with_capacity(directory.len());
    for (i, entry) in directory.iter().enumerate() {
        let id = EmployeeId::parse(entry.employee_id.clone())
            .map_err(|e| RowError::new(i + 1, e.for_field("employee_id")))?;
        let team = match &entry.team {
            Some(t) if !t.is_empty() => Some(
                TeamName::parse(t.clone())
                    .map_err(|e| RowError::new(i + 1, e.for_field("team")))?,
            ),
            _ => None,
        };
        ids.push((entry.employee_id.clone(), (id, team)));
    }
    let ids: std::collections::HashMap<String, (EmployeeId, Option<TeamName>)> =
        ids.into_iter().collect();
    let graph_started = Instant::now();
    let snapshot = tokio::task::spawn_blocking(move || {
        compute_snapshot(
            SnapshotInput {
                directory: &directory,
                interactions: &interactions,
                malformed_rows,
            },
            &SnapshotOptions::new(window),
        )
    })
    .await
    .map_err(|e| StoreError::Database(format!("the graph computation failed: {e}")))?;
    let seconds_graph = graph_started.elapsed().as_secs_f64();
    let chosen: Vec<&organism_graph::EmployeeMetrics> = if request.incremental {
        let previous = store
            .latest_values(request.at - Duration::days(i64::from(request.window_days)))
            .await?;
        snapshot.changed_since(&previous, request.tolerance)
    } else {
        snapshot.employees.iter().collect()
    };
    let now = Utc::now();
    let mut samples = Vec::with_capacity(chosen.len());
    for m in &chosen {
        let Some((id, team)) = ids.get(&m.employee_id) else {
            continue;
        };
        let values = MetricValues::new(
            m.degree_centrality,
            m.betweenness_centrality,
            m.clustering_coeff,
            m.burnout_score,
        )?;
        samples.push(MetricSample::new(
            request.at,
            id.clone(),
            team.clone(),
            values,
            now,
        )?);
    }
    let written = store.write_batch(&samples).await?;
    let c = &snapshot.counts;
    Ok(SnapshotSummary {
        at: request.at,
        window_start: snapshot.window_start,
        window_end: snapshot.window_end,
        employees: c.employees,
        edges: c.edges,
        interactions_used: c.interactions_used,
        self_loops: c.self_loops,
        unknown_employees: c.unknown_employees,
        outside_window: c.outside_window,
        malformed_rows: c.malformed_rows,
        duplicate_directory_entries: c.duplicate_directory_entries,
        rows_written: written.stored,
        unchanged: snapshot.employees.len() - chosen.len(),
        seconds_graph,
        seconds_total: started.elapsed().as_secs_f64(),
    })
}
