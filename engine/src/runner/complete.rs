//! The completer: writes finished attempts in batches.
//!
//! Executors send results here instead of writing them one by one: a
//! transaction per batch, not per job, is most of the engine's throughput.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::jittered;
use crate::engine::Engine;
use crate::events::JobEventKind;
use crate::metrics::outcome_label;
use crate::store::finish::Finish;
use crate::store::timing::Metric;

/// Most results written in one transaction.
const MAX_BATCH: usize = 1_000;
/// How long the completer gathers results before writing them.
const FLUSH_WINDOW: Duration = Duration::from_millis(2);
/// First pause after a failed write; doubles up to [`MAX_RETRY_PAUSE`].
const RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// Writes results until every sender is gone and the channel is empty.
pub(crate) async fn run(
    engine: Engine,
    queue: Arc<str>,
    mut finished: mpsc::UnboundedReceiver<Finish>,
) {
    let mut batch: Vec<Finish> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = finished.recv().await {
        batch.push(first);
        // Gather what arrives within FLUSH_WINDOW: one transaction per
        // batch, not per job, is most of the engine's throughput.
        let window = tokio::time::sleep(FLUSH_WINDOW);
        tokio::pin!(window);
        while batch.len() < MAX_BATCH {
            tokio::select! {
                next = finished.recv() => match next {
                    Some(next) => batch.push(next),
                    None => break,
                },
                () = &mut window => break,
            }
        }
        let mut pause = RETRY_PAUSE;
        let mut failures = 0u32;
        // A result is never dropped for a passing database error: the lock
        // is still ours until it expires, and the write is idempotent.
        let accepted = loop {
            match engine
                .metrics()
                .timed(
                    "complete",
                    engine
                        .store()
                        .finish(&queue, engine.process_id(), &mut batch),
                )
                .await
            {
                Ok(accepted) => {
                    if failures > 0 {
                        tracing::info!(%queue, failures, jobs = batch.len(), "recorded results after database errors");
                    }
                    break accepted;
                }
                Err(err) => {
                    tracing::warn!(%queue, %err, jobs = batch.len(), ?pause, "could not record results; retrying");
                    tokio::time::sleep(jittered(pause)).await;
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                    failures += 1;
                }
            }
        };
        {
            let mut running = engine.running();
            for f in &batch {
                running.remove(&f.id);
            }
        }
        // Retries, snoozes and releases are pending again: the runner
        // recomputes when to wake.
        if batch
            .iter()
            .any(|f| accepted.contains(&f.id) && !f.outcome.state().is_terminal())
        {
            engine.waker(&queue).notify_one();
        }
        // (job type, outcome, count): a batch holds few of each.
        let mut outcomes: Vec<(String, &'static str, u64)> = Vec::new();
        for finish in batch.drain(..) {
            let kind = if accepted.contains(&finish.id) {
                if let Some(outcome) = outcome_label(&finish.outcome) {
                    let run_us = finish.ended_at - finish.started_at;
                    engine.timings().add(
                        finish.ended_at,
                        &queue,
                        &finish.job_type,
                        Metric::Run,
                        run_us,
                    );
                    let metrics = engine.metrics();
                    metrics.ran(&queue, &finish.job_type, run_us.max(0) as f64 / 1e6);
                    match outcomes
                        .iter_mut()
                        .find(|(t, o, _)| *t == finish.job_type && *o == outcome)
                    {
                        Some((_, _, n)) => *n += 1,
                        None => outcomes.push((finish.job_type.clone(), outcome, 1)),
                    }
                }
                JobEventKind::Finished {
                    state: finish.outcome.state(),
                    attempt: finish.attempt,
                    run_secs: (finish.ended_at - finish.started_at).max(0) as f64 / 1e6,
                    error: finish.outcome.error().map(str::to_owned),
                }
            } else {
                tracing::warn!(job = %finish.id, %queue, "result refused: this process no longer owns the job");
                JobEventKind::CompletionRefused
            };
            engine.emit_job(&finish.id, &queue, &finish.job_type, kind);
        }
        for (job_type, outcome, n) in outcomes {
            engine.metrics().finished(&queue, &job_type, outcome, n);
        }
    }
}
