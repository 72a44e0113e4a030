//! Publishes a stats snapshot each second, computed once for every
//! subscriber (dashboards, the websocket stream, metrics).

use std::sync::Arc;
use std::time::Duration;

use crate::clock::from_us;
use crate::engine::Engine;
use crate::events::StatsSnapshot;
use crate::state::JobState;

/// How often a snapshot is published.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) async fn run(engine: Engine) {
    let mut previous: Option<(i64, i64, i64)> = None;
    loop {
        engine.clock().sleep(STATS_INTERVAL).await;
        let queues = match engine
            .metrics()
            .timed("counts", engine.queue_counts())
            .await
        {
            Ok(queues) => queues,
            Err(err) => {
                tracing::warn!(%err, "could not read stats");
                continue;
            }
        };
        let now = engine.clock().now_us();
        let mut snapshot = StatsSnapshot {
            at: from_us(now),
            queues,
            completed_per_sec: 0.0,
            failed_per_sec: 0.0,
        };
        let totals = snapshot.totals();
        let (completed, failed) = (totals[&JobState::Completed], totals[&JobState::Failed]);
        if let Some((at, c, f)) = previous
            && now > at
        {
            let secs = (now - at) as f64 / 1e6;
            snapshot.completed_per_sec = (completed - c).max(0) as f64 / secs;
            snapshot.failed_per_sec = (failed - f).max(0) as f64 / secs;
        }
        previous = Some((now, completed, failed));
        engine.publish_stats(Arc::new(snapshot));
    }
}
