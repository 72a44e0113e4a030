//! Per-minute histograms of queue latency and run duration by queue and job
//! type, written in the claim and completion transactions, so the timing
//! report reads a few rows per minute instead of the jobs table.

use sea_orm_migration::prelude::*;

/// Histogram buckets per row (see `amboy::store::timing`).
pub const BUCKETS: usize = 40;

/// Creates `job_timings`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobTimings {
    Table,
    Minute,
    Queue,
    JobType,
    Metric,
    Count,
    SumUs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(JobTimings::Table)
            // The minute's start, µs since the epoch.
            .col(ColumnDef::new(JobTimings::Minute).big_integer().not_null())
            .col(ColumnDef::new(JobTimings::Queue).string().not_null())
            .col(ColumnDef::new(JobTimings::JobType).string().not_null())
            // `latency` (ready → started) or `run` (started → ended).
            .col(ColumnDef::new(JobTimings::Metric).string().not_null())
            .col(ColumnDef::new(JobTimings::Count).big_integer().not_null())
            .col(ColumnDef::new(JobTimings::SumUs).big_integer().not_null());
        for bucket in 0..BUCKETS {
            table.col(
                ColumnDef::new(Alias::new(format!("b{bucket:02}")))
                    .big_integer()
                    .not_null(),
            );
        }
        table.primary_key(
            Index::create()
                .col(JobTimings::Minute)
                .col(JobTimings::Queue)
                .col(JobTimings::JobType)
                .col(JobTimings::Metric),
        );
        manager.create_table(table.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobTimings::Table).to_owned())
            .await
    }
}
