//! `amboy serve` (engine + dashboard) and `amboy worker` (engine only).

use std::net::SocketAddr;

use amboy::{Engine, WorkerOptions, Workers};
use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{ServeArgs, WorkerArgs};
use crate::config::{Config, WorkerConfig};

/// Connects the engine as configured (migrating the schema).
pub async fn connect(config: &Config, enable_shell_jobs: bool) -> anyhow::Result<Engine> {
    Engine::builder()
        .enable_shell_jobs(enable_shell_jobs)
        .postgres_pool(config.store.postgres_pool)
        .connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&config.database_url)))
}

/// Hides a password in a database URL before it is shown.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn start_workers(engine: &Engine, worker: &WorkerConfig) -> anyhow::Result<Workers> {
    engine
        .start_workers(WorkerOptions {
            queues: worker.queues.clone(),
            ..WorkerOptions::default()
        })
        .await
        .context("starting workers")
}

/// `amboy serve`: workers and the HTTP server until SIGINT/SIGTERM.
pub async fn run_serve(config: &Config, args: &ServeArgs) -> anyhow::Result<()> {
    let addr = config.listen(args)?;
    refuse_public(addr)?;
    let worker = config.worker(&args.worker);
    let engine = connect(config, worker.enable_shell_jobs).await?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let shutdown = crate::shutdown::on_signal();
    serve(engine, worker, listener, shutdown).await
}

/// Runs workers and serves HTTP on `listener` until `shutdown` is cancelled,
/// then stops accepting requests and drains the workers.
pub async fn serve(
    engine: Engine,
    worker: WorkerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let workers = start_workers(&engine, &worker).await?;
    let app = router(engine.clone())?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, process = engine.process_id(), "amboy serving on http://{addr}");
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving HTTP");
    workers.shutdown(worker.shutdown_timeout).await;
    tracing::info!("stopped");
    server
}

/// `amboy worker`: workers only, until SIGINT/SIGTERM.
pub async fn run_worker(config: &Config, args: &WorkerArgs) -> anyhow::Result<()> {
    let worker = config.worker(args);
    let engine = connect(config, worker.enable_shell_jobs).await?;
    let workers = start_workers(&engine, &worker).await?;
    tracing::info!(process = engine.process_id(), "amboy worker running");
    crate::shutdown::on_signal().cancelled().await;
    workers.shutdown(worker.shutdown_timeout).await;
    tracing::info!("stopped");
    Ok(())
}

/// Until the API has authentication, only this machine may connect.
fn refuse_public(addr: SocketAddr) -> anyhow::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to listen on {addr}: amboy has no authentication yet, so it only \
         listens on a loopback address (e.g. 127.0.0.1:3000)"
    )
}

/// The whole HTTP surface: health checks and the dashboard.
pub fn router(engine: Engine) -> anyhow::Result<Router> {
    let health = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(engine.clone());
    Ok(health.merge(crate::web::dashboard_router(engine)?))
}

/// Ready when the database answers and the schema is current.
async fn readyz(State(engine): State<Engine>) -> (StatusCode, String) {
    match engine.migrations_current().await {
        Ok(true) => (StatusCode::OK, "ready".to_owned()),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "migrations pending".to_owned(),
        ),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unreachable".to_owned(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://amboy:secret@db:5432/amboy"),
            "postgres://amboy:***@db:5432/amboy"
        );
        assert_eq!(
            redact("postgres://amboy@db/amboy"),
            "postgres://amboy@db/amboy"
        );
        assert_eq!(
            redact("sqlite://amboy.db?mode=rwc"),
            "sqlite://amboy.db?mode=rwc"
        );
    }

    #[test]
    fn only_loopback_addresses_are_allowed() {
        refuse_public("127.0.0.1:3000".parse().unwrap()).unwrap();
        refuse_public("[::1]:3000".parse().unwrap()).unwrap();
        let err = refuse_public("0.0.0.0:3000".parse().unwrap()).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
