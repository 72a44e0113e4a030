//! `amboy watch`: the server's live stream in the terminal — counts by
//! queue and state and throughput each second, and the latest job events —
//! or, with `--json`, every stream message as a line of JSON. It reads the
//! same websocket as the dashboard and reconnects with back-off when the
//! server goes away.

use std::collections::VecDeque;
use std::io::IsTerminal as _;
use std::time::Duration;

use amboy::{JobEvent, JobEventKind, JobState, StatsSnapshot};
use anyhow::Context as _;
use futures::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;

use crate::api::stream::StreamMessage;
use crate::cli::WatchArgs;
use crate::client::Client;
use crate::config::Config;

/// Job events shown under the table.
const RECENT_EVENTS: usize = 10;
/// First pause before reconnecting; doubles up to [`MAX_RECONNECT_PAUSE`].
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(10);

/// Runs the command.
pub async fn run(config: &Config, args: &WatchArgs) -> anyhow::Result<()> {
    let client = super::client(config)?;
    // The first connection must work: a wrong URL or token fails at once.
    let mut socket = client.stream().await?;
    let mut screen = Screen::default();
    let mut snapshots = 0u64;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let message: StreamMessage = serde_json::from_str(&text)
                    .with_context(|| format!("unexpected stream message: {text}"))?;
                if args.json {
                    println!("{text}");
                } else {
                    screen.show(message.clone());
                }
                if matches!(message, StreamMessage::Stats(_)) {
                    snapshots += 1;
                    if args.count.is_some_and(|count| snapshots >= count) {
                        return Ok(());
                    }
                }
            }
            Some(Ok(Message::Close(_))) | None => {
                socket = reconnect(&client, "the server closed the stream").await;
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => socket = reconnect(&client, &err.to_string()).await,
        }
    }
}

/// Opens the stream again, pausing longer after each failure.
async fn reconnect(client: &Client, why: &str) -> crate::client::Socket {
    eprintln!("amboy watch: disconnected ({why}); reconnecting");
    let mut pause = RECONNECT_PAUSE;
    loop {
        tokio::time::sleep(pause).await;
        match client.stream().await {
            Ok(socket) => return socket,
            Err(err) => {
                eprintln!("amboy watch: {err:#}; retrying in {pause:?}");
                pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
            }
        }
    }
}

/// What the terminal shows: the latest snapshot and recent events.
#[derive(Default)]
struct Screen {
    recent: VecDeque<String>,
    dropped: u64,
}

impl Screen {
    fn show(&mut self, message: StreamMessage) {
        match message {
            StreamMessage::Jobs { events, dropped } => {
                self.dropped += dropped;
                for event in &events {
                    if self.recent.len() == RECENT_EVENTS {
                        self.recent.pop_front();
                    }
                    self.recent.push_back(describe(event));
                }
            }
            StreamMessage::Stats(snapshot) => {
                let tty = std::io::stdout().is_terminal();
                if tty {
                    // Clear the screen and draw from the top.
                    print!("\x1b[2J\x1b[H");
                }
                print!("{}", self.render(&snapshot));
                if !tty {
                    println!();
                }
            }
        }
    }

    fn render(&self, snapshot: &StatsSnapshot) -> String {
        let mut out = format!(
            "{}  completed {:.1}/s  failed {:.1}/s\n\n",
            snapshot.at.format("%Y-%m-%d %H:%M:%S UTC"),
            snapshot.completed_per_sec,
            snapshot.failed_per_sec
        );
        let mut header = vec!["QUEUE".to_owned()];
        header.extend(JobState::ALL.iter().map(|s| s.as_str().to_uppercase()));
        let rows: Vec<Vec<String>> = snapshot
            .queues
            .iter()
            .map(|queue| {
                let mut row = vec![queue.queue.clone()];
                row.extend(
                    JobState::ALL
                        .iter()
                        .map(|s| queue.counts.get(s).copied().unwrap_or(0).to_string()),
                );
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        out.push_str(&super::table(&header, &rows));
        if !self.recent.is_empty() {
            out.push_str("\nrecent events");
            if self.dropped > 0 {
                out.push_str(&format!(" ({} more not shown)", self.dropped));
            }
            out.push('\n');
            for line in &self.recent {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// One line per event.
fn describe(event: &JobEvent) -> String {
    let what = match &event.kind {
        JobEventKind::Enqueued => "enqueued".to_owned(),
        JobEventKind::Started { attempt, .. } => format!("started (attempt {attempt})"),
        JobEventKind::Finished { state, error, .. } => match error {
            Some(error) => format!("{state}: {error}"),
            None => state.to_string(),
        },
        JobEventKind::Aborted => "aborted".to_owned(),
        JobEventKind::Expired => "expired (not started by its deadline)".to_owned(),
        JobEventKind::Rescued { state } => format!("rescued ({state})"),
        JobEventKind::CompletionRefused => "result refused (lock lost)".to_owned(),
        JobEventKind::Retried => "retried by an operator".to_owned(),
        JobEventKind::MarkedComplete => "marked complete".to_owned(),
        JobEventKind::Deleted => "deleted".to_owned(),
    };
    format!("  {} {} [{}] {what}", event.queue, event.id, event.job_type)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use amboy::QueueCounts;

    use super::*;

    #[test]
    fn the_screen_shows_counts_and_recent_events() {
        let mut screen = Screen::default();
        screen.show(StreamMessage::Jobs {
            events: vec![JobEvent {
                id: "j1".into(),
                queue: "mail".into(),
                job_type: "noop".into(),
                kind: JobEventKind::Finished {
                    state: JobState::Failed,
                    attempt: 3,
                    run_secs: 0.1,
                    error: Some("boom".into()),
                },
            }],
            dropped: 2,
        });
        let mut counts: BTreeMap<JobState, i64> = JobState::ALL.iter().map(|s| (*s, 0)).collect();
        counts.insert(JobState::Pending, 7);
        let snapshot = StatsSnapshot {
            at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            queues: vec![QueueCounts {
                queue: "mail".into(),
                counts,
            }],
            completed_per_sec: 2.0,
            failed_per_sec: 0.5,
        };
        let text = screen.render(&snapshot);
        assert!(text.contains("completed 2.0/s  failed 0.5/s"), "{text}");
        assert!(text.contains("mail   0        7"), "{text}");
        assert!(text.contains("(2 more not shown)"), "{text}");
        assert!(text.contains("mail j1 [noop] failed: boom"), "{text}");
    }
}
