//! The engine's schedule operations: add, edit, enable, disable, delete,
//! run now, list, show, and the next fire times.

use chrono::{DateTime, FixedOffset};

use super::{MAX_PREVIEW, ScheduleDef, ScheduleDetail, ScheduleRecord, Spec, SpecDef};
use super::{fire_time, validate_schedule_name};
use crate::engine::Engine;
use crate::error::{Error, Result};

impl Engine {
    /// Checks a definition completely — name, queue, spec, time zone, job
    /// type and the payload decoded by it (with a sample fire time) — and
    /// resolves an interval's missing start to now.
    fn prepare(&self, mut def: ScheduleDef) -> Result<(ScheduleDef, Spec)> {
        let now = self.clock().now();
        let spec = def.check(now)?;
        if let SpecDef::Interval { start_at, .. } = &mut def.spec {
            start_at.get_or_insert(now);
        }
        def.job(now)
            .validate(self.registry(), now.timestamp_micros())?;
        Ok((def, spec))
    }

    fn next_fire_us(&self, def: &ScheduleDef, spec: &Spec) -> Option<i64> {
        def.enabled
            .then(|| spec.next_after(self.clock().now()))
            .flatten()
            .map(|t| t.timestamp_micros())
    }

    /// Creates a schedule. Nothing is stored when anything is invalid;
    /// [`Error::DuplicateSchedule`] when the name is taken.
    pub async fn add_schedule(&self, def: ScheduleDef) -> Result<ScheduleRecord> {
        let (def, spec) = self.prepare(def)?;
        let next = self.next_fire_us(&def, &spec);
        self.store()
            .insert_schedule(&def, next, self.clock().now_us())
            .await?;
        self.schedules_changed().notify_waiters();
        self.schedule_record(&def.name).await
    }

    /// Replaces a schedule's definition (found by `def.name`); it applies
    /// from the next fire. The next fire time is recomputed when the spec or
    /// `enabled` changed, and kept otherwise (so a fire that is due is not
    /// lost). Its history stays.
    pub async fn edit_schedule(&self, def: ScheduleDef) -> Result<ScheduleRecord> {
        let current = self.schedule_record(&def.name).await?;
        let (def, spec) = self.prepare(def)?;
        let next = if current.def.spec == def.spec && current.def.enabled == def.enabled {
            current.next_fire_at.map(|t| t.timestamp_micros())
        } else {
            self.next_fire_us(&def, &spec)
        };
        self.store()
            .update_schedule(&def, next, self.clock().now_us())
            .await?;
        self.schedules_changed().notify_waiters();
        self.schedule_record(&def.name).await
    }

    /// Enables or disables a schedule. Enabling fires from the next fire
    /// time after now (fire times while disabled are not missed fires).
    pub async fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Result<ScheduleRecord> {
        let current = self.schedule_record(name).await?;
        if current.def.enabled == enabled {
            return Ok(current);
        }
        let mut def = current.def;
        def.enabled = enabled;
        // No registry check: a schedule whose type is gone can still be
        // switched off.
        let spec = def.check(self.clock().now())?;
        let next = self.next_fire_us(&def, &spec);
        self.store()
            .update_schedule(&def, next, self.clock().now_us())
            .await?;
        self.schedules_changed().notify_waiters();
        self.schedule_record(name).await
    }

    /// Deletes a schedule (the jobs it put stay).
    pub async fn delete_schedule(&self, name: &str) -> Result<()> {
        validate_schedule_name(name)?;
        self.store().delete_schedule(name).await?;
        self.schedules_changed().notify_waiters();
        Ok(())
    }

    /// Puts the schedule's job now, outside its spec (enabled or not), with
    /// the id `schedule:<name>:run:<now>`. Returns the job id.
    pub async fn run_schedule(&self, name: &str) -> Result<String> {
        let def = self.schedule_record(name).await?.def;
        let now = self.clock().now();
        let job = def
            .job(now)
            .id(format!("schedule:{name}:run:{}", fire_time(now)));
        self.put(job).await
    }

    /// Every schedule, by name.
    pub async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        self.store().schedules().await
    }

    /// One schedule with its recent skips and duplicates.
    pub async fn schedule(&self, name: &str) -> Result<ScheduleDetail> {
        let schedule = self.schedule_record(name).await?;
        let events = self.store().schedule_events(name).await?;
        Ok(ScheduleDetail { schedule, events })
    }

    async fn schedule_record(&self, name: &str) -> Result<ScheduleRecord> {
        validate_schedule_name(name)?;
        self.store()
            .schedule(name)
            .await?
            .ok_or_else(|| Error::ScheduleNotFound(name.to_owned()))
    }

    /// The next `count` (1–100) fire times of a stored schedule, in its
    /// time zone, whether or not it is enabled.
    pub async fn next_fires(&self, name: &str, count: usize) -> Result<Vec<DateTime<FixedOffset>>> {
        let def = self.schedule_record(name).await?.def;
        self.preview_schedule(&def, count)
    }

    /// Checks a definition that is not stored (a form being filled in) and
    /// returns its next `count` (1–100) fire times in its time zone.
    pub fn preview_schedule(
        &self,
        def: &ScheduleDef,
        count: usize,
    ) -> Result<Vec<DateTime<FixedOffset>>> {
        if !(1..=MAX_PREVIEW).contains(&count) {
            return Err(Error::InvalidInput {
                field: "count",
                reason: format!("must be between 1 and {MAX_PREVIEW} (got {count})"),
            });
        }
        let (_, spec) = self.prepare(def.clone())?;
        let zone = spec.zone();
        let mut at = self.clock().now();
        let mut fires = Vec::with_capacity(count);
        while fires.len() < count {
            let Some(next) = spec.next_after(at) else {
                break;
            };
            fires.push(next.with_timezone(&zone).fixed_offset());
            at = next;
        }
        Ok(fires)
    }
}
