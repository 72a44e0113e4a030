//! The scheduler on both backends, with a manual clock: nothing here waits
//! for real time to pass.

#[macro_use]
mod common;

use std::time::Duration;

use amboy::{
    Engine, Error, JobFilter, JobRecord, ManualClock, Misfire, NewJob, Overlap, ScheduleDef,
    SpecDef, WorkerOptions,
};
use chrono::{DateTime, Utc};
use common::{Backend, builder, eventually};

const WAIT: Duration = Duration::from_secs(30);

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn cron(name: &str, queue: &str, expr: &str, timezone: &str) -> ScheduleDef {
    let spec = SpecDef::Cron {
        expr: expr.to_owned(),
        timezone: timezone.to_owned(),
    };
    ScheduleDef::new(name, queue, "noop", spec)
}

/// An engine on `url` whose clock starts at `start`.
async fn engine_at(url: &str, clock: &ManualClock, id: &str) -> Engine {
    builder()
        .clock(clock.clock())
        .process_id(id)
        .connect(url)
        .await
        .unwrap()
}

/// Starts the scheduler only: the jobs it puts stay pending to be looked at.
async fn scheduler(engine: &Engine) -> amboy::Workers {
    engine
        .start_workers(WorkerOptions {
            queues: Some(vec!["nobody-works-this".to_owned()]),
            ..WorkerOptions::default()
        })
        .await
        .unwrap()
}

async fn jobs_of(engine: &Engine, prefix: &str) -> Vec<JobRecord> {
    engine
        .list(&JobFilter {
            id_prefix: Some(prefix.to_owned()),
            limit: 1_000,
            ..JobFilter::default()
        })
        .await
        .unwrap()
}

async fn wait_for_jobs(engine: &Engine, prefix: &str, n: usize) -> Vec<JobRecord> {
    eventually(&format!("{n} jobs {prefix}*"), WAIT, || async {
        let jobs = jobs_of(engine, prefix).await;
        (jobs.len() >= n).then_some(jobs)
    })
    .await
}

fn ids(jobs: &[JobRecord]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

async fn cron_and_interval_fire_on_time(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T10:00:30Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    let minute = engine
        .add_schedule(cron("minute", "s", "* * * * *", "UTC"))
        .await
        .unwrap();
    assert_eq!(minute.next_fire_at, Some(at("2026-11-30T10:01:00Z")));
    let interval = ScheduleDef {
        spec: SpecDef::Interval {
            every_ms: 45_000,
            start_at: Some(at("2026-11-30T10:00:10Z")),
        },
        payload: serde_json::json!({"ms": 1}),
        job_type: "sleep".to_owned(),
        ..cron("interval", "s", "", "UTC")
    };
    let interval = engine.add_schedule(interval).await.unwrap();
    assert_eq!(interval.next_fire_at, Some(at("2026-11-30T10:00:55Z")));
    let workers = scheduler(&engine).await;

    clock.advance(Duration::from_secs(30)); // 10:01:00
    let jobs = wait_for_jobs(&engine, "schedule:interval:", 1).await;
    assert_eq!(ids(&jobs), ["schedule:interval:2026-11-30T10:00:55Z"]);
    assert_eq!(jobs[0].payload, serde_json::json!({"ms": 1}));
    let jobs = wait_for_jobs(&engine, "schedule:minute:", 1).await;
    assert_eq!(ids(&jobs), ["schedule:minute:2026-11-30T10:01:00Z"]);
    assert_eq!(jobs[0].run_at, at("2026-11-30T10:01:00Z"));

    clock.advance(Duration::from_secs(60)); // 10:02:00
    wait_for_jobs(&engine, "schedule:minute:", 2).await;
    let jobs = wait_for_jobs(&engine, "schedule:interval:", 2).await;
    assert_eq!(
        ids(&jobs),
        [
            "schedule:interval:2026-11-30T10:00:55Z",
            "schedule:interval:2026-11-30T10:01:40Z"
        ]
    );
    let detail = engine.schedule("minute").await.unwrap();
    let record = detail.schedule;
    assert_eq!((record.fires, record.skips, record.duplicates), (2, 0, 0));
    assert_eq!(record.last_result.as_deref(), Some("enqueued"));
    assert_eq!(
        record.last_job_id.as_deref(),
        Some("schedule:minute:2026-11-30T10:02:00Z")
    );
    assert_eq!(record.last_fire_at, Some(at("2026-11-30T10:02:00Z")));
    assert_eq!(record.next_fire_at, Some(at("2026-11-30T10:03:00Z")));
    assert!(detail.events.is_empty());
    workers.shutdown(WAIT).await;
}

async fn a_daily_0230_fires_once_across_spring_forward(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-03-28T12:00:00Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    engine
        .add_schedule(cron("nightly", "s", "30 2 * * *", "Europe/Berlin"))
        .await
        .unwrap();
    let next = engine.next_fires("nightly", 2).await.unwrap();
    let shown: Vec<String> = next.iter().map(|t| t.to_rfc3339()).collect();
    assert_eq!(
        shown,
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    );
    let workers = scheduler(&engine).await;
    for _ in 0..12 {
        clock.advance(Duration::from_secs(3_600));
    }
    // 2026-03-29T00:00Z: not yet (03:00 CEST is 01:00Z).
    assert!(jobs_of(&engine, "schedule:nightly:").await.is_empty());
    clock.advance(Duration::from_secs(3_600));
    let jobs = wait_for_jobs(&engine, "schedule:nightly:", 1).await;
    assert_eq!(ids(&jobs), ["schedule:nightly:2026-03-29T01:00:00Z"]);
    workers.shutdown(WAIT).await;
}

async fn misfire_policies_after_an_hour_of_downtime(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T09:59:30Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    for (name, misfire) in [
        ("skip", Misfire::Skip),
        ("once", Misfire::FireOnce),
        ("all", Misfire::FireAll),
    ] {
        engine
            .add_schedule(ScheduleDef {
                misfire,
                ..cron(name, "s", "* * * * *", "UTC")
            })
            .await
            .unwrap();
    }
    // Nothing runs the scheduler from 09:59:30 to 11:00:30: 61 fire times
    // (10:00 … 11:00) pass.
    clock.advance(Duration::from_secs(3_660));
    let workers = scheduler(&engine).await;
    let all = wait_for_jobs(&engine, "schedule:all:", 61).await;
    assert_eq!(all[0].id, "schedule:all:2026-11-30T10:00:00Z");
    let once = wait_for_jobs(&engine, "schedule:once:", 1).await;
    assert_eq!(ids(&once), ["schedule:once:2026-11-30T11:00:00Z"]);
    let skip = eventually("the skip schedule's round", WAIT, || async {
        let detail = engine.schedule("skip").await.unwrap();
        (detail.schedule.skips > 0).then_some(detail)
    })
    .await;
    assert!(jobs_of(&engine, "schedule:skip:").await.is_empty());
    assert_eq!(skip.schedule.skips, 61);
    assert_eq!(skip.events.len(), 1);
    assert_eq!(
        skip.events[0].detail,
        "missed 61 fire time(s) from 2026-11-30T10:00:00Z to 2026-11-30T11:00:00Z \
         (misfire policy skip)"
    );
    assert_eq!(skip.schedule.next_fire_at, Some(at("2026-11-30T11:01:00Z")));
    let once = engine.schedule("once").await.unwrap();
    assert_eq!((once.schedule.fires, once.schedule.skips), (1, 60));
    let all = engine.schedule("all").await.unwrap();
    assert_eq!((all.schedule.fires, all.schedule.skips), (61, 0));
    workers.shutdown(WAIT).await;
}

async fn overlap_and_threshold_skip_with_a_reason(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T10:00:30Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    engine
        .add_schedule(ScheduleDef {
            overlap: Overlap::SkipIfUnfinished,
            ..cron("serial", "serial", "* * * * *", "UTC")
        })
        .await
        .unwrap();
    engine
        .add_schedule(ScheduleDef {
            overlap: Overlap::Threshold(1),
            ..cron("bounded", "busy", "* * * * *", "UTC")
        })
        .await
        .unwrap();
    for _ in 0..2 {
        engine
            .put(NewJob::from_json("busy", "noop", "{}"))
            .await
            .unwrap();
    }
    let workers = scheduler(&engine).await;
    clock.advance(Duration::from_secs(30)); // 10:01: serial fires, bounded skips
    wait_for_jobs(&engine, "schedule:serial:", 1).await;
    let bounded = eventually("the threshold skip", WAIT, || async {
        let detail = engine.schedule("bounded").await.unwrap();
        (detail.schedule.skips == 1).then_some(detail)
    })
    .await;
    assert_eq!(
        bounded.schedule.last_result.as_deref(),
        Some("skipped: queue busy has 2 pending jobs (threshold 1)")
    );
    assert_eq!(bounded.events[0].result, "skipped");
    clock.advance(Duration::from_secs(60)); // 10:02: the 10:01 job is still pending
    let serial = eventually("the overlap skip", WAIT, || async {
        let detail = engine.schedule("serial").await.unwrap();
        (detail.schedule.skips == 1).then_some(detail)
    })
    .await;
    assert_eq!(
        serial.schedule.last_result.as_deref(),
        Some("skipped: the previous fire's job schedule:serial:2026-11-30T10:01:00Z is pending")
    );
    assert_eq!(jobs_of(&engine, "schedule:serial:").await.len(), 1);
    workers.shutdown(WAIT).await;
}

async fn three_processes_fire_each_time_once(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T10:00:00.500Z"));
    let first = engine_at(&db.url, &clock, "p0").await;
    let others = [
        engine_at(&db.url, &clock, "p1").await,
        engine_at(&db.url, &clock, "p2").await,
    ];
    first
        .add_schedule(cron("tick", "s", "* * * * * *", "UTC"))
        .await
        .unwrap();
    let mut workers = vec![scheduler(&first).await];
    for engine in &others {
        workers.push(scheduler(engine).await);
    }
    const FIRES: usize = 40;
    for n in 1..=FIRES {
        clock.advance(Duration::from_secs(1));
        wait_for_jobs(&first, "schedule:tick:", n).await;
    }
    let jobs = jobs_of(&first, "schedule:tick:").await;
    assert_eq!(jobs.len(), FIRES);
    assert_eq!(jobs[0].id, "schedule:tick:2026-11-30T10:00:01Z");
    let record = eventually("the last round's record", WAIT, || async {
        let record = first.schedule("tick").await.unwrap().schedule;
        (record.fires == FIRES as i64).then_some(record)
    })
    .await;
    // Rows locked by one process are skipped by the others: nothing was
    // even tried twice.
    assert_eq!((record.skips, record.duplicates), (0, 0));
    for w in workers {
        w.shutdown(WAIT).await;
    }
}

async fn disable_stops_firing_and_edits_apply_at_the_next_fire(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T10:00:30Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    engine
        .add_schedule(cron("edit", "s", "* * * * *", "UTC"))
        .await
        .unwrap();
    let workers = scheduler(&engine).await;
    clock.advance(Duration::from_secs(30)); // 10:01
    wait_for_jobs(&engine, "schedule:edit:", 1).await;

    let disabled = engine.set_schedule_enabled("edit", false).await.unwrap();
    assert_eq!((disabled.def.enabled, disabled.next_fire_at), (false, None));
    clock.advance(Duration::from_secs(180)); // 10:04: nothing fires
    let enabled = engine.set_schedule_enabled("edit", true).await.unwrap();
    assert_eq!(enabled.next_fire_at, Some(at("2026-11-30T10:05:00Z")));
    assert_eq!(jobs_of(&engine, "schedule:edit:").await.len(), 1);

    // Every 5 minutes with a priority, from the next fire.
    let edited = engine
        .edit_schedule(ScheduleDef {
            priority: 7,
            ..cron("edit", "s", "*/5 * * * *", "UTC")
        })
        .await
        .unwrap();
    assert_eq!(edited.next_fire_at, Some(at("2026-11-30T10:05:00Z")));
    assert_eq!(edited.fires, 1, "the history stays");
    clock.advance(Duration::from_secs(60)); // 10:05
    let jobs = wait_for_jobs(&engine, "schedule:edit:", 2).await;
    assert_eq!(jobs[1].id, "schedule:edit:2026-11-30T10:05:00Z");
    assert_eq!(jobs[1].priority, 7);

    let run = engine.run_schedule("edit").await.unwrap();
    assert_eq!(run, "schedule:edit:run:2026-11-30T10:05:00Z");
    engine.delete_schedule("edit").await.unwrap();
    assert!(matches!(
        engine.schedule("edit").await,
        Err(Error::ScheduleNotFound(_))
    ));
    assert_eq!(
        jobs_of(&engine, "schedule:edit:").await.len(),
        3,
        "jobs stay"
    );
    workers.shutdown(WAIT).await;
}

async fn bad_schedules_are_refused_and_store_nothing(backend: Backend) {
    let db = backend.fresh().await;
    let engine = builder().connect(&db.url).await.unwrap();
    engine
        .add_schedule(cron("taken", "s", "0 * * * *", "UTC"))
        .await
        .unwrap();
    let ok = cron("fresh", "s", "0 * * * *", "UTC");
    let interval = |every_ms| ScheduleDef {
        spec: SpecDef::Interval {
            every_ms,
            start_at: None,
        },
        ..ok.clone()
    };
    let cases: Vec<(ScheduleDef, &str)> = vec![
        (cron("fresh", "s", "0 25 * * *", "UTC"), "hour \"25\""),
        (
            cron("fresh", "s", "0 0 * * mon-funday", "UTC"),
            "day-of-week",
        ),
        (cron("fresh", "s", "* * *", "UTC"), "has 3 fields"),
        (
            cron("fresh", "s", "* * * * *", "Europe/Atlantis"),
            "not an IANA time zone",
        ),
        (interval(0), "every_ms must be at least 1000"),
        (interval(-5), "every_ms must be at least 1000"),
        (
            ScheduleDef {
                job_type: "no-such-type".into(),
                ..ok.clone()
            },
            "no-such-type",
        ),
        (
            ScheduleDef {
                job_type: "sleep".into(),
                payload: serde_json::json!({"ms": "soon"}),
                ..ok.clone()
            },
            "payload",
        ),
        (
            ScheduleDef {
                name: "no spaces".into(),
                ..ok.clone()
            },
            "schedule name",
        ),
        (
            ScheduleDef {
                queue: "bad queue".into(),
                ..ok.clone()
            },
            "queue",
        ),
        (cron("taken", "s", "0 * * * *", "UTC"), "already exists"),
    ];
    for (def, expected) in cases {
        let err = engine.add_schedule(def.clone()).await.unwrap_err();
        assert!(err.is_client_error(), "{err:?}");
        assert!(
            err.to_string().contains(expected),
            "{def:?}: expected {expected:?} in {err}"
        );
    }
    let names: Vec<String> = engine
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.def.name)
        .collect();
    assert_eq!(names, ["taken"]);
    assert!(matches!(
        engine.edit_schedule(ok.clone()).await,
        Err(Error::ScheduleNotFound(_))
    ));
    assert!(matches!(
        engine.next_fires("taken", 0).await,
        Err(Error::InvalidInput { field: "count", .. })
    ));
    assert!(matches!(
        engine.delete_schedule("missing").await,
        Err(Error::ScheduleNotFound(_))
    ));
}

async fn a_fire_whose_job_exists_counts_as_a_duplicate(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T10:00:30Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    engine
        .add_schedule(cron("dup", "s", "* * * * *", "UTC"))
        .await
        .unwrap();
    // As if another process had put this fire's job already.
    engine
        .put(NewJob::from_json("s", "noop", "{}").id("schedule:dup:2026-11-30T10:01:00Z"))
        .await
        .unwrap();
    let workers = scheduler(&engine).await;
    clock.advance(Duration::from_secs(30));
    let detail = eventually("the duplicate to be counted", WAIT, || async {
        let detail = engine.schedule("dup").await.unwrap();
        (detail.schedule.duplicates == 1).then_some(detail)
    })
    .await;
    assert_eq!(detail.schedule.fires, 0);
    assert_eq!(detail.schedule.last_result.as_deref(), Some("duplicate"));
    assert_eq!(detail.events[0].result, "duplicate");
    assert_eq!(
        detail.events[0].detail,
        "job schedule:dup:2026-11-30T10:01:00Z already exists (fired by another process)"
    );
    assert_eq!(
        detail.schedule.next_fire_at,
        Some(at("2026-11-30T10:02:00Z"))
    );
    assert_eq!(jobs_of(&engine, "schedule:dup:").await.len(), 1);
    workers.shutdown(WAIT).await;
}

async fn an_edit_that_keeps_the_spec_keeps_a_due_fire(backend: Backend) {
    let db = backend.fresh().await;
    let clock = ManualClock::new(at("2026-11-30T10:00:30Z"));
    let engine = engine_at(&db.url, &clock, "p").await;
    engine
        .add_schedule(cron("keep", "s", "* * * * *", "UTC"))
        .await
        .unwrap();
    // Nothing fires while the clock moves past three fire times.
    clock.advance(Duration::from_secs(180));
    let edited = engine
        .edit_schedule(ScheduleDef {
            priority: 5,
            ..cron("keep", "s", "* * * * *", "UTC")
        })
        .await
        .unwrap();
    assert_eq!(
        edited.next_fire_at,
        Some(at("2026-11-30T10:01:00Z")),
        "kept"
    );
    let same = engine.set_schedule_enabled("keep", true).await.unwrap();
    assert_eq!(same.next_fire_at, Some(at("2026-11-30T10:01:00Z")), "kept");
    let workers = scheduler(&engine).await;
    let jobs = wait_for_jobs(&engine, "schedule:keep:", 1).await;
    assert_eq!(ids(&jobs), ["schedule:keep:2026-11-30T10:03:00Z"]);
    assert_eq!(jobs[0].priority, 5);
    workers.shutdown(WAIT).await;
}

on_both_backends!(
    cron_and_interval_fire_on_time,
    a_daily_0230_fires_once_across_spring_forward,
    misfire_policies_after_an_hour_of_downtime,
    overlap_and_threshold_skip_with_a_reason,
    three_processes_fire_each_time_once,
    disable_stops_firing_and_edits_apply_at_the_next_fire,
    bad_schedules_are_refused_and_store_nothing,
    a_fire_whose_job_exists_counts_as_a_duplicate,
    an_edit_that_keeps_the_spec_keeps_a_due_fire,
);
