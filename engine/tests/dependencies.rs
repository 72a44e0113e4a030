//! Dependencies and scopes on SQLite and PostgreSQL: chains and diamonds
//! run in dependency order; a failed, aborted or deleted dependency fails
//! its dependents (cascading) or lets them run, per policy; unknown ids and
//! cycles are refused at put; a retried job waits again; amboy's
//! dependency managers skip or run; dispatch scopes never overlap, also
//! across three processes; enqueue scopes refuse a second unfinished job,
//! also when puts race in three processes.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use amboy::{
    BulkAction, Dependency, Engine, Error, Job, JobContext, JobError, JobFilter, JobSelector,
    JobState, NewJob, OnDependencyFailure, QueueSettings, WorkerOptions,
};
use common::{Backend, Block, builder, eventually};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(60);

/// One run of a [`Step`]: its key and when it ran.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: Instant,
    end: Instant,
}

fn runs() -> &'static Mutex<HashMap<String, Vec<Run>>> {
    static RUNS: OnceLock<Mutex<HashMap<String, Vec<Run>>>> = OnceLock::new();
    RUNS.get_or_init(Mutex::default)
}

fn runs_of(key: &str) -> Vec<Run> {
    runs().lock().unwrap().get(key).cloned().unwrap_or_default()
}

/// Records when it ran, sleeps `sleep_ms`, and fails its first `fail_runs` runs.
#[derive(Serialize, Deserialize)]
struct Step {
    key: String,
    sleep_ms: u64,
    fail_runs: usize,
}

impl Job for Step {
    const NAME: &'static str = "step";
    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        let end = Instant::now();
        let run = {
            let mut runs = runs().lock().unwrap();
            let mine = runs.entry(self.key.clone()).or_default();
            mine.push(Run { start, end });
            mine.len()
        };
        if run <= self.fail_runs {
            return Err(JobError::fail(format!("planned failure of run {run}")));
        }
        Ok(())
    }
}

/// A unique prefix per test run: run records are shared by both backends.
fn run_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn step(queue: &str, key: &str, sleep_ms: u64, fail_runs: usize) -> NewJob {
    NewJob::new(
        queue,
        &Step {
            key: key.to_owned(),
            sleep_ms,
            fail_runs,
        },
    )
    .unwrap()
    .id(key)
    .max_attempts(1)
}

async fn engine(url: &str, process: &str) -> Engine {
    builder()
        .register::<Step>()
        .process_id(process)
        .connect(url)
        .await
        .unwrap()
}

async fn set_concurrency(engine: &Engine, queue: &str, concurrency: i32) {
    engine
        .set_queue(
            queue,
            QueueSettings {
                concurrency,
                ..QueueSettings::default()
            },
        )
        .await
        .unwrap();
}

fn only(queues: &[&str]) -> WorkerOptions {
    WorkerOptions {
        queues: Some(queues.iter().map(|q| (*q).to_owned()).collect()),
        ..WorkerOptions::default()
    }
}

async fn state(engine: &Engine, id: &str) -> JobState {
    engine.get(id).await.unwrap().state
}

async fn wait_state(engine: &Engine, id: &str, wanted: JobState) {
    eventually(&format!("{id} to be {wanted}"), WAIT, || async {
        (state(engine, id).await == wanted).then_some(())
    })
    .await;
}

async fn a_chain_of_1000_jobs_runs_in_order(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "chain").await;
    set_concurrency(&engine, "chain", 16).await;
    let run = run_id();
    let key = |i: usize| format!("{run}-{i:04}");
    let jobs: Vec<NewJob> = (0..1_000)
        .map(|i| {
            let job = step("chain", &key(i), 0, 0);
            if i == 0 {
                job
            } else {
                job.depends_on([key(i - 1)])
            }
        })
        .collect();
    engine.put_many(jobs).await.unwrap();
    let counts = engine.counts("chain").await.unwrap();
    assert_eq!(counts[&JobState::Pending], 1);
    assert_eq!(counts[&JobState::Blocked], 999);
    let last = engine.get(&key(999)).await.unwrap();
    assert_eq!(last.depends_on, vec![key(998)]);
    assert_eq!(last.deps_left, 1);

    let workers = engine.start_workers(only(&["chain"])).await.unwrap();
    engine.wait_drained("chain", WAIT).await.unwrap();
    workers.shutdown(WAIT).await;
    let counts = engine.counts("chain").await.unwrap();
    assert_eq!(counts[&JobState::Completed], 1_000, "{counts:?}");
    let mut previous: Option<Run> = None;
    for i in 0..1_000 {
        let runs = runs_of(&key(i));
        assert_eq!(runs.len(), 1, "job {i} ran {} times", runs.len());
        if let Some(previous) = previous {
            assert!(
                runs[0].start >= previous.end,
                "job {i} started before {} ended",
                i - 1
            );
        }
        previous = Some(runs[0]);
    }
}

/// One job that 1,000 wait for, and one that waits for those 1,000: the
/// put records 1,000 stored dependencies at once, the first job's end
/// readies 1,000 at once, and a bulk delete takes them all — statements
/// with more ids than one message holds on PostgreSQL.
async fn a_thousand_wide_fan_out_and_fan_in(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "wide").await;
    let run = run_id();
    let (root, join) = (format!("{run}-root"), format!("{run}-join"));
    let key = |i: usize| format!("{run}-{i:04}");
    engine.put(step("wide", &root, 0, 0)).await.unwrap();
    engine
        .put_many(
            (0..1_000)
                .map(|i| step("wide", &key(i), 0, 0).depends_on([root.clone()]))
                .collect(),
        )
        .await
        .unwrap();
    engine
        .put(step("wide", &join, 0, 0).depends_on((0..1_000).map(key)))
        .await
        .unwrap();
    let counts = engine.counts("wide").await.unwrap();
    assert_eq!(
        (counts[&JobState::Pending], counts[&JobState::Blocked]),
        (1, 1_001)
    );
    assert_eq!(engine.get(&join).await.unwrap().deps_left, 1_000);

    let workers = engine.start_workers(only(&["wide"])).await.unwrap();
    engine.wait_drained("wide", WAIT).await.unwrap();
    workers.shutdown(WAIT).await;
    let counts = engine.counts("wide").await.unwrap();
    assert_eq!(counts[&JobState::Completed], 1_002, "{counts:?}");
    let root_run = runs_of(&root);
    let join_run = runs_of(&join);
    assert_eq!((root_run.len(), join_run.len()), (1, 1));
    for i in 0..1_000 {
        let runs = runs_of(&key(i));
        assert_eq!(runs.len(), 1, "job {i} ran {} times", runs.len());
        assert!(runs[0].start >= root_run[0].end, "job {i} started early");
        assert!(
            join_run[0].start >= runs[0].end,
            "the join started before job {i} ended"
        );
    }

    let everything = JobFilter {
        queue: Some("wide".into()),
        ..JobFilter::default()
    };
    let deleted = engine
        .bulk(BulkAction::Delete, JobSelector::Filter(everything))
        .await
        .unwrap();
    assert_eq!(deleted, 1_002);
    let counts = engine.counts("wide").await.unwrap();
    assert_eq!(counts.values().sum::<i64>(), 0, "{counts:?}");
}

async fn a_diamond_joins_after_both_sides(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "diamond").await;
    set_concurrency(&engine, "dag", 4).await;
    let run = run_id();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| format!("{run}-{n}"));
    // Put in one call, dependents first: the put orders them itself.
    engine
        .put_many(vec![
            step("dag", &d, 0, 0).depends_on([&b, &c]),
            step("dag", &b, 50, 0).depends_on([&a]),
            step("dag", &c, 50, 0).depends_on([&a]),
            step("dag", &a, 0, 0),
        ])
        .await
        .unwrap();
    assert_eq!(engine.get(&d).await.unwrap().deps_left, 2);
    let workers = engine.start_workers(only(&["dag"])).await.unwrap();
    engine.wait_drained("dag", WAIT).await.unwrap();
    workers.shutdown(WAIT).await;
    let [ra, rb, rc, rd] = [&a, &b, &c, &d].map(|k| runs_of(k)[0]);
    assert!(rb.start >= ra.end && rc.start >= ra.end);
    assert!(rd.start >= rb.end && rd.start >= rc.end);
    // The two sides ran side by side.
    assert!(
        rb.start < rc.end && rc.start < rb.end,
        "b and c did not overlap"
    );
    for id in [&a, &b, &c, &d] {
        assert_eq!(state(&engine, id).await, JobState::Completed);
    }
}

async fn failed_dependencies_fail_dependents_or_let_them_run(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "failures").await;
    let run = run_id();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|n| format!("{run}-{n}"));
    engine
        .put_many(vec![
            // a fails its first run only.
            step("f", &a, 0, 1),
            step("f", &b, 0, 0).depends_on([&a]),
            step("f", &c, 0, 0).depends_on([&b]),
            step("f", &d, 0, 0)
                .depends_on([&a])
                .on_dependency_failure(OnDependencyFailure::Run),
        ])
        .await
        .unwrap();
    let workers = engine.start_workers(only(&["f"])).await.unwrap();
    engine.wait_drained("f", WAIT).await.unwrap();
    assert_eq!(state(&engine, &a).await, JobState::Failed);
    let failed_b = engine.get(&b).await.unwrap();
    assert_eq!(failed_b.state, JobState::Failed);
    let reason = failed_b.last_error.unwrap();
    assert!(reason.contains(&a) && reason.contains("failed"), "{reason}");
    // The failure cascades down the chain.
    let failed_c = engine.get(&c).await.unwrap();
    assert_eq!(failed_c.state, JobState::Failed);
    assert!(failed_c.last_error.unwrap().contains(&b));
    assert!(runs_of(&b).is_empty() && runs_of(&c).is_empty());
    // d runs anyway.
    assert_eq!(state(&engine, &d).await, JobState::Completed);
    let counts = engine.counts("f").await.unwrap();
    assert_eq!(counts[&JobState::Failed], 3, "{counts:?}");
    assert_eq!(counts[&JobState::Blocked], 0, "{counts:?}");

    // Retrying b first: it waits again, for a.
    engine.retry(&b).await.unwrap();
    assert_eq!(state(&engine, &b).await, JobState::Blocked);
    assert_eq!(engine.get(&b).await.unwrap().deps_left, 1);
    // Retrying a: it completes, and b follows; d does not run again.
    engine.retry(&a).await.unwrap();
    wait_state(&engine, &b, JobState::Completed).await;
    assert_eq!(runs_of(&d).len(), 1);
    // c was not retried: it stays failed; retried now, it runs at once.
    assert_eq!(state(&engine, &c).await, JobState::Failed);
    engine.retry(&c).await.unwrap();
    engine.wait(&c, WAIT).await.unwrap();
    assert_eq!(state(&engine, &c).await, JobState::Completed);
    engine.wait_drained("f", WAIT).await.unwrap();
    let counts = engine.counts("f").await.unwrap();
    assert_eq!(counts[&JobState::Completed], 4, "{counts:?}");
    assert_eq!(counts.get(&JobState::Failed).copied().unwrap_or(0), 0);
    workers.shutdown(WAIT).await;
}

async fn puts_refuse_unknown_dependencies_and_cycles(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "refusals").await;
    let run = run_id();
    let [a, b, c] = ["a", "b", "c"].map(|n| format!("{run}-{n}"));
    match engine
        .put_many(vec![
            step("r", &a, 0, 0),
            step("r", &b, 0, 0).depends_on([format!("{run}-missing")]),
        ])
        .await
    {
        Err(Error::UnknownDependency { id, depends_on }) => {
            assert_eq!((id, depends_on), (b.clone(), format!("{run}-missing")));
        }
        other => panic!("expected an unknown dependency, got {other:?}"),
    }
    let err = engine
        .put_many(vec![
            step("r", &a, 0, 0).depends_on([&c]),
            step("r", &b, 0, 0).depends_on([&a]),
            step("r", &c, 0, 0).depends_on([&b]),
        ])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    let err = engine
        .put(step("r", &a, 0, 0).depends_on([&a]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("itself"), "{err}");
    let err = engine
        .put(step("r", &a, 0, 0).enqueue_scopes(["x"]).scopes(["x"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("both"), "{err}");
    // Not even the queue the puts would have created.
    assert!(matches!(
        engine.counts("r").await,
        Err(Error::QueueNotFound(_))
    ));
    assert!(matches!(engine.get(&a).await, Err(Error::JobNotFound(_))));
}

async fn dependencies_on_finished_aborted_and_deleted_jobs(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "finished").await;
    let run = run_id();
    let id = |n: &str| format!("{run}-{n}");
    engine.put(step("fin", &id("done"), 0, 0)).await.unwrap();
    engine.put(step("fin", &id("bad"), 0, 1)).await.unwrap();
    let workers = engine.start_workers(only(&["fin"])).await.unwrap();
    engine.wait_drained("fin", WAIT).await.unwrap();
    workers.shutdown(WAIT).await;

    // On a completed job: pending at once. On a failed one: failed at
    // once, or pending with the run-anyway policy.
    engine
        .put(step("later", &id("after-done"), 0, 0).depends_on([id("done")]))
        .await
        .unwrap();
    assert_eq!(state(&engine, &id("after-done")).await, JobState::Pending);
    engine
        .put(step("later", &id("after-bad"), 0, 0).depends_on([id("bad")]))
        .await
        .unwrap();
    let after_bad = engine.get(&id("after-bad")).await.unwrap();
    assert_eq!(after_bad.state, JobState::Failed);
    assert!(after_bad.last_error.unwrap().contains("is failed"));
    engine
        .put(
            step("later", &id("anyway"), 0, 0)
                .depends_on([id("bad")])
                .on_dependency_failure(OnDependencyFailure::Run),
        )
        .await
        .unwrap();
    assert_eq!(state(&engine, &id("anyway")).await, JobState::Pending);

    // Aborting or deleting what a blocked job waits for fails it.
    engine.put(step("wait", &id("up1"), 0, 0)).await.unwrap();
    engine.put(step("wait", &id("up2"), 0, 0)).await.unwrap();
    engine
        .put(step("wait", &id("down1"), 0, 0).depends_on([id("up1")]))
        .await
        .unwrap();
    engine
        .put(step("wait", &id("down2"), 0, 0).depends_on([id("up2")]))
        .await
        .unwrap();
    engine.abort(&id("up1")).await.unwrap();
    let down1 = engine.get(&id("down1")).await.unwrap();
    assert_eq!(down1.state, JobState::Failed);
    assert!(down1.last_error.unwrap().contains("is aborted"));
    engine.delete(&id("up2")).await.unwrap();
    let down2 = engine.get(&id("down2")).await.unwrap();
    assert_eq!(down2.state, JobState::Failed);
    assert!(down2.last_error.unwrap().contains("deleted"));
    let counts = engine.counts("wait").await.unwrap();
    assert_eq!(counts[&JobState::Failed], 2, "{counts:?}");
    assert_eq!(counts[&JobState::Aborted], 1, "{counts:?}");
    assert_eq!(counts[&JobState::Pending], 0, "{counts:?}");
    assert_eq!(counts[&JobState::Blocked], 0, "{counts:?}");
}

async fn dependency_managers_skip_or_run(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "managers").await;
    let run = run_id();
    let dir = std::env::temp_dir().join(format!("amboy-managers-{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    let exists = dir.join("exists");
    std::fs::write(&exists, "x").unwrap();
    let id = |n: &str| format!("{run}-{n}");
    engine
        .put_many(vec![
            step("m", &id("create-skip"), 0, 0).dependency(Dependency::CreateFile {
                path: exists.clone(),
            }),
            step("m", &id("create-run"), 0, 0).dependency(Dependency::CreateFile {
                path: dir.join("missing"),
            }),
            step("m", &id("make-skip"), 0, 0).dependency(Dependency::LocalFile {
                targets: vec![exists.clone()],
                sources: vec![],
            }),
            step("m", &id("make-run"), 0, 0).dependency(Dependency::LocalFile {
                targets: vec![dir.join("missing")],
                sources: vec![exists.clone()],
            }),
        ])
        .await
        .unwrap();
    let workers = engine.start_workers(only(&["m"])).await.unwrap();
    engine.wait_drained("m", WAIT).await.unwrap();
    workers.shutdown(WAIT).await;
    for name in ["create-skip", "make-skip"] {
        let detail = engine.detail(&id(name)).await.unwrap();
        assert_eq!(detail.job.state, JobState::Completed, "{name}");
        assert!(runs_of(&id(name)).is_empty(), "{name} ran");
        assert_eq!(detail.attempts.len(), 1, "{name}");
        assert_eq!(detail.attempts[0].outcome, "skipped", "{name}");
        assert!(detail.logs[0].line.starts_with("skipped: "), "{name}");
    }
    assert_eq!(
        engine.get(&id("create-skip")).await.unwrap().dependency,
        Dependency::CreateFile { path: exists }
    );
    for name in ["create-run", "make-run"] {
        assert_eq!(state(&engine, &id(name)).await, JobState::Completed);
        assert_eq!(runs_of(&id(name)).len(), 1, "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Asserts that no two of the runs overlap.
fn assert_disjoint(keys: &[String]) {
    let mut all: Vec<(Run, &String)> = keys
        .iter()
        .flat_map(|k| runs_of(k).into_iter().map(move |r| (r, k)))
        .collect();
    assert_eq!(all.len(), keys.len(), "every job ran once");
    all.sort_by_key(|(r, _)| r.start);
    for pair in all.windows(2) {
        assert!(
            pair[1].0.start >= pair[0].0.end,
            "{} started while {} held the scope",
            pair[1].1,
            pair[0].1
        );
    }
}

async fn dispatch_scopes_never_overlap_across_processes(backend: Backend) {
    let db = backend.fresh().await;
    let mut engines = Vec::new();
    for p in 0..3 {
        engines.push(engine(&db.url, &format!("scopes-{p}")).await);
    }
    set_concurrency(&engines[0], "s1", 8).await;
    set_concurrency(&engines[0], "s2", 8).await;
    let run = run_id();
    let mut shared = Vec::new();
    let mut free = Vec::new();
    let mut jobs = Vec::new();
    for i in 0..40 {
        let queue = if i % 2 == 0 { "s1" } else { "s2" };
        let key = format!("{run}-shared-{i:02}");
        jobs.push(step(queue, &key, 5, 0).scopes(["the-one-resource"]));
        shared.push(key);
        let key = format!("{run}-free-{i:02}");
        jobs.push(step(queue, &key, 5, 0).scopes([format!("own-{i}")]));
        free.push(key);
    }
    engines[0].put_many(jobs).await.unwrap();
    let mut workers = Vec::new();
    for engine in &engines {
        workers.push(engine.start_workers(only(&["s1", "s2"])).await.unwrap());
    }
    for queue in ["s1", "s2"] {
        engines[0].wait_drained(queue, WAIT).await.unwrap();
    }
    for w in workers {
        w.shutdown(WAIT).await;
    }
    assert_disjoint(&shared);
    for key in &free {
        assert_eq!(runs_of(key).len(), 1, "{key}");
    }
    // Jobs with scopes of their own did run side by side.
    let mut free_runs: Vec<Run> = free.iter().map(|k| runs_of(k)[0]).collect();
    free_runs.sort_by_key(|r| r.start);
    assert!(
        free_runs.windows(2).any(|w| w[1].start < w[0].end),
        "jobs with distinct scopes never overlapped"
    );
    // Released at the end: a job may take it for its whole life now.
    engines[0]
        .put(step("s1", &format!("{run}-after"), 0, 0).enqueue_scopes(["the-one-resource"]))
        .await
        .unwrap();
}

async fn enqueue_scopes_allow_one_unfinished_job(backend: Backend) {
    let db = backend.fresh().await;
    let engine = engine(&db.url, "enqueue").await;
    let run = run_id();
    let id = |n: &str| format!("{run}-{n}");
    let blocker = |name: &str| {
        NewJob::new("e", &Block {})
            .unwrap()
            .id(id(name))
            .enqueue_scopes(["nightly-report"])
    };
    engine.put(blocker("first")).await.unwrap();
    match engine.put(blocker("second")).await {
        Err(Error::ScopeHeld { scope, holder }) => {
            assert_eq!((scope.as_str(), holder), ("nightly-report", id("first")));
        }
        other => panic!("expected the scope to be held, got {other:?}"),
    }
    assert!(matches!(
        engine.get(&id("second")).await,
        Err(Error::JobNotFound(_))
    ));
    let workers = engine.start_workers(only(&["e"])).await.unwrap();
    wait_state(&engine, &id("first"), JobState::Running).await;
    // Still held while it runs.
    assert!(matches!(
        engine.put(blocker("second")).await,
        Err(Error::ScopeHeld { .. })
    ));
    engine.abort(&id("first")).await.unwrap();
    wait_state(&engine, &id("first"), JobState::Aborted).await;
    // Released at its end: the next one is taken.
    engine.put(blocker("second")).await.unwrap();
    // A retry of the first would hold the scope twice: refused.
    match engine.retry(&id("first")).await {
        Err(Error::ScopeHeld { holder, .. }) => assert_eq!(holder, id("second")),
        other => panic!("expected the retry to be refused, got {other:?}"),
    }
    assert_eq!(state(&engine, &id("first")).await, JobState::Aborted);
    engine.abort(&id("second")).await.unwrap();
    wait_state(&engine, &id("second"), JobState::Aborted).await;
    // Now the retry takes it back, and keeps it through its run.
    engine.retry(&id("first")).await.unwrap();
    assert!(matches!(
        engine.put(blocker("third")).await,
        Err(Error::ScopeHeld { .. })
    ));
    engine.abort(&id("first")).await.unwrap();
    workers.shutdown(WAIT).await;
}

async fn racing_puts_take_an_enqueue_scope_once(backend: Backend) {
    let db = backend.fresh().await;
    let mut engines = Vec::new();
    for p in 0..3 {
        engines.push(engine(&db.url, &format!("race-{p}")).await);
    }
    let run = run_id();
    let puts: Vec<_> = (0..30)
        .map(|i| {
            let engine = engines[i % 3].clone();
            let job = step("race", &format!("{run}-{i}"), 0, 0).enqueue_scopes(["singleton"]);
            tokio::spawn(async move { engine.put(job).await })
        })
        .collect();
    let mut stored = 0;
    for put in puts {
        match put.await.unwrap() {
            Ok(_) => stored += 1,
            Err(Error::ScopeHeld { .. }) => {}
            Err(err) => panic!("unexpected error: {err}"),
        }
    }
    assert_eq!(stored, 1);
    let counts = engines[0].counts("race").await.unwrap();
    assert_eq!(counts.values().sum::<i64>(), 1, "{counts:?}");
}

on_both_backends!(
    a_chain_of_1000_jobs_runs_in_order,
    a_thousand_wide_fan_out_and_fan_in,
    a_diamond_joins_after_both_sides,
    failed_dependencies_fail_dependents_or_let_them_run,
    puts_refuse_unknown_dependencies_and_cycles,
    dependencies_on_finished_aborted_and_deleted_jobs,
    dependency_managers_skip_or_run,
    dispatch_scopes_never_overlap_across_processes,
    enqueue_scopes_allow_one_unfinished_job,
    racing_puts_take_an_enqueue_scope_once,
);
