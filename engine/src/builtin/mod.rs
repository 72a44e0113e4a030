//! Built-in job types: `noop` and `sleep` (demos, tests, benchmarks), `http`
//! (webhook calls), `shell` (commands; off unless enabled) and `group`
//! (sub-jobs of other types in one job).

pub mod group;
pub mod http;
pub mod shell;
pub mod sleep;

use crate::registry::Registry;

/// Adds every built-in type to `registry`.
pub(crate) fn register(registry: &mut Registry) {
    registry.register::<sleep::Noop>();
    registry.register::<sleep::Sleep>();
    registry.register::<http::Http>();
    registry.register::<shell::Shell>();
    registry.register::<group::Group>();
}
