//! `amboy submit`: put one job through the API.

use std::time::Duration;

use amboy::JobRecord;
use anyhow::Context as _;
use reqwest::Method;
use serde_json::{Value, json};

use crate::cli::SubmitArgs;
use crate::config::Config;

/// Runs the command: prints the new job's id (or the job as JSON).
pub async fn run(config: &Config, args: &SubmitArgs) -> anyhow::Result<()> {
    let body = job_body(args)?;
    let job: JobRecord = super::client(config)?
        .call(Method::POST, "/jobs", Some(&body))
        .await?;
    if args.json {
        super::print_json(&job)
    } else {
        println!("{}", job.id);
        Ok(())
    }
}

/// The API's job body from the flags, refusing what can't be used.
pub fn job_body(args: &SubmitArgs) -> anyhow::Result<Value> {
    let payload: Value = serde_json::from_str(&args.payload)
        .with_context(|| format!("--payload is not JSON: {}", args.payload))?;
    let mut body = json!({"queue": args.queue, "type": args.job_type, "payload": payload});
    let fields = body.as_object_mut().context("a JSON object")?;
    if let Some(id) = &args.id {
        fields.insert("id".into(), json!(id));
    }
    if let Some(delay) = &args.delay {
        fields.insert("delay_ms".into(), json!(millis(delay, "--delay")?));
    }
    if let Some(deadline) = &args.dispatch_by {
        fields.insert("dispatch_by".into(), json!(deadline_at(deadline)?));
    }
    if let Some(attempts) = args.max_attempts {
        fields.insert("max_attempts".into(), json!(attempts));
    }
    if let Some(priority) = args.priority {
        fields.insert("priority".into(), json!(priority));
    }
    if let Some(limit) = &args.max_time {
        fields.insert("max_time_ms".into(), json!(millis(limit, "--max-time")?));
    }
    if !args.depends_on.is_empty() {
        fields.insert("depends_on".into(), json!(args.depends_on));
    }
    if let Some(policy) = &args.on_dependency_failure {
        fields.insert("on_dependency_failure".into(), json!(policy));
    }
    if let Some(dependency) = &args.dependency {
        let dependency: Value = serde_json::from_str(dependency)
            .with_context(|| format!("--dependency is not JSON: {dependency}"))?;
        fields.insert("dependency".into(), dependency);
    }
    if !args.scope.is_empty() {
        fields.insert("scopes".into(), json!(args.scope));
    }
    if !args.enqueue_scope.is_empty() {
        fields.insert("enqueue_scopes".into(), json!(args.enqueue_scope));
    }
    Ok(body)
}

/// `--dispatch-by`: an RFC 3339 time, or a duration from now.
fn deadline_at(text: &str) -> anyhow::Result<String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.to_utc().to_rfc3339());
    }
    let within = parse_duration(text).with_context(|| {
        format!("--dispatch-by {text:?} is neither a time (RFC 3339) nor a duration like 10m")
    })?;
    let within = chrono::TimeDelta::from_std(within).context("--dispatch-by is too far away")?;
    Ok((chrono::Utc::now() + within).to_rfc3339())
}

/// A duration flag in milliseconds.
pub fn millis(text: &str, flag: &str) -> anyhow::Result<i64> {
    let duration = parse_duration(text).with_context(|| flag.to_owned())?;
    i64::try_from(duration.as_millis()).with_context(|| format!("{flag} is too long"))
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    amboy::clock::parse_duration(text).map_err(anyhow::Error::msg)
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

    #[test]
    fn deadlines_are_times_or_durations_from_now() {
        assert_eq!(
            deadline_at("2030-01-02T03:04:05+01:00").unwrap(),
            "2030-01-02T02:04:05+00:00"
        );
        let within = deadline_at("10m").unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(&within).unwrap();
        let ahead = at.to_utc() - chrono::Utc::now();
        assert!(
            (chrono::TimeDelta::minutes(9)..=chrono::TimeDelta::minutes(10)).contains(&ahead),
            "{within}"
        );
        let err = format!("{:#}", deadline_at("tomorrow").unwrap_err());
        assert!(err.contains("neither a time"), "{err}");
    }
}
