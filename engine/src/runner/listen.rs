//! The signal listener: turns other processes' notifications (PostgreSQL
//! `LISTEN`) into local wake-ups, so a put anywhere starts work here within
//! milliseconds and an abort reaches the job's owner at once.
//!
//! When the connection drops it reconnects with jittered back-off and then
//! wakes every runner, since signals sent meanwhile were lost; the runners'
//! polling covers the gap.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;

use super::{StopReason, jittered};
use crate::engine::Engine;
use crate::store::signal::{Signal, listener_error};

/// First pause after the listener fails; doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// Listens until the task is aborted. `listener` is the connection opened
/// before the workers started (so no signal after start is missed), if
/// that succeeded.
pub(crate) async fn run(engine: Engine, mut listener: Option<PgListener>) {
    let mut pause = FIRST_PAUSE;
    loop {
        let Some(active) = listener.as_mut() else {
            tokio::time::sleep(jittered(pause)).await;
            pause = (pause * 2).min(MAX_PAUSE);
            match engine.store().listen().await {
                Ok(Some(opened)) => {
                    tracing::info!("listening for signals again");
                    listener = Some(opened);
                    pause = FIRST_PAUSE;
                    wake_everything(&engine);
                }
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(%err, ?pause, "could not listen for signals; runners poll meanwhile")
                }
            }
            continue;
        };
        match active.try_recv().await {
            Ok(Some(notification)) => match Signal::parse(notification.payload()) {
                Some(signal) => deliver(&engine, signal),
                None => tracing::debug!(payload = notification.payload(), "unknown signal ignored"),
            },
            Ok(None) => {
                tracing::warn!("signal connection lost and re-opened; waking every runner");
                wake_everything(&engine);
            }
            Err(err) => {
                tracing::warn!(err = %listener_error(err), "signal connection failed; reconnecting");
                listener = None;
            }
        }
    }
}

fn deliver(engine: &Engine, signal: Signal) {
    match signal {
        Signal::Put(queue) => engine.waker(&queue).notify_one(),
        Signal::Abort(id) => {
            if let Some(job) = engine.running().get(&id) {
                job.stop(StopReason::Aborted);
            }
        }
        Signal::Queues => engine.note_queues_changed(),
        Signal::Schedules => engine.schedules_changed().notify_waiters(),
    }
}

/// After signals may have been lost: every runner looks again.
fn wake_everything(engine: &Engine) {
    engine.wake_all();
    engine.note_queues_changed();
    engine.schedules_changed().notify_waiters();
}
