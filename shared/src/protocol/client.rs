//! Client → server messages: the [`ClientMessage`] a frame asks for, and the parser of
//! frames. The `type` names are listed once, in [`client_message_types!`]; parsing,
//! logging and the documentation checks all read them from [`ClientMessageType`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::AppError;
use crate::fields::Fields;
use crate::ids::{ClientKey, CommentId, ConversationId, EventId, MessageId};
use crate::model::ClientMetadata;
use crate::room::{Position, Room};
use crate::validate::FieldError;

/// Declares [`ClientMessageType`] and [`CLIENT_MESSAGE_TYPES`] from one list of
/// `Variant = "wire_name"` pairs, so a type name is written exactly once.
macro_rules! client_message_types {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// The `type` of a client message, without its content.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ClientMessageType {
            $($(#[$doc])* $variant,)*
        }

        impl ClientMessageType {
            /// Every type, in protocol order.
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            /// The `type` on the wire.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }
        }

        /// Every client message type on the wire, in protocol order (for documentation
        /// checks and sample ordering).
        pub const CLIENT_MESSAGE_TYPES: &[&str] = &[$($name),*];
    };
}

client_message_types! {
    /// `subscribe`.
    Subscribe = "subscribe",
    /// `unsubscribe`.
    Unsubscribe = "unsubscribe",
    /// `comment_submit`.
    CommentSubmit = "comment_submit",
    /// `send_message`.
    SendMessage = "send_message",
    /// `typing_start`.
    TypingStart = "typing_start",
    /// `typing_stop`.
    TypingStop = "typing_stop",
    /// `presence_update`.
    PresenceUpdate = "presence_update",
    /// `message_delivered`.
    MessageDelivered = "message_delivered",
    /// `message_read`.
    MessageRead = "message_read",
    /// `ping`.
    Ping = "ping",
}

impl ClientMessageType {
    /// The type named `name` on the wire, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.name() == name)
    }
}

impl std::fmt::Display for ClientMessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Which room a `subscribe`/`unsubscribe` names: exactly one of the two ids. Serializes as
/// the field that names it (`{"event_id": …}` or `{"conversation_id": …}`), as acks carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RoomRef {
    /// A live event's comments.
    #[serde(rename = "event_id")]
    Event(EventId),
    /// A conversation's messages.
    #[serde(rename = "conversation_id")]
    Conversation(ConversationId),
}

impl From<RoomRef> for Room {
    fn from(room: RoomRef) -> Self {
        match room {
            RoomRef::Event(id) => Room::Event(id),
            RoomRef::Conversation(id) => Room::Conversation(id),
        }
    }
}

impl From<Room> for RoomRef {
    fn from(room: Room) -> Self {
        match room {
            Room::Event(id) => RoomRef::Event(id),
            Room::Conversation(id) => RoomRef::Conversation(id),
        }
    }
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
        /// Its kind (`text` when absent).
        message_type: crate::model::MessageType,
        /// The uploads of an image or file message (`media_attachments: [{file_id}]`).
        file_ids: Vec<crate::ids::FileId>,
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

impl ClientMessage {
    /// The message's type.
    pub fn kind(&self) -> ClientMessageType {
        use ClientMessageType as T;
        match self {
            Self::Subscribe { .. } => T::Subscribe,
            Self::Unsubscribe { .. } => T::Unsubscribe,
            Self::CommentSubmit { .. } => T::CommentSubmit,
            Self::SendMessage { .. } => T::SendMessage,
            Self::TypingStart { .. } => T::TypingStart,
            Self::TypingStop { .. } => T::TypingStop,
            Self::PresenceUpdate { .. } => T::PresenceUpdate,
            Self::MessageDelivered { .. } => T::MessageDelivered,
            Self::MessageRead { .. } => T::MessageRead,
            Self::Ping => T::Ping,
        }
    }
}

impl PresenceStatus {
    /// What the user shows while reporting this: typing somewhere is being active.
    pub fn shown(self) -> crate::model::OnlineStatus {
        use crate::model::OnlineStatus as S;
        match self {
            Self::Online => S::Online,
            Self::Active | Self::Typing => S::Active,
            Self::Away => S::Away,
        }
    }
}

/// Presence states a client can report (`offline` is announced by the server when the
/// user's last connection closes, never reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// Connected (seed 001's word; what a connection starts as).
    Online,
    /// Using the app.
    Active,
    /// Idle.
    Away,
    /// Typing somewhere.
    Typing,
}

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
    let Some(kind) = ClientMessageType::from_name(kind) else {
        return Err(AppError::field(
            "type",
            format!("unknown message type {kind:?}"),
        ));
    };
    use ClientMessageType as T;
    Ok(match kind {
        T::Subscribe => ClientMessage::Subscribe {
            room: room_ref(p)?,
            since: p.optional("since")?,
        },
        T::Unsubscribe => ClientMessage::Unsubscribe { room: room_ref(p)? },
        T::CommentSubmit => ClientMessage::CommentSubmit {
            event_id: p.required("event_id")?,
            content: p.required("content")?,
            parent_comment_id: p.optional("parent_comment_id")?,
            client_metadata: p.optional("client_metadata")?,
        },
        T::SendMessage => ClientMessage::SendMessage {
            conversation_id: p.required("conversation_id")?,
            content: p.required("content")?,
            client_message_id: p.required("client_message_id")?,
            reply_to_message_id: p.optional("reply_to_message_id")?,
            message_type: p.optional("message_type")?.unwrap_or_default(),
            file_ids: crate::media::attach::AttachmentRef::ids(p.optional("media_attachments")?),
        },
        T::TypingStart => ClientMessage::TypingStart {
            conversation_id: p.required("conversation_id")?,
        },
        T::TypingStop => ClientMessage::TypingStop {
            conversation_id: p.required("conversation_id")?,
        },
        T::PresenceUpdate => ClientMessage::PresenceUpdate {
            status: p.required("status")?,
        },
        T::MessageDelivered => ClientMessage::MessageDelivered {
            conversation_id: p.required("conversation_id")?,
            message_id: p.required("message_id")?,
        },
        T::MessageRead => ClientMessage::MessageRead {
            conversation_id: p.required("conversation_id")?,
            message_id: p.required("message_id")?,
        },
        T::Ping => ClientMessage::Ping,
    })
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
    fn every_type_round_trips_through_its_name() {
        for t in ClientMessageType::ALL {
            assert_eq!(ClientMessageType::from_name(t.name()), Some(*t));
        }
        assert_eq!(ClientMessageType::ALL.len(), CLIENT_MESSAGE_TYPES.len());
        assert_eq!(ClientMessageType::from_name("dance"), None);
    }
}
