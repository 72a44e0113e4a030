//! The claim indexes hold only the jobs they find: pending jobs for claims,
//! retrying jobs for their promotion, running jobs for lock rescue.
//!
//! The first claim indexes, `(queue, state, …)` over every job, changed
//! entries at every step of a job's life: inserted at the put, moved at the
//! claim, moved again when it ended, and kept for every finished job. These
//! cost an entry when a job enters the state and one when it leaves. The
//! oldest-first walk retention needs over a queue's finished jobs, which
//! the FIFO index used to give, gets its own index of settled jobs.
//!
//! A query uses a partial index only when its own condition states the
//! index's word for word (SQLite proves nothing more), so the store writes
//! `state = 'pending'` and the like as literals, never as bound values.

use sea_orm_migration::prelude::*;

use crate::m20261130_000012_job_list_indexes::SETTLED;

/// Replaces `jobs_claim_fifo` and `jobs_claim_priority` with partial
/// indexes; adds the running jobs' lock expiry by queue and the settled
/// jobs' age by queue and state.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, columns, condition) of each new index.
const INDEXES: [(&str, &str, &str); 5] = [
    (
        "jobs_pending_fifo",
        "queue, run_at, id",
        "state = 'pending'",
    ),
    (
        "jobs_pending_priority",
        "queue, priority DESC, run_at, id",
        "state = 'pending'",
    ),
    ("jobs_retrying", "queue, run_at", "state = 'retrying'"),
    (
        "jobs_running_expiry",
        "queue, lock_expires_at",
        "state = 'running'",
    ),
    ("jobs_settled_by_age", "queue, state, run_at, id", SETTLED),
];

/// The indexes they replace, as they were created.
const REPLACED: [(&str, &str); 2] = [
    ("jobs_claim_fifo", "queue, state, run_at, id"),
    ("jobs_claim_priority", "queue, state, priority DESC, run_at"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in REPLACED {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        for (name, columns, condition) in INDEXES {
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON jobs ({columns}) WHERE {condition}"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        for (name, columns) in REPLACED {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON jobs ({columns})"))
                .await?;
        }
        Ok(())
    }
}
