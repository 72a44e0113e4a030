//! Running one attempt: decode, run, enforce cancellation and `max_time`,
//! catch panics, and turn the result into an [`Outcome`].

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::dispatch::Slots;
use super::{CANCEL_GRACE, RunningJob, StopReason};
use crate::backoff::retry_delay;
use crate::clock::duration_us;
use crate::dependency::Dependency;
use crate::engine::Engine;
use crate::job::{ContextInner, JobContext, JobError, MAX_LOG_LINES_PER_ATTEMPT};
use crate::store::claim::ClaimedJob;
use crate::store::control::ABORTED_BY_OPERATOR;
use crate::store::finish::{Finish, Outcome};

/// Runs one claimed job and sends its result to the completer.
pub(crate) async fn run(
    engine: Engine,
    job: ClaimedJob,
    running: RunningJob,
    started_at: i64,
    results: mpsc::UnboundedSender<Finish>,
    slots: Arc<Slots>,
) {
    // Everything the job logs through `tracing` carries these fields.
    let span = tracing::info_span!(
        "job",
        id = %job.id,
        queue = %running.queue,
        job_type = %job.job_type,
        attempt = job.attempt,
    );
    let outcome = attempt(&engine, &job, &running, started_at)
        .instrument(span.clone())
        .await;
    span.in_scope(|| match &outcome {
        Outcome::Completed | Outcome::Released | Outcome::Unstarted | Outcome::Snoozed { .. } => {
            tracing::debug!(state = %outcome.state(), "attempt ended");
        }
        _ => tracing::info!(
            state = %outcome.state(),
            error = outcome.error().unwrap_or_default(),
            "attempt ended"
        ),
    });
    let finish = Finish {
        id: job.id,
        job_type: job.job_type,
        claim_count: job.claim_count,
        attempt: job.attempt,
        started_at,
        ended_at: engine.clock().now_us(),
        outcome,
    };
    // The completer outlives every executor of its queue: it stops only
    // after the runner has drained, so this send cannot fail in practice.
    if results.send(finish).is_err() {
        tracing::error!("completer gone; a result was dropped");
    }
    slots.release();
}

async fn attempt(
    engine: &Engine,
    job: &ClaimedJob,
    running: &RunningJob,
    started_at: i64,
) -> Outcome {
    let ctx = JobContext {
        inner: Arc::new(ContextInner {
            id: job.id.clone(),
            queue: running.queue.to_string(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            cancel: running.cancel.clone(),
            engine: engine.clone(),
            clock: engine.clock().clone(),
            log_budget: AtomicUsize::new(MAX_LOG_LINES_PER_ATTEMPT),
        }),
    };
    // Stopped while it waited for a worker (the runner claims ahead): it
    // never runs, and goes back unless its abort was requested (the
    // results write reads the requests).
    if running.reason().is_some() {
        return Outcome::Unstarted;
    }
    if let Some(reason) = skip_reason(job).await {
        return reason;
    }
    let future = match engine
        .registry()
        .prepare(&job.job_type, job.type_version, &job.payload, ctx)
    {
        Ok(future) => future,
        // Unknown type, version mismatch, undecodable payload: retrying
        // cannot help.
        Err(err) => return Outcome::Failed(err.to_string()),
    };
    let mut run = AssertUnwindSafe(future).catch_unwind();
    let deadline = job
        .max_time_ms
        .map(|ms| started_at.saturating_add(ms.saturating_mul(1_000)));
    let result = tokio::select! {
        result = &mut run => Some(result),
        () = running.cancel.cancelled() => None,
        () = sleep_until(engine, deadline) => {
            running.stop(StopReason::TimedOut);
            None
        }
    };
    let result = match result {
        Some(result) => Some(result),
        // Cancelled: give the job a moment to notice, then drop it.
        None => tokio::time::timeout(CANCEL_GRACE, run).await.ok(),
    };
    let now = engine.clock().now_us();
    match (running.reason(), result) {
        (Some(StopReason::Aborted), _) => Outcome::Aborted(ABORTED_BY_OPERATOR.to_owned()),
        (Some(StopReason::TimedOut), _) => failed_attempt(
            job,
            now,
            format!(
                "exceeded max_time of {} ms; the run was cancelled",
                job.max_time_ms.unwrap_or(0)
            ),
            None,
        ),
        (Some(StopReason::Shutdown), Some(Ok(Ok(())))) => Outcome::Completed,
        (Some(StopReason::Shutdown | StopReason::LockLost), _) => Outcome::Released,
        (None, Some(Ok(Ok(())))) => Outcome::Completed,
        (None, Some(Ok(Err(JobError::Retry { message, delay })))) => {
            failed_attempt(job, now, message, delay)
        }
        (None, Some(Ok(Err(JobError::Fail(message))))) => Outcome::Failed(message),
        (None, Some(Ok(Err(JobError::Snooze(delay))))) => Outcome::Snoozed {
            until: now.saturating_add(duration_us(delay)),
        },
        (None, Some(Err(panic))) => failed_attempt(
            job,
            now,
            format!("panicked: {}", panic_message(&*panic)),
            None,
        ),
        // Unreachable: without a stop reason the run was not cancelled.
        (None, None) => failed_attempt(job, now, "run ended without a result".to_owned(), None),
    }
}

/// Asks the job's dependency manager whether it needs to run: `Some` ends
/// the attempt without running it (skipped, or failed when the check
/// itself could not be made).
async fn skip_reason(job: &ClaimedJob) -> Option<Outcome> {
    let manager = job.dependency.as_deref()?;
    let dependency: Dependency = match serde_json::from_str(manager) {
        Ok(dependency) => dependency,
        Err(err) => {
            return Some(Outcome::Failed(format!(
                "its dependency manager does not decode: {err}"
            )));
        }
    };
    // File system calls block: off the async workers.
    match tokio::task::spawn_blocking(move || dependency.skip_reason()).await {
        Ok(reason) => reason.map(Outcome::Skipped),
        Err(err) => Some(Outcome::Failed(format!(
            "the dependency check failed: {err}"
        ))),
    }
}

/// A failed attempt: retried after the back-off while attempts remain.
fn failed_attempt(job: &ClaimedJob, now: i64, error: String, delay: Option<Duration>) -> Outcome {
    if job.attempt >= job.max_attempts {
        return Outcome::Failed(format!(
            "{error} (attempt {} of {})",
            job.attempt, job.max_attempts
        ));
    }
    let delay = delay.unwrap_or_else(|| {
        retry_delay(
            job.attempt,
            Duration::from_millis(job.backoff_base_ms.unsigned_abs()),
            Duration::from_millis(job.backoff_max_ms.unsigned_abs()),
        )
    });
    Outcome::Retry {
        at: now.saturating_add(duration_us(delay)),
        error,
    }
}

async fn sleep_until(engine: &Engine, deadline: Option<i64>) {
    match deadline {
        Some(deadline) => engine.clock().sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}
