//! The lock keeper: renews this process's locks in a queue every
//! lock_timeout/4, cancels runs whose lock was lost or whose abort was
//! requested through the database, rescues expired locks, and expires
//! waiting jobs past their dispatch deadline. The abort watch reads abort
//! requests each second, for when a signal was lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::StopReason;
use crate::clock::duration_us;
use crate::engine::Engine;
use crate::events::JobEventKind;
use crate::queue::QueueSettings;
use crate::state::JobState;

/// How often running jobs are checked for abort requests.
pub const ABORT_POLL: Duration = Duration::from_secs(1);

/// Renews and rescues until aborted by the queue's runner.
pub(crate) async fn run(engine: Engine, queue: Arc<str>) {
    loop {
        let timeout = match engine.store().queue(&queue).await {
            Ok(Some(found)) => found.settings.lock_timeout(),
            _ => QueueSettings::default().lock_timeout(),
        };
        engine.clock().sleep(timeout / 4).await;
        renew(&engine, &queue, timeout).await;
        rescue(&engine, &queue).await;
        expire(&engine, &queue).await;
    }
}

/// Cancels this process's runs whose abort was requested in the database,
/// each [`ABORT_POLL`]. Signals usually deliver aborts first; this bounds
/// the delay when they cannot (SQLite, a lost listener connection).
pub(crate) async fn watch_aborts(engine: Engine) {
    loop {
        engine.clock().sleep(ABORT_POLL).await;
        if engine.running().is_empty() {
            continue;
        }
        match engine.store().abort_requested(engine.process_id()).await {
            Ok(ids) => {
                let running = engine.running();
                for id in ids {
                    if let Some(job) = running.get(&id) {
                        job.stop(StopReason::Aborted);
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "could not read abort requests"),
        }
    }
}

async fn renew(engine: &Engine, queue: &str, timeout: Duration) {
    let held: Vec<(String, i32)> = engine
        .running()
        .iter()
        .filter(|(_, job)| &*job.queue == queue)
        .map(|(id, job)| (id.clone(), job.claim_count))
        .collect();
    if held.is_empty() {
        return;
    }
    let expires_at = engine.clock().now_us().saturating_add(duration_us(timeout));
    let renew = engine
        .store()
        .renew_locks(engine.process_id(), &held, expires_at);
    let renewed = match engine.metrics().timed("renew", renew).await {
        Ok(renewed) => renewed,
        Err(err) => {
            // The locks stay valid until they expire; try again next tick.
            tracing::warn!(%queue, %err, "could not renew locks");
            return;
        }
    };
    let renewed: HashMap<&str, bool> = renewed
        .iter()
        .map(|r| (r.id.as_str(), r.abort_requested))
        .collect();
    let running = engine.running();
    for (id, _) in &held {
        let Some(job) = running.get(id) else { continue };
        match renewed.get(id.as_str()) {
            None => {
                tracing::warn!(job = %id, %queue, "lock lost; cancelling the run");
                job.stop(StopReason::LockLost);
            }
            Some(true) => job.stop(StopReason::Aborted),
            Some(false) => {}
        }
    }
}

async fn rescue(engine: &Engine, queue: &str) {
    let rescue = engine
        .store()
        .rescue_expired(queue, engine.clock().now_us());
    match engine.metrics().timed("rescue", rescue).await {
        Ok(rescued) if rescued.is_empty() => {}
        Ok(rescued) => {
            let metrics = engine.metrics();
            metrics.rescued(queue, rescued.len() as u64);
            for job in &rescued {
                if job.state == JobState::Failed {
                    metrics.finished(queue, &job.job_type, "failed", 1);
                }
                tracing::warn!(job = %job.id, %queue, owner = ?job.owner, state = %job.state, "rescued a job whose lock expired");
                engine.emit_job(
                    &job.id,
                    queue,
                    &job.job_type,
                    JobEventKind::Rescued { state: job.state },
                );
            }
            engine.waker(queue).notify_one();
        }
        Err(err) => tracing::warn!(%queue, %err, "could not rescue expired locks"),
    }
}

/// Expires the queue's waiting jobs past their dispatch deadline.
async fn expire(engine: &Engine, queue: &str) {
    let expire = engine
        .store()
        .expire_overdue(queue, engine.clock().now_us());
    match engine.metrics().timed("expire", expire).await {
        Ok(expired) => {
            let metrics = engine.metrics();
            for job in &expired {
                tracing::info!(job = %job.id, %queue, from = %job.from, "expired: not started by its dispatch deadline");
                metrics.finished(queue, &job.job_type, "expired", 1);
                engine.emit_job(&job.id, queue, &job.job_type, JobEventKind::Expired);
            }
        }
        Err(err) => tracing::warn!(%queue, %err, "could not expire overdue jobs"),
    }
}
