//! Queue groups on SQLite and PostgreSQL: queues created by a put take the
//! settings of the first rule their name matches; a queue's own settings
//! win over its rule; changed rules reach the queues that follow them;
//! a queue empty past its idle TTL is deleted, and a put — in this process
//! or in one that still thinks the queue exists — brings it back with
//! exact counters; workers stop the runner of a deleted queue and start it
//! again when the queue returns.

#[macro_use]
mod common;

use std::time::Duration;

use amboy::{
    Engine, Error, JobState, ManualClock, NewJob, QueueRule, QueueSettings, WorkerOptions,
};
use chrono::Utc;
use common::{Backend, Count, builder, eventually, run_count};

const WAIT: Duration = Duration::from_secs(30);

fn rule(pattern: &str, concurrency: i32, idle_ttl_ms: Option<i64>) -> QueueRule {
    QueueRule {
        pattern: pattern.to_owned(),
        settings: QueueSettings {
            concurrency,
            idle_ttl_ms,
            ..QueueSettings::default()
        },
    }
}

fn count(queue: &str, key: &str) -> NewJob {
    NewJob::new(
        queue,
        &Count {
            key: key.to_owned(),
        },
    )
    .unwrap()
    .id(key)
}

async fn jobs_in(engine: &Engine, queue: &str) -> i64 {
    engine.counts(queue).await.unwrap().values().sum()
}

async fn new_queues_follow_the_first_matching_rule(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .set_queue_rules(vec![
            rule("tenant-[0-9]+", 2, Some(60_000)),
            rule("tenant-.*", 3, None),
        ])
        .await
        .unwrap();
    assert_eq!(engine.queue_rules().await.unwrap().len(), 2);
    let run = uuid::Uuid::now_v7().simple().to_string();
    for (queue, concurrency, rule) in [
        ("tenant-1", 2, Some("tenant-[0-9]+")),
        ("tenant-x", 3, Some("tenant-.*")),
        ("other", 8, None),
    ] {
        engine
            .put(count(queue, &format!("{run}-{queue}")))
            .await
            .unwrap();
        let created = engine.queue(queue).await.unwrap();
        assert_eq!(created.settings.concurrency, concurrency, "{queue}");
        assert_eq!(created.rule.as_deref(), rule, "{queue}");
    }
    assert_eq!(
        engine.queue("tenant-1").await.unwrap().settings.idle_ttl_ms,
        Some(60_000)
    );
    engine
        .put(count("tenant-2", &format!("{run}-t2")))
        .await
        .unwrap();

    // Its own settings win: it leaves its rule.
    engine
        .set_queue(
            "tenant-1",
            QueueSettings {
                concurrency: 7,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(engine.queue("tenant-1").await.unwrap().rule, None);
    // New rules reach the queues that follow one.
    engine
        .set_queue_rules(vec![rule("tenant-[0-9]+", 4, None)])
        .await
        .unwrap();
    let t2 = engine.queue("tenant-2").await.unwrap();
    assert_eq!(
        (t2.settings.concurrency, t2.rule.as_deref()),
        (4, Some("tenant-[0-9]+"))
    );
    assert_eq!(
        engine.queue("tenant-1").await.unwrap().settings.concurrency,
        7
    );
    // A follower no rule matches any more keeps its settings, following none.
    let tx = engine.queue("tenant-x").await.unwrap();
    assert_eq!((tx.settings.concurrency, tx.rule), (3, None));

    // Bad rules are refused whole.
    for (rules, why) in [
        (
            vec![rule("ok", 1, None), rule("(", 1, None)],
            "not a regular expression",
        ),
        (vec![rule("a", 1, Some(5))], "idle_ttl_ms"),
        (vec![rule("a", 1, None), rule("a", 2, None)], "twice"),
    ] {
        let err = engine.set_queue_rules(rules).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { .. }) && err.to_string().contains(why),
            "{err}"
        );
    }
    assert_eq!(
        engine.queue_rules().await.unwrap(),
        vec![rule("tenant-[0-9]+", 4, None)]
    );
}

async fn idle_queues_are_pruned_and_come_back(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(Utc::now());
    let engine = builder()
        .clock(clock.clock())
        .connect(&db.url)
        .await
        .unwrap();
    // Another process, which learns of the queue before it is pruned.
    let other = builder()
        .clock(clock.clock())
        .connect(&db.url)
        .await
        .unwrap();
    engine
        .set_queue_rules(vec![rule("session-.*", 2, Some(60_000))])
        .await
        .unwrap();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let key = |n: &str| format!("{run}-{n}");
    engine.put(count("session-a", &key("a1"))).await.unwrap();
    other.put(count("session-a", &key("a2"))).await.unwrap();
    engine.put(count("kept", &key("k"))).await.unwrap();

    // With jobs it is never pruned, however long.
    assert!(engine.prune_idle_queues().await.unwrap().is_empty());
    clock.advance(Duration::from_secs(3_600));
    assert!(engine.prune_idle_queues().await.unwrap().is_empty());
    for id in [key("a1"), key("a2")] {
        engine.delete(&id).await.unwrap();
    }
    // Empty: noted at one check, deleted once the TTL has passed since.
    assert!(engine.prune_idle_queues().await.unwrap().is_empty());
    clock.advance(Duration::from_secs(59));
    assert!(engine.prune_idle_queues().await.unwrap().is_empty());
    clock.advance(Duration::from_secs(1));
    assert_eq!(engine.prune_idle_queues().await.unwrap(), vec!["session-a"]);
    assert!(matches!(
        engine.queue("session-a").await,
        Err(Error::QueueNotFound(_))
    ));
    assert!(
        engine
            .queues()
            .await
            .unwrap()
            .iter()
            .all(|q| q.name != "session-a")
    );
    // A queue without a TTL stays, empty or not.
    engine.delete(&key("k")).await.unwrap();
    clock.advance(Duration::from_secs(3_600));
    engine.prune_idle_queues().await.unwrap();
    engine.queue("kept").await.unwrap();

    // `other` still believes session-a exists: its put brings it back,
    // with its rule's settings and exact counters.
    other.put(count("session-a", &key("a3"))).await.unwrap();
    let back = engine.queue("session-a").await.unwrap();
    assert_eq!(
        (back.settings.concurrency, back.rule.as_deref()),
        (2, Some("session-.*"))
    );
    assert_eq!(jobs_in(&engine, "session-a").await, 1);
    assert_eq!(
        engine.counts("session-a").await.unwrap()[&JobState::Pending],
        1
    );
    // Busy again: the empty mark is cleared, so it is not pruned later.
    engine.prune_idle_queues().await.unwrap();
    engine.delete(&key("a3")).await.unwrap();
    engine.prune_idle_queues().await.unwrap();
    clock.advance(Duration::from_secs(30));
    assert!(engine.prune_idle_queues().await.unwrap().is_empty());
    // And this process, which pruned it, creates it again itself.
    clock.advance(Duration::from_secs(30));
    assert_eq!(engine.prune_idle_queues().await.unwrap(), vec!["session-a"]);
    engine.put(count("session-a", &key("a4"))).await.unwrap();
    assert_eq!(jobs_in(&engine, "session-a").await, 1);
}

async fn workers_follow_queues_that_come_and_go(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .set_queue_rules(vec![rule("burst-.*", 2, Some(1_000))])
        .await
        .unwrap();
    let workers = engine
        .start_workers(WorkerOptions::default())
        .await
        .unwrap();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let first = format!("{run}-first");
    engine.put(count("burst-1", &first)).await.unwrap();
    engine.wait(&first, WAIT).await.unwrap();
    engine.delete(&first).await.unwrap();
    // The TTL is a second: noted now, deleted at a check a second later.
    engine.prune_idle_queues().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(engine.prune_idle_queues().await.unwrap(), vec!["burst-1"]);
    // Its runner stops (its worker gauge goes away)…
    let gauge = "amboy_workers{queue=\"burst-1\"}";
    eventually("the runner of the deleted queue to stop", WAIT, || async {
        (!engine.render_metrics().await.unwrap().contains(gauge)).then_some(())
    })
    .await;
    // …and starts again when the queue comes back, and runs the job.
    let second = format!("{run}-second");
    engine.put(count("burst-1", &second)).await.unwrap();
    let done = engine.wait(&second, WAIT).await.unwrap();
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(run_count(&second), 1);
    assert!(
        engine
            .render_metrics()
            .await
            .unwrap()
            .contains(&format!("{gauge} 2"))
    );
    workers.shutdown(WAIT).await;
}

on_both_backends!(
    new_queues_follow_the_first_matching_rule,
    idle_queues_are_pruned_and_come_back,
    workers_follow_queues_that_come_and_go,
);
