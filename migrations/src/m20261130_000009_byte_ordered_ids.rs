//! Job ids compare as bytes on PostgreSQL too. A database created with a
//! linguistic collation (`en_US.UTF-8`, ICU `en-US`) would otherwise order
//! ids by language rules: an id-prefix range for `a` would take in `A1`
//! (and a bulk action by id prefix would act on it), and keyset pages would
//! follow another order than on SQLite, which compares bytes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Sets `COLLATE "C"` on `jobs.id` and the columns joined to it (PostgreSQL
/// only; SQLite already compares bytes).
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The id columns: the key and the history tables that join to it (an
/// equality between two differently collated columns is an error).
const COLUMNS: [(&str, &str); 3] = [
    ("jobs", "id"),
    ("job_attempts", "job_id"),
    ("job_logs", "job_id"),
];

async fn collate(manager: &SchemaManager<'_>, collation: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for (table, column) in COLUMNS {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar COLLATE {collation}"
            ))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        collate(manager, "\"C\"").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        collate(manager, "\"default\"").await
    }
}
