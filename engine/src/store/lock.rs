//! Locks: owners renew theirs; anyone rescues the expired.
//!
//! A claim sets `lock_expires_at`; the owner pushes it forward every
//! lock_timeout/4 (amboy's ping). A job whose lock expired belongs to a
//! process that crashed, froze or lost the database; the rescuer ends that
//! attempt and makes the job ready again (or failed, when it was the last).

use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use super::deps::Change;
use super::finish::AttemptRow;
use super::signal::Signal;
use super::{CountDeltas, OWNED, Store};
use crate::error::Result;
use crate::state::JobState;

/// The error recorded on a rescued attempt.
pub const RESCUE_ERROR: &str =
    "lock expired: its owner stopped renewing it (crashed, frozen or cut off from the database)";

/// A lock still held after renewal.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Renewed {
    /// The job.
    pub id: String,
    /// Whether someone asked (through the database) to abort it.
    pub abort_requested: bool,
}

/// A job the rescuer took back.
#[derive(Debug, Clone)]
pub struct Rescued {
    /// The job.
    pub id: String,
    /// Its type.
    pub job_type: String,
    /// The owner that lost it.
    pub owner: Option<String>,
    /// Where it went: pending, or failed when that was its last attempt.
    pub state: JobState,
}

impl Store {
    /// Pushes the locks of `held` (id, claim_count) forward to `expires_at`.
    /// Returns the ones still owned, with their abort requests.
    pub async fn renew_locks(
        &self,
        owner: &str,
        held: &[(String, i32)],
        expires_at: i64,
    ) -> Result<Vec<Renewed>> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let mut values: Vec<Value> = Vec::with_capacity(held.len() * 2);
        for (id, claim_count) in held {
            values.push(id.clone().into());
            values.push((*claim_count).into());
        }
        let mut renewed = Vec::with_capacity(held.len());
        let leading = [owner.into(), expires_at.into()];
        for table in self.dialect().tables(&["text", "int4"], values, &leading)? {
            let sql = format!(
                "UPDATE jobs SET lock_expires_at = $2 FROM {} \
                 WHERE jobs.id = v.column1 AND jobs.claim_count = v.column2 AND {OWNED} \
                 RETURNING jobs.id, jobs.abort_requested",
                table.sql
            );
            renewed.extend(
                Renewed::find_by_statement(self.stmt(&sql, table.values))
                    .all(&self.write)
                    .await?,
            );
        }
        Ok(renewed)
    }

    /// Ends every attempt in `queue` whose lock expired before `now`: the job
    /// becomes pending again, or failed when it has no attempts left.
    pub async fn rescue_expired(&self, queue: &str, now: i64) -> Result<Vec<Rescued>> {
        #[derive(FromQueryResult)]
        struct Expired {
            id: String,
            job_type: String,
            owner: Option<String>,
            attempt: i32,
            max_attempts: i32,
            started_at: Option<i64>,
            has_dependents: bool,
            scoped: bool,
        }
        let txn = self.begin().await?;
        let lock = self.dialect().skip_locked();
        let expired = Expired::find_by_statement(self.stmt(
            &format!(
                "SELECT id, job_type, owner, attempt, max_attempts, started_at, has_dependents, \
                 scoped FROM jobs \
                 WHERE queue = $1 AND state = 'running' AND lock_expires_at < $2{lock}"
            ),
            vec![queue.into(), now.into()],
        ))
        .all(&txn)
        .await?;
        if expired.is_empty() {
            txn.rollback().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = expired.iter().map(|job| job.id.as_str()).collect();
        for list in self
            .dialect()
            .id_lists(&ids, &[now.into(), RESCUE_ERROR.into()])?
        {
            txn.execute_raw(self.stmt(
                &format!(
                    "UPDATE jobs SET \
                     state = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'pending' END, \
                     ended_at = CASE WHEN attempt >= max_attempts THEN $1 ELSE NULL END, \
                     run_at = $1, owner = NULL, lock_expires_at = NULL, last_error = $2 \
                     WHERE id {}",
                    list.sql
                ),
                list.values,
            ))
            .await?;
        }
        let mut deltas = CountDeltas::default();
        let mut changes = Vec::new();
        let rescued: Vec<Rescued> = expired
            .iter()
            .map(|job| {
                let state = if job.attempt >= job.max_attempts {
                    JobState::Failed
                } else {
                    JobState::Pending
                };
                deltas.moved(queue, Some(JobState::Running), Some(state), 1);
                if job.has_dependents || job.scoped {
                    changes.push(Change {
                        id: job.id.clone(),
                        queue: queue.to_owned(),
                        to: Some(state),
                        has_dependents: job.has_dependents,
                        scoped: job.scoped,
                    });
                }
                Rescued {
                    id: job.id.clone(),
                    job_type: job.job_type.clone(),
                    owner: job.owner.clone(),
                    state,
                }
            })
            .collect();
        self.insert_attempts(
            &txn,
            expired.iter().map(|job| AttemptRow {
                job_id: &job.id,
                owner: job.owner.as_deref(),
                attempt: job.attempt,
                started_at: job.started_at,
                ended_at: now,
                outcome: "rescued",
                error: Some(RESCUE_ERROR),
            }),
        )
        .await?;
        let mut signals = vec![Signal::Put(queue.to_owned())];
        self.settle(&txn, changes, now, &mut deltas, &mut signals)
            .await?;
        deltas.apply(self, &txn).await?;
        self.signal(&txn, &signals).await?;
        txn.commit().await?;
        Ok(rescued)
    }
}
