//! `message_delivered` / `message_read`: records the receipt and broadcasts
//! `delivery_status_update`.

use crate::error::AppError;
use crate::ids::{ConversationId, MessageId};
use crate::model::Receipt;
use crate::protocol::{Ack, ReceiptAck};
use crate::service::messages;

use super::Caller;

/// Records the receipt and acks with the caller's markers after it.
pub(super) async fn run(
    c: &Caller<'_>,
    conversation_id: ConversationId,
    message_id: MessageId,
    status: Receipt,
) -> Result<Ack, AppError> {
    let user = c.user()?;
    let p = messages::receipt(c.app, user, conversation_id, message_id, status).await?;
    Ok(Ack::Receipt(ReceiptAck {
        conversation_id,
        message_id,
        status,
        last_read_position: p.last_read_position,
        last_delivered_position: p.last_delivered_position,
    }))
}
