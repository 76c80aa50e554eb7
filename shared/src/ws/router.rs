//! `$default`: every client frame. The frame is parsed with
//! [`protocol::parse_client_frame`](crate::protocol::parse_client_frame), its user is the one
//! stored with the connection at `$connect`, and the operation runs through the same services
//! as the REST API. The caller, and only the caller, is answered through the [`Poster`]
//! (`PostToConnection` to its own connection):
//!
//! - `ack` with the client's `message_id` and what was created or changed, or
//! - `error` with the client's `message_id` (when it could be read) and a code from the closed
//!   set `INVALID_MESSAGE`, `UNAUTHORIZED`, `FORBIDDEN`, `NOT_FOUND`, `RATE_LIMIT_EXCEEDED`,
//!   `PAYLOAD_TOO_LARGE`, `INTERNAL` ([`ErrorCode::ws_code`](crate::error::ErrorCode::ws_code)),
//!   mapped from the [`AppError`] in one place (`Replier::fail`), or
//! - `pong` for `ping`.
//!
//! API Gateway always gets 200 (400 only for an event without a connection id): the answer
//! travels over the socket, and API Gateway would not retry anyway.
//!
//! Order of work: parse (no store access for garbage) → `ping` is answered at once without a
//! store read (it is the keep-alive every client sends every 30 s) → the connection's user is
//! read (unknown or expired connection → `UNAUTHORIZED`) → the operation.
//!
//! `subscribe` with `since` posts the missed frames (oldest first, at most
//! [`Config::catch_up_limit`](crate::config::Config::catch_up_limit)) **before** its `ack`, whose
//! `last_position` is where to resume (`subscribe` again with `since`, or REST `after=`) when
//! `has_more` is set. If a catch-up post fails, the remaining frames are not sent and the answer
//! is an `INTERNAL` error: the subscription stands, and the client subscribes again with `since`
//! set to the last position it has.
//!
//! Replies are posted with up to [`REPLY_ATTEMPTS`] attempts when API Gateway throttles or
//! fails transiently; a reply that still fails is logged, and the client's retry with the same
//! `message_id` (comments) or `client_message_id` (messages) returns the same item.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tracing::Instrument;

use crate::app::App;
use crate::config::RateKind;
use crate::error::{AppError, ErrorCode};
use crate::ids::{ClientKey, ConnectionId, UserId};
use crate::model::{Connection, Receipt};
use crate::poster::{PostError, Poster};
use crate::protocol::{
    ClientMessage, ParseError, PresenceStatus, RoomRef, ServerMessage, broadcast,
    parse_client_frame,
};
use crate::queue::FanoutJob;
use crate::room::{Position, Room};
use crate::service::comments::{self, CommentInput};
use crate::service::messages::{self, MessageInput};
use crate::service::rooms;
use crate::time::now;

/// Attempts at posting one reply when the post is throttled or fails transiently.
pub const REPLY_ATTEMPTS: u32 = 3;

/// First backoff between reply attempts; doubled each time, with jitter.
const REPLY_BACKOFF: Duration = Duration::from_millis(25);

/// Handles one client frame (`$default`) and answers the caller through `poster`. Returns 200
/// once the frame is handled, whatever the answer; 400 only for an event without a usable
/// connection id (there is no one to answer).
pub async fn handle(
    app: &App,
    poster: &dyn Poster,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let span = super::invocation_span(super::DEFAULT_ROUTE, &request);
    async {
        let connection = match super::connection_id(&request) {
            Ok(c) => c,
            Err(e) => {
                super::log_failure("frame", &e);
                return super::error_response(&e, &request);
            }
        };
        let started = Instant::now();
        let out = Replier {
            poster,
            connection: &connection,
        };
        let outcome = process(app, &out, frame_text(&request)).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &outcome.error {
            None => tracing::info!(
                answer = outcome.answer,
                delivered = outcome.delivered,
                elapsed_ms,
                "frame handled"
            ),
            Some(e) if matches!(e.code, ErrorCode::Internal | ErrorCode::Unavailable) => {
                tracing::error!(
                    answer = outcome.answer,
                    code = e.code.ws_code(),
                    reason = %e.message,
                    delivered = outcome.delivered,
                    elapsed_ms,
                    "frame failed"
                );
            }
            Some(e) => tracing::info!(
                answer = outcome.answer,
                code = e.code.ws_code(),
                reason = %e.message,
                delivered = outcome.delivered,
                elapsed_ms,
                "frame rejected"
            ),
        }
        super::status(200)
    }
    .instrument(span)
    .await
}

/// The `type` name of a client message (one of
/// [`CLIENT_MESSAGE_TYPES`](crate::protocol::CLIENT_MESSAGE_TYPES)). The router handles every
/// message this names.
pub fn message_type(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Subscribe { .. } => "subscribe",
        ClientMessage::Unsubscribe { .. } => "unsubscribe",
        ClientMessage::CommentSubmit { .. } => "comment_submit",
        ClientMessage::SendMessage { .. } => "send_message",
        ClientMessage::TypingStart { .. } => "typing_start",
        ClientMessage::TypingStop { .. } => "typing_stop",
        ClientMessage::PresenceUpdate { .. } => "presence_update",
        ClientMessage::MessageDelivered { .. } => "message_delivered",
        ClientMessage::MessageRead { .. } => "message_read",
        ClientMessage::Ping => "ping",
    }
}

/// What one frame came to, for the invocation's log line.
struct Outcome {
    /// `ack`, `pong` or `error`.
    answer: &'static str,
    /// The error answered, if any.
    error: Option<AppError>,
    /// Whether the answer reached the connection.
    delivered: bool,
}

/// A successful answer.
enum Answer {
    /// `ack` with this payload.
    Ack(Value),
    /// `pong`.
    Pong,
}

/// Posts to the calling connection.
struct Replier<'a> {
    poster: &'a dyn Poster,
    connection: &'a ConnectionId,
}

impl Replier<'_> {
    /// Posts one frame, retrying throttled and transient failures with jittered backoff.
    async fn post(&self, message: &ServerMessage) -> Result<(), PostError> {
        let data = message.to_json();
        let mut attempt = 1;
        loop {
            match self.poster.post(self.connection, data.as_bytes()).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_retryable() && attempt < REPLY_ATTEMPTS => {
                    let base = REPLY_BACKOFF * 2u32.pow(attempt - 1);
                    let jitter = fastrand::u64(0..=u64::try_from(base.as_millis()).unwrap_or(0));
                    tokio::time::sleep(base + Duration::from_millis(jitter)).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, kind = %message.kind, attempt, "post to caller failed");
                    return Err(e);
                }
            }
        }
    }

    /// Answers with `message` (an `ack` or `pong`).
    async fn answer(&self, message: &ServerMessage, answer: &'static str) -> Outcome {
        Outcome {
            answer,
            error: None,
            delivered: self.post(message).await.is_ok(),
        }
    }

    /// Answers with the `error` frame of `error`: the one place an [`AppError`] becomes what
    /// a WebSocket client sees.
    async fn fail(&self, message_id: Option<&str>, error: &AppError) -> Outcome {
        Outcome {
            answer: "error",
            delivered: self
                .post(&ServerMessage::error(message_id, error))
                .await
                .is_ok(),
            error: Some(error.clone()),
        }
    }
}

/// The text of the frame: the body, base64-decoded for binary frames.
fn frame_text(request: &ApiGatewayWebsocketProxyRequest) -> Result<Cow<'_, str>, AppError> {
    let body = request.body.as_deref().unwrap_or_default();
    if !request.is_base64_encoded {
        return Ok(Cow::Borrowed(body));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| AppError::field("frame", "is not valid base64"))?;
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| AppError::field("frame", "must be UTF-8 JSON text"))
}

/// Parses, runs and answers one frame.
async fn process(app: &App, out: &Replier<'_>, frame: Result<Cow<'_, str>, AppError>) -> Outcome {
    let parsed = frame
        .map_err(|error| ParseError {
            message_id: None,
            error,
        })
        .and_then(|text| parse_client_frame(&text));
    let envelope = match parsed {
        Ok(envelope) => envelope,
        Err(p) => return out.fail(p.message_id.as_deref(), &p.error).await,
    };
    let span = tracing::Span::current();
    span.record("message_type", message_type(&envelope.body));
    span.record("message_id", envelope.message_id.as_str());
    let message_id = envelope.message_id.as_str();
    match run(app, out, &envelope.message_id, envelope.body).await {
        Ok(Answer::Ack(payload)) => {
            out.answer(&ServerMessage::ack(message_id, payload), "ack")
                .await
        }
        Ok(Answer::Pong) => out.answer(&pong(message_id), "pong").await,
        Err(e) => out.fail(Some(message_id), &e).await,
    }
}

/// `pong` answering the client's `message_id`.
fn pong(message_id: &str) -> ServerMessage {
    ServerMessage {
        message_id: message_id.to_owned(),
        ..ServerMessage::new("pong", json!({}))
    }
}

/// The connection as stored at `$connect` (its user and expiry).
async fn caller(app: &App, connection: &ConnectionId) -> Result<Connection, AppError> {
    app.stores
        .connections
        .get_connection(connection)
        .await?
        .ok_or_else(|| AppError::unauthorized("unknown or expired connection; reconnect"))
}

/// Runs one message. `ping` needs no user; everything else runs as the connection's user.
async fn run(
    app: &App,
    out: &Replier<'_>,
    key: &ClientKey,
    body: ClientMessage,
) -> Result<Answer, AppError> {
    if matches!(body, ClientMessage::Ping) {
        return Ok(Answer::Pong);
    }
    let conn = caller(app, out.connection).await?;
    let user = conn.user_id;
    tracing::Span::current().record("user_id", tracing::field::display(user));
    let connection = out.connection;
    let ack = match body {
        ClientMessage::Ping => return Ok(Answer::Pong),
        ClientMessage::Subscribe { room, since } => subscribe(app, out, &conn, room, since).await?,
        ClientMessage::Unsubscribe { room } => {
            let room = room_of(room);
            rooms::unsubscribe(app, connection, room).await?;
            Value::Object(room_fields(room))
        }
        ClientMessage::CommentSubmit {
            event_id,
            content,
            parent_comment_id,
            client_metadata,
        } => {
            let submitted = comments::submit(
                app,
                user,
                CommentInput {
                    event_id,
                    content,
                    parent_comment_id,
                    client_key: Some(key.clone()),
                    client_metadata,
                },
            )
            .await?;
            let c = &submitted.view;
            json!({
                "comment_id": c.comment_id,
                "event_id": c.event_id,
                "parent_comment_id": c.parent_comment_id,
                "position": c.position,
                "moderation_status": c.moderation_status,
                "created_at": c.created_at,
                "created": submitted.created,
            })
        }
        ClientMessage::SendMessage {
            conversation_id,
            content,
            client_message_id,
            reply_to_message_id,
        } => {
            let sent = messages::send(
                app,
                user,
                MessageInput {
                    conversation_id,
                    content,
                    client_message_id,
                    reply_to_message_id,
                },
            )
            .await?;
            let m = &sent.view;
            json!({
                "message_id": m.message_id,
                "conversation_id": m.conversation_id,
                "client_message_id": m.client_message_id,
                "position": m.position,
                "created_at": m.created_at,
                "delivery_status": m.delivery_status,
                "created": sent.created,
            })
        }
        ClientMessage::TypingStart { conversation_id } => {
            messages::typing(app, user, conversation_id, true, Some(connection.clone())).await?;
            json!({ "conversation_id": conversation_id, "is_typing": true })
        }
        ClientMessage::TypingStop { conversation_id } => {
            messages::typing(app, user, conversation_id, false, Some(connection.clone())).await?;
            json!({ "conversation_id": conversation_id, "is_typing": false })
        }
        ClientMessage::PresenceUpdate { status } => presence(app, user, connection, status).await?,
        ClientMessage::MessageDelivered {
            conversation_id,
            message_id,
        } => receipt(app, user, conversation_id, message_id, Receipt::Delivered).await?,
        ClientMessage::MessageRead {
            conversation_id,
            message_id,
        } => receipt(app, user, conversation_id, message_id, Receipt::Read).await?,
    };
    Ok(Answer::Ack(ack))
}

/// The room a `subscribe`/`unsubscribe` names.
fn room_of(room: RoomRef) -> Room {
    match room {
        RoomRef::Event(id) => Room::Event(id),
        RoomRef::Conversation(id) => Room::Conversation(id),
    }
}

/// `{"room": "event:<id>", "event_id": <id>}` (or the conversation's).
fn room_fields(room: Room) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("room".into(), Value::String(room.to_string()));
    match room {
        Room::Event(id) => fields.insert("event_id".into(), json!(id)),
        Room::Conversation(id) => fields.insert("conversation_id".into(), json!(id)),
    };
    fields
}

/// `subscribe`: subscribes, posts the catch-up frames (if `since`), and returns the ack.
async fn subscribe(
    app: &App,
    out: &Replier<'_>,
    conn: &Connection,
    room: RoomRef,
    since: Option<Position>,
) -> Result<Value, AppError> {
    let (room, catch_up) = rooms::subscribe(app, conn, room, since).await?;
    let mut ack = room_fields(room);
    if let Some(catch_up) = catch_up {
        for frame in &catch_up.frames {
            out.post(frame).await.map_err(|e| {
                tracing::warn!(error = %e, "catch-up interrupted");
                AppError::new(
                    ErrorCode::Unavailable,
                    "catch-up was interrupted; subscribe again with since set to the last \
                     position received",
                )
            })?;
        }
        ack.insert("count".into(), json!(catch_up.frames.len()));
        ack.insert("has_more".into(), json!(catch_up.has_more));
        ack.insert("last_position".into(), json!(catch_up.last_position));
    }
    Ok(Value::Object(ack))
}

/// `presence_update`: broadcasts `presence_changed` to the conversations the connection is
/// subscribed to (not to itself). Nothing is stored.
///
/// Event rooms are left out on purpose: every viewer's presence sent to every other viewer of
/// a live event is quadratic in the audience (10,000 viewers flipping between active and away
/// would mean posts by the hundred million), and nobody reads it there.
async fn presence(
    app: &App,
    user: UserId,
    connection: &ConnectionId,
    status: PresenceStatus,
) -> Result<Value, AppError> {
    app.rate_limit(RateKind::Presence, &user.to_string())
        .await?;
    let rooms: Vec<Room> = app
        .stores
        .connections
        .list_connection_rooms(connection)
        .await?
        .into_iter()
        .filter(|r| matches!(r, Room::Conversation(_)))
        .collect();
    let message = broadcast::presence(user, status, now());
    let payload = serde_json::to_value(&message).map_err(AppError::internal)?;
    let jobs: Vec<FanoutJob> = rooms
        .iter()
        .map(|room| FanoutJob {
            exclude: Some(connection.clone()),
            ..FanoutJob::new(*room, payload.clone())
        })
        .collect();
    app.queue.send(&jobs).await?;
    Ok(json!({ "status": status, "rooms": rooms.len() }))
}

/// `message_delivered` / `message_read`: records the receipt, broadcasts
/// `delivery_status_update`, and acks with the caller's markers.
async fn receipt(
    app: &App,
    user: UserId,
    conversation: crate::ids::ConversationId,
    message: crate::ids::MessageId,
    kind: Receipt,
) -> Result<Value, AppError> {
    let p = messages::receipt(app, user, conversation, message, kind).await?;
    Ok(json!({
        "conversation_id": conversation,
        "message_id": message,
        "status": kind,
        "last_read_position": p.last_read_position,
        "last_delivered_position": p.last_delivered_position,
    }))
}
