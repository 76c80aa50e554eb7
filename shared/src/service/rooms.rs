//! Room subscriptions and catch-up.

use crate::app::App;
use crate::error::AppError;
use crate::ids::{ConnectionId, UserId};
use crate::model::{Connection, ModerationStatus, Subscription};
use crate::protocol::{RoomRef, ServerMessage, broadcast};
use crate::room::{Position, Room};
use crate::store::Window;
use crate::time::now;

/// The room a reference names, if `user` may read it: any existing event; a conversation
/// only for its participants (others get 404).
pub async fn readable_room(app: &App, user: UserId, room: RoomRef) -> Result<Room, AppError> {
    match room {
        RoomRef::Event(id) => {
            super::comments::live_event(app, id).await?;
            Ok(Room::Event(id))
        }
        RoomRef::Conversation(id) => {
            super::messages::participant(app, id, user).await?;
            Ok(Room::Conversation(id))
        }
    }
}

/// What a subscriber missed: the frames, oldest first, and where to resume.
#[derive(Debug, Clone)]
pub struct CatchUp {
    /// `comment_broadcast` / `new_message` frames with their items' positions, oldest first.
    pub frames: Vec<(Position, ServerMessage)>,
    /// Whether more items lie beyond the last frame (page on with REST `after=`).
    pub has_more: bool,
    /// Position of the last item sent (or `since` when none).
    pub last_position: Position,
}

/// Subscribes a connection to a room, then reads what came after `since`. A connection holds
/// at most [`Config::max_subscriptions`](crate::config::Config::max_subscriptions) rooms (one
/// Query of its own rooms per subscribe; a resubscription to a room it holds always works).
///
/// The subscription is written **before** the catch-up read: an item committed after the
/// read is delivered live (its fan-out is enqueued after its commit and sees the
/// subscription), and an item committed before it is in the read. Items in both arrive twice;
/// clients drop positions they have.
pub async fn subscribe(
    app: &App,
    conn: &Connection,
    room: RoomRef,
    since: Option<Position>,
) -> Result<(Room, Option<CatchUp>), AppError> {
    let room = readable_room(app, conn.user_id, room).await?;
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
    app.stores
        .connections
        .subscribe(&Subscription {
            room,
            connection_id: conn.connection_id.clone(),
            user_id: conn.user_id,
            subscribed_at: now(),
            expires_at: conn.expires_at,
        })
        .await?;
    let Some(since) = since else {
        return Ok((room, None));
    };
    Ok((room, Some(catch_up(app, room, since).await?)))
}

/// Reads the items of `room` after `since`, oldest first, bounded by the catch-up limit.
pub async fn catch_up(app: &App, room: Room, since: Position) -> Result<CatchUp, AppError> {
    let window = Window::after(since, app.config.catch_up_limit.max(1));
    let (frames, has_more, last) = match room {
        Room::Event(id) => {
            let slice = app.stores.comments.list_comments(id, window).await?;
            let last = slice.items.last().map(|c| c.position);
            let visible: Vec<_> = slice
                .items
                .into_iter()
                .filter(|c| c.moderation_status != ModerationStatus::Pending)
                .collect();
            let views = super::comments::views(app, &visible).await?;
            (
                views
                    .iter()
                    .map(|v| (v.position, broadcast::comment(v)))
                    .collect(),
                slice.has_more,
                last,
            )
        }
        Room::Conversation(id) => {
            let slice = app.stores.messages.list_messages(id, window).await?;
            let last = slice.items.last().map(|m| m.position);
            (
                slice
                    .items
                    .iter()
                    .map(|m| (m.position, broadcast::new_message(m)))
                    .collect(),
                slice.has_more,
                last,
            )
        }
    };
    Ok(CatchUp {
        frames,
        has_more,
        last_position: last.unwrap_or(since),
    })
}

/// Unsubscribes (idempotent).
pub async fn unsubscribe(app: &App, connection: &ConnectionId, room: Room) -> Result<(), AppError> {
    app.stores.connections.unsubscribe(connection, room).await?;
    Ok(())
}
