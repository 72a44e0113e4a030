//! The metrics as an operator sees them: a real Prometheus (Debian's) scrapes
//! a real `amboy serve` and `amboy worker` on PostgreSQL, configured from
//! `deploy/prometheus.yml` and loading `deploy/alerts.yml`. Jobs complete,
//! fail, retry and get aborted, schedules fire, a backlog builds up, a job
//! hangs and a process dies; then every query of the Grafana dashboard
//! returns data, every alert has fired, and the counters say exactly what
//! happened. `promtool` checks the rules and the config; the exported names
//! and labels are the table in `docs/observability.md`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use amboy_testkit::{Backend, eventually};
use serde_json::{Value, json};
use support::Amboy;

const VIEWER: &str = "viewer-token-for-prometheus";
const OPERATOR: &str = "operator-token-for-the-test";
/// Long enough for a process to be marked gone (30 s without heartbeats,
/// checked every 5 s) and for Prometheus to see it.
const WAIT: Duration = Duration::from_secs(120);
/// What `$__rate_interval` stands for when the dashboard's queries run here.
const RATE_INTERVAL: &str = "5m";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(repo().join("deploy"))
        .output()
        .expect("promtool is installed (make setup installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_the_rules_and_the_scrape_config() {
    promtool(&["check", "rules", "alerts.yml"]);
    // The credentials file named there exists only where Prometheus runs.
    promtool(&["check", "config", "--syntax-only", "prometheus.yml"]);
}

/// A Prometheus of its own, on a free port, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` with `from` replaced by `to`, which must be there.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "deploy/prometheus.yml has no {from:?}");
    text.replace(from, to)
}

impl Prometheus {
    /// Starts Prometheus with `deploy/prometheus.yml`, scraping `targets`
    /// every second with the viewer token and evaluating the alert rules
    /// every second.
    async fn start(targets: &[&str]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, VIEWER).unwrap();
        let deployed = std::fs::read_to_string(repo().join("deploy/prometheus.yml")).unwrap();
        let mut config = replaced(&deployed, "scrape_interval: 15s", "scrape_interval: 1s");
        config = replaced(
            &config,
            "evaluation_interval: 15s",
            "evaluation_interval: 1s",
        );
        config = replaced(
            &config,
            "- alerts.yml",
            &format!("- {}", repo().join("deploy/alerts.yml").display()),
        );
        config = replaced(
            &config,
            "/etc/prometheus/amboy-viewer-token",
            &token_file.display().to_string(),
        );
        config = replaced(
            &config,
            "          - 127.0.0.1:3000 # amboy serve\n          - 127.0.0.1:9464 # amboy worker --metrics-listen 127.0.0.1:9464\n",
            &targets
                .iter()
                .map(|t| format!("          - {}\n", t.trim_start_matches("http://")))
                .collect::<String>(),
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("prometheus is installed (make setup installs Debian's prometheus)");
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _dir: dir,
        };
        eventually("Prometheus to be ready", WAIT, || async {
            let ready = prometheus
                .http
                .get(format!("{}/-/ready", prometheus.url))
                .send()
                .await;
            ready.is_ok_and(|r| r.status().is_success()).then_some(())
        })
        .await;
        prometheus
    }

    /// An instant query's result vector (each series' labels and value).
    async fn query(&self, promql: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let body: Value = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "success", "{promql}: {body}");
        let result = &body["data"]["result"];
        match body["data"]["resultType"].as_str() {
            Some("vector") => result
                .as_array()
                .unwrap()
                .iter()
                .map(|series| {
                    let labels = serde_json::from_value(series["metric"].clone()).unwrap();
                    (labels, sample(&series["value"]))
                })
                .collect(),
            Some("scalar") => vec![(BTreeMap::new(), sample(result))],
            other => panic!("{promql}: unexpected result type {other:?}"),
        }
    }

    /// The sum of a query's values, once Prometheus has any.
    async fn value(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql).await;
        (!result.is_empty()).then(|| result.iter().map(|(_, v)| v).sum())
    }

    /// Waits until `promql` sums to `expected`.
    async fn expect(&self, promql: &str, expected: f64) {
        let mut last = None;
        let found = tokio::time::timeout(WAIT, async {
            loop {
                last = self.value(promql).await;
                if last == Some(expected) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        assert!(
            found.is_ok(),
            "{promql}: expected {expected}, Prometheus last said {last:?}"
        );
    }
}

/// A sample's value: `[time, "value"]`.
fn sample(pair: &Value) -> f64 {
    pair[1].as_str().unwrap().parse().unwrap()
}

/// The operator's API client.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/api/v1{path}", self.base))
            .bearer_auth(OPERATOR);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn batch(&self, jobs: Vec<Value>) {
        self.post("/jobs/batch", json!({ "jobs": jobs })).await;
    }

    async fn status_of(&self, method: reqwest::Method, path: &str, body: Value) -> u16 {
        self.http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(OPERATOR)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// `n` copies of a job.
fn jobs(n: usize, job: Value) -> Vec<Value> {
    vec![job; n]
}

/// Both processes' logs, for a failure message.
fn diagnostics(serve: &Amboy, worker: &Amboy) -> String {
    format!("serve log:\n{}\nworker log:\n{}", serve.log(), worker.log())
}

/// A job that sleeps for ten minutes.
fn sleeper(queue: &str, id: &str) -> Value {
    json!({ "queue": queue, "id": id, "type": "sleep", "payload": { "ms": 600_000 } })
}

/// A job that fails: nothing listens on port 1.
fn failing(max_attempts: u32) -> Value {
    json!({
        "queue": "flaky",
        "type": "http",
        "payload": { "url": "http://127.0.0.1:1/", "timeout_ms": 1000 },
        "max_attempts": max_attempts,
    })
}

/// Every PromQL expression of the Grafana dashboard, with its variables
/// filled in as Grafana would for "All".
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/grafana/amboy.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "queue"]);
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap();
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "panel {title} must use the datasource variable"
        );
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$queue", ".*")
                .replace("$__rate_interval", RATE_INTERVAL);
            assert!(!expr.contains('$'), "{title}: unknown variable in {expr}");
            queries.push((title.to_owned(), expr));
        }
    }
    queries
}

/// The alert names in `deploy/alerts.yml`.
fn alert_names() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("deploy/alerts.yml")).unwrap();
    let names: Vec<String> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_what_the_dashboard_and_the_alerts_ask_for() {
    let db = Backend::Postgres.fresh().await;
    let env = [
        ("AMBOY_DATABASE_URL", db.url.as_str()),
        ("AMBOY_VIEWER_TOKEN", VIEWER),
        ("AMBOY_OPERATOR_TOKEN", OPERATOR),
    ];
    // Shell jobs run in `serve` only: the worker's scheduler cannot put
    // the shell schedule's jobs, which is the "error" fire result. The
    // worker works some queues; the others are serve's alone.
    let mut serve = Amboy::start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--enable-shell-jobs",
            "--log-format",
            "json",
        ],
        &env,
        "amboy serving on ",
    );
    let worker = Amboy::start(
        &[
            "worker",
            "--metrics-listen",
            "127.0.0.1:0",
            "--queues",
            "work,ticks,backlog",
            "--log-format",
            "json",
        ],
        &env,
        "serving metrics on ",
    );
    let prometheus = Prometheus::start(&[&serve.url, &worker.url]).await;
    let serve_instance = serve.url.trim_start_matches("http://").to_owned();
    let api = Api {
        base: serve.url.clone(),
        http: reqwest::Client::new(),
    };
    prometheus
        .expect("count(up{job=\"amboy\"} == 1)", 2.0)
        .await;

    // Work that completes, in both processes.
    api.batch(jobs(20, json!({ "queue": "work", "type": "noop" })))
        .await;
    // Jobs that fail; two retry first.
    api.batch(jobs(10, failing(1))).await;
    api.batch(jobs(2, failing(2))).await;
    // One that hangs, one that gets aborted.
    api.post("/jobs", sleeper("stuck", "hangs")).await;
    api.post("/jobs", sleeper("abortme", "aborted")).await;
    // A paused queue whose jobs have been ready for an hour.
    api.send(
        reqwest::Method::PATCH,
        "/queues/backlog",
        Some(json!({ "paused": true })),
    )
    .await;
    let an_hour_ago = (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339();
    let late = json!({ "queue": "backlog", "type": "noop", "run_at": an_hour_ago });
    api.batch(jobs(40, late.clone())).await;
    // A schedule firing every second.
    api.post(
        "/schedules",
        json!({
            "name": "tick",
            "queue": "ticks",
            "type": "noop",
            "spec": { "kind": "interval", "every_ms": 1000 },
        }),
    )
    .await;
    // Client mistakes: a payload the type refuses, a route that isn't.
    let bad = json!({ "queue": "work", "type": "sleep", "payload": { "ms": "soon" } });
    assert_eq!(
        api.status_of(reqwest::Method::POST, "/jobs", bad).await,
        422
    );
    assert_eq!(
        api.status_of(reqwest::Method::GET, "/nothing-here", Value::Null)
            .await,
        404
    );
    eventually("the hanging job to run", WAIT, || async {
        let job = api.send(reqwest::Method::GET, "/jobs/aborted", None).await;
        (job["state"] == "running").then_some(())
    })
    .await;
    api.post("/jobs/aborted/abort", json!({})).await;

    // Exactly what happened, summed over both processes.
    let checks = [
        (r#"sum(amboy_jobs_enqueued_total{queue="work"})"#, 20.0),
        (
            r#"sum(amboy_jobs_finished_total{queue="work",outcome="completed"})"#,
            20.0,
        ),
        (
            r#"sum(amboy_jobs_finished_total{queue="flaky",outcome="failed"})"#,
            12.0,
        ),
        (
            r#"sum(amboy_jobs_finished_total{queue="flaky",outcome="retried"})"#,
            2.0,
        ),
        (
            r#"sum(amboy_jobs_finished_total{queue="abortme",outcome="aborted"})"#,
            1.0,
        ),
        (
            r#"max(amboy_queue_jobs{queue="backlog",state="pending"})"#,
            40.0,
        ),
        (
            r#"max(amboy_queue_jobs{queue="stuck",state="running"})"#,
            1.0,
        ),
        (r#"sum(amboy_workers_busy{queue="stuck"})"#, 1.0),
        // The default concurrency, 8, in each process working the queue.
        (r#"sum(amboy_workers{queue="work"})"#, 16.0),
        (r#"sum(amboy_workers{queue="stuck"})"#, 8.0),
        (
            r#"sum(amboy_http_requests_total{route="/api/v1/jobs/batch",method="POST",status="201"})"#,
            4.0,
        ),
        (
            r#"sum(amboy_http_requests_total{route="/api/v1/jobs",method="POST",status="422"})"#,
            1.0,
        ),
        ("count(amboy_build_info == 1)", 2.0),
        (r#"max(amboy_processes{state="alive"})"#, 2.0),
    ];
    for (promql, expected) in checks {
        prometheus.expect(promql, expected).await;
    }
    let fired = eventually("the tick schedule to fire twice", WAIT, || async {
        let n = prometheus
            .value(r#"sum(amboy_schedule_fires_total{schedule="tick",result="enqueued"})"#)
            .await?;
        (n >= 2.0).then_some(n)
    })
    .await;
    assert!(fired >= 2.0);

    // A second wave, now that Prometheus has seen the first: the backlog
    // grows and the failures go on (increase() counts from a first sample).
    api.batch(jobs(12, failing(1))).await;
    api.batch(jobs(40, late)).await;
    prometheus
        .expect(
            r#"sum(amboy_jobs_finished_total{queue="flaky",outcome="failed"})"#,
            24.0,
        )
        .await;
    prometheus
        .expect(
            r#"max(amboy_queue_jobs{queue="backlog",state="pending"})"#,
            80.0,
        )
        .await;

    // A schedule the worker cannot fire (shell jobs are off there), then
    // serve dies: the worker alone fires it, and fails, every second, and
    // marks serve gone when its heartbeats stop.
    api.post(
        "/schedules",
        json!({
            "name": "shell-tick",
            "queue": "shell",
            "type": "shell",
            "payload": { "argv": ["true"] },
            "spec": { "kind": "interval", "every_ms": 1000 },
        }),
    )
    .await;
    serve.kill();
    prometheus
        .expect(&format!("up{{instance=\"{serve_instance}\"}}"), 0.0)
        .await;

    // Prometheus evaluated every rule itself; each went pending or firing.
    for alert in alert_names() {
        let promql = format!("max_over_time(ALERTS{{alertname=\"{alert}\"}}[10m])");
        let seen = tokio::time::timeout(WAIT, async {
            while prometheus.query(&promql).await.is_empty() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
        .await;
        assert!(
            seen.is_ok(),
            "alert {alert} never fired\n{}",
            diagnostics(&serve, &worker)
        );
    }
    let errors = prometheus
        .value(r#"sum(amboy_schedule_fires_total{schedule="shell-tick",result="error"})"#)
        .await;
    assert!(
        errors.is_some_and(|n| n >= 2.0),
        "shell-tick errors: {errors:?}"
    );

    // Every query of the dashboard has data.
    for (title, promql) in dashboard_queries() {
        let result = prometheus.query(&promql).await;
        assert!(
            !result.is_empty(),
            "panel {title:?}: no data for {promql}\n{}",
            diagnostics(&serve, &worker)
        );
    }
    // And the queue variable lists the queues.
    let queues: Value = prometheus
        .http
        .get(format!("{}/api/v1/label/queue/values", prometheus.url))
        .query(&[("match[]", "amboy_queue_jobs")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let queues: BTreeSet<&str> = queues["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for queue in ["work", "flaky", "stuck", "backlog", "ticks", "abortme"] {
        assert!(queues.contains(queue), "{queue} not in {queues:?}");
    }
}

/// Metric name → (type, label names) from the exposition text. Histogram
/// samples (`_bucket`, `_sum`, `_count`) count for their family; `le` is
/// the histogram's own label.
fn exported(text: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut families: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            families.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        }
    }
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, _) = line.rsplit_once(' ').unwrap();
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| {
                families
                    .get(*base)
                    .is_some_and(|(kind, _)| kind == "histogram")
            })
            .unwrap_or(name);
        let (_, names) = families
            .get_mut(family)
            .unwrap_or_else(|| panic!("{name} has no # TYPE line"));
        for pair in labels
            .trim_end_matches('}')
            .split("\",")
            .filter(|p| !p.is_empty())
        {
            let label = pair.split_once('=').unwrap().0;
            if label != "le" {
                names.insert(label.to_owned());
            }
        }
    }
    families
}

/// The same, from the table in docs/observability.md.
fn documented() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let text = std::fs::read_to_string(repo().join("docs/observability.md")).unwrap();
    text.lines()
        .filter(|line| line.starts_with("| `amboy_") || line.starts_with("| `process_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let labels = cells[3]
                .split(',')
                .map(|label| label.trim().trim_matches('`'))
                .filter(|label| *label != "—")
                .map(str::to_owned)
                .collect();
            (
                cells[1].trim_matches('`').to_owned(),
                (cells[2].to_owned(), labels),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_metrics_are_the_documented_ones() {
    let db = Backend::Sqlite.fresh().await;
    let serve = Amboy::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("AMBOY_DATABASE_URL", db.url.as_str())],
        "amboy serving on ",
    );
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}/api/v1{path}", serve.url))
            .json(&body)
            .send()
    };
    post(
        "/jobs",
        json!({ "queue": "q", "type": "noop", "id": "one" }),
    )
    .await
    .unwrap()
    .error_for_status()
    .unwrap();
    post(
        "/schedules",
        json!({
            "name": "tick",
            "queue": "q",
            "type": "noop",
            "spec": { "kind": "interval", "every_ms": 1000 },
        }),
    )
    .await
    .unwrap()
    .error_for_status()
    .unwrap();
    // Until the job ran and the schedule fired, some families are empty.
    let text = eventually("every metric family to have a sample", WAIT, || async {
        let text = http
            .get(format!("{}/metrics", serve.url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let ready = text.contains("amboy_job_run_duration_seconds_count")
            && text.contains("amboy_schedule_lag_seconds_count")
            && text.contains("amboy_http_requests_total");
        ready.then_some(text)
    })
    .await;
    let exported = exported(&text);
    let documented = documented();
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>(),
        "the metrics exported and the table in docs/observability.md differ"
    );
    for (name, (kind, labels)) in &documented {
        assert_eq!(&exported[name], &(kind.clone(), labels.clone()), "{name}");
    }
}
