//! Marks processes that stopped heart-beating as gone instead of deleting
//! them, so operators can see which process vanished and when, and indexes
//! running jobs by owner, so "what is each process running" reads only the
//! running rows.

use sea_orm_migration::prelude::*;

/// Adds `processes.gone_at` and the partial index `jobs_running_owner`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Processes {
    Table,
    GoneAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Processes::Table)
                    // NULL while the process heart-beats; when it was marked gone otherwise.
                    .add_column(ColumnDef::new(Processes::GoneAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // Partial: rows enter it when claimed and leave when finished, so it
        // stays as small as the number of running jobs. Same SQL on both
        // backends.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX jobs_running_owner ON jobs (owner) WHERE state = 'running'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX jobs_running_owner")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Processes::Table)
                    .drop_column(Processes::GoneAt)
                    .to_owned(),
            )
            .await
    }
}
