//! The engine's metrics count exactly what happened, on SQLite and on
//! PostgreSQL: completions, retries, failures, panics and aborts by queue
//! and type; the queue gauges read from the database at scrape time; the
//! throughput of each stats snapshot kept for the dashboard's chart.

#[macro_use]
mod common;

use std::time::Duration;

use amboy::{JobState, NewJob, QueueSettings, WorkerOptions};
use chrono::{TimeDelta, Utc};
use common::{Backend, Count, Flaky, Panics, builder};

const WAIT: Duration = Duration::from_secs(30);
const FAST: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(5));

/// The value of the sample of `name` with (at least) these labels.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    common::sample(text, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
}

async fn metrics_count_what_happened(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    // A paused queue holding a job ready for an hour.
    engine
        .set_queue(
            "held",
            QueueSettings {
                paused: true,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    let hour_ago = Utc::now() - TimeDelta::hours(1);
    engine
        .put(
            NewJob::new("held", &Count { key: "held".into() })
                .unwrap()
                .run_at(hour_ago),
        )
        .await
        .unwrap();
    let later = engine
        .put(
            NewJob::new(
                "m",
                &Count {
                    key: "metrics-later".into(),
                },
            )
            .unwrap()
            .delay(TimeDelta::hours(1)),
        )
        .await
        .unwrap();
    engine.abort(&later).await.unwrap();

    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["m".into()]),
            ..WorkerOptions::default()
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = NewJob::new(
            "m",
            &Count {
                key: "metrics".into(),
            },
        )
        .unwrap();
        ids.push(engine.put(job).await.unwrap());
    }
    let retry_then_succeed = NewJob::new("m", &Flaky { failures: 1 })
        .unwrap()
        .backoff(FAST.0, FAST.1);
    let retry_then_fail = NewJob::new("m", &Flaky { failures: 9 })
        .unwrap()
        .max_attempts(2)
        .backoff(FAST.0, FAST.1);
    let panics = NewJob::new("m", &Panics {}).unwrap().max_attempts(1);
    for job in [retry_then_succeed, retry_then_fail, panics] {
        ids.push(engine.put(job).await.unwrap());
    }
    for id in &ids {
        let job = engine.wait(id, WAIT).await.unwrap();
        assert!(job.state.is_terminal(), "{id} is {}", job.state);
    }
    // The completer counts after it writes: wait for its last batch.
    common::eventually("the last results to be counted", WAIT, || async {
        let text = engine.render_metrics().await.unwrap();
        let ended: f64 = ["completed", "failed"]
            .iter()
            .map(|outcome| {
                sample(
                    &text,
                    "amboy_jobs_finished_total",
                    &[("queue", "m"), ("outcome", outcome), ("job_type", "count")],
                ) + sample(
                    &text,
                    "amboy_jobs_finished_total",
                    &[("queue", "m"), ("outcome", outcome), ("job_type", "flaky")],
                ) + sample(
                    &text,
                    "amboy_jobs_finished_total",
                    &[("queue", "m"), ("outcome", outcome), ("job_type", "panics")],
                )
            })
            .sum();
        (ended == 6.0).then_some(())
    })
    .await;
    let text = engine.render_metrics().await.unwrap();
    let finished = |job_type: &str, outcome: &str| {
        sample(
            &text,
            "amboy_jobs_finished_total",
            &[("queue", "m"), ("job_type", job_type), ("outcome", outcome)],
        )
    };
    assert_eq!(finished("count", "completed"), 3.0);
    assert_eq!(finished("count", "aborted"), 1.0, "the waiting job aborted");
    assert_eq!(finished("flaky", "completed"), 1.0);
    assert_eq!(finished("flaky", "retried"), 2.0, "one retry each");
    assert_eq!(finished("flaky", "failed"), 1.0);
    assert_eq!(finished("panics", "failed"), 1.0);
    assert_eq!(finished("panics", "expired"), 0.0, "every outcome exists");
    let enqueued = |job_type: &str| {
        sample(
            &text,
            "amboy_jobs_enqueued_total",
            &[("queue", "m"), ("job_type", job_type)],
        )
    };
    assert_eq!((enqueued("count"), enqueued("flaky")), (4.0, 2.0));
    let runs = sample(
        &text,
        "amboy_job_run_duration_seconds_count",
        &[("queue", "m"), ("job_type", "flaky")],
    );
    assert_eq!(runs, 4.0, "two attempts of each flaky job");
    assert_eq!(
        sample(
            &text,
            "amboy_job_queue_latency_seconds_count",
            &[("queue", "m"), ("job_type", "count")]
        ),
        3.0
    );

    // The gauges are the database's truth, read now.
    let counts = engine.counts("m").await.unwrap();
    for (state, n) in counts {
        let gauge = sample(
            &text,
            "amboy_queue_jobs",
            &[("queue", "m"), ("state", state.as_str())],
        );
        assert_eq!(gauge, n as f64, "{state}");
    }
    assert_eq!(
        sample(
            &text,
            "amboy_queue_jobs",
            &[("queue", "m"), ("state", "completed")]
        ),
        4.0
    );
    assert_eq!(
        sample(
            &text,
            "amboy_queue_jobs",
            &[("queue", "held"), ("state", "pending")]
        ),
        1.0
    );
    let age = sample(
        &text,
        "amboy_queue_oldest_pending_age_seconds",
        &[("queue", "held")],
    );
    assert!(
        (3_590.0..3_700.0).contains(&age),
        "oldest pending age {age}"
    );
    assert_eq!(
        sample(
            &text,
            "amboy_queue_oldest_pending_age_seconds",
            &[("queue", "m")]
        ),
        0.0,
        "nothing waits in m"
    );
    assert_eq!(sample(&text, "amboy_workers", &[("queue", "m")]), 8.0);
    assert_eq!(sample(&text, "amboy_workers_busy", &[("queue", "m")]), 0.0);
    assert_eq!(
        sample(&text, "amboy_jobs_rescued_total", &[("queue", "m")]),
        0.0
    );
    assert_eq!(sample(&text, "amboy_processes", &[("state", "alive")]), 1.0);
    assert!(
        sample(
            &text,
            "amboy_store_op_duration_seconds_count",
            &[("op", "claim")]
        ) >= 1.0
    );
    assert_eq!(engine.counts("held").await.unwrap()[&JobState::Pending], 1);

    // A runner that stops takes its worker gauges with it.
    workers.shutdown(WAIT).await;
    let text = engine.render_metrics().await.unwrap();
    assert!(!text.contains("amboy_workers{queue=\"m\"}"), "{text}");
}

/// The throughput of each published snapshot is kept, in order, for the
/// dashboard's chart; each queue's latency is read from the timings.
async fn rates_remember_the_snapshots(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    assert!(engine.rates().is_empty());
    let mut events = engine.subscribe();
    let workers = engine
        .start_workers(WorkerOptions::default())
        .await
        .unwrap();
    // Rates are counted from one snapshot to the next: the jobs come after
    // the first.
    tokio::time::timeout(WAIT, async {
        while !matches!(events.recv().await, Ok(amboy::Event::Stats(_))) {}
    })
    .await
    .expect("a first snapshot");
    for _ in 0..20 {
        engine
            .put(NewJob::from_json("rated", "noop", "{}"))
            .await
            .unwrap();
    }
    engine.wait_drained("rated", WAIT).await.unwrap();
    let busy = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(amboy::Event::Stats(snapshot)) = events.recv().await
                && snapshot.completed_per_sec > 0.0
            {
                return snapshot;
            }
        }
    })
    .await
    .expect("a snapshot counts the completions");
    workers.shutdown(WAIT).await;
    let rates = engine.rates();
    let point = rates
        .iter()
        .find(|point| point.at == busy.at)
        .expect("the snapshot's rates are kept");
    assert_eq!(point.completed_per_sec, busy.completed_per_sec);
    assert!(rates.windows(2).all(|w| w[0].at <= w[1].at), "{rates:?}");
    assert!(rates.len() <= amboy::events::RATE_HISTORY);

    // Stopped workers wrote their timings: each queue's latency, the same
    // histogram the per-type report reads.
    let window = Duration::from_secs(300);
    let latencies = engine.queue_latencies(window).await.unwrap();
    let by_type = engine.timing_report(window, Some("rated")).await.unwrap();
    assert_eq!(latencies["rated"].count, 20, "{latencies:?}");
    assert_eq!(latencies["rated"], by_type[0].queue_latency);
    assert!(engine.queue_latencies(Duration::ZERO).await.is_err());
}

on_both_backends!(metrics_count_what_happened, rates_remember_the_snapshots);
