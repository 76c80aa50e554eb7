//! Presence: a user's status broadcast to the conversations one of their connections is
//! subscribed to. Nothing is stored.

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use futures::future::try_join_all;

use crate::ids::{ConnectionId, ConversationId, UserId};
use crate::protocol::{PresenceStatus, broadcast};
use crate::room::Room;
use crate::time::now;

/// Broadcasts `presence_changed` to the conversations `connection` is subscribed to and whose
/// participant the user still is (not back to it); returns how many. Rate-limited like receipts.
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
    let subscribed: Vec<ConversationId> = app
        .stores
        .connections
        .list_connection_rooms(connection)
        .await?
        .into_iter()
        .filter_map(|r| match r {
            Room::Conversation(id) => Some(id),
            Room::Event(_) => None,
        })
        .collect();
    // Only the conversations the user still takes part in: a subscription row that outlived
    // a removal must not carry their presence to the members (one GetItem per room, at most
    // the connection's subscription cap).
    let memberships = try_join_all(
        subscribed
            .iter()
            .map(|id| app.stores.conversations.get_participant(*id, user)),
    )
    .await?;
    let rooms: Vec<Room> = subscribed
        .into_iter()
        .zip(memberships)
        .filter(|(_, p)| p.is_some())
        .map(|(id, _)| Room::Conversation(id))
        .collect();
    app.broadcast_to(
        &rooms,
        &broadcast::presence(user, status, now()),
        Some(connection.clone()),
    )
    .await?;
    Ok(rooms.len())
}
