//! A chat message as clients see it: the REST responses, the `new_message` /
//! `message_updated` frames and the `send_message` ack are all built from [`MessageView`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ClientKey, ConversationId, MessageId, UserId};
use crate::model::{EditRecord, Message, MessageType};
use crate::room::Position;
use crate::time::Timestamp;

/// A message as clients see it (`new_message`/`message_updated` and REST responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    /// Id.
    pub message_id: MessageId,
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Sender.
    pub sender_id: UserId,
    /// Kind.
    pub message_type: MessageType,
    /// Text; empty when deleted.
    pub content: String,
    /// Sender's idempotency key.
    pub client_message_id: ClientKey,
    /// Replied-to message.
    pub reply_to_message_id: Option<MessageId>,
    /// Position in the conversation.
    pub position: Position,
    /// Sent at.
    pub created_at: Timestamp,
    /// Changed at.
    pub updated_at: Timestamp,
    /// `sent` when stored; receipts update per participant.
    pub delivery_status: &'static str,
    /// Emoji → users.
    pub reactions: BTreeMap<String, Vec<UserId>>,
    /// Edit history, oldest first.
    pub edit_history: Vec<EditRecord>,
    /// Soft-deleted.
    pub is_deleted: bool,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            message_id: m.message_id,
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            message_type: m.message_type,
            content: if m.is_deleted {
                String::new()
            } else {
                m.content.as_str().to_owned()
            },
            client_message_id: m.client_message_id.clone(),
            reply_to_message_id: m.reply_to_message_id,
            position: m.position,
            created_at: m.created_at,
            updated_at: m.updated_at,
            delivery_status: "sent",
            reactions: m.reactions.clone(),
            edit_history: if m.is_deleted {
                Vec::new()
            } else {
                m.edit_history.clone()
            },
            is_deleted: m.is_deleted,
        }
    }
}
