//! amboy: a persisted job queue and cron/interval scheduler you can see into.
//!
//! Jobs are Rust types implementing [`Job`]; an [`Engine`] stores them
//! through sea-orm (SQLite by default, PostgreSQL when processes share the
//! work), runs them on tokio worker pools with retries, `max_time`, aborts
//! and lock-based rescue, and reports everything as [`Event`]s.
//!
//! ```no_run
//! use amboy::{Engine, Job, JobContext, JobError, NewJob, WorkerOptions};
//! use serde::{Deserialize, Serialize};
//! use std::time::Duration;
//!
//! #[derive(Serialize, Deserialize)]
//! struct Greet { name: String }
//!
//! impl Job for Greet {
//!     const NAME: &'static str = "greet";
//!     async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
//!         ctx.log(format!("hello, {}", self.name)).await;
//!         Ok(())
//!     }
//! }
//!
//! # async fn demo() -> Result<(), amboy::Error> {
//! let engine = Engine::builder().register::<Greet>().connect("sqlite://amboy.db?mode=rwc").await?;
//! let workers = engine.start_workers(WorkerOptions::default()).await?;
//! let id = engine.put(NewJob::new("default", &Greet { name: "world".into() })?).await?;
//! let job = engine.wait(&id, Duration::from_secs(5)).await?;
//! assert_eq!(job.state, amboy::JobState::Completed);
//! workers.shutdown(Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```
//!
//! Layout:
//! - [`job`], [`registry`], [`spec`]: job types, their registry, and what a
//!   put takes; [`builtin`]: `noop`, `sleep`, `http`, `shell`;
//! - [`dependency`]: edges between jobs, dependency managers, scopes;
//! - [`engine`]: the handle (put, get, wait, abort, queues, schedules, stats);
//! - [`management`]: retry, mark complete, delete and abort, one job or in
//!   bulk;
//! - [`schedule`]: recurring puts on cron and interval specs;
//! - [`metrics`]: Prometheus counters, histograms and gauges;
//! - `runner`: claim, execute, complete, keep locks, fire schedules,
//!   publish stats;
//! - [`store`]: every SQL statement, behind named functions;
//! - [`state`], [`queue`], [`record`], [`events`], [`clock`], [`error`]:
//!   the vocabulary.

pub mod backoff;
pub mod builtin;
pub mod clock;
pub mod dependency;
pub mod engine;
pub mod error;
pub mod events;
pub mod job;
pub mod management;
pub mod metrics;
pub mod queue;
pub mod record;
pub mod registry;
mod runner;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod store;

pub use clock::{Clock, ManualClock};
pub use dependency::{Dependency, OnDependencyFailure};
pub use engine::{Engine, EngineBuilder};
pub use error::{Error, Result};
pub use events::{Event, JobEvent, JobEventKind, QueueCounts, RatePoint, StatsSnapshot};
pub use job::{Job, JobContext, JobError};
pub use management::{BulkAction, JobSelector};
pub use metrics::Metrics;
pub use queue::{Ordering, Queue, QueueRule, QueueSettings};
pub use record::{
    Attempt, ErrorGroup, JobDetail, JobFilter, JobRecord, LogLine, Percentiles, ProcessRecord,
    TimingReport, TypeCounts,
};
pub use registry::Registry;
pub use runner::{
    DEFAULT_POLL_INTERVAL, FORGET_AFTER, GONE_AFTER, HEARTBEAT_INTERVAL, MAX_BATCHES_PER_ROUND,
    PRUNE_BATCH, RETENTION_INTERVAL, WorkerOptions, Workers,
};
pub use schedule::{
    Misfire, Overlap, ScheduleDef, ScheduleDetail, ScheduleEvent, ScheduleRecord, SpecDef,
};
pub use spec::NewJob;
pub use state::JobState;
pub use store::control::AbortOutcome;
