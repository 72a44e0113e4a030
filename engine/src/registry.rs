//! The job type registry: type name → version, decoder and runner.
//!
//! Jobs are stored as (type name, version, JSON payload). The registry turns
//! them back into runnable futures, and refuses unknown types, stored
//! versions that differ from the registered one (as amboy does), and
//! payloads that don't decode — at put time, before anything is stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::builtin::group;
use crate::error::{Error, Result};
use crate::job::{Job, JobContext, JobError, decode};

type RunFn = dyn Fn(&str, JobContext) -> Result<BoxFuture<'static, Result<(), JobError>>, String>
    + Send
    + Sync;
type CheckFn = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// One registered job type.
#[derive(Clone)]
struct Entry {
    version: i32,
    check: Arc<CheckFn>,
    run: Arc<RunFn>,
}

/// The job types a process knows how to run.
#[derive(Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
    shell_enabled: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.entries.keys().collect::<Vec<_>>())
            .field("shell_enabled", &self.shell_enabled)
            .finish()
    }
}

impl Registry {
    /// A registry holding the built-in types (`noop`, `sleep`, `http`,
    /// `shell`, `group`); `shell` runs only when enabled.
    pub fn with_builtins() -> Self {
        let mut registry = Registry::default();
        crate::builtin::register(&mut registry);
        registry
    }

    /// Registers `J` under [`Job::NAME`], replacing an earlier registration.
    pub fn register<J: Job>(&mut self) {
        let check = |payload: &str| decode::<J>(payload).map(drop);
        let run = |payload: &str, ctx: JobContext| {
            let job = decode::<J>(payload)?;
            let fut: BoxFuture<'static, Result<(), JobError>> =
                Box::pin(async move { job.run(&ctx).await });
            Ok(fut)
        };
        self.entries.insert(
            J::NAME.to_owned(),
            Entry {
                version: J::VERSION,
                check: Arc::new(check),
                run: Arc::new(run),
            },
        );
    }

    /// Lets `shell` jobs be put and run.
    pub fn enable_shell_jobs(&mut self, enabled: bool) {
        self.shell_enabled = enabled;
    }

    /// The registered type names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        if name == crate::builtin::shell::NAME && !self.shell_enabled {
            return Err(Error::ShellJobsDisabled);
        }
        self.entries.get(name).ok_or_else(|| Error::UnknownJobType {
            name: name.to_owned(),
            known: self.names().collect::<Vec<_>>().join(", "),
        })
    }

    /// Checks that `payload` decodes as `name` (and, for a group, that
    /// each sub-job's does as its type), returning the registered version
    /// to store with the job.
    pub fn check(&self, name: &str, payload: &str) -> Result<i32> {
        self.check_nested(name, payload, 0)
    }

    fn check_nested(&self, name: &str, payload: &str, depth: usize) -> Result<i32> {
        let entry = self.entry(name)?;
        let invalid = |reason: String| Error::InvalidPayload {
            job_type: name.to_owned(),
            reason,
        };
        (entry.check)(payload).map_err(invalid)?;
        if name == group::NAME {
            if depth >= group::MAX_DEPTH {
                return Err(invalid(format!(
                    "groups nest at most {} deep",
                    group::MAX_DEPTH
                )));
            }
            let group: group::Group = decode(payload).map_err(invalid)?;
            group.check_size().map_err(invalid)?;
            for (i, sub) in group.jobs.iter().enumerate() {
                self.check_nested(&sub.job_type, &sub.payload.to_string(), depth + 1)
                    .map_err(|err| invalid(format!("sub-job {i}: {err}")))?;
            }
        }
        Ok(entry.version)
    }

    /// Decodes a group's sub-job, at the version registered now, into its
    /// run future.
    pub(crate) fn prepare_current(
        &self,
        name: &str,
        payload: &str,
        ctx: JobContext,
    ) -> Result<BoxFuture<'static, Result<(), JobError>>> {
        let entry = self.entry(name)?;
        self.prepare(name, entry.version, payload, ctx)
    }

    /// Decodes a stored job into its run future.
    pub(crate) fn prepare(
        &self,
        name: &str,
        stored_version: i32,
        payload: &str,
        ctx: JobContext,
    ) -> Result<BoxFuture<'static, Result<(), JobError>>> {
        let entry = self.entry(name)?;
        if entry.version != stored_version {
            return Err(Error::VersionMismatch {
                name: name.to_owned(),
                stored: stored_version,
                registered: entry.version,
            });
        }
        (entry.run)(payload, ctx).map_err(|reason| Error::InvalidPayload {
            job_type: name.to_owned(),
            reason,
        })
    }
}
