//! Reads: one job with its history, and filtered pages of jobs.

use std::collections::HashMap;

use sea_orm::FromQueryResult;

use super::{SETTLED, Store, placeholders, state_literal};
use crate::clock::from_us;
use crate::error::{Error, Result};
use crate::record::{Attempt, JobFilter, JobRecord, LogLine};
use crate::state::JobState;

const JOB_COLUMNS: &str = "id, queue, job_type, type_version, state, payload, priority, attempt, \
    max_attempts, max_time_ms, created_at, run_at, dispatch_by, started_at, ended_at, owner, \
    last_error, progress, progress_message, claim_count, deps_left, on_dependency_failure, \
    dependency, scoped";

#[derive(FromQueryResult)]
struct JobRow {
    id: String,
    queue: String,
    job_type: String,
    type_version: i32,
    state: String,
    payload: String,
    priority: i32,
    attempt: i32,
    max_attempts: i32,
    max_time_ms: Option<i64>,
    created_at: i64,
    run_at: i64,
    dispatch_by: Option<i64>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    owner: Option<String>,
    last_error: Option<String>,
    progress: i32,
    progress_message: Option<String>,
    claim_count: i32,
    deps_left: i32,
    on_dependency_failure: String,
    dependency: Option<String>,
    scoped: bool,
}

impl JobRow {
    fn into_record(self) -> Result<JobRecord> {
        let dependency = match &self.dependency {
            None => Default::default(),
            Some(json) => serde_json::from_str(json).map_err(|err| {
                Error::Internal(format!("job {:?}: stored dependency: {err}", self.id))
            })?,
        };
        Ok(JobRecord {
            state: self
                .state
                .parse()
                .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))?,
            // Payloads were checked at put; a row edited by hand still shows.
            payload: serde_json::from_str(&self.payload)
                .unwrap_or(serde_json::Value::String(self.payload)),
            id: self.id,
            queue: self.queue,
            job_type: self.job_type,
            type_version: self.type_version,
            priority: self.priority,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            max_time_ms: self.max_time_ms,
            created_at: from_us(self.created_at),
            run_at: from_us(self.run_at),
            dispatch_by: self.dispatch_by.map(from_us),
            started_at: self.started_at.map(from_us),
            ended_at: self.ended_at.map(from_us),
            owner: self.owner,
            last_error: self.last_error,
            progress: self.progress,
            progress_message: self.progress_message,
            claim_count: self.claim_count,
            depends_on: Vec::new(),
            deps_left: self.deps_left,
            on_dependency_failure: self.on_dependency_failure.parse()?,
            dependency,
            scopes: Vec::new(),
            enqueue_scopes: Vec::new(),
        })
    }
}

impl Store {
    /// One job, or `None`.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let rows: Vec<JobRow> = JobRow::find_by_statement(self.stmt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            vec![id.into()],
        ))
        .all(&self.read)
        .await?;
        Ok(self.records(rows).await?.pop())
    }

    /// Records from rows, with their edges and scopes.
    async fn records(&self, rows: Vec<JobRow>) -> Result<Vec<JobRecord>> {
        #[derive(FromQueryResult)]
        struct Link {
            job_id: String,
            name: String,
            kind: String,
        }
        let scoped: Vec<sea_orm::Value> = rows
            .iter()
            .filter(|row| row.scoped)
            .map(|row| row.id.clone().into())
            .collect();
        let mut records: Vec<JobRecord> = rows
            .into_iter()
            .map(JobRow::into_record)
            .collect::<Result<_>>()?;
        if records.is_empty() {
            return Ok(records);
        }
        let ids: Vec<sea_orm::Value> = records.iter().map(|r| r.id.clone().into()).collect();
        // Edges are read for every job (there is no flag for having them;
        // a primary-key probe per job), scopes only for the scoped ones.
        let mut links = Link::find_by_statement(self.stmt(
            &format!(
                "SELECT job_id, depends_on AS name, 'edge' AS kind FROM job_edges \
                 WHERE job_id IN ({}) ORDER BY job_id, depends_on",
                placeholders(1, ids.len())
            ),
            ids,
        ))
        .all(&self.read)
        .await?;
        if !scoped.is_empty() {
            links.extend(
                Link::find_by_statement(self.stmt(
                    &format!(
                        "SELECT job_id, scope AS name, kind FROM job_scopes \
                         WHERE job_id IN ({}) ORDER BY job_id, scope",
                        placeholders(1, scoped.len())
                    ),
                    scoped,
                ))
                .all(&self.read)
                .await?,
            );
        }
        let index: HashMap<String, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for link in links {
            let record = &mut records[index[&link.job_id]];
            match link.kind.as_str() {
                "edge" => record.depends_on.push(link.name),
                "enqueue" => record.enqueue_scopes.push(link.name),
                _ => record.scopes.push(link.name),
            }
        }
        Ok(records)
    }

    /// A job's finished attempts, oldest first.
    pub async fn attempts(&self, id: &str) -> Result<Vec<Attempt>> {
        #[derive(FromQueryResult)]
        struct Row {
            attempt: i32,
            owner: Option<String>,
            started_at: Option<i64>,
            ended_at: i64,
            outcome: String,
            error: Option<String>,
        }
        let rows = Row::find_by_statement(self.stmt(
            "SELECT attempt, owner, started_at, ended_at, outcome, error FROM job_attempts \
             WHERE job_id = $1 ORDER BY attempt, id",
            vec![id.into()],
        ))
        .all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| Attempt {
                attempt: row.attempt,
                owner: row.owner,
                started_at: row.started_at.map(from_us),
                ended_at: from_us(row.ended_at),
                outcome: row.outcome,
                error: row.error,
            })
            .collect())
    }

    /// A job's log lines, oldest first.
    pub async fn logs(&self, id: &str) -> Result<Vec<LogLine>> {
        #[derive(FromQueryResult)]
        struct Row {
            attempt: i32,
            at: i64,
            line: String,
        }
        let rows = Row::find_by_statement(self.stmt(
            "SELECT attempt, at, line FROM job_logs WHERE job_id = $1 ORDER BY id",
            vec![id.into()],
        ))
        .all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| LogLine {
                attempt: row.attempt,
                at: from_us(row.at),
                line: row.line,
            })
            .collect())
    }

    /// A page of jobs matching `filter`, by id.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        let (condition, mut values) = filter_sql(filter);
        values.push(i64::from(filter.limit).into());
        let order = if filter.newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE {condition} ORDER BY id {order} LIMIT ${}",
            values.len()
        );
        let rows = JobRow::find_by_statement(self.stmt(&sql, values))
            .all(&self.read)
            .await?;
        self.records(rows).await
    }
}

/// `filter` (all but its limit) as a condition on `jobs` with its values,
/// bound from `$1`.
pub(crate) fn filter_sql(filter: &JobFilter) -> (String, Vec<sea_orm::Value>) {
    let mut conditions = Vec::new();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let mut bind = |condition: &str, value: sea_orm::Value| {
        values.push(value);
        conditions.push(condition.replace('#', &format!("${}", values.len())));
    };
    if let Some(queue) = &filter.queue {
        bind("queue = #", queue.clone().into());
    }
    if let Some(job_type) = &filter.job_type {
        bind("job_type = #", job_type.clone().into());
    }
    if let Some(prefix) = &filter.id_prefix {
        // A range on the primary key: uses the index, unlike LIKE.
        bind("id >= #", prefix.clone().into());
        bind("id < #", format!("{prefix}\u{10FFFF}").into());
    }
    if let Some(owner) = &filter.owner {
        bind("owner = #", owner.clone().into());
    }
    if let Some(after) = &filter.after {
        let past = if filter.newest_first {
            "id < #"
        } else {
            "id > #"
        };
        bind(past, after.clone().into());
    }
    // The state as a literal and the list indexes' condition word for
    // word: the planner takes a partial index (pending, running, settled
    // jobs) only for a condition it can read.
    if let Some(state) = filter.state {
        conditions.push(state_literal(state));
    }
    if filter
        .state
        .is_some_and(|state| !matches!(state, JobState::Pending | JobState::Running))
    {
        conditions.push(SETTLED.to_owned());
    }
    if conditions.is_empty() {
        conditions.push("1 = 1".to_owned());
    }
    (conditions.join(" AND "), values)
}
