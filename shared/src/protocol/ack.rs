//! The payloads of `ack`: what each client message created or changed. Items are acked with
//! their full view (the one REST answers with) plus `created`.

use serde::Serialize;

use crate::ids::{ConversationId, MessageId};
use crate::model::Receipt;
use crate::room::{Position, Room};
use crate::views::{CommentView, MessageView};

use super::{PresenceStatus, RoomRef};

/// Payload of an `ack`, by the client message acknowledged. Serializes as the payload alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Ack {
    /// `subscribe` / `unsubscribe`.
    Room(RoomAck),
    /// `comment_submit`.
    Comment(ItemAck<CommentView>),
    /// `send_message`.
    Message(ItemAck<MessageView>),
    /// `typing_start` / `typing_stop`.
    Typing(TypingAck),
    /// `presence_update`.
    Presence(PresenceAck),
    /// `message_delivered` / `message_read`.
    Receipt(ReceiptAck),
}

/// Ack of `subscribe` / `unsubscribe`: `{"room": "event:<id>", "event_id": <id>}` (or the
/// conversation's), plus where to resume after a catch-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomAck {
    /// The room, as `event:<id>` or `conversation:<id>`.
    pub room: Room,
    /// The id that names it (`event_id` or `conversation_id`).
    #[serde(flatten)]
    pub id: RoomRef,
    /// Only for `subscribe` with `since`.
    #[serde(flatten)]
    pub catch_up: Option<CatchUpAck>,
}

impl RoomAck {
    /// The ack of `room`, without a catch-up.
    pub fn new(room: Room) -> Self {
        Self {
            room,
            id: RoomRef::from(room),
            catch_up: None,
        }
    }
}

/// What a `subscribe` with `since` sent before its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatchUpAck {
    /// `stream_batch` frames sent before the ack.
    pub count: usize,
    /// Whether more changes lie beyond them: subscribe again with `since: last_position`.
    pub has_more: bool,
    /// The highest position the frames cover with no gap before it: where to resume.
    pub last_position: Position,
    /// The room's head when the catch-up was read.
    pub head: Position,
    /// Present when the client cannot resume from its `since` (`expired`: the changes after
    /// it are past the stream's retention; `ahead`: it is past the head): reload from REST
    /// and subscribe from the head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<crate::model::StreamReset>,
}

/// Ack of an item the client created: its view, flattened, and whether this call created it
/// (`false` for a retry with the same key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemAck<V> {
    /// The item as REST shows it.
    #[serde(flatten)]
    pub view: V,
    /// `false` for an idempotent retry.
    pub created: bool,
}

/// Ack of `typing_start` / `typing_stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TypingAck {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// `true` for `typing_start`.
    pub is_typing: bool,
}

/// Ack of `presence_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PresenceAck {
    /// The status broadcast.
    pub status: PresenceStatus,
    /// Conversations it was broadcast to.
    pub rooms: usize,
}

/// Ack of `message_delivered` / `message_read`: the caller's markers after the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReceiptAck {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// `delivered` or `read`.
    pub status: Receipt,
    /// The caller's read marker.
    pub last_read_position: Position,
    /// The caller's delivery marker.
    pub last_delivered_position: Position,
}
