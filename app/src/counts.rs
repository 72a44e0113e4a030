//! Job counts by queue and state: the table the overview page shows, and the
//! server function that reads it from the engine.
//!
//! The engine's own types never cross into the browser (the wasm half is built
//! without the engine), so the server converts them into [`CountsTable`], a
//! plain serializable value both halves share.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Job counts for every queue, shaped like the table that shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountsTable {
    /// The job state names, in the engine's lifecycle order: the table's columns.
    pub states: Vec<String>,
    /// One row per queue, sorted by queue name.
    pub queues: Vec<QueueRow>,
}

/// One queue's job counts, aligned with [`CountsTable::states`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRow {
    /// The queue's name.
    pub queue: String,
    /// The number of jobs in each state, in the order of [`CountsTable::states`].
    pub counts: Vec<i64>,
}

impl QueueRow {
    /// All of this queue's jobs, whatever their state.
    pub fn total(&self) -> i64 {
        self.counts.iter().sum()
    }
}

#[cfg(feature = "ssr")]
impl CountsTable {
    /// Builds the table from the engine's report, with a column for every state the
    /// engine knows (a state with no jobs counts zero) and queues sorted by name.
    pub fn from_engine(report: Vec<amboy::QueueCounts>) -> Self {
        let states = amboy::JobState::ALL;
        let mut queues: Vec<QueueRow> = report
            .into_iter()
            .map(|queue| QueueRow {
                counts: states
                    .iter()
                    .map(|state| queue.counts.get(state).copied().unwrap_or(0))
                    .collect(),
                queue: queue.queue,
            })
            .collect();
        queues.sort_by(|a, b| a.queue.cmp(&b.queue));
        Self {
            states: states.iter().map(ToString::to_string).collect(),
            queues,
        }
    }
}

/// The job counts of every queue, from the engine's latest stats snapshot:
/// computed once a second for every open tab, so a tab costs no query (the
/// engine reads the counters itself only before its first snapshot).
///
/// The engine comes from the Leptos context the server provides for every
/// request. Engine errors are logged here and reach the browser only as a
/// generic message, so database details never leak into the page.
#[server(prefix = "/fn", endpoint = "queue_counts")]
pub async fn queue_counts() -> Result<CountsTable, ServerFnError> {
    let engine = use_context::<amboy::Engine>()
        .ok_or_else(|| ServerFnError::new("the job engine is not available to the dashboard"))?;
    match engine.stats().await {
        Ok(snapshot) => Ok(CountsTable::from_engine(snapshot.queues.clone())),
        Err(error) => {
            tracing::error!(%error, "dashboard could not read queue counts");
            Err(ServerFnError::new("could not read the queue counts"))
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use amboy::{JobState, QueueCounts};
    use std::collections::BTreeMap;

    fn report(queue: &str, counts: &[(JobState, i64)]) -> QueueCounts {
        QueueCounts {
            queue: queue.to_string(),
            counts: counts.iter().copied().collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn every_state_gets_a_column_in_engine_order() {
        let table = CountsTable::from_engine(Vec::new());
        let expected: Vec<String> = JobState::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(table.states, expected);
        assert!(table.queues.is_empty());
    }

    #[test]
    fn rows_align_with_states_and_missing_states_count_zero() {
        let table = CountsTable::from_engine(vec![
            report("zeta", &[(JobState::ALL[1], 3)]),
            report("alpha", &[(JobState::ALL[0], 2), (JobState::ALL[7], 5)]),
        ]);
        let names: Vec<&str> = table.queues.iter().map(|row| row.queue.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);

        let alpha = &table.queues[0];
        assert_eq!(alpha.counts.len(), JobState::ALL.len());
        assert_eq!(alpha.counts[0], 2);
        assert_eq!(alpha.counts[7], 5);
        assert_eq!(alpha.total(), 7);

        let zeta = &table.queues[1];
        assert_eq!(zeta.counts, [0, 3, 0, 0, 0, 0, 0, 0]);
        assert_eq!(zeta.total(), 3);
    }
}
