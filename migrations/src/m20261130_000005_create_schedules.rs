//! Schedules (recurring puts) and the record of their skips and duplicates.

use sea_orm_migration::prelude::*;

/// Creates `schedules` and `schedule_events`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Name,
    Queue,
    JobType,
    Payload,
    SpecKind,
    CronExpr,
    Timezone,
    IntervalMs,
    StartAt,
    Overlap,
    Threshold,
    Misfire,
    Enabled,
    Priority,
    MaxAttempts,
    MaxTimeMs,
    CreatedAt,
    UpdatedAt,
    NextFireAt,
    LastFireAt,
    LastResult,
    LastJobId,
    Fires,
    Skips,
    Duplicates,
}

#[derive(DeriveIden)]
enum ScheduleEvents {
    Table,
    Id,
    Schedule,
    FireAt,
    At,
    Result,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(
                        ColumnDef::new(Schedules::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Schedules::Queue).string().not_null())
                    .col(ColumnDef::new(Schedules::JobType).string().not_null())
                    // The payload template, JSON text.
                    .col(ColumnDef::new(Schedules::Payload).text().not_null())
                    // `cron` (cron_expr, timezone) or `interval` (interval_ms, start_at).
                    .col(ColumnDef::new(Schedules::SpecKind).string().not_null())
                    .col(ColumnDef::new(Schedules::CronExpr).string().null())
                    .col(ColumnDef::new(Schedules::Timezone).string().not_null())
                    .col(ColumnDef::new(Schedules::IntervalMs).big_integer().null())
                    .col(ColumnDef::new(Schedules::StartAt).big_integer().null())
                    // `allow`, `skip-if-unfinished` or `threshold` (with threshold).
                    .col(ColumnDef::new(Schedules::Overlap).string().not_null())
                    .col(ColumnDef::new(Schedules::Threshold).big_integer().null())
                    .col(ColumnDef::new(Schedules::Misfire).string().not_null())
                    .col(ColumnDef::new(Schedules::Enabled).boolean().not_null())
                    .col(ColumnDef::new(Schedules::Priority).integer().not_null())
                    .col(ColumnDef::new(Schedules::MaxAttempts).integer().null())
                    .col(ColumnDef::new(Schedules::MaxTimeMs).big_integer().null())
                    .col(
                        ColumnDef::new(Schedules::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Schedules::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    // NULL while disabled: due schedules are `next_fire_at <= now`.
                    .col(ColumnDef::new(Schedules::NextFireAt).big_integer().null())
                    .col(ColumnDef::new(Schedules::LastFireAt).big_integer().null())
                    .col(ColumnDef::new(Schedules::LastResult).text().null())
                    .col(ColumnDef::new(Schedules::LastJobId).string().null())
                    .col(ColumnDef::new(Schedules::Fires).big_integer().not_null())
                    .col(ColumnDef::new(Schedules::Skips).big_integer().not_null())
                    .col(
                        ColumnDef::new(Schedules::Duplicates)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("schedules_due")
                    .table(Schedules::Table)
                    .col(Schedules::NextFireAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScheduleEvents::Table)
                    .col(
                        ColumnDef::new(ScheduleEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ScheduleEvents::Schedule).string().not_null())
                    .col(
                        ColumnDef::new(ScheduleEvents::FireAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ScheduleEvents::At).big_integer().not_null())
                    // `skipped` or `duplicate`.
                    .col(ColumnDef::new(ScheduleEvents::Result).string().not_null())
                    .col(ColumnDef::new(ScheduleEvents::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("schedule_events_by_schedule")
                    .table(ScheduleEvents::Table)
                    .col(ScheduleEvents::Schedule)
                    .col(ScheduleEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScheduleEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Schedules::Table).to_owned())
            .await
    }
}
