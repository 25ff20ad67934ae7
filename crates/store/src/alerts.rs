//! Alert rules, their evaluation as samples commit, the live feed and the
//! webhook deliveries (common migration 20; docs/REALTIME.md).
//!
//! * Every writer puts its committed samples in `realtime_inbox`, in the
//!   samples' own transaction, while an enabled rule or a live stream wants
//!   them (writer.rs).
//! * [`Store::evaluate_realtime`] takes the inbox under a transaction-level
//!   advisory lock (one evaluator at a time across every serving process),
//!   steps each (rule, employee) state with the samples in time order,
//!   records each change as a feed event, an audit event in the hash chain
//!   and one delivery per destination, and deletes what it took, all in one
//!   transaction: a crash anywhere leaves the inbox as it was, and a change
//!   is recorded exactly once.
//! * Deliveries are claimed with a lease ([`Store::claim_deliveries`]); a
//!   sender that dies leaves its claim to expire, and the delivery is sent
//!   again with the same idempotency key.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use organism_domain::alert::{
    AlertRule, Change, DestinationFormat, Direction, RuleId, RuleKind, Tracked, WebhookUrl,
};
use organism_domain::{ALERT_SUBJECT_PREFIX, Actor, AuditAction, MetricName, TeamName};
use serde::Serialize;
use serde_json::{Value, json};
use tokio_postgres::Row;

use crate::audit::append_event;
use crate::{Result, Store, StoreError};

/// Held (transaction-level) by the one evaluator running.
pub const EVALUATOR_LOCK: i64 = 0x6f72_6761_6c65_7274;

/// Samples measured longer ago than this when they are evaluated are
/// history (a backfill, a late import): they move no alert.
pub const FRESH_FOR: Duration = Duration::hours(24);

/// Feed events are kept this long for a stream to resume from.
pub const FEED_KEPT_FOR: Duration = Duration::hours(24);

/// A webhook of a new rule.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDestination {
    pub url: WebhookUrl,
    pub format: DestinationFormat,
    pub timeout_ms: u32,
    pub max_in_flight: u32,
}

impl NewDestination {
    pub const DEFAULT_TIMEOUT_MS: u32 = 5000;
    pub const DEFAULT_MAX_IN_FLIGHT: u32 = 4;
}

#[derive(Debug, Clone)]
pub struct NewAlertRule {
    pub rule_id: Option<RuleId>,
    pub rule: AlertRule,
    pub enabled: bool,
    pub destinations: Vec<NewDestination>,
    pub actor: Actor,
}

/// A destination as shown: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Destination {
    pub destination_id: String,
    pub url: String,
    pub format: DestinationFormat,
    pub timeout_ms: i32,
    pub max_in_flight: i32,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredRule {
    pub rule_id: String,
    pub name: String,
    pub metric: MetricName,
    /// `threshold` (each sample), `forecast` or `anomaly` (once a day).
    pub kind: RuleKind,
    /// A forecast rule's horizon in days.
    pub within_days: Option<i32>,
    pub direction: Direction,
    pub threshold: f64,
    pub hysteresis: f64,
    pub team: Option<String>,
    pub min_samples: i32,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub destinations: Vec<Destination>,
}

/// A destination's signing secret, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DestinationSecret {
    pub destination_id: String,
    /// 64 hexadecimal digits: the HMAC-SHA256 key of this destination's
    /// signatures (docs/REALTIME.md shows how to verify one).
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct CreatedRule {
    pub rule: StoredRule,
    pub secrets: Vec<DestinationSecret>,
    /// `false`: the same rule was created before (a retry).
    pub created: bool,
}

const RULE_COLUMNS: &str = "rule_id, name, metric, kind, within_days, direction, threshold,
    hysteresis, team, min_samples, enabled, created_at, updated_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(format!("{what}: {e}"))
}

fn rule_from_row(row: &Row, destinations: Vec<Destination>) -> Result<StoredRule> {
    let metric: String = row.try_get("metric")?;
    let direction: String = row.try_get("direction")?;
    let kind: String = row.try_get("kind")?;
    Ok(StoredRule {
        rule_id: row.try_get("rule_id")?,
        name: row.try_get("name")?,
        metric: metric.parse().map_err(|e| corrupt("metric", e))?,
        kind: kind.parse().map_err(|e| corrupt("kind", e))?,
        within_days: row.try_get("within_days")?,
        direction: direction.parse().map_err(|e| corrupt("direction", e))?,
        threshold: row.try_get("threshold")?,
        hysteresis: row.try_get("hysteresis")?,
        team: row.try_get("team")?,
        min_samples: row.try_get("min_samples")?,
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        destinations,
    })
}

fn destination_from_row(row: &Row) -> Result<Destination> {
    let format: String = row.try_get("format")?;
    Ok(Destination {
        destination_id: row.try_get("destination_id")?,
        url: row.try_get("url")?,
        format: format.parse().map_err(|e| corrupt("format", e))?,
        timeout_ms: row.try_get("timeout_ms")?,
        max_in_flight: row.try_get("max_in_flight")?,
    })
}

/// The rule as its audit events and payloads describe it.
fn rule_json(rule: &StoredRule) -> Value {
    json!({
        "rule_id": rule.rule_id,
        "name": rule.name,
        "metric": rule.metric,
        "kind": rule.kind,
        "within_days": rule.within_days,
        "direction": rule.direction,
        "threshold": rule.threshold,
        "hysteresis": rule.hysteresis,
        "team": rule.team,
        "min_samples": rule.min_samples,
    })
}

/// 32 bytes from the operating system's random source, as hex.
fn new_secret() -> Result<String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| StoreError::Database(format!("no randomness for a secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn subject(rule_id: &str) -> String {
    format!("{ALERT_SUBJECT_PREFIX}{rule_id}")
}

fn not_found(rule_id: &str) -> StoreError {
    StoreError::NotFound {
        what: "alert rule",
        id: rule_id.to_string(),
    }
}

impl Store {
    /// Creates a rule and its destinations, with its audit event. Creating
    /// again with the same id and content is a retry: it writes nothing and
    /// returns the stored rule with the same secrets, so a response lost in
    /// transit loses nothing. The same id with other content is a conflict.
    pub async fn create_alert_rule(&self, new: NewAlertRule) -> Result<CreatedRule> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let r = &new.rule;
        let team = r.team.as_ref().map(TeamName::as_str);
        let min_samples = new.rule.min_samples as i32;
        let id = new.rule_id.as_ref().map(RuleId::as_str);
        let inserted = tx
            .query_opt(
                &format!(
                    "INSERT INTO alert_rules (rule_id, name, metric, direction, threshold, hysteresis,
                         team, min_samples, enabled, kind, within_days, created_at, updated_at)
                     VALUES (coalesce($1, 'rule-' || gen_random_uuid()::text), $2, $3, $4, $5, $6,
                             $7, $8, $9, $10, $11, now(), now())
                     ON CONFLICT (rule_id) DO NOTHING
                     RETURNING {RULE_COLUMNS}"
                ),
                &[
                    &id,
                    &r.name,
                    &r.metric.column(),
                    &r.direction.as_str(),
                    &r.threshold,
                    &r.hysteresis,
                    &team,
                    &min_samples,
                    &new.enabled,
                    &r.kind.as_str(),
                    &r.within_days.map(|d| d as i32),
                ],
            )
            .await?;
        let Some(row) = inserted else {
            let rule_id = id.unwrap_or_default();
            let existing = rule_with(&tx, rule_id, true).await?;
            let secrets = secrets_of(&tx, rule_id).await?;
            let same = existing.deleted_at.is_none()
                && same_rule(&existing.rule, &new)
                && existing.rule.destinations.len() == new.destinations.len();
            if !same {
                return Err(StoreError::Conflict {
                    code: "rule_id_taken",
                    message: format!("alert rule {rule_id:?} already exists with other content"),
                });
            }
            return Ok(CreatedRule {
                rule: existing.rule,
                secrets,
                created: false,
            });
        };
        let rule_id: String = row.try_get("rule_id")?;
        let mut destinations = Vec::new();
        let mut secrets = Vec::new();
        for (position, d) in new.destinations.iter().enumerate() {
            let secret = new_secret()?;
            let row = tx
                .query_one(
                    "INSERT INTO alert_destinations (destination_id, rule_id, position, url, format,
                         secret, timeout_ms, max_in_flight)
                     VALUES ('dest-' || gen_random_uuid()::text, $1, $2, $3, $4, $5, $6, $7)
                     RETURNING destination_id, url, format, timeout_ms, max_in_flight",
                    &[
                        &rule_id,
                        &(position as i32),
                        &d.url.as_str(),
                        &d.format.as_str(),
                        &secret,
                        &(d.timeout_ms as i32),
                        &(d.max_in_flight as i32),
                    ],
                )
                .await?;
            let destination = destination_from_row(&row)?;
            secrets.push(DestinationSecret {
                destination_id: destination.destination_id.clone(),
                secret,
            });
            destinations.push(destination);
        }
        let rule = rule_from_row(&row, destinations)?;
        let mut details = rule_json(&rule);
        details["enabled"] = json!(rule.enabled);
        details["destinations"] = json!(
            rule.destinations
                .iter()
                .map(|d| json!({"destination_id": d.destination_id, "url": d.url, "format": d.format}))
                .collect::<Vec<_>>()
        );
        append_event(
            &tx,
            &subject(&rule.rule_id),
            AuditAction::AlertRuleCreated,
            new.actor.as_str(),
            None,
            &details,
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedRule {
            rule,
            secrets,
            created: true,
        })
    }

    /// Every rule not deleted, oldest first.
    pub async fn list_alert_rules(&self) -> Result<Vec<StoredRule>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {RULE_COLUMNS} FROM alert_rules WHERE deleted_at IS NULL
                     ORDER BY created_at, rule_id"
                ),
                &[],
            )
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.get("rule_id")).collect();
        let mut by_rule = destinations_of(&client, &ids).await?;
        rows.iter()
            .map(|row| {
                let id: String = row.get("rule_id");
                rule_from_row(row, by_rule.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    pub async fn alert_rule(&self, rule_id: &RuleId) -> Result<StoredRule> {
        let client = self.client().await?;
        let found = rule_with(&client, rule_id.as_str(), false).await?;
        Ok(found.rule)
    }

    /// Enables or disables a rule, with its audit event; asking for what it
    /// already is changes nothing. A disabled rule's states stay as they
    /// are and its deliveries already queued are still sent.
    pub async fn set_alert_rule_enabled(
        &self,
        rule_id: &RuleId,
        enabled: bool,
        actor: &Actor,
    ) -> Result<StoredRule> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let found = rule_with(&tx, rule_id.as_str(), false).await?;
        if found.rule.enabled == enabled {
            return Ok(found.rule);
        }
        let appended = append_event(
            &tx,
            &subject(rule_id.as_str()),
            AuditAction::AlertRuleChanged,
            actor.as_str(),
            None,
            &json!({"enabled": {"from": found.rule.enabled, "to": enabled}}),
        )
        .await?;
        tx.execute(
            "UPDATE alert_rules SET enabled = $2, updated_at = $3 WHERE rule_id = $1",
            &[&rule_id.as_str(), &enabled, &appended.time],
        )
        .await?;
        let changed = rule_with(&tx, rule_id.as_str(), false).await?;
        tx.commit().await?;
        Ok(changed.rule)
    }

    /// Deletes a rule: no longer listed, evaluated or delivered (queued
    /// deliveries are cancelled), with its audit event; kept in the
    /// database for the deliveries and events that name it. Deleting a
    /// deleted or unknown rule is 404.
    pub async fn delete_alert_rule(&self, rule_id: &RuleId, actor: &Actor) -> Result<StoredRule> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        rule_with(&tx, rule_id.as_str(), false).await?;
        let appended = append_event(
            &tx,
            &subject(rule_id.as_str()),
            AuditAction::AlertRuleDeleted,
            actor.as_str(),
            None,
            &json!({}),
        )
        .await?;
        tx.execute(
            "UPDATE alert_rules SET deleted_at = $2, updated_at = $2, enabled = false
             WHERE rule_id = $1",
            &[&rule_id.as_str(), &appended.time],
        )
        .await?;
        tx.execute(
            "UPDATE alert_deliveries SET status = 'cancelled', finished_at = $2,
                 last_error = 'the rule was deleted'
             WHERE rule_id = $1 AND status = 'pending'",
            &[&rule_id.as_str(), &appended.time],
        )
        .await?;
        let deleted = rule_with(&tx, rule_id.as_str(), true).await?;
        tx.commit().await?;
        Ok(deleted.rule)
    }
}

struct FoundRule {
    rule: StoredRule,
    deleted_at: Option<DateTime<Utc>>,
}

/// A rule with its destinations; 404 when unknown (or deleted, unless
/// `with_deleted`).
async fn rule_with(
    client: &impl deadpool_postgres::GenericClient,
    rule_id: &str,
    with_deleted: bool,
) -> Result<FoundRule> {
    let row = client
        .query_opt(
            &format!("SELECT {RULE_COLUMNS}, deleted_at FROM alert_rules WHERE rule_id = $1"),
            &[&rule_id],
        )
        .await?
        .ok_or_else(|| not_found(rule_id))?;
    let deleted_at: Option<DateTime<Utc>> = row.try_get("deleted_at")?;
    if deleted_at.is_some() && !with_deleted {
        return Err(not_found(rule_id));
    }
    let mut by_rule = destinations_of(client, &[rule_id.to_string()]).await?;
    Ok(FoundRule {
        rule: rule_from_row(&row, by_rule.remove(rule_id).unwrap_or_default())?,
        deleted_at,
    })
}

async fn destinations_of(
    client: &impl deadpool_postgres::GenericClient,
    rule_ids: &[String],
) -> Result<BTreeMap<String, Vec<Destination>>> {
    let rows = client
        .query(
            "SELECT rule_id, destination_id, url, format, timeout_ms, max_in_flight
             FROM alert_destinations WHERE rule_id = ANY($1) ORDER BY rule_id, position",
            &[&rule_ids],
        )
        .await?;
    let mut by_rule: BTreeMap<String, Vec<Destination>> = BTreeMap::new();
    for row in &rows {
        by_rule
            .entry(row.try_get("rule_id")?)
            .or_default()
            .push(destination_from_row(row)?);
    }
    Ok(by_rule)
}

async fn secrets_of(
    client: &impl deadpool_postgres::GenericClient,
    rule_id: &str,
) -> Result<Vec<DestinationSecret>> {
    let rows = client
        .query(
            "SELECT destination_id, secret FROM alert_destinations WHERE rule_id = $1
             ORDER BY position",
            &[&rule_id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DestinationSecret {
                destination_id: r.try_get(0)?,
                secret: r.try_get(1)?,
            })
        })
        .collect()
}

fn same_rule(stored: &StoredRule, new: &NewAlertRule) -> bool {
    let r = &new.rule;
    stored.name == r.name
        && stored.metric == r.metric
        && stored.kind == r.kind
        && stored.within_days == r.within_days.map(|d| d as i32)
        && stored.direction == r.direction
        && stored.threshold == r.threshold
        && stored.hysteresis == r.hysteresis
        && stored.team.as_deref() == r.team.as_ref().map(TeamName::as_str)
        && stored.min_samples == r.min_samples as i32
        && stored.enabled == new.enabled
        && stored
            .destinations
            .iter()
            .zip(&new.destinations)
            .all(|(s, n)| {
                s.url == n.url.as_str()
                    && s.format == n.format
                    && s.timeout_ms == n.timeout_ms as i32
                    && s.max_in_flight == n.max_in_flight as i32
            })
}

/// What one evaluation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Evaluated {
    /// Another process holds the evaluator's lock: nothing was taken.
    pub busy: bool,
    /// Samples taken from the inbox.
    pub samples: usize,
    /// State changes notified (fired or resolved).
    pub changes: usize,
    /// Deliveries queued.
    pub deliveries: usize,
    /// Feed events appended.
    pub feed_events: usize,
}

/// A committed sample from the inbox.
#[derive(Debug, Clone)]
struct InboxSample {
    time: DateTime<Utc>,
    employee_id: String,
    team: Option<String>,
    values: [f64; 4],
}

impl InboxSample {
    fn value(&self, metric: MetricName) -> f64 {
        match metric {
            MetricName::DegreeCentrality => self.values[0],
            MetricName::BetweennessCentrality => self.values[1],
            MetricName::ClusteringCoeff => self.values[2],
            MetricName::BurnoutScore => self.values[3],
        }
    }

    fn json(&self) -> Value {
        json!({
            "time": self.time,
            "employee_id": self.employee_id,
            "team": self.team,
            "degree_centrality": self.values[0],
            "betweenness_centrality": self.values[1],
            "clustering_coeff": self.values[2],
            "burnout_score": self.values[3],
        })
    }
}

/// A rule as the evaluator needs it.
#[derive(Debug, Clone)]
pub struct LiveRule {
    pub stored: StoredRule,
    pub rule: AlertRule,
}

impl LiveRule {
    /// The stored rule, checked again as its kind says.
    fn of(stored: StoredRule) -> Result<Self> {
        let team = stored
            .team
            .clone()
            .map(TeamName::parse)
            .transpose()
            .map_err(|e| corrupt("team", e))?;
        let within_days = stored
            .within_days
            .map(u32::try_from)
            .transpose()
            .map_err(|e| corrupt("within_days", e))?;
        let rule = AlertRule::new(
            stored.name.clone(),
            stored.metric,
            (stored.kind, within_days),
            stored.direction,
            stored.threshold,
            stored.hysteresis,
            team,
            u32::try_from(stored.min_samples).map_err(|e| corrupt("min_samples", e))?,
        )
        .map_err(|e| corrupt("alert rule", e))?;
        Ok(Self { stored, rule })
    }
}

/// One value a (rule, employee) pair steps with: a sample's value of the
/// rule's metric, or a daily rule's forecast or score.
#[derive(Debug, Clone, Copy)]
struct Observation<'a> {
    time: DateTime<Utc>,
    employee_id: &'a str,
    team: Option<&'a str>,
    value: f64,
    /// What a daily rule adds to its payload (`null` for a sample).
    evidence: &'a Value,
}

impl<'a> Observation<'a> {
    fn of_sample(sample: &'a InboxSample, metric: MetricName) -> Self {
        Observation {
            time: sample.time,
            employee_id: &sample.employee_id,
            team: sample.team.as_deref(),
            value: sample.value(metric),
            evidence: &Value::Null,
        }
    }
}

/// One (rule, employee) state as stored.
#[derive(Debug, Clone)]
struct PairState {
    tracked: Tracked,
    episode_id: Option<String>,
    sample_time: Option<DateTime<Utc>>,
}

/// Samples a feed event of new samples carries at most.
const SAMPLES_PER_FEED_EVENT: usize = 500;

impl Store {
    /// Takes up to `limit` samples from the inbox and evaluates them (see
    /// the module's documentation). Returns at once, `busy`, when another
    /// process is evaluating.
    pub async fn evaluate_realtime(&self, limit: i64) -> Result<Evaluated> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&EVALUATOR_LOCK])
            .await?
            .try_get(0)?;
        if !locked {
            return Ok(Evaluated {
                busy: true,
                ..Evaluated::default()
            });
        }
        let rows = tx
            .query(
                "DELETE FROM realtime_inbox WHERE ctid = ANY (ARRAY(
                     SELECT ctid FROM realtime_inbox LIMIT $1))
                 RETURNING time, employee_id, team, degree_centrality, betweenness_centrality,
                     clustering_coeff, burnout_score, now() AS now",
                &[&limit],
            )
            .await?;
        let mut done = Evaluated::default();
        let mut now = None;
        let mut samples = Vec::with_capacity(rows.len());
        for row in &rows {
            now = Some(row.try_get::<_, DateTime<Utc>>("now")?);
            samples.push(InboxSample {
                time: row.try_get("time")?,
                employee_id: row.try_get("employee_id")?,
                team: row.try_get("team")?,
                values: [
                    row.try_get("degree_centrality")?,
                    row.try_get("betweenness_centrality")?,
                    row.try_get("clustering_coeff")?,
                    row.try_get("burnout_score")?,
                ],
            });
        }
        let Some(now) = now else {
            tx.execute(
                "DELETE FROM realtime_feed WHERE time < now() - $1::text::interval",
                &[&format!("{} seconds", FEED_KEPT_FOR.num_seconds())],
            )
            .await?;
            tx.commit().await?;
            return Ok(done);
        };
        done.samples = samples.len();
        // Each employee's samples in time order: a pair steps in the order
        // the samples were measured, whatever order they were written in.
        samples.sort_by(|a, b| (&a.employee_id, a.time).cmp(&(&b.employee_id, b.time)));

        for live in live_rules(&tx).await? {
            let fresh_from = now - FRESH_FOR;
            let watched: Vec<Observation<'_>> = samples
                .iter()
                .filter(|s| s.time >= fresh_from)
                .filter(|s| {
                    live.rule
                        .team
                        .as_ref()
                        .is_none_or(|t| s.team.as_deref() == Some(t.as_str()))
                })
                .map(|s| Observation::of_sample(s, live.rule.metric))
                .collect();
            if watched.is_empty() {
                continue;
            }
            step_and_record(&tx, &live, &watched, now, &mut done).await?;
        }

        if listeners_present(&tx).await? {
            let mut by_team: BTreeMap<Option<&str>, Vec<&InboxSample>> = BTreeMap::new();
            for s in &samples {
                by_team.entry(s.team.as_deref()).or_default().push(s);
            }
            for (team, group) in by_team {
                for chunk in group.chunks(SAMPLES_PER_FEED_EVENT) {
                    let payload = json!({
                        "samples": chunk.iter().map(|s| s.json()).collect::<Vec<_>>(),
                    });
                    append_feed(&tx, "samples", team, &payload, now).await?;
                    done.feed_events += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(done)
    }
}

/// A daily rule's value for one employee on one day, computed by the
/// caller (the serving process's analytics) from the daily means.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyObservation {
    pub employee_id: String,
    /// The team the employee's last day was recorded with (who may see the
    /// alert on the live feed); a team rule's own team.
    pub team: Option<String>,
    pub value: f64,
    /// What the payload adds under `evidence`: the forecast's day, the
    /// change and its days.
    pub evidence: Value,
}

/// What applying one day of a daily rule did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DailyApplied {
    /// `false`: the day was applied before (by this process or another),
    /// or the rule was disabled or deleted meanwhile; nothing changed.
    pub applied: bool,
    pub observations: usize,
    pub changes: usize,
    pub deliveries: usize,
}

/// The midnight (UTC) that starts `day`: the time a daily rule's
/// observations of that day are stepped at.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

impl Store {
    /// Claims, for `lease`, the enabled daily rules (forecast and anomaly)
    /// not yet evaluated on `day` and not claimed by another process: the
    /// claimer computes their observations and applies them with
    /// [`Store::apply_daily_rule`]. A claimer that dies leaves its claim to
    /// expire.
    pub async fn claim_daily_rules(
        &self,
        day: NaiveDate,
        lease: std::time::Duration,
    ) -> Result<Vec<LiveRule>> {
        let client = self.client().await?;
        let lease = format!("{} milliseconds", lease.as_millis());
        let rows = client
            .query(
                &format!(
                    "UPDATE alert_rules SET evaluation_lease = now() + $2::text::interval
                     WHERE enabled AND deleted_at IS NULL AND kind <> 'threshold'
                       AND (evaluated_day IS NULL OR evaluated_day < $1)
                       AND (evaluation_lease IS NULL OR evaluation_lease < now())
                     RETURNING {RULE_COLUMNS}"
                ),
                &[&day, &lease],
            )
            .await?;
        let mut rules = live_rules_of(&client, &rows).await?;
        rules.sort_by(|a, b| a.stored.rule_id.cmp(&b.stored.rule_id));
        Ok(rules)
    }

    /// Steps a daily rule's pairs with its observations of `day` (at the
    /// day's midnight) and records each change as the threshold evaluator
    /// does, all in one transaction, once: a day already applied (by any
    /// process) changes nothing. Feed numbers are taken under the
    /// evaluator's lock, so they still grow in commit order.
    pub async fn apply_daily_rule(
        &self,
        rule: &LiveRule,
        day: NaiveDate,
        observations: &[DailyObservation],
    ) -> Result<DailyApplied> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVALUATOR_LOCK])
            .await?;
        let row = tx
            .query_opt(
                "SELECT now() AS now FROM alert_rules
                 WHERE rule_id = $1 AND enabled AND deleted_at IS NULL AND kind <> 'threshold'
                   AND (evaluated_day IS NULL OR evaluated_day < $2)
                 FOR UPDATE",
                &[&rule.stored.rule_id, &day],
            )
            .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(DailyApplied::default());
        };
        let now: DateTime<Utc> = row.try_get("now")?;
        let time = day_start(day);
        let mut sorted: Vec<&DailyObservation> = observations
            .iter()
            .filter(|o| o.value.is_finite())
            .collect();
        sorted.sort_by(|a, b| a.employee_id.cmp(&b.employee_id));
        sorted.dedup_by(|a, b| a.employee_id == b.employee_id);
        let observed: Vec<Observation<'_>> = sorted
            .iter()
            .map(|o| Observation {
                time,
                employee_id: &o.employee_id,
                team: o.team.as_deref(),
                value: o.value,
                evidence: &o.evidence,
            })
            .collect();
        let mut done = Evaluated::default();
        if !observed.is_empty() {
            step_and_record(&tx, rule, &observed, now, &mut done).await?;
        }
        tx.execute(
            "UPDATE alert_rules SET evaluated_day = $2, evaluation_lease = NULL WHERE rule_id = $1",
            &[&rule.stored.rule_id, &day],
        )
        .await?;
        tx.commit().await?;
        Ok(DailyApplied {
            applied: true,
            observations: observed.len(),
            changes: done.changes,
            deliveries: done.deliveries,
        })
    }
}

/// The enabled threshold rules (the daily kinds are not stepped by
/// samples).
async fn live_rules(tx: &deadpool_postgres::Transaction<'_>) -> Result<Vec<LiveRule>> {
    let rows = tx
        .query(
            &format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules
                 WHERE enabled AND deleted_at IS NULL AND kind = 'threshold'
                 ORDER BY rule_id"
            ),
            &[],
        )
        .await?;
    live_rules_of(tx, &rows).await
}

async fn live_rules_of(
    client: &impl deadpool_postgres::GenericClient,
    rows: &[Row],
) -> Result<Vec<LiveRule>> {
    let ids: Vec<String> = rows.iter().map(|r| r.get("rule_id")).collect();
    let mut by_rule = destinations_of(client, &ids).await?;
    rows.iter()
        .map(|row| {
            let id: String = row.get("rule_id");
            LiveRule::of(rule_from_row(row, by_rule.remove(&id).unwrap_or_default())?)
        })
        .collect()
}

/// Steps a rule's pairs with `observed` (in employee, time order), stores
/// the states and records each change.
async fn step_and_record(
    tx: &deadpool_postgres::Transaction<'_>,
    live: &LiveRule,
    observed: &[Observation<'_>],
    now: DateTime<Utc>,
    done: &mut Evaluated,
) -> Result<()> {
    for (observation, change, episode) in step_rule(tx, live, observed, now).await? {
        done.changes += 1;
        done.deliveries += record_change(tx, live, &observation, change, &episode, now).await?;
        done.feed_events += 1;
    }
    Ok(())
}

/// Steps one rule's pairs with their observations (in employee, time
/// order) and stores the states; returns the changes with the observation
/// that made each and its episode.
async fn step_rule<'s>(
    tx: &deadpool_postgres::Transaction<'_>,
    live: &LiveRule,
    samples: &[Observation<'s>],
    now: DateTime<Utc>,
) -> Result<Vec<(Observation<'s>, Change, String)>> {
    let rule_id = live.stored.rule_id.as_str();
    let mut employees: Vec<&str> = samples.iter().map(|s| s.employee_id).collect();
    employees.dedup();
    let rows = tx
        .query(
            "SELECT employee_id, state, streak, episode_id::text AS episode_id, sample_time
             FROM alert_states WHERE rule_id = $1 AND employee_id = ANY($2)",
            &[&rule_id, &employees],
        )
        .await?;
    let mut states: BTreeMap<String, PairState> = BTreeMap::new();
    for row in &rows {
        let state: String = row.try_get("state")?;
        let streak: i32 = row.try_get("streak")?;
        states.insert(
            row.try_get("employee_id")?,
            PairState {
                tracked: Tracked {
                    state: state.parse().map_err(|e| corrupt("state", e))?,
                    streak: u32::try_from(streak).unwrap_or(0),
                },
                episode_id: row.try_get("episode_id")?,
                sample_time: Some(row.try_get("sample_time")?),
            },
        );
    }
    let mut changes = Vec::new();
    // Each stepped pair's last sample: its state is stored once.
    let mut touched: BTreeMap<&str, Observation<'s>> = BTreeMap::new();
    for sample in samples {
        let pair = states
            .entry(sample.employee_id.to_string())
            .or_insert(PairState {
                tracked: Tracked::NEW,
                episode_id: None,
                sample_time: None,
            });
        // Late (at or before the last sample stepped): changes nothing.
        if pair.sample_time.is_some_and(|t| sample.time <= t) {
            continue;
        }
        let (next, change) = live.rule.step(pair.tracked, sample.value);
        pair.tracked = next;
        pair.sample_time = Some(sample.time);
        if let Some(change) = change {
            if change == Change::Fired {
                let id: String = tx
                    .query_one("SELECT gen_random_uuid()::text", &[])
                    .await?
                    .try_get(0)?;
                pair.episode_id = Some(id);
            }
            let episode = pair.episode_id.clone().unwrap_or_default();
            changes.push((*sample, change, episode));
        }
        touched.insert(sample.employee_id, *sample);
    }
    if touched.is_empty() {
        return Ok(changes);
    }
    let mut ids = Vec::new();
    let mut state = Vec::new();
    let mut streak = Vec::new();
    let mut episode = Vec::new();
    let mut team = Vec::new();
    let mut time = Vec::new();
    let mut value = Vec::new();
    for (employee, sample) in &touched {
        let pair = &states[*employee];
        ids.push(*employee);
        state.push(pair.tracked.state.as_str());
        streak.push(pair.tracked.streak.min(i32::MAX as u32) as i32);
        episode.push(pair.episode_id.clone());
        team.push(sample.team);
        time.push(sample.time);
        value.push(sample.value);
    }
    tx.execute(
        "INSERT INTO alert_states AS s (rule_id, employee_id, state, streak, episode_id, team,
             sample_time, value, changed_at)
         SELECT $1, e, st, sk, ep::uuid, tm, t, v, $9
         FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                     $7::timestamptz[], $8::float8[]) AS u(e, st, sk, ep, tm, t, v)
         ON CONFLICT (rule_id, employee_id) DO UPDATE SET
             state = EXCLUDED.state, streak = EXCLUDED.streak, episode_id = EXCLUDED.episode_id,
             team = EXCLUDED.team, sample_time = EXCLUDED.sample_time, value = EXCLUDED.value,
             changed_at = CASE WHEN s.state IS DISTINCT FROM EXCLUDED.state
                               THEN EXCLUDED.changed_at ELSE s.changed_at END",
        &[
            &rule_id, &ids, &state, &streak, &episode, &team, &time, &value, &now,
        ],
    )
    .await?;
    Ok(changes)
}

/// One change: its feed event, its audit event and a delivery per
/// destination; returns the deliveries queued.
async fn record_change(
    tx: &deadpool_postgres::Transaction<'_>,
    live: &LiveRule,
    sample: &Observation<'_>,
    change: Change,
    episode: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let state = change.state();
    let value = sample.value;
    let mut payload = json!({
        "schema": "organism.alert.v1",
        "rule": rule_json(&live.stored),
        "employee_id": sample.employee_id,
        "team": sample.team,
        "metric": live.stored.metric,
        "value": value,
        "time": sample.time,
        "episode_id": episode,
        "state": state,
        "changed_at": now,
    });
    if !sample.evidence.is_null() {
        payload["evidence"] = sample.evidence.clone();
    }
    let event_id = append_feed(tx, "alert", sample.team, &payload, now).await?;
    payload["event_id"] = json!(event_id);
    let action = match change {
        Change::Fired => AuditAction::AlertFiring,
        Change::Resolved => AuditAction::AlertResolved,
    };
    append_event(
        tx,
        &subject(&live.stored.rule_id),
        action,
        "organism-evaluator",
        Some(sample.employee_id),
        &json!({
            "episode_id": episode,
            "state": state,
            "value": value,
            "sample_time": sample.time,
            "team": sample.team,
            "feed_event_id": event_id,
        }),
    )
    .await?;
    for d in &live.stored.destinations {
        let key = format!("{episode}:{}:{}", state.as_str(), d.destination_id);
        tx.execute(
            "INSERT INTO alert_deliveries (rule_id, destination_id, episode_id, state,
                 idempotency_key, payload, status, created_at, next_attempt_at)
             VALUES ($1, $2, $3::text::uuid, $4, $5, $6, 'pending', $7, $7)
             ON CONFLICT (idempotency_key) DO NOTHING",
            &[
                &live.stored.rule_id,
                &d.destination_id,
                &episode,
                &state.as_str(),
                &key,
                &payload,
                &now,
            ],
        )
        .await?;
    }
    Ok(live.stored.destinations.len())
}

async fn append_feed(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: &str,
    team: Option<&str>,
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(tx
        .query_one(
            "INSERT INTO realtime_feed (event_id, time, kind, team, payload)
             VALUES (nextval('realtime_feed_seq'), $1, $2, $3, $4) RETURNING event_id",
            &[&now, &kind, &team, payload],
        )
        .await?
        .try_get(0)?)
}

async fn listeners_present(tx: &deadpool_postgres::Transaction<'_>) -> Result<bool> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM realtime_listeners
                            WHERE seen_at > now() - interval '2 minutes')",
            &[],
        )
        .await?
        .try_get(0)?)
}

/// One event of the live feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEvent {
    pub event_id: i64,
    pub time: DateTime<Utc>,
    /// `alert` or `samples`.
    pub kind: String,
    pub team: Option<String>,
    pub payload: Value,
}

impl Store {
    /// Feed events after `after`, oldest first, at most `limit`; and the
    /// first event still kept (a stream resuming before it missed some).
    pub async fn feed_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<FeedEvent>, Option<i64>)> {
        let client = self.client().await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&after, &limit];
        let (rows, first) = futures_util::try_join!(
            client.query(
                "SELECT event_id, time, kind, team, payload FROM realtime_feed
                 WHERE event_id > $1 ORDER BY event_id LIMIT $2",
                &params,
            ),
            client.query_one("SELECT min(event_id) FROM realtime_feed", &[]),
        )?;
        let events = rows
            .iter()
            .map(|r| {
                Ok(FeedEvent {
                    event_id: r.try_get(0)?,
                    time: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    team: r.try_get(3)?,
                    payload: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((events, first.try_get(0)?))
    }

    /// The newest feed event's number (0 when none): where a new stream
    /// without `Last-Event-ID` starts.
    pub async fn feed_head(&self) -> Result<i64> {
        let client = self.client().await?;
        Ok(client
            .query_one("SELECT coalesce(max(event_id), 0) FROM realtime_feed", &[])
            .await?
            .try_get(0)?)
    }

    /// A live stream that shows samples is open in this process: samples
    /// keep coming into the inbox while it is seen (every minute).
    pub async fn touch_listener(&self, listener_id: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO realtime_listeners (listener_id, seen_at) VALUES ($1, now())
                 ON CONFLICT (listener_id) DO UPDATE SET seen_at = now()",
                &[&listener_id],
            )
            .await?;
        Ok(())
    }

    /// A live stream that showed samples has closed: samples keep coming
    /// into the inbox for the listeners' two minutes from now, so that a
    /// client reconnecting with `Last-Event-ID` within them misses none of
    /// those committed while it was away. Listeners gone for an hour are
    /// removed.
    pub async fn release_listener(&self, listener_id: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "WITH old AS (DELETE FROM realtime_listeners
                              WHERE seen_at < now() - interval '1 hour' AND listener_id <> $1)
                 UPDATE realtime_listeners SET seen_at = now() WHERE listener_id = $1",
                &[&listener_id],
            )
            .await?;
        Ok(())
    }

    /// Removes a listener at once (samples stop coming unless another
    /// listener or an enabled rule wants them).
    pub async fn drop_listener(&self, listener_id: &str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM realtime_listeners WHERE listener_id = $1 OR seen_at < now() - interval '1 hour'",
                &[&listener_id],
            )
            .await?;
        Ok(())
    }
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery_id: i64,
    pub attempt: i32,
    pub created_at: DateTime<Utc>,
    pub idempotency_key: String,
    pub state: String,
    pub payload: Value,
    pub destination_id: String,
    pub url: String,
    pub format: DestinationFormat,
    pub secret: String,
    pub timeout_ms: i32,
    pub max_in_flight: i32,
}

/// What an attempt gave, and what comes next.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub http_status: Option<u16>,
    /// `None`: delivered.
    pub error: Option<String>,
    pub next: NextStep,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    DeadLetter,
}

/// A delivery as `GET /api/alert-deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryInfo {
    pub delivery_id: i64,
    pub rule_id: String,
    pub destination_id: String,
    pub episode_id: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub idempotency_key: String,
    /// `pending`, `delivered`, `dead` (gave up) or `cancelled` (rule deleted).
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub attempts: Vec<AttemptInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AttemptInfo {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub http_status: Option<i32>,
    /// `delivered` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
}

impl Store {
    /// The destinations with deliveries due: id, `max_in_flight`, `timeout_ms`.
    pub async fn due_destinations(&self) -> Result<Vec<(String, i32, i32)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT x.destination_id, x.max_in_flight, x.timeout_ms
                 FROM alert_destinations x
                 WHERE x.destination_id IN (
                     SELECT destination_id FROM alert_deliveries
                     WHERE status = 'pending' AND next_attempt_at <= now()
                       AND (lease_until IS NULL OR lease_until < now()))
                 ORDER BY x.destination_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Claims up to `limit` due deliveries of one destination, oldest
    /// first, for `lease`: no other sender takes them until it ends. Each
    /// claim counts as an attempt.
    pub async fn claim_deliveries(
        &self,
        destination_id: &str,
        limit: i64,
        lease: std::time::Duration,
    ) -> Result<Vec<ClaimedDelivery>> {
        let client = self.client().await?;
        let lease = format!("{} milliseconds", lease.as_millis());
        let rows = client
            .query(
                "WITH due AS (
                     SELECT delivery_id FROM alert_deliveries
                     WHERE destination_id = $3 AND status = 'pending' AND next_attempt_at <= now()
                       AND (lease_until IS NULL OR lease_until < now())
                     ORDER BY next_attempt_at, delivery_id LIMIT $1
                     FOR UPDATE SKIP LOCKED)
                 UPDATE alert_deliveries d SET attempts = d.attempts + 1,
                     lease_until = now() + $2::text::interval
                 FROM due, alert_destinations x
                 WHERE d.delivery_id = due.delivery_id AND x.destination_id = d.destination_id
                 RETURNING d.delivery_id, d.attempts, d.created_at, d.idempotency_key, d.state,
                     d.payload, x.destination_id, x.url, x.format, x.secret, x.timeout_ms,
                     x.max_in_flight",
                &[&limit, &lease, &destination_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let format: String = r.try_get("format")?;
                Ok(ClaimedDelivery {
                    delivery_id: r.try_get("delivery_id")?,
                    attempt: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                    idempotency_key: r.try_get("idempotency_key")?,
                    state: r.try_get("state")?,
                    payload: r.try_get("payload")?,
                    destination_id: r.try_get("destination_id")?,
                    url: r.try_get("url")?,
                    format: format.parse().map_err(|e| corrupt("format", e))?,
                    secret: r.try_get("secret")?,
                    timeout_ms: r.try_get("timeout_ms")?,
                    max_in_flight: r.try_get("max_in_flight")?,
                })
            })
            .collect()
    }

    /// Records an attempt and settles the delivery: delivered, due again
    /// at a time, or dead-lettered. A delivery cancelled meanwhile (its
    /// rule deleted) stays cancelled.
    pub async fn record_attempt(
        &self,
        claimed: &ClaimedDelivery,
        record: &AttemptRecord,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let outcome = if record.error.is_none() {
            "delivered"
        } else {
            "failed"
        };
        let status = record.http_status.map(i32::from);
        tx.execute(
            "INSERT INTO alert_delivery_attempts (delivery_id, attempt, started_at, duration_ms,
                 http_status, outcome, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (delivery_id, attempt) DO NOTHING",
            &[
                &claimed.delivery_id,
                &claimed.attempt,
                &record.started_at,
                &record.duration_ms,
                &status,
                &outcome,
                &record.error,
            ],
        )
        .await?;
        let (new_status, next): (&str, Option<DateTime<Utc>>) = match record.next {
            NextStep::Delivered => ("delivered", None),
            NextStep::RetryAt(at) => ("pending", Some(at)),
            NextStep::DeadLetter => ("dead", None),
        };
        tx.execute(
            "UPDATE alert_deliveries SET status = $2,
                 next_attempt_at = coalesce($3, next_attempt_at), lease_until = NULL,
                 finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END,
                 last_error = $4
             WHERE delivery_id = $1 AND status = 'pending'",
            &[&claimed.delivery_id, &new_status, &next, &record.error],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deliveries, newest first, with every attempt; of one rule and/or in
    /// one status when asked; at most `limit`.
    pub async fn list_deliveries(
        &self,
        rule_id: Option<&RuleId>,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryInfo>> {
        let client = self.client().await?;
        let rule = rule_id.map(RuleId::as_str);
        let rows = client
            .query(
                "SELECT delivery_id, rule_id, destination_id, episode_id::text AS episode_id, state,
                     idempotency_key, status, created_at,
                     CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,
                     finished_at, last_error
                 FROM alert_deliveries
                 WHERE ($1::text IS NULL OR rule_id = $1) AND ($2::text IS NULL OR status = $2)
                 ORDER BY created_at DESC, delivery_id DESC LIMIT $3",
                &[&rule, &status, &limit],
            )
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get("delivery_id")).collect();
        let attempts = client
            .query(
                "SELECT delivery_id, attempt, started_at, duration_ms, http_status, outcome, error
                 FROM alert_delivery_attempts WHERE delivery_id = ANY($1)
                 ORDER BY delivery_id, attempt",
                &[&ids],
            )
            .await?;
        let mut by_delivery: BTreeMap<i64, Vec<AttemptInfo>> = BTreeMap::new();
        for a in &attempts {
            by_delivery
                .entry(a.try_get("delivery_id")?)
                .or_default()
                .push(AttemptInfo {
                    attempt: a.try_get("attempt")?,
                    started_at: a.try_get("started_at")?,
                    duration_ms: a.try_get("duration_ms")?,
                    http_status: a.try_get("http_status")?,
                    outcome: a.try_get("outcome")?,
                    error: a.try_get("error")?,
                });
        }
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("delivery_id")?;
                Ok(DeliveryInfo {
                    delivery_id: id,
                    rule_id: r.try_get("rule_id")?,
                    destination_id: r.try_get("destination_id")?,
                    episode_id: r.try_get("episode_id")?,
                    state: r.try_get("state")?,
                    idempotency_key: r.try_get("idempotency_key")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    finished_at: r.try_get("finished_at")?,
                    last_error: r.try_get("last_error")?,
                    attempts: by_delivery.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Each (rule, employee) state of a rule that is firing now.
    pub async fn firing(&self, rule_id: &RuleId) -> Result<Vec<(String, String, f64)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT employee_id, episode_id::text, value FROM alert_states
                 WHERE rule_id = $1 AND state = 'firing' ORDER BY employee_id",
                &[&rule_id.as_str()],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }
}
