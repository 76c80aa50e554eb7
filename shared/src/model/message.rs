//! Chat messages: idempotent by `client_message_id`, editable with history, reactions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Content;
use crate::ids::{ClientKey, ConversationId, MessageId, UserId};
use crate::room::Position;
use crate::time::Timestamp;
use crate::validate::{FieldError, text};

/// Kind of message. Only text is supported; media would add variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Plain text.
    #[default]
    Text,
}

/// One earlier version of an edited message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditRecord {
    /// When the edit happened.
    pub edited_at: Timestamp,
    /// The content before the edit.
    pub previous_content: String,
    /// Why (`typo_correction`).
    pub edit_reason: Option<String>,
}

/// Most edits kept in a message's history.
pub const MAX_EDIT_HISTORY: usize = 50;

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Its id.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its sender.
    pub sender_id: UserId,
    /// Its kind.
    pub message_type: MessageType,
    /// Its text (kept after a soft delete for audit; APIs hide it).
    pub content: Content,
    /// The sender's idempotency key.
    pub client_message_id: ClientKey,
    /// The message it replies to.
    pub reply_to_message_id: Option<MessageId>,
    /// Its place in the conversation.
    pub position: Position,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Earlier versions, oldest first.
    pub edit_history: Vec<EditRecord>,
    /// Emoji → users who reacted with it.
    pub reactions: BTreeMap<String, Vec<UserId>>,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
    /// Incremented on every change, for optimistic concurrency.
    pub version: u64,
}

/// A message to append to a conversation.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id for the new message.
    pub message_id: MessageId,
    /// Target conversation.
    pub conversation_id: ConversationId,
    /// Sender.
    pub sender_id: UserId,
    /// Kind.
    pub message_type: MessageType,
    /// Validated text.
    pub content: Content,
    /// Idempotency key: one message per (conversation, sender, key).
    pub client_message_id: ClientKey,
    /// Replied-to message.
    pub reply_to_message_id: Option<MessageId>,
    /// Send time.
    pub created_at: Timestamp,
}

impl NewMessage {
    /// What a retry with the same key must repeat: the kind, the text and the replied-to
    /// message.
    pub fn fingerprint(&self) -> super::Fingerprint {
        let reply_to = self
            .reply_to_message_id
            .map(|m| m.to_string())
            .unwrap_or_default();
        let kind = serde_json::to_string(&self.message_type).unwrap_or_default();
        super::Fingerprint::of(&["message", &kind, self.content.as_str(), &reply_to])
    }

    /// The stored message at `position`.
    pub fn into_message(self, position: Position) -> Message {
        Message {
            message_id: self.message_id,
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            message_type: self.message_type,
            content: self.content,
            client_message_id: self.client_message_id,
            reply_to_message_id: self.reply_to_message_id,
            position,
            created_at: self.created_at,
            updated_at: self.created_at,
            edit_history: Vec::new(),
            reactions: BTreeMap::new(),
            is_deleted: false,
            deleted_at: None,
            version: 1,
        }
    }
}

/// A reaction emoji: 1..=16 characters, no spaces or control characters.
pub fn validate_emoji(raw: &str) -> Result<String, FieldError> {
    let e = text("emoji", raw, 1, 16)?;
    if e.chars()
        .any(|c| c.is_whitespace() || c.is_ascii_alphanumeric())
    {
        return Err(FieldError::new("emoji", "must be an emoji"));
    }
    Ok(e)
}

impl Message {
    /// Toggles `user`'s reaction `emoji`; returns whether it is now set.
    pub fn toggle_reaction(&mut self, emoji: &str, user: UserId) -> bool {
        let users = self.reactions.entry(emoji.to_owned()).or_default();
        let added = if let Some(i) = users.iter().position(|u| *u == user) {
            users.remove(i);
            false
        } else {
            users.push(user);
            true
        };
        if users.is_empty() {
            self.reactions.remove(emoji);
        }
        added
    }

    /// Replaces the content, keeping the old one in the history.
    pub fn apply_edit(&mut self, content: Content, reason: Option<String>, now: Timestamp) {
        let previous = std::mem::replace(&mut self.content, content);
        self.edit_history.push(EditRecord {
            edited_at: now,
            previous_content: previous.into(),
            edit_reason: reason,
        });
        if self.edit_history.len() > MAX_EDIT_HISTORY {
            self.edit_history.remove(0);
        }
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        NewMessage {
            message_id: MessageId::new(),
            conversation_id: ConversationId::new(),
            sender_id: UserId::new(),
            message_type: MessageType::Text,
            content: Content::parse("content", "hi").unwrap(),
            client_message_id: "c1".parse().unwrap(),
            reply_to_message_id: None,
            created_at: crate::time::now(),
        }
        .into_message(Position(1))
    }

    #[test]
    fn reactions_toggle() {
        let mut m = msg();
        let u = UserId::new();
        assert!(m.toggle_reaction("👍", u));
        assert_eq!(m.reactions["👍"], vec![u]);
        assert!(!m.toggle_reaction("👍", u));
        assert!(m.reactions.is_empty());
    }

    #[test]
    fn edits_keep_history() {
        let mut m = msg();
        m.apply_edit(
            Content::parse("content", "hello").unwrap(),
            Some("typo".into()),
            crate::time::now(),
        );
        assert_eq!(m.content.as_str(), "hello");
        assert_eq!(m.edit_history[0].previous_content, "hi");
    }

    #[test]
    fn emoji_validation() {
        assert!(validate_emoji("👍").is_ok());
        assert!(validate_emoji("❤️").is_ok());
        assert!(validate_emoji("ab").is_err());
        assert!(validate_emoji("").is_err());
    }
}
