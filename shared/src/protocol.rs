//! The WebSocket protocol: what clients send (`ClientMessage`) and what the server sends
//! (`ServerMessage`). Every frame is a JSON envelope
//! `{"type", "message_id", "timestamp", "payload"}` as in the live-comment API design; field
//! names inside payloads follow the live-comment and messenger designs. Documented in
//! `docs/websocket-protocol.md` and `docs/asyncapi.yaml`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::AppError;
use crate::fields::Fields;
use crate::ids::{ClientKey, CommentId, ConversationId, EventId, MessageId, UserId};
use crate::model::{ClientMetadata, Comment, EventStatus, Message};
use crate::room::Position;
use crate::time::Timestamp;
use crate::validate::FieldError;
pub use crate::views::{CommentView, MessageView};

/// Largest frame a client may send (API Gateway's WebSocket frame limit).
pub const MAX_CLIENT_FRAME_BYTES: usize = 32 * 1024;

/// A parsed client message: the client's `message_id` and what it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientEnvelope {
    /// The client's id for this message, echoed in the `ack` or `error` answer.
    pub message_id: ClientKey,
    /// What the client asks for.
    pub body: ClientMessage,
}

/// Which room a `subscribe`/`unsubscribe` names: exactly one of the two ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomRef {
    /// A live event's comments.
    Event(EventId),
    /// A conversation's messages.
    Conversation(ConversationId),
}

/// Client → server messages, by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Start receiving a room; with `since`, first receive what came after that position.
    Subscribe {
        /// The room.
        room: RoomRef,
        /// Last position the client has.
        since: Option<Position>,
    },
    /// Stop receiving a room.
    Unsubscribe {
        /// The room.
        room: RoomRef,
    },
    /// Post a comment to a live event.
    CommentSubmit {
        /// The event.
        event_id: EventId,
        /// The text (validated by the handler).
        content: String,
        /// The comment replied to.
        parent_comment_id: Option<CommentId>,
        /// Client details.
        client_metadata: Option<ClientMetadata>,
    },
    /// Send a chat message.
    SendMessage {
        /// The conversation.
        conversation_id: ConversationId,
        /// The text.
        content: String,
        /// The client's idempotency key.
        client_message_id: ClientKey,
        /// The message replied to.
        reply_to_message_id: Option<MessageId>,
    },
    /// The user started typing.
    TypingStart {
        /// In this conversation.
        conversation_id: ConversationId,
    },
    /// The user stopped typing.
    TypingStop {
        /// In this conversation.
        conversation_id: ConversationId,
    },
    /// The user's presence changed.
    PresenceUpdate {
        /// New status.
        status: PresenceStatus,
    },
    /// A message reached the user's device.
    MessageDelivered {
        /// The conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: MessageId,
    },
    /// The user read a message (and everything before it).
    MessageRead {
        /// The conversation.
        conversation_id: ConversationId,
        /// The message.
        message_id: MessageId,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
}

/// Presence states a client can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// Using the app.
    Active,
    /// Idle.
    Away,
    /// Typing somewhere.
    Typing,
}

/// Every client message type, for documentation checks.
pub const CLIENT_MESSAGE_TYPES: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "comment_submit",
    "send_message",
    "typing_start",
    "typing_stop",
    "presence_update",
    "message_delivered",
    "message_read",
    "ping",
];

/// Every server message type, for documentation checks.
pub const SERVER_MESSAGE_TYPES: &[&str] = &[
    "ack",
    "error",
    "comment_broadcast",
    "comment_updated",
    "comment_deleted",
    "moderation_action",
    "new_message",
    "message_updated",
    "user_typing",
    "presence_changed",
    "delivery_status_update",
    "event_status_changed",
    "pong",
];

/// Why a frame could not be parsed; carries the client's `message_id` when it could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The client's `message_id`, if the frame had a usable one.
    pub message_id: Option<String>,
    /// The error to send back.
    pub error: AppError,
}

fn room_ref(payload: &Fields) -> Result<RoomRef, FieldError> {
    let event: Option<EventId> = payload.optional("event_id")?;
    let conv: Option<ConversationId> = payload.optional("conversation_id")?;
    match (event, conv) {
        (Some(e), None) => Ok(RoomRef::Event(e)),
        (None, Some(c)) => Ok(RoomRef::Conversation(c)),
        _ => Err(FieldError::new(
            "payload",
            "needs exactly one of event_id and conversation_id",
        )),
    }
}

/// Parses one client frame. Accepts the envelope `{type, message_id, payload}` and, for
/// messenger-style clients, the same fields flat beside `type`.
pub fn parse_client_frame(frame: &str) -> Result<ClientEnvelope, ParseError> {
    if frame.len() > MAX_CLIENT_FRAME_BYTES {
        return Err(ParseError {
            message_id: None,
            error: AppError::new(
                crate::error::ErrorCode::PayloadTooLarge,
                format!("frames are limited to {MAX_CLIENT_FRAME_BYTES} bytes"),
            ),
        });
    }
    let value: Value = serde_json::from_str(frame).map_err(|e| ParseError {
        message_id: None,
        error: AppError::field("frame", format!("is not valid JSON: {e}")),
    })?;
    let Value::Object(obj) = &value else {
        return Err(ParseError {
            message_id: None,
            error: AppError::field("frame", "must be a JSON object"),
        });
    };
    let raw_id = obj
        .get("message_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let fail = |error: AppError| ParseError {
        message_id: raw_id.clone(),
        error,
    };
    let message_id: ClientKey = match &raw_id {
        Some(id) => id
            .parse()
            .map_err(|e: crate::ids::IdError| fail(AppError::field("message_id", e.to_string())))?,
        None => return Err(fail(AppError::field("message_id", "is required"))),
    };
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(AppError::field("type", "is required")))?;
    let payload = match obj.get("payload") {
        Some(p @ Value::Object(_)) => p.clone(),
        Some(Value::Null) | None => value.clone(),
        Some(_) => return Err(fail(AppError::field("payload", "must be an object"))),
    };
    let payload = Fields::new(payload, "payload.", "payload").map_err(|e| fail(e.into()))?;
    let body = parse_body(kind, &payload).map_err(fail)?;
    Ok(ClientEnvelope { message_id, body })
}

fn parse_body(kind: &str, p: &Fields) -> Result<ClientMessage, AppError> {
    Ok(match kind {
        "subscribe" => ClientMessage::Subscribe {
            room: room_ref(p)?,
            since: p.optional("since")?,
        },
        "unsubscribe" => ClientMessage::Unsubscribe { room: room_ref(p)? },
        "comment_submit" => ClientMessage::CommentSubmit {
            event_id: p.required("event_id")?,
            content: p.required("content")?,
            parent_comment_id: p.optional("parent_comment_id")?,
            client_metadata: p.optional("client_metadata")?,
        },
        "send_message" => ClientMessage::SendMessage {
            conversation_id: p.required("conversation_id")?,
            content: p.required("content")?,
            client_message_id: p.required("client_message_id")?,
            reply_to_message_id: p.optional("reply_to_message_id")?,
        },
        "typing_start" => ClientMessage::TypingStart {
            conversation_id: p.required("conversation_id")?,
        },
        "typing_stop" => ClientMessage::TypingStop {
            conversation_id: p.required("conversation_id")?,
        },
        "presence_update" => ClientMessage::PresenceUpdate {
            status: p.required("status")?,
        },
        "message_delivered" => ClientMessage::MessageDelivered {
            conversation_id: p.required("conversation_id")?,
            message_id: p.required("message_id")?,
        },
        "message_read" => ClientMessage::MessageRead {
            conversation_id: p.required("conversation_id")?,
            message_id: p.required("message_id")?,
        },
        "ping" => ClientMessage::Ping,
        other => {
            return Err(AppError::field(
                "type",
                format!("unknown message type {other:?}"),
            ));
        }
    })
}

/// A server → client frame: `{"type", "message_id", "timestamp", "payload"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMessage {
    /// The message type (one of [`SERVER_MESSAGE_TYPES`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// For `ack`/`error`: the client's `message_id`; otherwise a fresh id of this message,
    /// the same on every delivery of one broadcast.
    pub message_id: String,
    /// When the server produced it.
    pub timestamp: Timestamp,
    /// The content.
    pub payload: Value,
}

impl ServerMessage {
    /// A message of `kind` with a fresh id.
    pub fn new(kind: &str, payload: impl Serialize) -> Self {
        Self {
            kind: kind.to_owned(),
            message_id: uuid::Uuid::now_v7().to_string(),
            timestamp: crate::time::now(),
            payload: serde_json::to_value(payload).unwrap_or(Value::Null),
        }
    }

    /// `ack` of the client's `message_id`, with what was created.
    pub fn ack(client_message_id: &str, payload: impl Serialize) -> Self {
        Self {
            message_id: client_message_id.to_owned(),
            ..Self::new("ack", payload)
        }
    }

    /// `error` answering the client's `message_id` (if it had one).
    pub fn error(client_message_id: Option<&str>, error: &AppError) -> Self {
        Self {
            message_id: client_message_id.unwrap_or_default().to_owned(),
            ..Self::new(
                "error",
                ErrorPayload {
                    code: error.code.ws_code(),
                    message: &error.message,
                    details: &error.details,
                    retry_after: error.retry_after_secs,
                },
            )
        }
    }

    /// The JSON text of the frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Payload of `error`.
#[derive(Debug, Serialize)]
pub struct ErrorPayload<'a> {
    /// One of INVALID_MESSAGE, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, RATE_LIMIT_EXCEEDED,
    /// PAYLOAD_TOO_LARGE, INTERNAL.
    pub code: &'static str,
    /// Human-readable message.
    pub message: &'a str,
    /// Field details for INVALID_MESSAGE.
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    pub details: &'a [FieldError],
    /// Seconds until a retry may succeed (RATE_LIMIT_EXCEEDED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// Builders for the server messages that fan out to rooms.
pub mod broadcast {
    use super::*;

    /// `comment_broadcast`: a new comment.
    pub fn comment(view: &CommentView) -> ServerMessage {
        ServerMessage::new("comment_broadcast", view)
    }

    /// `comment_updated`: like or reply counts changed.
    pub fn comment_updated(c: &Comment) -> ServerMessage {
        ServerMessage::new(
            "comment_updated",
            serde_json::json!({
                "comment_id": c.comment_id,
                "event_id": c.event_id,
                "position": c.position,
                "like_count": c.like_count,
                "reply_count": c.reply_count,
            }),
        )
    }

    /// `comment_deleted`.
    pub fn comment_deleted(c: &Comment) -> ServerMessage {
        ServerMessage::new(
            "comment_deleted",
            serde_json::json!({
                "comment_id": c.comment_id,
                "event_id": c.event_id,
                "position": c.position,
                "deleted_by": c.deleted_by,
            }),
        )
    }

    /// `moderation_action` (`action`: approved|blocked|flagged).
    pub fn moderation(
        c: &Comment,
        action: crate::model::ModerationAction,
        reason: Option<&str>,
        moderator: UserId,
    ) -> ServerMessage {
        ServerMessage::new(
            "moderation_action",
            serde_json::json!({
                "comment_id": c.comment_id,
                "event_id": c.event_id,
                "position": c.position,
                "action": action.broadcast_name(),
                "reason": reason,
                "moderator_id": moderator,
            }),
        )
    }

    /// `new_message`.
    pub fn new_message(m: &Message) -> ServerMessage {
        ServerMessage::new(
            "new_message",
            serde_json::json!({
                "conversation_id": m.conversation_id,
                "message": MessageView::from(m),
            }),
        )
    }

    /// `message_updated` (edit, delete, reactions).
    pub fn message_updated(m: &Message) -> ServerMessage {
        ServerMessage::new(
            "message_updated",
            serde_json::json!({
                "conversation_id": m.conversation_id,
                "message": MessageView::from(m),
            }),
        )
    }

    /// `user_typing`.
    pub fn typing(conversation: ConversationId, user: UserId, is_typing: bool) -> ServerMessage {
        ServerMessage::new(
            "user_typing",
            serde_json::json!({
                "conversation_id": conversation,
                "user_id": user,
                "is_typing": is_typing,
            }),
        )
    }

    /// `presence_changed`.
    pub fn presence(user: UserId, status: PresenceStatus, last_seen: Timestamp) -> ServerMessage {
        ServerMessage::new(
            "presence_changed",
            serde_json::json!({
                "user_id": user,
                "status": status,
                "last_seen": last_seen,
            }),
        )
    }

    /// `delivery_status_update` (`status`: delivered|read).
    pub fn delivery_status(
        conversation: ConversationId,
        message: MessageId,
        user: UserId,
        receipt: crate::model::Receipt,
        at: Timestamp,
    ) -> ServerMessage {
        ServerMessage::new(
            "delivery_status_update",
            serde_json::json!({
                "conversation_id": conversation,
                "message_id": message,
                "user_id": user,
                "status": receipt,
                "timestamp": at,
            }),
        )
    }

    /// `event_status_changed`.
    pub fn event_status(event: EventId, from: EventStatus, to: EventStatus) -> ServerMessage {
        ServerMessage::new(
            "event_status_changed",
            serde_json::json!({
                "event_id": event,
                "status": to,
                "previous_status": from,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelope_and_flat_frames() {
        let e = EventId::new();
        let f = format!(
            r#"{{"type":"comment_submit","message_id":"m1","payload":{{"event_id":"{e}","content":"hi"}}}}"#
        );
        let env = parse_client_frame(&f).unwrap();
        assert_eq!(env.message_id.as_str(), "m1");
        assert!(matches!(env.body, ClientMessage::CommentSubmit { event_id, .. } if event_id == e));
        let c = ConversationId::new();
        let flat =
            format!(r#"{{"type":"typing_start","message_id":"m2","conversation_id":"{c}"}}"#);
        assert_eq!(
            parse_client_frame(&flat).unwrap().body,
            ClientMessage::TypingStart { conversation_id: c }
        );
    }

    #[test]
    fn bad_frames_get_codes_and_keep_the_message_id() {
        assert_eq!(
            parse_client_frame("{nope")
                .unwrap_err()
                .error
                .code
                .ws_code(),
            "INVALID_MESSAGE"
        );
        let big = format!(
            r#"{{"type":"ping","message_id":"m","x":"{}"}}"#,
            "a".repeat(40_000)
        );
        assert_eq!(
            parse_client_frame(&big).unwrap_err().error.code.ws_code(),
            "PAYLOAD_TOO_LARGE"
        );
        let err = parse_client_frame(
            r#"{"type":"subscribe","message_id":"m3","payload":{"event_id":"x"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.message_id.as_deref(), Some("m3"));
        assert_eq!(err.error.details[0].field, "payload.event_id");
        let err = parse_client_frame(r#"{"type":"dance","message_id":"m4"}"#).unwrap_err();
        assert_eq!(err.error.details[0].field, "type");
        assert!(parse_client_frame(r#"{"type":"ping"}"#).is_err());
    }

    #[test]
    fn subscribe_needs_exactly_one_room() {
        let e = EventId::new();
        let c = ConversationId::new();
        let both = format!(
            r#"{{"type":"subscribe","message_id":"m","payload":{{"event_id":"{e}","conversation_id":"{c}"}}}}"#
        );
        assert!(parse_client_frame(&both).is_err());
        let since = format!(
            r#"{{"type":"subscribe","message_id":"m","payload":{{"conversation_id":"{c}","since":7}}}}"#
        );
        assert_eq!(
            parse_client_frame(&since).unwrap().body,
            ClientMessage::Subscribe {
                room: RoomRef::Conversation(c),
                since: Some(Position(7))
            }
        );
    }

    #[test]
    fn error_frames_use_ws_codes() {
        let m = ServerMessage::error(Some("m9"), &AppError::rate_limited(3));
        let v: Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["message_id"], "m9");
        assert_eq!(v["payload"]["code"], "RATE_LIMIT_EXCEEDED");
        assert_eq!(v["payload"]["retry_after"], 3);
    }
}
