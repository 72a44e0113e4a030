//! Queue groups: queues created on first put take their settings from the
//! first matching rule (a regular expression over the name), follow that
//! rule until their own settings are set, and — with an idle TTL — are
//! pruned once they have been empty that long.
//!
//! - `queue_rules`: the ordered rules (`position` from 0), each a pattern
//!   and the settings it gives, as JSON.
//! - `queues.rule`: the pattern of the rule the queue follows; NULL once
//!   its settings were set for it alone (or when no rule matched).
//! - `queues.idle_ttl_ms`: prune the queue after it has been empty this long.
//! - `queues.empty_since`: when the pruner first found it empty (µs).

use sea_orm_migration::prelude::*;

/// Adds `queue_rules` and the queue-group columns of `queues`.
#[derive(DeriveMigrationName)]
pub struct Migration;

const QUEUE_COLUMNS: [&str; 3] = [
    "rule VARCHAR NULL",
    "idle_ttl_ms BIGINT NULL",
    "empty_since BIGINT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE queue_rules ( \
             position INTEGER NOT NULL PRIMARY KEY, \
             pattern VARCHAR NOT NULL UNIQUE, \
             settings TEXT NOT NULL)",
        )
        .await?;
        for column in QUEUE_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE queues ADD COLUMN {column}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for column in QUEUE_COLUMNS {
            let name = column.split_whitespace().next().unwrap_or(column);
            db.execute_unprepared(&format!("ALTER TABLE queues DROP COLUMN {name}"))
                .await?;
        }
        db.execute_unprepared("DROP TABLE queue_rules").await?;
        Ok(())
    }
}
