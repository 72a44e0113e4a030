//! `amboy schedules list|show|add|edit|enable|disable|delete|run|next`,
//! over the API.

use amboy::{Misfire, Overlap, ScheduleDef, ScheduleDetail, ScheduleRecord, SpecDef};
use anyhow::Context as _;
use chrono::{DateTime, FixedOffset, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::submit::millis;
use crate::cli::{NamedArgs, NextArgs, ScheduleArgs, SchedulesArgs, SchedulesCommand};
use crate::client::{Client, encode};
use crate::config::Config;

#[derive(Deserialize)]
struct Fires {
    fires: Vec<DateTime<FixedOffset>>,
}

#[derive(Deserialize)]
struct RunResult {
    id: String,
}

fn path(name: &str, rest: &str) -> String {
    format!("/schedules/{}{rest}", encode(name))
}

/// Runs the command.
pub async fn run(config: &Config, args: &SchedulesArgs) -> anyhow::Result<()> {
    let client = super::client(config)?;
    match &args.command {
        SchedulesCommand::List(args) => {
            let schedules: Vec<ScheduleRecord> = client.get("/schedules").await?;
            if args.json {
                super::print_json(&schedules)?;
            } else {
                print!("{}", table(&schedules));
            }
        }
        SchedulesCommand::Show(args) => {
            let detail: ScheduleDetail = client.get(&path(&args.name, "")).await?;
            if args.json {
                super::print_json(&detail)?;
            } else {
                print!("{}", describe(&detail));
            }
        }
        SchedulesCommand::Add(args) => {
            let def = definition(args, None)?;
            let record = client.call(Method::POST, "/schedules", Some(&def)).await?;
            print_record(&record, args.json)?;
        }
        SchedulesCommand::Edit(args) => {
            let current: ScheduleDetail = client.get(&path(&args.name, "")).await?;
            let def = definition(args, Some(current.schedule.def))?;
            let record = client
                .call(Method::PATCH, &path(&args.name, ""), Some(&def))
                .await?;
            print_record(&record, args.json)?;
        }
        SchedulesCommand::Enable(args) => switch(&client, args, "enable").await?,
        SchedulesCommand::Disable(args) => switch(&client, args, "disable").await?,
        SchedulesCommand::Delete(args) => {
            client
                .call_empty(Method::DELETE, &path(&args.name, ""))
                .await?;
            println!("deleted schedule {}", args.name);
        }
        SchedulesCommand::Run(args) => {
            let run: RunResult = client
                .call(Method::POST, &path(&args.name, "/run"), None::<&()>)
                .await?;
            println!("{}", run.id);
        }
        SchedulesCommand::Next(args) => next(&client, args).await?,
    }
    Ok(())
}

async fn switch(client: &Client, args: &NamedArgs, verb: &str) -> anyhow::Result<()> {
    let record = client
        .call(
            Method::POST,
            &path(&args.name, &format!("/{verb}")),
            None::<&()>,
        )
        .await?;
    print_record(&record, args.json)
}

async fn next(client: &Client, args: &NextArgs) -> anyhow::Result<()> {
    let fires: Fires = client
        .get(&path(&args.name, &format!("/next?count={}", args.count)))
        .await?;
    let texts: Vec<String> = fires.fires.iter().map(DateTime::to_rfc3339).collect();
    if args.json {
        super::print_json(&texts)
    } else {
        for text in texts {
            println!("{text}");
        }
        Ok(())
    }
}

fn print_record(record: &ScheduleRecord, json: bool) -> anyhow::Result<()> {
    if json {
        super::print_json(record)
    } else {
        print!("{}", table(std::slice::from_ref(record)));
        Ok(())
    }
}

/// The definition the flags describe: from scratch for `add`, over
/// `current` for `edit`.
fn definition(args: &ScheduleArgs, current: Option<ScheduleDef>) -> anyhow::Result<ScheduleDef> {
    let spec = match (&args.cron, &args.every, &current) {
        (Some(expr), _, _) => SpecDef::Cron {
            expr: expr.clone(),
            timezone: args
                .timezone
                .clone()
                .or_else(|| match &current {
                    Some(ScheduleDef {
                        spec: SpecDef::Cron { timezone, .. },
                        ..
                    }) => Some(timezone.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "UTC".to_owned()),
        },
        (None, Some(every), _) => SpecDef::Interval {
            every_ms: millis(every, "--every")?,
            start_at: args
                .start
                .as_deref()
                .map(|text| {
                    text.parse::<DateTime<Utc>>().with_context(|| {
                        format!(
                            "--start {text:?} is not an RFC 3339 time like 2026-12-01T09:00:00Z"
                        )
                    })
                })
                .transpose()?,
        },
        (None, None, Some(current)) => match (&current.spec, &args.timezone) {
            (SpecDef::Cron { expr, .. }, Some(zone)) => SpecDef::Cron {
                expr: expr.clone(),
                timezone: zone.clone(),
            },
            (spec, _) => spec.clone(),
        },
        (None, None, None) => anyhow::bail!("give --cron EXPR or --every DURATION"),
    };
    let required = |value: &Option<String>, flag: &str, current: Option<&String>| {
        value
            .clone()
            .or_else(|| current.cloned())
            .with_context(|| format!("{flag} is required"))
    };
    let payload = match (&args.payload, &current) {
        (Some(text), _) => {
            serde_json::from_str(text).with_context(|| format!("--payload is not JSON: {text}"))?
        }
        (None, Some(current)) => current.payload.clone(),
        (None, None) => serde_json::json!({}),
    };
    let overlap = match (&args.overlap, &current) {
        (Some(text), _) => parse_overlap(text)?,
        (None, Some(current)) => current.overlap,
        (None, None) => Overlap::Allow,
    };
    let misfire = match (&args.misfire, &current) {
        (Some(text), _) => text.parse::<Misfire>().context("--misfire")?,
        (None, Some(current)) => current.misfire,
        (None, None) => Misfire::FireOnce,
    };
    let max_time_ms = match (&args.max_time, &current) {
        (Some(text), _) => Some(millis(text, "--max-time")?),
        (None, current) => current.as_ref().and_then(|c| c.max_time_ms),
    };
    Ok(ScheduleDef {
        name: args.name.clone(),
        queue: required(&args.queue, "--queue", current.as_ref().map(|c| &c.queue))?,
        job_type: required(
            &args.job_type,
            "--type",
            current.as_ref().map(|c| &c.job_type),
        )?,
        payload,
        spec,
        overlap,
        misfire,
        enabled: match &current {
            Some(current) => current.enabled && !args.disabled,
            None => !args.disabled,
        },
        priority: args
            .priority
            .or(current.as_ref().map(|c| c.priority))
            .unwrap_or(0),
        max_attempts: args
            .max_attempts
            .or(current.as_ref().and_then(|c| c.max_attempts)),
        max_time_ms,
    })
}

/// `allow`, `skip-if-unfinished` or `threshold:N`.
fn parse_overlap(text: &str) -> anyhow::Result<Overlap> {
    match text {
        "allow" => Ok(Overlap::Allow),
        "skip-if-unfinished" => Ok(Overlap::SkipIfUnfinished),
        _ => match text.strip_prefix("threshold:").map(str::parse::<i64>) {
            Some(Ok(n)) => Ok(Overlap::Threshold(n)),
            _ => anyhow::bail!(
                "--overlap {text:?} is not allow, skip-if-unfinished or threshold:N (N pending jobs)"
            ),
        },
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

/// Schedules as an aligned text table.
fn table(schedules: &[ScheduleRecord]) -> String {
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|s| {
            vec![
                s.def.name.clone(),
                s.def.queue.clone(),
                s.def.job_type.clone(),
                s.def.spec.to_string(),
                if s.def.enabled { "yes" } else { "no" }.to_owned(),
                time(s.next_fire_at),
                time(s.last_fire_at),
                s.last_result.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    super::table(
        &[
            "NAME",
            "QUEUE",
            "TYPE",
            "SPEC",
            "ENABLED",
            "NEXT (UTC)",
            "LAST (UTC)",
            "RESULT",
        ],
        &rows,
    )
}

/// One schedule in detail, for people.
fn describe(detail: &ScheduleDetail) -> String {
    let s = &detail.schedule;
    let overlap = match s.def.overlap {
        Overlap::Allow => "allow".to_owned(),
        Overlap::SkipIfUnfinished => "skip-if-unfinished".to_owned(),
        Overlap::Threshold(n) => format!("threshold:{n}"),
    };
    let mut out = format!(
        "name:      {}\nqueue:     {}\ntype:      {}\npayload:   {}\nspec:      {}\n\
         overlap:   {overlap}\nmisfire:   {}\nenabled:   {}\npriority:  {}\n\
         next fire: {}\nlast fire: {}\nresult:    {}\nlast job:  {}\n\
         fired {} · skipped {} · duplicates {}\n",
        s.def.name,
        s.def.queue,
        s.def.job_type,
        s.def.payload,
        s.def.spec,
        s.def.misfire.as_str(),
        s.def.enabled,
        s.def.priority,
        time(s.next_fire_at),
        time(s.last_fire_at),
        s.last_result.as_deref().unwrap_or("-"),
        s.last_job_id.as_deref().unwrap_or("-"),
        s.fires,
        s.skips,
        s.duplicates,
    );
    if !detail.events.is_empty() {
        out.push_str("recent skips and duplicates:\n");
        for e in &detail.events {
            out.push_str(&format!(
                "  {} {}: {}\n",
                e.fire_at.format("%Y-%m-%d %H:%M:%S"),
                e.result,
                e.detail
            ));
        }
    }
    out
}
