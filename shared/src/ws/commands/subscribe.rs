//! `subscribe`: subscribes the connection to a room and, with `since`, posts what it missed
//! (`stream_batch` frames of its stream) before the ack.

use tokio::time::Instant;

use crate::config::RateKind;
use crate::error::{AppError, ErrorCode};
use crate::protocol::{Ack, CatchUpAck, RoomAck, RoomRef};
use crate::room::Position;
use crate::service::rooms;

use super::Caller;

/// Subscribes (within the user's subscribe rate), posts the catch-up frames (oldest first) if
/// `since`, and acks with the room and where to resume. Posting stops at the catch-up budget
/// ([`Config::catch_up_budget`](crate::config::Config::catch_up_budget)), well before the
/// function's timeout: the ack then says `has_more` with the last position sent, and the
/// client subscribes again from there. An interrupted catch-up is an error: the subscription
/// stands, and the client subscribes again with `since` set to the last position it has.
pub(super) async fn run(
    c: &Caller<'_>,
    room: RoomRef,
    since: Option<Position>,
) -> Result<Ack, AppError> {
    c.app
        .rate_limit(RateKind::Subscribe, &c.rate_subject())
        .await?;
    let (room, catch_up) = rooms::subscribe(c.app, &c.connection, room, since).await?;
    let mut ack = RoomAck::new(room);
    if let Some(catch_up) = catch_up {
        let deadline = Instant::now() + c.app.config.catch_up_budget;
        let mut sent = 0;
        let mut last_sent = None;
        for (position, frame) in &catch_up.frames {
            if Instant::now() >= deadline {
                tracing::warn!(
                    sent,
                    left = catch_up.frames.len() - sent,
                    "catch-up budget spent"
                );
                break;
            }
            c.out.post(frame).await.map_err(|e| {
                tracing::warn!(error = %e, "catch-up interrupted");
                AppError::new(
                    ErrorCode::Unavailable,
                    "catch-up was interrupted; subscribe again with since set to the last \
                     position received",
                )
            })?;
            sent += 1;
            last_sent = Some(*position);
        }
        let complete = sent == catch_up.frames.len();
        ack.catch_up = Some(CatchUpAck {
            count: sent,
            has_more: catch_up.has_more || !complete,
            last_position: if complete {
                catch_up.last_position
            } else {
                last_sent.unwrap_or(since.unwrap_or(Position::ZERO))
            },
            head: catch_up.head,
            reset: catch_up.reset,
        });
    }
    Ok(Ack::Room(ack))
}
