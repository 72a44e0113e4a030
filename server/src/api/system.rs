//! `/api/v1/workers`, `/api/v1/stats` and `/api/v1/session` (browser login).

use std::sync::Arc;

use amboy::{ProcessRecord, StatsSnapshot};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{CLEARED_SESSION_COOKIE, Role, over_https};
use super::error::{ApiError, ErrorBody, Json};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(workers))
        .routes(routes!(stats))
        .routes(routes!(whoami, login, logout))
}

/// Engine processes with their heartbeats and running-job counts.
#[utoipa::path(get, path = "/workers", tag = "system",
    responses((status = 200, body = Vec<ProcessRecord>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn workers(
    State(state): State<ApiState>,
) -> Result<axum::Json<Vec<ProcessRecord>>, ApiError> {
    Ok(axum::Json(state.engine.processes().await?))
}

/// Counts by queue and state, and throughput (the latest per-second snapshot).
#[utoipa::path(get, path = "/stats", tag = "system",
    responses((status = 200, body = StatsSnapshot), (status = "4XX", body = ErrorBody)),
    security(("bearer" = ["viewer"])))]
async fn stats(State(state): State<ApiState>) -> Result<axum::Json<Arc<StatsSnapshot>>, ApiError> {
    Ok(axum::Json(state.engine.stats().await?))
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// The caller's role; absent when not signed in.
    role: Option<Role>,
    /// Whether the server requires tokens at all.
    auth_required: bool,
}

/// The caller's role (from a token or a session cookie).
#[utoipa::path(get, path = "/session", tag = "system",
    responses((status = 200, body = Session), (status = "4XX", body = ErrorBody)),
    security(()))]
async fn whoami(State(state): State<ApiState>, headers: HeaderMap) -> axum::Json<Session> {
    let role = state
        .auth
        .identify(&headers)
        .ok()
        .flatten()
        .map(|(role, _)| role);
    axum::Json(Session {
        role,
        auth_required: !state.auth.is_open(),
    })
}

/// A token to trade for a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// A viewer or operator token.
    #[schema(min_length = 1)]
    token: String,
}

/// Trade a token for an HttpOnly, SameSite=Strict session cookie (12 h).
#[utoipa::path(post, path = "/session", tag = "system", request_body = Login,
    responses((status = 200, body = Session), (status = "4XX", body = ErrorBody)),
    security(()))]
async fn login(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let role = state
        .auth
        .role_of_token(&body.token)
        .ok_or_else(ApiError::unauthorized)?;
    let cookie = state.auth.session_cookie(role, over_https(&headers));
    let mut response = axum::Json(Session {
        role: Some(role),
        auth_required: !state.auth.is_open(),
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|err| ApiError::bad_request(err.to_string()))?,
    );
    Ok(response)
}

/// End the session.
#[utoipa::path(delete, path = "/session", tag = "system",
    responses((status = 204), (status = "4XX", body = ErrorBody)),
    security(()))]
async fn logout() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEARED_SESSION_COOKIE),
    );
    response
}
