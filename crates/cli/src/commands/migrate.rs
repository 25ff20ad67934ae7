//! `organism migrate`.

use crate::config::GlobalArgs;
use crate::database::Database;

pub async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    let db = Database::open(global).await?;
    let version = db.store.schema_version().await?;
    println!(
        "schema {} is at version {version} ({} engine)",
        global.schema,
        db.store.engine()
    );
    db.close().await;
    Ok(())
}
