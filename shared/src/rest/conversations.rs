//! REST routes of the `conversations` function: list the caller's conversations, create one,
//! add or remove group participants. Every route needs a signed-in user; only participants
//! see a conversation (others get 404). The logic lives in
//! [`crate::service::conversations`].
//!
//! The list cursor is the store's page token sealed for `conversations:<user_id>`, so it
//! cannot be forged nor used by another user.

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::error::AppError;
use crate::http::cursor::{open, seal};
use crate::http::{Reply, Req};
use crate::ids::{ConversationId, UserId};
use crate::model::ConversationType;
use crate::service::conversations::{self as service, ConversationInput};
use crate::store::Cursor;

/// `GET /v1/conversations`
pub const LIST: &str = "GET /v1/conversations";
/// `POST /v1/conversations`
pub const CREATE: &str = "POST /v1/conversations";
/// `POST /v1/conversations/{conversation_id}/participants`
pub const PARTICIPANTS: &str = "POST /v1/conversations/{conversation_id}/participants";
/// `GET /v1/conversations/{conversation_id}`
pub const GET: &str = "GET /v1/conversations/{conversation_id}";
/// `PATCH /v1/conversations/{conversation_id}`
pub const PATCH: &str = "PATCH /v1/conversations/{conversation_id}";
/// `POST /v1/conversations/{conversation_id}/leave`
pub const LEAVE: &str = "POST /v1/conversations/{conversation_id}/leave";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[LIST, CREATE, PARTICIPANTS, GET, PATCH, LEAVE];

/// Default page size of the conversation list.
pub const DEFAULT_LIMIT: usize = 20;

/// Largest page size of the conversation list (each item carries its participants).
pub const MAX_LIMIT: usize = 50;

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        LIST => list(app, req).await,
        CREATE => create(app, req).await,
        PARTICIPANTS => participants(app, req).await,
        GET => get(app, req).await,
        PATCH => patch(app, req).await,
        LEAVE => leave(app, req).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// `GET /v1/conversations?limit=&cursor=` → `{conversations, next_cursor, has_more}`, most
/// recently active first.
async fn list(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let limit = req.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor: Option<String> = req.query("cursor")?;
    let scope = format!("conversations:{user}");
    let token = cursor
        .map(|c| open(&app.config.cursor_secret, &scope, &c).map(Cursor))
        .transpose()?;
    let page = service::list(app, user, limit, token.as_ref()).await?;
    let next = page
        .next
        .map(|c| seal(&app.config.cursor_secret, &scope, &c.0));
    Ok(Reply::ok(json!({
        "conversations": page.items,
        "next_cursor": next,
        "has_more": next.is_some(),
    })))
}

/// `POST /v1/conversations`: `{conversation_type, title?, description?, participant_ids}` →
/// 201 with the conversation, or 200 with the existing direct conversation of the same pair.
async fn create(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let body = req.fields()?;
    let conversation_type: ConversationType = body.required("conversation_type")?;
    let title: Option<String> = body.optional("title")?;
    let description: Option<String> = body.optional("description")?;
    let participant_ids: Vec<UserId> = body.required("participant_ids")?;
    let created = service::create(
        app,
        user,
        ConversationInput {
            conversation_type,
            title,
            description,
            participant_ids,
        },
    )
    .await?;
    Ok(if created.created {
        Reply::created(created.view)
    } else {
        Reply::ok(created.view)
    })
}

/// What `POST …/participants` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    Add,
    Remove,
}

/// `POST /v1/conversations/{conversation_id}/participants`: `{action: add|remove, user_ids}`
/// → `{success, added_participants}` or `{success, removed_user_ids}`.
async fn participants(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: ConversationId = req.path("conversation_id")?;
    let body = req.fields()?;
    let action: Action = body.required("action")?;
    let user_ids: Vec<UserId> = body.required("user_ids")?;
    Ok(Reply::ok(match action {
        Action::Add => json!({
            "success": true,
            "added_participants": service::add_participants(app, user, id, &user_ids).await?,
        }),
        Action::Remove => json!({
            "success": true,
            "removed_user_ids": service::remove_participants(app, user, id, &user_ids).await?,
        }),
    }))
}

/// `GET /v1/conversations/{conversation_id}` → the conversation with its participants (their
/// markers and presence); 404 for non-participants.
async fn get(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: ConversationId = req.path("conversation_id")?;
    Ok(Reply::ok(service::get(app, user, id).await?))
}

/// Body of `PATCH /v1/conversations/{conversation_id}`; `Some(None)` is an explicit `null`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, deserialize_with = "super::patch::present")]
    title: Option<String>,
    #[serde(default, deserialize_with = "super::patch::nullable")]
    description: Option<Option<String>>,
}

/// `PATCH /v1/conversations/{conversation_id}`: `{title?, description?}` (the group's owner)
/// → the conversation.
async fn patch(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: ConversationId = req.path("conversation_id")?;
    let body: PatchBody = req.json()?;
    let view = service::update(
        app,
        user,
        id,
        service::ConversationPatch {
            title: body.title,
            description: body.description,
        },
    )
    .await?;
    Ok(Reply::ok(view))
}

/// `POST /v1/conversations/{conversation_id}/leave` → `{success}`: the caller leaves the
/// group (its owner hands it over first).
async fn leave(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: ConversationId = req.path("conversation_id")?;
    service::leave(app, user, id).await?;
    Ok(Reply::ok(json!({ "success": true })))
}
