//! `organism keys create|list|revoke`: API keys.

use clap::{Args, Subcommand};
use organism_domain::{Role, TeamName, TeamsRule};

use crate::config::GlobalArgs;
use crate::database::Database;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print it once (only its hash is stored).
    Create(CreateArgs),
    /// List the API keys, one JSON line each (ids, roles, teams, labels;
    /// never the keys).
    List,
    /// Revoke an API key by its id; it stops working at once.
    Revoke {
        /// The key id shown by `keys create` and `keys list`.
        key_id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// reader (trends), writer (ingest), manager (noisy team aggregates of
    /// its teams only) or admin (everything).
    #[arg(long, value_parser = parse_role)]
    pub role: Role,
    /// The teams this key may see (comma-separated or repeated): optional
    /// for a reader, required for a manager, refused for the others.
    #[arg(long, value_delimiter = ',')]
    pub teams: Vec<String>,
    /// A note for `keys list` (who or what uses the key).
    #[arg(long, default_value = "")]
    pub label: String,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
        .map_err(|e: organism_domain::ValidationError| e.message)
}

pub async fn run(global: &GlobalArgs, command: KeysCommand) -> anyhow::Result<()> {
    let teams = match &command {
        KeysCommand::Create(args) => args
            .teams
            .iter()
            .map(|t| {
                TeamName::parse(t.as_str())
                    .map_err(|e| anyhow::anyhow!("--teams {t:?}: {}", e.message))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    // The role's rule on teams, before the database is opened (the store
    // checks it again).
    if let KeysCommand::Create(args) = &command {
        match (args.role.teams_rule(), teams.is_empty()) {
            (TeamsRule::Required, true) => anyhow::bail!(
                "--teams: a {} key needs the teams it may see; nothing was started",
                args.role
            ),
            (TeamsRule::Forbidden, false) => anyhow::bail!(
                "--teams: a {} key sees every team and cannot be restricted (only reader and manager keys can); nothing was started",
                args.role
            ),
            _ => {}
        }
    }
    let db = Database::open(global).await?;
    let result = async {
        match command {
            KeysCommand::Create(args) => {
                let new = db
                    .store
                    .create_api_key(args.role, &teams, &args.label)
                    .await?;
                println!("{} API key: {}", new.grant.role, new.key);
                eprintln!(
                    "key id {} ({}{}). The key is shown only now; store it safely.",
                    new.grant.key_id,
                    new.grant.role,
                    new.grant
                        .teams
                        .as_ref()
                        .map(|t| format!(", teams: {}", t.join(", ")))
                        .unwrap_or_default()
                );
            }
            KeysCommand::List => {
                for k in db.store.list_api_keys().await? {
                    println!("{}", serde_json::to_string(&k)?);
                }
            }
            KeysCommand::Revoke { key_id } => {
                db.store.revoke_api_key(&key_id).await?;
                println!("revoked {key_id}");
            }
        }
        anyhow::Ok(())
    }
    .await;
    db.close().await;
    result
}
