//! The dashboard and the REST API with 1,000,000 jobs in the database: the
//! time of whole HTTP requests for the server-rendered pages (overview, the
//! jobs list at page 1 and at a deep page, a rare state's tab, a queue's
//! tab) and for the API's job list at the same places.
//!
//! It fills a database through the engine (bulk puts, then bulk complete
//! and abort by filter: those times are reported too), starts the release
//! `amboy serve` on it (built by `make build`; `AMBOY_BENCH_SERVER` names
//! another binary) with no workers for the filled queues, and times GET
//! requests over plain HTTP/1.1 from here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amboy::{BulkAction, Engine, JobFilter, JobSelector, NewJob};
use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::{Backend, median};

/// Jobs in the database.
pub const BIG: usize = 1_000_000;
/// Of which pending (in a queue no worker takes) …
const WAITING: usize = 10_000;
/// … and aborted; the rest completed.
const ABORTED: usize = 10_000;
/// Jobs per put.
const PUT_BATCH: usize = 10_000;
/// Requests per figure, after one not counted; the median is reported.
const SAMPLES: usize = 7;

const DONE_QUEUE: &str = "done";
const WAITING_QUEUE: &str = "waiting";
const ABORTED_QUEUE: &str = "aborted";

/// The filled database's landmarks.
struct Filled {
    /// An id 95 % of the way down the newest-first list of every job.
    deep: String,
    /// Seconds spent putting, completing and aborting.
    put_secs: f64,
    complete_secs: f64,
    abort_secs: f64,
}

/// Runs the figure on each backend, or says why it cannot.
pub async fn run(backends: &[Backend]) -> anyhow::Result<()> {
    println!(
        "\n{BIG} jobs in the database ({} completed, {WAITING} pending, {ABORTED} aborted): \
         median of {SAMPLES} whole requests, ms\n",
        BIG - WAITING - ABORTED
    );
    let server = std::env::var_os("AMBOY_BENCH_SERVER")
        .map_or_else(|| PathBuf::from("target/release/amboy"), PathBuf::from);
    if !server.exists() {
        println!(
            "({} is missing: `make build` builds it; skipped)",
            server.display()
        );
        return Ok(());
    }
    for backend in backends {
        let db = backend.fresh().await?;
        let filled = fill(&db.url).await?;
        println!(
            "{}: filled in {:.1} s (put {:.1} s, bulk complete {:.1} s, bulk abort {:.1} s)",
            backend.name(),
            filled.put_secs + filled.complete_secs + filled.abort_secs,
            filled.put_secs,
            filled.complete_secs,
            filled.abort_secs
        );
        let mut serve = Serve::start(&server, &db.url).await?;
        let result = measure(serve.addr, &filled).await;
        serve.stop();
        db.drop().await?;
        for (view, page, api) in result? {
            let api = api.map_or_else(|| "—".to_owned(), |ms| format!("{ms:.1}"));
            println!("  {view:<38} {page:>10.1} {api:>10}");
        }
    }
    Ok(())
}

async fn fill(url: &str) -> anyhow::Result<Filled> {
    let engine = Engine::connect(url).await?;
    let done = BIG - WAITING - ABORTED;
    // The deep landmark: 95 % down the newest-first list is 5 % from the
    // oldest job, and the oldest jobs are the completed ones, put first.
    let deep_index = BIG / 20;
    let mut deep = None;
    let started = Instant::now();
    let mut put = 0;
    for (queue, count) in [
        (DONE_QUEUE, done),
        (WAITING_QUEUE, WAITING),
        (ABORTED_QUEUE, ABORTED),
    ] {
        let mut left = count;
        while left > 0 {
            let n = left.min(PUT_BATCH);
            let ids = engine
                .put_many(
                    (0..n)
                        .map(|_| NewJob::from_json(queue, "noop", "{}"))
                        .collect(),
                )
                .await?;
            if (put..put + n).contains(&deep_index) {
                deep = Some(ids[deep_index - put].clone());
            }
            put += n;
            left -= n;
        }
    }
    let put_secs = started.elapsed().as_secs_f64();
    let queue = |name: &str| {
        JobSelector::Filter(JobFilter {
            queue: Some(name.to_owned()),
            ..JobFilter::default()
        })
    };
    let started = Instant::now();
    let completed = engine.bulk(BulkAction::Complete, queue(DONE_QUEUE)).await?;
    let complete_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(completed == done as u64, "completed {completed} of {done}");
    let started = Instant::now();
    let aborted = engine.bulk(BulkAction::Abort, queue(ABORTED_QUEUE)).await?;
    let abort_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(aborted == ABORTED as u64, "aborted {aborted} of {ABORTED}");
    Ok(Filled {
        deep: deep.context("the deep landmark was put")?,
        put_secs,
        complete_secs,
        abort_secs,
    })
}

/// Each view: its name, the page's time and the API's (ms).
async fn measure(
    addr: SocketAddr,
    filled: &Filled,
) -> anyhow::Result<Vec<(String, f64, Option<f64>)>> {
    let deep = &filled.deep;
    let views: [(&str, String, Option<String>); 6] = [
        ("overview", "/".to_owned(), None),
        (
            "all jobs, page 1",
            "/jobs".to_owned(),
            Some("/api/v1/jobs?order=desc".to_owned()),
        ),
        (
            "all jobs, 950,000 deep",
            format!("/jobs?after={deep}"),
            Some(format!("/api/v1/jobs?order=desc&after={deep}")),
        ),
        (
            "aborted (1 %), page 1",
            "/jobs?state=aborted".to_owned(),
            Some("/api/v1/jobs?order=desc&state=aborted".to_owned()),
        ),
        (
            "completed, 950,000 deep",
            format!("/jobs?state=completed&after={deep}"),
            Some(format!("/api/v1/jobs?order=desc&state=completed&after={deep}")),
        ),
        (
            "queue done + completed, deep",
            format!("/jobs?queue={DONE_QUEUE}&state=completed&after={deep}"),
            Some(format!(
                "/api/v1/jobs?order=desc&queue={DONE_QUEUE}&state=completed&after={deep}"
            )),
        ),
    ];
    let mut rows = Vec::new();
    for (name, page, api) in views {
        let page_ms = timed(addr, &page).await?;
        let api_ms = match api {
            Some(path) => Some(timed(addr, &path).await?),
            None => None,
        };
        rows.push((name.to_owned(), page_ms, api_ms));
    }
    Ok(rows)
}

/// The median time of [`SAMPLES`] requests for `path`, after a first one.
async fn timed(addr: SocketAddr, path: &str) -> anyhow::Result<f64> {
    get(addr, path).await?;
    let mut times = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let body = get(addr, path).await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        anyhow::ensure!(body > 0, "{path}: an empty answer");
    }
    Ok(median(&mut times))
}

/// One whole GET over a new connection; the body's length, when the answer
/// is 200 OK.
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<usize> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status.starts_with("HTTP/1.1 200"),
        "{path}: {status} {}",
        &text[..text.len().min(2_000)]
    );
    let body = text.find("\r\n\r\n").map_or(0, |head| text.len() - head - 4);
    Ok(body)
}

/// `amboy serve` on the filled database, on a free port, working no queue
/// that has jobs.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    async fn start(binary: &PathBuf, url: &str) -> anyhow::Result<Serve> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(binary)
            .args(["serve", "--database-url", url, "--listen"])
            .arg(addr.to_string())
            .args(["--queues", "bench-idle"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut serve = Serve { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while get(addr, "/healthz").await.is_err() {
            if Instant::now() > deadline {
                serve.stop();
                anyhow::bail!("amboy serve did not answer on {addr}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(serve)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
