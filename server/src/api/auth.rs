//! Who may do what: viewer and operator tokens (`Authorization: Bearer`), or
//! a browser session cookie obtained by trading a token at
//! `POST /api/v1/session`. Reads need a viewer, changes an operator. With
//! no tokens configured everything is open (and `serve` then listens on
//! loopback only). Changes from a browser must come from the same origin.
//!
//! Tokens are compared as SHA-256 digests in constant time and never
//! logged. Session cookies are signed (HMAC-SHA256) with a key derived from
//! the configured tokens, so every process with the same tokens accepts
//! them, and changing the tokens ends every session.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "amboy_session";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Read and change everything.
    Operator,
}

impl Role {
    /// `viewer` or `operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// At least this role.
    Role(Role),
}

/// The access policy, for the whole HTTP surface: health checks, the API's
/// own document, the session endpoints (API and sign-in form) and the
/// dashboard's static files are public; reads — API reads, previews (which
/// change nothing), dashboard pages and their reading server functions
/// (`/fn/…`) — need a viewer; every other change, the dashboard's changing
/// server functions (`/fn/op/…`) included, an operator.
pub fn required(method: &Method, path: &str) -> Access {
    let public = matches!(
        path,
        "/healthz"
            | "/readyz"
            | "/api/v1/openapi.json"
            | "/api/v1/session"
            | "/favicon.svg"
            | "/login"
            | "/logout"
    ) || path.starts_with("/pkg/");
    if public {
        Access::Public
    } else if method == Method::GET
        || method == Method::HEAD
        || path == "/api/v1/schedules/preview"
        || (path.starts_with("/fn/") && !path.starts_with("/fn/op/"))
    {
        Access::Role(Role::Viewer)
    } else {
        Access::Role(Role::Operator)
    }
}

/// The configured tokens, as digests, and the session key.
#[derive(Clone)]
pub struct Auth {
    viewers: Vec<[u8; 32]>,
    operators: Vec<[u8; 32]>,
    key: [u8; 32],
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("viewers", &self.viewers.len())
            .field("operators", &self.operators.len())
            .finish_non_exhaustive()
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl Auth {
    /// From the configured tokens (empty strings are ignored).
    pub fn new(viewer_tokens: &[String], operator_tokens: &[String]) -> Auth {
        let clean = |tokens: &[String]| -> Vec<String> {
            tokens
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect()
        };
        let (viewers, operators) = (clean(viewer_tokens), clean(operator_tokens));
        // The key must be something no viewer knows: the operator tokens
        // (the same in every process, so sessions work across them), or,
        // with none configured, a random key of this process.
        let mut hasher = Sha256::new();
        hasher.update(b"amboy session key\0");
        if operators.is_empty() {
            hasher.update(uuid::Uuid::new_v4().as_bytes());
            hasher.update(uuid::Uuid::new_v4().as_bytes());
        } else {
            let mut sorted: Vec<&String> = operators.iter().collect();
            sorted.sort();
            for token in sorted {
                hasher.update(token.as_bytes());
                hasher.update(b"\0");
            }
        }
        Auth {
            viewers: viewers.iter().map(|t| digest(t)).collect(),
            operators: operators.iter().map(|t| digest(t)).collect(),
            key: hasher.finalize().into(),
        }
    }

    /// True when no token is configured: everything is open.
    pub fn is_open(&self) -> bool {
        self.viewers.is_empty() && self.operators.is_empty()
    }

    /// The role a token grants, comparing against every configured token
    /// in constant time.
    pub fn role_of_token(&self, token: &str) -> Option<Role> {
        let d = digest(token);
        let matches = |set: &[[u8; 32]]| {
            set.iter()
                .fold(subtle::Choice::from(0), |found, t| found | t.ct_eq(&d))
                .into()
        };
        if matches(&self.operators) {
            Some(Role::Operator)
        } else if matches(&self.viewers) {
            Some(Role::Viewer)
        } else {
            None
        }
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        mac
    }

    /// A signed session cookie value for `role`, valid for [`SESSION_TTL`].
    pub fn session(&self, role: Role) -> String {
        let expires = (SystemTime::now() + SESSION_TTL)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let message = format!("{}.{expires}", role.as_str());
        let tag = self.mac(&message).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("{message}.{hex}")
    }

    /// The `Set-Cookie` value of a new session for `role` (`Secure` when
    /// the request came over HTTPS through a proxy).
    pub fn session_cookie(&self, role: Role, secure: bool) -> String {
        format!(
            "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            self.session(role),
            SESSION_TTL.as_secs(),
            if secure { "; Secure" } else { "" }
        )
    }

    /// The role of a session cookie value, if it is genuine and unexpired.
    fn role_of_session(&self, value: &str) -> Option<Role> {
        let (message, hex) = value.rsplit_once('.')?;
        let (role, expires) = message.split_once('.')?;
        let tag: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect::<Option<_>>()?;
        self.mac(message).verify_slice(&tag).ok()?;
        let expires: u64 = expires.parse().ok()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        if now >= expires {
            return None;
        }
        match role {
            "viewer" => Some(Role::Viewer),
            "operator" if !self.operators.is_empty() => Some(Role::Operator),
            _ => None,
        }
    }

    /// Who the request is: its role (operator for everyone when open), and
    /// whether a session cookie (a browser) says so.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Option<(Role, bool)>, ApiError> {
        if self.is_open() {
            return Ok(Some((Role::Operator, false)));
        }
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(ApiError::unauthorized)?;
            return self
                .role_of_token(token.trim())
                .map(|role| Some((role, false)))
                .ok_or_else(ApiError::unauthorized);
        }
        Ok(session_cookie(headers)
            .and_then(|value| self.role_of_session(value))
            .map(|role| (role, true)))
    }
}

/// The `Set-Cookie` value that ends a session.
pub const CLEARED_SESSION_COOKIE: &str =
    "amboy_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Whether a request came over HTTPS (through a proxy that says so): its
/// session cookie is then `Secure`.
pub fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A browser asking for a page (not the API, a server function, a file or
/// the metrics): sent to the sign-in page rather than told 401.
fn page_navigation(request: &Request) -> bool {
    let path = request.uri().path();
    let accepts_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    matches!(*request.method(), Method::GET | Method::HEAD)
        && accepts_html
        && !["/api/", "/fn/", "/pkg/", "/metrics"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
}

/// The sign-in page, coming back to where the browser wanted to go.
fn to_sign_in(request: &Request) -> Response {
    let next = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    crate::login::see_other(&crate::login::sign_in_page(next, false), None)
}

/// The session cookie's value, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
}

/// A change sent by a browser from another origin (cross-site request
/// forgery) is refused; clients without `Origin` (CLI, scripts) pass.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The middleware enforcing [`required`].
pub async fn enforce(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let access = required(request.method(), request.uri().path());
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes && !same_origin(request.headers()) {
        return ApiError::forbidden("cross-origin changes are refused").into_response();
    }
    let Access::Role(needed) = access else {
        return next.run(request).await;
    };
    match auth.identify(request.headers()) {
        Ok(Some((role, _))) if role >= needed => next.run(request).await,
        Ok(Some((role, _))) => ApiError::forbidden(format!(
            "this needs the {} role; the credentials given are a {}'s",
            needed.as_str(),
            role.as_str()
        ))
        .into_response(),
        Ok(None) if page_navigation(&request) => to_sign_in(&request),
        Ok(None) => ApiError::unauthorized().into_response(),
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_grant_their_role() {
        let auth = Auth::new(&["v1".into(), " ".into()], &["o1".into(), "o2".into()]);
        assert!(!auth.is_open());
        assert_eq!(auth.role_of_token("o2"), Some(Role::Operator));
        assert_eq!(auth.role_of_token("v1"), Some(Role::Viewer));
        assert_eq!(auth.role_of_token("v2"), None);
        assert_eq!(auth.role_of_token(""), None);
        assert!(Auth::new(&[], &["".into()]).is_open());
    }

    #[test]
    fn sessions_are_signed_and_tied_to_the_tokens() {
        let auth = Auth::new(&["v".into()], &["o".into()]);
        let session = auth.session(Role::Viewer);
        assert_eq!(auth.role_of_session(&session), Some(Role::Viewer));
        let forged = session.replacen("viewer", "operator", 1);
        assert_eq!(auth.role_of_session(&forged), None);
        let rotated = Auth::new(&["v".into()], &["o2".into()]);
        assert_eq!(rotated.role_of_session(&session), None);
        // A viewer knows every viewer token: that must not let them sign.
        let viewers_only = Auth::new(&["v".into()], &[]);
        let mut forged_key = Sha256::new();
        forged_key.update(b"amboy session key\0");
        forged_key.update(b"v\0");
        let forger = Auth {
            key: forged_key.finalize().into(),
            ..viewers_only.clone()
        };
        let forged = forger.session(Role::Operator);
        assert_eq!(viewers_only.role_of_session(&forged), None);
        assert_eq!(
            viewers_only.role_of_session(&viewers_only.session(Role::Operator)),
            None,
            "no operator sessions without operator tokens"
        );
        assert_eq!(auth.role_of_session("operator.99999999999.00"), None);
        assert_eq!(auth.role_of_session("garbage"), None);
    }

    #[test]
    fn the_policy() {
        assert_eq!(
            required(&Method::GET, "/api/v1/openapi.json"),
            Access::Public
        );
        assert_eq!(required(&Method::GET, "/healthz"), Access::Public);
        assert_eq!(required(&Method::GET, "/pkg/amboy.wasm"), Access::Public);
        assert_eq!(required(&Method::GET, "/"), Access::Role(Role::Viewer));
        assert_eq!(
            required(&Method::POST, "/fn/queue_counts"),
            Access::Role(Role::Viewer)
        );
        assert_eq!(
            required(&Method::POST, "/fn/op/pause_queue"),
            Access::Role(Role::Operator)
        );
        assert_eq!(
            required(&Method::GET, "/api/v1/jobs"),
            Access::Role(Role::Viewer)
        );
        assert_eq!(
            required(&Method::POST, "/api/v1/jobs"),
            Access::Role(Role::Operator)
        );
        assert_eq!(
            required(&Method::POST, "/api/v1/schedules/preview"),
            Access::Role(Role::Viewer)
        );
    }
}
