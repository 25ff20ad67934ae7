//! Compression of old raw samples (DESIGN.md §3: after
//! `--compress-after-days`, default 30), on both engines: how each engine
//! compresses is in `engines/` (native compression on timescale, packed
//! days on portable).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{Result, Store};

/// What a compression run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompressionReport {
    /// Chunks (timescale) or daily partitions (portable) wholly older than
    /// this were compressed.
    pub older_than: DateTime<Utc>,
    /// Days packed by this run (portable); chunks of the compressed range
    /// (timescale, where compressing a chunk again does nothing).
    pub chunks_compressed: i64,
    /// On-disk size (tables, indexes, TOAST), before and after: across every
    /// compressed chunk of `employee_metrics` on timescale; of the days this
    /// run packed on portable.
    pub bytes_before: i64,
    pub bytes_after: i64,
}

impl Store {
    /// Compresses raw samples older than the configured days before `now`,
    /// again after a pause when TimescaleDB's own compression job holds the
    /// same chunks (compressing a chunk is idempotent).
    pub async fn compress(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        let days = i64::from(self.settings().retention.compress_after_days);
        let older_than = now - Duration::days(days);
        crate::error::retry_on_contention("compression", || self.ops().compress(self, older_than))
            .await
    }
}
