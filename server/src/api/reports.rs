//! `/api/v1/reports`: amboy's management reports.

use amboy::{ErrorGroup, TimingReport, TypeCounts};
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Query};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(counts))
        .routes(routes!(errors))
        .routes(routes!(timing))
}

/// The window (and queue) of the timing report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TimingQuery {
    /// How far back, ms (default one hour, at most 30 days).
    #[param(minimum = 1, maximum = 2592000000_u64)]
    window_ms: Option<u64>,
    /// Only this queue.
    queue: Option<String>,
}

/// Queue latency and run duration p50/p95/p99 by job type over a window.
#[utoipa::path(get, path = "/reports/timing", tag = "reports", params(TimingQuery),
    responses((status = 200, body = Vec<TimingReport>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn timing(
    State(state): State<ApiState>,
    Query(query): Query<TimingQuery>,
) -> Result<axum::Json<Vec<TimingReport>>, ApiError> {
    let window = std::time::Duration::from_millis(query.window_ms.unwrap_or(3_600_000));
    Ok(axum::Json(
        state
            .engine
            .timing_report(window, query.queue.as_deref())
            .await?,
    ))
}

/// Which queue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountsQuery {
    /// Only this queue.
    queue: Option<String>,
}

/// Jobs by queue, type and state.
#[utoipa::path(get, path = "/reports/counts", tag = "reports", params(CountsQuery),
    responses((status = 200, body = Vec<TypeCounts>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn counts(
    State(state): State<ApiState>,
    Query(query): Query<CountsQuery>,
) -> Result<axum::Json<Vec<TypeCounts>>, ApiError> {
    Ok(axum::Json(
        state.engine.counts_by_type(query.queue.as_deref()).await?,
    ))
}

/// The window and size of the errors report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ErrorsQuery {
    /// How far back, ms (default one hour, at most 30 days).
    #[param(minimum = 1, maximum = 2592000000_u64)]
    window_ms: Option<u64>,
    /// Most groups, 1–1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Recent errors grouped by job type and message, most frequent first.
#[utoipa::path(get, path = "/reports/errors", tag = "reports", params(ErrorsQuery),
    responses((status = 200, body = Vec<ErrorGroup>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn errors(
    State(state): State<ApiState>,
    Query(query): Query<ErrorsQuery>,
) -> Result<axum::Json<Vec<ErrorGroup>>, ApiError> {
    let window = std::time::Duration::from_millis(query.window_ms.unwrap_or(3_600_000));
    Ok(axum::Json(
        state
            .engine
            .error_report(window, query.limit.unwrap_or(50))
            .await?,
    ))
}
