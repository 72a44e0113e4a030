//! `amboy migrate`: bring the schema up to date, or report whether it is.

use amboy::store::Store;
use anyhow::Context as _;

use crate::cli::MigrateArgs;
use crate::config::Config;
use crate::serve::redact;

/// Runs the command.
pub async fn run(config: &Config, args: &MigrateArgs) -> anyhow::Result<()> {
    let url = &config.database_url;
    let store = Store::connect_without_migrating(url, &config.store)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    if store.migrations_current().await? {
        println!("schema is up to date");
        return Ok(());
    }
    if args.status {
        println!("migrations are pending; run `amboy migrate`");
        std::process::exit(3);
    }
    store.migrate().await.context("migrating")?;
    println!("schema migrated");
    Ok(())
}
