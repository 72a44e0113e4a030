//! Signals between processes sharing one PostgreSQL: a put wakes the
//! queue's runners everywhere, an abort reaches the job's owner, a settings
//! change applies at once. They ride on `LISTEN`/`NOTIFY` on one channel and
//! are sent inside the transaction that made the change, so PostgreSQL
//! delivers them only once it commits.
//!
//! Signals are a speed-up, never the only path: runners poll, the lock
//! keeper, the abort watch and the scheduler read the database, so a signal lost while the
//! listener reconnects delays work by at most a poll interval. On SQLite
//! they are not sent between processes; put signals wake this process's
//! runners directly (before the commit, which is harmless: SQLite's one
//! writer connection makes the woken claim wait for it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DbErr, RuntimeErr, Value};

use super::{Store, placeholders};
use crate::error::{Error, Result};

/// The one channel amboy notifies on.
pub const CHANNEL: &str = "amboy";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Jobs were put in (or handed back to) this queue.
    Put(String),
    /// An abort was requested for this running job.
    Abort(String),
    /// A queue was created or its settings changed.
    Queues,
    /// A schedule was created, changed or deleted.
    Schedules,
}

impl Signal {
    fn payload(&self) -> String {
        match self {
            Self::Put(queue) => format!("put {queue}"),
            Self::Abort(id) => format!("abort {id}"),
            Self::Queues => "queues".to_owned(),
            Self::Schedules => "schedules".to_owned(),
        }
    }

    /// Reads a payload; `None` for one this version does not know (a newer
    /// process may send more kinds).
    pub fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(' ') {
            Some(("put", queue)) => Some(Self::Put(queue.to_owned())),
            Some(("abort", id)) => Some(Self::Abort(id.to_owned())),
            None if payload == "queues" => Some(Self::Queues),
            None if payload == "schedules" => Some(Self::Schedules),
            _ => None,
        }
    }
}

/// One wake-up per queue for this process's runners.
#[derive(Debug, Default)]
pub struct Wakers(Mutex<HashMap<String, Arc<Notify>>>);

impl Wakers {
    /// The wake-up of `queue`'s runner.
    pub fn get(&self, queue: &str) -> Arc<Notify> {
        let mut wakers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        wakers.entry(queue.to_owned()).or_default().clone()
    }

    /// Wakes `queue`'s runner (or its next wait, if it is busy).
    pub fn wake(&self, queue: &str) {
        self.get(queue).notify_one();
    }

    /// Wakes every runner.
    pub fn wake_all(&self) {
        let wakers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for waker in wakers.values() {
            waker.notify_one();
        }
    }
}

impl Store {
    /// Sends `signals` on `conn` (a transaction: delivered at commit). One
    /// statement for all of them; on SQLite, put signals wake this
    /// process's runners and the others are not sent.
    pub async fn signal(&self, conn: &impl ConnectionTrait, signals: &[Signal]) -> Result<()> {
        if !self.dialect().signals() {
            for signal in signals {
                if let Signal::Put(queue) = signal {
                    self.wakers().wake(queue);
                }
            }
            return Ok(());
        }
        self.signal_others(conn, signals).await
    }

    /// Sends `signals` to the other processes only (nothing on SQLite), for
    /// a caller that wakes this process's runners itself once it has
    /// committed — a put. Woken before the commit, a runner's claim comes
    /// early, finds nothing, and its round trip then delays the next put.
    pub async fn signal_others(
        &self,
        conn: &impl ConnectionTrait,
        signals: &[Signal],
    ) -> Result<()> {
        if !self.dialect().signals() || signals.is_empty() {
            return Ok(());
        }
        let calls = placeholders(2, signals.len())
            .split(", ")
            .map(|p| format!("pg_notify($1, {p})"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut values: Vec<Value> = vec![CHANNEL.into()];
        values.extend(signals.iter().map(|signal| signal.payload().into()));
        conn.execute_raw(self.stmt(&format!("SELECT {calls}"), values))
            .await?;
        Ok(())
    }

    /// A listener on the signal channel, on its own connection (not taken
    /// from the pool); `None` on SQLite.
    pub async fn listen(&self) -> Result<Option<PgListener>> {
        if !self.dialect().signals() {
            return Ok(None);
        }
        let mut listener = PgListener::connect(&self.url)
            .await
            .map_err(listener_error)?;
        listener.listen(CHANNEL).await.map_err(listener_error)?;
        Ok(Some(listener))
    }
}

/// A listener's error as an engine error.
pub fn listener_error(err: sea_orm::sqlx::Error) -> Error {
    Error::Database(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for signal in [
            Signal::Put("mail.outbox".to_owned()),
            Signal::Abort("job:1".to_owned()),
            Signal::Queues,
            Signal::Schedules,
        ] {
            assert_eq!(Signal::parse(&signal.payload()), Some(signal));
        }
        assert_eq!(Signal::parse("resize 3"), None);
        assert_eq!(Signal::parse(""), None);
    }
}
