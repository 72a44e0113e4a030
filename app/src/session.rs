//! Who is looking: the sign-in page (`/login`) and the header's note of
//! the signed-in role with its sign-out button.
//!
//! Signing in and out are plain HTML forms posting to the server's `/login`
//! and `/logout` (not server functions: they set the session cookie and
//! redirect), so they work before the page hydrates. The server tells the
//! page who is signed in through [`SessionView`], which it provides per
//! request from the request's own credentials.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What the page knows about the session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Whether the server requires tokens at all.
    pub auth_required: bool,
    /// `viewer` or `operator`, when signed in.
    pub role: Option<String>,
}

/// The current request's session, as the server worked it out.
#[server(prefix = "/fn", endpoint = "session")]
pub async fn current_session() -> Result<SessionView, ServerFnError> {
    use_context::<SessionView>()
        .ok_or_else(|| ServerFnError::new("the server did not say who is signed in"))
}

/// Whether this page may change things: tokens are off, or an operator is
/// signed in.
pub fn may_change() -> Signal<bool> {
    let session = Resource::new(|| (), |()| current_session());
    Signal::derive(move || {
        session
            .get()
            .and_then(Result::ok)
            .is_some_and(|s| !s.auth_required || s.role.as_deref() == Some("operator"))
    })
}

/// The signed-in role and a sign-out button, when the server uses tokens.
#[component]
pub fn SessionBadge() -> impl IntoView {
    let session = Resource::new(|| (), |()| current_session());
    view! {
        <Transition fallback=|| ()>
            {move || {
                session
                    .get()
                    .and_then(Result::ok)
                    .filter(|s| s.auth_required)
                    .and_then(|s| s.role)
                    .map(|role| {
                        view! {
                            <div class="session">
                                <span class="role" data-testid="role">{role}</span>
                                <form method="post" action="/logout">
                                    <button type="submit" class="link-button">"Sign out"</button>
                                </form>
                            </div>
                        }
                    })
            }}
        </Transition>
    }
}

/// The sign-in page. The server sends browsers here when a page needs a
/// token they don't have, with `next` saying where they were going; a
/// refused token comes back with `error`.
#[component]
pub fn Login() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    let refused = move || query.read().get("error").is_some();
    view! {
        <section class="login">
            <h1>"Sign in"</h1>
            <p class="hint">
                "This server asks for a token. A viewer token shows everything; an operator \
                 token also changes things. Your browser keeps the session for 12 hours."
            </p>
            {move || {
                refused()
                    .then(|| {
                        view! {
                            <p class="status error" role="alert" data-testid="login-error">
                                "That token is not valid. Check it and try again."
                            </p>
                        }
                    })
            }}
            <form method="post" action="/login" class="login-form">
                <label for="token">"Token"</label>
                <input
                    id="token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    required
                    autofocus
                />
                <input type="hidden" name="next" value=next />
                <button type="submit">"Sign in"</button>
            </form>
        </section>
    }
}
