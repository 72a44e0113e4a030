//! Dependencies between jobs and scopes that exclude each other.
//!
//! - `job_edges`: job `job_id` waits for `depends_on` to complete. An edge
//!   is `resolved` once the job it points to has settled (completed, or
//!   ended otherwise and the dependent's policy said what that means), so a
//!   later change of that job (a retry after a failure) cannot count twice.
//!   `depends_on` has no foreign key: the job it names may be pruned later.
//! - `jobs.deps_left`: edges not yet resolved; the job is `blocked` while
//!   it is above zero.
//! - `jobs.has_dependents`, `jobs.scoped`: set only on the jobs that have
//!   dependents or scopes, so finishing any other job costs no extra query.
//! - `job_scopes`: a job's scope names, each `dispatch` (held while it
//!   runs) or `enqueue` (held while it is unfinished). The unique partial
//!   index on held scopes is what makes them exclusive, across processes.
//! - `jobs.dependency`: a dependency manager other than plain edges
//!   (`create-file`, `local-file`), as JSON.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Adds the dependency and scope columns and tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

const JOB_COLUMNS: [&str; 5] = [
    "deps_left INTEGER NOT NULL DEFAULT 0",
    "on_dependency_failure VARCHAR NOT NULL DEFAULT 'fail'",
    "has_dependents BOOLEAN NOT NULL DEFAULT FALSE",
    "scoped BOOLEAN NOT NULL DEFAULT FALSE",
    "dependency TEXT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Ids compare as bytes, like jobs.id (migration 000009).
        let id = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "VARCHAR COLLATE \"C\"",
            _ => "VARCHAR",
        };
        let db = manager.get_connection();
        for column in JOB_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE jobs ADD COLUMN {column}"))
                .await?;
        }
        db.execute_unprepared(&format!(
            "CREATE TABLE job_edges ( \
             job_id {id} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, \
             depends_on {id} NOT NULL, \
             resolved BOOLEAN NOT NULL DEFAULT FALSE, \
             PRIMARY KEY (job_id, depends_on))"
        ))
        .await?;
        // Finding a settled job's dependents.
        db.execute_unprepared("CREATE INDEX job_edges_depends_on ON job_edges (depends_on)")
            .await?;
        db.execute_unprepared(&format!(
            "CREATE TABLE job_scopes ( \
             job_id {id} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, \
             scope VARCHAR NOT NULL, \
             kind VARCHAR NOT NULL, \
             held BOOLEAN NOT NULL DEFAULT FALSE, \
             PRIMARY KEY (job_id, scope))"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX job_scopes_held ON job_scopes (scope) WHERE held",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP TABLE job_scopes").await?;
        db.execute_unprepared("DROP TABLE job_edges").await?;
        for column in JOB_COLUMNS {
            let name = column.split_whitespace().next().unwrap_or(column);
            db.execute_unprepared(&format!("ALTER TABLE jobs DROP COLUMN {name}"))
                .await?;
        }
        Ok(())
    }
}
