//! Schedules: their definitions, and the fire transaction's statements.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use super::signal::Signal;
use super::{Store, placeholders};
use crate::clock::from_us;
use crate::error::{Error, Result};
use crate::schedule::{Misfire, Overlap, ScheduleDef, ScheduleEvent, ScheduleRecord, SpecDef};

/// Skip and duplicate records kept per schedule.
pub const EVENTS_KEPT: i64 = 100;

const COLUMNS: &str = "name, queue, job_type, payload, spec_kind, cron_expr, timezone, \
    interval_ms, start_at, overlap, threshold, misfire, enabled, priority, max_attempts, \
    max_time_ms, created_at, updated_at, next_fire_at, last_fire_at, last_result, last_job_id, \
    fires, skips, duplicates";

#[derive(FromQueryResult)]
struct ScheduleRow {
    name: String,
    queue: String,
    job_type: String,
    payload: String,
    spec_kind: String,
    cron_expr: Option<String>,
    timezone: String,
    interval_ms: Option<i64>,
    start_at: Option<i64>,
    overlap: String,
    threshold: Option<i64>,
    misfire: String,
    enabled: bool,
    priority: i32,
    max_attempts: Option<i32>,
    max_time_ms: Option<i64>,
    created_at: i64,
    updated_at: i64,
    next_fire_at: Option<i64>,
    last_fire_at: Option<i64>,
    last_result: Option<String>,
    last_job_id: Option<String>,
    fires: i64,
    skips: i64,
    duplicates: i64,
}

fn corrupt(name: &str, what: &str) -> Error {
    Error::Internal(format!("schedule {name:?} has an unreadable {what}"))
}

impl ScheduleRow {
    fn into_record(self) -> Result<ScheduleRecord> {
        let spec = match (self.spec_kind.as_str(), self.cron_expr, self.interval_ms) {
            ("cron", Some(expr), _) => SpecDef::Cron {
                expr,
                timezone: self.timezone,
            },
            ("interval", _, Some(every_ms)) => SpecDef::Interval {
                every_ms,
                start_at: self.start_at.map(from_us),
            },
            _ => return Err(corrupt(&self.name, "spec")),
        };
        let overlap = match (self.overlap.as_str(), self.threshold) {
            ("allow", _) => Overlap::Allow,
            ("skip-if-unfinished", _) => Overlap::SkipIfUnfinished,
            ("threshold", Some(n)) => Overlap::Threshold(n),
            _ => return Err(corrupt(&self.name, "overlap policy")),
        };
        let misfire: Misfire = self
            .misfire
            .parse()
            .map_err(|_| corrupt(&self.name, "misfire policy"))?;
        let payload =
            serde_json::from_str(&self.payload).map_err(|_| corrupt(&self.name, "payload"))?;
        Ok(ScheduleRecord {
            def: ScheduleDef {
                name: self.name,
                queue: self.queue,
                job_type: self.job_type,
                payload,
                spec,
                overlap,
                misfire,
                enabled: self.enabled,
                priority: self.priority,
                max_attempts: self.max_attempts,
                max_time_ms: self.max_time_ms,
            },
            created_at: from_us(self.created_at),
            updated_at: from_us(self.updated_at),
            next_fire_at: self.next_fire_at.map(from_us),
            last_fire_at: self.last_fire_at.map(from_us),
            last_result: self.last_result,
            last_job_id: self.last_job_id,
            fires: self.fires,
            skips: self.skips,
            duplicates: self.duplicates,
        })
    }
}

/// The values of a schedule row's definition: `$1` name, `$2`–`$16` the
/// definition in [`COLUMNS`] order, `$17` now, `$18` the next fire time.
fn definition_values(def: &ScheduleDef, next_fire_at: Option<i64>, now: i64) -> Vec<Value> {
    let (kind, expr, every_ms, start_at) = match &def.spec {
        SpecDef::Cron { expr, .. } => ("cron", Some(expr.clone()), None, None),
        SpecDef::Interval { every_ms, start_at } => (
            "interval",
            None,
            Some(*every_ms),
            start_at.map(|t| t.timestamp_micros()),
        ),
    };
    let (overlap, threshold) = match def.overlap {
        Overlap::Allow => ("allow", None),
        Overlap::SkipIfUnfinished => ("skip-if-unfinished", None),
        Overlap::Threshold(n) => ("threshold", Some(n)),
    };
    vec![
        def.name.clone().into(),
        def.queue.clone().into(),
        def.job_type.clone().into(),
        def.payload.to_string().into(),
        kind.into(),
        expr.into(),
        def.spec.timezone().to_owned().into(),
        every_ms.into(),
        start_at.into(),
        overlap.into(),
        threshold.into(),
        def.misfire.as_str().into(),
        def.enabled.into(),
        def.priority.into(),
        def.max_attempts.into(),
        def.max_time_ms.into(),
        now.into(),
        next_fire_at.into(),
    ]
}

/// What one fire round did to a schedule.
#[derive(Debug, Clone)]
pub struct FireUpdate {
    /// The schedule.
    pub name: String,
    /// Its next fire time before the round (the optimistic guard).
    pub was_next: i64,
    /// Its next fire time now.
    pub next: Option<i64>,
    /// The latest fire time handled.
    pub last_fire_at: i64,
    /// What happened to it.
    pub last_result: String,
    /// The job it put, if it put one.
    pub last_job_id: Option<String>,
    /// Jobs put, fire times skipped, duplicates.
    pub fires: i64,
    /// See `fires`.
    pub skips: i64,
    /// See `fires`.
    pub duplicates: i64,
}

/// A skip or duplicate to record.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// The schedule.
    pub schedule: String,
    /// The fire time concerned.
    pub fire_at: i64,
    /// `skipped` or `duplicate`.
    pub result: &'static str,
    /// Why.
    pub detail: String,
}

impl Store {
    /// Stores a new schedule; [`Error::DuplicateSchedule`] if the name is taken.
    pub async fn insert_schedule(
        &self,
        def: &ScheduleDef,
        next_fire_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let values = definition_values(def, next_fire_at, now);
        let result = self
            .write
            .execute_raw(self.stmt(
                &format!(
                    "INSERT INTO schedules ({COLUMNS}) VALUES ({}, $17, $17, $18, NULL, NULL, \
                     NULL, 0, 0, 0)",
                    placeholders(1, 16)
                ),
                values,
            ))
            .await;
        match result {
            Ok(_) => {}
            Err(err) if super::unique_violation(&err) => {
                return Err(Error::DuplicateSchedule(def.name.clone()));
            }
            Err(err) => return Err(err.into()),
        }
        self.signal(&self.write, &[Signal::Schedules]).await
    }

    /// Replaces a schedule's definition (its history stays);
    /// [`Error::ScheduleNotFound`] if there is none.
    pub async fn update_schedule(
        &self,
        def: &ScheduleDef,
        next_fire_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let values = definition_values(def, next_fire_at, now);
        let result = self
            .write
            .execute_raw(self.stmt(
                "UPDATE schedules SET queue = $2, job_type = $3, payload = $4, spec_kind = $5, \
                 cron_expr = $6, timezone = $7, interval_ms = $8, start_at = $9, overlap = $10, \
                 threshold = $11, misfire = $12, enabled = $13, priority = $14, \
                 max_attempts = $15, max_time_ms = $16, updated_at = $17, next_fire_at = $18 \
                 WHERE name = $1",
                values,
            ))
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::ScheduleNotFound(def.name.clone()));
        }
        self.signal(&self.write, &[Signal::Schedules]).await
    }

    /// Deletes a schedule and its records; [`Error::ScheduleNotFound`] if
    /// there is none. Jobs it put stay.
    pub async fn delete_schedule(&self, name: &str) -> Result<()> {
        let txn = self.begin().await?;
        let result = txn
            .execute_raw(self.stmt("DELETE FROM schedules WHERE name = $1", vec![name.into()]))
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::ScheduleNotFound(name.to_owned()));
        }
        txn.execute_raw(self.stmt(
            "DELETE FROM schedule_events WHERE schedule = $1",
            vec![name.into()],
        ))
        .await?;
        self.signal(&txn, &[Signal::Schedules]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// One schedule, or `None`.
    pub async fn schedule(&self, name: &str) -> Result<Option<ScheduleRecord>> {
        ScheduleRow::find_by_statement(self.stmt(
            &format!("SELECT {COLUMNS} FROM schedules WHERE name = $1"),
            vec![name.into()],
        ))
        .one(&self.read)
        .await?
        .map(ScheduleRow::into_record)
        .transpose()
    }

    /// Every schedule, by name.
    pub async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        ScheduleRow::find_by_statement(self.stmt(
            &format!("SELECT {COLUMNS} FROM schedules ORDER BY name"),
            vec![],
        ))
        .all(&self.read)
        .await?
        .into_iter()
        .map(ScheduleRow::into_record)
        .collect()
    }

    /// A schedule's recent skips and duplicates, newest first.
    pub async fn schedule_events(&self, name: &str) -> Result<Vec<ScheduleEvent>> {
        #[derive(FromQueryResult)]
        struct Row {
            fire_at: i64,
            at: i64,
            result: String,
            detail: String,
        }
        Ok(Row::find_by_statement(self.stmt(
            "SELECT fire_at, at, result, detail FROM schedule_events WHERE schedule = $1 \
             ORDER BY id DESC LIMIT $2",
            vec![name.into(), EVENTS_KEPT.into()],
        ))
        .all(&self.read)
        .await?
        .into_iter()
        .map(|row| ScheduleEvent {
            fire_at: from_us(row.fire_at),
            at: from_us(row.at),
            result: row.result,
            detail: row.detail,
        })
        .collect())
    }

    /// The earliest next fire time of any enabled schedule.
    pub async fn next_schedule_fire(&self) -> Result<Option<i64>> {
        #[derive(FromQueryResult)]
        struct Next {
            next: Option<i64>,
        }
        Ok(Next::find_by_statement(
            self.stmt("SELECT MIN(next_fire_at) AS next FROM schedules", vec![]),
        )
        .one(&self.read)
        .await?
        .and_then(|row| row.next))
    }

    /// Schedules due at `now` (up to `limit`, the most overdue first),
    /// locked for this transaction; other processes skip them.
    pub async fn due_schedules(
        &self,
        txn: &impl ConnectionTrait,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>> {
        ScheduleRow::find_by_statement(self.stmt(
            &format!(
                "SELECT {COLUMNS} FROM schedules WHERE next_fire_at <= $1 \
                 ORDER BY next_fire_at LIMIT $2{}",
                self.dialect().skip_locked()
            ),
            vec![now.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
        ))
        .all(txn)
        .await?
        .into_iter()
        .map(ScheduleRow::into_record)
        .collect()
    }

    /// The states of the jobs with these ids (absent ids are missing).
    pub async fn job_states(
        &self,
        conn: &impl ConnectionTrait,
        ids: &[String],
    ) -> Result<HashMap<String, String>> {
        #[derive(FromQueryResult)]
        struct Row {
            id: String,
            state: String,
        }
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(Row::find_by_statement(self.stmt(
            &format!(
                "SELECT id, state FROM jobs WHERE id IN ({})",
                placeholders(1, ids.len())
            ),
            ids.iter().map(|id| id.clone().into()).collect(),
        ))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| (row.id, row.state))
        .collect())
    }

    /// Writes what a fire round did: statements for the schedules, then for
    /// the records (then keeps [`EVENTS_KEPT`] per schedule). Returns how
    /// many schedules were updated (fewer means another process got there
    /// first: the caller rolls back).
    pub async fn record_fires(
        &self,
        txn: &impl ConnectionTrait,
        updates: &[FireUpdate],
        events: &[EventRow],
        now: i64,
    ) -> Result<u64> {
        let mut updated = 0;
        if !updates.is_empty() {
            let mut values: Vec<Value> = Vec::with_capacity(updates.len() * 10);
            for u in updates {
                values.extend([
                    u.name.clone().into(),
                    u.was_next.into(),
                    u.next.into(),
                    u.last_fire_at.into(),
                    u.last_result.clone().into(),
                    u.last_job_id.clone().into(),
                    u.fires.into(),
                    u.skips.into(),
                    u.duplicates.into(),
                    i32::from(u.last_job_id.is_some()).into(),
                ]);
            }
            let types = [
                "text", "int8", "int8", "int8", "text", "text", "int8", "int8", "int8", "int4",
            ];
            for table in self.dialect().tables(&types, values, &[])? {
                let sql = format!(
                    "UPDATE schedules SET next_fire_at = v.column3, last_fire_at = v.column4, \
                     last_result = v.column5, \
                     last_job_id = CASE WHEN v.column10 = 1 THEN v.column6 ELSE schedules.last_job_id END, \
                     fires = schedules.fires + v.column7, skips = schedules.skips + v.column8, \
                     duplicates = schedules.duplicates + v.column9 \
                     FROM {} \
                     WHERE schedules.name = v.column1 AND schedules.next_fire_at = v.column2",
                    table.sql
                );
                updated += txn
                    .execute_raw(self.stmt(&sql, table.values))
                    .await?
                    .rows_affected();
            }
        }
        if !events.is_empty() {
            let mut values: Vec<Value> = Vec::with_capacity(events.len() * 5);
            for e in events {
                values.extend([
                    e.schedule.clone().into(),
                    e.fire_at.into(),
                    now.into(),
                    e.result.into(),
                    e.detail.clone().into(),
                ]);
            }
            let types = ["text", "int8", "int8", "text", "text"];
            for table in self.dialect().tables(&types, values, &[])? {
                txn.execute_raw(self.stmt(
                    &format!(
                        "INSERT INTO schedule_events (schedule, fire_at, at, result, detail) \
                         SELECT v.* FROM {}",
                        table.sql
                    ),
                    table.values,
                ))
                .await?;
            }
            let mut names: Vec<&str> = events.iter().map(|e| e.schedule.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                txn.execute_raw(self.stmt(
                    "DELETE FROM schedule_events WHERE schedule = $1 AND id <= \
                     (SELECT id FROM schedule_events WHERE schedule = $1 \
                      ORDER BY id DESC LIMIT 1 OFFSET $2)",
                    vec![name.into(), EVENTS_KEPT.into()],
                ))
                .await?;
            }
        }
        Ok(updated)
    }
}
