//! The domain model: what Banter stores and serves. Field names follow the seed API designs.

pub mod audit;
pub mod ban;
pub mod claim;
pub mod comment;
pub mod connection;
pub mod conversation;
pub mod device;
pub mod email;
pub mod event;
pub mod media;
pub mod message;
pub mod occupancy;
pub mod presence;
pub mod stream;
pub mod user;
pub mod words;

pub use audit::{ModerationKind, ModerationRecord};
pub use ban::{Ban, MAX_MUTE_SECONDS};
pub use claim::{CLAIM_WINDOW, Fingerprint};
pub use comment::*;
pub use connection::*;
pub use conversation::*;
pub use device::{Device, DeviceType, MAX_PLATFORM_CHARS};
pub use email::normalize_email;
pub use event::*;
pub use media::{Dimensions, MediaItem, MediaKind, ProcessingStatus};
pub use message::*;
pub use occupancy::*;
pub use presence::*;
pub use stream::*;
pub use user::*;

use serde::{Deserialize, Serialize};

use crate::validate::{FieldError, text};

/// The most characters a comment or message may hold, after trimming.
pub const MAX_CONTENT_CHARS: usize = 2000;

/// The text of a comment or message: trimmed, 1..=2000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Content(String);

impl Content {
    /// Validates `raw` as the content of field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        text(field, raw, 1, MAX_CONTENT_CHARS).map(Content)
    }

    /// The text of a `system` message whose sentence could not be made (it always can: its
    /// sentences are short and never empty).
    pub(crate) fn fallback() -> Self {
        Content("changed the conversation".to_owned())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Content {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Content::parse("content", &s)
    }
}

impl From<Content> for String {
    fn from(c: Content) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(Content::parse("content", "  hi ").unwrap().as_str(), "hi");
        assert!(Content::parse("content", " \n ").is_err());
        assert!(Content::parse("content", &"é".repeat(2000)).is_ok());
        let err = Content::parse("content", &"a".repeat(2001)).unwrap_err();
        assert_eq!(err.field, "content");
        assert!(serde_json::from_str::<Content>("\"\"").is_err());
    }
}
