//! The overview page (`/`): every queue's job counts by state, kept current by
//! asking the server once a second.

use std::time::Duration;

use leptos::prelude::*;

use crate::counts::{CountsTable, QueueRow, queue_counts};

/// How often the browser asks the server for fresh counts.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The overview page: a table of job counts by state, one row per queue.
///
/// The server renders the first table into the HTML; once hydrated, the browser
/// refetches it every [`REFRESH_INTERVAL`]. `<Transition>` keeps the current
/// table on screen while the next one loads, so a refresh never flickers.
#[component]
pub fn Overview() -> impl IntoView {
    let counts = Resource::new(|| (), |()| queue_counts());
    crate::when_live(move || {
        #[cfg(target_arch = "wasm32")]
        refresh_every(REFRESH_INTERVAL, move || counts.refetch());
    });

    view! {
        <section class="overview">
            <header class="page-header">
                <h1>"Queues"</h1>
                <p class="hint">"Jobs in each state, refreshed every second."</p>
            </header>
            <Transition fallback=|| view! { <p class="status">"Loading queue counts…"</p> }>
                {move || {
                    counts
                        .get()
                        .map(|result| match result {
                            Ok(table) => view! { <CountsView table /> }.into_any(),
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

/// The counts table, or a short explanation when there are no queues yet.
#[component]
fn CountsView(table: CountsTable) -> impl IntoView {
    if table.queues.is_empty() {
        return view! {
            <div class="empty" data-testid="no-queues">
                <p class="empty-title">"No queues yet."</p>
                <p>"A queue appears here as soon as its first job is submitted."</p>
            </div>
        }
        .into_any();
    }

    let CountsTable { states, queues } = table;
    let headers = states
        .iter()
        .map(|state| view! { <th scope="col" class=format!("num state-{state}")>{state.clone()}</th> })
        .collect_view();
    let rows = queues
        .into_iter()
        .map(|row| view! { <QueueRowView row states=states.clone() /> })
        .collect_view();

    view! {
        <div class="table-scroll">
            <table class="counts" data-testid="queue-counts">
                <thead>
                    <tr>
                        <th scope="col">"queue"</th>
                        {headers}
                        <th scope="col" class="num">"total"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// One queue's row; each count cell carries its state name so tests and styles
/// can find it without relying on column positions.
#[component]
fn QueueRowView(row: QueueRow, states: Vec<String>) -> impl IntoView {
    let total = row.total();
    let QueueRow { queue, counts } = row;
    let label = queue.clone();
    let cells = states
        .into_iter()
        .zip(counts)
        .map(|(state, count)| {
            let class = if count == 0 { "num zero" } else { "num" };
            view! { <td class=class data-state=state>{count}</td> }
        })
        .collect_view();

    view! {
        <tr data-queue=queue>
            <th scope="row" class="queue-name">{label}</th>
            {cells}
            <td class="num total" data-state="total">{total}</td>
        </tr>
    }
}

/// Calls `tick` every `interval` until the surrounding reactive owner is cleaned up.
///
/// Only ever called from [`crate::when_live`]: a browser is the only place with
/// timers to schedule, and the server renders each page exactly once.
#[cfg(target_arch = "wasm32")]
fn refresh_every(interval: Duration, tick: impl Fn() + 'static) {
    match set_interval_with_handle(tick, interval) {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(error) => leptos::logging::error!("could not start the refresh timer: {error:?}"),
    }
}
