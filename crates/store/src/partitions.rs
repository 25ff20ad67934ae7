//! Daily range partitions of `employee_metrics` on the portable engine.
//!
//! A sample may be for any date (a late file, a backfill three years old), so
//! the writer makes sure each day of a batch has its partition before it
//! writes, in a transaction of its own: creating a partition takes a strong
//! lock on the parent, and holding it inside a long write would stall
//! readers. An advisory lock serialises creators so that two writers never
//! race on the same `CREATE TABLE`. The scheduler also creates the coming
//! days ahead of time, so that on-demand creation is rare.

use chrono::{Days, NaiveDate};
use tokio_postgres::GenericClient;

use crate::StoreError;

/// Lock key for partition creation.
const PARTITION_LOCK: i64 = 0x6f72_6770_6172_7473;

/// The partition table's name for a day: derived from the date, never from
/// input.
pub fn partition_name(day: NaiveDate) -> String {
    format!("employee_metrics_p{}", day.format("%Y%m%d"))
}

/// Creates the partitions of the given days that do not exist yet. Returns
/// how many were created.
pub async fn ensure(
    client: &mut tokio_postgres::Client,
    days: &[NaiveDate],
) -> Result<usize, StoreError> {
    if days.is_empty() {
        return Ok(0);
    }
    let missing = missing(&*client, days).await?;
    if missing.is_empty() {
        return Ok(0);
    }
    let tx = client.transaction().await?;
    lock(&tx).await?;
    // Another writer may have made some while we waited for the lock.
    let missing = self::missing(&tx, &missing).await?;
    for day in &missing {
        let next = day
            .checked_add_days(Days::new(1))
            .ok_or_else(|| StoreError::Database(format!("no day after {day}")))?;
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF employee_metrics
             FOR VALUES FROM ('{day} 00:00:00+00') TO ('{next} 00:00:00+00')",
            partition_name(*day)
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

/// The days among `days` that have no partition yet.
pub(crate) async fn missing(
    client: &impl GenericClient,
    days: &[NaiveDate],
) -> Result<Vec<NaiveDate>, StoreError> {
    let names: Vec<String> = days.iter().map(|d| partition_name(*d)).collect();
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

/// The days that have a partition, oldest first.
pub async fn list(client: &impl GenericClient) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'employee_metrics'::regclass
             ORDER BY c.relname",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            NaiveDate::parse_from_str(name.strip_prefix("employee_metrics_p")?, "%Y%m%d").ok()
        })
        .collect())
}

impl crate::Store {
    /// The days that have a partition, oldest first (portable engine; empty
    /// on timescale, whose chunks TimescaleDB manages).
    pub async fn partition_days(&self) -> Result<Vec<NaiveDate>, StoreError> {
        if self.engine() != crate::Engine::Portable {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        list(&**client).await
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
    }
}
