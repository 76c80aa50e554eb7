//! The object-storage port: the media bucket. Clients upload straight to it with a presigned
//! POST and download with presigned GET URLs, so file bytes never pass through a Lambda
//! function's request; the media function reads what was uploaded and writes thumbnails.
//! Adapters: [`memory::MemoryObjects`] (the local stack and tests) and [`s3::S3Objects`]
//! (`aws-sdk-s3`). The conformance suite (`shared/tests/objects.rs`) runs against both.

pub mod memory;
pub mod post_policy;
pub mod s3;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::ObjectKey;
use crate::time::Timestamp;

/// Why an object-store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// A presigned request that this store did not sign, that expired, or whose form breaks
    /// its policy (the memory store checks what S3 would).
    #[error("request refused: {0}")]
    Refused(&'static str),
    /// Anything else from the backend. The text is for logs, never for clients.
    #[error("object storage: {0}")]
    Backend(String),
}

/// Shorthand for object-store results.
pub type ObjectResult<T> = Result<T, ObjectError>;

/// What a presigned POST lets its holder upload: exactly one key, one `Content-Type`, a size
/// range, until a deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    /// The key the object must be stored under.
    pub key: ObjectKey,
    /// The `Content-Type` the form must declare.
    pub content_type: String,
    /// Largest body accepted, in bytes (`content-length-range` 1..=this).
    pub max_bytes: u64,
    /// Until when the form may be posted.
    pub expires_at: Timestamp,
}

/// A browser-ready upload: POST `multipart/form-data` to `url` with every field of `fields`
/// (in any order), then the file as the last part, named `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedPost {
    /// Where to post the form.
    pub url: String,
    /// The form fields, the signed policy among them.
    pub fields: BTreeMap<String, String>,
}

/// The start of an object, read with a bound on how much is held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// At most the bytes asked for, from the start of the object.
    pub body: Vec<u8>,
    /// The whole object's size, in bytes.
    pub size: u64,
    /// The stored `Content-Type` (what the uploader declared: never trusted).
    pub content_type: Option<String>,
}

/// The media bucket.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores `body` under `key` (thumbnails), replacing what was there.
    async fn put(&self, key: &ObjectKey, body: Vec<u8>, content_type: &str) -> ObjectResult<()>;
    /// Reads at most `max_bytes` from the start of the object at `key`, with its whole size;
    /// `None` when there is none. A caller that must refuse large objects asks for one byte
    /// more than its limit and never holds more.
    async fn get(&self, key: &ObjectKey, max_bytes: u64) -> ObjectResult<Option<Fetched>>;
    /// Deletes the object at `key`; a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> ObjectResult<()>;
    /// A form that uploads one object under `policy`.
    async fn presign_post(&self, policy: &UploadPolicy) -> ObjectResult<PresignedPost>;
    /// A URL that downloads the object at `key` for `expires_in` (never stored: every view
    /// of a message signs its own).
    async fn presign_get(&self, key: &ObjectKey, expires_in: Duration) -> ObjectResult<String>;
}
