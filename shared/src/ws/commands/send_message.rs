//! `send_message`: sends a chat message; `client_message_id` is the idempotency key.

use crate::error::AppError;
use crate::protocol::{Ack, ItemAck};
use crate::service::messages::{self, MessageInput};

use super::Caller;

/// Sends the message and acks with its view (the REST one) and `created`.
pub(super) async fn run(c: &Caller<'_>, input: MessageInput) -> Result<Ack, AppError> {
    let sent = messages::send(c.app, c.user()?, input).await?;
    Ok(Ack::Message(ItemAck {
        view: sent.view,
        created: sent.created,
    }))
}
