//! The REST API under `/api/v1`: one management surface for scripts, the
//! CLI and the dashboard. JSON in and out; errors are
//! `{"error": {"code", "message"}}` with the fitting 4xx; the OpenAPI 3.1
//! document at `/api/v1/openapi.json` is generated from the handlers, so it
//! cannot drift from them.

pub mod auth;
pub mod error;
mod jobs;
mod queues;
mod reports;
mod schedules;
pub mod stream;
mod system;

use std::sync::Arc;

use amboy::Engine;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;

use auth::Auth;

/// Largest request body (a batch of jobs with payloads).
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// What handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    engine: Engine,
    auth: Arc<Auth>,
    /// Open stream connections (`amboy_stream_clients`).
    stream_clients: prometheus::IntGauge,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "amboy",
        description = "A job queue and cron/interval scheduler you can see into. \
            Reads need a viewer token, changes an operator token \
            (`Authorization: Bearer <token>`), unless the server runs without tokens.",
    ),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A viewer or operator token; the scopes name the role an operation needs.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The API's routes and their OpenAPI document (without the route serving
/// it); the stream counts its connections in `stream_clients`.
pub fn api(engine: Engine, auth: Auth, stream_clients: prometheus::IntGauge) -> (Router, OpenApi) {
    let state = ApiState {
        engine,
        auth: Arc::new(auth),
        stream_clients,
    };
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let (router, mut doc) = OpenApiRouter::with_openapi(doc)
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(jobs::routes())
                .merge(queues::routes())
                .merge(reports::routes())
                .merge(schedules::routes())
                .merge(stream::routes())
                .merge(system::routes()),
        )
        .with_state(state.clone())
        .split_for_parts();
    doc.servers = None;
    (router, doc)
}

/// The API router: routes, the document at `/api/v1/openapi.json` and the
/// body limit. The access policy ([`auth::enforce`]) is layered over the
/// whole HTTP surface by the caller.
pub fn router(engine: Engine, auth: Auth, stream_clients: prometheus::IntGauge) -> Router {
    let (router, doc) = api(engine, auth, stream_clients);
    let doc = Arc::new(doc);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

async fn not_found() -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such API route; the routes are listed at /api/v1/openapi.json",
    )
}
