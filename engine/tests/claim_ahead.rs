//! Claiming ahead: a runner of short jobs claims more than it has workers
//! for, and hands what it holds back — pending in its place, as if never
//! claimed — when the queue is paused and when its workers are all taken
//! by long jobs; an abort of a held job is not lost. Run on both backends.

#[macro_use]
mod common;

use std::time::Duration;

use amboy::{
    Engine, JobFilter, JobRecord, JobState, NewJob, Ordering, QueueSettings, WorkerOptions,
};
use common::{Backend, Block, builder, eventually, every_job, sample};

const WAIT: Duration = Duration::from_secs(60);
/// Enough short jobs that the runner is still busy with them when the
/// tests act (each test stops it well before they run out).
const JOBS: usize = 10_000;
const CONCURRENCY: i32 = 2;

fn only(queue: &str) -> WorkerOptions {
    WorkerOptions {
        queues: Some(vec![queue.to_owned()]),
        ..WorkerOptions::default()
    }
}

async fn count(engine: &Engine, queue: &str, state: JobState) -> i64 {
    engine.counts(queue).await.unwrap()[&state]
}

/// A queue of `JOBS` no-ops with two workers.
async fn loaded(url: &str, queue: &str, ordering: Ordering) -> Engine {
    let engine = builder().connect(url).await.unwrap();
    engine
        .set_queue(
            queue,
            QueueSettings {
                concurrency: CONCURRENCY,
                ordering,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    for _ in 0..JOBS / 5_000 {
        let jobs = (0..5_000)
            .map(|_| NewJob::from_json(queue, "noop", "{}"))
            .collect();
        engine.put_many(jobs).await.unwrap();
    }
    engine
}

/// How many jobs the runner of `queue` holds ahead of its workers, as its
/// gauge shows (none before the runner starts).
async fn held_ahead(engine: &Engine, queue: &str) -> i64 {
    let text = engine.render_metrics().await.unwrap();
    sample(&text, "amboy_jobs_held_ahead", &[("queue", queue)]).unwrap_or(0.0) as i64
}

/// Waits until the runner of `queue` holds a few jobs ahead of its workers
/// (it has measured how fast they go).
async fn claiming_ahead(engine: &Engine, queue: &str) {
    eventually("jobs claimed ahead of the workers", WAIT, || async {
        (held_ahead(engine, queue).await >= 10).then_some(())
    })
    .await;
}

/// Every job of `queue` in `state`.
async fn all_in(engine: &Engine, queue: &str, state: JobState) -> Vec<JobRecord> {
    let filter = JobFilter {
        queue: Some(queue.into()),
        state: Some(state),
        ..JobFilter::default()
    };
    every_job(engine, filter).await
}

/// The ids of the running jobs of the queue `held`.
async fn running_ids(engine: &Engine) -> Vec<String> {
    engine
        .list(&JobFilter {
            queue: Some("held".into()),
            state: Some(JobState::Running),
            limit: 1_000,
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect()
}

/// The running jobs of `held` other than `long`, while every one of
/// `long` runs (none otherwise).
async fn held_behind(engine: &Engine, long: &[String]) -> Vec<String> {
    let running = running_ids(engine).await;
    if !long.iter().all(|id| running.contains(id)) {
        return Vec::new();
    }
    running
        .into_iter()
        .filter(|id| !long.contains(id))
        .collect()
}

/// Pending jobs as a claim that never ran leaves them: no attempt, no
/// start, no owner. Returns how many were claimed once and handed back.
fn as_never_claimed(pending: &[JobRecord]) -> usize {
    for job in pending {
        assert_eq!(
            (job.attempt, job.started_at, job.owner.as_deref()),
            (0, None, None),
            "{job:?}"
        );
    }
    pending.iter().filter(|job| job.claim_count > 0).count()
}

async fn a_pause_hands_back_what_was_claimed_ahead(backend: Backend) {
    let db = backend.fresh().await;
    let engine = loaded(&db.url, "ahead", Ordering::Fifo).await;
    let workers = engine.start_workers(only("ahead")).await.unwrap();
    claiming_ahead(&engine, "ahead").await;
    let mut paused = engine.queue("ahead").await.unwrap().settings;
    paused.paused = true;
    engine.set_queue("ahead", paused.clone()).await.unwrap();
    eventually("the held jobs handed back", WAIT, || async {
        (count(&engine, "ahead", JobState::Running).await == 0).then_some(())
    })
    .await;
    let pending = all_in(&engine, "ahead", JobState::Pending).await;
    let completed = count(&engine, "ahead", JobState::Completed).await;
    assert_eq!(pending.len() as i64 + completed, JOBS as i64);
    assert!(completed > 0 && !pending.is_empty());
    assert!(
        as_never_claimed(&pending) > 0,
        "no job was held ahead when the queue paused"
    );
    // Resumed, every job runs exactly once: a hand-back is no attempt.
    paused.paused = false;
    engine.set_queue("ahead", paused).await.unwrap();
    engine.wait_drained("ahead", WAIT).await.unwrap();
    workers.shutdown(Duration::from_secs(10)).await;
    let done = all_in(&engine, "ahead", JobState::Completed).await;
    assert_eq!(done.len(), JOBS);
    for job in &done {
        assert_eq!(job.attempt, 1, "{job:?}");
        let started = job.started_at.expect("a start time");
        assert!(
            job.created_at <= started && Some(started) <= job.ended_at,
            "{job:?}"
        );
    }
}

async fn jobs_held_behind_long_ones_go_back_for_others(backend: Backend) {
    let db = backend.fresh().await;
    let engine = loaded(&db.url, "held", Ordering::Priority).await;
    let workers = engine.start_workers(only("held")).await.unwrap();
    claiming_ahead(&engine, "held").await;
    // Two jobs that take every worker until aborted, first in line.
    let mut long = Vec::new();
    for _ in 0..CONCURRENCY {
        let job = NewJob::new("held", &Block {}).unwrap().priority(10);
        long.push(engine.put(job).await.unwrap());
    }
    // Short jobs claimed with or after them wait behind them: running jobs
    // seen twice while the long ones run (not a finished run whose result
    // is still being written). An abort of one is not lost when it goes
    // back: it ends aborted, not pending.
    let behind = eventually("short jobs held behind the long ones", WAIT, || async {
        let first = held_behind(&engine, &long).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        let second = held_behind(&engine, &long).await;
        let both: Vec<String> = first.into_iter().filter(|id| second.contains(id)).collect();
        (!both.is_empty()).then_some(both)
    })
    .await;
    let aborted_behind = &behind[0];
    engine.abort(aborted_behind).await.unwrap();
    // The others wait for a worker no longer than the hold limit, then go
    // back: only the long ones stay running.
    eventually("only the long jobs running", WAIT, || async {
        let mut ids = running_ids(&engine).await;
        ids.sort();
        let mut expected = long.clone();
        expected.sort();
        (ids == expected).then_some(())
    })
    .await;
    let pending = all_in(&engine, "held", JobState::Pending).await;
    assert!(
        as_never_claimed(&pending) > 0,
        "no job was held behind the long ones"
    );
    for id in &long {
        engine.abort(id).await.unwrap();
    }
    engine.wait_drained("held", WAIT).await.unwrap();
    workers.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        engine.get(aborted_behind).await.unwrap().state,
        JobState::Aborted
    );
    assert_eq!(
        count(&engine, "held", JobState::Completed).await,
        JOBS as i64 - 1
    );
    assert_eq!(count(&engine, "held", JobState::Aborted).await, 3);
}

/// Jobs with dispatch scopes are claimed for free workers only: held, they
/// would keep their scopes while they wait.
async fn jobs_with_dispatch_scopes_are_not_claimed_ahead(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .set_queue(
            "scoped",
            QueueSettings {
                concurrency: CONCURRENCY,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    let jobs = (0..JOBS / 2)
        .map(|i| NewJob::from_json("scoped", "noop", "{}").scopes([format!("s{i}")]))
        .collect();
    engine.put_many(jobs).await.unwrap();
    let workers = engine.start_workers(only("scoped")).await.unwrap();
    let mut most = 0;
    while count(&engine, "scoped", JobState::Completed).await < (JOBS / 2) as i64 {
        most = most.max(held_ahead(&engine, "scoped").await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workers.shutdown(Duration::from_secs(10)).await;
    assert_eq!(most, 0, "scoped jobs were held ahead");
}

/// A burn-down of short jobs starts every job held ahead on the next free
/// worker, to the last one: none waits out the hold limit and goes back
/// (a worker freeing between the runner's start of held jobs and its wait
/// was missed, and the last claim's jobs sat 250 ms, then were claimed
/// again, in about a third of burn-downs).
async fn a_burn_down_hands_nothing_back(backend: Backend) {
    let db = backend.fresh().await;
    let queue = "burn";
    let engine = loaded(&db.url, queue, Ordering::Fifo).await;
    for _ in 0..2 {
        let jobs = (0..5_000)
            .map(|_| NewJob::from_json(queue, "noop", "{}"))
            .collect();
        engine.put_many(jobs).await.unwrap();
    }
    let workers = engine.start_workers(only(queue)).await.unwrap();
    engine.wait_drained(queue, WAIT).await.unwrap();
    workers.shutdown(WAIT).await;
    let done = all_in(&engine, queue, JobState::Completed).await;
    assert_eq!(done.len(), 2 * JOBS);
    let again: Vec<&JobRecord> = done.iter().filter(|job| job.claim_count > 1).collect();
    assert!(again.is_empty(), "{} jobs were claimed twice", again.len());
}

on_both_backends!(
    a_burn_down_hands_nothing_back,
    jobs_with_dispatch_scopes_are_not_claimed_ahead,
    a_pause_hands_back_what_was_claimed_ahead,
    jobs_held_behind_long_ones_go_back_for_others,
);
