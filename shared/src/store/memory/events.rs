//! In-memory `EventStore`. A status change appends its entry to the event's stream.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::cursor;
use super::streams::{SharedStreams, lock as lock_streams};
use crate::ids::{EventId, UserId};
use crate::model::{Ban, Change, Event, EventStatus, ModerationRecord};
use crate::room::Room;
use crate::store::{Cursor, EventStore, Page, StoreError, StoreResult};
use crate::time::{Timestamp, sort_key};

/// In-memory `EventStore`.
#[derive(Default)]
pub struct MemoryEventStore {
    events: Mutex<HashMap<EventId, Event>>,
    bans: Mutex<std::collections::BTreeMap<(EventId, UserId), Ban>>,
    log: Mutex<Vec<ModerationRecord>>,
    streams: SharedStreams,
}

impl MemoryEventStore {
    /// A store appending status changes to `streams`.
    pub fn new(streams: SharedStreams) -> Self {
        Self {
            events: Mutex::default(),
            bans: Mutex::default(),
            log: Mutex::default(),
            streams,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventId, Event>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bans_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<(EventId, UserId), Ban>> {
        self.bans.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn create_event(&self, event: &Event) -> StoreResult<()> {
        let mut g = self.lock();
        if g.contains_key(&event.event_id) {
            return Err(StoreError::Conflict("exists"));
        }
        g.insert(event.event_id, event.clone());
        Ok(())
    }

    async fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        Ok(self.lock().get(&id).cloned())
    }

    async fn set_status(
        &self,
        id: EventId,
        from: EventStatus,
        to: EventStatus,
        now: Timestamp,
    ) -> StoreResult<Event> {
        let mut g = self.lock();
        let e = g.get_mut(&id).ok_or(StoreError::NotFound)?;
        if e.status != from {
            return Err(StoreError::Conflict("status"));
        }
        e.status = to;
        e.updated_at = now;
        lock_streams(&self.streams).append(
            Room::Event(id),
            now,
            Change::EventStatus {
                event_id: id,
                from,
                to,
            },
        );
        Ok(e.clone())
    }

    async fn update_event(&self, event: &Event, previous: Timestamp) -> StoreResult<()> {
        let mut g = self.lock();
        let e = g.get_mut(&event.event_id).ok_or(StoreError::NotFound)?;
        if e.updated_at != previous {
            return Err(StoreError::Conflict("changed"));
        }
        *e = Event {
            status: e.status,
            ..event.clone()
        };
        lock_streams(&self.streams).append(
            Room::Event(event.event_id),
            event.updated_at,
            Change::EventUpdated { event: e.clone() },
        );
        Ok(())
    }

    async fn put_ban(&self, ban: &Ban) -> StoreResult<()> {
        self.bans_lock()
            .insert((ban.event_id, ban.user_id), ban.clone());
        Ok(())
    }

    async fn get_ban(&self, event: EventId, user: UserId) -> StoreResult<Option<Ban>> {
        let t = crate::time::now();
        Ok(self
            .bans_lock()
            .get(&(event, user))
            .filter(|b| b.in_force(t))
            .cloned())
    }

    async fn delete_ban(&self, event: EventId, user: UserId) -> StoreResult<()> {
        self.bans_lock().remove(&(event, user));
        Ok(())
    }

    async fn list_bans(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Ban>> {
        let t = crate::time::now();
        let after = cursor.map(|c| c.0.clone());
        let mut items: Vec<Ban> = self
            .bans_lock()
            .values()
            .filter(|b| b.event_id == event && b.in_force(t))
            .filter(|b| after.as_ref().is_none_or(|a| b.user_id.to_string() > *a))
            .cloned()
            .collect();
        items.sort_by_key(|b| b.user_id.to_string());
        let limit = limit.max(1);
        let next = (items.len() > limit).then(|| Cursor(items[limit - 1].user_id.to_string()));
        items.truncate(limit);
        Ok(Page { items, next })
    }

    async fn record_moderation(&self, record: &ModerationRecord) -> StoreResult<()> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record.clone());
        Ok(())
    }

    async fn moderation_log(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<ModerationRecord>> {
        let before = cursor
            .map(|c| {
                c.0.parse::<uuid::Uuid>()
                    .map_err(|_| StoreError::InvalidCursor)
            })
            .transpose()?;
        let mut items: Vec<ModerationRecord> = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.event_id == event && before.is_none_or(|b| r.record_id < b))
            .cloned()
            .collect();
        items.sort_by_key(|r| std::cmp::Reverse(r.record_id));
        let limit = limit.max(1);
        let next = (items.len() > limit).then(|| Cursor(items[limit - 1].record_id.to_string()));
        items.truncate(limit);
        Ok(Page { items, next })
    }

    async fn list_events(
        &self,
        status: EventStatus,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Event>> {
        let pk = format!("STATUS#{}", status.as_str());
        let after = cursor
            .map(|c| cursor::decode(c, "gsi1sk", &[("gsi1pk", &pk)]))
            .transpose()?;
        let g = self.lock();
        let mut rows: Vec<(String, Event)> = g
            .values()
            .filter(|e| e.status == status)
            .map(|e| {
                (
                    format!("{}#{}", sort_key(e.start_time), e.event_id),
                    e.clone(),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = cursor::page(&rows, after.as_deref(), limit);
        Ok(Page {
            items,
            next: next.map(|k| cursor::encode(&[("gsi1pk", pk.clone()), ("gsi1sk", k)])),
        })
    }
}
