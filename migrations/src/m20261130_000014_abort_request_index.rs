//! Running jobs are no longer indexed by owner: every claim wrote an entry
//! and every result removed it — two of the dozen index changes a job makes
//! on its way through — for two readers that do without it. The abort watch
//! reads a partial index of the running jobs whose abort was requested,
//! empty nearly always; the process list counts the running jobs (a few
//! per worker, found through the running jobs' expiry index) in one pass.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX jobs_running_owner")
            .await?;
        // A claim clears `abort_requested`, so claimed rows never enter it.
        db.execute_unprepared(
            "CREATE INDEX jobs_abort_requested ON jobs (owner) \
             WHERE state = 'running' AND abort_requested",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX jobs_abort_requested")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX jobs_running_owner ON jobs (owner) WHERE state = 'running'",
        )
        .await?;
        Ok(())
    }
}
