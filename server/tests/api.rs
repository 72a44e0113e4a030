//! The REST API over a real listener: every route × every kind of
//! credentials (enumerated from the OpenAPI document the server serves, so
//! a new route cannot be missed), a table of bad inputs per endpoint, and
//! browser sessions.

use amboy::Engine;
use amboy_server::api::auth::Auth;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const VIEWER: &str = "viewer-token-1";
const OPERATOR: &str = "operator-token-1";

struct Server {
    base: String,
    engine: Engine,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(auth: Auth) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("amboy.db").display()
    );
    let engine = Engine::connect(&url).await.unwrap();
    let router = amboy_server::serve::router(engine.clone(), auth).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Server {
        base,
        engine,
        _dir: dir,
        task,
    }
}

async fn guarded() -> Server {
    start(Auth::new(&[VIEWER.into()], &[OPERATOR.into()])).await
}

/// Sends a request; returns the status and the JSON body (or `Null`).
async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", server.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every operation in the served document: (method, path, needed role).
async fn operations(server: &Server) -> Vec<(Method, String, Option<String>)> {
    let (status, doc) = call(server, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let role = op["security"]
                .as_array()
                .and_then(|reqs| reqs.first())
                .and_then(|req| req["bearer"].as_array())
                .and_then(|scopes| scopes.first())
                .and_then(Value::as_str)
                .map(str::to_owned);
            ops.push((method, path.clone(), role));
        }
    }
    ops
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "no-such-job")
        .replace("{name}", "no-such-thing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_kind_of_credentials_as_documented() {
    let server = guarded().await;
    let ops = operations(&server).await;
    assert!(ops.len() >= 25, "only {} operations documented", ops.len());
    for (method, path, role) in ops {
        let url = concrete(&path);
        let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
        let ask = |token| call(&server, method.clone(), &url, token, body.clone());
        let (anonymous, _) = ask(None).await;
        let (wrong, _) = ask(Some("not-a-token")).await;
        let (viewer, _) = ask(Some(VIEWER)).await;
        let (operator, _) = ask(Some(OPERATOR)).await;
        let what = format!("{method} {path}");
        for status in [anonymous, wrong, viewer, operator] {
            assert!(!status.is_server_error(), "{what}: {status}");
        }
        match role.as_deref() {
            None => {
                assert_ne!(anonymous, StatusCode::UNAUTHORIZED, "{what} is public");
                assert_ne!(viewer, StatusCode::FORBIDDEN, "{what}");
            }
            Some(role) => {
                assert_eq!(
                    anonymous,
                    StatusCode::UNAUTHORIZED,
                    "{what} without a token"
                );
                assert_eq!(wrong, StatusCode::UNAUTHORIZED, "{what} with a wrong token");
                assert!(
                    !matches!(operator, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
                    "{what} with the operator token: {operator}"
                );
                if role == "operator" {
                    assert_eq!(
                        viewer,
                        StatusCode::FORBIDDEN,
                        "{what} with the viewer token"
                    );
                } else {
                    assert_eq!(role, "viewer", "{what}");
                    assert!(
                        !matches!(viewer, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
                        "{what} with the viewer token: {viewer}"
                    );
                }
            }
        }
    }
    // The access policy and the document agree on which routes exist.
    let (status, body) = call(&server, Method::GET, "/api/v1/nope", Some(OPERATOR), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_queues_and_schedules_work_over_http() {
    let server = guarded().await;
    let op = Some(OPERATOR);
    let (status, job) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        op,
        Some(json!({"queue": "mail", "type": "noop", "id": "job-1", "delay_ms": 3_600_000})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!(
        (job["id"].clone(), job["state"].clone()),
        (json!("job-1"), json!("pending"))
    );
    let (status, batch) = call(
        &server,
        Method::POST,
        "/api/v1/jobs/batch",
        op,
        Some(json!({"jobs": [
            {"queue": "mail", "type": "sleep", "payload": {"ms": 1}, "delay_ms": 3_600_000},
            {"queue": "mail", "type": "noop", "delay_ms": 3_600_000}
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(batch["ids"].as_array().unwrap().len(), 2);
    let (_, page) = call(
        &server,
        Method::GET,
        "/api/v1/jobs?queue=mail&limit=2",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, rest) = call(
        &server,
        Method::GET,
        &format!("/api/v1/jobs?queue=mail&after={next}"),
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(rest["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next"], Value::Null);
    // Newest first: the same three, the other way round.
    let ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| job["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut oldest_first = ids(&page);
    oldest_first.extend(ids(&rest));
    let (_, newest) = call(
        &server,
        Method::GET,
        "/api/v1/jobs?queue=mail&order=desc&limit=2",
        Some(VIEWER),
        None,
    )
    .await;
    let next = newest["next"].as_str().unwrap().to_owned();
    let (_, older) = call(
        &server,
        Method::GET,
        &format!("/api/v1/jobs?queue=mail&order=desc&after={next}"),
        Some(VIEWER),
        None,
    )
    .await;
    let mut newest_first = ids(&newest);
    newest_first.extend(ids(&older));
    oldest_first.reverse();
    assert_eq!(newest_first, oldest_first);

    let (status, aborted) = call(&server, Method::POST, "/api/v1/jobs/job-1/abort", op, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(aborted["outcome"], "aborted");
    let (_, retried) = call(&server, Method::POST, "/api/v1/jobs/job-1/retry", op, None).await;
    assert_eq!(retried["state"], "pending");
    let (_, completed) = call(
        &server,
        Method::POST,
        "/api/v1/jobs/job-1/complete",
        op,
        None,
    )
    .await;
    assert_eq!(completed["state"], "completed");
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/jobs/job-1/wait?timeout_ms=10",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&server, Method::DELETE, "/api/v1/jobs/job-1", op, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, bulk) = call(
        &server,
        Method::POST,
        "/api/v1/jobs/bulk",
        op,
        Some(json!({"action": "abort", "filter": {"queue": "mail"}})),
    )
    .await;
    assert_eq!(
        (status, bulk["changed"].clone()),
        (StatusCode::OK, json!(2))
    );

    let (_, queues) = call(&server, Method::GET, "/api/v1/queues", Some(VIEWER), None).await;
    assert_eq!(queues[0]["name"], "mail");
    assert_eq!(queues[0]["counts"]["aborted"], 2);
    let (_, paused) = call(&server, Method::POST, "/api/v1/queues/mail/pause", op, None).await;
    assert_eq!(paused["settings"]["paused"], true);
    let (_, patched) = call(
        &server,
        Method::PATCH,
        "/api/v1/queues/mail",
        op,
        Some(json!({"concurrency": 3, "paused": false})),
    )
    .await;
    assert_eq!(
        (
            patched["settings"]["concurrency"].clone(),
            patched["settings"]["paused"].clone()
        ),
        (json!(3), json!(false))
    );

    let def = json!({"name": "nightly", "queue": "reports", "type": "noop",
        "spec": {"kind": "cron", "expr": "30 2 * * *", "timezone": "Europe/Berlin"}});
    let (status, preview) = call(
        &server,
        Method::POST,
        "/api/v1/schedules/preview?count=3",
        Some(VIEWER),
        Some(def.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["fires"].as_array().unwrap().len(), 3);
    let (status, created) = call(&server, Method::POST, "/api/v1/schedules", op, Some(def)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, patched) = call(
        &server,
        Method::PATCH,
        "/api/v1/schedules/nightly",
        op,
        Some(json!({"misfire": "skip", "priority": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        (patched["misfire"].clone(), patched["priority"].clone()),
        (json!("skip"), json!(3))
    );
    assert_eq!(patched["spec"]["expr"], "30 2 * * *");
    let (_, next) = call(
        &server,
        Method::GET,
        "/api/v1/schedules/nightly/next?count=2",
        Some(VIEWER),
        None,
    )
    .await;
    assert!(
        next["fires"][0].as_str().unwrap().contains("T02:30:00+0"),
        "{next}"
    );
    let (status, run) = call(
        &server,
        Method::POST,
        "/api/v1/schedules/nightly/run",
        op,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        run["id"]
            .as_str()
            .unwrap()
            .starts_with("schedule:nightly:run:")
    );
    let (_, disabled) = call(
        &server,
        Method::POST,
        "/api/v1/schedules/nightly/disable",
        op,
        None,
    )
    .await;
    assert_eq!(disabled["enabled"], false);
    let (status, _) = call(
        &server,
        Method::DELETE,
        "/api/v1/schedules/nightly",
        op,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, stats) = call(&server, Method::GET, "/api/v1/stats", Some(VIEWER), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        stats["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["queue"] == "reports")
    );
    let (status, workers) = call(&server, Method::GET, "/api/v1/workers", Some(VIEWER), None).await;
    assert_eq!((status, workers), (StatusCode::OK, json!([])));

    // Dependencies and scopes: a batch whose second job waits for the
    // first (in the same call) and holds an enqueue scope.
    let (status, batch) = call(
        &server,
        Method::POST,
        "/api/v1/jobs/batch",
        op,
        Some(json!({"jobs": [
            {"queue": "deps", "type": "noop", "id": "after", "depends_on": ["before"],
             "on_dependency_failure": "run", "enqueue_scopes": ["report"], "scopes": ["db"],
             "dependency": {"type": "create-file", "path": "/tmp/amboy-api-marker"}},
            {"queue": "deps", "type": "noop", "id": "before", "delay_ms": 3_600_000}
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{batch}");
    let (_, after) = call(
        &server,
        Method::GET,
        "/api/v1/jobs/after",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(after["state"], "blocked", "{after}");
    assert_eq!(after["depends_on"], json!(["before"]));
    assert_eq!(after["deps_left"], 1);
    assert_eq!(after["on_dependency_failure"], "run");
    assert_eq!(after["scopes"], json!(["db"]));
    assert_eq!(after["enqueue_scopes"], json!(["report"]));
    assert_eq!(
        after["dependency"],
        json!({"type": "create-file", "path": "/tmp/amboy-api-marker"})
    );
    let (status, held) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        op,
        Some(json!({"queue": "deps", "type": "noop", "enqueue_scopes": ["report"]})),
    )
    .await;
    assert_eq!(
        (status, held["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("scope_held")),
        "{held}"
    );
    assert!(
        held["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"after\"")
    );
    // Queue groups: rules give new queues their settings.
    let (status, rules) = call(
        &server,
        Method::PUT,
        "/api/v1/queue-rules",
        op,
        Some(json!({"rules": [
            {"pattern": "tenant-.*", "settings": {"concurrency": 3, "idle_ttl_ms": 600_000}},
            {"pattern": "bulk"}
        ]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    assert_eq!(rules[0]["settings"]["concurrency"], 3);
    assert_eq!(rules[1]["settings"]["concurrency"], 8);
    let (_, listed) = call(
        &server,
        Method::GET,
        "/api/v1/queue-rules",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(listed, rules);
    call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        op,
        Some(json!({"queue": "tenant-7", "type": "noop", "delay_ms": 3_600_000})),
    )
    .await;
    let (_, tenant) = call(
        &server,
        Method::GET,
        "/api/v1/queues/tenant-7",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(
        (
            tenant["rule"].clone(),
            tenant["settings"]["concurrency"].clone(),
            tenant["settings"]["idle_ttl_ms"].clone()
        ),
        (json!("tenant-.*"), json!(3), json!(600_000)),
        "{tenant}"
    );
    let (_, tenant) = call(
        &server,
        Method::PATCH,
        "/api/v1/queues/tenant-7",
        op,
        Some(json!({"idle_ttl_ms": null})),
    )
    .await;
    assert_eq!(
        (
            tenant["rule"].clone(),
            tenant["settings"]["idle_ttl_ms"].clone()
        ),
        (json!(null), json!(null))
    );

    // Marking the dependency complete releases the dependent.
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/jobs/before/complete",
        op,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = call(
        &server,
        Method::GET,
        "/api/v1/jobs/after",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(
        (after["state"].clone(), after["deps_left"].clone()),
        (json!("pending"), json!(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let server = guarded().await;
    let op = Some(OPERATOR);
    let client = reqwest::Client::new();
    let post_raw = |path: &str, body: &'static str, content_type: &'static str| {
        client
            .post(format!("{}{path}", server.base))
            .bearer_auth(OPERATOR)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = post_raw("/api/v1/jobs", "{\"queue\":", "application/json")
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    let plain = post_raw("/api/v1/jobs", "{}", "text/plain").await.unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = client
        .post(format!("{}/api/v1/jobs", server.base))
        .bearer_auth(OPERATOR)
        .header("content-type", "application/json")
        .body(vec![b' '; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let cases: Vec<(Method, &str, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "colour": "red"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `colour`",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "nope"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown job type \"nope\"",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q q", "type": "noop"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "sleep", "payload": {"ms": "x"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not decode",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "delay_ms": -5})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "must not be negative",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "max_time_ms": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "max_time_ms must be positive",
        ),
        (
            Method::POST,
            "/api/v1/jobs/batch",
            Some(json!({"jobs": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "give 1 to 1000 jobs",
        ),
        (
            Method::POST,
            "/api/v1/jobs/batch",
            Some(json!({"jobs": [{"queue": "q", "type": "noop"}, {"queue": "q", "type": "nope"}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown job type",
        ),
        (
            Method::GET,
            "/api/v1/jobs?limit=0",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            Method::GET,
            "/api/v1/jobs?limit=many",
            None,
            StatusCode::BAD_REQUEST,
            "limit",
        ),
        (
            Method::GET,
            "/api/v1/jobs?state=done",
            None,
            StatusCode::BAD_REQUEST,
            "state",
        ),
        (
            Method::GET,
            "/api/v1/jobs?order=sideways",
            None,
            StatusCode::BAD_REQUEST,
            "order",
        ),
        (
            Method::GET,
            "/api/v1/jobs/missing",
            None,
            StatusCode::NOT_FOUND,
            "missing",
        ),
        (
            Method::GET,
            "/api/v1/jobs/missing/wait?timeout_ms=999999",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeout_ms",
        ),
        (
            Method::POST,
            "/api/v1/jobs/bulk",
            Some(json!({"action": "delete"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "give either ids or filter",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "delay_ms": i64::MIN})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "out of range",
        ),
        (
            Method::POST,
            "/api/v1/jobs/bulk",
            Some(json!({"action": "delete", "filter": {"id_prefix": ""}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one",
        ),
        (
            Method::POST,
            "/api/v1/jobs/bulk",
            Some(json!({"action": "delete", "filter": {}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one",
        ),
        (
            Method::POST,
            "/api/v1/jobs/bulk",
            Some(json!({"action": "explode", "ids": []})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "action",
        ),
        (
            Method::PATCH,
            "/api/v1/queues/q",
            Some(json!({"concurrency": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "concurrency",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "dispatch_by": "2001-01-01T00:00:00Z"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "dispatch_by",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "depends_on": ["nowhere"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "depends on \"nowhere\", which does not exist",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "id": "me", "depends_on": ["me"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cannot depend on itself",
        ),
        (
            Method::POST,
            "/api/v1/jobs/batch",
            Some(json!({"jobs": [
                {"queue": "q", "type": "noop", "id": "x", "depends_on": ["y"]},
                {"queue": "q", "type": "noop", "id": "y", "depends_on": ["x"]}
            ]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "cycle through \"x\", \"y\"",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "on_dependency_failure": "maybe"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "on_dependency_failure",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(
                json!({"queue": "q", "type": "noop", "dependency": {"type": "local-file", "targets": []}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one target",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "dependency": {"type": "teleport"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "dependency",
        ),
        (
            Method::POST,
            "/api/v1/jobs",
            Some(json!({"queue": "q", "type": "noop", "scopes": ["a", ""]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a scope is 1 to 255 bytes",
        ),
        (
            Method::PUT,
            "/api/v1/queue-rules",
            Some(json!({"rules": [{"pattern": "ok"}, {"pattern": "tenant-("}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "\"tenant-(\" is not a regular expression",
        ),
        (
            Method::PUT,
            "/api/v1/queue-rules",
            Some(json!({"rules": [{"pattern": "t", "settings": {"idle_ttl_ms": 10}}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "idle_ttl_ms",
        ),
        (
            Method::PUT,
            "/api/v1/queue-rules",
            Some(json!({"rules": [{"pattern": "t", "settings": {"workers": 1}}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `workers`",
        ),
        (
            Method::PATCH,
            "/api/v1/queues/q",
            Some(json!({"retention_max_jobs": -1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "retention_max_jobs",
        ),
        (
            Method::PATCH,
            "/api/v1/queues/q",
            Some(json!({"retention_max_age_ms": 0})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "retention_max_age_ms",
        ),
        (
            Method::POST,
            "/api/v1/queues/missing/pause",
            None,
            StatusCode::NOT_FOUND,
            "missing",
        ),
        (
            Method::POST,
            "/api/v1/schedules",
            Some(
                json!({"name": "s", "queue": "q", "type": "noop", "spec": {"kind": "cron", "expr": "0 25 * * *"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "hour \"25\"",
        ),
        (
            Method::POST,
            "/api/v1/schedules",
            Some(
                json!({"name": "s", "queue": "q", "type": "noop", "spec": {"kind": "cron", "expr": "* * * * *", "timezone": "Mars/Base"}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "IANA",
        ),
        (
            Method::POST,
            "/api/v1/schedules",
            Some(
                json!({"name": "s", "queue": "q", "type": "noop", "spec": {"kind": "interval", "every_ms": 0}}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least 1000",
        ),
        (
            Method::GET,
            "/api/v1/schedules/missing/next?count=0",
            None,
            StatusCode::NOT_FOUND,
            "missing",
        ),
        (
            Method::GET,
            "/api/v1/reports/errors?window_ms=0",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "window",
        ),
        (
            Method::GET,
            "/api/v1/reports/counts?queue=a%20b",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "queue",
        ),
    ];
    for (method, path, body, expected, text) in cases {
        let (status, answer) = call(&server, method.clone(), path, op, body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(text),
            "{method} {path}: expected {text:?} in {answer}"
        );
        assert!(answer["error"]["code"].is_string(), "{answer}");
    }
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        op,
        Some(json!({"queue": "q", "type": "noop", "id": "dup"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, dup) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        op,
        Some(json!({"queue": "q", "type": "noop", "id": "dup"})),
    )
    .await;
    assert_eq!(
        (status, dup["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("duplicate"))
    );
    let (status, timeout) = call(
        &server,
        Method::GET,
        "/api/v1/jobs/dup/wait?timeout_ms=50",
        op,
        None,
    )
    .await;
    assert_eq!(
        (status, timeout["error"]["code"].clone()),
        (StatusCode::REQUEST_TIMEOUT, json!("timeout"))
    );
    // Only the one good job was stored; no schedule nor queue rule was.
    let (_, page) = call(&server, Method::GET, "/api/v1/jobs", op, None).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    assert!(server.engine.schedules().await.unwrap().is_empty());
    assert!(server.engine.queue_rules().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sessions_and_cross_origin_changes() {
    let server = guarded().await;
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/v1/session", server.base))
        .json(&json!({"token": OPERATOR}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let host = server.base.trim_start_matches("http://").to_owned();
    let with_session = |method: Method, path: &str, origin: Option<String>| {
        let mut request = client
            .request(method, format!("{}{path}", server.base))
            .header("cookie", session.clone());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.json(&json!({"queue": "q", "type": "noop"})).send()
    };
    let who: Value = with_session(Method::GET, "/api/v1/session", None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who, json!({"role": "operator", "auth_required": true}));
    let same = with_session(Method::POST, "/api/v1/jobs", Some(format!("http://{host}")))
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::CREATED);
    let cross = with_session(
        Method::POST,
        "/api/v1/jobs",
        Some("https://evil.example".into()),
    )
    .await
    .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let bad = client
        .post(format!("{}/api/v1/session", server.base))
        .json(&json!({"token": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let forged = client
        .get(format!("{}/api/v1/jobs", server.base))
        .header("cookie", "amboy_session=operator.99999999999.00ff")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.engine.counts("q").await.unwrap()[&amboy::JobState::Pending],
        1
    );
    // The dashboard and its server functions are behind the same policy.
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    let counts = client
        .post(format!("{}/fn/queue_counts", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(counts.status(), StatusCode::UNAUTHORIZED);
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Metrics need a viewer, like every read.
    let metrics = |token: Option<&str>| {
        let request = client.get(format!("{}/metrics", server.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    assert_eq!(
        metrics(None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        metrics(Some("wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let scraped = metrics(Some(VIEWER)).await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped.text().await.unwrap().contains("amboy_build_info"),
        "the viewer gets the metrics"
    );
    let signed_in = client
        .get(format!("{}/", server.base))
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_changes_need_an_operator() {
    let server = guarded().await;
    server
        .engine
        .set_queue("q", amboy::QueueSettings::default())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let pause = |token: &'static str| {
        client
            .post(format!("{}/fn/op/pause_queue", server.base))
            .bearer_auth(token)
            .form(&[("name", "q"), ("paused", "true")])
            .send()
    };
    assert_eq!(pause(VIEWER).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(!server.engine.queue("q").await.unwrap().settings.paused);
    // Reading server functions stay open to viewers.
    let read = client
        .post(format!("{}/fn/queue_detail", server.base))
        .bearer_auth(VIEWER)
        .form(&[("name", "q")])
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(pause(OPERATOR).await.unwrap().status(), StatusCode::OK);
    assert!(server.engine.queue("q").await.unwrap().settings.paused);

    // The jobs, schedules and workers pages' changes too; nothing changes.
    let id = server
        .engine
        .put(amboy::NewJob::from_json("q", "noop", "{}"))
        .await
        .unwrap();
    for (path, body) in [
        ("/fn/op/job_action", format!("id={id}&action=delete")),
        ("/fn/op/schedule_op", "name=any&op=delete".to_owned()),
    ] {
        let refused = client
            .post(format!("{}{path}", server.base))
            .bearer_auth(VIEWER)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let bulk = client
        .post(format!("{}/fn/op/bulk_jobs", server.base))
        .bearer_auth(VIEWER)
        .json(&json!({"action": "delete", "ids": [&id], "matching": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(bulk.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        server.engine.get(&id).await.unwrap().state,
        amboy::JobState::Pending
    );
    // A viewer's jobs page has no selection and no bulk actions.
    let page = client
        .get(format!("{}/jobs", server.base))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("data-job=\"{id}\"")), "{html}");
    assert!(!html.contains("data-testid=\"bulk-bar\""), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_everything_is_open() {
    let server = start(Auth::new(&[], &[])).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/jobs",
        None,
        Some(json!({"queue": "q", "type": "noop"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, who) = call(&server, Method::GET, "/api/v1/session", None, None).await;
    assert_eq!(who, json!({"role": "operator", "auth_required": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_are_sent_to_sign_in_and_back() {
    use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};

    let server = guarded().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let html = "text/html,application/xhtml+xml";
    let location =
        |response: &reqwest::Response| response.headers()[LOCATION].to_str().unwrap().to_owned();
    // A page without a session: to the sign-in form, coming back after.
    let page = client
        .get(format!("{}/?x=1", server.base))
        .header(ACCEPT, html)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&page), "/login?next=%2F%3Fx%3D1");
    // The form is public and rendered on the server.
    let form = client
        .get(format!("{}/login?next=%2Fjobs", server.base))
        .header(ACCEPT, html)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let body = form.text().await.unwrap();
    assert!(body.contains("<h1>Sign in</h1>"), "{body}");
    assert!(
        body.contains(r#"name="next""#) && body.contains(r#"value="/jobs""#),
        "{body}"
    );
    // A wrong token: back to the form, with an error and no cookie.
    let sign_in = |token: &str, next: &str| {
        client
            .post(format!("{}/login", server.base))
            .form(&[("token", token), ("next", next)])
            .send()
    };
    let refused = sign_in("wrong", "/jobs").await.unwrap();
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&refused), "/login?error=invalid&next=%2Fjobs");
    assert!(refused.headers().get(SET_COOKIE).is_none());
    // The viewer token: a session, and back — never to another site.
    let signed = sign_in(VIEWER, "//evil.example/").await.unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), "/");
    let cookie = signed.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("amboy_session=viewer."), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = client
        .get(format!("{}/", server.base))
        .header(ACCEPT, html)
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().await.unwrap();
    assert!(
        body.contains(r#"data-testid="role""#) && body.contains(">viewer</span>"),
        "{body}"
    );
    assert!(body.contains("Sign out"), "{body}");
    // Signing out clears the cookie.
    let out = client
        .post(format!("{}/logout", server.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/login");
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // Scripts and the API still get 401 in the API's envelope.
    let (status, body) = call(&server, Method::GET, "/api/v1/jobs", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
}
