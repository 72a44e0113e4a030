//! Dependencies and scopes: what a job waits for and what it excludes.
//!
//! A job may name other jobs it depends on (edges): it stays `blocked` until
//! every edge has completed, and becomes `pending` in the transaction that
//! completes the last one. An edge that ends otherwise (failed, aborted,
//! expired, deleted unfinished) fails the dependent, or — with
//! [`OnDependencyFailure::Run`] — counts as met. Edges point only at jobs
//! that exist or are put in the same call, so the only cycles possible are
//! within one call, and [`check_cycles`] refuses them.
//!
//! A job may also carry one of amboy's dependency managers ([`Dependency`]),
//! checked when it is about to run: `create-file` skips the run when a file
//! exists, `local-file` skips it when every target is newer than every
//! source (make). A skipped job is recorded as completed, with the reason
//! in its log and an attempt whose outcome is `skipped`.
//!
//! Scopes are names a job holds exclusively: a dispatch scope while it
//! runs, an enqueue scope from put until it ends. The database enforces
//! them (a unique index on held scopes), across processes.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::invalid;

/// Most edges one job may have.
pub const MAX_EDGES: usize = 1_000;
/// Most scopes (of both kinds) one job may hold.
pub const MAX_SCOPES: usize = 32;
/// Longest scope name, in bytes.
pub const MAX_SCOPE_BYTES: usize = 255;
/// Most paths a `local-file` dependency may list (targets and sources).
pub const MAX_PATHS: usize = 100;

/// What a job does when a job it depends on ends without completing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OnDependencyFailure {
    /// Fail too, naming the dependency (the default).
    #[default]
    Fail,
    /// Run anyway: the edge counts as met once its job has ended.
    Run,
}

impl OnDependencyFailure {
    /// The name stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            OnDependencyFailure::Fail => "fail",
            OnDependencyFailure::Run => "run",
        }
    }
}

impl fmt::Display for OnDependencyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnDependencyFailure {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fail" => Ok(OnDependencyFailure::Fail),
            "run" => Ok(OnDependencyFailure::Run),
            other => Err(invalid(
                "on_dependency_failure",
                format!("{other:?} is not one of fail, run"),
            )),
        }
    }
}

/// amboy's dependency managers: whether a job needs to run at all, decided
/// just before it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Dependency {
    /// Always run (the default).
    #[default]
    Always,
    /// Skip when `path` exists: the job creates it, and it is there.
    CreateFile {
        /// The file the job creates.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        path: PathBuf,
    },
    /// Run when a target is missing or older than the newest source;
    /// skip when every target is at least as new as every source (make).
    LocalFile {
        /// The files the job writes.
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
        targets: Vec<PathBuf>,
        /// The files it reads.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
        sources: Vec<PathBuf>,
    },
}

impl Dependency {
    /// The manager's name (`always`, `create-file`, `local-file`).
    pub const fn kind(&self) -> &'static str {
        match self {
            Dependency::Always => "always",
            Dependency::CreateFile { .. } => "create-file",
            Dependency::LocalFile { .. } => "local-file",
        }
    }

    /// Checks the paths.
    pub(crate) fn validate(&self) -> Result<()> {
        let paths: Vec<&PathBuf> = match self {
            Dependency::Always => return Ok(()),
            Dependency::CreateFile { path } => vec![path],
            Dependency::LocalFile { targets, sources } => {
                if targets.is_empty() {
                    return Err(invalid(
                        "dependency",
                        "local-file needs at least one target",
                    ));
                }
                targets.iter().chain(sources).collect()
            }
        };
        if paths.len() > MAX_PATHS {
            return Err(invalid(
                "dependency",
                format!("lists {} paths; the limit is {MAX_PATHS}", paths.len()),
            ));
        }
        if paths.iter().any(|path| path.as_os_str().is_empty()) {
            return Err(invalid("dependency", "a path is empty"));
        }
        if let Some(path) = paths
            .iter()
            .find(|path| path.to_string_lossy().chars().any(char::is_control))
        {
            return Err(invalid(
                "dependency",
                format!("{path:?} contains control characters"),
            ));
        }
        Ok(())
    }

    /// Why the job need not run, if it need not (`None`: run it).
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            Dependency::Always => None,
            Dependency::CreateFile { path } => path
                .exists()
                .then(|| format!("skipped: {} exists (create-file)", path.display())),
            Dependency::LocalFile { targets, sources } => {
                let oldest_target = targets
                    .iter()
                    .map(|path| modified(path))
                    .collect::<Option<Vec<_>>>()?
                    .into_iter()
                    .min()?;
                let mut newest_source = None;
                for source in sources {
                    // A missing source: run, and let the job say what is wrong.
                    let at = modified(source)?;
                    newest_source = newest_source.max(Some(at));
                }
                match newest_source {
                    Some(source) if source > oldest_target => None,
                    _ => Some(format!(
                        "skipped: every target is up to date with its sources (local-file: {})",
                        targets
                            .iter()
                            .map(|t| t.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Which kind of scope a name is held as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeKind {
    /// Held while the job runs.
    Dispatch,
    /// Held from put until the job ends.
    Enqueue,
}

impl ScopeKind {
    /// The name stored in `job_scopes.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Dispatch => "dispatch",
            ScopeKind::Enqueue => "enqueue",
        }
    }
}

/// Checks a job's edges: valid ids, not itself, at most [`MAX_EDGES`];
/// duplicates are dropped. Returns them sorted.
pub(crate) fn validate_edges(id: &str, edges: Vec<String>) -> Result<Vec<String>> {
    let edges: BTreeSet<String> = edges.into_iter().collect();
    if edges.len() > MAX_EDGES {
        return Err(invalid(
            "depends_on",
            format!("names {} jobs; the limit is {MAX_EDGES}", edges.len()),
        ));
    }
    for edge in &edges {
        crate::spec::validate_id(edge).map_err(|_| {
            invalid(
                "depends_on",
                format!("{edge:?} is not a job id (1 to 255 bytes, no whitespace)"),
            )
        })?;
        if edge == id {
            return Err(invalid(
                "depends_on",
                format!("job {id:?} cannot depend on itself"),
            ));
        }
    }
    Ok(edges.into_iter().collect())
}

/// Checks a job's scopes: valid names, none in both lists, at most
/// [`MAX_SCOPES`]; duplicates are dropped.
pub(crate) fn validate_scopes(
    dispatch: Vec<String>,
    enqueue: Vec<String>,
) -> Result<Vec<(String, ScopeKind)>> {
    let dispatch: BTreeSet<String> = dispatch.into_iter().collect();
    let enqueue: BTreeSet<String> = enqueue.into_iter().collect();
    if let Some(both) = dispatch.intersection(&enqueue).next() {
        return Err(invalid(
            "scopes",
            format!("{both:?} is both a dispatch and an enqueue scope; give it once"),
        ));
    }
    if dispatch.len() + enqueue.len() > MAX_SCOPES {
        return Err(invalid(
            "scopes",
            format!(
                "{} scopes; the limit is {MAX_SCOPES}",
                dispatch.len() + enqueue.len()
            ),
        ));
    }
    let scopes: Vec<(String, ScopeKind)> = dispatch
        .into_iter()
        .map(|s| (s, ScopeKind::Dispatch))
        .chain(enqueue.into_iter().map(|s| (s, ScopeKind::Enqueue)))
        .collect();
    for (scope, kind) in &scopes {
        let field = match kind {
            ScopeKind::Dispatch => "scopes",
            ScopeKind::Enqueue => "enqueue_scopes",
        };
        if scope.is_empty() || scope.len() > MAX_SCOPE_BYTES {
            return Err(invalid(
                field,
                format!("{scope:?}: a scope is 1 to {MAX_SCOPE_BYTES} bytes"),
            ));
        }
        if scope.chars().any(char::is_control) {
            return Err(invalid(
                field,
                format!("{scope:?} contains control characters"),
            ));
        }
    }
    Ok(scopes)
}

/// Orders the jobs of one put so every job comes after the jobs of the same
/// put it depends on. `jobs` is (id, edges); edges to ids outside `jobs`
/// are ignored. A cycle is refused, naming its jobs.
pub(crate) fn topological_order(jobs: &[(&str, &[String])]) -> Result<Vec<usize>> {
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut waiting_on = vec![0usize; jobs.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    for (i, (_, edges)) in jobs.iter().enumerate() {
        for edge in *edges {
            if let Some(&j) = index.get(edge.as_str()) {
                waiting_on[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let mut order: Vec<usize> = (0..jobs.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let done = order[next];
        next += 1;
        for &dependent in &dependents[done] {
            waiting_on[dependent] -= 1;
            if waiting_on[dependent] == 0 {
                order.push(dependent);
            }
        }
    }
    if order.len() < jobs.len() {
        let mut cycle: Vec<&str> = (0..jobs.len())
            .filter(|&i| waiting_on[i] > 0)
            .map(|i| jobs[i].0)
            .take(10)
            .collect();
        cycle.sort_unstable();
        return Err(invalid(
            "depends_on",
            format!(
                "the dependencies form a cycle through {}",
                cycle
                    .iter()
                    .map(|id| format!("{id:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn order_puts_dependencies_first_and_refuses_cycles() {
        let (a, b, c) = (edges(&["b", "outside"]), edges(&["c"]), edges(&[]));
        let jobs = [("a", &a[..]), ("b", &b[..]), ("c", &c[..])];
        assert_eq!(topological_order(&jobs).unwrap(), vec![2, 1, 0]);

        let (x, y, z) = (edges(&["y"]), edges(&["z"]), edges(&["x"]));
        let jobs = [
            ("x", &x[..]),
            ("y", &y[..]),
            ("z", &z[..]),
            ("free", &c[..]),
        ];
        let err = topological_order(&jobs).unwrap_err().to_string();
        assert!(err.contains("cycle through \"x\", \"y\", \"z\""), "{err}");
    }

    #[test]
    fn edges_and_scopes_are_checked() {
        assert!(validate_edges("a", edges(&["a"])).is_err());
        assert!(validate_edges("a", edges(&["has space"])).is_err());
        assert_eq!(
            validate_edges("a", edges(&["c", "b", "c"])).unwrap(),
            edges(&["b", "c"])
        );
        let err = validate_scopes(edges(&["x"]), edges(&["x"])).unwrap_err();
        assert!(err.to_string().contains("both"), "{err}");
        assert!(validate_scopes(edges(&[""]), vec![]).is_err());
        let many: Vec<String> = (0..=MAX_SCOPES).map(|i| i.to_string()).collect();
        assert!(validate_scopes(many, vec![]).is_err());
    }

    #[test]
    fn managers_decide_from_the_files() {
        let dir = std::env::temp_dir().join(format!("amboy-dep-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out");
        let source = dir.join("in");
        let create = Dependency::CreateFile {
            path: target.clone(),
        };
        assert_eq!(create.skip_reason(), None);
        let make = Dependency::LocalFile {
            targets: vec![target.clone()],
            sources: vec![source.clone()],
        };
        // Target missing: run.
        assert_eq!(make.skip_reason(), None);
        std::fs::write(&source, "in").unwrap();
        std::fs::write(&target, "out").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&source)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(create.skip_reason().unwrap().contains("exists"));
        assert!(make.skip_reason().unwrap().contains("up to date"));
        // A source newer than the target: run.
        std::fs::File::options()
            .write(true)
            .open(&target)
            .unwrap()
            .set_modified(old - std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(make.skip_reason(), None);
        assert!(
            Dependency::LocalFile {
                targets: vec![],
                sources: vec![]
            }
            .validate()
            .is_err()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
