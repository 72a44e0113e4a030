//! The event bus: job lifecycle events and a stats snapshot each second.
//!
//! One `tokio::sync::broadcast` channel per engine. Senders never wait; a
//! receiver that falls behind skips ahead (`RecvError::Lagged`), which suits
//! dashboards and metrics: they want the present, not a replay.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::JobState;

/// Events buffered per receiver before it lags.
pub const EVENT_BUFFER: usize = 8_192;

/// Something that happened in the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A job changed state.
    Job(JobEvent),
    /// Counts by queue and state, published once a second.
    Stats(Arc<StatsSnapshot>),
}

/// A job's state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The job.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its type.
    pub job_type: String,
    /// What happened.
    pub kind: JobEventKind,
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobEventKind {
    /// Put into its queue.
    Enqueued,
    /// An attempt started.
    Started {
        /// The attempt number.
        attempt: i32,
        /// Seconds from ready to started.
        queue_latency_secs: f64,
    },
    /// An attempt ended and its result was recorded.
    Finished {
        /// The state the job moved to.
        state: JobState,
        /// The attempt number.
        attempt: i32,
        /// Seconds the attempt ran.
        run_secs: f64,
        /// Its error, if it failed.
        error: Option<String>,
    },
    /// A waiting job was aborted, or an abort was sent to a running one.
    Aborted,
    /// It was still waiting past its dispatch deadline.
    Expired,
    /// Its owner's lock expired and the rescuer took it back.
    Rescued {
        /// Where it went: pending, or failed.
        state: JobState,
    },
    /// This process finished an attempt it no longer owned; the result was
    /// refused (the job was rescued and belongs to someone else).
    CompletionRefused,
    /// An operator sent it back to pending.
    Retried,
    /// An operator marked it completed without running it.
    MarkedComplete,
    /// An operator deleted it.
    Deleted,
}

/// Snapshots of throughput [`crate::Engine::rates`] keeps: ten minutes at
/// one a second.
pub const RATE_HISTORY: usize = 600;

/// Throughput as one stats snapshot measured it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatePoint {
    /// When the snapshot was taken.
    pub at: DateTime<Utc>,
    /// Jobs completed per second since the one before.
    pub completed_per_sec: f64,
    /// Jobs failed per second since the one before.
    pub failed_per_sec: f64,
}

/// Counts by state for one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueCounts {
    /// The queue.
    pub queue: String,
    /// Jobs per state; every state is present.
    pub counts: BTreeMap<JobState, i64>,
}

/// Everything a dashboard shows live, computed once per second for all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsSnapshot {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// Per-queue counts.
    pub queues: Vec<QueueCounts>,
    /// Jobs completed since the previous snapshot, per second.
    pub completed_per_sec: f64,
    /// Jobs failed since the previous snapshot, per second.
    pub failed_per_sec: f64,
}

impl StatsSnapshot {
    /// Counts summed over every queue.
    pub fn totals(&self) -> BTreeMap<JobState, i64> {
        let mut totals: BTreeMap<JobState, i64> =
            JobState::ALL.iter().map(|state| (*state, 0)).collect();
        for queue in &self.queues {
            for (state, n) in &queue.counts {
                *totals.entry(*state).or_default() += n;
            }
        }
        totals
    }
}
