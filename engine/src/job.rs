//! What a job is to its author: the [`Job`] trait, the [`JobContext`] a run
//! gets, and the [`JobError`] that says what should happen after a failure.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::engine::Engine;
use crate::error::Result;

/// A job type: a serde payload with an async `run`.
///
/// ```
/// use amboy::{Job, JobContext, JobError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendReport { to: String }
///
/// impl Job for SendReport {
///     const NAME: &'static str = "send-report";
///     async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
///         ctx.log(format!("sending to {}", self.to)).await;
///         Ok(())
///     }
/// }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The type name stored with each job and used to look it up.
    const NAME: &'static str;
    /// The payload version. A stored job whose version differs from the
    /// registered one fails with a clear error instead of mis-decoding.
    const VERSION: i32 = 1;

    /// Runs one attempt. Return `Ok(())` on success or a [`JobError`] that
    /// says whether to retry, fail, or snooze. Watch
    /// [`JobContext::cancelled`] in long runs: it fires on abort, on
    /// `max_time` and at shutdown.
    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Why an attempt did not succeed, and what should happen next.
#[derive(Debug, Clone, PartialEq)]
pub enum JobError {
    /// Retry if attempts remain: after `delay`, or after the job's back-off
    /// when `None`.
    Retry {
        /// What went wrong.
        message: String,
        /// Overrides the back-off for this retry.
        delay: Option<Duration>,
    },
    /// Fail now; do not retry even if attempts remain.
    Fail(String),
    /// Run again after `Duration` without counting this attempt.
    Snooze(Duration),
}

impl JobError {
    /// A retryable error with the job's back-off.
    pub fn retry(message: impl Into<String>) -> Self {
        JobError::Retry {
            message: message.into(),
            delay: None,
        }
    }

    /// A retryable error retried after `delay`.
    pub fn retry_after(message: impl Into<String>, delay: Duration) -> Self {
        JobError::Retry {
            message: message.into(),
            delay: Some(delay),
        }
    }

    /// A permanent failure.
    pub fn fail(message: impl Into<String>) -> Self {
        JobError::Fail(message.into())
    }
}

/// Errors of other kinds become retryable job errors, so `?` works in `run`.
impl<E: std::error::Error> From<E> for JobError {
    fn from(err: E) -> Self {
        JobError::retry(err.to_string())
    }
}

/// What a running attempt can see and do.
#[derive(Clone)]
pub struct JobContext {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    pub id: String,
    pub queue: String,
    pub attempt: i32,
    pub max_attempts: i32,
    pub cancel: CancellationToken,
    pub engine: Engine,
    pub clock: Clock,
    pub log_budget: std::sync::atomic::AtomicUsize,
}

/// Most lines one attempt may write to the job log; later lines are dropped.
pub const MAX_LOG_LINES_PER_ATTEMPT: usize = 1_000;
/// Longest log line kept, in bytes; longer lines are cut.
pub const MAX_LOG_LINE_BYTES: usize = 4_096;

impl JobContext {
    /// The job's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The queue the job runs in.
    pub fn queue(&self) -> &str {
        &self.inner.queue
    }

    /// This attempt's number, starting at 1.
    pub fn attempt(&self) -> i32 {
        self.inner.attempt
    }

    /// The most attempts the job gets.
    pub fn max_attempts(&self) -> i32 {
        self.inner.max_attempts
    }

    /// The token cancelled on abort, on `max_time` and at shutdown.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Resolves when the run should stop.
    pub async fn cancelled(&self) {
        self.inner.cancel.cancelled().await
    }

    /// True once the run should stop.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// The engine, to enqueue follow-up jobs.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Records progress (0–100, clamped) and a short message. Failures to
    /// record are logged, never returned: progress is advisory.
    pub async fn progress(&self, percent: i32, message: impl Into<String>) {
        let message = truncate(message.into(), MAX_LOG_LINE_BYTES);
        if let Err(err) = self
            .inner
            .engine
            .store()
            .set_progress(&self.inner.id, percent.clamp(0, 100), &message)
            .await
        {
            tracing::warn!(job = %self.inner.id, %err, "could not record progress");
        }
    }

    /// Appends a line to the job's log (bounded per attempt, see
    /// [`MAX_LOG_LINES_PER_ATTEMPT`]).
    pub async fn log(&self, line: impl Into<String>) {
        use std::sync::atomic::Ordering;
        let allowed = self
            .inner
            .log_budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if !allowed {
            return;
        }
        let line = truncate(line.into(), MAX_LOG_LINE_BYTES);
        let at = self.inner.clock.now_us();
        if let Err(err) = self
            .inner
            .engine
            .store()
            .append_log(&self.inner.id, self.inner.attempt, at, &line)
            .await
        {
            tracing::warn!(job = %self.inner.id, %err, "could not record a log line");
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Decodes a payload as `J`, the error as text: the registry uses it both to
/// refuse undecodable payloads at put time and to build runs.
pub(crate) fn decode<J: Job>(payload: &str) -> Result<J, String> {
    serde_json::from_str::<J>(payload).map_err(|err| err.to_string())
}
