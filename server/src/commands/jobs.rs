//! `amboy jobs list|show`.

use amboy::{JobDetail, JobFilter, JobRecord, JobState};
use anyhow::Context as _;

use crate::cli::{JobsArgs, JobsCommand, ListArgs, ShowArgs};
use crate::config::Config;

/// Runs the command.
pub async fn run(config: &Config, args: &JobsArgs) -> anyhow::Result<()> {
    match &args.command {
        JobsCommand::List(list) => run_list(config, list).await,
        JobsCommand::Show(show) => run_show(config, show).await,
    }
}

async fn run_list(config: &Config, args: &ListArgs) -> anyhow::Result<()> {
    let state = args
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .context("--state")?;
    let filter = JobFilter {
        queue: args.queue.clone(),
        state,
        job_type: args.job_type.clone(),
        id_prefix: args.id_prefix.clone(),
        after: args.after.clone(),
        limit: args.limit,
    };
    let engine = super::engine(config).await?;
    let jobs = engine.list(&filter).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&jobs)?);
    } else {
        print!("{}", table(&jobs));
        if jobs.len() == filter.limit as usize
            && let Some(last) = jobs.last()
        {
            println!("(more: --after {})", last.id);
        }
    }
    Ok(())
}

async fn run_show(config: &Config, args: &ShowArgs) -> anyhow::Result<()> {
    let engine = super::engine(config).await?;
    let detail = engine.detail(&args.id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&detail)?);
    } else {
        print!("{}", describe(&detail));
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
