//! `amboy queues list|pause|resume|set`, over the API.

use std::collections::BTreeMap;

use amboy::{JobState, QueueSettings};
use anyhow::Context as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::submit::millis;
use crate::cli::{QueueSetArgs, QueuesArgs, QueuesCommand};
use crate::client::{Client, encode};
use crate::config::Config;

/// A queue as the API answers.
#[derive(Debug, Deserialize, Serialize)]
struct QueueView {
    name: String,
    settings: QueueSettings,
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
    let mut patch = serde_json::Map::new();
    if let Some(n) = args.concurrency {
        patch.insert("concurrency".into(), json!(n));
    }
    if let Some(ordering) = &args.ordering {
        let ordering: amboy::Ordering = ordering.parse().context("--ordering")?;
        patch.insert("ordering".into(), json!(ordering));
    }
    if let Some(timeout) = &args.lock_timeout {
        patch.insert(
            "lock_timeout_ms".into(),
            json!(millis(timeout, "--lock-timeout")?),
        );
    }
    if let Some(rate) = &args.rate_limit {
        let rate = match rate.as_str() {
            "none" => serde_json::Value::Null,
            text => json!(text.parse::<f64>().with_context(|| {
                format!("--rate-limit {text:?} is not a number of jobs per second or `none`")
            })?),
        };
        patch.insert("rate_limit_per_sec".into(), rate);
    }
    if let Some(max) = &args.retention_max_jobs {
        let max = match max.as_str() {
            "none" => serde_json::Value::Null,
            text => json!(text.parse::<i64>().with_context(|| {
                format!("--retention-max-jobs {text:?} is not a number of jobs or `none`")
            })?),
        };
        patch.insert("retention_max_jobs".into(), max);
    }
    if let Some(age) = &args.retention_max_age {
        let age = match age.as_str() {
            "none" => serde_json::Value::Null,
            text => json!(millis(text, "--retention-max-age")?),
        };
        patch.insert("retention_max_age_ms".into(), age);
    }
    if patch.is_empty() {
        anyhow::bail!(
            "give at least one of --concurrency, --ordering, --lock-timeout, --rate-limit, \
             --retention-max-jobs, --retention-max-age"
        );
    }
    let path = format!("/queues/{}", encode(&args.name));
    client.call(Method::PATCH, &path, Some(&patch)).await
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
