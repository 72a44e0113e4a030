//! Queues: names and persisted settings.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest queue name, in bytes.
pub const MAX_QUEUE_NAME_BYTES: usize = 128;
/// Workers per queue unless configured.
pub const DEFAULT_CONCURRENCY: i32 = 8;
/// Most workers a queue may have.
pub const MAX_CONCURRENCY: i32 = 10_000;
/// Slowest rate limit: a job per 1,000 s.
pub const MIN_RATE: f64 = 0.001;
/// Fastest rate limit.
pub const MAX_RATE: f64 = 1_000_000.0;
/// How long a claim holds a job without renewal.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest idle TTL: a year, in milliseconds.
pub const MAX_IDLE_TTL_MS: i64 = 365 * 86_400_000;
/// Most queue rules.
pub const MAX_RULES: usize = 100;
/// Longest rule pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1_000;

/// Checks a queue name: letters, digits and `-_.:`, 1–128 bytes.
pub fn validate_queue_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_QUEUE_NAME_BYTES {
        "must be at most 128 bytes"
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        "may hold only ASCII letters, digits and - _ . :"
    } else if name.chars().all(|c| c == '.') {
        // `/api/v1/queues/..` is a path clients rewrite, not a name.
        "must not be only dots"
    } else {
        return Ok(());
    };
    Err(Error::InvalidQueueName {
        name: name.to_owned(),
        reason,
    })
}

/// The order in which a queue hands out ready jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// Oldest `run_at` first.
    #[default]
    Fifo,
    /// Highest priority first, then oldest `run_at`.
    Priority,
}

impl Ordering {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Ordering::Fifo => "fifo",
            Ordering::Priority => "priority",
        }
    }
}

impl fmt::Display for Ordering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Ordering {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fifo" => Ok(Ordering::Fifo),
            "priority" => Ok(Ordering::Priority),
            other => Err(Error::InvalidInput {
                field: "ordering",
                reason: format!("{other:?} is not fifo or priority"),
            }),
        }
    }
}

/// A queue's settings, persisted in `queues` and editable at run time.
/// Fields left out of a deserialized value take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct QueueSettings {
    /// Workers per process for this queue.
    pub concurrency: i32,
    /// Claim order.
    pub ordering: Ordering,
    /// A paused queue accepts jobs but starts none.
    pub paused: bool,
    /// How long a claim holds a job without renewal, in milliseconds.
    pub lock_timeout_ms: i64,
    /// Jobs started per second, when limited.
    pub rate_limit_per_sec: Option<f64>,
    /// Keep at most this many terminal jobs.
    pub retention_max_jobs: Option<i64>,
    /// Keep terminal jobs at most this long, in milliseconds.
    pub retention_max_age_ms: Option<i64>,
    /// Delete the queue once it has had no jobs at all for this long, in
    /// milliseconds (queue groups: dynamic queues that come and go).
    pub idle_ttl_ms: Option<i64>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            ordering: Ordering::Fifo,
            paused: false,
            lock_timeout_ms: i64::try_from(DEFAULT_LOCK_TIMEOUT.as_millis()).unwrap_or(30_000),
            rate_limit_per_sec: None,
            retention_max_jobs: None,
            retention_max_age_ms: None,
            idle_ttl_ms: None,
        }
    }
}

impl QueueSettings {
    /// Checks every field, naming the first one that is out of range.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| {
            Err(Error::InvalidInput {
                field,
                reason: reason.to_owned(),
            })
        };
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return invalid("concurrency", "must be between 1 and 10000");
        }
        if !(1_000..=86_400_000).contains(&self.lock_timeout_ms) {
            return invalid(
                "lock_timeout_ms",
                "must be between 1000 (1 s) and 86400000 (1 day)",
            );
        }
        if self
            .rate_limit_per_sec
            .is_some_and(|rate| !(MIN_RATE..=MAX_RATE).contains(&rate))
        {
            return invalid(
                "rate_limit_per_sec",
                "must be between 0.001 (one job per 1,000 s) and 1000000 jobs per second",
            );
        }
        if self.retention_max_jobs.is_some_and(|n| n < 0) {
            return invalid("retention_max_jobs", "must not be negative");
        }
        if self.retention_max_age_ms.is_some_and(|ms| ms <= 0) {
            return invalid("retention_max_age_ms", "must be positive");
        }
        if self
            .idle_ttl_ms
            .is_some_and(|ms| !(1_000..=MAX_IDLE_TTL_MS).contains(&ms))
        {
            return invalid(
                "idle_ttl_ms",
                "must be between 1000 (1 s) and 31536000000 (365 days)",
            );
        }
        Ok(())
    }

    /// The lock timeout as a duration.
    pub fn lock_timeout(&self) -> Duration {
        Duration::from_millis(self.lock_timeout_ms.unsigned_abs())
    }
}

/// A queue and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Queue {
    /// The queue's name.
    pub name: String,
    /// Its settings.
    #[serde(flatten)]
    pub settings: QueueSettings,
    /// The pattern of the queue rule whose settings it follows; `None`
    /// once its own settings were set (they win) or when no rule matched.
    pub rule: Option<String>,
}

/// A rule of a queue group: a queue created by a put whose name matches
/// `pattern` (a regular expression matched against the whole name) gets
/// `settings`. Rules are tried in order; the first match wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueRule {
    /// A regular expression over the whole queue name, e.g. `tenant-.*`.
    pub pattern: String,
    /// The settings queues matching it are created with.
    #[serde(default)]
    pub settings: QueueSettings,
}

/// Rules, compiled: what picks a new queue's settings.
#[derive(Debug, Clone)]
pub struct QueueRules(Vec<(regex::Regex, QueueRule)>);

impl QueueRules {
    /// Checks and compiles `rules`: at most [`MAX_RULES`], each pattern a
    /// valid regular expression given once, each rule's settings valid.
    pub fn new(rules: Vec<QueueRule>) -> Result<Self> {
        if rules.len() > MAX_RULES {
            return Err(Error::InvalidInput {
                field: "rules",
                reason: format!("{} rules; the limit is {MAX_RULES}", rules.len()),
            });
        }
        let mut compiled: Vec<(regex::Regex, QueueRule)> = Vec::with_capacity(rules.len());
        for rule in rules {
            let pattern = &rule.pattern;
            if pattern.is_empty() || pattern.len() > MAX_PATTERN_BYTES {
                return Err(Error::InvalidInput {
                    field: "pattern",
                    reason: format!("{pattern:?}: a pattern is 1 to {MAX_PATTERN_BYTES} bytes"),
                });
            }
            if compiled.iter().any(|(_, r)| r.pattern == *pattern) {
                return Err(Error::InvalidInput {
                    field: "pattern",
                    reason: format!("{pattern:?} is given twice"),
                });
            }
            let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                .size_limit(1 << 20)
                .build()
                .map_err(|err| Error::InvalidInput {
                    field: "pattern",
                    reason: format!("{pattern:?} is not a regular expression: {err}"),
                })?;
            rule.settings
                .validate()
                .map_err(|err| Error::InvalidInput {
                    field: "settings",
                    reason: format!("rule {pattern:?}: {err}"),
                })?;
            compiled.push((regex, rule));
        }
        Ok(Self(compiled))
    }

    /// The first rule matching `queue`.
    pub fn matching(&self, queue: &str) -> Option<&QueueRule> {
        self.0
            .iter()
            .find(|(regex, _)| regex.is_match(queue))
            .map(|(_, rule)| rule)
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &QueueRule> {
        self.0.iter().map(|(_, rule)| rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        for ok in [
            "default",
            "a",
            "emails:high",
            "v1.reports-daily_x",
            &"q".repeat(128),
        ] {
            validate_queue_name(ok).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            ("has space", "ASCII letters"),
            ("ünï", "ASCII letters"),
            ("a/b", "ASCII letters"),
            (&"q".repeat(129), "128 bytes"),
            ("..", "only dots"),
        ] {
            let err = validate_queue_name(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn rules_match_whole_names_in_order() {
        let rule = |pattern: &str, concurrency| QueueRule {
            pattern: pattern.to_owned(),
            settings: QueueSettings {
                concurrency,
                ..QueueSettings::default()
            },
        };
        let rules = QueueRules::new(vec![rule("tenant-[0-9]+", 2), rule("tenant-.*", 3)]).unwrap();
        assert_eq!(rules.matching("tenant-42").unwrap().settings.concurrency, 2);
        assert_eq!(rules.matching("tenant-x").unwrap().settings.concurrency, 3);
        // Anchored: a match inside the name is not a match.
        assert!(rules.matching("my-tenant-1").is_none());
        for (bad, why) in [
            (vec![rule("(", 1)], "not a regular expression"),
            (vec![rule("a", 1), rule("a", 2)], "twice"),
            (vec![rule("a", 0)], "concurrency"),
            (vec![rule("", 1)], "1 to 1000 bytes"),
        ] {
            let err = QueueRules::new(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn settings_validation_names_the_field() {
        QueueSettings::default().validate().unwrap();
        let bad = QueueSettings {
            concurrency: 0,
            ..QueueSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("concurrency")
        );
        let bad = QueueSettings {
            rate_limit_per_sec: Some(f64::NAN),
            ..QueueSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("rate_limit_per_sec")
        );
    }
}
