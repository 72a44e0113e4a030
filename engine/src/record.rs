//! What reads return: jobs as stored, their attempts and log lines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dependency::{Dependency, OnDependencyFailure};
use crate::state::JobState;

/// A job as stored. Times are UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRecord {
    /// Unique id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its type name.
    #[serde(rename = "type")]
    pub job_type: String,
    /// The type version it was stored with.
    pub type_version: i32,
    /// Where it is in its life.
    pub state: JobState,
    /// The payload.
    pub payload: serde_json::Value,
    /// Higher runs first in priority queues.
    pub priority: i32,
    /// Attempts started so far.
    pub attempt: i32,
    /// The most attempts it gets.
    pub max_attempts: i32,
    /// Run time limit per attempt, ms.
    pub max_time_ms: Option<i64>,
    /// When it was put.
    pub created_at: DateTime<Utc>,
    /// When it is (or was) ready to run.
    pub run_at: DateTime<Utc>,
    /// Start by then or expire.
    pub dispatch_by: Option<DateTime<Utc>>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a terminal state.
    pub ended_at: Option<DateTime<Utc>>,
    /// The process running it.
    pub owner: Option<String>,
    /// The latest attempt's error.
    pub last_error: Option<String>,
    /// Progress, 0–100.
    pub progress: i32,
    /// The latest progress message.
    pub progress_message: Option<String>,
    /// Times it has been claimed (rescues and snoozes included).
    pub claim_count: i32,
    /// The jobs it depends on.
    pub depends_on: Vec<String>,
    /// How many of them it still waits for (while `blocked`).
    pub deps_left: i32,
    /// What happens when one of them ends without completing.
    pub on_dependency_failure: OnDependencyFailure,
    /// Its dependency manager.
    pub dependency: Dependency,
    /// Its dispatch scopes (held while it runs).
    pub scopes: Vec<String>,
    /// Its enqueue scopes (held until it ends).
    pub enqueue_scopes: Vec<String>,
}

/// One finished attempt, from the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// The attempt number.
    pub attempt: i32,
    /// The process that ran it.
    pub owner: Option<String>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// completed, retrying, failed, aborted, rescued or skipped.
    pub outcome: String,
    /// Its error.
    pub error: Option<String>,
}

/// One line a job wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    /// The attempt that wrote it.
    pub attempt: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// The text.
    pub line: String,
}

/// A job with its history and log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDetail {
    /// The job.
    #[serde(flatten)]
    pub job: JobRecord,
    /// The error of every failed attempt, oldest first.
    pub errors: Vec<String>,
    /// Finished attempts, oldest first (a first-try success has none).
    pub attempts: Vec<Attempt>,
    /// Its log lines, oldest first.
    pub logs: Vec<LogLine>,
}

/// Which jobs a list returns. Lists are ordered by id (creation order for
/// the default UUIDv7 ids), oldest first unless `newest_first`; `after`
/// continues from the last id of the previous page (keyset pagination).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobFilter {
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this type.
    pub job_type: Option<String>,
    /// Only ids starting with this.
    pub id_prefix: Option<String>,
    /// Only jobs held by this process (with `state: running`, a worker's
    /// running jobs).
    pub owner: Option<String>,
    /// Newest first: ids in descending order.
    #[serde(default)]
    pub newest_first: bool,
    /// Ids after this one, in the list's order.
    pub after: Option<String>,
    /// Page size (1–1000).
    pub limit: u32,
}

/// Default page size.
pub const DEFAULT_PAGE: u32 = 50;
/// Largest page size.
pub const MAX_PAGE: u32 = 1_000;

/// An engine process (`amboy serve`, `amboy worker`, or an embedding
/// program running workers). Times are UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessRecord {
    /// Unique per process start: host, pid and a random suffix.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// The OS process id.
    pub pid: i64,
    /// The amboy version it runs.
    pub version: String,
    /// The queues it works; `None` for every queue.
    pub queues: Option<Vec<String>>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its latest heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// When it was marked gone for missing heartbeats; `None` while alive.
    pub gone_at: Option<DateTime<Utc>>,
    /// Jobs it holds running.
    pub running: i64,
}

/// Jobs of one type in one queue, by state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypeCounts {
    /// The queue.
    pub queue: String,
    /// The job type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Jobs by state (every state present).
    pub counts: std::collections::BTreeMap<JobState, i64>,
}

/// Attempts of one job type that failed with one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorGroup {
    /// The job type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// The error message.
    pub error: String,
    /// How many attempts ended with it in the window.
    pub count: i64,
    /// When the latest of them ended.
    pub last_at: DateTime<Utc>,
    /// One of the jobs, to look at.
    pub example_job_id: String,
}

/// A duration distribution, from histograms (percentiles are estimates
/// within a factor of √2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Percentiles {
    /// Samples.
    pub count: i64,
    /// Mean, ms (exact).
    pub mean_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// How long one job type's jobs wait and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimingReport {
    /// The job type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Ready → started.
    pub queue_latency: Percentiles,
    /// Started → ended, per attempt.
    pub run_duration: Percentiles,
}
