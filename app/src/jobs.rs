//! The jobs page (`/jobs`): a tab per state with its count, filters by
//! queue, type and id prefix, keyset pages (newest first, fast at any depth),
//! and bulk retry, abort and delete of the selected jobs or of every job
//! matching the filter.
//!
//! The filter lives in the address (`?state=failed&queue=mail&type=http&id=ab`,
//! `after` for later pages), so a view can be bookmarked and shared, and the
//! tabs, filter form and page links work before the page hydrates. Once live,
//! the tab counts follow the stream, and the page reads its jobs again when
//! the stream says one of them changed.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_router::components::{A, Form};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::live;
use crate::session::may_change;
use crate::url::{encode, with_query};

/// Jobs per page.
pub const PAGE: u32 = 50;

/// Which jobs the page shows: the address's query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQuery {
    /// Only this state.
    pub state: Option<String>,
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this type.
    pub job_type: Option<String>,
    /// Only ids starting with this.
    pub id_prefix: Option<String>,
    /// The page after this id (newest first).
    pub after: Option<String>,
}

impl JobQuery {
    /// The query of an address, given its parameters by name; blank
    /// values are no filter.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> JobQuery {
        let get = |key: &str| param(key).filter(|value| !value.trim().is_empty());
        JobQuery {
            state: get("state"),
            queue: get("queue"),
            job_type: get("type"),
            id_prefix: get("id"),
            after: get("after"),
        }
    }

    /// The page's address for this query.
    pub fn href(&self) -> String {
        with_query(
            "/jobs",
            [
                ("state", self.state.as_deref()),
                ("queue", self.queue.as_deref()),
                ("type", self.job_type.as_deref()),
                ("id", self.id_prefix.as_deref()),
                ("after", self.after.as_deref()),
            ],
        )
    }

    /// The first page of this query in another state's tab.
    pub fn tab(&self, state: Option<&str>) -> JobQuery {
        JobQuery {
            state: state.map(str::to_owned),
            after: None,
            ..self.clone()
        }
    }

    /// Whether anything narrows it down (a bulk action on "all matching"
    /// needs that).
    pub fn is_filtered(&self) -> bool {
        self.state.is_some()
            || self.queue.is_some()
            || self.job_type.is_some()
            || self.id_prefix.is_some()
    }
}

/// A job in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRow {
    /// Its id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its type.
    pub job_type: String,
    /// Its state.
    pub state: String,
    /// Attempts started.
    pub attempt: i32,
    /// Attempts it gets.
    pub max_attempts: i32,
    /// When it was put (UTC).
    pub created_at: String,
    /// Its latest error.
    pub last_error: Option<String>,
}

/// One page of the list, with what the tabs and the filter form need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobList {
    /// The jobs, newest first.
    pub jobs: Vec<JobRow>,
    /// The `after` of the next page, when there is one.
    pub next: Option<String>,
    /// The state names, in lifecycle order.
    pub states: Vec<String>,
    /// Jobs in each state (aligned with `states`) in the filtered queue or
    /// in all, from the engine's latest stats snapshot.
    pub counts: Vec<i64>,
    /// Every queue, for the filter.
    pub queues: Vec<String>,
    /// The job types this server knows, for the filter.
    pub types: Vec<String>,
}

/// What a bulk action did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkDone {
    /// The action.
    pub action: String,
    /// Jobs it changed.
    pub changed: u64,
    /// Jobs it was given, when given by id.
    pub asked: Option<u64>,
}

impl BulkDone {
    /// What the page says about it.
    pub fn message(&self) -> String {
        let done = match self.action.as_str() {
            "retry" => "Retried",
            "abort" => "Aborted",
            "delete" => "Deleted",
            other => other,
        };
        let jobs = |n: u64| {
            if n == 1 {
                "1 job".to_owned()
            } else {
                format!("{n} jobs")
            }
        };
        match self.asked {
            Some(asked) if asked > self.changed => format!(
                "{done} {}; {} passed over (not in a state {} applies to).",
                jobs(self.changed),
                jobs(asked - self.changed),
                self.action
            ),
            _ => format!("{done} {}.", jobs(self.changed)),
        }
    }
}

#[cfg(feature = "ssr")]
fn filter_of(query: &JobQuery) -> Result<amboy::JobFilter, ServerFnError> {
    let state = query
        .state
        .as_deref()
        .map(str::parse::<amboy::JobState>)
        .transpose()
        .map_err(|err| crate::backend::bad_field(format!("state: {err}")))?;
    Ok(amboy::JobFilter {
        queue: query.queue.clone(),
        state,
        job_type: query.job_type.clone(),
        id_prefix: query.id_prefix.clone(),
        owner: None,
        newest_first: true,
        after: query.after.clone(),
        limit: PAGE,
    })
}

/// A page of jobs (newest first) with the tab counts.
#[server(prefix = "/fn", endpoint = "list_jobs", input = Json)]
pub async fn list_jobs(query: JobQuery) -> Result<JobList, ServerFnError> {
    use crate::backend::{engine, shown, when};

    let engine = engine()?;
    let filter = filter_of(&query)?;
    let jobs = engine.list(&filter).await.map_err(shown)?;
    let next = (jobs.len() == PAGE as usize)
        .then(|| jobs.last().map(|job| job.id.clone()))
        .flatten();
    let snapshot = engine.stats().await.map_err(shown)?;
    let counts = match &query.queue {
        None => snapshot.totals(),
        Some(queue) => snapshot
            .queues
            .iter()
            .find(|q| &q.queue == queue)
            .map(|q| q.counts.clone())
            .unwrap_or_default(),
    };
    Ok(JobList {
        jobs: jobs
            .into_iter()
            .map(|job| JobRow {
                id: job.id,
                queue: job.queue,
                job_type: job.job_type,
                state: job.state.to_string(),
                attempt: job.attempt,
                max_attempts: job.max_attempts,
                created_at: when(job.created_at),
                last_error: job.last_error,
            })
            .collect(),
        next,
        states: amboy::JobState::ALL
            .iter()
            .map(ToString::to_string)
            .collect(),
        counts: amboy::JobState::ALL
            .iter()
            .map(|state| counts.get(state).copied().unwrap_or(0))
            .collect(),
        queues: snapshot.queues.iter().map(|q| q.queue.clone()).collect(),
        types: engine.job_types(),
    })
}

/// Retries, aborts or deletes the given jobs, or every job matching
/// `matching` (which must narrow the jobs down). Operators only.
#[server(prefix = "/fn/op", endpoint = "bulk_jobs", input = Json)]
pub async fn bulk_jobs(
    action: String,
    ids: Vec<String>,
    matching: Option<JobQuery>,
) -> Result<BulkDone, ServerFnError> {
    use crate::backend::{bad_field, engine, shown};
    use amboy::{BulkAction, JobSelector};

    let engine = engine()?;
    let bulk: BulkAction = action.parse().map_err(shown)?;
    if bulk == BulkAction::Complete {
        return Err(bad_field(
            "action: the dashboard retries, aborts or deletes jobs".to_owned(),
        ));
    }
    let (selector, asked) = match (ids.is_empty(), matching) {
        (false, None) => {
            let asked = ids.len() as u64;
            (JobSelector::Ids(ids), Some(asked))
        }
        (true, Some(query)) if query.is_filtered() => {
            (JobSelector::Filter(filter_of(&query)?), None)
        }
        (true, Some(_)) => {
            return Err(bad_field(
                "filter: choose a state, queue, type or id prefix before acting on every match"
                    .to_owned(),
            ));
        }
        _ => {
            return Err(bad_field(
                "select some jobs, or act on every job matching the filter".to_owned(),
            ));
        }
    };
    let changed = engine.bulk(bulk, selector).await.map_err(shown)?;
    Ok(BulkDone {
        action,
        changed,
        asked,
    })
}

/// A bulk action waiting for the operator's confirmation.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    action: &'static str,
    /// Every job matching the filter, rather than the selected ones.
    all: bool,
}

/// The jobs page.
#[component]
pub fn Jobs() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let params = params.read();
        JobQuery::from_params(|key| params.get(key))
    });
    let bulk = ServerAction::<BulkJobs>::new();
    let reread = RwSignal::new(0u64);
    let list = Resource::new(
        move || (query.get(), bulk.version().get(), reread.get()),
        |(query, _, _)| list_jobs(query),
    );
    let selected = RwSignal::new(Vec::<String>::new());
    // The bulk action awaiting confirmation. It lives here, not in the bulk
    // bar: the page is read again whenever a job shown changes, which
    // rebuilds the bar, and the open question must outlive that.
    let confirming = RwSignal::new(None::<Pending>);
    let states = Signal::derive(move || {
        list.get()
            .and_then(Result::ok)
            .map(|page| page.states)
            .unwrap_or_default()
    });
    let live = live::follow(states);
    // A job shown changed: read the page again (at most once a second: the
    // stream reports changes with each snapshot).
    crate::when_live(move || {
        let changed = live.changed.get();
        let touched = list.with_untracked(|page| {
            page.as_ref()
                .and_then(|page| page.as_ref().ok())
                .is_some_and(|page| changed.touches(page.jobs.iter().map(|job| job.id.as_str())))
        });
        if touched {
            reread.update(|n| *n += 1);
        }
    });
    // A new query or a finished action starts with nothing selected and
    // nothing to confirm.
    crate::when_live(move || {
        query.track();
        bulk.version().track();
        selected.set(Vec::new());
        confirming.set(None);
    });
    // Tab counts: the stream's, once it speaks; the server's until then.
    let live_counts = Signal::derive(move || {
        let table = live.counts.get()?;
        let queue = query.with(|q| q.queue.clone());
        let mut totals = vec![0; table.states.len()];
        for row in table
            .queues
            .iter()
            .filter(|row| queue.as_ref().is_none_or(|q| q == &row.queue))
        {
            for (total, n) in totals.iter_mut().zip(&row.counts) {
                *total += n;
            }
        }
        Some(totals)
    });
    // A job can enter the list without having been shown in it (a page
    // left empty by a retry fills again as the jobs fail again): when the
    // count of the tab shown changes, read the page again. (Its key, so a
    // new tab is read once, by the query.)
    let tab_count = Memo::new(move |_| {
        let (state, queue) = query.with(|q| (q.state.clone(), q.queue.clone()));
        let totals = live_counts.get();
        let count = live.counts.with(|table| {
            let (table, totals) = (table.as_ref()?, totals?);
            match &state {
                None => Some(totals.iter().sum::<i64>()),
                Some(state) => count_in(&table.states, &totals, state),
            }
        });
        (state, queue, count)
    });
    let seen = StoredValue::new(None::<(Option<String>, Option<String>, Option<i64>)>);
    crate::when_live(move || {
        let now = tab_count.get();
        let before = seen.get_value();
        seen.set_value(Some(now.clone()));
        if let Some((state, queue, count)) = before
            && (state, queue) == (now.0.clone(), now.1.clone())
            && count.is_some()
            && count != now.2
        {
            reread.update(|n| *n += 1);
        }
    });
    let may_change = may_change();

    view! {
        <section class="jobs">
            <header class="page-header">
                <h1>"Jobs"</h1>
                <p class="hint">"Newest first. Open a job to see its attempts, log and payload."</p>
            </header>
            <Transition fallback=|| view! { <p class="status">"Loading jobs…"</p> }>
                {move || {
                    list.get()
                        .map(|result| match result {
                            Ok(page) => {
                                view! {
                                    <JobsView
                                        page
                                        query=query.get()
                                        live_counts
                                        selected
                                        confirming
                                        bulk
                                        may_change
                                    />
                                }
                                    .into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="status error" role="alert">{error.to_string()}</p>
                                    <p>
                                        <A href="/jobs">"Show every job"</A>
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn JobsView(
    page: JobList,
    query: JobQuery,
    live_counts: Signal<Option<Vec<i64>>>,
    selected: RwSignal<Vec<String>>,
    confirming: RwSignal<Option<Pending>>,
    bulk: ServerAction<BulkJobs>,
    may_change: Signal<bool>,
) -> impl IntoView {
    let JobList {
        jobs,
        next,
        states,
        counts,
        queues,
        types,
    } = page;
    let shown: Vec<String> = jobs.iter().map(|job| job.id.clone()).collect();
    let count_of = {
        let states = states.clone();
        move |state: &str| {
            let counts = live_counts.get().unwrap_or_else(|| counts.clone());
            count_in(&states, &counts, state).unwrap_or(0)
        }
    };
    let empty = jobs.is_empty();
    let first_page = query.after.is_none();
    let bulk_query = query.clone();
    view! {
        <Tabs query=query.clone() states=states.clone() count_of=count_of.clone() />
        <Filters query=query.clone() queues types />
        {move || {
            may_change
                .get()
                .then(|| {
                    let count_of = count_of.clone();
                    view! {
                        <BulkBar
                            query=bulk_query.clone()
                            shown=shown.clone()
                            selected
                            pending=confirming
                            bulk
                            matching=move |state: &str| count_of(state)
                        />
                    }
                })
        }}
        {if empty {
            view! {
                <div class="empty" data-testid="no-jobs">
                    <p class="empty-title">
                        {if first_page { "No jobs match." } else { "No more jobs." }}
                    </p>
                    <p>"Change the filter, or pick another tab."</p>
                </div>
            }
                .into_any()
        } else {
            view! { <JobTable jobs selected may_change /> }.into_any()
        }}
        <nav class="pager" aria-label="pages">
            {(!first_page)
                .then(|| {
                    view! {
                        <A href=query.tab(query.state.as_deref()).href()>"← First page"</A>
                    }
                })}
            {next
                .map(|after| {
                    let href = JobQuery {
                        after: Some(after),
                        ..query.clone()
                    }
                        .href();
                    view! {
                        <A href=href attr:data-testid="next-page">
                            "Older →"
                        </A>
                    }
                })}
        </nav>
    }
}

/// A tab per state with its count, and "all".
#[component]
fn Tabs(
    query: JobQuery,
    states: Vec<String>,
    count_of: impl Fn(&str) -> i64 + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let current = query.state.clone();
    let all_count = {
        let count_of = count_of.clone();
        let states = states.clone();
        move || states.iter().map(|s| count_of(s)).sum::<i64>()
    };
    let tabs = states
        .into_iter()
        .map(|state| {
            let href = query.tab(Some(&state)).href();
            let is_current = current.as_deref() == Some(state.as_str());
            let count_of = count_of.clone();
            let label = state.clone();
            let counted = state.clone();
            view! {
                <a
                    href=href
                    class=format!("tab state-{state}")
                    aria-current=is_current.then_some("page")
                    data-tab=state
                >
                    {label}
                    <span class="tab-count">{move || count_of(&counted)}</span>
                </a>
            }
        })
        .collect_view();
    view! {
        <nav class="tabs" aria-label="job states">
            <a
                href=query.tab(None).href()
                class="tab"
                aria-current=current.is_none().then_some("page")
                data-tab="all"
            >
                "all"
                <span class="tab-count">{all_count}</span>
            </a>
            {tabs}
        </nav>
    }
}

/// The filter form: a GET form, so the filter lands in the address.
#[component]
fn Filters(query: JobQuery, queues: Vec<String>, types: Vec<String>) -> impl IntoView {
    let chosen_queue = query.queue.clone();
    let queue_options = queues
        .into_iter()
        .map(|queue| {
            let selected = chosen_queue.as_deref() == Some(queue.as_str());
            let label = queue.clone();
            view! {
                <option value=queue selected=selected>
                    {label}
                </option>
            }
        })
        .collect_view();
    let type_options = types
        .into_iter()
        .map(|job_type| view! { <option value=job_type></option> })
        .collect_view();
    let filtered = query.queue.is_some() || query.job_type.is_some() || query.id_prefix.is_some();
    let clear = query.tab(query.state.as_deref());
    let clear = JobQuery {
        state: clear.state,
        ..JobQuery::default()
    }
    .href();
    view! {
        <Form method="GET" action="/jobs" attr:class="filters" attr:role="search">
            {query.state.clone().map(|state| view! { <input type="hidden" name="state" value=state /> })}
            <label for="filter-queue">"Queue"</label>
            <select id="filter-queue" name="queue">
                <option value="">"all queues"</option>
                {queue_options}
            </select>
            <label for="filter-type">"Type"</label>
            <input
                id="filter-type"
                name="type"
                list="job-types"
                placeholder="any type"
                value=query.job_type.clone().unwrap_or_default()
            />
            <datalist id="job-types">{type_options}</datalist>
            <label for="filter-id">"Id starts with"</label>
            <input
                id="filter-id"
                name="id"
                placeholder="any id"
                value=query.id_prefix.clone().unwrap_or_default()
            />
            <button type="submit" class="secondary">"Filter"</button>
            {filtered.then(|| view! { <A href=clear>"Clear"</A> })}
        </Form>
    }
}

/// The selection's actions, with a confirmation for aborts, deletes and
/// anything on every matching job.
#[component]
fn BulkBar(
    query: JobQuery,
    shown: Vec<String>,
    selected: RwSignal<Vec<String>>,
    pending: RwSignal<Option<Pending>>,
    bulk: ServerAction<BulkJobs>,
    matching: impl Fn(&str) -> i64 + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let shown = StoredValue::new(shown);
    let matching_query = StoredValue::new(query.tab(query.state.as_deref()));
    let count = move || selected.with(Vec::len);
    let all_shown = move || {
        shown.with_value(|shown| !shown.is_empty() && selected.with(|s| s.len() == shown.len()))
    };
    let toggle_all = move |_| {
        if all_shown() {
            selected.set(Vec::new());
        } else {
            selected.set(shown.get_value());
        }
    };
    let run = move |p: Pending| {
        pending.set(None);
        bulk.dispatch(BulkJobs {
            action: p.action.to_owned(),
            ids: if p.all {
                Vec::new()
            } else {
                selected.get_untracked()
            },
            matching: p.all.then(|| matching_query.get_value()),
        });
    };
    let ask = move |action: &'static str, all: bool| {
        let p = Pending { action, all };
        if action == "retry" && !all {
            run(p);
        } else {
            pending.set(Some(p));
        }
    };
    let how_many_matching = {
        let query = query.clone();
        move || match (&query.state, &query.job_type, &query.id_prefix) {
            (Some(state), None, None) => {
                let n = matching(state);
                if n == 1 {
                    "the 1 job".to_owned()
                } else {
                    format!("all {n} jobs")
                }
            }
            _ => "every job".to_owned(),
        }
    };
    let question = move || {
        pending.get().map(|p| {
            let whom = if p.all {
                format!("{} matching this filter", how_many_matching())
            } else {
                let n = count();
                if n == 1 {
                    "the selected job".to_owned()
                } else {
                    format!("the {n} selected jobs")
                }
            };
            let verb = match p.action {
                "abort" => "Abort",
                "delete" => "Delete",
                _ => "Retry",
            };
            let confirm = p.clone();
            view! {
                <div class="confirm" role="alertdialog" aria-label="confirm">
                    <p>{format!("{verb} {whom}?")}</p>
                    <button
                        type="button"
                        class=if p.action == "retry" { "" } else { "danger" }
                        data-testid="confirm-bulk"
                        on:click=move |_| run(confirm.clone())
                    >
                        {format!("Yes, {}", p.action)}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| pending.set(None)>
                        "Cancel"
                    </button>
                </div>
            }
        })
    };
    let result = move || {
        bulk.value().get().map(|result| match result {
            Ok(done) => {
                view! { <p class="status ok" role="status" data-testid="bulk-result">{done.message()}</p> }
                    .into_any()
            }
            Err(error) => {
                view! { <p class="status error" role="alert" data-testid="bulk-result">{error.to_string()}</p> }
                    .into_any()
            }
        })
    };
    let none = move || count() == 0;
    let busy = bulk.pending();
    let filtered = query.is_filtered();
    view! {
        <div class="bulk" data-testid="bulk-bar">
            <label class="select-all">
                <input
                    type="checkbox"
                    prop:checked=all_shown
                    on:change=toggle_all
                    data-testid="select-all"
                />
                {move || format!("{} selected", count())}
            </label>
            <button type="button" disabled=move || none() || busy.get() on:click=move |_| ask("retry", false)>
                "Retry"
            </button>
            <button type="button" class="secondary" disabled=move || none() || busy.get() on:click=move |_| ask("abort", false)>
                "Abort"
            </button>
            <button type="button" class="secondary" disabled=move || none() || busy.get() on:click=move |_| ask("delete", false)>
                "Delete"
            </button>
            {filtered
                .then(|| {
                    view! {
                        <span class="bulk-all">
                            "Every match:"
                            <button type="button" class="link-button" disabled=busy on:click=move |_| ask("retry", true)>
                                "retry all"
                            </button>
                            <button type="button" class="link-button" disabled=busy on:click=move |_| ask("abort", true)>
                                "abort all"
                            </button>
                            <button type="button" class="link-button" disabled=busy on:click=move |_| ask("delete", true)>
                                "delete all"
                            </button>
                        </span>
                    }
                })}
        </div>
        {question}
        {result}
    }
}

#[component]
fn JobTable(
    jobs: Vec<JobRow>,
    selected: RwSignal<Vec<String>>,
    may_change: Signal<bool>,
) -> impl IntoView {
    let rows = jobs
        .into_iter()
        .map(|job| {
            let href = format!("/jobs/{}", encode(&job.id));
            let id = job.id.clone();
            let checked = {
                let id = id.clone();
                move || selected.with(|s| s.contains(&id))
            };
            let toggle = {
                let id = id.clone();
                move |_| {
                    selected.update(|s| match s.iter().position(|x| x == &id) {
                        Some(i) => {
                            s.remove(i);
                        }
                        None => s.push(id.clone()),
                    })
                }
            };
            let label = format!("select {}", job.id);
            let state = job.state.clone();
            view! {
                <tr data-job=id data-state=state>
                    {move || {
                        may_change
                            .get()
                            .then(|| {
                                view! {
                                    <td class="pick">
                                        <input
                                            type="checkbox"
                                            aria-label=label.clone()
                                            prop:checked=checked.clone()
                                            on:change=toggle.clone()
                                        />
                                    </td>
                                }
                            })
                    }}
                    <td class="id">
                        <A href=href>{job.id.clone()}</A>
                    </td>
                    <td class="col-queue">{job.queue}</td>
                    <td class="col-type">{job.job_type}</td>
                    <td>
                        <span class=format!("badge state-{}", job.state)>{job.state.clone()}</span>
                    </td>
                    <td class="num">{format!("{}/{}", job.attempt, job.max_attempts)}</td>
                    <td class="when col-created">{job.created_at}</td>
                    <td class="message">{job.last_error.unwrap_or_default()}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="report jobs-table" data-testid="job-list">
                <thead>
                    <tr>
                        {move || may_change.get().then(|| view! { <th scope="col" class="pick"><span class="sr-only">"select"</span></th> })}
                        <th scope="col">"id"</th>
                        <th scope="col" class="col-queue">"queue"</th>
                        <th scope="col" class="col-type">"type"</th>
                        <th scope="col">"state"</th>
                        <th scope="col" class="num">"attempts"</th>
                        <th scope="col" class="col-created">"created (UTC)"</th>
                        <th scope="col">"last error"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// The count of `state` among `counts`, aligned with `states`.
fn count_in(states: &[String], counts: &[i64], state: &str) -> Option<i64> {
    states
        .iter()
        .position(|s| s == state)
        .and_then(|i| counts.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_round_trips_through_the_address() {
        let params = std::collections::HashMap::from([
            ("state", "failed"),
            ("queue", "mail out"),
            ("type", ""),
            ("id", "ab"),
        ]);
        let query = JobQuery::from_params(|key| params.get(key).map(|v| v.to_string()));
        assert_eq!(
            query,
            JobQuery {
                state: Some("failed".into()),
                queue: Some("mail out".into()),
                job_type: None,
                id_prefix: Some("ab".into()),
                after: None,
            }
        );
        assert_eq!(query.href(), "/jobs?state=failed&queue=mail%20out&id=ab");
        assert_eq!(query.tab(None).href(), "/jobs?queue=mail%20out&id=ab");
        assert!(query.is_filtered());
        assert!(!JobQuery::default().is_filtered());
    }

    #[test]
    fn bulk_results_say_what_was_passed_over() {
        let done = |changed, asked| BulkDone {
            action: "retry".into(),
            changed,
            asked,
        };
        assert_eq!(done(3, Some(3)).message(), "Retried 3 jobs.");
        assert_eq!(
            done(1, Some(4)).message(),
            "Retried 1 job; 3 jobs passed over (not in a state retry applies to)."
        );
        assert_eq!(done(120, None).message(), "Retried 120 jobs.");
    }
}
