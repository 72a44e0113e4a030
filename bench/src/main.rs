//! `make bench`: the engine's throughput, bulk enqueue rate and idle latency
//! on a SQLite file (and on PostgreSQL when `AMBOY_BENCH_POSTGRES_URL` is
//! set, or one answers at the default test address), measured side by side
//! in one run, each beside the same burn-down and enqueue done by sea-orm
//! alone (`bare`). On PostgreSQL it also runs worker *processes* (this binary,
//! re-executed as `amboy-bench worker URL QUEUE`): burn-down with 1 and 3 of
//! them, and enqueue→start latency from this process to another. Then
//! burn-downs of jobs tied by dependencies (chains) and by dispatch scopes,
//! and schedules firing from several processes; and last, the dashboard's
//! pages and the API's job list with 1,000,000 jobs in the database
//! (`amboy-bench throughput linked schedules dashboard` names the sections
//! to run; none runs them all). Each figure is the median of
//! several runs: the machine is shared and noisy.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amboy::{
    Engine, Event, JobEventKind, JobFilter, JobState, NewJob, QueueSettings, ScheduleDef, SpecDef,
    WorkerOptions,
};
use anyhow::Context as _;
use chrono::{DurationRound as _, Utc};
use sea_orm::ConnectionTrait;

mod bare;
mod dashboard;

/// Jobs burned down per run.
const JOBS: usize = 50_000;
/// Workers in the benchmark queue.
const WORKERS: i32 = 32;
/// Jobs per `put_many` in the bulk enqueue.
const PUT_BATCH: usize = 10_000;
/// Runs per figure; the median is reported.
const RUNS: usize = 3;
/// Sequential enqueue→start samples for the latency figure.
const LATENCY_SAMPLES: usize = 300;
/// Samples taken first and not counted, while connections open.
const WARMUP_SAMPLES: usize = 20;
/// Schedules in the schedule benchmark, each firing every second.
const SCHEDULES: usize = 1_000;
/// Processes running the scheduler in it.
const SCHEDULER_PROCESSES: usize = 3;
/// How long its fires are measured.
const SCHEDULE_WINDOW: Duration = Duration::from_secs(30);
/// Jobs in the dependency and scope figures.
const LINKED_JOBS: usize = 10_000;
/// Chains in the dependency figure, each `LINKED_JOBS / CHAINS` long.
const CHAINS: usize = 100;
/// Distinct dispatch scopes in the scope figure.
const SCOPES: usize = 100;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, url, queue] = args.as_slice()
        && command == "worker"
    {
        return worker(url, queue).await;
    }
    let mut backends = vec![Backend::Sqlite];
    if let Some(url) = postgres_admin_url().await {
        backends.push(Backend::Postgres(url));
    } else {
        println!("(PostgreSQL not reachable: skipped)");
    }
    // `amboy-bench SECTION…` runs only those sections, in the order given.
    let sections: Vec<&str> = match args.get(1..) {
        Some(named) if !named.is_empty() => named.iter().map(String::as_str).collect(),
        _ => SECTIONS.to_vec(),
    };
    if let Some(unknown) = sections.iter().find(|s| !SECTIONS.contains(s)) {
        anyhow::bail!("unknown section {unknown:?}; sections: {}", SECTIONS.join(", "));
    }
    for section in sections {
        match section {
            "throughput" => throughput(&backends).await?,
            "linked" => linked_section(&backends).await?,
            "schedules" => schedules_section(&backends).await?,
            _ => dashboard::run(&backends).await?,
        }
    }
    Ok(())
}

/// The benchmark's sections, in the order a plain `make bench` runs them.
const SECTIONS: [&str; 4] = ["throughput", "linked", "schedules", "dashboard"];

/// Burn-down, bulk enqueue and idle latency on each backend; on PostgreSQL
/// also with worker processes.
async fn throughput(backends: &[Backend]) -> anyhow::Result<()> {
    println!("amboy bench: {JOBS} no-op jobs, {WORKERS} workers, median of {RUNS} runs\n");
    println!(
        "{:<12} {:>22} {:>22} {:>14} {:>14}",
        "backend", "burn-down (jobs/s)", "bulk enqueue (jobs/s)", "latency p50", "latency p99"
    );
    for backend in backends {
        let (mut burn, mut enqueue) = (Vec::new(), Vec::new());
        let (mut bare_burn, mut bare_enqueue) = (Vec::new(), Vec::new());
        // The engine and sea-orm alone take turns, so that both see the
        // same machine.
        for _ in 0..RUNS {
            let db = backend.fresh().await?;
            let (e, b) = burn_down(&db.url).await?;
            enqueue.push(e);
            burn.push(b);
            db.drop().await?;
            let db = backend.fresh().await?;
            let (e, b) = bare::burn_down(&db.url).await?;
            bare_enqueue.push(e);
            bare_burn.push(b);
            db.drop().await?;
        }
        let db = backend.fresh().await?;
        let (p50, p99) = latency(&db.url).await?;
        db.drop().await?;
        let (burn, enqueue) = (median(&mut burn), median(&mut enqueue));
        let (bare_burn, bare_enqueue) = (median(&mut bare_burn), median(&mut bare_enqueue));
        println!(
            "{:<12} {:>22.0} {:>22.0} {:>11.2} ms {:>11.2} ms",
            backend.name(),
            burn,
            enqueue,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        println!(
            "{:<12} {:>22.0} {:>22.0}",
            "  sea-orm", bare_burn, bare_enqueue
        );
        println!(
            "{:<12} {:>21.0}% {:>21.0}%",
            "  engine/it",
            100.0 * burn / bare_burn,
            100.0 * enqueue / bare_enqueue
        );
    }
    if let Some(backend @ Backend::Postgres(_)) = backends.get(1) {
        processes(backend).await?;
    }
    Ok(())
}

/// Burn-down of jobs tied by dependencies and by dispatch scopes.
async fn linked_section(backends: &[Backend]) -> anyhow::Result<()> {
    println!(
        "\n{LINKED_JOBS} no-op jobs with dependencies or scopes, {WORKERS} workers, median of {RUNS} runs\n"
    );
    println!(
        "{:<12} {:>28} {:>28}",
        "backend",
        format!("{CHAINS} chains (jobs/s)"),
        format!("{SCOPES} dispatch scopes (jobs/s)")
    );
    for backend in backends {
        let mut chained = Vec::new();
        let mut scoped = Vec::new();
        for _ in 0..RUNS {
            for (shape, rates) in [(Shape::Chains, &mut chained), (Shape::Scopes, &mut scoped)] {
                let db = backend.fresh().await?;
                rates.push(linked(&db.url, shape).await?);
                db.drop().await?;
            }
        }
        println!(
            "{:<12} {:>28.0} {:>28.0}",
            backend.name(),
            median(&mut chained),
            median(&mut scoped)
        );
    }
    Ok(())
}

/// Schedules firing every second from several processes.
async fn schedules_section(backends: &[Backend]) -> anyhow::Result<()> {
    println!(
        "\n{SCHEDULES} schedules firing every second for {} s, {SCHEDULER_PROCESSES} scheduler processes\n",
        SCHEDULE_WINDOW.as_secs()
    );
    println!(
        "{:<12} {:>10} {:>10} {:>12} {:>14} {:>14}",
        "backend", "fires", "missed", "duplicates", "lag p50", "lag p99"
    );
    for backend in backends {
        let db = backend.fresh().await?;
        let fired = schedules(&db.url).await?;
        db.drop().await?;
        println!(
            "{:<12} {:>10} {:>10} {:>12} {:>11.2} ms {:>11.2} ms",
            backend.name(),
            fired.fires,
            fired.missed,
            fired.duplicates,
            fired.lag_p50.as_secs_f64() * 1e3,
            fired.lag_p99.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// What the schedule benchmark saw.
struct Fired {
    fires: usize,
    missed: usize,
    duplicates: i64,
    lag_p50: Duration,
    lag_p99: Duration,
}

/// Adds `SCHEDULES` every-second schedules, lets `SCHEDULER_PROCESSES`
/// worker processes fire them, and reads the fires of a `SCHEDULE_WINDOW`
/// from the database: lag is a job's insert time minus its fire time.
async fn schedules(url: &str) -> anyhow::Result<Fired> {
    let engine = Engine::connect(url).await?;
    for i in 0..SCHEDULES {
        engine
            .add_schedule(ScheduleDef::new(
                format!("s{i:04}"),
                "fired",
                "noop",
                SpecDef::Cron {
                    expr: "* * * * * *".into(),
                    timezone: "UTC".into(),
                },
            ))
            .await?;
    }
    let mut children = Vec::new();
    for _ in 0..SCHEDULER_PROCESSES {
        // They work another queue: the fired jobs stay to be counted.
        let mut child = spawn_worker(url, "idle")?;
        ready(&mut child).await?;
        children.push(child);
    }
    // Whole seconds after every process is up.
    let from = (Utc::now() + chrono::TimeDelta::seconds(2))
        .duration_trunc(chrono::TimeDelta::seconds(1))?;
    let to = from + chrono::TimeDelta::from_std(SCHEDULE_WINDOW)?;
    tokio::time::sleep((to - Utc::now()).to_std()? + Duration::from_secs(1)).await;
    stop_workers(children)?;
    let mut lags = Vec::new();
    let mut after = None;
    loop {
        let page = engine
            .list(&JobFilter {
                queue: Some("fired".into()),
                after: after.clone(),
                limit: 1_000,
                ..JobFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        lags.extend(
            page.iter()
                .filter(|job| job.run_at >= from && job.run_at < to)
                .filter_map(|job| (job.created_at - job.run_at).to_std().ok()),
        );
    }
    let expected = SCHEDULES * SCHEDULE_WINDOW.as_secs() as usize;
    let duplicates = engine.schedules().await?.iter().map(|s| s.duplicates).sum();
    anyhow::ensure!(!lags.is_empty(), "no fires in the window");
    lags.sort();
    let (lag_p50, lag_p99) = percentiles(&lags);
    Ok(Fired {
        fires: lags.len(),
        missed: expected.saturating_sub(lags.len()),
        duplicates,
        lag_p50,
        lag_p99,
    })
}

/// PostgreSQL with worker processes: burn-down by 1 and by 3 processes,
/// and enqueue (here) → start (in a worker process) latency.
async fn processes(backend: &Backend) -> anyhow::Result<()> {
    println!(
        "\npostgresql, separate worker processes ({WORKERS} workers each, median of {RUNS} runs)\n"
    );
    println!(
        "{:<12} {:>22} {:>22} {:>14} {:>14}",
        "", "1 process (jobs/s)", "3 processes (jobs/s)", "latency p50", "latency p99"
    );
    let mut rates = Vec::new();
    for processes in [1, 3] {
        let mut runs = Vec::new();
        for _ in 0..RUNS {
            let db = backend.fresh().await?;
            runs.push(burn_down_by_processes(&db.url, processes).await?);
            db.drop().await?;
        }
        rates.push(median(&mut runs));
    }
    let db = backend.fresh().await?;
    let (p50, p99) = cross_process_latency(&db.url).await?;
    db.drop().await?;
    println!(
        "{:<12} {:>22.0} {:>22.0} {:>11.2} ms {:>11.2} ms",
        "postgresql",
        rates[0],
        rates[1],
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    Ok(())
}

/// `amboy-bench worker URL QUEUE`: works QUEUE until stdin closes.
async fn worker(url: &str, queue: &str) -> anyhow::Result<()> {
    let engine = Engine::connect(url).await?;
    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec![queue.to_owned()]),
            ..WorkerOptions::default()
        })
        .await?;
    println!("ready");
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    workers.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

/// A worker process; closing its stdin stops it.
fn spawn_worker(url: &str, queue: &str) -> anyhow::Result<Child> {
    Ok(Command::new(std::env::current_exe()?)
        .args(["worker", url, queue])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?)
}

/// Waits for a worker process to say its workers have started.
async fn ready(child: &mut Child) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let stdout = child.stdout.take().context("worker stdout")?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    })
    .await??;
    anyhow::ensure!(line.trim() == "ready", "worker said {line:?}");
    Ok(())
}

fn stop_workers(children: Vec<Child>) -> anyhow::Result<()> {
    for mut child in children {
        drop(child.stdin.take());
        let status = child.wait()?;
        anyhow::ensure!(status.success(), "a worker process failed: {status}");
    }
    Ok(())
}

async fn completed(engine: &Engine, queue: &str) -> anyhow::Result<i64> {
    Ok(engine.counts(queue).await?[&JobState::Completed])
}

/// Puts `JOBS` no-ops, then times `processes` worker processes (started
/// after the put, startup included) burning them down.
async fn burn_down_by_processes(url: &str, processes: usize) -> anyhow::Result<f64> {
    let (engine, _) = load(url).await?;
    let started = Instant::now();
    let children = (0..processes)
        .map(|_| spawn_worker(url, "bench"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Started (not ready): process start-up is part of the figure.
    while completed(&engine, "bench").await? < JOBS as i64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = JOBS as f64 / started.elapsed().as_secs_f64();
    stop_workers(children)?;
    Ok(rate)
}

/// Puts one no-op every 10 ms while another process works the queue, and
/// reads each job's start − put time from the database (one clock: both
/// processes are on this machine). The first few samples are not counted.
async fn cross_process_latency(url: &str) -> anyhow::Result<(Duration, Duration)> {
    let engine = Engine::connect(url).await?;
    let mut child = spawn_worker(url, "latency")?;
    ready(&mut child).await?;
    for _ in 0..WARMUP_SAMPLES + LATENCY_SAMPLES {
        engine
            .put(NewJob::from_json("latency", "noop", "{}"))
            .await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while completed(&engine, "latency").await? < (WARMUP_SAMPLES + LATENCY_SAMPLES) as i64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop_workers(vec![child])?;
    // Ids are UUIDv7: in put order.
    let jobs = engine
        .list(&JobFilter {
            queue: Some("latency".into()),
            limit: (WARMUP_SAMPLES + LATENCY_SAMPLES) as u32,
            ..JobFilter::default()
        })
        .await?;
    let mut samples: Vec<Duration> = jobs
        .iter()
        .skip(WARMUP_SAMPLES)
        .filter_map(|job| (job.started_at? - job.created_at).to_std().ok())
        .collect();
    anyhow::ensure!(samples.len() == LATENCY_SAMPLES, "missing start times");

    samples.sort();
    Ok(percentiles(&samples))
}

/// Creates the `bench` queue and bulk-enqueues `JOBS` no-ops into it, in
/// `PUT_BATCH`-job calls; returns the engine and the enqueue rate (jobs/s).
async fn load(url: &str) -> anyhow::Result<(Engine, f64)> {
    let engine = Engine::connect(url).await?;
    engine
        .set_queue(
            "bench",
            QueueSettings {
                concurrency: WORKERS,
                ..QueueSettings::default()
            },
        )
        .await?;
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|_| NewJob::from_json("bench", "noop", "{}"))
        .collect();
    let started = Instant::now();
    let mut jobs = jobs.into_iter();
    loop {
        let batch: Vec<NewJob> = jobs.by_ref().take(PUT_BATCH).collect();
        if batch.is_empty() {
            break;
        }
        engine.put_many(batch).await?;
    }
    Ok((engine, JOBS as f64 / started.elapsed().as_secs_f64()))
}

/// How the jobs of [`linked`] are tied together.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `CHAINS` chains: each job waits for the one before it.
    Chains,
    /// Each job holds one of `SCOPES` dispatch scopes.
    Scopes,
}

/// Burn-down of `LINKED_JOBS` no-op jobs shaped by `shape`: what settling
/// dependencies (each completion makes the next job of its chain pending)
/// or taking and releasing scopes costs.
async fn linked(url: &str, shape: Shape) -> anyhow::Result<f64> {
    let engine = Engine::connect(url).await?;
    engine
        .set_queue(
            "linked",
            QueueSettings {
                concurrency: WORKERS,
                ..QueueSettings::default()
            },
        )
        .await?;
    let length = LINKED_JOBS / CHAINS;
    let jobs: Vec<NewJob> = (0..LINKED_JOBS)
        .map(|i| {
            let job = NewJob::from_json("linked", "noop", "{}");
            match shape {
                Shape::Chains => {
                    let (chain, step) = (i / length, i % length);
                    let job = job.id(format!("c{chain}-{step}"));
                    if step == 0 {
                        job
                    } else {
                        job.depends_on([format!("c{chain}-{}", step - 1)])
                    }
                }
                Shape::Scopes => job.scopes([format!("s{}", i % SCOPES)]),
            }
        })
        .collect();
    engine.put_many(jobs).await?;
    let started = Instant::now();
    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["linked".into()]),
            ..WorkerOptions::default()
        })
        .await?;
    engine
        .wait_drained("linked", Duration::from_secs(600))
        .await?;
    let rate = LINKED_JOBS as f64 / started.elapsed().as_secs_f64();
    workers.shutdown(Duration::from_secs(10)).await;
    let completed = completed(&engine, "linked").await?;
    anyhow::ensure!(
        completed == LINKED_JOBS as i64,
        "only {completed} of {LINKED_JOBS} jobs completed"
    );
    Ok(rate)
}

/// Bulk-enqueues `JOBS` no-ops, then burns them down; returns (enqueue/s, burn-down/s).
async fn burn_down(url: &str) -> anyhow::Result<(f64, f64)> {
    let (engine, enqueue_rate) = load(url).await?;

    let started = Instant::now();
    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["bench".into()]),
            ..WorkerOptions::default()
        })
        .await?;
    engine
        .wait_drained("bench", Duration::from_secs(600))
        .await?;
    let burn_rate = JOBS as f64 / started.elapsed().as_secs_f64();
    workers.shutdown(Duration::from_secs(10)).await;
    let completed = completed(&engine, "bench").await?;
    anyhow::ensure!(
        completed == JOBS as i64,
        "only {completed} of {JOBS} jobs completed"
    );
    Ok((enqueue_rate, burn_rate))
}

/// Puts one job at a time into an idle queue and times put → started.
async fn latency(url: &str) -> anyhow::Result<(Duration, Duration)> {
    let engine = Engine::connect(url).await?;
    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["latency".into()]),
            ..WorkerOptions::default()
        })
        .await?;
    let mut events = engine.subscribe();
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        let id = engine
            .put(NewJob::from_json("latency", "noop", "{}"))
            .await?;
        loop {
            match events.recv().await.context("event stream")? {
                Event::Job(e) if e.id == id && matches!(e.kind, JobEventKind::Started { .. }) => {
                    break;
                }
                _ => {}
            }
        }
        samples.push(started.elapsed());
        engine.wait(&id, Duration::from_secs(10)).await?;
    }
    workers.shutdown(Duration::from_secs(10)).await;
    samples.sort();
    Ok(percentiles(&samples))
}

/// p50 and p99 of sorted samples.
fn percentiles(sorted: &[Duration]) -> (Duration, Duration) {
    let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)];
    (at(0.50), at(0.99))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

enum Backend {
    Sqlite,
    Postgres(String),
}

struct Db {
    url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    async fn drop(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.cleanup {
            let conn = sea_orm::Database::connect(&admin).await?;
            conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite file",
            Backend::Postgres(_) => "postgresql",
        }
    }

    async fn fresh(&self) -> anyhow::Result<Db> {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                Ok(Db {
                    url,
                    cleanup: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres(admin) => {
                let name = format!("amboy_bench_{}", uuid::Uuid::now_v7().simple());
                let conn = sea_orm::Database::connect(admin).await?;
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                let base = admin
                    .rsplit_once('/')
                    .map_or(admin.as_str(), |(base, _)| base);
                Ok(Db {
                    url: format!("{base}/{name}"),
                    cleanup: Some((admin.clone(), name)),
                    _dir: None,
                })
            }
        }
    }
}

async fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("AMBOY_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned());
    let conn = tokio::time::timeout(Duration::from_secs(3), sea_orm::Database::connect(&url)).await;
    matches!(conn, Ok(Ok(_))).then_some(url)
}
