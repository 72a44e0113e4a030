//! The queues pages: `/queues` lists every queue with its settings and job
//! counts; `/queues/:name` shows one queue, live, and lets an operator pause
//! and resume it and change its concurrency, rate limit and retention.
//!
//! Changes go through server functions under `/fn/op/`, which the server
//! lets only operators call (a viewer's page shows no controls, and a
//! viewer's request is refused anyway). Each is a plain form, so it works
//! before the page hydrates too.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use crate::live;
use crate::session::may_change;

/// A queue as the pages show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// Its name.
    pub name: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Workers per process.
    pub concurrency: i32,
    /// `fifo` or `priority`.
    pub ordering: String,
    /// Jobs started per second in each process, when limited.
    pub rate_limit_per_sec: Option<f64>,
    /// Keep at most this many finished jobs.
    pub retention_max_jobs: Option<i64>,
    /// Keep finished jobs this long, as people write it (`7d`).
    pub retention_max_age: Option<String>,
    /// Deleted after this long without jobs (`10m`).
    pub idle_ttl: Option<String>,
    /// The queue rule it follows.
    pub rule: Option<String>,
    /// The state names, in lifecycle order.
    pub states: Vec<String>,
    /// Its jobs in each state, aligned with `states`.
    pub counts: Vec<i64>,
}

impl QueueSummary {
    fn count(&self, state: &str) -> i64 {
        self.states
            .iter()
            .position(|s| s == state)
            .map_or(0, |i| self.counts[i])
    }
}

#[cfg(feature = "ssr")]
mod server {
    //! Turning the engine's queues into [`QueueSummary`].

    use leptos::prelude::*;

    use amboy::clock::format_duration_ms;

    use super::QueueSummary;
    use crate::backend::shown;

    pub fn summary(
        queue: amboy::Queue,
        counts: &std::collections::BTreeMap<amboy::JobState, i64>,
    ) -> QueueSummary {
        let s = queue.settings;
        QueueSummary {
            name: queue.name,
            paused: s.paused,
            concurrency: s.concurrency,
            ordering: s.ordering.as_str().to_owned(),
            rate_limit_per_sec: s.rate_limit_per_sec,
            retention_max_jobs: s.retention_max_jobs,
            retention_max_age: s.retention_max_age_ms.map(format_duration_ms),
            idle_ttl: s.idle_ttl_ms.map(format_duration_ms),
            rule: queue.rule,
            states: amboy::JobState::ALL
                .iter()
                .map(ToString::to_string)
                .collect(),
            counts: amboy::JobState::ALL
                .iter()
                .map(|state| counts.get(state).copied().unwrap_or(0))
                .collect(),
        }
    }

    pub async fn detail(engine: &amboy::Engine, name: &str) -> Result<QueueSummary, ServerFnError> {
        let queue = engine.queue(name).await.map_err(shown)?;
        let counts = engine.counts(name).await.map_err(shown)?;
        Ok(summary(queue, &counts))
    }
}

/// Every queue with its settings and counts (counts from the engine's
/// latest stats snapshot: no query per tab).
#[server(prefix = "/fn", endpoint = "queue_list")]
pub async fn queue_list() -> Result<Vec<QueueSummary>, ServerFnError> {
    let engine = crate::backend::engine()?;
    let snapshot = engine.stats().await.map_err(crate::backend::shown)?;
    let queues = engine.queues().await.map_err(crate::backend::shown)?;
    let empty = std::collections::BTreeMap::new();
    Ok(queues
        .into_iter()
        .map(|queue| {
            let counts = snapshot
                .queues
                .iter()
                .find(|q| q.queue == queue.name)
                .map_or(&empty, |q| &q.counts);
            server::summary(queue, counts)
        })
        .collect())
}

/// One queue.
#[server(prefix = "/fn", endpoint = "queue_detail")]
pub async fn queue_detail(name: String) -> Result<QueueSummary, ServerFnError> {
    server::detail(&crate::backend::engine()?, &name).await
}

/// Pauses (`paused` true) or resumes a queue. Operators only.
#[server(prefix = "/fn/op", endpoint = "pause_queue")]
pub async fn pause_queue(name: String, paused: bool) -> Result<QueueSummary, ServerFnError> {
    let engine = crate::backend::engine()?;
    let mut settings = engine
        .queue(&name)
        .await
        .map_err(crate::backend::shown)?
        .settings;
    settings.paused = paused;
    engine
        .set_queue(&name, settings)
        .await
        .map_err(crate::backend::shown)?;
    server::detail(&engine, &name).await
}

/// Changes a queue's concurrency, rate limit and retention, from the form's
/// text (blank removes a limit). Operators only. Nothing changes unless
/// every field is valid.
#[server(prefix = "/fn/op", endpoint = "queue_settings")]
pub async fn save_queue_settings(
    name: String,
    concurrency: String,
    rate_limit: String,
    retention_max_jobs: String,
    retention_max_age: String,
) -> Result<QueueSummary, ServerFnError> {
    fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<Option<T>, ServerFnError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| crate::backend::bad_field(format!("{what}: {text:?} is not a number")))
    }
    let engine = crate::backend::engine()?;
    let mut settings = engine
        .queue(&name)
        .await
        .map_err(crate::backend::shown)?
        .settings;
    settings.concurrency = number(&concurrency, "workers")?
        .ok_or_else(|| crate::backend::bad_field("workers: give a number of workers".to_owned()))?;
    settings.rate_limit_per_sec = number(&rate_limit, "rate limit")?;
    settings.retention_max_jobs = number(&retention_max_jobs, "keep at most")?;
    settings.retention_max_age_ms = match retention_max_age.trim() {
        "" => None,
        text => {
            let age = amboy::clock::parse_duration(text)
                .map_err(|err| crate::backend::bad_field(format!("keep for: {err}")))?;
            Some(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
        }
    };
    engine
        .set_queue(&name, settings)
        .await
        .map_err(crate::backend::shown)?;
    server::detail(&engine, &name).await
}

/// The queues page: every queue, its settings and its jobs.
#[component]
pub fn Queues() -> impl IntoView {
    let queues = Resource::new(|| (), |()| queue_list());
    view! {
        <section class="queues">
            <header class="page-header">
                <h1>"Queues"</h1>
                <p class="hint">"Settings and jobs of every queue. Open one to pause it or change it."</p>
                <button type="button" class="secondary" on:click=move |_| queues.refetch()>
                    "Refresh"
                </button>
            </header>
            <Transition fallback=|| view! { <p class="status">"Loading queues…"</p> }>
                {move || {
                    queues
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => {
                                view! {
                                    <div class="empty" data-testid="no-queues">
                                        <p class="empty-title">"No queues yet."</p>
                                        <p>"A queue appears as soon as its first job is submitted."</p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(list) => view! { <QueueTable list /> }.into_any(),
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
fn QueueTable(list: Vec<QueueSummary>) -> impl IntoView {
    let limit = |value: Option<String>| value.unwrap_or_else(|| "—".to_owned());
    let rows = list
        .into_iter()
        .map(|q| {
            let href = format!("/queues/{}", q.name);
            let status = if q.paused { "paused" } else { "active" };
            let retention = match (q.retention_max_jobs, q.retention_max_age.clone()) {
                (None, None) => None,
                (jobs, age) => Some(
                    [jobs.map(|n| format!("{n} jobs")), age]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            let label = q.name.clone();
            view! {
                <tr data-queue=q.name.clone()>
                    <th scope="row" class="queue-name">
                        <A href=href>{label}</A>
                    </th>
                    <td>
                        <span class=format!("badge {status}")>{status}</span>
                    </td>
                    <td class="num">{q.concurrency}</td>
                    <td>{q.ordering.clone()}</td>
                    <td>{limit(q.rate_limit_per_sec.map(|r| format!("{r}/s")))}</td>
                    <td>{limit(retention)}</td>
                    <td>{limit(q.rule.clone())}</td>
                    <td class="num" data-state="pending">{q.count("pending")}</td>
                    <td class="num" data-state="running">{q.count("running")}</td>
                    <td class="num" data-state="failed">{q.count("failed")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="report" data-testid="queue-list">
                <thead>
                    <tr>
                        <th scope="col">"queue"</th>
                        <th scope="col">"status"</th>
                        <th scope="col" class="num">"workers"</th>
                        <th scope="col">"order"</th>
                        <th scope="col">"rate limit"</th>
                        <th scope="col">"keeps"</th>
                        <th scope="col">"rule"</th>
                        <th scope="col" class="num">"pending"</th>
                        <th scope="col" class="num">"running"</th>
                        <th scope="col" class="num">"failed"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// One queue: live counts, pause/resume and its settings.
#[component]
pub fn QueueDetail() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let pause = ServerAction::<PauseQueue>::new();
    let save = ServerAction::<SaveQueueSettings>::new();
    let queue = Resource::new(
        move || (name(), pause.version().get(), save.version().get()),
        |(name, _, _)| queue_detail(name),
    );
    let may_change = may_change();
    let states = Signal::derive(move || {
        queue
            .get()
            .and_then(Result::ok)
            .map(|q| q.states)
            .unwrap_or_default()
    });
    let live = live::follow(states);
    let live_counts = Signal::derive(move || {
        let table = live.counts.get()?;
        let row = table.queues.into_iter().find(|row| row.queue == name())?;
        Some(row.counts)
    });

    view! {
        <section class="queue-detail">
            <p class="crumbs">
                <A href="/queues">"Queues"</A>
                " / "
            </p>
            <Transition fallback=|| view! { <p class="status">"Loading the queue…"</p> }>
                {move || {
                    queue
                        .get()
                        .map(|result| match result {
                            Ok(q) => {
                                view! {
                                    <QueueView q pause save may_change live_counts />
                                }
                                    .into_any()
                            }
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
fn QueueView(
    q: QueueSummary,
    pause: ServerAction<PauseQueue>,
    save: ServerAction<SaveQueueSettings>,
    may_change: Signal<bool>,
    live_counts: Signal<Option<Vec<i64>>>,
) -> impl IntoView {
    let status = if q.paused { "paused" } else { "active" };
    let rendered_counts = q.counts.clone();
    let counts = move || live_counts.get().unwrap_or_else(|| rendered_counts.clone());
    let headers = q
        .states
        .iter()
        .map(|state| view! { <th scope="col" class="num">{state.clone()}</th> })
        .collect_view();
    let states = q.states.clone();
    let cells = move || {
        states
            .iter()
            .zip(counts())
            .map(|(state, count)| {
                let class = if count == 0 { "num zero" } else { "num" };
                view! { <td class=class data-state=state.clone()>{count}</td> }
            })
            .collect_view()
    };
    let pause_error = move || {
        pause
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    let save_result = move || save.value().get();
    let toggle = {
        let name = q.name.clone();
        let paused = q.paused;
        move || {
            let name = name.clone();
            may_change.get().then(move || {
                view! {
                    <ActionForm action=pause attr:class="inline-form">
                        <input type="hidden" name="name" value=name />
                        <input type="hidden" name="paused" value=(!paused).to_string() />
                        <button type="submit" data-testid="pause-toggle">
                            {if paused { "Resume" } else { "Pause" }}
                        </button>
                    </ActionForm>
                }
            })
        }
    };
    let settings = {
        let q = q.clone();
        move || {
            if !may_change.get() {
                return view! { <SettingsList q=q.clone() /> }.into_any();
            }
            view! {
                <SettingsForm q=q.clone() save />
                {move || {
                    save_result()
                        .map(|result| match result {
                            Ok(_) => view! { <p class="status ok" role="status">"Saved."</p> }.into_any(),
                            Err(e) => {
                                view! {
                                    <p class="status error" role="alert" data-testid="settings-error">
                                        {e.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            }
            .into_any()
        }
    };

    view! {
        <header class="page-header">
            <h1 class="queue-title">{q.name.clone()}</h1>
            <span class=format!("badge {status}") data-testid="queue-status">{status}</span>
            {toggle}
        </header>
        {move || pause_error().map(|e| view! { <p class="status error" role="alert">{e}</p> })}
        {q.rule.clone().map(|rule| view! {
            <p class="hint">"Created by the queue rule " <code>{rule}</code> "; its own settings, once saved, win."</p>
        })}
        <div class="table-scroll">
            <table class="counts" data-testid="queue-counts">
                <thead>
                    <tr>{headers}</tr>
                </thead>
                <tbody>
                    <tr>{cells}</tr>
                </tbody>
            </table>
        </div>
        <h2>"Settings"</h2>
        {settings}
    }
}

/// The settings form (for operators): blank fields remove a limit.
#[component]
fn SettingsForm(q: QueueSummary, save: ServerAction<SaveQueueSettings>) -> impl IntoView {
    let text = |value: Option<String>| value.unwrap_or_default();
    view! {
        <ActionForm action=save attr:class="settings-form">
            <input type="hidden" name="name" value=q.name.clone() />
            <label for="concurrency">"Workers per process"</label>
            <input
                id="concurrency"
                name="concurrency"
                inputmode="numeric"
                value=q.concurrency.to_string()
                required
            />
            <label for="rate_limit">"Rate limit (jobs per second, per process)"</label>
            <input
                id="rate_limit"
                name="rate_limit"
                inputmode="decimal"
                placeholder="no limit"
                value=text(q.rate_limit_per_sec.map(|r| r.to_string()))
            />
            <label for="retention_max_jobs">"Keep at most (finished jobs)"</label>
            <input
                id="retention_max_jobs"
                name="retention_max_jobs"
                inputmode="numeric"
                placeholder="no limit"
                value=text(q.retention_max_jobs.map(|n| n.to_string()))
            />
            <label for="retention_max_age">"Keep finished jobs for (e.g. 7d, 12h)"</label>
            <input
                id="retention_max_age"
                name="retention_max_age"
                placeholder="forever"
                value=text(q.retention_max_age.clone())
            />
            <button type="submit" data-testid="save-settings">"Save"</button>
        </ActionForm>
    }
}

/// The settings, read-only (for viewers).
#[component]
fn SettingsList(q: QueueSummary) -> impl IntoView {
    let or = |value: Option<String>, none: &str| value.unwrap_or_else(|| none.to_owned());
    view! {
        <dl class="settings" data-testid="settings-list">
            <dt>"Workers per process"</dt>
            <dd>{q.concurrency}</dd>
            <dt>"Order"</dt>
            <dd>{q.ordering.clone()}</dd>
            <dt>"Rate limit"</dt>
            <dd>{or(q.rate_limit_per_sec.map(|r| format!("{r} jobs/s per process")), "none")}</dd>
            <dt>"Keep at most"</dt>
            <dd>{or(q.retention_max_jobs.map(|n| format!("{n} finished jobs")), "no limit")}</dd>
            <dt>"Keep finished jobs for"</dt>
            <dd>{or(q.retention_max_age.clone(), "forever")}</dd>
            <dt>"Deleted when idle for"</dt>
            <dd>{or(q.idle_ttl.clone(), "never")}</dd>
        </dl>
    }
}
