//! Live events: create, read, list by status, and move through their lifecycle
//! (`scheduled → live → ended`, or `cancelled` before the end), broadcasting each change to
//! the event's room.

use futures::future::try_join_all;

use crate::app::App;
use crate::error::AppError;
use crate::ids::{EventId, UserId};
use crate::model::{
    AccountStatus, CommentSettings, Event, EventStatus, MAX_EVENT_MODERATORS, ModerationKind,
    ModerationLevel, ModerationRecord, NewEvent,
};
use crate::room::Room;
use crate::store::{Cursor, Page, StoreError};
use crate::time::now;
use crate::validate::{ValidationErrors, optional_text, text};
use crate::views::{EventCounts, EventView, UserSummary};

/// An event's comment count and last viewer count (two reads, at once).
async fn counts(app: &App, event: EventId) -> Result<EventCounts, AppError> {
    let (comments, viewers) = futures::try_join!(
        app.stores.comments.comment_count(event),
        app.stores.streams.occupancy(Room::Event(event)),
    )?;
    Ok(EventCounts {
        comments,
        viewers: viewers.map_or(0, |v| v.occupancy.viewers),
    })
}

/// The view of one event as `viewer` (`None`: anonymous) sees it (reads its counts and
/// creator).
pub async fn view(app: &App, event: &Event, viewer: Option<UserId>) -> Result<EventView, AppError> {
    let (counts, creator) = futures::try_join!(
        counts(app, event.event_id),
        app.user_summary(event.created_by),
    )?;
    Ok(EventView::new(
        event,
        counts,
        creator,
        sees_settings(app, viewer, event),
    ))
}

/// Whether `viewer` moderates `event` (and so sees its blocked words).
fn sees_settings(app: &App, viewer: Option<UserId>, event: &Event) -> bool {
    viewer.is_some_and(|u| super::comments::moderates(app, u, event))
}

/// Views of several events as `viewer` sees them, in order (one batched creator read, comment counts in
/// parallel).
pub async fn views(
    app: &App,
    events: &[Event],
    viewer: Option<UserId>,
) -> Result<Vec<EventView>, AppError> {
    let mut creators: Vec<UserId> = events.iter().map(|e| e.created_by).collect();
    creators.sort();
    creators.dedup();
    let summaries = app.user_summaries(&creators).await?;
    let counts = try_join_all(events.iter().map(|e| counts(app, e.event_id))).await?;
    events
        .iter()
        .zip(counts)
        .map(|(e, count)| {
            // `user_summaries` answers every id it is asked for (a placeholder for deleted
            // users), so this never fails.
            let creator = summaries
                .get(&e.created_by)
                .cloned()
                .ok_or_else(|| AppError::internal("creator summary missing"))?;
            Ok(EventView::new(
                e,
                count,
                creator,
                sees_settings(app, viewer, e),
            ))
        })
        .collect()
}

/// The event, or 404.
pub async fn get(app: &App, id: EventId) -> Result<Event, AppError> {
    app.stores
        .events
        .get_event(id)
        .await?
        .ok_or_else(|| AppError::not_found("event"))
}

/// Stores a new `scheduled` event created by `user` (who must be an active account).
pub async fn create(app: &App, user: UserId, input: NewEvent) -> Result<Event, AppError> {
    super::users::active(app, user).await?;
    let event = input.into_event(user, now());
    app.stores.events.create_event(&event).await?;
    tracing::info!(event_id = %event.event_id, "event created");
    Ok(event)
}

/// One page of events with `status`, soonest start first.
pub async fn list(
    app: &App,
    status: EventStatus,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<Page<Event>, AppError> {
    Ok(app.stores.events.list_events(status, limit, cursor).await?)
}

/// A change to an event's settings: each field present replaces the stored one.
#[derive(Debug, Clone, Default)]
pub struct EventPatch {
    /// New title (1..=255 characters).
    pub title: Option<String>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New moderation level.
    pub moderation_level: Option<ModerationLevel>,
    /// New viewer cap; `Some(None)` lifts it.
    pub max_participants: Option<Option<u32>>,
    /// New comment settings (validated already).
    pub comment_settings: Option<CommentSettings>,
}

/// Applies `patch` to the event on behalf of `user`, one of its moderators, and broadcasts
/// `event_updated` to its room (in its stream). 404 for an unknown event, 403 for anyone who
/// does not moderate it, 400 for an invalid field, 409 when the event changed concurrently.
pub async fn update(
    app: &App,
    user: UserId,
    id: EventId,
    patch: EventPatch,
) -> Result<Event, AppError> {
    let event = get(app, id).await?;
    if !super::comments::moderates(app, user, &event) {
        return Err(AppError::forbidden(
            "only the event's moderators may change its settings",
        ));
    }
    super::users::active(app, user).await?;
    let mut errs = ValidationErrors::new();
    let title = patch
        .title
        .as_deref()
        .and_then(|t| errs.check(text("title", t, 1, 255)));
    let description = patch.description.as_ref().map(|d| {
        errs.check(optional_text("description", d.as_deref(), 5000))
            .flatten()
    });
    if patch.max_participants == Some(Some(0)) {
        errs.add("max_participants", "must be at least 1");
    }
    errs.finish()?;
    let updated = replace(app, &event, |e| {
        if let Some(title) = title {
            e.title = title;
        }
        if let Some(description) = description {
            e.description = description;
        }
        if let Some(level) = patch.moderation_level {
            e.moderation_level = level;
        }
        if let Some(cap) = patch.max_participants {
            e.max_participants = cap;
        }
        if let Some(settings) = patch.comment_settings {
            e.comment_settings = settings;
        }
    })
    .await?;
    tracing::info!(event_id = %id, "event settings changed");
    super::moderation_log::record(
        app,
        ModerationRecord::new(id, ModerationKind::SettingsChanged, user),
    )
    .await;
    Ok(updated)
}

/// The next version of `read`: `change` applied and `updated_at` moved on (past the one
/// read, whatever the clock), stored over `read` with its `event_updated`, the room's
/// delivery enqueued. 409 when the event changed since it was read.
async fn replace(
    app: &App,
    read: &Event,
    change: impl FnOnce(&mut Event),
) -> Result<Event, AppError> {
    let mut updated = read.clone();
    change(&mut updated);
    updated.updated_at = now().max(read.updated_at + chrono::TimeDelta::milliseconds(1));
    match app
        .stores
        .events
        .update_event(&updated, read.updated_at)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(AppError::conflict(
                "the event changed concurrently; reload it and try again",
            ));
        }
        Err(StoreError::NotFound) => return Err(AppError::not_found("event")),
        Err(e) => return Err(e.into()),
    }
    app.publish(Room::Event(updated.event_id), false).await;
    Ok(updated)
}

/// The moderators the event's creator appointed, with their summaries (its creator or an
/// admin changes them: [`appoint`], [`dismiss`]).
pub async fn moderators(app: &App, id: EventId) -> Result<Vec<UserSummary>, AppError> {
    let event = get(app, id).await?;
    let summaries = app.user_summaries(&event.moderators).await?;
    Ok(event
        .moderators
        .iter()
        .filter_map(|u| summaries.get(u).cloned())
        .collect())
}

/// Appoints `moderator` (an active user) to moderate the event, on behalf of its creator or
/// an admin (403 otherwise). Idempotent; at most [`MAX_EVENT_MODERATORS`] (409 past it).
pub async fn appoint(
    app: &App,
    user: UserId,
    id: EventId,
    moderator: UserId,
) -> Result<Event, AppError> {
    let event = managed(app, user, id, "appoint its moderators").await?;
    super::users::active(app, user).await?;
    match app.stores.users.get_user(moderator).await? {
        None => return Err(AppError::not_found("user")),
        Some(u) if u.account_status == AccountStatus::Suspended => {
            return Err(AppError::forbidden("a suspended user cannot moderate"));
        }
        Some(_) => {}
    }
    if event.moderators.contains(&moderator) || moderator == event.created_by {
        return Ok(event);
    }
    if event.moderators.len() >= MAX_EVENT_MODERATORS {
        return Err(AppError::conflict(format!(
            "an event has at most {MAX_EVENT_MODERATORS} moderators; dismiss one first"
        )));
    }
    let updated = replace(app, &event, |e| e.moderators.push(moderator)).await?;
    tracing::info!(event_id = %id, moderator = %moderator, "moderator appointed");
    let record =
        ModerationRecord::new(id, ModerationKind::ModeratorAppointed, user).about_user(moderator);
    super::moderation_log::record(app, record).await;
    Ok(updated)
}

/// Dismisses `moderator`, on behalf of the event's creator or an admin. Idempotent.
pub async fn dismiss(
    app: &App,
    user: UserId,
    id: EventId,
    moderator: UserId,
) -> Result<Event, AppError> {
    let event = managed(app, user, id, "dismiss its moderators").await?;
    if !event.moderators.contains(&moderator) {
        return Ok(event);
    }
    let updated = replace(app, &event, |e| e.moderators.retain(|m| *m != moderator)).await?;
    tracing::info!(event_id = %id, moderator = %moderator, "moderator dismissed");
    let record =
        ModerationRecord::new(id, ModerationKind::ModeratorDismissed, user).about_user(moderator);
    super::moderation_log::record(app, record).await;
    Ok(updated)
}

/// The event, if `user` manages it (its creator or an admin): 404 for an unknown event, 403
/// naming what they may not do otherwise.
async fn managed(app: &App, user: UserId, id: EventId, what: &str) -> Result<Event, AppError> {
    let event = get(app, id).await?;
    if !manages(app, user, &event) {
        return Err(AppError::forbidden(format!(
            "only the event's creator or an admin may {what}"
        )));
    }
    Ok(event)
}

/// Whether `user` may change the status of `event`: its creator or an admin.
pub fn manages(app: &App, user: UserId, event: &Event) -> bool {
    event.created_by == user || app.is_admin(user)
}

/// Moves the event to `to` on behalf of `user` and broadcasts `event_status_changed` to the
/// event's room. 404 for an unknown event, 403 unless `user` is its creator or an admin,
/// 409 for a transition the lifecycle forbids (or that a concurrent change overtook).
///
/// The change and its stream entry commit together; the room's delivery is enqueued after.
/// If enqueueing fails the error is logged and the change is still reported as done:
/// failing the request would invite a retry that can only answer 409, and the entry reaches
/// subscribers with the room's next delivery or their next catch-up.
pub async fn change_status(
    app: &App,
    user: UserId,
    id: EventId,
    to: EventStatus,
) -> Result<Event, AppError> {
    let event = managed(app, user, id, "change its status").await?;
    super::users::active(app, user).await?;
    let from = event.status;
    if !from.can_become(to) {
        return Err(AppError::conflict(format!(
            "an event cannot go from {} to {}",
            from.as_str(),
            to.as_str()
        )));
    }
    let updated = match app.stores.events.set_status(id, from, to, now()).await {
        Ok(e) => e,
        Err(StoreError::Conflict(_)) => {
            return Err(AppError::conflict(
                "the event's status changed concurrently; reload it",
            ));
        }
        Err(StoreError::NotFound) => return Err(AppError::not_found("event")),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(event_id = %id, from = from.as_str(), to = to.as_str(), "event status changed");
    app.publish(Room::Event(id), false).await;
    Ok(updated)
}
