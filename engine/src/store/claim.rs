//! Claiming: due retries become pending, then one statement claims a batch.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::deps::SCOPES_FREE;
use super::{CountDeltas, Store};
use crate::error::Result;
use crate::queue::Ordering;
use crate::state::JobState;

/// A job this process now owns, with what it needs to run it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ClaimedJob {
    /// The job's id.
    pub id: String,
    /// Its type name.
    pub job_type: String,
    /// The type version it was stored with.
    pub type_version: i32,
    /// JSON payload text.
    pub payload: String,
    /// This attempt's number.
    pub attempt: i32,
    /// The most attempts it gets.
    pub max_attempts: i32,
    /// First retry delay, ms.
    pub backoff_base_ms: i64,
    /// Longest retry delay, ms.
    pub backoff_max_ms: i64,
    /// Run time limit, ms.
    pub max_time_ms: Option<i64>,
    /// Fencing token for this claim.
    pub claim_count: i32,
    /// When it became ready (µs).
    pub run_at: i64,
    /// Its priority.
    pub priority: i32,
    /// Whether it has scopes.
    pub scoped: bool,
    /// Its dependency manager as JSON, when not `always`.
    pub dependency: Option<String>,
}

/// What [`Store::claim`] needs to know.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    /// The queue.
    pub queue: &'a str,
    /// Its claim order.
    pub ordering: Ordering,
    /// This process's id.
    pub owner: &'a str,
    /// Now (µs).
    pub now: i64,
    /// The lock expiry to set (µs).
    pub lock_expires_at: i64,
    /// Most jobs to claim.
    pub limit: usize,
    /// Whether to promote due retries to pending first.
    pub promote_retries: bool,
}

/// What a claim took.
#[derive(Debug)]
pub struct Claimed {
    /// The jobs now owned.
    pub jobs: Vec<ClaimedJob>,
    /// Whether due retries were promoted first.
    pub promoted: bool,
}

impl Store {
    /// Promotes due retries to pending (when asked), then claims up to
    /// `limit` ready jobs in one statement, all in one transaction.
    pub async fn claim(&self, req: ClaimRequest<'_>) -> Result<Claimed> {
        let txn = self.begin().await?;
        let mut deltas = CountDeltas::default();
        if req.promote_retries {
            let promoted = txn
                .execute_raw(self.stmt(
                    "UPDATE jobs SET state = 'pending' \
                     WHERE queue = $1 AND state = 'retrying' AND run_at <= $2",
                    vec![req.queue.into(), req.now.into()],
                ))
                .await?
                .rows_affected();
            deltas.moved(
                req.queue,
                Some(JobState::Retrying),
                Some(JobState::Pending),
                i64::try_from(promoted).unwrap_or(i64::MAX),
            );
        }
        let sql = self.claim_sql(req.ordering);
        let mut claimed = ClaimedJob::find_by_statement(self.stmt(
            &sql,
            vec![
                req.owner.into(),
                req.now.into(),
                req.lock_expires_at.into(),
                req.queue.into(),
                i64::try_from(req.limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .all(&txn)
        .await?;
        if claimed.iter().any(|job| job.scoped)
            && !self.take_scopes(&txn, req, &mut claimed).await?
        {
            // Another process took a scope first: claim again later.
            txn.rollback().await?;
            return Ok(Claimed {
                jobs: Vec::new(),
                promoted: false,
            });
        }
        deltas.moved(
            req.queue,
            Some(JobState::Pending),
            Some(JobState::Running),
            i64::try_from(claimed.len()).unwrap_or(i64::MAX),
        );
        deltas.apply(self, &txn).await?;
        txn.commit().await?;
        Ok(Claimed {
            jobs: claimed,
            promoted: req.promote_retries,
        })
    }

    /// The claim statement: `$1` owner, `$2` now, `$3` lock expiry, `$4`
    /// queue, `$5` limit.
    fn claim_sql(&self, ordering: Ordering) -> String {
        let (order, due) = match ordering {
            Ordering::Fifo => ("run_at, id", "run_at"),
            // `+run_at` is a bound no index serves: SQLite otherwise read
            // the FIFO index for it and sorted every due job of the queue
            // for each claim (18 ms a claim with 20,000 pending, growing
            // with them) instead of reading the priority index in order.
            Ordering::Priority => ("priority DESC, run_at, id", "+run_at"),
        };
        let pick = format!(
            // The pause is checked here too, not only in the runner's copy
            // of the settings: once a pause has committed, no claim — in
            // any process, whatever its copy says — starts the queue's jobs.
            // Jobs whose dispatch scope another job holds wait for it.
            // The limit is `$5 + 0`, not `$5`: SQLite plans with the value
            // of a bare `LIMIT ?` and so re-prepares the statement whenever
            // it changes, which it does with nearly every claim.
            "FROM jobs WHERE queue = $4 AND state = 'pending' AND {due} <= $2 \
             AND (dispatch_by IS NULL OR dispatch_by >= $2) \
             AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = $4 AND q.paused) \
             AND {SCOPES_FREE} ORDER BY {order} LIMIT $5 + 0"
        );
        let target = self.dialect().claim_target(&pick);
        format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, \
             claim_count = claim_count + 1, owner = $1, started_at = $2, ended_at = NULL, \
             lock_expires_at = $3, abort_requested = FALSE, progress = 0, progress_message = NULL \
             WHERE {target} \
             RETURNING id, job_type, type_version, payload, attempt, max_attempts, \
             backoff_base_ms, backoff_max_ms, max_time_ms, claim_count, run_at, priority, \
             scoped, dependency"
        )
    }

    /// Takes the dispatch scopes of the scoped jobs of `claimed`, in the
    /// queue's order; the jobs whose scope an earlier one took go back to
    /// pending, as if never claimed. False when another process holds a
    /// scope taken meanwhile.
    async fn take_scopes(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        req: ClaimRequest<'_>,
        claimed: &mut Vec<ClaimedJob>,
    ) -> Result<bool> {
        claimed.sort_by(|a, b| match req.ordering {
            Ordering::Fifo => (a.run_at, &a.id).cmp(&(b.run_at, &b.id)),
            Ordering::Priority => (-i64::from(a.priority), a.run_at, &a.id).cmp(&(
                -i64::from(b.priority),
                b.run_at,
                &b.id,
            )),
        });
        let scoped: Vec<&str> = claimed
            .iter()
            .filter(|job| job.scoped)
            .map(|job| job.id.as_str())
            .collect();
        let Some(hand_back) = self.take_dispatch_scopes(txn, &scoped).await? else {
            return Ok(false);
        };
        if !hand_back.is_empty() {
            for list in self.dialect().id_lists(&hand_back, &[])? {
                txn.execute_raw(self.stmt(
                    &format!(
                        "UPDATE jobs SET state = 'pending', attempt = attempt - 1, owner = NULL, \
                         lock_expires_at = NULL, started_at = NULL WHERE id {}",
                        list.sql
                    ),
                    list.values,
                ))
                .await?;
            }
            claimed.retain(|job| !hand_back.contains(&job.id));
        }
        Ok(true)
    }

    /// The earliest `run_at` among a queue's waiting (pending or retrying)
    /// jobs that may still start at `now`: the runner sleeps until then when
    /// nothing is ready. (Jobs past their dispatch deadline wait for the
    /// keeper to expire them, and jobs waiting for a held scope for its
    /// release, which signals the queue; counting them would wake the
    /// runner for nothing, over and over.)
    pub async fn next_due(&self, queue: &str, now: i64) -> Result<Option<i64>> {
        #[derive(FromQueryResult)]
        struct Due {
            due: Option<i64>,
        }
        let row = Due::find_by_statement(self.stmt(
            &format!(
                "SELECT MIN(due) AS due FROM ( \
             SELECT MIN(run_at) AS due FROM jobs WHERE queue = $1 AND state = 'pending' \
             AND (dispatch_by IS NULL OR dispatch_by >= $2) AND {SCOPES_FREE} \
             UNION ALL \
             SELECT MIN(run_at) AS due FROM jobs WHERE queue = $1 AND state = 'retrying' \
             AND (dispatch_by IS NULL OR dispatch_by >= $2)) AS d"
            ),
            vec![queue.into(), now.into()],
        ))
        .one(&self.read)
        .await?;
        Ok(row.and_then(|row| row.due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each claim reads its ordering's index in order and stops at the
    /// limit: no sort of every due job (SQLite's plan, read back).
    #[tokio::test]
    async fn claims_read_their_index_in_claim_order() {
        #[derive(FromQueryResult)]
        struct Step {
            detail: String,
        }
        let store = Store::connect("sqlite::memory:").await.unwrap();
        for (ordering, index) in [
            (Ordering::Fifo, "jobs_pending_fifo"),
            (Ordering::Priority, "jobs_pending_priority"),
        ] {
            let plan: Vec<String> = Step::find_by_statement(store.stmt(
                &format!("EXPLAIN QUERY PLAN {}", store.claim_sql(ordering)),
                vec![
                    "me".into(),
                    2i64.into(),
                    3i64.into(),
                    "q".into(),
                    300i64.into(),
                ],
            ))
            .all(store.writer())
            .await
            .unwrap()
            .into_iter()
            .map(|step| step.detail)
            .collect();
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{ordering:?}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{ordering:?}: {plan:?}"
            );
        }
    }
}
