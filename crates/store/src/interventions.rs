//! Interventions and their status machine.
//!
//! Every change writes its audit event in the same transaction as the change
//! itself ([`crate::audit::append_event`], which hashes it in Rust), so there
//! is never a change without its event or an event without its change, and
//! the row's `created_at`/`updated_at` are its events' times, which lets
//! `verify` replay the events and compare. The
//! intervention row is locked (`FOR UPDATE`) while a change is decided, so two
//! concurrent changes are applied one after the other, each checked against
//! the status the other left.

use chrono::{DateTime, Utc};
use organism_domain::{
    Actor, AuditAction, EmployeeId, InterventionId, InterventionKind, InterventionStatus,
    ValidationError,
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_postgres::Row;

use crate::audit::append_event;
use crate::{Result, Store, StoreError};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The largest `details` document accepted, in bytes of JSON text.
pub const MAX_DETAILS_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Intervention {
    pub intervention_id: String,
    pub kind: String,
    pub target_employee_id: Option<String>,
    pub status: InterventionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub details: Value,
}

/// A request to create an intervention.
#[derive(Debug, Clone)]
pub struct NewIntervention {
    /// Chosen by the client so that a retried create is recognised; made up
    /// by the database when absent.
    pub intervention_id: Option<InterventionId>,
    pub kind: InterventionKind,
    pub target_employee_id: Option<EmployeeId>,
    pub details: Value,
    pub actor: Actor,
}

/// A request to move an intervention to another status.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub to: InterventionStatus,
    pub actor: Actor,
    /// Recorded in the audit event (a reason, a note).
    pub details: Value,
    /// When the change took effect, if earlier than its recording (a change
    /// recorded after the fact); recorded in the audit event. Not in the
    /// future, not before the previous status change took effect.
    pub effective_at: Option<DateTime<Utc>>,
}

/// Whether a create made something new or recognised a retry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Created {
    pub intervention: Intervention,
    pub created: bool,
}

/// Checks a `details` document: a JSON object of bounded size, with no
/// text PostgreSQL cannot store (NUL, in any key or string at any depth;
/// the error names the place, e.g. `details.note`).
pub fn check_details(details: &Value) -> Result<(), ValidationError> {
    if !details.is_object() {
        return Err(ValidationError::new("details", "must be a JSON object"));
    }
    organism_domain::check_storable_json("details", details)?;
    let size = details.to_string().len();
    if size > MAX_DETAILS_BYTES {
        return Err(ValidationError::new(
            "details",
            format!("must be at most {MAX_DETAILS_BYTES} bytes of JSON, got {size}"),
        ));
    }
    Ok(())
}

fn from_row(row: &Row) -> Result<Intervention> {
    let status: String = row.get("status");
    Ok(Intervention {
        intervention_id: row.get("intervention_id"),
        kind: row.get("kind"),
        target_employee_id: row.get("target_employee_id"),
        status: status
            .parse()
            .map_err(|e: ValidationError| StoreError::Database(e.to_string()))?,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        // A decoding failure is an error, never a panic (a panic would drop
        // the client's connection without an answer).
        details: row
            .try_get("details")
            .map_err(|e| StoreError::Database(format!("details: {e}")))?,
    })
}

const COLUMNS: &str =
    "intervention_id, kind, target_employee_id, status, created_at, updated_at, details";

impl Store {
    /// Creates an intervention in status `proposed`, with its `created`
    /// event. Creating again with the same id and the same content is a
    /// retry: it returns the stored intervention and writes nothing. The same
    /// id with other content is a conflict.
    pub async fn create_intervention(&self, new: NewIntervention) -> Result<Created> {
        check_details(&new.details)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let id = new.intervention_id.as_ref().map(|i| i.as_str());
        let target = new.target_employee_id.as_ref().map(|e| e.as_str());
        let inserted = tx
            .query_opt(
                &format!(
                    "INSERT INTO interventions (intervention_id, kind, target_employee_id, status,
                         created_at, updated_at, details)
                     VALUES (coalesce($1, 'iv-' || gen_random_uuid()::text), $2, $3, 'proposed', now(), now(), $4)
                     ON CONFLICT (intervention_id) DO NOTHING
                     RETURNING {COLUMNS}"
                ),
                &[&id, &new.kind.as_str(), &target, &new.details],
            )
            .await?;
        let Some(row) = inserted else {
            let existing = tx
                .query_one(
                    &format!("SELECT {COLUMNS} FROM interventions WHERE intervention_id = $1"),
                    &[&id],
                )
                .await?;
            let existing = from_row(&existing)?;
            let same = existing.kind == new.kind.as_str()
                && existing.target_employee_id.as_deref() == target
                && existing.details == new.details;
            if !same {
                return Err(StoreError::Conflict {
                    code: "intervention_id_taken",
                    message: format!(
                        "intervention {:?} already exists with other content",
                        existing.intervention_id
                    ),
                });
            }
            return Ok(Created {
                intervention: existing,
                created: false,
            });
        };
        let inserted = from_row(&row)?;
        let event = json!({
            "status": "proposed",
            "kind": inserted.kind,
            "details": inserted.details,
        });
        let appended = append_event(
            &tx,
            &inserted.intervention_id,
            AuditAction::Created,
            new.actor.as_str(),
            target,
            &event,
        )
        .await?;
        let row = tx
            .query_one(
                &format!(
                    "UPDATE interventions SET created_at = $2, updated_at = $2
                     WHERE intervention_id = $1 RETURNING {COLUMNS}"
                ),
                &[&inserted.intervention_id, &appended.time],
            )
            .await?;
        let intervention = from_row(&row)?;
        tx.commit().await?;
        Ok(Created {
            intervention,
            created: true,
        })
    }

    /// Moves an intervention to another status along the allowed
    /// transitions, with its audit event. Asking for the status it already
    /// has is a retry and changes nothing; any other illegal move is refused
    /// and leaves both tables unchanged.
    pub async fn change_status(
        &self,
        id: &InterventionId,
        change: StatusChange,
    ) -> Result<Intervention> {
        self.change_status_at(id, change, Utc::now()).await
    }

    /// [`Store::change_status`] with the caller's clock, against which an
    /// `effective_at` in the future is refused.
    pub async fn change_status_at(
        &self,
        id: &InterventionId,
        change: StatusChange,
        now: DateTime<Utc>,
    ) -> Result<Intervention> {
        check_details(&change.details)?;
        if let Some(at) = change.effective_at.filter(|at| *at > now) {
            return Err(ValidationError::new(
                "effective_at",
                format!(
                    "must not be in the future (now is {}, got {})",
                    rfc3339(now),
                    rfc3339(at)
                ),
            )
            .into());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM interventions WHERE intervention_id = $1 FOR UPDATE"
                ),
                &[&id.as_str()],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "intervention",
                id: id.to_string(),
            })?;
        let current = from_row(&row)?;
        if current.status == change.to {
            return Ok(current);
        }
        if !current.status.can_move_to(change.to) {
            return Err(StoreError::Conflict {
                code: "illegal_transition",
                message: format!(
                    "intervention {:?} is {}; it cannot move to {} (allowed: {})",
                    current.intervention_id,
                    current.status,
                    change.to,
                    allowed_from(current.status)
                ),
            });
        }
        let mut event = json!({
            "from": current.status,
            "to": change.to,
            "details": change.details,
        });
        if let Some(at) = change.effective_at {
            // The previous status change's effective time: its own
            // `effective_at`, or when it was recorded. The creation is not
            // one: it is when the intervention was written down, and a
            // history recorded after the fact is dated before it.
            let previous: Option<DateTime<Utc>> = tx
                .query_one(
                    "SELECT max(COALESCE((details->>'effective_at')::timestamptz, time))
                     FROM intervention_audit_log
                     WHERE intervention_id = $1 AND action <> 'created'",
                    &[&id.as_str()],
                )
                .await?
                .get(0);
            if let Some(previous) = previous.filter(|p| at < *p) {
                return Err(ValidationError::new(
                    "effective_at",
                    format!(
                        "must not be before the intervention's previous status change ({})",
                        rfc3339(previous)
                    ),
                )
                .into());
            }
            event["effective_at"] = json!(rfc3339(at));
        }
        let appended = append_event(
            &tx,
            id.as_str(),
            change.to.action(),
            change.actor.as_str(),
            current.target_employee_id.as_deref(),
            &event,
        )
        .await?;
        let row = tx
            .query_one(
                &format!(
                    "UPDATE interventions SET status = $2, updated_at = $3
                     WHERE intervention_id = $1 RETURNING {COLUMNS}"
                ),
                &[&id.as_str(), &change.to.as_str(), &appended.time],
            )
            .await?;
        let updated = from_row(&row)?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn intervention(&self, id: &InterventionId) -> Result<Intervention> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM interventions WHERE intervention_id = $1"),
                &[&id.as_str()],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "intervention",
                id: id.to_string(),
            })?;
        from_row(&row)
    }

    /// Interventions, newest first, optionally by status and target.
    pub async fn list_interventions(
        &self,
        status: Option<InterventionStatus>,
        target: Option<&EmployeeId>,
        limit: u32,
    ) -> Result<Vec<Intervention>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM interventions
                     WHERE ($1::text IS NULL OR status = $1)
                       AND ($2::text IS NULL OR target_employee_id = $2)
                     ORDER BY created_at DESC, intervention_id
                     LIMIT $3"
                ),
                &[
                    &status.map(|s| s.as_str()),
                    &target.map(|t| t.as_str()),
                    &i64::from(limit),
                ],
            )
            .await?;
        rows.iter().map(from_row).collect()
    }
}

fn allowed_from(status: InterventionStatus) -> String {
    let next: Vec<&str> = InterventionStatus::ALL
        .into_iter()
        .filter(|s| status.can_move_to(*s))
        .map(|s| s.as_str())
        .collect();
    if next.is_empty() {
        "none, it is final".into()
    } else {
        next.join(", ")
    }
}
