//! Everything that differs between SQLite and PostgreSQL, in one place. The
//! rest of the store writes one SQL text for both and asks this module for
//! the few fragments and sizes that differ.

use sea_orm::{DbBackend, Statement, Value};

use super::shared::Shared;
use super::{placeholders, value_rows};
use crate::error::{Error, Result};

/// Bytes of array literals bound by one PostgreSQL statement, so that with
/// the protocol's framing the message fits one TLS record (16 KiB). sqlx
/// sends each record of a TLS connection on its own and does not set
/// TCP_NODELAY: the second record of a message waits for the server to
/// acknowledge the first, which it delays by 40 ms when the segments are
/// small, as a loopback's 64 KiB segments make them (a 300-row insert ran
/// at 6,700 jobs/s, a 100-row one at 93,000; arrays of 60 KiB at 9,000).
const POSTGRES_TABLE_BYTES: usize = 15 * 1024;
/// Most rows of a SQLite `VALUES` list.
const SQLITE_ROWS: usize = 2_000;
/// Most values SQLite binds in one statement.
const SQLITE_MAX_VALUES: usize = 32_766;

/// Ids sent with one statement, for an `IN` test.
#[derive(Debug)]
pub struct IdList {
    /// The test, to follow the column: `IN ($n, …)` or `= ANY($n::text[])`.
    pub sql: String,
    /// The values the statement binds: the leading ones, then the list's.
    pub values: Vec<Value>,
    /// How many ids it holds.
    pub len: usize,
}

/// Rows sent with one statement as a table named `v`, with columns
/// `column1`, `column2`, … (what SQLite and PostgreSQL call a `VALUES`
/// list's columns).
#[derive(Debug)]
pub struct Table {
    /// The table, to follow `FROM` or `JOIN` (it ends with `AS v` or `AS v (…)`).
    pub sql: String,
    /// The values the statement binds: the leading ones, then the table's.
    pub values: Vec<Value>,
    /// How many rows it holds.
    pub rows: usize,
}

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

    /// `values` — rows of `types.len()` values each — as the tables of as
    /// many statements as they need. `leading` are the values the statement
    /// binds before the table (`$1`…): each table's values start with them
    /// and its parameters are numbered after them. `types` are the columns'
    /// PostgreSQL types (`text`, `int4`, `int8`, `bool`). SQLite reads a
    /// `VALUES` list of up to 2,000 rows, padded with NULL rows (see
    /// [`sqlite_tables`]): a table's first column is never NULL. PostgreSQL
    /// reads one array per column, unnested, in messages of at most
    /// [`POSTGRES_TABLE_BYTES`]: as many rows as fit, whatever their
    /// size, and a statement text that doesn't change with the number of
    /// rows, so it is parsed and planned once per connection, not once per
    /// batch size with a plan for hundreds of parameters.
    ///
    /// A column whose value every row shares (other than the first) is
    /// bound once, after `leading`, not once a row: a put's jobs share all
    /// but their ids and payloads, a burn-down's results all but their ids
    /// and times, and SQLite's 2,000-row insert ran ~45 % faster binding two
    /// values a row than thirteen. The table's text then names which
    /// columns are shared, so a statement has a few texts, not one.
    pub fn tables(
        self,
        types: &[&str],
        values: Vec<Value>,
        leading: &[Value],
    ) -> Result<Vec<Table>> {
        let width = types.len();
        if width == 0 || !values.len().is_multiple_of(width) {
            return Err(Error::Internal(format!(
                "{} values do not make rows of {width}",
                values.len()
            )));
        }
        let split = Shared::split(values, width);
        // Bound before the rows: the leading values, then the shared ones.
        let before: Vec<Value> = leading.iter().chain(&split.values).cloned().collect();
        let first = before.len() + 1;
        let rows_width = split.varying.len();
        // `v`'s columns from the rows' (`t`'s) and the shared values, when
        // any are shared. The first column is always the rows' first.
        let projection = (!split.shared.is_empty()).then(|| {
            let columns: Vec<String> = (0..width)
                .map(|column| match split.shared.binary_search(&column) {
                    Ok(k) => format!(
                        "{} AS column{}",
                        self.typed(leading.len() + 1 + k, types[column]),
                        column + 1
                    ),
                    Err(_) => {
                        let from = split.varying.partition_point(|&c| c < column) + 1;
                        format!("t.column{from} AS column{}", column + 1)
                    }
                })
                .collect();
            columns.join(", ")
        });
        match self {
            Dialect::Sqlite => Ok(
                sqlite_tables(split.rows, &before, rows_width, Padding::Nulls)
                    .into_iter()
                    .map(|(values, rows, padded)| Table {
                        // The padding rows are all NULL: the filter drops them.
                        sql: format!(
                            "(SELECT {} FROM (VALUES {}) AS t WHERE t.column1 IS NOT NULL) AS v",
                            projection.as_deref().unwrap_or("*"),
                            value_rows(first, padded, rows_width)
                        ),
                        values,
                        rows,
                    })
                    .collect(),
            ),
            Dialect::Postgres => {
                let unnest = {
                    let arrays: Vec<String> = split
                        .varying
                        .iter()
                        .enumerate()
                        .map(|(i, &column)| format!("${}::{}[]", first + i, types[column]))
                        .collect();
                    let columns: Vec<String> =
                        (1..=rows_width).map(|i| format!("column{i}")).collect();
                    let rows = format!("unnest({}) AS ", arrays.join(", "));
                    match &projection {
                        None => format!("{rows}v ({})", columns.join(", ")),
                        Some(projection) => format!(
                            "(SELECT {projection} FROM {rows}t ({})) AS v",
                            columns.join(", ")
                        ),
                    }
                };
                // What the statement binds besides the arrays counts too
                // (a payload every row shares is sent once, but sent).
                let budget = POSTGRES_TABLE_BYTES
                    .saturating_sub(before.iter().map(value_bytes).sum::<usize>());
                let mut tables = Vec::new();
                let mut columns = vec![String::from("{"); rows_width];
                let mut rows = 0usize;
                let mut cells = vec![String::new(); rows_width];
                for row in split.rows.chunks(rows_width) {
                    for (cell, value) in cells.iter_mut().zip(row) {
                        cell.clear();
                        array_element(cell, value)?;
                    }
                    let size: usize = columns.iter().chain(&cells).map(|c| c.len() + 1).sum();
                    if rows > 0 && size > budget {
                        tables.push(close_arrays(&unnest, &before, &mut columns, rows));
                        rows = 0;
                    }
                    for (column, cell) in columns.iter_mut().zip(&cells) {
                        if rows > 0 {
                            column.push(',');
                        }
                        column.push_str(cell);
                    }
                    rows += 1;
                }
                if rows > 0 {
                    tables.push(close_arrays(&unnest, &before, &mut columns, rows));
                }
                Ok(tables)
            }
        }
    }

    /// Placeholder `$n` as a value of `ty` (a PostgreSQL type): cast on
    /// PostgreSQL, which would otherwise infer a bare parameter's type from
    /// where it is used; as it is on SQLite, which has no such types.
    fn typed(self, n: usize, ty: &str) -> String {
        match self {
            Dialect::Sqlite => format!("${n}"),
            Dialect::Postgres => format!("${n}::{ty}"),
        }
    }

    /// `ids` as the lists of as many statements as they need, after the
    /// `leading` values as in [`Dialect::tables`]: up to 2,000 ids on
    /// SQLite; on PostgreSQL one array in a message of at most
    /// [`POSTGRES_TABLE_BYTES`] (see [`Dialect::tables`]).
    pub fn id_lists<S: AsRef<str>>(self, ids: &[S], leading: &[Value]) -> Result<Vec<IdList>> {
        let first = leading.len() + 1;
        let values: Vec<Value> = ids.iter().map(|id| Value::from(id.as_ref())).collect();
        Ok(match self {
            Dialect::Sqlite => sqlite_tables(values, leading, 1, Padding::RepeatLast)
                .into_iter()
                .map(|(values, len, padded)| IdList {
                    sql: format!("IN ({})", placeholders(first, padded)),
                    values,
                    len,
                })
                .collect(),
            Dialect::Postgres => self
                .tables(&["text"], values, leading)?
                .into_iter()
                .map(|table| IdList {
                    sql: format!("= ANY(${first}::text[])"),
                    values: table.values,
                    len: table.rows,
                })
                .collect(),
        })
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

/// How a SQLite statement's rows are padded to a size from a few (see
/// [`padded_rows`]).
#[derive(Clone, Copy)]
enum Padding {
    /// With rows of NULLs, which the statement's table filters out.
    Nulls,
    /// With the last row again: an `IN` list means the same with it.
    RepeatLast,
}

/// `values`, rows of `width`, split into the values of as many SQLite
/// statements as they need after `leading`, each with its count of real
/// rows and of rows once padded.
///
/// A statement's text names each bound value, so a list of every length
/// would be a statement of its own: prepared anew for each batch size
/// (SQLite's parse and plan of a 400-row `VALUES` list cost more than
/// running it) and crowding the connection's statement cache. Padded to
/// a size from a few, the texts repeat and stay prepared.
fn sqlite_tables(
    values: Vec<Value>,
    leading: &[Value],
    width: usize,
    padding: Padding,
) -> Vec<(Vec<Value>, usize, usize)> {
    let per_table = SQLITE_ROWS.min((SQLITE_MAX_VALUES - leading.len()) / width);
    let mut tables = Vec::with_capacity((values.len() / width).div_ceil(per_table));
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        let mut table: Vec<Value> = leading
            .iter()
            .cloned()
            .chain(values.by_ref().take(per_table * width))
            .collect();
        let rows = (table.len() - leading.len()) / width;
        let padded = padded_rows(rows).min(per_table);
        let fill = match padding {
            Padding::Nulls => vec![Value::String(None); width],
            Padding::RepeatLast => table[table.len() - width..].to_vec(),
        };
        for _ in rows..padded {
            table.extend(fill.iter().cloned());
        }
        tables.push((table, rows, padded));
    }
    tables
}

/// The size a statement of `rows` rows is padded to: up to 4 as it is,
/// then a power of two or three quarters of one (6, 8, 12, 16, 24, …): at
/// most half as many rows again as hold data, a fifth more on average.
fn padded_rows(rows: usize) -> usize {
    if rows <= 4 {
        return rows;
    }
    let power = rows.next_power_of_two();
    if rows <= power / 4 * 3 {
        power / 4 * 3
    } else {
        power
    }
}

/// The table of the arrays in `columns` (each an open `{…` literal of
/// `rows` elements), bound after `leading`; the arrays start again empty.
fn close_arrays(unnest: &str, leading: &[Value], columns: &mut [String], rows: usize) -> Table {
    let values = leading
        .iter()
        .cloned()
        .chain(columns.iter_mut().map(|column| {
            column.push('}');
            Value::from(std::mem::replace(column, String::from("{")))
        }))
        .collect();
    Table {
        sql: unnest.to_owned(),
        values,
        rows,
    }
}

/// Appends `value` as an element of a PostgreSQL array literal: text in
/// double quotes with `"` and `\` escaped, numbers and booleans as
/// written, `NULL` for none.
fn array_element(out: &mut String, value: &Value) -> Result<()> {
    match value {
        Value::String(Some(text)) => {
            out.reserve(text.len() + 2);
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Value::Int(Some(n)) => out.push_str(&n.to_string()),
        Value::BigInt(Some(n)) => out.push_str(&n.to_string()),
        Value::Bool(Some(b)) => out.push(if *b { 't' } else { 'f' }),
        Value::String(None) | Value::Int(None) | Value::BigInt(None) | Value::Bool(None) => {
            out.push_str("NULL");
        }
        other => {
            return Err(Error::Internal(format!(
                "{other:?} cannot be sent in an array"
            )));
        }
    }
    Ok(())
}

/// About how many bytes `value` takes in a PostgreSQL message.
fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(Some(text)) => text.len(),
        _ => 8,
    }
}

/// Rewrites `$n` placeholders to anonymous `?`s, repeating values that are
/// used more than once. When the text uses every value once, in order (as
/// bulk statements do), the values are kept as they are, not copied.
fn positional(sql: &str, values: Vec<Value>) -> (String, Vec<Value>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::with_capacity(values.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len() - at - 1, |end| end);
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(n) if (1..=values.len()).contains(&n) => {
                out.push('?');
                order.push(n - 1);
            }
            // Not a placeholder we bound: leave the text as it was.
            _ => out.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    let in_order = order.len() == values.len() && order.iter().enumerate().all(|(i, &n)| i == n);
    if in_order {
        return (out, values);
    }
    let ordered = order.into_iter().map(|n| values[n].clone()).collect();
    (out, ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_tables_are_values_lists_within_its_bind_limit() {
        let tables = Dialect::Sqlite
            .tables(
                &["text", "int8"],
                vec!["a".into(), 1i64.into(), "b".into(), 2i64.into()],
                &["owner".into(), 0i64.into()],
            )
            .unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(
            tables[0].sql,
            "(SELECT * FROM (VALUES ($3, $4), ($5, $6)) AS t WHERE t.column1 IS NOT NULL) AS v"
        );
        assert_eq!(tables[0].values.len(), 2 + 4);
        assert_eq!(tables[0].values[..2], [Value::from("owner"), 0i64.into()]);
        assert_eq!(tables[0].rows, 2);

        let wide = ["int8"; 20];
        let values: Vec<Value> = (0..20 * 3_000).map(|i| Value::from(i64::from(i))).collect();
        let tables = Dialect::Sqlite.tables(&wide, values, &[]).unwrap();
        // 32,766 values make 1,638 rows of 20; the other 1,362 rows are
        // padded with NULL rows to 1,536.
        let rows: Vec<(usize, usize)> = tables
            .iter()
            .map(|t| (t.rows, t.values.len() / 20))
            .collect();
        assert_eq!(rows, [(1_638, 1_638), (1_362, 1_536)]);
        assert_eq!(tables[1].values[0], Value::from(1_638i64 * 20));
        assert_eq!(tables[1].values[1_362 * 20], Value::String(None));
    }

    #[test]
    fn postgres_tables_are_arrays_with_elements_quoted_and_nulls_kept() {
        let values = vec![
            Value::from(r#"say "hi" \ {a,b}"#),
            Value::from(7i32),
            Value::from(None::<i64>),
            Value::from(true),
            Value::from(None::<String>),
            Value::from(-8i32),
            Value::from(9i64),
            Value::from(false),
        ];
        let tables = Dialect::Postgres
            .tables(&["text", "int4", "int8", "bool"], values, &["owner".into()])
            .unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(
            tables[0].sql,
            "unnest($2::text[], $3::int4[], $4::int8[], $5::bool[]) AS v (column1, column2, column3, column4)"
        );
        assert_eq!(
            tables[0].values,
            [
                Value::from("owner"),
                Value::from(r#"{"say \"hi\" \\ {a,b}",NULL}"#),
                Value::from("{7,-8}"),
                Value::from("{NULL,9}"),
                Value::from("{t,f}"),
            ]
        );
    }

    #[test]
    fn columns_every_row_shares_are_bound_once() {
        let row = |id: &str, queue: &str, payload: &str, at: Option<i64>| -> Vec<Value> {
            vec![id.into(), queue.into(), payload.into(), at.into()]
        };
        let types = ["text", "text", "text", "int8"];
        let values = || {
            [
                row("a", "q", "{}", None),
                row("b", "q", "[1]", None),
                row("c", "q", "{}", None),
            ]
            .concat()
        };
        let sqlite = Dialect::Sqlite
            .tables(&types, values(), &["owner".into()])
            .unwrap();
        assert_eq!(
            sqlite[0].sql,
            "(SELECT t.column1 AS column1, $2 AS column2, t.column2 AS column3, $3 AS column4 \
             FROM (VALUES ($4, $5), ($6, $7), ($8, $9)) AS t WHERE t.column1 IS NOT NULL) AS v"
        );
        assert_eq!(sqlite[0].values.len(), 1 + 2 + 6);
        assert_eq!(
            sqlite[0].values[..3],
            ["owner".into(), "q".into(), Value::from(None::<i64>)]
        );
        let postgres = Dialect::Postgres
            .tables(&types, values(), &["owner".into()])
            .unwrap();
        assert_eq!(
            postgres[0].sql,
            "(SELECT t.column1 AS column1, $2::text AS column2, t.column2 AS column3, \
             $3::int8 AS column4 FROM unnest($4::text[], $5::text[]) AS t (column1, column2)) AS v"
        );
        assert_eq!(
            postgres[0].values[3..],
            [
                Value::from(r#"{"a","b","c"}"#),
                Value::from(r#"{"{}","[1]","{}"}"#)
            ]
        );
    }

    #[test]
    fn postgres_tables_fit_one_tls_record() {
        let text = "x".repeat(10_000);
        let values: Vec<Value> = (0..20)
            .flat_map(|i| [Value::from(text.clone()), Value::from(i64::from(i))])
            .collect();
        let tables = Dialect::Postgres
            .tables(&["text", "int8"], values, &[])
            .unwrap();
        assert!(tables.len() >= 4, "{} tables", tables.len());
        let mut numbers = Vec::new();
        for table in &tables {
            let bytes: usize = table
                .values
                .iter()
                .map(|v| match v {
                    Value::String(Some(s)) => s.len(),
                    other => panic!("{other:?}"),
                })
                .sum();
            assert!(bytes <= POSTGRES_TABLE_BYTES, "{bytes} bytes");
            let Value::String(Some(column)) = &table.values[1] else {
                unreachable!()
            };
            numbers.push(column.clone());
        }
        let numbers: Vec<String> = numbers
            .iter()
            .flat_map(|c| {
                c.trim_matches(['{', '}'])
                    .split(',')
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(numbers, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    /// A value every row shares is sent once, but it is sent: the arrays
    /// beside it get what is left of the message.
    #[test]
    fn postgres_tables_leave_room_for_shared_values() {
        let payload = "p".repeat(10_000);
        let values: Vec<Value> = (0..1_000)
            .flat_map(|i| {
                [
                    Value::from(format!("job-{i:05}")),
                    Value::from(payload.clone()),
                ]
            })
            .collect();
        let tables = Dialect::Postgres
            .tables(&["text", "text"], values, &[])
            .unwrap();
        let mut rows = 0;
        for table in &tables {
            let bytes: usize = table.values.iter().map(value_bytes).sum();
            assert!(bytes <= POSTGRES_TABLE_BYTES, "{bytes} bytes");
            assert_eq!(table.values[0], Value::from(payload.clone()));
            rows += table.rows;
        }
        assert_eq!(rows, 1_000);
    }

    #[test]
    fn id_lists_are_in_lists_or_arrays() {
        let ids = ["a", r#"b"c"#];
        let now = [Value::from(5i64)];
        let sqlite = Dialect::Sqlite.id_lists(&ids, &now).unwrap();
        assert_eq!(sqlite.len(), 1);
        assert_eq!(sqlite[0].sql, "IN ($2, $3)");
        assert_eq!(
            sqlite[0].values,
            [Value::from(5i64), Value::from("a"), Value::from(r#"b"c"#)]
        );
        let postgres = Dialect::Postgres.id_lists(&ids, &now).unwrap();
        assert_eq!(postgres.len(), 1);
        assert_eq!(postgres[0].sql, "= ANY($2::text[])");
        assert_eq!(
            postgres[0].values,
            [Value::from(5i64), Value::from(r#"{"a","b\"c"}"#)]
        );
        assert_eq!(postgres[0].len, 2);

        let many: Vec<String> = (0..5_000).map(|i| format!("{i:0>36}")).collect();
        let lists = Dialect::Postgres.id_lists(&many, &[]).unwrap();
        assert!(lists.len() > 1);
        assert_eq!(lists.iter().map(|l| l.len).sum::<usize>(), 5_000);
        let lists = Dialect::Sqlite.id_lists(&many, &[]).unwrap();
        assert_eq!(
            lists.iter().map(|l| l.len).collect::<Vec<_>>(),
            [2_000, 2_000, 1_000]
        );
        // The last list is padded to 1,024 with its last id again.
        assert_eq!(lists[2].values.len(), 1_024);
        assert_eq!(lists[2].values[1_023], Value::from(many[4_999].as_str()));
        assert!(lists[2].sql.ends_with(", $1024)"), "{}", lists[2].sql);
    }

    /// Statement sizes come from a few, with at most half as many rows again.
    #[test]
    fn sqlite_statements_are_padded_to_a_few_sizes() {
        let sizes: Vec<usize> = [1, 4, 5, 6, 7, 9, 13, 17, 300, 384, 385, 1_000]
            .into_iter()
            .map(padded_rows)
            .collect();
        assert_eq!(sizes, [1, 4, 6, 6, 8, 12, 16, 24, 384, 384, 512, 1_024]);
        for rows in 1..=SQLITE_ROWS {
            let padded = padded_rows(rows);
            assert!(
                padded >= rows && padded * 2 <= rows * 3,
                "{rows} → {padded}"
            );
        }
        let distinct: std::collections::BTreeSet<usize> =
            (1..=SQLITE_ROWS).map(padded_rows).collect();
        assert!(distinct.len() <= 25, "{distinct:?}");
    }

    #[test]
    fn rows_must_fill_the_columns() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let err = dialect
                .tables(&["text", "int8"], vec!["a".into()], &[])
                .unwrap_err();
            assert!(err.to_string().contains("rows of 2"), "{err}");
        }
    }

    #[test]
    fn numbered_placeholders_become_positional() {
        let (sql, values) = positional(
            "UPDATE t SET a = $2 WHERE b = $1 OR c = $2 AND d = '$x'",
            vec![1i64.into(), 2i64.into()],
        );
        assert_eq!(sql, "UPDATE t SET a = ? WHERE b = ? OR c = ? AND d = '$x'");
        assert_eq!(values, vec![Value::from(2i64), 1i64.into(), 2i64.into()]);
        // Every value once, in order: kept as bound.
        let (sql, values) = positional(
            "INSERT INTO t VALUES ($1, $2), ($3, $4)",
            vec!["a".into(), 1i64.into(), "b".into(), 2i64.into()],
        );
        assert_eq!(sql, "INSERT INTO t VALUES (?, ?), (?, ?)");
        assert_eq!(
            values,
            vec![Value::from("a"), 1i64.into(), "b".into(), 2i64.into()]
        );
        // As many uses as values, but not each once: copied as used.
        let (sql, values) = positional("SELECT $1, $1", vec![1i64.into(), 2i64.into()]);
        assert_eq!(sql, "SELECT ?, ?");
        assert_eq!(values, vec![Value::from(1i64), 1i64.into()]);
    }
}
