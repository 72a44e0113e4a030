//! Jobs, their attempts history and their log lines.
//!
//! The `jobs` row stays narrow and holds the latest attempt only; earlier
//! attempts live in `job_attempts`, so a first-try success writes no history
//! row and the hot path stays one claim and one completion per batch.

use sea_orm_migration::prelude::*;

/// Creates `jobs`, `job_attempts`, `job_logs` and the claim indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Queue,
    JobType,
    TypeVersion,
    Payload,
    State,
    Priority,
    Attempt,
    MaxAttempts,
    BackoffBaseMs,
    BackoffMaxMs,
    MaxTimeMs,
    CreatedAt,
    RunAt,
    StartedAt,
    EndedAt,
    Owner,
    LockExpiresAt,
    ClaimCount,
    AbortRequested,
    LastError,
    Progress,
    ProgressMessage,
}

#[derive(DeriveIden)]
enum JobAttempts {
    Table,
    Id,
    JobId,
    Attempt,
    Owner,
    StartedAt,
    EndedAt,
    Outcome,
    Error,
}

#[derive(DeriveIden)]
enum JobLogs {
    Table,
    Id,
    JobId,
    Attempt,
    At,
    Line,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(ColumnDef::new(Jobs::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Jobs::Queue).string().not_null())
                    .col(ColumnDef::new(Jobs::JobType).string().not_null())
                    .col(ColumnDef::new(Jobs::TypeVersion).integer().not_null())
                    .col(ColumnDef::new(Jobs::Payload).text().not_null())
                    .col(ColumnDef::new(Jobs::State).string().not_null())
                    .col(ColumnDef::new(Jobs::Priority).integer().not_null())
                    .col(ColumnDef::new(Jobs::Attempt).integer().not_null())
                    .col(ColumnDef::new(Jobs::MaxAttempts).integer().not_null())
                    .col(ColumnDef::new(Jobs::BackoffBaseMs).big_integer().not_null())
                    .col(ColumnDef::new(Jobs::BackoffMaxMs).big_integer().not_null())
                    .col(ColumnDef::new(Jobs::MaxTimeMs).big_integer().null())
                    .col(ColumnDef::new(Jobs::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Jobs::RunAt).big_integer().not_null())
                    .col(ColumnDef::new(Jobs::StartedAt).big_integer().null())
                    .col(ColumnDef::new(Jobs::EndedAt).big_integer().null())
                    .col(ColumnDef::new(Jobs::Owner).string().null())
                    .col(ColumnDef::new(Jobs::LockExpiresAt).big_integer().null())
                    // Fencing token: bumped by every claim, checked by every
                    // write that assumes ownership.
                    .col(ColumnDef::new(Jobs::ClaimCount).integer().not_null())
                    .col(ColumnDef::new(Jobs::AbortRequested).boolean().not_null())
                    .col(ColumnDef::new(Jobs::LastError).text().null())
                    .col(ColumnDef::new(Jobs::Progress).integer().not_null())
                    .col(ColumnDef::new(Jobs::ProgressMessage).text().null())
                    .to_owned(),
            )
            .await?;
        // FIFO claims: ready jobs of a queue in run_at order.
        manager
            .create_index(
                Index::create()
                    .name("jobs_claim_fifo")
                    .table(Jobs::Table)
                    .col(Jobs::Queue)
                    .col(Jobs::State)
                    .col(Jobs::RunAt)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await?;
        // Priority claims: highest priority first, then run_at.
        manager
            .create_index(
                Index::create()
                    .name("jobs_claim_priority")
                    .table(Jobs::Table)
                    .col(Jobs::Queue)
                    .col(Jobs::State)
                    .col((Jobs::Priority, IndexOrder::Desc))
                    .col(Jobs::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobAttempts::Table)
                    .col(
                        ColumnDef::new(JobAttempts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(JobAttempts::JobId).string().not_null())
                    .col(ColumnDef::new(JobAttempts::Attempt).integer().not_null())
                    .col(ColumnDef::new(JobAttempts::Owner).string().null())
                    .col(ColumnDef::new(JobAttempts::StartedAt).big_integer().null())
                    .col(
                        ColumnDef::new(JobAttempts::EndedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(JobAttempts::Outcome).string().not_null())
                    .col(ColumnDef::new(JobAttempts::Error).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(JobAttempts::Table, JobAttempts::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("job_attempts_job")
                    .table(JobAttempts::Table)
                    .col(JobAttempts::JobId)
                    .col(JobAttempts::Attempt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLogs::Table)
                    .col(
                        ColumnDef::new(JobLogs::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(JobLogs::JobId).string().not_null())
                    .col(ColumnDef::new(JobLogs::Attempt).integer().not_null())
                    .col(ColumnDef::new(JobLogs::At).big_integer().not_null())
                    .col(ColumnDef::new(JobLogs::Line).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(JobLogs::Table, JobLogs::JobId)
                            .to(Jobs::Table, Jobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("job_logs_job")
                    .table(JobLogs::Table)
                    .col(JobLogs::JobId)
                    .col(JobLogs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            JobLogs::Table.into_iden(),
            JobAttempts::Table.into_iden(),
            Jobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
