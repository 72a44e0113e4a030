//! `GET /api/v1/stream`: a websocket carrying the engine's stats snapshot
//! each second and its job events, coalesced.
//!
//! The snapshot is computed once a second by the engine for every client
//! (no query per connection); each client gets the latest one as soon as it
//! connects. Job events are gathered for [`COALESCE`] and sent as one
//! message of at most [`MAX_EVENTS`]; beyond that, and when the client falls
//! behind the engine's event bus, they are counted in `dropped` (a client
//! that sees `dropped > 0` refetches what it shows). The dashboard, `amboy
//! watch` and scripts read the same messages.

use std::time::Duration;

use amboy::{Engine, Event, JobEvent, StatsSnapshot};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::{Sink, SinkExt as _, Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::same_origin;
use super::error::{ApiError, ErrorBody};

/// How long job events are gathered before they are sent.
pub const COALESCE: Duration = Duration::from_millis(250);
/// Most job events in one message.
pub const MAX_EVENTS: usize = 1_000;
/// A client that takes longer than this to take a message is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A message on the stream (JSON text frames, tagged by `type`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamMessage {
    /// Counts by queue and state and throughput, once a second.
    Stats(StatsSnapshot),
    /// Job events since the previous message.
    Jobs {
        /// In the order they happened.
        #[schema(value_type = Vec<Object>)]
        events: Vec<JobEvent>,
        /// Events not sent: more than fit in a message, or missed while the
        /// connection fell behind.
        dropped: u64,
    },
}

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// The upgrade, or a JSON error saying one is needed.
pub struct Upgrade(WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(Upgrade)
            .map_err(|err| {
                ApiError::new(
                    StatusCode::UPGRADE_REQUIRED,
                    "upgrade_required",
                    format!("this is a websocket endpoint: {err}"),
                )
            })
    }
}

/// Live stats (each second) and job events (coalesced) over a websocket.
/// Each text message is a JSON `StreamMessage`. Browsers must open it from
/// this server's own pages (`Origin`).
#[utoipa::path(get, path = "/stream", tag = "system",
    responses(
        (status = 101, description = "Switching to the websocket; then `StreamMessage`s", body = StreamMessage),
        (status = "4XX", body = ErrorBody),
    ),
    security(("bearer" = ["viewer"])))]
async fn stream(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Upgrade(upgrade): Upgrade,
) -> Result<Response, ApiError> {
    // A GET, so the policy's check of changes does not cover it, but a
    // page of another site must not read the stream with our cookie.
    if !same_origin(&headers) {
        return Err(ApiError::forbidden(
            "the stream opens only from this server's own pages",
        ));
    }
    let engine = state.engine.clone();
    let clients = state.stream_clients.clone();
    Ok(upgrade.on_upgrade(move |socket: WebSocket| async move {
        let _counted = Counted::new(clients);
        if let Err(err) = pump(socket, &engine).await {
            tracing::debug!(%err, "stream closed");
        }
    }))
}

/// Counts an open stream for as long as it lives, however its task ends.
struct Counted(prometheus::IntGauge);

impl Counted {
    fn new(gauge: prometheus::IntGauge) -> Self {
        gauge.inc();
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Sends the stream to `socket` until the client goes away or the engine
/// stops. Generic over the socket, so tests can drive it without a network.
pub async fn pump<S, E>(mut socket: S, engine: &Engine) -> Result<(), String>
where
    S: Sink<Message, Error = E> + Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut events = engine.subscribe();
    let latest = engine.stats().await.map_err(|err| err.to_string())?;
    send(&mut socket, &StreamMessage::Stats((*latest).clone())).await?;
    let mut batch: Vec<JobEvent> = Vec::new();
    let mut dropped = 0u64;
    let mut flush = tokio::time::interval(COALESCE);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(Event::Stats(snapshot)) => {
                    send(&mut socket, &StreamMessage::Stats((*snapshot).clone())).await?;
                }
                Ok(Event::Job(event)) if batch.len() < MAX_EVENTS => batch.push(event),
                Ok(Event::Job(_)) => dropped += 1,
                Err(RecvError::Lagged(missed)) => dropped += missed,
                Err(RecvError::Closed) => return Ok(()),
            },
            _ = flush.tick() => {
                if !batch.is_empty() || dropped > 0 {
                    let events = std::mem::take(&mut batch);
                    let message = StreamMessage::Jobs { events, dropped };
                    dropped = 0;
                    send(&mut socket, &message).await?;
                }
            }
            incoming = socket.next() => match incoming {
                // Pings are answered by the websocket layer; clients say
                // nothing else that matters.
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.to_string()),
            },
        }
    }
}

async fn send<S, E>(socket: &mut S, message: &StreamMessage) -> Result<(), String>
where
    S: Sink<Message, Error = E> + Unpin,
    E: std::fmt::Display,
{
    let text = serde_json::to_string(message).map_err(|err| err.to_string())?;
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(sent) => sent.map_err(|err| err.to_string()),
        Err(_) => Err(format!("the client read nothing for {SEND_TIMEOUT:?}")),
    }
}
