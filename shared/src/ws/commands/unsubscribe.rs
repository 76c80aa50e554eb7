//! `unsubscribe`: stops the connection receiving a room (idempotent).

use crate::config::RateKind;
use crate::error::AppError;
use crate::protocol::{Ack, RoomAck, RoomRef};
use crate::service::rooms;

use super::Caller;

/// Unsubscribes (within the user's subscribe rate) and acks with the room.
pub(super) async fn run(c: &Caller<'_>, room: RoomRef) -> Result<Ack, AppError> {
    c.app
        .rate_limit(RateKind::Subscribe, &c.rate_subject())
        .await?;
    let room = room.into();
    rooms::unsubscribe(c.app, &c.connection.connection_id, room).await?;
    Ok(Ack::Room(RoomAck::new(room)))
}
