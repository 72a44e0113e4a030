//! `http`: a webhook call with a timeout and an expected status.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::job::{Job, JobContext, JobError, truncate};

/// Default request timeout when the payload gives none.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// How much of a response body an error message quotes.
const BODY_EXCERPT_BYTES: usize = 512;

/// Calls a URL. Payload:
/// `{"url": "https://…", "method": "POST", "headers": {…}, "body": …,
/// "timeout_ms": 10000, "expect_status": 204}`.
/// Any 2xx succeeds unless `expect_status` is given. A connection error or
/// an unexpected status is retried with the job's back-off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// An absolute `http` or `https` URL.
    pub url: HttpUrl,
    /// The method; `GET` by default.
    #[serde(default = "default_method")]
    pub method: HttpMethod,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body: a string is sent as is, anything else as JSON.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Request timeout in milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// The status that counts as success; any 2xx when absent.
    #[serde(default)]
    pub expect_status: Option<u16>,
}

fn default_method() -> HttpMethod {
    HttpMethod(reqwest::Method::GET)
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// An absolute `http(s)` URL, checked when the payload is decoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpUrl(reqwest::Url);

impl TryFrom<String> for HttpUrl {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let url = reqwest::Url::parse(&value).map_err(|err| format!("url {value:?}: {err}"))?;
        match url.scheme() {
            "http" | "https" => Ok(HttpUrl(url)),
            other => Err(format!(
                "url {value:?}: scheme {other:?} is not http or https"
            )),
        }
    }
}

impl From<HttpUrl> for String {
    fn from(url: HttpUrl) -> Self {
        url.0.into()
    }
}

/// An HTTP method name, checked when the payload is decoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HttpMethod(reqwest::Method);

impl TryFrom<String> for HttpMethod {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        reqwest::Method::from_bytes(value.to_ascii_uppercase().as_bytes())
            .map(HttpMethod)
            .map_err(|_| format!("method {value:?} is not an HTTP method"))
    }
}

impl From<HttpMethod> for String {
    fn from(method: HttpMethod) -> Self {
        method.0.as_str().to_owned()
    }
}

/// One client per process: connection pools are reused across jobs.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

impl Job for Http {
    const NAME: &'static str = "http";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let mut request = client()
            .request(self.method.0.clone(), self.url.0.clone())
            .timeout(Duration::from_millis(self.timeout_ms));
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request = match &self.body {
            Some(serde_json::Value::String(text)) => request.body(text.clone()),
            Some(json) => request.json(json),
            None => request,
        };
        let response = tokio::select! {
            response = request.send() => response.map_err(|err| JobError::retry(format!("request failed: {err}")))?,
            () = ctx.cancelled() => return Err(JobError::retry("cancelled")),
        };
        let status = response.status();
        let ok = match self.expect_status {
            Some(expected) => status.as_u16() == expected,
            None => status.is_success(),
        };
        ctx.log(format!("{} {} → {status}", self.method.0, self.url.0))
            .await;
        if ok {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let expected = self
            .expect_status
            .map_or_else(|| "2xx".to_owned(), |code| code.to_string());
        Err(JobError::retry(format!(
            "status {status}, expected {expected}: {}",
            truncate(body, BODY_EXCERPT_BYTES)
        )))
    }
}
