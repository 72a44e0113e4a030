//! The fire loop: sleeps until the next schedule is due (or schedules
//! change), then fires every due schedule in one transaction.
//!
//! Every process runs it. Due schedules are read with row locks that other
//! processes skip (PostgreSQL) or under SQLite's single writer, and each
//! schedule's next fire time moves forward in the transaction that inserts
//! its jobs; job ids are deterministic per fire time, so a fire that still
//! happens twice is refused by the database and counted as a duplicate.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::jittered;
use crate::clock::{duration_us, from_us};
use crate::engine::Engine;
use crate::error::Result;
use crate::schedule::{Overlap, Plan, ScheduleRecord, fire_time};
use crate::spec::JobInsert;
use crate::state::JobState;
use crate::store::schedules::{EventRow, FireUpdate};

/// Most schedules fired per transaction.
const BATCH: usize = 1_000;
/// Longest sleep without looking (schedules changed by a process whose
/// signal was lost, or on SQLite by another process).
const REFRESH: Duration = Duration::from_secs(10);
/// Pause after a failed round.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Fires schedules until the task is aborted.
pub(crate) async fn run(engine: Engine) {
    loop {
        let changed = engine.schedules_changed().notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match engine.metrics().timed("fire", fire_due(&engine)).await {
            Ok(fired) if fired >= BATCH => continue,
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(%err, "could not fire schedules; retrying");
                tokio::time::sleep(jittered(RETRY_PAUSE)).await;
                continue;
            }
        }
        let now = engine.clock().now_us();
        let refresh = now.saturating_add(duration_us(REFRESH));
        let next = engine.store().next_schedule_fire();
        let wake = match engine.metrics().timed("next_fire", next).await {
            Ok(Some(next)) => next.min(refresh),
            Ok(None) => refresh,
            Err(err) => {
                tracing::warn!(%err, "could not read the next fire time");
                refresh
            }
        };
        tokio::select! {
            () = &mut changed => {}
            () = engine.clock().sleep_until(wake) => {}
        }
    }
}

/// One schedule's share of a round.
struct Firing {
    record: ScheduleRecord,
    plan: Plan,
    /// Why its fires are skipped, if they are.
    skip: Option<String>,
    /// Indexes into the round's job rows, with their fire times.
    jobs: Vec<(usize, DateTime<Utc>)>,
    /// Fires refused before insert (the job type is not registered here…).
    refused: Vec<(DateTime<Utc>, String)>,
}

/// Fires every due schedule (up to [`BATCH`]); returns how many were due.
async fn fire_due(engine: &Engine) -> Result<usize> {
    let store = engine.store();
    let now_us = engine.clock().now_us();
    let now = from_us(now_us);
    let txn = store.begin().await?;
    let due = store.due_schedules(&txn, now_us, BATCH).await?;
    if due.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let count = due.len();

    // What the overlap policies need to know, in two reads for the round.
    let previous: Vec<String> = due
        .iter()
        .filter(|s| s.def.overlap == Overlap::SkipIfUnfinished)
        .filter_map(|s| s.last_job_id.clone())
        .collect();
    let states = store.job_states(&txn, &previous).await?;
    let threshold_queues: Vec<&str> = due
        .iter()
        .filter(|s| matches!(s.def.overlap, Overlap::Threshold(_)))
        .map(|s| s.def.queue.as_str())
        .collect();
    let mut pending: BTreeMap<String, i64> = if threshold_queues.is_empty() {
        BTreeMap::new()
    } else {
        store
            .counts(Some(&threshold_queues))
            .await?
            .into_iter()
            .map(|(queue, counts)| {
                let n = counts.get(&JobState::Pending).copied().unwrap_or(0);
                (queue, n)
            })
            .collect()
    };

    let mut rows: Vec<JobInsert> = Vec::new();
    let mut firings = Vec::with_capacity(count);
    for record in due {
        let was_next = record.next_fire_at.unwrap_or(now);
        let plan = match record.def.spec.parse(now) {
            Ok(spec) => Plan::due(&spec, was_next, now, record.def.misfire),
            // A row that no longer parses (edited by hand): stop it.
            Err(err) => Plan {
                fire: Vec::new(),
                missed: 1,
                missed_span: Some((was_next, was_next)),
                next: {
                    tracing::warn!(schedule = %record.def.name, %err, "schedule spec unreadable; disabling");
                    None
                },
            },
        };
        let skip = match record.def.overlap {
            Overlap::Allow => None,
            Overlap::SkipIfUnfinished => record.last_job_id.as_ref().and_then(|id| {
                let state = states.get(id)?;
                let terminal = state.parse::<JobState>().is_ok_and(JobState::is_terminal);
                (!terminal).then(|| format!("the previous fire's job {id} is {state}"))
            }),
            Overlap::Threshold(limit) => {
                let n = pending.get(&record.def.queue).copied().unwrap_or(0);
                (n > limit).then(|| {
                    format!(
                        "queue {} has {n} pending jobs (threshold {limit})",
                        record.def.queue
                    )
                })
            }
        };
        let mut firing = Firing {
            record,
            plan,
            skip,
            jobs: Vec::new(),
            refused: Vec::new(),
        };
        if firing.skip.is_none() {
            for &at in &firing.plan.fire {
                // Later fires of the same round overlap the first.
                if firing.record.def.overlap == Overlap::SkipIfUnfinished && !firing.jobs.is_empty()
                {
                    break;
                }
                match firing
                    .record
                    .def
                    .job(at)
                    .validate(engine.registry(), now_us)
                {
                    Ok(row) => {
                        *pending.entry(row.queue().to_owned()).or_default() += 1;
                        firing.jobs.push((rows.len(), at));
                        rows.push(row);
                    }
                    Err(err) => firing.refused.push((at, err.to_string())),
                }
            }
        }
        firings.push(firing);
    }

    let new_queues = engine.unknown_queues(&rows);
    let inserted = store
        .insert_new_jobs_in(&txn, &rows, &new_queues, now_us)
        .await?;
    let inserted_ids: HashSet<&str> = inserted.iter().map(|job| job.id()).collect();

    let mut updates = Vec::with_capacity(firings.len());
    let mut events = Vec::new();
    let mut tallies = Vec::with_capacity(firings.len());
    for firing in &firings {
        let mut tally = Tally::default();
        let name = &firing.record.def.name;
        let event = |fire_at: DateTime<Utc>, result: &'static str, detail: String| EventRow {
            schedule: name.clone(),
            fire_at: fire_at.timestamp_micros(),
            result,
            detail,
        };
        let (mut fires, mut skips, mut duplicates) = (0i64, 0i64, 0i64);
        let mut last_result = None;
        let mut last_job_id = None;
        if let Some((from, to)) = firing.plan.missed_span {
            skips += i64::try_from(firing.plan.missed).unwrap_or(i64::MAX);
            tally.missed = firing.plan.missed;
            let detail = format!(
                "missed {} fire time(s) from {} to {} (misfire policy {})",
                firing.plan.missed,
                fire_time(from),
                fire_time(to),
                firing.record.def.misfire.as_str()
            );
            last_result = Some(format!("skipped: {detail}"));
            events.push(event(to, "skipped", detail));
        }
        let fired_at: Vec<DateTime<Utc>> = firing.jobs.iter().map(|(_, at)| *at).collect();
        for &at in firing.plan.fire.iter().filter(|at| !fired_at.contains(at)) {
            let reason = match (&firing.skip, firing.refused.iter().find(|(t, _)| *t == at)) {
                (Some(reason), _) => reason.clone(),
                (None, Some((_, err))) => {
                    tally.errors += 1;
                    format!("could not put the job: {err}")
                }
                (None, None) => "the previous fire's job is not finished".to_owned(),
            };
            skips += 1;
            last_result = Some(format!("skipped: {reason}"));
            events.push(event(at, "skipped", reason));
        }
        for &(index, at) in &firing.jobs {
            let id = rows[index].id();
            if inserted_ids.contains(id) {
                fires += 1;
                tally.enqueued.push(at);
                last_result = Some("enqueued".to_owned());
                last_job_id = Some(id.to_owned());
            } else {
                duplicates += 1;
                last_result = Some("duplicate".to_owned());
                events.push(event(
                    at,
                    "duplicate",
                    format!("job {id} already exists (fired by another process)"),
                ));
            }
        }
        let last_fire_at = firing
            .plan
            .fire
            .last()
            .copied()
            .or(firing.plan.missed_span.map(|(_, to)| to))
            .unwrap_or(now);
        updates.push(FireUpdate {
            name: name.clone(),
            was_next: firing
                .record
                .next_fire_at
                .map_or(now_us, |t| t.timestamp_micros()),
            next: firing.plan.next.map(|t| t.timestamp_micros()),
            last_fire_at: last_fire_at.timestamp_micros(),
            last_result: last_result.unwrap_or_else(|| "enqueued".to_owned()),
            last_job_id,
            fires,
            skips,
            duplicates,
        });
        tally.skipped = u64::try_from(skips)
            .unwrap_or(0)
            .saturating_sub(tally.missed)
            .saturating_sub(tally.errors);
        tally.duplicates = u64::try_from(duplicates).unwrap_or(0);
        tallies.push(tally);
    }
    let updated = store.record_fires(&txn, &updates, &events, now_us).await?;
    if updated < updates.len() as u64 {
        // Changed under us (an edit committed between the read and now):
        // do the round again from fresh rows.
        txn.rollback().await?;
        return Ok(count);
    }
    txn.commit().await?;
    engine.inserted(&new_queues, &inserted);
    let committed = from_us(engine.clock().now_us());
    let metrics = engine.metrics();
    for (firing, tally) in firings.iter().zip(tallies) {
        let name = &firing.record.def.name;
        metrics.fired(name, "enqueued", tally.enqueued.len() as u64);
        metrics.fired(name, "skipped", tally.skipped);
        metrics.fired(name, "missed", tally.missed);
        metrics.fired(name, "duplicate", tally.duplicates);
        metrics.fired(name, "error", tally.errors);
        for at in tally.enqueued {
            let lag = (committed - at).num_microseconds().unwrap_or(i64::MAX);
            metrics.fire_lag(name, lag as f64 / 1e6);
        }
    }
    Ok(count)
}

/// What a round did for one schedule, for the metrics (counted once the
/// round commits).
#[derive(Default)]
struct Tally {
    /// The fire times of the jobs put.
    enqueued: Vec<DateTime<Utc>>,
    /// Fire times passed over by the overlap or threshold policy.
    skipped: u64,
    /// Fire times missed while no process was firing (misfire policy).
    missed: u64,
    /// Fire times another process had already fired.
    duplicates: u64,
    /// Fire times whose job could not be put.
    errors: u64,
}
