//! [`Engine`]: the handle everything else uses — put, get, wait, abort,
//! queues, stats, events, and starting workers.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::events::{
    EVENT_BUFFER, Event, JobEvent, JobEventKind, QueueCounts, RATE_HISTORY, RatePoint,
    StatsSnapshot,
};
use crate::job::Job;
use crate::queue::{Queue, QueueRule, QueueRules, QueueSettings, validate_queue_name};
use crate::record::{JobDetail, JobFilter, JobRecord, MAX_PAGE, ProcessRecord};
use crate::registry::Registry;
use crate::runner::RunningJob;
use crate::spec::{JobInsert, NewJob};
use crate::state::JobState;
use crate::store::control::AbortOutcome;
use crate::store::{Store, StoreOptions};

/// How often a wait re-reads the database, for changes made by other
/// processes (changes in this process wake it at once).
const WAIT_RECHECK: Duration = Duration::from_millis(250);
/// Shortest pause between two counts while waiting for a queue to drain.
const DRAIN_RECHECK: Duration = Duration::from_millis(10);

/// The engine: cheap to clone, shared by workers, the HTTP layer and jobs.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("process_id", &self.inner.process_id)
            .field("registry", &self.inner.registry)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    registry: Registry,
    clock: Clock,
    process_id: String,
    events: broadcast::Sender<Event>,
    /// Queues known to exist, so puts skip the create-if-missing step.
    known_queues: RwLock<HashSet<String>>,
    /// Notified when a queue is created or its settings change.
    queues_changed: Notify,
    /// Bumped with every such change, so a runner between two waits still
    /// sees it.
    queues_generation: std::sync::atomic::AtomicU64,
    /// Notified when a schedule is created, changed or deleted.
    schedules_changed: Notify,
    /// Timing samples not yet written.
    timings: crate::store::timing::Timings,
    /// The latest stats snapshot this process published, and the rates of
    /// the last [`RATE_HISTORY`] snapshots.
    stats: Mutex<(Option<Arc<StatsSnapshot>>, VecDeque<RatePoint>)>,
    /// Jobs this process is running, for abort and lock renewal.
    running: Mutex<HashMap<String, RunningJob>>,
    /// Prometheus metrics.
    metrics: crate::metrics::Metrics,
}

/// Builds an [`Engine`]: register job types, then connect.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    registry: Option<Registry>,
    clock: Clock,
    process_id: Option<String>,
    shell_enabled: bool,
    store: StoreOptions,
}

impl EngineBuilder {
    /// Registers a job type.
    pub fn register<J: Job>(mut self) -> Self {
        self.registry
            .get_or_insert_with(Registry::with_builtins)
            .register::<J>();
        self
    }

    /// Lets `shell` jobs be put and run in this process.
    pub fn enable_shell_jobs(mut self, enabled: bool) -> Self {
        self.shell_enabled = enabled;
        self
    }

    /// Uses `clock` instead of the system clock (tests).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Names this process (default: host, pid and a random suffix).
    pub fn process_id(mut self, id: impl Into<String>) -> Self {
        self.process_id = Some(id.into());
        self
    }

    /// Sets how many connections the engine opens to PostgreSQL (default
    /// 8, plus one for signals; ignored on SQLite).
    pub fn postgres_pool(mut self, connections: u32) -> Self {
        self.store.postgres_pool = connections;
        self
    }

    /// Connects to `database_url`, migrates the schema, and returns the engine.
    pub async fn connect(self, database_url: &str) -> Result<Engine> {
        let store = Store::connect_with(database_url, &self.store).await?;
        Ok(self.build(store))
    }

    /// Builds the engine on an open store.
    pub fn build(self, store: Store) -> Engine {
        let mut registry = self.registry.unwrap_or_else(Registry::with_builtins);
        registry.enable_shell_jobs(self.shell_enabled);
        let process_id = self.process_id.unwrap_or_else(default_process_id);
        Engine {
            inner: Arc::new(Inner {
                store,
                registry,
                clock: self.clock,
                process_id,
                events: broadcast::channel(EVENT_BUFFER).0,
                known_queues: RwLock::default(),
                queues_changed: Notify::new(),
                queues_generation: std::sync::atomic::AtomicU64::new(0),
                schedules_changed: Notify::new(),
                stats: Mutex::default(),
                timings: crate::store::timing::Timings::default(),
                running: Mutex::default(),
                metrics: crate::metrics::Metrics::new(),
            }),
        }
    }
}

fn default_process_id() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "{host}:{}:{}",
        std::process::id(),
        &suffix[suffix.len() - 8..]
    )
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Connects with the built-in job types only.
    pub async fn connect(database_url: &str) -> Result<Engine> {
        Self::builder().connect(database_url).await
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The engine's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// This process's id, recorded as the owner of the jobs it runs.
    pub fn process_id(&self) -> &str {
        &self.inner.process_id
    }

    /// Whether the schema is at the newest migration (and the database answers).
    pub async fn migrations_current(&self) -> Result<bool> {
        self.inner.store.migrations_current().await
    }

    /// The registered job type names.
    pub fn job_types(&self) -> Vec<String> {
        self.inner.registry.names().map(str::to_owned).collect()
    }

    /// The engine's Prometheus metrics (see [`Engine::render_metrics`]).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// Receives every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    pub(crate) fn emit(&self, event: Event) {
        // No receivers is fine: nobody is watching.
        let _ = self.inner.events.send(event);
    }

    pub(crate) fn emit_job(&self, id: &str, queue: &str, job_type: &str, kind: JobEventKind) {
        if self.inner.events.receiver_count() > 0 {
            self.emit(Event::Job(JobEvent {
                id: id.to_owned(),
                queue: queue.to_owned(),
                job_type: job_type.to_owned(),
                kind,
            }));
        }
    }

    pub(crate) fn waker(&self, queue: &str) -> Arc<Notify> {
        self.inner.store.wakers().get(queue)
    }

    /// Keeps `snapshot` as the latest, and its rates, and sends it to
    /// subscribers.
    pub(crate) fn publish_stats(&self, snapshot: Arc<StatsSnapshot>) {
        {
            let mut stats = self.inner.stats.lock().unwrap_or_else(|e| e.into_inner());
            let (latest, rates) = &mut *stats;
            if rates.len() == RATE_HISTORY {
                rates.pop_front();
            }
            rates.push_back(RatePoint {
                at: snapshot.at,
                completed_per_sec: snapshot.completed_per_sec,
                failed_per_sec: snapshot.failed_per_sec,
            });
            *latest = Some(snapshot.clone());
        }
        self.emit(Event::Stats(snapshot));
    }

    /// Throughput of the last ten minutes, a point per published snapshot
    /// (one a second while workers run), oldest first.
    pub fn rates(&self) -> Vec<RatePoint> {
        let stats = self.inner.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.1.iter().copied().collect()
    }

    /// The latest stats snapshot (published each second while workers
    /// run), or one read now, without rates, when there is none yet.
    pub async fn stats(&self) -> Result<Arc<StatsSnapshot>> {
        let latest = self
            .inner
            .stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone();
        match latest {
            Some(snapshot) => Ok(snapshot),
            None => Ok(Arc::new(StatsSnapshot {
                at: self.clock().now(),
                queues: self.queue_counts().await?,
                completed_per_sec: 0.0,
                failed_per_sec: 0.0,
            })),
        }
    }

    /// Wakes every queue's runner (after signals may have been lost).
    pub(crate) fn wake_all(&self) {
        self.inner.store.wakers().wake_all();
    }

    /// Timing samples waiting to be written.
    pub(crate) fn timings(&self) -> &crate::store::timing::Timings {
        &self.inner.timings
    }

    pub(crate) fn schedules_changed(&self) -> &Notify {
        &self.inner.schedules_changed
    }

    /// A queue was created or its settings changed (here or, by signal,
    /// in another process).
    pub(crate) fn note_queues_changed(&self) {
        self.inner
            .queues_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.inner.queues_changed.notify_waiters();
    }

    /// How many queue changes this process has noted.
    pub(crate) fn queues_generation(&self) -> u64 {
        self.inner
            .queues_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn queues_changed(&self) -> &Notify {
        &self.inner.queues_changed
    }

    pub(crate) fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, RunningJob>> {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts one job. Returns its id; [`Error::DuplicateJob`] if the id exists.
    pub async fn put(&self, job: NewJob) -> Result<String> {
        let mut ids = self.put_all(vec![job], false).await?;
        ids.pop()
            .ok_or_else(|| Error::Internal("put stored no job".to_owned()))
    }

    /// Puts many jobs in one transaction: all are stored, or (on any invalid
    /// job or duplicate id) none. Returns their ids in order. The jobs are
    /// created at one instant: a FIFO queue starts them in id order, which
    /// for generated ids is the order given.
    pub async fn put_many(&self, jobs: Vec<NewJob>) -> Result<Vec<String>> {
        self.put_all(jobs, false).await
    }

    /// Puts a job unless its id already exists. Returns `Some(id)` when it
    /// was stored, `None` when it was a duplicate.
    pub async fn put_unique(&self, job: NewJob) -> Result<Option<String>> {
        Ok(self.put_all(vec![job], true).await?.pop())
    }

    async fn put_all(&self, jobs: Vec<NewJob>, ignore_duplicates: bool) -> Result<Vec<String>> {
        let now = self.inner.clock.now_us();
        let rows: Vec<JobInsert> = jobs
            .into_iter()
            .map(|job| job.validate(&self.inner.registry, now))
            .collect::<Result<_>>()?;
        let new_queues = self.unknown_queues(&rows);
        let insert = self
            .inner
            .store
            .insert_jobs(&rows, &new_queues, ignore_duplicates, now);
        let inserted = self.metrics().timed("put", insert).await?;
        self.inserted(&new_queues, &inserted);
        Ok(inserted.into_iter().map(|job| job.id.clone()).collect())
    }

    /// The queues of `rows` not known to exist (a put creates them).
    pub(crate) fn unknown_queues<'a>(&self, rows: &'a [JobInsert]) -> Vec<&'a str> {
        let known = self
            .inner
            .known_queues
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut new: Vec<&str> = rows
            .iter()
            .map(JobInsert::queue)
            .filter(|queue| !known.contains(*queue))
            .collect();
        new.sort_unstable();
        new.dedup();
        new
    }

    /// After a committed insert: remember new queues, wake runners, emit events.
    pub(crate) fn inserted(&self, new_queues: &[&str], inserted: &[&JobInsert]) {
        if !new_queues.is_empty() {
            let mut known = self
                .inner
                .known_queues
                .write()
                .unwrap_or_else(|e| e.into_inner());
            known.extend(new_queues.iter().map(|queue| (*queue).to_owned()));
            self.note_queues_changed();
        }
        let mut woken: HashSet<&str> = HashSet::new();
        let mut enqueued: HashMap<(&str, &str), u64> = HashMap::new();
        for job in inserted {
            if woken.insert(&job.queue) {
                self.waker(&job.queue).notify_one();
            }
            *enqueued.entry((&job.queue, &job.job_type)).or_default() += 1;
            self.emit_job(&job.id, &job.queue, &job.job_type, JobEventKind::Enqueued);
        }
        for ((queue, job_type), n) in enqueued {
            self.metrics().enqueued(queue, job_type, n);
        }
    }

    /// One job; [`Error::JobNotFound`] if there is none.
    pub async fn get(&self, id: &str) -> Result<JobRecord> {
        self.inner
            .store
            .job(id)
            .await?
            .ok_or_else(|| Error::JobNotFound(id.to_owned()))
    }

    /// One job with its attempts history and log lines.
    pub async fn detail(&self, id: &str) -> Result<JobDetail> {
        let job = self.get(id).await?;
        let attempts = self.inner.store.attempts(id).await?;
        let logs = self.inner.store.logs(id).await?;
        let mut errors: Vec<String> = attempts.iter().filter_map(|a| a.error.clone()).collect();
        // The latest attempt's error is on the job row when it wrote no
        // history row of its own (e.g. a first-try failure still pending).
        if let Some(last) = &job.last_error
            && attempts.last().is_none_or(|a| a.attempt != job.attempt)
        {
            errors.push(last.clone());
        }
        Ok(JobDetail {
            job,
            errors,
            attempts,
            logs,
        })
    }

    /// A page of jobs; see [`JobFilter`].
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        if !(1..=MAX_PAGE).contains(&filter.limit) {
            return Err(Error::InvalidInput {
                field: "limit",
                reason: format!("must be between 1 and {MAX_PAGE} (got {})", filter.limit),
            });
        }
        if let Some(queue) = &filter.queue {
            validate_queue_name(queue)?;
        }
        self.inner.store.list(filter).await
    }

    /// Waits until the job is in a terminal state, and returns it.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<JobRecord> {
        let mut events = self.subscribe();
        let wait = async {
            loop {
                let job = self.get(id).await?;
                if job.state.is_terminal() {
                    return Ok(job);
                }
                wait_for_event(&mut events, |event| event.id == id).await;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout(timeout))?
    }

    /// Waits until `queue` has no blocked, pending, running or retrying job.
    pub async fn wait_drained(&self, queue: &str, timeout: Duration) -> Result<()> {
        let mut events = self.subscribe();
        let wait = async {
            loop {
                let counts = self.inner.store.counts(Some(&[queue])).await?;
                let busy: i64 = counts
                    .get(queue)
                    .map(|by_state| {
                        by_state
                            .iter()
                            .filter(|(state, _)| !state.is_terminal())
                            .map(|(_, n)| n)
                            .sum()
                    })
                    .unwrap_or(0);
                if busy == 0 {
                    return Ok(());
                }
                wait_for_event(&mut events, |event| event.queue == queue).await;
                // A busy queue raises events per job: recheck at most every
                // DRAIN_RECHECK, skipping the events raised meanwhile.
                tokio::time::sleep(DRAIN_RECHECK).await;
                events = events.resubscribe();
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout(timeout))?
    }

    /// Aborts a job: a waiting one at once; a running one is cancelled by
    /// its owner (at once in this process; in another, when the signal
    /// arrives on PostgreSQL, and within a second in any case). Terminal
    /// jobs are refused.
    pub async fn abort(&self, id: &str) -> Result<AbortOutcome> {
        let abort = self
            .inner
            .store
            .abort(
                id,
                self.inner.clock.now_us(),
                crate::store::control::ABORTED_BY_OPERATOR,
            )
            .await?;
        match abort.outcome {
            AbortOutcome::Aborted => {
                self.metrics()
                    .finished(&abort.queue, &abort.job_type, "aborted", 1);
            }
            // Its owner counts it when the run ends.
            AbortOutcome::Requested { .. } => {
                if let Some(job) = self.running().get(id) {
                    job.stop(crate::runner::StopReason::Aborted);
                }
            }
        }
        self.emit_job(id, &abort.queue, &abort.job_type, JobEventKind::Aborted);
        Ok(abort.outcome)
    }

    /// Every registered process with its heartbeat and running-job count:
    /// live ones first, then those marked gone (kept for a day).
    pub async fn processes(&self) -> Result<Vec<ProcessRecord>> {
        self.inner.store.processes().await
    }

    /// Creates a queue with `settings`, or replaces an existing queue's settings.
    pub async fn set_queue(&self, name: &str, settings: QueueSettings) -> Result<Queue> {
        validate_queue_name(name)?;
        settings.validate()?;
        let now = self.inner.clock.now_us();
        let store = &self.inner.store;
        store.ensure_queues(store.writer(), &[name], now).await?;
        store.set_queue_settings(name, &settings, now).await?;
        self.inner
            .known_queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned());
        self.note_queues_changed();
        self.waker(name).notify_one();
        Ok(Queue {
            name: name.to_owned(),
            settings,
            rule: None,
        })
    }

    /// The queue rules (queue groups), in order.
    pub async fn queue_rules(&self) -> Result<Vec<QueueRule>> {
        self.inner.store.queue_rules().await
    }

    /// Replaces the queue rules: queues created by a put from now on take
    /// the settings of the first rule their name matches, and queues that
    /// follow a rule take the new rules' settings. Invalid rules are
    /// refused, changing nothing.
    pub async fn set_queue_rules(&self, rules: Vec<QueueRule>) -> Result<()> {
        let rules = QueueRules::new(rules)?;
        let now = self.inner.clock.now_us();
        self.inner.store.set_queue_rules(&rules, now).await?;
        self.note_queues_changed();
        Ok(())
    }

    /// Deletes the queues with an idle TTL that have had no jobs for that
    /// long (noted at one check, deleted at a later one). Returns their
    /// names. Running workers do this with retention, every
    /// `RETENTION_INTERVAL`.
    pub async fn prune_idle_queues(&self) -> Result<Vec<String>> {
        let mut pruned = Vec::new();
        for queue in self.queues().await? {
            let Some(ttl) = queue.settings.idle_ttl_ms else {
                continue;
            };
            let now = self.inner.clock.now_us();
            if self.inner.store.prune_idle(&queue.name, ttl, now).await? {
                pruned.push(queue.name);
            }
        }
        if !pruned.is_empty() {
            let mut known = self
                .inner
                .known_queues
                .write()
                .unwrap_or_else(|e| e.into_inner());
            for name in &pruned {
                known.remove(name);
            }
            drop(known);
            self.note_queues_changed();
        }
        Ok(pruned)
    }

    /// One queue; [`Error::QueueNotFound`] if there is none.
    pub async fn queue(&self, name: &str) -> Result<Queue> {
        self.inner
            .store
            .queue(name)
            .await?
            .ok_or_else(|| Error::QueueNotFound(name.to_owned()))
    }

    /// Every queue.
    pub async fn queues(&self) -> Result<Vec<Queue>> {
        self.inner.store.queues().await
    }

    /// Job counts by state for every queue, read from the counters (never
    /// by scanning jobs).
    pub async fn queue_counts(&self) -> Result<Vec<QueueCounts>> {
        Ok(self
            .inner
            .store
            .counts(None)
            .await?
            .into_iter()
            .map(|(queue, counts)| QueueCounts {
                queue,
                counts: every_state(counts),
            })
            .collect())
    }

    /// One queue's job counts by state (every state present), read from the
    /// counters; [`Error::QueueNotFound`] if there is no such queue.
    pub async fn counts(&self, queue: &str) -> Result<BTreeMap<JobState, i64>> {
        validate_queue_name(queue)?;
        self.inner
            .store
            .counts(Some(&[queue]))
            .await?
            .remove(queue)
            .map(every_state)
            .ok_or_else(|| Error::QueueNotFound(queue.to_owned()))
    }
}

/// `counts` with a zero for every state it lacks.
fn every_state(mut counts: BTreeMap<JobState, i64>) -> BTreeMap<JobState, i64> {
    for state in JobState::ALL {
        counts.entry(state).or_insert(0);
    }
    counts
}

/// Waits for a job event matching `wanted`, or for the recheck interval
/// (changes made by other processes raise no event here).
async fn wait_for_event(
    events: &mut broadcast::Receiver<Event>,
    wanted: impl Fn(&JobEvent) -> bool,
) {
    let matching = async {
        loop {
            match events.recv().await {
                Ok(Event::Job(event)) if wanted(&event) => return,
                Ok(_) => {}
                // Missed events may include ours: recheck.
                Err(broadcast::error::RecvError::Lagged(_)) => return,
                Err(broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let _ = tokio::time::timeout(WAIT_RECHECK, matching).await;
}
