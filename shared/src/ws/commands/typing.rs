//! `typing_start` / `typing_stop`: broadcasts the indicator to the conversation's other
//! connections. Nothing is stored.

use crate::error::AppError;
use crate::ids::ConversationId;
use crate::protocol::{Ack, TypingAck};
use crate::service::messages;

use super::Caller;

/// Broadcasts `user_typing` (not back to the caller) and acks.
pub(super) async fn run(
    c: &Caller<'_>,
    conversation_id: ConversationId,
    is_typing: bool,
) -> Result<Ack, AppError> {
    let from = Some(c.connection.connection_id.clone());
    messages::typing(c.app, c.user()?, conversation_id, is_typing, from).await?;
    Ok(Ack::Typing(TypingAck {
        conversation_id,
        is_typing,
    }))
}
