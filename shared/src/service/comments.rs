//! Comments: submit, like, delete, moderate.

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::ids::{ClientKey, CommentId, EventId, UserId};
use crate::model::claim::{DERIVED_CLAIM_WINDOW, derived_key};
use crate::model::words::{blocked_word, has_link};
use crate::model::{
    CLAIM_WINDOW, ClientMetadata, Comment, Content, Event, EventStatus, LikeOutcome,
    ModerationAction, ModerationKind, ModerationLevel, ModerationRecord, ModerationStatus,
    NewComment,
};
use crate::room::Room;
use crate::store::StoreError;
use crate::time::now;
use crate::views::CommentView;

/// What a client submits.
#[derive(Debug, Clone)]
pub struct CommentInput {
    /// Target event.
    pub event_id: EventId,
    /// Raw text.
    pub content: String,
    /// Parent, for a reply.
    pub parent_comment_id: Option<CommentId>,
    /// Idempotency key (the WebSocket `message_id`, or REST `Idempotency-Key`); without one,
    /// a key is derived from the content for [`DERIVED_CLAIM_WINDOW`], so a retry after a lost
    /// answer or a failed broadcast is still one comment.
    pub client_key: Option<ClientKey>,
    /// Client details.
    pub client_metadata: Option<ClientMetadata>,
}

/// A stored comment and whether this call created it (`false` for an idempotent retry).
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The comment as clients see it.
    pub view: CommentView,
    /// Whether it is new.
    pub created: bool,
}

/// The event, or 404.
pub async fn live_event(app: &App, event_id: EventId) -> Result<Event, AppError> {
    app.stores
        .events
        .get_event(event_id)
        .await?
        .ok_or_else(|| AppError::not_found("event"))
}

/// The comment, or 404.
pub async fn comment(app: &App, id: CommentId) -> Result<Comment, AppError> {
    app.stores
        .comments
        .get_comment(id)
        .await?
        .ok_or_else(|| AppError::not_found("comment"))
}

/// Whether `user` moderates `event`: its creator, a moderator its creator appointed, a global
/// moderator, or an admin. The appointed are on the event item: no read of its own.
pub fn moderates(app: &App, user: UserId, event: &Event) -> bool {
    event.created_by == user || event.moderators.contains(&user) || app.is_global_moderator(user)
}

/// Validates and stores a comment, then broadcasts it. The comment is stored before this
/// returns; if the broadcast cannot be enqueued the caller gets an error, and a retry with
/// the same `client_key` returns the same comment and enqueues the broadcast again.
pub async fn submit(app: &App, user: UserId, input: CommentInput) -> Result<Submitted, AppError> {
    let content = Content::parse("content", &input.content)?;
    if let Some(m) = &input.client_metadata {
        m.validate()?;
    }
    app.rate_limit(RateKind::Comment, &user.to_string()).await?;
    let event = live_event(app, input.event_id).await?;
    if event.status != EventStatus::Live {
        return Err(AppError::forbidden("the event is not live"));
    }
    if input.parent_comment_id.is_some() && !event.comment_settings.allow_replies {
        return Err(AppError::forbidden("replies are disabled for this event"));
    }
    super::bans::may_comment(app, user, &event).await?;
    let moderation_status = initial_status(app, user, &event, &content);
    let mut new = NewComment {
        comment_id: CommentId::new(),
        event_id: event.event_id,
        user_id: user,
        content,
        parent_comment_id: input.parent_comment_id,
        client_key: input.client_key,
        claim_window: CLAIM_WINDOW,
        moderation_status,
        client_metadata: input.client_metadata,
        created_at: now(),
    };
    if new.client_key.is_none() {
        new.client_key = Some(derived_key(&new.fingerprint()));
        new.claim_window = DERIVED_CLAIM_WINDOW;
    }
    if let Some(original) = slow_mode(app, user, &event, &new).await? {
        let view = CommentView::new(&original, app.user_summary(original.user_id).await?);
        return Ok(Submitted {
            view,
            created: false,
        });
    }
    let appended = app
        .stores
        .comments
        .append_comment(new)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                AppError::field("parent_comment_id", "no such comment in this event")
            }
            e => e.into(),
        })?;
    let comment = appended.item;
    let view = CommentView::new(&comment, app.user_summary(comment.user_id).await?);
    if appended.created && comment.moderation_status == ModerationStatus::Pending {
        tell_moderators(app, &event, &view).await;
    }
    app.publish(
        Room::Event(comment.event_id),
        comment.parent_comment_id.is_some(),
    )
    .await;
    Ok(Submitted {
        view,
        created: appended.created,
    })
}

/// The status a new comment starts with: `pending` when the event's moderation holds it
/// (under `strict` every comment; under `standard` one with a blocked word or a link; under
/// `relaxed` none), except the moderators' own, which are never held.
fn initial_status(app: &App, user: UserId, event: &Event, content: &Content) -> ModerationStatus {
    let held = match event.moderation_level {
        ModerationLevel::Strict => true,
        ModerationLevel::Standard => {
            let text = content.as_str();
            blocked_word(&event.comment_settings.blocked_words, text).is_some() || has_link(text)
        }
        ModerationLevel::Relaxed => false,
    };
    if held && !moderates(app, user, event) {
        ModerationStatus::Pending
    } else {
        ModerationStatus::Approved
    }
}

/// Slow mode: with `comment_settings.slow_mode_seconds` = `s`, a user's comments in an
/// event are at least `s` seconds apart, whichever connection or Lambda instance takes them
/// (one conditional write on the `rate_limits` table per comment). The event's moderators are
/// exempt. A refused comment that repeats an earlier request (same idempotency key) answers
/// that request's comment (`Some`), not 429: the client is retrying something that worked.
async fn slow_mode(
    app: &App,
    user: UserId,
    event: &Event,
    new: &NewComment,
) -> Result<Option<Comment>, AppError> {
    let secs = event.comment_settings.slow_mode_seconds;
    if secs == 0 || moderates(app, user, event) {
        return Ok(None);
    }
    let key = format!("slow:{}:{user}", event.event_id);
    let gap = chrono::TimeDelta::seconds(i64::from(secs));
    let Some(next) = app
        .stores
        .rate_limits
        .take_turn(&key, gap, new.created_at)
        .await?
    else {
        return Ok(None);
    };
    if let Some(original) = app.stores.comments.claimed_comment(new).await? {
        return Ok(Some(original));
    }
    let wait_ms = (next - new.created_at).num_milliseconds().max(1);
    let retry_after = u64::try_from(wait_ms).unwrap_or(1).div_ceil(1000);
    Err(AppError::rate_limited_because(
        format!("slow mode: one comment every {secs} s in this event"),
        retry_after,
    ))
}

/// Posts a new pending comment (`comment_pending`) to the connections of the event's
/// moderators that are subscribed to it: its creator, its appointed moderators and the
/// global ones. One frame job aimed at those connections (`targets`), so the room's other
/// viewers never see it. Best effort: the queue (`moderation_status=pending`) has it anyway.
async fn tell_moderators(app: &App, event: &Event, view: &CommentView) {
    let room = Room::Event(event.event_id);
    let mut users = vec![event.created_by];
    users.extend(event.moderators.iter().copied());
    users.extend(app.config.moderators.iter().copied());
    users.extend(app.config.admins.iter().copied());
    users.sort();
    users.dedup();
    let mut targets = Vec::new();
    for user in users {
        let connections = match app.stores.connections.list_user_connections(user).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not list a moderator's connections");
                continue;
            }
        };
        for c in connections {
            match app
                .stores
                .connections
                .list_connection_rooms(&c.connection_id)
                .await
            {
                Ok(rooms) if rooms.contains(&room) => targets.push(c.connection_id),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not read a moderator's rooms"),
            }
        }
    }
    if targets.is_empty() {
        return;
    }
    let frame = match serde_json::to_value(crate::protocol::broadcast::comment_pending(view)) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "could not render a pending comment");
            return;
        }
    };
    let job = crate::queue::FanoutJob {
        targets: Some(targets),
        ..crate::queue::FanoutJob::new(room, frame)
    };
    if let Err(e) = app.queue.send(&[job]).await {
        tracing::error!(error = %e, "could not enqueue a pending comment for the moderators");
    }
}

/// Toggles `user`'s like and broadcasts the new count, within the user's reaction rate. A
/// deleted comment cannot be liked: it answers as not found, and its room hears nothing.
pub async fn toggle_like(app: &App, user: UserId, id: CommentId) -> Result<LikeOutcome, AppError> {
    app.rate_limit(RateKind::Reaction, &user.to_string())
        .await?;
    let c = comment(app, id).await?;
    if c.is_deleted {
        return Err(AppError::not_found("comment"));
    }
    let outcome = app
        .stores
        .likes
        .toggle_like(id, user)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::not_found("comment"),
            e => e.into(),
        })?;
    // The count reaches the room coalesced: one `comment_updated` per flush, not per toggle
    // (a pending comment's counts reach nobody).
    app.publish(Room::Event(c.event_id), true).await;
    Ok(outcome)
}

/// Soft-deletes a comment (its author or a moderator of its event) and broadcasts it.
pub async fn delete(app: &App, user: UserId, id: CommentId) -> Result<CommentView, AppError> {
    let c = comment(app, id).await?;
    if c.user_id != user {
        let event = live_event(app, c.event_id).await?;
        if !moderates(app, user, &event) {
            return Err(AppError::forbidden(
                "only the author or a moderator may delete a comment",
            ));
        }
    }
    let deleted = app.stores.comments.delete_comment(id, user, now()).await?;
    app.publish(Room::Event(deleted.event_id), false).await;
    if deleted.user_id != user {
        let record = ModerationRecord::new(deleted.event_id, ModerationKind::CommentDeleted, user)
            .about_comment(deleted.comment_id, deleted.user_id);
        super::moderation_log::record(app, record).await;
    }
    Ok(CommentView::new(
        &deleted,
        app.user_summary(deleted.user_id).await?,
    ))
}

/// Applies a moderator's action and broadcasts `moderation_action` (and, when a pending
/// comment is approved, the comment itself).
pub async fn moderate(
    app: &App,
    user: UserId,
    id: CommentId,
    action: ModerationAction,
    reason: Option<String>,
) -> Result<CommentView, AppError> {
    let reason = crate::validate::optional_text("reason", reason.as_deref(), 500)?;
    let c = comment(app, id).await?;
    let event = live_event(app, c.event_id).await?;
    if !moderates(app, user, &event) {
        return Err(AppError::forbidden("only moderators may moderate comments"));
    }
    let updated = app
        .stores
        .comments
        .moderate_comment(id, action, reason.clone(), user, now())
        .await?;
    let view = CommentView::new(&updated, app.user_summary(updated.user_id).await?);
    app.publish(Room::Event(updated.event_id), false).await;
    let kind = match action {
        ModerationAction::Approve => ModerationKind::CommentApproved,
        ModerationAction::Block => ModerationKind::CommentBlocked,
        ModerationAction::Flag => ModerationKind::CommentFlagged,
    };
    let record = ModerationRecord::new(updated.event_id, kind, user)
        .about_comment(updated.comment_id, updated.user_id)
        .because(reason);
    super::moderation_log::record(app, record).await;
    Ok(view)
}

/// Views of comments with their authors, in order.
pub async fn views(app: &App, comments: &[Comment]) -> Result<Vec<CommentView>, AppError> {
    let mut ids: Vec<UserId> = comments.iter().map(|c| c.user_id).collect();
    ids.sort();
    ids.dedup();
    let users = app.user_summaries(&ids).await?;
    Ok(comments
        .iter()
        .filter_map(|c| {
            users
                .get(&c.user_id)
                .map(|u| CommentView::new(c, u.clone()))
        })
        .collect())
}
