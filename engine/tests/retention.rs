//! Retention on SQLite and PostgreSQL: a queue keeps at most N terminal
//! jobs (the newest) and/or keeps them at most D; waiting jobs are never
//! touched; the counters stay equal to the rows, also while jobs keep
//! finishing; the workers prune on their own every `RETENTION_INTERVAL`.

#[macro_use]
mod common;

use std::time::Duration;

use amboy::{
    Engine, Error, JobFilter, JobState, ManualClock, NewJob, QueueSettings, RETENTION_INTERVAL,
    WorkerOptions,
};
use chrono::{TimeDelta, Utc};
use common::{Backend, Count, builder, eventually};

const WAIT: Duration = Duration::from_secs(30);

fn only(queue: &str) -> WorkerOptions {
    WorkerOptions {
        queues: Some(vec![queue.into()]),
        ..WorkerOptions::default()
    }
}

async fn limit(engine: &Engine, queue: &str, max_jobs: Option<i64>, max_age_ms: Option<i64>) {
    engine
        .set_queue(
            queue,
            QueueSettings {
                retention_max_jobs: max_jobs,
                retention_max_age_ms: max_age_ms,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
}

/// The ids of the queue's jobs in `state`, in id order.
async fn ids(engine: &Engine, queue: &str, state: JobState) -> Vec<String> {
    let filter = JobFilter {
        queue: Some(queue.into()),
        state: Some(state),
        limit: 1_000,
        ..JobFilter::default()
    };
    let mut ids: Vec<String> = engine
        .list(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|job| job.id)
        .collect();
    ids.sort();
    ids
}

/// Runs `jobs` to completion in `queue`.
async fn complete(engine: &Engine, queue: &str, jobs: Vec<NewJob>) -> Vec<String> {
    let workers = engine.start_workers(only(queue)).await.unwrap();
    let ids = engine.put_many(jobs).await.unwrap();
    for id in &ids {
        assert_eq!(
            engine.wait(id, WAIT).await.unwrap().state,
            JobState::Completed
        );
    }
    workers.shutdown(WAIT).await;
    ids
}

fn count(queue: &str, id: String) -> NewJob {
    NewJob::new(queue, &Count { key: id.clone() })
        .unwrap()
        .id(id)
}

/// The counters agree with the rows (the report reads the jobs table).
async fn counters_match_rows(engine: &Engine, queue: &str) {
    let counters = engine.counts(queue).await.unwrap();
    let mut rows = std::collections::BTreeMap::new();
    for by_type in engine.counts_by_type(Some(queue)).await.unwrap() {
        for (state, n) in by_type.counts {
            *rows.entry(state).or_insert(0) += n;
        }
    }
    for state in JobState::ALL {
        assert_eq!(
            counters[&state],
            rows.get(&state).copied().unwrap_or(0),
            "{queue} {state}: counter vs rows"
        );
    }
}

async fn a_queue_keeps_its_newest_finished_jobs_up_to_its_limit(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    limit(&engine, "kept", Some(5), None).await;
    // Ready one second apart: job-00 is the oldest.
    let start = Utc::now() - TimeDelta::minutes(1);
    let jobs = (0..12)
        .map(|i| count("kept", format!("job-{i:02}")).run_at(start + TimeDelta::seconds(i)))
        .collect();
    complete(&engine, "kept", jobs).await;
    // A job still waiting is never pruned.
    engine
        .put(count("kept", "later".into()).delay(TimeDelta::hours(1)))
        .await
        .unwrap();

    assert_eq!(engine.apply_retention().await.unwrap(), 7);
    let kept: Vec<String> = (7..12).map(|i| format!("job-{i:02}")).collect();
    assert_eq!(ids(&engine, "kept", JobState::Completed).await, kept);
    assert_eq!(ids(&engine, "kept", JobState::Pending).await, ["later"]);
    assert!(matches!(
        engine.detail("job-00").await,
        Err(Error::JobNotFound(_))
    ));
    counters_match_rows(&engine, "kept").await;
    // Within the limit: nothing more to do.
    assert_eq!(engine.apply_retention().await.unwrap(), 0);
    let text = engine.render_metrics().await.unwrap();
    assert!(
        text.contains("amboy_jobs_pruned_total{queue=\"kept\"} 7"),
        "{text}"
    );
}

async fn finished_jobs_older_than_the_max_age_are_pruned(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(clock.clock())
        .connect(&db.url)
        .await
        .unwrap();
    limit(&engine, "aged", None, Some(60_000)).await;
    let early = (0..3)
        .map(|i| count("aged", format!("early-{i}")))
        .collect();
    complete(&engine, "aged", early).await;
    clock.advance(Duration::from_secs(30));
    let late = (0..2).map(|i| count("aged", format!("late-{i}"))).collect();
    complete(&engine, "aged", late).await;

    // 45 s after the first: none is a minute old.
    clock.advance(Duration::from_secs(15));
    assert_eq!(engine.apply_retention().await.unwrap(), 0);
    // 75 s: the early ones are.
    clock.advance(Duration::from_secs(30));
    assert_eq!(engine.apply_retention().await.unwrap(), 3);
    assert_eq!(
        ids(&engine, "aged", JobState::Completed).await,
        ["late-0", "late-1"]
    );
    // 95 s: all are.
    clock.advance(Duration::from_secs(20));
    assert_eq!(engine.apply_retention().await.unwrap(), 2);
    counters_match_rows(&engine, "aged").await;
}

async fn the_workers_prune_while_jobs_keep_finishing(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(clock.clock())
        .connect(&db.url)
        .await
        .unwrap();
    limit(&engine, "busy", Some(100), None).await;
    let workers = engine.start_workers(only("busy")).await.unwrap();
    for round in 0..10 {
        let jobs = (0..300)
            .map(|i| count("busy", format!("r{round:02}-{i:03}")))
            .collect();
        engine.put_many(jobs).await.unwrap();
        // The retention service's timer, while the batch runs.
        clock.advance(RETENTION_INTERVAL.mul_f64(1.25));
    }
    engine.wait_drained("busy", WAIT).await.unwrap();
    eventually("the workers to prune down to 100", WAIT, || async {
        clock.advance(RETENTION_INTERVAL.mul_f64(1.25));
        let completed = engine.counts("busy").await.unwrap()[&JobState::Completed];
        (completed == 100).then_some(())
    })
    .await;
    workers.shutdown(WAIT).await;
    counters_match_rows(&engine, "busy").await;
    // The newest hundred: the last round's last jobs by run_at and id.
    let kept = ids(&engine, "busy", JobState::Completed).await;
    assert_eq!(kept.len(), 100);
    assert!(kept.iter().all(|id| id.starts_with("r09-")), "{kept:?}");
}

on_both_backends!(
    a_queue_keeps_its_newest_finished_jobs_up_to_its_limit,
    finished_jobs_older_than_the_max_age_are_pruned,
    the_workers_prune_while_jobs_keep_finishing,
);
