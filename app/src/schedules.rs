//! The schedules pages: `/schedules` lists every schedule with its next and
//! last fire and result; `/schedules/new` and `/schedules/:name` hold the
//! form that creates or edits one, checked as it is typed (the error names
//! the field) with a preview of its next five fires in its own time zone,
//! and for operators the controls: enable or disable, run now, delete.
//!
//! Changes go through server functions under `/fn/op/` (operators only).
//! The form is a plain form, so it saves before the page hydrates too; the
//! live check and preview need the page hydrated.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::{Deserialize, Serialize};

use crate::job::ActionDone;
use crate::session::may_change;
use crate::url::encode;

/// Fire times the preview shows.
pub const PREVIEW: usize = 5;

/// A schedule in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRow {
    /// Its name.
    pub name: String,
    /// When it fires, as people read it.
    pub when: String,
    /// Its queue.
    pub queue: String,
    /// Its job type.
    pub job_type: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Its next fire (UTC), while enabled.
    pub next_fire: Option<String>,
    /// Its latest fire handled (UTC).
    pub last_fire: Option<String>,
    /// What happened then.
    pub last_result: Option<String>,
    /// The job that fire put.
    pub last_job_id: Option<String>,
    /// Jobs put, fire times skipped.
    pub fires: i64,
    /// Fire times skipped.
    pub skips: i64,
}

/// The schedule form's fields, as typed (every one text, as a form sends
/// them; an unticked checkbox sends nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleForm {
    /// Its name.
    pub name: String,
    /// The queue its jobs go to.
    pub queue: String,
    /// Their type.
    pub job_type: String,
    /// Their payload, JSON.
    pub payload: String,
    /// `cron` or `interval`.
    pub kind: String,
    /// The cron expression.
    pub cron: String,
    /// The cron expression's time zone.
    pub timezone: String,
    /// The interval, e.g. `5m`.
    pub every: String,
    /// `allow`, `skip-if-unfinished` or `threshold`.
    pub overlap: String,
    /// The threshold's pending jobs.
    pub threshold: String,
    /// `skip`, `fire-once` or `fire-all`.
    pub misfire: String,
    /// Their priority.
    pub priority: String,
    /// Their attempts.
    pub max_attempts: String,
    /// Their run time limit, e.g. `10m`.
    pub max_time: String,
    /// Present when ticked.
    pub enabled: Option<String>,
}

/// A field the form cannot use, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The form field (its `name`), when the error is about one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The live check of the form: its next fires, or what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The next fire times, in the schedule's zone.
    pub fires: Vec<String>,
    /// The zone they are in.
    pub zone: String,
    /// What is wrong, if anything.
    pub error: Option<FieldError>,
}

/// A stored schedule for its page: the form's values, what happened, and
/// its recent skips and duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    /// The list's row.
    pub row: ScheduleRow,
    /// The form, filled in.
    pub form: ScheduleForm,
    /// Recent skips and duplicates, newest first: (fire time, result, detail).
    pub events: Vec<(String, String, String)>,
}

#[cfg(feature = "ssr")]
mod server {
    //! Between the form's text and the engine's definitions.

    use amboy::{Misfire, Overlap, ScheduleDef, ScheduleRecord, SpecDef};

    use super::{FieldError, ScheduleForm, ScheduleRow};
    use crate::backend::when;
    use amboy::clock::format_duration_ms;

    fn wrong(field: &str, message: String) -> FieldError {
        FieldError {
            field: Some(field.to_owned()),
            message,
        }
    }

    fn duration_ms(text: &str, field: &str, label: &str) -> Result<Option<i64>, FieldError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        amboy::clock::parse_duration(text)
            .map(|d| Some(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            .map_err(|err| wrong(field, format!("{label}: {err}")))
    }

    fn number<T: std::str::FromStr>(
        text: &str,
        field: &str,
        label: &str,
    ) -> Result<Option<T>, FieldError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| wrong(field, format!("{label}: {text:?} is not a whole number")))
    }

    /// The definition the form describes; `current` keeps an interval's
    /// anchor when its period is unchanged.
    pub fn definition(
        form: &ScheduleForm,
        current: Option<&ScheduleDef>,
    ) -> Result<ScheduleDef, FieldError> {
        let payload = match form.payload.trim() {
            "" => serde_json::json!({}),
            text => serde_json::from_str(text)
                .map_err(|err| wrong("payload", format!("payload: not JSON ({err})")))?,
        };
        let spec = match form.kind.as_str() {
            "cron" => SpecDef::Cron {
                expr: form.cron.trim().to_owned(),
                timezone: match form.timezone.trim() {
                    "" => "UTC".to_owned(),
                    zone => zone.to_owned(),
                },
            },
            "interval" => {
                let every_ms = duration_ms(&form.every, "every", "every")?
                    .ok_or_else(|| wrong("every", "every: give a period, e.g. 5m".to_owned()))?;
                let start_at = match current.map(|c| &c.spec) {
                    Some(SpecDef::Interval {
                        every_ms: before,
                        start_at,
                    }) if *before == every_ms => *start_at,
                    _ => None,
                };
                SpecDef::Interval { every_ms, start_at }
            }
            other => {
                return Err(wrong(
                    "kind",
                    format!("when: {other:?} is not cron or interval"),
                ));
            }
        };
        let overlap = match form.overlap.as_str() {
            "" | "allow" => Overlap::Allow,
            "skip-if-unfinished" => Overlap::SkipIfUnfinished,
            "threshold" => Overlap::Threshold(
                number(&form.threshold, "threshold", "threshold")?.ok_or_else(|| {
                    wrong(
                        "threshold",
                        "threshold: give the most pending jobs to allow".to_owned(),
                    )
                })?,
            ),
            other => {
                return Err(wrong(
                    "overlap",
                    format!("overlap: {other:?} is not allow, skip-if-unfinished or threshold"),
                ));
            }
        };
        let misfire = match form.misfire.as_str() {
            "" => Misfire::FireOnce,
            text => text
                .parse::<Misfire>()
                .map_err(|err| wrong("misfire", err.to_string()))?,
        };
        Ok(ScheduleDef {
            name: form.name.trim().to_owned(),
            queue: form.queue.trim().to_owned(),
            job_type: form.job_type.trim().to_owned(),
            payload,
            spec,
            overlap,
            misfire,
            enabled: form.enabled.is_some(),
            priority: number(&form.priority, "priority", "priority")?.unwrap_or(0),
            max_attempts: number(&form.max_attempts, "max_attempts", "attempts")?,
            max_time_ms: duration_ms(&form.max_time, "max_time", "time limit")?,
        })
    }

    /// An engine error about a definition, with the form field it is about.
    pub fn field_error(error: &amboy::Error) -> FieldError {
        let field = match error {
            amboy::Error::InvalidInput { field, .. } => match *field {
                "cron" => Some("cron"),
                "timezone" | "zone" => Some("timezone"),
                "interval" | "every_ms" => Some("every"),
                "name" => Some("name"),
                "queue" => Some("queue"),
                "priority" => Some("priority"),
                "max_attempts" => Some("max_attempts"),
                "max_time_ms" => Some("max_time"),
                "overlap" => Some("threshold"),
                _ => None,
            },
            amboy::Error::InvalidQueueName { .. } => Some("queue"),
            amboy::Error::UnknownJobType { .. } => Some("job_type"),
            amboy::Error::InvalidPayload { .. } => Some("payload"),
            _ => None,
        };
        FieldError {
            field: field.map(str::to_owned),
            message: error.to_string(),
        }
    }

    /// The form for a stored definition.
    pub fn form_of(def: &ScheduleDef) -> ScheduleForm {
        let (kind, cron, timezone, every) = match &def.spec {
            SpecDef::Cron { expr, timezone } => {
                ("cron", expr.clone(), timezone.clone(), String::new())
            }
            SpecDef::Interval { every_ms, .. } => (
                "interval",
                String::new(),
                "UTC".to_owned(),
                format_duration_ms(*every_ms),
            ),
        };
        let (overlap, threshold) = match def.overlap {
            Overlap::Allow => ("allow", String::new()),
            Overlap::SkipIfUnfinished => ("skip-if-unfinished", String::new()),
            Overlap::Threshold(n) => ("threshold", n.to_string()),
        };
        ScheduleForm {
            name: def.name.clone(),
            queue: def.queue.clone(),
            job_type: def.job_type.clone(),
            payload: serde_json::to_string_pretty(&def.payload).unwrap_or_default(),
            kind: kind.to_owned(),
            cron,
            timezone,
            every,
            overlap: overlap.to_owned(),
            threshold,
            misfire: def.misfire.as_str().to_owned(),
            priority: def.priority.to_string(),
            max_attempts: def.max_attempts.map(|n| n.to_string()).unwrap_or_default(),
            max_time: def.max_time_ms.map(format_duration_ms).unwrap_or_default(),
            enabled: def.enabled.then(|| "on".to_owned()),
        }
    }

    pub fn row(record: ScheduleRecord) -> ScheduleRow {
        ScheduleRow {
            when: record.def.spec.to_string(),
            name: record.def.name,
            queue: record.def.queue,
            job_type: record.def.job_type,
            enabled: record.def.enabled,
            next_fire: record.next_fire_at.map(when),
            last_fire: record.last_fire_at.map(when),
            last_result: record.last_result,
            last_job_id: record.last_job_id,
            fires: record.fires,
            skips: record.skips,
        }
    }
}

/// Every schedule.
#[server(prefix = "/fn", endpoint = "schedule_list")]
pub async fn schedule_list() -> Result<Vec<ScheduleRow>, ServerFnError> {
    use crate::backend::{engine, shown};
    let schedules = engine()?.schedules().await.map_err(shown)?;
    Ok(schedules.into_iter().map(server::row).collect())
}

/// One schedule for its page.
#[server(prefix = "/fn", endpoint = "schedule_view")]
pub async fn read_schedule(name: String) -> Result<ScheduleView, ServerFnError> {
    use crate::backend::{engine, shown, when};
    let detail = engine()?.schedule(&name).await.map_err(shown)?;
    Ok(ScheduleView {
        form: server::form_of(&detail.schedule.def),
        row: server::row(detail.schedule),
        events: detail
            .events
            .into_iter()
            .map(|e| (when(e.fire_at), e.result, e.detail))
            .collect(),
    })
}

/// Checks the form as it is typed: the next fires, or the first thing
/// wrong (changes nothing).
#[server(prefix = "/fn", endpoint = "schedule_preview", input = leptos::server_fn::codec::Json)]
pub async fn preview_schedule(form: ScheduleForm) -> Result<Preview, ServerFnError> {
    let engine = crate::backend::engine()?;
    // What is not filled in yet does not stop the preview (saving checks it).
    let or = |text: &str, stand_in: &str| match text.trim() {
        "" => stand_in.to_owned(),
        _ => text.to_owned(),
    };
    let form = ScheduleForm {
        name: or(&form.name, "unnamed"),
        queue: or(&form.queue, "default"),
        job_type: or(&form.job_type, "noop"),
        ..form
    };
    let checked = server::definition(&form, None).and_then(|def| {
        let zone = def.spec.timezone().to_owned();
        engine
            .preview_schedule(&def, PREVIEW)
            .map(|fires| (zone, fires))
            .map_err(|err| server::field_error(&err))
    });
    Ok(match checked {
        Ok((zone, fires)) => Preview {
            fires: fires
                .iter()
                .map(|at| at.format("%a %Y-%m-%d %H:%M:%S (UTC%:z)").to_string())
                .collect(),
            zone,
            error: None,
        },
        Err(error) => Preview {
            fires: Vec::new(),
            zone: String::new(),
            error: Some(error),
        },
    })
}

/// Creates a schedule (`original` blank) or replaces the one named
/// `original` (which must keep its name). Operators only. Returns its name.
#[server(prefix = "/fn/op", endpoint = "schedule_save")]
pub async fn save_schedule(original: String, form: ScheduleForm) -> Result<String, ServerFnError> {
    use crate::backend::{bad_field, engine, shown};
    let engine = engine()?;
    let current = if original.is_empty() {
        None
    } else {
        Some(
            engine
                .schedule(&original)
                .await
                .map_err(shown)?
                .schedule
                .def,
        )
    };
    let def = server::definition(&form, current.as_ref()).map_err(|e| bad_field(e.message))?;
    let saved = match current {
        None => engine.add_schedule(def).await,
        Some(current) if current.name != def.name => {
            return Err(bad_field(format!(
                "name: a schedule keeps its name ({:?}); create a new one instead",
                current.name
            )));
        }
        Some(_) => engine.edit_schedule(def).await,
    };
    Ok(saved.map_err(shown)?.def.name)
}

/// Enables, disables, runs now or deletes a schedule; says what happened.
/// Operators only.
#[server(prefix = "/fn/op", endpoint = "schedule_op")]
pub async fn schedule_op(name: String, op: String) -> Result<ActionDone, ServerFnError> {
    use crate::backend::{bad_field, engine, shown};
    let engine = engine()?;
    let done = |message: String| ActionDone {
        message,
        deleted: op == "delete",
    };
    match op.as_str() {
        "enable" | "disable" => {
            engine
                .set_schedule_enabled(&name, op == "enable")
                .await
                .map_err(shown)?;
            let message = if op == "enable" {
                "Enabled."
            } else {
                "Disabled."
            };
            Ok(done(message.to_owned()))
        }
        "run" => {
            let id = engine.run_schedule(&name).await.map_err(shown)?;
            Ok(done(format!("Put job {id}.")))
        }
        "delete" => {
            engine.delete_schedule(&name).await.map_err(shown)?;
            Ok(done("Deleted.".to_owned()))
        }
        other => Err(bad_field(format!(
            "op: {other:?} is not one of enable, disable, run, delete"
        ))),
    }
}

/// What the latest enable, disable, run or delete did.
fn op_result(op: ServerAction<ScheduleOp>) -> impl Fn() -> Option<AnyView> + Copy {
    move || {
        op.value().get().map(|result| match result {
            Ok(done) => view! { <p class="status ok" role="status" data-testid="schedule-result">{done.message}</p> }.into_any(),
            Err(e) => view! { <p class="status error" role="alert" data-testid="schedule-result">{e.to_string()}</p> }.into_any(),
        })
    }
}

/// The schedules page.
#[component]
pub fn Schedules() -> impl IntoView {
    let op = ServerAction::<ScheduleOp>::new();
    let list = Resource::new(move || op.version().get(), |_| schedule_list());
    let may_change = may_change();
    view! {
        <section class="schedules">
            <header class="page-header">
                <h1>"Schedules"</h1>
                <p class="hint">"Recurring jobs: cron expressions in a time zone, or fixed intervals."</p>
                <Transition fallback=|| ()>
                    {move || {
                        may_change
                            .get()
                            .then(|| {
                                view! {
                                    <A href="/schedules/new" attr:class="button" attr:data-testid="new-schedule">
                                        "New schedule"
                                    </A>
                                }
                            })
                    }}
                </Transition>
            </header>
            {op_result(op)}
            <Transition fallback=|| view! { <p class="status">"Loading schedules…"</p> }>
                {move || {
                    list.get()
                        .map(|result| match result {
                            Ok(rows) if rows.is_empty() => {
                                view! {
                                    <div class="empty" data-testid="no-schedules">
                                        <p class="empty-title">"No schedules yet."</p>
                                        <p>"A schedule puts a job on a cron expression or an interval."</p>
                                    </div>
                                }
                                    .into_any()
                            }
                            Ok(rows) => view! { <ScheduleTable rows op may_change /> }.into_any(),
                            Err(error) => {
                                view! { <p class="status error" role="alert">{error.to_string()}</p> }.into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

/// One schedule's operator buttons: enable/disable, run now, delete.
#[component]
fn ScheduleControls(name: String, enabled: bool, op: ServerAction<ScheduleOp>) -> impl IntoView {
    let button = |verb: &'static str, label: &'static str, class: &'static str| {
        let name = name.clone();
        view! {
            <ActionForm action=op attr:class="inline-form">
                <input type="hidden" name="name" value=name />
                <input type="hidden" name="op" value=verb />
                <button type="submit" class=class data-testid=format!("schedule-{verb}")>
                    {label}
                </button>
            </ActionForm>
        }
    };
    view! {
        <div class="row-actions">
            {if enabled {
                button("disable", "Disable", "secondary")
            } else {
                button("enable", "Enable", "secondary")
            }}
            {button("run", "Run now", "secondary")}
            {button("delete", "Delete", "secondary danger-text")}
        </div>
    }
}

#[component]
fn ScheduleTable(
    rows: Vec<ScheduleRow>,
    op: ServerAction<ScheduleOp>,
    may_change: Signal<bool>,
) -> impl IntoView {
    let rows = rows
        .into_iter()
        .map(|row| {
            let href = format!("/schedules/{}", encode(&row.name));
            let status = if row.enabled { "enabled" } else { "disabled" };
            let last = match (&row.last_fire, &row.last_result) {
                (Some(at), Some(result)) => format!("{at} · {result}"),
                (Some(at), None) => at.clone(),
                _ => "never".to_owned(),
            };
            let controls = {
                let name = row.name.clone();
                let enabled = row.enabled;
                move || {
                    let name = name.clone();
                    may_change
                        .get()
                        .then(move || view! { <td><ScheduleControls name enabled op /></td> })
                }
            };
            let label = row.name.clone();
            view! {
                <tr data-schedule=row.name.clone()>
                    <th scope="row" class="queue-name">
                        <A href=href>{label}</A>
                    </th>
                    <td>{row.when.clone()}</td>
                    <td>{row.queue.clone()}</td>
                    <td>{row.job_type.clone()}</td>
                    <td>
                        <span class=format!("badge {status}")>{status}</span>
                    </td>
                    <td class="when">{row.next_fire.clone().unwrap_or_else(|| "—".to_owned())}</td>
                    <td class="when" data-testid="last-fire">{last}</td>
                    <td class="num">{row.fires}</td>
                    {controls}
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-scroll">
            <table class="report" data-testid="schedule-list">
                <thead>
                    <tr>
                        <th scope="col">"schedule"</th>
                        <th scope="col">"fires"</th>
                        <th scope="col">"queue"</th>
                        <th scope="col">"type"</th>
                        <th scope="col">"status"</th>
                        <th scope="col">"next (UTC)"</th>
                        <th scope="col">"last (UTC) · result"</th>
                        <th scope="col" class="num">"jobs"</th>
                        {move || may_change.get().then(|| view! { <th scope="col"><span class="sr-only">"actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// `/schedules/new` and `/schedules/:name`.
#[component]
pub fn SchedulePage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let op = ServerAction::<ScheduleOp>::new();
    let save = ServerAction::<SaveSchedule>::new();
    let schedule = Resource::new(
        move || (name.get(), op.version().get(), save.version().get()),
        |(name, _, _)| async move {
            if name == "new" {
                Ok(None)
            } else {
                read_schedule(name).await.map(Some)
            }
        },
    );
    // Saved under a new name, or deleted: to its page, or back to the list.
    crate::when_live(move || {
        if let Some(Ok(saved)) = save.value().get()
            && saved != name.get_untracked()
        {
            use_navigate()(
                &format!("/schedules/{}", encode(&saved)),
                Default::default(),
            );
        }
    });
    crate::when_live(move || {
        if op
            .value()
            .get()
            .is_some_and(|r| r.is_ok_and(|done| done.deleted))
        {
            use_navigate()("/schedules", Default::default());
        }
    });
    let may_change = may_change();
    view! {
        <section class="schedule-detail">
            <p class="crumbs">
                <A href="/schedules">"Schedules"</A>
                " / "
            </p>
            <Transition fallback=|| view! { <p class="status">"Loading the schedule…"</p> }>
                {move || {
                    schedule
                        .get()
                        .map(|result| match result {
                            Ok(None) => view! {
                                <header class="page-header"><h1>"New schedule"</h1></header>
                                <ScheduleEditor original=String::new() form=ScheduleForm::default() save />
                            }
                                .into_any(),
                            Ok(Some(schedule)) => view! { <ScheduleDetail schedule op save may_change /> }.into_any(),
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
fn ScheduleDetail(
    schedule: ScheduleView,
    op: ServerAction<ScheduleOp>,
    save: ServerAction<SaveSchedule>,
    may_change: Signal<bool>,
) -> impl IntoView {
    let ScheduleView { row, form, events } = schedule;
    let status = if row.enabled { "enabled" } else { "disabled" };
    let controls = {
        let name = row.name.clone();
        let enabled = row.enabled;
        move || {
            let name = name.clone();
            may_change
                .get()
                .then(move || view! { <ScheduleControls name enabled op /> })
        }
    };
    let result = op_result(op);
    let last_job = row.last_job_id.clone().map(|id| {
        let href = format!("/jobs/{}", encode(&id));
        view! { <dt>"Last job"</dt><dd class="id"><A href=href>{id}</A></dd> }
    });
    let events = (!events.is_empty()).then(|| {
        let items = events
            .into_iter()
            .map(|(at, result, detail)| view! { <li><span class="when">{at}</span>" "<strong>{result}</strong>" "{detail}</li> })
            .collect_view();
        view! {
            <h2>"Recent skips and duplicates"</h2>
            <ul class="events">{items}</ul>
        }
    });
    let editor = {
        let original = row.name.clone();
        move || {
            let original = original.clone();
            let form = form.clone();
            may_change.get().then(move || {
                view! {
                    <h2>"Edit"</h2>
                    <ScheduleEditor original form save />
                }
            })
        }
    };
    view! {
        <header class="page-header">
            <h1 class="queue-title">{row.name.clone()}</h1>
            <span class=format!("badge {status}") data-testid="schedule-status">{status}</span>
            {controls}
        </header>
        {result}
        <dl class="settings" data-testid="schedule-facts">
            <dt>"Fires"</dt>
            <dd>{row.when.clone()}</dd>
            <dt>"Puts"</dt>
            <dd>{format!("{} jobs into {}", row.job_type, row.queue)}</dd>
            <dt>"Next fire"</dt>
            <dd class="when">{row.next_fire.clone().map_or_else(|| "— (disabled)".to_owned(), |t| format!("{t} UTC"))}</dd>
            <dt>"Last fire"</dt>
            <dd class="when">{row.last_fire.clone().map_or_else(|| "never".to_owned(), |t| format!("{t} UTC"))}</dd>
            <dt>"Result"</dt>
            <dd>{row.last_result.clone().unwrap_or_else(|| "—".to_owned())}</dd>
            {last_job}
            <dt>"Jobs put / skipped"</dt>
            <dd>{format!("{} / {}", row.fires, row.skips)}</dd>
        </dl>
        {events}
        {editor}
    }
}

/// The create/edit form, checked as it is typed.
#[component]
fn ScheduleEditor(
    original: String,
    form: ScheduleForm,
    save: ServerAction<SaveSchedule>,
) -> impl IntoView {
    let creating = original.is_empty();
    let form_ref = NodeRef::<leptos::html::Form>::new();
    let typed = RwSignal::new(None::<ScheduleForm>);
    let kind = RwSignal::new(if form.kind.is_empty() {
        "cron".to_owned()
    } else {
        form.kind.clone()
    });
    let overlap = RwSignal::new(if form.overlap.is_empty() {
        "allow".to_owned()
    } else {
        form.overlap.clone()
    });
    let preview = Resource::new(
        move || typed.get(),
        |typed| async move {
            match typed {
                Some(form) => preview_schedule(form).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let read_form = move || {
        #[cfg(target_arch = "wasm32")]
        if let Some(element) = form_ref.get_untracked() {
            use leptos::form::FromFormData as _;
            if let Ok(data) = web_sys::FormData::new_with_form(&element)
                && let Ok(save) = SaveSchedule::from_form_data(&data)
            {
                typed.set(Some(save.form));
            }
        }
    };
    // The stored form is checked once when the page goes live, so the
    // preview shows before anything is typed.
    crate::when_live(read_form);
    // The field the check found wrong, marked on its input.
    let wrong_field = Memo::new(move |_| {
        preview
            .get()
            .and_then(Result::ok)
            .flatten()
            .and_then(|p| p.error)
            .and_then(|e| e.field)
    });
    let invalid = move |field: &'static str| {
        move || (wrong_field.get().as_deref() == Some(field)).then_some("true")
    };
    let text = |value: &str| value.to_owned();
    view! {
        <div class="schedule-editor">
            <ActionForm action=save node_ref=form_ref attr:class="settings-form schedule-form" on:input=move |_| read_form() on:change=move |_| read_form()>
                <input type="hidden" name="original" value=original.clone() />
                <label for="s-name">"Name"</label>
                <input id="s-name" name="form[name]" value=text(&form.name) required readonly=!creating aria-invalid=invalid("name") />
                <label for="s-queue">"Queue"</label>
                <input id="s-queue" name="form[queue]" value=text(&form.queue) required aria-invalid=invalid("queue") />
                <label for="s-type">"Job type"</label>
                <input id="s-type" name="form[job_type]" value=text(&form.job_type) placeholder="noop, sleep, http, shell…" required aria-invalid=invalid("job_type") />
                <label for="s-payload">"Payload (JSON; strings may hold {{fire_time}} and {{schedule}})"</label>
                <textarea id="s-payload" name="form[payload]" rows="4" aria-invalid=invalid("payload")>{text(&form.payload)}</textarea>
                <fieldset class="choice">
                    <legend>"Fires"</legend>
                    <label><input type="radio" name="form[kind]" value="cron" prop:checked=move || kind.get() == "cron" on:change=move |_| kind.set("cron".to_owned()) />" on a cron expression"</label>
                    <label><input type="radio" name="form[kind]" value="interval" prop:checked=move || kind.get() == "interval" on:change=move |_| kind.set("interval".to_owned()) />" every interval"</label>
                </fieldset>
                <div class="when-cron" class:hidden=move || kind.get() != "cron">
                    <label for="s-cron">"Cron expression (minute hour day-of-month month day-of-week)"</label>
                    <input id="s-cron" name="form[cron]" value=text(&form.cron) placeholder="30 2 * * *" aria-invalid=invalid("cron") />
                    <label for="s-zone">"Time zone"</label>
                    <input id="s-zone" name="form[timezone]" value=if form.timezone.is_empty() { "UTC".to_owned() } else { form.timezone.clone() } placeholder="Europe/Berlin" aria-invalid=invalid("timezone") />
                </div>
                <div class="when-interval" class:hidden=move || kind.get() != "interval">
                    <label for="s-every">"Every (e.g. 30s, 5m, 1h)"</label>
                    <input id="s-every" name="form[every]" value=text(&form.every) placeholder="5m" aria-invalid=invalid("every") />
                </div>
                <label for="s-overlap">"While the previous job is not done"</label>
                <select id="s-overlap" name="form[overlap]" on:change=move |ev| overlap.set(event_target_value(&ev))>
                    <option value="allow" selected=form.overlap.is_empty() || form.overlap == "allow">"fire anyway"</option>
                    <option value="skip-if-unfinished" selected=form.overlap == "skip-if-unfinished">"skip the fire"</option>
                    <option value="threshold" selected=form.overlap == "threshold">"skip when the queue has too many pending"</option>
                </select>
                <div class:hidden=move || overlap.get() != "threshold">
                    <label for="s-threshold">"Most pending jobs"</label>
                    <input id="s-threshold" name="form[threshold]" inputmode="numeric" value=text(&form.threshold) aria-invalid=invalid("threshold") />
                </div>
                <label for="s-misfire">"Fires missed while no scheduler ran"</label>
                <select id="s-misfire" name="form[misfire]">
                    <option value="fire-once" selected=form.misfire.is_empty() || form.misfire == "fire-once">"fire once"</option>
                    <option value="skip" selected=form.misfire == "skip">"skip them"</option>
                    <option value="fire-all" selected=form.misfire == "fire-all">"fire each"</option>
                </select>
                <label for="s-priority">"Priority"</label>
                <input id="s-priority" name="form[priority]" inputmode="numeric" value=if form.priority.is_empty() { "0".to_owned() } else { form.priority.clone() } aria-invalid=invalid("priority") />
                <label for="s-attempts">"Attempts (blank: the default)"</label>
                <input id="s-attempts" name="form[max_attempts]" inputmode="numeric" value=text(&form.max_attempts) aria-invalid=invalid("max_attempts") />
                <label for="s-max-time">"Time limit (blank: none)"</label>
                <input id="s-max-time" name="form[max_time]" value=text(&form.max_time) placeholder="10m" aria-invalid=invalid("max_time") />
                <label class="check">
                    <input type="checkbox" name="form[enabled]" checked=creating || form.enabled.is_some() />
                    " Enabled"
                </label>
                <button type="submit" data-testid="save-schedule">{if creating { "Create" } else { "Save" }}</button>
            </ActionForm>
            <aside class="preview" aria-live="polite" data-testid="schedule-preview">
                <h2>"Next fires"</h2>
                <Transition fallback=|| view! { <p class="hint">"Checking…"</p> }>
                    {move || {
                        preview
                            .get()
                            .map(|result| match result {
                                Ok(Some(Preview { error: Some(error), .. })) => view! {
                                    <p class="status error" role="alert" data-testid="preview-error">{error.message}</p>
                                }
                                    .into_any(),
                                Ok(Some(p)) => {
                                    let fires = p.fires.into_iter().map(|f| view! { <li>{f}</li> }).collect_view();
                                    view! {
                                        <p class="hint">{format!("In {}:", p.zone)}</p>
                                        <ol class="fires" data-testid="preview-fires">{fires}</ol>
                                    }
                                        .into_any()
                                }
                                Ok(None) => view! { <p class="hint">"Fill in the form to see when it fires."</p> }.into_any(),
                                Err(e) => view! { <p class="status error" role="alert">{e.to_string()}</p> }.into_any(),
                            })
                    }}
                </Transition>
            </aside>
        </div>
        {move || {
            save.value()
                .get()
                .map(|result| match result {
                    Ok(_) => view! { <p class="status ok" role="status" data-testid="save-result">"Saved."</p> }.into_any(),
                    Err(e) => view! { <p class="status error" role="alert" data-testid="save-result">{e.to_string()}</p> }.into_any(),
                })
        }}
    }
}
