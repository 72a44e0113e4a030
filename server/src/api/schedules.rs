//! `/api/v1/schedules`: create, read, change, delete, enable, disable, run
//! now, preview and list the next fire times.

use amboy::{ScheduleDef, ScheduleDetail, ScheduleRecord};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Json, Path, Query};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(preview_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
        .routes(routes!(run_schedule))
        .routes(routes!(enable_schedule))
        .routes(routes!(disable_schedule))
        .routes(routes!(next_fires))
}

/// Every schedule, by name.
#[utoipa::path(get, path = "/schedules", tag = "schedules",
    responses((status = 200, body = Vec<ScheduleRecord>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn list_schedules(
    State(state): State<ApiState>,
) -> Result<axum::Json<Vec<ScheduleRecord>>, ApiError> {
    Ok(axum::Json(state.engine.schedules().await?))
}

/// Create a schedule (nothing is stored when anything is invalid).
#[utoipa::path(post, path = "/schedules", tag = "schedules", request_body = ScheduleDef,
    responses((status = 201, body = ScheduleRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn create_schedule(
    State(state): State<ApiState>,
    Json(def): Json<ScheduleDef>,
) -> Result<(StatusCode, axum::Json<ScheduleRecord>), ApiError> {
    Ok((
        StatusCode::CREATED,
        axum::Json(state.engine.add_schedule(def).await?),
    ))
}

/// How many fire times.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountQuery {
    /// 1–100 (default 5).
    #[param(minimum = 1, maximum = 100)]
    count: Option<usize>,
}

/// Fire times, in the schedule's time zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct Fires {
    /// RFC 3339 with the zone's offset.
    fires: Vec<DateTime<FixedOffset>>,
}

/// Check a definition without storing it, and list its next fire times.
#[utoipa::path(post, path = "/schedules/preview", tag = "schedules", request_body = ScheduleDef,
    params(CountQuery),
    responses((status = 200, body = Fires), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn preview_schedule(
    State(state): State<ApiState>,
    Query(query): Query<CountQuery>,
    Json(def): Json<ScheduleDef>,
) -> Result<axum::Json<Fires>, ApiError> {
    let fires = state
        .engine
        .preview_schedule(&def, query.count.unwrap_or(5))?;
    Ok(axum::Json(Fires { fires }))
}

/// One schedule with its recent skips and duplicates.
#[utoipa::path(get, path = "/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "The schedule")),
    responses((status = 200, body = ScheduleDetail), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn get_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<axum::Json<ScheduleDetail>, ApiError> {
    Ok(axum::Json(state.engine.schedule(&name).await?))
}

/// Change a schedule: the fields given replace the current ones (a JSON
/// merge patch); it applies from the next fire. The name cannot change.
#[utoipa::path(patch, path = "/schedules/{name}", tag = "schedules",
    request_body = Object,
    params(("name" = String, Path, description = "The schedule")),
    responses((status = 200, body = ScheduleRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn update_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Json(patch): Json<serde_json::Map<String, serde_json::Value>>,
) -> Result<axum::Json<ScheduleRecord>, ApiError> {
    let current = state.engine.schedule(&name).await?.schedule.def;
    let mut merged =
        serde_json::to_value(&current).map_err(|err| ApiError::invalid(err.to_string()))?;
    if let Some(object) = merged.as_object_mut() {
        for (key, value) in patch {
            if key == "name" && value != serde_json::Value::String(name.clone()) {
                return Err(ApiError::invalid("name: a schedule cannot be renamed"));
            }
            if value.is_null() {
                object.remove(&key);
            } else {
                object.insert(key, value);
            }
        }
    }
    let def: ScheduleDef = serde_json::from_value(merged)
        .map_err(|err| ApiError::invalid(format!("the patched schedule is invalid: {err}")))?;
    Ok(axum::Json(state.engine.edit_schedule(def).await?))
}

/// Delete a schedule (the jobs it put stay).
#[utoipa::path(delete, path = "/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "The schedule")),
    responses((status = 204), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn delete_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_schedule(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The job a run put.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunResult {
    /// Its id, `schedule:<name>:run:<time>`.
    id: String,
}

/// Put the schedule's job now, outside its spec.
#[utoipa::path(post, path = "/schedules/{name}/run", tag = "schedules",
    params(("name" = String, Path, description = "The schedule")),
    responses((status = 201, body = RunResult), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn run_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, axum::Json<RunResult>), ApiError> {
    let id = state.engine.run_schedule(&name).await?;
    Ok((StatusCode::CREATED, axum::Json(RunResult { id })))
}

/// Fire again, from the next fire time after now.
#[utoipa::path(post, path = "/schedules/{name}/enable", tag = "schedules",
    params(("name" = String, Path, description = "The schedule")),
    responses((status = 200, body = ScheduleRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn enable_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<axum::Json<ScheduleRecord>, ApiError> {
    Ok(axum::Json(
        state.engine.set_schedule_enabled(&name, true).await?,
    ))
}

/// Stop firing.
#[utoipa::path(post, path = "/schedules/{name}/disable", tag = "schedules",
    params(("name" = String, Path, description = "The schedule")),
    responses((status = 200, body = ScheduleRecord), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["operator"])))]
async fn disable_schedule(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<axum::Json<ScheduleRecord>, ApiError> {
    Ok(axum::Json(
        state.engine.set_schedule_enabled(&name, false).await?,
    ))
}

/// The next fire times, in the schedule's time zone.
#[utoipa::path(get, path = "/schedules/{name}/next", tag = "schedules",
    params(("name" = String, Path, description = "The schedule"), CountQuery),
    responses((status = 200, body = Fires), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn next_fires(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(query): Query<CountQuery>,
) -> Result<axum::Json<Fires>, ApiError> {
    let fires = state
        .engine
        .next_fires(&name, query.count.unwrap_or(5))
        .await?;
    Ok(axum::Json(Fires { fires }))
}
