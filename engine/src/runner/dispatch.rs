//! A queue's runner: claim batches (ahead of the workers when jobs are
//! short), keep `concurrency` jobs running, sleep until the next job is due.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::{Duration, Instant};

use prometheus::IntGauge;
use tokio::sync::{Notify, mpsc};

use super::{RunningJob, Shutdown, StopReason, complete, execute, jittered, keeper};
use crate::clock::duration_us;
use crate::engine::Engine;
use crate::events::JobEventKind;
use crate::queue::QueueSettings;
use crate::store::claim::{ClaimRequest, ClaimedJob};
use crate::store::finish::{Finish, Outcome};
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
/// How much work a runner claims ahead of its workers, at the rate its
/// jobs have been ending (at most [`MAX_CLAIM_BATCH`] jobs).
pub const AHEAD: Duration = Duration::from_millis(50);
/// Longest a runner holds jobs claimed ahead while no worker frees to take
/// one before it hands them back for other processes to take (every
/// worker busy with long jobs). Measured from the later of their claim and
/// the last start of a held job: a burn-down whose rate dropped below what
/// was claimed ahead for keeps its jobs, as its workers keep taking them.
pub const HOLD_LIMIT: Duration = Duration::from_millis(250);
/// How long a runner claims nothing ahead after it claimed jobs with
/// dispatch scopes.
const SCOPED_PAUSE: Duration = Duration::from_secs(1);
/// Over how long the rate jobs end at is measured.
const PACE_WINDOW: Duration = Duration::from_millis(100);
/// Over how long it is measured first, when nothing is known: a burst of
/// short jobs is claimed ahead after 10 ms, not after 100 ms of claims of
/// one job per free worker.
const FIRST_PACE_WINDOW: Duration = Duration::from_millis(10);

/// A queue's rate limit in this process: a token bucket holding up to one
/// second of starts, refilled continuously by the engine's clock.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: i64,
}

impl Bucket {
    /// Refills for the time passed since the last look; returns how many
    /// jobs may start now, and when the next token arrives (µs).
    fn available(&mut self, rate: f64, now: i64) -> (usize, i64) {
        let capacity = rate.max(1.0);
        let elapsed = (now - self.at).max(0) as f64 / 1e6;
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.at = now;
        let whole = self.tokens.floor();
        let wait_us = ((1.0 - (self.tokens - whole)) / rate * 1e6).ceil();
        // `as` saturates: a glacial rate waits "forever", not past i64.
        let next = now.saturating_add(wait_us as i64);
        (whole as usize, next)
    }

    fn take(&mut self, n: usize) {
        self.tokens = (self.tokens - n as f64).max(0.0);
    }
}

/// Counts the jobs running in this queue (and shows the count as the
/// `amboy_workers_busy` gauge) and signals when one ends.
#[derive(Debug)]
pub(crate) struct Slots {
    busy: AtomicUsize,
    /// Runs ended since the runner started.
    ended: AtomicUsize,
    gauge: IntGauge,
    freed: Notify,
}

impl Slots {
    fn new(gauge: IntGauge) -> Self {
        Slots {
            busy: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
            gauge,
            freed: Notify::new(),
        }
    }

    pub fn busy(&self) -> usize {
        self.busy.load(AtomicOrdering::Acquire)
    }

    fn take(&self) {
        self.busy.fetch_add(1, AtomicOrdering::AcqRel);
        self.gauge.inc();
    }

    /// How many runs have ended.
    fn ended(&self) -> usize {
        self.ended.load(AtomicOrdering::Acquire)
    }

    pub fn release(&self) {
        self.ended.fetch_add(1, AtomicOrdering::AcqRel);
        self.busy.fetch_sub(1, AtomicOrdering::AcqRel);
        self.gauge.dec();
        self.freed.notify_one();
    }
}

/// A job claimed ahead of a free worker.
#[derive(Debug)]
struct Held {
    job: ClaimedJob,
    running: RunningJob,
    /// When it was claimed (µs, the engine's clock).
    claimed_at: i64,
    /// The same, for the hold limit.
    at: Instant,
}

/// The rate a queue's jobs have been ending at in this runner — the rate
/// its workers free up — and so how many to claim ahead of them. (Ends,
/// not starts: the first claim fills every worker at once, which says
/// nothing of how fast they free up; jobs that take seconds end none.)
#[derive(Debug)]
struct Pace {
    since: Instant,
    /// Runs ended before `since`.
    ended_before: usize,
    per_sec: f64,
}

impl Pace {
    /// A pace knowing nothing yet, `ended` runs having ended.
    fn new(ended: usize) -> Self {
        Pace {
            since: Instant::now(),
            ended_before: ended,
            per_sec: 0.0,
        }
    }

    /// Notes that `ended` runs have ended in all. The first rate is taken
    /// over [`FIRST_PACE_WINDOW`]; then every [`PACE_WINDOW`] the rate
    /// moves halfway to the window's own.
    fn note(&mut self, ended: usize) {
        let elapsed = self.since.elapsed();
        let known = self.per_sec > 0.0;
        if elapsed
            >= if known {
                PACE_WINDOW
            } else {
                FIRST_PACE_WINDOW
            }
        {
            let rate = ended.saturating_sub(self.ended_before) as f64 / elapsed.as_secs_f64();
            self.per_sec = if known {
                (self.per_sec + rate) / 2.0
            } else {
                rate
            };
            self.ended_before = ended;
            self.since = Instant::now();
        }
    }

    /// Forgets the rate: nothing is ending.
    fn reset(&mut self, ended: usize) {
        *self = Pace::new(ended);
    }

    /// How many jobs to hold ahead of the workers: [`AHEAD`] of work at
    /// this rate, at most a claim's worth. Slow jobs get none.
    fn ahead(&self) -> usize {
        ((self.per_sec * AHEAD.as_secs_f64()) as usize).min(MAX_CLAIM_BATCH)
    }
}

/// Runs `queue` until shutdown, or until the queue is deleted (pruned
/// while idle); then drains it. Returns the queue's name.
///
/// Short jobs are claimed ahead of the workers (see [`AHEAD`]): one claim
/// statement then takes hundreds of them rather than one per free worker,
/// which is most of the burn-down rate. They count as running from the
/// claim, hold their lock like running jobs, are aborted like them, and
/// are handed back — pending again in their place — when the queue is
/// paused, the process stops, or no worker frees within [`HOLD_LIMIT`].
pub(crate) async fn run(
    engine: Engine,
    queue: String,
    poll: Duration,
    shutdown: Shutdown,
) -> String {
    let queue: Arc<str> = queue.into();
    let gauges = engine.metrics().runner_started(&queue);
    let slots = Arc::new(Slots::new(gauges.busy));
    let (results, finished) = mpsc::unbounded_channel();
    let completer = tokio::spawn(complete::run(engine.clone(), queue.clone(), finished));
    let keeper = tokio::spawn(keeper::run(engine.clone(), queue.clone()));
    let waker = engine.waker(&queue);
    let mut settings = QueueSettings::default();
    let mut settings_read: Option<Instant> = None;
    let mut settings_generation = engine.queues_generation();
    let mut promoted: Option<Instant> = None;
    let mut failures = 0u32;
    let mut bucket: Option<Bucket> = None;
    let mut existed = false;
    let mut held: VecDeque<Held> = VecDeque::new();
    // When a held job last started on a worker.
    let mut held_started = Instant::now();
    let mut pace = Pace::new(slots.ended());
    // When a claim last took jobs with dispatch scopes.
    let mut scoped: Option<Instant> = None;
    // Set when a claim found nothing more ready: until then (the next due
    // job or the poll), a put's wake-up or a settings change, no claims.
    let mut idle_until: Option<i64> = None;

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
            match engine
                .metrics()
                .timed("queue_settings", engine.store().queue(&queue))
                .await
            {
                Ok(Some(found)) => {
                    settings = found.settings;
                    existed = true;
                }
                // Deleted since (an idle queue of a group): nothing of it
                // can be running or waiting, so there is nothing to drain.
                Ok(None) if existed && slots.busy() == 0 && held.is_empty() => {
                    tracing::debug!(%queue, "queue deleted; its runner stops");
                    break;
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(%queue, %err, "could not read queue settings"),
            }
            settings_read = Some(Instant::now());
            gauges.workers.set(i64::from(settings.concurrency));
        }
        if settings.paused {
            hand_back(&engine, &mut held, &results, &gauges.held);
            tokio::select! {
                () = shutdown.drain.cancelled() => break,
                () = &mut changed => settings_read = None,
                () = tokio::time::sleep(jittered(poll)) => {}
            }
            continue;
        }
        let concurrency = usize::try_from(settings.concurrency).unwrap_or(1);
        // Free workers take the jobs claimed ahead first.
        if start_held(&engine, &queue, &mut held, concurrency, &results, &slots) {
            held_started = Instant::now();
        }
        pace.note(slots.ended());
        gauges.held.set(held.len() as i64);
        let free = concurrency.saturating_sub(slots.busy());
        // A rate-limited queue starts what its tokens allow, and jobs with
        // dispatch scopes are claimed only for free workers: a larger claim
        // of them hands back those wanting a scope taken in the same claim,
        // and held jobs would hold their scopes while they wait.
        let ahead = if settings.rate_limit_per_sec.is_some()
            || scoped.is_some_and(|at| at.elapsed() < SCOPED_PAUSE)
        {
            0
        } else {
            pace.ahead()
        };
        let want = (free + ahead)
            .saturating_sub(held.len())
            .min(MAX_CLAIM_BATCH);
        // Claim when workers are free (then nothing is held), or when what
        // is held ahead of them runs low.
        if idle_until.is_some() || want == 0 || (free == 0 && held.len() > ahead / 2) {
            let now = engine.clock().now_us();
            let wake_at =
                idle_until.unwrap_or_else(|| now.saturating_add(duration_us(jittered(poll))));
            let stale_at = held
                .front()
                .map(|held| held.at.max(held_started) + HOLD_LIMIT);
            tokio::select! {
                () = shutdown.drain.cancelled() => break,
                // With jobs held, any freed worker: one may have freed
                // since they were started above (it left a permit).
                () = slots.freed.notified(), if !held.is_empty() || (free == 0 && idle_until.is_none()) => {
                    // Let other runs that are finishing finish too, so the
                    // next claim takes a batch rather than one job.
                    if held.is_empty() && idle_until.is_none() {
                        let cooldown = tokio::time::sleep(CLAIM_COOLDOWN);
                        tokio::pin!(cooldown);
                        while concurrency.saturating_sub(slots.busy()) < concurrency.div_ceil(2) {
                            tokio::select! {
                                () = &mut cooldown => break,
                                () = slots.freed.notified() => {}
                            }
                        }
                    }
                }
                () = waker.notified(), if idle_until.is_some() => idle_until = None,
                () = &mut changed => settings_read = None,
                () = sleep_until(stale_at), if stale_at.is_some() => {
                    // Every worker is busy with longer jobs: let other
                    // processes have these, and claim no more ahead.
                    hand_back(&engine, &mut held, &results, &gauges.held);
                    pace.reset(slots.ended());
                }
                // A retry may be what is due: promote it on the next claim.
                () = engine.clock().sleep_until(wake_at) => {
                    promoted = None;
                    idle_until = None;
                }
            }
            continue;
        }
        let now = engine.clock().now_us();
        let mut limit = want;
        if let Some(rate) = settings.rate_limit_per_sec {
            let bucket = bucket.get_or_insert_with(|| Bucket {
                tokens: rate.max(1.0),
                at: now,
            });
            let (allowed, next_token) = bucket.available(rate, now);
            if allowed == 0 {
                tokio::select! {
                    () = shutdown.drain.cancelled() => break,
                    () = &mut changed => settings_read = None,
                    () = engine.clock().sleep_until(next_token) => {}
                }
                continue;
            }
            limit = limit.min(allowed);
        } else {
            bucket = None;
        }
        let claim = engine.store().claim(ClaimRequest {
            queue: &queue,
            ordering: settings.ordering,
            owner: engine.process_id(),
            now,
            lock_expires_at: now.saturating_add(duration_us(settings.lock_timeout())),
            limit,
            promote_retries: promoted.is_none_or(|at| at.elapsed() >= PROMOTE_INTERVAL),
        });
        let claimed = engine.metrics().timed("claim", claim).await;
        let claimed = match claimed {
            Ok(claimed) => {
                if failures > 0 {
                    tracing::info!(%queue, failures, "claiming again after database errors");
                }
                failures = 0;
                if claimed.promoted {
                    promoted = Some(Instant::now());
                }
                if claimed.jobs.iter().any(|job| job.scoped) {
                    scoped = Some(Instant::now());
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
        if let Some(bucket) = bucket.as_mut() {
            bucket.take(got);
        }
        {
            let at = Instant::now();
            let mut running = engine.running();
            for job in claimed {
                let run = RunningJob::new(queue.clone(), job.claim_count);
                running.insert(job.id.clone(), run.clone());
                held.push_back(Held {
                    job,
                    running: run,
                    claimed_at: now,
                    at,
                });
            }
        }
        // Started at once, before anything else is awaited: a job that
        // blocks its thread (a current-thread runtime, like a frozen
        // process) then finds this runner with no write transaction open.
        if start_held(&engine, &queue, &mut held, concurrency, &results, &slots) {
            held_started = Instant::now();
        }
        pace.note(slots.ended());
        gauges.held.set(held.len() as i64);
        if got == limit {
            continue;
        }
        // Nothing more is ready: wait until the next job is due, a put
        // wakes us, or the poll interval passes (puts by other processes).
        let now = engine.clock().now_us();
        let mut wake_at = now.saturating_add(duration_us(jittered(poll)));
        match engine
            .metrics()
            .timed("next_due", engine.store().next_due(&queue, now))
            .await
        {
            Ok(Some(due)) if due <= now => continue,
            Ok(Some(due)) => wake_at = wake_at.min(due),
            Ok(None) => {}
            Err(err) => tracing::warn!(%queue, %err, "could not read the next due time"),
        }
        idle_until = Some(wake_at);
    }
    hand_back(&engine, &mut held, &results, &gauges.held);
    drain(&engine, &queue, &slots, &shutdown).await;
    drop(results);
    if let Err(err) = completer.await {
        tracing::error!(%queue, %err, "completer failed");
    }
    keeper.abort();
    engine.metrics().runner_stopped(&queue);
    queue.to_string()
}

/// Starts held jobs, oldest first, on the free workers of a queue of
/// `concurrency`. Returns whether any started.
fn start_held(
    engine: &Engine,
    queue: &Arc<str>,
    held: &mut VecDeque<Held>,
    concurrency: usize,
    results: &mpsc::UnboundedSender<Finish>,
    slots: &Arc<Slots>,
) -> bool {
    let starting = concurrency.saturating_sub(slots.busy()).min(held.len());
    if starting > 0 {
        let now = engine.clock().now_us();
        for held in held.drain(..starting) {
            start(engine, queue, held, now, results, slots);
        }
    }
    starting > 0
}

/// Starts a held job on a free worker.
fn start(
    engine: &Engine,
    queue: &Arc<str>,
    held: Held,
    now: i64,
    results: &mpsc::UnboundedSender<Finish>,
    slots: &Arc<Slots>,
) {
    let job = held.job;
    let latency = now - job.run_at;
    engine
        .timings()
        .add(now, queue, &job.job_type, Metric::Latency, latency);
    let latency_secs = latency.max(0) as f64 / 1e6;
    engine.metrics().started(queue, &job.job_type, latency_secs);
    slots.take();
    engine.emit_job(
        &job.id,
        queue,
        &job.job_type,
        JobEventKind::Started {
            attempt: job.attempt,
            queue_latency_secs: latency_secs,
        },
    );
    tokio::spawn(execute::run(
        engine.clone(),
        job,
        held.running,
        now,
        results.clone(),
        slots.clone(),
    ));
}

/// Hands every held job back: pending again, in its place, as if never
/// claimed (the completer writes it with the other results); one whose
/// abort was requested meanwhile ends aborted instead (the results write
/// reads the requests).
fn hand_back(
    engine: &Engine,
    held: &mut VecDeque<Held>,
    results: &mpsc::UnboundedSender<Finish>,
    gauge: &IntGauge,
) {
    if held.is_empty() {
        return;
    }
    gauge.set(0);
    let now = engine.clock().now_us();
    for held in held.drain(..) {
        let finish = Finish {
            id: held.job.id,
            job_type: held.job.job_type,
            claim_count: held.job.claim_count,
            attempt: held.job.attempt,
            started_at: held.claimed_at,
            ended_at: now,
            outcome: Outcome::Unstarted,
        };
        if results.send(finish).is_err() {
            tracing::error!("completer gone; a held job was not handed back");
        }
    }
}

/// Sleeps until `at`; never, for `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_holds_about_fifty_ms_of_work_ahead() {
        let window = Duration::from_millis(200);
        let mut pace = Pace {
            since: Instant::now() - window,
            ended_before: 0,
            per_sec: 0.0,
        };
        assert_eq!(pace.ahead(), 0);
        // 2,000 ends in 200 ms: 10,000/s, the first rate, taken as it is.
        pace.note(2_000);
        assert!(
            (9_800.0..=10_000.0).contains(&pace.per_sec),
            "{}",
            pace.per_sec
        );
        assert!((490..=500).contains(&pace.ahead()), "{}", pace.ahead());
        // Within a window ends only add up.
        pace.note(1_000_000);
        assert!(pace.per_sec <= 10_000.0);
        // Then each window moves it halfway: 4,000 more ends in 200 ms
        // (20,000/s) make it 15,000/s.
        pace.since = Instant::now() - window;
        pace.note(6_000);
        assert!(
            (14_500.0..=15_000.0).contains(&pace.per_sec),
            "{}",
            pace.per_sec
        );
        // Very fast jobs: never more than a claim's worth.
        pace.per_sec = 1e9;
        assert_eq!(pace.ahead(), MAX_CLAIM_BATCH);
        // Slow jobs (seconds each): nothing ahead.
        pace.per_sec = 10.0;
        assert_eq!(pace.ahead(), 0);
        pace.reset(6_000);
        assert_eq!(pace.ahead(), 0);
    }

    /// Workers that fill up and end nothing (long jobs) give no rate, even
    /// after the first claim started every one of them at once.
    #[test]
    fn no_ends_no_pace() {
        let mut pace = Pace {
            since: Instant::now() - FIRST_PACE_WINDOW,
            ended_before: 7,
            per_sec: 0.0,
        };
        pace.note(7);
        assert_eq!(pace.ahead(), 0);
        assert!(
            pace.since.elapsed() < FIRST_PACE_WINDOW,
            "a new window began"
        );
    }

    #[test]
    fn buckets_refill_at_their_rate_and_never_overflow() {
        let mut bucket = Bucket { tokens: 2.0, at: 0 };
        assert_eq!(bucket.available(2.0, 0).0, 2);
        bucket.take(2);
        assert_eq!(bucket.available(2.0, 0), (0, 500_000));
        assert_eq!(bucket.available(2.0, 500_000).0, 1);
        // Idle for a minute: at most one second's worth.
        assert_eq!(bucket.available(2.0, 60_500_000).0, 2);
        let mut glacial = Bucket {
            tokens: 0.0,
            at: i64::MAX - 10,
        };
        assert_eq!(glacial.available(0.001, i64::MAX - 10), (0, i64::MAX));
    }
}
