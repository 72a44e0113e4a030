//! Claiming: due retries become pending, then a batch is claimed — on
//! PostgreSQL by one statement, on SQLite by a read and an update.

use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult, Value};

use super::deps::SCOPES_FREE;
use super::dialect::Dialect;
use super::{CountDeltas, Store, json_bool, too_big};
use crate::error::{Error, Result};
use crate::queue::Ordering;
use crate::state::JobState;

/// What a claim changes in each row it takes: `$1` owner, `$2` now, `$3`
/// lock expiry. [`ClaimedJob`] holds the values after it.
const CLAIM_SET: &str = "state = 'running', attempt = attempt + 1, \
     claim_count = claim_count + 1, owner = $1, started_at = $2, ended_at = NULL, \
     lock_expires_at = $3, abort_requested = FALSE, progress = 0, progress_message = NULL";

/// A job this process now owns, with what it needs to run it. Read from a
/// row by column name (PostgreSQL) or from a JSON array of its fields in
/// this order (SQLite).
#[derive(Debug, Clone, FromQueryResult, serde::Deserialize)]
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
        let mut claimed = match self.dialect() {
            Dialect::Sqlite => self.claim_sqlite(&txn, req).await?,
            Dialect::Postgres => {
                ClaimedJob::find_by_statement(
                    self.stmt(&Self::claim_sql(req.ordering), claim_params(req)),
                )
                .all(&txn)
                .await?
            }
        };
        // In the queue's order: the runner starts them in this order.
        claimed.sort_by(|a, b| claim_order(req.ordering, a, b));
        if claimed.iter().any(|job| job.scoped) && !self.take_scopes(&txn, &mut claimed).await? {
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

    /// Which jobs a claim takes: `$2` now, `$4` queue, `$5` limit.
    fn claim_pick(ordering: Ordering) -> String {
        let (order, due) = match ordering {
            Ordering::Fifo => ("run_at, id", "run_at"),
            // `+run_at` is a bound no index serves: SQLite otherwise read
            // the FIFO index for it and sorted every due job of the queue
            // for each claim (18 ms a claim with 20,000 pending, growing
            // with them) instead of reading the priority index in order.
            Ordering::Priority => ("priority DESC, run_at, id", "+run_at"),
        };
        format!(
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
        )
    }

    /// The PostgreSQL claim: one statement that skips the rows another
    /// process is claiming and returns the claimed ones. `$1` owner, `$2`
    /// now, `$3` lock expiry, `$4` queue, `$5` limit.
    fn claim_sql(ordering: Ordering) -> String {
        format!(
            "UPDATE jobs SET {CLAIM_SET} \
             WHERE id = ANY(ARRAY(SELECT id {} FOR UPDATE SKIP LOCKED)) \
             RETURNING id, job_type, type_version, payload, attempt, max_attempts, \
             backoff_base_ms, backoff_max_ms, max_time_ms, claim_count, run_at, priority, \
             scoped, dependency",
            Self::claim_pick(ordering)
        )
    }

    /// The SQLite claim (see [`Store::claim_sqlite`]): the jobs to claim as
    /// one JSON array of `[rowid, [ClaimedJob's fields…]]`, with the values
    /// the claim will give them.
    fn claim_read_sql(ordering: Ordering) -> String {
        format!(
            "SELECT json_group_array(json_array(rid, json_array(id, job_type, type_version, \
             payload, attempt + 1, max_attempts, backoff_base_ms, backoff_max_ms, max_time_ms, \
             claim_count + 1, run_at, priority, {}, dependency))) AS claimed \
             FROM (SELECT rowid AS rid, id, job_type, type_version, payload, attempt, \
             max_attempts, backoff_base_ms, backoff_max_ms, max_time_ms, claim_count, run_at, \
             priority, scoped, dependency {})",
            json_bool("scoped"),
            Self::claim_pick(ordering)
        )
    }

    /// Claims on SQLite in two statements of one transaction (which holds
    /// the write lock, so nothing changes between them): the jobs are read
    /// as one JSON text, then updated by rowid. An `UPDATE … RETURNING`
    /// hands sqlx each row and column as a value of its own, and that cost
    /// more than the update itself (400-job claims of 50,000 pending jobs
    /// on the bench machine: 14.8 µs a job that way, 10.9 this way).
    async fn claim_sqlite(
        &self,
        txn: &DatabaseTransaction,
        req: ClaimRequest<'_>,
    ) -> Result<Vec<ClaimedJob>> {
        #[derive(FromQueryResult)]
        struct Read {
            claimed: String,
        }
        // A read longer than SQLite's longest string (a thousand jobs with
        // payloads near their 1 MiB limit) is refused: then it reads half
        // as many jobs.
        let mut limit = req.limit;
        let read = loop {
            let read = Read::find_by_statement(self.stmt(
                &Self::claim_read_sql(req.ordering),
                claim_params(ClaimRequest { limit, ..req }),
            ))
            .one(txn)
            .await;
            match read {
                Err(err) if limit > 1 && too_big(&err) => limit /= 2,
                read => break read?,
            }
        }
        .ok_or_else(|| Error::Internal("the claim read no row".into()))?;
        let rows: Vec<(i64, ClaimedJob)> = serde_json::from_str(&read.claimed)
            .map_err(|err| Error::Internal(format!("claimed jobs: {err}")))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let rowids: Vec<i64> = rows.iter().map(|(rowid, _)| *rowid).collect();
        // `$1`–`$3` as in the read, then the rowids as a JSON array.
        let mut values = claim_params(req);
        values.truncate(3);
        values.push(serde_json::json!(rowids).to_string().into());
        let updated = txn
            .execute_raw(self.stmt(
                &format!(
                    "UPDATE jobs SET {CLAIM_SET} WHERE rowid IN (SELECT value FROM json_each($4))"
                ),
                values,
            ))
            .await?
            .rows_affected();
        if updated != rows.len() as u64 {
            return Err(Error::Internal(format!(
                "a claim read {} jobs and updated {updated}",
                rows.len()
            )));
        }
        Ok(rows.into_iter().map(|(_, job)| job).collect())
    }

    /// Takes the dispatch scopes of the scoped jobs of `claimed` (in the
    /// queue's order); the jobs whose scope an earlier one took go back to
    /// pending, as if never claimed. False when another process holds a
    /// scope taken meanwhile.
    async fn take_scopes(
        &self,
        txn: &DatabaseTransaction,
        claimed: &mut Vec<ClaimedJob>,
    ) -> Result<bool> {
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

/// What the claim statements bind: `$1` owner, `$2` now, `$3` lock expiry,
/// `$4` queue, `$5` limit.
fn claim_params(req: ClaimRequest<'_>) -> Vec<Value> {
    vec![
        req.owner.into(),
        req.now.into(),
        req.lock_expires_at.into(),
        req.queue.into(),
        i64::try_from(req.limit).unwrap_or(i64::MAX).into(),
    ]
}

/// The order jobs of a queue of `ordering` are claimed and started in.
fn claim_order(ordering: Ordering, a: &ClaimedJob, b: &ClaimedJob) -> std::cmp::Ordering {
    match ordering {
        Ordering::Fifo => (a.run_at, &a.id).cmp(&(b.run_at, &b.id)),
        Ordering::Priority => (-i64::from(a.priority), a.run_at, &a.id).cmp(&(
            -i64::from(b.priority),
            b.run_at,
            &b.id,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each claim reads its ordering's index in order and stops at the
    /// limit: no sort of every due job (SQLite's plan for the claim's read,
    /// read back).
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
                &format!("EXPLAIN QUERY PLAN {}", Store::claim_read_sql(ordering)),
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
