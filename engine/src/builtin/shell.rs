//! `shell`: runs a command (argv, no shell interpretation).
//!
//! Off unless the process enables it (`--enable-shell-jobs`): it is code
//! execution. Output lines go to the job log (bounded); the child is killed
//! when the run is cancelled (abort, `max_time`, shutdown).

use std::collections::BTreeMap;
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::job::{Job, JobContext, JobError, truncate};

/// The type name, checked by the registry to refuse shell jobs when off.
pub const NAME: &str = "shell";
/// Lines of output quoted in the error of a failed command.
const TAIL_LINES: usize = 20;
/// Bytes of output quoted in that error.
const TAIL_BYTES: usize = 2_048;

/// Runs `argv[0]` with `argv[1..]`. Payload:
/// `{"argv": ["echo", "hi"], "env": {"K": "V"}, "cwd": "/tmp"}`.
/// A non-zero exit is retried with the job's back-off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shell {
    /// The program and its arguments; must not be empty.
    #[serde(deserialize_with = "non_empty_argv")]
    pub argv: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The working directory; the process's own when absent.
    #[serde(default)]
    pub cwd: Option<String>,
}

fn non_empty_argv<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    let argv = Vec::<String>::deserialize(de)?;
    if argv.first().is_none_or(|program| program.is_empty()) {
        return Err(serde::de::Error::custom("argv must name a program"));
    }
    Ok(argv)
}

impl Job for Shell {
    const NAME: &'static str = NAME;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let mut command = Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a cancel kills what it started too.
            .process_group(0);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .spawn()
            .map_err(|err| JobError::fail(format!("cannot start {:?}: {err}", self.argv[0])))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(JobError::fail("child has no stdout/stderr pipes"));
        };
        let output = async {
            let (mut out_tail, mut err_tail) = (Vec::new(), Vec::new());
            tokio::join!(
                pump(stdout, ctx, &mut out_tail),
                pump(stderr, ctx, &mut err_tail)
            );
            err_tail.extend(out_tail);
            err_tail
        };
        let (tail, status) = tokio::select! {
            (tail, status) = async { let tail = output.await; (tail, child.wait().await) } => (tail, status),
            () = ctx.cancelled() => {
                kill_group(&mut child).await;
                return Err(JobError::retry("cancelled; child killed"));
            }
        };
        let status = status.map_err(|err| JobError::retry(format!("waiting for child: {err}")))?;
        if status.success() {
            return Ok(());
        }
        let tail = truncate(tail.join("\n"), TAIL_BYTES);
        Err(JobError::retry(format!("{status}: {tail}")))
    }
}

/// Kills the child's whole process group (the child leads it), then the
/// child itself in case the group kill could not run.
async fn kill_group(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let group = format!("-{pid}");
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if !killed.is_ok_and(|status| status.success()) {
            tracing::warn!(
                pid,
                "could not kill the process group; killing the child only"
            );
        }
    }
    // Reaps the child; kill_on_drop covers the case where this fails.
    let _ = child.kill().await;
}

/// Copies a stream's lines into the job log, keeping the last few.
async fn pump(stream: impl AsyncRead + Unpin, ctx: &JobContext, tail: &mut Vec<String>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tail.len() == TAIL_LINES {
            tail.remove(0);
        }
        tail.push(line.clone());
        ctx.log(line).await;
    }
}
