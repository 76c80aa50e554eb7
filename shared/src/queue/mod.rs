//! The fan-out queue port: jobs that deliver one server message to the subscribers of a room.
//! Adapters: [`memory::MemoryQueue`] (with visibility timeout and dead-letter queue, as SQS
//! behaves) and [`sqs::SqsQueue`].

pub mod memory;
pub mod sqs;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::ConnectionId;
use crate::model::BucketRange;
use crate::room::Room;

/// One unit of fan-out work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanoutJob {
    /// Unique id of this job (shards of one broadcast share the broadcast's id).
    pub job_id: uuid::Uuid,
    /// The room whose subscribers receive it.
    pub room: Room,
    /// The server message, already in its wire form (a JSON object).
    pub payload: serde_json::Value,
    /// The buckets of subscriptions this job covers; `None` means the whole room, which the
    /// fan-out may split into shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<BucketRange>,
    /// A connection that must not receive it (the sender of a typing indicator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<ConnectionId>,
    /// Set for a stream delivery: "deliver the room's stream as far as it is committed"
    /// (`payload` is then `null`: the frames are built from the stream). Unset for a frame
    /// posted as it is (typing, presence, receipts, and the shards of a stream delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamWork>,
    /// Set to post the frame to these connections only, without reading the room's
    /// subscriptions: a stream delivery's retry of the connections a pass left unfinished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<ConnectionId>>,
}

/// What a stream delivery job asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamWork {
    /// Flush the room's coalesced counts first (a like or a reply changed one).
    #[serde(default)]
    pub counts: bool,
}

impl FanoutJob {
    /// A job for the whole room.
    pub fn new(room: Room, payload: serde_json::Value) -> Self {
        Self {
            job_id: uuid::Uuid::now_v7(),
            room,
            payload,
            shard: None,
            exclude: None,
            stream: None,
            targets: None,
        }
    }

    /// A stream delivery job for `room`.
    pub fn stream(room: Room, work: StreamWork) -> Self {
        Self {
            stream: Some(work),
            ..Self::new(room, serde_json::Value::Null)
        }
    }
}

/// Why a queue call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The job does not fit in one queue message.
    #[error("job too large: {0} bytes")]
    TooLarge(usize),
    /// The backend failed. Text for logs only.
    #[error("queue backend: {0}")]
    Backend(String),
}

/// A received job, with what is needed to delete it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The queue's id for the message (SQS `messageId`).
    pub message_id: String,
    /// Handle to delete it with.
    pub receipt: String,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
    /// The job.
    pub job: FanoutJob,
}

/// Largest job body accepted (SQS allows 256 KiB; keep a margin).
pub const MAX_JOB_BYTES: usize = 240 * 1024;

/// The fan-out queue.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues jobs (any number; adapters batch as their backend allows).
    async fn send(&self, jobs: &[FanoutJob]) -> Result<(), QueueError>;
    /// Receives up to `max` visible jobs, waiting up to `wait` for the first; each stays
    /// invisible for the queue's visibility timeout unless deleted.
    async fn receive(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<Received>, QueueError>;
    /// Deletes a received job (it is done).
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
}

/// Serializes a job, enforcing [`MAX_JOB_BYTES`].
pub fn encode_job(job: &FanoutJob) -> Result<String, QueueError> {
    let body = serde_json::to_string(job).map_err(|e| QueueError::Backend(e.to_string()))?;
    if body.len() > MAX_JOB_BYTES {
        return Err(QueueError::TooLarge(body.len()));
    }
    Ok(body)
}
