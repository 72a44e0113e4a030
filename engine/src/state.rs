//! The job state machine.
//!
//! ```text
//! blocked ──► pending ──► running ──► completed
//!               ▲  │         │ ▲
//!               │  │         │ └──── retrying ◄─┐
//!               │  │         └──────────────────┘ (attempt failed, attempts left)
//!               │  ├──► expired   running ──► failed (attempts exhausted / fail now)
//!               │  └──► aborted   any non-terminal ──► aborted
//!               └──── manual retry of a terminal job
//! ```
//! The full diagram and its rules live in `docs/states.md`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its life. Stored as lower-case text in `jobs.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its dependencies.
    Blocked,
    /// Ready to run once `run_at` has passed.
    Pending,
    /// Claimed by a process and running.
    Running,
    /// An attempt failed; waits until `run_at` for its next attempt.
    Retrying,
    /// Finished successfully.
    Completed,
    /// Attempts exhausted, or the job said not to retry.
    Failed,
    /// Aborted by an operator or cancelled.
    Aborted,
    /// Its `dispatch_by` deadline passed before it started.
    Expired,
}

impl JobState {
    /// Every state, in life-cycle order.
    pub const ALL: [JobState; 8] = [
        JobState::Blocked,
        JobState::Pending,
        JobState::Running,
        JobState::Retrying,
        JobState::Completed,
        JobState::Failed,
        JobState::Aborted,
        JobState::Expired,
    ];

    /// The states a job never leaves on its own.
    pub const TERMINAL: [JobState; 4] = [
        JobState::Completed,
        JobState::Failed,
        JobState::Aborted,
        JobState::Expired,
    ];

    /// The name stored in the database and shown everywhere.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Blocked => "blocked",
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Aborted => "aborted",
            JobState::Expired => "expired",
        }
    }

    /// True for states a job never leaves on its own.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Aborted | JobState::Expired
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a state name that isn't one of [`JobState::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job state {0:?}; expected one of blocked, pending, running, retrying, completed, failed, aborted, expired"
)]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        let err = "done".parse::<JobState>().unwrap_err();
        assert!(err.to_string().contains("\"done\""), "{err}");
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = JobState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, JobState::TERMINAL);
    }
}
