//! Conversations and their messages.

use banter::app::App;
use banter::ids::{ConversationId, MessageId, UserId};
use banter::model::{
    Content, Conversation, ConversationType, MessageType, NewMessage, Participant, ParticipantRole,
};
use banter::time::now;

/// Stores the group `id`, titled "Sample group", owned by `owner` with `members`.
pub async fn store_group(app: &App, id: ConversationId, owner: UserId, members: &[UserId]) {
    let t = now();
    let participants: Vec<Participant> = std::iter::once((owner, ParticipantRole::Owner))
        .chain(members.iter().map(|m| (*m, ParticipantRole::Member)))
        .map(|(user, role)| Participant::joining(id, user, role, t))
        .collect();
    app.stores
        .conversations
        .create_conversation(
            &Conversation {
                conversation_id: id,
                conversation_type: ConversationType::Group,
                title: Some("Sample group".into()),
                description: None,
                created_by: owner,
                created_at: t,
                updated_at: t,
                last_message: None,
            },
            &participants,
        )
        .await
        .expect("store the conversation");
}

/// Stores the text message `id` of `sender` in `conversation`, sent with `client_message_id`.
pub async fn store_message(
    app: &App,
    id: MessageId,
    conversation: ConversationId,
    sender: UserId,
    text: &str,
    client_message_id: &str,
) {
    app.stores
        .messages
        .append_message(NewMessage {
            message_id: id,
            conversation_id: conversation,
            sender_id: sender,
            message_type: MessageType::Text,
            content: Content::parse("content", text).expect("valid message text"),
            media_attachments: Vec::new(),
            client_message_id: client_message_id.parse().expect("a client message id"),
            reply_to_message_id: None,
            created_at: now(),
        })
        .await
        .expect("store the message");
}
