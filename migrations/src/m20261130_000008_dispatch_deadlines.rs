//! Dispatch deadlines: a job may say by when it must start (`dispatch_by`);
//! one still waiting past it becomes `expired` instead of running late.

use sea_orm_migration::prelude::*;

/// Adds `jobs.dispatch_by` and the partial index `jobs_dispatch_by`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    DispatchBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    // µs; NULL for jobs without a deadline (most of them).
                    .add_column(ColumnDef::new(Jobs::DispatchBy).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // Partial: only waiting jobs with a deadline are in it (they leave
        // when they start or end), so jobs without one cost nothing and the
        // expiry sweep reads only what may expire. Same SQL on both backends.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX jobs_dispatch_by ON jobs (queue, dispatch_by) \
                 WHERE dispatch_by IS NOT NULL AND state IN ('blocked', 'pending', 'retrying')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX jobs_dispatch_by")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::DispatchBy)
                    .to_owned(),
            )
            .await
    }
}
