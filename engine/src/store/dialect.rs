//! Everything that differs between SQLite and PostgreSQL, in one place. The
//! rest of the store writes one SQL text for both and asks this module for
//! the few fragments and sizes that differ.

use sea_orm::{DbBackend, Statement, Value};

/// Which SQL the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// One process, one writer: no row locks, no notifications.
    Sqlite,
    /// Many processes: row locks skipped, not waited on; `LISTEN`/`NOTIFY`.
    Postgres,
}

impl Dialect {
    /// A statement from `$n`-placeholder SQL. SQLite looks numbered
    /// parameters up by a linear scan per bind, which made a statement of n
    /// numbered parameters cost O(n²) to bind (2,000-row inserts ran ten
    /// times slower than 250-row ones), so they become anonymous `?`s.
    pub fn stmt(self, sql: &str, values: Vec<Value>) -> Statement {
        match self {
            Dialect::Sqlite => {
                let (sql, values) = positional(sql, values);
                Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
            }
            Dialect::Postgres => Statement::from_sql_and_values(DbBackend::Postgres, sql, values),
        }
    }

    /// The `WHERE` condition that picks the rows `pick` (a `SELECT id …`)
    /// selects, for an `UPDATE` that claims them. On PostgreSQL rows another
    /// process is claiming are skipped, not waited on; SQLite has one writer
    /// at a time and no row locks to skip.
    pub fn claim_target(self, pick: &str) -> String {
        match self {
            Dialect::Sqlite => format!("id IN ({pick})"),
            Dialect::Postgres => format!("id = ANY(ARRAY({pick} FOR UPDATE SKIP LOCKED))"),
        }
    }

    /// Appended to a `SELECT` whose rows the transaction will change, so
    /// processes doing the same skip them.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Appended to a `SELECT` whose rows the transaction will change, so a
    /// concurrent change (a claim) finishes first and the rows are read as
    /// it left them.
    pub fn row_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to a `SELECT` of a row used as a mutex (it is not changed):
    /// other holders wait, but rows that only reference it (a queue's
    /// counters, inserted with a foreign key) do not.
    pub fn mutex_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// Rows per multi-row statement (an `INSERT`, a `VALUES` list of
    /// results). SQLite allows 32,766 bound values. On PostgreSQL, sqlx does
    /// not set TCP_NODELAY, so a message longer than a loopback segment
    /// (~64 KiB) waits ~40 ms for a delayed ACK: 300-row inserts ran at
    /// 6,700 jobs/s, 100-row ones at ~93,000 (`make bench`).
    pub fn rows_per_statement(self) -> usize {
        match self {
            Dialect::Sqlite => 2_000,
            Dialect::Postgres => 100,
        }
    }

    /// Whether processes signal each other through the database.
    pub fn signals(self) -> bool {
        self == Dialect::Postgres
    }

    /// A statement run first in the migrating transaction so processes take
    /// turns, if the transaction itself does not already ensure that (on
    /// SQLite `BEGIN IMMEDIATE` holds the write lock).
    pub fn migration_lock(self, key: i64) -> Option<Statement> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => {
                Some(self.stmt("SELECT pg_advisory_xact_lock($1)", vec![key.into()]))
            }
        }
    }

    /// Whether the planner's statistics need refreshing after bulk inserts
    /// (PostgreSQL's autovacuum lags a bulk load; SQLite plans without them).
    pub fn analyzes_after_inserts(self) -> bool {
        self == Dialect::Postgres
    }
}

/// Rewrites `$n` placeholders to anonymous `?`s, repeating values that are
/// used more than once.
fn positional(sql: &str, values: Vec<Value>) -> (String, Vec<Value>) {
    let mut out = String::with_capacity(sql.len());
    let mut ordered = Vec::with_capacity(values.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - at - 1, |end| end);
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(n) if (1..=values.len()).contains(&n) => {
                out.push('?');
                ordered.push(values[n - 1].clone());
            }
            // Not a placeholder we bound: leave the text as it was.
            _ => out.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    (out, ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_placeholders_become_positional() {
        let (sql, values) = positional(
            "UPDATE t SET a = $2 WHERE b = $1 OR c = $2 AND d = '$x'",
            vec![1i64.into(), 2i64.into()],
        );
        assert_eq!(sql, "UPDATE t SET a = ? WHERE b = ? OR c = ? AND d = '$x'");
        assert_eq!(values, vec![Value::from(2i64), 1i64.into(), 2i64.into()]);
    }
}
