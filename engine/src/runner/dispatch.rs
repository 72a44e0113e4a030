//! A queue's runner: claim batches, keep `concurrency` jobs running, sleep
//! until the next job is due.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use super::{RunningJob, Shutdown, StopReason, complete, execute, jittered, keeper};
use crate::clock::duration_us;
use crate::engine::Engine;
use crate::events::JobEventKind;
use crate::queue::QueueSettings;
use crate::store::claim::ClaimRequest;
use crate::store::timing::Metric;

/// Most jobs one claim statement takes.
pub const MAX_CLAIM_BATCH: usize = 1_000;
/// How often queue settings are re-read (changes made in this process
/// apply at once; those made by other processes within this).
const SETTINGS_REFRESH: Duration = Duration::from_secs(1);
/// How often due retries are promoted to pending while the queue is busy.
const PROMOTE_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait, after a slot frees, for half the slots to be free before
/// claiming again: one claim per batch instead of one per finished job.
const CLAIM_COOLDOWN: Duration = Duration::from_millis(2);

/// Counts the jobs running in this queue and signals when one ends.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    busy: AtomicUsize,
    freed: Notify,
}

impl Slots {
    pub fn busy(&self) -> usize {
        self.busy.load(AtomicOrdering::Acquire)
    }

    pub fn release(&self) {
        self.busy.fetch_sub(1, AtomicOrdering::AcqRel);
        self.freed.notify_one();
    }
}

/// Runs `queue` until shutdown, then drains it.
pub(crate) async fn run(engine: Engine, queue: String, poll: Duration, shutdown: Shutdown) {
    let queue: Arc<str> = queue.into();
    let slots = Arc::new(Slots::default());
    let (results, finished) = mpsc::unbounded_channel();
    let completer = tokio::spawn(complete::run(engine.clone(), queue.clone(), finished));
    let keeper = tokio::spawn(keeper::run(engine.clone(), queue.clone()));
    let waker = engine.waker(&queue);
    let mut settings = QueueSettings::default();
    let mut settings_read: Option<Instant> = None;
    let mut settings_generation = engine.queues_generation();
    let mut promoted: Option<Instant> = None;
    let mut failures = 0u32;

    while !shutdown.drain.is_cancelled() {
        // Settings change rarely: re-read them once a second, or at once
        // when this process changed them.
        let changed = engine.queues_changed().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let generation = engine.queues_generation();
        if generation != settings_generation
            || settings_read.is_none_or(|at| at.elapsed() >= SETTINGS_REFRESH)
        {
            settings_generation = generation;
            match engine.store().queue(&queue).await {
                Ok(Some(found)) => settings = found.settings,
                Ok(None) => {}
                Err(err) => tracing::warn!(%queue, %err, "could not read queue settings"),
            }
            settings_read = Some(Instant::now());
        }
        let concurrency = usize::try_from(settings.concurrency).unwrap_or(1);
        let free = concurrency.saturating_sub(slots.busy());
        if settings.paused || free == 0 {
            tokio::select! {
                () = shutdown.drain.cancelled() => break,
                () = slots.freed.notified(), if !settings.paused => {
                    // Let other runs that are finishing finish too, so the
                    // next claim takes a batch rather than one job.
                    let cooldown = tokio::time::sleep(CLAIM_COOLDOWN);
                    tokio::pin!(cooldown);
                    while concurrency.saturating_sub(slots.busy()) < concurrency.div_ceil(2) {
                        tokio::select! {
                            () = &mut cooldown => break,
                            () = slots.freed.notified() => {}
                        }
                    }
                }
                () = &mut changed => settings_read = None,
                () = tokio::time::sleep(jittered(poll)) => {}
            }
            continue;
        }
        let now = engine.clock().now_us();
        let limit = free.min(MAX_CLAIM_BATCH);
        let claimed = engine
            .store()
            .claim(ClaimRequest {
                queue: &queue,
                ordering: settings.ordering,
                owner: engine.process_id(),
                now,
                lock_expires_at: now.saturating_add(duration_us(settings.lock_timeout())),
                limit,
                promote_retries: promoted.is_none_or(|at| at.elapsed() >= PROMOTE_INTERVAL),
            })
            .await;
        let claimed = match claimed {
            Ok(claimed) => {
                if failures > 0 {
                    tracing::info!(%queue, failures, "claiming again after database errors");
                }
                failures = 0;
                if claimed.promoted {
                    promoted = Some(Instant::now());
                }
                claimed.jobs
            }
            Err(err) => {
                failures += 1;
                let pause = jittered(poll.mul_f64(f64::from(failures.min(10))));
                tracing::warn!(%queue, %err, ?pause, "claim failed; backing off");
                tokio::select! {
                    () = shutdown.drain.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
                continue;
            }
        };
        let got = claimed.len();
        for job in claimed {
            engine.timings().add(
                now,
                &queue,
                &job.job_type,
                Metric::Latency,
                now - job.run_at,
            );
            let running = RunningJob::new(queue.clone(), job.claim_count);
            engine.running().insert(job.id.clone(), running.clone());
            slots.busy.fetch_add(1, AtomicOrdering::AcqRel);
            engine.emit_job(
                &job.id,
                &queue,
                &job.job_type,
                JobEventKind::Started {
                    attempt: job.attempt,
                    queue_latency_secs: (now - job.run_at).max(0) as f64 / 1e6,
                },
            );
            tokio::spawn(execute::run(
                engine.clone(),
                job,
                running,
                now,
                results.clone(),
                slots.clone(),
            ));
        }
        if got == limit {
            continue;
        }
        // Nothing more is ready: sleep until the next job is due, a put
        // wakes us, or the poll interval passes (puts by other processes).
        let now = engine.clock().now_us();
        let mut wake_at = now.saturating_add(duration_us(jittered(poll)));
        match engine.store().next_due(&queue).await {
            Ok(Some(due)) if due <= now => continue,
            Ok(Some(due)) => wake_at = wake_at.min(due),
            Ok(None) => {}
            Err(err) => tracing::warn!(%queue, %err, "could not read the next due time"),
        }
        tokio::select! {
            () = shutdown.drain.cancelled() => break,
            () = waker.notified() => {}
            () = &mut changed => settings_read = None,
            // A retry may be what is due: promote it on the next claim.
            () = engine.clock().sleep_until(wake_at) => promoted = None,
        }
    }
    drain(&engine, &queue, &slots, &shutdown).await;
    drop(results);
    if let Err(err) = completer.await {
        tracing::error!(%queue, %err, "completer failed");
    }
    keeper.abort();
}

/// Waits for running jobs to finish; at the hard deadline, stops them.
async fn drain(engine: &Engine, queue: &str, slots: &Slots, shutdown: &Shutdown) {
    while slots.busy() > 0 {
        tokio::select! {
            () = slots.freed.notified() => {}
            () = shutdown.hard.cancelled() => {
                for job in engine.running().values().filter(|job| &*job.queue == queue) {
                    job.stop(StopReason::Shutdown);
                }
                while slots.busy() > 0 {
                    slots.freed.notified().await;
                }
            }
        }
    }
}
