//! `noop` and `sleep`: jobs that do nothing, now or after a while.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::job::{Job, JobContext, JobError};

/// Does nothing and succeeds. Payload: `{}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Noop {}

impl Job for Noop {
    const NAME: &'static str = "noop";

    async fn run(&self, _ctx: &JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Waits `ms` milliseconds (by the engine's clock), then succeeds. Payload:
/// `{"ms": 250}`. Stops early when cancelled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    /// How long to wait, in milliseconds.
    pub ms: u64,
}

impl Job for Sleep {
    const NAME: &'static str = "sleep";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        tokio::select! {
            () = ctx.clock().sleep(Duration::from_millis(self.ms)) => Ok(()),
            () = ctx.cancelled() => Err(JobError::retry("cancelled while sleeping")),
        }
    }
}
