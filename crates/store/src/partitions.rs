//! Daily range partitions on the portable engine: of `employee_metrics`
//! (raw samples, by time) and of `employee_metrics_packed` (compressed
//! samples, by day; see compression.rs).
//!
//! A sample may be for any date (a late file, a backfill three years old), so
//! the writer makes sure each day of a batch has its partition before it
//! writes, in a transaction of its own: creating a partition takes a strong
//! lock on the parent, and holding it inside a long write would stall
//! readers. An advisory lock serialises creators so that two writers never
//! race on the same `CREATE TABLE`. The `partitions` lifecycle job also
//! creates today's and the coming [`DAYS_AHEAD`] days' raw partitions ahead
//! of time (the scheduler runs it at start and daily), so that on-demand
//! creation, and its lock on the parent, is rare for current data.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::StoreError;

/// Lock key for partition creation (public so that a test can hold it).
pub const PARTITION_LOCK: i64 = 0x6f72_6770_6172_7473;

/// A partitioned table with one partition per UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `employee_metrics`, partitioned by `time`.
    Raw,
    /// `employee_metrics_packed`, partitioned by `day`.
    Packed,
}

impl Family {
    fn parent(self) -> &'static str {
        match self {
            Family::Raw => "employee_metrics",
            Family::Packed => "employee_metrics_packed",
        }
    }

    /// The partition's name for a day: derived from the date, never from
    /// input.
    pub fn name(self, day: NaiveDate) -> String {
        format!("{}_p{}", self.parent(), day.format("%Y%m%d"))
    }

    fn bounds(self, day: NaiveDate, next: NaiveDate) -> String {
        match self {
            Family::Raw => format!("FROM ('{day} 00:00:00+00') TO ('{next} 00:00:00+00')"),
            Family::Packed => format!("FROM ('{day}') TO ('{next}')"),
        }
    }
}

/// The raw partition's name for a day.
pub fn partition_name(day: NaiveDate) -> String {
    Family::Raw.name(day)
}

/// Creates the raw partitions of the given days that do not exist yet.
/// Returns how many were created.
pub async fn ensure(
    client: &mut tokio_postgres::Client,
    days: &[NaiveDate],
) -> Result<usize, StoreError> {
    ensure_family(client, Family::Raw, days).await
}

/// Creates the partitions of a family for the given days that do not exist
/// yet. Returns how many were created.
pub async fn ensure_family(
    client: &mut tokio_postgres::Client,
    family: Family,
    days: &[NaiveDate],
) -> Result<usize, StoreError> {
    if days.is_empty() {
        return Ok(0);
    }
    let missing = missing_of(&*client, family, days).await?;
    if missing.is_empty() {
        return Ok(0);
    }
    let tx = client.transaction().await?;
    lock(&tx).await?;
    // Another writer may have made some while we waited for the lock.
    let missing = missing_of(&tx, family, &missing).await?;
    for day in &missing {
        let next = day
            .checked_add_days(Days::new(1))
            .ok_or_else(|| StoreError::Database(format!("no day after {day}")))?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES {}",
            family.name(*day),
            family.parent(),
            family.bounds(*day, next),
        ))
        .await?;
    }
    tx.commit().await?;
    if !missing.is_empty() {
        tracing::debug!(count = missing.len(), "created daily partitions");
    }
    Ok(missing.len())
}

/// Takes the partition lock until the end of the transaction: creating and
/// dropping partitions happen one at a time.
pub(crate) async fn lock(tx: &impl GenericClient) -> Result<(), StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .await?;
    Ok(())
}

/// The days among `days` that have no raw partition yet.
pub(crate) async fn missing(
    client: &impl GenericClient,
    days: &[NaiveDate],
) -> Result<Vec<NaiveDate>, StoreError> {
    missing_of(client, Family::Raw, days).await
}

async fn missing_of(
    client: &impl GenericClient,
    family: Family,
    days: &[NaiveDate],
) -> Result<Vec<NaiveDate>, StoreError> {
    let names: Vec<String> = days.iter().map(|d| family.name(*d)).collect();
    let rows = client
        .query(
            "SELECT n FROM unnest($1::text[]) AS n WHERE to_regclass(n) IS NULL",
            &[&names],
        )
        .await?;
    let absent: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(days
        .iter()
        .zip(&names)
        .filter(|(_, n)| absent.contains(n))
        .map(|(d, _)| *d)
        .collect())
}

/// The days that have a raw partition, oldest first.
pub async fn list(client: &impl GenericClient) -> Result<Vec<NaiveDate>, StoreError> {
    list_family(client, Family::Raw).await
}

/// The days that have a partition of a family, oldest first.
pub async fn list_family(
    client: &impl GenericClient,
    family: Family,
) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = $1::text::regclass
             ORDER BY c.relname",
            &[&family.parent()],
        )
        .await?;
    let prefix = format!("{}_p", family.parent());
    Ok(rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            NaiveDate::parse_from_str(name.strip_prefix(&prefix)?, "%Y%m%d").ok()
        })
        .collect())
}

/// Days after today whose raw partitions the `partitions` job makes ahead.
/// A week covers a scheduler that could not run for a few days.
pub const DAYS_AHEAD: u64 = 7;

/// What the `partitions` job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionsAhead {
    /// Partitions created by this run (0 when all existed, and always 0 on
    /// timescale).
    pub created: usize,
    /// The first and last day covered.
    pub from: NaiveDate,
    pub through: NaiveDate,
}

impl crate::Store {
    /// Makes sure the raw partitions of `now`'s day and the [`DAYS_AHEAD`]
    /// days after it exist (the `partitions` job). Only raw samples get
    /// partitions ahead: packed partitions are made by compression, for days
    /// a month old. On timescale, TimescaleDB makes chunks itself and this
    /// does nothing.
    pub async fn make_partitions_ahead(
        &self,
        now: DateTime<Utc>,
    ) -> Result<PartitionsAhead, StoreError> {
        let from = now.date_naive();
        let days: Vec<NaiveDate> = from.iter_days().take(DAYS_AHEAD as usize + 1).collect();
        let through = days.last().copied().unwrap_or(from);
        let created = self.ops().partitions_ahead(self, &days).await?;
        Ok(PartitionsAhead {
            created,
            from,
            through,
        })
    }

    /// The days that have a partition, oldest first (portable engine; empty
    /// on timescale, whose chunks TimescaleDB manages).
    pub async fn partition_days(&self) -> Result<Vec<NaiveDate>, StoreError> {
        self.ops().partition_days(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_sort_by_date() {
        let a = partition_name(NaiveDate::from_ymd_opt(2023, 12, 31).unwrap());
        let b = partition_name(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        assert_eq!(a, "employee_metrics_p20231231");
        assert!(a < b);
        assert_eq!(
            Family::Packed.name(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
            "employee_metrics_packed_p20240101"
        );
    }
}
