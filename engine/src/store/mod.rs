//! The store: every SQL statement the engine runs, behind named functions.
//!
//! Statements are written once with `$1`-style placeholders, in SQL both
//! backends read; everything that differs (row locking, placeholders, insert
//! sizes, signals, the migration lock) is in [`dialect`].
//!
//! Layout: [`put`] inserts jobs; [`claim`] promotes due retries and claims
//! ready jobs; [`finish`] writes batches of results; [`lock`] renews and
//! rescues locks; [`control`] aborts; [`manage`] retries, completes and
//! deletes; [`report`] counts by type and groups errors; [`read`] answers queries; [`queues`]
//! holds queue settings and the per-(queue, state) counters; [`process`]
//! registers engine processes; [`schedules`] holds schedules and their fire
//! rounds; [`signal`] tells other processes what changed; [`gauges`] reads
//! what the metrics' gauges show; [`expire`] ends jobs past their dispatch
//! deadline; [`retention`] prunes terminal jobs beyond a
//! queue's limits; [`deps`] writes dependency edges and scopes and settles
//! them when jobs end.

pub mod claim;
pub mod control;
pub mod deps;
pub mod dialect;
pub mod expire;
pub mod finish;
pub mod gauges;
pub mod lock;
pub mod manage;
pub mod process;
pub mod put;
pub mod queues;
pub mod read;
pub mod report;
pub mod retention;
pub mod schedules;
mod shared;
pub mod signal;
pub mod timing;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amboy_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

use crate::error::{Error, Result};
use crate::state::JobState;
use dialect::Dialect;

/// Prepared statements each SQLite connection keeps (sqlx keeps 100). A
/// batch statement has a text per padded row count (see
/// `dialect::padded_rows`) and per set of columns its rows share, and
/// preparing a 2,000-row one anew costs more than running it.
const SQLITE_STATEMENTS: usize = 400;
/// Reader connections for a SQLite file (readers never block the writer in WAL mode).
const SQLITE_READERS: u32 = 4;
/// Connections to PostgreSQL by default; on 2 cores a small pool beats a
/// large one. The signal listener uses one more of its own.
pub const DEFAULT_POSTGRES_POOL: u32 = 8;
/// Bounds of the PostgreSQL pool size.
pub const MIN_POSTGRES_POOL: u32 = 1;
/// See [`MIN_POSTGRES_POOL`].
pub const MAX_POSTGRES_POOL: u32 = 1_000;
/// Key of the PostgreSQL advisory lock held while migrating, so processes
/// starting together migrate one after another (the later ones find
/// nothing to do). Arbitrary; "amboy" in ASCII.
const MIGRATION_LOCK: i64 = 0x0061_6d62_6f79;
/// Rows inserted between two refreshes of PostgreSQL's planner statistics.
pub const ANALYZE_EVERY_ROWS: u64 = 10_000;
/// Rows a SQLite connection's thread hands over before it waits for the
/// engine to take them: a whole claim batch (at most 1,000 jobs). With
/// sqlx's default of 50 a large claim stopped and woke the engine twenty
/// times.
const SQLITE_ROW_BUFFER: usize = 1_024;
/// How long a SQLite connection waits on another process's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections to the database, split for SQLite into one writer and a few
/// readers: SQLite allows one writer at a time, and one connection that
/// never waits on a lock does as well as several that take turns.
#[derive(Clone)]
pub struct Store {
    write: DatabaseConnection,
    read: DatabaseConnection,
    dialect: Dialect,
    /// Where the database is (the signal listener opens its own connection).
    url: Arc<str>,
    /// Rows inserted since planner statistics were last refreshed.
    inserted_since_analyze: Arc<AtomicU64>,
    /// This process's queue runners, woken by put signals.
    wakers: Arc<signal::Wakers>,
}

// By hand: the URL may hold a password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// The condition of the partial indexes of settled jobs (see the
/// migration), stated word for word by the queries that use them.
pub(crate) use amboy_migrations::m20261130_000012_job_list_indexes::SETTLED;

/// The condition a result or a lock renewal of `$1`'s matches a job on
/// (with its id and claim count): still running, still owned by `$1`. In
/// `IS TRUE`, so that neither database reads it from the partial indexes of
/// running jobs: they would read every running job of the owner (all of a
/// process's, up to thousands, for each statement) where the rows' ids
/// find each job through the primary key.
pub(crate) const OWNED: &str = "(jobs.owner = $1 AND jobs.state = 'running') IS TRUE";

/// `state = '<state>'` as a literal: a partial index on one state serves a
/// query only when the planner can read the state (not a bound value).
pub(crate) fn state_literal(state: JobState) -> String {
    format!("state = '{}'", state.as_str())
}

/// Whether the database refused a write for a unique index (a duplicate id
/// or schedule, a scope held).
pub(crate) fn unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Whether SQLite refused to make a string or blob longer than its limit
/// (`SQLITE_TOOBIG`: 10⁹ bytes).
pub(crate) fn too_big(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            matches!(&**err, sqlx::Error::Database(db) if db.code().as_deref() == Some("18"))
        }
        _ => false,
    }
}

/// Changes to the per-(queue, state) counters, applied in the transaction
/// that changed the states.
#[derive(Debug, Default)]
pub struct CountDeltas(BTreeMap<(String, JobState), i64>);

impl CountDeltas {
    /// Records `n` jobs of `queue` moving from `from` to `to`.
    pub fn moved(&mut self, queue: &str, from: Option<JobState>, to: Option<JobState>, n: i64) {
        if n == 0 || from == to {
            return;
        }
        if let Some(from) = from {
            *self.0.entry((queue.to_owned(), from)).or_default() -= n;
        }
        if let Some(to) = to {
            *self.0.entry((queue.to_owned(), to)).or_default() += n;
        }
    }

    /// Applies the deltas: one statement per queue.
    pub async fn apply(self, store: &Store, txn: &DatabaseTransaction) -> Result<()> {
        self.apply_inner(store, txn, None).await
    }

    /// [`CountDeltas::apply`] for a put: a queue whose counters are gone —
    /// pruned while idle since this process learned of it, or while this
    /// transaction inserted its jobs — is created again first.
    pub async fn apply_creating(
        self,
        store: &Store,
        txn: &DatabaseTransaction,
        now: i64,
    ) -> Result<()> {
        self.apply_inner(store, txn, Some(now)).await
    }

    async fn apply_inner(
        self,
        store: &Store,
        txn: &DatabaseTransaction,
        create_missing_at: Option<i64>,
    ) -> Result<()> {
        let mut by_queue: BTreeMap<String, Vec<(JobState, i64)>> = BTreeMap::new();
        for ((queue, state), delta) in self.0 {
            if delta != 0 {
                by_queue.entry(queue).or_default().push((state, delta));
            }
        }
        for (queue, deltas) in by_queue {
            let stmt = counts_update(store, &queue, &deltas);
            let updated = txn.execute_raw(stmt.clone()).await?.rows_affected();
            if updated == 0
                && let Some(now) = create_missing_at
            {
                store.ensure_queues(txn, &[&queue], now).await?;
                txn.execute_raw(stmt).await?;
            }
        }
        Ok(())
    }
}

/// The statement adding `deltas` to `queue`'s counters.
fn counts_update(store: &Store, queue: &str, deltas: &[(JobState, i64)]) -> Statement {
    let mut values: Vec<Value> = vec![queue.into()];
    let mut cases = String::new();
    for (state, delta) in deltas {
        let n = values.len();
        cases.push_str(&format!(" WHEN ${} THEN ${}", n + 1, n + 2));
        values.push(state.as_str().into());
        values.push((*delta).into());
    }
    // The rows are picked by their delta, not by `state IN (…)`: SQLite
    // builds a temporary table for such a list, and the page it allocates
    // for it made glibc consolidate every small block the engine's threads
    // had freed since (~0.2 ms after a claim or a results batch).
    let sql = format!(
        "UPDATE queue_counts SET count = count + CASE state{cases} END \
         WHERE queue = $1 AND CASE state{cases} END IS NOT NULL"
    );
    store.stmt(&sql, values)
}

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size on PostgreSQL. SQLite always uses one writer and
    /// [`SQLITE_READERS`] readers.
    pub postgres_pool: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            postgres_pool: DEFAULT_POSTGRES_POOL,
        }
    }
}

impl Store {
    /// Connects with default options and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// Connects and brings the schema up to date.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store> {
        let store = Self::connect_without_migrating(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations, all in one transaction, so processes
    /// that start together take turns and the later ones find nothing to
    /// do: on SQLite the transaction holds the write lock from `BEGIN`; on
    /// PostgreSQL it takes an advisory lock first.
    pub async fn migrate(&self) -> Result<()> {
        let txn = self.begin().await?;
        if let Some(lock) = self.dialect.migration_lock(MIGRATION_LOCK) {
            txn.execute_raw(lock).await?;
        }
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Connects without touching the schema (for `amboy migrate` status and
    /// for processes that must not migrate).
    pub async fn connect_without_migrating(url: &str, options: &StoreOptions) -> Result<Store> {
        if url.starts_with("sqlite:") {
            let write = Database::connect(sqlite_options(url, 1)).await?;
            // WAL is a property of the file: set once, readers then see it.
            // Switching takes the file for a moment, and SQLite answers
            // "database is locked" at once (no busy wait) to a process that
            // asks while another one switches: ask again until the timeout.
            let deadline = std::time::Instant::now() + SQLITE_BUSY_TIMEOUT;
            loop {
                match write.execute_unprepared("PRAGMA journal_mode = WAL").await {
                    Ok(_) => break,
                    Err(err)
                        if err.to_string().contains("database is locked")
                            && std::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            let read = if url.contains(":memory:") || url.contains("mode=memory") {
                // Every connection to `:memory:` is its own database.
                write.clone()
            } else {
                Database::connect(sqlite_options(url, SQLITE_READERS)).await?
            };
            Ok(Store {
                write,
                read,
                dialect: Dialect::Sqlite,
                url: url.into(),
                inserted_since_analyze: Arc::default(),
                wakers: Arc::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            if !(MIN_POSTGRES_POOL..=MAX_POSTGRES_POOL).contains(&options.postgres_pool) {
                return Err(Error::InvalidInput {
                    field: "database pool size",
                    reason: format!(
                        "must be between {MIN_POSTGRES_POOL} and {MAX_POSTGRES_POOL} (got {})",
                        options.postgres_pool
                    ),
                });
            }
            let mut connect = ConnectOptions::new(url);
            connect
                .max_connections(options.postgres_pool)
                .sqlx_logging(false)
                .test_before_acquire(false);
            let write = Database::connect(connect).await?;
            Ok(Store {
                read: write.clone(),
                write,
                dialect: Dialect::Postgres,
                url: url.into(),
                inserted_since_analyze: Arc::default(),
                wakers: Arc::default(),
            })
        } else {
            Err(Error::InvalidInput {
                field: "database url",
                reason: format!(
                    "{url:?} is neither sqlite:… nor postgres://… (e.g. sqlite://amboy.db?mode=rwc)"
                ),
            })
        }
    }

    /// This process's queue runners' wake-ups.
    pub fn wakers(&self) -> &signal::Wakers {
        &self.wakers
    }

    /// Which database this is, and how its SQL differs.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The connection for writes.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.write
    }

    /// The connection for reads.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.read
    }

    /// A statement for this backend from `$n`-placeholder SQL.
    pub fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        self.dialect.stmt(sql, values)
    }

    /// Starts a write transaction. On SQLite it takes the write lock at
    /// `BEGIN`, so a transaction that reads first cannot fail to upgrade.
    pub async fn begin(&self) -> Result<DatabaseTransaction> {
        Ok(self
            .write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?)
    }

    /// Counts inserted rows and, on PostgreSQL, refreshes the planner's
    /// statistics of `jobs` (in the background) after every
    /// [`ANALYZE_EVERY_ROWS`]. With stale statistics after a bulk load the
    /// planner chose the priority index for FIFO claims and sorted every
    /// pending row: 49 ms per claim instead of 0.5 ms.
    pub(crate) fn note_inserted(&self, rows: usize) {
        if !self.dialect.analyzes_after_inserts() {
            return;
        }
        let rows = u64::try_from(rows).unwrap_or(u64::MAX);
        let before = self
            .inserted_since_analyze
            .fetch_add(rows, Ordering::Relaxed);
        if before + rows < ANALYZE_EVERY_ROWS {
            return;
        }
        self.inserted_since_analyze.store(0, Ordering::Relaxed);
        let conn = self.write.clone();
        tokio::spawn(async move {
            if let Err(err) = conn.execute_unprepared("ANALYZE jobs").await {
                tracing::warn!(%err, "could not refresh planner statistics");
            }
        });
    }

    /// Whether the schema is at the newest migration.
    pub async fn migrations_current(&self) -> Result<bool> {
        Ok(Migrator::get_pending_migrations(&self.write)
            .await?
            .is_empty())
    }
}

fn sqlite_options(url: &str, connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(1)
        .idle_timeout(None::<Duration>)
        .max_lifetime(None::<Duration>)
        .sqlx_logging(false)
        .test_before_acquire(false)
        .map_sqlx_sqlite_opts(|opts| {
            use sea_orm::sqlx::sqlite::SqliteSynchronous;
            opts.synchronous(SqliteSynchronous::Normal)
                .row_buffer_size(SQLITE_ROW_BUFFER)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .statement_cache_capacity(SQLITE_STATEMENTS)
        });
    options
}

/// A boolean column as a JSON `true` or `false` inside SQLite's JSON
/// functions, which would write the 1 or 0 SQLite stores.
pub(crate) fn json_bool(column: &str) -> String {
    format!("CASE WHEN {column} THEN json('true') ELSE json('false') END")
}

/// `$first, $first+1, …` for `n` values: an `IN (…)` list.
pub fn placeholders(first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 7);
    push_placeholders(&mut out, first, n);
    out
}

/// `($a, $b, …), (…)` rows for a `VALUES` list of `rows` × `width` values.
/// (Written into one buffer: a 2,000-row insert has 26,000 of them, and
/// formatting each into its own string was a tenth of a bulk put's time.)
pub fn value_rows(first: usize, rows: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * (width * 7 + 4));
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        push_placeholders(&mut out, first + row * width, width);
        out.push(')');
    }
    out
}

fn push_placeholders(out: &mut String, first: usize, n: usize) {
    use std::fmt::Write as _;
    for i in first..first + n {
        if i > first {
            out.push_str(", ");
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "${i}");
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, FromQueryResult};

    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(value_rows(1, 2, 2), "($1, $2), ($3, $4)");
    }

    /// A string past SQLite's length limit is told apart from other errors
    /// (the claim reads fewer jobs then).
    #[tokio::test]
    async fn strings_too_long_for_sqlite_are_recognised() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let run = |sql: &'static str| {
            store
                .writer()
                .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        };
        let err = run("SELECT zeroblob(1000000001) AS b").await.unwrap_err();
        assert!(too_big(&err), "{err}");
        let err = run("SELECT nothing FROM nowhere").await.unwrap_err();
        assert!(!too_big(&err), "{err}");
        assert!(run("SELECT zeroblob(1000) AS b").await.is_ok());
    }

    /// Counters change by their deltas, and SQLite runs the statement
    /// without a temporary table (read back from its program).
    #[tokio::test]
    async fn counter_updates_need_no_temporary_table() {
        #[derive(FromQueryResult)]
        struct Op {
            opcode: String,
        }
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let deltas = [
            (JobState::Running, -3),
            (JobState::Completed, 2),
            (JobState::Failed, 1),
        ];
        let stmt = counts_update(&store, "q", &deltas);
        let explain = Statement {
            sql: format!("EXPLAIN {}", stmt.sql),
            ..stmt.clone()
        };
        let program: Vec<String> = Op::find_by_statement(explain)
            .all(store.writer())
            .await
            .unwrap()
            .into_iter()
            .map(|op| op.opcode)
            .collect();
        assert!(
            program.iter().any(|op| op == "Update" || op == "Insert"),
            "{program:?}"
        );
        assert!(
            !program.iter().any(|op| op == "OpenEphemeral"),
            "{program:?}"
        );

        let txn = store.begin().await.unwrap();
        store.ensure_queues(&txn, &["q"], 0).await.unwrap();
        txn.execute_raw(stmt).await.unwrap();
        txn.commit().await.unwrap();
        #[derive(FromQueryResult)]
        struct Count {
            state: String,
            count: i64,
        }
        let counts: Vec<(String, i64)> = Count::find_by_statement(store.stmt(
            "SELECT state, count FROM queue_counts WHERE queue = 'q' AND count <> 0 ORDER BY state",
            vec![],
        ))
        .all(store.writer())
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.state, c.count))
        .collect();
        assert_eq!(
            counts,
            [
                ("completed".to_owned(), 2),
                ("failed".to_owned(), 1),
                ("running".to_owned(), -3)
            ]
        );
    }
}
