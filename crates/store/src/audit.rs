//! The audit log: reading it page by page, and verifying its hash chain.
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        text.parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `cursor` to read the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The result of checking the hash chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainReport {
    pub ok: bool,
    pub events_checked: i64,
    /// The first event (in chain order) where the chain is broken.
    pub first_broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    pub event_id: Option<String>,
    pub problem: String,
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

    /// Recomputes every event's hash and checks each link to the previous
    /// event, the numbering, and the chain head. Reports the first break.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        let client = self.client().await?;
        let broken = client
            .query_opt(
                "WITH chain AS (
                     SELECT seq, event_id::text AS event_id, prev_hash, hash,
                            audit_event_hash(seq, time, event_id, intervention_id, action, actor,
                                             target_employee_id, details, prev_hash) AS expected,
                            lag(hash, 1, repeat('0', 64)) OVER (ORDER BY seq) AS previous,
                            lag(seq, 1, 0::bigint) OVER (ORDER BY seq) AS previous_seq
                     FROM intervention_audit_log)
                 SELECT seq, event_id,
                        CASE WHEN seq <> previous_seq + 1
                                 THEN format('events %s to %s are missing', previous_seq + 1, seq - 1)
                             WHEN prev_hash <> previous
                                 THEN 'its prev_hash does not match the previous event''s hash'
                             ELSE 'its content does not match its hash (altered)' END AS problem
                 FROM chain
                 WHERE seq <> previous_seq + 1 OR prev_hash <> previous OR hash <> expected
                 ORDER BY seq LIMIT 1",
                &[],
            )
            .await?;
        let stats = client
            .query_one(
                "SELECT (SELECT count(*) FROM intervention_audit_log),
                        (SELECT coalesce(max(seq), 0) FROM intervention_audit_log),
                        coalesce((SELECT hash FROM intervention_audit_log ORDER BY seq DESC LIMIT 1),
                                 repeat('0', 64)),
                        h.seq, h.hash
                 FROM audit_chain_head h",
                &[],
            )
            .await?;
        let (count, last_seq, last_hash, head_seq, head_hash): (i64, i64, String, i64, String) = (
            stats.get(0),
            stats.get(1),
            stats.get(2),
            stats.get(3),
            stats.get(4),
        );
        let first_broken = match broken {
            Some(row) => Some(BrokenLink {
                seq: row.get(0),
                event_id: row.get(1),
                problem: row.get(2),
            }),
            None if head_seq != last_seq || head_hash != last_hash => Some(BrokenLink {
                seq: last_seq + 1,
                event_id: None,
                problem: format!(
                    "the chain head records event {head_seq}, but the log ends at event {last_seq} (events removed from the end)"
                ),
            }),
            None => None,
        };
        Ok(ChainReport {
            ok: first_broken.is_none(),
            events_checked: count,
            first_broken,
        })
    }
}
