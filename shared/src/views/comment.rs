//! A comment as clients see it: the REST responses, the `comment_broadcast` frame and the
//! `comment_submit` ack are all built from [`CommentView`].

use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, EventId};
use crate::model::{Comment, ModerationStatus};
use crate::room::Position;
use crate::time::Timestamp;

use super::UserSummary;

/// A comment as clients see it (`comment_broadcast` payload and REST responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentView {
    /// Id.
    pub comment_id: CommentId,
    /// Event.
    pub event_id: EventId,
    /// Author.
    pub user: UserSummary,
    /// Text; empty when deleted or blocked.
    pub content: String,
    /// Parent for replies.
    pub parent_comment_id: Option<CommentId>,
    /// Position in the event.
    pub position: Position,
    /// Replies.
    pub reply_count: u64,
    /// Likes.
    pub like_count: u64,
    /// Moderation state.
    pub moderation_status: ModerationStatus,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// Written at.
    pub created_at: Timestamp,
    /// Changed at.
    pub updated_at: Timestamp,
}

impl CommentView {
    /// The view of `c` by `author`; hides the text of deleted and blocked comments.
    pub fn new(c: &Comment, author: UserSummary) -> Self {
        let hidden = c.is_deleted || c.moderation_status == ModerationStatus::Blocked;
        Self {
            comment_id: c.comment_id,
            event_id: c.event_id,
            user: author,
            content: if hidden {
                String::new()
            } else {
                c.content.as_str().to_owned()
            },
            parent_comment_id: c.parent_comment_id,
            position: c.position,
            reply_count: c.reply_count,
            like_count: c.like_count,
            moderation_status: c.moderation_status,
            is_deleted: c.is_deleted,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
