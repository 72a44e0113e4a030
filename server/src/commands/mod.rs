//! The one-shot commands: `migrate`, `submit`, `jobs`.
//!
//! For now they talk to the database directly; a running server is not
//! needed (a later change moves `submit` and `jobs` onto the REST API).

pub mod jobs;
pub mod migrate;
pub mod submit;

use amboy::Engine;

use crate::config::Config;

/// An engine for a one-shot command (built-in job types; shell jobs may be
/// put, since whether they run is up to the worker that claims them).
pub(crate) async fn engine(config: &Config) -> anyhow::Result<Engine> {
    crate::serve::connect(config, true).await
}
