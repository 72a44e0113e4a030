//! `amboy report counts|errors`, over the API.

use amboy::{ErrorGroup, JobState, TypeCounts};

use super::submit::millis;
use crate::cli::{ReportArgs, ReportCommand};
use crate::client::encode;
use crate::config::Config;

/// Runs the command.
pub async fn run(config: &Config, args: &ReportArgs) -> anyhow::Result<()> {
    let client = super::client(config)?;
    match &args.command {
        ReportCommand::Counts(args) => {
            let path = match &args.queue {
                Some(queue) => format!("/reports/counts?queue={}", encode(queue)),
                None => "/reports/counts".to_owned(),
            };
            let counts: Vec<TypeCounts> = client.get(&path).await?;
            if args.json {
                return super::print_json(&counts);
            }
            let rows: Vec<Vec<String>> = counts
                .iter()
                .map(|c| {
                    let mut row = vec![c.queue.clone(), c.job_type.clone()];
                    row.extend(JobState::ALL.iter().map(|s| c.counts[s].to_string()));
                    row
                })
                .collect();
            let mut header = vec!["QUEUE", "TYPE"];
            let states: Vec<String> = JobState::ALL
                .iter()
                .map(|s| s.as_str().to_uppercase())
                .collect();
            header.extend(states.iter().map(String::as_str));
            print!("{}", super::table(&header, &rows));
        }
        ReportCommand::Errors(args) => {
            let window = millis(&args.window, "--window")?;
            let path = format!("/reports/errors?window_ms={window}&limit={}", args.limit);
            let groups: Vec<ErrorGroup> = client.get(&path).await?;
            if args.json {
                return super::print_json(&groups);
            }
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|g| {
                    vec![
                        g.count.to_string(),
                        g.job_type.clone(),
                        g.last_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        g.example_job_id.clone(),
                        g.error.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                super::table(
                    &["COUNT", "TYPE", "LAST (UTC)", "EXAMPLE JOB", "ERROR"],
                    &rows
                )
            );
        }
    }
    Ok(())
}
