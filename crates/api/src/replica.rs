//! Reads from a streaming replica (issue 15; docs/DECISIONS.md, "Reads
//! from a replica").
//!
//! With `--read-database-url`, the read endpoints (trends, statistics,
//! burnout alerts, analytics) go to a hot standby while its replay lag is
//! within `--read-max-lag-ms`; everything else (writes, interventions,
//! the audit log, keys, the live feed, jobs) stays on the primary, and so
//! does a read when the replica is behind, unreachable or not a standby.
//! A request may ask for a tighter bound with the header
//! `Organism-Max-Lag-Ms` (0: the primary). Every routed answer says where
//! it was read with `Organism-Read-From: replica` or `primary`.
//!
//! **Lag.** A monitor samples the primary's WAL position every 200 ms
//! (keeping the positions not yet replayed, with when each was seen) and
//! the replica's replay position. The lag is the age of the oldest primary
//! position the replica has not replayed: 0 when it has replayed all that
//! was seen, however long the primary has been idle. (PostgreSQL's own
//! `now() - pg_last_xact_replay_timestamp()` grows while the primary is
//! idle; `pg_stat_replication.replay_lag` cannot tell which standby is
//! ours.) A reading older than a second counts as unknown: the primary is
//! used.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use organism_domain::ValidationError;
use organism_store::Store;
use serde::Serialize;

use crate::ApiError;

/// The header a request asks for a tighter lag bound with.
pub const MAX_LAG_HEADER: &str = "organism-max-lag-ms";
/// The header that says where an answer was read.
pub const READ_FROM_HEADER: &str = "organism-read-from";

/// How often the monitor measures.
const EVERY: Duration = Duration::from_millis(200);
/// A reading older than this is not trusted.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Primary positions kept while the replica is behind (10 minutes of
/// samples); beyond it the oldest kept still dates the lag correctly.
const MAX_PENDING: usize = 3000;

/// Where a read went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Primary,
    Replica,
}

impl ReadFrom {
    pub const fn as_str(self) -> &'static str {
        match self {
            ReadFrom::Primary => "primary",
            ReadFrom::Replica => "replica",
        }
    }

    /// Adds `Organism-Read-From` to an answer's headers.
    pub fn mark(self, headers: &mut HeaderMap) {
        headers.insert(READ_FROM_HEADER, HeaderValue::from_static(self.as_str()));
    }

    /// The answer, marked.
    pub fn answer(
        self,
        response: Result<axum::response::Response, ApiError>,
    ) -> Result<axum::response::Response, ApiError> {
        response.map(|mut r| {
            self.mark(r.headers_mut());
            r
        })
    }
}

#[derive(Debug, Default)]
struct Reading {
    at: Option<Instant>,
    reachable: bool,
    in_recovery: bool,
    lag: Duration,
    lag_bytes: i64,
    error: Option<String>,
    /// Primary WAL positions seen and not yet replayed, oldest first.
    pending: VecDeque<(Instant, i64)>,
}

/// The replica, its bound and the monitor's last reading.
#[derive(Debug)]
pub struct ReadReplica {
    pub store: Store,
    pub max_lag: Duration,
    reading: Mutex<Reading>,
}

/// The replica as health shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReplicaStatus {
    /// Whether reads go to the replica now (within the bound, reachable, a
    /// standby, measured within the last second).
    pub serving_reads: bool,
    pub reachable: bool,
    /// The server is a standby in recovery (a promoted or wrong server
    /// serves nothing).
    pub in_recovery: bool,
    /// How long ago the oldest change not yet replayed was made on the
    /// primary (0: caught up).
    pub replay_lag_ms: Option<f64>,
    /// WAL bytes the primary has written that the replica has not replayed.
    pub replay_lag_bytes: Option<i64>,
    pub max_lag_ms: f64,
    /// Why it is not reachable.
    pub error: Option<String>,
}

impl ReadReplica {
    pub fn new(store: Store, max_lag: Duration) -> Arc<Self> {
        Arc::new(Self {
            store,
            max_lag,
            reading: Mutex::default(),
        })
    }

    fn reading(&self) -> std::sync::MutexGuard<'_, Reading> {
        self.reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One measurement: the primary's position, then the replica's.
    pub async fn measure(&self, primary: &Store) {
        let seen = primary.wal_position().await;
        let replayed = self.store.replay_position().await;
        let now = Instant::now();
        let mut r = self.reading();
        r.at = Some(now);
        match (seen, replayed) {
            (Ok(seen), Ok(position)) => {
                r.reachable = true;
                r.in_recovery = position.in_recovery;
                r.error = None;
                if r.pending.len() < MAX_PENDING
                    && r.pending.back().is_none_or(|(_, last)| *last < seen)
                {
                    r.pending.push_back((now, seen));
                }
                while r
                    .pending
                    .front()
                    .is_some_and(|(_, lsn)| *lsn <= position.replayed)
                {
                    r.pending.pop_front();
                }
                r.lag = r
                    .pending
                    .front()
                    .map_or(Duration::ZERO, |(at, _)| now.duration_since(*at));
                r.lag_bytes = (seen - position.replayed).max(0);
            }
            (Err(e), _) => {
                // The primary is down: nothing to measure against; reads
                // fail on the primary anyway, and the replica is not used
                // blind.
                r.reachable = false;
                r.error = Some(format!("the primary: {e}"));
            }
            (_, Err(e)) => {
                r.reachable = false;
                r.error = Some(e.to_string());
            }
        }
    }

    /// Measures every 200 ms until the server stops.
    pub async fn monitor(
        self: Arc<Self>,
        primary: Store,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                return;
            }
            self.measure(&primary).await;
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Whether a read that allows `bound` of lag may go to the replica. A
    /// bound of zero never does: a measured lag of 0 is only as recent as
    /// the last measurement, so only the primary is surely current.
    pub fn usable(&self, bound: Duration) -> bool {
        let r = self.reading();
        !bound.is_zero()
            && r.at.is_some_and(|at| at.elapsed() <= FRESH_FOR)
            && r.reachable
            && r.in_recovery
            && r.lag <= bound.min(self.max_lag)
    }

    pub fn status(&self) -> ReplicaStatus {
        let serving_reads = self.usable(self.max_lag);
        let r = self.reading();
        let measured = r.at.is_some() && r.reachable;
        ReplicaStatus {
            serving_reads,
            reachable: r.reachable,
            in_recovery: r.in_recovery,
            replay_lag_ms: measured.then(|| r.lag.as_secs_f64() * 1000.0),
            replay_lag_bytes: measured.then_some(r.lag_bytes),
            max_lag_ms: self.max_lag.as_secs_f64() * 1000.0,
            error: r.error.clone(),
        }
    }
}

/// `Organism-Max-Lag-Ms`: the most lag this read accepts (absent: any
/// within the server's bound).
pub fn requested_bound(headers: &HeaderMap) -> Result<Duration, ApiError> {
    let Some(value) = headers.get(MAX_LAG_HEADER) else {
        return Ok(Duration::MAX);
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|t| (1..=10).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_millis)
        .ok_or_else(|| {
            ApiError::BadParameter(ValidationError::new(
                "Organism-Max-Lag-Ms",
                "must be a whole number of milliseconds (0: read from the primary)",
            ))
        })
}
