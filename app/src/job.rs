//! One job (`/jobs/:id`): its state, timing, payload, attempts timeline with
//! each error, dependencies and scopes, progress and log lines; retry, abort
//! and delete for operators. The page reads the job again when the stream
//! says it changed.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::{Deserialize, Serialize};

use crate::live;
use crate::session::may_change;
use crate::url::encode;

/// Longest payload the page shows; the rest is cut (the API has all of it).
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// A job as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// Its id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its type and the version it was stored with.
    pub job_type: String,
    /// The version.
    pub type_version: i32,
    /// Its state.
    pub state: String,
    /// Its payload, pretty-printed (cut at [`MAX_PAYLOAD`]).
    pub payload: String,
    /// Its priority.
    pub priority: i32,
    /// Attempts started.
    pub attempt: i32,
    /// Attempts it gets.
    pub max_attempts: i32,
    /// Run time limit per attempt.
    pub max_time: Option<String>,
    /// Labelled times (created, ready, deadline, started, ended), UTC.
    pub times: Vec<(String, String)>,
    /// The process running it (or that last did).
    pub owner: Option<String>,
    /// Its latest error.
    pub last_error: Option<String>,
    /// Progress, 0–100, and its message.
    pub progress: i32,
    /// The latest progress message.
    pub progress_message: Option<String>,
    /// The jobs it depends on.
    pub depends_on: Vec<String>,
    /// How many of them it still waits for.
    pub deps_left: i32,
    /// `fail` or `run` when a dependency fails.
    pub on_dependency_failure: String,
    /// Its dependency manager, when not `always` (JSON).
    pub dependency: Option<String>,
    /// Dispatch scopes.
    pub scopes: Vec<String>,
    /// Enqueue scopes.
    pub enqueue_scopes: Vec<String>,
    /// Finished attempts, oldest first.
    pub attempts: Vec<AttemptView>,
    /// Log lines, oldest first.
    pub logs: Vec<LogView>,
    /// What an operator may do to it now: `retry`, `abort`, `delete`.
    pub actions: Vec<String>,
}

/// A finished attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    /// Its number.
    pub attempt: i32,
    /// completed, retrying, failed, aborted, rescued or skipped.
    pub outcome: String,
    /// The process that ran it.
    pub owner: Option<String>,
    /// When it started, UTC.
    pub started_at: Option<String>,
    /// When it ended, UTC.
    pub ended_at: String,
    /// How long it ran.
    pub took: Option<String>,
    /// Its error.
    pub error: Option<String>,
}

/// A log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogView {
    /// The attempt that wrote it.
    pub attempt: i32,
    /// When, UTC.
    pub at: String,
    /// The text.
    pub line: String,
}

/// A length of time as people read it: `850 ms`, `12.4 s`, `3 min 5 s`.
pub fn took(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

/// The payload pretty-printed, cut at `max` bytes (on a character boundary).
pub fn shown_payload(payload: &serde_json::Value, max: usize) -> String {
    let mut text = serde_json::to_string_pretty(payload).unwrap_or_default();
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n… (cut: the whole payload is at /api/v1/jobs/{id})");
    }
    text
}

/// One job, for the page.
#[server(prefix = "/fn", endpoint = "read_job")]
pub async fn read_job(id: String) -> Result<JobView, ServerFnError> {
    use crate::backend::{engine, shown, when};
    use amboy::{BulkAction, Dependency};

    let detail = engine()?.detail(&id).await.map_err(shown)?;
    let job = detail.job;
    let times = [
        ("created", Some(job.created_at)),
        ("ready at", Some(job.run_at)),
        ("start by", job.dispatch_by),
        ("started", job.started_at),
        ("ended", job.ended_at),
    ]
    .into_iter()
    .filter_map(|(label, at)| at.map(|at| (label.to_owned(), when(at))))
    .collect();
    let actions = [BulkAction::Retry, BulkAction::Abort, BulkAction::Delete]
        .into_iter()
        .filter(|action| action.applies_to().contains(&job.state))
        .map(|action| action.as_str().to_owned())
        .collect();
    Ok(JobView {
        payload: shown_payload(&job.payload, MAX_PAYLOAD).replace("{id}", &encode(&job.id)),
        id: job.id,
        queue: job.queue,
        job_type: job.job_type,
        type_version: job.type_version,
        state: job.state.to_string(),
        priority: job.priority,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        max_time: job.max_time_ms.map(took),
        times,
        owner: job.owner,
        last_error: job.last_error,
        progress: job.progress,
        progress_message: job.progress_message,
        depends_on: job.depends_on,
        deps_left: job.deps_left,
        on_dependency_failure: job.on_dependency_failure.to_string(),
        dependency: (job.dependency != Dependency::Always)
            .then(|| serde_json::to_string(&job.dependency).unwrap_or_default()),
        scopes: job.scopes,
        enqueue_scopes: job.enqueue_scopes,
        attempts: detail
            .attempts
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                outcome: a.outcome,
                owner: a.owner,
                took: a
                    .started_at
                    .map(|started| took((a.ended_at - started).num_milliseconds().max(0))),
                started_at: a.started_at.map(when),
                ended_at: when(a.ended_at),
                error: a.error,
            })
            .collect(),
        logs: detail
            .logs
            .into_iter()
            .map(|line| LogView {
                attempt: line.attempt,
                at: when(line.at),
                line: line.line,
            })
            .collect(),
        actions,
    })
}

/// What an action on one job did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDone {
    /// What the page says.
    pub message: String,
    /// Whether the job is gone (deleted).
    pub deleted: bool,
}

/// Retries, aborts or deletes one job; says what happened. Operators only.
#[server(prefix = "/fn/op", endpoint = "job_action")]
pub async fn job_action(id: String, action: String) -> Result<ActionDone, ServerFnError> {
    use crate::backend::{bad_field, engine, shown};

    let engine = engine()?;
    let done = |message: &str| ActionDone {
        message: message.to_owned(),
        deleted: action == "delete",
    };
    match action.as_str() {
        "retry" => {
            engine.retry(&id).await.map_err(shown)?;
            Ok(done("Sent back to its queue: it runs again."))
        }
        "abort" => match engine.abort(&id).await.map_err(shown)? {
            amboy::AbortOutcome::Aborted => Ok(done("Aborted.")),
            amboy::AbortOutcome::Requested { .. } => Ok(done(
                "Asked its worker to stop it: it ends aborted in a moment.",
            )),
        },
        "delete" => {
            engine.delete(&id).await.map_err(shown)?;
            Ok(done("Deleted."))
        }
        other => Err(bad_field(format!(
            "action: {other:?} is not one of retry, abort, delete"
        ))),
    }
}

/// The job page.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let act = ServerAction::<JobAction>::new();
    let reread = RwSignal::new(0u64);
    let job = Resource::new(
        move || (id.get(), act.version().get(), reread.get()),
        |(id, _, _)| read_job(id),
    );
    // The page shows no counts: only the stream's job changes.
    let live = live::follow(Signal::stored(Vec::new()));
    crate::when_live(move || {
        if live
            .changed
            .get()
            .touches(std::iter::once(id.get_untracked().as_str()))
        {
            reread.update(|n| *n += 1);
        }
    });
    // A deleted job has no page: back to the list.
    crate::when_live(move || {
        if act
            .value()
            .get()
            .is_some_and(|r| r.is_ok_and(|done| done.deleted))
        {
            use_navigate()("/jobs", Default::default());
        }
    });
    let may_change = may_change();

    view! {
        <section class="job-detail">
            <p class="crumbs">
                <A href="/jobs">"Jobs"</A>
                " / "
            </p>
            <Transition fallback=|| view! { <p class="status">"Loading the job…"</p> }>
                {move || {
                    job.get()
                        .map(|result| match result {
                            Ok(job) => view! { <JobDetailView job act may_change /> }.into_any(),
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
fn JobDetailView(
    job: JobView,
    act: ServerAction<JobAction>,
    may_change: Signal<bool>,
) -> impl IntoView {
    let actions = {
        let id = StoredValue::new(job.id.clone());
        let allowed = StoredValue::new(job.actions.clone());
        move || {
            may_change.get().then(|| {
                let buttons = allowed
                    .get_value()
                    .into_iter()
                    .map(|action| {
                        let class = if action == "retry" { "" } else { "secondary" };
                        let label = match action.as_str() {
                            "retry" => "Retry",
                            "abort" => "Abort",
                            _ => "Delete",
                        };
                        view! {
                            <ActionForm action=act attr:class="inline-form">
                                <input type="hidden" name="id" value=id.get_value() />
                                <input type="hidden" name="action" value=action.clone() />
                                <button type="submit" class=class data-testid=format!("job-{action}")>
                                    {label}
                                </button>
                            </ActionForm>
                        }
                    })
                    .collect_view();
                view! { <div class="job-actions">{buttons}</div> }
            })
        }
    };
    let result = move || {
        act.value().get().map(|result| match result {
            Ok(done) => {
                view! { <p class="status ok" role="status" data-testid="job-result">{done.message}</p> }
                    .into_any()
            }
            Err(error) => {
                view! { <p class="status error" role="alert" data-testid="job-result">{error.to_string()}</p> }
                    .into_any()
            }
        })
    };
    let times = job
        .times
        .iter()
        .map(|(label, at)| {
            view! {
                <dt>{label.clone()}</dt>
                <dd class="when">{at.clone()}" UTC"</dd>
            }
        })
        .collect_view();
    let progress = (job.progress > 0 || job.progress_message.is_some()).then(|| {
        view! {
            <div class="progress" data-testid="job-progress">
                <progress max="100" value=job.progress>{format!("{}%", job.progress)}</progress>
                <span>{format!("{}%", job.progress)}</span>
                {job.progress_message.clone().map(|m| view! { <span class="hint">{m}</span> })}
            </div>
        }
    });
    let queue_href = format!("/queues/{}", encode(&job.queue));
    let state = job.state.clone();
    let dependencies = view! { <Dependencies job=job.clone() /> };
    let running = (job.state == "running").then_some(job.attempt);
    let attempts = view! { <Attempts attempts=job.attempts.clone() running /> };
    let logs = view! { <Logs logs=job.logs.clone() /> };

    view! {
        <header class="page-header">
            <h1 class="job-title">{job.id.clone()}</h1>
            <span class=format!("badge state-{state}") data-testid="job-state">{state.clone()}</span>
            {actions}
        </header>
        {result}
        {progress}
        {job.last_error.clone().map(|error| view! {
            <div class="last-error">
                <h2>"Latest error"</h2>
                <pre class="error-text">{error}</pre>
            </div>
        })}
        <div class="job-grid">
            <dl class="settings" data-testid="job-facts">
                <dt>"Queue"</dt>
                <dd><A href=queue_href>{job.queue.clone()}</A></dd>
                <dt>"Type"</dt>
                <dd>{format!("{} (version {})", job.job_type, job.type_version)}</dd>
                <dt>"Attempts"</dt>
                <dd>{format!("{} of {}", job.attempt, job.max_attempts)}</dd>
                <dt>"Priority"</dt>
                <dd>{job.priority}</dd>
                <dt>"Time limit"</dt>
                <dd>{job.max_time.clone().unwrap_or_else(|| "none".to_owned())}</dd>
                {job.owner.clone().map(|owner| view! { <dt>"Worker"</dt><dd class="id">{owner}</dd> })}
                {times}
            </dl>
            {dependencies}
        </div>
        <h2>"Attempts"</h2>
        {attempts}
        <h2>"Log"</h2>
        {logs}
        <h2>"Payload"</h2>
        <pre class="payload" data-testid="job-payload">{job.payload.clone()}</pre>
    }
}

/// What the job waits for and what it holds.
#[component]
fn Dependencies(job: JobView) -> impl IntoView {
    if job.depends_on.is_empty()
        && job.dependency.is_none()
        && job.scopes.is_empty()
        && job.enqueue_scopes.is_empty()
    {
        return view! { <div></div> }.into_any();
    }
    let edges = job
        .depends_on
        .clone()
        .into_iter()
        .map(|dep| {
            let href = format!("/jobs/{}", encode(&dep));
            view! {
                <li>
                    <A href=href>{dep}</A>
                </li>
            }
        })
        .collect_view();
    let list = |scopes: &[String]| scopes.join(", ");
    view! {
        <div class="dependencies" data-testid="job-dependencies">
            {(!job.depends_on.is_empty())
                .then(|| {
                    view! {
                        <h2>"Depends on"</h2>
                        <p class="hint">
                            {if job.deps_left > 0 {
                                format!("Waiting for {} of them.", job.deps_left)
                            } else {
                                "None left to wait for.".to_owned()
                            }}
                            {format!(" If one fails: {}.", job.on_dependency_failure)}
                        </p>
                        <ul class="edges">{edges}</ul>
                    }
                })}
            {job.dependency.clone().map(|d| view! { <p>"Dependency manager: " <code>{d}</code></p> })}
            {(!job.scopes.is_empty()).then(|| view! { <p>"Scopes (while running): " <code>{list(&job.scopes)}</code></p> })}
            {(!job.enqueue_scopes.is_empty())
                .then(|| view! { <p>"Scopes (until it ends): " <code>{list(&job.enqueue_scopes)}</code></p> })}
        </div>
    }
    .into_any()
}

/// The attempts, oldest first, and the one running now.
#[component]
fn Attempts(attempts: Vec<AttemptView>, running: Option<i32>) -> impl IntoView {
    if attempts.is_empty() && running.is_none() {
        return view! { <p class="hint">"No attempt has finished yet."</p> }.into_any();
    }
    let items = attempts
        .into_iter()
        .map(|a| {
            let outcome = a.outcome.clone();
            view! {
                <li class=format!("attempt outcome-{outcome}") data-attempt=a.attempt>
                    <div class="attempt-head">
                        <span class="attempt-no">{format!("#{}", a.attempt)}</span>
                        <span class=format!("badge outcome-{outcome}")>{outcome.clone()}</span>
                        <span class="when">{a.started_at.clone().unwrap_or_else(|| "—".to_owned())}" → "{a.ended_at.clone()}</span>
                        {a.took.clone().map(|t| view! { <span class="took">{t}</span> })}
                        {a.owner.clone().map(|o| view! { <span class="id">{o}</span> })}
                    </div>
                    {a.error.clone().map(|e| view! { <pre class="error-text">{e}</pre> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <ol class="timeline" data-testid="job-attempts">
            {items}
            {running.map(|n| view! {
                <li class="attempt outcome-running" data-attempt=n>
                    <div class="attempt-head">
                        <span class="attempt-no">{format!("#{n}")}</span>
                        <span class="badge state-running">"running"</span>
                    </div>
                </li>
            })}
        </ol>
    }
    .into_any()
}

#[component]
fn Logs(logs: Vec<LogView>) -> impl IntoView {
    if logs.is_empty() {
        return view! { <p class="hint">"The job wrote no log lines."</p> }.into_any();
    }
    let lines = logs
        .into_iter()
        .map(|l| {
            view! {
                <li>
                    <span class="when">{l.at}</span>
                    <span class="attempt-no">{format!("#{}", l.attempt)}</span>
                    <span class="line">{l.line}</span>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="log" data-testid="job-log">{lines}</ol> }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_a_fitting_unit() {
        assert_eq!(took(850), "850 ms");
        assert_eq!(took(12_400), "12.4 s");
        assert_eq!(took(185_000), "3 min 5 s");
    }

    #[test]
    fn long_payloads_are_cut_on_a_character_boundary() {
        let payload = serde_json::json!({ "text": "é".repeat(100) });
        let whole = shown_payload(&payload, 10_000);
        assert!(whole.contains(&"é".repeat(100)));
        let cut = shown_payload(&payload, 25);
        assert!(cut.contains("… (cut"), "{cut}");
        assert!(cut.len() < whole.len());
    }
}
