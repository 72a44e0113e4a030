//! Writing results: one statement finishes a whole batch of attempts.
//!
//! Every row is matched on (id, claim_count, owner, running), so a process
//! that lost its lock — the job was rescued and maybe re-claimed — cannot
//! overwrite the new owner's result: its rows simply don't match.

use std::collections::HashSet;

use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult, Value};

use super::control::ABORTED_BY_OPERATOR;
use super::deps::Change;
use super::dialect::{Dialect, Table};
use super::signal::Signal;
use super::{CountDeltas, OWNED, Store, json_bool};
use crate::error::{Error, Result};
use crate::state::JobState;

/// How an attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Succeeded.
    Completed,
    /// Failed; runs again at `at` (µs).
    Retry {
        /// Next attempt (µs).
        at: i64,
        /// What went wrong.
        error: String,
    },
    /// Failed for good.
    Failed(String),
    /// Stopped by an abort.
    Aborted(String),
    /// Asked to run again at `until` (µs); not counted as an attempt.
    Snoozed {
        /// Next run (µs).
        until: i64,
    },
    /// Handed back unfinished at shutdown; not counted as an attempt.
    Released,
    /// Claimed ahead of a free worker but never started (the queue was
    /// paused, the process is stopping, or no worker freed in time):
    /// pending again in its old place, as if never claimed.
    Unstarted,
    /// Not run: its dependency manager found nothing to do (the reason).
    /// Recorded as completed, with a `skipped` attempt.
    Skipped(String),
}

impl Outcome {
    /// The state the job moves to.
    pub fn state(&self) -> JobState {
        match self {
            Outcome::Completed | Outcome::Skipped(_) => JobState::Completed,
            Outcome::Retry { .. } => JobState::Retrying,
            Outcome::Failed(_) => JobState::Failed,
            Outcome::Aborted(_) => JobState::Aborted,
            Outcome::Snoozed { .. } | Outcome::Released | Outcome::Unstarted => JobState::Pending,
        }
    }

    /// The error message, if the attempt failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Retry { error, .. } | Outcome::Failed(error) | Outcome::Aborted(error) => {
                Some(error)
            }
            _ => None,
        }
    }

    /// The outcome written to the attempts history.
    pub fn history_name(&self) -> &'static str {
        match self {
            Outcome::Skipped(_) => "skipped",
            _ => self.state().as_str(),
        }
    }

    /// False for snoozes and releases, which give the attempt back.
    pub fn counts_as_attempt(&self) -> bool {
        !matches!(
            self,
            Outcome::Snoozed { .. } | Outcome::Released | Outcome::Unstarted
        )
    }

    /// Whether the job goes back to pending for any process to take now.
    pub fn handed_back(&self) -> bool {
        matches!(self, Outcome::Released | Outcome::Unstarted)
    }
}

/// One finished attempt to record.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The job.
    pub id: String,
    /// Its type.
    pub job_type: String,
    /// The claim's fencing token.
    pub claim_count: i32,
    /// The attempt number.
    pub attempt: i32,
    /// When the attempt started (µs): when a worker took it, which may be
    /// after the claim (a runner claims ahead of its workers); for an
    /// unstarted job, when it was claimed.
    pub started_at: i64,
    /// When it ended (µs).
    pub ended_at: i64,
    /// How it ended.
    pub outcome: Outcome,
}

/// The columns of the results list: id, claim count, new state, new
/// `run_at` (none: unchanged), `ended_at`, error, 1 when the attempt is
/// given back, `started_at`.
const COLUMNS: [&str; 8] = [
    "text", "int4", "text", "int8", "int8", "text", "int4", "int8",
];

impl Store {
    /// Records a batch of finished attempts of `queue` owned by `owner`.
    /// Returns the ids whose results were accepted; the others were no
    /// longer owned by this claim. A job handed back (unstarted or
    /// released) whose abort was requested meanwhile ends aborted: its
    /// outcome in `batch` is changed to say so.
    pub async fn finish(
        &self,
        queue: &str,
        owner: &str,
        batch: &mut [Finish],
    ) -> Result<HashSet<String>> {
        if batch.is_empty() {
            return Ok(HashSet::new());
        }
        // Built before the transaction, which holds SQLite's one writer.
        let mut tables = self.result_tables(owner, batch)?;
        let mut txn = self.begin().await?;
        if self.abort_hand_backs(&txn, owner, batch).await? {
            tables = self.result_tables(owner, batch)?;
        }
        let batch = &*batch;
        let written = match self.dialect() {
            Dialect::Sqlite => match self.write_results_counted(&txn, tables, batch).await? {
                Some(written) => written,
                None => {
                    // A result was refused (its claim lost its lock): write
                    // them again, learning which.
                    txn.rollback().await?;
                    let tables = self.result_tables(owner, batch)?;
                    txn = self.begin().await?;
                    self.write_results_returning(&txn, tables).await?
                }
            },
            Dialect::Postgres => self.write_results_returning(&txn, tables).await?,
        };
        let Written { accepted, linked } = written;
        let mut deltas = CountDeltas::default();
        let mut signals = Vec::new();
        if !linked.is_empty() {
            let to: std::collections::HashMap<&str, JobState> = batch
                .iter()
                .map(|f| (f.id.as_str(), f.outcome.state()))
                .collect();
            let changes = linked
                .into_iter()
                .map(|row| Change {
                    to: Some(to[row.id.as_str()]),
                    id: row.id,
                    queue: queue.to_owned(),
                    has_dependents: row.has_dependents,
                    scoped: row.scoped,
                })
                .collect();
            let now = batch.iter().map(|f| f.ended_at).max().unwrap_or_default();
            self.settle(&txn, changes, now, &mut deltas, &mut signals)
                .await?;
        }
        let mut history = Vec::new();
        let mut skipped = Vec::new();
        for f in batch.iter().filter(|f| accepted.contains(&f.id)) {
            deltas.moved(queue, Some(JobState::Running), Some(f.outcome.state()), 1);
            // A first-try success writes no history: the jobs row says it all.
            let first_success = f.outcome == Outcome::Completed && f.attempt == 1;
            if f.outcome.counts_as_attempt() && !first_success {
                history.push(f);
            }
            if let Outcome::Skipped(reason) = &f.outcome {
                skipped.push((f, reason));
            }
        }
        for (f, reason) in skipped {
            self.insert_log(&txn, &f.id, f.attempt, f.ended_at, reason)
                .await?;
        }
        self.insert_attempts(
            &txn,
            history.iter().map(|f| AttemptRow {
                job_id: &f.id,
                owner: Some(owner),
                attempt: f.attempt,
                started_at: Some(f.started_at),
                ended_at: f.ended_at,
                outcome: f.outcome.history_name(),
                error: f.outcome.error(),
            }),
        )
        .await?;
        deltas.apply(self, &txn).await?;
        // Handed-back jobs can run at once, in any process.
        if batch
            .iter()
            .any(|f| f.outcome.handed_back() && accepted.contains(&f.id))
        {
            signals.push(Signal::Put(queue.to_owned()));
        }
        self.signal(&txn, &signals).await?;
        txn.commit().await?;
        Ok(accepted)
    }

    /// Turns the hand-backs in `batch` of jobs whose abort was requested
    /// into aborts: handing them back would lose the request (which may
    /// not have reached this process yet). Every handed-back row is read
    /// locked, so an abort cannot slip in before the results are written:
    /// it waits, then finds the job pending. Returns whether any outcome
    /// changed.
    async fn abort_hand_backs(
        &self,
        txn: &DatabaseTransaction,
        owner: &str,
        batch: &mut [Finish],
    ) -> Result<bool> {
        #[derive(FromQueryResult)]
        struct HandedBack {
            id: String,
            abort_requested: bool,
        }
        let handed_back: Vec<&str> = batch
            .iter()
            .filter(|f| f.outcome.handed_back())
            .map(|f| f.id.as_str())
            .collect();
        if handed_back.is_empty() {
            return Ok(false);
        }
        let mut requested = HashSet::new();
        for list in self.dialect().id_lists(&handed_back, &[owner.into()])? {
            let rows = HandedBack::find_by_statement(self.stmt(
                &format!(
                    "SELECT id, abort_requested FROM jobs WHERE id {} AND {OWNED}{}",
                    list.sql,
                    self.dialect().row_lock()
                ),
                list.values,
            ))
            .all(txn)
            .await?;
            requested.extend(
                rows.into_iter()
                    .filter(|row| row.abort_requested)
                    .map(|row| row.id),
            );
        }
        for f in batch.iter_mut().filter(|f| requested.contains(&f.id)) {
            f.outcome = Outcome::Aborted(ABORTED_BY_OPERATOR.to_owned());
        }
        Ok(!requested.is_empty())
    }

    /// The results of `batch` as the tables of [`results_sql`].
    fn result_tables(&self, owner: &str, batch: &[Finish]) -> Result<Vec<Table>> {
        let mut values: Vec<Value> = Vec::with_capacity(batch.len() * COLUMNS.len());
        for f in batch {
            let (run_at, ended_at) = match &f.outcome {
                Outcome::Retry { at, .. } => (Some(*at), None),
                Outcome::Snoozed { until } => (Some(*until), None),
                Outcome::Released => (Some(f.ended_at), None),
                Outcome::Unstarted => (None, None),
                _ => (None, Some(f.ended_at)),
            };
            let started_at = (f.outcome != Outcome::Unstarted).then_some(f.started_at);
            values.extend([
                f.id.clone().into(),
                f.claim_count.into(),
                f.outcome.state().as_str().into(),
                run_at.into(),
                ended_at.into(),
                f.outcome.error().map(str::to_owned).into(),
                i32::from(!f.outcome.counts_as_attempt()).into(),
                started_at.into(),
            ]);
        }
        self.dialect().tables(&COLUMNS, values, &[owner.into()])
    }

    /// Writes the results `tables`, each row telling whether it was
    /// accepted and whether settling it touches other jobs.
    async fn write_results_returning(
        &self,
        txn: &DatabaseTransaction,
        tables: Vec<Table>,
    ) -> Result<Written> {
        let mut rows: Vec<Accepted> = Vec::new();
        for table in tables {
            let sql = format!(
                "{} RETURNING jobs.id, jobs.has_dependents, jobs.scoped",
                results_sql(&table.sql)
            );
            rows.extend(
                Accepted::find_by_statement(self.stmt(&sql, table.values))
                    .all(txn)
                    .await?,
            );
        }
        Ok(Written {
            accepted: rows.iter().map(|row| row.id.clone()).collect(),
            linked: rows
                .into_iter()
                .filter(|row| row.has_dependents || row.scoped)
                .collect(),
        })
    }

    /// Writes the results on SQLite, where handing sqlx a row per result
    /// (a `RETURNING`) cost more than reading what it told (400-result
    /// batches on the bench machine: 13.8 µs a result with it, 11.7 this
    /// way): the jobs that touch others are read first as one JSON text,
    /// and the rows written are counted. None when fewer rows than results
    /// changed (a claim lost its lock): then the caller learns which, the
    /// other way.
    async fn write_results_counted(
        &self,
        txn: &DatabaseTransaction,
        tables: Vec<Table>,
        batch: &[Finish],
    ) -> Result<Option<Written>> {
        #[derive(FromQueryResult)]
        struct Read {
            linked: String,
        }
        let ids: Vec<&str> = batch.iter().map(|f| f.id.as_str()).collect();
        let read = Read::find_by_statement(self.stmt(
            &format!(
                "SELECT json_group_array(json_array(id, {}, {})) AS linked FROM jobs \
                 WHERE id IN (SELECT value FROM json_each($1)) AND (has_dependents OR scoped)",
                json_bool("has_dependents"),
                json_bool("scoped")
            ),
            vec![serde_json::json!(ids).to_string().into()],
        ))
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal("the results' read found no row".into()))?;
        let linked: Vec<Accepted> = serde_json::from_str(&read.linked)
            .map_err(|err| Error::Internal(format!("linked jobs: {err}")))?;
        let mut written = 0;
        for table in tables {
            written += txn
                .execute_raw(self.stmt(&results_sql(&table.sql), table.values))
                .await?
                .rows_affected();
        }
        if written != batch.len() as u64 {
            return Ok(None);
        }
        Ok(Some(Written {
            accepted: ids.into_iter().map(str::to_owned).collect(),
            linked,
        }))
    }

    /// Appends rows to `job_attempts`.
    pub(crate) async fn insert_attempts<'a>(
        &self,
        conn: &impl ConnectionTrait,
        rows: impl Iterator<Item = AttemptRow<'a>>,
    ) -> Result<()> {
        let mut values: Vec<Value> = Vec::new();
        for row in rows {
            values.extend([
                row.job_id.into(),
                row.attempt.into(),
                row.owner.map(str::to_owned).into(),
                row.started_at.into(),
                row.ended_at.into(),
                row.outcome.into(),
                row.error.map(str::to_owned).into(),
            ]);
        }
        if values.is_empty() {
            return Ok(());
        }
        let types = ["text", "int4", "text", "int8", "int8", "text", "text"];
        for table in self.dialect().tables(&types, values, &[])? {
            conn.execute_raw(self.stmt(
                &format!(
                    "INSERT INTO job_attempts (job_id, attempt, owner, started_at, ended_at, outcome, error) \
                     SELECT v.* FROM {}",
                    table.sql
                ),
                table.values,
            ))
            .await?;
        }
        Ok(())
    }
}

/// An accepted result's job, as settling it needs to know.
#[derive(Debug, FromQueryResult, serde::Deserialize)]
struct Accepted {
    id: String,
    has_dependents: bool,
    scoped: bool,
}

/// What writing a batch of results did.
struct Written {
    /// The ids whose results were accepted.
    accepted: HashSet<String>,
    /// Those of them with dependents or scopes.
    linked: Vec<Accepted>,
}

/// The results statement for a table `v` of [`COLUMNS`] after `$1`, the
/// owner: each row is matched on its id, claim count and owner.
fn results_sql(table: &str) -> String {
    format!(
        "UPDATE jobs SET state = v.column3, run_at = COALESCE(v.column4, jobs.run_at), \
         started_at = v.column8, ended_at = v.column5, \
         last_error = CASE WHEN v.column7 = 1 THEN jobs.last_error ELSE v.column6 END, \
         attempt = jobs.attempt - v.column7, owner = NULL, lock_expires_at = NULL \
         FROM {table} \
         WHERE jobs.id = v.column1 AND jobs.claim_count = v.column2 AND {OWNED}"
    )
}

/// One row of attempts history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptRow<'a> {
    pub job_id: &'a str,
    pub owner: Option<&'a str>,
    pub attempt: i32,
    pub started_at: Option<i64>,
    pub ended_at: i64,
    pub outcome: &'a str,
    pub error: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::claim::ClaimRequest;
    use crate::{Engine, NewJob, Ordering};

    /// A runner hands back a job held ahead of its workers before the
    /// abort requested for it reaches the process (the request is in the
    /// database; its signal is on the way): the job ends aborted, not
    /// pending to run later. Its neighbour goes back as if never claimed.
    #[tokio::test]
    async fn a_hand_back_does_not_undo_an_abort_requested_meanwhile() {
        let engine = Engine::builder().connect("sqlite::memory:").await.unwrap();
        let jobs = (0..2)
            .map(|_| NewJob::from_json("q", "noop", "{}"))
            .collect();
        let ids = engine.put_many(jobs).await.unwrap();
        let now = engine.clock().now_us();
        let claimed = engine
            .store()
            .claim(ClaimRequest {
                queue: "q",
                ordering: Ordering::Fifo,
                owner: "holder",
                now,
                lock_expires_at: now + 60_000_000,
                limit: 2,
                promote_retries: false,
            })
            .await
            .unwrap()
            .jobs;
        assert_eq!(claimed.len(), 2);
        engine.abort(&ids[0]).await.unwrap();
        let mut batch: Vec<Finish> = claimed
            .into_iter()
            .map(|job| Finish {
                id: job.id,
                job_type: job.job_type,
                claim_count: job.claim_count,
                attempt: job.attempt,
                started_at: now,
                ended_at: now,
                outcome: Outcome::Unstarted,
            })
            .collect();
        batch.sort_by(|a, b| a.id.cmp(&b.id));
        let accepted = engine
            .store()
            .finish("q", "holder", &mut batch)
            .await
            .unwrap();
        assert_eq!(accepted.len(), 2);
        assert_eq!(
            batch[0].outcome,
            Outcome::Aborted(ABORTED_BY_OPERATOR.into())
        );
        assert_eq!(batch[1].outcome, Outcome::Unstarted);
        let aborted = engine.get(&ids[0]).await.unwrap();
        assert_eq!(aborted.state, JobState::Aborted);
        assert_eq!(aborted.last_error.as_deref(), Some(ABORTED_BY_OPERATOR));
        let back = engine.get(&ids[1]).await.unwrap();
        assert_eq!(
            (back.state, back.attempt, back.owner),
            (JobState::Pending, 0, None)
        );
        let counts = engine.counts("q").await.unwrap();
        assert_eq!(
            [JobState::Pending, JobState::Running, JobState::Aborted].map(|s| counts[&s]),
            [1, 0, 1]
        );
    }
}
