//! `amboy serve` end to end in-process: a real listener on port 0, a real
//! SQLite file, real workers; stopped through its shutdown token.

use std::time::Duration;

use amboy::{Engine, JobState, NewJob};
use amboy_server::config::WorkerConfig;
use tokio_util::sync::CancellationToken;

struct App {
    base: String,
    engine: Engine,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("amboy.db").display()
    );
    let engine = Engine::connect(&url).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let worker = WorkerConfig {
        queues: None,
        enable_shell_jobs: false,
        shutdown_timeout: Duration::from_millis(200),
    };
    let server = tokio::spawn(amboy_server::serve::serve(
        engine.clone(),
        amboy_server::api::auth::Auth::new(&[], &[]),
        worker,
        listener,
        shutdown.clone(),
    ));
    App {
        base,
        engine,
        shutdown,
        server,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready");
    app.shutdown.cancel();
    app.server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_renders_counts_server_side_and_workers_run_jobs() {
    let app = spawn_app().await;
    let id = app
        .engine
        .put(NewJob::from_json("reports", "noop", "{}"))
        .await
        .unwrap();
    let job = app.engine.wait(&id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(job.state, JobState::Completed);
    let page = reqwest::get(format!("{}/", app.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("reports"),
        "the queue is missing from the SSR page:\n{html}"
    );
    let missing = reqwest::get(format!("{}/no-such-page", app.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.shutdown.cancel();
    app.server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_hands_back_running_jobs() {
    let app = spawn_app().await;
    let mut events = app.engine.subscribe();
    let id = app
        .engine
        .put(NewJob::from_json("long", "sleep", r#"{"ms": 600000}"#))
        .await
        .unwrap();
    loop {
        if let amboy::Event::Job(e) = events.recv().await.unwrap()
            && e.id == id
            && matches!(e.kind, amboy::JobEventKind::Started { .. })
        {
            break;
        }
    }
    app.shutdown.cancel();
    app.server.await.unwrap().unwrap();
    // The sleep job notices the cancellation; the run is handed back, not lost or stuck.
    let job = app.engine.get(&id).await.unwrap();
    assert_eq!((job.state, job.attempt), (JobState::Pending, 0));
}
