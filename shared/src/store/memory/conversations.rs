//! In-memory `ConversationStore`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::cursor;
use super::messages::SharedMessages;
use super::streams::SharedStreams;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    Conversation, ConversationType, LastMessage, Participant, ParticipantRole, Receipt,
    SystemEvent, activity_stale, direct_pair,
};
use crate::room::Position;
use crate::store::{ConversationStore, Created, Cursor, Page, StoreError, StoreResult};
use crate::time::sort_key;

/// In-memory `ConversationStore`.
pub struct MemoryConversationStore {
    inner: Mutex<Inner>,
    streams: SharedStreams,
    /// Where the `system` messages of its changes go.
    messages: SharedMessages,
}

#[derive(Default)]
struct Inner {
    conversations: HashMap<ConversationId, Conversation>,
    members: BTreeMap<(ConversationId, UserId), Participant>,
    direct: HashMap<(UserId, UserId), ConversationId>,
}

impl MemoryConversationStore {
    /// A store recording its changes as `system` messages of `messages`, in `streams`.
    pub fn new(streams: SharedStreams, messages: SharedMessages) -> Self {
        Self {
            inner: Mutex::default(),
            streams,
            messages,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `event` (made by `by`) in `id` as a `system` message.
    fn record(&self, id: ConversationId, by: UserId, event: SystemEvent) {
        self.messages.append_system(&self.streams, id, by, event);
    }
}

#[async_trait]
impl ConversationStore for MemoryConversationStore {
    async fn create_conversation(
        &self,
        conversation: &Conversation,
        participants: &[Participant],
    ) -> StoreResult<Created> {
        let mut g = self.lock();
        if conversation.conversation_type == ConversationType::Direct {
            let [a, b] = participants else {
                return Err(StoreError::Conflict("direct_needs_two"));
            };
            let pair = direct_pair(a.user_id, b.user_id);
            if let Some(existing) = g.direct.get(&pair) {
                let c = g
                    .conversations
                    .get(existing)
                    .cloned()
                    .ok_or(StoreError::NotFound)?;
                return Ok(Created::Existing(c));
            }
            g.direct.insert(pair, conversation.conversation_id);
        }
        if g.conversations.contains_key(&conversation.conversation_id) {
            return Err(StoreError::Conflict("exists"));
        }
        g.conversations
            .insert(conversation.conversation_id, conversation.clone());
        for p in participants {
            g.members.insert((p.conversation_id, p.user_id), p.clone());
        }
        Ok(Created::New(conversation.clone()))
    }

    async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        Ok(self.lock().conversations.get(&id).cloned())
    }

    async fn get_participant(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Participant>> {
        Ok(self.lock().members.get(&(id, user)).cloned())
    }

    async fn list_participants(&self, id: ConversationId) -> StoreResult<Vec<Participant>> {
        let g = self.lock();
        Ok(g.members
            .range((id, UserId::min())..)
            .take_while(|((c, _), _)| *c == id)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn add_participants(
        &self,
        participants: &[Participant],
        by: UserId,
    ) -> StoreResult<Vec<Participant>> {
        let mut g = self.lock();
        let mut added = Vec::new();
        for p in participants {
            if !g.conversations.contains_key(&p.conversation_id) {
                return Err(StoreError::NotFound);
            }
            if let std::collections::btree_map::Entry::Vacant(slot) =
                g.members.entry((p.conversation_id, p.user_id))
            {
                slot.insert(p.clone());
                added.push(p.clone());
            }
        }
        let mut by_conversation: BTreeMap<ConversationId, Vec<UserId>> = BTreeMap::new();
        for p in &added {
            by_conversation
                .entry(p.conversation_id)
                .or_default()
                .push(p.user_id);
        }
        for (id, user_ids) in by_conversation {
            self.record(id, by, SystemEvent::ParticipantsAdded { user_ids });
        }
        Ok(added)
    }

    async fn remove_participants(
        &self,
        id: ConversationId,
        users: &[UserId],
        by: UserId,
    ) -> StoreResult<Vec<UserId>> {
        let mut g = self.lock();
        let removed: Vec<UserId> = users
            .iter()
            .filter(|u| g.members.remove(&(id, **u)).is_some())
            .copied()
            .collect();
        if removed == [by] {
            self.record(id, by, SystemEvent::ParticipantLeft);
        } else if !removed.is_empty() {
            self.record(
                id,
                by,
                SystemEvent::ParticipantsRemoved {
                    user_ids: removed.clone(),
                },
            );
        }
        Ok(removed)
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        title: Option<String>,
        description: Option<String>,
        by: UserId,
    ) -> StoreResult<Conversation> {
        let mut g = self.lock();
        let c = g.conversations.get_mut(&id).ok_or(StoreError::NotFound)?;
        let event = SystemEvent::updated(c, &title, &description);
        c.title = title;
        c.description = description;
        let c = c.clone();
        self.record(id, by, event);
        Ok(c)
    }

    async fn promote(
        &self,
        id: ConversationId,
        user: UserId,
        by: UserId,
    ) -> StoreResult<Participant> {
        let mut g = self.lock();
        let p = g.members.get_mut(&(id, user)).ok_or(StoreError::NotFound)?;
        p.role = ParticipantRole::Owner;
        let p = p.clone();
        self.record(id, by, SystemEvent::OwnerChanged { user_id: user });
        Ok(p)
    }

    async fn list_user_conversations(
        &self,
        user: UserId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<(Conversation, Participant)>> {
        let pk = format!("USER#{user}");
        let after = cursor
            .map(|c| cursor::decode(c, "gsi1sk", &[("gsi1pk", &pk)]))
            .transpose()?;
        let g = self.lock();
        // Newest first: invert the key so that ascending order is descending activity.
        let mut rows: Vec<(String, (Conversation, Participant))> = g
            .members
            .values()
            .filter(|p| p.user_id == user)
            .filter_map(|p| {
                let c = g.conversations.get(&p.conversation_id)?;
                let key = format!("{}#{}", sort_key(p.last_activity_at), p.conversation_id);
                Some((invert(&key), (c.clone(), p.clone())))
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = cursor::page(&rows, after.as_deref(), limit);
        Ok(Page {
            items,
            next: next.map(|k| cursor::encode(&[("gsi1pk", pk.clone()), ("gsi1sk", k)])),
        })
    }

    async fn record_activity(&self, id: ConversationId, last: &LastMessage) -> StoreResult<()> {
        let mut g = self.lock();
        let c = g.conversations.get_mut(&id).ok_or(StoreError::NotFound)?;
        let newer = c
            .last_message
            .as_ref()
            .is_none_or(|m| m.position < last.position);
        if newer {
            c.last_message = Some(last.clone());
        }
        if last.created_at > c.updated_at {
            c.updated_at = last.created_at;
        }
        for ((_, _), p) in g
            .members
            .range_mut((id, UserId::min())..)
            .take_while(|((c, _), _)| *c == id)
        {
            if activity_stale(p.last_activity_at, last.created_at) {
                p.last_activity_at = last.created_at;
            }
        }
        Ok(())
    }

    async fn mark(
        &self,
        id: ConversationId,
        user: UserId,
        receipt: Receipt,
        position: Position,
        message: MessageId,
    ) -> StoreResult<Participant> {
        let mut g = self.lock();
        let p = g.members.get_mut(&(id, user)).ok_or(StoreError::NotFound)?;
        match receipt {
            Receipt::Read if position > p.last_read_position => {
                p.last_read_position = position;
                p.last_read_message_id = Some(message);
            }
            Receipt::Delivered if position > p.last_delivered_position => {
                p.last_delivered_position = position;
            }
            _ => {}
        }
        Ok(p.clone())
    }
}

/// Maps each byte so that ascending order of the result is descending order of `key`.
fn invert(key: &str) -> String {
    key.bytes().map(|b| char::from(0x7f - (b & 0x7f))).collect()
}
