//! The open WebSocket connections: what the WebSocket API registers when a socket opens, and
//! what the management API posts to, describes and closes. A leaf, shared by both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

/// What a connection's writer is asked to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send a text frame.
    Text(String),
    /// Send a binary frame.
    Binary(Vec<u8>),
}

/// One open connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) tx: mpsc::Sender<Outgoing>,
    /// Notified by `DeleteConnection`.
    pub(crate) close: Notify,
    pub(crate) connected_at: DateTime<Utc>,
    pub(crate) last_active: Mutex<DateTime<Utc>>,
    pub(crate) source_ip: String,
    pub(crate) user_agent: Option<String>,
}

impl Conn {
    pub(crate) fn last_active(&self) -> DateTime<Utc> {
        *self
            .last_active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The client sent a data frame.
    pub(crate) fn touch(&self) {
        *self
            .last_active
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Utc::now();
    }
}

/// An open WebSocket connection, as the management API's `GetConnection` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// When the socket opened.
    pub connected_at: DateTime<Utc>,
    /// The client's last data frame (or the connection time).
    pub last_active_at: DateTime<Utc>,
    /// The client's address.
    pub source_ip: String,
}

/// The open connections by id, and how many connection tasks (socket plus `$disconnect`)
/// are still running.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    open: Mutex<HashMap<String, Arc<Conn>>>,
    tasks: std::sync::atomic::AtomicUsize,
    changed: Notify,
}

impl Registry {
    fn open(&self) -> MutexGuard<'_, HashMap<String, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Conn>> {
        self.open().get(id).cloned()
    }

    /// Opens a connection; its task must end with [`Registry::task_ended`].
    pub(crate) fn insert(&self, id: String, conn: Arc<Conn>) {
        self.tasks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.open().insert(id, conn);
    }

    /// A connection's task (socket and `$disconnect`) is over.
    pub(crate) fn task_ended(&self) {
        self.tasks.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Removes a connection; returns it if it was open.
    pub(crate) fn remove(&self, id: &str) -> Option<Arc<Conn>> {
        let removed = self.open().remove(id);
        self.changed.notify_waiters();
        removed
    }

    pub(crate) fn list(&self) -> Vec<ConnectionInfo> {
        self.open()
            .iter()
            .map(|(id, c)| ConnectionInfo {
                connection_id: id.clone(),
                connected_at: c.connected_at,
                last_active_at: c.last_active(),
                source_ip: c.source_ip.clone(),
            })
            .collect()
    }

    /// Resolves once no connection is open and every `$disconnect` has been delivered.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open().is_empty() && self.tasks.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}
