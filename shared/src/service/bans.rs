//! Bans and mutes: an event's moderators keep a user from commenting on it, for good or for a
//! while. Enforced in [`super::comments::submit`] (both transports): one read per comment of
//! a non-moderator.

use crate::app::App;
use crate::error::AppError;
use crate::ids::{EventId, UserId};
use crate::model::{
    Ban, Event, MAX_MUTE_SECONDS, ModerationAction, ModerationKind, ModerationRecord,
};
use crate::store::{Cursor, Page};
use crate::time::now;

/// The event, if `user` moderates it (404 for an unknown event, 403 otherwise).
async fn moderated(app: &App, user: UserId, id: EventId) -> Result<Event, AppError> {
    let event = super::events::get(app, id).await?;
    if !super::comments::moderates(app, user, &event) {
        return Err(AppError::forbidden(
            "only the event's moderators may ban or mute its users",
        ));
    }
    Ok(event)
}

/// Bans `target` from commenting on the event (`mute_seconds`: only that long, at most
/// [`MAX_MUTE_SECONDS`]), on behalf of `user`, one of its moderators. Replaces an earlier ban
/// or mute of the user. Its moderators cannot be banned (409: dismiss them first).
pub async fn ban(
    app: &App,
    user: UserId,
    id: EventId,
    target: UserId,
    mute_seconds: Option<u32>,
    reason: Option<String>,
) -> Result<Ban, AppError> {
    let reason = crate::validate::optional_text("reason", reason.as_deref(), 500)?;
    if let Some(s) = mute_seconds
        && !(1..=MAX_MUTE_SECONDS).contains(&s)
    {
        return Err(AppError::field(
            "duration_seconds",
            format!("must be 1 to {MAX_MUTE_SECONDS}; leave it out for a ban"),
        ));
    }
    let event = moderated(app, user, id).await?;
    super::users::active(app, user).await?;
    if app.stores.users.get_user(target).await?.is_none() {
        return Err(AppError::not_found("user"));
    }
    if super::comments::moderates(app, target, &event) {
        return Err(AppError::conflict(
            "the event's moderators cannot be banned from it; dismiss them first",
        ));
    }
    let at = now();
    let ban = Ban {
        event_id: id,
        user_id: target,
        until: mute_seconds.map(|s| at + chrono::TimeDelta::seconds(i64::from(s))),
        reason,
        by: user,
        at,
    };
    app.stores.events.put_ban(&ban).await?;
    let kind = if ban.until.is_some() {
        ModerationKind::UserMuted
    } else {
        ModerationKind::UserBanned
    };
    let record = ModerationRecord::new(id, kind, user)
        .about_user(target)
        .because(ban.reason.clone());
    super::moderation_log::record(app, record).await;
    tracing::info!(event_id = %id, user_id = %target, muted = mute_seconds.is_some(), "user banned from an event");
    clear_queue(app, user, id, target).await?;
    Ok(ban)
}

/// Blocks `target`'s comments waiting in the event's moderation queue: a ban takes them
/// out of it (each one a `comment_moderated`, seen by nobody, and a log record).
async fn clear_queue(app: &App, user: UserId, id: EventId, target: UserId) -> Result<(), AppError> {
    let mut cursor = None;
    loop {
        let page = app
            .stores
            .comments
            .list_pending(id, 100, cursor.as_ref())
            .await?;
        for c in page.items.iter().filter(|c| c.user_id == target) {
            super::comments::moderate(
                app,
                user,
                c.comment_id,
                ModerationAction::Block,
                Some("the author was banned".into()),
            )
            .await?;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// Lifts `target`'s ban or mute, on behalf of one of the event's moderators. Idempotent.
pub async fn unban(app: &App, user: UserId, id: EventId, target: UserId) -> Result<(), AppError> {
    moderated(app, user, id).await?;
    app.stores.events.delete_ban(id, target).await?;
    let record = ModerationRecord::new(id, ModerationKind::BanLifted, user).about_user(target);
    super::moderation_log::record(app, record).await;
    tracing::info!(event_id = %id, user_id = %target, "ban lifted");
    Ok(())
}

/// The bans and mutes in force in the event, for its moderators.
pub async fn list(
    app: &App,
    user: UserId,
    id: EventId,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<Page<Ban>, AppError> {
    moderated(app, user, id).await?;
    Ok(app.stores.events.list_bans(id, limit, cursor).await?)
}

/// Refuses (403) a comment of `user` on `event` while a ban or mute keeps them out; the
/// event's moderators are never kept out.
pub async fn may_comment(app: &App, user: UserId, event: &Event) -> Result<(), AppError> {
    if super::comments::moderates(app, user, event) {
        return Ok(());
    }
    match app.stores.events.get_ban(event.event_id, user).await? {
        None => Ok(()),
        Some(Ban { until: None, .. }) => Err(AppError::forbidden(
            "you are banned from commenting on this event",
        )),
        Some(Ban {
            until: Some(until), ..
        }) => Err(AppError::forbidden(format!(
            "you are muted in this event until {}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
    }
}
