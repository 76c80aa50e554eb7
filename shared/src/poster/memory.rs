//! In-memory poster: a registry of open connections, each a channel whose receiving end the
//! local gateway forwards to the real WebSocket. It behaves as the API Gateway Management API
//! does for the cases fan-out cares about: posting to a connection that is not open is
//! [`PostError::Gone`], a frame over the size limit is [`PostError::PayloadTooLarge`]. Tests
//! can script failures ([`MemoryPoster::fail_next`]) and inspect what was delivered
//! ([`MemoryPoster::posts`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::{PostError, Poster};
use crate::ids::ConnectionId;

/// Default largest frame: the port's limit, [`MAX_FRAME_BYTES`](super::MAX_FRAME_BYTES).
pub const DEFAULT_MAX_FRAME_BYTES: usize = super::MAX_FRAME_BYTES;

#[derive(Debug, Default)]
struct Inner {
    open: HashMap<ConnectionId, UnboundedSender<Vec<u8>>>,
    scripted: HashMap<ConnectionId, VecDeque<PostError>>,
    posts: Vec<(ConnectionId, Vec<u8>)>,
}

/// Posts frames to in-memory connections. See the [module documentation](self).
#[derive(Debug)]
pub struct MemoryPoster {
    max_frame_bytes: usize,
    inner: Mutex<Inner>,
}

impl Default for MemoryPoster {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPoster {
    /// A poster with no open connections and the default frame limit
    /// ([`DEFAULT_MAX_FRAME_BYTES`]).
    pub fn new() -> Self {
        Self::with_max_frame_bytes(DEFAULT_MAX_FRAME_BYTES)
    }

    /// A poster that rejects frames longer than `max_frame_bytes`.
    pub fn with_max_frame_bytes(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The largest frame accepted, in bytes.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the registry consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens `connection` and returns the receiving end of its frames. Opening an id that is
    /// already open replaces it (the old receiver sees its channel close).
    pub fn open(&self, connection: ConnectionId) -> UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = unbounded_channel();
        self.inner().open.insert(connection, tx);
        rx
    }

    /// Closes `connection`: later posts to it are [`PostError::Gone`]. Returns whether it was
    /// open.
    pub fn close(&self, connection: &ConnectionId) -> bool {
        self.inner().open.remove(connection).is_some()
    }

    /// Whether `connection` is open.
    pub fn is_open(&self, connection: &ConnectionId) -> bool {
        self.inner()
            .open
            .get(connection)
            .is_some_and(|tx| !tx.is_closed())
    }

    /// The open connections, in no particular order.
    pub fn connections(&self) -> Vec<ConnectionId> {
        self.inner().open.keys().cloned().collect()
    }

    /// Makes the next post to `connection` fail with `error`, whether or not it is open.
    /// Calls queue up: each post consumes one scripted failure, in order.
    pub fn fail_next(&self, connection: ConnectionId, error: PostError) {
        self.inner()
            .scripted
            .entry(connection)
            .or_default()
            .push_back(error);
    }

    /// Every frame delivered so far, in order (failed posts are not recorded).
    pub fn posts(&self) -> Vec<(ConnectionId, Vec<u8>)> {
        self.inner().posts.clone()
    }

    /// The frames delivered to `connection` so far, in order.
    pub fn posts_to(&self, connection: &ConnectionId) -> Vec<Vec<u8>> {
        self.inner()
            .posts
            .iter()
            .filter(|(c, _)| c == connection)
            .map(|(_, data)| data.clone())
            .collect()
    }
}

#[async_trait]
impl Poster for MemoryPoster {
    /// Fails with a scripted error if one is queued for `connection`; otherwise rejects frames
    /// over the limit ([`PostError::PayloadTooLarge`]), answers [`PostError::Gone`] for a
    /// connection that is not open (or whose receiver was dropped, which also closes it), and
    /// delivers and records the frame.
    /// Closes the connection as [`MemoryPoster::close`] does (its receiver ends).
    async fn disconnect(&self, connection: &ConnectionId) -> Result<(), PostError> {
        self.close(connection);
        Ok(())
    }

    async fn post(&self, connection: &ConnectionId, data: &[u8]) -> Result<(), PostError> {
        let mut inner = self.inner();
        if let Some(queue) = inner.scripted.get_mut(connection) {
            let scripted = queue.pop_front();
            if queue.is_empty() {
                inner.scripted.remove(connection);
            }
            if let Some(error) = scripted {
                return Err(error);
            }
        }
        if data.len() > self.max_frame_bytes {
            return Err(PostError::PayloadTooLarge);
        }
        let Some(tx) = inner.open.get(connection) else {
            return Err(PostError::Gone);
        };
        if tx.send(data.to_vec()).is_err() {
            inner.open.remove(connection);
            return Err(PostError::Gone);
        }
        inner.posts.push((connection.clone(), data.to_vec()));
        Ok(())
    }
}
