//! The organisation graph of a window and the per-employee metrics computed
//! on it: degree centrality, betweenness centrality, local clustering
//! coefficient and a burnout score. Pure computation: bytes in
//! ([`parse`]), a [`Snapshot`] out; no files, no database, no clock.
//!
//! # Pipeline
//!
//! 1. [`parse`] reads interactions and the directory from CSV, NDJSON or Parquet,
//!    skipping and counting malformed rows (the rule is in its docs).
//! 2. [`build_graph`] makes one node per directory employee and one
//!    undirected edge per pair who interacted in the window
//!    `[end − days, end)` (28 days by default), weighted by the summed
//!    interaction weights. Interactions outside the window, self-loops and
//!    interactions naming someone outside the directory are dropped and
//!    counted separately.
//! 3. [`centrality`] computes, as NetworkX does with its defaults
//!    (unweighted): degree centrality `degree / (n − 1)` (1 for a lone node,
//!    like NetworkX); betweenness centrality by Brandes' algorithm,
//!    normalised by `(n − 1)(n − 2)` over ordered pairs, i.e. the share of
//!    shortest paths between other pairs that pass through the employee
//!    (0 below 3 nodes), in parallel with a result independent of the number
//!    of threads; the local clustering coefficient, the share of pairs of an
//!    employee's contacts who are themselves in contact (0 below 2 contacts).
//! 4. [`burnout`] computes the burnout score, below.
//! 5. [`compute_snapshot`] puts it all together; [`Snapshot::changed_since`]
//!    picks the employees whose metrics moved, for incremental writes.
//!
//! # Bounded work
//!
//! Exact betweenness costs one breadth-first search per employee, about
//! `employees × edges` steps. [`compute_snapshot_within`] bounds it three
//! ways: [`SizeLimits`] refuse a directory or a graph over a size before any
//! of that work; a [`Budget`] (deadline, cancellation flag) is checked
//! between searches, so a computation over its time stops instead of running
//! on in a thread nobody can kill; and above [`Approximation::above_work`]
//! betweenness is sampled ([`sampling`]) with an error bound the snapshot
//! reports in [`Snapshot::betweenness`].
//!
//! # The burnout score
//!
//! For each employee, from the interactions they took part in during the
//! window (each interaction counts for both people, in each one's own local
//! time, using the directory's working hours and UTC offset):
//!
//! - **after-hours share**: of their interactions, the share that fell on a
//!   weekday outside their working hours;
//! - **weekend share**: the share that fell on a Saturday or Sunday (these
//!   are not also counted as after hours);
//! - **meeting hours per week**: the durations of their meeting interactions,
//!   in hours, divided by the window's length in weeks (days / 7);
//! - **collaboration load**: their weighted degree (the summed weight of
//!   their interactions) divided by the window's length in weeks.
//!
//! Each signal is turned into a number between 0 and 1 by dividing it by a
//! cap and stopping at 1: `min(signal / cap, 1)`. A signal at or above its
//! cap counts in full; beyond the cap, more of it adds nothing, so one
//! extreme signal cannot hide the others. The score is the weighted sum of
//! the four, times 100, kept within 0 to 100:
//!
//! `burnout = clamp(100 × Σ weightᵢ × min(signalᵢ / capᵢ, 1), 0, 100)`
//!
//! Defaults ([`BurnoutConfig::default`]): weights 0.3 (after hours),
//! 0.2 (weekend), 0.25 (meetings), 0.25 (collaboration), summing to 1;
//! caps 0.5, 0.25, 20 hours a week, 150 weighted interactions a week.
//! Weights must be ≥ 0 and caps > 0 ([`BurnoutConfig::new`] checks), so the
//! score never decreases when any one signal rises. An employee with no
//! interactions in the window scores 0.

pub mod budget;
pub mod burnout;
pub mod centrality;
pub mod error;
pub mod graph;
pub mod model;
pub mod parse;
pub mod sampling;

use std::collections::HashMap;
use std::num::NonZeroUsize;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use budget::{Budget, Interrupted};
pub use burnout::{BurnoutConfig, Signals};
pub use centrality::Approximation;
pub use error::{ConfigError, ParseError, SnapshotError};
pub use graph::{BuildStats, OrgGraph, build_graph};
pub use model::{Channel, DirectoryEntry, Interaction, Window};
pub use parse::{MalformedRows, Parsed, RowError};
pub use sampling::{Accuracy, BetweennessMethod};

/// Everything a snapshot needs besides the [`SnapshotInput`].
#[derive(Debug, Clone, Copy)]
pub struct SnapshotOptions {
    pub window: Window,
    pub burnout: BurnoutConfig,
    /// Threads for betweenness; the result does not depend on it.
    pub threads: NonZeroUsize,
    /// When betweenness is sampled; `None`: always exact.
    pub approximation: Option<Approximation>,
}

impl SnapshotOptions {
    /// Default burnout configuration, all available cores, exact betweenness.
    pub fn new(window: Window) -> Self {
        Self {
            window,
            burnout: BurnoutConfig::default(),
            threads: centrality::default_threads(),
            approximation: None,
        }
    }
}

/// The largest graph [`compute_snapshot_within`] takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    /// Distinct directory employees (nodes).
    pub max_employees: usize,
    /// Distinct pairs who interacted in the window (edges).
    pub max_edges: usize,
}

impl SizeLimits {
    /// No limit.
    pub const NONE: Self = Self {
        max_employees: usize::MAX,
        max_edges: usize::MAX,
    };
}

/// The data of one snapshot. `malformed_rows` is what the parsers skipped
/// (interactions and directory together), carried into the counts so one
/// snapshot records everything that was left out of it.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotInput<'a> {
    pub directory: &'a [DirectoryEntry],
    pub interactions: &'a [Interaction],
    pub malformed_rows: usize,
}

/// One employee's metrics. Centralities and clustering are in 0..=1, the
/// burnout score in 0..=100, all finite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmployeeMetrics {
    pub employee_id: String,
    pub team: Option<String>,
    pub degree_centrality: f64,
    pub betweenness_centrality: f64,
    pub clustering_coeff: f64,
    pub burnout_score: f64,
    /// The raw signals behind `burnout_score`, so a high score can be explained.
    pub signals: Signals,
}

impl EmployeeMetrics {
    /// `[degree, betweenness, clustering, burnout]`, the order
    /// [`Snapshot::changed_since`] compares in.
    pub fn values(&self) -> [f64; 4] {
        [
            self.degree_centrality,
            self.betweenness_centrality,
            self.clustering_coeff,
            self.burnout_score,
        ]
    }
}

/// What went into a snapshot and what was left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotCounts {
    pub employees: usize,
    pub edges: usize,
    pub interactions_used: usize,
    pub self_loops: usize,
    pub unknown_employees: usize,
    pub malformed_rows: usize,
    pub outside_window: usize,
    pub duplicate_directory_entries: usize,
}

/// The metrics of every directory employee for one window, in directory order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub employees: Vec<EmployeeMetrics>,
    pub counts: SnapshotCounts,
    /// How betweenness was computed, with the error bound when sampled.
    pub betweenness: BetweennessMethod,
}

/// Builds the graph of `options.window` and computes every employee's
/// metrics, with no size limit and no deadline.
pub fn compute_snapshot(input: SnapshotInput<'_>, options: &SnapshotOptions) -> Snapshot {
    compute_snapshot_within(input, options, &SizeLimits::NONE, &Budget::unlimited())
        .unwrap_or_else(|_| unreachable!("no limit and an unlimited budget never fail"))
}

/// As [`compute_snapshot`], refusing a graph over `limits` (checked after
/// the graph is built, which is linear in the input, and before any
/// centrality) and stopping once `budget` runs out.
pub fn compute_snapshot_within(
    input: SnapshotInput<'_>,
    options: &SnapshotOptions,
    limits: &SizeLimits,
    budget: &Budget,
) -> Result<Snapshot, SnapshotError> {
    let graph = build_graph(input.directory, input.interactions, options.window);
    if graph.employee_count() > limits.max_employees {
        return Err(SnapshotError::TooManyEmployees {
            count: graph.employee_count(),
            limit: limits.max_employees,
        });
    }
    if graph.edge_count() > limits.max_edges {
        return Err(SnapshotError::TooManyEdges {
            count: graph.edge_count(),
            limit: limits.max_edges,
        });
    }
    let (metrics, betweenness) = centrality::centralities_within(
        graph.graph(),
        options.threads,
        options.approximation.as_ref(),
        budget,
    )?;
    let signals = burnout::work_signals(&graph, input.interactions);

    let employees = graph
        .employees()
        .iter()
        .enumerate()
        .map(|(i, entry)| EmployeeMetrics {
            employee_id: entry.employee_id.clone(),
            team: entry.team.clone(),
            degree_centrality: unit(metrics.degree[i]),
            // Brandes can land an ulp above 1 (a star's centre); the
            // documented range wins over the last bit.
            betweenness_centrality: unit(metrics.betweenness[i]),
            clustering_coeff: unit(metrics.clustering[i]),
            burnout_score: options.burnout.score(&signals[i]),
            signals: signals[i],
        })
        .collect();

    let stats = graph.stats();
    Ok(Snapshot {
        window_start: options.window.start(),
        window_end: options.window.end(),
        employees,
        counts: SnapshotCounts {
            employees: graph.employee_count(),
            edges: graph.edge_count(),
            interactions_used: stats.interactions_used,
            self_loops: stats.self_loops,
            unknown_employees: stats.unknown_employees,
            malformed_rows: input.malformed_rows,
            outside_window: stats.outside_window,
            duplicate_directory_entries: stats.duplicate_directory_entries,
        },
        betweenness,
    })
}

fn unit(value: f64) -> f64 {
    if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

impl Snapshot {
    /// Employees whose metrics moved since `previous` (employee id →
    /// [`EmployeeMetrics::values`]): any of the four differs by more than
    /// `tolerance` (absolute, the same for all four; a negative or NaN
    /// tolerance is taken as 0), or the employee is not in `previous`, or a
    /// previous value is not finite. Employees only in `previous` have no
    /// new metrics and are not returned. Incremental mode writes just these.
    pub fn changed_since(
        &self,
        previous: &HashMap<String, [f64; 4]>,
        tolerance: f64,
    ) -> Vec<&EmployeeMetrics> {
        let tolerance = if tolerance > 0.0 { tolerance } else { 0.0 };
        self.employees
            .iter()
            .filter(|metrics| match previous.get(&metrics.employee_id) {
                None => true,
                Some(before) => metrics
                    .values()
                    .iter()
                    .zip(before)
                    .any(|(now, then)| !then.is_finite() || (now - then).abs() > tolerance),
            })
            .collect()
    }

    /// The map [`Snapshot::changed_since`] takes, from this snapshot.
    pub fn values_by_employee(&self) -> HashMap<String, [f64; 4]> {
        self.employees
            .iter()
            .map(|metrics| (metrics.employee_id.clone(), metrics.values()))
            .collect()
    }
}
