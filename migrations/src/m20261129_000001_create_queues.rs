//! Queues with their persisted settings, and the per-(queue, state) counters.

use sea_orm_migration::prelude::*;

/// Creates `queues` and `queue_counts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Queues {
    Table,
    Name,
    Concurrency,
    Ordering,
    Paused,
    LockTimeoutMs,
    RateLimitPerSec,
    RetentionMaxJobs,
    RetentionMaxAgeMs,
    CreatedAt,
    UpdatedAt,
}

/// One row per (queue, state), updated in the same transaction as every
/// state change, so stats never count rows of `jobs`.
#[derive(DeriveIden)]
enum QueueCounts {
    Table,
    Queue,
    State,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Queues::Table)
                    .col(
                        ColumnDef::new(Queues::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Queues::Concurrency).integer().not_null())
                    .col(ColumnDef::new(Queues::Ordering).string().not_null())
                    .col(ColumnDef::new(Queues::Paused).boolean().not_null())
                    .col(
                        ColumnDef::new(Queues::LockTimeoutMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Queues::RateLimitPerSec).double().null())
                    .col(
                        ColumnDef::new(Queues::RetentionMaxJobs)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Queues::RetentionMaxAgeMs)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Queues::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Queues::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QueueCounts::Table)
                    .col(ColumnDef::new(QueueCounts::Queue).string().not_null())
                    .col(ColumnDef::new(QueueCounts::State).string().not_null())
                    .col(ColumnDef::new(QueueCounts::Count).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(QueueCounts::Queue)
                            .col(QueueCounts::State),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(QueueCounts::Table, QueueCounts::Queue)
                            .to(Queues::Table, Queues::Name)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(QueueCounts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Queues::Table).to_owned())
            .await
    }
}
