//! The live stream in the browser: one websocket to `/api/v1/stream` per
//! page, the latest stats snapshot in a signal, a connection state for the
//! indicator, and reconnection with back-off.
//!
//! The server computes one snapshot a second for every client, so an open
//! tab costs no query. Before the first message (and during SSR) pages show
//! what the server rendered.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::Deserialize;

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
    /// The connection's state.
    pub connection: ReadSignal<Connection>,
}

/// A `stats` message, as far as the dashboard reads it.
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    queues: Vec<QueueMessage>,
}

#[derive(Deserialize)]
struct QueueMessage {
    queue: String,
    counts: BTreeMap<String, i64>,
}

/// The counts table of a stream message, when it is a stats snapshot
/// (job events and anything unknown are `None`); columns in `states` order.
pub fn counts_of(text: &str, states: &[String]) -> Option<CountsTable> {
    let message: Message = serde_json::from_str(text).ok()?;
    if message.kind != "stats" {
        return None;
    }
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
    Some(CountsTable {
        states: states.to_vec(),
        queues,
    })
}

/// Follows the stream for as long as the calling component lives. `states`
/// are the table's columns (the server sends them with the first render).
pub fn follow(states: Signal<Vec<String>>) -> Live {
    let (counts, set_counts) = signal(None::<CountsTable>);
    let (connection, set_connection) = signal(Connection::Connecting);
    crate::when_live(move || {
        #[cfg(target_arch = "wasm32")]
        browser::connect(states, set_counts, set_connection);
    });
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (states, set_counts, set_connection);
    Live { counts, connection }
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

    use super::{Connection, counts_of};
    use crate::counts::CountsTable;

    /// First pause before reconnecting; doubles up to [`MAX_PAUSE`].
    const FIRST_PAUSE: Duration = Duration::from_millis(500);
    const MAX_PAUSE: Duration = Duration::from_secs(10);

    /// A socket that sends nothing for this long is taken for dead (it
    /// sends a snapshot every second) and replaced.
    const SILENCE: Duration = Duration::from_secs(5);

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
    }

    pub(super) fn connect(
        states: Signal<Vec<String>>,
        set_counts: WriteSignal<Option<CountsTable>>,
        set_connection: WriteSignal<Connection>,
    ) {
        let state = Rc::new(RefCell::new(State {
            open: None,
            pause: FIRST_PAUSE,
            closed: false,
            received: 0,
        }));
        open(state.clone(), states, set_counts, set_connection);
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
                        retry(state.clone(), states, set_counts, set_connection);
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

    fn open(
        state: Rc<RefCell<State>>,
        states: Signal<Vec<String>>,
        set_counts: WriteSignal<Option<CountsTable>>,
        set_connection: WriteSignal<Connection>,
    ) {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        let socket = match WebSocket::new(&format!("{scheme}://{host}/api/v1/stream")) {
            Ok(socket) => socket,
            Err(_) => {
                retry(state, states, set_counts, set_connection);
                return;
            }
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let state = state.clone();
            move |event: MessageEvent| {
                let Some(text) = event.data().as_string() else {
                    return;
                };
                set_connection.set(Connection::Live);
                {
                    let mut state = state.borrow_mut();
                    state.pause = FIRST_PAUSE;
                    state.received += 1;
                }
                // Columns come with the server's first render; until then
                // a snapshot has nothing to fill.
                let states = states.get_untracked();
                if states.is_empty() {
                    return;
                }
                if let Some(table) = counts_of(&text, &states) {
                    set_counts.set(Some(table));
                }
            }
        });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let on_close = Closure::<dyn FnMut()>::new({
            let state = state.clone();
            move || {
                if !state.borrow().closed {
                    retry(state.clone(), states, set_counts, set_connection);
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
    fn retry(
        state: Rc<RefCell<State>>,
        states: Signal<Vec<String>>,
        set_counts: WriteSignal<Option<CountsTable>>,
        set_connection: WriteSignal<Connection>,
    ) {
        set_connection.set(Connection::Reconnecting);
        let pause = {
            let mut state = state.borrow_mut();
            // Dropping the socket detaches its handlers first: its own
            // close event cannot start a second retry.
            let _ = state.open.take();
            let pause = state.pause;
            state.pause = (pause * 2).min(MAX_PAUSE);
            pause
        };
        set_timeout(
            move || {
                if !state.borrow().closed {
                    open(state, states, set_counts, set_connection);
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
        let table = counts_of(text, &states()).unwrap();
        assert_eq!(table.states, states());
        let rows: Vec<(&str, &[i64])> = table
            .queues
            .iter()
            .map(|q| (q.queue.as_str(), q.counts.as_slice()))
            .collect();
        assert_eq!(rows, [("alpha", &[0, 1, 0][..]), ("zeta", &[2, 0, 5][..])]);
    }

    #[test]
    fn job_events_and_garbage_are_not_counts() {
        let events = r#"{"type":"jobs","events":[],"dropped":0}"#;
        assert_eq!(counts_of(events, &states()), None);
        assert_eq!(counts_of("not json", &states()), None);
    }
}
