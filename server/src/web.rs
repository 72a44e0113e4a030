//! The dashboard over HTTP: Leptos pages rendered on the server and hydrated in
//! the browser, the `#[server]` functions they call, the static site cargo-leptos
//! builds (`target/site`: the wasm/JS/CSS bundle and `public/` assets), and a
//! 404 page for everything else.

use std::path::Path;
use std::sync::OnceLock;

use amboy_app::session::SessionView;
use amboy_app::{App, shell};
use anyhow::Context as _;
use axum::Router;
use axum::http::request::Parts;
use leptos::config::{LeptosOptions, get_config_from_str};
use leptos::prelude::{provide_context, use_context};

use crate::api::auth::Auth;
use leptos_axum::{
    AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context, generate_route_list,
};

/// The workspace manifest, compiled in: its `[[workspace.metadata.leptos]]`
/// section is where cargo-leptos decides the site's layout, so reading the same
/// section keeps the server in step with the bundle it built.
const WORKSPACE_MANIFEST: &str = include_str!("../../Cargo.toml");

/// The dashboard's routes, generated once per process.
///
/// Generating them renders the app while a process-wide flag in leptos_server
/// holds back every resource (leptos-rs/leptos#4773): a page that another router
/// in this process rendered at that moment would wait for its data forever.
/// Generating only once, before the first router exists, keeps that window
/// closed for servers and tests that build several routers.
static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();

/// The dashboard's router: every page route and server function, with `engine`
/// and the request's [`SessionView`] (worked out with `auth`) in each request's
/// Leptos context; the sign-in form's `POST /login` and `/logout`; and a
/// fallback that serves the built site's files and renders the 404 page for
/// unknown paths.
///
/// The router carries that fallback, so merge it into a router that has none
/// (axum refuses to merge two fallbacks).
pub fn dashboard_router(engine: amboy::Engine, auth: Auth) -> anyhow::Result<Router> {
    let options = leptos_options()?;
    let site_root = Path::new(&*options.site_root);
    if !site_root.is_dir() {
        tracing::warn!(
            site_root = %site_root.display(),
            "dashboard site files not found: pages render, but without scripts or styles; \
             build them with `make build` and start the server from the repository root"
        );
    }

    let sign_in = crate::login::routes(auth.clone());
    let context = move || {
        provide_context(engine.clone());
        // Leptos provides the request's parts before this runs.
        let role = use_context::<Parts>()
            .and_then(|parts| auth.identify(&parts.headers).ok().flatten())
            .map(|(role, _)| role.as_str().to_owned());
        provide_context(SessionView {
            auth_required: !auth.is_open(),
            role,
        });
    };
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let router = Router::new()
        .leptos_routes_with_context(&options, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context(context, shell))
        .with_state(options)
        .merge(sign_in);
    Ok(router)
}

/// Reads the site options the way `get_configuration` does (the manifest's
/// values, overridden by `LEPTOS_*` variables, which cargo-leptos sets when it
/// starts the server), but from the compiled-in manifest, so the binary works
/// when started directly and not only under cargo-leptos.
///
/// `get_configuration(None)` would not do: outside a cargo-leptos build it has no
/// output name, and the pages would link a bundle that does not exist.
fn leptos_options() -> anyhow::Result<LeptosOptions> {
    let manifest: toml::Table =
        toml::from_str(WORKSPACE_MANIFEST).context("parsing the workspace manifest")?;
    let site = manifest
        .get("workspace")
        .and_then(|workspace| workspace.get("metadata"))
        .and_then(|metadata| metadata.get("leptos"))
        .and_then(toml::Value::as_array)
        .and_then(|sites| sites.first())
        .and_then(toml::Value::as_table)
        .context("the workspace manifest has no [[workspace.metadata.leptos]] section")?;
    leptos_options_from_site(site)
}

/// Builds the options from one `[[workspace.metadata.leptos]]` table.
fn leptos_options_from_site(site: &toml::Table) -> anyhow::Result<LeptosOptions> {
    let mut site = site.clone();
    // cargo-leptos names the bundle after the site unless `output-name` says
    // otherwise; leptos_config has no such default, so spell it out.
    if !site.contains_key("output-name") {
        let name = site
            .get("name")
            .cloned()
            .context("the [[workspace.metadata.leptos]] section has no `name`")?;
        site.insert("output-name".to_owned(), name);
    }
    let text = format!(
        "[package.metadata.leptos]\n{}",
        toml::to_string(&site).context("re-encoding the Leptos site settings")?
    );
    get_config_from_str(&text).context("reading the Leptos site settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_manifest_configures_the_site() {
        let options = leptos_options().expect("the workspace manifest is valid");
        assert!(!options.output_name.is_empty());
        assert!(!options.site_root.is_empty());
        assert_eq!(
            options.css_path(),
            format!("/pkg/{}.css", options.output_name)
        );
    }

    #[test]
    fn output_name_defaults_to_the_site_name() {
        let site: toml::Table =
            toml::from_str("name = \"demo\"\nsite-root = \"out\"").expect("valid TOML");
        let options = leptos_options_from_site(&site).expect("valid site settings");
        assert_eq!(&*options.output_name, "demo");
        assert_eq!(&*options.site_root, "out");
    }

    #[test]
    fn an_explicit_output_name_wins() {
        let site: toml::Table =
            toml::from_str("name = \"demo\"\noutput-name = \"bundle\"").expect("valid TOML");
        let options = leptos_options_from_site(&site).expect("valid site settings");
        assert_eq!(&*options.output_name, "bundle");
    }
}
