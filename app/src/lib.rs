//! The amboy dashboard: Leptos pages and components, and the `#[server]`
//! functions they call.
//!
//! One crate builds both halves of the app, chosen by feature: `ssr` for the
//! server (renders pages, runs server functions against the [`amboy`] engine the
//! server provides as context) and `hydrate` for the browser (the wasm module in
//! `amboy-frontend`). The browser half never links the engine: data crosses over
//! as the plain serializable types defined here.
//!
//! # Layout
//!
//! - [`counts`]: the job counts table and the `queue_counts` server function.
//! - [`url`]: links with encoded path segments and queries.
//! - `backend` (server half only): the engine and its errors, for every
//!   page's server functions.
//! - [`live`]: the page's websocket to the live stream.
//! - [`overview`]: the overview page at `/`.
//! - [`queues`]: the queues page at `/queues` and one queue at `/queues/:name`.
//! - [`jobs`]: the jobs page at `/jobs`, with its bulk actions.
//! - [`job`]: one job at `/jobs/:id`.
//! - [`schedules`]: the schedules at `/schedules`, the form at
//!   `/schedules/new` and one schedule at `/schedules/:name`.
//! - [`workers`]: the engine processes and their running jobs at `/workers`.
//! - [`errors`]: the errors page at `/errors`.
//! - [`session`]: the sign-in page at `/login` and the header's session note.
//! - this file: the HTML [`shell`], the [`App`] root and its routes.

#[cfg(feature = "ssr")]
pub mod backend;
pub mod counts;
pub mod errors;
pub mod job;
pub mod jobs;
pub mod live;
pub mod overview;
pub mod queues;
pub mod schedules;
pub mod session;
pub mod url;
pub mod workers;

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{A, Route, Router, Routes},
};

use crate::errors::Errors;
use crate::job::JobPage;
use crate::jobs::Jobs;
use crate::overview::Overview;
use crate::queues::{QueueDetail, Queues};
use crate::schedules::{SchedulePage, Schedules};
use crate::session::{Login, SessionBadge};
use crate::workers::Workers;

/// The whole HTML document the server sends; the browser hydrates only its body.
///
/// The stylesheet and script names come from `options`, which the server reads
/// from the cargo-leptos configuration, so they always match the built bundle.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <HashedStylesheet options=options.clone() id="leptos" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The dashboard's root component: page chrome and routes.
///
/// Its root element carries `data-hydrated`, which turns `"true"` once the wasm
/// module has taken over the page; the browser tests wait on it.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let hydrated = RwSignal::new(false);
    when_live(move || hydrated.set(true));

    view! {
        <Title text="amboy" />
        <Router>
            <div class="app" data-hydrated=move || hydrated.get().to_string()>
                <header class="topbar">
                    <a class="brand" href="/">
                        "amboy"
                    </a>
                    <nav class="nav" aria-label="pages">
                        <A href="/" exact=true>"Overview"</A>
                        <A href="/queues">"Queues"</A>
                        <A href="/jobs">"Jobs"</A>
                        <A href="/schedules">"Schedules"</A>
                        <A href="/workers">"Workers"</A>
                        <A href="/errors">"Errors"</A>
                    </nav>
                    <SessionBadge />
                </header>
                <main class="content">
                    <Routes fallback=NotFound>
                        <Route path=StaticSegment("") view=Overview />
                        <Route path=StaticSegment("queues") view=Queues />
                        // A page of one thing answers 404 when it is not
                        // there: its status comes from the data, so the
                        // server waits for the data before it sends the
                        // status (streamed, the head went out first with
                        // 200 whenever the read was slower than the shell).
                        <Route
                            path=(StaticSegment("queues"), ParamSegment("name"))
                            view=QueueDetail
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("jobs") view=Jobs />
                        <Route
                            path=(StaticSegment("jobs"), ParamSegment("id"))
                            view=JobPage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("schedules") view=Schedules />
                        <Route
                            path=(StaticSegment("schedules"), ParamSegment("name"))
                            view=SchedulePage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("workers") view=Workers />
                        <Route path=StaticSegment("errors") view=Errors />
                        <Route path=StaticSegment("login") view=Login />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// Runs `f` once the page is live in the browser, after hydration, and again
/// whenever a signal it reads changes; never while the server renders.
///
/// A bare `Effect` is not enough on the server: a host build that unifies the
/// `ssr` and `hydrate` features (as `cargo test --workspace` does) would try to
/// run it there, outside the local task set effects need.
pub(crate) fn when_live(f: impl Fn() + 'static) {
    #[cfg(target_arch = "wasm32")]
    Effect::new(move |_| f());
    #[cfg(not(target_arch = "wasm32"))]
    let _ = f;
}

/// Shown for any path the dashboard does not know; the server answers it with 404.
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>
                "Nothing lives at this address. " <a href="/">"Back to the queues"</a>
            </p>
        </section>
    }
}
