//! The workers page (`/workers`): every engine process (`amboy serve`,
//! `amboy worker`, an embedding program) with its heartbeat, the queues it
//! works and the jobs it is running, which an operator can abort. Processes
//! that stopped heart-beating are listed as gone for a day.
//!
//! Once live, the page reads the processes again whenever the stream
//! reports jobs changing (at most once a second).

use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

use crate::job::JobAction;
use crate::live;
use crate::session::may_change;
use crate::url::encode;

/// Running jobs listed per process.
pub const MAX_RUNNING: u32 = 50;

/// A job a process is running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningJob {
    /// Its id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its type.
    pub job_type: String,
    /// When its attempt started (UTC).
    pub started_at: String,
    /// Its progress, 0–100.
    pub progress: i32,
}

/// A process as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRow {
    /// Its id (host, pid, a random suffix).
    pub id: String,
    /// Its host.
    pub host: String,
    /// Its OS process id.
    pub pid: i64,
    /// The amboy version it runs.
    pub version: String,
    /// The queues it works, or "every queue".
    pub queues: String,
    /// When it started (UTC).
    pub started_at: String,
    /// How long ago its latest heartbeat was, e.g. `3 s ago`.
    pub heartbeat: String,
    /// When it was marked gone (UTC), if it was.
    pub gone_at: Option<String>,
    /// Jobs it holds running.
    pub running: i64,
    /// The first [`MAX_RUNNING`] of them.
    pub jobs: Vec<RunningJob>,
}

/// How long ago, in the largest whole unit.
pub fn ago(secs: i64) -> String {
    match secs.max(0) {
        s @ ..60 => format!("{s} s ago"),
        s @ 60..3_600 => format!("{} min ago", s / 60),
        s @ 3_600..86_400 => format!("{} h ago", s / 3_600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// Every process, with the jobs each live one is running.
#[server(prefix = "/fn", endpoint = "worker_list")]
pub async fn worker_list() -> Result<Vec<WorkerRow>, ServerFnError> {
    use crate::backend::{engine, shown, when};
    let engine = engine()?;
    let now = engine.clock().now();
    let mut rows = Vec::new();
    for process in engine.processes().await.map_err(shown)? {
        let jobs = if process.gone_at.is_none() && process.running > 0 {
            engine
                .list(&amboy::JobFilter {
                    state: Some(amboy::JobState::Running),
                    owner: Some(process.id.clone()),
                    limit: MAX_RUNNING,
                    ..amboy::JobFilter::default()
                })
                .await
                .map_err(shown)?
        } else {
            Vec::new()
        };
        rows.push(WorkerRow {
            heartbeat: ago((now - process.heartbeat_at).num_seconds()),
            queues: process
                .queues
                .map_or_else(|| "every queue".to_owned(), |queues| queues.join(", ")),
            id: process.id,
            host: process.host,
            pid: process.pid,
            version: process.version,
            started_at: when(process.started_at),
            gone_at: process.gone_at.map(when),
            running: process.running,
            jobs: jobs
                .into_iter()
                .map(|job| RunningJob {
                    started_at: job.started_at.map(when).unwrap_or_default(),
                    id: job.id,
                    queue: job.queue,
                    job_type: job.job_type,
                    progress: job.progress,
                })
                .collect(),
        });
    }
    Ok(rows)
}

/// The workers page.
#[component]
pub fn Workers() -> impl IntoView {
    let abort = ServerAction::<JobAction>::new();
    let reread = RwSignal::new(0u64);
    let workers = Resource::new(
        move || (abort.version().get(), reread.get()),
        |_| worker_list(),
    );
    // No counts here: only the stream's job changes.
    let live = live::follow(Signal::stored(Vec::new()));
    crate::when_live(move || {
        if !live.changed.get().is_empty() {
            reread.update(|n| *n += 1);
        }
    });
    let may_change = may_change();
    view! {
        <section class="workers">
            <header class="page-header">
                <h1>"Workers"</h1>
                <p class="hint">"Every engine process, its heartbeat and what it is running."</p>
                <button type="button" class="secondary" on:click=move |_| workers.refetch()>
                    "Refresh"
                </button>
            </header>
            {move || {
                abort
                    .value()
                    .get()
                    .map(|result| match result {
                        Ok(done) => view! { <p class="status ok" role="status" data-testid="abort-result">{done.message}</p> }.into_any(),
                        Err(e) => view! { <p class="status error" role="alert" data-testid="abort-result">{e.to_string()}</p> }.into_any(),
                    })
            }}
            <Transition fallback=|| view! { <p class="status">"Loading workers…"</p> }>
                {move || {
                    workers
                        .get()
                        .map(|result| match result {
                            Ok(rows) if rows.is_empty() => {
                                view! {
                                    <div class="empty" data-testid="no-workers">
                                        <p class="empty-title">"No worker processes."</p>
                                        <p>"Start one with amboy worker, or amboy serve."</p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(rows) => {
                                rows.into_iter()
                                    .map(|row| view! { <WorkerCard row abort may_change /> })
                                    .collect_view()
                                    .into_any()
                            }
                            Err(error) => {
                                view! { <p class="status error" role="alert">{error.to_string()}</p> }.into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn WorkerCard(
    row: WorkerRow,
    abort: ServerAction<JobAction>,
    may_change: Signal<bool>,
) -> impl IntoView {
    let status = if row.gone_at.is_some() {
        "gone"
    } else {
        "alive"
    };
    let jobs = StoredValue::new(row.jobs.clone());
    let running = move || {
        let jobs = jobs.get_value();
        if jobs.is_empty() {
            return view! { <p class="hint">"Running nothing."</p> }.into_any();
        }
        let rows = jobs
            .into_iter()
            .map(|job| {
                let href = format!("/jobs/{}", encode(&job.id));
                let id = job.id.clone();
                let row_id = job.id.clone();
                view! {
                    <tr data-job=row_id>
                        <td class="id"><A href=href>{job.id}</A></td>
                        <td>{job.queue}</td>
                        <td>{job.job_type}</td>
                        <td class="when">{job.started_at}</td>
                        <td class="num">{format!("{}%", job.progress)}</td>
                        {may_change.get().then(|| view! {
                            <td>
                                <ActionForm action=abort attr:class="inline-form">
                                    <input type="hidden" name="id" value=id.clone() />
                                    <input type="hidden" name="action" value="abort" />
                                    <button type="submit" class="secondary" data-testid="abort-running">"Abort"</button>
                                </ActionForm>
                            </td>
                        })}
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="report jobs-table" data-testid="running-jobs">
                    <thead>
                        <tr>
                            <th scope="col">"running job"</th>
                            <th scope="col">"queue"</th>
                            <th scope="col">"type"</th>
                            <th scope="col">"started (UTC)"</th>
                            <th scope="col" class="num">"progress"</th>
                            {may_change.get().then(|| view! { <th scope="col"><span class="sr-only">"abort"</span></th> })}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <article class="worker" data-worker=row.id.clone() data-status=status>
            <header class="worker-head">
                <h2 class="id">{row.id.clone()}</h2>
                <span class=format!("badge {status}")>{status}</span>
            </header>
            <dl class="worker-facts">
                <div>
                    <dt>"Heartbeat"</dt>
                    <dd data-testid="heartbeat">{row.heartbeat.clone()}</dd>
                </div>
                <div>
                    <dt>"Host / pid"</dt>
                    <dd>{format!("{} / {}", row.host, row.pid)}</dd>
                </div>
                <div>
                    <dt>"Works"</dt>
                    <dd>{row.queues.clone()}</dd>
                </div>
                <div>
                    <dt>"Running"</dt>
                    <dd data-testid="running-count">{row.running}</dd>
                </div>
                <div>
                    <dt>"Started (UTC)"</dt>
                    <dd class="when">{row.started_at.clone()}</dd>
                </div>
                {row.gone_at.clone().map(|at| view! {
                    <div>
                        <dt>"Gone since (UTC)"</dt>
                        <dd class="when">{at}</dd>
                    </div>
                })}
                <div>
                    <dt>"Version"</dt>
                    <dd>{row.version.clone()}</dd>
                </div>
            </dl>
            {running}
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_unit() {
        assert_eq!(ago(-1), "0 s ago");
        assert_eq!(ago(42), "42 s ago");
        assert_eq!(ago(125), "2 min ago");
        assert_eq!(ago(7_300), "2 h ago");
        assert_eq!(ago(200_000), "2 d ago");
    }
}
