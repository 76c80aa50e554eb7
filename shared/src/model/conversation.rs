//! Conversations (direct or group chats) and their participants.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, MessageId, UserId};
use crate::room::Position;
use crate::time::Timestamp;

/// The most participants a group conversation may have.
pub const MAX_PARTICIPANTS: usize = 256;

/// How far a participant row's `last_activity_at` (the sort key of their conversation list)
/// may lag the conversation's latest message. A message rewrites only the rows older than
/// this, so a busy group of 256 costs at most 256 row writes a minute, not 256 per message;
/// the conversation list re-sorts each page by the conversations' own activity.
pub const ACTIVITY_STEP: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Whether a participant row last active at `row` must move to a message at `at`.
pub fn activity_stale(row: Timestamp, at: Timestamp) -> bool {
    at - row >= ACTIVITY_STEP
}

/// Direct (exactly two people) or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationType {
    /// Two people; never created twice for the same pair.
    Direct,
    /// A named group.
    Group,
}

/// A participant's role in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    /// Created the conversation; manages a group's participants.
    Owner,
    /// Everyone else.
    #[default]
    Member,
}

/// The latest message of a conversation, as shown in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    /// Its id.
    pub message_id: MessageId,
    /// Its sender.
    pub sender_id: UserId,
    /// Its text, cut to a preview.
    pub content: String,
    /// When it was sent.
    pub created_at: Timestamp,
    /// Its kind.
    pub message_type: super::MessageType,
    /// Its position.
    pub position: Position,
}

/// A stored conversation (without its participants, which are rows of their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Its id.
    pub conversation_id: ConversationId,
    /// Direct or group.
    pub conversation_type: ConversationType,
    /// Group title.
    pub title: Option<String>,
    /// Group description.
    pub description: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: Timestamp,
    /// Last activity: creation, a message, a participant change.
    pub updated_at: Timestamp,
    /// The latest message.
    pub last_message: Option<LastMessage>,
}

/// One participant of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The user.
    pub user_id: UserId,
    /// Owner or member.
    pub role: ParticipantRole,
    /// When they joined.
    pub joined_at: Timestamp,
    /// Position of the last message they read.
    pub last_read_position: Position,
    /// Id of the last message they read.
    pub last_read_message_id: Option<MessageId>,
    /// Position of the last message delivered to them.
    pub last_delivered_position: Position,
    /// The conversation's last activity, copied here so a user's list sorts by it.
    pub last_activity_at: Timestamp,
}

impl Participant {
    /// A participant joining now.
    pub fn joining(
        conversation_id: ConversationId,
        user_id: UserId,
        role: ParticipantRole,
        now: Timestamp,
    ) -> Self {
        Self {
            conversation_id,
            user_id,
            role,
            joined_at: now,
            last_read_position: Position::ZERO,
            last_read_message_id: None,
            last_delivered_position: Position::ZERO,
            last_activity_at: now,
        }
    }
}

/// The ordered pair of a direct conversation, so (a, b) and (b, a) are one key.
pub fn direct_pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// Receipt kinds a participant reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Receipt {
    /// The message reached a device.
    Delivered,
    /// The user saw it.
    Read,
}
