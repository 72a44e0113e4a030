//! The reads behind the metrics' gauges, taken at scrape time. Each is cheap
//! at any table size: an index seek per queue, or a scan of a small table.

use sea_orm::FromQueryResult;

use super::Store;
use crate::error::Result;

impl Store {
    /// When the oldest ready pending job of `queue` became ready (its
    /// `run_at`, µs), if it has one: a seek on the pending jobs' FIFO index.
    pub async fn oldest_ready(&self, queue: &str, now: i64) -> Result<Option<i64>> {
        #[derive(FromQueryResult)]
        struct Oldest {
            oldest: Option<i64>,
        }
        Ok(Oldest::find_by_statement(self.stmt(
            // Jobs past their dispatch deadline wait only to be expired.
            "SELECT MIN(run_at) AS oldest FROM jobs \
             WHERE queue = $1 AND state = 'pending' AND run_at <= $2 \
             AND (dispatch_by IS NULL OR dispatch_by >= $2)",
            vec![queue.into(), now.into()],
        ))
        .one(&self.read)
        .await?
        .and_then(|row| row.oldest))
    }

    /// Every enabled schedule with its next fire time (µs).
    pub async fn next_fires(&self) -> Result<Vec<(String, i64)>> {
        #[derive(FromQueryResult)]
        struct Next {
            name: String,
            next_fire_at: i64,
        }
        Ok(Next::find_by_statement(self.stmt(
            // Disabled schedules have none.
            "SELECT name, next_fire_at FROM schedules \
             WHERE next_fire_at IS NOT NULL ORDER BY name",
            vec![],
        ))
        .all(&self.read)
        .await?
        .into_iter()
        .map(|row| (row.name, row.next_fire_at))
        .collect())
    }

    /// How many registered processes are alive and how many are gone.
    pub async fn process_counts(&self) -> Result<(i64, i64)> {
        #[derive(FromQueryResult)]
        struct Counts {
            alive: Option<i64>,
            gone: Option<i64>,
        }
        let counts = Counts::find_by_statement(self.stmt(
            "SELECT SUM(CASE WHEN gone_at IS NULL THEN 1 ELSE 0 END) AS alive, \
             SUM(CASE WHEN gone_at IS NULL THEN 0 ELSE 1 END) AS gone FROM processes",
            vec![],
        ))
        .one(&self.read)
        .await?;
        Ok(counts.map_or((0, 0), |c| (c.alive.unwrap_or(0), c.gone.unwrap_or(0))))
    }
}
