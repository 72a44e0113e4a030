//! `/api/v1/jobs`: put, list, look at, wait for, retry, abort, complete and
//! delete jobs, one at a time or in bulk.

use std::time::Duration;

use amboy::{
    AbortOutcome, BulkAction, Dependency, JobDetail, JobFilter, JobRecord, JobSelector, JobState,
    NewJob, OnDependencyFailure,
};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};

/// Most jobs one batch put may hold.
pub const MAX_BATCH: usize = 1_000;
/// Longest a wait may be asked to last, ms.
pub const MAX_WAIT_MS: u64 = 300_000;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(put_job, list_jobs))
        .routes(routes!(put_batch))
        .routes(routes!(bulk))
        .routes(routes!(get_job, delete_job))
        .routes(routes!(wait_job))
        .routes(routes!(retry_job))
        .routes(routes!(abort_job))
        .routes(routes!(complete_job))
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// A job to put.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutJob {
    /// Its queue (created on first use).
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.:-]+$")]
    queue: String,
    /// Its type, e.g. `noop`, `sleep`, `http`, `shell`, `group`.
    #[serde(rename = "type")]
    #[schema(min_length = 1)]
    job_type: String,
    /// Its payload, decoded by the type.
    #[serde(default = "empty_object")]
    payload: serde_json::Value,
    /// Its id (a UUIDv7 when absent).
    #[schema(min_length = 1, max_length = 255)]
    id: Option<String>,
    /// When it may start.
    run_at: Option<DateTime<Utc>>,
    /// Or: how long from now it may start, ms.
    #[schema(minimum = 0)]
    delay_ms: Option<i64>,
    /// Start by then or never: still waiting then, it becomes `expired`.
    dispatch_by: Option<DateTime<Utc>>,
    /// Higher runs first in priority queues.
    priority: Option<i32>,
    /// Attempts before it fails.
    #[schema(minimum = 1, maximum = 1000)]
    max_attempts: Option<i32>,
    /// Longest an attempt may run, ms.
    #[schema(minimum = 1)]
    max_time_ms: Option<i64>,
    /// Jobs (stored, or put in the same batch) that must complete before
    /// this one runs; until then it is `blocked`.
    #[serde(default)]
    #[schema(max_items = 1000)]
    depends_on: Vec<String>,
    /// When one of them ends without completing: `fail` (default) or `run`.
    on_dependency_failure: Option<OnDependencyFailure>,
    /// amboy's dependency manager: `{"type": "create-file", "path": …}`
    /// skips the run when the file exists; `{"type": "local-file",
    /// "targets": […], "sources": […]}` when the targets are up to date.
    dependency: Option<Dependency>,
    /// Dispatch scopes: no two running jobs hold the same one.
    #[serde(default)]
    #[schema(max_items = 32)]
    scopes: Vec<String>,
    /// Enqueue scopes: no two unfinished jobs hold the same one (a put
    /// while one is held answers 409).
    #[serde(default)]
    #[schema(max_items = 32)]
    enqueue_scopes: Vec<String>,
}

impl PutJob {
    fn into_new_job(self) -> Result<NewJob, ApiError> {
        let mut job = NewJob::from_json(self.queue, self.job_type, self.payload.to_string());
        if let Some(id) = self.id {
            job = job.id(id);
        }
        if let Some(at) = self.run_at {
            job = job.run_at(at);
        }
        if let Some(ms) = self.delay_ms {
            let delay = TimeDelta::try_milliseconds(ms)
                .ok_or_else(|| ApiError::invalid(format!("delay_ms {ms} is out of range")))?;
            job = job.delay(delay);
        }
        if let Some(deadline) = self.dispatch_by {
            job = job.dispatch_by(deadline);
        }
        if let Some(priority) = self.priority {
            job = job.priority(priority);
        }
        if let Some(attempts) = self.max_attempts {
            job = job.max_attempts(attempts);
        }
        if let Some(ms) = self.max_time_ms {
            let ms = u64::try_from(ms).ok().filter(|ms| *ms > 0).ok_or_else(|| {
                ApiError::invalid(format!("max_time_ms must be positive (got {ms})"))
            })?;
            job = job.max_time(Duration::from_millis(ms));
        }
        if let Some(policy) = self.on_dependency_failure {
            job = job.on_dependency_failure(policy);
        }
        if let Some(dependency) = self.dependency {
            job = job.dependency(dependency);
        }
        Ok(job
            .depends_on(self.depends_on)
            .scopes(self.scopes)
            .enqueue_scopes(self.enqueue_scopes))
    }
}

/// Put a job.
#[utoipa::path(post, path = "/jobs", tag = "jobs", request_body = PutJob,
    responses((status = 201, body = JobRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn put_job(
    State(state): State<ApiState>,
    Json(body): Json<PutJob>,
) -> Result<(StatusCode, axum::Json<JobRecord>), ApiError> {
    let id = state.engine.put(body.into_new_job()?).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(state.engine.get(&id).await?),
    ))
}

/// Many jobs to put at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBatch {
    /// The jobs (1–1,000): all are stored, or none.
    #[schema(min_items = 1, max_items = 1000)]
    jobs: Vec<PutJob>,
    /// Skip ids that exist instead of refusing the batch.
    #[serde(default)]
    unique: bool,
}

/// The ids put.
#[derive(Debug, Serialize, ToSchema)]
pub struct PutBatchResult {
    /// In order; with `unique`, only those stored.
    ids: Vec<String>,
}

/// Put many jobs in one transaction.
#[utoipa::path(post, path = "/jobs/batch", tag = "jobs", request_body = PutBatch,
    responses((status = 201, body = PutBatchResult), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn put_batch(
    State(state): State<ApiState>,
    Json(body): Json<PutBatch>,
) -> Result<(StatusCode, axum::Json<PutBatchResult>), ApiError> {
    if body.jobs.is_empty() || body.jobs.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "jobs: give 1 to {MAX_BATCH} jobs (got {})",
            body.jobs.len()
        )));
    }
    let jobs = body
        .jobs
        .into_iter()
        .map(PutJob::into_new_job)
        .collect::<Result<Vec<_>, _>>()?;
    let ids = if body.unique {
        let mut ids = Vec::new();
        for job in jobs {
            ids.extend(state.engine.put_unique(job).await?);
        }
        ids
    } else {
        state.engine.put_many(jobs).await?
    };
    Ok((StatusCode::CREATED, axum::Json(PutBatchResult { ids })))
}

/// Which jobs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this queue.
    queue: Option<String>,
    /// Only this state.
    state: Option<JobState>,
    /// Only this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    job_type: Option<String>,
    /// Only ids starting with this.
    id_prefix: Option<String>,
    /// Only jobs held by this process (see `/workers`); with
    /// `state=running`, what it is running.
    owner: Option<String>,
    /// `asc` (oldest first, the default) or `desc` (newest first).
    order: Option<ListOrder>,
    /// Ids after this one in the list's order (the `next` of the previous page).
    after: Option<String>,
    /// Page size, 1–1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A list's order: by id, which is creation order for the default ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    /// The jobs, in the list's order.
    jobs: Vec<JobRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    next: Option<String>,
}

/// List jobs, a page at a time (keyset pagination by id).
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = JobPage), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn list_jobs(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<JobPage>, ApiError> {
    let filter = JobFilter {
        queue: query.queue,
        state: query.state,
        job_type: query.job_type,
        id_prefix: query.id_prefix,
        owner: query.owner,
        newest_first: query.order.unwrap_or_default() == ListOrder::Desc,
        after: query.after,
        limit: query.limit.unwrap_or(amboy::record::DEFAULT_PAGE),
    };
    let jobs = state.engine.list(&filter).await?;
    let next = (jobs.len() == filter.limit as usize)
        .then(|| jobs.last().map(|job| job.id.clone()))
        .flatten();
    Ok(axum::Json(JobPage { jobs, next }))
}

/// One job with its attempts and log.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 200, body = JobDetail), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn get_job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<axum::Json<JobDetail>, ApiError> {
    Ok(axum::Json(state.engine.detail(&id).await?))
}

/// How long to wait.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Longest wait, ms (default 30,000, at most 300,000).
    #[param(minimum = 0, maximum = 300000)]
    timeout_ms: Option<u64>,
}

/// Wait until a job finishes (408 when the timeout passes first).
#[utoipa::path(get, path = "/jobs/{id}/wait", tag = "jobs",
    params(("id" = String, Path, description = "The job id"), WaitQuery),
    responses((status = 200, body = JobRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn wait_job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<axum::Json<JobRecord>, ApiError> {
    let ms = query.timeout_ms.unwrap_or(30_000);
    if ms > MAX_WAIT_MS {
        return Err(ApiError::invalid(format!(
            "timeout_ms must be at most {MAX_WAIT_MS} (got {ms})"
        )));
    }
    state.engine.get(&id).await?;
    Ok(axum::Json(
        state.engine.wait(&id, Duration::from_millis(ms)).await?,
    ))
}

/// Run a finished job again (failed, aborted, expired), or a retrying one now.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 200, body = JobRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn retry_job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<axum::Json<JobRecord>, ApiError> {
    Ok(axum::Json(state.engine.retry(&id).await?))
}

/// Mark a job that is not running completed.
#[utoipa::path(post, path = "/jobs/{id}/complete", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 200, body = JobRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn complete_job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<axum::Json<JobRecord>, ApiError> {
    Ok(axum::Json(state.engine.complete(&id).await?))
}

/// What an abort did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AbortResult {
    /// `aborted` (it was waiting), or `requested` (it is running; its owner
    /// stops it within a second).
    outcome: String,
    /// The job now.
    job: JobRecord,
}

/// Abort a waiting job, or ask the owner of a running one to stop it.
#[utoipa::path(post, path = "/jobs/{id}/abort", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 200, body = AbortResult), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn abort_job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<axum::Json<AbortResult>, ApiError> {
    let outcome = match state.engine.abort(&id).await? {
        AbortOutcome::Aborted => "aborted",
        AbortOutcome::Requested { .. } => "requested",
    };
    Ok(axum::Json(AbortResult {
        outcome: outcome.to_owned(),
        job: state.engine.get(&id).await?,
    }))
}

/// Delete a job that is not running, with its attempts and log.
#[utoipa::path(delete, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses((status = 204), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn delete_job(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a bulk call does.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkActionBody {
    /// Run again.
    Retry,
    /// Abort.
    Abort,
    /// Mark completed.
    Complete,
    /// Delete.
    Delete,
}

/// Jobs matching all the given criteria.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    /// Only this queue.
    queue: Option<String>,
    /// Only this state.
    state: Option<JobState>,
    /// Only this type.
    #[serde(rename = "type")]
    job_type: Option<String>,
    /// Only ids starting with this (amboy's id pattern).
    id_prefix: Option<String>,
}

/// A bulk call: an action on a list of ids, or on every job matching a filter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// What to do.
    action: BulkActionBody,
    /// These jobs (at most 10,000).
    ids: Option<Vec<String>>,
    /// Or every job matching this (at least one criterion).
    filter: Option<BulkFilter>,
}

/// What a bulk call changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// Jobs changed; jobs in a state the action does not apply to are passed over.
    changed: u64,
}

/// Retry, abort, complete or delete jobs by id list or by filter.
#[utoipa::path(post, path = "/jobs/bulk", tag = "jobs", request_body = BulkRequest,
    responses((status = 200, body = BulkResult), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn bulk(
    State(state): State<ApiState>,
    Json(body): Json<BulkRequest>,
) -> Result<axum::Json<BulkResult>, ApiError> {
    let selector = match (body.ids, body.filter) {
        (Some(ids), None) => JobSelector::Ids(ids),
        (None, Some(filter)) => {
            let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
            if !given(&filter.queue)
                && filter.state.is_none()
                && !given(&filter.job_type)
                && !given(&filter.id_prefix)
            {
                return Err(ApiError::invalid(
                    "filter: give at least one of queue, state, type, id_prefix",
                ));
            }
            JobSelector::Filter(JobFilter {
                queue: filter.queue,
                state: filter.state,
                job_type: filter.job_type,
                id_prefix: filter.id_prefix,
                ..JobFilter::default()
            })
        }
        _ => return Err(ApiError::invalid("give either ids or filter")),
    };
    let action = match body.action {
        BulkActionBody::Retry => BulkAction::Retry,
        BulkActionBody::Abort => BulkAction::Abort,
        BulkActionBody::Complete => BulkAction::Complete,
        BulkActionBody::Delete => BulkAction::Delete,
    };
    let changed = state.engine.bulk(action, selector).await?;
    Ok(axum::Json(BulkResult { changed }))
}
