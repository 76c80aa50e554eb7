//! `presence_update`: sets what the user shows and tells their recent conversations
//! ([`presence::update`]).

use crate::error::AppError;
use crate::protocol::{Ack, PresenceAck, PresenceStatus};
use crate::service::presence;

use super::Caller;

/// Stores the status and acks with how many conversations were told (0 when it did not
/// change, or the user hides their online status).
pub(super) async fn run(c: &Caller<'_>, status: PresenceStatus) -> Result<Ack, AppError> {
    let rooms = presence::update(c.app, c.user()?, &c.connection, status).await?;
    Ok(Ack::Presence(PresenceAck { status, rooms }))
}
