//! The one-shot commands: `migrate`, `submit`, `jobs`.
//!
//! For now they talk to the database directly; a running server is not
//! needed (a later change moves `submit` and `jobs` onto the REST API).

pub mod jobs;
pub mod migrate;
pub mod submit;

use amboy::Engine;
use anyhow::Context as _;

use crate::config::Config;
use crate::serve::redact;

/// An engine for a one-shot command (built-in job types; shell jobs allowed
/// to be put, since whether they run is up to the worker that claims them).
pub(crate) async fn engine(config: &Config) -> anyhow::Result<Engine> {
    Engine::builder()
        .enable_shell_jobs(true)
        .connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&config.database_url)))
}
