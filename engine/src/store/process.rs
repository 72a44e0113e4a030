//! The registry of engine processes: who is working, and since when.

use sea_orm::ConnectionTrait;

use super::Store;
use crate::error::Result;

/// What a process says about itself when it registers.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// Unique per process start.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// The OS process id.
    pub pid: i64,
    /// The amboy version.
    pub version: String,
    /// The queues it works, comma-separated, or `*`.
    pub queues: String,
}

impl Store {
    /// Registers (or re-registers) a process.
    pub async fn register_process(&self, info: &ProcessInfo, now: i64) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO processes (id, host, pid, version, queues, started_at, heartbeat_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = $6",
                vec![
                    info.id.clone().into(),
                    info.host.clone().into(),
                    info.pid.into(),
                    info.version.clone().into(),
                    info.queues.clone().into(),
                    now.into(),
                ],
            ))
            .await?;
        Ok(())
    }

    /// Records that a process is alive.
    pub async fn heartbeat(&self, id: &str, now: i64) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "UPDATE processes SET heartbeat_at = $2 WHERE id = $1",
                vec![id.into(), now.into()],
            ))
            .await?;
        Ok(())
    }

    /// Removes a process at clean shutdown.
    pub async fn unregister_process(&self, id: &str) -> Result<()> {
        self.write
            .execute_raw(self.stmt("DELETE FROM processes WHERE id = $1", vec![id.into()]))
            .await?;
        Ok(())
    }
}
