//! Compression of old raw samples (DESIGN.md §3: after 30 days).
//!
//! * timescale: native compression (segment by employee_id, order by time
//!   descending) with its policy; this job compresses the same chunks by
//!   explicit calls, since TimescaleDB's scheduled jobs can fail silently.
//!   Writes into a compressed chunk are supported by TimescaleDB (the rows
//!   land in the chunk's uncompressed part and the next run recompresses).
//! * portable: not built yet (the per-employee-day codec of the lifecycle
//!   issue); the job says so instead of pretending.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::{Engine, Result, Store, StoreError};

/// Days after which raw samples are compressed (requirements: 30).
pub const COMPRESS_AFTER_DAYS: i64 = 30;

/// What a compression run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompressionReport {
    /// Chunks older than this were compressed.
    pub older_than: DateTime<Utc>,
    pub chunks_compressed: i64,
    /// On-disk size of the compressed chunks (table, indexes, TOAST), before
    /// and after; across every compressed chunk of `employee_metrics`.
    pub bytes_before: i64,
    pub bytes_after: i64,
}

impl Store {
    /// Compresses raw samples older than 30 days before `now`, again after a
    /// pause when TimescaleDB's own compression job holds the same chunks
    /// (compressing a chunk is idempotent).
    pub async fn compress(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        crate::error::retry_on_contention("compression", || self.compress_once(now)).await
    }

    async fn compress_once(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        if self.engine() != Engine::Timescale {
            return Err(StoreError::Schema(
                "compression is not available on the portable engine yet".into(),
            ));
        }
        let older_than = now - Duration::days(COMPRESS_AFTER_DAYS);
        let client = self.client().await?;
        // show_chunks and compress_chunk take "any": the time is inlined.
        let compressed: i64 = client
            .query_one(
                &format!(
                    "SELECT count(compress_chunk(c, if_not_compressed => true))
                     FROM show_chunks('employee_metrics', older_than => '{}'::timestamptz) c",
                    older_than.to_rfc3339()
                ),
                &[],
            )
            .await?
            .get(0);
        let sizes = client
            .query_one(
                "SELECT coalesce(sum(before_compression_total_bytes), 0)::bigint,
                        coalesce(sum(after_compression_total_bytes), 0)::bigint
                 FROM hypertable_compression_stats('employee_metrics')",
                &[],
            )
            .await?;
        Ok(CompressionReport {
            older_than,
            chunks_compressed: compressed,
            bytes_before: sizes.get(0),
            bytes_after: sizes.get(1),
        })
    }
}
