//! The engine's error type.

use std::time::Duration;

use crate::state::JobState;

/// Everything an engine call can refuse or fail with.
///
/// Variants other than [`Error::Database`] and [`Error::Internal`] describe a
/// caller's mistake or a state conflict: the HTTP layer maps them to 4xx and
/// shows their message as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A job with this id already exists.
    #[error("a job with id {0:?} already exists")]
    DuplicateJob(String),
    /// No job has this id.
    #[error("no job has id {0:?}")]
    JobNotFound(String),
    /// No queue has this name.
    #[error("no queue is named {0:?}")]
    QueueNotFound(String),
    /// The job type is not registered with this engine.
    #[error("unknown job type {name:?}; registered types: {known}")]
    UnknownJobType {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A stored job's type version differs from the registered one.
    #[error(
        "job type {name:?} is registered at version {registered}, but the job was stored at version {stored}"
    )]
    VersionMismatch {
        /// The job type.
        name: String,
        /// The version stored with the job.
        stored: i32,
        /// The version this process registered.
        registered: i32,
    },
    /// The payload does not decode as the job type's payload.
    #[error("payload does not decode as job type {job_type:?}: {reason}")]
    InvalidPayload {
        /// The job type.
        job_type: String,
        /// What the decoder said.
        reason: String,
    },
    /// A queue name outside the allowed alphabet or length.
    #[error("invalid queue name {name:?}: {reason}")]
    InvalidQueueName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Any other field that fails validation.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, as the caller named it.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `shell` jobs were asked for but are off in this process.
    #[error(
        "shell jobs are disabled; enable them with --enable-shell-jobs (they run commands on this machine)"
    )]
    ShellJobsDisabled,
    /// The job is in a state the operation does not apply to.
    #[error("job {id:?} is {state}: cannot {operation}")]
    InvalidState {
        /// The job.
        id: String,
        /// Its current state.
        state: JobState,
        /// What was asked, e.g. "abort".
        operation: &'static str,
    },
    /// An enqueue scope the job asked for is held by an unfinished job.
    #[error("scope {scope:?} is held by unfinished job {holder:?}")]
    ScopeHeld {
        /// The scope.
        scope: String,
        /// The job holding it.
        holder: String,
    },
    /// A job names a dependency that does not exist.
    #[error("job {id:?} depends on {depends_on:?}, which does not exist")]
    UnknownDependency {
        /// The dependent job.
        id: String,
        /// The missing job.
        depends_on: String,
    },
    /// A schedule with this name exists.
    #[error("a schedule named {0:?} already exists")]
    DuplicateSchedule(String),
    /// No schedule has this name.
    #[error("no schedule named {0:?}")]
    ScheduleNotFound(String),
    /// A wait ran out of time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// A bug or corrupt row: something the engine itself got wrong.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// True when the error is the caller's mistake (bad input or a state
    /// conflict) rather than a failure of the engine or database.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Error::Database(_) | Error::Internal(_))
    }
}

/// Shorthand for results of engine calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
