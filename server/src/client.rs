//! The CLI's HTTP client for the REST API: `--url` (env `AMBOY_URL`,
//! default `http://127.0.0.1:3000`), the token from `AMBOY_TOKEN`. Errors
//! come back as the API's message.

use std::time::Duration;

pub use amboy_app::url::encode;
use anyhow::Context as _;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where `amboy serve` is when not told.
pub const DEFAULT_URL: &str = "http://127.0.0.1:3000";

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:3000`).
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Client> {
        let base = base.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base)
            .with_context(|| format!("--url {base:?} is not a URL like {DEFAULT_URL}"))?;
        let http = reqwest::Client::builder()
            // Long enough for `jobs wait` (the server caps waits at 5 minutes).
            .timeout(Duration::from_secs(330))
            .build()?;
        Ok(Client {
            http,
            base,
            token: token.filter(|t| !t.is_empty()),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| {
            format!(
                "could not reach amboy at {} (is `amboy serve` running? set --url or AMBOY_URL)",
                self.base
            )
        })?;
        let status = response.status();
        let text = response.text().await?;
        if status.is_success() {
            return Ok((status, text));
        }
        Err(refused(status, &text))
    }

    /// A request whose answer is JSON.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> anyhow::Result<T> {
        let (_, text) = self.send(method, path, body).await?;
        serde_json::from_str(&text)
            .with_context(|| format!("unexpected answer from the server: {text}"))
    }

    /// A `GET` whose answer is JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// A request whose answer has no body (204).
    pub async fn call_empty(&self, method: Method, path: &str) -> anyhow::Result<()> {
        self.send(method, path, None::<&()>).await.map(|_| ())
    }
}

/// The API's refusal as an error: its message (from the JSON envelope, or
/// the body as it is), with a hint when a token is missing.
fn refused(status: StatusCode, body: &str) -> anyhow::Error {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{status} {body}"));
    let hint = match status {
        StatusCode::UNAUTHORIZED => " (set AMBOY_TOKEN)",
        _ => "",
    };
    anyhow::anyhow!("{message}{hint}")
}

/// A websocket to the server.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Client {
    /// Opens `/api/v1/stream` (`ws://`, or `wss://` for an `https` server).
    pub async fn stream(&self) -> anyhow::Result<Socket> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        use tokio_tungstenite::tungstenite::http::HeaderValue;

        let url = format!("{}/api/v1/stream", self.base);
        let url = match url.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => url,
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .with_context(|| format!("{url} is not a websocket URL"))?;
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .context("AMBOY_TOKEN holds characters a header cannot")?;
            request.headers_mut().insert("authorization", value);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                Err(refused(response.status(), &body))
            }
            Err(err) => Err(err).with_context(|| {
                format!(
                    "could not open the stream at {url} (is `amboy serve` running? set --url or AMBOY_URL)"
                )
            }),
        }
    }
}
