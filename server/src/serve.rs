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

use crate::api::auth::Auth;
use crate::cli::{ServeArgs, WorkerCommandArgs};
use crate::config::{Config, WorkerConfig};
use crate::metrics::HttpMetrics;

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
    let auth = config.auth();
    refuse_public(addr, &auth, args.allow_public_without_tokens)?;
    let worker = config.worker(&args.worker);
    let engine = connect(config, worker.enable_shell_jobs).await?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let shutdown = crate::shutdown::on_signal();
    serve(engine, auth, worker, listener, shutdown).await
}

/// Runs workers and serves HTTP on `listener` until `shutdown` is cancelled,
/// then stops accepting requests and drains the workers.
pub async fn serve(
    engine: Engine,
    auth: Auth,
    worker: WorkerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let workers = start_workers(&engine, &worker).await?;
    if auth.is_open() {
        tracing::warn!(
            "no tokens configured: the API and dashboard are open to anyone who can reach \
             this address (set AMBOY_OPERATOR_TOKEN / AMBOY_VIEWER_TOKEN to require them)"
        );
    }
    let app = router(engine.clone(), auth)?;
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

/// `amboy worker`: workers (and `/metrics` when asked) until SIGINT/SIGTERM.
pub async fn run_worker(config: &Config, args: &WorkerCommandArgs) -> anyhow::Result<()> {
    let worker = config.worker(&args.worker);
    let metrics_listener = match config.metrics_listen(args)? {
        Some(addr) => {
            refuse_public(addr, &config.auth(), args.allow_public_without_tokens)?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr}"))?;
            Some(listener)
        }
        None => None,
    };
    let engine = connect(config, worker.enable_shell_jobs).await?;
    let workers = start_workers(&engine, &worker).await?;
    let shutdown = crate::shutdown::on_signal();
    let metrics_server = match metrics_listener {
        Some(listener) => {
            let app = guarded(
                probes(&engine),
                config.auth(),
                HttpMetrics::register(&engine)?,
            );
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "serving metrics on http://{addr}/metrics");
            let stop = shutdown.clone().cancelled_owned();
            Some(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }))
        }
        None => None,
    };
    tracing::info!(process = engine.process_id(), "amboy worker running");
    shutdown.cancelled().await;
    workers.shutdown(worker.shutdown_timeout).await;
    if let Some(server) = metrics_server {
        server
            .await
            .context("the metrics server panicked")?
            .context("serving metrics")?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Without tokens, only this machine may connect, unless forced.
fn refuse_public(addr: SocketAddr, auth: &Auth, forced: bool) -> anyhow::Result<()> {
    if addr.ip().is_loopback() || !auth.is_open() {
        return Ok(());
    }
    if forced {
        tracing::warn!(%addr, "listening on a public address without tokens, as forced");
        return Ok(());
    }
    anyhow::bail!(
        "refusing to listen on {addr} without tokens: set AMBOY_OPERATOR_TOKEN (and \
         AMBOY_VIEWER_TOKEN) or operator_tokens in the config file, listen on a loopback \
         address (e.g. 127.0.0.1:3000), or pass --allow-public-without-tokens"
    )
}

/// The whole HTTP surface: health checks, metrics, the API and the
/// dashboard. Call it once per engine (it registers the HTTP metrics).
pub fn router(engine: Engine, auth: Auth) -> anyhow::Result<Router> {
    let http_metrics = HttpMetrics::register(&engine)?;
    let api = crate::api::router(
        engine.clone(),
        auth.clone(),
        http_metrics.stream_clients.clone(),
    );
    let surface = probes(&engine)
        .merge(api)
        .merge(crate::web::dashboard_router(engine, auth.clone())?);
    Ok(guarded(surface, auth, http_metrics))
}

/// `/healthz`, `/readyz` and `/metrics`: all a worker serves.
fn probes(engine: &Engine) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(engine.clone())
        .merge(crate::metrics::routes(engine.clone()))
}

/// `routes` behind the access policy, counted and traced per request (the
/// outer layer, so refused requests count too).
fn guarded(routes: Router, auth: Auth, http_metrics: HttpMetrics) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(auth),
            crate::api::auth::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            crate::metrics::track,
        ))
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
    fn without_tokens_only_loopback_addresses_are_allowed() {
        let open = Auth::new(&[], &[]);
        refuse_public("127.0.0.1:3000".parse().unwrap(), &open, false).unwrap();
        refuse_public("[::1]:3000".parse().unwrap(), &open, false).unwrap();
        let err = refuse_public("0.0.0.0:3000".parse().unwrap(), &open, false).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        refuse_public("0.0.0.0:3000".parse().unwrap(), &open, true).unwrap();
        let guarded = Auth::new(&[], &["secret".into()]);
        refuse_public("0.0.0.0:3000".parse().unwrap(), &guarded, false).unwrap();
    }
}
