//! The built-in job types against real processes and a real HTTP server.

mod common;

use std::time::Duration;

use amboy::{Engine, JobEventKind, JobState, NewJob, WorkerOptions};
use common::{Backend, next_event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);

async fn engine(shell: bool) -> (Engine, amboy::Workers, amboy_testkit::TestDb) {
    let db = Backend::Sqlite.fresh().await;
    let engine = Engine::builder()
        .enable_shell_jobs(shell)
        .connect(&db.url)
        .await
        .unwrap();
    let workers = engine
        .start_workers(WorkerOptions::default())
        .await
        .unwrap();
    (engine, workers, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_jobs_capture_output_and_fail_on_a_non_zero_exit() {
    let (engine, workers, _db) = engine(true).await;
    let ok = engine
        .put(NewJob::from_json(
            "sh",
            "shell",
            r#"{"argv": ["sh", "-c", "echo hello $WHO"], "env": {"WHO": "amboy"}}"#,
        ))
        .await
        .unwrap();
    assert_eq!(
        engine.wait(&ok, WAIT).await.unwrap().state,
        JobState::Completed
    );
    let logs: Vec<String> = engine
        .detail(&ok)
        .await
        .unwrap()
        .logs
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert_eq!(logs, ["hello amboy"]);

    let bad = engine
        .put(
            NewJob::from_json(
                "sh",
                "shell",
                r#"{"argv": ["sh", "-c", "echo oops >&2; exit 3"]}"#,
            )
            .max_attempts(1),
        )
        .await
        .unwrap();
    let job = engine.wait(&bad, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    let error = job.last_error.unwrap();
    assert!(
        error.contains("exit status: 3") && error.contains("oops"),
        "{error}"
    );

    let missing = engine
        .put(NewJob::from_json(
            "sh",
            "shell",
            r#"{"argv": ["/no/such/program"]}"#,
        ))
        .await
        .unwrap();
    let job = engine.wait(&missing, WAIT).await.unwrap();
    assert_eq!(
        job.state,
        JobState::Failed,
        "a program that can't start is not retried"
    );
    assert!(job.last_error.unwrap().contains("cannot start"));
    workers.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_a_shell_job_kills_its_children() {
    let (engine, workers, _db) = engine(true).await;
    // A unique sleep length marks the grandchild in the process table.
    let marker = format!("987.{}", std::process::id());
    let payload =
        serde_json::json!({"argv": ["sh", "-c", format!("sleep {marker}; true")]}).to_string();
    let mut events = engine.subscribe();
    let id = engine
        .put(NewJob::from_json("sh", "shell", payload))
        .await
        .unwrap();
    next_event(&mut events, "the shell job to start", |e| {
        e.id == id && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    common::eventually("the sleep to start", WAIT, || async {
        sleeping(&marker).then_some(())
    })
    .await;
    engine.abort(&id).await.unwrap();
    let job = engine.wait(&id, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Aborted);
    common::eventually("the sleep to be killed", WAIT, || async {
        (!sleeping(&marker)).then_some(())
    })
    .await;
    workers.shutdown(WAIT).await;
}

/// Whether a live (not zombie) process runs `sleep <marker>`.
fn sleeping(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).replace('\0', " ").trim() == format!("sleep {marker}")
            && !status.contains("State:\tZ")
    })
}

/// A one-request-at-a-time HTTP server answering every request with `status`.
async fn http_server(status: u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0; 8192];
            let _ = socket.read(&mut buf).await;
            let body = if status == 200 { "" } else { "upstream broke" };
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{addr}/hook")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_jobs_check_the_status() {
    let (engine, workers, _db) = engine(false).await;
    let ok_url = http_server(200).await;
    let ok = engine
        .put(NewJob::from_json(
            "hooks",
            "http",
            serde_json::json!({"url": ok_url, "method": "post", "body": {"a": 1}}).to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(
        engine.wait(&ok, WAIT).await.unwrap().state,
        JobState::Completed
    );

    let broken_url = http_server(500).await;
    let broken = engine
        .put(
            NewJob::from_json(
                "hooks",
                "http",
                serde_json::json!({"url": broken_url, "expect_status": 200}).to_string(),
            )
            .max_attempts(1),
        )
        .await
        .unwrap();
    let job = engine.wait(&broken, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    let error = job.last_error.unwrap();
    assert!(
        error.contains("status 500")
            && error.contains("expected 200")
            && error.contains("upstream broke"),
        "{error}"
    );

    let err = engine
        .put(NewJob::from_json(
            "hooks",
            "http",
            r#"{"url": "http://x", "method": "NOT A METHOD"}"#,
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not an HTTP method"), "{err}");
    workers.shutdown(WAIT).await;
}
