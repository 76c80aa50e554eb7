//! Media attachments: declaring an upload ([`upload`]), checking what arrived in the bucket
//! ([`inspect`], [`process`], run by the `media` function on the bucket's object-created
//! events: [`lambda`]), and attaching checked files to messages with links signed for each
//! view ([`attach`]).
//!
//! Nothing trusts what a client declares: the upload's policy binds the key, the declared
//! `Content-Type` and the size, and the media function checks the bytes themselves (their
//! real type from their magic numbers, their size, that an image decodes within bounded
//! memory) since S3-compatible test servers do not enforce policies.

pub mod attach;
pub mod inspect;
pub mod lambda;
pub mod process;
pub mod upload;

use std::time::Duration;

/// How long a presigned upload form may be used.
pub const UPLOAD_TTL: Duration = Duration::from_secs(10 * 60);

/// How long a download link in a message's view works: short, since views are signed again
/// every time a message is read or delivered.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// Longest presigned URL a view carries: a longer one (an unexpectedly long session token) is
/// left out and logged, so that a frame's size stays bounded.
pub const MAX_URL_BYTES: usize = 2048;
