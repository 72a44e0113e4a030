//! The dashboard router driven in-process with `oneshot`: the server-rendered
//! overview, the `queue_counts` server function, the static-file fallback and
//! the 404 page. The browser half is covered by `end2end/`.

use amboy::{Engine, JobState, NewJob};
use amboy_app::counts::CountsTable;
use amboy_server::api::auth::Auth;
use amboy_server::web::dashboard_router;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

/// A fresh engine on a private in-memory database, with no workers running,
/// so submitted jobs stay pending.
async fn engine() -> Engine {
    Engine::connect("sqlite::memory:")
        .await
        .expect("an in-memory engine starts")
}

async fn send(router: Router, request: Request<Body>) -> (StatusCode, String) {
    let response = router.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body is readable");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The text of the first cell marked `data-state="{state}"` in `html`.
fn cell<'a>(html: &'a str, state: &str) -> Option<&'a str> {
    let marker = format!("data-state=\"{state}\"");
    let rest = &html[html.find(&marker)? + marker.len()..];
    let text = &rest[rest.find('>')? + 1..];
    Some(&text[..text.find('<')?])
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .body(Body::empty())
        .expect("a valid request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_engine_renders_the_empty_state() {
    let router =
        dashboard_router(engine().await, Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"no-queues\""), "{html}");
    assert!(html.contains("data-hydrated=\"false\""), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_is_rendered_with_the_counts() {
    let engine = engine().await;
    for _ in 0..2 {
        engine
            .put(NewJob::from_json("dash", "noop", "{}"))
            .await
            .expect("a noop job is accepted");
    }
    let router =
        dashboard_router(engine, Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-queue=\"dash\""), "{html}");
    assert_eq!(cell(&html, "pending"), Some("2"), "{html}");
    assert_eq!(cell(&html, "completed"), Some("0"), "{html}");
    assert_eq!(cell(&html, "total"), Some("2"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counts_server_function_answers_with_the_table() {
    let engine = engine().await;
    engine
        .put(NewJob::from_json("fn-queue", "noop", "{}"))
        .await
        .expect("a noop job is accepted");
    let router =
        dashboard_router(engine, Auth::new(&[], &[])).expect("the dashboard router builds");
    let request = Request::post("/fn/queue_counts")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::empty())
        .expect("a valid request");
    let (status, body) = send(router, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let table: CountsTable = serde_json::from_str(&body).expect("the answer is a counts table");
    let states: Vec<String> = JobState::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(table.states, states);
    let row = table
        .queues
        .iter()
        .find(|row| row.queue == "fn-queue")
        .expect("the queue has a row");
    assert_eq!(row.total(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_path_gets_the_404_page() {
    let router =
        dashboard_router(engine().await, Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router, get("/no/such/page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_errors_page_groups_failed_attempts() {
    let engine = engine().await;
    let router =
        dashboard_router(engine.clone(), Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router.clone(), get("/errors")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Errors</h1>"), "{html}");
    assert!(html.contains("data-testid=\"no-errors\""), "{html}");

    // Two jobs that fail the same way, run to the end.
    let workers = engine
        .start_workers(amboy::WorkerOptions::default())
        .await
        .expect("workers start");
    for _ in 0..2 {
        let id = engine
            .put(
                NewJob::from_json(
                    "broken",
                    "http",
                    r#"{"url": "http://127.0.0.1:1/", "timeout_ms": 1000}"#,
                )
                .max_attempts(1),
            )
            .await
            .expect("an http job is accepted");
        let job = engine
            .wait(&id, std::time::Duration::from_secs(30))
            .await
            .expect("the job ends");
        assert_eq!(job.state, JobState::Failed);
    }
    workers.shutdown(std::time::Duration::from_secs(5)).await;
    let (status, html) = send(router, get("/errors")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-job-type=\"http\""), "{html}");
    assert!(
        html.contains(">2</td>"),
        "two attempts in one group: {html}"
    );
}

fn form(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_pages_show_and_change_queues() {
    let engine = engine().await;
    engine
        .put(NewJob::from_json("mail", "noop", "{}"))
        .await
        .expect("a noop job is accepted");
    let router =
        dashboard_router(engine.clone(), Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router.clone(), get("/queues")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"queue-list\""), "{html}");
    assert!(html.contains("href=\"/queues/mail\""), "{html}");
    let (status, html) = send(router.clone(), get("/queues/mail")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cell(&html, "pending"), Some("1"), "{html}");
    assert!(html.contains("name=\"concurrency\""), "{html}");

    let (status, body) = send(
        router.clone(),
        form("/fn/op/pause_queue", "name=mail&paused=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(engine.queue("mail").await.unwrap().settings.paused);

    let (status, body) = send(
        router.clone(),
        form(
            "/fn/op/queue_settings",
            "name=mail&concurrency=3&rate_limit=2.5&retention_max_jobs=&retention_max_age=12h",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settings = engine.queue("mail").await.unwrap().settings;
    assert_eq!(
        (
            settings.concurrency,
            settings.rate_limit_per_sec,
            settings.retention_max_jobs,
            settings.retention_max_age_ms
        ),
        (3, Some(2.5), None, Some(43_200_000))
    );
    // Bad input: a clear error, nothing stored.
    for (body, code, expected) in [
        (
            "name=mail&concurrency=0&rate_limit=&retention_max_jobs=&retention_max_age=",
            StatusCode::UNPROCESSABLE_ENTITY,
            "concurrency",
        ),
        (
            "name=mail&concurrency=x&rate_limit=&retention_max_jobs=&retention_max_age=",
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not a number",
        ),
        (
            "name=mail&concurrency=4&rate_limit=&retention_max_jobs=&retention_max_age=soon",
            StatusCode::UNPROCESSABLE_ENTITY,
            "keep for",
        ),
        (
            "name=nowhere&concurrency=4&rate_limit=&retention_max_jobs=&retention_max_age=",
            StatusCode::NOT_FOUND,
            "no queue is named",
        ),
    ] {
        let (status, answer) = send(router.clone(), form("/fn/op/queue_settings", body)).await;
        assert_eq!(status, code, "{answer}");
        assert!(answer.contains(expected), "{expected:?} in {answer}");
    }
    assert_eq!(engine.queue("mail").await.unwrap().settings, settings);
    assert!(matches!(
        engine.queue("nowhere").await,
        Err(amboy::Error::QueueNotFound(_))
    ));
}
