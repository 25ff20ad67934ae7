//! `verify`: proving the audit log from its raw rows, trusting nothing the
//! database computes.
//!
//! One read-only, repeatable-read transaction reads every event's raw
//! columns in `seq` order, recomputes each hash in Rust
//! ([`super::canonical`]), and checks, event by event: the numbering has no
//! gap, `prev_hash` is the previous event's recomputed hash, the stored hash
//! is the recomputed one, the time never goes backwards, the event is a move
//! the intervention state machine allows ([`super::replay`]) and, when a
//! checkpoint is given, the event at its `head_seq` hashes to its signed
//! hash. Then: the chain head row names the last event, every row of
//! `interventions` is where its events lead, and the database's own
//! `audit_event_hash()` still computes the canonical hash (a replaced one is
//! reported even when nothing was edited with it yet).
//!
//! The first problem found, in that order, is reported.

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, pin_mut};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::ToSql;

use super::canonical::{GENESIS_HASH, JsonbText, PgTimestamp, PgUuid, RawEvent, probe_event};
use super::checkpoint::{ChainHead, Checkpoint, PublicKey};
use super::replay::{Replay, ReplayEvent, StoredIntervention, difference};
use crate::{Result, Store, StoreError};

/// The result of checking the log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChainReport {
    pub ok: bool,
    /// Events read, up to and including the first broken one.
    pub events_checked: i64,
    /// The first problem (in chain order, then head, interventions, the
    /// database's hash function).
    pub first_broken: Option<BrokenLink>,
    /// The last event's seq (0 for an empty log).
    pub head_seq: i64,
    /// The last event's hash as recomputed here (64 `0`s for an empty log).
    pub head_hash: String,
    /// Rows of `interventions` compared with the replay of their events.
    pub interventions_checked: i64,
    /// Whether `audit_event_hash()` in the database agrees with the
    /// canonical form (`agrees`, `differs`, `absent`, or `unchecked` when an
    /// earlier problem stopped the check).
    pub hash_function: HashFunction,
    /// Present when a checkpoint was given.
    pub checkpoint: Option<CheckpointCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BrokenLink {
    /// The event where the problem is; for problems outside the chain, the
    /// intervention's last event, or 0 when there is no event to name.
    pub seq: i64,
    pub event_id: Option<String>,
    pub intervention_id: Option<String>,
    pub check: Check,
    pub problem: String,
}

/// Which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A seq is missing or repeated.
    Sequence,
    /// `prev_hash` is not the previous event's hash.
    Link,
    /// The stored hash is not the hash of the event's content.
    Hash,
    /// The event's time is before the previous event's, or not a time.
    Time,
    /// The state machine refuses the event.
    Replay,
    /// The chain head row does not name the last event.
    Head,
    /// A row of `interventions` is not where its events lead.
    Interventions,
    /// `audit_event_hash()` in the database computes something else.
    HashFunction,
    /// The log does not extend the checkpointed one, or the checkpoint's
    /// signature does not hold.
    Checkpoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashFunction {
    Agrees,
    Differs,
    Absent,
    Unchecked,
}

/// What was checked against a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CheckpointCheck {
    pub head_seq: i64,
    pub head_hash: String,
    pub event_count: i64,
    pub time: DateTime<Utc>,
    /// The key that signed it.
    pub public_key: String,
    /// Whether a trusted key was given and signed it. Without one, the
    /// signature proves only that the file is intact, not who wrote it.
    pub trusted_key: bool,
    pub signature_valid: bool,
    /// Whether today's log extends the checkpointed one.
    pub extended: bool,
}

/// Reads what the events need; a problem ends the walk.
struct Walk<'a> {
    checkpoint: Option<&'a Checkpoint>,
    replay: Replay,
    count: i64,
    last_seq: i64,
    last_hash: String,
    last_time: Option<DateTime<Utc>>,
    checkpoint_matched: bool,
}

fn broken(seq: i64, event: Option<&RawEvent>, check: Check, problem: String) -> BrokenLink {
    BrokenLink {
        seq,
        event_id: event.map(|e| e.event_id.to_string()),
        intervention_id: event.map(|e| e.intervention_id.clone()),
        check,
        problem,
    }
}

impl Walk<'_> {
    /// Checks one event against everything before it.
    fn step(&mut self, event: &RawEvent) -> Option<BrokenLink> {
        self.count += 1;
        let seq = event.seq;
        let fail = |check, problem: String| Some(broken(seq, Some(event), check, problem));
        if seq <= self.last_seq {
            return fail(
                Check::Sequence,
                format!("event {seq} appears more than once"),
            );
        }
        if seq != self.last_seq + 1 {
            return fail(
                Check::Sequence,
                format!("events {} to {} are missing", self.last_seq + 1, seq - 1),
            );
        }
        let hash = match event.recomputed_hash() {
            Ok(hash) => hash,
            Err(e) => return fail(Check::Hash, format!("{e}, so it has no canonical form")),
        };
        if event.prev_hash != self.last_hash {
            return fail(
                Check::Link,
                "its prev_hash does not match the previous event's hash".into(),
            );
        }
        if event.hash != hash {
            return fail(
                Check::Hash,
                format!(
                    "its content does not match its hash (altered): stored {}, recomputed {hash}",
                    event.hash
                ),
            );
        }
        let Some(time) = event.time.to_datetime() else {
            return fail(Check::Time, "its time is not a finite instant".into());
        };
        if let Some(last) = self.last_time
            && time < last
        {
            return fail(
                Check::Time,
                format!(
                    "its time {} is before event {}'s time {} (back-dated or reordered)",
                    time.to_rfc3339(),
                    self.last_seq,
                    last.to_rfc3339()
                ),
            );
        }
        let details: Value = match serde_json::from_str(&event.details.0) {
            Ok(v) => v,
            Err(e) => return fail(Check::Replay, format!("its details are not JSON: {e}")),
        };
        if let Err(problem) = self.replay.apply(ReplayEvent {
            seq,
            time,
            intervention_id: &event.intervention_id,
            action: &event.action,
            target_employee_id: event.target_employee_id.as_deref(),
            details: &details,
        }) {
            return fail(
                Check::Replay,
                format!("intervention {:?}: {problem}", event.intervention_id),
            );
        }
        if let Some(cp) = self.checkpoint
            && cp.head_seq == seq
        {
            if hash != cp.head_hash {
                return fail(
                    Check::Checkpoint,
                    format!(
                        "event {seq} hashes to {hash}, but the checkpoint of {} signed {}: the log was rewritten at or before event {seq}",
                        cp.time.to_rfc3339(),
                        cp.head_hash
                    ),
                );
            }
            if self.count != cp.event_count {
                return fail(
                    Check::Checkpoint,
                    format!(
                        "{} events lead to event {seq}, but the checkpoint counted {}",
                        self.count, cp.event_count
                    ),
                );
            }
            self.checkpoint_matched = true;
        }
        self.last_seq = seq;
        self.last_hash = hash;
        self.last_time = Some(time);
        None
    }

    /// Checks the end of the log against a checkpoint that lies beyond it.
    fn end(&self) -> Option<BrokenLink> {
        let cp = self.checkpoint?;
        if self.checkpoint_matched {
            return None;
        }
        if cp.head_seq == 0 {
            // A checkpoint of the empty log: any log extends it.
            return (cp.head_hash != GENESIS_HASH || cp.event_count != 0).then(|| {
                broken(
                    0,
                    None,
                    Check::Checkpoint,
                    "the checkpoint records no events but a non-empty head".into(),
                )
            });
        }
        Some(broken(
            self.last_seq + 1,
            None,
            Check::Checkpoint,
            format!(
                "the log ends at event {}, but the checkpoint of {} recorded event {} (events were removed from the end)",
                self.last_seq,
                cp.time.to_rfc3339(),
                cp.head_seq
            ),
        ))
    }
}

impl Store {
    /// Checks the audit log (see the module documentation); reports the
    /// first problem.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport> {
        self.verify_audit_log(None, None).await
    }

    /// Checks the audit log and, with a checkpoint, that it extends the
    /// checkpointed log: the signature holds (against `trusted` when given)
    /// and the event at the checkpoint's seq has exactly its signed hash.
    pub async fn verify_audit_log(
        &self,
        checkpoint: Option<&Checkpoint>,
        trusted: Option<&PublicKey>,
    ) -> Result<ChainReport> {
        let signature = checkpoint.map(|cp| cp.verify_signature(trusted));
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let mut walk = Walk {
            checkpoint,
            replay: Replay::default(),
            count: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            last_time: None,
            checkpoint_matched: false,
        };
        let mut first = match &signature {
            Some(Err(e)) => Some(broken(
                checkpoint.map_or(0, |cp| cp.head_seq),
                None,
                Check::Checkpoint,
                e.to_string(),
            )),
            _ => None,
        };
        if first.is_none() {
            first = walk_events(&tx, &mut walk).await?;
        }
        if first.is_none() {
            first = check_head(&tx, &walk).await?.or_else(|| walk.end());
        }
        let mut interventions_checked = 0;
        if first.is_none() {
            let (checked, problem) = check_interventions(&tx, &walk.replay).await?;
            interventions_checked = checked;
            first = problem;
        }
        let mut hash_function = HashFunction::Unchecked;
        if first.is_none() {
            hash_function = check_hash_function(&tx).await?;
            if hash_function == HashFunction::Differs {
                first = Some(broken(
                    0,
                    None,
                    Check::HashFunction,
                    "the database function audit_event_hash() no longer computes the canonical hash (it was replaced)".into(),
                ));
            }
        }
        // Read-only: nothing to keep (and a failed probe has aborted it).
        let _ = tx.rollback().await;
        let ok = first.is_none();
        Ok(ChainReport {
            ok,
            events_checked: walk.count,
            first_broken: first,
            head_seq: walk.last_seq,
            head_hash: walk.last_hash.clone(),
            interventions_checked,
            hash_function,
            checkpoint: checkpoint.map(|cp| CheckpointCheck {
                head_seq: cp.head_seq,
                head_hash: cp.head_hash.clone(),
                event_count: cp.event_count,
                time: cp.time,
                public_key: cp.public_key.clone(),
                trusted_key: trusted.is_some(),
                signature_valid: matches!(signature, Some(Ok(_))),
                extended: ok,
            }),
        })
    }

    /// The head to sign: verifies the log first and refuses to vouch for a
    /// broken one (the report says why).
    pub async fn audit_chain_head(&self) -> Result<std::result::Result<ChainHead, ChainReport>> {
        let report = self.verify_audit_chain().await?;
        if !report.ok {
            return Ok(Err(report));
        }
        Ok(Ok(ChainHead {
            seq: report.head_seq,
            hash: report.head_hash,
            event_count: report.events_checked,
        }))
    }
}

/// Streams the events in chain order through the walk.
async fn walk_events(
    tx: &deadpool_postgres::Transaction<'_>,
    walk: &mut Walk<'_>,
) -> Result<Option<BrokenLink>> {
    let rows = tx
        .query_raw(
            "SELECT seq, time, event_id, intervention_id, action, actor, target_employee_id,
                    details, prev_hash, hash
             FROM intervention_audit_log ORDER BY seq",
            std::iter::empty::<&(dyn ToSql + Sync)>(),
        )
        .await?;
    pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        let event = RawEvent {
            seq: row.try_get(0)?,
            time: row.try_get::<_, PgTimestamp>(1)?,
            event_id: row.try_get::<_, PgUuid>(2)?,
            intervention_id: row.try_get(3)?,
            action: row.try_get(4)?,
            actor: row.try_get(5)?,
            target_employee_id: row.try_get(6)?,
            details: row.try_get::<_, JsonbText>(7)?,
            prev_hash: row.try_get(8)?,
            hash: row.try_get(9)?,
        };
        if let Some(problem) = walk.step(&event) {
            return Ok(Some(problem));
        }
    }
    Ok(None)
}

/// The chain head row must name the last event.
async fn check_head(
    tx: &deadpool_postgres::Transaction<'_>,
    walk: &Walk<'_>,
) -> Result<Option<BrokenLink>> {
    let row = tx
        .query_opt("SELECT seq, hash FROM audit_chain_head", &[])
        .await?;
    let Some(row) = row else {
        return Ok(Some(broken(
            walk.last_seq,
            None,
            Check::Head,
            "the chain head row is missing".into(),
        )));
    };
    let (head_seq, head_hash): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
    if head_seq == walk.last_seq && head_hash == walk.last_hash {
        return Ok(None);
    }
    let problem = if head_seq > walk.last_seq {
        format!(
            "the chain head records event {head_seq}, but the log ends at event {} (events removed from the end)",
            walk.last_seq
        )
    } else {
        format!(
            "the chain head records event {head_seq} with hash {head_hash}, but the log ends at event {} with hash {}",
            walk.last_seq, walk.last_hash
        )
    };
    Ok(Some(broken(walk.last_seq + 1, None, Check::Head, problem)))
}

/// Every row of `interventions` must be where its events lead, and every
/// intervention the events created must have its row.
async fn check_interventions(
    tx: &deadpool_postgres::Transaction<'_>,
    replay: &Replay,
) -> Result<(i64, Option<BrokenLink>)> {
    let rows = tx
        .query(
            "SELECT intervention_id, kind, target_employee_id, status, created_at, updated_at,
                    details
             FROM interventions ORDER BY intervention_id COLLATE \"C\"",
            &[],
        )
        .await?;
    let problem = |seq: i64, id: &str, text: String| BrokenLink {
        seq,
        event_id: None,
        intervention_id: Some(id.to_string()),
        check: Check::Interventions,
        problem: format!("intervention {id:?}: {text}"),
    };
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let id: String = row.try_get(0)?;
        let Some(replayed) = replay.get(&id) else {
            return Ok((
                seen.len() as i64 + 1,
                Some(problem(
                    0,
                    &id,
                    "it has no created event (inserted without its audit event)".into(),
                )),
            ));
        };
        let times = (
            row.try_get::<_, PgTimestamp>(4)?.to_datetime(),
            row.try_get::<_, PgTimestamp>(5)?.to_datetime(),
        );
        let (Some(created_at), Some(updated_at)) = times else {
            return Ok((
                seen.len() as i64 + 1,
                Some(problem(
                    replayed.last_seq,
                    &id,
                    "its created_at or updated_at is not a finite instant".into(),
                )),
            ));
        };
        let stored = StoredIntervention {
            intervention_id: id.clone(),
            kind: row.try_get(1)?,
            target_employee_id: row.try_get(2)?,
            status: row.try_get(3)?,
            details: row.try_get(6)?,
            created_at,
            updated_at,
        };
        if let Some(diff) = difference(&stored, replayed) {
            return Ok((
                seen.len() as i64 + 1,
                Some(problem(replayed.last_seq, &id, diff)),
            ));
        }
        seen.insert(id);
    }
    let checked = seen.len() as i64;
    if let Some(missing) = replay.ids().find(|id| !seen.contains(*id)) {
        let seq = replay.get(missing).map_or(0, |r| r.last_seq);
        return Ok((
            checked,
            Some(problem(
                seq,
                missing,
                "its events exist but its row in interventions does not (deleted)".into(),
            )),
        ));
    }
    Ok((checked, None))
}

/// Asks `audit_event_hash()` for the hash of a fixed event and compares.
async fn check_hash_function(tx: &deadpool_postgres::Transaction<'_>) -> Result<HashFunction> {
    let probe = probe_event();
    let expected = probe
        .recomputed_hash()
        .map_err(|e| StoreError::Database(format!("the probe event: {e}")))?;
    let time = probe
        .time
        .to_datetime()
        .ok_or_else(|| StoreError::Database("the probe event has no time".into()))?;
    let answer = tx
        .query_one(
            "SELECT audit_event_hash($1, $2, $3::text::uuid, $4, $5, $6, $7, $8::text::jsonb, $9)",
            &[
                &probe.seq,
                &time,
                &probe.event_id.to_string(),
                &probe.intervention_id,
                &probe.action,
                &probe.actor,
                &probe.target_employee_id,
                &probe.details.0,
                &probe.prev_hash,
            ],
        )
        .await;
    match answer {
        Ok(row) => {
            let got: Option<String> = row.try_get(0)?;
            Ok(if got.as_deref() == Some(expected.as_str()) {
                HashFunction::Agrees
            } else {
                HashFunction::Differs
            })
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_FUNCTION) => {
            Ok(HashFunction::Absent)
        }
        Err(e) => {
            let e = StoreError::from(e);
            if e.is_transient() {
                Err(e)
            } else {
                Ok(HashFunction::Differs)
            }
        }
    }
}
