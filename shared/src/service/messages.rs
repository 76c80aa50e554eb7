//! Chat messages: send (idempotent), edit, delete, react, receipts, typing.

use crate::app::App;
use crate::config::RateKind;
use crate::error::AppError;
use crate::ids::{ClientKey, ConnectionId, ConversationId, FileId, MessageId, UserId};
use crate::model::{
    Content, Message, MessageType, NewMessage, Participant, Receipt, validate_emoji,
};
use crate::protocol::broadcast;
use crate::room::Room;
use crate::store::{StoreError, last_message_of};
use crate::time::now;
use crate::views::{EditedMessageView, MessageView};

/// How many times an optimistic update is retried after losing a race.
const OPTIMISTIC_RETRIES: usize = 8;

/// What a client sends.
#[derive(Debug, Clone)]
pub struct MessageInput {
    /// Target conversation.
    pub conversation_id: ConversationId,
    /// Raw text.
    pub content: String,
    /// The client's idempotency key.
    pub client_message_id: ClientKey,
    /// Replied-to message (same conversation).
    pub reply_to_message_id: Option<MessageId>,
    /// Its kind: `image` and `file` messages carry files.
    pub message_type: MessageType,
    /// The uploads it carries (`media_attachments`): the sender's own, checked files.
    pub file_ids: Vec<FileId>,
}

/// A stored message and whether this call created it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The message as clients see it.
    pub view: MessageView,
    /// `false` when `client_message_id` matched an earlier send.
    pub created: bool,
}

/// `user`'s participation in the conversation. Non-participants get 404, the same answer
/// as for a conversation that does not exist, so ids leak nothing.
pub async fn participant(
    app: &App,
    conversation: ConversationId,
    user: UserId,
) -> Result<Participant, AppError> {
    app.stores
        .conversations
        .get_participant(conversation, user)
        .await?
        .ok_or_else(|| AppError::not_found("conversation"))
}

/// The message, if `user` may see it (is a participant of its conversation).
pub async fn visible_message(app: &App, user: UserId, id: MessageId) -> Result<Message, AppError> {
    let m = app
        .stores
        .messages
        .get_message(id)
        .await?
        .ok_or_else(|| AppError::not_found("message"))?;
    participant(app, m.conversation_id, user)
        .await
        .map_err(|_| AppError::not_found("message"))?;
    Ok(m)
}

/// A `system` message is the conversation's record of a change: nobody edits or deletes it
/// (409), not even the participant whose change it records.
fn unchangeable_if_system(m: &Message) -> Result<(), AppError> {
    if m.message_type == MessageType::System {
        return Err(AppError::conflict(
            "a system message records a change of the conversation and cannot be changed",
        ));
    }
    Ok(())
}

/// Stores a message (once per `client_message_id`) and broadcasts it. As with comments, a
/// retry after a failed enqueue returns the original and enqueues the broadcast again.
pub async fn send(app: &App, user: UserId, input: MessageInput) -> Result<Sent, AppError> {
    if input.message_type == MessageType::System {
        return Err(AppError::field(
            "message_type",
            "system messages are written by Banter alone; send text, image or file",
        ));
    }
    let content = Content::parse("content", &input.content)?;
    participant(app, input.conversation_id, user).await?;
    app.rate_limit(RateKind::Message, &user.to_string()).await?;
    if let Some(reply_to) = input.reply_to_message_id {
        let target = app.stores.messages.get_message(reply_to).await?;
        if target.is_none_or(|m| m.conversation_id != input.conversation_id) {
            return Err(AppError::field(
                "reply_to_message_id",
                "no such message in this conversation",
            ));
        }
    }
    let media_attachments = crate::media::attach::resolve(
        app.stores.media.as_ref(),
        user,
        input.message_type,
        &input.file_ids,
    )
    .await?;
    let appended = app
        .stores
        .messages
        .append_message(NewMessage {
            message_id: MessageId::new(),
            conversation_id: input.conversation_id,
            sender_id: user,
            message_type: input.message_type,
            content,
            media_attachments,
            client_message_id: input.client_message_id,
            reply_to_message_id: input.reply_to_message_id,
            created_at: now(),
        })
        .await?;
    let m = appended.item;
    app.stores
        .conversations
        .record_activity(m.conversation_id, &last_message_of(&m))
        .await?;
    // The sender has read their own message: it never counts as unread for them.
    app.stores
        .conversations
        .mark(
            m.conversation_id,
            user,
            Receipt::Read,
            m.position,
            m.message_id,
        )
        .await?;
    app.publish(Room::Conversation(m.conversation_id), false)
        .await;
    Ok(Sent {
        view: view(app, &m).await,
        created: appended.created,
    })
}

/// The message as its reader sees it, with its files' links signed now.
pub async fn view(app: &App, m: &Message) -> MessageView {
    let mut view = MessageView::from(m);
    crate::media::attach::sign_links(app.objects.as_ref(), &mut view).await;
    view
}

/// Reads, changes and stores a message with optimistic concurrency, retrying lost races;
/// then broadcasts `message_updated`. A change that reports it changed nothing (`Ok(false)`,
/// a retried edit) is neither stored nor broadcast.
async fn update(
    app: &App,
    id: MessageId,
    change: impl Fn(&mut Message) -> Result<bool, AppError>,
) -> Result<Message, AppError> {
    for _ in 0..OPTIMISTIC_RETRIES {
        let mut m = app
            .stores
            .messages
            .get_message(id)
            .await?
            .ok_or_else(|| AppError::not_found("message"))?;
        if !change(&mut m)? {
            return Ok(m);
        }
        m.version += 1;
        match app.stores.messages.update_message(&m).await {
            Ok(()) => {
                app.publish(Room::Conversation(m.conversation_id), false)
                    .await;
                return Ok(m);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "the message is being changed concurrently; retry",
    ))
}

/// Edits a message's content (its author only), keeping the previous content in the bounded
/// `edit_history` (returned here, never in frames or pages). Editing to the current content
/// (a retry) changes nothing and broadcasts nothing.
pub async fn edit(
    app: &App,
    user: UserId,
    id: MessageId,
    content: &str,
    reason: Option<String>,
) -> Result<EditedMessageView, AppError> {
    let content = Content::parse("content", content)?;
    let reason = crate::validate::optional_text("edit_reason", reason.as_deref(), 100)?;
    let m = visible_message(app, user, id).await?;
    if m.sender_id != user {
        return Err(AppError::forbidden("only the author may edit a message"));
    }
    unchangeable_if_system(&m)?;
    let updated = update(app, id, |m| {
        if m.is_deleted {
            return Err(AppError::conflict("the message is deleted"));
        }
        Ok(m.apply_edit(content.clone(), reason.clone(), now()))
    })
    .await?;
    let mut edited = EditedMessageView::from(&updated);
    crate::media::attach::sign_links(app.objects.as_ref(), &mut edited.message).await;
    Ok(edited)
}

/// Soft-deletes a message (its author only). Idempotent.
pub async fn delete(app: &App, user: UserId, id: MessageId) -> Result<MessageView, AppError> {
    let m = visible_message(app, user, id).await?;
    if m.sender_id != user {
        return Err(AppError::forbidden("only the author may delete a message"));
    }
    unchangeable_if_system(&m)?;
    if m.is_deleted {
        return Ok(view(app, &m).await);
    }
    let updated = update(app, id, |m| {
        let t = now();
        m.is_deleted = true;
        m.deleted_at = Some(t);
        m.updated_at = t;
        Ok(true)
    })
    .await?;
    Ok(view(app, &updated).await)
}

/// Toggles `user`'s reaction `emoji` on a message (participants only, within the user's
/// reaction rate).
pub async fn react(
    app: &App,
    user: UserId,
    id: MessageId,
    emoji: &str,
) -> Result<MessageView, AppError> {
    let emoji = validate_emoji(emoji)?;
    app.rate_limit(RateKind::Reaction, &user.to_string())
        .await?;
    visible_message(app, user, id).await?;
    let updated = update(app, id, |m| {
        if m.is_deleted {
            return Err(AppError::conflict("the message is deleted"));
        }
        m.toggle_reaction(&emoji, user)
            .map(|_| true)
            .map_err(|limit| AppError::conflict(limit.to_string()))
    })
    .await?;
    Ok(view(app, &updated).await)
}

/// Records a delivery or read receipt and broadcasts `delivery_status_update`.
pub async fn receipt(
    app: &App,
    user: UserId,
    conversation: ConversationId,
    id: MessageId,
    kind: Receipt,
) -> Result<Participant, AppError> {
    app.rate_limit(RateKind::Presence, &user.to_string())
        .await?;
    let m = visible_message(app, user, id).await?;
    if m.conversation_id != conversation {
        return Err(AppError::not_found("message"));
    }
    let mut p = app
        .stores
        .conversations
        .mark(conversation, user, kind, m.position, id)
        .await?;
    if kind == Receipt::Read && p.last_delivered_position < m.position {
        // What was read was delivered.
        p = app
            .stores
            .conversations
            .mark(conversation, user, Receipt::Delivered, m.position, id)
            .await?;
    }
    app.broadcast(
        Room::Conversation(conversation),
        &broadcast::delivery_status(conversation, id, user, kind, now()),
        None,
    )
    .await?;
    Ok(p)
}

/// Broadcasts a typing indicator to the conversation's other connections. Nothing is stored.
pub async fn typing(
    app: &App,
    user: UserId,
    conversation: ConversationId,
    is_typing: bool,
    from: Option<ConnectionId>,
) -> Result<(), AppError> {
    participant(app, conversation, user).await?;
    app.rate_limit(RateKind::Typing, &user.to_string()).await?;
    app.broadcast(
        Room::Conversation(conversation),
        &broadcast::typing(conversation, user, is_typing),
        from,
    )
    .await
}
