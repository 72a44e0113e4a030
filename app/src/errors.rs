//! The errors page (`/errors`): failed attempts of the last hour, grouped by
//! job type and message, most frequent first — the engine's error report.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How far back the page looks, in seconds.
pub const WINDOW_SECS: u64 = 3_600;
/// Most groups shown.
pub const MAX_GROUPS: u32 = 100;

/// One group of identical errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRow {
    /// The job type.
    pub job_type: String,
    /// The error message.
    pub error: String,
    /// Attempts that ended with it.
    pub count: i64,
    /// When it last happened (RFC 3339, UTC).
    pub last_at: String,
    /// A job that had it.
    pub example_job_id: String,
}

/// The error report of the last [`WINDOW_SECS`] (reads the attempts history
/// through its end-time index; the page asks once, and on demand).
#[server(prefix = "/fn", endpoint = "error_groups")]
pub async fn error_groups() -> Result<Vec<ErrorRow>, ServerFnError> {
    let engine = use_context::<amboy::Engine>()
        .ok_or_else(|| ServerFnError::new("the job engine is not available to the dashboard"))?;
    let window = std::time::Duration::from_secs(WINDOW_SECS);
    match engine.error_report(window, MAX_GROUPS).await {
        Ok(groups) => Ok(groups
            .into_iter()
            .map(|g| ErrorRow {
                job_type: g.job_type,
                error: g.error,
                count: g.count,
                last_at: g.last_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                example_job_id: g.example_job_id,
            })
            .collect()),
        Err(error) => {
            tracing::error!(%error, "dashboard could not read the error report");
            Err(ServerFnError::new("could not read the error report"))
        }
    }
}

/// The errors page.
#[component]
pub fn Errors() -> impl IntoView {
    let groups = Resource::new(|| (), |()| error_groups());
    view! {
        <section class="errors">
            <header class="page-header">
                <h1>"Errors"</h1>
                <p class="hint">"Failed attempts of the last hour, grouped by job type and message."</p>
                <button type="button" class="secondary" on:click=move |_| groups.refetch()>
                    "Refresh"
                </button>
            </header>
            <Transition fallback=|| view! { <p class="status">"Loading the error report…"</p> }>
                {move || {
                    groups
                        .get()
                        .map(|result| match result {
                            Ok(rows) if rows.is_empty() => {
                                view! {
                                    <div class="empty" data-testid="no-errors">
                                        <p class="empty-title">"No errors in the last hour."</p>
                                        <p>"Failed attempts show up here, grouped by their message."</p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(rows) => view! { <ErrorTable rows /> }.into_any(),
                            Err(error) => {
                                view! { <p class="status error" role="alert">{error.to_string()}</p> }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn ErrorTable(rows: Vec<ErrorRow>) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|row| {
            let job_type = row.job_type.clone();
            view! {
                <tr data-job-type=job_type>
                    <td class="num">{row.count}</td>
                    <td>{row.job_type}</td>
                    <td class="message">{row.error}</td>
                    <td class="when">{row.last_at}</td>
                    <td class="id">{row.example_job_id}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="report" data-testid="error-groups">
                <thead>
                    <tr>
                        <th scope="col" class="num">"count"</th>
                        <th scope="col">"type"</th>
                        <th scope="col">"error"</th>
                        <th scope="col">"last seen"</th>
                        <th scope="col">"example job"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
