//! `presence_update`: broadcasts the user's status to the conversations the connection is
//! subscribed to ([`presence::update`]).

use crate::error::AppError;
use crate::protocol::{Ack, PresenceAck, PresenceStatus};
use crate::service::presence;

use super::Caller;

/// Broadcasts `presence_changed` and acks with how many conversations it went to.
pub(super) async fn run(c: &Caller<'_>, status: PresenceStatus) -> Result<Ack, AppError> {
    let conn = &c.connection;
    let rooms = presence::update(c.app, c.user()?, &conn.connection_id, status).await?;
    Ok(Ack::Presence(PresenceAck { status, rooms }))
}
