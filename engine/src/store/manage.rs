//! Operator actions on jobs that are not running: retry, mark complete,
//! delete — for one job or in bulk (amboy's management operations). Each
//! batch is one transaction that reads the rows it changes (locked on
//! PostgreSQL, so a concurrent claim skips them), changes them, and moves
//! the counters.

use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult, Value};

use super::deps::Change;
use super::read::filter_sql;
use super::signal::Signal;
use super::{CountDeltas, Store, placeholders};
use crate::error::Result;
use crate::record::JobFilter;
use crate::state::JobState;

/// Most jobs changed per transaction by a bulk action.
pub const BULK_BATCH: usize = 1_000;

/// What an operator does to jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Run again now: a finished job (failed, aborted, expired) becomes
    /// pending with its attempts reset; a retrying one runs now.
    Retry,
    /// Mark done without running: completed, `ended_at` now.
    Complete,
    /// Remove the job with its attempts and log.
    Delete,
}

impl JobAction {
    /// The states the action applies to.
    pub fn from_states(self) -> &'static [JobState] {
        match self {
            JobAction::Retry => &[
                JobState::Failed,
                JobState::Aborted,
                JobState::Expired,
                JobState::Retrying,
            ],
            JobAction::Complete => &[
                JobState::Blocked,
                JobState::Pending,
                JobState::Retrying,
                JobState::Failed,
                JobState::Aborted,
                JobState::Expired,
            ],
            JobAction::Delete => &[
                JobState::Blocked,
                JobState::Pending,
                JobState::Retrying,
                JobState::Completed,
                JobState::Failed,
                JobState::Aborted,
                JobState::Expired,
            ],
        }
    }

    /// Its name in errors and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobAction::Retry => "retry",
            JobAction::Complete => "complete",
            JobAction::Delete => "delete",
        }
    }
}

#[derive(FromQueryResult)]
struct Target {
    id: String,
    queue: String,
    job_type: String,
    state: String,
    has_dependents: bool,
    scoped: bool,
}

/// A job an action changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The job.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its type.
    pub job_type: String,
    /// The state it was in.
    pub from: JobState,
}

impl Store {
    /// Applies `action` to those of `ids` in a state it applies to, in one
    /// transaction. Returns the jobs changed.
    pub async fn act(&self, action: JobAction, ids: &[String], now: i64) -> Result<Vec<Changed>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin().await?;
        let changed = self
            .act_in(&txn, action, action.from_states(), ids, now)
            .await?;
        txn.commit().await?;
        Ok(changed)
    }

    /// Applies `action` in `txn` to those of `ids` in one of `states` (a
    /// subset of the states it applies to).
    pub(crate) async fn act_in(
        &self,
        txn: &DatabaseTransaction,
        action: JobAction,
        states: &[JobState],
        ids: &[String],
        now: i64,
    ) -> Result<Vec<Changed>> {
        let mut targets = Vec::with_capacity(ids.len());
        for list in self.dialect().id_lists(ids, &[])? {
            let mut values = list.values;
            let states_list = placeholders(values.len() + 1, states.len());
            values.extend(states.iter().map(|s| s.as_str().into()));
            targets.extend(
                Target::find_by_statement(self.stmt(
                    &format!(
                        "SELECT id, queue, job_type, state, has_dependents, scoped FROM jobs \
                         WHERE id {} AND state IN ({states_list}){}",
                        list.sql,
                        self.dialect().row_lock()
                    ),
                    values,
                ))
                .all(txn)
                .await?,
            );
        }
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        // A retried job waits again for what it depends on.
        let blocked = if action == JobAction::Retry {
            let finished: Vec<String> = targets
                .iter()
                .filter(|t| t.state != JobState::Retrying.as_str())
                .map(|t| t.id.clone())
                .collect();
            self.prepare_retry(txn, &finished).await?
        } else {
            Default::default()
        };
        let mut changed = Vec::with_capacity(targets.len());
        let mut deltas = CountDeltas::default();
        let mut woken: Vec<Signal> = Vec::new();
        let mut settling = Vec::new();
        for target in &targets {
            let from: JobState =
                target
                    .state
                    .parse()
                    .map_err(|err: crate::state::UnknownState| {
                        crate::Error::Internal(err.to_string())
                    })?;
            let to = match action {
                JobAction::Retry if blocked.contains_key(&target.id) => Some(JobState::Blocked),
                JobAction::Retry => Some(JobState::Pending),
                JobAction::Complete => Some(JobState::Completed),
                JobAction::Delete => None,
            };
            deltas.moved(&target.queue, Some(from), to, 1);
            if action != JobAction::Retry && (target.has_dependents || target.scoped) {
                settling.push(Change {
                    id: target.id.clone(),
                    queue: target.queue.clone(),
                    to,
                    has_dependents: target.has_dependents,
                    scoped: target.scoped,
                });
            }
            if action == JobAction::Retry {
                let signal = Signal::Put(target.queue.clone());
                if !woken.contains(&signal) {
                    woken.push(signal);
                }
            }
            changed.push(Changed {
                id: target.id.clone(),
                queue: target.queue.clone(),
                job_type: target.job_type.clone(),
                from,
            });
        }
        let target_ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        match action {
            JobAction::Retry => {
                for list in self.dialect().id_lists(&target_ids, &[now.into()])? {
                    // A retrying job keeps its attempts and just runs now; a
                    // finished one starts over (its history stays).
                    txn.execute_raw(self.stmt(
                        &format!(
                            // An operator's retry runs now: a dispatch deadline
                            // (past, for an expired job) no longer applies.
                            "UPDATE jobs SET run_at = $1, ended_at = NULL, dispatch_by = NULL, \
                             deps_left = 0, \
                             attempt = CASE WHEN state = 'retrying' THEN attempt ELSE 0 END, \
                             last_error = CASE WHEN state = 'retrying' THEN last_error ELSE NULL END, \
                             abort_requested = FALSE, state = 'pending' WHERE id {}",
                            list.sql
                        ),
                        list.values,
                    ))
                    .await?;
                }
                let mut values: Vec<Value> = Vec::with_capacity(blocked.len() * 2);
                for (id, left) in &blocked {
                    values.extend([id.clone().into(), (*left).into()]);
                }
                for table in self.dialect().tables(&["text", "int4"], values, &[])? {
                    txn.execute_raw(self.stmt(
                        &format!(
                            "UPDATE jobs SET state = 'blocked', deps_left = v.column2 \
                             FROM {} WHERE jobs.id = v.column1",
                            table.sql
                        ),
                        table.values,
                    ))
                    .await?;
                }
            }
            JobAction::Complete => {
                for list in self.dialect().id_lists(&target_ids, &[now.into()])? {
                    txn.execute_raw(self.stmt(
                        &format!(
                            "UPDATE jobs SET state = 'completed', ended_at = $1 WHERE id {}",
                            list.sql
                        ),
                        list.values,
                    ))
                    .await?;
                }
            }
            JobAction::Delete => {
                for list in self.dialect().id_lists(&target_ids, &[])? {
                    for table in ["job_attempts", "job_logs", "job_edges", "job_scopes"] {
                        txn.execute_raw(self.stmt(
                            &format!("DELETE FROM {table} WHERE job_id {}", list.sql),
                            list.values.clone(),
                        ))
                        .await?;
                    }
                    txn.execute_raw(self.stmt(
                        &format!("DELETE FROM jobs WHERE id {}", list.sql),
                        list.values,
                    ))
                    .await?;
                }
            }
        }
        self.settle(txn, settling, now, &mut deltas, &mut woken)
            .await?;
        deltas.apply(self, txn).await?;
        self.signal(txn, &woken).await?;
        Ok(changed)
    }

    /// Up to `limit` ids of jobs matching `filter` (its `after` continues
    /// a previous batch; its limit is ignored): one batch of a bulk action.
    /// `ordered`: in the filter's id order; otherwise in whatever order the
    /// index the database picks holds them.
    pub async fn bulk_targets(
        &self,
        filter: &JobFilter,
        limit: usize,
        ordered: bool,
    ) -> Result<Vec<String>> {
        #[derive(FromQueryResult)]
        struct Id {
            id: String,
        }
        let order = match (ordered, filter.newest_first) {
            (false, _) => "",
            (true, false) => "ORDER BY id",
            (true, true) => "ORDER BY id DESC",
        };
        let (filter, mut values) = filter_sql(filter);
        values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        let sql = format!(
            "SELECT id FROM jobs WHERE {filter} {order} LIMIT ${}",
            values.len()
        );
        Ok(Id::find_by_statement(self.stmt(&sql, values))
            .all(&self.read)
            .await?
            .into_iter()
            .map(|row| row.id)
            .collect())
    }
}
