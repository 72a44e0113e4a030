//! Operator control of single jobs: abort, and what running jobs report.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::deps::Change;
use super::signal::Signal;
use super::{CountDeltas, Store};
use crate::error::{Error, Result};
use crate::state::JobState;

/// The error recorded for a job an operator aborted.
pub const ABORTED_BY_OPERATOR: &str = "aborted by operator";

/// What [`Store::abort`] did, and to which job.
#[derive(Debug, Clone)]
pub struct Abort {
    /// What happened.
    pub outcome: AbortOutcome,
    /// The job's queue.
    pub queue: String,
    /// The job's type.
    pub job_type: String,
}

/// What an abort did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortOutcome {
    /// The job was waiting and is now aborted.
    Aborted,
    /// The job is running: the request is recorded for its owner, which
    /// cancels the run at its next lock renewal.
    Requested {
        /// The process running it.
        owner: Option<String>,
    },
}

impl Store {
    /// Aborts a waiting job at once, or asks the owner of a running one to
    /// stop it. Terminal jobs are refused with [`Error::InvalidState`].
    pub async fn abort(&self, id: &str, now: i64, reason: &str) -> Result<Abort> {
        #[derive(FromQueryResult)]
        struct Current {
            queue: String,
            job_type: String,
            state: String,
            owner: Option<String>,
            has_dependents: bool,
            scoped: bool,
        }
        let txn = self.begin().await?;
        // Locked: a claim committing between this read and the update
        // below would otherwise leave the counters moved for an abort that
        // did not happen.
        let current = Current::find_by_statement(self.stmt(
            &format!(
                "SELECT queue, job_type, state, owner, has_dependents, scoped FROM jobs \
                 WHERE id = $1{}",
                self.dialect().row_lock()
            ),
            vec![id.into()],
        ))
        .one(&txn)
        .await?
        .ok_or_else(|| Error::JobNotFound(id.to_owned()))?;
        let state: JobState = current
            .state
            .parse()
            .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))?;
        let outcome = match state {
            _ if state.is_terminal() => {
                return Err(Error::InvalidState {
                    id: id.to_owned(),
                    state,
                    operation: "abort",
                });
            }
            JobState::Running => {
                txn.execute_raw(self.stmt(
                    "UPDATE jobs SET abort_requested = TRUE WHERE id = $1 AND state = 'running'",
                    vec![id.into()],
                ))
                .await?;
                self.signal(&txn, &[Signal::Abort(id.to_owned())]).await?;
                AbortOutcome::Requested {
                    owner: current.owner,
                }
            }
            _ => {
                txn.execute_raw(self.stmt(
                    "UPDATE jobs SET state = 'aborted', ended_at = $2, last_error = $3 \
                     WHERE id = $1 AND state = $4",
                    vec![id.into(), now.into(), reason.into(), state.as_str().into()],
                ))
                .await?;
                let mut deltas = CountDeltas::default();
                deltas.moved(&current.queue, Some(state), Some(JobState::Aborted), 1);
                let mut signals = Vec::new();
                let change = Change {
                    id: id.to_owned(),
                    queue: current.queue.clone(),
                    to: Some(JobState::Aborted),
                    has_dependents: current.has_dependents,
                    scoped: current.scoped,
                };
                self.settle(&txn, vec![change], now, &mut deltas, &mut signals)
                    .await?;
                deltas.apply(self, &txn).await?;
                self.signal(&txn, &signals).await?;
                AbortOutcome::Aborted
            }
        };
        txn.commit().await?;
        Ok(Abort {
            outcome,
            queue: current.queue,
            job_type: current.job_type,
        })
    }

    /// The running jobs of `owner` whose abort was requested (read through
    /// the partial index of abort requests, empty nearly always).
    pub async fn abort_requested(&self, owner: &str) -> Result<Vec<String>> {
        #[derive(FromQueryResult)]
        struct Id {
            id: String,
        }
        Ok(Id::find_by_statement(self.stmt(
            "SELECT id FROM jobs WHERE owner = $1 AND state = 'running' AND abort_requested",
            vec![owner.into()],
        ))
        .all(&self.read)
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect())
    }

    /// Records a running job's progress.
    pub async fn set_progress(&self, id: &str, percent: i32, message: &str) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "UPDATE jobs SET progress = $2, progress_message = $3 WHERE id = $1 AND state = 'running'",
                vec![id.into(), percent.into(), message.into()],
            ))
            .await?;
        Ok(())
    }

    /// Appends one line to a job's log.
    pub async fn append_log(&self, id: &str, attempt: i32, at: i64, line: &str) -> Result<()> {
        self.insert_log(&self.write, id, attempt, at, line).await
    }

    /// Appends one line to a job's log on `conn`.
    pub(crate) async fn insert_log(
        &self,
        conn: &impl ConnectionTrait,
        id: &str,
        attempt: i32,
        at: i64,
        line: &str,
    ) -> Result<()> {
        conn.execute_raw(self.stmt(
            "INSERT INTO job_logs (job_id, attempt, at, line) VALUES ($1, $2, $3, $4)",
            vec![id.into(), attempt.into(), at.into(), line.into()],
        ))
        .await?;
        Ok(())
    }
}
