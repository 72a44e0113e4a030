//! The live stream in the browser: one websocket to `/api/v1/stream` per
//! page, the latest stats snapshot in a signal, a connection state for the
//! indicator, and reconnection with back-off.
//!
//! The server computes one snapshot a second for every client, so an open
//! tab costs no query. Before the first message (and during SSR) pages show
//! what the server rendered.

use std::collections::{BTreeMap, HashSet};

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::counts::{CountsTable, QueueRow};

/// Where the page's connection to the stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Opening (also before hydration).
    Connecting,
    /// Messages are arriving.
    Live,
    /// Lost; trying again after a pause.
    Reconnecting,
}

impl Connection {
    /// The indicator's word, also its `data-connection` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
        }
    }
}

/// The stream's state as a page sees it.
#[derive(Clone, Copy, Debug)]
pub struct Live {
    /// The counts of the latest snapshot, once one arrived.
    pub counts: ReadSignal<Option<CountsTable>>,
    /// The throughput of the latest snapshot, once one arrived.
    pub rate: ReadSignal<Option<Rate>>,
    /// The jobs that changed between the last two snapshots (set once a
    /// second, when any did): pages showing one of them read it again.
    pub changed: ReadSignal<Changed>,
    /// The connection's state.
    pub connection: ReadSignal<Connection>,
}

/// Throughput at one snapshot (one a second).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Jobs completed per second.
    pub completed: f64,
    /// Jobs failed per second.
    pub failed: f64,
}

/// Jobs the stream reported changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// Their ids.
    pub ids: HashSet<String>,
    /// Whether some changes went unreported (too many, or the connection
    /// fell behind): then anything may have changed.
    pub dropped: bool,
}

impl Changed {
    /// Most ids kept between two snapshots; beyond, `dropped` is set.
    pub const MAX_IDS: usize = 1_000;

    /// Whether any of `ids` may have changed.
    pub fn touches<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        self.dropped || ids.any(|id| self.ids.contains(id))
    }

    /// Adds a `jobs` message's changes.
    pub fn add(&mut self, ids: Vec<String>, dropped: bool) {
        self.dropped |= dropped;
        for id in ids {
            if self.ids.len() == Self::MAX_IDS {
                self.dropped = true;
                break;
            }
            self.ids.insert(id);
        }
    }

    /// Whether there is nothing to report.
    pub fn is_empty(&self) -> bool {
        !self.dropped && self.ids.is_empty()
    }
}

/// A stream message, as far as the dashboard reads it.
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    queues: Vec<QueueMessage>,
    #[serde(default)]
    events: Vec<EventMessage>,
    #[serde(default)]
    dropped: u64,
    #[serde(default)]
    completed_per_sec: f64,
    #[serde(default)]
    failed_per_sec: f64,
}

#[derive(Deserialize)]
struct QueueMessage {
    queue: String,
    counts: BTreeMap<String, i64>,
}

#[derive(Deserialize)]
struct EventMessage {
    id: String,
}

/// What one stream message says.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A stats snapshot: the counts table, columns in the given order, and
    /// the throughput.
    Stats(CountsTable, Rate),
    /// Job events: the ids of the jobs, and whether some were dropped.
    Jobs(Vec<String>, bool),
}

/// Reads a stream message; `None` for anything else (or not JSON).
pub fn parse(text: &str, states: &[String]) -> Option<Frame> {
    let message: Message = serde_json::from_str(text).ok()?;
    match message.kind.as_str() {
        "stats" => {
            let mut queues: Vec<QueueRow> = message
                .queues
                .into_iter()
                .map(|q| QueueRow {
                    counts: states
                        .iter()
                        .map(|state| q.counts.get(state).copied().unwrap_or(0))
                        .collect(),
                    queue: q.queue,
                })
                .collect();
            queues.sort_by(|a, b| a.queue.cmp(&b.queue));
            Some(Frame::Stats(
                CountsTable {
                    states: states.to_vec(),
                    queues,
                },
                Rate {
                    completed: message.completed_per_sec,
                    failed: message.failed_per_sec,
                },
            ))
        }
        "jobs" => Some(Frame::Jobs(
            message.events.into_iter().map(|e| e.id).collect(),
            message.dropped > 0,
        )),
        _ => None,
    }
}

/// Follows the stream for as long as the calling component lives. `states`
/// are the counts table's columns (the server sends them with the first
/// render; none for a page that shows no counts).
pub fn follow(states: Signal<Vec<String>>) -> Live {
    let (counts, set_counts) = signal(None::<CountsTable>);
    let (rate, set_rate) = signal(None::<Rate>);
    let (changed, set_changed) = signal(Changed::default());
    let (connection, set_connection) = signal(Connection::Connecting);
    crate::when_live(move || {
        #[cfg(target_arch = "wasm32")]
        browser::connect(
            states,
            browser::Outputs {
                counts: set_counts,
                rate: set_rate,
                changed: set_changed,
                connection: set_connection,
            },
        );
    });
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (states, set_counts, set_rate, set_changed, set_connection);
    Live {
        counts,
        rate,
        changed,
        connection,
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    //! The websocket itself: only a browser has one.

    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{MessageEvent, WebSocket};

    use super::{Changed, Connection, Frame, parse};
    use crate::counts::CountsTable;

    /// First pause before reconnecting; doubles up to [`MAX_PAUSE`].
    const FIRST_PAUSE: Duration = Duration::from_millis(500);
    const MAX_PAUSE: Duration = Duration::from_secs(10);

    /// A socket that sends nothing for this long is taken for dead (it
    /// sends a snapshot every second) and replaced.
    const SILENCE: Duration = Duration::from_secs(5);

    /// Where the stream's news goes.
    #[derive(Clone, Copy)]
    pub(super) struct Outputs {
        pub counts: WriteSignal<Option<CountsTable>>,
        pub rate: WriteSignal<Option<super::Rate>>,
        pub changed: WriteSignal<Changed>,
        pub connection: WriteSignal<Connection>,
    }

    /// The open socket with its handlers, dropped together.
    struct Open {
        socket: WebSocket,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_close: Closure<dyn FnMut()>,
    }

    impl Drop for Open {
        fn drop(&mut self) {
            self.socket.set_onmessage(None);
            self.socket.set_onclose(None);
            let _ = self.socket.close();
        }
    }

    /// What one page's connection keeps between attempts.
    struct State {
        open: Option<Open>,
        pause: Duration,
        closed: bool,
        /// Messages so far; the watchdog compares it between its checks.
        received: u64,
        /// Job changes since the last snapshot.
        changed: Changed,
    }

    type Shared = Rc<RefCell<State>>;

    pub(super) fn connect(states: Signal<Vec<String>>, out: Outputs) {
        let state = Rc::new(RefCell::new(State {
            open: None,
            pause: FIRST_PAUSE,
            closed: false,
            received: 0,
            changed: Changed::default(),
        }));
        open(state.clone(), states, out);
        // The watchdog: a connection that went quiet (sleep, a network
        // change, a proxy that dropped it) is replaced.
        let watchdog = {
            let state = state.clone();
            let seen = std::cell::Cell::new(0);
            set_interval_with_handle(
                move || {
                    let (received, live) = {
                        let state = state.borrow();
                        (state.received, state.open.is_some())
                    };
                    if live && received == seen.get() {
                        retry(state.clone(), states, out);
                    }
                    seen.set(received);
                },
                SILENCE,
            )
            .ok()
        };
        on_cleanup({
            let state = send_wrapper::SendWrapper::new(state);
            move || {
                if let Some(watchdog) = watchdog {
                    watchdog.clear();
                }
                let mut state = state.borrow_mut();
                state.closed = true;
                state.open = None;
            }
        });
    }

    fn open(state: Shared, states: Signal<Vec<String>>, out: Outputs) {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        let socket = match WebSocket::new(&format!("{scheme}://{host}/api/v1/stream")) {
            Ok(socket) => socket,
            Err(_) => {
                retry(state, states, out);
                return;
            }
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let state = state.clone();
            move |event: MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                out.connection.set(Connection::Live);
                {
                    let mut state = state.borrow_mut();
                    state.pause = FIRST_PAUSE;
                    state.received += 1;
                }
                let states = states.get_untracked();
                match parse(&text, &states) {
                    Some(Frame::Stats(table, rate)) => {
                        out.rate.set(Some(rate));
                        // Columns come with the server's first render (and
                        // a page without counts has none): until then a
                        // snapshot has no table to fill.
                        if !states.is_empty() {
                            out.counts.set(Some(table));
                        }
                        let changed = std::mem::take(&mut state.borrow_mut().changed);
                        if !changed.is_empty() {
                            out.changed.set(changed);
                        }
                    }
                    Some(Frame::Jobs(ids, dropped)) => state.borrow_mut().changed.add(ids, dropped),
                    None => {}
                }
            }
        });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_close = Closure::<dyn FnMut()>::new({
            let state = state.clone();
            move || {
                if !state.borrow().closed {
                    retry(state.clone(), states, out);
                }
            }
        });
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        state.borrow_mut().open = Some(Open {
            socket,
            _on_message: on_message,
            _on_close: on_close,
        });
    }

    /// Waits, longer after each failure, then opens the socket again.
    /// Whatever happened meanwhile went unreported: the next snapshot says
    /// so (`dropped`).
    fn retry(state: Shared, states: Signal<Vec<String>>, out: Outputs) {
        out.connection.set(Connection::Reconnecting);
        let pause = {
            let mut state = state.borrow_mut();
            // Dropping the socket detaches its handlers first: its own
            // close event cannot start a second retry.
            let _ = state.open.take();
            state.changed.dropped = true;
            let pause = state.pause;
            state.pause = (pause * 2).min(MAX_PAUSE);
            pause
        };
        set_timeout(
            move || {
                if !state.borrow().closed {
                    open(state, states, out);
                }
            },
            pause,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states() -> Vec<String> {
        ["pending", "running", "completed"]
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_stats_message_becomes_the_counts_table() {
        let text = r#"{"type":"stats","at":"2026-11-30T00:00:00Z","queues":[
            {"queue":"zeta","counts":{"pending":2,"completed":5,"failed":1}},
            {"queue":"alpha","counts":{"running":1}}],
            "completed_per_sec":1.0,"failed_per_sec":0.0}"#;
        let Some(Frame::Stats(table, rate)) = parse(text, &states()) else {
            panic!("not a stats frame");
        };
        assert_eq!(
            rate,
            Rate {
                completed: 1.0,
                failed: 0.0
            }
        );
        assert_eq!(table.states, states());
        let rows: Vec<(&str, &[i64])> = table
            .queues
            .iter()
            .map(|q| (q.queue.as_str(), q.counts.as_slice()))
            .collect();
        assert_eq!(rows, [("alpha", &[0, 1, 0][..]), ("zeta", &[2, 0, 5][..])]);
    }

    #[test]
    fn job_events_name_the_jobs_that_changed() {
        let events = r#"{"type":"jobs","events":[
            {"id":"a","queue":"q","job_type":"noop","kind":{"kind":"enqueued"}},
            {"id":"b","queue":"q","job_type":"noop","kind":{"kind":"aborted"}}],"dropped":0}"#;
        assert_eq!(
            parse(events, &states()),
            Some(Frame::Jobs(vec!["a".into(), "b".into()], false))
        );
        let lagging = r#"{"type":"jobs","events":[],"dropped":3}"#;
        assert_eq!(parse(lagging, &states()), Some(Frame::Jobs(vec![], true)));
        assert_eq!(parse("not json", &states()), None);
        assert_eq!(parse(r#"{"type":"hello"}"#, &states()), None);
    }

    #[test]
    fn changes_touch_the_jobs_they_name_and_overflow_into_dropped() {
        let mut changed = Changed::default();
        assert!(changed.is_empty());
        changed.add(vec!["a".into(), "b".into()], false);
        assert!(changed.touches(["x", "b"].into_iter()));
        assert!(!changed.touches(["x", "y"].into_iter()));
        let many = (0..Changed::MAX_IDS + 5).map(|i| i.to_string()).collect();
        changed.add(many, false);
        assert!(changed.dropped);
        assert_eq!(changed.ids.len(), Changed::MAX_IDS);
        assert!(changed.touches(["anything"].into_iter()));
    }
}
