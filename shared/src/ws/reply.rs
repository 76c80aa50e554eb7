//! Answering the caller of `$default`: every frame posted back to the calling connection goes
//! through [`Replier`], which retries throttled and transient posts and records what the
//! answer came to for the invocation's log line.

use std::time::Duration;

use crate::error::AppError;
use crate::ids::ConnectionId;
use crate::poster::{PostError, Poster};
use crate::protocol::ServerMessage;

/// Attempts at posting one reply when the post is throttled or fails transiently.
pub const REPLY_ATTEMPTS: u32 = 3;

/// First backoff between reply attempts; doubled each time, with jitter.
const REPLY_BACKOFF: Duration = Duration::from_millis(25);

/// What one frame came to, for the invocation's log line.
pub(crate) struct Outcome {
    /// `ack`, `pong` or `error`.
    pub answer: &'static str,
    /// The error answered, if any.
    pub error: Option<AppError>,
    /// Whether the answer reached the connection.
    pub delivered: bool,
}

/// Posts to the calling connection.
pub(crate) struct Replier<'a> {
    poster: &'a dyn Poster,
    connection: &'a ConnectionId,
}

impl<'a> Replier<'a> {
    /// A replier posting to `connection` through `poster`.
    pub fn new(poster: &'a dyn Poster, connection: &'a ConnectionId) -> Self {
        Self { poster, connection }
    }

    /// The calling connection.
    pub fn connection(&self) -> &'a ConnectionId {
        self.connection
    }

    /// Posts one frame, retrying throttled and transient failures with jittered backoff.
    pub async fn post(&self, message: &ServerMessage) -> Result<(), PostError> {
        let data = message.to_json();
        if data.len() > crate::poster::METERING_UNIT_BYTES {
            tracing::error!(kind = %message.kind(), bytes = data.len(), "frame over one 32 KB unit");
        }
        let mut attempt = 1;
        loop {
            match self.poster.post(self.connection, data.as_bytes()).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_retryable() && attempt < REPLY_ATTEMPTS => {
                    let base = REPLY_BACKOFF * 2u32.pow(attempt - 1);
                    let jitter = fastrand::u64(0..=u64::try_from(base.as_millis()).unwrap_or(0));
                    tokio::time::sleep(base + Duration::from_millis(jitter)).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, kind = %message.kind(), attempt, "post to caller failed");
                    return Err(e);
                }
            }
        }
    }

    /// Answers with `message` (an `ack` or `pong`).
    pub async fn answer(&self, message: &ServerMessage) -> Outcome {
        Outcome {
            answer: message.kind(),
            error: None,
            delivered: self.post(message).await.is_ok(),
        }
    }

    /// Answers with the `error` frame of `error`: the one place an [`AppError`] becomes what
    /// a WebSocket client sees.
    pub async fn fail(&self, message_id: Option<&str>, error: &AppError) -> Outcome {
        Outcome {
            answer: "error",
            delivered: self
                .post(&ServerMessage::error(message_id, error))
                .await
                .is_ok(),
            error: Some(error.clone()),
        }
    }
}
