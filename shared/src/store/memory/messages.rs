//! In-memory `MessageStore`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::claims::Claims;
use super::comments::window_of;
use crate::ids::{ClientKey, ConversationId, MessageId, UserId};
use crate::model::CLAIM_WINDOW;
use crate::model::{Message, NewMessage};
use crate::room::Position;
use crate::store::{Appended, MessageStore, Slice, StoreError, StoreResult, Window};
use crate::time::now;

/// In-memory `MessageStore`.
#[derive(Default)]
pub struct MemoryMessageStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Messages of each conversation; index `i` holds position `i + 1`.
    streams: HashMap<ConversationId, Vec<Message>>,
    by_id: HashMap<MessageId, (ConversationId, Position)>,
    claims: Claims<(ConversationId, UserId, ClientKey), MessageId>,
}

impl Inner {
    fn slot(&mut self, id: MessageId) -> Option<&mut Message> {
        let (conv, pos) = *self.by_id.get(&id)?;
        self.streams
            .get_mut(&conv)?
            .get_mut(usize::try_from(pos.0).ok()?.checked_sub(1)?)
    }

    fn get(&self, id: MessageId) -> Option<&Message> {
        let (conv, pos) = *self.by_id.get(&id)?;
        self.streams
            .get(&conv)?
            .get(usize::try_from(pos.0).ok()?.checked_sub(1)?)
    }
}

impl MemoryMessageStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl MessageStore for MemoryMessageStore {
    async fn append_message(&self, m: NewMessage) -> StoreResult<Appended<Message>> {
        let mut g = self.lock();
        let claim = (m.conversation_id, m.sender_id, m.client_message_id.clone());
        let fingerprint = m.fingerprint();
        if let Some(id) = g.claims.check(&claim, &fingerprint, m.created_at)? {
            let original = g.get(id).cloned().ok_or(StoreError::NotFound)?;
            return Ok(Appended {
                item: original,
                created: false,
            });
        }
        let stream = g.streams.entry(m.conversation_id).or_default();
        let position = Position(stream.len() as u64 + 1);
        let at = m.created_at;
        let message = m.into_message(position);
        stream.push(message.clone());
        g.by_id
            .insert(message.message_id, (message.conversation_id, position));
        g.claims
            .insert(claim, message.message_id, fingerprint, at, CLAIM_WINDOW);
        Ok(Appended {
            item: message,
            created: true,
        })
    }

    async fn get_message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        Ok(self.lock().get(id).cloned())
    }

    async fn get_by_client_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_message_id: &ClientKey,
    ) -> StoreResult<Option<Message>> {
        let g = self.lock();
        Ok(g.claims
            .get(&(conversation, sender, client_message_id.clone()), now())
            .and_then(|id| g.get(id))
            .cloned())
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        window: Window,
    ) -> StoreResult<Slice<Message>> {
        let g = self.lock();
        Ok(window_of(
            g.streams.get(&conversation).map_or(&[][..], Vec::as_slice),
            window,
        ))
    }

    async fn update_message(&self, message: &Message) -> StoreResult<()> {
        let mut g = self.lock();
        let stored = g.slot(message.message_id).ok_or(StoreError::NotFound)?;
        if stored.version + 1 != message.version {
            return Err(StoreError::Conflict("version"));
        }
        *stored = message.clone();
        Ok(())
    }

    async fn head(&self, conversation: ConversationId) -> StoreResult<Position> {
        Ok(Position(
            self.lock()
                .streams
                .get(&conversation)
                .map_or(0, |s| s.len() as u64),
        ))
    }
}
