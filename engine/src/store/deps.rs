//! Dependencies and scopes in the store.
//!
//! Put: [`Store::plan_starts`] locks and reads the jobs a put depends on
//! and decides how each new job starts (pending, blocked, or failed when a
//! dependency already failed); [`Store::insert_links`] writes the edges and
//! scopes. Afterwards every change that ends a job, or takes it off a
//! worker, goes through [`Store::settle`] in its own transaction: the
//! job's scopes are released, and its dependents are resolved — the last
//! edge completing makes a dependent pending, an edge ending otherwise
//! fails it (cascading) unless its policy says run anyway.
//!
//! `jobs.has_dependents` and `jobs.scoped` are set only on the jobs that
//! have either, so for every other job settling costs nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseTransaction, FromQueryResult, Value};

use super::dialect::IdList;
use super::signal::Signal;
use super::{CountDeltas, Store};
use crate::dependency::{OnDependencyFailure, ScopeKind, topological_order};
use crate::error::{Error, Result};
use crate::spec::JobInsert;
use crate::state::JobState;

/// True for a job (of table `jobs`) none of whose dispatch scopes another
/// job holds: the claim and the runner's next-due time skip the others.
/// A scalar subquery per candidate (index probes on the job's scopes and on
/// the held scopes), not `NOT EXISTS`: PostgreSQL would turn that into a
/// hash of every job's scopes, rebuilt for each claim.
pub(crate) const SCOPES_FREE: &str = "(NOT jobs.scoped OR (\
    SELECT 1 FROM job_scopes m JOIN job_scopes h ON h.scope = m.scope AND h.held \
    WHERE m.job_id = jobs.id AND m.kind = 'dispatch' LIMIT 1) IS NULL)";

/// How a new job with dependencies starts.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    /// Pending, blocked, or failed.
    pub state: JobState,
    /// Edges not yet met.
    pub deps_left: i32,
    /// Why it failed at once: a dependency had already failed.
    pub error: Option<String>,
    /// Its edges, each with whether it is already resolved.
    pub edges: Vec<(String, bool)>,
}

/// How a put's jobs start.
#[derive(Debug, Default)]
pub(crate) struct StartPlan {
    /// The jobs with edges, by id.
    pub starts: HashMap<String, Start>,
    /// Ids of the put that other jobs of the put depend on.
    pub depended_on: HashSet<String>,
}

impl StartPlan {
    /// The state `job` is inserted in.
    pub fn state(&self, job: &JobInsert) -> JobState {
        self.starts
            .get(&job.id)
            .map_or(JobState::Pending, |start| start.state)
    }
}

/// What an edge's job becoming `state` (`None`: deleted) means to a
/// dependent with `policy`: `Ok(true)` met, `Ok(false)` not yet, `Err`
/// the dependent fails with this reason.
fn edge_effect(
    depends_on: &str,
    state: Option<JobState>,
    policy: OnDependencyFailure,
) -> std::result::Result<bool, String> {
    match state {
        Some(JobState::Completed) => Ok(true),
        Some(state) if !state.is_terminal() => Ok(false),
        _ if policy == OnDependencyFailure::Run => Ok(true),
        Some(state) => Err(format!("dependency {depends_on:?} is {state}")),
        None => Err(format!(
            "dependency {depends_on:?} was deleted before it finished"
        )),
    }
}

/// A job whose state a transaction just changed, for [`Store::settle`].
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The job.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its new state; `None` when it was deleted.
    pub to: Option<JobState>,
    /// Whether other jobs have edges to it.
    pub has_dependents: bool,
    /// Whether it has scopes.
    pub scoped: bool,
}

#[derive(FromQueryResult)]
struct IdState {
    id: String,
    state: String,
}

fn parse_state(state: &str) -> Result<JobState> {
    state
        .parse()
        .map_err(|err: crate::state::UnknownState| Error::Internal(err.to_string()))
}

impl Store {
    /// Locks and reads the stored jobs that `jobs` depend on (marking them
    /// as having dependents, so their end settles the new edges), refuses
    /// unknown ids and cycles, and decides how each job with edges starts.
    pub(crate) async fn plan_starts(
        &self,
        txn: &DatabaseTransaction,
        jobs: &[&JobInsert],
    ) -> Result<StartPlan> {
        let mut plan = StartPlan::default();
        if jobs.iter().all(|job| job.depends_on.is_empty()) {
            return Ok(plan);
        }
        let in_put: HashSet<&str> = jobs.iter().map(|job| job.id.as_str()).collect();
        let stored: BTreeSet<&str> = jobs
            .iter()
            .flat_map(|job| job.depends_on.iter().map(String::as_str))
            .filter(|id| !in_put.contains(id))
            .collect();
        let stored: Vec<&str> = stored.into_iter().collect();
        // The update locks them: a finish of one waits for this put to
        // commit and then sees its edges; one committed before is seen here
        // as a terminal state.
        let mut states: HashMap<String, JobState> = HashMap::with_capacity(stored.len());
        for list in self.dialect().id_lists(&stored, &[])? {
            let rows = IdState::find_by_statement(self.stmt(
                &format!(
                    "UPDATE jobs SET has_dependents = TRUE WHERE id {} RETURNING id, state",
                    list.sql
                ),
                list.values,
            ))
            .all(txn)
            .await?;
            for row in rows {
                states.insert(row.id, parse_state(&row.state)?);
            }
        }
        for job in jobs {
            if let Some(missing) = job
                .depends_on
                .iter()
                .find(|id| !in_put.contains(id.as_str()) && !states.contains_key(id.as_str()))
            {
                return Err(Error::UnknownDependency {
                    id: job.id.clone(),
                    depends_on: missing.clone(),
                });
            }
        }
        let graph: Vec<(&str, &[String])> = jobs
            .iter()
            .map(|job| (job.id.as_str(), job.depends_on.as_slice()))
            .collect();
        for i in topological_order(&graph)? {
            let job = jobs[i];
            if job.depends_on.is_empty() {
                continue;
            }
            let mut deps_left = 0;
            let mut error = None;
            let mut edges = Vec::with_capacity(job.depends_on.len());
            for edge in &job.depends_on {
                let state = if in_put.contains(edge.as_str()) {
                    plan.depended_on.insert(edge.clone());
                    plan.starts
                        .get(edge)
                        .map_or(JobState::Pending, |start| start.state)
                } else {
                    states[edge]
                };
                let resolved = match edge_effect(edge, Some(state), job.on_dependency_failure) {
                    Ok(met) => met,
                    Err(reason) => {
                        error.get_or_insert(reason);
                        true
                    }
                };
                if !resolved {
                    deps_left += 1;
                }
                edges.push((edge.clone(), resolved));
            }
            let state = match (&error, deps_left) {
                (Some(_), _) => JobState::Failed,
                (None, 0) => JobState::Pending,
                (None, _) => JobState::Blocked,
            };
            plan.starts.insert(
                job.id.clone(),
                Start {
                    state,
                    deps_left,
                    error,
                    edges,
                },
            );
        }
        Ok(plan)
    }

    /// Writes the edges and scopes of the `inserted` jobs, and the error of
    /// those that failed at once. An enqueue scope held by an unfinished
    /// job refuses the put.
    pub(crate) async fn insert_links(
        &self,
        txn: &DatabaseTransaction,
        inserted: &[&JobInsert],
        plan: &StartPlan,
        now: i64,
    ) -> Result<()> {
        let mut edges: Vec<Value> = Vec::new();
        let mut failed: Vec<Value> = Vec::new();
        for job in inserted {
            let Some(start) = plan.starts.get(&job.id) else {
                continue;
            };
            for (depends_on, resolved) in &start.edges {
                edges.extend([
                    job.id.clone().into(),
                    depends_on.clone().into(),
                    (*resolved).into(),
                ]);
            }
            if let Some(error) = &start.error {
                failed.extend([job.id.clone().into(), error.clone().into()]);
            }
        }
        for table in self
            .dialect()
            .tables(&["text", "text", "bool"], edges, &[])?
        {
            txn.execute_raw(self.stmt(
                &format!(
                    "INSERT INTO job_edges (job_id, depends_on, resolved) SELECT v.* FROM {}",
                    table.sql
                ),
                table.values,
            ))
            .await?;
        }
        for table in self
            .dialect()
            .tables(&["text", "text"], failed, &[now.into()])?
        {
            txn.execute_raw(self.stmt(
                &format!(
                    "UPDATE jobs SET ended_at = $1, last_error = v.column2 \
                     FROM {} WHERE jobs.id = v.column1",
                    table.sql
                ),
                table.values,
            ))
            .await?;
        }
        self.insert_scopes(txn, inserted, plan).await
    }

    async fn insert_scopes(
        &self,
        txn: &DatabaseTransaction,
        inserted: &[&JobInsert],
        plan: &StartPlan,
    ) -> Result<()> {
        // (scope, job, kind, held now)
        let mut rows: Vec<(&str, &str, ScopeKind, bool)> = Vec::new();
        let mut claimed: HashMap<&str, &str> = HashMap::new();
        for job in inserted {
            let held = plan.state(job) != JobState::Failed;
            for (scope, kind) in &job.scopes {
                let held = held && *kind == ScopeKind::Enqueue;
                if held && let Some(holder) = claimed.insert(scope, &job.id) {
                    return Err(Error::ScopeHeld {
                        scope: scope.clone(),
                        holder: holder.to_owned(),
                    });
                }
                rows.push((scope, &job.id, *kind, held));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let wanted: Vec<&str> = claimed.keys().copied().collect();
        if let Some((scope, holder)) = self.scope_holders(txn, &wanted).await?.into_iter().next() {
            return Err(Error::ScopeHeld { scope, holder });
        }
        let mut values: Vec<Value> = Vec::with_capacity(rows.len() * 4);
        for (scope, job, kind, held) in rows {
            values.extend([job.into(), scope.into(), kind.as_str().into(), held.into()]);
        }
        for table in self
            .dialect()
            .tables(&["text", "text", "text", "bool"], values, &[])?
        {
            let insert = txn
                .execute_raw(self.stmt(
                    &format!(
                        "INSERT INTO job_scopes (job_id, scope, kind, held) SELECT v.* FROM {}",
                        table.sql
                    ),
                    table.values,
                ))
                .await;
            taken_meanwhile(insert, &wanted)?;
        }
        Ok(())
    }

    /// The jobs holding any of `scopes`, as (scope, job).
    async fn scope_holders(
        &self,
        conn: &impl ConnectionTrait,
        scopes: &[&str],
    ) -> Result<Vec<(String, String)>> {
        #[derive(FromQueryResult)]
        struct Holder {
            scope: String,
            job_id: String,
        }
        let mut found = Vec::new();
        for list in self.dialect().id_lists(scopes, &[])? {
            let rows = Holder::find_by_statement(self.stmt(
                &format!(
                    "SELECT scope, job_id FROM job_scopes WHERE held AND scope {} \
                     ORDER BY scope",
                    list.sql
                ),
                list.values,
            ))
            .all(conn)
            .await?;
            found.extend(rows.into_iter().map(|row| (row.scope, row.job_id)));
        }
        Ok(found)
    }

    /// After `changes` in `txn`: releases the scopes the jobs no longer
    /// hold (dispatch scopes when they stop running; all when they end)
    /// and resolves the dependents of those that ended, cascading through
    /// dependents that fail in turn. Moves the counters and wakes the
    /// queues of jobs that may now run.
    pub(crate) async fn settle(
        &self,
        txn: &DatabaseTransaction,
        changes: Vec<Change>,
        now: i64,
        deltas: &mut CountDeltas,
        signals: &mut Vec<Signal>,
    ) -> Result<()> {
        let mut changes = changes;
        while !changes.is_empty() {
            let mut released_all = Vec::new();
            let mut released_dispatch = Vec::new();
            let mut ended: Vec<(String, Option<JobState>)> = Vec::new();
            for change in changes {
                let ends = change.to.is_none_or(JobState::is_terminal);
                if change.scoped {
                    // Its queue's jobs waiting for the scope may start now
                    // (another queue's start within their poll interval).
                    push_wakes(signals, [change.queue.clone()]);
                    if ends {
                        released_all.push(change.id.clone());
                    } else {
                        released_dispatch.push(change.id.clone());
                    }
                }
                if change.has_dependents && ends {
                    ended.push((change.id, change.to));
                }
            }
            self.release_scopes(txn, &released_all, false).await?;
            self.release_scopes(txn, &released_dispatch, true).await?;
            changes = self
                .resolve_dependents(txn, &ended, now, deltas, signals)
                .await?;
        }
        Ok(())
    }

    /// Releases the held scopes of `jobs` (only dispatch scopes when
    /// `dispatch_only`).
    async fn release_scopes(
        &self,
        txn: &DatabaseTransaction,
        jobs: &[String],
        dispatch_only: bool,
    ) -> Result<()> {
        let kind = if dispatch_only {
            " AND kind = 'dispatch'"
        } else {
            ""
        };
        for list in self.dialect().id_lists(jobs, &[])? {
            txn.execute_raw(self.stmt(
                &format!(
                    "UPDATE job_scopes SET held = FALSE WHERE job_id {} AND held{kind}",
                    list.sql
                ),
                list.values,
            ))
            .await?;
        }
        Ok(())
    }

    /// Resolves the unresolved edges to `ended` jobs. Returns the
    /// dependents that failed because of them (to settle in turn).
    async fn resolve_dependents(
        &self,
        txn: &DatabaseTransaction,
        ended: &[(String, Option<JobState>)],
        now: i64,
        deltas: &mut CountDeltas,
        signals: &mut Vec<Signal>,
    ) -> Result<Vec<Change>> {
        #[derive(FromQueryResult)]
        struct Edge {
            job_id: String,
            depends_on: String,
            queue: String,
            state: String,
            on_dependency_failure: String,
            has_dependents: bool,
            scoped: bool,
        }
        let how: HashMap<&str, Option<JobState>> =
            ended.iter().map(|(id, to)| (id.as_str(), *to)).collect();
        let mut cascade = Vec::new();
        let ended_ids: Vec<&str> = ended.iter().map(|(id, _)| id.as_str()).collect();
        for list in self.dialect().id_lists(&ended_ids, &[])? {
            let (list, ids) = (list.sql, list.values);
            // Locked in id order: two processes settling edges of one
            // dependent take turns instead of deadlocking.
            let edges = Edge::find_by_statement(self.stmt(
                &format!(
                    "SELECT e.job_id, e.depends_on, j.queue, j.state, j.on_dependency_failure, \
                     j.has_dependents, j.scoped \
                     FROM job_edges e JOIN jobs j ON j.id = e.job_id \
                     WHERE e.depends_on {list} AND NOT e.resolved \
                     ORDER BY e.job_id{}",
                    self.dialect().row_lock()
                ),
                ids.clone(),
            ))
            .all(txn)
            .await?;
            if edges.is_empty() {
                continue;
            }
            txn.execute_raw(self.stmt(
                &format!(
                    "UPDATE job_edges SET resolved = TRUE WHERE depends_on {list} \
                     AND NOT resolved"
                ),
                ids,
            ))
            .await?;
            // Per blocked dependent: edges met, or the first failure.
            let mut met: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
            let mut fails: BTreeMap<&str, (String, &Edge)> = BTreeMap::new();
            for edge in &edges {
                if edge.state != JobState::Blocked.as_str() {
                    continue;
                }
                let policy: OnDependencyFailure = edge.on_dependency_failure.parse()?;
                match edge_effect(&edge.depends_on, how[edge.depends_on.as_str()], policy) {
                    Ok(true) => met.entry(&edge.job_id).or_insert((0, &edge.queue)).0 += 1,
                    Ok(false) => {}
                    Err(reason) => {
                        fails.entry(&edge.job_id).or_insert((reason, edge));
                    }
                }
            }
            met.retain(|id, _| !fails.contains_key(id));
            if !fails.is_empty() {
                let mut values: Vec<Value> = Vec::with_capacity(fails.len() * 2);
                for (id, (reason, _)) in &fails {
                    values.extend([(*id).into(), reason.clone().into()]);
                }
                for table in self
                    .dialect()
                    .tables(&["text", "text"], values, &[now.into()])?
                {
                    txn.execute_raw(self.stmt(
                        &format!(
                            "UPDATE jobs SET state = 'failed', ended_at = $1, \
                             last_error = v.column2 FROM {} \
                             WHERE jobs.id = v.column1 AND jobs.state = 'blocked'",
                            table.sql
                        ),
                        table.values,
                    ))
                    .await?;
                }
                for (id, (_, edge)) in fails {
                    deltas.moved(
                        &edge.queue,
                        Some(JobState::Blocked),
                        Some(JobState::Failed),
                        1,
                    );
                    cascade.push(Change {
                        id: id.to_owned(),
                        queue: edge.queue.clone(),
                        to: Some(JobState::Failed),
                        has_dependents: edge.has_dependents,
                        scoped: edge.scoped,
                    });
                }
            }
            if !met.is_empty() {
                let mut values: Vec<Value> = Vec::with_capacity(met.len() * 2);
                for (id, (n, _)) in &met {
                    values.extend([(*id).into(), (*n).into()]);
                }
                let mut ready = Vec::with_capacity(met.len());
                for table in self
                    .dialect()
                    .tables(&["text", "int8"], values, &[now.into()])?
                {
                    // The last edge met: pending, ready now (not at the
                    // run_at it was put with, which would jump the FIFO
                    // queue and count the wait for dependencies as queue
                    // latency).
                    ready.extend(
                        IdState::find_by_statement(self.stmt(
                            &format!(
                                "UPDATE jobs SET deps_left = jobs.deps_left - v.column2, \
                                 state = CASE WHEN jobs.deps_left - v.column2 <= 0 \
                                 THEN 'pending' ELSE 'blocked' END, \
                                 run_at = CASE WHEN jobs.deps_left - v.column2 <= 0 \
                                 AND jobs.run_at < $1 THEN $1 ELSE jobs.run_at END \
                                 FROM {} WHERE jobs.id = v.column1 AND jobs.state = 'blocked' \
                                 RETURNING jobs.id, jobs.state",
                                table.sql
                            ),
                            table.values,
                        ))
                        .all(txn)
                        .await?,
                    );
                }
                let mut woken = Vec::new();
                for row in ready.iter().filter(|row| row.state == "pending") {
                    let queue = met[row.id.as_str()].1;
                    deltas.moved(queue, Some(JobState::Blocked), Some(JobState::Pending), 1);
                    woken.push(queue.to_owned());
                }
                push_wakes(signals, woken);
            }
        }
        Ok(cascade)
    }

    /// Before a manual retry of finished jobs: each waits again for its
    /// dependencies that have not completed (an edge to a job that failed
    /// waits for that job's own retry) and takes its enqueue scopes back.
    /// Returns the jobs that go back to `blocked`, with their unmet edges.
    pub(crate) async fn prepare_retry(
        &self,
        txn: &DatabaseTransaction,
        ids: &[String],
    ) -> Result<BTreeMap<String, i32>> {
        #[derive(FromQueryResult)]
        struct Edge {
            job_id: String,
            depends_on: String,
            on_dependency_failure: String,
            state: Option<String>,
        }
        let mut blocked: BTreeMap<String, i32> = BTreeMap::new();
        for list in self.dialect().id_lists(ids, &[])? {
            let edges = Edge::find_by_statement(self.stmt(
                &format!(
                    "SELECT e.job_id, e.depends_on, j.on_dependency_failure, d.state \
                     FROM job_edges e JOIN jobs j ON j.id = e.job_id \
                     LEFT JOIN jobs d ON d.id = e.depends_on WHERE e.job_id {}",
                    list.sql
                ),
                list.values.clone(),
            ))
            .all(txn)
            .await?;
            let mut resolved: Vec<Value> = Vec::with_capacity(edges.len() * 3);
            for edge in &edges {
                let policy: OnDependencyFailure = edge.on_dependency_failure.parse()?;
                // A pruned dependency had ended; only completion counts.
                let met = match edge.state.as_deref().map(parse_state).transpose()? {
                    None => true,
                    Some(state) => edge_effect(&edge.depends_on, Some(state), policy) == Ok(true),
                };
                if !met {
                    *blocked.entry(edge.job_id.clone()).or_default() += 1;
                }
                resolved.extend([
                    edge.job_id.clone().into(),
                    edge.depends_on.clone().into(),
                    met.into(),
                ]);
            }
            for table in self
                .dialect()
                .tables(&["text", "text", "bool"], resolved, &[])?
            {
                txn.execute_raw(self.stmt(
                    &format!(
                        "UPDATE job_edges SET resolved = v.column3 FROM {} \
                         WHERE job_edges.job_id = v.column1 AND job_edges.depends_on = v.column2",
                        table.sql
                    ),
                    table.values,
                ))
                .await?;
            }
            self.retake_enqueue_scopes(txn, &list).await?;
        }
        Ok(blocked)
    }

    /// Takes back the enqueue scopes of the jobs in `ids`, refusing when
    /// another unfinished job holds one.
    async fn retake_enqueue_scopes(&self, txn: &DatabaseTransaction, ids: &IdList) -> Result<()> {
        #[derive(FromQueryResult)]
        struct Wanted {
            job_id: String,
            scope: String,
        }
        let wanted = Wanted::find_by_statement(self.stmt(
            &format!(
                "SELECT job_id, scope FROM job_scopes WHERE job_id {} \
                 AND kind = 'enqueue' AND NOT held",
                ids.sql
            ),
            ids.values.clone(),
        ))
        .all(txn)
        .await?;
        if wanted.is_empty() {
            return Ok(());
        }
        let mut taken: HashMap<&str, &str> = HashMap::new();
        for row in &wanted {
            if let Some(holder) = taken.insert(&row.scope, &row.job_id) {
                return Err(Error::ScopeHeld {
                    scope: row.scope.clone(),
                    holder: holder.to_owned(),
                });
            }
        }
        let scopes: Vec<&str> = taken.keys().copied().collect();
        if let Some((scope, holder)) = self.scope_holders(txn, &scopes).await?.into_iter().next() {
            return Err(Error::ScopeHeld { scope, holder });
        }
        let update = txn
            .execute_raw(self.stmt(
                &format!(
                    "UPDATE job_scopes SET held = TRUE WHERE job_id {} \
                     AND kind = 'enqueue'",
                    ids.sql
                ),
                ids.values.clone(),
            ))
            .await;
        taken_meanwhile(update, &scopes)
    }

    /// Takes the dispatch scopes of the claimed jobs `scoped`, in claim
    /// order; a job whose scope an earlier one of the batch took is handed
    /// back. Returns the ids handed back, or `None` when another process
    /// took one of the scopes first (the claim must be rolled back).
    pub(crate) async fn take_dispatch_scopes(
        &self,
        txn: &DatabaseTransaction,
        scoped: &[&str],
    ) -> Result<Option<Vec<String>>> {
        #[derive(FromQueryResult)]
        struct Wanted {
            job_id: String,
            scope: String,
        }
        let mut by_job: HashMap<String, Vec<String>> = HashMap::new();
        for list in self.dialect().id_lists(scoped, &[])? {
            let rows = Wanted::find_by_statement(self.stmt(
                &format!(
                    "SELECT job_id, scope FROM job_scopes WHERE job_id {} \
                     AND kind = 'dispatch'",
                    list.sql
                ),
                list.values,
            ))
            .all(txn)
            .await?;
            for row in rows {
                by_job.entry(row.job_id).or_default().push(row.scope);
            }
        }
        let mut taken: HashSet<&str> = HashSet::new();
        let mut keep: Vec<&str> = Vec::new();
        let mut hand_back = Vec::new();
        for id in scoped {
            let scopes = by_job.get(*id).map(Vec::as_slice).unwrap_or_default();
            if scopes.iter().any(|scope| taken.contains(scope.as_str())) {
                hand_back.push((*id).to_owned());
            } else {
                taken.extend(scopes.iter().map(String::as_str));
                keep.push(id);
            }
        }
        for list in self.dialect().id_lists(&keep, &[])? {
            let update = txn
                .execute_raw(self.stmt(
                    &format!(
                        "UPDATE job_scopes SET held = TRUE WHERE kind = 'dispatch' \
                         AND job_id {}",
                        list.sql
                    ),
                    list.values,
                ))
                .await;
            match update {
                Ok(_) => {}
                Err(err) if super::unique_violation(&err) => {
                    return Ok(None);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Some(hand_back))
    }
}

/// A write that takes `scopes`, refused when another process's put or retry
/// took one of them between this transaction's check and its write.
fn taken_meanwhile(
    write: std::result::Result<sea_orm::ExecResult, sea_orm::DbErr>,
    scopes: &[&str],
) -> Result<()> {
    match write {
        Ok(_) => Ok(()),
        Err(err) if super::unique_violation(&err) => Err(Error::ScopeHeld {
            scope: scopes.join(", "),
            holder: "a job put at the same moment".to_owned(),
        }),
        Err(err) => Err(err.into()),
    }
}

/// Adds a put signal for each of `queues` not signalled yet.
fn push_wakes(signals: &mut Vec<Signal>, queues: impl IntoIterator<Item = String>) {
    for queue in queues {
        let signal = Signal::Put(queue);
        if !signals.contains(&signal) {
            signals.push(signal);
        }
    }
}
