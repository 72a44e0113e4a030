//! `amboy serve` end to end in-process: a real listener on port 0, a real
//! SQLite file, real workers; stopped through its shutdown token.

use std::time::Duration;

use amboy::{Engine, JobEventKind, JobState, NewJob};
use amboy_server::api::stream::StreamMessage;
use amboy_server::config::WorkerConfig;
use futures::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

struct App {
    base: String,
    engine: Engine,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> App {
    spawn_app_with(amboy_server::api::auth::Auth::new(&[], &[])).await
}

async fn spawn_app_with(auth: amboy_server::api::auth::Auth) -> App {
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
        auth,
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
    // The page shows the engine's latest per-second snapshot: the queue
    // appears within a second or two.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = reqwest::get(format!("{}/", app.base)).await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        if html.contains("reports") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue is missing from the SSR page:\n{html}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// The next text message on the stream, decoded.
async fn next_message(socket: &mut amboy_server::client::Socket) -> StreamMessage {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a stream message within 30 s")
            .expect("the stream is open")
            .expect("a websocket message");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("a stream message");
        }
    }
}

async fn stream_clients(engine: &Engine) -> String {
    let text = engine.render_metrics().await.unwrap();
    text.lines()
        .find(|line| line.starts_with("amboy_stream_clients "))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_pushes_stats_each_second_and_job_events() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let app = spawn_app_with(amboy_server::api::auth::Auth::new(
        &["viewer".into()],
        &["operator".into()],
    ))
    .await;
    let url = format!("{}/api/v1/stream", app.base.replace("http://", "ws://"));
    // Without a token the upgrade is refused.
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected a 401, got {other:?}"),
    }
    // A plain GET is told it needs a websocket, in the API's envelope.
    let plain = reqwest::Client::new()
        .get(format!("{}/api/v1/stream", app.base))
        .bearer_auth("viewer")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 426);
    let body: serde_json::Value = plain.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upgrade_required");

    // A page of another site may not open it with the viewer's credentials.
    let mut cross = url.as_str().into_client_request().unwrap();
    cross
        .headers_mut()
        .insert("authorization", "Bearer viewer".parse().unwrap());
    cross
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(cross).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    let mut request = url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer viewer".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // The latest snapshot at once, without waiting for the next second.
    assert!(matches!(
        next_message(&mut socket).await,
        StreamMessage::Stats(_)
    ));
    assert_eq!(stream_clients(&app.engine).await, "amboy_stream_clients 1");

    let id = app
        .engine
        .put(NewJob::from_json("streamed", "noop", "{}"))
        .await
        .unwrap();
    let (mut enqueued, mut completed, mut counted) = (false, false, false);
    while !(enqueued && completed && counted) {
        match next_message(&mut socket).await {
            StreamMessage::Jobs { events, dropped } => {
                assert_eq!(dropped, 0);
                for event in events.iter().filter(|e| e.id == id) {
                    assert_eq!(
                        (event.queue.as_str(), event.job_type.as_str()),
                        ("streamed", "noop")
                    );
                    match event.kind {
                        JobEventKind::Enqueued => enqueued = true,
                        JobEventKind::Finished {
                            state: JobState::Completed,
                            ..
                        } => {
                            assert!(enqueued, "events arrive in order");
                            completed = true;
                        }
                        _ => {}
                    }
                }
            }
            StreamMessage::Stats(snapshot) => {
                counted |= snapshot
                    .queues
                    .iter()
                    .any(|q| q.queue == "streamed" && q.counts[&JobState::Completed] == 1);
            }
        }
    }
    socket.close(None).await.unwrap();
    let gone = tokio::time::timeout(Duration::from_secs(30), async {
        while stream_clients(&app.engine).await != "amboy_stream_clients 0" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the closed stream is still counted");
    app.shutdown.cancel();
    app.server.await.unwrap().unwrap();
}
