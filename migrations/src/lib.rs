//! The amboy schema as sea-orm migrations.
//!
//! One set of migrations serves SQLite and PostgreSQL: tables are declared
//! through sea-query's schema builder, which writes each backend's dialect.
//! Times are stored as `BIGINT` microseconds since the Unix epoch (UTC): the
//! same type on both backends, cheap to compare in claim and rescue queries.
//!
//! Layout:
//! - [`m20261129_000001_create_queues`]: queues, their settings and the
//!   per-(queue, state) counters that keep stats off the jobs table;
//! - [`m20261129_000002_create_jobs`]: jobs, attempts history, log lines;
//! - [`m20261129_000003_create_processes`]: the registry of live processes;
//! - [`m20261130_000004_process_liveness`]: processes that stopped heart-beating
//!   are marked gone, not deleted; running jobs are indexed by owner
//!   (until 000014);
//! - [`m20261130_000005_create_schedules`]: schedules and their skips;
//! - [`m20261130_000006_attempts_by_time`]: attempts indexed by end time;
//! - [`m20261130_000007_create_job_timings`]: per-minute timing histograms;
//! - [`m20261130_000008_dispatch_deadlines`]: `jobs.dispatch_by`, indexed
//!   for the jobs that may expire;
//! - [`m20261130_000009_byte_ordered_ids`]: job ids compare as bytes on
//!   PostgreSQL whatever the database's collation;
//! - [`m20261130_000010_dependencies_and_scopes`]: edges between jobs,
//!   dependency managers, and scopes held exclusively;
//! - [`m20261130_000011_queue_groups`]: queue rules, and queues that follow
//!   them and are pruned when idle;
//! - [`m20261130_000012_job_list_indexes`]: job lists by state and by queue
//!   and state, in id order, for keyset pages at any depth;
//! - [`m20261130_000013_partial_claim_indexes`]: the claim indexes hold only
//!   the jobs they find (pending, retrying, running), so a job changes few
//!   index entries on its way through;
//! - [`m20261130_000014_abort_request_index`]: running jobs are indexed by
//!   abort request instead of by owner.

pub use sea_orm_migration::prelude::*;

pub mod m20261129_000001_create_queues;
pub mod m20261129_000002_create_jobs;
pub mod m20261129_000003_create_processes;
pub mod m20261130_000004_process_liveness;
pub mod m20261130_000005_create_schedules;
pub mod m20261130_000006_attempts_by_time;
pub mod m20261130_000007_create_job_timings;
pub mod m20261130_000008_dispatch_deadlines;
pub mod m20261130_000009_byte_ordered_ids;
pub mod m20261130_000010_dependencies_and_scopes;
pub mod m20261130_000011_queue_groups;
pub mod m20261130_000012_job_list_indexes;
pub mod m20261130_000013_partial_claim_indexes;
pub mod m20261130_000014_abort_request_index;

/// Runs every amboy migration in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_queues::Migration),
            Box::new(m20261129_000002_create_jobs::Migration),
            Box::new(m20261129_000003_create_processes::Migration),
            Box::new(m20261130_000004_process_liveness::Migration),
            Box::new(m20261130_000005_create_schedules::Migration),
            Box::new(m20261130_000006_attempts_by_time::Migration),
            Box::new(m20261130_000007_create_job_timings::Migration),
            Box::new(m20261130_000008_dispatch_deadlines::Migration),
            Box::new(m20261130_000009_byte_ordered_ids::Migration),
            Box::new(m20261130_000010_dependencies_and_scopes::Migration),
            Box::new(m20261130_000011_queue_groups::Migration),
            Box::new(m20261130_000012_job_list_indexes::Migration),
            Box::new(m20261130_000013_partial_claim_indexes::Migration),
            Box::new(m20261130_000014_abort_request_index::Migration),
        ]
    }
}
