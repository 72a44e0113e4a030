//! Schedules: persisted recurring queue operations (amboy's
//! `IntervalQueueOperation`, as a product). A schedule puts a job of a type,
//! with a payload template, into a queue at each fire time of its spec.
//!
//! Every process running workers runs the scheduler; exactly-once firing
//! comes from the database: due schedules are taken with row locks that
//! other processes skip, their next fire time moves forward in the same
//! transaction that inserts the jobs, and each job's id is
//! `schedule:<name>:<fire time, RFC 3339 UTC>`, so a second insert of the
//! same fire is refused and counted as a duplicate.

mod ops;
pub mod spec;

use std::collections::VecDeque;
use std::str::FromStr;

use chrono::{DateTime, Duration as TimeDelta, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::queue::validate_queue_name;
use crate::spec::NewJob;
pub use spec::Spec;
use spec::{CronSpec, parse_zone};

/// A fire more than this late is a misfire (see [`Misfire`]).
pub const MISFIRE_GRACE: TimeDelta = TimeDelta::seconds(5);
/// Most missed fires `fire-all` catches up on; older ones are skipped.
pub const MAX_CATCH_UP: usize = 100;
/// Missed fires older than this are skipped without being listed one by
/// one (a long downtime of a per-second schedule is a lot of fire times).
const CATCH_UP_WINDOW: TimeDelta = TimeDelta::days(1);
/// Most fire times `next` previews.
pub const MAX_PREVIEW: usize = 100;
/// Shortest interval.
pub const MIN_INTERVAL_MS: i64 = 1_000;
/// Longest schedule name (so its job ids stay within the id limit).
pub const MAX_NAME_BYTES: usize = 128;

/// What a schedule does, and when. Serialized as the API reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleDef {
    /// Unique: letters, digits and `-_.:`, 1–128 bytes.
    pub name: String,
    /// The queue its jobs go to.
    pub queue: String,
    /// The job type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// The payload. Strings may hold `{{fire_time}}` (the fire time, RFC
    /// 3339 UTC) and `{{schedule}}` (the name), filled in at each fire.
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
    /// When it fires.
    pub spec: SpecDef,
    /// What to do when the previous fire's work is not done.
    #[serde(default)]
    pub overlap: Overlap,
    /// What to do with fire times missed while no scheduler ran.
    #[serde(default)]
    pub misfire: Misfire,
    /// Whether it fires.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Priority of its jobs.
    #[serde(default)]
    pub priority: i32,
    /// Attempts its jobs get (the engine's default when absent).
    #[serde(default)]
    pub max_attempts: Option<i32>,
    /// Run time limit of its jobs, ms.
    #[serde(default)]
    pub max_time_ms: Option<i64>,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn enabled_by_default() -> bool {
    true
}

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SpecDef {
    /// A cron expression (5 fields, or 6/7 with seconds and years) in an
    /// IANA time zone.
    Cron {
        /// The expression, e.g. `30 2 * * *`.
        expr: String,
        /// The zone it is read in, e.g. `Europe/Berlin`.
        #[serde(default = "utc_zone")]
        timezone: String,
    },
    /// Every `every_ms`, aligned to `start_at` (fires at start + k·every).
    Interval {
        /// The period, ms (at least 1,000).
        every_ms: i64,
        /// The anchor and first fire; the time of creation when absent.
        #[serde(default)]
        start_at: Option<DateTime<Utc>>,
    },
}

fn utc_zone() -> String {
    "UTC".to_owned()
}

/// When it fires, as people read it: `cron 30 2 * * * (Europe/Berlin)`,
/// `every 5m`.
impl std::fmt::Display for SpecDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpecDef::Cron { expr, timezone } => write!(f, "cron {expr} ({timezone})"),
            SpecDef::Interval { every_ms, .. } => {
                write!(f, "every {}", crate::clock::format_duration_ms(*every_ms))
            }
        }
    }
}

impl SpecDef {
    /// Parses the spec; `now` anchors an interval without a start.
    pub fn parse(&self, now: DateTime<Utc>) -> Result<Spec> {
        match self {
            SpecDef::Cron { expr, timezone } => {
                Ok(Spec::Cron(Box::new(CronSpec::parse(expr, timezone)?)))
            }
            SpecDef::Interval { every_ms, start_at } => {
                if *every_ms < MIN_INTERVAL_MS {
                    return Err(Error::InvalidInput {
                        field: "interval",
                        reason: format!(
                            "every_ms must be at least {MIN_INTERVAL_MS} (1 s); got {every_ms}"
                        ),
                    });
                }
                Ok(Spec::Interval {
                    every: TimeDelta::milliseconds(*every_ms),
                    start: start_at.unwrap_or(now),
                })
            }
        }
    }

    /// The zone name fire times are shown in.
    pub fn timezone(&self) -> &str {
        match self {
            SpecDef::Cron { timezone, .. } => timezone,
            SpecDef::Interval { .. } => "UTC",
        }
    }
}

/// What a fire does while earlier work is not done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Overlap {
    /// Fire regardless.
    #[default]
    Allow,
    /// Skip while the previous fire's job is not in a terminal state.
    SkipIfUnfinished,
    /// Skip while the queue has more than this many pending jobs (amboy's
    /// RespectThreshold).
    Threshold(i64),
}

/// What happens to fire times missed while no scheduler ran (downtime).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Misfire {
    /// Skip them all; fire only when on time (within [`MISFIRE_GRACE`]).
    Skip,
    /// Fire once for the latest of them.
    #[default]
    FireOnce,
    /// Fire each of them, up to the latest [`MAX_CATCH_UP`].
    FireAll,
}

impl Misfire {
    /// The policy's name, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Misfire::Skip => "skip",
            Misfire::FireOnce => "fire-once",
            Misfire::FireAll => "fire-all",
        }
    }
}

impl FromStr for Misfire {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "skip" => Ok(Misfire::Skip),
            "fire-once" => Ok(Misfire::FireOnce),
            "fire-all" => Ok(Misfire::FireAll),
            _ => Err(Error::InvalidInput {
                field: "misfire",
                reason: format!("{text:?} is not one of skip, fire-once, fire-all"),
            }),
        }
    }
}

/// A schedule as stored: its definition and how it has fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleRecord {
    /// The definition.
    #[serde(flatten)]
    pub def: ScheduleDef,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Its next fire time; `None` while disabled.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Its latest fire time handled (fired or skipped).
    pub last_fire_at: Option<DateTime<Utc>>,
    /// What happened then: `enqueued`, `skipped: …`, `duplicate`.
    pub last_result: Option<String>,
    /// The job its latest fire put.
    pub last_job_id: Option<String>,
    /// Jobs put by fires.
    pub fires: i64,
    /// Fire times skipped (overlap, threshold, misfire).
    pub skips: i64,
    /// Fires another process (or an earlier run) had already put.
    pub duplicates: i64,
}

/// A recorded skip or duplicate of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleEvent {
    /// The fire time concerned (the latest, for a run of missed ones).
    pub fire_at: DateTime<Utc>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// `skipped` or `duplicate`.
    pub result: String,
    /// Why.
    pub detail: String,
}

/// A schedule with its recent skips and duplicates, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleDetail {
    /// The schedule.
    #[serde(flatten)]
    pub schedule: ScheduleRecord,
    /// Recent skips and duplicates (up to 100), newest first.
    pub events: Vec<ScheduleEvent>,
}

/// Names no schedule may take: `preview` is the REST API's
/// `/schedules/preview`, `new` the dashboard's `/schedules/new`; names of
/// only dots are paths clients rewrite.
pub const RESERVED_NAMES: &[&str] = &["preview", "new"];

/// Checks a schedule name.
pub fn validate_schedule_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    let reason = if !ok {
        format!(
            "{name:?}: a schedule name is 1–{MAX_NAME_BYTES} bytes of ASCII letters, digits and - _ . :"
        )
    } else if RESERVED_NAMES.contains(&name) || name.chars().all(|c| c == '.') {
        format!("{name:?} is reserved (it names an API route or a path); choose another name")
    } else {
        return Ok(());
    };
    Err(Error::InvalidInput {
        field: "name",
        reason,
    })
}

impl ScheduleDef {
    /// A schedule with the defaults: payload `{}`, overlap `allow`, misfire
    /// `fire-once`, enabled, priority 0, the engine's attempts and no time
    /// limit. Nothing is checked until it is saved.
    pub fn new(
        name: impl Into<String>,
        queue: impl Into<String>,
        job_type: impl Into<String>,
        spec: SpecDef,
    ) -> Self {
        Self {
            name: name.into(),
            queue: queue.into(),
            job_type: job_type.into(),
            payload: empty_object(),
            spec,
            overlap: Overlap::Allow,
            misfire: Misfire::FireOnce,
            enabled: true,
            priority: 0,
            max_attempts: None,
            max_time_ms: None,
        }
    }

    /// Checks everything but the job type and payload (which need the
    /// registry: see [`ScheduleDef::job`]) and parses the spec.
    pub fn check(&self, now: DateTime<Utc>) -> Result<Spec> {
        validate_schedule_name(&self.name)?;
        validate_queue_name(&self.queue)?;
        if let Overlap::Threshold(pending) = self.overlap
            && pending < 0
        {
            return Err(Error::InvalidInput {
                field: "overlap",
                reason: format!("the threshold must not be negative (got {pending})"),
            });
        }
        parse_zone(self.spec.timezone())?;
        self.spec.parse(now)
    }

    /// The job a fire at `fire_at` puts.
    pub fn job(&self, fire_at: DateTime<Utc>) -> NewJob {
        let time = fire_time(fire_at);
        let payload = self
            .payload
            .to_string()
            .replace("{{fire_time}}", &time)
            .replace("{{schedule}}", &self.name);
        let mut job = NewJob::from_json(&self.queue, &self.job_type, payload)
            .id(format!("schedule:{}:{time}", self.name))
            .run_at(fire_at)
            .priority(self.priority);
        if let Some(attempts) = self.max_attempts {
            job = job.max_attempts(attempts);
        }
        if let Some(ms) = self.max_time_ms {
            job = job.max_time(std::time::Duration::from_millis(ms.max(0).unsigned_abs()));
        }
        job
    }
}

/// A fire time as it appears in job ids and payloads.
pub fn fire_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The fire times due at `now` for a schedule whose next fire time was
/// `next`, after the misfire policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Fire times to put jobs for, oldest first.
    pub fire: Vec<DateTime<Utc>>,
    /// Due fire times not fired (missed while down, or past the grace).
    pub missed: u64,
    /// The oldest and latest of those.
    pub missed_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The next fire time after `now`.
    pub next: Option<DateTime<Utc>>,
}

impl Plan {
    /// Plans the fires of `spec` due between `next` and `now`.
    pub fn due(spec: &Spec, next: DateTime<Utc>, now: DateTime<Utc>, misfire: Misfire) -> Plan {
        let mut due: VecDeque<DateTime<Utc>> = VecDeque::new();
        let mut dropped = 0u64;
        let mut last_dropped = None;
        let mut oldest = None;
        // Listing a long downtime fire by fire is pointless: count what lies
        // before the window as missed, in one go.
        let mut at = Some(next);
        if now - next > CATCH_UP_WINDOW {
            oldest = Some(next);
            dropped = 1;
            at = spec.next_after(now - CATCH_UP_WINDOW);
        }
        while let Some(t) = at.filter(|t| *t <= now) {
            oldest.get_or_insert(t);
            due.push_back(t);
            if due.len() > MAX_CATCH_UP {
                last_dropped = due.pop_front();
                dropped += 1;
            }
            at = spec.next_after(t);
        }
        let latest = due.back().copied();
        let fire: Vec<DateTime<Utc>> = match (misfire, latest) {
            (_, None) => Vec::new(),
            (Misfire::Skip, Some(latest)) if now - latest <= MISFIRE_GRACE => vec![latest],
            (Misfire::Skip, Some(_)) => Vec::new(),
            (Misfire::FireOnce, Some(latest)) => vec![latest],
            (Misfire::FireAll, Some(_)) => due.iter().copied().collect(),
        };
        let missed = dropped + due.len() as u64 - fire.len() as u64;
        let missed_span = (missed > 0).then(|| {
            let last_missed = due
                .iter()
                .rev()
                .find(|t| !fire.contains(t))
                .copied()
                .or(last_dropped)
                .unwrap_or(next);
            (oldest.unwrap_or(next), last_missed)
        });
        Plan {
            fire,
            missed,
            missed_span,
            next: spec.next_after(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn every_minute() -> Spec {
        SpecDef::Cron {
            expr: "* * * * *".into(),
            timezone: "UTC".into(),
        }
        .parse(Utc::now())
        .unwrap()
    }

    #[test]
    fn on_time_fires_once() {
        for misfire in [Misfire::Skip, Misfire::FireOnce, Misfire::FireAll] {
            let plan = Plan::due(
                &every_minute(),
                t("2026-11-30T10:00:00Z"),
                t("2026-11-30T10:00:00.020Z"),
                misfire,
            );
            assert_eq!(plan.fire, vec![t("2026-11-30T10:00:00Z")]);
            assert_eq!((plan.missed, plan.missed_span), (0, None));
            assert_eq!(plan.next, Some(t("2026-11-30T10:01:00Z")));
        }
    }

    #[test]
    fn misfire_policies_after_an_hour_down() {
        // Down from 10:00 to 11:00:30: 61 fire times were due.
        let (next, now) = (t("2026-11-30T10:00:00Z"), t("2026-11-30T11:00:30Z"));
        let skip = Plan::due(&every_minute(), next, now, Misfire::Skip);
        assert_eq!((skip.fire.len(), skip.missed), (0, 61));
        assert_eq!(skip.missed_span, Some((next, t("2026-11-30T11:00:00Z"))));
        let once = Plan::due(&every_minute(), next, now, Misfire::FireOnce);
        assert_eq!(
            (once.fire.clone(), once.missed),
            (vec![t("2026-11-30T11:00:00Z")], 60)
        );
        assert_eq!(once.missed_span, Some((next, t("2026-11-30T10:59:00Z"))));
        let all = Plan::due(&every_minute(), next, now, Misfire::FireAll);
        assert_eq!((all.fire.len(), all.missed), (61, 0));
        assert_eq!(all.fire[0], next);
        assert_eq!(all.next, Some(t("2026-11-30T11:01:00Z")));
    }

    #[test]
    fn fire_all_is_bounded() {
        let every_second = SpecDef::Cron {
            expr: "* * * * * *".into(),
            timezone: "UTC".into(),
        }
        .parse(Utc::now())
        .unwrap();
        let (next, now) = (t("2026-11-30T10:00:00Z"), t("2026-11-30T11:00:00Z"));
        let all = Plan::due(&every_second, next, now, Misfire::FireAll);
        assert_eq!((all.fire.len(), all.missed), (MAX_CATCH_UP, 3_601 - 100));
        assert_eq!(all.fire.last(), Some(&now));
        assert_eq!(all.missed_span, Some((next, t("2026-11-30T10:58:20Z"))));
        // A year down is counted, not listed.
        let year = Plan::due(
            &every_second,
            t("2025-11-30T10:00:00Z"),
            now,
            Misfire::FireOnce,
        );
        assert_eq!(year.fire, vec![now]);
        assert!(year.missed > 86_000, "{}", year.missed);
    }

    #[test]
    fn jobs_carry_the_fire_time() {
        let def: ScheduleDef = serde_json::from_value(serde_json::json!({
            "name": "nightly",
            "queue": "reports",
            "type": "sleep",
            "payload": {"ms": 1, "note": "{{schedule}} at {{fire_time}}"},
            "spec": {"kind": "cron", "expr": "0 3 * * *"},
        }))
        .unwrap();
        assert_eq!(
            (def.overlap, def.misfire, def.enabled),
            (Overlap::Allow, Misfire::FireOnce, true)
        );
        let job = def.job(t("2026-11-30T03:00:00Z"));
        assert_eq!(
            job.id.as_deref(),
            Some("schedule:nightly:2026-11-30T03:00:00Z")
        );
        assert_eq!(
            job.payload,
            r#"{"ms":1,"note":"nightly at 2026-11-30T03:00:00Z"}"#
        );
        assert_eq!(job.run_at, Some(t("2026-11-30T03:00:00Z")));
    }

    #[test]
    fn definitions_are_checked() {
        let base = ScheduleDef::new(
            "n",
            "q",
            "noop",
            SpecDef::Interval {
                every_ms: 0,
                start_at: None,
            },
        );
        let field = |def: &ScheduleDef| match def.check(Utc::now()).unwrap_err() {
            Error::InvalidInput { field, .. } => field,
            Error::InvalidQueueName { .. } => "queue",
            other => panic!("{other:?}"),
        };
        assert_eq!(field(&base), "interval");
        assert_eq!(
            field(&ScheduleDef {
                name: "a b".into(),
                ..base.clone()
            }),
            "name"
        );
        assert_eq!(
            field(&ScheduleDef {
                queue: "".into(),
                ..base.clone()
            }),
            "queue"
        );
        assert_eq!(
            field(&ScheduleDef {
                overlap: Overlap::Threshold(-1),
                ..base.clone()
            }),
            "overlap"
        );
        let zone = ScheduleDef {
            spec: SpecDef::Cron {
                expr: "* * * * *".into(),
                timezone: "Nowhere/City".into(),
            },
            ..base.clone()
        };
        assert_eq!(field(&zone), "timezone");
    }

    #[test]
    fn schedule_names_that_would_clash_with_routes_are_refused() {
        for ok in ["nightly", "reports.daily:eu", "preview-2", "a.b"] {
            validate_schedule_name(ok).unwrap();
        }
        for (bad, why) in [
            ("preview", "reserved"),
            ("..", "reserved"),
            (".", "reserved"),
            ("", "1–128 bytes"),
            ("a/b", "ASCII letters"),
        ] {
            let err = validate_schedule_name(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
