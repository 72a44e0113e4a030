//! Shared test support: the engine's test job types and event helpers, on
//! top of amboy-testkit's fresh databases and deadline-bound waiting.

// Each test crate uses a part of this module.
#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use amboy::{
    Engine, EngineBuilder, Event, Job, JobContext, JobError, JobEvent, JobFilter, JobRecord,
};
pub use amboy_testkit::{Backend, eventually};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// An engine builder with every test job type registered.
pub fn builder() -> EngineBuilder {
    Engine::builder()
        .register::<Count>()
        .register::<Flaky>()
        .register::<Panics>()
        .register::<Block>()
        .register::<Freeze>()
        .register::<Fails>()
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

/// Fails for good with `message`.
#[derive(Serialize, Deserialize)]
pub struct Fails {
    pub message: String,
}

impl Job for Fails {
    const NAME: &'static str = "fails";
    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Err(JobError::fail(self.message.clone()))
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

/// Every job `filter` selects, walking keyset pages of a thousand.
pub async fn every_job(engine: &Engine, filter: JobFilter) -> Vec<JobRecord> {
    let mut all: Vec<JobRecord> = Vec::new();
    loop {
        let page = engine
            .list(&JobFilter {
                after: all.last().map(|job| job.id.clone()),
                limit: 1_000,
                ..filter.clone()
            })
            .await
            .unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// The value of the sample of metric `name` with (at least) these labels
/// in Prometheus text, if there is one.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit_once(' '))
        .map(|(_, value)| value.parse().unwrap())
}

/// Runs each scenario `fn name(backend: Backend)` as a test on SQLite and
/// on PostgreSQL (modules `sqlite` and `postgres`).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Backend::Postgres).await;
                }
            )*
        }
    };
}
