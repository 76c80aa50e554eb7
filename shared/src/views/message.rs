//! A chat message as clients see it: the REST responses, the `new_message` /
//! `message_updated` frames and the `send_message` ack are all built from [`MessageView`].
//!
//! A view is bounded by construction: its content (2000 characters), its reactions
//! ([`MAX_REACTIONS`](crate::model::MAX_REACTIONS) user ids under at most
//! [`MAX_REACTION_KINDS`](crate::model::MAX_REACTION_KINDS) emoji) and fixed fields, so every
//! frame of it fits one 32 KB unit. The edit history is not in it: only `edit_count` and
//! `edited_at`; the history itself comes with the edit's REST answer ([`EditedMessageView`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ClientKey, ConversationId, FileId, MessageId, UserId};
use crate::model::{
    Dimensions, EditRecord, MediaAttachment, Message, MessageType, Participant, SystemEvent,
};
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
    /// The files of an image or file message (none once deleted), with links signed for
    /// this view ([`crate::media::attach::sign_links`]).
    #[serde(default)]
    pub media_attachments: Vec<MediaAttachmentView>,
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
    /// `sent`, `delivered` or `read` ([`Markers::status`]): `sent` in live frames, where
    /// `delivery_status_update` frames carry the changes; computed from the participants'
    /// markers in REST pages, so a reload shows what the live updates showed.
    pub delivery_status: DeliveryStatus,
    /// On the reader's own messages in REST pages: how many of the other participants (who
    /// were there when it was sent) have read it; absent elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_count: Option<usize>,
    /// Likewise, how many have received it (read counts as received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_count: Option<usize>,
    /// Emoji → users.
    pub reactions: BTreeMap<String, Vec<UserId>>,
    /// How many earlier versions the message keeps (0: never edited).
    pub edit_count: usize,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// What a `system` message records (absent on every other kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemEvent>,
}

/// How far a message got, in order: `sent` < `delivered` < `read`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Stored; no other participant has reported it yet.
    #[default]
    Sent,
    /// Reached a device of every other participant.
    Delivered,
    /// Read by every other participant.
    Read,
}

/// The participants' delivered and read markers in a conversation, as seen by `viewer`: what
/// the `delivery_status` of each message is computed from.
///
/// For the viewer's own message it is the status every other participant reached, counting
/// only those who were participants when it was sent (a later joiner does not hold it back);
/// with nobody else, `sent`. A group's sender sees, besides, how many have read and received
/// it (`read_count`, `delivered_count`), and each participant's markers come with the
/// conversation, for "seen by" lists. For someone else's message it is the viewer's own
/// state: `read` up to their read marker, else `delivered` (they have it).
#[derive(Debug, Clone)]
pub struct Markers {
    viewer: UserId,
    /// (user, joined at, delivered up to, read up to).
    others: Vec<(UserId, Timestamp, Position, Position)>,
    /// The viewer's read marker.
    own_read: Position,
}

impl Markers {
    /// The markers of `participants` (the conversation's), for `viewer`.
    pub fn new(viewer: UserId, participants: &[Participant]) -> Self {
        let own_read = participants
            .iter()
            .find(|p| p.user_id == viewer)
            .map_or(Position::ZERO, |p| p.last_read_position);
        let others = participants
            .iter()
            .filter(|p| p.user_id != viewer)
            .map(|p| {
                let read = p.last_read_position;
                (
                    p.user_id,
                    p.joined_at,
                    p.last_delivered_position.max(read),
                    read,
                )
            })
            .collect();
        Self {
            viewer,
            others,
            own_read,
        }
    }

    /// `view` of message `m` with its status for the viewer.
    pub fn apply(&self, mut view: MessageView, m: &Message) -> MessageView {
        if m.sender_id != self.viewer {
            view.delivery_status = if self.own_read >= m.position {
                DeliveryStatus::Read
            } else {
                DeliveryStatus::Delivered
            };
            return view;
        }
        let audience: Vec<_> = self
            .others
            .iter()
            .filter(|(_, joined, _, _)| *joined <= m.created_at)
            .collect();
        let read = audience.iter().filter(|o| o.3 >= m.position).count();
        let delivered = audience.iter().filter(|o| o.2 >= m.position).count();
        view.delivery_status = if audience.is_empty() {
            DeliveryStatus::Sent
        } else if read == audience.len() {
            DeliveryStatus::Read
        } else if delivered == audience.len() {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Sent
        };
        view.read_count = Some(read);
        view.delivered_count = Some(delivered);
        view
    }

    /// The view of `m` with its status.
    pub fn view(&self, m: &Message) -> MessageView {
        self.apply(MessageView::from(m), m)
    }
}

/// A file of a message as clients see it: `file_url` and `thumbnail_url` are presigned GET
/// URLs that work for [`LINK_TTL`](crate::media::LINK_TTL), signed for every view and never
/// stored (absent when a link could not be signed, or for a file without a thumbnail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaAttachmentView {
    /// The upload.
    pub file_id: FileId,
    /// Its checked content type.
    pub file_type: String,
    /// Its size, in bytes.
    pub file_size: u64,
    /// Downloads the file.
    pub file_url: Option<String>,
    /// Downloads its thumbnail (PNG, images only).
    pub thumbnail_url: Option<String>,
    /// An image's size.
    pub dimensions: Option<Dimensions>,
    /// Whether it has a thumbnail (what `thumbnail_url` is signed for).
    #[serde(skip)]
    pub has_thumbnail: bool,
}

impl From<&MediaAttachment> for MediaAttachmentView {
    fn from(a: &MediaAttachment) -> Self {
        Self {
            file_id: a.file_id,
            file_type: a.file_type.clone(),
            file_size: a.file_size,
            file_url: None,
            thumbnail_url: None,
            dimensions: a.dimensions,
            has_thumbnail: a.has_thumbnail,
        }
    }
}

/// A message with its edit history (the latest [`MAX_EDIT_HISTORY`](crate::model::MAX_EDIT_HISTORY)
/// versions, oldest first): the answer to an edit, never a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EditedMessageView {
    /// The message as everywhere else.
    #[serde(flatten)]
    pub message: MessageView,
    /// Earlier versions, oldest first (empty once deleted).
    pub edit_history: Vec<EditRecord>,
}

impl From<&Message> for EditedMessageView {
    fn from(m: &Message) -> Self {
        Self {
            message: MessageView::from(m),
            edit_history: if m.is_deleted {
                Vec::new()
            } else {
                m.edit_history.clone()
            },
        }
    }
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
            media_attachments: if m.is_deleted {
                Vec::new()
            } else {
                m.media_attachments
                    .iter()
                    .map(MediaAttachmentView::from)
                    .collect()
            },
            client_message_id: m.client_message_id.clone(),
            reply_to_message_id: m.reply_to_message_id,
            position: m.position,
            created_at: m.created_at,
            updated_at: m.updated_at,
            delivery_status: DeliveryStatus::Sent,
            read_count: None,
            delivered_count: None,
            reactions: m.reactions.clone(),
            edit_count: if m.is_deleted {
                0
            } else {
                m.edit_history.len()
            },
            edited_at: m
                .edit_history
                .last()
                .filter(|_| !m.is_deleted)
                .map(|e| e.edited_at),
            is_deleted: m.is_deleted,
            system: m.system.clone(),
        }
    }
}
