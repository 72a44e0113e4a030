//! The registry of engine processes (`amboy serve` / `amboy worker`).

use sea_orm_migration::prelude::*;

/// Creates `processes`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Processes {
    Table,
    Id,
    Host,
    Pid,
    Version,
    Queues,
    StartedAt,
    HeartbeatAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Processes::Table)
                    .col(
                        ColumnDef::new(Processes::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Processes::Host).string().not_null())
                    .col(ColumnDef::new(Processes::Pid).big_integer().not_null())
                    .col(ColumnDef::new(Processes::Version).string().not_null())
                    // Comma-separated queue names, or `*` for every queue.
                    .col(ColumnDef::new(Processes::Queues).text().not_null())
                    .col(
                        ColumnDef::new(Processes::StartedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Processes::HeartbeatAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Processes::Table).to_owned())
            .await
    }
}
