//! The engine conformance suite: amboy's smoke scenarios, run on every
//! backend by the `on_both_backends!` macro at the bottom.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use amboy::{
    AbortOutcome, BulkAction, Error, JobEventKind, JobFilter, JobSelector, JobState, ManualClock,
    NewJob, QueueSettings, WorkerOptions,
};
use chrono::{TimeDelta, Utc};
use common::{
    Backend, Block, Count, Fails, Flaky, Freeze, Panics, builder, eventually, next_event,
};

const WAIT: Duration = Duration::from_secs(30);
const FAST_RETRY: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(5));

fn only(queue: &str) -> WorkerOptions {
    WorkerOptions {
        queues: Some(vec![queue.to_owned()]),
        ..WorkerOptions::default()
    }
}

/// An engine standing for one process, named `id`.
async fn process(url: &str, id: &str) -> amboy::Engine {
    builder().process_id(id).connect(url).await.unwrap()
}

async fn many_producers_complete_every_job_exactly_once(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .set_queue(
            "work",
            QueueSettings {
                concurrency: 16,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    let workers = engine.start_workers(only("work")).await.unwrap();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let producers: Vec<_> = (0..8)
        .map(|p| {
            let engine = engine.clone();
            let run = run.clone();
            tokio::spawn(async move {
                for batch in 0..5 {
                    let jobs = (0..50)
                        .map(|i| {
                            let key = format!("{run}-{p}-{batch}-{i}");
                            NewJob::new("work", &Count { key: key.clone() })
                                .unwrap()
                                .id(key)
                        })
                        .collect();
                    engine.put_many(jobs).await.unwrap();
                }
                for i in 0..20 {
                    let key = format!("{run}-{p}-single-{i}");
                    engine
                        .put(
                            NewJob::new("work", &Count { key: key.clone() })
                                .unwrap()
                                .id(key),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    engine.wait_drained("work", WAIT).await.unwrap();
    let filter = JobFilter {
        queue: Some("work".into()),
        ..JobFilter::default()
    };
    let jobs = common::every_job(&engine, filter).await;
    for job in &jobs {
        assert_eq!(job.state, JobState::Completed, "{}", job.id);
        assert_eq!(
            common::run_count(&job.id),
            1,
            "{} ran {} times",
            job.id,
            common::run_count(&job.id)
        );
        let (started, ended) = (job.started_at.unwrap(), job.ended_at.unwrap());
        assert!(job.created_at <= started && started <= ended, "{job:?}");
        assert_eq!(job.attempt, 1);
    }
    let seen = jobs.len();
    assert_eq!(seen, 8 * (5 * 50 + 20));
    let c = engine.counts("work").await.unwrap();
    assert_eq!(c[&JobState::Completed], 8 * 270);
    assert!(
        JobState::ALL
            .iter()
            .filter(|s| **s != JobState::Completed)
            .all(|s| c[s] == 0),
        "{c:?}"
    );
    workers.shutdown(WAIT).await;
}

async fn wait_until_is_honoured(backend: Backend) {
    let db = backend.fresh().await;
    let manual = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(manual.clock())
        .connect(&db.url)
        .await
        .unwrap();
    let later = engine
        .put(
            NewJob::new(
                "timed",
                &Count {
                    key: "later".into(),
                },
            )
            .unwrap()
            .delay(TimeDelta::hours(1)),
        )
        .await
        .unwrap();
    let workers = engine.start_workers(only("timed")).await.unwrap();
    // A ready job in the same queue proves the runner has claimed since.
    let now = engine
        .put(NewJob::new("timed", &Count { key: "now".into() }).unwrap())
        .await
        .unwrap();
    engine.wait(&now, WAIT).await.unwrap();
    assert_eq!(engine.get(&later).await.unwrap().state, JobState::Pending);
    manual.advance(Duration::from_secs(3_600));
    let job = engine.wait(&later, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert!(job.started_at.unwrap() >= job.run_at, "{job:?}");
    workers.shutdown(WAIT).await;
}

async fn max_time_is_enforced(backend: Backend) {
    let db = backend.fresh().await;
    let manual = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(manual.clock())
        .connect(&db.url)
        .await
        .unwrap();
    let mut events = engine.subscribe();
    let workers = engine.start_workers(only("slow")).await.unwrap();
    let id = engine
        .put(
            NewJob::from_json("slow", "sleep", r#"{"ms": 3600000}"#)
                .max_time(Duration::from_secs(1))
                .max_attempts(1),
        )
        .await
        .unwrap();
    next_event(&mut events, "the run to start", |e| {
        e.id == id && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    manual.advance(Duration::from_secs(2));
    let job = engine.wait(&id, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(
        job.last_error
            .as_deref()
            .unwrap()
            .contains("exceeded max_time of 1000 ms"),
        "{job:?}"
    );
    workers.shutdown(WAIT).await;
}

async fn retry_once_then_succeed(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let workers = engine.start_workers(only("retry")).await.unwrap();
    let id = engine
        .put(
            NewJob::new("retry", &Flaky { failures: 1 })
                .unwrap()
                .backoff(FAST_RETRY.0, FAST_RETRY.1),
        )
        .await
        .unwrap();
    let job = engine.wait(&id, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 2);
    assert_eq!(job.last_error, None);
    let detail = engine.detail(&id).await.unwrap();
    let outcomes: Vec<_> = detail
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.as_str()))
        .collect();
    assert_eq!(outcomes, [(1, "retrying"), (2, "completed")]);
    assert_eq!(detail.errors, ["boom 1"]);
    workers.shutdown(WAIT).await;
}

async fn exhausted_retries_fail_and_keep_every_error(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let workers = engine.start_workers(only("doomed")).await.unwrap();
    let id = engine
        .put(
            NewJob::new("doomed", &Flaky { failures: 10 })
                .unwrap()
                .max_attempts(3)
                .backoff(FAST_RETRY.0, FAST_RETRY.1),
        )
        .await
        .unwrap();
    let job = engine.wait(&id, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempt, 3);
    let detail = engine.detail(&id).await.unwrap();
    assert_eq!(
        detail.errors,
        ["boom 1", "boom 2", "boom 3 (attempt 3 of 3)"]
    );
    let c = engine.counts("doomed").await.unwrap();
    assert_eq!(
        (
            c[&JobState::Failed],
            c[&JobState::Retrying],
            c[&JobState::Running]
        ),
        (1, 0, 0)
    );
    workers.shutdown(WAIT).await;
}

/// Results are written in batches, sent as arrays on PostgreSQL: whatever
/// an error says — quotes, backslashes, braces, commas, the word NULL,
/// nothing at all — and however many long ones end together, each is kept
/// as written, on the job and in its history.
async fn errors_are_kept_as_written_whatever_they_say(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let mut messages: Vec<String> = [
        "",
        "NULL",
        "null",
        r#"say "hi""#,
        r"C:\temp\ a\",
        r#"{"a": [1, 2], "b": "{x,y}"}"#,
        "a,b,c",
        "  spaced  ",
        "line one\nline two\ttab",
        "ünïcödé — ✓ 😀",
        "'single' quotes; DROP TABLE jobs; --",
    ]
    .iter()
    .map(|m| (*m).to_owned())
    .collect();
    // Enough long errors, ending together, to need several statements.
    messages.extend((0..300).map(|i| format!("{i}: {}", r#"long "error", \ {} "#.repeat(60))));
    let ids = engine
        .put_many(
            messages
                .iter()
                .map(|message| {
                    NewJob::new(
                        "errors",
                        &Fails {
                            message: message.clone(),
                        },
                    )
                    .unwrap()
                })
                .collect(),
        )
        .await
        .unwrap();
    let workers = engine.start_workers(only("errors")).await.unwrap();
    engine.wait_drained("errors", WAIT).await.unwrap();
    for (id, message) in ids.iter().zip(&messages) {
        let job = engine.get(id).await.unwrap();
        assert_eq!(job.state, JobState::Failed);
        assert_eq!(
            job.last_error.as_deref(),
            Some(message.as_str()),
            "job {id}"
        );
        assert_eq!(engine.detail(id).await.unwrap().errors, [message.as_str()]);
    }
    let c = engine.counts("errors").await.unwrap();
    assert_eq!(
        (c[&JobState::Failed], c[&JobState::Running]),
        (i64::try_from(messages.len()).unwrap(), 0)
    );
    workers.shutdown(WAIT).await;
}

async fn abort_pending_and_running(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let mut events = engine.subscribe();
    let waiting = engine
        .put(
            NewJob::new(
                "ab",
                &Count {
                    key: "never".into(),
                },
            )
            .unwrap()
            .delay(TimeDelta::hours(1)),
        )
        .await
        .unwrap();
    assert_eq!(engine.abort(&waiting).await.unwrap(), AbortOutcome::Aborted);
    assert_eq!(engine.get(&waiting).await.unwrap().state, JobState::Aborted);
    let err = engine.abort(&waiting).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidState {
                state: JobState::Aborted,
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        engine.abort("missing").await.unwrap_err(),
        Error::JobNotFound(_)
    ));

    let workers = engine.start_workers(only("ab")).await.unwrap();
    let running = engine
        .put(NewJob::new("ab", &Block {}).unwrap())
        .await
        .unwrap();
    next_event(&mut events, "the blocking job to start", |e| {
        e.id == running && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    assert!(matches!(
        engine.abort(&running).await.unwrap(),
        AbortOutcome::Requested { .. }
    ));
    let job = engine.wait(&running, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Aborted);
    assert_eq!(job.last_error.as_deref(), Some("aborted by operator"));
    let c = engine.counts("ab").await.unwrap();
    assert_eq!(
        (
            c[&JobState::Aborted],
            c[&JobState::Pending],
            c[&JobState::Running]
        ),
        (2, 0, 0)
    );
    workers.shutdown(WAIT).await;
}

async fn a_panicking_job_fails_and_the_worker_survives(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .set_queue(
            "p",
            QueueSettings {
                concurrency: 1,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    let workers = engine.start_workers(only("p")).await.unwrap();
    let bad = engine
        .put(
            NewJob::new("p", &Panics {})
                .unwrap()
                .max_attempts(2)
                .backoff(FAST_RETRY.0, FAST_RETRY.1),
        )
        .await
        .unwrap();
    let job = engine.wait(&bad, WAIT).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    let detail = engine.detail(&bad).await.unwrap();
    assert_eq!(detail.errors.len(), 2);
    assert!(
        detail
            .errors
            .iter()
            .all(|e| e.starts_with("panicked: deliberate panic")),
        "{:?}",
        detail.errors
    );
    let good = engine
        .put(
            NewJob::new(
                "p",
                &Count {
                    key: uuid::Uuid::now_v7().to_string(),
                },
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        engine.wait(&good, WAIT).await.unwrap().state,
        JobState::Completed
    );
    workers.shutdown(WAIT).await;
}

async fn duplicate_ids_are_refused_or_ignored(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let job = || NewJob::new("dup", &Count { key: "d".into() }).unwrap();
    engine.put(job().id("same")).await.unwrap();
    let err = engine.put(job().id("same")).await.unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateJob(id) if id == "same"),
        "{err}"
    );
    assert_eq!(engine.put_unique(job().id("same")).await.unwrap(), None);
    assert_eq!(
        engine
            .put_unique(job().id("other"))
            .await
            .unwrap()
            .as_deref(),
        Some("other")
    );
    // A batch holding one duplicate stores nothing.
    let err = engine
        .put_many(vec![
            job().id("fresh-1"),
            job().id("same"),
            job().id("fresh-2"),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateJob(id) if id == "same"),
        "{err}"
    );
    let err = engine
        .put_many(vec![job().id("twice"), job().id("twice")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateJob(id) if id == "twice"),
        "{err}"
    );
    assert!(matches!(
        engine.get("fresh-1").await.unwrap_err(),
        Error::JobNotFound(_)
    ));
    assert_eq!(engine.counts("dup").await.unwrap()[&JobState::Pending], 2);

    // Large batches are written in groups of statements, the next built
    // while one is written: a stored id in a late group still refuses the
    // whole batch, and a batch of several groups stores every job, in order.
    let ids: Vec<String> = (0..4_500).map(|i| format!("big-{i:04}")).collect();
    let mut batch: Vec<NewJob> = ids.iter().map(|id| job().id(id)).collect();
    batch[4_400] = job().id("same");
    let err = engine.put_many(batch).await.unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateJob(id) if id == "same"),
        "{err}"
    );
    assert_eq!(engine.counts("dup").await.unwrap()[&JobState::Pending], 2);
    let stored = engine
        .put_many(ids.iter().map(|id| job().id(id)).collect())
        .await
        .unwrap();
    assert_eq!(stored, ids);
    assert_eq!(
        engine.counts("dup").await.unwrap()[&JobState::Pending],
        4_502
    );
    assert_eq!(
        engine.get("big-4499").await.unwrap().state,
        JobState::Pending
    );
}

async fn bad_input_is_refused_and_stores_nothing(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let cases: Vec<(NewJob, &str)> = vec![
        (
            NewJob::from_json("q", "nope", "{}"),
            "unknown job type \"nope\"",
        ),
        (
            NewJob::from_json("q", "sleep", r#"{"ms": "soon"}"#),
            "does not decode as job type \"sleep\"",
        ),
        (
            NewJob::from_json("q", "sleep", "not json"),
            "does not decode",
        ),
        (
            NewJob::from_json("q", "http", r#"{"url": "ftp://x"}"#),
            "is not http or https",
        ),
        (
            NewJob::from_json("q", "shell", r#"{"argv": ["true"]}"#),
            "shell jobs are disabled",
        ),
        (
            NewJob::from_json("bad queue!", "noop", "{}"),
            "invalid queue name",
        ),
        (NewJob::from_json("", "noop", "{}"), "must not be empty"),
        (
            NewJob::from_json("q", "noop", "{}").delay(TimeDelta::seconds(-5)),
            "delay: must not be negative",
        ),
        (
            NewJob::from_json("q", "noop", "{}").max_attempts(0),
            "max_attempts",
        ),
        (
            NewJob::from_json("q", "noop", "{}").id("has space"),
            "invalid id",
        ),
        (
            NewJob::from_json("q", "noop", "{}").max_time(Duration::ZERO),
            "max_time",
        ),
    ];
    for (job, expected) in cases {
        let err = engine.put(job.clone()).await.unwrap_err();
        assert!(err.is_client_error(), "{err}");
        assert!(
            err.to_string().contains(expected),
            "expected {expected:?} in {err:?}"
        );
        // Inside a batch, one bad job refuses the whole batch.
        let batch = vec![NewJob::from_json("q", "noop", "{}"), job];
        assert!(engine.put_many(batch).await.is_err());
    }
    assert!(
        engine.queue_counts().await.unwrap().is_empty(),
        "a queue was created"
    );
    assert!(matches!(
        engine.counts("q").await,
        Err(Error::QueueNotFound(_))
    ));
    assert!(matches!(
        engine.counts("no spaces").await,
        Err(Error::InvalidQueueName { .. })
    ));
    assert!(
        engine
            .list(&JobFilter {
                limit: 10,
                ..JobFilter::default()
            })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        engine
            .list(&JobFilter {
                limit: 0,
                ..JobFilter::default()
            })
            .await
            .is_err()
    );
}

/// A process that stops renewing (frozen: its only thread is blocked) loses
/// its job to another process; its late completion is refused.
async fn an_expired_lock_is_rescued_and_the_stale_completion_refused(backend: Backend) {
    let db = backend.fresh().await;
    let manual = ManualClock::new(Utc::now());
    let id = format!("frozen-{}", uuid::Uuid::now_v7().simple());
    let unfreeze = common::arm_freeze(&id);
    // B connects (and migrates) first, so the two don't race on the schema.
    let b = builder()
        .clock(manual.clock())
        .process_id("process-b")
        .connect(&db.url)
        .await
        .unwrap();
    let (refused_tx, mut refused_rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_a_tx, stop_a_rx) = tokio::sync::oneshot::channel::<()>();
    let process_a = std::thread::spawn({
        let (url, clock, id) = (db.url.clone(), manual.clock(), id.clone());
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let a = builder()
                    .clock(clock)
                    .process_id("process-a")
                    .connect(&url)
                    .await
                    .unwrap();
                let mut events = a.subscribe();
                tokio::spawn(async move {
                    while let Ok(event) = events.recv().await {
                        if let amboy::Event::Job(e) = event
                            && e.kind == JobEventKind::CompletionRefused
                        {
                            let _ = refused_tx.send(e.id);
                        }
                    }
                });
                a.put(NewJob::new("r", &Freeze {}).unwrap().id(id))
                    .await
                    .unwrap();
                let workers = a.start_workers(only("r")).await.unwrap();
                let _ = stop_a_rx.await;
                workers.shutdown(WAIT).await;
            });
        }
    });
    eventually("process A to claim the job", WAIT, || async {
        b.get(&id)
            .await
            .ok()
            .and_then(|job| job.owner)
            .filter(|owner| owner == "process-a")
    })
    .await;
    let workers_b = b.start_workers(only("r")).await.unwrap();
    // Move time on until B's keeper (ticking every lock_timeout/4) has
    // seen A's lock expire, rescued the job and run it.
    let job = eventually("process B to rescue and complete the job", WAIT, || async {
        manual.advance(QueueSettings::default().lock_timeout() / 2);
        b.get(&id)
            .await
            .ok()
            .filter(|job| job.state == JobState::Completed)
    })
    .await;
    assert_eq!((job.attempt, job.claim_count), (2, 2));
    let detail = b.detail(&id).await.unwrap();
    assert_eq!(detail.attempts[0].outcome, "rescued");
    assert_eq!(detail.attempts[0].owner.as_deref(), Some("process-a"));
    assert_eq!(detail.attempts[1].owner.as_deref(), Some("process-b"));

    unfreeze.send(()).unwrap();
    let refused = tokio::time::timeout(WAIT, refused_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refused, id);
    let after = b.get(&id).await.unwrap();
    assert_eq!(
        (after.state, after.attempt, after.claim_count),
        (JobState::Completed, 2, 2)
    );
    stop_a_tx.send(()).unwrap();
    process_a.join().unwrap();
    workers_b.shutdown(WAIT).await;
    let c = b.counts("r").await.unwrap();
    assert_eq!(
        (
            c[&JobState::Completed],
            c[&JobState::Running],
            c[&JobState::Pending]
        ),
        (1, 0, 0)
    );
}

async fn shutdown_drains_running_jobs(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let mut events = engine.subscribe();
    let workers = engine.start_workers(only("sd")).await.unwrap();
    let stuck = engine
        .put(NewJob::new("sd", &Block {}).unwrap())
        .await
        .unwrap();
    next_event(&mut events, "the job to start", |e| {
        e.id == stuck && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    workers.shutdown(Duration::from_millis(50)).await;
    // Released at the deadline: pending again, the attempt given back.
    let job = engine.get(&stuck).await.unwrap();
    assert_eq!(
        (job.state, job.attempt, job.owner),
        (JobState::Pending, 0, None)
    );
    let c = engine.counts("sd").await.unwrap();
    assert_eq!((c[&JobState::Pending], c[&JobState::Running]), (1, 0));
    let ids: HashSet<_> = engine
        .list(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(ids, HashSet::from([stuck]));
}

/// Two engines on one database stand for two processes: an abort asked of
/// one reaches the run in the other (by signal on PostgreSQL, by the
/// one-second abort watch on SQLite).
async fn an_abort_reaches_the_owner_in_another_process(backend: Backend) {
    let db = backend.fresh().await;
    let owner = process(&db.url, "owner").await;
    let other = process(&db.url, "other").await;
    let mut events = owner.subscribe();
    let workers = owner.start_workers(only("xa")).await.unwrap();
    let id = other
        .put(NewJob::new("xa", &Block {}).unwrap())
        .await
        .unwrap();
    next_event(&mut events, "the owner to start the job", |e| {
        e.id == id && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    let asked = std::time::Instant::now();
    assert_eq!(
        other.abort(&id).await.unwrap(),
        AbortOutcome::Requested {
            owner: Some("owner".to_owned())
        }
    );
    let job = other.wait(&id, WAIT).await.unwrap();
    let took = asked.elapsed();
    assert_eq!(job.state, JobState::Aborted);
    // The abort watch reads requests each second; a signal is faster.
    let bound = match backend {
        Backend::Postgres => Duration::from_millis(900),
        Backend::Sqlite => Duration::from_millis(2_500),
    };
    assert!(took < bound, "the abort took {took:?}");
    workers.shutdown(WAIT).await;
}

/// A put in one process starts work in another: on PostgreSQL by signal
/// (polling is made too slow to matter), on SQLite by polling.
async fn a_put_in_one_process_starts_work_in_another(backend: Backend) {
    let db = backend.fresh().await;
    let worker = process(&db.url, "worker").await;
    let producer = process(&db.url, "producer").await;
    let poll_interval = match backend {
        Backend::Postgres => Duration::from_secs(3_600),
        Backend::Sqlite => Duration::from_millis(100),
    };
    let workers = worker
        .start_workers(WorkerOptions {
            queues: Some(vec!["xw".to_owned()]),
            poll_interval,
            ..WorkerOptions::default()
        })
        .await
        .unwrap();
    // After the first round the runner is idle: later puts must wake it.
    for round in 0..3 {
        let key = format!("xw-{}-{round}", uuid::Uuid::now_v7().simple());
        let put_at = std::time::Instant::now();
        let id = producer
            .put(NewJob::new("xw", &Count { key }).unwrap())
            .await
            .unwrap();
        let job = producer.wait(&id, WAIT).await.unwrap();
        assert_eq!(job.state, JobState::Completed);
        assert_eq!(job.owner, None);
        let took = put_at.elapsed();
        assert!(took < Duration::from_secs(2), "round {round} took {took:?}");
    }
    workers.shutdown(WAIT).await;
}

/// A process that stops heart-beating is marked gone by the others; its
/// running job is rescued when the lock expires; when it heart-beats again
/// it is live again. Each "process" has its own manual clock: the silent
/// one's never moves.
async fn a_silent_process_is_marked_gone_and_its_job_rescued(backend: Backend) {
    let db = backend.fresh().await;
    let silent_clock = ManualClock::new(Utc::now());
    let live_clock = ManualClock::new(Utc::now());
    let silent = builder()
        .clock(silent_clock.clock())
        .process_id("silent")
        .connect(&db.url)
        .await
        .unwrap();
    let live = builder()
        .clock(live_clock.clock())
        .process_id("live")
        .connect(&db.url)
        .await
        .unwrap();
    let mut events = silent.subscribe();
    let silent_workers = silent.start_workers(only("gone")).await.unwrap();
    let id = silent
        .put(NewJob::new("gone", &Block {}).unwrap())
        .await
        .unwrap();
    next_event(&mut events, "the silent process to start the job", |e| {
        e.id == id && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    let listed = silent.processes().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].running), ("silent", 1));
    assert_eq!(listed[0].gone_at, None);
    assert_eq!(listed[0].queues, Some(vec!["gone".to_owned()]));
    let running = silent
        .list(&JobFilter {
            owner: Some("silent".into()),
            state: Some(JobState::Running),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        running.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );

    let live_workers = live.start_workers(only("gone")).await.unwrap();
    // Rescue (by lock expiry) and marking gone (by heartbeat age) happen
    // on their own ticks: wait for both.
    let (job, listed) = eventually(
        "the live process to mark the silent one gone and rescue its job",
        WAIT,
        || async {
            live_clock.advance(amboy::HEARTBEAT_INTERVAL);
            let job = live.get(&id).await.unwrap();
            let listed = live.processes().await.unwrap();
            let gone = listed
                .iter()
                .any(|p| p.id == "silent" && p.gone_at.is_some());
            (gone && job.owner.as_deref() == Some("live")).then_some((job, listed))
        },
    )
    .await;
    assert_eq!((job.state, job.claim_count), (JobState::Running, 2));
    let by_id = |id: &str| listed.iter().find(|p| p.id == id).unwrap().clone();
    assert_eq!(by_id("silent").running, 0);
    assert_eq!((by_id("live").gone_at, by_id("live").running), (None, 1));
    // Live processes are listed first.
    assert_eq!(listed[0].id, "live");

    // The silent process wakes up: its heartbeat makes it live again.
    eventually("the silent process to heart-beat again", WAIT, || async {
        silent_clock.advance(amboy::HEARTBEAT_INTERVAL);
        let listed = live.processes().await.unwrap();
        listed
            .iter()
            .any(|p| p.id == "silent" && p.gone_at.is_none())
            .then_some(())
    })
    .await;
    live_workers.shutdown(Duration::from_millis(50)).await;
    silent_workers.shutdown(Duration::from_millis(50)).await;
    let job = live.get(&id).await.unwrap();
    assert_eq!((job.state, job.owner), (JobState::Pending, None));
    assert!(live.processes().await.unwrap().is_empty());
}

/// Processes starting together on an empty database migrate it once; the
/// others wait their turn and find nothing to do.
async fn processes_starting_together_migrate_once(backend: Backend) {
    let db = backend.fresh().await;
    let connects = (0..4).map(|i| builder().process_id(format!("p{i}")).connect(&db.url));
    let engines = futures::future::join_all(connects).await;
    for engine in engines {
        let engine = engine.expect("every process connects");
        assert!(engine.migrations_current().await.unwrap());
    }
    let err = builder()
        .postgres_pool(0)
        .connect(&db.url)
        .await
        .map(|_| ());
    match backend {
        // SQLite ignores the pool size.
        Backend::Sqlite => err.unwrap(),
        Backend::Postgres => assert!(
            matches!(
                err,
                Err(Error::InvalidInput {
                    field: "database pool size",
                    ..
                })
            ),
            "{err:?}"
        ),
    }
}

async fn operators_retry_complete_delete_and_act_in_bulk(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let later = || NewJob::from_json("ops", "noop", "{}").delay(TimeDelta::hours(1));
    let a = engine.put(later()).await.unwrap();
    engine.abort(&a).await.unwrap();
    let retried = engine.retry(&a).await.unwrap();
    assert_eq!(
        (retried.state, retried.attempt, retried.last_error),
        (JobState::Pending, 0, None)
    );
    assert_eq!(
        engine.complete(&a).await.unwrap().state,
        JobState::Completed
    );
    let err = engine.retry(&a).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidState {
                state: JobState::Completed,
                operation: "retry",
                ..
            }
        ),
        "{err:?}"
    );
    engine.delete(&a).await.unwrap();
    assert!(matches!(engine.get(&a).await, Err(Error::JobNotFound(_))));
    assert!(matches!(
        engine.delete(&a).await,
        Err(Error::JobNotFound(_))
    ));
    assert!(matches!(
        engine.retry("has space").await,
        Err(Error::InvalidInput { field: "id", .. })
    ));

    // A real failure, retried: it runs again and its history grows.
    let workers = engine.start_workers(only("ops-run")).await.unwrap();
    let failed = engine
        .put(NewJob::new("ops-run", &Panics {}).unwrap().max_attempts(1))
        .await
        .unwrap();
    assert_eq!(
        engine.wait(&failed, WAIT).await.unwrap().state,
        JobState::Failed
    );
    let mut events = engine.subscribe();
    engine.retry(&failed).await.unwrap();
    next_event(&mut events, "the retried job to fail again", |e| {
        e.id == failed
            && matches!(
                e.kind,
                JobEventKind::Finished {
                    state: JobState::Failed,
                    ..
                }
            )
    })
    .await;
    let detail = engine.detail(&failed).await.unwrap();
    assert_eq!(detail.job.state, JobState::Failed);
    assert_eq!(detail.errors.len(), 2, "{detail:?}");
    let blocked = engine
        .put(NewJob::new("ops-run", &Block {}).unwrap())
        .await
        .unwrap();
    next_event(&mut events, "the blocking job to start", |e| {
        e.id == blocked && matches!(e.kind, JobEventKind::Started { .. })
    })
    .await;
    assert!(matches!(
        engine.delete(&blocked).await,
        Err(Error::InvalidState {
            state: JobState::Running,
            ..
        })
    ));
    workers.shutdown(Duration::from_millis(50)).await;

    // Bulk: 2,500 matching a filter (more than one batch), then by ids.
    let jobs: Vec<NewJob> = (0..2_500).map(|_| later()).collect();
    let ids = engine.put_many(jobs).await.unwrap();
    for _ in 0..3 {
        engine
            .put(NewJob::from_json("ops", "sleep", r#"{"ms": 1}"#).delay(TimeDelta::hours(1)))
            .await
            .unwrap();
    }
    let noops = JobFilter {
        queue: Some("ops".into()),
        job_type: Some("noop".into()),
        ..JobFilter::default()
    };
    let done = engine
        .bulk(BulkAction::Complete, JobSelector::Filter(noops.clone()))
        .await
        .unwrap();
    assert_eq!(done, 2_500);
    let c = engine.counts("ops").await.unwrap();
    assert_eq!((c[&JobState::Completed], c[&JobState::Pending]), (2_500, 3));
    let deleted = engine
        .bulk(BulkAction::Delete, JobSelector::Ids(ids[..10].to_vec()))
        .await
        .unwrap();
    assert_eq!(deleted, 10);
    let none = engine
        .bulk(BulkAction::Retry, JobSelector::Filter(noops))
        .await
        .unwrap();
    assert_eq!(none, 0, "completed jobs are not retried");
    let all_ops = JobSelector::Filter(JobFilter {
        queue: Some("ops".into()),
        ..JobFilter::default()
    });
    assert_eq!(engine.bulk(BulkAction::Abort, all_ops).await.unwrap(), 3);
    let aborted = JobSelector::Filter(JobFilter {
        queue: Some("ops".into()),
        state: Some(JobState::Aborted),
        ..JobFilter::default()
    });
    assert_eq!(engine.bulk(BulkAction::Retry, aborted).await.unwrap(), 3);
    let c = engine.counts("ops").await.unwrap();
    assert_eq!(
        (
            c[&JobState::Completed],
            c[&JobState::Pending],
            c[&JobState::Aborted]
        ),
        (2_490, 3, 0)
    );
    assert_eq!(c.values().sum::<i64>(), 2_493);
    assert!(matches!(
        engine
            .bulk(BulkAction::Delete, JobSelector::Ids(vec!["bad id".into()]))
            .await,
        Err(Error::InvalidInput { field: "id", .. })
    ));
}

async fn management_reports_count_by_type_and_group_errors(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let workers = engine.start_workers(only("rep")).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            engine
                .put(NewJob::new("rep", &Panics {}).unwrap().max_attempts(1))
                .await
                .unwrap(),
        );
    }
    ids.push(
        engine
            .put(
                NewJob::new("rep", &Flaky { failures: 1 })
                    .unwrap()
                    .backoff(Duration::from_millis(1), Duration::from_millis(5)),
            )
            .await
            .unwrap(),
    );
    for id in &ids {
        engine.wait(id, WAIT).await.unwrap();
    }
    engine
        .put(NewJob::from_json("rep-idle", "noop", "{}").delay(TimeDelta::hours(1)))
        .await
        .unwrap();
    workers.shutdown(WAIT).await;

    let counts = engine.counts_by_type(None).await.unwrap();
    let of = |queue: &str, job_type: &str| {
        counts
            .iter()
            .find(|c| c.queue == queue && c.job_type == job_type)
            .unwrap_or_else(|| panic!("{queue}/{job_type} missing from {counts:?}"))
            .counts
            .clone()
    };
    assert_eq!(of("rep", "panics")[&JobState::Failed], 3);
    assert_eq!(of("rep", "flaky")[&JobState::Completed], 1);
    assert_eq!(of("rep-idle", "noop")[&JobState::Pending], 1);
    assert_eq!(of("rep-idle", "noop").len(), JobState::ALL.len());
    assert_eq!(
        engine.counts_by_type(Some("rep-idle")).await.unwrap().len(),
        1
    );

    let errors = engine
        .error_report(Duration::from_secs(3_600), 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        (errors[0].job_type.as_str(), errors[0].count),
        ("panics", 3)
    );
    assert!(
        errors[0].error.starts_with("panicked: deliberate panic"),
        "{errors:?}"
    );
    assert!(ids.contains(&errors[0].example_job_id));
    assert_eq!(
        (errors[1].job_type.as_str(), errors[1].error.as_str()),
        ("flaky", "boom 1")
    );
    assert!(matches!(
        engine.error_report(Duration::ZERO, 10).await,
        Err(Error::InvalidInput {
            field: "window",
            ..
        })
    ));
    assert!(matches!(
        engine.error_report(Duration::from_secs(60), 0).await,
        Err(Error::InvalidInput { field: "limit", .. })
    ));
}

/// A queue's rate limit (per process): a full bucket starts `rate` jobs,
/// then one more per 1/rate seconds.
async fn a_rate_limited_queue_starts_jobs_at_its_rate(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(clock.clock())
        .connect(&db.url)
        .await
        .unwrap();
    engine
        .set_queue(
            "slow",
            QueueSettings {
                concurrency: 50,
                rate_limit_per_sec: Some(2.0),
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let jobs: Vec<NewJob> = (0..10)
        .map(|i| {
            NewJob::new(
                "slow",
                &Count {
                    key: format!("{run}-{i}"),
                },
            )
            .unwrap()
        })
        .collect();
    engine.put_many(jobs).await.unwrap();
    let workers = engine.start_workers(only("slow")).await.unwrap();
    let completed = || async { engine.counts("slow").await.unwrap()[&JobState::Completed] };
    // Asserting that nothing more ran needs a moment with the clock still.
    let settled = |expected: i64, what: String| async move {
        eventually(&what, WAIT, || async {
            (completed().await >= expected).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(completed().await, expected, "{what}: ran ahead of the rate");
    };
    settled(2, "the first burst".into()).await;
    for second in 1..=4 {
        clock.advance(Duration::from_secs(1));
        settled(2 + 2 * second, format!("after {second} s")).await;
    }
    workers.shutdown(WAIT).await;
}

async fn a_job_not_started_by_its_deadline_expires(backend: Backend) {
    let db = backend.fresh().await;
    let manual = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(manual.clock())
        .connect(&db.url)
        .await
        .unwrap();
    let now = manual.clock().now();
    // Deadlines that cannot be met are refused, and nothing is stored.
    for (deadline, why) in [
        (now - TimeDelta::seconds(1), "already past"),
        (now + TimeDelta::seconds(5), "before the job may start"),
    ] {
        let job = NewJob::new(
            "deadline",
            &Count {
                key: "never".into(),
            },
        )
        .unwrap()
        .delay(TimeDelta::seconds(10))
        .dispatch_by(deadline);
        match engine.put(job).await {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, "dispatch_by");
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(
        matches!(
            engine.counts("deadline").await,
            Err(Error::QueueNotFound(_))
        ),
        "a refused put creates nothing, not even its queue"
    );

    // A paused queue: its jobs wait, one of them past its deadline.
    engine
        .set_queue(
            "deadline",
            QueueSettings {
                paused: true,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    // Run counts are shared by both backends' tests: keys of this run.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let job = |id: &str| {
        NewJob::new(
            "deadline",
            &Count {
                key: format!("{id}-{run}"),
            },
        )
        .unwrap()
        .id(id)
    };
    engine
        .put(job("deadline-late").dispatch_by(now + TimeDelta::seconds(10)))
        .await
        .unwrap();
    engine
        .put(job("deadline-fine").dispatch_by(now + TimeDelta::hours(1)))
        .await
        .unwrap();
    engine.put(job("deadline-none")).await.unwrap();
    // A retry that would come after its deadline expires too.
    engine
        .put(
            NewJob::new("deadline-retry", &Flaky { failures: 1 })
                .unwrap()
                .id("deadline-retry")
                .backoff(Duration::from_secs(600), Duration::from_secs(600))
                .dispatch_by(now + TimeDelta::seconds(10)),
        )
        .await
        .unwrap();
    let mut events = engine.subscribe();
    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["deadline".into(), "deadline-retry".into()]),
            ..WorkerOptions::default()
        })
        .await
        .unwrap();
    eventually("the retry to wait", WAIT, || async {
        let job = engine.get("deadline-retry").await.unwrap();
        (job.state == JobState::Retrying).then_some(())
    })
    .await;
    // Past the deadline, the keepers (every lock_timeout/4) expire them.
    manual.advance(Duration::from_secs(11));
    eventually("the late jobs to expire", WAIT, || async {
        let late = engine.get("deadline-late").await.unwrap().state;
        let retry = engine.get("deadline-retry").await.unwrap().state;
        if (late, retry) == (JobState::Expired, JobState::Expired) {
            return Some(());
        }
        manual.advance(Duration::from_secs(1));
        None
    })
    .await;
    let late = engine.get("deadline-late").await.unwrap();
    assert_eq!(late.attempt, 0, "it never ran");
    assert!(late.ended_at.is_some());
    assert!(
        late.last_error
            .as_deref()
            .unwrap()
            .contains("dispatch deadline"),
        "{late:?}"
    );
    next_event(&mut events, "the expiry event", |e| {
        e.id == "deadline-late" && e.kind == JobEventKind::Expired
    })
    .await;

    // Resumed: the others run; the expired one never does.
    engine
        .set_queue("deadline", QueueSettings::default())
        .await
        .unwrap();
    for id in ["deadline-fine", "deadline-none"] {
        assert_eq!(
            engine.wait(id, WAIT).await.unwrap().state,
            JobState::Completed
        );
    }
    assert_eq!(common::run_count(&format!("deadline-late-{run}")), 0);
    let counts = engine.counts("deadline").await.unwrap();
    assert_eq!(
        (
            counts[&JobState::Expired],
            counts[&JobState::Completed],
            counts[&JobState::Pending]
        ),
        (1, 2, 0)
    );
    // An operator's retry runs it after all: the deadline no longer applies.
    let retried = engine.retry("deadline-late").await.unwrap();
    assert_eq!(retried.dispatch_by, None);
    assert_eq!(
        engine.wait("deadline-late", WAIT).await.unwrap().state,
        JobState::Completed
    );
    assert_eq!(
        engine.counts("deadline-retry").await.unwrap()[&JobState::Expired],
        1
    );
    let text = engine.render_metrics().await.unwrap();
    assert!(
        text.contains(
            r#"amboy_jobs_finished_total{job_type="count",outcome="expired",queue="deadline"} 1"#
        ),
        "{text}"
    );
    workers.shutdown(WAIT).await;
}

async fn a_group_runs_its_sub_jobs_in_order_or_at_once(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    let workers = engine.start_workers(only("groups")).await.unwrap();
    // Keys of this run only (the run counts are shared by both backends' tests).
    let run = uuid::Uuid::now_v7().simple().to_string();
    let key = |name: &str| format!("{name}-{run}");
    let group = |payload: serde_json::Value| {
        NewJob::from_json("groups", "group", payload.to_string()).max_attempts(1)
    };
    let in_order = engine
        .put(group(serde_json::json!({"jobs": [
            {"type": "count", "payload": {"key": key("group-a")}},
            {"type": "count", "payload": {"key": key("group-b")}},
        ]})))
        .await
        .unwrap();
    let done = engine.wait(&in_order, WAIT).await.unwrap();
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(
        (
            common::run_count(&key("group-a")),
            common::run_count(&key("group-b"))
        ),
        (1, 1)
    );
    assert_eq!(done.progress, 100);

    // In order, the first failure ends the group: the next never runs.
    let stops = engine
        .put(group(serde_json::json!({"jobs": [
            {"type": "flaky", "payload": {"failures": 5}},
            {"type": "count", "payload": {"key": key("group-never")}},
        ]})))
        .await
        .unwrap();
    let failed = engine.wait(&stops, WAIT).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .contains("sub-job 0 (flaky): boom 1"),
        "{failed:?}"
    );
    assert_eq!(common::run_count(&key("group-never")), 0);

    // At once, every sub-job runs and the errors are combined.
    let parallel = engine
        .put(group(serde_json::json!({"parallel": true, "jobs": [
            {"type": "flaky", "payload": {"failures": 5}},
            {"type": "count", "payload": {"key": key("group-c")}},
        ]})))
        .await
        .unwrap();
    let failed = engine.wait(&parallel, WAIT).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap()
            .contains("sub-job 0 (flaky)"),
        "{failed:?}"
    );
    assert_eq!(common::run_count(&key("group-c")), 1);

    // Bad sub-jobs refuse the put; nothing is stored.
    for (payload, why) in [
        (serde_json::json!({"jobs": []}), "1 to 1000"),
        (
            serde_json::json!({"jobs": [{"type": "nope"}]}),
            "sub-job 0: unknown job type",
        ),
        (
            serde_json::json!({"jobs": [{"type": "count", "payload": {"key": 7}}]}),
            "sub-job 0",
        ),
        (
            serde_json::json!({"jobs": [{"type": "group", "payload": {"jobs": [{"type": "shell", "payload": {"argv": ["true"]}}]}}]}),
            "shell",
        ),
    ] {
        match engine.put(group(payload.clone())).await {
            Err(Error::InvalidPayload { job_type, reason }) => {
                assert_eq!(job_type, "group");
                assert!(reason.contains(why), "{payload}: {reason}");
            }
            other => panic!("{payload}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        engine.counts("groups").await.unwrap().values().sum::<i64>(),
        3,
        "only the three good groups are stored"
    );
    workers.shutdown(WAIT).await;
}

/// A put's jobs are stored each as given, whether a field is the same for
/// all of them (bound once) or differs; they are created at one instant,
/// and a FIFO queue starts them in the order they were put.
async fn a_put_stores_each_job_as_given_and_fifo_starts_them_in_put_order(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .set_queue(
            "ordered",
            QueueSettings {
                concurrency: 1,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    let later = Utc::now() + TimeDelta::hours(1);
    let jobs: Vec<NewJob> = (0..300i32)
        .map(|i| {
            let payload = format!("{{\"n\":{i}}}");
            if i % 3 == 0 {
                NewJob::from_json("mixed", "noop", payload)
                    .priority(i % 7)
                    .max_attempts(1 + i % 5)
                    .max_time(Duration::from_millis(1_000 + u64::from(i.unsigned_abs())))
                    .delay(TimeDelta::minutes(i64::from(i % 4)))
                    .dispatch_by(later + TimeDelta::seconds(i64::from(i)))
            } else {
                NewJob::from_json("ordered", "noop", payload)
            }
        })
        .collect();
    let ids = engine.put_many(jobs).await.unwrap();
    let mut created = HashSet::new();
    for (i, id) in (0..300i32).zip(&ids) {
        let job = engine.get(id).await.unwrap();
        assert_eq!(job.payload, serde_json::json!({ "n": i }));
        assert_eq!(job.state, JobState::Pending);
        assert_eq!(job.job_type, "noop");
        created.insert(job.created_at);
        if i % 3 == 0 {
            assert_eq!(job.queue, "mixed");
            assert_eq!(job.priority, i % 7);
            assert_eq!(job.max_attempts, 1 + i % 5);
            assert_eq!(job.max_time_ms, Some(1_000 + i64::from(i)));
            assert_eq!(
                job.run_at - job.created_at,
                TimeDelta::minutes(i64::from(i % 4))
            );
            assert_eq!(
                job.dispatch_by.map(|at| at.timestamp_micros()),
                Some((later + TimeDelta::seconds(i64::from(i))).timestamp_micros())
            );
        } else {
            assert_eq!(job.queue, "ordered");
            assert_eq!(
                (job.priority, job.max_time_ms, job.dispatch_by),
                (0, None, None)
            );
            assert_eq!(job.run_at, job.created_at);
        }
    }
    assert_eq!(created.len(), 1, "one instant for the whole put");

    let mut events = engine.subscribe();
    let workers = engine.start_workers(only("ordered")).await.unwrap();
    let put_order: Vec<&String> = (0..300)
        .zip(&ids)
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, id)| id)
        .collect();
    let mut started = Vec::new();
    while started.len() < put_order.len() {
        let event = next_event(&mut events, "the next start", |e| {
            e.queue == "ordered" && matches!(e.kind, JobEventKind::Started { .. })
        })
        .await;
        started.push(event.id);
    }
    assert!(
        started.iter().eq(put_order.iter().copied()),
        "started out of put order: {started:?}"
    );
    workers.shutdown(WAIT).await;
}

on_both_backends!(
    many_producers_complete_every_job_exactly_once,
    wait_until_is_honoured,
    max_time_is_enforced,
    retry_once_then_succeed,
    exhausted_retries_fail_and_keep_every_error,
    errors_are_kept_as_written_whatever_they_say,
    abort_pending_and_running,
    a_panicking_job_fails_and_the_worker_survives,
    duplicate_ids_are_refused_or_ignored,
    bad_input_is_refused_and_stores_nothing,
    an_expired_lock_is_rescued_and_the_stale_completion_refused,
    shutdown_drains_running_jobs,
    an_abort_reaches_the_owner_in_another_process,
    a_put_in_one_process_starts_work_in_another,
    a_silent_process_is_marked_gone_and_its_job_rescued,
    processes_starting_together_migrate_once,
    operators_retry_complete_delete_and_act_in_bulk,
    management_reports_count_by_type_and_group_errors,
    a_rate_limited_queue_starts_jobs_at_its_rate,
    a_job_not_started_by_its_deadline_expires,
    a_group_runs_its_sub_jobs_in_order_or_at_once,
    a_put_stores_each_job_as_given_and_fifo_starts_them_in_put_order,
);
