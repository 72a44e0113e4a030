//! Publishes a stats snapshot each second, computed once for every
//! subscriber (dashboards, the websocket stream, metrics).

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::events::{Event, StatsSnapshot};
use crate::state::JobState;

/// How often a snapshot is published.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) async fn run(engine: Engine) {
    let mut previous: Option<(i64, i64, i64)> = None;
    loop {
        engine.clock().sleep(STATS_INTERVAL).await;
        let queues = match engine.queue_counts().await {
            Ok(queues) => queues,
            Err(err) => {
                tracing::warn!(%err, "could not read stats");
                continue;
            }
        };
        let now = engine.clock().now_us();
        let total = |state| -> i64 {
            queues
                .iter()
                .map(|q| q.counts.get(&state).copied().unwrap_or(0))
                .sum()
        };
        let (completed, failed) = (total(JobState::Completed), total(JobState::Failed));
        let (completed_per_sec, failed_per_sec) = match previous {
            Some((at, c, f)) if now > at => {
                let secs = (now - at) as f64 / 1e6;
                (
                    ((completed - c).max(0)) as f64 / secs,
                    ((failed - f).max(0)) as f64 / secs,
                )
            }
            _ => (0.0, 0.0),
        };
        previous = Some((now, completed, failed));
        engine.emit(Event::Stats(Arc::new(StatsSnapshot {
            at: engine.clock().now(),
            queues,
            completed_per_sec,
            failed_per_sec,
        })));
    }
}
