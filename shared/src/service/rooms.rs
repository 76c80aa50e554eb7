//! Room subscriptions and catch-up.

use crate::app::App;
use crate::error::{AppError, ErrorCode};
use crate::ids::{ConnectionId, UserId};
use crate::model::{Connection, StreamReset, Subscription};
use crate::protocol::{RoomRef, ServerMessage, ServerPayload};
use crate::room::{Position, Room};
use crate::stream::{batches, render};
use crate::time::now;

/// The room a reference names, if `user` (`None`: an anonymous viewer) may read it: any
/// existing event; a conversation only for its participants (others get 404, anonymous
/// viewers 401).
pub async fn readable_room(
    app: &App,
    user: Option<UserId>,
    room: RoomRef,
) -> Result<Room, AppError> {
    match room {
        RoomRef::Event(id) => {
            super::comments::live_event(app, id).await?;
            Ok(Room::Event(id))
        }
        RoomRef::Conversation(id) => {
            let user = user
                .ok_or_else(|| AppError::unauthorized("sign in to subscribe to conversations"))?;
            super::messages::participant(app, id, user).await?;
            Ok(Room::Conversation(id))
        }
    }
}

/// Refuses (`EVENT_FULL`) a new viewer of an event whose last viewer count has reached its
/// `max_participants`. The count is the delivery's (at most a few seconds old, estimated above
/// 1,000), so a burst of joins may pass the cap by what arrives within one count. The event's
/// moderators are exempt. Reads the event and its count.
pub async fn within_capacity(app: &App, user: Option<UserId>, room: Room) -> Result<(), AppError> {
    let Room::Event(id) = room else {
        return Ok(());
    };
    let event = super::comments::live_event(app, id).await?;
    let Some(cap) = event.max_participants else {
        return Ok(());
    };
    if user.is_some_and(|u| super::comments::moderates(app, u, &event)) {
        return Ok(());
    }
    let viewers = app
        .stores
        .streams
        .occupancy(room)
        .await?
        .map_or(0, |c| c.occupancy.viewers);
    if viewers >= u64::from(cap) {
        return Err(AppError::new(
            ErrorCode::EventFull,
            format!("the event has its {cap} viewers already; try again later"),
        ));
    }
    Ok(())
}

/// What a subscriber missed: `stream_batch` frames, oldest first, and where to resume.
#[derive(Debug, Clone)]
pub struct CatchUp {
    /// The frames, each with the last position it covers; each fits one 32 KB unit.
    pub frames: Vec<(Position, ServerMessage)>,
    /// Stream entries the frames cover.
    pub entries: usize,
    /// Whether more entries lie beyond the last frame (subscribe again from
    /// `last_position`).
    pub has_more: bool,
    /// The last position covered (or `since` when none).
    pub last_position: Position,
    /// Set when the client cannot resume from `since` and must reload from REST.
    pub reset: Option<StreamReset>,
    /// The room's head when read.
    pub head: Position,
}

/// Subscribes a connection to a room, then reads what came after `since`. A connection holds
/// at most [`Config::max_subscriptions`](crate::config::Config::max_subscriptions) rooms (one
/// Query of its own rooms per subscribe; a resubscription to a room it holds always works).
///
/// The subscription is written **before** the catch-up read: an entry committed after the
/// read is delivered live (its delivery reads the subscriptions strongly consistently after
/// its commit, so it sees this one), and an entry committed before it is in the read. Entries
/// in both arrive twice; clients drop positions they have.
pub async fn subscribe(
    app: &App,
    conn: &Connection,
    room: RoomRef,
    since: Option<Position>,
) -> Result<(Room, Option<CatchUp>), AppError> {
    let room = readable_room(app, conn.user_id(), room).await?;
    let held = app
        .stores
        .connections
        .list_connection_rooms(&conn.connection_id)
        .await?;
    let cap = app.config.max_subscriptions;
    if !held.contains(&room) && held.len() >= cap {
        return Err(AppError::forbidden(format!(
            "a connection may be subscribed to at most {cap} rooms; unsubscribe from one first"
        )));
    }
    if !held.contains(&room) {
        within_capacity(app, conn.user_id(), room).await?;
    }
    app.stores
        .connections
        .subscribe(&Subscription {
            room,
            connection_id: conn.connection_id.clone(),
            user_id: conn.user_id(),
            subscribed_at: now(),
            expires_at: conn.expires_at,
        })
        .await?;
    if !held.contains(&room) {
        app.audience_moved(room).await;
    }
    let Some(since) = since else {
        return Ok((room, None));
    };
    Ok((room, Some(catch_up(app, room, since).await?)))
}

/// Reads the room's stream after `since`, bounded by the catch-up limit, and renders it in
/// `stream_batch` frames. A `since` whose successors expired, or that is past the head, gets
/// no frames and a `reset`: the client reloads from REST.
pub async fn catch_up(app: &App, room: Room, since: Position) -> Result<CatchUp, AppError> {
    let limit = app.config.catch_up_limit.max(1);
    let slice = app.stores.streams.read_stream(room, since, limit).await?;
    if let Some(reset) = slice.reset_for(since) {
        return Ok(CatchUp {
            frames: Vec::new(),
            entries: 0,
            has_more: false,
            last_position: since,
            reset: Some(reset),
            head: slice.head,
        });
    }
    let last = slice.entries.last().map_or(since, |e| e.position);
    let items = render(
        app.stores.users.as_ref(),
        Some(app.objects.as_ref()),
        &slice.entries,
    )
    .await?;
    let frames = if slice.entries.is_empty() {
        Vec::new()
    } else {
        batches(room, since, last, items)
    };
    let frames = frames
        .into_iter()
        .map(|f| {
            let upto = match &f.payload {
                ServerPayload::StreamBatch(b) => b.last_position,
                _ => last,
            };
            (upto, f)
        })
        .collect();
    Ok(CatchUp {
        frames,
        entries: slice.entries.len(),
        has_more: slice.has_more,
        last_position: last,
        reset: None,
        head: slice.head,
    })
}

/// Unsubscribes (idempotent).
pub async fn unsubscribe(app: &App, connection: &ConnectionId, room: Room) -> Result<(), AppError> {
    app.stores.connections.unsubscribe(connection, room).await?;
    app.audience_moved(room).await;
    Ok(())
}
