//! `organism audit verify`.

use clap::Subcommand;

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; exit status 1 when it is broken.
    Verify,
}

pub async fn run(global: &GlobalArgs, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify => {
            let db = Database::open(global).await?;
            let report = db.store.verify_audit_chain().await;
            db.close().await;
            let report = report?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.ok {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
