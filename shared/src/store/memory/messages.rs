//! In-memory `MessageStore`. Every new or changed message appends its entry to the
//! conversation's stream under the same lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::claims::Claims;
use super::comments::window_in;
use super::streams::{SharedStreams, lock as lock_streams};
use crate::ids::{ClientKey, ConversationId, MessageId, UserId};
use crate::model::CLAIM_WINDOW;
use crate::model::{Change, Message, NewMessage, SystemEvent};
use crate::room::{Position, Room};
use crate::store::{Appended, MessageStore, Slice, StoreError, StoreResult, Window};
use crate::time::now;

/// In-memory `MessageStore`.
pub struct MemoryMessageStore {
    inner: SharedMessages,
    streams: SharedStreams,
}

/// The messages of every conversation, shared with the conversation store, which writes the
/// `system` message of each of its changes under the same locks (as the DynamoDB adapter
/// writes it in the change's transaction).
#[derive(Clone, Default)]
pub struct SharedMessages(Arc<Mutex<Inner>>);

impl SharedMessages {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends the `system` message recording `event` (made by `by`) at the conversation's
    /// next position of `streams`, with its `message_created` entry; returns it.
    pub(super) fn append_system(
        &self,
        streams: &SharedStreams,
        conversation: ConversationId,
        by: UserId,
        event: SystemEvent,
    ) -> Message {
        let mut g = self.lock();
        let mut streams = lock_streams(streams);
        let room = Room::Conversation(conversation);
        let position = streams.next_position(room);
        let at = now();
        let message = Message::system(conversation, by, event, position, at);
        streams.append(
            room,
            at,
            Change::MessageCreated {
                message: message.clone(),
            },
        );
        g.streams
            .entry(conversation)
            .or_default()
            .insert(position, message.clone());
        g.by_id.insert(message.message_id, (conversation, position));
        message
    }
}

#[derive(Default)]
struct Inner {
    /// Messages of each conversation by position.
    streams: HashMap<ConversationId, BTreeMap<Position, Message>>,
    by_id: HashMap<MessageId, (ConversationId, Position)>,
    claims: Claims<(ConversationId, UserId, ClientKey), MessageId>,
}

impl Inner {
    fn slot(&mut self, id: MessageId) -> Option<&mut Message> {
        let (conv, pos) = *self.by_id.get(&id)?;
        self.streams.get_mut(&conv)?.get_mut(&pos)
    }

    fn get(&self, id: MessageId) -> Option<&Message> {
        let (conv, pos) = *self.by_id.get(&id)?;
        self.streams.get(&conv)?.get(&pos)
    }
}

impl MemoryMessageStore {
    /// A store of `messages` appending its changes to `streams`.
    pub fn new(streams: SharedStreams, messages: SharedMessages) -> Self {
        Self {
            inner: messages,
            streams,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
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
        let mut streams = lock_streams(&self.streams);
        let room = Room::Conversation(m.conversation_id);
        let position = streams.next_position(room);
        let at = m.created_at;
        let message = m.into_message(position);
        streams.append(
            room,
            at,
            Change::MessageCreated {
                message: message.clone(),
            },
        );
        g.streams
            .entry(message.conversation_id)
            .or_default()
            .insert(position, message.clone());
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
        Ok(g.streams
            .get(&conversation)
            .map_or_else(Slice::default, |items| window_in(items, window)))
    }

    async fn update_message(&self, message: &Message) -> StoreResult<()> {
        let mut g = self.lock();
        let stored = g.slot(message.message_id).ok_or(StoreError::NotFound)?;
        if stored.version + 1 != message.version {
            return Err(StoreError::Conflict("version"));
        }
        *stored = message.clone();
        lock_streams(&self.streams).append(
            Room::Conversation(message.conversation_id),
            message.updated_at,
            Change::MessageUpdated {
                message: message.clone(),
            },
        );
        Ok(())
    }

    async fn head(&self, conversation: ConversationId) -> StoreResult<Position> {
        Ok(lock_streams(&self.streams).head(Room::Conversation(conversation)))
    }
}
