//! `organism demo`: the embedded default, a synthetic organisation, serve.

use std::time::Instant;

use chrono::{Duration, Utc};
use clap::Args;
use futures_util::stream::{self, StreamExt};
use organism_domain::{Actor, InterventionId, InterventionKind, InterventionStatus};
use organism_store::Store;
use organism_store::interventions::{NewIntervention, StatusChange};
use serde_json::json;

use super::serve::{Prepared, ServeArgs, prepare, serve};
use crate::check;
use crate::config::GlobalArgs;
use crate::database::Database;
use crate::synth::{OrgSpec, SyntheticOrg};

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Employees in the synthetic organisation (at least 1).
    #[arg(long, default_value_t = 500)]
    pub employees: usize,
    /// Days of history (at least 1).
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Minutes between an employee's samples (1 to 1440).
    #[arg(long, default_value_t = 15)]
    pub interval_minutes: u32,
    /// Random seed of the organisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Drop the existing data (the whole schema) and generate it again.
    #[arg(long)]
    pub fresh: bool,
    /// Generate the data, print an admin key and exit without serving.
    #[arg(long)]
    pub no_serve: bool,
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<()> {
    // Every flag is checked, and the socket bound, before the database is
    // opened: a mistake starts (or creates) no embedded cluster.
    check::at_least_one("--employees", args.employees as u64)?;
    check::at_least_one("--days", args.days)?;
    if !(1..=1440).contains(&args.interval_minutes) {
        anyhow::bail!(
            "--interval-minutes must be from 1 to 1440 (a day), got {}; nothing was started",
            args.interval_minutes
        );
    }
    let prepared = if args.no_serve {
        None
    } else {
        Some(prepare(&args.serve).await?)
    };
    let db = Database::open(global).await?;
    let result = demo(global, &db, &args, prepared).await;
    db.close().await;
    result
}

async fn demo(
    global: &GlobalArgs,
    db: &Database,
    args: &DemoArgs,
    prepared: Option<Prepared>,
) -> anyhow::Result<()> {
    let store = &db.store;
    if args.fresh {
        store.drop_schema().await?;
        // Re-create the schema on the same pool.
        let reopened = Store::open(store.settings().clone()).await?;
        reopened.close();
    }
    let existing = store
        .recent_samples(Duration::days(36_500), Utc::now())
        .await?;
    if existing > 0 {
        println!(
            "Reusing the {existing} samples already stored (run with --fresh to generate them again)."
        );
    } else {
        let started = Instant::now();
        let org = SyntheticOrg::new(OrgSpec {
            employees: args.employees,
            days: args.days,
            interval: Duration::minutes(i64::from(args.interval_minutes)),
            seed: args.seed,
            end: Utc::now(),
        })?;
        let teams: std::collections::BTreeSet<_> =
            org.employees.iter().map(|e| e.team.clone()).collect();
        println!(
            "Generating {} employees in {} teams, {} days every {} minutes ({} samples)…",
            org.employees.len(),
            teams.len(),
            args.days,
            args.interval_minutes,
            org.employees.len() * org.samples_per_day() * args.days as usize
        );
        let written = generate(store, &org).await?;
        let interventions = record_interventions(store, &org).await?.len();
        let secs = started.elapsed().as_secs_f64();
        println!(
            "Wrote {written} samples and {interventions} interventions in {secs:.1} s ({:.0} samples/s).",
            written as f64 / secs
        );
        let started = std::time::Instant::now();
        let report = store.refresh_rollup(Utc::now()).await?;
        // On timescale the writes already refreshed their hours and the
        // refresh counts no rows.
        let rows = match report.rows_written {
            0 => String::new(),
            n => format!(" ({n} employee-hours written by this refresh)"),
        };
        println!(
            "Hourly rollup materialised up to {} in {:.1} s{rows}.",
            report.watermark.to_rfc3339(),
            started.elapsed().as_secs_f64(),
        );
    }
    // A fresh admin key each run: keys are shown once and stored hashed, so
    // an earlier run's key cannot be printed again.
    let admin = store
        .create_api_key(organism_domain::Role::Admin, &[], "organism demo")
        .await?;
    println!("admin API key: {}", admin.key);
    let Some(prepared) = prepared else {
        return Ok(());
    };
    let addr = args.serve.bind;
    let base = format!("http://{addr}");
    serve(db, prepared, move || {
        println!(
            "\nOrganism Trends demo is up ({} engine, data in {}).",
            store.engine(),
            global.data_dir.display()
        );
        println!("Open {base}/ for the dashboard (paste the key there), or try:");
        println!("  KEY={}", admin.key);
        for path in [
            "/api/trends/health",
            "/api/trends/burnout-alerts?threshold=70&days=7",
            "/api/trends/employee/emp_00001?days=7",
            "/api/trends/employee/emp_00001?days=90&use_hourly=true",
            "/api/trends/statistics/burnout_score?days=30",
            "/api/interventions?status=active",
            "/api/audit?limit=5",
            "/api/openapi.json",
        ] {
            println!("  curl -H \"Authorization: Bearer $KEY\" '{base}{path}'");
        }
        println!("Press Ctrl-C to stop.");
    })
    .await
}

/// Writes every day of the organisation, two days at a time in parallel
/// (one per core), each day one all-or-nothing batch.
async fn generate(store: &Store, org: &SyntheticOrg) -> anyhow::Result<usize> {
    let days: Vec<u32> = (0..=org.spec.days).collect();
    let progress = indicatif::ProgressBar::new(days.len() as u64);
    progress.set_style(indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} days {msg}",
    )?);
    let mut written = 0usize;
    let mut results = stream::iter(days)
        .map(|day| {
            let org = org.clone();
            let store = store.clone();
            async move {
                let samples = tokio::task::spawn_blocking(move || org.day(day)).await?;
                let summary = store.write_batch(&samples).await?;
                anyhow::Ok(summary.stored)
            }
        })
        .buffer_unordered(2);
    while let Some(result) = results.next().await {
        written += result?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(written)
}

/// One intervention per drifting employee whose drift has peaked: created,
/// approved and activated; completed once the recovery is well under way.
/// A few more are left proposed or cancelled, so every status shows.
/// Returns the ids of the interventions recorded.
pub(crate) async fn record_interventions(
    store: &Store,
    org: &SyntheticOrg,
) -> anyhow::Result<Vec<InterventionId>> {
    let elapsed_days = (Utc::now() - org.start()).num_seconds() as f64 / 86_400.0;
    let mut recorded = Vec::new();
    for (i, e) in org.employees.iter().enumerate() {
        let Some(drift) = e.drift else { continue };
        if drift.intervention_day > elapsed_days {
            continue;
        }
        let manager = Actor::parse(format!(
            "manager@{}",
            e.team.as_str().to_lowercase().replace(' ', "-")
        ))?;
        let id = InterventionId::parse(format!("iv-{}", e.id))?;
        store
            .create_intervention(NewIntervention {
                intervention_id: Some(id.clone()),
                kind: InterventionKind::parse(if i % 2 == 0 {
                    "workload_rebalance"
                } else {
                    "one_on_one"
                })?,
                target_employee_id: Some(e.id.clone()),
                details: json!({"team": e.team, "reason": "burnout score rising for weeks"}),
                actor: manager.clone(),
            })
            .await?;
        // Recorded now, after the fact: each change says when it took
        // effect (approved a day before the synthetic intervention day,
        // active on it, completed ten days later), so that the effect
        // analysis starts where the data changes.
        let at = |day: f64| org.start() + chrono::Duration::seconds((day * 86_400.0) as i64);
        let mut path = vec![
            (
                InterventionStatus::Approved,
                at(drift.intervention_day - 1.0),
            ),
            (InterventionStatus::Active, at(drift.intervention_day)),
        ];
        if elapsed_days - drift.intervention_day > 10.0 {
            path.push((
                InterventionStatus::Completed,
                at(drift.intervention_day + 10.0),
            ));
        }
        for (to, effective_at) in path {
            store
                .change_status(
                    &id,
                    StatusChange {
                        to,
                        actor: Actor::parse("hr-partner@example.org")?,
                        details: json!({}),
                        effective_at: Some(effective_at),
                    },
                )
                .await?;
        }
        recorded.push(id);
    }
    for (n, to) in [(1, None), (2, Some(InterventionStatus::Cancelled))] {
        let Some(e) = org.employees.get(n * 7) else {
            continue;
        };
        let id = InterventionId::parse(format!("iv-team-check-{n}"))?;
        store
            .create_intervention(NewIntervention {
                intervention_id: Some(id.clone()),
                kind: InterventionKind::parse("team_retrospective")?,
                target_employee_id: None,
                details: json!({"team": e.team}),
                actor: Actor::parse("people-analytics@example.org")?,
            })
            .await?;
        if let Some(to) = to {
            store
                .change_status(
                    &id,
                    StatusChange {
                        to,
                        actor: Actor::parse("people-analytics@example.org")?,
                        details: json!({"reason": "merged into the quarterly review"}),
                        effective_at: None,
                    },
                )
                .await?;
        }
        recorded.push(id);
    }
    Ok(recorded)
}
