//! REST routes of the `comments` function: post and list the comments of an event, list the
//! replies of a comment, like, delete and moderate comments.
//!
//! Listing an event's comments and a comment's replies is public (anonymous viewers are
//! limited per IP, as every request without a token); every other route needs a signed-in
//! user. Everything that changes a room goes through [`crate::service::comments`], so REST
//! enqueues the same fan-out jobs as the WebSocket router. Pending comments (strict moderation) are visible only to the event's moderators and
//! to their author; to anyone else they do not exist (404). Deleted and blocked comments are
//! listed with empty `content`.
//!
//! Listing cursors are sealed ([`crate::http::cursor`]) for one listing: `comments:<event_id>:
//! <sort>` for an event's comments, `replies:<comment_id>` for replies.

use serde_json::json;

use crate::app::App;
use crate::error::AppError;
use crate::http::cursor::{open, seal};
use crate::http::{Reply, Req};
use crate::ids::{ClientKey, CommentId, EventId, UserId};
use crate::model::{ClientMetadata, Comment, Event, ModerationAction, ModerationStatus};
use crate::room::Position;
use crate::service::comments::{self as service, CommentInput, moderates};
use crate::store::{Cursor, Order, Window};

/// `POST /v1/events/{event_id}/comments`
pub const CREATE: &str = "POST /v1/events/{event_id}/comments";
/// `GET /v1/events/{event_id}/comments`
pub const LIST: &str = "GET /v1/events/{event_id}/comments";
/// `GET /v1/comments/{comment_id}/replies`
pub const REPLIES: &str = "GET /v1/comments/{comment_id}/replies";
/// `PUT /v1/comments/{comment_id}/like`
pub const LIKE: &str = "PUT /v1/comments/{comment_id}/like";
/// `DELETE /v1/comments/{comment_id}`
pub const DELETE: &str = "DELETE /v1/comments/{comment_id}";
/// `POST /v1/comments/{comment_id}/moderation`
pub const MODERATE: &str = "POST /v1/comments/{comment_id}/moderation";

/// Route keys served by this function.
pub const ROUTES: &[&str] = &[CREATE, LIST, REPLIES, LIKE, DELETE, MODERATE];

/// Default page size of comment listings.
pub const DEFAULT_LIMIT: usize = 50;

/// Largest page size of comment listings.
pub const MAX_LIMIT: usize = 100;

/// Longest moderation reason (as the service enforces).
const MAX_REASON_CHARS: usize = 500;

/// Dispatches one request of this function.
pub async fn route(app: &App, req: &Req) -> Result<Reply, AppError> {
    match req.route_key.as_str() {
        CREATE => create(app, req).await,
        LIST => list(app, req).await,
        REPLIES => replies(app, req).await,
        LIKE => like(app, req).await,
        DELETE => delete(app, req).await,
        MODERATE => moderate(app, req).await,
        other => Err(AppError::not_found(&format!("route {other}"))),
    }
}

/// Reads an opaque position cursor sealed for `scope`.
fn open_position(app: &App, scope: &str, cursor: &str) -> Result<Position, AppError> {
    open(&app.config.cursor_secret, scope, cursor)?
        .parse()
        .map(Position)
        .map_err(|_| AppError::field("cursor", "is not a valid cursor for this listing"))
}

/// Seals `position` as a cursor for `scope`.
fn seal_position(app: &App, scope: &str, position: Position) -> String {
    seal(&app.config.cursor_secret, scope, &position.0.to_string())
}

/// Whether `viewer` (`None`: anonymous) may see `c`, a comment of `event`: pending comments
/// are shown only to the event's moderators and to their author.
fn may_see(app: &App, viewer: Option<UserId>, event: &Event, c: &Comment) -> bool {
    c.moderation_status != ModerationStatus::Pending
        || viewer.is_some_and(|user| c.user_id == user || moderates(app, user, event))
}

/// The comment with its event, if `user` may see it; 404 otherwise.
async fn visible_comment(
    app: &App,
    user: Option<UserId>,
    id: CommentId,
) -> Result<(Comment, Event), AppError> {
    let c = service::comment(app, id).await?;
    let event = service::live_event(app, c.event_id).await?;
    if !may_see(app, user, &event, &c) {
        return Err(AppError::not_found("comment"));
    }
    Ok((c, event))
}

/// The `Idempotency-Key` header as a client key, if sent (an empty one is refused: the
/// client meant a key, and without one a retry would post twice).
fn idempotency_key(req: &Req) -> Result<Option<ClientKey>, AppError> {
    match req.header("idempotency-key").map(str::trim) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|e: crate::ids::IdError| {
            AppError::field(
                "Idempotency-Key",
                format!(
                    "is not a valid key ({}): use 1 to 64 of A-Z a-z 0-9 - _ . :",
                    e.reason
                ),
            )
        }),
    }
}

/// `POST /v1/events/{event_id}/comments`: `{content, parent_comment_id?, client_metadata?}`
/// → 201 with the comment; 200 with the original when `Idempotency-Key` repeats an earlier
/// post of this user to this event within 24 h (409 when that post had other content).
async fn create(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let event_id: EventId = req.path("event_id")?;
    let client_key = idempotency_key(req)?;
    let body = req.fields()?;
    let content: String = body.required("content")?;
    let parent_comment_id: Option<CommentId> = body.optional("parent_comment_id")?;
    let client_metadata: Option<ClientMetadata> = body.optional("client_metadata")?;
    if body
        .optional::<EventId>("event_id")?
        .is_some_and(|id| id != event_id)
    {
        return Err(AppError::field(
            "event_id",
            "must match the event in the path",
        ));
    }
    let submitted = service::submit(
        app,
        user,
        CommentInput {
            event_id,
            content,
            parent_comment_id,
            client_key,
            client_metadata,
        },
    )
    .await?;
    if submitted.created {
        return Ok(Reply::created(submitted.view));
    }
    Ok(Reply::ok(submitted.view))
}

/// Sort orders of an event's comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Newest,
    Oldest,
    Popular,
}

impl Sort {
    fn name(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Popular => "popular",
        }
    }
}

impl std::str::FromStr for Sort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "newest" => Ok(Self::Newest),
            "oldest" => Ok(Self::Oldest),
            "popular" => Ok(Self::Popular),
            _ => Err("must be newest, oldest or popular".into()),
        }
    }
}

/// The list body `{comments, total_count, has_more, next_cursor}`, with what `user` may not
/// see left out; `total_count` is the counter kept on write for the whole listing.
async fn listing(
    app: &App,
    user: Option<UserId>,
    event: &Event,
    page: Listed,
) -> Result<Reply, AppError> {
    let Listed {
        items,
        total_count,
        has_more,
        next_cursor,
    } = page;
    let visible: Vec<Comment> = items
        .into_iter()
        .filter(|c| may_see(app, user, event, c))
        .collect();
    let views = service::views(app, &visible).await?;
    Ok(Reply::ok(json!({
        "comments": views,
        "total_count": total_count,
        "has_more": has_more,
        "next_cursor": next_cursor,
    })))
}

/// One page of a listing, before visibility is applied.
struct Listed {
    items: Vec<Comment>,
    total_count: u64,
    has_more: bool,
    next_cursor: Option<String>,
}

/// `GET /v1/events/{event_id}/comments?limit=&cursor=&sort=newest|oldest|popular&after=`.
///
/// `newest` (default) and `oldest` page through the event's stream by position, replies
/// included; `popular` lists top-level comments, most liked first. `after=<position>` is the
/// catch-up read: comments after that position, oldest first (only with `sort=oldest` or no
/// sort, and never with `cursor`). `sort_by` is accepted as an alias of `sort`.
async fn list(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.viewer()?;
    let event_id: EventId = req.path("event_id")?;
    let limit = req.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let sort: Option<Sort> = match req.query::<Sort>("sort")? {
        Some(s) => Some(s),
        None => req.query::<Sort>("sort_by")?,
    };
    let after: Option<u64> = req.query("after")?;
    let cursor: Option<String> = req.query("cursor")?;
    let sort = match (after, sort) {
        (Some(_), Some(s)) if s != Sort::Oldest => {
            return Err(AppError::field("after", "is only valid with sort=oldest"));
        }
        (Some(_), _) if cursor.is_some() => {
            return Err(AppError::field("after", "cannot be combined with cursor"));
        }
        (Some(_), _) => Sort::Oldest,
        (None, s) => s.unwrap_or(Sort::Newest),
    };
    let event = service::live_event(app, event_id).await?;
    match req.query::<String>("moderation_status")?.as_deref() {
        None => {}
        Some("pending") => return pending(app, user, &event, limit, cursor).await,
        Some(_) => {
            return Err(AppError::field(
                "moderation_status",
                "must be pending (the moderation queue); leave it out for the comments",
            ));
        }
    }
    let scope = format!("comments:{event_id}:{}", sort.name());
    match sort {
        Sort::Popular => {
            let token = cursor
                .map(|c| open(&app.config.cursor_secret, &scope, &c).map(Cursor))
                .transpose()?;
            let page = app
                .stores
                .comments
                .list_popular(event_id, limit, token.as_ref())
                .await?;
            let next = page
                .next
                .map(|c| seal(&app.config.cursor_secret, &scope, &c.0));
            let total_count = app.stores.comments.comment_count(event_id).await?;
            let page = Listed {
                items: page.items,
                total_count,
                has_more: next.is_some(),
                next_cursor: next,
            };
            listing(app, user, &event, page).await
        }
        Sort::Newest | Sort::Oldest => {
            let from = cursor.map(|c| open_position(app, &scope, &c)).transpose()?;
            let window = if sort == Sort::Newest {
                Window::newest(from, limit)
            } else {
                Window {
                    after: from.or(after.map(Position)),
                    before: None,
                    order: Order::Oldest,
                    limit,
                }
            };
            let slice = app.stores.comments.list_comments(event_id, window).await?;
            let next = match slice.items.last() {
                Some(last) if slice.has_more => Some(seal_position(app, &scope, last.position)),
                _ => None,
            };
            let total_count = app.stores.comments.comment_count(event_id).await?;
            let page = Listed {
                items: slice.items,
                total_count,
                has_more: slice.has_more,
                next_cursor: next,
            };
            listing(app, user, &event, page).await
        }
    }
}

/// `GET /v1/events/{event_id}/comments?moderation_status=pending`: the moderation queue,
/// oldest first, for the event's moderators (403 for anyone else).
async fn pending(
    app: &App,
    user: Option<UserId>,
    event: &Event,
    limit: usize,
    cursor: Option<String>,
) -> Result<Reply, AppError> {
    let Some(me) = user.filter(|u| moderates(app, *u, event)) else {
        return Err(AppError::forbidden(
            "only the event's moderators may read its moderation queue",
        ));
    };
    let scope = format!("pending:{}", event.event_id);
    let token = cursor
        .map(|c| open(&app.config.cursor_secret, &scope, &c).map(Cursor))
        .transpose()?;
    let page = app
        .stores
        .comments
        .list_pending(event.event_id, limit, token.as_ref())
        .await?;
    let next = page
        .next
        .map(|c| seal(&app.config.cursor_secret, &scope, &c.0));
    // The queue keeps no counter of its own: the event's, as on the other listings.
    let listed = Listed {
        total_count: app.stores.comments.comment_count(event.event_id).await?,
        has_more: next.is_some(),
        items: page.items,
        next_cursor: next,
    };
    listing(app, Some(me), event, listed).await
}

/// `GET /v1/comments/{comment_id}/replies?limit=&cursor=`: replies, oldest first.
async fn replies(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.viewer()?;
    let id: CommentId = req.path("comment_id")?;
    let limit = req.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor: Option<String> = req.query("cursor")?;
    let scope = format!("replies:{id}");
    let after = cursor.map(|c| open_position(app, &scope, &c)).transpose()?;
    let (parent, event) = visible_comment(app, user, id).await?;
    let slice = app.stores.comments.list_replies(id, after, limit).await?;
    let next = match slice.items.last() {
        Some(last) if slice.has_more => Some(seal_position(app, &scope, last.position)),
        _ => None,
    };
    let page = Listed {
        items: slice.items,
        total_count: parent.reply_count,
        has_more: slice.has_more,
        next_cursor: next,
    };
    listing(app, user, &event, page).await
}

/// `PUT /v1/comments/{comment_id}/like`: toggles the caller's like → `{liked, like_count}`.
async fn like(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: CommentId = req.path("comment_id")?;
    visible_comment(app, Some(user), id).await?;
    Ok(Reply::ok(service::toggle_like(app, user, id).await?))
}

/// `DELETE /v1/comments/{comment_id}`: soft delete by the author or a moderator of the event
/// → `{message, comment}`.
async fn delete(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: CommentId = req.path("comment_id")?;
    visible_comment(app, Some(user), id).await?;
    let view = service::delete(app, user, id).await?;
    Ok(Reply::ok(json!({
        "message": "comment deleted",
        "comment": view,
    })))
}

/// `POST /v1/comments/{comment_id}/moderation`: `{action: approve|block|flag, reason?}` by a
/// moderator of the event (its creator, a global moderator, an admin) → `{action, reason,
/// comment}`.
async fn moderate(app: &App, req: &Req) -> Result<Reply, AppError> {
    let user = req.user()?;
    let id: CommentId = req.path("comment_id")?;
    let body = req.fields()?;
    let action: ModerationAction = body.required("action")?;
    let reason: Option<String> = body.optional("reason")?;
    let shown = crate::validate::optional_text("reason", reason.as_deref(), MAX_REASON_CHARS)?;
    visible_comment(app, Some(user), id).await?;
    let view = service::moderate(app, user, id, action, reason).await?;
    Ok(Reply::ok(json!({
        "action": action.broadcast_name(),
        "reason": shown,
        "comment": view,
    })))
}
