//! Dispatch deadlines: a job still waiting (blocked, pending or retrying)
//! past its `dispatch_by` becomes `expired` — it would only run late. The
//! claim already skips such jobs; this moves them to their terminal state,
//! with the counters, so operators see them.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::deps::Change;
use super::{CountDeltas, Store};
use crate::error::{Error, Result};
use crate::state::JobState;

/// Most jobs expired per transaction.
const EXPIRE_BATCH: i64 = 1_000;
/// The error recorded on an expired job (its `dispatch_by` says when).
pub const EXPIRED_ERROR: &str = "expired: not started by its dispatch deadline (dispatch_by)";

/// A job that expired.
#[derive(Debug, Clone)]
pub struct Expired {
    /// The job.
    pub id: String,
    /// Its type.
    pub job_type: String,
    /// The state it was waiting in.
    pub from: JobState,
}

impl Store {
    /// Expires `queue`'s waiting jobs whose dispatch deadline is before
    /// `now` (up to a batch; the partial index `jobs_dispatch_by` holds
    /// exactly the candidates).
    pub async fn expire_overdue(&self, queue: &str, now: i64) -> Result<Vec<Expired>> {
        #[derive(FromQueryResult)]
        struct Overdue {
            id: String,
            job_type: String,
            state: String,
            has_dependents: bool,
            scoped: bool,
        }
        let txn = self.begin().await?;
        let overdue = Overdue::find_by_statement(self.stmt(
            &format!(
                "SELECT id, job_type, state, has_dependents, scoped FROM jobs WHERE queue = $1 \
                 AND dispatch_by IS NOT NULL AND state IN ('blocked', 'pending', 'retrying') \
                 AND dispatch_by < $2 ORDER BY dispatch_by LIMIT $3{}",
                self.dialect().skip_locked()
            ),
            vec![queue.into(), now.into(), EXPIRE_BATCH.into()],
        ))
        .all(&txn)
        .await?;
        if overdue.is_empty() {
            txn.rollback().await?;
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = overdue.iter().map(|job| job.id.as_str()).collect();
        for list in self
            .dialect()
            .id_lists(&ids, &[now.into(), EXPIRED_ERROR.into()])?
        {
            txn.execute_raw(self.stmt(
                &format!(
                    "UPDATE jobs SET state = 'expired', ended_at = $1, last_error = $2 \
                     WHERE id {}",
                    list.sql
                ),
                list.values,
            ))
            .await?;
        }
        let mut deltas = CountDeltas::default();
        let mut expired = Vec::with_capacity(overdue.len());
        let mut changes = Vec::new();
        for job in overdue {
            let from: JobState = job
                .state
                .parse()
                .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))?;
            deltas.moved(queue, Some(from), Some(JobState::Expired), 1);
            if job.has_dependents || job.scoped {
                changes.push(Change {
                    id: job.id.clone(),
                    queue: queue.to_owned(),
                    to: Some(JobState::Expired),
                    has_dependents: job.has_dependents,
                    scoped: job.scoped,
                });
            }
            expired.push(Expired {
                id: job.id,
                job_type: job.job_type,
                from,
            });
        }
        let mut signals = Vec::new();
        self.settle(&txn, changes, now, &mut deltas, &mut signals)
            .await?;
        deltas.apply(self, &txn).await?;
        self.signal(&txn, &signals).await?;
        txn.commit().await?;
        Ok(expired)
    }
}
