//! On-disk size of raw samples, for the benchmark and for judging
//! compression.
//!
//! The size of a stretch of raw samples is the `pg_total_relation_size`
//! (heap, indexes, TOAST) of every raw partition or chunk that holds it:
//!
//! * portable: the daily partitions of `employee_metrics` whose whole day is
//!   before the cut-off, with their packed partitions of
//!   `employee_metrics_packed` (see compression.rs);
//! * timescale: the chunks `show_chunks(older_than => …)` names, each with
//!   its compressed chunk, if any (a compressed chunk's rows live in a
//!   separate relation of TimescaleDB's internal schema; the chunk itself
//!   then holds only rows written after compression).
//!
//! Measured before and after a compression run over the same cut-off, the
//! two figures say how much smaller compression made that data.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{Result, Store};

/// The on-disk size of the raw samples before a cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RawSize {
    /// Days (portable) or chunks (timescale) counted.
    pub parts: i64,
    /// Their total size in bytes: tables, indexes and TOAST, plus the
    /// compressed chunks on timescale.
    pub bytes: i64,
}

/// The days whose partition lies wholly before `older_than`.
pub(crate) fn days_before(days: &[NaiveDate], older_than: DateTime<Utc>) -> Vec<NaiveDate> {
    days.iter()
        .copied()
        .filter(|d| {
            d.succ_opt()
                .and_then(|next| next.and_hms_opt(0, 0, 0))
                .is_some_and(|end| end.and_utc() <= older_than)
        })
        .collect()
}

impl Store {
    /// Writes every dirty buffer to disk now (`CHECKPOINT`; superuser or
    /// `pg_checkpoint`): the benchmark runs it after the lifecycle jobs, so
    /// that the gigabytes they changed are not flushed under the writes and
    /// reads it measures next.
    pub async fn checkpoint(&self) -> Result<()> {
        self.maintenance_client()
            .await?
            .batch_execute("CHECKPOINT")
            .await?;
        Ok(())
    }

    /// How many autovacuum workers are at work in this database now.
    pub async fn autovacuum_workers(&self) -> Result<i64> {
        let row = self
            .maintenance_client()
            .await?
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE backend_type = 'autovacuum worker' AND datname = current_database()",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The size of the raw partitions or chunks wholly before `older_than`
    /// (pass a time in the far future for every raw sample).
    pub async fn raw_size(&self, older_than: DateTime<Utc>) -> Result<RawSize> {
        self.ops().raw_size(self, older_than).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_days_that_end_by_the_cut_off_count() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let days = [d("2026-01-01"), d("2026-01-02"), d("2026-01-03")];
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            days_before(&days, at("2026-01-03T00:00:00Z")),
            vec![d("2026-01-01"), d("2026-01-02")]
        );
        assert_eq!(
            days_before(&days, at("2026-01-02T23:59:59Z")),
            vec![d("2026-01-01")]
        );
    }
}
