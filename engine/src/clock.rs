//! Time, injected.
//!
//! Every service reads the time and sleeps through a [`Clock`], so tests can
//! use a [`ManualClock`] and move time forward instead of waiting for it.
//! Timestamps are microseconds since the Unix epoch (UTC), as stored.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A source of time: the system clock, or a manual one for tests.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// Now, in microseconds since the Unix epoch.
    pub fn now_us(&self) -> i64 {
        match &self.manual {
            Some(manual) => *manual.now.borrow(),
            None => Utc::now().timestamp_micros(),
        }
    }

    /// Now, as a date-time.
    pub fn now(&self) -> DateTime<Utc> {
        from_us(self.now_us())
    }

    /// Waits until the clock reads at least `deadline_us`.
    pub async fn sleep_until(&self, deadline_us: i64) {
        match &self.manual {
            Some(manual) => {
                let mut rx = manual.now.subscribe();
                // `wait_for` checks the current value first, so an advance
                // that happened before we subscribed is not missed. The
                // sender lives as long as the clock, so it cannot fail.
                let _ = rx.wait_for(|now| *now >= deadline_us).await;
            }
            None => {
                let wait = deadline_us.saturating_sub(self.now_us());
                if wait > 0 {
                    tokio::time::sleep(Duration::from_micros(wait.unsigned_abs())).await;
                }
            }
        }
    }

    /// Waits for `duration` as this clock counts it.
    pub async fn sleep(&self, duration: Duration) {
        self.sleep_until(self.now_us().saturating_add(duration_us(duration)))
            .await;
    }
}

/// A clock that only moves when told to. Clones share one time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<watch::Sender<i64>>,
}

impl ManualClock {
    /// A manual clock reading `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(start.timestamp_micros())),
        }
    }

    /// The [`Clock`] to hand to an engine.
    pub fn clock(&self) -> Clock {
        Clock {
            manual: Some(self.clone()),
        }
    }

    /// Moves time forward, waking every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        self.now
            .send_modify(|now| *now = now.saturating_add(duration_us(by)));
    }
}

/// A duration in whole microseconds, saturating.
pub fn duration_us(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Microseconds since the epoch as a date-time (clamped to chrono's range).
pub fn from_us(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A length of time in milliseconds as people write it, in the largest
/// unit that divides it (`7d`, `90m`, `1500ms`): what [`parse_duration`]
/// reads back.
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Parses a duration as people write it: `250ms`, `30s`, `5m`, `2h`, `1d`
/// (a bare number is seconds). The error says what was wrong.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "{text:?} is negative; a duration must not be negative"
        ));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 30s, 5m, 2h or 1d"))?;
    let seconds = |factor: u64| {
        n.checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3_600),
        "d" => seconds(86_400),
        other => Err(format!(
            "{text:?}: unknown unit {other:?}; use ms, s, m, h or d"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_read_in_their_largest_unit_and_back() {
        assert_eq!(format_duration_ms(7 * 86_400_000), "7d");
        assert_eq!(format_duration_ms(90 * 60_000), "90m");
        assert_eq!(format_duration_ms(1_500), "1500ms");
        assert_eq!(format_duration_ms(3_600_000), "1h");
        for ms in [1_500, 90_000, 86_400_000] {
            let text = format_duration_ms(ms);
            assert_eq!(
                parse_duration(&text).unwrap().as_millis(),
                ms as u128,
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_on_advance() {
        let manual = ManualClock::new(from_us(1_000_000));
        let clock = manual.clock();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(60)).await }
        });
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        manual.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        manual.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        assert_eq!(clock.now_us(), 61_000_000);
    }
}
