//! `amboy queues list|pause|resume|set|rules|rule-add|rule-delete`, over
//! the API.

use std::collections::BTreeMap;

use amboy::{JobState, QueueRule, QueueSettings};
use anyhow::Context as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::submit::millis;
use crate::cli::{QueueSetArgs, QueuesArgs, QueuesCommand, RuleAddArgs, SettingsFlags};
use crate::client::{Client, encode};
use crate::config::Config;

/// A queue as the API answers.
#[derive(Debug, Deserialize, Serialize)]
struct QueueView {
    name: String,
    settings: QueueSettings,
    rule: Option<String>,
    counts: BTreeMap<JobState, i64>,
}

/// Runs the command.
pub async fn run(config: &Config, args: &QueuesArgs) -> anyhow::Result<()> {
    let client = super::client(config)?;
    let (queues, json) = match &args.command {
        QueuesCommand::List(args) => (client.get("/queues").await?, args.json),
        QueuesCommand::Pause(args) => {
            (vec![toggle(&client, &args.name, "pause").await?], args.json)
        }
        QueuesCommand::Resume(args) => (
            vec![toggle(&client, &args.name, "resume").await?],
            args.json,
        ),
        QueuesCommand::Set(args) => (vec![set(&client, args).await?], args.json),
        QueuesCommand::Rules(args) => {
            let rules: Vec<QueueRule> = client.get("/queue-rules").await?;
            return show_rules(&rules, args.json);
        }
        QueuesCommand::RuleAdd(args) => {
            return show_rules(&add_rule(&client, args).await?, args.json);
        }
        QueuesCommand::RuleDelete(args) => {
            let mut rules: Vec<QueueRule> = client.get("/queue-rules").await?;
            let before = rules.len();
            rules.retain(|rule| rule.pattern != args.pattern);
            if rules.len() == before {
                anyhow::bail!("no queue rule has the pattern {:?}", args.pattern);
            }
            return show_rules(&put_rules(&client, &rules).await?, args.json);
        }
    };
    if json {
        return super::print_json(&queues);
    }
    print!("{}", table(&queues));
    Ok(())
}

async fn toggle(client: &Client, name: &str, verb: &str) -> anyhow::Result<QueueView> {
    let path = format!("/queues/{}/{verb}", encode(name));
    client.call(Method::POST, &path, None::<&()>).await
}

async fn set(client: &Client, args: &QueueSetArgs) -> anyhow::Result<QueueView> {
    let patch = patch(&args.settings)?;
    if patch.is_empty() {
        anyhow::bail!(
            "give at least one of --concurrency, --ordering, --lock-timeout, --rate-limit, \
             --retention-max-jobs, --retention-max-age, --idle-ttl"
        );
    }
    let path = format!("/queues/{}", encode(&args.name));
    client.call(Method::PATCH, &path, Some(&patch)).await
}

/// The API's settings patch from the flags given.
fn patch(flags: &SettingsFlags) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut patch = serde_json::Map::new();
    if let Some(n) = flags.concurrency {
        patch.insert("concurrency".into(), json!(n));
    }
    if let Some(ordering) = &flags.ordering {
        let ordering: amboy::Ordering = ordering.parse().context("--ordering")?;
        patch.insert("ordering".into(), json!(ordering));
    }
    if let Some(timeout) = &flags.lock_timeout {
        patch.insert(
            "lock_timeout_ms".into(),
            json!(millis(timeout, "--lock-timeout")?),
        );
    }
    if let Some(rate) = &flags.rate_limit {
        let rate = match rate.as_str() {
            "none" => serde_json::Value::Null,
            text => json!(text.parse::<f64>().with_context(|| {
                format!("--rate-limit {text:?} is not a number of jobs per second or `none`")
            })?),
        };
        patch.insert("rate_limit_per_sec".into(), rate);
    }
    if let Some(max) = &flags.retention_max_jobs {
        let max = match max.as_str() {
            "none" => serde_json::Value::Null,
            text => json!(text.parse::<i64>().with_context(|| {
                format!("--retention-max-jobs {text:?} is not a number of jobs or `none`")
            })?),
        };
        patch.insert("retention_max_jobs".into(), max);
    }
    for (value, field, flag) in [
        (
            &flags.retention_max_age,
            "retention_max_age_ms",
            "--retention-max-age",
        ),
        (&flags.idle_ttl, "idle_ttl_ms", "--idle-ttl"),
    ] {
        if let Some(text) = value {
            let ms = match text.as_str() {
                "none" => serde_json::Value::Null,
                text => json!(millis(text, flag)?),
            };
            patch.insert(field.into(), ms);
        }
    }
    Ok(patch)
}

/// Adds the rule (or changes the one with its pattern) and stores the list.
async fn add_rule(client: &Client, args: &RuleAddArgs) -> anyhow::Result<Vec<QueueRule>> {
    let mut rules: Vec<QueueRule> = client.get("/queue-rules").await?;
    let settings: QueueSettings =
        serde_json::from_value(serde_json::Value::Object(patch(&args.settings)?))
            .context("the settings flags")?;
    let rule = QueueRule {
        pattern: args.pattern.clone(),
        settings,
    };
    let at = match rules.iter().position(|r| r.pattern == args.pattern) {
        Some(at) => {
            rules.remove(at);
            at
        }
        None => rules.len(),
    };
    rules.insert(args.position.unwrap_or(at).min(rules.len()), rule);
    put_rules(client, &rules).await
}

async fn put_rules(client: &Client, rules: &[QueueRule]) -> anyhow::Result<Vec<QueueRule>> {
    let body = json!({ "rules": rules });
    client.call(Method::PUT, "/queue-rules", Some(&body)).await
}

fn show_rules(rules: &[QueueRule], json: bool) -> anyhow::Result<()> {
    if json {
        return super::print_json(&rules);
    }
    let limit = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|rule| {
            let s = &rule.settings;
            vec![
                rule.pattern.clone(),
                s.concurrency.to_string(),
                s.ordering.as_str().to_owned(),
                limit(s.rate_limit_per_sec.map(|r| format!("{r}/s"))),
                limit(s.retention_max_jobs.map(|n| n.to_string())),
                limit(s.retention_max_age_ms.map(|ms| format!("{ms} ms"))),
                limit(s.idle_ttl_ms.map(|ms| format!("{ms} ms"))),
            ]
        })
        .collect();
    print!(
        "{}",
        super::table(
            &[
                "PATTERN",
                "WORKERS",
                "ORDER",
                "RATE",
                "KEEP JOBS",
                "KEEP FOR",
                "IDLE TTL",
            ],
            &rows,
        )
    );
    Ok(())
}

fn table(queues: &[QueueView]) -> String {
    let shown = [
        JobState::Pending,
        JobState::Running,
        JobState::Retrying,
        JobState::Completed,
        JobState::Failed,
        JobState::Aborted,
    ];
    let rows: Vec<Vec<String>> = queues
        .iter()
        .map(|q| {
            let mut row = vec![
                q.name.clone(),
                if q.settings.paused {
                    "paused"
                } else {
                    "active"
                }
                .to_owned(),
                q.settings.concurrency.to_string(),
                q.settings.ordering.as_str().to_owned(),
                q.rule.clone().unwrap_or_else(|| "-".to_owned()),
            ];
            row.extend(
                shown
                    .iter()
                    .map(|state| q.counts.get(state).copied().unwrap_or(0).to_string()),
            );
            row
        })
        .collect();
    super::table(
        &[
            "QUEUE",
            "STATUS",
            "WORKERS",
            "ORDER",
            "RULE",
            "PENDING",
            "RUNNING",
            "RETRYING",
            "COMPLETED",
            "FAILED",
            "ABORTED",
        ],
        &rows,
    )
}
