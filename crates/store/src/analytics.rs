//! The reads of the analytics (issue 17): daily means from the rollups,
//! never raw scans of a whole window, and an intervention's timeline from
//! its audit events. The computations are in `organism-analytics`; the
//! privacy rules are applied by the caller (the API), which passes the
//! reader's team restriction down.

use chrono::{DateTime, NaiveDate, Utc};
use organism_domain::{EmployeeId, InterventionId, TeamName};
use serde::Serialize;

use crate::interventions::Intervention;
use crate::queries::per_metric;
use crate::{Result, Store, StoreError};

/// One employee's means of one UTC day (in one team, where the read is by
/// team), in `MetricName::ALL` order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberDay {
    pub day: NaiveDate,
    pub employee_id: String,
    pub team: Option<String>,
    pub samples: i64,
    pub means: [f64; 4],
}

fn member_day(row: &tokio_postgres::Row, team: Option<String>) -> MemberDay {
    let samples: i64 = row.get("samples");
    let mean = |i: usize| row.get::<_, f64>(4 + i) / samples as f64;
    MemberDay {
        day: row.get("day"),
        employee_id: row.get("employee_id"),
        team,
        samples,
        means: [mean(0), mean(1), mean(2), mean(3)],
    }
}

/// One team's day for the overview: distinct members and average burnout.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamDayBurnout {
    pub team: String,
    pub day: NaiveDate,
    pub members: i64,
    pub burnout_score: f64,
}

/// When an intervention took effect and stopped, from its audit events.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub intervention: Intervention,
    /// When it became active: the activation's `effective_at`, or the
    /// event's own time; `None` if it never did.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it stopped being active (completed, rolled back or cancelled
    /// after activation), the same way.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Employee `employee`'s daily means in [`lo`, `hi`) (whole days), from
    /// the member-days (migration 12's `employee_member_days`, real-time
    /// hours included); restricted to the hours of `teams` when given.
    pub async fn employee_days(
        &self,
        employee: &EmployeeId,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
        teams: Option<&[String]>,
    ) -> Result<Vec<MemberDay>> {
        let sql = format!(
            "SELECT (bucket AT TIME ZONE 'UTC')::date AS day,
                    employee_id, NULL::text AS team, sum(samples)::bigint AS samples, {sums}
             FROM employee_member_days($1, $2, $3)
             WHERE $4::text[] IS NULL OR team = ANY($4::text[])
             GROUP BY 1, 2 ORDER BY 1",
            sums = per_metric(|c| format!("sum({c}_sum) AS {c}")),
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&statement, &[&employee.as_str(), &lo, &hi, &teams])
            .await?;
        Ok(rows.iter().map(|r| member_day(r, None)).collect())
    }

    /// Team `team`'s member-days in [`lo`, `hi`): each member's daily means
    /// over the hours it spent in the team.
    pub async fn team_member_days(
        &self,
        team: &TeamName,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
    ) -> Result<Vec<MemberDay>> {
        let sql = format!(
            "SELECT (bucket AT TIME ZONE 'UTC')::date AS day, employee_id, NULL::text AS team,
                    sum(samples)::bigint AS samples, {sums}
             FROM team_member_days_read($1, $2, $3)
             GROUP BY 1, 2 ORDER BY 2, 1",
            sums = per_metric(|c| format!("sum({c}_sum) AS {c}")),
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client
            .query(&statement, &[&team.as_str(), &lo, &hi])
            .await?;
        Ok(rows
            .iter()
            .map(|r| member_day(r, Some(team.to_string())))
            .collect())
    }

    /// Every employee's daily means in [`lo`, `hi`), per team it was in
    /// that day (migration 12's `member_days`), only of `teams` when given.
    pub async fn member_days(
        &self,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
        teams: Option<&[String]>,
    ) -> Result<Vec<MemberDay>> {
        let sql = format!(
            "SELECT (bucket AT TIME ZONE 'UTC')::date AS day, employee_id, team,
                    sum(samples)::bigint AS samples, {sums}
             FROM member_days($1, $2)
             WHERE $3::text[] IS NULL OR team = ANY($3::text[])
             GROUP BY 1, 2, 3 ORDER BY 2, 1, 3",
            sums = per_metric(|c| format!("sum({c}_sum) AS {c}")),
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &[&lo, &hi, &teams]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let team: Option<String> = r.get("team");
                member_day(r, team)
            })
            .collect())
    }

    /// Every team's days in [`lo`, `hi`) (only of `teams` when given):
    /// distinct members and the average burnout over the team's samples,
    /// aggregated in the database. Ordered by team, then day.
    pub async fn team_days_overview(
        &self,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
        teams: Option<&[String]>,
    ) -> Result<Vec<TeamDayBurnout>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT team, (bucket AT TIME ZONE 'UTC')::date AS day,
                        count(DISTINCT employee_id) AS members,
                        sum(burnout_score_sum) / sum(samples) AS burnout_score
                 FROM member_days($1, $2)
                 WHERE team IS NOT NULL AND ($3::text[] IS NULL OR team = ANY($3::text[]))
                 GROUP BY 1, 2 ORDER BY 1, 2",
            )
            .await?;
        let rows = client.query(&statement, &[&lo, &hi, &teams]).await?;
        Ok(rows
            .iter()
            .map(|r| TeamDayBurnout {
                team: r.get(0),
                day: r.get(1),
                members: r.get(2),
                burnout_score: r.get(3),
            })
            .collect())
    }

    /// The team employee `employee` was in at its last hour before `at`
    /// (within the 14 days before it), if any.
    pub async fn team_at(
        &self,
        employee: &EmployeeId,
        at: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT employee_team_at($1, $2)")
            .await?;
        let row = client
            .query_one(&statement, &[&employee.as_str(), &at])
            .await?;
        Ok(row.get(0))
    }

    /// An intervention with when it became active and when it stopped.
    pub async fn intervention_timeline(&self, id: &InterventionId) -> Result<Timeline> {
        let intervention = self.intervention(id).await?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT action, COALESCE((details->>'effective_at')::timestamptz, time)
                 FROM intervention_audit_log WHERE intervention_id = $1 ORDER BY seq",
            )
            .await?;
        let rows = client.query(&statement, &[&id.as_str()]).await?;
        let mut activated_at = None;
        let mut ended_at = None;
        for row in rows {
            let action: String = row.get(0);
            let at: DateTime<Utc> = row.get(1);
            match action.as_str() {
                "activated" => activated_at = Some(at),
                "completed" | "rolled_back" | "cancelled" if activated_at.is_some() => {
                    ended_at = Some(at)
                }
                _ => {}
            }
        }
        Ok(Timeline {
            intervention,
            activated_at,
            ended_at,
        })
    }

    /// The employees targeted by another intervention than `except` that
    /// may have acted in [`lo`, `hi`): created before `hi` and, if final,
    /// last changed at or after `lo`.
    pub async fn employees_targeted_between(
        &self,
        lo: DateTime<Utc>,
        hi: DateTime<Utc>,
        except: &InterventionId,
    ) -> Result<Vec<String>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT DISTINCT target_employee_id FROM interventions
                 WHERE target_employee_id IS NOT NULL AND intervention_id <> $3
                   AND created_at < $2
                   AND (status IN ('proposed', 'approved', 'active') OR updated_at >= $1)",
            )
            .await?;
        let rows = client
            .query(&statement, &[&lo, &hi, &except.as_str()])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// [`StoreError::NotFound`] unless the team has data.
    pub async fn ensure_team_known(&self, team: &TeamName) -> Result<()> {
        let client = self.client().await?;
        let known: bool = client
            .query_one("SELECT team_known($1)", &[&team.as_str()])
            .await?
            .get(0);
        if known {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                what: "team",
                id: team.to_string(),
            })
        }
    }

    /// The kept answer under `key` if it is still current, with what
    /// [`Store::keep_analytics_answer`] needs: the generation now, and
    /// whether an answer whose window ends at `window_end` may be kept at
    /// all (only once the database's clock is a minute past that end, so
    /// that a write of the window's last day that judged it "today" has
    /// committed; see migration 13).
    pub async fn kept_analytics_answer(
        &self,
        key: &str,
        window_end: DateTime<Utc>,
    ) -> Result<KeptAnswer> {
        let key = answer_key(key);
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT g.generation,
                        clock_timestamp() >= $2::timestamptz + interval '1 minute',
                        a.answer
                 FROM analytics_generation g
                 LEFT JOIN analytics_answers a ON a.key = $1 AND a.generation = g.generation",
            )
            .await?;
        let row = client.query_one(&statement, &[&key, &window_end]).await?;
        Ok(KeptAnswer {
            generation: row.get(0),
            keepable: row.get(1),
            answer: row.get(2),
        })
    }

    /// Keeps `answer` under `key` as computed at `generation` (read before
    /// the computation began), and forgets answers of older generations or
    /// of windows that ended more than a day before this one.
    pub async fn keep_analytics_answer(
        &self,
        key: &str,
        generation: i64,
        window_end: DateTime<Utc>,
        answer: &str,
    ) -> Result<()> {
        let key = answer_key(key);
        let client = self.client().await?;
        let (keep, forget) = futures_util::try_join!(
            client.prepare_cached(
                "INSERT INTO analytics_answers (key, generation, window_end, answer)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE
                 SET generation = EXCLUDED.generation, window_end = EXCLUDED.window_end,
                     answer = EXCLUDED.answer, computed_at = now()
                 WHERE analytics_answers.generation <= EXCLUDED.generation",
            ),
            client.prepare_cached(
                "DELETE FROM analytics_answers
                 WHERE generation < $1 OR window_end < $2::timestamptz - interval '1 day'",
            ),
        )?;
        client
            .execute(&keep, &[&key, &generation, &window_end, &answer])
            .await?;
        client.execute(&forget, &[&generation, &window_end]).await?;
        Ok(())
    }
}

/// The stored key of a kept answer: the SHA-256 of the caller's key (which
/// may list many teams, longer than an index entry may be).
fn answer_key(key: &str) -> String {
    crate::schema::checksum(key)
}

/// What [`Store::kept_analytics_answer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAnswer {
    /// The generation of the data now.
    pub generation: i64,
    /// Whether an answer of this window may be kept.
    pub keepable: bool,
    /// The kept answer, when there is one of this generation.
    pub answer: Option<String>,
}

/// The statement every write runs last before its commit (migration 13):
/// one more generation when the write touched a day before the database's
/// UTC today, since kept analytics answers cover past days only. `$1` is
/// the earliest day written. On a write of today only it locks nothing.
pub(crate) const BUMP_GENERATION: &str = "UPDATE analytics_generation
     SET generation = generation + 1
     WHERE $1::date < (clock_timestamp() AT TIME ZONE 'UTC')::date";
