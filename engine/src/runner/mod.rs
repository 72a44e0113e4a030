//! Workers: the services that run jobs in this process.
//!
//! - [`Workers`] starts one queue runner per queue (all queues, or the ones
//!   named), registers the process and heart-beats, publishes stats, and
//!   shuts everything down gracefully;
//! - `dispatch` is a queue's runner: it claims batches of ready jobs,
//!   keeping at most `concurrency` running, and sleeps until the next job is
//!   due or a put wakes it;
//! - `execute` runs one attempt (cancellation, `max_time`, panics);
//! - `complete` writes finished attempts in batches;
//! - `keeper` renews this process's locks, rescues expired ones, and
//!   watches for abort requests;
//! - `listen` turns other processes' signals into local wake-ups;
//! - `scheduler` fires due schedules;
//! - `retention` prunes terminal jobs beyond each queue's limits;
//! - `publish` sends the stats snapshot each second.

mod complete;
mod dispatch;
mod execute;
mod keeper;
mod listen;
mod publish;
mod retention;
mod scheduler;

pub use retention::{MAX_BATCHES_PER_ROUND, PRUNE_BATCH, RETENTION_INTERVAL};

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::Rng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::duration_us;
use crate::engine::Engine;
use crate::error::Result;
use crate::queue::validate_queue_name;
use crate::store::process::ProcessInfo;

/// How often an idle runner checks the database for jobs put by other processes.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a cancelled run may take to notice before it is dropped.
pub const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How often the process records that it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// A process whose heartbeat is older than this is marked gone. Its jobs
/// are rescued when their locks expire, not before: a process that was
/// merely frozen may still hold valid locks.
pub const GONE_AFTER: Duration = Duration::from_secs(30);
/// How long a gone process stays listed before it is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How often gathered timing samples are written.
pub const TIMINGS_INTERVAL: Duration = Duration::from_secs(5);
/// How long timing histograms are kept (the timing report's longest window).
pub const TIMINGS_KEPT: Duration = crate::management::MAX_REPORT_WINDOW;
/// How often the supervisor looks for queues created by other processes.
const QUEUE_DISCOVERY_INTERVAL: Duration = Duration::from_secs(2);

/// Which queues to work, and how.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Only these queues (created with default settings if missing);
    /// every queue, including ones created later, when `None`.
    pub queues: Option<Vec<String>>,
    /// How often an idle runner polls for jobs put by other processes.
    pub poll_interval: Duration,
    /// Whether this process fires schedules (every process may: firing is
    /// exactly-once across processes).
    pub scheduler: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            queues: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            scheduler: true,
        }
    }
}

/// Why a run is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// An operator aborted it.
    Aborted,
    /// It ran past `max_time`.
    TimedOut,
    /// The process is shutting down.
    Shutdown,
    /// Its lock was lost (rescued by someone else).
    LockLost,
}

/// A job this process is running.
#[derive(Debug, Clone)]
pub(crate) struct RunningJob {
    pub queue: Arc<str>,
    pub claim_count: i32,
    cancel: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl RunningJob {
    fn new(queue: Arc<str>, claim_count: i32) -> Self {
        Self {
            queue,
            claim_count,
            cancel: CancellationToken::new(),
            reason: Arc::default(),
        }
    }

    /// Cancels the run; the first reason given wins.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.cancel.cancel();
    }

    fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }
}

/// Tokens shared by every service of one [`Workers`].
#[derive(Debug, Clone, Default)]
struct Shutdown {
    /// Stop claiming; let running jobs finish.
    drain: CancellationToken,
    /// The drain deadline passed: stop running jobs.
    hard: CancellationToken,
}

/// Running workers. Dropping this without [`Workers::shutdown`] leaves the
/// tasks running until the runtime stops.
#[derive(Debug)]
pub struct Workers {
    engine: Engine,
    shutdown: Shutdown,
    supervisor: tokio::task::JoinHandle<()>,
    background: JoinSet<()>,
}

impl Engine {
    /// Starts workers in this process.
    pub async fn start_workers(&self, options: WorkerOptions) -> Result<Workers> {
        if let Some(queues) = &options.queues {
            let now = self.clock().now_us();
            for queue in queues {
                validate_queue_name(queue)?;
            }
            let names: Vec<&str> = queues.iter().map(String::as_str).collect();
            let store = self.store();
            store.ensure_queues(store.writer(), &names, now).await?;
        }
        let info = ProcessInfo {
            id: self.process_id().to_owned(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: i64::from(std::process::id()),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            queues: options
                .queues
                .as_ref()
                .map_or_else(|| "*".to_owned(), |queues| queues.join(",")),
        };
        // Listen before the first claim, so no signal after it is missed. A
        // failure here is not fatal: the listener retries, runners poll.
        let listener = match self.store().listen().await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(%err, "could not listen for signals; runners poll meanwhile");
                None
            }
        };
        self.store()
            .register_process(&info, self.clock().now_us())
            .await?;
        let shutdown = Shutdown::default();
        let mut background = JoinSet::new();
        if self.store().dialect().signals() {
            background.spawn(listen::run(self.clone(), listener));
        }
        background.spawn(heartbeat(self.clone(), info));
        background.spawn(keeper::watch_aborts(self.clone()));
        background.spawn(publish::run(self.clone()));
        background.spawn(write_timings(self.clone()));
        background.spawn(retention::run(self.clone()));
        if options.scheduler {
            background.spawn(scheduler::run(self.clone()));
        }
        let supervisor = tokio::spawn(supervise(self.clone(), options, shutdown.clone()));
        Ok(Workers {
            engine: self.clone(),
            shutdown,
            supervisor,
            background,
        })
    }
}

impl Workers {
    /// Stops claiming, lets running jobs finish for up to `deadline`, then
    /// cancels the rest and hands them back (pending, attempt not counted),
    /// writes every result, and unregisters the process.
    pub async fn shutdown(mut self, deadline: Duration) {
        self.shutdown.drain.cancel();
        let hard = self.shutdown.hard.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            hard.cancel();
        });
        if let Err(err) = (&mut self.supervisor).await {
            tracing::error!(%err, "worker supervisor failed");
        }
        timer.abort();
        self.background.shutdown().await;
        if let Err(err) = self
            .engine
            .store()
            .write_timings(self.engine.timings())
            .await
        {
            tracing::warn!(%err, "could not write the last timings");
        }
        if let Err(err) = self
            .engine
            .store()
            .unregister_process(self.engine.process_id())
            .await
        {
            tracing::warn!(%err, "could not unregister the process");
        }
    }
}

/// Starts a runner per queue and waits for them all to drain at shutdown.
async fn supervise(engine: Engine, options: WorkerOptions, shutdown: Shutdown) {
    let mut runners = JoinSet::new();
    let mut started: HashSet<String> = HashSet::new();
    loop {
        // Listen before listing, so a queue created meanwhile is not missed.
        let changed = engine.queues_changed().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let names = match &options.queues {
            Some(names) => Ok(names.clone()),
            None => engine
                .queues()
                .await
                .map(|queues| queues.into_iter().map(|queue| queue.name).collect()),
        };
        match names {
            Ok(names) => {
                for name in names {
                    if started.insert(name.clone()) {
                        runners.spawn(dispatch::run(
                            engine.clone(),
                            name,
                            options.poll_interval,
                            shutdown.clone(),
                        ));
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "could not list queues"),
        }
        tokio::select! {
            () = shutdown.drain.cancelled() => break,
            () = changed => {}
            () = tokio::time::sleep(QUEUE_DISCOVERY_INTERVAL) => {}
            // A runner ends early only when its queue was deleted (pruned
            // while idle): it starts again if the queue comes back.
            Some(ended) = runners.join_next(), if !runners.is_empty() => {
                runner_ended(ended, &mut started);
            }
        }
    }
    while let Some(ended) = runners.join_next().await {
        runner_ended(ended, &mut started);
    }
}

fn runner_ended(ended: Result<String, tokio::task::JoinError>, started: &mut HashSet<String>) {
    match ended {
        Ok(queue) => {
            started.remove(&queue);
        }
        Err(err) => tracing::error!(%err, "queue runner failed"),
    }
}

/// Records that this process is alive, and marks processes that stopped
/// heart-beating as gone (every process does this; the update is idempotent).
async fn heartbeat(engine: Engine, info: ProcessInfo) {
    let store = engine.store();
    loop {
        engine.clock().sleep(HEARTBEAT_INTERVAL).await;
        let now = engine.clock().now_us();
        match engine
            .metrics()
            .timed("heartbeat", store.heartbeat(&info.id, now))
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    "this process was forgotten after missing heartbeats; registering again"
                );
                if let Err(err) = store.register_process(&info, now).await {
                    tracing::warn!(%err, "could not register again");
                }
            }
            Err(err) => {
                tracing::warn!(%err, "heartbeat failed");
                continue;
            }
        }
        let stale_before = now.saturating_sub(duration_us(GONE_AFTER));
        let forget_before = now.saturating_sub(duration_us(FORGET_AFTER));
        match store.mark_gone(now, stale_before, forget_before).await {
            Ok(gone) => {
                engine.metrics().marked_gone(gone.len() as u64);
                for process in gone {
                    tracing::warn!(
                        process = %process.id,
                        host = %process.host,
                        pid = process.pid,
                        silent_secs = (now - process.heartbeat_at) / 1_000_000,
                        "a process stopped heart-beating and is marked gone; its jobs are rescued when their locks expire"
                    );
                }
            }
            Err(err) => tracing::warn!(%err, "could not check other processes' heartbeats"),
        }
        let old = now.saturating_sub(duration_us(TIMINGS_KEPT));
        if let Err(err) = store.prune_timings(old).await {
            tracing::warn!(%err, "could not prune old timings");
        }
    }
}

/// Adds the timing samples gathered in memory to the database every
/// [`TIMINGS_INTERVAL`] (and once more at shutdown).
async fn write_timings(engine: Engine) {
    loop {
        engine.clock().sleep(TIMINGS_INTERVAL).await;
        let write = engine.store().write_timings(engine.timings());
        if let Err(err) = engine.metrics().timed("timings", write).await {
            tracing::warn!(%err, "could not write timings; keeping them for the next try");
        }
    }
}

/// `interval` ± 20 %, so processes that started together don't poll in step.
pub(crate) fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.8..1.2))
}
