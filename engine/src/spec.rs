//! [`NewJob`]: what a caller hands to `put`, and its validation.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::clock::duration_us;
use crate::dependency::{
    Dependency, OnDependencyFailure, ScopeKind, validate_edges, validate_scopes,
};
use crate::error::{Error, Result};
use crate::job::Job;
use crate::queue::validate_queue_name;
use crate::registry::Registry;

/// Attempts a job gets unless told otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;
/// Most attempts a job may ask for.
pub const MAX_ATTEMPTS_LIMIT: i32 = 1_000;
/// The first retry's delay; each later one doubles, with jitter.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest delay between attempts.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(3_600);
/// Longest job id, in bytes.
pub const MAX_ID_BYTES: usize = 255;
/// Largest payload, in bytes of JSON.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;

/// A job to put: queue, type and payload, and optional scheduling and retry
/// settings. Nothing is checked until `put`, which refuses the whole call
/// (storing nothing) if any field is invalid.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The queue to put it in (created on first use).
    pub queue: String,
    /// The registered type name.
    pub job_type: String,
    /// The payload, as JSON text.
    pub payload: String,
    /// The id; a UUIDv7 is generated when `None`.
    pub id: Option<String>,
    /// Don't start before this time.
    pub run_at: Option<DateTime<Utc>>,
    /// Don't start before now + this (must not be negative).
    pub delay: Option<TimeDelta>,
    /// Start by then or never: still waiting past it, the job becomes
    /// `expired` (amboy's DispatchBy).
    pub dispatch_by: Option<DateTime<Utc>>,
    /// Higher runs first in `priority` queues.
    pub priority: i32,
    /// Attempts before the job fails.
    pub max_attempts: i32,
    /// Longest an attempt may run; the run is cancelled and fails past it.
    pub max_time: Option<Duration>,
    /// The first retry's delay.
    pub backoff_base: Duration,
    /// The longest delay between attempts.
    pub backoff_max: Duration,
    /// Jobs (by id, stored or put in the same call) that must complete
    /// before this one runs; it is `blocked` until then.
    pub depends_on: Vec<String>,
    /// What happens when one of them ends without completing.
    pub on_dependency_failure: OnDependencyFailure,
    /// amboy's dependency manager, checked just before the job runs.
    pub dependency: Dependency,
    /// Dispatch scopes: no two running jobs hold the same one.
    pub scopes: Vec<String>,
    /// Enqueue scopes: no two unfinished jobs hold the same one; a put
    /// while another unfinished job holds one is refused.
    pub enqueue_scopes: Vec<String>,
}

impl NewJob {
    /// A job of a Rust job type.
    pub fn new<J: Job>(queue: impl Into<String>, job: &J) -> Result<Self> {
        let payload = serde_json::to_string(job).map_err(|err| Error::InvalidPayload {
            job_type: J::NAME.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(Self::from_json(queue, J::NAME, payload))
    }

    /// A job given by type name and JSON payload text (from the CLI or API).
    pub fn from_json(
        queue: impl Into<String>,
        job_type: impl Into<String>,
        payload: impl Into<String>,
    ) -> Self {
        Self {
            queue: queue.into(),
            job_type: job_type.into(),
            payload: payload.into(),
            id: None,
            run_at: None,
            delay: None,
            dispatch_by: None,
            priority: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_time: None,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            depends_on: Vec::new(),
            on_dependency_failure: OnDependencyFailure::Fail,
            dependency: Dependency::Always,
            scopes: Vec::new(),
            enqueue_scopes: Vec::new(),
        }
    }

    /// Sets the id (by default a UUIDv7, ordered within the process). A
    /// FIFO queue starts the jobs of one put in id order.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Delays the first attempt.
    pub fn delay(mut self, delay: TimeDelta) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sets the earliest start.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Sets the deadline for starting: a job still waiting then expires.
    pub fn dispatch_by(mut self, deadline: DateTime<Utc>) -> Self {
        self.dispatch_by = Some(deadline);
        self
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the most attempts.
    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Limits each attempt's run time.
    pub fn max_time(mut self, limit: Duration) -> Self {
        self.max_time = Some(limit);
        self
    }

    /// Sets the retry back-off bounds.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// Makes the job wait for these jobs to complete.
    pub fn depends_on<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.depends_on.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Says what happens when a dependency ends without completing.
    pub fn on_dependency_failure(mut self, policy: OnDependencyFailure) -> Self {
        self.on_dependency_failure = policy;
        self
    }

    /// Sets the dependency manager.
    pub fn dependency(mut self, dependency: Dependency) -> Self {
        self.dependency = dependency;
        self
    }

    /// Adds dispatch scopes (held while the job runs).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds enqueue scopes (held from put until the job ends).
    pub fn enqueue_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.enqueue_scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Checks every field and resolves defaults into the row to insert,
    /// created at `now` (µs): a put's jobs are all created at one instant.
    pub(crate) fn validate(self, registry: &Registry, now: i64) -> Result<JobInsert> {
        validate_queue_name(&self.queue)?;
        let id = match self.id {
            Some(id) => {
                validate_id(&id)?;
                id
            }
            None => uuid::Uuid::now_v7().to_string(),
        };
        if self.payload.len() > MAX_PAYLOAD_BYTES {
            return Err(invalid(
                "payload",
                format!("is {} bytes; the limit is 1 MiB", self.payload.len()),
            ));
        }
        let type_version = registry.check(&self.job_type, &self.payload)?;
        let run_at = match (self.run_at, self.delay) {
            (Some(_), Some(_)) => {
                return Err(invalid("delay", "give either a delay or run_at, not both"));
            }
            (Some(at), None) => at.timestamp_micros(),
            (None, Some(delay)) if delay < TimeDelta::zero() => {
                return Err(invalid(
                    "delay",
                    format!("must not be negative (got {delay})"),
                ));
            }
            (None, Some(delay)) => now.saturating_add(delay.num_microseconds().unwrap_or(i64::MAX)),
            (None, None) => now,
        };
        let dispatch_by = self.dispatch_by.map(|at| at.timestamp_micros());
        match dispatch_by {
            Some(deadline) if deadline <= now => {
                return Err(invalid("dispatch_by", "is already past"));
            }
            Some(deadline) if deadline < run_at => {
                return Err(invalid(
                    "dispatch_by",
                    "must not be before the job may start (run_at or now + delay)",
                ));
            }
            _ => {}
        }
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(invalid(
                "max_attempts",
                format!(
                    "must be between 1 and {MAX_ATTEMPTS_LIMIT} (got {})",
                    self.max_attempts
                ),
            ));
        }
        if self.max_time.is_some_and(|limit| limit.is_zero()) {
            return Err(invalid("max_time", "must be positive"));
        }
        if self.backoff_max < self.backoff_base {
            return Err(invalid("backoff", "the maximum must not be below the base"));
        }
        let depends_on = validate_edges(&id, self.depends_on)?;
        let scopes = validate_scopes(self.scopes, self.enqueue_scopes)?;
        self.dependency.validate()?;
        let dependency = match self.dependency {
            Dependency::Always => None,
            manager => Some(
                serde_json::to_string(&manager).map_err(|err| Error::Internal(err.to_string()))?,
            ),
        };
        Ok(JobInsert {
            id,
            queue: self.queue,
            job_type: self.job_type,
            type_version,
            payload: self.payload,
            priority: self.priority,
            max_attempts: self.max_attempts,
            backoff_base_ms: millis(self.backoff_base),
            backoff_max_ms: millis(self.backoff_max),
            max_time_ms: self.max_time.map(millis),
            created_at: now,
            run_at,
            dispatch_by,
            depends_on,
            on_dependency_failure: self.on_dependency_failure,
            dependency,
            scopes,
        })
    }
}

/// An [`Error::InvalidInput`] for `field`.
pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidInput {
        field,
        reason: reason.into(),
    }
}

fn millis(duration: Duration) -> i64 {
    duration_us(duration) / 1_000
}

/// Checks a caller-chosen job id: 1–255 bytes, no whitespace or control characters.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(invalid("id", format!("must be 1 to {MAX_ID_BYTES} bytes")));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "id",
            format!("{id:?} contains whitespace or control characters"),
        ));
    }
    Ok(())
}

/// A validated job, ready to insert.
#[derive(Debug, Clone, Serialize)]
pub struct JobInsert {
    pub(crate) id: String,
    pub(crate) queue: String,
    pub(crate) job_type: String,
    pub(crate) type_version: i32,
    pub(crate) payload: String,
    pub(crate) priority: i32,
    pub(crate) max_attempts: i32,
    pub(crate) backoff_base_ms: i64,
    pub(crate) backoff_max_ms: i64,
    pub(crate) max_time_ms: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) run_at: i64,
    pub(crate) dispatch_by: Option<i64>,
    pub(crate) depends_on: Vec<String>,
    pub(crate) on_dependency_failure: OnDependencyFailure,
    /// The dependency manager as JSON; `None` for `always`.
    pub(crate) dependency: Option<String>,
    pub(crate) scopes: Vec<(String, ScopeKind)>,
}

impl JobInsert {
    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job's queue.
    pub fn queue(&self) -> &str {
        &self.queue
    }
}
