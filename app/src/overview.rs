//! The overview page (`/`): throughput and failures of the last minutes as
//! a chart, each queue's health (waiting, running against its worker slots,
//! the oldest waiting job's age) and every queue's job counts by state, all
//! live; each queue's name leads to its page.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::counts::{CountsTable, QueueRow, queue_counts};
use crate::live::{self, Connection, Rate};

/// Seconds of throughput the chart shows (a point a second).
pub const CHART_POINTS: usize = 300;

/// A queue's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The queue.
    pub queue: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Worker slots: its concurrency times the live processes working it.
    pub slots: i64,
    /// How long its oldest ready job has waited, e.g. `12 s`.
    pub oldest: Option<String>,
    /// Its median queue latency (ready → started) over the last
    /// [`LATENCY_WINDOW_SECS`], when jobs started in it.
    pub latency: Option<String>,
}

/// The window of the health table's latency.
pub const LATENCY_WINDOW_SECS: u64 = 300;

/// A latency as people read it: `0.4 ms`, `85 ms`, `3.2 s`.
pub fn latency_text(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1_000.0)
    }
}

/// What the overview shows besides the counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vitals {
    /// Throughput of the last [`CHART_POINTS`] snapshots, oldest first.
    pub rates: Vec<Rate>,
    /// Every queue's health, by name.
    pub health: Vec<Health>,
}

/// A wait as people read it.
pub fn wait_text(secs: u64) -> String {
    match secs {
        ..60 => format!("{secs} s"),
        60..3_600 => format!("{} min {} s", secs / 60, secs % 60),
        3_600..86_400 => format!("{} h {} min", secs / 3_600, (secs % 3_600) / 60),
        _ => format!("{} d {} h", secs / 86_400, (secs % 86_400) / 3_600),
    }
}

/// The chart's history and each queue's health.
#[server(prefix = "/fn", endpoint = "vitals")]
pub async fn read_vitals() -> Result<Vitals, ServerFnError> {
    use crate::backend::{engine, shown};
    let engine = engine()?;
    let rates = engine.rates();
    let rates = rates[rates.len().saturating_sub(CHART_POINTS)..]
        .iter()
        .map(|point| Rate {
            completed: point.completed_per_sec,
            failed: point.failed_per_sec,
        })
        .collect();
    let processes: Vec<amboy::ProcessRecord> = engine
        .processes()
        .await
        .map_err(shown)?
        .into_iter()
        .filter(|p| p.gone_at.is_none())
        .collect();
    let latencies = engine
        .queue_latencies(std::time::Duration::from_secs(LATENCY_WINDOW_SECS))
        .await
        .map_err(shown)?;
    let mut health = Vec::new();
    for queue in engine.queues().await.map_err(shown)? {
        let working = processes
            .iter()
            .filter(|p| p.queues.as_ref().is_none_or(|qs| qs.contains(&queue.name)))
            .count();
        let oldest = engine
            .oldest_pending_age(&queue.name)
            .await
            .map_err(shown)?
            .map(|age| wait_text(age.as_secs()));
        health.push(Health {
            latency: latencies
                .get(&queue.name)
                .filter(|p| p.count > 0)
                .map(|p| latency_text(p.p50_ms)),
            slots: i64::from(queue.settings.concurrency) * working as i64,
            paused: queue.settings.paused,
            queue: queue.name,
            oldest,
        });
    }
    health.sort_by(|a, b| a.queue.cmp(&b.queue));
    Ok(Vitals { rates, health })
}

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
    let vitals = Resource::new(|| (), |()| read_vitals());
    // The chart: the server's history, then a point per snapshot.
    let appended = RwSignal::new(Vec::<Rate>::new());
    crate::when_live(move || {
        if let Some(rate) = live.rate.get() {
            appended.update(|points| {
                points.push(rate);
                if points.len() > CHART_POINTS {
                    points.remove(0);
                }
            });
        }
    });
    let points = Signal::derive(move || {
        let mut points = vitals
            .get()
            .and_then(Result::ok)
            .map(|v| v.rates)
            .unwrap_or_default();
        points.extend(appended.get());
        let excess = points.len().saturating_sub(CHART_POINTS);
        points.drain(..excess);
        points
    });
    let counts = Signal::derive(move || {
        live.counts
            .get()
            .or_else(|| rendered.get().and_then(Result::ok))
    });

    view! {
        <section class="overview">
            <header class="page-header">
                <h1>"Overview"</h1>
                <ConnectionBadge connection=live.connection />
            </header>
            <Transition fallback=|| ()>
                <RateChart points />
                {move || {
                    vitals
                        .get()
                        .and_then(Result::ok)
                        .filter(|v| !v.health.is_empty())
                        .map(|v| view! { <HealthTable health=v.health counts /> })
                }}
            </Transition>
            <h2 class="section-title">"Jobs by state"</h2>
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
    let mut totals = vec![0; states.len()];
    for row in &queues {
        for (total, n) in totals.iter_mut().zip(&row.counts) {
            *total += n;
        }
    }
    let all = (queues.len() > 1).then(|| {
        view! {
            <tfoot>
                <QueueRowView row=QueueRow { queue: String::new(), counts: totals } states=states.clone() />
            </tfoot>
        }
    });
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
                {all}
            </table>
        </div>
    }
    .into_any()
}

/// One queue's row (or, without a queue name, the totals row); each count
/// cell carries its state name so tests and styles can find it without
/// relying on column positions.
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

    // The row without a queue is the totals of every queue.
    let name = if queue.is_empty() {
        view! { <span>"all queues"</span> }.into_any()
    } else {
        view! { <a href=format!("/queues/{queue}")>{label}</a> }.into_any()
    };
    let marker = if queue.is_empty() {
        "all".to_owned()
    } else {
        queue
    };
    view! {
        <tr data-queue=marker>
            <th scope="row" class="queue-name">{name}</th>
            {cells}
            <td class="num total" data-state="total">{total}</td>
        </tr>
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `max` (and at least 1).
pub fn nice_ceiling(max: f64) -> f64 {
    let mut step = 1.0;
    loop {
        for factor in [1.0, 2.0, 5.0] {
            if step * factor >= max {
                return step * factor;
            }
        }
        step *= 10.0;
    }
}

/// The share of failures among the jobs that ended, over the points.
pub fn failure_ratio(points: &[Rate]) -> Option<f64> {
    let completed: f64 = points.iter().map(|p| p.completed).sum();
    let failed: f64 = points.iter().map(|p| p.failed).sum();
    (completed + failed > 0.0).then(|| failed / (completed + failed))
}

/// Throughput and failures per second over the last minutes, as an SVG
/// line chart that grows from the right, a point a second.
#[component]
fn RateChart(points: Signal<Vec<Rate>>) -> impl IntoView {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 120.0;
    let scale = Memo::new(move |_| {
        points.with(|points| {
            nice_ceiling(
                points
                    .iter()
                    .map(|p| p.completed.max(p.failed))
                    .fold(0.0, f64::max),
            )
        })
    });
    let line = move |value: fn(&Rate) -> f64| {
        move || {
            let top = scale.get();
            points.with(|points| {
                let offset = CHART_POINTS - points.len();
                points
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let x = (offset + i) as f64 / (CHART_POINTS - 1) as f64 * WIDTH;
                        let y = HEIGHT - value(p) / top * HEIGHT;
                        format!("{x:.1},{y:.1}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        }
    };
    let now = move || {
        points.with(|points| match points.last() {
            Some(p) => format!(
                "{:.1} completed/s, {:.1} failed/s now",
                p.completed, p.failed
            ),
            None => "no snapshot yet".to_owned(),
        })
    };
    let ratio = move || {
        points.with(|points| match failure_ratio(points) {
            Some(r) => format!("{:.1} % of the jobs that ended failed", r * 100.0),
            None => "no job ended".to_owned(),
        })
    };
    view! {
        <figure class="chart" data-testid="throughput-chart">
            <figcaption>
                <strong>"Throughput, last 5 minutes"</strong>
                <span class="legend completed">"completed"</span>
                <span class="legend failed">"failed"</span>
                <span class="hint" data-testid="rate-now">{now}</span>
                <span class="hint">{ratio}</span>
            </figcaption>
            <div class="chart-body">
                <span class="chart-top" data-testid="chart-top">{move || format!("{}/s", scale.get())}</span>
                <svg viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="jobs completed and failed per second over the last five minutes">
                    <line class="grid" x1="0" y1="60" x2="600" y2="60" />
                    <line class="axis" x1="0" y1="120" x2="600" y2="120" />
                    <polyline class="completed" points=line(|p| p.completed) />
                    <polyline class="failed" points=line(|p| p.failed) />
                </svg>
            </div>
            <div class="chart-axis" aria-hidden="true">
                <span>"5 min ago"</span>
                <span>"now"</span>
            </div>
        </figure>
    }
}

/// Each queue's health: jobs waiting, running against its worker slots,
/// and how long the oldest ready job has waited.
#[component]
fn HealthTable(health: Vec<Health>, counts: Signal<Option<CountsTable>>) -> impl IntoView {
    let count = move |queue: &str, state: &str| {
        counts.with(|table| {
            table.as_ref().map_or(0, |table| {
                let column = table.states.iter().position(|s| s == state);
                table
                    .queues
                    .iter()
                    .find(|row| row.queue == queue)
                    .and_then(|row| column.and_then(|c| row.counts.get(c).copied()))
                    .unwrap_or(0)
            })
        })
    };
    let rows = health
        .into_iter()
        .map(|h| {
            let queue = h.queue.clone();
            let waiting = {
                let queue = queue.clone();
                move || count(&queue, "pending")
            };
            let running = {
                let queue = queue.clone();
                move || count(&queue, "running")
            };
            let slots = h.slots;
            let busy = move || {
                let running = running();
                format!("{running} / {slots}")
            };
            let status = if h.paused { "paused" } else { "active" };
            let label = h.queue.clone();
            view! {
                <tr data-queue=queue.clone()>
                    <th scope="row" class="queue-name">
                        <a href=format!("/queues/{queue}")>{label}</a>
                    </th>
                    <td><span class=format!("badge {status}")>{status}</span></td>
                    <td class="num" data-health="waiting">{waiting}</td>
                    <td class="num" data-health="busy">{busy}</td>
                    <td class="num" data-health="oldest">{h.oldest.unwrap_or_else(|| "—".to_owned())}</td>
                    <td class="num" data-health="latency">{h.latency.unwrap_or_else(|| "—".to_owned())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="report" data-testid="queue-health">
                <thead>
                    <tr>
                        <th scope="col">"queue"</th>
                        <th scope="col">"status"</th>
                        <th scope="col" class="num">"waiting"</th>
                        <th scope="col" class="num">"running / slots"</th>
                        <th scope="col" class="num">"oldest waiting"</th>
                        <th scope="col" class="num">"latency p50 (5 min)"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_rounds_up_to_one_two_or_five() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.5), 2.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(4_200.0), 5_000.0);
    }

    #[test]
    fn the_failure_ratio_counts_the_jobs_that_ended() {
        let rate = |completed, failed| Rate { completed, failed };
        assert_eq!(failure_ratio(&[]), None);
        assert_eq!(failure_ratio(&[rate(0.0, 0.0)]), None);
        assert_eq!(failure_ratio(&[rate(3.0, 1.0), rate(0.0, 0.0)]), Some(0.25));
    }

    #[test]
    fn latencies_keep_what_matters() {
        assert_eq!(latency_text(0.42), "0.4 ms");
        assert_eq!(latency_text(85.3), "85 ms");
        assert_eq!(latency_text(3_240.0), "3.2 s");
    }

    #[test]
    fn waits_read_in_two_units() {
        assert_eq!(wait_text(42), "42 s");
        assert_eq!(wait_text(125), "2 min 5 s");
        assert_eq!(wait_text(7_380), "2 h 3 min");
        assert_eq!(wait_text(90_000), "1 d 1 h");
    }
}
