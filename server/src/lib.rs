//! The `amboy` binary's library: CLI, configuration, and the HTTP server.
//!
//! `main.rs` only parses the command line and calls [`run`]. Everything is
//! here so tests can drive the same code: [`serve::serve`] takes its
//! listener and its shutdown token, so a test binds port 0 and stops it.
//!
//! Layout:
//! - [`api`]: the REST API under `/api/v1` with its OpenAPI document;
//! - [`cli`]: the command line (clap); [`client`]: its HTTP client;
//! - [`config`]: flags, environment and the optional TOML file, merged once;
//! - [`serve`]: `amboy serve` and `amboy worker` — engine, workers, router;
//! - [`metrics`]: `/metrics`, and per-request metrics and spans;
//! - [`web`]: the dashboard (Leptos SSR + hydration); [`login`]: its
//!   sign-in form;
//! - [`commands`]: `migrate`, `submit`, `jobs`, `queues`, `schedules`,
//!   `report`, `watch`;
//! - [`shutdown`]: SIGINT/SIGTERM into one cancellation token.

pub mod api;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod login;
pub mod metrics;
pub mod serve;
pub mod shutdown;
pub mod web;

use cli::{Cli, Command};
use config::Config;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.global)?;
    config::init_tracing(&config)?;
    match cli.command {
        Command::Serve(args) => serve::run_serve(&config, &args).await,
        Command::Worker(args) => serve::run_worker(&config, &args).await,
        Command::Migrate(args) => commands::migrate::run(&config, &args).await,
        Command::Submit(args) => commands::submit::run(&config, &args).await,
        Command::Jobs(args) => commands::jobs::run(&config, &args).await,
        Command::Schedules(args) => commands::schedules::run(&config, &args).await,
        Command::Queues(args) => commands::queues::run(&config, &args).await,
        Command::Report(args) => commands::report::run(&config, &args).await,
        Command::Watch(args) => commands::watch::run(&config, &args).await,
    }
}
