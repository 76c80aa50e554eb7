//! `subscribe`: subscribes the connection to a room and, with `since`, posts what it missed
//! before the ack.

use crate::error::{AppError, ErrorCode};
use crate::protocol::{Ack, CatchUpAck, RoomAck, RoomRef};
use crate::room::Position;
use crate::service::rooms;

use super::Caller;

/// Subscribes, posts the catch-up frames (oldest first) if `since`, and acks with the room and
/// where to resume. An interrupted catch-up is an error: the subscription stands, and the
/// client subscribes again with `since` set to the last position it has.
pub(super) async fn run(
    c: &Caller<'_>,
    room: RoomRef,
    since: Option<Position>,
) -> Result<Ack, AppError> {
    let (room, catch_up) = rooms::subscribe(c.app, &c.connection, room, since).await?;
    let mut ack = RoomAck::new(room);
    if let Some(catch_up) = catch_up {
        for frame in &catch_up.frames {
            c.out.post(frame).await.map_err(|e| {
                tracing::warn!(error = %e, "catch-up interrupted");
                AppError::new(
                    ErrorCode::Unavailable,
                    "catch-up was interrupted; subscribe again with since set to the last \
                     position received",
                )
            })?;
        }
        ack.catch_up = Some(CatchUpAck {
            count: catch_up.frames.len(),
            has_more: catch_up.has_more,
            last_position: catch_up.last_position,
        });
    }
    Ok(Ack::Room(ack))
}
