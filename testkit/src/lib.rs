//! Test support shared by amboy's crates (never a dependency of the
//! product): a fresh database per test on each backend, waiting with a
//! deadline instead of sleeping, and a TCP proxy that can cut every
//! connection to PostgreSQL, for fault tests that must not restart the
//! server other tests share.

mod proxy;

use std::future::Future;
use std::time::Duration;

pub use proxy::{Proxy, through, upstream};

/// The PostgreSQL the tests use: `AMBOY_TEST_POSTGRES_URL`, or the local
/// server with trust auth. Each test creates its own database there.
pub fn postgres_admin_url() -> String {
    std::env::var("AMBOY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database a test owns: a temporary SQLite file (removed with it) or a
/// fresh PostgreSQL database (`make unit` drops leftovers before a run).
#[derive(Debug)]
pub struct TestDb {
    /// Where it is.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The backends tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// The shared PostgreSQL server, a database per test.
    Postgres,
}

impl Backend {
    /// A new, empty database.
    pub async fn fresh(self) -> TestDb {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("amboy.db").display()
                );
                TestDb {
                    url,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => postgres_database("").await,
        }
    }
}

/// A fresh PostgreSQL database that orders text by ICU `en-US` rules
/// (`a` < `A` < `b`), as many production databases do, where the test
/// databases otherwise compare bytes.
pub async fn fresh_postgres_linguistic() -> TestDb {
    postgres_database(" LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0").await
}

/// Creates a database on the test server with `options` after its name.
async fn postgres_database(options: &str) -> TestDb {
    use sea_orm::ConnectionTrait;
    let admin_url = postgres_admin_url();
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL at {admin_url}: {err}"));
    let name = format!("amboy_test_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}{options}"))
        .await
        .expect("create test database");
    TestDb {
        url: with_database(&admin_url, &name),
        _dir: None,
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    format!("{base}/{name}")
}

/// Polls `check` until it returns `Some`, failing with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
