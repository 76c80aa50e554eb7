//! Presence: a user's status broadcast to the conversations one of their connections is
//! subscribed to. Nothing is stored.

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::ids::{ConnectionId, UserId};
use crate::protocol::{PresenceStatus, broadcast};
use crate::room::Room;
use crate::time::now;

/// Broadcasts `presence_changed` to the conversations `connection` is subscribed to (not back
/// to it); returns how many. Rate-limited like receipts.
///
/// Event rooms are left out on purpose: every viewer's presence sent to every other viewer of
/// a live event is quadratic in the audience (10,000 viewers flipping between active and away
/// would mean posts by the hundred million), and nobody reads it there.
pub async fn update(
    app: &App,
    user: UserId,
    connection: &ConnectionId,
    status: PresenceStatus,
) -> Result<usize, AppError> {
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
    app.broadcast_to(
        &rooms,
        &broadcast::presence(user, status, now()),
        Some(connection.clone()),
    )
    .await?;
    Ok(rooms.len())
}
