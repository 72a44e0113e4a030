//! Job lists by state, and by queue and state, in id order: the dashboard's
//! tabs and the REST list page through them with keyset pagination, which
//! must stay fast at any depth with millions of jobs.
//!
//! Without them a state's list walks the primary key and skips every job in
//! another state (a deep read when the state is rare), and a queue's list
//! sorts all of the queue's jobs in that state. Ids are UUIDv7 by default,
//! so id order is creation order, both ways.

use sea_orm_migration::prelude::*;

/// Adds `jobs_by_state (state, id)` and `jobs_by_queue_state (queue, state, id)`.
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
                .execute_unprepared(&format!("CREATE INDEX {name} ON jobs ({columns})"))
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
