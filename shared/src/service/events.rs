//! Live events: create, read, list by status, and move through their lifecycle
//! (`scheduled → live → ended`, or `cancelled` before the end), broadcasting each change to
//! the event's room.

use futures::future::try_join_all;

use crate::app::App;
use crate::error::AppError;
use crate::ids::{EventId, UserId};
use crate::model::{Event, EventStatus, NewEvent};
use crate::room::Room;
use crate::store::{Cursor, Page, StoreError};
use crate::time::now;
use crate::views::{EventCounts, EventView};

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
    let event = get(app, id).await?;
    if !manages(app, user, &event) {
        return Err(AppError::forbidden(
            "only the event's creator or an admin may change its status",
        ));
    }
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
