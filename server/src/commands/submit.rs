//! `amboy submit`: put one job.

use std::time::Duration;

use amboy::NewJob;
use anyhow::Context as _;
use chrono::TimeDelta;

use crate::cli::SubmitArgs;
use crate::config::Config;

/// Runs the command: prints the new job's id (or the job as JSON).
pub async fn run(config: &Config, args: &SubmitArgs) -> anyhow::Result<()> {
    let job = new_job(args)?;
    let engine = super::engine(config).await?;
    let id = engine.put(job).await?;
    if args.json {
        let job = engine.get(&id).await?;
        println!("{}", serde_json::to_string_pretty(&job)?);
    } else {
        println!("{id}");
    }
    Ok(())
}

/// Turns the flags into a job, refusing what can't be used.
pub fn new_job(args: &SubmitArgs) -> anyhow::Result<NewJob> {
    let mut job = NewJob::from_json(&args.queue, &args.job_type, &args.payload);
    if let Some(id) = &args.id {
        job = job.id(id);
    }
    if let Some(delay) = &args.delay {
        let delay = parse_duration(delay).context("--delay")?;
        job = job.delay(TimeDelta::from_std(delay).context("--delay is too long")?);
    }
    if let Some(attempts) = args.max_attempts {
        job = job.max_attempts(attempts);
    }
    if let Some(priority) = args.priority {
        job = job.priority(priority);
    }
    if let Some(limit) = &args.max_time {
        job = job.max_time(parse_duration(limit).context("--max-time")?);
    }
    Ok(job)
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    if text.starts_with('-') {
        anyhow::bail!("{text:?} is negative; a duration must not be negative");
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a duration like 250ms, 30s, 5m, 2h or 1d"))?;
    let seconds = |factor: u64| {
        n.checked_mul(factor)
            .map(Duration::from_secs)
            .with_context(|| format!("{text:?} is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3_600),
        "d" => seconds(86_400),
        other => anyhow::bail!("{text:?}: unknown unit {other:?}; use ms, s, m, h or d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7_200));
        assert_eq!(parse_duration("12").unwrap(), Duration::from_secs(12));
        for (bad, why) in [
            ("-5s", "negative"),
            ("soon", "not a duration"),
            ("5y", "unknown unit"),
            ("", "not a duration"),
        ] {
            let err = format!("{:#}", parse_duration(bad).unwrap_err());
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
