//! `organism audit verify | keygen | checkpoint`, and the checkpoints
//! `organism serve` writes.
//!
//! The signing key and the checkpoints live in files, outside the database:
//! that is the point. A database superuser can rewrite the log and every
//! hash in it, but not a checkpoint signed with a key they do not hold, kept
//! where they cannot write.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use organism_store::Store;
use organism_store::audit::ChainReport;
use organism_store::audit::checkpoint::{ChainHead, Checkpoint, PublicKey, SigningKey};
use tracing::Instrument;

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log: every hash recomputed here, links, numbering,
    /// times, and each intervention replayed against its row; with
    /// --checkpoint, also that the log extends the signed one. Exit status 1
    /// when anything is wrong.
    Verify(VerifyArgs),
    /// Create an Ed25519 signing key for checkpoints (file mode 0600, never
    /// overwritten); prints its public key.
    Keygen {
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify the log, then print a checkpoint of its head signed with the
    /// key (exit status 1, and no checkpoint, when the log is broken).
    Checkpoint {
        /// The key file `organism audit keygen` wrote.
        #[arg(long, env = "ORGANISM_AUDIT_SIGNING_KEY")]
        signing_key: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A checkpoint file the log must extend.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// The public key that must have signed the checkpoint: 64 hex digits,
    /// or a file holding them. Without it the checkpoint's own key is used,
    /// which proves the file intact but not who signed it.
    #[arg(long, requires = "checkpoint")]
    pub public_key: Option<String>,
}

pub async fn run(global: &GlobalArgs, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify(args) => verify(global, args).await,
        AuditCommand::Keygen { out } => {
            if out.exists() {
                anyhow::bail!(
                    "--out {}: exists already (an existing key is never overwritten)",
                    out.display()
                );
            }
            crate::check::writable_file("--out", &out)?;
            let key = SigningKey::generate()?;
            write_new_secret_file(&out, &key.to_file_text())?;
            println!("public key: {}", key.public_key());
            eprintln!(
                "wrote the signing key to {} (mode 0600); keep it away from the database and its administrators",
                out.display()
            );
            Ok(())
        }
        AuditCommand::Checkpoint { signing_key } => {
            let key = read_signing_key(&signing_key).context("--signing-key")?;
            let db = Database::open(global).await?;
            let head = db.store.audit_chain_head().await;
            db.close().await;
            match head? {
                Ok(head) => {
                    let checkpoint = key.sign(&head, Utc::now());
                    println!("{}", serde_json::to_string_pretty(&checkpoint)?);
                    Ok(())
                }
                Err(report) => refuse_broken(&report),
            }
        }
    }
}

async fn verify(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<()> {
    let checkpoint = args
        .checkpoint
        .as_deref()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "--checkpoint {}: cannot be read; nothing was started",
                    path.display()
                )
            })?;
            Checkpoint::parse(&text).with_context(|| format!("--checkpoint {}", path.display()))
        })
        .transpose()?;
    let trusted = args
        .public_key
        .as_deref()
        .map(read_public_key)
        .transpose()?;
    if checkpoint.is_some() && trusted.is_none() {
        eprintln!(
            "warning: no --public-key: the checkpoint is checked against the key it names, which shows it intact but not who signed it"
        );
    }
    let db = Database::open(global).await?;
    let report = db
        .store
        .verify_audit_log(checkpoint.as_ref(), trusted.as_ref())
        .await;
    db.close().await;
    let report = report?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.ok {
        std::process::exit(1);
    }
    Ok(())
}

fn refuse_broken(report: &ChainReport) -> anyhow::Result<()> {
    let problem = report
        .first_broken
        .as_ref()
        .map_or_else(String::new, |b| format!("event {}: {}", b.seq, b.problem));
    anyhow::bail!("the audit log is broken, no checkpoint signed: {problem}")
}

/// 64 hex digits, or a file holding them.
fn read_public_key(arg: &str) -> anyhow::Result<PublicKey> {
    if let Ok(key) = PublicKey::parse(arg) {
        return Ok(key);
    }
    let text = std::fs::read_to_string(arg)
        .with_context(|| format!("--public-key {arg:?} is neither a key nor a readable file"))?;
    PublicKey::parse(&text).with_context(|| format!("--public-key {arg}"))
}

fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the audit signing key is readable by others than its owner"
            );
        }
    }
    SigningKey::parse(&text).with_context(|| path.display().to_string())
}

/// Creates `path` with mode 0600; refuses to replace an existing file.
fn write_new_secret_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "creating {} (an existing key is never overwritten)",
            path.display()
        )
    })?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// `organism serve`'s checkpoint flags.
#[derive(Debug, Clone, Args)]
pub struct CheckpointArgs {
    /// Directory, outside the database, where signed audit checkpoints are
    /// written at start and then periodically (needs --audit-signing-key).
    #[arg(
        long,
        env = "ORGANISM_AUDIT_CHECKPOINT_DIR",
        requires = "audit_signing_key"
    )]
    pub audit_checkpoint_dir: Option<PathBuf>,
    /// The key file (`organism audit keygen`) checkpoints are signed with.
    #[arg(
        long,
        env = "ORGANISM_AUDIT_SIGNING_KEY",
        requires = "audit_checkpoint_dir"
    )]
    pub audit_signing_key: Option<PathBuf>,
    /// Seconds between two checkpoints.
    #[arg(
        long,
        env = "ORGANISM_AUDIT_CHECKPOINT_INTERVAL_SECS",
        default_value_t = 3600
    )]
    pub audit_checkpoint_interval_secs: u64,
}

impl CheckpointArgs {
    /// The checkpoints' settings when a directory was given, checked before
    /// anything starts: the interval, the directory (usable, created when
    /// the job starts) and the key, read now.
    pub fn check(&self) -> anyhow::Result<Option<CheckpointPlan>> {
        let (Some(dir), Some(key)) = (&self.audit_checkpoint_dir, &self.audit_signing_key) else {
            return Ok(None);
        };
        if self.audit_checkpoint_interval_secs == 0 {
            anyhow::bail!("--audit-checkpoint-interval-secs must be at least 1");
        }
        crate::check::usable_dir("--audit-checkpoint-dir", dir)?;
        let key = read_signing_key(key).context("--audit-signing-key")?;
        Ok(Some(CheckpointPlan {
            dir: dir.clone(),
            key,
            interval: Duration::from_secs(self.audit_checkpoint_interval_secs),
        }))
    }
}

/// Checked checkpoint settings, waiting for the store.
#[derive(Debug)]
pub struct CheckpointPlan {
    dir: PathBuf,
    key: SigningKey,
    interval: Duration,
}

impl CheckpointPlan {
    /// The job on `store`; its directory is made at its first run.
    pub fn job(self, store: Store) -> CheckpointJob {
        CheckpointJob {
            store,
            dir: self.dir,
            key: self.key,
            interval: self.interval,
            last: None,
        }
    }
}

/// Writes a signed checkpoint of the audit log's head into a directory.
#[derive(Debug)]
pub struct CheckpointJob {
    store: Store,
    dir: PathBuf,
    key: SigningKey,
    interval: Duration,
    /// The head of the last checkpoint written: an unchanged head is not
    /// written again.
    last: Option<ChainHead>,
}

/// What one run of the job did.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckpointRun {
    Written(PathBuf),
    Unchanged,
}

impl CheckpointJob {
    /// Verifies the log and, when it holds and its head moved, writes
    /// `checkpoint-<seq>-<time>.json` (atomically: a temporary file renamed).
    /// A broken log is an error and no checkpoint: signing it would vouch
    /// for the tampering.
    pub async fn run_once(&mut self, now: DateTime<Utc>) -> anyhow::Result<CheckpointRun> {
        let head = match self.store.audit_chain_head().await? {
            Ok(head) => head,
            Err(report) => return refuse_broken(&report).map(|()| CheckpointRun::Unchanged),
        };
        if self.last.as_ref() == Some(&head) {
            return Ok(CheckpointRun::Unchanged);
        }
        let checkpoint = self.key.sign(&head, now);
        let name = format!(
            "checkpoint-{:012}-{}.json",
            checkpoint.head_seq,
            checkpoint.time.format("%Y%m%dT%H%M%S%.6fZ")
        );
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(&name);
        let partial = self.dir.join(format!(".{name}.partial"));
        let mut file = std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        file.write_all(serde_json::to_string_pretty(&checkpoint)?.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&partial, &path)
            .with_context(|| format!("renaming to {}", path.display()))?;
        self.last = Some(head);
        Ok(CheckpointRun::Written(path))
    }

    /// Runs at start, then every interval, and a last time when `stop`
    /// says `true` (or its sender is dropped), then returns: the final
    /// checkpoint vouches for the log as the service leaves it, so that a
    /// change made while it is down shows at the next verify. A run in
    /// progress is finished, never cut.
    pub async fn run_until_stopped(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => true,
                _ = ticks.tick() => false,
            };
            self.run_logged(Utc::now()).await;
            if stopping {
                return;
            }
        }
    }

    async fn run_logged(&mut self, now: DateTime<Utc>) {
        let span = tracing::info_span!("job", name = "audit_checkpoint");
        async {
            match self.run_once(now).await {
                Ok(CheckpointRun::Written(path)) => {
                    tracing::info!(path = %path.display(), "audit checkpoint written")
                }
                Ok(CheckpointRun::Unchanged) => {
                    tracing::debug!("audit log unchanged since the last checkpoint")
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "audit checkpoint not written")
                }
            }
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use organism_domain::{Actor, InterventionId, InterventionKind};
    use organism_store::Engine;
    use organism_store::interventions::NewIntervention;

    use super::*;

    async fn create(store: &Store, id: &str) {
        store
            .create_intervention(NewIntervention {
                intervention_id: Some(InterventionId::parse(id).unwrap()),
                kind: InterventionKind::parse("one_on_one").unwrap(),
                target_employee_id: None,
                details: serde_json::json!({}),
                actor: Actor::parse("hr").unwrap(),
            })
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_job_writes_a_verifiable_checkpoint_when_the_head_moves_and_none_for_a_broken_log()
    {
        let store = organism_testkit::store(Engine::Portable).await;
        let dir = std::env::temp_dir().join(format!(
            "organism-checkpoints-{}-{}",
            std::process::id(),
            store.settings().connection.get_dbname().unwrap_or("db")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let key = SigningKey::generate().unwrap();
        let mut job = CheckpointJob {
            store: store.clone(),
            dir: dir.clone(),
            key: key.clone(),
            interval: Duration::from_secs(3600),
            last: None,
        };
        create(&store, "iv-1").await;
        let CheckpointRun::Written(path) = job.run_once(Utc::now()).await.unwrap() else {
            panic!("the first run writes a checkpoint");
        };
        assert_eq!(
            job.run_once(Utc::now()).await.unwrap(),
            CheckpointRun::Unchanged
        );
        let checkpoint = Checkpoint::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!((checkpoint.head_seq, checkpoint.event_count), (1, 1));
        let report = store
            .verify_audit_log(Some(&checkpoint), Some(&key.public_key()))
            .await
            .unwrap();
        assert!(report.ok, "{report:?}");

        create(&store, "iv-2").await;
        let CheckpointRun::Written(second) = job.run_once(Utc::now()).await.unwrap() else {
            panic!("a moved head is written");
        };
        assert_ne!(second, path);

        let su = organism_testkit::superuser(store.settings(), &store.settings().schema).await;
        su.batch_execute(
            "UPDATE interventions SET status = 'completed' WHERE intervention_id = 'iv-1'",
        )
        .await
        .unwrap();
        create(&store, "iv-3").await;
        let err = job.run_once(Utc::now()).await.unwrap_err();
        assert!(format!("{err:#}").contains("iv-1"), "{err:#}");
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 2, "no checkpoint of a broken log");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
