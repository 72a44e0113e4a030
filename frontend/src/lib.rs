//! The browser half of the amboy dashboard: the wasm module cargo-leptos builds
//! and the server's pages load. It only hydrates; every page lives in `amboy-app`.

// The dashboard's view types nest deeply (each page is one type); the release
// build's layout queries need more than the default 128 levels.
#![recursion_limit = "256"]

/// Attaches the dashboard to the server-rendered HTML; called by the generated JS.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(amboy_app::App);
}
