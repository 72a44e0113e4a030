//! `/metrics` and the HTTP half of the metrics: a request counter and a
//! latency histogram by route (the route's pattern, never its path, so ids
//! don't become labels), method and status, and the number of stream
//! clients, all in the engine's registry. The same middleware opens a
//! tracing span per request.

use std::time::Instant;

use amboy::Engine;
use anyhow::Context as _;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts};
use tracing::Instrument;

/// Buckets for request latency (seconds): 0.5 ms to 30 s (waits are long).
pub const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `route` label of requests no route matched (static files, 404s).
pub const UNMATCHED_ROUTE: &str = "fallback";

/// The HTTP metrics, registered in an engine's registry.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    /// Open `/api/v1/stream` connections.
    pub stream_clients: IntGauge,
}

impl HttpMetrics {
    /// Registers the HTTP metrics in `engine`'s registry (once per engine).
    pub fn register(engine: &Engine) -> anyhow::Result<HttpMetrics> {
        let labels = ["route", "method", "status"];
        let metrics = HttpMetrics {
            requests: IntCounterVec::new(
                Opts::new("amboy_http_requests_total", "HTTP requests answered."),
                &labels,
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "amboy_http_request_duration_seconds",
                    "How long HTTP requests took to answer.",
                )
                .buckets(HTTP_BUCKETS.to_vec()),
                &labels,
            )?,
            stream_clients: IntGauge::new(
                "amboy_stream_clients",
                "Open /api/v1/stream websocket connections.",
            )?,
        };
        let registry = engine.metrics().registry();
        registry
            .register(Box::new(metrics.requests.clone()))
            .and_then(|()| registry.register(Box::new(metrics.duration.clone())))
            .and_then(|()| registry.register(Box::new(metrics.stream_clients.clone())))
            .context("registering the HTTP metrics (once per engine)")?;
        Ok(metrics)
    }
}

/// Counts and times each request under its route's pattern, inside a span
/// naming it.
pub async fn track(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    // Clients may invent methods: only the standard ones become labels.
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => request.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let span = tracing::info_span!("request", %method, %route);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    let labels = [route.as_str(), method.as_str(), status.as_str()];
    metrics.requests.with_label_values(&labels).inc();
    metrics
        .duration
        .with_label_values(&labels)
        .observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "answered"
        );
    });
    response
}

/// `GET /metrics`: the engine's registry in the Prometheus text format.
pub fn routes(engine: Engine) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(engine)
}

async fn render(State(engine): State<Engine>) -> Response {
    match engine.render_metrics().await {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(err) => {
            // A scrape that fails shows as `up == 0` in Prometheus.
            tracing::warn!(%err, "could not read metrics");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "metrics unavailable: the database did not answer",
            )
                .into_response()
        }
    }
}
