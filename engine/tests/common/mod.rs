//! Shared test support: fresh databases per backend, test job types, and
//! waiting helpers that poll with a deadline instead of sleeping.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use amboy::{Engine, EngineBuilder, Event, Job, JobContext, JobError, JobEvent};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// A database a test owns; dropped with the test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The backends the conformance suite runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub async fn fresh(self) -> TestDb {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("amboy.db").display()
                );
                TestDb {
                    url,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                use sea_orm::ConnectionTrait;
                let admin_url = std::env::var("AMBOY_TEST_POSTGRES_URL").unwrap_or_else(|_| {
                    "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned()
                });
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .unwrap_or_else(|err| panic!("PostgreSQL at {admin_url}: {err}"));
                let name = format!("amboy_test_{}", uuid::Uuid::now_v7().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                }
            }
        }
    }
}

/// An engine builder with every test job type registered.
pub fn builder() -> EngineBuilder {
    Engine::builder()
        .register::<Count>()
        .register::<Flaky>()
        .register::<Panics>()
        .register::<Block>()
        .register::<Freeze>()
}

fn runs() -> &'static Mutex<HashMap<String, u32>> {
    static RUNS: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    RUNS.get_or_init(Mutex::default)
}

/// How many times `Count` ran for this key.
pub fn run_count(key: &str) -> u32 {
    runs().lock().unwrap().get(key).copied().unwrap_or(0)
}

/// Counts its runs under `key`.
#[derive(Serialize, Deserialize)]
pub struct Count {
    pub key: String,
}

impl Job for Count {
    const NAME: &'static str = "count";
    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        *runs().lock().unwrap().entry(self.key.clone()).or_default() += 1;
        Ok(())
    }
}

/// Fails its first `failures` attempts.
#[derive(Serialize, Deserialize)]
pub struct Flaky {
    pub failures: i32,
}

impl Job for Flaky {
    const NAME: &'static str = "flaky";
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        if ctx.attempt() <= self.failures {
            return Err(JobError::retry(format!("boom {}", ctx.attempt())));
        }
        Ok(())
    }
}

/// Panics.
#[derive(Serialize, Deserialize)]
pub struct Panics {}

impl Job for Panics {
    const NAME: &'static str = "panics";
    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        panic!("deliberate panic in a test job");
    }
}

/// Runs until cancelled.
#[derive(Serialize, Deserialize)]
pub struct Block {}

impl Job for Block {
    const NAME: &'static str = "block";
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        ctx.log("blocking until cancelled").await;
        ctx.cancelled().await;
        Err(JobError::retry("cancelled"))
    }
}

fn freezers() -> &'static Mutex<HashMap<String, std::sync::mpsc::Receiver<()>>> {
    static FREEZERS: OnceLock<Mutex<HashMap<String, std::sync::mpsc::Receiver<()>>>> =
        OnceLock::new();
    FREEZERS.get_or_init(Mutex::default)
}

/// Arms a freeze for job `id`: its first attempt blocks its thread (and so
/// a current-thread runtime: the whole "process") until the sender sends.
pub fn arm_freeze(id: &str) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    freezers().lock().unwrap().insert(id.to_owned(), rx);
    tx
}

/// Blocks its thread on the first attempt (see [`arm_freeze`]).
#[derive(Serialize, Deserialize)]
pub struct Freeze {}

impl Job for Freeze {
    const NAME: &'static str = "freeze";
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let armed = freezers().lock().unwrap().remove(ctx.id());
        if let Some(rx) = armed {
            // Deliberately blocking: this simulates a frozen process.
            let _ = rx.recv();
        }
        Ok(())
    }
}

/// Polls `check` until it returns `Some`, failing with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for a job event matching `wanted`.
pub async fn next_event(
    events: &mut broadcast::Receiver<Event>,
    what: &str,
    wanted: impl Fn(&JobEvent) -> bool,
) -> JobEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(Event::Job(event)) if wanted(&event) => return event,
                Ok(_) => {}
                Err(err) => panic!("event stream failed while waiting for {what}: {err}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
