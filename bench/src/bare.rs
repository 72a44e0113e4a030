//! The yardstick: the same burn-down and bulk enqueue done by sea-orm alone
//! (raw statements through `ConnectionTrait`, no engine), batched the way
//! DESIGN.md describes — claims of `CLAIM_BATCH` jobs in one statement, one
//! completer flushing every `FLUSH_EVERY` or `FLUSH_IDS` ids — on a table
//! that holds only what a queue cannot do without (id, queue, state,
//! priority, payload) and one partial claim index. No attempts, counters,
//! locks, events or retries: what the database and sea-orm cost by
//! themselves on this machine, measured in the same sitting as the engine,
//! so the engine's figures can be read as a fraction of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, FromQueryResult,
    Statement, Value,
};
use tokio::sync::{Mutex, mpsc};

use crate::{JOBS, PUT_BATCH, WORKERS};

/// Jobs per claim statement.
const CLAIM_BATCH: i64 = 500;
/// Ids per completion statement at most.
const FLUSH_IDS: usize = 1_000;
/// Longest a finished id waits for its completion statement.
const FLUSH_EVERY: Duration = Duration::from_millis(5);
/// Rows per insert statement on PostgreSQL: its messages stay under 64 KB
/// (sqlx leaves Nagle's algorithm on, and a larger message stalls 40 ms).
const PG_INSERT_ROWS: usize = 1_000;
/// Rows per insert statement on SQLite (the engine's own limit).
const SQLITE_INSERT_ROWS: usize = 2_000;
/// Connections on PostgreSQL (DESIGN.md: ~4 beats more on 2 cores).
const PG_CONNECTIONS: u32 = 4;

/// Bulk-enqueues `JOBS` rows, then burns them down; returns (enqueue/s,
/// burn-down/s).
pub async fn burn_down(url: &str) -> anyhow::Result<(f64, f64)> {
    let conn = connect(url).await?;
    let backend = conn.get_database_backend();
    for sql in schema(backend) {
        conn.execute_unprepared(&sql).await?;
    }
    let enqueue = load(&conn).await?;
    let burn = run(&conn).await?;
    let done = conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM jobs WHERE state = 'completed'",
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or_default();
    anyhow::ensure!(
        done == JOBS as i64,
        "bare sea-orm: only {done} of {JOBS} rows completed"
    );
    conn.close().await?;
    Ok((enqueue, burn))
}

async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).test_before_acquire(false);
    if url.starts_with("sqlite") {
        // One writer connection: what SQLite does best with.
        options.max_connections(1).map_sqlx_sqlite_opts(|opts| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        });
    } else {
        options.max_connections(PG_CONNECTIONS);
    }
    Ok(Database::connect(options).await?)
}

fn schema(backend: DbBackend) -> [String; 2] {
    let id = match backend {
        DbBackend::Postgres => "BIGSERIAL",
        _ => "INTEGER",
    };
    [
        format!(
            "CREATE TABLE jobs (id {id} PRIMARY KEY, queue TEXT NOT NULL, \
             state TEXT NOT NULL, priority INTEGER NOT NULL, payload TEXT NOT NULL)"
        ),
        "CREATE INDEX jobs_ready ON jobs (queue, priority DESC, id) WHERE state = 'pending'"
            .to_owned(),
    ]
}

/// Inserts `JOBS` pending rows in `PUT_BATCH`-row transactions; returns rows/s.
async fn load(conn: &DatabaseConnection) -> anyhow::Result<f64> {
    let backend = conn.get_database_backend();
    let rows_per_statement = match backend {
        DbBackend::Postgres => PG_INSERT_ROWS,
        _ => SQLITE_INSERT_ROWS,
    };
    let started = Instant::now();
    for _ in 0..JOBS / PUT_BATCH {
        let txn = sea_orm::TransactionTrait::begin(conn).await?;
        for _ in 0..PUT_BATCH / rows_per_statement {
            let mut sql = String::from("INSERT INTO jobs (queue, state, priority, payload) VALUES ");
            let mut values: Vec<Value> = Vec::with_capacity(rows_per_statement * 2);
            for row in 0..rows_per_statement {
                if row > 0 {
                    sql.push_str(", ");
                }
                let n = values.len();
                sql.push_str(&match backend {
                    DbBackend::Postgres => format!("(${}, 'pending', 0, ${})", n + 1, n + 2),
                    // Numbered parameters cost SQLite a linear search each.
                    _ => "(?, 'pending', 0, ?)".to_owned(),
                });
                values.extend(["bench".into(), "{}".into()]);
            }
            txn.execute_raw(Statement::from_sql_and_values(backend, &sql, values))
                .await?;
        }
        txn.commit().await?;
    }
    let rate = JOBS as f64 / started.elapsed().as_secs_f64();
    let analyze = match backend {
        DbBackend::Postgres => "ANALYZE jobs",
        _ => "ANALYZE",
    };
    conn.execute_unprepared(analyze).await?;
    Ok(rate)
}

#[derive(FromQueryResult)]
struct Claimed {
    id: i64,
    payload: String,
}

/// Burns the rows down: a claimer hands claimed jobs to `WORKERS` tasks that
/// each "run" one and pass its id to one completer.
async fn run(conn: &DatabaseConnection) -> anyhow::Result<f64> {
    let backend = conn.get_database_backend();
    let claim = match backend {
        DbBackend::Postgres => {
            "UPDATE jobs SET state = 'running' WHERE id = ANY(ARRAY(\
             SELECT id FROM jobs WHERE queue = $1 AND state = 'pending' \
             ORDER BY priority DESC, id LIMIT $2 FOR UPDATE SKIP LOCKED)) \
             RETURNING id, payload"
        }
        _ => {
            "UPDATE jobs SET state = 'running' WHERE id IN (\
             SELECT id FROM jobs WHERE queue = $1 AND state = 'pending' \
             ORDER BY priority DESC, id LIMIT $2 + 0) RETURNING id, payload"
        }
    };
    let complete = match backend {
        DbBackend::Postgres => "UPDATE jobs SET state = 'completed' WHERE id = ANY($1::bigint[])",
        _ => {
            "UPDATE jobs SET state = 'completed' \
             WHERE id IN (SELECT value FROM json_each($1))"
        }
    };
    let started = Instant::now();
    let (job_tx, job_rx) = mpsc::channel::<Claimed>(CLAIM_BATCH as usize * 2);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<i64>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            tokio::spawn(async move {
                loop {
                    let Some(job) = job_rx.lock().await.recv().await else {
                        break;
                    };
                    // A no-op: it only reads its payload.
                    std::hint::black_box(job.payload.len());
                    if done_tx.send(job.id).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(done_tx);
    let completed = Arc::new(AtomicUsize::new(0));
    let completer = {
        let (conn, completed) = (conn.clone(), completed.clone());
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(FLUSH_IDS);
            while completed.load(Ordering::Relaxed) < JOBS {
                let deadline = tokio::time::sleep(FLUSH_EVERY);
                tokio::pin!(deadline);
                while ids.len() < FLUSH_IDS {
                    tokio::select! {
                        id = done_rx.recv() => match id {
                            Some(id) => ids.push(id),
                            None => break,
                        },
                        () = &mut deadline => break,
                    }
                }
                if ids.is_empty() {
                    continue;
                }
                let list = id_list(backend, &ids);
                conn.execute_raw(Statement::from_sql_and_values(
                    backend,
                    complete,
                    [list.into()],
                ))
                .await?;
                completed.fetch_add(ids.len(), Ordering::Relaxed);
                ids.clear();
            }
            anyhow::Ok(())
        })
    };
    let mut claimed = 0;
    while claimed < JOBS {
        let jobs = Claimed::find_by_statement(Statement::from_sql_and_values(
            backend,
            claim,
            ["bench".into(), CLAIM_BATCH.into()],
        ))
        .all(conn)
        .await?;
        if jobs.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        claimed += jobs.len();
        for job in jobs {
            job_tx.send(job).await?;
        }
    }
    drop(job_tx);
    completer.await??;
    let rate = JOBS as f64 / started.elapsed().as_secs_f64();
    for worker in workers {
        worker.await?;
    }
    Ok(rate)
}

/// The ids as one parameter: a JSON array for SQLite's `json_each`, an
/// array literal for PostgreSQL.
fn id_list(backend: DbBackend, ids: &[i64]) -> String {
    let inner = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    match backend {
        DbBackend::Postgres => format!("{{{inner}}}"),
        _ => format!("[{inner}]"),
    }
}
