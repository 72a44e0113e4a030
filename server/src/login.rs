//! The dashboard's sign-in form: `POST /login` trades a token (form field
//! `token`) for the same session cookie as `POST /api/v1/session`, then
//! sends the browser back where it was going (`next`, a path on this
//! server); a wrong token goes back to the form with an error. `POST
//! /logout` ends the session. Plain HTML forms, so signing in works before
//! (and without) the page's scripts.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use crate::api::auth::{Auth, CLEARED_SESSION_COOKIE, over_https};
use crate::client::encode;

/// What the sign-in form sends.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login` and `POST /logout`.
pub fn routes(auth: Auth) -> Router {
    Router::new()
        .route("/login", post(sign_in))
        .route("/logout", post(sign_out))
        .with_state(Arc::new(auth))
}

/// `next` when it is a path on this server; `/` otherwise. Never another
/// site: `//host`, backslashes, and whitespace or control characters
/// (browsers drop tabs and newlines from URLs, so `/\t/host` would become
/// `//host`) are refused.
pub fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_whitespace() || c.is_control()) =>
        {
            path
        }
        _ => "/",
    }
}

/// The sign-in page, coming back to `next` afterwards (with the refusal
/// of a wrong token, when `refused`).
pub fn sign_in_page(next: &str, refused: bool) -> String {
    let error = if refused { "error=invalid&" } else { "" };
    format!("/login?{error}next={}", encode(next))
}

/// A `303 See Other` to `location`, setting `cookie` when given.
pub fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn sign_in(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    let next = local_path(form.next.as_deref());
    match auth.role_of_token(form.token.trim()) {
        Some(role) => see_other(next, Some(auth.session_cookie(role, over_https(&headers)))),
        None => see_other(&sign_in_page(next, true), None),
    }
}

async fn sign_out() -> Response {
    see_other("/login", Some(CLEARED_SESSION_COOKIE.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/jobs?state=failed")), "/jobs?state=failed");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/\n/evil.example")), "/");
        assert_eq!(local_path(Some("/ /evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
