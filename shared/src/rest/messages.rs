//! REST routes of the `messages` function: read a conversation's history, send, edit, delete
//! and react to messages.
//!
//! Every route needs a signed-in user. Only participants read or write a conversation: to
//! anyone else a conversation or message does not exist (404). Inside their conversation,
//! participants who are not a message's author get 403 for editing or deleting it. Changes
//! go through [`crate::service::messages`], so they enqueue the same fan-out jobs
//! (`new_message`, `message_updated`) as the WebSocket router.
//!
//! History cursors are sealed for `messages:<conversation_id>`.

use serde_json::json;

use crate::app::App;
use crate::error::AppError;
use crate::http::cursor::{open, seal};
use crate::http::{Reply, Req};
use crate::ids::{ClientKey, ConversationId, MessageId};
use crate::media::attach::AttachmentRef;
use crate::model::{MessageType, validate_emoji};
use crate::room::Position;
use crate::service::messages::{self as service, MessageInput};
use crate::store::Window;
use crate::views::{Markers, MessageView};

/// `GET /v1/conversations/{conversation_id}/messages`
pub const LIST: &str = "GET /v1/conversations/{conversation_id}/messages";
/// `POST /v1/conversations/{conversation_id}/messages`
pub const SEND: &str = "POST /v1/conversations/{conversation_id}/messages";
/// `PUT /v1/messages/{message_id}`
pub const EDIT: &str = "PUT /v1/messages/{message_id}";
/// `DELETE /v1/messages/{message_id}`
pub const DELETE: &str = "DELETE /v1/messages/{message_id}";
/// `POST /v1/messages/{message_id}/reactions`
pub const REACT: &str = "POST /v1/messages/{message_id}/reactions";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[LIST, SEND, EDIT, DELETE, REACT];

/// Default page size of the history.
pub const DEFAULT_LIMIT: usize = 50;

/// Largest page size of the history.
pub const MAX_LIMIT: usize = 100;

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        LIST => list(app, req).await,
        SEND => send(app, req).await,
        EDIT => edit(app, req).await,
        DELETE => delete(app, req).await,
        REACT => react(app, req).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// Which way a history read goes from its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Newest first, before the anchor (or from the newest message).
    Before,
    /// Oldest first, after the anchor: the catch-up read.
    After,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::After => "after",
        }
    }
}

/// Reads a history cursor (`before:<position>` or `after:<position>`, sealed for `scope`).
fn open_cursor(app: &App, scope: &str, cursor: &str) -> Result<(Direction, Position), AppError> {
    let token = open(&app.config.cursor_secret, scope, cursor)?;
    let bad = || AppError::field("cursor", "is not a valid cursor for this listing");
    let (direction, position) = token.split_once(':').ok_or_else(bad)?;
    let direction = match direction {
        "before" => Direction::Before,
        "after" => Direction::After,
        _ => return Err(bad()),
    };
    Ok((direction, Position(position.parse().map_err(|_| bad())?)))
}

/// A `before`/`after` anchor: a position, or the id of a message of this conversation.
async fn anchor(
    app: &App,
    conversation: ConversationId,
    field: &str,
    raw: &str,
) -> Result<Position, AppError> {
    if let Ok(p) = raw.parse::<u64>() {
        return Ok(Position(p));
    }
    let id: MessageId = raw
        .parse()
        .map_err(|_| AppError::field(field, "must be a position or the id of a message"))?;
    match app.stores.messages.get_message(id).await? {
        Some(m) if m.conversation_id == conversation => Ok(m.position),
        _ => Err(AppError::field(
            field,
            "no such message in this conversation",
        )),
    }
}

/// `GET /v1/conversations/{conversation_id}/messages?limit=&before=&after=&cursor=` →
/// `{messages, has_more, next_cursor}`.
///
/// Without `after`, the newest messages (before `before`, if given), newest first; with
/// `after`, the messages after it, oldest first (catch-up). `before`/`after` take a position
/// or a message id. `next_cursor` continues in the same direction; at most one of `before`,
/// `after` and `cursor` may be given.
async fn list(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: ConversationId = req.path("conversation_id")?;
    let limit = req.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let before: Option<String> = req.query("before")?;
    let after: Option<String> = req.query("after")?;
    let cursor: Option<String> = req.query("cursor")?;
    let given = [&before, &after, &cursor]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if given > 1 {
        let field = if before.is_some() { "before" } else { "after" };
        return Err(AppError::field(
            field,
            "give at most one of before, after and cursor",
        ));
    }
    let scope = format!("messages:{id}");
    let cursor = cursor.map(|c| open_cursor(app, &scope, &c)).transpose()?;
    service::participant(app, id, user).await?;
    let (direction, from) = match (cursor, before, after) {
        (Some((d, p)), _, _) => (d, Some(p)),
        (None, Some(b), _) => (
            Direction::Before,
            Some(anchor(app, id, "before", &b).await?),
        ),
        (None, None, Some(a)) => (Direction::After, Some(anchor(app, id, "after", &a).await?)),
        (None, None, None) => (Direction::Before, None),
    };
    let window = match direction {
        Direction::Before => Window::newest(from, limit),
        Direction::After => Window::after(from.unwrap_or(Position::ZERO), limit),
    };
    let slice = app.stores.messages.list_messages(id, window).await?;
    let next = match slice.items.last() {
        Some(last) if slice.has_more => Some(seal(
            &app.config.cursor_secret,
            &scope,
            &format!("{}:{}", direction.name(), last.position),
        )),
        _ => None,
    };
    // Every message's delivery status from the participants' markers as they stand (one
    // Query of at most 256 rows), so a reload shows what live receipts showed; file links
    // signed for this answer.
    let participants = app.stores.conversations.list_participants(id).await?;
    let markers = Markers::new(user, &participants);
    let messages: Vec<MessageView> = futures::future::join_all(slice.items.iter().map(|m| {
        let markers = &markers;
        async move { markers.apply(service::view(app, m).await, m) }
    }))
    .await;
    Ok(Reply::ok(json!({
        "messages": messages,
        "has_more": slice.has_more,
        "next_cursor": next,
    })))
}

/// `POST /v1/conversations/{conversation_id}/messages`: `{content, client_message_id,
/// reply_to_message_id?, message_type?, media_attachments?: [{file_id}]}` → 201 with the message, or 200 with the original
/// when `client_message_id` repeats an earlier send of this user in this conversation.
async fn send(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: ConversationId = req.path("conversation_id")?;
    let body = req.fields()?;
    let content: String = body.required("content")?;
    let client_message_id: ClientKey = body.required("client_message_id")?;
    let reply_to_message_id: Option<MessageId> = body.optional("reply_to_message_id")?;
    let message_type: Option<MessageType> = body.optional("message_type")?;
    let attachments: Option<Vec<AttachmentRef>> = body.optional("media_attachments")?;
    let sent = service::send(
        app,
        user,
        MessageInput {
            conversation_id: id,
            content,
            client_message_id,
            reply_to_message_id,
            message_type: message_type.unwrap_or_default(),
            file_ids: AttachmentRef::ids(attachments),
        },
    )
    .await?;
    Ok(if sent.created {
        Reply::created(sent.view)
    } else {
        Reply::ok(sent.view)
    })
}

/// `PUT /v1/messages/{message_id}`: `{content, edit_reason?}` by the author →
/// `{success, message}`; the previous content goes to `edit_history`.
async fn edit(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: MessageId = req.path("message_id")?;
    let body = req.fields()?;
    let content: String = body.required("content")?;
    let edit_reason: Option<String> = body.optional("edit_reason")?;
    let view = service::edit(app, user, id, &content, edit_reason).await?;
    Ok(Reply::ok(json!({ "success": true, "message": view })))
}

/// `DELETE /v1/messages/{message_id}`: soft delete by the author (idempotent) →
/// `{success, message}`.
async fn delete(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: MessageId = req.path("message_id")?;
    let view = service::delete(app, user, id).await?;
    Ok(Reply::ok(json!({ "success": true, "message": view })))
}

/// `POST /v1/messages/{message_id}/reactions`: `{emoji}` toggles the caller's reaction →
/// `{success, message_id, emoji, reacted, reactions}`.
async fn react(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: MessageId = req.path("message_id")?;
    let body = req.fields()?;
    let emoji = validate_emoji(&body.required::<String>("emoji")?)?;
    let view = service::react(app, user, id, &emoji).await?;
    let reacted = view
        .reactions
        .get(&emoji)
        .is_some_and(|users| users.contains(&user));
    Ok(Reply::ok(json!({
        "success": true,
        "message_id": view.message_id,
        "emoji": emoji,
        "reacted": reacted,
        "reactions": view.reactions,
    })))
}
