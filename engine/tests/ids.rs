//! Job ids compare as bytes everywhere — on SQLite, on PostgreSQL, and on a
//! PostgreSQL database whose collation orders text by language rules — so
//! an id prefix selects exactly the ids that start with it (a bulk action
//! by prefix never touches `A1` for `a`), and pages follow one order.

mod common;

use std::time::Duration;

use amboy::{BulkAction, JobFilter, JobSelector, JobState, NewJob, WorkerOptions};
use common::{Backend, Count, Flaky, builder};

const WAIT: Duration = Duration::from_secs(30);

async fn ids_compare_as_bytes(url: &str) {
    let engine = builder().connect(url).await.unwrap();
    for id in ["b1", "a1", "A1", "a-2", "ab"] {
        let job = NewJob::new("ids", &Count { key: id.into() })
            .unwrap()
            .id(id)
            .delay(chrono::TimeDelta::hours(1));
        engine.put(job).await.unwrap();
    }
    let ids = |filter: JobFilter| {
        let engine = engine.clone();
        async move {
            engine
                .list(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|job| job.id)
                .collect::<Vec<_>>()
        }
    };
    let all = JobFilter {
        queue: Some("ids".into()),
        limit: 100,
        ..JobFilter::default()
    };
    assert_eq!(ids(all.clone()).await, ["A1", "a-2", "a1", "ab", "b1"]);
    let prefixed = JobFilter {
        id_prefix: Some("a".into()),
        ..all.clone()
    };
    assert_eq!(ids(prefixed.clone()).await, ["a-2", "a1", "ab"]);
    // Keyset pages walk the same order, and backwards newest first.
    let paged = |newest_first: bool| {
        let all = all.clone();
        let ids = &ids;
        async move {
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = ids(JobFilter {
                    limit: 2,
                    newest_first,
                    after: after.clone(),
                    ..all.clone()
                })
                .await;
                if page.is_empty() {
                    return paged;
                }
                after = page.last().cloned();
                paged.extend(page);
            }
        }
    };
    assert_eq!(paged(false).await, ["A1", "a-2", "a1", "ab", "b1"]);
    assert_eq!(paged(true).await, ["b1", "ab", "a1", "a-2", "A1"]);
    // A bulk action by prefix acts on exactly those.
    let deleted = engine
        .bulk(BulkAction::Delete, JobSelector::Filter(prefixed))
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(ids(all).await, ["A1", "b1"]);

    // The history joins to the jobs (an error report reads both).
    let workers = engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["ids-failing".into()]),
            ..WorkerOptions::default()
        })
        .await
        .unwrap();
    let failing = engine
        .put(
            NewJob::new("ids-failing", &Flaky { failures: 9 })
                .unwrap()
                .max_attempts(1),
        )
        .await
        .unwrap();
    assert_eq!(
        engine.wait(&failing, WAIT).await.unwrap().state,
        JobState::Failed
    );
    workers.shutdown(WAIT).await;
    let errors = engine
        .error_report(Duration::from_secs(3_600), 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].example_job_id, failing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite() {
    ids_compare_as_bytes(&Backend::Sqlite.fresh().await.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres() {
    ids_compare_as_bytes(&Backend::Postgres.fresh().await.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_with_a_linguistic_collation() {
    let db = amboy_testkit::fresh_postgres_linguistic().await;
    ids_compare_as_bytes(&db.url).await;
}
