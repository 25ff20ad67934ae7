//! Storage errors, typed so that the HTTP layer can map each to a status
//! once (STYLE.md habit 3).

use organism_domain::{RowError, ValidationError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Input broke a rule; nothing was written.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A row of a batch broke a rule; nothing of the batch was written.
    #[error(transparent)]
    InvalidRow(#[from] RowError),
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    /// The caller's teams hold none of this employee's or team's data
    /// (whether it exists is not said: trying ids reveals nothing).
    #[error("{what} {id:?} is not visible to this key")]
    NotVisible { what: &'static str, id: String },
    /// The request contradicts what is stored (an illegal status change, an
    /// id reused with other content).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Every pooled connection is busy and none freed up within the acquire
    /// timeout.
    #[error("all {size} database connections are busy (waited {waited_ms} ms)")]
    PoolExhausted { size: usize, waited_ms: u128 },
    /// The database gave up on the statement because of concurrent work
    /// (deadlock, serialization failure, lock not available); running it
    /// again may succeed.
    #[error("database contention: {0}")]
    Contention(String),
    /// The database cannot be reached or went away.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The schema or engine cannot be set up as asked.
    #[error("schema: {0}")]
    Schema(String),
    /// Any other database error: a bug or an operational problem, never the
    /// caller's input.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// Whether retrying later may succeed (the HTTP layer answers 503).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::PoolExhausted { .. }
                | StoreError::Unavailable(_)
                | StoreError::Contention(_)
        )
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() {
            return StoreError::Unavailable(e.to_string());
        }
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            // Class 08: connection exception; 57P0x: the server is shutting
            // down or starting; 53300: too many connections.
            if code.starts_with("08") || code.starts_with("57P") || code == "53300" {
                return StoreError::Unavailable(db.message().to_string());
            }
            // 57014: the statement was cancelled, by `statement_timeout`
            // (pool.rs) or an operator: the database is too slow to answer
            // now. Not Contention: running a statement that long again at
            // once would not help.
            if code == "57014" {
                return StoreError::Unavailable(format!("{} ({code})", db.message()));
            }
            // 40P01 deadlock, 40001 serialization failure, 55P03 lock not
            // available: transient, the statement can be run again.
            if matches!(code, "40P01" | "40001" | "55P03") {
                return StoreError::Contention(format!("{} ({code})", db.message()));
            }
            return StoreError::Database(format!("{} ({code})", db.message()));
        }
        // No server error: the connection itself failed (I/O, protocol).
        match std::error::Error::source(&e) {
            Some(src) if src.is::<std::io::Error>() => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Runs a maintenance step again, a few times after a short pause, when the
/// database gave up on it because of concurrent work (`Contention`): the
/// lifecycle jobs share chunks and partitions with writers and with
/// TimescaleDB's own background jobs. `step` must change nothing unless it
/// succeeds (one transaction, or idempotent statements).
pub(crate) async fn retry_on_contention<T, F, Fut>(what: &str, mut step: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1u64;
    loop {
        match step().await {
            Err(StoreError::Contention(e)) if attempt < 10 => {
                tracing::debug!(error = %e, attempt, what, "concurrent work; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
