//! Job lists by state, and by queue and state, in id order: the dashboard's
//! tabs and the REST list page through them with keyset pagination, which
//! must stay fast at any depth with millions of jobs.
//!
//! Without them a state's list walks the primary key and skips every job in
//! another state (a long walk when the state is rare), and a queue's list
//! sorts all of the queue's jobs in that state. Ids are UUIDv7 by default,
//! so id order is creation order, both ways.
//!
//! Both are partial: they hold only jobs in the states jobs settle in
//! ([`SETTLED`]), not the pending and running jobs the workers churn
//! through, so a job costs them one entry when it ends rather than an entry
//! changed at every step of its life (a full index halved the burn-down
//! rate). Pending jobs are the newest, found first by a newest-first walk
//! of the primary key; running jobs are few. A query uses them by stating
//! [`SETTLED`] word for word, which both databases see as implying it.

use sea_orm_migration::prelude::*;

/// The condition of both indexes.
pub const SETTLED: &str = "state NOT IN ('pending', 'running')";

/// Adds `jobs_by_state (state, id)` and `jobs_by_queue_state (queue, state,
/// id)`, of jobs in the [`SETTLED`] states.
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 2] = [
    ("jobs_by_state", "state, id"),
    ("jobs_by_queue_state", "queue, state, id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {name} ON jobs ({columns}) WHERE {SETTLED}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX {name}"))
                .await?;
        }
        Ok(())
    }
}
