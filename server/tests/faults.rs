//! Fault tests with real `amboy worker` processes on a real PostgreSQL: a
//! worker killed mid-run, the database connection cut, an owner frozen past
//! its lock timeout, graceful shutdown with jobs in flight, and an abort
//! that must reach the process running the job.
//!
//! The connection is cut with a TCP proxy rather than by restarting the
//! PostgreSQL server, which other tests share.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use amboy::builtin::sleep::Sleep;
use amboy::{Engine, JobFilter, JobRecord, JobState, NewJob, QueueSettings};
use amboy_testkit::{Backend, Proxy, TestDb, eventually};

const WAIT: Duration = Duration::from_secs(120);

/// An `amboy worker` process; killed if the test ends while it runs.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(url: &str, queue: &str, shutdown_timeout_secs: u32, dir: &Path) -> Worker {
        let log = dir.join(format!("worker-{}.log", uuid::Uuid::now_v7().simple()));
        let out = File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_amboy"))
            .args([
                "worker",
                "--queues",
                queue,
                "--shutdown-timeout-secs",
                &shutdown_timeout_secs.to_string(),
                "--log-format",
                "json",
            ])
            .env("AMBOY_DATABASE_URL", url)
            .env("AMBOY_LOG", "info")
            .env_remove("AMBOY_CONFIG")
            .env_remove("RUST_LOG")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("start amboy worker");
        Worker { child, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit on its own.
    async fn exited(&mut self, deadline: Duration) -> ExitStatus {
        let log = self.log();
        eventually(
            &format!("the worker to exit; log:\n{log}"),
            deadline,
            || std::future::ready(self.child.try_wait().unwrap()),
        )
        .await
    }

    /// SIGTERM, then a clean exit.
    async fn stop(&mut self) {
        self.signal("TERM");
        let status = self.exited(WAIT).await;
        assert!(
            status.success(),
            "worker exited with {status}:\n{}",
            self.log()
        );
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The engine process id a worker registered under.
async fn process_id(engine: &Engine, worker: &Worker) -> String {
    let pid = i64::from(worker.pid());
    eventually("the worker to register", WAIT, || async {
        engine
            .processes()
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.pid == pid && p.gone_at.is_none())
            .map(|p| p.id)
    })
    .await
}

async fn wait_for_count(engine: &Engine, queue: &str, state: JobState, at_least: i64) {
    eventually(
        &format!("{at_least} {state} jobs in {queue}"),
        WAIT,
        || async { (engine.counts(queue).await.unwrap()[&state] >= at_least).then_some(()) },
    )
    .await;
}

/// Every job of `queue`, page by page.
async fn all_jobs(engine: &Engine, queue: &str) -> Vec<JobRecord> {
    let mut jobs = Vec::new();
    loop {
        let page = engine
            .list(&JobFilter {
                queue: Some(queue.to_owned()),
                after: jobs.last().map(|j: &JobRecord| j.id.clone()),
                limit: 1_000,
                ..JobFilter::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            return jobs;
        }
        jobs.extend(page);
    }
}

/// Checks that every job ran to completion exactly once, except the ones
/// run again after a rescue: each of those has its rescues in the history
/// and exactly one completion. Returns the ids run more than once.
async fn assert_each_completed_once(engine: &Engine, queue: &str, total: usize) -> HashSet<String> {
    let jobs = all_jobs(engine, queue).await;
    assert_eq!(jobs.len(), total);
    let mut rerun = HashSet::new();
    for job in &jobs {
        assert_eq!(job.state, JobState::Completed, "{job:?}");
        assert_eq!(job.owner, None);
        // One attempt: run once, though maybe claimed more than once (a
        // job claimed ahead of the workers and handed back unstarted).
        if job.attempt == 1 {
            continue;
        }
        let detail = engine.detail(&job.id).await.unwrap();
        let outcomes: Vec<&str> = detail.attempts.iter().map(|a| a.outcome.as_str()).collect();
        let completions = outcomes.iter().filter(|o| **o == "completed").count();
        let rescues = outcomes.iter().filter(|o| **o == "rescued").count();
        assert_eq!(
            completions, 1,
            "{} ran to completion twice: {outcomes:?}",
            job.id
        );
        assert!(
            rescues >= 1,
            "{} ran again without a rescue: {outcomes:?}",
            job.id
        );
        rerun.insert(job.id.clone());
    }
    let c = engine.counts(queue).await.unwrap();
    let total = i64::try_from(total).unwrap();
    assert_eq!(c[&JobState::Completed], total, "{c:?}");
    assert_eq!(c.values().sum::<i64>(), total, "{c:?}");
    rerun
}

async fn put_sleeps(engine: &Engine, queue: &str, n: usize, ms: u64) {
    let jobs: Vec<NewJob> = (0..n)
        .map(|_| NewJob::new(queue, &Sleep { ms }).unwrap())
        .collect();
    engine.put_many(jobs).await.unwrap();
}

async fn queue(engine: &Engine, name: &str, concurrency: i32, lock_timeout_ms: i64) {
    engine
        .set_queue(
            name,
            QueueSettings {
                concurrency,
                lock_timeout_ms,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
}

/// A fresh PostgreSQL database, a directory for worker logs, and an engine
/// (not working) to put jobs and watch them.
async fn setup() -> (TestDb, tempfile::TempDir, Engine) {
    let db = Backend::Postgres.fresh().await;
    let engine = Engine::connect(&db.url).await.unwrap();
    (db, tempfile::tempdir().unwrap(), engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_jobs_and_survive_a_sigkill() {
    const JOBS: usize = 10_000;
    let (db, dir, engine) = setup().await;
    queue(&engine, "share", 16, 3_000).await;
    put_sleeps(&engine, "share", JOBS, 10).await;
    let mut workers: Vec<Worker> = (0..3)
        .map(|_| Worker::start(&db.url, "share", 30, dir.path()))
        .collect();
    let victim = process_id(&engine, &workers[0]).await;
    wait_for_count(&engine, "share", JobState::Completed, 2_000).await;
    eventually("the victim to be running jobs", WAIT, || async {
        engine
            .processes()
            .await
            .unwrap()
            .iter()
            .any(|p| p.id == victim && p.running > 0)
            .then_some(())
    })
    .await;
    workers[0].signal("KILL");
    workers[0].exited(WAIT).await;
    // Dead, so what it held is fixed until its locks expire and others
    // rescue it.
    let held: HashSet<String> = engine
        .list(&JobFilter {
            queue: Some("share".to_owned()),
            state: Some(JobState::Running),
            limit: 1_000,
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|job| job.owner.as_deref() == Some(victim.as_str()))
        .map(|job| job.id)
        .collect();
    assert!(!held.is_empty(), "the victim held no jobs when killed");

    wait_for_count(&engine, "share", JobState::Completed, JOBS as i64).await;
    let rerun = assert_each_completed_once(&engine, "share", JOBS).await;
    assert!(
        held.is_subset(&rerun),
        "every job the victim held ran again after a rescue"
    );
    for id in &held {
        let detail = engine.detail(id).await.unwrap();
        assert_eq!(detail.attempts[0].outcome, "rescued");
        assert_eq!(detail.attempts[0].owner.as_deref(), Some(victim.as_str()));
        assert_ne!(detail.attempts[1].owner.as_deref(), Some(victim.as_str()));
    }
    eprintln!(
        "{JOBS} jobs: the killed worker held {}; {} ran twice (at-least-once)",
        held.len(),
        rerun.len()
    );
    for worker in &mut workers[1..] {
        worker.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_ride_out_a_lost_database_connection() {
    const JOBS: usize = 3_000;
    let (db, dir, engine) = setup().await;
    queue(&engine, "cut", 8, 5_000).await;
    put_sleeps(&engine, "cut", JOBS, 5).await;
    let proxy = Proxy::start(amboy_testkit::upstream(&db.url)).await;
    let through = amboy_testkit::through(&db.url, proxy.port());
    let mut workers: Vec<Worker> = (0..2)
        .map(|_| Worker::start(&through, "cut", 30, dir.path()))
        .collect();
    wait_for_count(&engine, "cut", JobState::Completed, 300).await;
    let before = proxy.accepted();
    proxy.cut();
    // The outage itself: what the workers must ride out.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for worker in &mut workers {
        assert!(worker.running(), "a worker died:\n{}", worker.log());
    }
    proxy.restore();
    wait_for_count(&engine, "cut", JobState::Completed, JOBS as i64).await;
    let rerun = assert_each_completed_once(&engine, "cut", JOBS).await;
    assert!(proxy.accepted() > before, "the workers reconnected");
    for worker in &mut workers {
        let log = worker.log();
        let warnings = log.matches("\"level\":\"WARN\"").count();
        assert!(warnings > 0, "the worker did not notice the outage:\n{log}");
        eprintln!("a worker logged {warnings} warnings about the outage");
        if std::env::var_os("AMBOY_SHOW_LOGS").is_some() {
            eprintln!("{log}");
        }
        worker.stop().await;
    }
    eprintln!(
        "{JOBS} jobs through a 2 s outage: {} ran again after a rescue",
        rerun.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_is_rescued_and_its_late_completion_refused() {
    let (db, dir, engine) = setup().await;
    queue(&engine, "frozen", 1, 2_000).await;
    let mut a = Worker::start(&db.url, "frozen", 30, dir.path());
    let a_id = process_id(&engine, &a).await;
    let id = engine
        .put(NewJob::new("frozen", &Sleep { ms: 3_000 }).unwrap())
        .await
        .unwrap();
    eventually("A to claim the job", WAIT, || async {
        let job = engine.get(&id).await.unwrap();
        (job.owner.as_deref() == Some(a_id.as_str())).then_some(())
    })
    .await;
    a.signal("STOP");
    let mut b = Worker::start(&db.url, "frozen", 30, dir.path());
    let b_id = process_id(&engine, &b).await;
    eventually("B to rescue and claim the job", WAIT, || async {
        let job = engine.get(&id).await.unwrap();
        (job.owner.as_deref() == Some(b_id.as_str())).then_some(())
    })
    .await;
    a.signal("CONT");
    let job = engine.wait(&id, WAIT).await.unwrap();
    assert_eq!(
        (job.state, job.claim_count, job.attempt),
        (JobState::Completed, 2, 2)
    );
    eventually("A to log that its late result was refused", WAIT, || {
        let log = a.log();
        std::future::ready(
            log.lines()
                .any(|line| line.contains("result refused") && line.contains(&id))
                .then_some(()),
        )
    })
    .await;
    let detail = engine.detail(&id).await.unwrap();
    let history: Vec<(&str, Option<&str>)> = detail
        .attempts
        .iter()
        .map(|a| (a.outcome.as_str(), a.owner.as_deref()))
        .collect();
    assert_eq!(
        history,
        vec![
            ("rescued", Some(a_id.as_str())),
            ("completed", Some(b_id.as_str()))
        ]
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_or_finishes_jobs_in_flight() {
    let (db, dir, engine) = setup().await;

    // Jobs longer than the shutdown deadline are handed back.
    queue(&engine, "long", 4, 30_000).await;
    let mut worker = Worker::start(&db.url, "long", 1, dir.path());
    put_sleeps(&engine, "long", 4, 600_000).await;
    wait_for_count(&engine, "long", JobState::Running, 4).await;
    worker.stop().await;
    let c = engine.counts("long").await.unwrap();
    assert_eq!((c[&JobState::Pending], c[&JobState::Running]), (4, 0));
    for job in all_jobs(&engine, "long").await {
        assert_eq!((job.attempt, job.owner.as_deref()), (0, None), "{job:?}");
    }

    // Jobs that end within the deadline finish before the process exits.
    queue(&engine, "short", 4, 30_000).await;
    let mut worker = Worker::start(&db.url, "short", 60, dir.path());
    put_sleeps(&engine, "short", 4, 1_000).await;
    wait_for_count(&engine, "short", JobState::Running, 4).await;
    worker.stop().await;
    let c = engine.counts("short").await.unwrap();
    assert_eq!((c[&JobState::Completed], c[&JobState::Running]), (4, 0));
    assert!(engine.processes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_reaches_the_worker_process_running_the_job() {
    let (db, dir, engine) = setup().await;
    queue(&engine, "abort", 1, 30_000).await;
    let mut worker = Worker::start(&db.url, "abort", 30, dir.path());
    let owner = process_id(&engine, &worker).await;
    let id = engine
        .put(NewJob::new("abort", &Sleep { ms: 600_000 }).unwrap())
        .await
        .unwrap();
    eventually("the worker to start the job", WAIT, || async {
        let job = engine.get(&id).await.unwrap();
        (job.owner.as_deref() == Some(owner.as_str())).then_some(())
    })
    .await;
    let asked = std::time::Instant::now();
    assert_eq!(
        engine.abort(&id).await.unwrap(),
        amboy::AbortOutcome::Requested { owner: Some(owner) }
    );
    let job = engine.wait(&id, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Aborted);
    // The owner hears of it by signal; `wait` here rechecks every 250 ms.
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    worker.stop().await;
}
