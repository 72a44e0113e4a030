//! Queue rows, their settings, and the per-(queue, state) counters.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::signal::Signal;
use super::{Store, placeholders};
use crate::error::{Error, Result};
use crate::queue::{Queue, QueueSettings};
use crate::state::JobState;

#[derive(FromQueryResult)]
struct QueueRow {
    name: String,
    concurrency: i32,
    ordering: String,
    paused: bool,
    lock_timeout_ms: i64,
    rate_limit_per_sec: Option<f64>,
    retention_max_jobs: Option<i64>,
    retention_max_age_ms: Option<i64>,
}

impl QueueRow {
    fn into_queue(self) -> Result<Queue> {
        Ok(Queue {
            name: self.name,
            settings: QueueSettings {
                concurrency: self.concurrency,
                ordering: self
                    .ordering
                    .parse()
                    .map_err(|err: Error| Error::Internal(err.to_string()))?,
                paused: self.paused,
                lock_timeout_ms: self.lock_timeout_ms,
                rate_limit_per_sec: self.rate_limit_per_sec,
                retention_max_jobs: self.retention_max_jobs,
                retention_max_age_ms: self.retention_max_age_ms,
            },
        })
    }
}

const QUEUE_COLUMNS: &str = "name, concurrency, ordering, paused, lock_timeout_ms, \
    rate_limit_per_sec, retention_max_jobs, retention_max_age_ms";

impl Store {
    /// Creates each queue that doesn't exist yet, with `settings` and a zero
    /// counter per state. Existing queues keep their settings.
    pub async fn ensure_queues(
        &self,
        conn: &impl ConnectionTrait,
        names: &[&str],
        settings: &QueueSettings,
        now: i64,
    ) -> Result<()> {
        for name in names {
            let s = settings;
            conn.execute_raw(self.stmt(
                "INSERT INTO queues (name, concurrency, ordering, paused, lock_timeout_ms, \
                 rate_limit_per_sec, retention_max_jobs, retention_max_age_ms, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (name) DO NOTHING",
                vec![
                    (*name).into(),
                    s.concurrency.into(),
                    s.ordering.as_str().into(),
                    s.paused.into(),
                    s.lock_timeout_ms.into(),
                    s.rate_limit_per_sec.into(),
                    s.retention_max_jobs.into(),
                    s.retention_max_age_ms.into(),
                    now.into(),
                ],
            ))
            .await?;
            let mut values = Vec::with_capacity(1 + JobState::ALL.len());
            values.push((*name).into());
            let rows = (0..JobState::ALL.len())
                .map(|i| format!("($1, ${}, 0)", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            values.extend(JobState::ALL.iter().map(|state| state.as_str().into()));
            conn.execute_raw(self.stmt(
                &format!(
                    "INSERT INTO queue_counts (queue, state, count) VALUES {rows} \
                     ON CONFLICT (queue, state) DO NOTHING"
                ),
                values,
            ))
            .await?;
        }
        if !names.is_empty() {
            self.signal(conn, &[Signal::Queues]).await?;
        }
        Ok(())
    }

    /// One queue, or `None`.
    pub async fn queue(&self, name: &str) -> Result<Option<Queue>> {
        let row = QueueRow::find_by_statement(self.stmt(
            &format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE name = $1"),
            vec![name.into()],
        ))
        .one(&self.read)
        .await?;
        row.map(QueueRow::into_queue).transpose()
    }

    /// Every queue, by name.
    pub async fn queues(&self) -> Result<Vec<Queue>> {
        QueueRow::find_by_statement(self.stmt(
            &format!("SELECT {QUEUE_COLUMNS} FROM queues ORDER BY name"),
            vec![],
        ))
        .all(&self.read)
        .await?
        .into_iter()
        .map(QueueRow::into_queue)
        .collect()
    }

    /// Replaces a queue's settings; `QueueNotFound` when it doesn't exist.
    pub async fn set_queue_settings(&self, name: &str, s: &QueueSettings, now: i64) -> Result<()> {
        let result = self
            .write
            .execute_raw(self.stmt(
                "UPDATE queues SET concurrency = $2, ordering = $3, paused = $4, \
                 lock_timeout_ms = $5, rate_limit_per_sec = $6, retention_max_jobs = $7, \
                 retention_max_age_ms = $8, updated_at = $9 WHERE name = $1",
                vec![
                    name.into(),
                    s.concurrency.into(),
                    s.ordering.as_str().into(),
                    s.paused.into(),
                    s.lock_timeout_ms.into(),
                    s.rate_limit_per_sec.into(),
                    s.retention_max_jobs.into(),
                    s.retention_max_age_ms.into(),
                    now.into(),
                ],
            ))
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::QueueNotFound(name.to_owned()));
        }
        self.signal(&self.write, &[Signal::Queues]).await?;
        Ok(())
    }

    /// Job counts by state for every queue (or the named ones), read from
    /// the counters: the cost is one row per (queue, state), however many
    /// jobs there are.
    pub async fn counts(
        &self,
        only: Option<&[&str]>,
    ) -> Result<BTreeMap<String, BTreeMap<JobState, i64>>> {
        self.counts_on(&self.read, only).await
    }

    /// [`Store::counts`], read on `conn` (in a transaction).
    pub(crate) async fn counts_on(
        &self,
        conn: &impl ConnectionTrait,
        only: Option<&[&str]>,
    ) -> Result<BTreeMap<String, BTreeMap<JobState, i64>>> {
        #[derive(FromQueryResult)]
        struct CountRow {
            queue: String,
            state: String,
            count: i64,
        }
        let stmt = match only {
            Some(names) => self.stmt(
                &format!(
                    "SELECT queue, state, count FROM queue_counts WHERE queue IN ({})",
                    placeholders(1, names.len())
                ),
                names.iter().map(|name| (*name).into()).collect(),
            ),
            None => self.stmt("SELECT queue, state, count FROM queue_counts", vec![]),
        };
        let mut counts: BTreeMap<String, BTreeMap<JobState, i64>> = BTreeMap::new();
        for row in CountRow::find_by_statement(stmt).all(conn).await? {
            let state = row
                .state
                .parse()
                .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))?;
            counts
                .entry(row.queue)
                .or_default()
                .insert(state, row.count);
        }
        Ok(counts)
    }
}
