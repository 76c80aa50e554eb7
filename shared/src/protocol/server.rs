//! Server → client messages: the [`ServerMessage`] envelope and its typed
//! [`ServerPayload`], one variant per `type`. The `type` names are listed once, in
//! [`server_messages!`].

use serde::ser::{Error as _, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::error::AppError;
use crate::ids::{CommentId, ConversationId, EventId, MessageId, UserId};
use crate::model::{EventStatus, ModerationAction, Receipt, Shown};
use crate::room::Position;
use crate::time::Timestamp;
use crate::validate::FieldError;
use crate::views::{CommentView, MessageView};

use super::ack::Ack;

/// Declares [`ServerPayload`] (with its `type` names) and [`SERVER_MESSAGE_TYPES`] from one
/// list of `Variant(Payload) = "wire_name"`, so a type name is written exactly once.
macro_rules! server_messages {
    ($($(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal,)*) => {
        /// What a server message carries, by `type`. Serializes as the payload alone; the
        /// envelope ([`ServerMessage`]) adds the `type`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ServerPayload {
            $($(#[$doc])* $variant($payload),)*
        }

        impl ServerPayload {
            /// The `type` on the wire.
            pub const fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }
        }

        impl Serialize for ServerPayload {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(p) => sorted(p, s),)*
                }
            }
        }

        /// Every server message type on the wire, for documentation checks.
        pub const SERVER_MESSAGE_TYPES: &[&str] = &[$($name),*];
    };
}

server_messages! {
    /// The answer to a client message that worked.
    Ack(Ack) = "ack",
    /// The answer to a client message that failed.
    Error(ErrorPayload) = "error",
    /// A new comment (also a comment made visible by moderation).
    CommentBroadcast(CommentView) = "comment_broadcast",
    /// A comment waiting for a moderator: to the event's moderators' connections only.
    CommentPending(CommentView) = "comment_pending",
    /// Like or reply counts changed.
    CommentUpdated(CommentUpdated) = "comment_updated",
    /// A comment was deleted.
    CommentDeleted(CommentDeleted) = "comment_deleted",
    /// A moderator acted on a comment.
    ModerationAction(ModerationActionPayload) = "moderation_action",
    /// A new chat message.
    NewMessage(MessageChanged) = "new_message",
    /// A message was edited, deleted or reacted to.
    MessageUpdated(MessageChanged) = "message_updated",
    /// Someone started or stopped typing.
    UserTyping(UserTyping) = "user_typing",
    /// Someone's presence changed.
    PresenceChanged(PresenceChanged) = "presence_changed",
    /// A participant received or read a message.
    DeliveryStatusUpdate(DeliveryStatusUpdate) = "delivery_status_update",
    /// A live event changed status.
    EventStatusChanged(EventStatusChanged) = "event_status_changed",
    /// The answer to `ping`.
    Pong(Pong) = "pong",
    /// A room's changes in position order: live, one frame per tick, and in catch-up.
    StreamBatch(StreamBatch) = "stream_batch",
    /// Participants joined or left a conversation.
    ParticipantsChanged(ParticipantsChanged) = "participants_changed",
    /// How many connections watch an event (at most every few seconds while it moves).
    Occupancy(OccupancyPayload) = "occupancy",
    /// An event's settings changed.
    EventUpdated(EventUpdated) = "event_updated",
}

/// Serializes `payload` with its keys in alphabetical order: payloads were built as
/// `serde_json::Value`s, whose maps sort their keys, and frames stay byte for byte what they
/// were (fan-out jobs hold their frame as a `Value` anyway).
fn sorted<T: Serialize, S: Serializer>(payload: &T, s: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(payload)
        .map_err(S::Error::custom)?
        .serialize(s)
}

/// A server → client frame: `{"type", "message_id", "timestamp", "payload"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMessage {
    /// For `ack`/`error`/`pong`: the client's `message_id`; otherwise a fresh id of this
    /// message, the same on every delivery of one broadcast.
    pub message_id: String,
    /// When the server produced it.
    pub timestamp: Timestamp,
    /// The content, which decides the `type`.
    pub payload: ServerPayload,
}

impl Serialize for ServerMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut frame = s.serialize_struct("ServerMessage", 4)?;
        frame.serialize_field("type", self.kind())?;
        frame.serialize_field("message_id", &self.message_id)?;
        frame.serialize_field("timestamp", &self.timestamp)?;
        frame.serialize_field("payload", &self.payload)?;
        frame.end()
    }
}

impl ServerMessage {
    /// A message with a fresh id.
    pub fn new(payload: ServerPayload) -> Self {
        Self {
            message_id: uuid::Uuid::now_v7().to_string(),
            timestamp: crate::time::now(),
            payload,
        }
    }

    /// The answer to the client message `client_message_id` (empty when it had none).
    fn reply(client_message_id: &str, payload: ServerPayload) -> Self {
        Self {
            message_id: client_message_id.to_owned(),
            ..Self::new(payload)
        }
    }

    /// `ack` of the client's `message_id`, with what was created or changed.
    pub fn ack(client_message_id: &str, ack: Ack) -> Self {
        Self::reply(client_message_id, ServerPayload::Ack(ack))
    }

    /// `error` answering the client's `message_id` (if it had one).
    pub fn error(client_message_id: Option<&str>, error: &AppError) -> Self {
        Self::reply(
            client_message_id.unwrap_or_default(),
            ServerPayload::Error(ErrorPayload::from(error)),
        )
    }

    /// `pong` answering the client's `message_id`.
    pub fn pong(client_message_id: &str) -> Self {
        Self::reply(client_message_id, ServerPayload::Pong(Pong {}))
    }

    /// The message type (one of [`SERVER_MESSAGE_TYPES`]).
    pub fn kind(&self) -> &'static str {
        self.payload.kind()
    }

    /// The JSON text of the frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Payload of `error`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorPayload {
    /// One of INVALID_MESSAGE, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, RATE_LIMIT_EXCEEDED,
    /// PAYLOAD_TOO_LARGE, INTERNAL.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Field details for INVALID_MESSAGE.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
    /// Seconds until a retry may succeed (RATE_LIMIT_EXCEEDED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl From<&AppError> for ErrorPayload {
    fn from(error: &AppError) -> Self {
        Self {
            code: error.code.ws_code(),
            message: error.message.clone(),
            details: error.details.clone(),
            retry_after: error.retry_after_secs,
        }
    }
}

/// Payload of `comment_updated`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentUpdated {
    /// The comment.
    pub comment_id: CommentId,
    /// Its event.
    pub event_id: EventId,
    /// Its position in the event.
    pub position: Position,
    /// Likes now.
    pub like_count: u64,
    /// Replies now.
    pub reply_count: u64,
}

/// Payload of `comment_deleted`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommentDeleted {
    /// The comment.
    pub comment_id: CommentId,
    /// Its event.
    pub event_id: EventId,
    /// Its position in the event.
    pub position: Position,
    /// Who deleted it.
    pub deleted_by: Option<UserId>,
}

/// Payload of `moderation_action`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModerationActionPayload {
    /// The comment.
    pub comment_id: CommentId,
    /// Its event.
    pub event_id: EventId,
    /// Its position in the event.
    pub position: Position,
    /// `approved`, `blocked` or `flagged`.
    #[serde(serialize_with = "moderation_action_name")]
    pub action: ModerationAction,
    /// The moderator's reason, if given.
    pub reason: Option<String>,
    /// Who acted.
    pub moderator_id: UserId,
}

/// A moderation action by the name broadcasts use (`approved`, …).
fn moderation_action_name<S: Serializer>(a: &ModerationAction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.broadcast_name())
}

/// Payload of `new_message` and `message_updated`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageChanged {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message as it is now.
    pub message: MessageView,
}

/// Payload of `user_typing`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserTyping {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Who.
    pub user_id: UserId,
    /// Started (`true`) or stopped.
    pub is_typing: bool,
}

/// Payload of `presence_changed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresenceChanged {
    /// Who.
    pub user_id: UserId,
    /// `online`, `active`, `away` or `offline`.
    pub status: Shown,
    /// When they were last online (now, unless offline); `null` when they hide it.
    pub last_seen: Option<Timestamp>,
}

/// Payload of `delivery_status_update`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryStatusUpdate {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// The participant who received or read it.
    pub user_id: UserId,
    /// `delivered` or `read`.
    pub status: Receipt,
    /// When.
    pub timestamp: Timestamp,
}

/// Payload of `event_status_changed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventStatusChanged {
    /// The event.
    pub event_id: EventId,
    /// Its new status.
    pub status: EventStatus,
    /// Its status before.
    pub previous_status: EventStatus,
}

/// Payload of `event_updated`: the event's settings as they now are (its blocked words
/// excepted: they are its moderators' to know).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventUpdated {
    /// The event.
    pub event_id: EventId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Moderation strictness.
    pub moderation_level: crate::model::ModerationLevel,
    /// Cap on viewers.
    pub max_participants: Option<u32>,
    /// Replies allowed and slow mode.
    pub comment_settings: crate::views::CommentSettingsView,
    /// The moderators its creator appointed.
    pub moderators: Vec<crate::ids::UserId>,
    /// When it changed.
    pub updated_at: crate::time::Timestamp,
}

impl EventUpdated {
    /// The payload of `event`.
    pub fn of(event: &crate::model::Event) -> Self {
        Self {
            event_id: event.event_id,
            title: event.title.clone(),
            description: event.description.clone(),
            moderation_level: event.moderation_level,
            max_participants: event.max_participants,
            comment_settings: crate::views::CommentSettingsView::of(&event.comment_settings, false),
            moderators: event.moderators.clone(),
            updated_at: event.updated_at,
        }
    }
}

/// Payload of `occupancy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OccupancyPayload {
    /// The event.
    pub event_id: EventId,
    /// Connections watching it (its `participant_count`).
    pub viewers: u64,
    /// Whether every connection was counted; `false` above 1,000 viewers, where the count is
    /// estimated from a uniform sample (within ±10 %).
    pub exact: bool,
}

/// Payload of `stream_batch`: the changes of one room in `(after, last_position]`, in
/// position order. Every position of the range is covered, also those with no entry here (a
/// change this client is not shown): once applied, a client that held `after` holds
/// `last_position`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamBatch {
    /// The room.
    pub room: crate::room::Room,
    /// The position this batch follows.
    pub after: Position,
    /// The last position it covers.
    pub last_position: Position,
    /// The changes, oldest first; one position may carry two (an approval, then the
    /// comment).
    pub entries: Vec<StreamItem>,
}

/// One change in a `stream_batch`: `{"position", "type", "payload"}`, `type` and `payload`
/// as the frame of that type would carry them.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamItem {
    /// Its position in the room's stream.
    pub position: Position,
    /// What changed.
    pub payload: ServerPayload,
}

impl Serialize for StreamItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut item = s.serialize_struct("StreamItem", 3)?;
        item.serialize_field("position", &self.position)?;
        item.serialize_field("type", self.payload.kind())?;
        item.serialize_field("payload", &self.payload)?;
        item.end()
    }
}

/// Payload of `participants_changed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParticipantsChanged {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Who joined.
    pub added: Vec<UserId>,
    /// Who left or was removed.
    pub removed: Vec<UserId>,
    /// Who made the change.
    pub changed_by: UserId,
}

/// Payload of `pong`: empty (`{}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pong {}

/// Builders of the server messages that fan out to rooms.
pub mod broadcast {
    use super::*;
    use crate::model::{Comment, Message};

    /// `comment_broadcast`: a new comment.
    pub fn comment(view: &CommentView) -> ServerMessage {
        ServerMessage::new(ServerPayload::CommentBroadcast(view.clone()))
    }

    /// `comment_pending`: a comment waiting for a moderator (to moderators only).
    pub fn comment_pending(view: &CommentView) -> ServerMessage {
        ServerMessage::new(ServerPayload::CommentPending(view.clone()))
    }

    /// `comment_updated`: like or reply counts changed.
    pub fn comment_updated(c: &Comment) -> ServerMessage {
        ServerMessage::new(ServerPayload::CommentUpdated(CommentUpdated {
            comment_id: c.comment_id,
            event_id: c.event_id,
            position: c.position,
            like_count: c.like_count,
            reply_count: c.reply_count,
        }))
    }

    /// The `comment_updated` payload of coalesced counts.
    pub fn counts(
        comment_id: CommentId,
        event_id: EventId,
        position: Position,
        like_count: u64,
        reply_count: u64,
    ) -> ServerPayload {
        ServerPayload::CommentUpdated(CommentUpdated {
            comment_id,
            event_id,
            position,
            like_count,
            reply_count,
        })
    }

    /// `comment_deleted`.
    pub fn comment_deleted(c: &Comment) -> ServerMessage {
        ServerMessage::new(ServerPayload::CommentDeleted(CommentDeleted {
            comment_id: c.comment_id,
            event_id: c.event_id,
            position: c.position,
            deleted_by: c.deleted_by,
        }))
    }

    /// `moderation_action` (`action`: approved|blocked|flagged).
    pub fn moderation(
        c: &Comment,
        action: ModerationAction,
        reason: Option<&str>,
        moderator: UserId,
    ) -> ServerMessage {
        ServerMessage::new(ServerPayload::ModerationAction(ModerationActionPayload {
            comment_id: c.comment_id,
            event_id: c.event_id,
            position: c.position,
            action,
            reason: reason.map(str::to_owned),
            moderator_id: moderator,
        }))
    }

    /// `new_message`.
    pub fn new_message(m: &Message) -> ServerMessage {
        ServerMessage::new(ServerPayload::NewMessage(changed(m)))
    }

    /// `message_updated` (edit, delete, reactions).
    pub fn message_updated(m: &Message) -> ServerMessage {
        ServerMessage::new(ServerPayload::MessageUpdated(changed(m)))
    }

    fn changed(m: &Message) -> MessageChanged {
        MessageChanged {
            conversation_id: m.conversation_id,
            message: MessageView::from(m),
        }
    }

    /// `user_typing`.
    pub fn typing(conversation: ConversationId, user: UserId, is_typing: bool) -> ServerMessage {
        ServerMessage::new(ServerPayload::UserTyping(UserTyping {
            conversation_id: conversation,
            user_id: user,
            is_typing,
        }))
    }

    /// `presence_changed`.
    pub fn presence(user: UserId, status: Shown, last_seen: Option<Timestamp>) -> ServerMessage {
        ServerMessage::new(ServerPayload::PresenceChanged(PresenceChanged {
            user_id: user,
            status,
            last_seen,
        }))
    }

    /// `delivery_status_update` (`status`: delivered|read).
    pub fn delivery_status(
        conversation: ConversationId,
        message: MessageId,
        user: UserId,
        receipt: Receipt,
        at: Timestamp,
    ) -> ServerMessage {
        ServerMessage::new(ServerPayload::DeliveryStatusUpdate(DeliveryStatusUpdate {
            conversation_id: conversation,
            message_id: message,
            user_id: user,
            status: receipt,
            timestamp: at,
        }))
    }

    /// `event_status_changed`.
    pub fn event_status(event: EventId, from: EventStatus, to: EventStatus) -> ServerMessage {
        ServerMessage::new(ServerPayload::EventStatusChanged(EventStatusChanged {
            event_id: event,
            status: to,
            previous_status: from,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn error_frames_use_ws_codes() {
        let m = ServerMessage::error(Some("m9"), &AppError::rate_limited(3));
        let v: Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["message_id"], "m9");
        assert_eq!(v["payload"]["code"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(v["payload"]["retry_after"], 3);
    }

    #[test]
    fn frames_keep_the_envelope_order_and_sorted_payload_keys() {
        let m = broadcast::typing(ConversationId::new(), UserId::new(), true);
        let text = m.to_json();
        assert!(
            text.starts_with(r#"{"type":"user_typing","message_id":""#),
            "{text}"
        );
        let payload = text.split(r#""payload":"#).nth(1).unwrap();
        assert!(payload.starts_with(r#"{"conversation_id":"#), "{payload}");
        assert!(
            payload.find("is_typing") < payload.find("user_id"),
            "{payload}"
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::pong("p"))
                .unwrap()
                .get("payload"),
            Some(&json!({}))
        );
    }
}
