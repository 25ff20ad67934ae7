//! Compression of old raw samples (DESIGN.md §3: after 30 days).
//!
//! * timescale: native compression (segment by employee_id, order by time
//!   descending) with its policy; this job compresses the same chunks by
//!   explicit calls, since TimescaleDB's scheduled jobs can fail silently.
//!   Writes into a compressed chunk are supported by TimescaleDB (the rows
//!   land in the chunk's uncompressed part and the next run recompresses).
//! * portable: each daily raw partition wholly older than the threshold is
//!   packed into one row per (employee, day) of `employee_metrics_packed`
//!   (the codec is described in migration 0005: evenly spaced times stored
//!   as a first time and a step, values run-length encoded), and the raw
//!   partition is emptied, in one transaction that holds the partition
//!   exclusively (readers go on; writers of that day wait). Every query
//!   reads packed samples through `metrics_between`, and a writer unpacks an
//!   (employee, day) before it writes into it, so a late sample is stored
//!   and visible at once and packed again at the next run.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::partitions::{self, Family};
use crate::{Engine, Result, Store};

/// Days after which raw samples are compressed (requirements: 30).
pub const COMPRESS_AFTER_DAYS: i64 = 30;

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
    /// Compresses raw samples older than 30 days before `now`, again after a
    /// pause when TimescaleDB's own compression job holds the same chunks
    /// (compressing a chunk is idempotent).
    pub async fn compress(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        crate::error::retry_on_contention("compression", || self.compress_once(now)).await
    }

    async fn compress_once(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        match self.engine() {
            Engine::Timescale => self.compress_timescale(now).await,
            Engine::Portable => self.compress_portable(now).await,
        }
    }

    async fn compress_timescale(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        let older_than = now - Duration::days(COMPRESS_AFTER_DAYS);
        let client = self.maintenance_client().await?;
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

    /// Packs every raw partition wholly before the threshold that still
    /// holds rows (a partition packed before holds rows again only when late
    /// samples were written into it). The sizes are those of the days packed
    /// by this run: raw and packed partitions (tables, indexes, TOAST)
    /// before, and after.
    async fn compress_portable(&self, now: DateTime<Utc>) -> Result<CompressionReport> {
        let older_than = (now - Duration::days(COMPRESS_AFTER_DAYS))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(now, |d| d.and_utc());
        let cutoff = older_than.date_naive();
        let days: Vec<NaiveDate> = {
            let client = self.maintenance_client().await?;
            partitions::list(&**client)
                .await?
                .into_iter()
                .filter(|d| *d < cutoff)
                .collect()
        };
        let mut report = CompressionReport {
            older_than,
            chunks_compressed: 0,
            bytes_before: 0,
            bytes_after: 0,
        };
        for day in days {
            if let Some((before, after)) = self.pack_day(day).await? {
                report.chunks_compressed += 1;
                report.bytes_before += before;
                report.bytes_after += after;
            }
        }
        Ok(report)
    }

    /// Packs one day's raw partition; None when it holds no rows (or was
    /// dropped by retention meanwhile).
    async fn pack_day(&self, day: NaiveDate) -> Result<Option<(i64, i64)>> {
        let raw = Family::Raw.name(day);
        let packed = Family::Packed.name(day);
        {
            let client = self.maintenance_client().await?;
            let has_rows = match client
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {raw})"), &[])
                .await
            {
                Ok(row) => row.get::<_, bool>(0),
                Err(e) if undefined_table(&e) => false,
                Err(e) => return Err(e.into()),
            };
            if !has_rows {
                return Ok(None);
            }
        }
        // The packed partition is made on a connection of its own, before
        // the raw partition is locked (creating it locks the packed parent).
        let mut other = crate::pool::dedicated(self.settings()).await?;
        partitions::ensure_family(&mut other, Family::Packed, &[day]).await?;
        drop(other);

        let mut client = self.maintenance_client().await?;
        let size =
            format!("SELECT pg_total_relation_size('{raw}') + pg_total_relation_size('{packed}')");
        let tx = client.transaction().await?;
        match tx
            .batch_execute(&format!("LOCK TABLE {raw} IN EXCLUSIVE MODE"))
            .await
        {
            Err(e) if undefined_table(&e) => return Ok(None),
            other => other?,
        }
        let before: i64 = tx.query_one(&size, &[]).await?.get(0);
        let packed_rows = tx.execute(&pack_sql(&raw), &[&day]).await?;
        if packed_rows == 0 {
            return Ok(None);
        }
        tx.batch_execute(&format!("TRUNCATE {raw}")).await?;
        tx.commit().await?;
        let after: i64 = client.query_one(&size, &[]).await?.get(0);
        tracing::debug!(%day, employees = packed_rows, before, after, "packed a day of raw samples");
        Ok(Some((before, after)))
    }
}

fn undefined_table(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
}

/// Packs a raw partition: one row per employee, runs of equal (team, values)
/// closed where the next sample differs or none follows.
fn pack_sql(raw: &str) -> String {
    format!(
        "INSERT INTO employee_metrics_packed (day, employee_id, samples, first_time, last_time, step,
            times, run_end, team, degree_centrality, betweenness_centrality, clustering_coeff,
            burnout_score, last_team, last_burnout)
         SELECT $1::date, employee_id, count(*)::integer, min(time), max(time),
                CASE WHEN count(*) = 1 THEN INTERVAL '0'
                     WHEN min(delta) = max(delta) THEN min(delta) END,
                CASE WHEN count(*) > 1 AND min(delta) <> max(delta)
                     THEN array_agg(time ORDER BY time) END,
                array_agg(k::integer ORDER BY time) FILTER (WHERE run_ends),
                array_agg(team ORDER BY time) FILTER (WHERE run_ends),
                array_agg(degree_centrality ORDER BY time) FILTER (WHERE run_ends),
                array_agg(betweenness_centrality ORDER BY time) FILTER (WHERE run_ends),
                array_agg(clustering_coeff ORDER BY time) FILTER (WHERE run_ends),
                array_agg(burnout_score ORDER BY time) FILTER (WHERE run_ends),
                (array_agg(team ORDER BY time DESC))[1],
                (array_agg(burnout_score ORDER BY time DESC))[1]
         FROM (
             SELECT time, employee_id, team, degree_centrality, betweenness_centrality,
                    clustering_coeff, burnout_score,
                    time - lag(time) OVER w AS delta,
                    row_number() OVER w AS k,
                    lead(time) OVER w IS NULL
                      OR (lead(team) OVER w, lead(degree_centrality) OVER w,
                          lead(betweenness_centrality) OVER w, lead(clustering_coeff) OVER w,
                          lead(burnout_score) OVER w)
                         IS DISTINCT FROM (team, degree_centrality, betweenness_centrality,
                                           clustering_coeff, burnout_score) AS run_ends
             FROM {raw}
             WINDOW w AS (PARTITION BY employee_id ORDER BY time)
         ) s
         GROUP BY employee_id"
    )
}
