//! Replaying the audit log through the intervention state machine.
//!
//! Each intervention's events, in chain order, must be a walk the domain's
//! state machine allows (`created`, then one legal transition per event),
//! and the row in `interventions` must be where that walk ends: same kind,
//! target, details, status, `created_at` (the `created` event's time) and
//! `updated_at` (the last event's time). A row changed behind the service's
//! back (`UPDATE interventions SET status = …`), inserted without its event,
//! or deleted, is a difference.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use organism_domain::{ALERT_SUBJECT_PREFIX, AuditAction, InterventionKind, InterventionStatus};
use serde_json::Value;

/// What the events say one intervention is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub kind: String,
    pub target_employee_id: Option<String>,
    pub status: InterventionStatus,
    pub details: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The seq of its last event.
    pub last_seq: i64,
}

/// The row of `interventions`, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIntervention {
    pub intervention_id: String,
    pub kind: String,
    pub target_employee_id: Option<String>,
    pub status: String,
    pub details: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One event as the replay needs it.
#[derive(Debug, Clone, Copy)]
pub struct ReplayEvent<'a> {
    pub seq: i64,
    pub time: DateTime<Utc>,
    pub intervention_id: &'a str,
    pub action: &'a str,
    pub target_employee_id: Option<&'a str>,
    pub details: &'a Value,
}

/// The state of every intervention after the events seen so far.
#[derive(Debug, Default)]
pub struct Replay {
    interventions: BTreeMap<String, Replayed>,
}

impl Replay {
    /// Applies one event; the error says why the state machine refuses it.
    pub fn apply(&mut self, event: ReplayEvent<'_>) -> Result<(), String> {
        let action: AuditAction = event
            .action
            .parse()
            .map_err(|_| format!("its action {:?} is not an audit action", event.action))?;
        // An alert rule's events share the chain (their hashes are checked
        // with the rest) but not the interventions' state machine.
        let alert_subject = event.intervention_id.starts_with(ALERT_SUBJECT_PREFIX);
        if action.is_alert() || alert_subject {
            return if action.is_alert() && alert_subject {
                Ok(())
            } else {
                Err(format!(
                    "its action {} does not belong to subject {:?}",
                    action.as_str(),
                    event.intervention_id
                ))
            };
        }
        let field = |name: &str| event.details.get(name).and_then(Value::as_str);
        if action == AuditAction::Created {
            if let Some(earlier) = self.interventions.get(event.intervention_id) {
                return Err(format!(
                    "it creates intervention {:?} again (created before, last event {})",
                    event.intervention_id, earlier.last_seq
                ));
            }
            if field("status") != Some(InterventionStatus::Proposed.as_str()) {
                return Err("a created event must record status \"proposed\"".into());
            }
            let kind = field("kind")
                .and_then(|k| InterventionKind::parse(k).ok())
                .ok_or("a created event must record a valid kind")?;
            let details = event
                .details
                .get("details")
                .filter(|d| d.is_object())
                .ok_or("a created event must record the details object")?;
            self.interventions.insert(
                event.intervention_id.to_string(),
                Replayed {
                    kind: kind.as_str().to_string(),
                    target_employee_id: event.target_employee_id.map(str::to_string),
                    status: InterventionStatus::Proposed,
                    details: details.clone(),
                    created_at: event.time,
                    updated_at: event.time,
                    last_seq: event.seq,
                },
            );
            return Ok(());
        }
        let current = self
            .interventions
            .get_mut(event.intervention_id)
            .ok_or_else(|| {
                format!(
                    "it changes intervention {:?}, which no earlier event created",
                    event.intervention_id
                )
            })?;
        let from = field("from").and_then(|s| s.parse::<InterventionStatus>().ok());
        let to = field("to").and_then(|s| s.parse::<InterventionStatus>().ok());
        let (Some(from), Some(to)) = (from, to) else {
            return Err("a status event must record valid \"from\" and \"to\" statuses".into());
        };
        if to.action() != action {
            return Err(format!(
                "its action {} does not enter status {to}",
                action.as_str()
            ));
        }
        if from != current.status {
            return Err(format!(
                "it moves from {from}, but the intervention was {} after event {}",
                current.status, current.last_seq
            ));
        }
        if !current.status.can_move_to(to) {
            return Err(format!("the move {from} → {to} is not allowed"));
        }
        if event.target_employee_id != current.target_employee_id.as_deref() {
            return Err(format!(
                "its target {:?} is not the intervention's target {:?}",
                event.target_employee_id, current.target_employee_id
            ));
        }
        current.status = to;
        current.updated_at = event.time;
        current.last_seq = event.seq;
        Ok(())
    }

    pub fn get(&self, intervention_id: &str) -> Option<&Replayed> {
        self.interventions.get(intervention_id)
    }

    pub fn len(&self) -> usize {
        self.interventions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.interventions.is_empty()
    }

    /// The interventions the events created, by id.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.interventions.keys().map(String::as_str)
    }
}

/// How a stored row differs from its replay: the first differing column.
pub fn difference(stored: &StoredIntervention, replayed: &Replayed) -> Option<String> {
    let status = replayed.status.as_str();
    let seq = replayed.last_seq;
    let report = |column: &str, stored: String, replayed: String| {
        Some(format!(
            "interventions.{column} is {stored} but its events (up to {seq}) give {replayed}"
        ))
    };
    if stored.status != status {
        return report(
            "status",
            format!("{:?}", stored.status),
            format!("{status:?}"),
        );
    }
    if stored.kind != replayed.kind {
        return report(
            "kind",
            format!("{:?}", stored.kind),
            format!("{:?}", replayed.kind),
        );
    }
    if stored.target_employee_id != replayed.target_employee_id {
        return report(
            "target_employee_id",
            format!("{:?}", stored.target_employee_id),
            format!("{:?}", replayed.target_employee_id),
        );
    }
    if stored.details != replayed.details {
        return report(
            "details",
            stored.details.to_string(),
            replayed.details.to_string(),
        );
    }
    if stored.created_at != replayed.created_at {
        return report(
            "created_at",
            stored.created_at.to_rfc3339(),
            replayed.created_at.to_rfc3339(),
        );
    }
    if stored.updated_at != replayed.updated_at {
        return report(
            "updated_at",
            stored.updated_at.to_rfc3339(),
            replayed.updated_at.to_rfc3339(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + i64::from(minute) * 60, 0).unwrap()
    }

    fn created(seq: i64) -> (i64, &'static str, Value) {
        (
            seq,
            "created",
            json!({"status": "proposed", "kind": "one_on_one", "details": {"n": 1}}),
        )
    }

    fn moved(seq: i64, action: &'static str, from: &str, to: &str) -> (i64, &'static str, Value) {
        (seq, action, json!({"from": from, "to": to, "details": {}}))
    }

    fn replay(events: &[(i64, &'static str, Value)]) -> Result<Replay, String> {
        let mut replay = Replay::default();
        for (seq, action, details) in events {
            replay.apply(ReplayEvent {
                seq: *seq,
                time: at(*seq as u32),
                intervention_id: "iv-1",
                action,
                target_employee_id: Some("emp_a"),
                details,
            })?;
        }
        Ok(replay)
    }

    fn stored(status: &str, updated_minute: u32) -> StoredIntervention {
        StoredIntervention {
            intervention_id: "iv-1".into(),
            kind: "one_on_one".into(),
            target_employee_id: Some("emp_a".into()),
            status: status.into(),
            details: json!({"n": 1}),
            created_at: at(1),
            updated_at: at(updated_minute),
        }
    }

    #[test]
    fn a_legal_walk_replays_to_the_stored_row() {
        let replay = replay(&[
            created(1),
            moved(2, "approved", "proposed", "approved"),
            moved(3, "activated", "approved", "active"),
        ])
        .unwrap();
        let iv = replay.get("iv-1").unwrap();
        assert_eq!(iv.status, InterventionStatus::Active);
        assert_eq!(iv.last_seq, 3);
        assert_eq!(difference(&stored("active", 3), iv), None);
    }

    #[test]
    fn a_status_set_behind_the_log_is_a_difference() {
        let replay = replay(&[created(1), moved(2, "approved", "proposed", "approved")]).unwrap();
        let iv = replay.get("iv-1").unwrap();
        let diff = difference(&stored("completed", 2), iv).unwrap();
        assert!(diff.contains("interventions.status"), "{diff}");
        assert!(diff.contains("\"approved\""), "{diff}");
        let diff = difference(&stored("approved", 9), iv).unwrap();
        assert!(diff.contains("updated_at"), "{diff}");
    }

    #[test]
    fn skipped_steps_wrong_origins_and_orphans_are_refused() {
        let err = replay(&[created(1), moved(2, "completed", "proposed", "completed")]);
        assert!(err.unwrap_err().contains("not allowed"));
        let err = replay(&[created(1), moved(2, "activated", "approved", "active")]);
        assert!(err.unwrap_err().contains("was proposed"));
        let err = replay(&[created(1), moved(2, "approved", "proposed", "cancelled")]);
        assert!(err.unwrap_err().contains("does not enter"));
        let err = replay(&[moved(1, "approved", "proposed", "approved")]);
        assert!(err.unwrap_err().contains("no earlier event created"));
        let err = replay(&[created(1), created(2)]);
        assert!(err.unwrap_err().contains("again"));
    }
}
