//! Retention: a queue keeps at most N terminal jobs and/or keeps them at most
//! D (amboy's limited-size queue). Each pruning batch is one transaction: it
//! locks the queue's row (one pruner per queue at a time on PostgreSQL;
//! SQLite has one writer anyway), picks the oldest terminal jobs beyond the
//! limits — by `run_at`, which the settled jobs' age index orders within
//! each (queue, state) — and deletes them with their attempts and log lines,
//! moving the counters.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::manage::JobAction;
use super::{SETTLED, Store, state_literal};
use crate::error::Result;
use crate::state::JobState;

/// A queue's retention limits, as pruning applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Keep at most this many terminal jobs.
    pub max_jobs: Option<i64>,
    /// Delete terminal jobs that ended before this time (µs).
    pub ended_before: Option<i64>,
}

#[derive(FromQueryResult)]
struct Candidate {
    id: String,
    run_at: i64,
}

impl Store {
    /// Deletes up to `batch` terminal jobs of `queue` beyond `limits`: those
    /// that ended before the cutoff first, then the oldest beyond the
    /// count. Returns how many were deleted.
    pub async fn prune(&self, queue: &str, limits: Limits, batch: usize, now: i64) -> Result<u64> {
        let txn = self.begin().await?;
        txn.execute_raw(self.stmt(
            &format!(
                "SELECT name FROM queues WHERE name = $1{}",
                self.dialect().mutex_lock()
            ),
            vec![queue.into()],
        ))
        .await?;
        let mut ids: Vec<String> = Vec::new();
        if let Some(cutoff) = limits.ended_before {
            for state in JobState::TERMINAL {
                let room = batch - ids.len();
                if room == 0 {
                    break;
                }
                let aged = self.oldest(&txn, queue, state, Some(cutoff), room).await?;
                ids.extend(aged.into_iter().map(|c| c.id));
            }
        }
        if ids.is_empty()
            && let Some(max_jobs) = limits.max_jobs
        {
            let counts = self.counts_on(&txn, Some(&[queue])).await?;
            let kept: i64 = counts.get(queue).map_or(0, |by_state| {
                JobState::TERMINAL
                    .iter()
                    .filter_map(|state| by_state.get(state))
                    .sum()
            });
            let excess = usize::try_from(kept - max_jobs).unwrap_or(0).min(batch);
            if excess > 0 {
                // The oldest `excess` of each state, merged: the oldest overall.
                let mut oldest = Vec::new();
                for state in JobState::TERMINAL {
                    oldest.extend(self.oldest(&txn, queue, state, None, excess).await?);
                }
                oldest.sort_unstable_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
                ids.extend(oldest.into_iter().take(excess).map(|c| c.id));
            }
        }
        if ids.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        let deleted = self
            .act_in(&txn, JobAction::Delete, &JobState::TERMINAL, &ids, now)
            .await?;
        txn.commit().await?;
        Ok(deleted.len() as u64)
    }

    /// Up to `limit` jobs of `queue` in `state`, oldest `run_at` first (an
    /// index range scan), only those that ended before `ended_before` when
    /// given (a job ends after it was ready, so `run_at` bounds the scan).
    async fn oldest(
        &self,
        conn: &impl ConnectionTrait,
        queue: &str,
        state: JobState,
        ended_before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Candidate>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // The state is a literal and the index's condition is stated word
        // for word: the planner takes the partial index only then.
        let state = state_literal(state);
        let stmt = match ended_before {
            Some(cutoff) => self.stmt(
                &format!(
                    "SELECT id, run_at FROM jobs WHERE queue = $1 AND {state} AND {SETTLED} \
                     AND run_at < $2 AND ended_at < $2 ORDER BY run_at, id LIMIT $3"
                ),
                vec![queue.into(), cutoff.into(), limit.into()],
            ),
            None => self.stmt(
                &format!(
                    "SELECT id, run_at FROM jobs WHERE queue = $1 AND {state} AND {SETTLED} \
                     ORDER BY run_at, id LIMIT $2"
                ),
                vec![queue.into(), limit.into()],
            ),
        };
        Ok(Candidate::find_by_statement(stmt).all(conn).await?)
    }
}
