//! The overview page (`/`): every queue's job counts by state, live; each
//! queue's name leads to its page.

use leptos::prelude::*;

use crate::counts::{CountsTable, QueueRow, queue_counts};
use crate::live::{self, Connection};

/// The overview page: a table of job counts by state, one row per queue.
///
/// The server renders the table into the HTML; once hydrated, the page
/// follows the live stream (one snapshot a second, computed once for every
/// open tab) and shows its connection state.
#[component]
pub fn Overview() -> impl IntoView {
    let rendered = Resource::new(|| (), |()| queue_counts());
    let states = Signal::derive(move || {
        rendered
            .get()
            .and_then(Result::ok)
            .map(|table| table.states)
            .unwrap_or_default()
    });
    let live = live::follow(states);

    view! {
        <section class="overview">
            <header class="page-header">
                <h1>"Overview"</h1>
                <ConnectionBadge connection=live.connection />
            </header>
            <Transition fallback=|| view! { <p class="status">"Loading queue counts…"</p> }>
                {move || match live.counts.get() {
                    Some(table) => Some(view! { <CountsView table /> }.into_any()),
                    None => {
                        rendered
                            .get()
                            .map(|result| match result {
                                Ok(table) => view! { <CountsView table /> }.into_any(),
                                Err(error) => {
                                    view! {
                                        <p class="status error" role="alert">
                                            {error.to_string()}
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }
                }}
            </Transition>
        </section>
    }
}

/// Whether the page is following the stream: live, connecting, or
/// reconnecting after losing it.
#[component]
fn ConnectionBadge(connection: ReadSignal<Connection>) -> impl IntoView {
    let label = move || match connection.get() {
        Connection::Live => "live: updated every second",
        Connection::Connecting => "connecting…",
        Connection::Reconnecting => "connection lost: reconnecting…",
    };
    view! {
        <p
            class="connection"
            role="status"
            data-connection=move || connection.get().as_str()
        >
            <span class="dot" aria-hidden="true"></span>
            {label}
        </p>
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
        <tr data-queue=queue.clone()>
            <th scope="row" class="queue-name">
                <a href=format!("/queues/{queue}")>{label}</a>
            </th>
            {cells}
            <td class="num total" data-state="total">{total}</td>
        </tr>
    }
}
