//! The connection-posting port: send one frame to one WebSocket connection. Adapters:
//! [`memory::MemoryPoster`] and [`apigw::ApiGatewayPoster`] (the API Gateway Management API).

pub mod apigw;
pub mod memory;

use async_trait::async_trait;

use crate::ids::ConnectionId;

/// Largest frame a [`Poster`] can deliver: API Gateway's 128 KiB WebSocket message limit (the
/// payload limit of `PostToConnection`). Fan-out refuses larger payloads before posting.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// API Gateway meters WebSocket messages in units of 32 KB: every frame Banter sends is bounded
/// to fit one (the largest item's frame is tested on the local stack), so a delivery is one
/// billed message. Posting a larger frame is a bug, logged by the senders.
pub const METERING_UNIT_BYTES: usize = 32 * 1024;

/// Why a post failed. Fan-out treats each kind differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The connection is gone (410): delete it and its subscriptions.
    #[error("connection gone")]
    Gone,
    /// Throttled (429), or the client's buffer is full: retry with backoff.
    #[error("throttled")]
    Throttled,
    /// The frame is over the size limit (413): never retry.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Not allowed (403): a configuration error; never retry.
    #[error("forbidden")]
    Forbidden,
    /// A server-side failure (5xx) or transport error: retry with backoff.
    #[error("post failed: {0}")]
    Transient(String),
}

impl PostError {
    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PostError::Throttled | PostError::Transient(_))
    }
}

/// Posts frames to connections.
#[async_trait]
pub trait Poster: Send + Sync {
    /// Sends `data` as one text frame to `connection`.
    async fn post(&self, connection: &ConnectionId, data: &[u8]) -> Result<(), PostError>;
    /// Closes `connection` (API Gateway's `DeleteConnection`; the client then sees the socket
    /// close and `$disconnect` runs). A connection that is already gone is not an error. How
    /// signing out and suspension end open sockets at once.
    async fn disconnect(&self, connection: &ConnectionId) -> Result<(), PostError>;
}
