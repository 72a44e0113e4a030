//! Inserting jobs: batched multi-row inserts in one transaction.

use std::collections::{BTreeMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult, Statement, Value};

use super::signal::Signal;
use super::{CountDeltas, Store, placeholders};
use crate::dependency::OnDependencyFailure;
use crate::error::{Error, Result};
use crate::spec::JobInsert;
use crate::state::JobState;

/// The columns of plain jobs' rows, as inserted: id, queue, job type, type
/// version, payload, priority, max attempts, back-off base and max, max
/// time, created at, run at, dispatch deadline.
const PLAIN: [&str; 13] = [
    "text", "text", "text", "int4", "text", "int4", "int4", "int8", "int8", "int8", "int8", "int8",
    "int8",
];
/// [`PLAIN`]'s, then the dependency manager, state, dependencies left, what
/// a dependency's failure does, whether it has dependents, whether it has
/// scopes.
const LINKED: [&str; 19] = [
    "text", "text", "text", "int4", "text", "int4", "int4", "int8", "int8", "int8", "int8", "int8",
    "int8", "text", "text", "int4", "text", "bool", "bool",
];

/// Jobs per group of insert statements: a group's rows are built while the
/// previous group's are written.
const PUT_GROUP: usize = 2_000;

/// What [`Store::insert_rows`] did.
enum Insert<'a> {
    /// Inserted these.
    Done(Vec<&'a JobInsert>),
    /// This chunk hit an existing id; the transaction must be rolled back.
    Duplicate(Vec<&'a JobInsert>),
}

impl Store {
    /// Inserts `jobs` in one transaction, creating missing queues among
    /// `new_queues`. With `ignore_duplicates`, ids that already exist are
    /// skipped; otherwise the first duplicate refuses the whole call.
    /// Returns the jobs inserted.
    pub async fn insert_jobs<'a>(
        &self,
        jobs: &'a [JobInsert],
        new_queues: &[&str],
        ignore_duplicates: bool,
        now: i64,
    ) -> Result<Vec<&'a JobInsert>> {
        let txn = self.begin().await?;
        match self
            .insert_rows(&txn, jobs, new_queues, ignore_duplicates, now)
            .await?
        {
            Insert::Done(inserted) => {
                txn.commit().await?;
                self.note_inserted(inserted.len());
                Ok(inserted)
            }
            Insert::Duplicate(chunk) => {
                txn.rollback().await?;
                Err(Error::DuplicateJob(self.first_existing(&chunk).await?))
            }
        }
    }

    /// Inserts `jobs` in the caller's transaction, skipping ids that exist.
    /// Returns the jobs inserted.
    pub async fn insert_new_jobs_in<'a>(
        &self,
        txn: &DatabaseTransaction,
        jobs: &'a [JobInsert],
        new_queues: &[&str],
        now: i64,
    ) -> Result<Vec<&'a JobInsert>> {
        match self.insert_rows(txn, jobs, new_queues, true, now).await? {
            Insert::Done(inserted) => {
                self.note_inserted(inserted.len());
                Ok(inserted)
            }
            Insert::Duplicate(_) => Err(Error::Internal(
                "an insert that ignores duplicates reported one".to_owned(),
            )),
        }
    }

    async fn insert_rows<'a>(
        &self,
        txn: &DatabaseTransaction,
        jobs: &'a [JobInsert],
        new_queues: &[&str],
        ignore_duplicates: bool,
        now: i64,
    ) -> Result<Insert<'a>> {
        let mut seen = HashSet::with_capacity(jobs.len());
        let mut unique = Vec::with_capacity(jobs.len());
        for job in jobs {
            if seen.insert(job.id.as_str()) {
                unique.push(job);
            } else if !ignore_duplicates {
                return Err(Error::DuplicateJob(job.id.clone()));
            }
        }
        self.ensure_queues(txn, new_queues, now).await?;
        let plan = self.plan_starts(txn, &unique).await?;
        if ignore_duplicates && !plan.depended_on.is_empty() {
            // A skipped duplicate would leave its dependents waiting on a
            // job that never learns of them.
            return Err(Error::InvalidInput {
                field: "depends_on",
                reason: "a put that skips duplicates cannot depend on jobs of the same put"
                    .to_owned(),
            });
        }
        // Plain jobs — no edges, dependents, scopes or manager: nearly all
        // of them — leave those columns to their defaults, so each row
        // binds and parses only what varies.
        let plain = unique.iter().all(|job| {
            job.depends_on.is_empty()
                && job.scopes.is_empty()
                && job.dependency.is_none()
                && job.on_dependency_failure == OnDependencyFailure::Fail
                && !plan.depended_on.contains(&job.id)
        });
        let columns: &[&str] = if plain { &PLAIN } else { &LINKED };
        let sql = if plain {
            // Plain jobs start pending with nothing to wait for.
            "INSERT INTO jobs (id, queue, job_type, type_version, payload, priority, \
             max_attempts, backoff_base_ms, backoff_max_ms, max_time_ms, created_at, run_at, \
             dispatch_by, state, attempt, claim_count, abort_requested, progress) \
             SELECT v.*, 'pending', 0, 0, FALSE, 0 FROM"
        } else {
            "INSERT INTO jobs (id, queue, job_type, type_version, payload, priority, \
             max_attempts, backoff_base_ms, backoff_max_ms, max_time_ms, created_at, run_at, \
             dispatch_by, dependency, state, deps_left, on_dependency_failure, has_dependents, \
             scoped, attempt, claim_count, abort_requested, progress) \
             SELECT v.*, 0, 0, FALSE, 0 FROM"
        };
        // `WHERE TRUE`: SQLite would read the `ON` of `ON CONFLICT` as a join's.
        let conflict = if ignore_duplicates {
            " WHERE TRUE ON CONFLICT (id) DO NOTHING RETURNING id"
        } else {
            ""
        };
        // The statements of a group of jobs, each with how many rows it holds.
        let statements = |group: &[&JobInsert]| -> Result<Vec<(usize, Statement)>> {
            let mut values: Vec<Value> = Vec::with_capacity(group.len() * columns.len());
            for job in group {
                values.extend([
                    job.id.clone().into(),
                    job.queue.clone().into(),
                    job.job_type.clone().into(),
                    job.type_version.into(),
                    job.payload.clone().into(),
                    job.priority.into(),
                    job.max_attempts.into(),
                    job.backoff_base_ms.into(),
                    job.backoff_max_ms.into(),
                    job.max_time_ms.into(),
                    job.created_at.into(),
                    job.run_at.into(),
                    job.dispatch_by.into(),
                ]);
                if !plain {
                    values.extend([
                        job.dependency.clone().into(),
                        plan.state(job).as_str().into(),
                        plan.starts
                            .get(&job.id)
                            .map_or(0, |start| start.deps_left)
                            .into(),
                        job.on_dependency_failure.as_str().into(),
                        plan.depended_on.contains(&job.id).into(),
                        (!job.scopes.is_empty()).into(),
                    ]);
                }
            }
            Ok(self
                .dialect()
                .tables(columns, values, &[])?
                .into_iter()
                .map(|table| {
                    let sql = format!("{sql} {}{conflict}", table.sql);
                    (table.rows, self.stmt(&sql, table.values))
                })
                .collect())
        };
        let mut inserted = Vec::with_capacity(unique.len());
        let mut groups = unique.chunks(PUT_GROUP);
        let mut next = groups.next().map(|group| (group, statements(group)));
        while let Some((group, group_statements)) = next {
            let group_statements = group_statements?;
            // The next group's statements are built while this group's are
            // written: the database works on its own thread (SQLite) or
            // server meanwhile.
            let (written, following) = futures::join!(
                self.write_group(txn, group, group_statements, ignore_duplicates),
                async { groups.next().map(|group| (group, statements(group))) },
            );
            match written? {
                Insert::Done(done) => inserted.extend(done),
                duplicate @ Insert::Duplicate(_) => return Ok(duplicate),
            }
            next = following;
        }
        self.insert_links(txn, &inserted, &plan, now).await?;
        let mut per_queue: BTreeMap<(&str, JobState), i64> = BTreeMap::new();
        for job in &inserted {
            *per_queue.entry((&job.queue, plan.state(job))).or_default() += 1;
        }
        let mut deltas = CountDeltas::default();
        let mut signals = Vec::with_capacity(per_queue.len());
        for ((queue, state), n) in per_queue {
            deltas.moved(queue, None, Some(state), n);
            if state == JobState::Pending {
                signals.push(Signal::Put(queue.to_owned()));
            }
        }
        deltas.apply_creating(self, txn, now).await?;
        // This process's runners are woken after the commit (`Engine::inserted`).
        self.signal_others(txn, &signals).await?;
        Ok(Insert::Done(inserted))
    }

    /// Runs one group's insert statements (`(rows, statement)`, in the
    /// group's order). Returns the group's jobs inserted, or the chunk that
    /// hit an existing id.
    async fn write_group<'a>(
        &self,
        txn: &DatabaseTransaction,
        group: &[&'a JobInsert],
        statements: Vec<(usize, Statement)>,
        ignore_duplicates: bool,
    ) -> Result<Insert<'a>> {
        let mut inserted = Vec::with_capacity(group.len());
        let mut rest = group;
        for (rows, stmt) in statements {
            let (chunk, after) = rest.split_at(rows);
            rest = after;
            if ignore_duplicates {
                #[derive(FromQueryResult)]
                struct Id {
                    id: String,
                }
                let ids: HashSet<String> = Id::find_by_statement(stmt)
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|row| row.id)
                    .collect();
                inserted.extend(chunk.iter().copied().filter(|job| ids.contains(&job.id)));
            } else {
                match txn.execute_raw(stmt).await {
                    Ok(_) => inserted.extend(chunk.iter().copied()),
                    Err(err) if super::unique_violation(&err) => {
                        return Ok(Insert::Duplicate(chunk.to_vec()));
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        }
        Ok(Insert::Done(inserted))
    }

    /// The first id of `jobs` that is already stored (for the duplicate error).
    async fn first_existing(&self, jobs: &[&JobInsert]) -> Result<String> {
        #[derive(FromQueryResult)]
        struct Id {
            id: String,
        }
        let found = Id::find_by_statement(self.stmt(
            &format!(
                "SELECT id FROM jobs WHERE id IN ({}) LIMIT 1",
                placeholders(1, jobs.len())
            ),
            jobs.iter().map(|job| job.id.clone().into()).collect(),
        ))
        .one(&self.write)
        .await?;
        Ok(found.map_or_else(|| jobs[0].id.clone(), |row| row.id))
    }
}
