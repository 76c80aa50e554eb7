//! The WebSocket protocol: what clients send ([`ClientMessage`], parsed by
//! [`parse_client_frame`]) and what the server sends ([`ServerMessage`], whose typed
//! [`ServerPayload`] decides its `type`; [`Ack`] for the answers). Every frame is a JSON
//! envelope `{"type", "message_id", "timestamp", "payload"}` as in the live-comment API
//! design; field names inside payloads follow the live-comment and messenger designs, and
//! items (comments, messages) are shown with the same [views](crate::views) as in REST.
//! Documented in `docs/websocket-protocol.md` and `docs/asyncapi.yaml`.

mod ack;
mod client;
mod server;

pub use ack::{Ack, CatchUpAck, ItemAck, PresenceAck, ReceiptAck, RoomAck, TypingAck};
pub use client::{
    CLIENT_MESSAGE_TYPES, ClientEnvelope, ClientMessage, ClientMessageType, MAX_CLIENT_FRAME_BYTES,
    ParseError, PresenceStatus, RoomRef, parse_client_frame,
};
pub use server::{
    CommentDeleted, CommentUpdated, DeliveryStatusUpdate, ErrorPayload, EventStatusChanged,
    EventUpdated, MessageChanged, ModerationActionPayload, OccupancyPayload, ParticipantsChanged,
    Pong, PresenceChanged, SERVER_MESSAGE_TYPES, ServerMessage, ServerPayload, StreamBatch,
    StreamItem, UserTyping, broadcast,
};
