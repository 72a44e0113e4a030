//! Prometheus metrics: counters and histograms the engine updates as things
//! happen, and gauges read from the database when scraped.
//!
//! Every engine has its own [`prometheus::Registry`] (tests run many engines
//! in one process; a global registry would mix them). The HTTP server adds
//! its request metrics to the same registry and serves
//! [`Engine::render_metrics`] at `/metrics`. Names and labels are listed in
//! `docs/observability.md`; labels stay low-cardinality (queues, job types,
//! schedules, outcomes — never a job id).
//!
//! Label sets are created with zero values as soon as they are known (a
//! queue's runner starts, a job type is seen in a queue, a schedule fires),
//! so `rate()` and `increase()` see a series before its first event.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder, core::Collector,
};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::state::JobState;
use crate::store::finish::Outcome;

/// Buckets for queue latency and run duration (seconds): 1 ms to an hour.
pub const JOB_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Buckets for schedule fire lag (seconds): 1 ms to a minute.
pub const LAG_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets for store operations (seconds): 100 µs to 5 s.
pub const STORE_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Every value of the `outcome` label of `amboy_jobs_finished_total`.
pub const OUTCOMES: [&str; 7] = [
    "completed",
    "failed",
    "retried",
    "aborted",
    "snoozed",
    "expired",
    "skipped",
];
/// Every value of the `result` label of `amboy_schedule_fires_total`.
pub const FIRE_RESULTS: [&str; 5] = ["enqueued", "skipped", "missed", "duplicate", "error"];

/// The outcome label of a recorded attempt (`None`: a job handed back,
/// which ends nothing).
pub(crate) fn outcome_label(outcome: &Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Completed => Some("completed"),
        Outcome::Retry { .. } => Some("retried"),
        Outcome::Failed(_) => Some("failed"),
        Outcome::Aborted(_) => Some("aborted"),
        Outcome::Snoozed { .. } => Some("snoozed"),
        Outcome::Skipped(_) => Some("skipped"),
        Outcome::Released | Outcome::Unstarted => None,
    }
}

/// A queue runner's gauges: its worker slots, the busy ones, and the jobs
/// it holds ahead of them.
pub(crate) struct RunnerGauges {
    pub workers: IntGauge,
    pub busy: IntGauge,
    pub held: IntGauge,
}

/// The engine's metrics and the registry that holds them.
pub struct Metrics {
    registry: Registry,
    jobs_enqueued: IntCounterVec,
    jobs_finished: IntCounterVec,
    run_duration: HistogramVec,
    queue_latency: HistogramVec,
    jobs_rescued: IntCounterVec,
    jobs_pruned: IntCounterVec,
    queue_jobs: IntGaugeVec,
    oldest_pending: prometheus::GaugeVec,
    workers: IntGaugeVec,
    workers_busy: IntGaugeVec,
    held_ahead: IntGaugeVec,
    schedule_fires: IntCounterVec,
    schedule_lag: HistogramVec,
    schedule_overdue: prometheus::GaugeVec,
    store_ops: HistogramVec,
    processes: IntGaugeVec,
    processes_marked_gone: prometheus::IntCounter,
    /// (queue, job type) pairs whose outcome series exist.
    seen_types: Mutex<HashSet<(String, String)>>,
    /// Schedules whose result series exist.
    seen_schedules: Mutex<HashSet<String>>,
    /// One scrape at a time: each resets and refills the gauges.
    scrape: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(registry, HistogramVec::new(opts, labels))
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(registry, IntGaugeVec::new(Opts::new(name, help), labels))
}

fn float_gauge(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::GaugeVec {
    register(
        registry,
        prometheus::GaugeVec::new(Opts::new(name, help), labels),
    )
}

/// Registers a metric defined in this file. Names, labels and buckets are
/// constants, checked by the tests, and the registry is new: neither step
/// can fail at run time.
fn register<C: Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<C>,
) -> C {
    let metric = metric.expect("metric definitions are valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every engine metric, in a new registry (with this process's CPU,
    /// memory and file descriptor metrics).
    pub fn new() -> Self {
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("the process collector is registered once");
        let build_info = gauge(
            &r,
            "amboy_build_info",
            "Always 1; the version of amboy this process runs.",
            &["version"],
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let processes_marked_gone = register(
            &r,
            prometheus::IntCounter::new(
                "amboy_processes_marked_gone_total",
                "Processes this process found silent and marked gone.",
            ),
        );
        Metrics {
            jobs_enqueued: counter(
                &r,
                "amboy_jobs_enqueued_total",
                "Jobs put into a queue by this process.",
                &["queue", "job_type"],
            ),
            jobs_finished: counter(
                &r,
                "amboy_jobs_finished_total",
                "Attempts ended, and waiting jobs aborted or expired, by outcome.",
                &["queue", "job_type", "outcome"],
            ),
            run_duration: histogram(
                &r,
                "amboy_job_run_duration_seconds",
                "How long attempts ran.",
                &["queue", "job_type"],
                JOB_BUCKETS,
            ),
            queue_latency: histogram(
                &r,
                "amboy_job_queue_latency_seconds",
                "How long jobs waited from ready to started.",
                &["queue", "job_type"],
                JOB_BUCKETS,
            ),
            jobs_rescued: counter(
                &r,
                "amboy_jobs_rescued_total",
                "Jobs whose owner's lock expired, taken back by this process.",
                &["queue"],
            ),
            jobs_pruned: counter(
                &r,
                "amboy_jobs_pruned_total",
                "Terminal jobs this process deleted under the queue's retention limits.",
                &["queue"],
            ),
            queue_jobs: gauge(
                &r,
                "amboy_queue_jobs",
                "Jobs by queue and state (the database's counters).",
                &["queue", "state"],
            ),
            oldest_pending: float_gauge(
                &r,
                "amboy_queue_oldest_pending_age_seconds",
                "How long the oldest ready pending job has waited (0 when none).",
                &["queue"],
            ),
            workers: gauge(
                &r,
                "amboy_workers",
                "Worker slots of this process (the queue's concurrency).",
                &["queue"],
            ),
            workers_busy: gauge(
                &r,
                "amboy_workers_busy",
                "Worker slots of this process running a job.",
                &["queue"],
            ),
            held_ahead: gauge(
                &r,
                "amboy_jobs_held_ahead",
                "Jobs this process claimed ahead of its workers, waiting for a free one.",
                &["queue"],
            ),
            schedule_fires: counter(
                &r,
                "amboy_schedule_fires_total",
                "Schedule fire times handled by this process, by result.",
                &["schedule", "result"],
            ),
            schedule_lag: histogram(
                &r,
                "amboy_schedule_lag_seconds",
                "How late jobs were put after their fire time.",
                &["schedule"],
                LAG_BUCKETS,
            ),
            schedule_overdue: float_gauge(
                &r,
                "amboy_schedule_overdue_seconds",
                "How far past its next fire time an enabled schedule is (0 when not due).",
                &["schedule"],
            ),
            store_ops: histogram(
                &r,
                "amboy_store_op_duration_seconds",
                "Database operations of the engine, by operation.",
                &["op"],
                STORE_BUCKETS,
            ),
            processes: gauge(
                &r,
                "amboy_processes",
                "Registered engine processes, alive or gone (the database's truth).",
                &["state"],
            ),
            processes_marked_gone,
            seen_types: Mutex::default(),
            seen_schedules: Mutex::default(),
            scrape: tokio::sync::Mutex::new(()),
            registry: r,
        }
    }

    /// The registry: add your own metrics to it and they are served with
    /// the engine's.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Creates the outcome series of a (queue, job type) pair on first sight.
    fn see_type(&self, queue: &str, job_type: &str) {
        let mut seen = self.seen_types.lock().unwrap_or_else(|e| e.into_inner());
        if seen.insert((queue.to_owned(), job_type.to_owned())) {
            for outcome in OUTCOMES {
                self.jobs_finished
                    .with_label_values(&[queue, job_type, outcome]);
            }
            self.jobs_enqueued.with_label_values(&[queue, job_type]);
        }
    }

    /// `n` jobs of a type were put into a queue.
    pub(crate) fn enqueued(&self, queue: &str, job_type: &str, n: u64) {
        self.see_type(queue, job_type);
        self.jobs_enqueued
            .with_label_values(&[queue, job_type])
            .inc_by(n);
    }

    /// A claimed job waited `secs` from ready to started.
    pub(crate) fn started(&self, queue: &str, job_type: &str, secs: f64) {
        self.queue_latency
            .with_label_values(&[queue, job_type])
            .observe(secs);
    }

    /// `n` jobs of a type ended with `outcome` (one of [`OUTCOMES`]).
    pub(crate) fn finished(&self, queue: &str, job_type: &str, outcome: &str, n: u64) {
        self.see_type(queue, job_type);
        self.jobs_finished
            .with_label_values(&[queue, job_type, outcome])
            .inc_by(n);
    }

    /// An attempt ran for `secs`.
    pub(crate) fn ran(&self, queue: &str, job_type: &str, secs: f64) {
        self.run_duration
            .with_label_values(&[queue, job_type])
            .observe(secs);
    }

    /// `n` jobs of `queue` were rescued.
    pub(crate) fn rescued(&self, queue: &str, n: u64) {
        self.jobs_rescued.with_label_values(&[queue]).inc_by(n);
    }

    /// `n` terminal jobs of `queue` were pruned.
    pub(crate) fn pruned(&self, queue: &str, n: u64) {
        self.jobs_pruned.with_label_values(&[queue]).inc_by(n);
    }

    /// This process marked `n` silent processes gone.
    pub(crate) fn marked_gone(&self, n: u64) {
        self.processes_marked_gone.inc_by(n);
    }

    /// A queue's runner started here: its gauges, and its rescue count
    /// from zero.
    pub(crate) fn runner_started(&self, queue: &str) -> RunnerGauges {
        self.jobs_rescued.with_label_values(&[queue]);
        self.jobs_pruned.with_label_values(&[queue]);
        RunnerGauges {
            workers: self.workers.with_label_values(&[queue]),
            busy: self.workers_busy.with_label_values(&[queue]),
            held: self.held_ahead.with_label_values(&[queue]),
        }
    }

    /// A queue's runner stopped: it has no workers here any more.
    pub(crate) fn runner_stopped(&self, queue: &str) {
        // Absent label sets are fine: nothing to remove.
        let _ = self.workers.remove_label_values(&[queue]);
        let _ = self.workers_busy.remove_label_values(&[queue]);
        let _ = self.held_ahead.remove_label_values(&[queue]);
    }

    /// A schedule's fire round: `n` fire times with `result` (one of
    /// [`FIRE_RESULTS`]).
    pub(crate) fn fired(&self, schedule: &str, result: &str, n: u64) {
        {
            let mut seen = self
                .seen_schedules
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if seen.insert(schedule.to_owned()) {
                for result in FIRE_RESULTS {
                    self.schedule_fires.with_label_values(&[schedule, result]);
                }
            }
        }
        if n > 0 {
            self.schedule_fires
                .with_label_values(&[schedule, result])
                .inc_by(n);
        }
    }

    /// A job was put `secs` after its schedule's fire time.
    pub(crate) fn fire_lag(&self, schedule: &str, secs: f64) {
        self.schedule_lag
            .with_label_values(&[schedule])
            .observe(secs.max(0.0));
    }

    /// Runs a store operation, timing it as `op`.
    pub(crate) async fn timed<T>(&self, op: &'static str, operation: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = operation.await;
        self.store_ops
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

impl Engine {
    /// Every metric in the Prometheus text format, with the gauges read
    /// from the database now: counts by queue and state (the counters
    /// table), each queue's oldest ready job (an index seek per queue),
    /// schedules past their fire time, and processes alive and gone.
    pub async fn render_metrics(&self) -> Result<String> {
        let metrics = self.metrics();
        let _one_at_a_time = metrics.scrape.lock().await;
        metrics.timed("scrape", self.read_gauges()).await?;
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&metrics.registry.gather(), &mut text)
            .map_err(|err| Error::Internal(format!("encoding metrics: {err}")))?;
        String::from_utf8(text).map_err(|err| Error::Internal(format!("encoding metrics: {err}")))
    }

    /// How long the oldest ready pending job of `queue` has waited, if it
    /// has one (an index seek).
    pub async fn oldest_pending_age(&self, queue: &str) -> Result<Option<std::time::Duration>> {
        let now = self.clock().now_us();
        let oldest = self.store().oldest_ready(queue, now).await?;
        Ok(oldest.map(|at| std::time::Duration::from_micros((now - at).max(0).unsigned_abs())))
    }

    async fn read_gauges(&self) -> Result<()> {
        let metrics = self.metrics();
        let store = self.store();
        let now = self.clock().now_us();
        let queues = self.queue_counts().await?;
        let mut ages = Vec::with_capacity(queues.len());
        for queue in &queues {
            let age = self.oldest_pending_age(&queue.queue).await?;
            ages.push(age.map_or(0.0, |age| age.as_secs_f64()));
        }
        let next_fires = store.next_fires().await?;
        let (alive, gone) = store.process_counts().await?;

        // Every read succeeded: replace the gauges at once, so a queue or
        // schedule deleted since the last scrape loses its series.
        metrics.queue_jobs.reset();
        metrics.oldest_pending.reset();
        for (queue, age) in queues.iter().zip(ages) {
            for state in JobState::ALL {
                let n = queue.counts.get(&state).copied().unwrap_or(0);
                metrics
                    .queue_jobs
                    .with_label_values(&[queue.queue.as_str(), state.as_str()])
                    .set(n);
            }
            metrics
                .oldest_pending
                .with_label_values(&[queue.queue.as_str()])
                .set(age);
        }
        metrics.schedule_overdue.reset();
        for (name, next) in next_fires {
            metrics
                .schedule_overdue
                .with_label_values(&[name.as_str()])
                .set((now - next).max(0) as f64 / 1e6);
        }
        metrics.processes.with_label_values(&["alive"]).set(alive);
        metrics.processes.with_label_values(&["gone"]).set(gone);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_defined_and_named_amboy() {
        let metrics = Metrics::new();
        metrics.enqueued("q", "noop", 2);
        metrics.finished("q", "noop", "completed", 2);
        let families = metrics.registry().gather();
        let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
        assert!(names.contains(&"amboy_build_info"), "{names:?}");
        assert!(
            names
                .iter()
                .all(|name| name.starts_with("amboy_") || name.starts_with("process_")),
            "{names:?}"
        );
        let finished = families
            .iter()
            .find(|f| f.name() == "amboy_jobs_finished_total")
            .expect("finished counter");
        // Every outcome exists from the first sighting, at zero.
        assert_eq!(finished.get_metric().len(), OUTCOMES.len());
    }

    #[test]
    fn buckets_increase() {
        for buckets in [JOB_BUCKETS, LAG_BUCKETS, STORE_BUCKETS] {
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{buckets:?}");
        }
    }
}
