//! `organism serve`.

use std::net::SocketAddr;

use clap::Args;
use organism_api::{ApiConfig, AppState};

use crate::config::GlobalArgs;
use crate::database::Database;
use crate::shutdown;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORGANISM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Largest request body in bytes.
    #[arg(long, env = "ORGANISM_BODY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub body_limit: usize,
}

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let db = Database::open(global).await?;
    let result = serve(&db, &args, || {}).await;
    db.close().await;
    result
}

/// Serves on `db` until a stop signal; `ready` runs once the socket listens.
pub async fn serve(db: &Database, args: &ServeArgs, ready: impl FnOnce()) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
    let state = AppState::new(
        db.store.clone(),
        ApiConfig {
            body_limit: args.body_limit,
        },
    );
    tracing::info!(addr = %listener.local_addr()?, engine = %db.store.engine(), "serving");
    ready();
    organism_api::serve(listener, state, shutdown::signal()).await?;
    Ok(())
}
