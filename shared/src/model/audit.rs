//! The moderation log: every moderator action on an event, who did it, when and why.

use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, EventId, UserId};
use crate::time::Timestamp;

/// What a moderator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationKind {
    /// Approved a comment.
    CommentApproved,
    /// Blocked a comment.
    CommentBlocked,
    /// Flagged a comment.
    CommentFlagged,
    /// Deleted someone else's comment.
    CommentDeleted,
    /// Banned a user from commenting.
    UserBanned,
    /// Muted a user for a while.
    UserMuted,
    /// Lifted a ban or mute.
    BanLifted,
    /// Appointed a moderator.
    ModeratorAppointed,
    /// Dismissed a moderator.
    ModeratorDismissed,
    /// Changed the event's settings.
    SettingsChanged,
}

/// One entry of an event's moderation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationRecord {
    /// Its id (UUIDv7: the log's order).
    pub record_id: uuid::Uuid,
    /// The event.
    pub event_id: EventId,
    /// What was done.
    pub action: ModerationKind,
    /// Who did it.
    pub by: UserId,
    /// The user it was done to, if any.
    pub user_id: Option<UserId>,
    /// The comment it was done to, if any.
    pub comment_id: Option<CommentId>,
    /// Why, as the moderator gave it.
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
}

impl ModerationRecord {
    /// A record of `action` by `by` on `event`, now.
    pub fn new(event: EventId, action: ModerationKind, by: UserId) -> Self {
        Self {
            record_id: uuid::Uuid::now_v7(),
            event_id: event,
            action,
            by,
            user_id: None,
            comment_id: None,
            reason: None,
            at: crate::time::now(),
        }
    }

    /// This record, about `user`.
    pub fn about_user(self, user: UserId) -> Self {
        Self {
            user_id: Some(user),
            ..self
        }
    }

    /// This record, about `comment` (and its author).
    pub fn about_comment(self, comment: CommentId, author: UserId) -> Self {
        Self {
            comment_id: Some(comment),
            user_id: Some(author),
            ..self
        }
    }

    /// This record, with the moderator's reason.
    pub fn because(self, reason: Option<String>) -> Self {
        Self { reason, ..self }
    }
}
