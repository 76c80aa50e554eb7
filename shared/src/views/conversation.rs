//! Conversations as one of their participants sees them (REST responses).

use serde::Serialize;

use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ConversationType, Message, MessageType, Participant, ParticipantRole, PresenceView,
};
use crate::room::Position;
use crate::store::PREVIEW_CHARS;
use crate::time::Timestamp;

use super::UserSummary;

/// A participant as clients see it: the user's public summary, role and join time, their
/// delivered and read markers (for "seen by"), and their presence as their privacy
/// settings let others see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParticipantView {
    /// The user.
    pub user_id: UserId,
    /// Unique handle.
    pub username: String,
    /// Name shown.
    pub display_name: String,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// `owner` or `member`.
    pub role: ParticipantRole,
    /// When they joined.
    pub joined_at: Timestamp,
    /// Position of the last message they read.
    pub last_read_position: Position,
    /// The last message they read.
    pub last_read_message_id: Option<MessageId>,
    /// Position of the last message that reached a device of theirs (at least the read one).
    pub last_delivered_position: Position,
    /// Online, presence and last seen.
    #[serde(flatten)]
    pub presence: PresenceView,
}

impl ParticipantView {
    /// The view of `p` for the user summarised by `user`, who shows `presence`.
    pub fn new(p: &Participant, user: &UserSummary, presence: PresenceView) -> Self {
        Self {
            user_id: p.user_id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            avatar_url: user.avatar_url.clone(),
            role: p.role,
            joined_at: p.joined_at,
            last_read_position: p.last_read_position,
            last_read_message_id: p.last_read_message_id,
            last_delivered_position: p.last_delivered_position.max(p.last_read_position),
            presence,
        }
    }
}

/// The latest message of a conversation as shown in the list: read from the message itself,
/// so an edit shows its new text and a deleted message shows none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastMessageView {
    /// Its id.
    pub message_id: MessageId,
    /// Its sender.
    pub sender_id: UserId,
    /// Its text, cut to [`PREVIEW_CHARS`] characters; empty when deleted.
    pub content: String,
    /// Its kind.
    pub message_type: MessageType,
    /// Its position in the conversation.
    pub position: Position,
    /// When it was sent.
    pub created_at: Timestamp,
    /// Whether it was deleted.
    pub is_deleted: bool,
}

impl From<&Message> for LastMessageView {
    fn from(m: &Message) -> Self {
        Self {
            message_id: m.message_id,
            sender_id: m.sender_id,
            content: if m.is_deleted {
                String::new()
            } else {
                m.content.as_str().chars().take(PREVIEW_CHARS).collect()
            },
            message_type: m.message_type,
            position: m.position,
            created_at: m.created_at,
            is_deleted: m.is_deleted,
        }
    }
}

/// A conversation as one of its participants sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationView {
    /// Its id.
    pub conversation_id: ConversationId,
    /// `direct` or `group`.
    pub conversation_type: ConversationType,
    /// Group title (`null` for direct conversations).
    pub title: Option<String>,
    /// Group description.
    pub description: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// Last activity (creation or latest message).
    pub updated_at: Timestamp,
    /// Every participant.
    pub participants: Vec<ParticipantView>,
    /// The latest message, if any.
    pub last_message: Option<LastMessageView>,
    /// Messages after the caller's read marker: `last_message.position -
    /// last_read_position` (0 without messages). Counts every message after the marker,
    /// the caller's own and deleted ones included.
    pub unread_count: u64,
    /// The last message the caller marked read.
    pub last_read_message_id: Option<MessageId>,
}
