//! `group`: a job made of sub-jobs of other types, run inside one attempt —
//! in order (the default), or all at once with `"parallel": true` (amboy's
//! group job). Payload:
//!
//! ```json
//! {"jobs": [{"type": "http", "payload": {"url": "https://example.com/hook"}},
//!           {"type": "noop"}],
//!  "parallel": false}
//! ```
//!
//! Every sub-job is checked when the group is put (its type is registered
//! and its payload decodes), so a bad one refuses the put. Sub-jobs share
//! the group's context: its cancellation (abort, `max_time`, shutdown), its
//! log and its progress. The group succeeds when every sub-job does. In
//! order, the first failure ends it (later sub-jobs don't run); in
//! parallel, all run and their errors are combined. A failure that asks not
//! to retry fails the group; any other retries the whole group, so sub-jobs
//! run again — make them idempotent. Sub-jobs run at the version registered
//! now (they are not stored on their own).

use serde::{Deserialize, Serialize};

use crate::job::{Job, JobContext, JobError};

/// The type name.
pub const NAME: &str = "group";
/// Most sub-jobs in a group.
pub const MAX_JOBS: usize = 1_000;
/// Deepest nesting of groups in groups.
pub const MAX_DEPTH: usize = 8;

/// A group of sub-jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The sub-jobs (1–1,000).
    pub jobs: Vec<SubJob>,
    /// Run them all at once instead of in order.
    #[serde(default)]
    pub parallel: bool,
}

/// One sub-job: a registered type and its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubJob {
    /// Its type.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Its payload.
    #[serde(default = "empty_object")]
    pub payload: serde_json::Value,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl Group {
    /// Checks the sub-jobs' count; their types and payloads are checked by
    /// the registry (which knows the types).
    pub(crate) fn check_size(&self) -> Result<(), String> {
        if self.jobs.is_empty() || self.jobs.len() > MAX_JOBS {
            return Err(format!(
                "a group holds 1 to {MAX_JOBS} jobs (got {})",
                self.jobs.len()
            ));
        }
        Ok(())
    }
}

impl Job for Group {
    const NAME: &'static str = NAME;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let registry = ctx.engine().registry();
        let mut runs = Vec::with_capacity(self.jobs.len());
        for (i, sub) in self.jobs.iter().enumerate() {
            let run = registry
                .prepare_current(&sub.job_type, &sub.payload.to_string(), ctx.clone())
                .map_err(|err| JobError::fail(format!("sub-job {i} ({}): {err}", sub.job_type)))?;
            runs.push((i, sub.job_type.as_str(), run));
        }
        let total = runs.len();
        if !self.parallel {
            for (done, (i, job_type, run)) in runs.into_iter().enumerate() {
                run.await.map_err(|err| within(i, job_type, err))?;
                let percent = i32::try_from((done + 1) * 100 / total).unwrap_or(100);
                ctx.progress(percent, format!("{} of {total} sub-jobs done", done + 1))
                    .await;
            }
            return Ok(());
        }
        let results =
            futures::future::join_all(runs.into_iter().map(|(i, job_type, run)| async move {
                run.await.map_err(|err| within(i, job_type, err))
            }))
            .await;
        let errors: Vec<JobError> = results.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() {
            return Ok(());
        }
        let give_up = errors.iter().any(|err| matches!(err, JobError::Fail(_)));
        // The longest delay any sub-job asked for (none: the back-off).
        let delay = errors
            .iter()
            .filter_map(|err| match err {
                JobError::Retry { delay, .. } => *delay,
                _ => None,
            })
            .max();
        let message = errors.iter().map(describe).collect::<Vec<_>>().join("; ");
        Err(if give_up {
            JobError::fail(message)
        } else {
            JobError::Retry { message, delay }
        })
    }
}

/// A sub-job's error as the group's: the same kind, naming the sub-job. A
/// snooze becomes a retry of the group (the others already ran).
fn within(i: usize, job_type: &str, err: JobError) -> JobError {
    let message = format!("sub-job {i} ({job_type}): {}", describe(&err));
    match err {
        JobError::Fail(_) => JobError::fail(message),
        JobError::Retry { delay, .. } => JobError::Retry { message, delay },
        JobError::Snooze(delay) => JobError::Retry {
            message,
            delay: Some(delay),
        },
    }
}

fn describe(err: &JobError) -> String {
    match err {
        JobError::Fail(message) | JobError::Retry { message, .. } => message.clone(),
        JobError::Snooze(delay) => format!("asked to run again in {delay:?}"),
    }
}
