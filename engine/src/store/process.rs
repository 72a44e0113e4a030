//! The registry of engine processes: who is working, since when, and who
//! stopped heart-beating.

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::Store;
use crate::clock::from_us;
use crate::error::Result;
use crate::record::ProcessRecord;

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

/// A process just marked gone.
#[derive(Debug, Clone, FromQueryResult)]
pub struct GoneProcess {
    /// Its id.
    pub id: String,
    /// Its host.
    pub host: String,
    /// Its OS process id.
    pub pid: i64,
    /// Its last heartbeat, µs.
    pub heartbeat_at: i64,
}

#[derive(FromQueryResult)]
struct ProcessRow {
    id: String,
    host: String,
    pid: i64,
    version: String,
    queues: String,
    started_at: i64,
    heartbeat_at: i64,
    gone_at: Option<i64>,
    running: i64,
}

impl Store {
    /// Registers (or re-registers) a process.
    pub async fn register_process(&self, info: &ProcessInfo, now: i64) -> Result<()> {
        self.write
            .execute_raw(self.stmt(
                "INSERT INTO processes (id, host, pid, version, queues, started_at, heartbeat_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = $6, gone_at = NULL",
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

    /// Records that a process is alive (and no longer gone, if it had been
    /// marked so). Returns `false` when its row is missing: it was gone so
    /// long that it was forgotten, and must register again.
    pub async fn heartbeat(&self, id: &str, now: i64) -> Result<bool> {
        let result = self
            .write
            .execute_raw(self.stmt(
                "UPDATE processes SET heartbeat_at = $2, gone_at = NULL WHERE id = $1",
                vec![id.into(), now.into()],
            ))
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Marks every process whose last heartbeat is older than `stale_before`
    /// as gone, and forgets processes gone since before `forget_before`.
    /// Returns the processes marked gone by this call.
    pub async fn mark_gone(
        &self,
        now: i64,
        stale_before: i64,
        forget_before: i64,
    ) -> Result<Vec<GoneProcess>> {
        let gone = GoneProcess::find_by_statement(self.stmt(
            "UPDATE processes SET gone_at = $1 WHERE gone_at IS NULL AND heartbeat_at < $2 \
             RETURNING id, host, pid, heartbeat_at",
            vec![now.into(), stale_before.into()],
        ))
        .all(&self.write)
        .await?;
        self.write
            .execute_raw(self.stmt(
                "DELETE FROM processes WHERE gone_at < $1",
                vec![forget_before.into()],
            ))
            .await?;
        Ok(gone)
    }

    /// Removes a process at clean shutdown.
    pub async fn unregister_process(&self, id: &str) -> Result<()> {
        self.write
            .execute_raw(self.stmt("DELETE FROM processes WHERE id = $1", vec![id.into()]))
            .await?;
        Ok(())
    }

    /// Every registered process (live ones first, newest first) with the
    /// number of jobs each holds running (counted in one pass over the
    /// running jobs).
    pub async fn processes(&self) -> Result<Vec<ProcessRecord>> {
        let rows = ProcessRow::find_by_statement(self.stmt(
            "SELECT p.id, p.host, p.pid, p.version, p.queues, p.started_at, p.heartbeat_at, \
             p.gone_at, COALESCE(r.running, 0) AS running \
             FROM processes p LEFT JOIN (SELECT owner, COUNT(*) AS running FROM jobs \
             WHERE state = 'running' GROUP BY owner) r ON r.owner = p.id \
             ORDER BY p.gone_at IS NOT NULL, p.started_at DESC, p.id",
            vec![],
        ))
        .all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| ProcessRecord {
                id: row.id,
                host: row.host,
                pid: row.pid,
                version: row.version,
                queues: if row.queues == "*" {
                    None
                } else {
                    Some(row.queues.split(',').map(str::to_owned).collect())
                },
                started_at: from_us(row.started_at),
                heartbeat_at: from_us(row.heartbeat_at),
                gone_at: row.gone_at.map(from_us),
                running: row.running,
            })
            .collect())
    }
}
