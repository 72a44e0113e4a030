//! Management reports: job counts by queue, type and state, and recent
//! errors grouped by type and message.

use sea_orm::FromQueryResult;

use super::Store;
use crate::clock::from_us;
use crate::error::{Error, Result};
use crate::record::{ErrorGroup, TypeCounts};

impl Store {
    /// Jobs by queue, type and state (of one queue, or all). This reads
    /// the jobs table: a report, not a live stat.
    pub async fn counts_by_type(&self, queue: Option<&str>) -> Result<Vec<TypeCounts>> {
        #[derive(FromQueryResult)]
        struct Row {
            queue: String,
            job_type: String,
            state: String,
            n: i64,
        }
        let (condition, values) = match queue {
            Some(queue) => ("WHERE queue = $1", vec![queue.into()]),
            None => ("", vec![]),
        };
        let rows = Row::find_by_statement(self.stmt(
            &format!(
                "SELECT queue, job_type, state, COUNT(*) AS n FROM jobs {condition} \
                 GROUP BY queue, job_type, state ORDER BY queue, job_type"
            ),
            values,
        ))
        .all(&self.read)
        .await?;
        let mut out: Vec<TypeCounts> = Vec::new();
        for row in rows {
            let state = row
                .state
                .parse()
                .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))?;
            let same = out
                .last()
                .is_some_and(|last| last.queue == row.queue && last.job_type == row.job_type);
            if !same {
                out.push(TypeCounts {
                    queue: row.queue.clone(),
                    job_type: row.job_type.clone(),
                    counts: crate::state::JobState::ALL
                        .iter()
                        .map(|s| (*s, 0))
                        .collect(),
                });
            }
            if let Some(last) = out.last_mut() {
                last.counts.insert(state, row.n);
            }
        }
        Ok(out)
    }

    /// Errors of attempts that ended since `since` (µs), grouped by job type
    /// and message, most frequent first.
    pub async fn error_groups(&self, since: i64, limit: u32) -> Result<Vec<ErrorGroup>> {
        #[derive(FromQueryResult)]
        struct Row {
            job_type: String,
            error: String,
            n: i64,
            last_at: i64,
            last_job_id: String,
        }
        let rows = Row::find_by_statement(self.stmt(
            "SELECT j.job_type AS job_type, a.error AS error, COUNT(*) AS n, \
             MAX(a.ended_at) AS last_at, MAX(a.job_id) AS last_job_id \
             FROM job_attempts a JOIN jobs j ON j.id = a.job_id \
             WHERE a.ended_at >= $1 AND a.error IS NOT NULL \
             GROUP BY j.job_type, a.error ORDER BY n DESC, last_at DESC LIMIT $2",
            vec![since.into(), i64::from(limit).into()],
        ))
        .all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| ErrorGroup {
                job_type: row.job_type,
                error: row.error,
                count: row.n,
                last_at: from_us(row.last_at),
                example_job_id: row.last_job_id,
            })
            .collect())
    }
}
