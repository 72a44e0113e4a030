//! `amboy report counts|errors`, over the API.

use amboy::{ErrorGroup, JobState, TimingReport, TypeCounts};

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
        ReportCommand::Timing(args) => {
            let window = millis(&args.window, "--window")?;
            let mut path = format!("/reports/timing?window_ms={window}");
            if let Some(queue) = &args.queue {
                path.push_str(&format!("&queue={}", encode(queue)));
            }
            let reports: Vec<TimingReport> = client.get(&path).await?;
            if args.json {
                return super::print_json(&reports);
            }
            let ms = |v: f64| format!("{v:.1}");
            let rows: Vec<Vec<String>> = reports
                .iter()
                .map(|r| {
                    let (l, d) = (&r.queue_latency, &r.run_duration);
                    vec![
                        r.job_type.clone(),
                        d.count.to_string(),
                        ms(l.p50_ms),
                        ms(l.p95_ms),
                        ms(l.p99_ms),
                        ms(d.p50_ms),
                        ms(d.p95_ms),
                        ms(d.p99_ms),
                    ]
                })
                .collect();
            print!(
                "{}",
                super::table(
                    &[
                        "TYPE", "RUNS", "WAIT P50", "WAIT P95", "WAIT P99", "RUN P50", "RUN P95",
                        "RUN P99",
                    ],
                    &rows
                )
            );
            println!("(milliseconds; percentiles from √2 histogram buckets)");
        }
    }
    Ok(())
}
