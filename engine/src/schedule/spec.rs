//! When a schedule fires: cron expressions in an IANA time zone, and
//! intervals aligned to a start time.
//!
//! Cron expressions have 5 fields (minute hour day-of-month month
//! day-of-week, read as crontab reads them: day-of-week 0–7 with 0 and 7 for
//! Sunday, or names), or 6/7 fields with seconds first and years last, read
//! exactly as the `cron` crate reads them (day-of-week 1–7 with 1 for
//! Sunday; names are clearer). Day-of-month and day-of-week must both match.
//!
//! Daylight-saving time follows cron (cronie): a schedule whose hour field
//! is a wildcard (`*`, `*/n`) follows the wall clock as it is — a local time
//! skipped by spring-forward has nothing to fire, and the repeated hour of
//! fall-back fires in both passes. A schedule at fixed hours fires once per
//! matching wall-clock time — at the end of the gap when spring-forward
//! skips it (02:30 → 03:00 in Berlin), and at the first of the two when
//! fall-back repeats it.

use std::str::FromStr;

use chrono::{DateTime, Duration as TimeDelta, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// How far a DST transition can move local time (2 h in history's
/// double-summer-time zones; 3 h for margin).
const MAX_SHIFT: TimeDelta = TimeDelta::hours(3);

/// When a schedule fires.
#[derive(Debug, Clone)]
pub enum Spec {
    /// A cron expression in a time zone.
    Cron(Box<CronSpec>),
    /// Every `every` from `start` (fires at start + k·every).
    Interval {
        /// The period, at least a second.
        every: TimeDelta,
        /// The alignment anchor (and first fire).
        start: DateTime<Utc>,
    },
}

impl Spec {
    /// The first fire time strictly after `after`, if there is one.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Spec::Cron(cron) => cron.next_after(after),
            Spec::Interval { every, start } => {
                if after < *start {
                    return Some(*start);
                }
                let period = every.num_microseconds()?;
                let elapsed = (after - *start).num_microseconds()?;
                let k = elapsed / period + 1;
                Some(*start + TimeDelta::microseconds(k.checked_mul(period)?))
            }
        }
    }

    /// The time zone fire times are shown in.
    pub fn zone(&self) -> Tz {
        match self {
            Spec::Cron(cron) => cron.zone,
            Spec::Interval { .. } => Tz::UTC,
        }
    }
}

/// A parsed cron expression with its zone.
#[derive(Debug, Clone)]
pub struct CronSpec {
    schedule: cron::Schedule,
    zone: Tz,
    /// Follows the wall clock through DST changes (hour field is a wildcard).
    wildcard_hours: bool,
}

/// Field names by field count.
const FIVE: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const SIX: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
];
const SEVEN: [&str; 7] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];

fn allowed(field: &str, five: bool) -> &'static str {
    match field {
        "second" | "minute" => "0–59",
        "hour" => "0–23",
        "day-of-month" => "1–31",
        "month" => "1–12 or JAN–DEC",
        "day-of-week" if five => "0–7 (0 and 7 are Sunday) or SUN–SAT",
        "day-of-week" => "1–7 (1 is Sunday) or SUN–SAT",
        _ => "1970–2099",
    }
}

fn cron_error(reason: String) -> Error {
    Error::InvalidInput {
        field: "cron",
        reason,
    }
}

impl CronSpec {
    /// Parses `expr` for `zone` (an IANA name such as `Europe/Berlin`). The
    /// error names the field that is wrong and what it allows.
    pub fn parse(expr: &str, zone: &str) -> Result<CronSpec> {
        let zone = parse_zone(zone)?;
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let names: &[&str] = match fields.len() {
            5 => &FIVE,
            6 => &SIX,
            7 => &SEVEN,
            n => {
                return Err(cron_error(format!(
                    "{expr:?} has {n} fields; expected 5 (minute hour day-of-month month \
                     day-of-week), or 6/7 with seconds first and years last"
                )));
            }
        };
        let five = fields.len() == 5;
        // The cron crate reads 6 or 7 fields; a 5-field crontab line gets
        // second 0 and its day-of-week translated to the crate's numbering.
        let mut crate_fields: Vec<String> = Vec::with_capacity(7);
        if five {
            crate_fields.push("0".to_owned());
        }
        for (field, name) in fields.iter().zip(names) {
            let text = if five && *name == "day-of-week" {
                crontab_weekdays(field).map_err(|reason| {
                    cron_error(format!(
                        "day-of-week {field:?}: {reason}; allowed: {}",
                        allowed(name, true)
                    ))
                })?
            } else {
                (*field).to_owned()
            };
            crate_fields.push(text);
        }
        // Check each field alone (the others wildcards), so the error says
        // which one is wrong.
        let offset = usize::from(five);
        for (i, name) in names.iter().enumerate() {
            let alone: Vec<&str> = (0..crate_fields.len())
                .map(|j| {
                    if j == i + offset {
                        crate_fields[j].as_str()
                    } else if j == 0 {
                        "0"
                    } else {
                        "*"
                    }
                })
                .collect();
            if cron::Schedule::from_str(&alone.join(" ")).is_err() {
                return Err(cron_error(format!(
                    "{name} {:?} is not valid; allowed: {}, with lists (a,b), ranges (a-b) and \
                     steps (*/n)",
                    fields[i],
                    allowed(name, five)
                )));
            }
        }
        let schedule = cron::Schedule::from_str(&crate_fields.join(" "))
            .map_err(|err| cron_error(format!("{expr:?}: {err}")))?;
        let hour = fields[if five { 1 } else { 2 }];
        let spec = CronSpec {
            schedule,
            zone,
            wildcard_hours: hour.starts_with('*'),
        };
        if spec.naive_after(Utc::now().naive_utc()).next().is_none() {
            return Err(cron_error(format!("{expr:?} never fires")));
        }
        Ok(spec)
    }

    /// Matching wall-clock times strictly after `after`, in order.
    fn naive_after(&self, after: NaiveDateTime) -> impl Iterator<Item = NaiveDateTime> + '_ {
        self.schedule
            .after(&Utc.from_utc_datetime(&after))
            .map(|t| t.naive_utc())
    }

    /// The instants a wall-clock time fires at (see the module docs).
    fn instants(&self, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) if self.wildcard_hours => {
                vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
            }
            LocalResult::Ambiguous(first, _) => vec![first.with_timezone(&Utc)],
            LocalResult::None if self.wildcard_hours => Vec::new(),
            LocalResult::None => vec![gap_end(self.zone, local)],
        }
    }

    fn offset_at(&self, t: DateTime<Utc>) -> i32 {
        self.zone
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone).naive_local();
        // The common case: the next wall-clock match is a plain instant with
        // the same offset as now (no DST change in between).
        let first = self.naive_after(local).next()?;
        if let LocalResult::Single(t) = self.zone.from_local_datetime(&first) {
            let t = t.with_timezone(&Utc);
            if t > after && self.offset_at(t) == self.offset_at(after) {
                return Some(t);
            }
        }
        // Near a DST change, wall-clock order and real order differ: look at
        // matches from a little before, and keep the earliest instant.
        let mut best: Option<DateTime<Utc>> = None;
        for candidate in self.naive_after(local - MAX_SHIFT) {
            if let Some(best) = best
                && candidate > best.with_timezone(&self.zone).naive_local() + MAX_SHIFT
            {
                break;
            }
            for t in self.instants(candidate) {
                if t > after && best.is_none_or(|best| t < best) {
                    best = Some(t);
                }
            }
        }
        best
    }
}

/// The instant a spring-forward gap that swallows `local` ends: the first
/// instant whose wall-clock time is past `local`.
fn gap_end(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Offsets lie within ±18 h: the answer is in this window.
    let mut lo = Utc.from_utc_datetime(&local).timestamp() - 18 * 3600;
    let mut hi = Utc.from_utc_datetime(&local).timestamp() + 18 * 3600;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let wall = zone.timestamp_opt(mid, 0).single().map(|t| t.naive_local());
        if wall.is_some_and(|wall| wall > local) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Utc.timestamp_opt(hi, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Parses an IANA zone name.
pub fn parse_zone(zone: &str) -> Result<Tz> {
    zone.parse::<Tz>().map_err(|_| Error::InvalidInput {
        field: "timezone",
        reason: format!(
            "{zone:?} is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)"
        ),
    })
}

/// A crontab day-of-week field (0–7, 0 and 7 = Sunday, names) as the cron
/// crate's list of day names.
fn crontab_weekdays(field: &str) -> std::result::Result<String, String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    let day = |text: &str| -> std::result::Result<u32, String> {
        if let Some(i) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            return Ok(i as u32);
        }
        match text.parse::<u32>() {
            Ok(n) if n <= 7 => Ok(n % 7),
            _ => Err(format!("{text:?} is not a day of the week")),
        }
    };
    if field == "*" || field == "?" {
        return Ok("*".to_owned());
    }
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => match step.parse::<u32>() {
                Ok(step) if step > 0 => (range, step),
                _ => return Err(format!("{step:?} is not a step")),
            },
            None => (item, 1),
        };
        let (from, to) = match range {
            "*" => (0, 6),
            _ => match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    // `5-7` is Friday to Sunday: 7 ends a range as 7, not 0.
                    let b = if b == 0 && a > 0 { 7 } else { b };
                    if a > b {
                        return Err(format!("{range:?} runs backwards"));
                    }
                    (a, b)
                }
                None => {
                    let a = day(range)?;
                    (a, if step > 1 { 6 } else { a })
                }
            },
        };
        for d in (from..=to).step_by(step as usize) {
            days[(d % 7) as usize] = true;
        }
    }
    Ok(NAMES
        .iter()
        .zip(days)
        .filter(|(_, on)| *on)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// The next `n` fire times after `from`, shown in the spec's zone.
    fn fires(spec: &Spec, from: &str, n: usize) -> Vec<String> {
        let mut at = utc(from);
        (0..n)
            .map(|_| {
                at = spec.next_after(at).unwrap();
                at.with_timezone(&spec.zone()).to_rfc3339()
            })
            .collect()
    }

    fn cron(expr: &str, zone: &str) -> Spec {
        Spec::Cron(Box::new(CronSpec::parse(expr, zone).unwrap()))
    }

    #[test]
    fn five_field_expressions_read_like_crontab() {
        let weekdays = cron("30 9 * * 1-5", "UTC");
        assert_eq!(
            fires(&weekdays, "2026-11-27T10:00:00Z", 3),
            [
                "2026-11-30T09:30:00+00:00",
                "2026-12-01T09:30:00+00:00",
                "2026-12-02T09:30:00+00:00"
            ]
        );
        let sundays = cron("0 0 * * 0", "UTC");
        assert_eq!(
            fires(&sundays, "2026-11-30T00:00:00Z", 1),
            ["2026-12-06T00:00:00+00:00"]
        );
        assert_eq!(
            fires(&cron("0 0 * * 7", "UTC"), "2026-11-30T00:00:00Z", 1),
            fires(&sundays, "2026-11-30T00:00:00Z", 1)
        );
        assert_eq!(
            fires(&cron("0 12 * * fri-7", "UTC"), "2026-11-30T00:00:00Z", 3),
            [
                "2026-12-04T12:00:00+00:00",
                "2026-12-05T12:00:00+00:00",
                "2026-12-06T12:00:00+00:00"
            ]
        );
        assert_eq!(
            fires(&cron("*/15 * * * *", "UTC"), "2026-11-30T10:07:00Z", 3),
            [
                "2026-11-30T10:15:00+00:00",
                "2026-11-30T10:30:00+00:00",
                "2026-11-30T10:45:00+00:00"
            ]
        );
    }

    #[test]
    fn six_and_seven_fields_have_seconds_and_years() {
        assert_eq!(
            fires(&cron("* * * * * *", "UTC"), "2026-11-30T10:00:58Z", 3),
            [
                "2026-11-30T10:00:59+00:00",
                "2026-11-30T10:01:00+00:00",
                "2026-11-30T10:01:01+00:00"
            ]
        );
        assert_eq!(
            fires(&cron("0 0 12 1 1 * 2030", "UTC"), "2026-11-30T00:00:00Z", 1),
            ["2030-01-01T12:00:00+00:00"]
        );
    }

    #[test]
    fn february_29th_fires_in_leap_years_only() {
        assert_eq!(
            fires(&cron("0 6 29 2 *", "UTC"), "2026-11-30T00:00:00Z", 2),
            ["2028-02-29T06:00:00+00:00", "2032-02-29T06:00:00+00:00"]
        );
    }

    #[test]
    fn a_daily_0230_in_berlin_across_dst() {
        let spec = cron("30 2 * * *", "Europe/Berlin");
        // Spring forward (29 March 2026, 02:00 → 03:00): 02:30 does not
        // exist; it fires once, when the gap ends.
        assert_eq!(
            fires(&spec, "2026-03-27T12:00:00Z", 3),
            [
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00"
            ]
        );
        // Fall back (25 October 2026, 03:00 → 02:00): 02:30 happens twice;
        // it fires at the first.
        assert_eq!(
            fires(&spec, "2026-10-23T12:00:00Z", 3),
            [
                "2026-10-24T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00"
            ]
        );
    }

    #[test]
    fn a_daily_0230_in_new_york_across_dst() {
        let spec = cron("30 2 * * *", "America/New_York");
        assert_eq!(
            fires(&spec, "2026-03-07T12:00:00Z", 3),
            [
                "2026-03-08T03:00:00-04:00",
                "2026-03-09T02:30:00-04:00",
                "2026-03-10T02:30:00-04:00"
            ]
        );
        assert_eq!(
            fires(&spec, "2026-10-31T12:00:00Z", 2),
            ["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]
        );
        // New York falls back at 02:00 EDT → 01:00 EST: 01:30 repeats, and
        // a fixed 01:30 fires once.
        assert_eq!(
            fires(
                &cron("30 1 * * *", "America/New_York"),
                "2026-10-31T12:00:00Z",
                2
            ),
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
        );
    }

    #[test]
    fn wildcard_hours_follow_the_wall_clock_through_dst() {
        let half_hourly = cron("0,30 * * * *", "Europe/Berlin");
        assert_eq!(
            fires(&half_hourly, "2026-03-29T00:00:00Z", 3),
            [
                "2026-03-29T01:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T03:30:00+02:00"
            ]
        );
        assert_eq!(
            fires(&half_hourly, "2026-10-25T00:00:00Z", 4),
            [
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00",
                "2026-10-25T03:00:00+01:00"
            ]
        );
    }

    #[test]
    fn intervals_align_to_their_start() {
        let spec = Spec::Interval {
            every: TimeDelta::minutes(10),
            start: utc("2026-11-30T10:00:07Z"),
        };
        assert_eq!(
            fires(&spec, "2026-11-30T09:00:00Z", 2),
            ["2026-11-30T10:00:07+00:00", "2026-11-30T10:10:07+00:00"]
        );
        assert_eq!(
            fires(&spec, "2026-11-30T10:10:07Z", 1),
            ["2026-11-30T10:20:07+00:00"]
        );
        assert_eq!(
            fires(&spec, "2026-11-30T13:35:00Z", 1),
            ["2026-11-30T13:40:07+00:00"]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let reason = |expr: &str| match CronSpec::parse(expr, "UTC").unwrap_err() {
            Error::InvalidInput {
                field: "cron",
                reason,
            } => reason,
            other => panic!("{other:?}"),
        };
        assert!(
            reason("61 * * * *").starts_with("minute \"61\""),
            "{}",
            reason("61 * * * *")
        );
        assert!(reason("0 24 * * *").starts_with("hour \"24\""));
        assert!(reason("0 0 32 * *").starts_with("day-of-month \"32\""));
        assert!(reason("0 0 1 13 *").starts_with("month \"13\""));
        assert!(reason("0 0 * * 8").starts_with("day-of-week \"8\""));
        assert!(reason("0 0 * * funday").contains("not a day of the week"));
        assert!(reason("99 0 0 * * *").starts_with("second \"99\""));
        assert!(reason("* * *").contains("has 3 fields"));
        assert!(reason("0 0 30 2 *").contains("never fires"));
        assert!(matches!(
            CronSpec::parse("* * * * *", "Mars/Olympus"),
            Err(Error::InvalidInput {
                field: "timezone",
                ..
            })
        ));
    }

    #[test]
    fn crontab_weekdays_become_names() {
        assert_eq!(crontab_weekdays("1-5").unwrap(), "MON,TUE,WED,THU,FRI");
        assert_eq!(crontab_weekdays("0,6").unwrap(), "SUN,SAT");
        assert_eq!(crontab_weekdays("*/2").unwrap(), "SUN,TUE,THU,SAT");
        assert_eq!(crontab_weekdays("5-7").unwrap(), "SUN,FRI,SAT");
        assert_eq!(crontab_weekdays("sat-sun").unwrap(), "SUN,SAT");
        assert_eq!(
            crontab_weekdays("5-1").unwrap_err(),
            "\"5-1\" runs backwards"
        );
    }
}
