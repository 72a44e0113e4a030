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
    marked(html, "data-state", state)
}

/// The text of the first element with `attribute="{value}"` in `html`.
fn marked<'a>(html: &'a str, attribute: &str, value: &str) -> Option<&'a str> {
    let marker = format!("{attribute}=\"{value}\"");
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
    engine
        .put(NewJob::from_json("dash2", "noop", "{}"))
        .await
        .expect("a noop job is accepted");
    let router =
        dashboard_router(engine, Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let counts = &html[html
        .find("data-testid=\"queue-counts\"")
        .expect("a counts table")..];
    assert!(counts.contains("data-queue=\"dash\""), "{html}");
    assert_eq!(cell(counts, "pending"), Some("2"), "{html}");
    assert_eq!(cell(counts, "completed"), Some("0"), "{html}");
    assert_eq!(cell(counts, "total"), Some("2"), "{html}");
    // Under the queues, their totals.
    let all = &counts[counts.find("data-queue=\"all\"").expect("a totals row")..];
    assert_eq!(cell(all, "pending"), Some("3"), "{all}");
    assert_eq!(cell(all, "total"), Some("3"), "{all}");
    // The chart's frame, and the queue's health: two waiting, no process
    // working it (no slots), the oldest waiting since it was put.
    assert!(html.contains("data-testid=\"throughput-chart\""), "{html}");
    let health = &html[html
        .find("data-testid=\"queue-health\"")
        .expect("a health table")..];
    assert_eq!(
        marked(health, "data-health", "waiting"),
        Some("2"),
        "{health}"
    );
    assert_eq!(
        marked(health, "data-health", "busy"),
        Some("0 / 0"),
        "{health}"
    );
    assert_eq!(
        marked(health, "data-health", "oldest"),
        Some("0 s"),
        "{health}"
    );
    // Nothing started in it yet: no latency to show.
    assert_eq!(
        marked(health, "data-health", "latency"),
        Some("—"),
        "{health}"
    );
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

fn json(path: &str, body: serde_json::Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid request")
}

/// The ids of the job rows in a rendered list, in page order.
fn rows(html: &str) -> Vec<String> {
    html.split("data-job=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').expect("a closed attribute")].to_owned())
        .collect()
}

/// The count in the tab of `state` (`all` for every state).
fn tab_count(html: &str, state: &str) -> Option<i64> {
    let marker = format!("data-tab=\"{state}\"");
    let rest = &html[html.find(&marker)?..];
    let rest = &rest[rest.find("class=\"tab-count\"")?..];
    let text = &rest[rest.find('>')? + 1..];
    text[..text.find('<')?].parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_pages_list_filter_page_and_act() {
    let engine = engine().await;
    let mut mail = Vec::new();
    for n in 0..3 {
        let id = engine
            .put(NewJob::from_json(
                "mail",
                "noop",
                format!(r#"{{"n": {n}}}"#),
            ))
            .await
            .expect("a noop job is accepted");
        mail.push(id);
    }
    let other = engine
        .put(NewJob::from_json("other", "sleep", r#"{"ms": 5}"#))
        .await
        .expect("a sleep job is accepted");
    for id in &mail[..2] {
        engine.abort(id).await.expect("a pending job aborts");
    }
    let router =
        dashboard_router(engine.clone(), Auth::new(&[], &[])).expect("the dashboard router builds");

    // Every job, newest first, with a tab per state.
    let (status, html) = send(router.clone(), get("/jobs")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(
        rows(&html),
        [&*other, &mail[2], &mail[1], &mail[0]],
        "{html}"
    );
    assert_eq!(tab_count(&html, "all"), Some(4), "{html}");
    assert_eq!(tab_count(&html, "aborted"), Some(2), "{html}");
    assert_eq!(tab_count(&html, "pending"), Some(2), "{html}");
    // A state's tab, a queue, a type, an id prefix.
    let (_, html) = send(router.clone(), get("/jobs?state=aborted")).await;
    assert_eq!(rows(&html), [&*mail[1], &mail[0]]);
    let (_, html) = send(router.clone(), get("/jobs?queue=mail&state=pending")).await;
    assert_eq!(rows(&html), [&*mail[2]]);
    assert_eq!(
        tab_count(&html, "all"),
        Some(3),
        "the queue's counts: {html}"
    );
    let (_, html) = send(router.clone(), get("/jobs?type=sleep")).await;
    assert_eq!(rows(&html), [&*other]);
    let (_, html) = send(router.clone(), get(&format!("/jobs?id={}", &other[..30]))).await;
    assert_eq!(rows(&html), [&*other]);
    // A filter it cannot use: the page says why, with a client error.
    for (path, expected) in [
        ("/jobs?state=stuck", "unknown job state"),
        ("/jobs?queue=no%20such", "queue"),
    ] {
        let (status, html) = send(router.clone(), get(path)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {html}");
        assert!(html.contains(expected), "{expected:?} in {html}");
    }

    // Keyset pages: 50, then the rest, following the page's own link.
    let batch: Vec<NewJob> = (0..60)
        .map(|_| NewJob::from_json("bulk", "noop", "{}"))
        .collect();
    let mut bulk_ids = engine.put_many(batch).await.expect("a batch is accepted");
    bulk_ids.reverse();
    let (_, html) = send(router.clone(), get("/jobs?queue=bulk")).await;
    assert_eq!(rows(&html), bulk_ids[..50]);
    let marker = "data-testid=\"next-page\"";
    let link = &html[..html.find(marker).expect("a next-page link")];
    let href = &link[link.rfind("href=\"").expect("the link's address") + 6..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let (_, html) = send(router.clone(), get(&href)).await;
    assert_eq!(rows(&html), bulk_ids[50..], "{href}");
    assert!(!html.contains(marker), "the last page has no next: {html}");

    // One job: its facts, payload and the actions its state allows.
    let (status, html) = send(router.clone(), get(&format!("/jobs/{}", mail[0]))).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("state-aborted\">aborted</span>"), "{html}");
    assert!(
        html.contains("&quot;n&quot;: 0") || html.contains("\"n\": 0"),
        "{html}"
    );
    assert!(html.contains("data-testid=\"job-retry\""), "{html}");
    assert!(!html.contains("data-testid=\"job-abort\""), "{html}");
    let (status, html) = send(router.clone(), get("/jobs/no-such-job")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{html}");

    // Retry one, refuse what does not apply, delete one.
    let act =
        |id: &str, action: &str| form("/fn/op/job_action", &format!("id={id}&action={action}"));
    let (status, body) = send(router.clone(), act(&mail[0], "retry")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(engine.get(&mail[0]).await.unwrap().state, JobState::Pending);
    for (id, action, code) in [
        (mail[0].as_str(), "retry", StatusCode::CONFLICT),
        (
            mail[0].as_str(),
            "explode",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("no-such-job", "abort", StatusCode::NOT_FOUND),
    ] {
        let (status, body) = send(router.clone(), act(id, action)).await;
        assert_eq!(status, code, "{action} {id}: {body}");
    }
    let (status, body) = send(router.clone(), act(&other, "delete")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(matches!(
        engine.get(&other).await,
        Err(amboy::Error::JobNotFound(_))
    ));

    // Bulk: by id (passing over what does not apply), then every match.
    let (status, body) = send(
        router.clone(),
        json(
            "/fn/op/bulk_jobs",
            serde_json::json!({"action": "abort", "ids": [&mail[0], &mail[1], &mail[2]], "matching": null}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done: amboy_app::jobs::BulkDone = serde_json::from_str(&body).unwrap();
    assert_eq!((done.changed, done.asked), (2, Some(3)), "{body}");
    let (status, body) = send(
        router.clone(),
        json(
            "/fn/op/bulk_jobs",
            serde_json::json!({"action": "retry", "ids": [], "matching": {"state": "aborted", "queue": "mail"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done: amboy_app::jobs::BulkDone = serde_json::from_str(&body).unwrap();
    assert_eq!(done.changed, 3, "{body}");
    // Bulk calls it cannot use change nothing.
    for (body, expected) in [
        (
            serde_json::json!({"action": "retry", "ids": [], "matching": {}}),
            "choose a state",
        ),
        (
            serde_json::json!({"action": "retry", "ids": [], "matching": null}),
            "select some jobs",
        ),
        (
            serde_json::json!({"action": "burn", "ids": [&mail[0]], "matching": null}),
            "not one of",
        ),
        (
            serde_json::json!({"action": "complete", "ids": [&mail[0]], "matching": null}),
            "retries, aborts or deletes",
        ),
        (
            serde_json::json!({"action": "delete", "ids": [], "matching": {"state": "lost"}}),
            "unknown job state",
        ),
    ] {
        let (status, answer) = send(router.clone(), json("/fn/op/bulk_jobs", body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(answer.contains(expected), "{expected:?} in {answer}");
    }
    for id in &mail {
        assert_eq!(engine.get(id).await.unwrap().state, JobState::Pending);
    }
}

/// The schedule form's fields, url-encoded as the page's form sends them.
fn schedule_form(original: &str, fields: &[(&str, &str)]) -> String {
    let mut body = format!("original={original}");
    for (name, value) in fields {
        body.push_str(&format!(
            "&form%5B{name}%5D={}",
            amboy_app::url::encode(value)
        ));
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_pages_check_create_edit_run_and_delete() {
    let engine = engine().await;
    let router =
        dashboard_router(engine.clone(), Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router.clone(), get("/schedules")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"no-schedules\""), "{html}");
    let (status, html) = send(router.clone(), get("/schedules/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"form[cron]\""), "{html}");

    // The live check: which field is wrong, or the next five fires in the zone.
    let preview = |cron: &str| {
        json(
            "/fn/schedule_preview",
            serde_json::json!({"form": {
                "name": "nightly", "queue": "reports", "job_type": "noop", "payload": "",
                "kind": "cron", "cron": cron, "timezone": "Europe/Berlin", "every": "",
                "overlap": "allow", "threshold": "", "misfire": "fire-once", "priority": "0",
                "max_attempts": "", "max_time": "", "enabled": "on"
            }}),
        )
    };
    let (status, body) = send(router.clone(), preview("61 2 * * *")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let checked: amboy_app::schedules::Preview = serde_json::from_str(&body).unwrap();
    let error = checked.error.expect("a wrong minute is an error");
    assert_eq!(error.field.as_deref(), Some("cron"));
    assert!(error.message.contains("minute"), "{}", error.message);
    let (_, body) = send(router.clone(), preview("30 2 * * *")).await;
    let checked: amboy_app::schedules::Preview = serde_json::from_str(&body).unwrap();
    assert_eq!(checked.error, None, "{body}");
    assert_eq!(checked.zone, "Europe/Berlin");
    assert_eq!(checked.fires.len(), 5);
    assert!(
        checked.fires.iter().all(|f| f.contains("02:30:00")),
        "{:?}",
        checked.fires
    );
    // Fields not filled in yet do not hold the preview back.
    let (_, body) = send(
        router.clone(),
        json(
            "/fn/schedule_preview",
            serde_json::json!({"form": {
                "name": "", "queue": "", "job_type": "", "payload": "", "kind": "interval",
                "cron": "", "timezone": "", "every": "5m", "overlap": "", "threshold": "",
                "misfire": "", "priority": "", "max_attempts": "", "max_time": ""
            }}),
        ),
    )
    .await;
    let checked: amboy_app::schedules::Preview = serde_json::from_str(&body).unwrap();
    assert_eq!((checked.error, checked.fires.len()), (None, 5), "{body}");

    // Create: refused whole when a field is wrong, then stored.
    let fields = |cron: &'static str| {
        vec![
            ("name", "nightly"),
            ("queue", "reports"),
            ("job_type", "noop"),
            ("payload", r#"{"at": "{{fire_time}}"}"#),
            ("kind", "cron"),
            ("cron", cron),
            ("timezone", "Europe/Berlin"),
            ("every", ""),
            ("overlap", "threshold"),
            ("threshold", "10"),
            ("misfire", "skip"),
            ("priority", "3"),
            ("max_attempts", ""),
            ("max_time", "5m"),
            ("enabled", "on"),
        ]
    };
    let save = |body: String| form("/fn/op/schedule_save", &body);
    for (bad, expected) in [
        (fields("61 2 * * *"), "minute"),
        (
            {
                let mut f = fields("30 2 * * *");
                f[3] = ("payload", "{not json");
                f
            },
            "payload",
        ),
        (
            {
                let mut f = fields("30 2 * * *");
                f[9] = ("threshold", "");
                f
            },
            "threshold",
        ),
    ] {
        let (status, answer) = send(router.clone(), save(schedule_form("", &bad))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer.contains(expected), "{expected:?} in {answer}");
    }
    assert!(engine.schedules().await.unwrap().is_empty());
    let (status, answer) = send(
        router.clone(),
        save(schedule_form("", &fields("30 2 * * *"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let stored = engine.schedule("nightly").await.unwrap().schedule.def;
    assert_eq!(
        (
            stored.overlap,
            stored.misfire,
            stored.priority,
            stored.max_time_ms
        ),
        (
            amboy::Overlap::Threshold(10),
            amboy::Misfire::Skip,
            3,
            Some(300_000)
        )
    );
    // A second create under the same name, and a rename, are refused.
    let (status, _) = send(
        router.clone(),
        save(schedule_form("", &fields("30 2 * * *"))),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let mut renamed = fields("30 3 * * *");
    renamed[0] = ("name", "daily");
    let (status, answer) = send(router.clone(), save(schedule_form("nightly", &renamed))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // Edit: to an interval.
    let mut every = fields("");
    every[4] = ("kind", "interval");
    every[7] = ("every", "90s");
    let (status, answer) = send(router.clone(), save(schedule_form("nightly", &every))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(matches!(
        engine.schedule("nightly").await.unwrap().schedule.def.spec,
        amboy::SpecDef::Interval {
            every_ms: 90_000,
            ..
        }
    ));

    // Its pages.
    let (status, html) = send(router.clone(), get("/schedules")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-schedule=\"nightly\""), "{html}");
    assert!(html.contains("every 90s"), "{html}");
    let (status, html) = send(router.clone(), get("/schedules/nightly")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"schedule-facts\""), "{html}");
    assert!(html.contains("value=\"90s\""), "{html}");
    let (status, _) = send(router.clone(), get("/schedules/nothing-here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Run now, disable, a bad operation, delete.
    let op = |verb: &str| form("/fn/op/schedule_op", &format!("name=nightly&op={verb}"));
    let (status, answer) = send(router.clone(), op("run")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("Put job"), "{answer}");
    let (status, _) = send(router.clone(), op("disable")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !engine
            .schedule("nightly")
            .await
            .unwrap()
            .schedule
            .def
            .enabled
    );
    let (status, _) = send(router.clone(), op("explode")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = send(router.clone(), op("delete")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(engine.schedules().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_page_lists_processes_and_their_running_jobs() {
    let engine = engine().await;
    let router =
        dashboard_router(engine.clone(), Auth::new(&[], &[])).expect("the dashboard router builds");
    let (status, html) = send(router.clone(), get("/workers")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"no-workers\""), "{html}");

    let workers = engine
        .start_workers(amboy::WorkerOptions::default())
        .await
        .expect("workers start");
    let mut events = engine.subscribe();
    let id = engine
        .put(NewJob::from_json("slow", "sleep", r#"{"ms": 60000}"#))
        .await
        .expect("a sleep job is accepted");
    // Wait for its start.
    loop {
        if let Ok(amboy::Event::Job(event)) = events.recv().await
            && event.id == id
            && matches!(event.kind, amboy::JobEventKind::Started { .. })
        {
            break;
        }
    }
    let (status, html) = send(router.clone(), get("/workers")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("data-worker=\"{}\"", engine.process_id())),
        "{html}"
    );
    assert!(html.contains(&format!("data-job=\"{id}\"")), "{html}");
    assert!(html.contains("data-testid=\"abort-running\""), "{html}");
    let (status, body) = send(
        router.clone(),
        form("/fn/op/job_action", &format!("id={id}&action=abort")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let job = engine
        .wait(&id, std::time::Duration::from_secs(30))
        .await
        .expect("the aborted job ends");
    assert_eq!(job.state, JobState::Aborted);
    workers.shutdown(std::time::Duration::from_secs(5)).await;
}
