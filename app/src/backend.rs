//! What every page's server functions share (server half only): the engine,
//! and engine errors turned into what the page shows with the right status.

use axum::http::StatusCode;
use leptos::prelude::*;

/// The engine the server provides to the dashboard.
pub fn engine() -> Result<amboy::Engine, ServerFnError> {
    use_context::<amboy::Engine>()
        .ok_or_else(|| ServerFnError::new("the job engine is not available to the dashboard"))
}

/// How an engine error answers a web request (the dashboard's and the REST
/// API's alike): its status and the API's error code; `None` for a failure
/// of the server itself (500, which the caller logs).
pub fn status_of(error: &amboy::Error) -> Option<(StatusCode, &'static str)> {
    use amboy::Error as E;
    Some(match error {
        E::JobNotFound(_) | E::QueueNotFound(_) | E::ScheduleNotFound(_) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        E::DuplicateJob(_) | E::DuplicateSchedule(_) => (StatusCode::CONFLICT, "duplicate"),
        E::InvalidState { .. } => (StatusCode::CONFLICT, "invalid_state"),
        E::ScopeHeld { .. } => (StatusCode::CONFLICT, "scope_held"),
        E::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
        E::ShellJobsDisabled => (StatusCode::UNPROCESSABLE_ENTITY, "shell_jobs_disabled"),
        E::Database(_) | E::Internal(_) => return None,
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
    })
}

/// An engine error as the page shows it: a caller's mistake as is, with its
/// status (see [`status_of`]); a failure of the server as a generic
/// message (500, logged here).
pub fn shown(error: amboy::Error) -> ServerFnError {
    match status_of(&error) {
        Some((status, _)) => refused(status, error.to_string()),
        None => {
            tracing::error!(%error, "dashboard engine call failed");
            ServerFnError::new("the server failed; the error is in its log")
        }
    }
}

/// A refusal of the caller's request, with its status.
pub fn refused(status: StatusCode, message: String) -> ServerFnError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
    ServerFnError::new(message)
}

/// A form field the page could not use (422).
pub fn bad_field(message: String) -> ServerFnError {
    refused(StatusCode::UNPROCESSABLE_ENTITY, message)
}

/// A time as the pages show it: UTC, to the second.
pub fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}
