//! Graph snapshots: interactions and a directory in, one metrics sample per
//! employee stored (DESIGN.md §7). Shared by `POST /api/graph/snapshots` and
//! `organism graph`; no HTTP here.
//!
//! # Bounded work
//!
//! Betweenness costs about `employees × edges` steps, so a snapshot is the
//! one request whose cost grows faster than its body. [`SnapshotSettings`]
//! (server configuration, never the request's) bounds it:
//!
//! - a directory over `max_employees` or a graph over `max_edges` is refused
//!   (422 naming the field and the limit) before any centrality is computed;
//! - above `approximate_above` (`employees × edges`) betweenness is sampled
//!   (Riondato–Kornaropoulos, `organism_graph::sampling`) with the `(ε, δ)`
//!   bound the summary reports in `betweenness`;
//! - the computation runs on `threads` threads (1 by default, so a snapshot
//!   leaves the other cores to reads) and stops at its deadline, `timeout`
//!   after it starts (422 `snapshot_timeout`), or as soon as the request is
//!   dropped (the client went away or the request timeout fired): the loops
//!   check a deadline and a cancellation flag between searches, because a
//!   blocking thread cannot be killed;
//! - at most `concurrency` snapshots compute at once (`AppState`'s
//!   semaphore; others get 503 with Retry-After at once). The permit moves
//!   into the blocking task, so it is released only when the computation
//!   has actually stopped, not when the request is dropped.
//!
//! # What a writer learns
//!
//! DESIGN.md §11: a writer learns nothing about stored values. Incremental
//! mode compares the computed metrics with the stored latest ones, within
//! the server's `tolerance`, and writes only those that moved; which and how
//! many did is stored state, so [`SnapshotSummary::for_writer`] leaves out
//! `rows_written` and `unchanged`. What remains is computed from the request
//! alone. An admin (who may read every score anyway) sees both.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use organism_domain::{
    EmployeeId, MetricSample, MetricValues, RowError, TeamName, ValidationError,
};
use organism_graph::{
    Accuracy, Approximation, BetweennessMethod, Budget, DirectoryEntry, Interaction, Interrupted,
    SizeLimits, SnapshotInput, SnapshotOptions, Window, compute_snapshot_within,
};
use organism_store::{Store, StoreError};
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;

use crate::ApiError;

/// How to take a snapshot: what a request may choose.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRequest {
    /// The snapshot's time: the window ends here and the samples carry it.
    pub at: DateTime<Utc>,
    /// When the request is made: `at` must lie in the sample window of now.
    pub now: DateTime<Utc>,
    /// The window's length in days (1–365; 28 by default).
    pub window_days: u32,
    /// Write only employees whose metrics moved more than the configured
    /// tolerance since their latest stored sample (of the last
    /// `window_days` days).
    pub incremental: bool,
}

impl SnapshotRequest {
    pub const DEFAULT_WINDOW_DAYS: u32 = 28;

    pub fn check(&self) -> Result<Window, ValidationError> {
        if !(1..=365).contains(&self.window_days) {
            return Err(ValidationError::new(
                "window_days",
                format!("must be from 1 to 365, got {}", self.window_days),
            ));
        }
        Window::ending_at(self.at, self.window_days)
            .map_err(|e| ValidationError::new("window_days", e.to_string()))
    }
}

/// The limits and settings of snapshots: server configuration (`serve
/// --snapshot-*`, `ORGANISM_SNAPSHOT_*`; the same flags on `organism graph`).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSettings {
    /// Most distinct directory employees (graph nodes).
    pub max_employees: usize,
    /// Most edges: distinct pairs who interacted in the window.
    pub max_edges: usize,
    /// Longest a computation may run.
    pub timeout: Duration,
    /// Snapshots computing at once (the API; the CLI runs one).
    pub concurrency: usize,
    /// Threads of one betweenness computation.
    pub threads: NonZeroUsize,
    /// Betweenness is sampled when `employees × edges` is above this.
    pub approximate_above: u64,
    /// Largest error of a sampled betweenness, with probability `1 − delta`.
    pub epsilon: f64,
    pub delta: f64,
    /// Incremental mode: how far a metric must move to be written again.
    pub tolerance: f64,
}

impl SnapshotSettings {
    /// Twice the 10,000-employee organisation of 114,000 edges.
    pub const DEFAULT_MAX_EMPLOYEES: usize = 20_000;
    /// Twice the 114,000 edges of that organisation, rounded up.
    pub const DEFAULT_MAX_EDGES: usize = 250_000;
    /// Below the HTTP request timeout (60 s), so this answers first.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(45);
    pub const DEFAULT_CONCURRENCY: usize = 1;
    pub const DEFAULT_THREADS: NonZeroUsize = NonZeroUsize::MIN;
    /// Just above 10,000 × 114,000 (1.14e9): that organisation is exact.
    pub const DEFAULT_APPROXIMATE_ABOVE: u64 = 2_000_000_000;
    /// 0.02 with δ = 0.1 needs about 7,900 samples on an organisation
    /// graph (vertex diameter ≤ 13), fewer than the employees of any graph
    /// above the threshold within the limits (about 10,000+); at 0.01 it
    /// would need about 31,500, more than there are, and so stay exact.
    pub const DEFAULT_EPSILON: f64 = 0.02;
    pub const DEFAULT_DELTA: f64 = 0.1;
    pub const DEFAULT_TOLERANCE: f64 = 1e-9;
    /// Fixed, so that the same interactions always give the same metrics
    /// (incremental mode would otherwise see sampling noise as change).
    pub const SAMPLING_SEED: u64 = 0x6f72_6761_6e69_736d;

    /// Each setting within its range, naming the flag that is not.
    pub fn check(&self) -> Result<(), ValidationError> {
        if self.concurrency == 0 {
            return Err(ValidationError::new(
                "--snapshot-concurrency",
                "must be at least 1",
            ));
        }
        Accuracy::new(self.epsilon, self.delta, Self::SAMPLING_SEED).map_err(|e| {
            let flag = if self.epsilon > 0.0 && self.epsilon < 1.0 {
                "--snapshot-delta"
            } else {
                "--snapshot-epsilon"
            };
            ValidationError::new(flag, e.to_string())
        })?;
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(ValidationError::new(
                "--snapshot-tolerance",
                "must be a finite number >= 0",
            ));
        }
        Ok(())
    }

    fn options(&self, window: Window) -> SnapshotOptions {
        let mut options = SnapshotOptions::new(window);
        options.threads = self.threads;
        options.approximation = Accuracy::new(self.epsilon, self.delta, Self::SAMPLING_SEED)
            .ok()
            .map(|accuracy| Approximation {
                above_work: self.approximate_above,
                accuracy,
            });
        options
    }
}

impl Default for SnapshotSettings {
    fn default() -> Self {
        Self {
            max_employees: Self::DEFAULT_MAX_EMPLOYEES,
            max_edges: Self::DEFAULT_MAX_EDGES,
            timeout: Self::DEFAULT_TIMEOUT,
            concurrency: Self::DEFAULT_CONCURRENCY,
            threads: Self::DEFAULT_THREADS,
            approximate_above: Self::DEFAULT_APPROXIMATE_ABOVE,
            epsilon: Self::DEFAULT_EPSILON,
            delta: Self::DEFAULT_DELTA,
            tolerance: Self::DEFAULT_TOLERANCE,
        }
    }
}

/// What a snapshot did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// Whether the request asked for an incremental write.
    pub incremental: bool,
    /// Samples the snapshot produced and the store accepted, one per
    /// directory employee; when incremental, those within tolerance of the
    /// stored latest sample are not rewritten.
    pub samples: usize,
    /// How betweenness was computed (`exact`, or `sampled` with its bound).
    pub betweenness: BetweennessMethod,
    /// Samples written (all, or those that moved when incremental). Admin only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_written: Option<usize>,
    /// Employees left out because their metrics did not move (incremental).
    /// Admin only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<usize>,
    pub seconds_graph: f64,
    pub seconds_total: f64,
}

impl SnapshotSummary {
    /// The summary without what depends on stored values (module docs).
    pub fn for_writer(mut self) -> Self {
        self.rows_written = None;
        self.unchanged = None;
        self
    }
}

/// Why a snapshot was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input is over a configured size.
    #[error("{message}")]
    TooLarge {
        field: &'static str,
        limit: usize,
        message: String,
    },
    #[error(
        "the snapshot took longer than the limit of {} s (--snapshot-timeout-secs) and was stopped; send a smaller graph or ask the operator to raise the limit",
        limit.as_secs_f64()
    )]
    TimedOut { limit: Duration },
    /// The request went away; nobody reads this.
    #[error("the snapshot was cancelled")]
    Cancelled,
}

impl From<ValidationError> for SnapshotError {
    fn from(e: ValidationError) -> Self {
        SnapshotError::Store(e.into())
    }
}

impl From<RowError> for SnapshotError {
    fn from(e: RowError) -> Self {
        SnapshotError::Store(e.into())
    }
}

impl From<SnapshotError> for ApiError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Store(e) => e.into(),
            SnapshotError::TooLarge {
                field,
                limit,
                message,
            } => ApiError::OverLimit {
                code: "snapshot_too_large",
                field: Some(field),
                limit: limit as u64,
                message,
            },
            e @ SnapshotError::TimedOut { limit } => ApiError::OverLimit {
                code: "snapshot_timeout",
                field: None,
                limit: limit.as_secs(),
                message: e.to_string(),
            },
            e @ SnapshotError::Cancelled => ApiError::Unavailable {
                code: "snapshot_cancelled",
                message: e.to_string(),
                retry_after_s: 1,
            },
        }
    }
}

fn size_error(e: organism_graph::SnapshotError, timeout: Duration) -> SnapshotError {
    use organism_graph::SnapshotError as G;
    match e {
        G::TooManyEmployees { count, limit } => SnapshotError::TooLarge {
            field: "directory",
            limit,
            message: format!(
                "the directory has {count} employees; the limit is {limit} (--snapshot-max-employees)"
            ),
        },
        G::TooManyEdges { count, limit } => SnapshotError::TooLarge {
            field: "interactions",
            limit,
            message: format!(
                "the interactions make {count} edges (distinct pairs in the window); the limit is {limit} (--snapshot-max-edges)"
            ),
        },
        G::Interrupted(Interrupted::Deadline) => SnapshotError::TimedOut { limit: timeout },
        G::Interrupted(Interrupted::Cancelled) => SnapshotError::Cancelled,
    }
}

/// Sets the flag when dropped: a dropped request stops its computation.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Computes the snapshot within `settings` and writes it as one
/// all-or-nothing batch. `malformed_rows` are the rows the parsers skipped.
/// A directory id or team that breaks the domain rules fails the whole
/// snapshot, naming the directory row. `permit` (the API's concurrency
/// slot) is held until the computation has stopped.
pub async fn take_snapshot(
    store: &Store,
    directory: Vec<DirectoryEntry>,
    interactions: Vec<Interaction>,
    malformed_rows: usize,
    request: SnapshotRequest,
    settings: &SnapshotSettings,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<SnapshotSummary, SnapshotError> {
    let started = Instant::now();
    // The samples carry `at`: one outside the times the store keeps (or can
    // represent) is refused before any work, naming `at`.
    let sample_window = store.sample_window(request.now);
    sample_window
        .check(request.at)
        .map_err(|e| e.for_field("at"))?;
    let window = request.check()?;
    // Before the ids are parsed: the count is known without any work.
    if directory.len() > settings.max_employees {
        // Repeated entries count once in the graph; refuse only if even the
        // distinct ones are too many (the graph's own check below).
        let distinct: std::collections::HashSet<&str> =
            directory.iter().map(|e| e.employee_id.as_str()).collect();
        if distinct.len() > settings.max_employees {
            return Err(size_error(
                organism_graph::SnapshotError::TooManyEmployees {
                    count: distinct.len(),
                    limit: settings.max_employees,
                },
                settings.timeout,
            ));
        }
    }
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
    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let budget = Budget::for_duration(settings.timeout).with_cancel_flag(cancel.0.clone());
    let limits = SizeLimits {
        max_employees: settings.max_employees,
        max_edges: settings.max_edges,
    };
    let options = settings.options(window);
    let computed = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        compute_snapshot_within(
            SnapshotInput {
                directory: &directory,
                interactions: &interactions,
                malformed_rows,
            },
            &options,
            &limits,
            &budget,
        )
    })
    .await
    .map_err(|e| StoreError::Database(format!("the graph computation failed: {e}")))?;
    drop(cancel);
    let snapshot = computed.map_err(|e| size_error(e, settings.timeout))?;
    let seconds_graph = graph_started.elapsed().as_secs_f64();
    let chosen: Vec<&organism_graph::EmployeeMetrics> = if request.incremental {
        let previous = store
            .latest_values(request.at - chrono::Duration::days(i64::from(request.window_days)))
            .await?;
        snapshot.changed_since(&previous, settings.tolerance)
    } else {
        snapshot.employees.iter().collect()
    };
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
            &sample_window,
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
        incremental: request.incremental,
        samples: snapshot.employees.len(),
        betweenness: snapshot.betweenness,
        rows_written: Some(written.stored),
        unchanged: Some(snapshot.employees.len() - chosen.len()),
        seconds_graph,
        seconds_total: started.elapsed().as_secs_f64(),
    })
}
