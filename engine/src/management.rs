//! Operator actions on jobs, one at a time or in bulk: retry, mark
//! complete, delete, abort; and the management reports: counts by type and
//! state, recent errors by type and message (amboy's management operations).

use std::time::Duration;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::events::JobEventKind;
use crate::record::{ErrorGroup, JobFilter, JobRecord, Percentiles, TimingReport, TypeCounts};
use crate::spec::validate_id;
use crate::state::JobState;
use crate::store::control::AbortOutcome;
use crate::store::manage::{BULK_BATCH, Changed, JobAction};

/// Longest window a report covers.
pub const MAX_REPORT_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// Most ids one bulk call may name.
pub const MAX_BULK_IDS: usize = 10_000;

/// What a bulk call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// See [`Engine::retry`].
    Retry,
    /// See [`Engine::complete`].
    Complete,
    /// See [`Engine::delete`].
    Delete,
    /// See [`Engine::abort`].
    Abort,
}

impl BulkAction {
    /// Every action, in the order they are offered.
    pub const ALL: [BulkAction; 4] = [
        BulkAction::Retry,
        BulkAction::Abort,
        BulkAction::Complete,
        BulkAction::Delete,
    ];

    /// The states of the jobs it changes; it passes over the others.
    pub fn applies_to(self) -> &'static [JobState] {
        match self {
            BulkAction::Retry => JobAction::Retry.from_states(),
            BulkAction::Complete => JobAction::Complete.from_states(),
            BulkAction::Delete => JobAction::Delete.from_states(),
            BulkAction::Abort => &ABORTABLE,
        }
    }

    /// Its name: `retry`, `abort`, `complete` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Retry => "retry",
            BulkAction::Abort => "abort",
            BulkAction::Complete => "complete",
            BulkAction::Delete => "delete",
        }
    }
}

impl std::str::FromStr for BulkAction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BulkAction::ALL
            .into_iter()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| Error::InvalidInput {
                field: "action",
                reason: format!("{s:?} is not one of retry, abort, complete, delete"),
            })
    }
}

/// Which jobs a bulk call takes.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSelector {
    /// These ids (at most [`MAX_BULK_IDS`]); ids in a state the action does
    /// not apply to, or missing, are passed over.
    Ids(Vec<String>),
    /// Every job matching the filter (its order, `after` and `limit` are
    /// ignored),
    /// in batches of 1,000, each its own transaction.
    Filter(JobFilter),
}

fn check_window(window: Duration) -> Result<()> {
    if window.is_zero() || window > MAX_REPORT_WINDOW {
        return Err(Error::InvalidInput {
            field: "window",
            reason: format!("must be between 1 ms and 30 days (got {window:?})"),
        });
    }
    Ok(())
}

const ABORTABLE: [JobState; 4] = [
    JobState::Blocked,
    JobState::Pending,
    JobState::Retrying,
    JobState::Running,
];

impl Engine {
    /// Runs a finished job again (failed, aborted or expired: pending now,
    /// its attempts starting over, its history kept), or a retrying one now.
    pub async fn retry(&self, id: &str) -> Result<JobRecord> {
        self.act_one(JobAction::Retry, id).await?;
        self.get(id).await
    }

    /// Marks a job that is not running completed without running it.
    pub async fn complete(&self, id: &str) -> Result<JobRecord> {
        self.act_one(JobAction::Complete, id).await?;
        self.get(id).await
    }

    /// Deletes a job that is not running, with its attempts and log.
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.act_one(JobAction::Delete, id).await
    }

    async fn act_one(&self, action: JobAction, id: &str) -> Result<()> {
        validate_id(id)?;
        let changed = self
            .store()
            .act(action, &[id.to_owned()], self.clock().now_us())
            .await?;
        if changed.is_empty() {
            let job = self.get(id).await?;
            return Err(Error::InvalidState {
                id: id.to_owned(),
                state: job.state,
                operation: action.as_str(),
            });
        }
        self.acted(action, &changed);
        Ok(())
    }

    fn acted(&self, action: JobAction, changed: &[Changed]) {
        let kind = match action {
            JobAction::Retry => JobEventKind::Retried,
            JobAction::Complete => JobEventKind::MarkedComplete,
            JobAction::Delete => JobEventKind::Deleted,
        };
        for job in changed {
            if action == JobAction::Retry {
                self.waker(&job.queue).notify_one();
            }
            self.emit_job(&job.id, &job.queue, &job.job_type, kind.clone());
        }
    }

    /// Applies `action` to the selected jobs that are in a state it applies
    /// to; returns how many it changed (for aborts: aborted, or asked to
    /// stop when running).
    pub async fn bulk(&self, action: BulkAction, selector: JobSelector) -> Result<u64> {
        let states = action.applies_to();
        let mut changed = 0u64;
        match selector {
            JobSelector::Ids(ids) => {
                if ids.len() > MAX_BULK_IDS {
                    return Err(Error::InvalidInput {
                        field: "ids",
                        reason: format!("at most {MAX_BULK_IDS} per call (got {})", ids.len()),
                    });
                }
                for id in &ids {
                    validate_id(id)?;
                }
                for chunk in ids.chunks(BULK_BATCH) {
                    changed += self.bulk_batch(action, chunk).await?;
                }
            }
            JobSelector::Filter(mut filter) => {
                if let Some(queue) = &filter.queue {
                    crate::queue::validate_queue_name(queue)?;
                }
                // One state at a time, each batch a range of an index read
                // in its own order, whatever the table's size. Jobs an action
                // takes leave their state, so each batch is simply the next
                // jobs still in it (stopping when a batch changes nothing):
                // settled states through the partial list indexes, pending
                // jobs of a queue through the pending index, other pending
                // jobs newest first along the primary key (they are the
                // newest). Running jobs asked to stop stay running a moment:
                // those are paged by id (they are few).
                let chosen: Vec<JobState> = states
                    .iter()
                    .copied()
                    .filter(|state| filter.state.is_none_or(|s| s == *state))
                    .collect();
                for state in chosen {
                    filter.state = Some(state);
                    filter.after = None;
                    filter.newest_first = state != JobState::Running;
                    let ordered = !(state == JobState::Pending && filter.queue.is_some());
                    loop {
                        let ids = self
                            .store()
                            .bulk_targets(&filter, BULK_BATCH, ordered)
                            .await?;
                        let n = self.bulk_batch(action, &ids).await?;
                        changed += n;
                        if ids.len() < BULK_BATCH || (state != JobState::Running && n == 0) {
                            break;
                        }
                        if state == JobState::Running {
                            filter.after = ids.last().cloned();
                        }
                    }
                }
            }
        }
        Ok(changed)
    }

    /// Jobs by queue, type and state, of one queue or all (reads the jobs
    /// table: a report, not a live stat).
    pub async fn counts_by_type(&self, queue: Option<&str>) -> Result<Vec<TypeCounts>> {
        if let Some(queue) = queue {
            crate::queue::validate_queue_name(queue)?;
        }
        self.store().counts_by_type(queue).await
    }

    /// Errors of attempts that ended within `window` (up to 30 days), grouped
    /// by job type and message, most frequent first (at most `limit`, 1–1000).
    pub async fn error_report(&self, window: Duration, limit: u32) -> Result<Vec<ErrorGroup>> {
        check_window(window)?;
        if !(1..=1_000).contains(&limit) {
            return Err(Error::InvalidInput {
                field: "limit",
                reason: format!("must be between 1 and 1000 (got {limit})"),
            });
        }
        let since = self
            .clock()
            .now_us()
            .saturating_sub(crate::clock::duration_us(window));
        self.store().error_groups(since, limit).await
    }

    /// Queue latency and run duration percentiles by job type (of one
    /// queue, or all) over `window` (up to 30 days, whole minutes), from the
    /// per-minute histograms every process writes as it claims and finishes.
    pub async fn timing_report(
        &self,
        window: Duration,
        queue: Option<&str>,
    ) -> Result<Vec<TimingReport>> {
        check_window(window)?;
        if let Some(queue) = queue {
            crate::queue::validate_queue_name(queue)?;
        }
        let since = self
            .clock()
            .now_us()
            .saturating_sub(crate::clock::duration_us(window));
        self.store().timing_report(since, queue).await
    }

    /// Queue latency (ready → started) percentiles of each queue over
    /// `window` (up to 30 days, whole minutes), from the same histograms.
    pub async fn queue_latencies(
        &self,
        window: Duration,
    ) -> Result<std::collections::BTreeMap<String, Percentiles>> {
        check_window(window)?;
        let since = self
            .clock()
            .now_us()
            .saturating_sub(crate::clock::duration_us(window));
        self.store().queue_latencies(since).await
    }

    async fn bulk_batch(&self, action: BulkAction, ids: &[String]) -> Result<u64> {
        let action = match action {
            BulkAction::Retry => JobAction::Retry,
            BulkAction::Complete => JobAction::Complete,
            BulkAction::Delete => JobAction::Delete,
            BulkAction::Abort => {
                let mut n = 0;
                for id in ids {
                    match self.abort(id).await {
                        Ok(AbortOutcome::Aborted | AbortOutcome::Requested { .. }) => n += 1,
                        // Finished or deleted meanwhile: passed over.
                        Err(Error::InvalidState { .. } | Error::JobNotFound(_)) => {}
                        Err(err) => return Err(err),
                    }
                }
                return Ok(n);
            }
        };
        let changed = self.store().act(action, ids, self.clock().now_us()).await?;
        self.acted(action, &changed);
        Ok(changed.len() as u64)
    }
}
