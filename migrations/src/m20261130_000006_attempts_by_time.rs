//! Indexes the attempts history by end time, for reports over a window
//! (recent errors) that must not read the whole history.

use sea_orm_migration::prelude::*;

/// Creates `job_attempts_ended`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobAttempts {
    Table,
    EndedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("job_attempts_ended")
                    .table(JobAttempts::Table)
                    .col(JobAttempts::EndedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("job_attempts_ended")
                    .table(JobAttempts::Table)
                    .to_owned(),
            )
            .await
    }
}
