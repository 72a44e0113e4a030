//! `amboy jobs list|show|retry|abort|complete|delete|wait`, over the API.

use amboy::{JobDetail, JobRecord, JobState};
use anyhow::Context as _;
use reqwest::Method;
use serde::Deserialize;

use super::submit::millis;
use crate::cli::{JobsArgs, JobsCommand, ListArgs, ShowArgs, WaitArgs};
use crate::client::{Client, encode};
use crate::config::Config;

/// A page of jobs, as the API answers.
#[derive(Debug, Deserialize, serde::Serialize)]
struct JobPage {
    jobs: Vec<JobRecord>,
    next: Option<String>,
}

/// An abort's answer.
#[derive(Debug, Deserialize, serde::Serialize)]
struct AbortResult {
    outcome: String,
    job: JobRecord,
}

/// Runs the command.
pub async fn run(config: &Config, args: &JobsArgs) -> anyhow::Result<()> {
    let client = super::client(config)?;
    match &args.command {
        JobsCommand::List(list) => run_list(&client, list).await,
        JobsCommand::Show(show) => {
            let detail: JobDetail = client.get(&format!("/jobs/{}", encode(&show.id))).await?;
            if show.json {
                super::print_json(&detail)
            } else {
                print!("{}", describe(&detail));
                Ok(())
            }
        }
        JobsCommand::Retry(job) => act(&client, job, "retry").await,
        JobsCommand::Complete(job) => act(&client, job, "complete").await,
        JobsCommand::Abort(job) => {
            let path = format!("/jobs/{}/abort", encode(&job.id));
            let result: AbortResult = client.call(Method::POST, &path, None::<&()>).await?;
            if job.json {
                return super::print_json(&result);
            }
            match result.outcome.as_str() {
                "requested" => println!("{}: asked its owner to stop it", job.id),
                _ => println!("{}: aborted", job.id),
            }
            Ok(())
        }
        JobsCommand::Delete(job) => {
            client
                .call_empty(Method::DELETE, &format!("/jobs/{}", encode(&job.id)))
                .await?;
            println!("deleted job {}", job.id);
            Ok(())
        }
        JobsCommand::Wait(wait) => run_wait(&client, wait).await,
    }
}

async fn act(client: &Client, job: &ShowArgs, action: &str) -> anyhow::Result<()> {
    let path = format!("/jobs/{}/{action}", encode(&job.id));
    let record: JobRecord = client.call(Method::POST, &path, None::<&()>).await?;
    if job.json {
        super::print_json(&record)
    } else {
        println!("{}: {}", record.id, record.state);
        Ok(())
    }
}

async fn run_wait(client: &Client, args: &WaitArgs) -> anyhow::Result<()> {
    let ms = millis(&args.timeout, "--timeout")?;
    let path = format!("/jobs/{}/wait?timeout_ms={ms}", encode(&args.id));
    let job: JobRecord = client.get(&path).await?;
    if args.json {
        super::print_json(&job)?;
    } else {
        println!("{}: {}", job.id, job.state);
    }
    if job.state != JobState::Completed {
        anyhow::bail!("job {} ended {}", job.id, job.state);
    }
    Ok(())
}

async fn run_list(client: &Client, args: &ListArgs) -> anyhow::Result<()> {
    let mut query = vec![format!("limit={}", args.limit)];
    let filters = [
        ("queue", &args.queue),
        ("state", &args.state),
        ("type", &args.job_type),
        ("id_prefix", &args.id_prefix),
        ("after", &args.after),
    ];
    for (key, value) in filters {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(value)));
        }
    }
    if args.newest_first {
        query.push("order=desc".to_owned());
    }
    if let Some(state) = &args.state {
        state.parse::<JobState>().context("--state")?;
    }
    let page: JobPage = client.get(&format!("/jobs?{}", query.join("&"))).await?;
    if args.json {
        return super::print_json(&page.jobs);
    }
    print!("{}", table(&page.jobs));
    if let Some(next) = page.next {
        let order = if args.newest_first {
            " --newest-first"
        } else {
            ""
        };
        println!("(more:{order} --after {next})");
    }
    Ok(())
}

/// Jobs as an aligned text table.
pub fn table(jobs: &[JobRecord]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                job.id.clone(),
                job.queue.clone(),
                job.job_type.clone(),
                job.state.to_string(),
                format!("{}/{}", job.attempt, job.max_attempts),
                job.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    super::table(
        &["ID", "QUEUE", "TYPE", "STATE", "ATTEMPT", "CREATED"],
        &rows,
    )
}

/// One job in detail, for people.
pub fn describe(detail: &JobDetail) -> String {
    let job = &detail.job;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    };
    let mut out = format!(
        "id:        {}\nqueue:     {}\ntype:      {} (v{})\nstate:     {}\nattempt:   {}/{}\n\
         priority:  {}\ncreated:   {}\nrun at:    {}\nstarted:   {}\nended:     {}\n\
         progress:  {}%{}\npayload:   {}\n",
        job.id,
        job.queue,
        job.job_type,
        job.type_version,
        job.state,
        job.attempt,
        job.max_attempts,
        job.priority,
        job.created_at.to_rfc3339(),
        job.run_at.to_rfc3339(),
        time(job.started_at),
        time(job.ended_at),
        job.progress,
        job.progress_message
            .as_deref()
            .map(|m| format!(" {m}"))
            .unwrap_or_default(),
        job.payload,
    );
    if let Some(owner) = &job.owner {
        out.push_str(&format!("owner:     {owner}\n"));
    }
    if !job.depends_on.is_empty() {
        out.push_str(&format!(
            "depends on: {} ({} waiting; on failure: {})\n",
            job.depends_on.join(", "),
            job.deps_left,
            job.on_dependency_failure
        ));
    }
    if job.dependency != amboy::Dependency::Always {
        let manager = serde_json::to_string(&job.dependency).unwrap_or_default();
        out.push_str(&format!("dependency: {manager}\n"));
    }
    if !job.scopes.is_empty() {
        out.push_str(&format!("scopes:    {}\n", job.scopes.join(", ")));
    }
    if !job.enqueue_scopes.is_empty() {
        out.push_str(&format!(
            "enqueue scopes: {}\n",
            job.enqueue_scopes.join(", ")
        ));
    }
    if !detail.attempts.is_empty() {
        out.push_str("attempts:\n");
        for a in &detail.attempts {
            out.push_str(&format!(
                "  #{} {} at {}{}\n",
                a.attempt,
                a.outcome,
                a.ended_at.to_rfc3339(),
                a.error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
    } else if let Some(error) = &job.last_error {
        out.push_str(&format!("error:     {error}\n"));
    }
    if !detail.logs.is_empty() {
        out.push_str("log:\n");
        for l in &detail.logs {
            out.push_str(&format!("  [{}] {}\n", l.at.format("%H:%M:%S%.3f"), l.line));
        }
    }
    out
}
