//! `/api/v1/queues`: queues with their counts; settings, pause, resume.
//! `/api/v1/queue-rules`: the queue-group rules new queues take their
//! settings from.

use std::collections::BTreeMap;

use amboy::{JobState, Ordering, QueueRule, QueueSettings};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Json, Path};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_queues))
        .routes(routes!(get_queue, update_queue))
        .routes(routes!(pause_queue))
        .routes(routes!(resume_queue))
        .routes(routes!(list_rules, set_rules))
}

/// A queue, its settings and its jobs by state.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    /// Its name.
    name: String,
    /// Its settings.
    settings: QueueSettings,
    /// The pattern of the queue rule it follows, if any (its own settings,
    /// once set, win over the rule).
    rule: Option<String>,
    /// Jobs by state (every state present).
    counts: BTreeMap<JobState, i64>,
}

async fn view(state: &ApiState, name: &str) -> Result<QueueView, ApiError> {
    let queue = state.engine.queue(name).await?;
    let counts = state.engine.counts(name).await?;
    Ok(QueueView {
        name: queue.name,
        settings: queue.settings,
        rule: queue.rule,
        counts,
    })
}

/// Every queue with its counts.
#[utoipa::path(get, path = "/queues", tag = "queues",
    responses((status = 200, body = Vec<QueueView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn list_queues(
    State(state): State<ApiState>,
) -> Result<axum::Json<Vec<QueueView>>, ApiError> {
    let mut counts: BTreeMap<String, BTreeMap<JobState, i64>> = state
        .engine
        .queue_counts()
        .await?
        .into_iter()
        .map(|q| (q.queue, q.counts))
        .collect();
    let views = state
        .engine
        .queues()
        .await?
        .into_iter()
        .map(|queue| QueueView {
            counts: counts.remove(&queue.name).unwrap_or_default(),
            name: queue.name,
            settings: queue.settings,
            rule: queue.rule,
        })
        .collect();
    Ok(axum::Json(views))
}

/// One queue with its counts.
#[utoipa::path(get, path = "/queues/{name}", tag = "queues",
    params(("name" = String, Path, description = "The queue")),
    responses((status = 200, body = QueueView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn get_queue(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<axum::Json<QueueView>, ApiError> {
    Ok(axum::Json(view(&state, &name).await?))
}

/// Settings to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueuePatch {
    /// Workers per process, 1–10,000.
    #[schema(minimum = 1, maximum = 10000)]
    concurrency: Option<i32>,
    /// `fifo` or `priority`.
    ordering: Option<Ordering>,
    /// Stop handing out jobs.
    paused: Option<bool>,
    /// How long a claim holds a job without renewal, ms (1,000–86,400,000).
    #[schema(minimum = 1000, maximum = 86400000)]
    lock_timeout_ms: Option<i64>,
    /// Jobs started per second, in each process; `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0.001, maximum = 1000000)]
    rate_limit_per_sec: Option<Option<f64>>,
    /// Keep at most this many terminal jobs; `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    retention_max_jobs: Option<Option<i64>>,
    /// Keep terminal jobs at most this long (ms); `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    retention_max_age_ms: Option<Option<i64>>,
    /// Delete the queue once it has had no jobs for this long (ms,
    /// 1,000 – 365 days); `null` keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1000, maximum = 31536000000_i64)]
    idle_ttl_ms: Option<Option<i64>>,
}

impl QueuePatch {
    /// `settings` with the fields this patch gives.
    fn apply(self, mut settings: QueueSettings) -> QueueSettings {
        if let Some(n) = self.concurrency {
            settings.concurrency = n;
        }
        if let Some(ordering) = self.ordering {
            settings.ordering = ordering;
        }
        if let Some(paused) = self.paused {
            settings.paused = paused;
        }
        if let Some(ms) = self.lock_timeout_ms {
            settings.lock_timeout_ms = ms;
        }
        if let Some(rate) = self.rate_limit_per_sec {
            settings.rate_limit_per_sec = rate;
        }
        if let Some(max) = self.retention_max_jobs {
            settings.retention_max_jobs = max;
        }
        if let Some(age) = self.retention_max_age_ms {
            settings.retention_max_age_ms = age;
        }
        if let Some(ttl) = self.idle_ttl_ms {
            settings.idle_ttl_ms = ttl;
        }
        settings
    }
}

/// A field that may be absent (leave it), `null` (clear it) or a value.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Change a queue's settings (creating the queue if it does not exist).
#[utoipa::path(patch, path = "/queues/{name}", tag = "queues", request_body = QueuePatch,
    params(("name" = String, Path, description = "The queue")),
    responses((status = 200, body = QueueView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn update_queue(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Json(patch): Json<QueuePatch>,
) -> Result<axum::Json<QueueView>, ApiError> {
    let settings = match state.engine.queue(&name).await {
        Ok(queue) => queue.settings,
        Err(amboy::Error::QueueNotFound(_)) => QueueSettings::default(),
        Err(err) => return Err(err.into()),
    };
    let settings = patch.apply(settings);
    state.engine.set_queue(&name, settings).await?;
    Ok(axum::Json(view(&state, &name).await?))
}

async fn set_paused(state: &ApiState, name: &str, paused: bool) -> Result<QueueView, ApiError> {
    let mut settings = state.engine.queue(name).await?.settings;
    settings.paused = paused;
    state.engine.set_queue(name, settings).await?;
    view(state, name).await
}

/// Stop handing out this queue's jobs (running ones finish).
#[utoipa::path(post, path = "/queues/{name}/pause", tag = "queues",
    params(("name" = String, Path, description = "The queue")),
    responses((status = 200, body = QueueView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn pause_queue(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<axum::Json<QueueView>, ApiError> {
    Ok(axum::Json(set_paused(&state, &name, true).await?))
}

/// Hand out this queue's jobs again.
#[utoipa::path(post, path = "/queues/{name}/resume", tag = "queues",
    params(("name" = String, Path, description = "The queue")),
    responses((status = 200, body = QueueView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn resume_queue(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<axum::Json<QueueView>, ApiError> {
    Ok(axum::Json(set_paused(&state, &name, false).await?))
}

/// A queue rule as given: settings left out take their defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// A regular expression over the whole queue name, e.g. `tenant-.*`.
    #[schema(min_length = 1, max_length = 1000)]
    pattern: String,
    /// The settings queues matching it are created with.
    settings: Option<QueuePatch>,
}

/// The whole ordered list of rules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    /// First match wins (at most 100).
    #[schema(max_items = 100)]
    rules: Vec<RuleBody>,
}

/// The queue rules (queue groups), in order.
#[utoipa::path(get, path = "/queue-rules", tag = "queues",
    responses((status = 200, body = Vec<QueueRule>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn list_rules(State(state): State<ApiState>) -> Result<axum::Json<Vec<QueueRule>>, ApiError> {
    Ok(axum::Json(state.engine.queue_rules().await?))
}

/// Replace the queue rules: a queue created by a put takes the settings of
/// the first rule its name matches; queues following a rule take the new
/// rules' settings. All or nothing.
#[utoipa::path(put, path = "/queue-rules", tag = "queues", request_body = RulesBody,
    responses((status = 200, body = Vec<QueueRule>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn set_rules(
    State(state): State<ApiState>,
    Json(body): Json<RulesBody>,
) -> Result<axum::Json<Vec<QueueRule>>, ApiError> {
    let rules = body
        .rules
        .into_iter()
        .map(|rule| QueueRule {
            pattern: rule.pattern,
            settings: rule.settings.map_or_else(QueueSettings::default, |patch| {
                patch.apply(QueueSettings::default())
            }),
        })
        .collect();
    state.engine.set_queue_rules(rules).await?;
    Ok(axum::Json(state.engine.queue_rules().await?))
}
