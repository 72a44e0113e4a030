//! Queue rows, their settings, and the per-(queue, state) counters.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, FromQueryResult};

use super::signal::Signal;
use super::{Store, placeholders};
use crate::error::{Error, Result};
use crate::queue::{Queue, QueueRule, QueueRules, QueueSettings};
use crate::state::JobState;

#[derive(FromQueryResult)]
struct QueueRow {
    name: String,
    concurrency: i32,
    ordering: String,
    paused: bool,
    lock_timeout_ms: i64,
    rate_limit_per_sec: Option<f64>,
    retention_max_jobs: Option<i64>,
    retention_max_age_ms: Option<i64>,
    idle_ttl_ms: Option<i64>,
    rule: Option<String>,
}

impl QueueRow {
    fn into_queue(self) -> Result<Queue> {
        Ok(Queue {
            name: self.name,
            settings: QueueSettings {
                concurrency: self.concurrency,
                ordering: self
                    .ordering
                    .parse()
                    .map_err(|err: Error| Error::Internal(err.to_string()))?,
                paused: self.paused,
                lock_timeout_ms: self.lock_timeout_ms,
                rate_limit_per_sec: self.rate_limit_per_sec,
                retention_max_jobs: self.retention_max_jobs,
                retention_max_age_ms: self.retention_max_age_ms,
                idle_ttl_ms: self.idle_ttl_ms,
            },
            rule: self.rule,
        })
    }
}

const QUEUE_COLUMNS: &str = "name, concurrency, ordering, paused, lock_timeout_ms, \
    rate_limit_per_sec, retention_max_jobs, retention_max_age_ms, idle_ttl_ms, rule";

/// The columns a queue's settings are stored in, after `name`, and their
/// values in that order: `$2`… in statements that bind the name as `$1`.
const SETTING_COLUMNS: &str = "concurrency, ordering, paused, lock_timeout_ms, \
    rate_limit_per_sec, retention_max_jobs, retention_max_age_ms, idle_ttl_ms";

fn setting_values(s: &QueueSettings) -> [sea_orm::Value; 8] {
    [
        s.concurrency.into(),
        s.ordering.as_str().into(),
        s.paused.into(),
        s.lock_timeout_ms.into(),
        s.rate_limit_per_sec.into(),
        s.retention_max_jobs.into(),
        s.retention_max_age_ms.into(),
        s.idle_ttl_ms.into(),
    ]
}

/// `column = $n, …` for the settings columns, from `$2`.
fn setting_assignments() -> String {
    SETTING_COLUMNS
        .split(", ")
        .map(str::trim)
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 2))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Creates each queue that doesn't exist yet, with the settings of the
    /// first queue rule its name matches (or the defaults) and a zero
    /// counter per state. Existing queues keep their settings.
    pub async fn ensure_queues(
        &self,
        conn: &impl ConnectionTrait,
        names: &[&str],
        now: i64,
    ) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let rules = self.compiled_rules(conn).await?;
        let default = QueueSettings::default();
        for name in names {
            let rule = rules.matching(name);
            let settings = rule.map_or(&default, |rule| &rule.settings);
            let mut values = vec![(*name).into()];
            values.extend(setting_values(settings));
            values.push(now.into());
            values.push(rule.map(|rule| rule.pattern.clone()).into());
            conn.execute_raw(self.stmt(
                &format!(
                    "INSERT INTO queues (name, {SETTING_COLUMNS}, created_at, updated_at, rule) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) \
                     ON CONFLICT (name) DO NOTHING"
                ),
                values,
            ))
            .await?;
            let mut values = Vec::with_capacity(1 + JobState::ALL.len());
            values.push((*name).into());
            let rows = (0..JobState::ALL.len())
                .map(|i| format!("($1, ${}, 0)", i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            values.extend(JobState::ALL.iter().map(|state| state.as_str().into()));
            conn.execute_raw(self.stmt(
                &format!(
                    "INSERT INTO queue_counts (queue, state, count) VALUES {rows} \
                     ON CONFLICT (queue, state) DO NOTHING"
                ),
                values,
            ))
            .await?;
        }
        self.signal(conn, &[Signal::Queues]).await?;
        Ok(())
    }

    /// One queue, or `None`.
    pub async fn queue(&self, name: &str) -> Result<Option<Queue>> {
        let row = QueueRow::find_by_statement(self.stmt(
            &format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE name = $1"),
            vec![name.into()],
        ))
        .one(&self.read)
        .await?;
        row.map(QueueRow::into_queue).transpose()
    }

    /// Every queue, by name.
    pub async fn queues(&self) -> Result<Vec<Queue>> {
        QueueRow::find_by_statement(self.stmt(
            &format!("SELECT {QUEUE_COLUMNS} FROM queues ORDER BY name"),
            vec![],
        ))
        .all(&self.read)
        .await?
        .into_iter()
        .map(QueueRow::into_queue)
        .collect()
    }

    /// Replaces a queue's settings; `QueueNotFound` when it doesn't exist.
    /// The queue stops following its rule: its own settings win.
    pub async fn set_queue_settings(&self, name: &str, s: &QueueSettings, now: i64) -> Result<()> {
        let mut values = vec![name.into()];
        values.extend(setting_values(s));
        values.push(now.into());
        let result = self
            .write
            .execute_raw(self.stmt(
                &format!(
                    "UPDATE queues SET {}, updated_at = $10, rule = NULL WHERE name = $1",
                    setting_assignments()
                ),
                values,
            ))
            .await?;
        if result.rows_affected() == 0 {
            return Err(Error::QueueNotFound(name.to_owned()));
        }
        self.signal(&self.write, &[Signal::Queues]).await?;
        Ok(())
    }

    /// The queue rules, in order.
    pub async fn queue_rules(&self) -> Result<Vec<QueueRule>> {
        self.rules_on(&self.read).await
    }

    async fn rules_on(&self, conn: &impl ConnectionTrait) -> Result<Vec<QueueRule>> {
        #[derive(FromQueryResult)]
        struct RuleRow {
            pattern: String,
            settings: String,
        }
        RuleRow::find_by_statement(self.stmt(
            "SELECT pattern, settings FROM queue_rules ORDER BY position",
            vec![],
        ))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| {
            Ok(QueueRule {
                settings: serde_json::from_str(&row.settings).map_err(|err| {
                    Error::Internal(format!("queue rule {:?}: {err}", row.pattern))
                })?,
                pattern: row.pattern,
            })
        })
        .collect()
    }

    async fn compiled_rules(&self, conn: &impl ConnectionTrait) -> Result<QueueRules> {
        QueueRules::new(self.rules_on(conn).await?)
            .map_err(|err| Error::Internal(format!("stored queue rules: {err}")))
    }

    /// Replaces the queue rules, and re-applies them to the queues that
    /// follow a rule: each takes the settings of the first rule it matches
    /// now, or keeps its settings and follows none.
    pub async fn set_queue_rules(&self, rules: &QueueRules, now: i64) -> Result<()> {
        #[derive(FromQueryResult)]
        struct Follower {
            name: String,
        }
        let txn = self.begin().await?;
        txn.execute_raw(self.stmt("DELETE FROM queue_rules", vec![]))
            .await?;
        for (position, rule) in rules.rules().enumerate() {
            let settings = serde_json::to_string(&rule.settings)
                .map_err(|err| Error::Internal(err.to_string()))?;
            txn.execute_raw(self.stmt(
                "INSERT INTO queue_rules (position, pattern, settings) VALUES ($1, $2, $3)",
                vec![
                    i32::try_from(position).unwrap_or(i32::MAX).into(),
                    rule.pattern.clone().into(),
                    settings.into(),
                ],
            ))
            .await?;
        }
        let followers = Follower::find_by_statement(self.stmt(
            &format!(
                "SELECT name FROM queues WHERE rule IS NOT NULL{}",
                self.dialect().row_lock()
            ),
            vec![],
        ))
        .all(&txn)
        .await?;
        for queue in followers {
            match rules.matching(&queue.name) {
                Some(rule) => {
                    let mut values = vec![queue.name.into()];
                    values.extend(setting_values(&rule.settings));
                    values.push(now.into());
                    values.push(rule.pattern.clone().into());
                    txn.execute_raw(self.stmt(
                        &format!(
                            "UPDATE queues SET {}, updated_at = $10, rule = $11 WHERE name = $1",
                            setting_assignments()
                        ),
                        values,
                    ))
                    .await?;
                }
                None => {
                    txn.execute_raw(self.stmt(
                        "UPDATE queues SET rule = NULL, updated_at = $2 WHERE name = $1",
                        vec![queue.name.into(), now.into()],
                    ))
                    .await?;
                }
            }
        }
        self.signal(&txn, &[Signal::Queues]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// One idle check of a queue with an idle TTL: a queue with no jobs at
    /// all is noted empty, and deleted once it has been empty for `ttl_ms`;
    /// one with jobs is noted busy. Returns whether it was deleted. (A put
    /// racing the deletion re-creates the queue: see `CountDeltas`.)
    pub async fn prune_idle(&self, queue: &str, ttl_ms: i64, now: i64) -> Result<bool> {
        #[derive(FromQueryResult)]
        struct Idle {
            empty_since: Option<i64>,
            jobs: i64,
        }
        let txn = self.begin().await?;
        let idle = Idle::find_by_statement(self.stmt(
            &format!(
                "SELECT q.empty_since, \
                 (SELECT CAST(COALESCE(SUM(c.count), 0) AS BIGINT) FROM queue_counts c \
                 WHERE c.queue = q.name) AS jobs \
                 FROM queues q WHERE q.name = $1{}",
                self.dialect().row_lock()
            ),
            vec![queue.into()],
        ))
        .one(&txn)
        .await?;
        let Some(idle) = idle else {
            txn.rollback().await?;
            return Ok(false);
        };
        let deleted = match (idle.jobs, idle.empty_since) {
            (0, Some(since)) if now.saturating_sub(since) >= ttl_ms.saturating_mul(1_000) => {
                for sql in [
                    "DELETE FROM queue_counts WHERE queue = $1",
                    "DELETE FROM queues WHERE name = $1",
                ] {
                    txn.execute_raw(self.stmt(sql, vec![queue.into()])).await?;
                }
                self.signal(&txn, &[Signal::Queues]).await?;
                true
            }
            (0, Some(_)) => false,
            (0, None) => {
                txn.execute_raw(self.stmt(
                    "UPDATE queues SET empty_since = $2 WHERE name = $1",
                    vec![queue.into(), now.into()],
                ))
                .await?;
                false
            }
            (_, Some(_)) => {
                txn.execute_raw(self.stmt(
                    "UPDATE queues SET empty_since = NULL WHERE name = $1",
                    vec![queue.into()],
                ))
                .await?;
                false
            }
            (_, None) => false,
        };
        txn.commit().await?;
        Ok(deleted)
    }

    /// Job counts by state for every queue (or the named ones), read from
    /// the counters: the cost is one row per (queue, state), however many
    /// jobs there are.
    pub async fn counts(
        &self,
        only: Option<&[&str]>,
    ) -> Result<BTreeMap<String, BTreeMap<JobState, i64>>> {
        self.counts_on(&self.read, only).await
    }

    /// [`Store::counts`], read on `conn` (in a transaction).
    pub(crate) async fn counts_on(
        &self,
        conn: &impl ConnectionTrait,
        only: Option<&[&str]>,
    ) -> Result<BTreeMap<String, BTreeMap<JobState, i64>>> {
        #[derive(FromQueryResult)]
        struct CountRow {
            queue: String,
            state: String,
            count: i64,
        }
        let stmt = match only {
            Some(names) => self.stmt(
                &format!(
                    "SELECT queue, state, count FROM queue_counts WHERE queue IN ({})",
                    placeholders(1, names.len())
                ),
                names.iter().map(|name| (*name).into()).collect(),
            ),
            None => self.stmt("SELECT queue, state, count FROM queue_counts", vec![]),
        };
        let mut counts: BTreeMap<String, BTreeMap<JobState, i64>> = BTreeMap::new();
        for row in CountRow::find_by_statement(stmt).all(conn).await? {
            let state = row
                .state
                .parse()
                .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))?;
            counts
                .entry(row.queue)
                .or_default()
                .insert(state, row.count);
        }
        Ok(counts)
    }
}
