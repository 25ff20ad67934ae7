//! The audit log: appending to it, reading it page by page, and proving it.
//!
//! * [`canonical`]: the canonical form of an event and its hash, in Rust;
//! * [`replay`]: the events replayed through the intervention state machine;
//! * [`checkpoint`]: signed checkpoints of the chain head (Ed25519);
//! * `verify`: the check of the whole log, optionally against a checkpoint.
//!
//! Pages use a keyset cursor (the last event's `seq`) rather than an offset:
//! a page costs the same however deep it is, and events appended meanwhile
//! neither shift nor repeat rows across pages.

use chrono::{DateTime, Utc};
use organism_domain::{AuditAction, InterventionId, ValidationError};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;

use crate::{Result, Store};

pub mod canonical;
pub mod checkpoint;
pub mod replay;
mod verify;

pub use verify::{BrokenLink, ChainReport, Check, CheckpointCheck, HashFunction};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub seq: i64,
    pub time: DateTime<Utc>,
    pub event_id: String,
    pub intervention_id: String,
    pub action: String,
    pub actor: String,
    pub target_employee_id: Option<String>,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// An opaque position in the log: the `seq` of the last event of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

impl Cursor {
    /// 1 to 18 digits (the API document's pattern): a `seq` this log
    /// hands out, never signed, padded or beyond 10^18.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Some(text)
            .filter(|t| (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<i64>().ok())
            .map(Cursor)
            .ok_or_else(|| {
                ValidationError::new("cursor", "must be a cursor returned by a previous page")
            })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which events to read, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub intervention_id: Option<InterventionId>,
    pub action: Option<AuditAction>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub after: Option<Cursor>,
    pub limit: AuditLimit,
}

/// 1..=1000 events a page; 100 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLimit(u32);

impl AuditLimit {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        text.parse::<u32>()
            .ok()
            .filter(|v| (1..=1000).contains(v))
            .map(AuditLimit)
            .ok_or_else(|| {
                ValidationError::new(
                    "limit",
                    format!("must be a whole number from 1 to 1000, got {text:?}"),
                )
            })
    }
}

impl Default for AuditLimit {
    fn default() -> Self {
        AuditLimit(100)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` to read the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

const EVENT_COLUMNS: &str = "seq, time, event_id::text AS event_id, intervention_id, action, actor,
    target_employee_id, details, prev_hash, hash";

fn event_from_row(row: &Row) -> AuditEvent {
    AuditEvent {
        seq: row.get("seq"),
        time: row.get("time"),
        event_id: row.get("event_id"),
        intervention_id: row.get("intervention_id"),
        action: row.get("action"),
        actor: row.get("actor"),
        target_employee_id: row.get("target_employee_id"),
        details: row.get("details"),
        prev_hash: row.get("prev_hash"),
        hash: row.get("hash"),
    }
}

impl Store {
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<AuditPage> {
        let client = self.client().await?;
        let limit = i64::from(filter.limit.0);
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM intervention_audit_log
                     WHERE ($1::text IS NULL OR intervention_id = $1)
                       AND ($2::text IS NULL OR action = $2)
                       AND ($3::timestamptz IS NULL OR time >= $3)
                       AND ($4::timestamptz IS NULL OR time < $4)
                       AND seq > $5
                     ORDER BY seq
                     LIMIT $6"
                ),
                &[
                    &filter.intervention_id.as_ref().map(|i| i.as_str()),
                    &filter.action.map(|a| a.as_str()),
                    &filter.start,
                    &filter.end,
                    &filter.after.map_or(0, |c| c.0),
                    &(limit + 1),
                ],
            )
            .await?;
        let mut events: Vec<AuditEvent> = rows.iter().map(event_from_row).collect();
        let next_cursor = if events.len() as i64 > limit {
            events.truncate(limit as usize);
            events.last().map(|e| Cursor(e.seq).to_string())
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next_cursor,
        })
    }
}

/// The event an append wrote: its number and time (the intervention's
/// `created_at`/`updated_at` take this time, so the replay can check them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Appended {
    pub seq: i64,
    pub time: DateTime<Utc>,
}

/// Appends one event inside the caller's transaction, hashing it in Rust.
///
/// The row lock on the chain head serialises appenders, so the chain has
/// one order with many writers, and that order is commit order. The time is
/// taken after the lock, and never before the newest event's
/// (`greatest(clock_timestamp(), max(time))`): the transaction's `now()`
/// would go backwards along the chain whenever a transaction that started
/// later appended first, and `verify` refuses times that go backwards.
/// `details` goes through `jsonb` once (the same query) so that what is
/// hashed is the text the column will render.
pub(crate) async fn append_event(
    tx: &deadpool_postgres::Transaction<'_>,
    intervention_id: &str,
    action: AuditAction,
    actor: &str,
    target: Option<&str>,
    details: &Value,
) -> Result<Appended> {
    use canonical::{JsonbText, PgTimestamp, PgUuid, RawEvent};
    let head = tx
        .query_one("SELECT seq, hash FROM audit_chain_head FOR UPDATE", &[])
        .await?;
    // A statement of its own, after the lock: its snapshot then holds the
    // event the previous holder of the lock committed.
    let fresh = tx
        .query_one(
            "SELECT greatest(clock_timestamp(), (SELECT max(time) FROM intervention_audit_log)),
                    gen_random_uuid(), $1::jsonb",
            &[details],
        )
        .await?;
    let time: DateTime<Utc> = fresh.try_get(0)?;
    let mut event = RawEvent {
        seq: head.try_get::<_, i64>(0)? + 1,
        time: PgTimestamp::from_datetime(time)
            .ok_or_else(|| crate::StoreError::Database("the clock is out of range".into()))?,
        event_id: fresh.try_get::<_, PgUuid>(1)?,
        intervention_id: intervention_id.to_string(),
        action: action.as_str().to_string(),
        actor: actor.to_string(),
        target_employee_id: target.map(str::to_string),
        details: fresh.try_get::<_, JsonbText>(2)?,
        prev_hash: head.try_get(1)?,
        hash: String::new(),
    };
    event.hash = event
        .recomputed_hash()
        .map_err(|e| crate::StoreError::Database(format!("audit event: {e}")))?;
    tx.execute(
        "WITH ev AS (
             INSERT INTO intervention_audit_log (seq, time, event_id, intervention_id, action,
                 actor, target_employee_id, details, prev_hash, hash)
             VALUES ($1, $2, $3::text::uuid, $4, $5, $6, $7, $8::text::jsonb, $9, $10))
         UPDATE audit_chain_head SET seq = $1, hash = $10",
        &[
            &event.seq,
            &time,
            &event.event_id.to_string(),
            &event.intervention_id,
            &event.action,
            &event.actor,
            &event.target_employee_id,
            &event.details.0,
            &event.prev_hash,
            &event.hash,
        ],
    )
    .await?;
    Ok(Appended {
        seq: event.seq,
        time,
    })
}
