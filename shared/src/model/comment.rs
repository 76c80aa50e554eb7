//! Comments on live events: threaded, liked, moderated, soft-deleted.

use serde::{Deserialize, Serialize};

use super::Content;
use crate::ids::{ClientKey, CommentId, EventId, UserId};
use crate::room::Position;
use crate::time::Timestamp;
use crate::validate::FieldError;

/// Where a comment stands with moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModerationStatus {
    /// Visible.
    #[default]
    Approved,
    /// Waiting for a moderator (strict events).
    Pending,
    /// Hidden by a moderator.
    Blocked,
    /// Marked for review, still visible.
    Flagged,
}

/// What a moderator does to a comment (`approve|block|flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationAction {
    /// Make it visible.
    Approve,
    /// Hide it.
    Block,
    /// Mark it for review.
    Flag,
}

impl ModerationAction {
    /// The status the action leads to.
    pub fn status(self) -> ModerationStatus {
        match self {
            Self::Approve => ModerationStatus::Approved,
            Self::Block => ModerationStatus::Blocked,
            Self::Flag => ModerationStatus::Flagged,
        }
    }

    /// The past-tense name broadcast in `moderation_action` (`approved|blocked|flagged`).
    pub fn broadcast_name(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Block => "blocked",
            Self::Flag => "flagged",
        }
    }
}

/// Where a comment was written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A browser.
    Web,
    /// A phone app.
    Mobile,
    /// A desktop app.
    Desktop,
}

/// Optional client details sent with `comment_submit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClientMetadata {
    /// Platform.
    pub platform: Option<Platform>,
    /// Client version.
    pub version: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

impl ClientMetadata {
    /// Bounds the free-text fields so metadata can't bloat an item.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (name, v) in [("version", &self.version), ("user_agent", &self.user_agent)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 256) {
                return Err(FieldError::new(
                    format!("client_metadata.{name}"),
                    "must be at most 256 characters",
                ));
            }
        }
        Ok(())
    }
}

/// A stored comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// The comment's id.
    pub comment_id: CommentId,
    /// The event it belongs to.
    pub event_id: EventId,
    /// Its author.
    pub user_id: UserId,
    /// Its text (kept after a soft delete for audit; APIs hide it).
    pub content: Content,
    /// The comment it replies to, for threads.
    pub parent_comment_id: Option<CommentId>,
    /// Its place in the event's stream.
    pub position: Position,
    /// Number of replies.
    pub reply_count: u64,
    /// Number of likes.
    pub like_count: u64,
    /// Moderation state.
    pub moderation_status: ModerationStatus,
    /// Why a moderator acted.
    pub moderation_reason: Option<String>,
    /// Who acted.
    pub moderated_by: Option<UserId>,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
    /// Who deleted it.
    pub deleted_by: Option<UserId>,
    /// Client details.
    pub client_metadata: Option<ClientMetadata>,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it last changed (likes excluded).
    pub updated_at: Timestamp,
}

/// A comment to append to an event's stream.
#[derive(Debug, Clone)]
pub struct NewComment {
    /// Id for the new comment.
    pub comment_id: CommentId,
    /// Target event.
    pub event_id: EventId,
    /// Author.
    pub user_id: UserId,
    /// Validated text.
    pub content: Content,
    /// Parent, for a reply (must be in the same event).
    pub parent_comment_id: Option<CommentId>,
    /// Idempotency key: a retry with the same author, event, key and content within
    /// `claim_window` returns the original comment.
    pub client_key: Option<ClientKey>,
    /// How long the key stays bound ([`CLAIM_WINDOW`](super::CLAIM_WINDOW) for a client's
    /// key, [`DERIVED_CLAIM_WINDOW`](super::claim::DERIVED_CLAIM_WINDOW) for one derived from
    /// the content).
    pub claim_window: std::time::Duration,
    /// Initial moderation state.
    pub moderation_status: ModerationStatus,
    /// Client details.
    pub client_metadata: Option<ClientMetadata>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl NewComment {
    /// What a retry with the same key must repeat: the text and the parent.
    pub fn fingerprint(&self) -> super::Fingerprint {
        let parent = self
            .parent_comment_id
            .map(|p| p.to_string())
            .unwrap_or_default();
        super::Fingerprint::of(&["comment", self.content.as_str(), &parent])
    }

    /// The stored comment at `position`.
    pub fn into_comment(self, position: Position) -> Comment {
        Comment {
            comment_id: self.comment_id,
            event_id: self.event_id,
            user_id: self.user_id,
            content: self.content,
            parent_comment_id: self.parent_comment_id,
            position,
            reply_count: 0,
            like_count: 0,
            moderation_status: self.moderation_status,
            moderation_reason: None,
            moderated_by: None,
            is_deleted: false,
            deleted_at: None,
            deleted_by: None,
            client_metadata: self.client_metadata,
            created_at: self.created_at,
            updated_at: self.created_at,
        }
    }
}

/// The result of a like toggle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikeOutcome {
    /// Whether the user likes the comment now.
    pub liked: bool,
    /// The comment's like count after the toggle.
    pub like_count: u64,
}
