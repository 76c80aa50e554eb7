//! Chat messages: idempotent by `client_message_id`, editable with history, reactions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Content, Dimensions, MediaItem, MediaKind};
use crate::ids::{ClientKey, ConversationId, FileId, MessageId, UserId};
use crate::room::Position;
use crate::time::Timestamp;
use crate::validate::{FieldError, text};

/// Kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Plain text.
    #[default]
    Text,
    /// Written by Banter, never by a client: a change of the conversation (who joined,
    /// left or was removed, a new owner, a new title), so that history shows it
    /// ([`SystemEvent`]).
    System,
    /// Pictures ([`MediaKind::Image`] uploads) with a caption.
    Image,
    /// Documents ([`MediaKind::File`] uploads) with a caption.
    File,
}

/// What a `system` message records. Its `content` is a short English sentence for clients
/// that show only text; clients that know the kinds render their own from the ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SystemEvent {
    /// The sender added these users.
    ParticipantsAdded {
        /// Who joined.
        user_ids: Vec<UserId>,
    },
    /// The sender (the owner) removed these users.
    ParticipantsRemoved {
        /// Who was removed.
        user_ids: Vec<UserId>,
    },
    /// The sender left.
    ParticipantLeft,
    /// The group has a new owner (its owner left, handing it over).
    OwnerChanged {
        /// The new owner.
        user_id: UserId,
    },
    /// The sender changed the title or the description.
    ConversationUpdated {
        /// The new title, when it changed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// Whether the description changed.
        #[serde(default)]
        description_changed: bool,
    },
}

impl SystemEvent {
    /// The `conversation_updated` event of `before` taking `title` and `description` (both
    /// adapters record it alike).
    pub fn updated(
        before: &super::Conversation,
        title: &Option<String>,
        description: &Option<String>,
    ) -> Self {
        Self::ConversationUpdated {
            title: (*title != before.title).then(|| title.clone()).flatten(),
            description_changed: *description != before.description,
        }
    }

    /// The participants it names as joining (`added`) and leaving (`removed`), for
    /// `participants_changed`.
    pub fn membership(&self, by: UserId) -> Option<(Vec<UserId>, Vec<UserId>)> {
        match self {
            Self::ParticipantsAdded { user_ids } => Some((user_ids.clone(), Vec::new())),
            Self::ParticipantsRemoved { user_ids } => Some((Vec::new(), user_ids.clone())),
            Self::ParticipantLeft => Some((Vec::new(), vec![by])),
            Self::OwnerChanged { .. } | Self::ConversationUpdated { .. } => None,
        }
    }

    /// The sentence a text-only client shows (after the sender's name).
    pub fn sentence(&self) -> String {
        let people = |n: usize| {
            if n == 1 {
                "1 participant".to_owned()
            } else {
                format!("{n} participants")
            }
        };
        match self {
            Self::ParticipantsAdded { user_ids } => format!("added {}", people(user_ids.len())),
            Self::ParticipantsRemoved { user_ids } => {
                format!("removed {}", people(user_ids.len()))
            }
            Self::ParticipantLeft => "left the conversation".to_owned(),
            Self::OwnerChanged { .. } => "handed the group over to a new owner".to_owned(),
            Self::ConversationUpdated { title: Some(t), .. } => {
                let t: String = t.chars().take(100).collect();
                format!("renamed the group to \"{t}\"")
            }
            Self::ConversationUpdated { title: None, .. } => {
                "changed the group's description".to_owned()
            }
        }
    }
}

impl MessageType {
    /// The kind of upload a message of this type carries (`None`: it carries none).
    pub fn media_kind(self) -> Option<MediaKind> {
        match self {
            Self::Text => None,
            Self::Image => Some(MediaKind::Image),
            Self::File => Some(MediaKind::File),
            Self::System => None,
        }
    }
}

/// Most files on one message: each view carries two presigned URLs (up to
/// [`MAX_URL_BYTES`](crate::media::MAX_URL_BYTES) each), so that the largest message's frame
/// still fits one 32 KB unit (tested on the local stack).
pub const MAX_ATTACHMENTS: usize = 3;

/// A file attached to a message, as stored with it: what the media function found, never a
/// URL (URLs are signed for each view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaAttachment {
    /// The upload.
    pub file_id: FileId,
    /// Its checked content type.
    pub file_type: String,
    /// Its real size, in bytes.
    pub file_size: u64,
    /// An image's size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    /// Whether it has a thumbnail.
    #[serde(default)]
    pub has_thumbnail: bool,
}

impl From<&MediaItem> for MediaAttachment {
    fn from(m: &MediaItem) -> Self {
        Self {
            file_id: m.file_id,
            file_type: m.file_type.clone(),
            file_size: m.file_size,
            dimensions: m.dimensions,
            has_thumbnail: m.has_thumbnail,
        }
    }
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

/// Most earlier versions kept in a message's history (the oldest drop out). With
/// [`MAX_CONTENT_CHARS`](super::MAX_CONTENT_CHARS) of up to 4 bytes each, the history stays
/// under 90 KB, so the item stays far below DynamoDB's 400 KB; frames never carry it.
pub const MAX_EDIT_HISTORY: usize = 10;

/// Most distinct emoji on one message.
pub const MAX_REACTION_KINDS: usize = 20;

/// Most reactions (user and emoji pairs) on one message: bounds the `reactions` map that every
/// frame and page of the message carries (200 user ids ≈ 8 KB).
pub const MAX_REACTIONS: usize = 200;

/// Why a reaction cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReactionLimit {
    /// The message already has [`MAX_REACTION_KINDS`] distinct emoji.
    #[error("this message already has {MAX_REACTION_KINDS} different reactions")]
    Kinds,
    /// The message already has [`MAX_REACTIONS`] reactions.
    #[error("this message already has {MAX_REACTIONS} reactions")]
    Total,
}

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
    /// The files of an image or file message, in the order sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_attachments: Vec<MediaAttachment>,
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
    /// What a `system` message records (`None` for every other kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemEvent>,
}

impl Message {
    /// The `system` message recording `event`, made by `by` at `position` and `at`.
    pub fn system(
        conversation_id: ConversationId,
        by: UserId,
        event: SystemEvent,
        position: Position,
        at: Timestamp,
    ) -> Self {
        let message_id = MessageId::new();
        let content =
            Content::parse("content", &event.sentence()).unwrap_or_else(|_| Content::fallback());
        Self {
            message_id,
            conversation_id,
            sender_id: by,
            message_type: MessageType::System,
            content,
            client_message_id: ClientKey::system(message_id),
            reply_to_message_id: None,
            position,
            created_at: at,
            updated_at: at,
            edit_history: Vec::new(),
            reactions: BTreeMap::new(),
            is_deleted: false,
            deleted_at: None,
            version: 1,
            media_attachments: Vec::new(),
            system: Some(event),
        }
    }
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
    /// The checked files it carries (image and file messages).
    pub media_attachments: Vec<MediaAttachment>,
    /// Idempotency key: one message per (conversation, sender, key).
    pub client_message_id: ClientKey,
    /// Replied-to message.
    pub reply_to_message_id: Option<MessageId>,
    /// Send time.
    pub created_at: Timestamp,
}

impl NewMessage {
    /// What a retry with the same key must repeat: the kind, the text, the replied-to
    /// message and the files (a text message's fingerprint is as it always was).
    pub fn fingerprint(&self) -> super::Fingerprint {
        let reply_to = self
            .reply_to_message_id
            .map(|m| m.to_string())
            .unwrap_or_default();
        let kind = serde_json::to_string(&self.message_type).unwrap_or_default();
        let files: Vec<String> = self
            .media_attachments
            .iter()
            .map(|a| a.file_id.to_string())
            .collect();
        let mut parts = vec!["message", &kind, self.content.as_str(), &reply_to];
        let files = files.join(",");
        if !self.media_attachments.is_empty() {
            parts.push(&files);
        }
        super::Fingerprint::of(&parts)
    }

    /// The stored message at `position`.
    pub fn into_message(self, position: Position) -> Message {
        Message {
            message_id: self.message_id,
            conversation_id: self.conversation_id,
            sender_id: self.sender_id,
            message_type: self.message_type,
            content: self.content,
            media_attachments: self.media_attachments,
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
            system: None,
        }
    }
}

/// A reaction emoji: one emoji of the Unicode emoji list (with its skin tone, if any), in
/// its fully-qualified form, so that `❤` and `❤️` are one reaction.
pub fn validate_emoji(raw: &str) -> Result<String, FieldError> {
    let e = text("emoji", raw, 1, 16)?;
    match emojis::get(&e) {
        Some(emoji) => Ok(emoji.as_str().to_owned()),
        None => Err(FieldError::new("emoji", "must be a single emoji")),
    }
}

impl Message {
    /// Toggles `user`'s reaction `emoji`; returns whether it is now set. Removing always
    /// works; adding past [`MAX_REACTION_KINDS`] or [`MAX_REACTIONS`] is refused.
    pub fn toggle_reaction(&mut self, emoji: &str, user: UserId) -> Result<bool, ReactionLimit> {
        if let Some(users) = self.reactions.get_mut(emoji)
            && let Some(i) = users.iter().position(|u| *u == user)
        {
            users.remove(i);
            if users.is_empty() {
                self.reactions.remove(emoji);
            }
            return Ok(false);
        }
        if !self.reactions.contains_key(emoji) && self.reactions.len() >= MAX_REACTION_KINDS {
            return Err(ReactionLimit::Kinds);
        }
        if self.reactions.values().map(Vec::len).sum::<usize>() >= MAX_REACTIONS {
            return Err(ReactionLimit::Total);
        }
        self.reactions
            .entry(emoji.to_owned())
            .or_default()
            .push(user);
        Ok(true)
    }

    /// Replaces the content, keeping the old one in the (bounded) history. An edit to the
    /// content the message already has changes nothing (a retried edit adds no entry) and
    /// returns `false`.
    pub fn apply_edit(&mut self, content: Content, reason: Option<String>, now: Timestamp) -> bool {
        if content == self.content {
            return false;
        }
        let previous = std::mem::replace(&mut self.content, content);
        self.edit_history.push(EditRecord {
            edited_at: now,
            previous_content: previous.into(),
            edit_reason: reason,
        });
        if self.edit_history.len() > MAX_EDIT_HISTORY {
            let excess = self.edit_history.len() - MAX_EDIT_HISTORY;
            self.edit_history.drain(..excess);
        }
        self.updated_at = now;
        true
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
            media_attachments: Vec::new(),
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
        assert_eq!(m.toggle_reaction("👍", u), Ok(true));
        assert_eq!(m.reactions["👍"], vec![u]);
        assert_eq!(m.toggle_reaction("👍", u), Ok(false));
        assert!(m.reactions.is_empty());
    }

    /// The first emoji of the Unicode list, `n` of them, fully qualified.
    fn some_emoji(n: usize) -> Vec<&'static str> {
        emojis::iter().take(n).map(|e| e.as_str()).collect()
    }

    #[test]
    fn reactions_are_bounded_in_kinds_and_in_total() {
        let mut m = msg();
        let user = UserId::new();
        let emoji = some_emoji(MAX_REACTION_KINDS + 1);
        for e in &emoji[..MAX_REACTION_KINDS] {
            assert_eq!(m.toggle_reaction(e, user), Ok(true));
        }
        assert_eq!(
            m.toggle_reaction(emoji[MAX_REACTION_KINDS], user),
            Err(ReactionLimit::Kinds)
        );
        // Every kind is taken: more users fill them up to the total, then no more.
        let per_kind = MAX_REACTIONS / MAX_REACTION_KINDS;
        for _ in 1..per_kind {
            let other = UserId::new();
            for e in &emoji[..MAX_REACTION_KINDS] {
                assert_eq!(m.toggle_reaction(e, other), Ok(true));
            }
        }
        assert_eq!(
            m.toggle_reaction(emoji[0], UserId::new()),
            Err(ReactionLimit::Total)
        );
        // Taking one back always works, and frees a place.
        assert_eq!(m.toggle_reaction(emoji[0], user), Ok(false));
        assert_eq!(m.toggle_reaction(emoji[0], UserId::new()), Ok(true));
    }

    #[test]
    fn edits_keep_a_bounded_history_and_a_repeated_edit_adds_nothing() {
        let mut m = msg();
        assert!(m.apply_edit(
            Content::parse("content", "hello").unwrap(),
            Some("typo".into()),
            crate::time::now(),
        ));
        assert_eq!(m.content.as_str(), "hello");
        assert_eq!(m.edit_history[0].previous_content, "hi");
        // The same edit again (a retry) changes nothing.
        assert!(!m.apply_edit(
            Content::parse("content", "hello").unwrap(),
            Some("typo".into()),
            crate::time::now(),
        ));
        assert_eq!(m.edit_history.len(), 1);
        for i in 0..MAX_EDIT_HISTORY + 5 {
            let text = format!("version {i}");
            assert!(m.apply_edit(
                Content::parse("content", &text).unwrap(),
                None,
                crate::time::now()
            ));
        }
        assert_eq!(m.edit_history.len(), MAX_EDIT_HISTORY);
        assert_eq!(
            m.edit_history.last().unwrap().previous_content,
            format!("version {}", MAX_EDIT_HISTORY + 3)
        );
    }

    #[test]
    fn emoji_validation() {
        assert_eq!(validate_emoji("👍").unwrap(), "👍");
        assert_eq!(validate_emoji("👍🏽").unwrap(), "👍🏽");
        // Unqualified and fully qualified forms are one reaction.
        assert_eq!(validate_emoji("❤").unwrap(), validate_emoji("❤️").unwrap());
        assert_eq!(validate_emoji("👨‍👩‍👧").unwrap(), "👨‍👩‍👧");
        for bad in ["ab", "", "lol", "👍👍", "★★", "→", "#", "\u{200b}"] {
            assert!(validate_emoji(bad).is_err(), "{bad:?}");
        }
    }
}
