//! The retention service: every [`RETENTION_INTERVAL`], prunes each queue's
//! terminal jobs beyond its limits (`retention_max_jobs`,
//! `retention_max_age_ms`) in batches of [`PRUNE_BATCH`], at most
//! [`MAX_BATCHES_PER_ROUND`] per queue per round, so a large backlog of
//! deletions never holds the database for long. Every process runs it;
//! batches of one queue take turns (see `store::retention`). The same
//! round deletes queues that have been empty past their idle TTL.

use std::time::Duration;

use super::jittered;
use crate::engine::Engine;
use crate::error::Result;
use crate::queue::Queue;
use crate::store::retention::Limits;

/// How often queues are pruned.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(10);
/// Jobs deleted per transaction.
pub const PRUNE_BATCH: usize = 500;
/// Batches per queue per round; the rest waits for the next round.
pub const MAX_BATCHES_PER_ROUND: usize = 20;

/// Prunes until the task is aborted: terminal jobs beyond their queues'
/// limits, then queues idle past their TTL.
pub(crate) async fn run(engine: Engine) {
    loop {
        engine.clock().sleep(jittered(RETENTION_INTERVAL)).await;
        if let Err(err) = engine.apply_retention().await {
            tracing::warn!(%err, "could not prune");
        }
        match engine.prune_idle_queues().await {
            Ok(pruned) if !pruned.is_empty() => {
                tracing::info!(queues = ?pruned, "pruned idle queues");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "could not prune idle queues"),
        }
    }
}

impl Engine {
    /// One retention round now: deletes each queue's terminal jobs beyond
    /// its limits, up to [`MAX_BATCHES_PER_ROUND`] batches per queue.
    /// Returns how many jobs were deleted. Running workers do this every
    /// [`RETENTION_INTERVAL`].
    pub async fn apply_retention(&self) -> Result<u64> {
        let mut pruned = 0;
        for queue in self.queues().await?.iter().filter(|q| {
            q.settings.retention_max_jobs.is_some() || q.settings.retention_max_age_ms.is_some()
        }) {
            let n = prune(self, queue).await?;
            if n > 0 {
                tracing::debug!(queue = %queue.name, pruned = n, "pruned terminal jobs");
            }
            pruned += n;
        }
        Ok(pruned)
    }
}

/// One round for one queue: batches until nothing is beyond its limits
/// or the round's share is used.
async fn prune(engine: &Engine, queue: &Queue) -> Result<u64> {
    let mut pruned = 0;
    for _ in 0..MAX_BATCHES_PER_ROUND {
        let now = engine.clock().now_us();
        let limits = Limits {
            max_jobs: queue.settings.retention_max_jobs,
            ended_before: queue
                .settings
                .retention_max_age_ms
                .map(|ms| now.saturating_sub(ms.saturating_mul(1_000))),
        };
        let batch = engine.store().prune(&queue.name, limits, PRUNE_BATCH, now);
        let deleted = engine.metrics().timed("prune", batch).await?;
        if deleted == 0 {
            break;
        }
        engine.metrics().pruned(&queue.name, deleted);
        pruned += deleted;
    }
    Ok(pruned)
}
