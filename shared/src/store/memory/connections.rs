//! In-memory `ConnectionStore`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::cursor;
use crate::ids::{ConnectionId, UserId};
use crate::model::{BucketRange, Connection, Subscription, Viewer, bucket_of};
use crate::room::Room;
use crate::store::{ConnectionStore, Cursor, Page, StoreResult};
use crate::time::{Timestamp, now};

/// In-memory `ConnectionStore`. Expired rows are hidden on read, as in DynamoDB.
#[derive(Default)]
pub struct MemoryConnectionStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    connections: HashMap<ConnectionId, Connection>,
    /// Room → subscription sort key (`<bucket:04x>#<connection_id>`) → subscription.
    rooms: HashMap<Room, BTreeMap<String, Subscription>>,
    /// Connection → rooms it is subscribed to, with each row's expiry.
    reverse: HashMap<ConnectionId, BTreeMap<Room, Timestamp>>,
}

impl MemoryConnectionStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sort key of a subscription row.
pub fn subscription_key(id: &ConnectionId) -> String {
    format!("{:04x}#{}", bucket_of(id), id)
}

fn live(expires_at: Timestamp, now: Timestamp) -> bool {
    expires_at > now
}

#[async_trait]
impl ConnectionStore for MemoryConnectionStore {
    async fn put_connection(&self, connection: &Connection) -> StoreResult<()> {
        self.lock()
            .connections
            .insert(connection.connection_id.clone(), connection.clone());
        Ok(())
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let t = now();
        Ok(self
            .lock()
            .connections
            .get(id)
            .filter(|c| live(c.expires_at, t))
            .cloned())
    }

    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<Vec<Room>> {
        let mut g = self.lock();
        g.connections.remove(id);
        let rooms = g.reverse.remove(id).unwrap_or_default();
        let key = subscription_key(id);
        for room in rooms.keys() {
            if let Some(subs) = g.rooms.get_mut(room) {
                subs.remove(&key);
                if subs.is_empty() {
                    g.rooms.remove(room);
                }
            }
        }
        Ok(rooms.into_keys().collect())
    }

    async fn list_user_connections(&self, user: UserId) -> StoreResult<Vec<Connection>> {
        let t = now();
        let mut out: Vec<Connection> = self
            .lock()
            .connections
            .values()
            .filter(|c| c.user_id() == Some(user) && live(c.expires_at, t))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(out)
    }

    async fn list_anonymous_connections(&self, ip: &str) -> StoreResult<Vec<Connection>> {
        let t = now();
        let mut out: Vec<Connection> = self
            .lock()
            .connections
            .values()
            .filter(|c| {
                matches!(&c.viewer, Viewer::Anonymous { anonymous_ip } if anonymous_ip == ip)
                    && live(c.expires_at, t)
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        Ok(out)
    }

    async fn subscribe(&self, s: &Subscription) -> StoreResult<()> {
        let mut g = self.lock();
        g.rooms
            .entry(s.room)
            .or_default()
            .insert(subscription_key(&s.connection_id), s.clone());
        g.reverse
            .entry(s.connection_id.clone())
            .or_default()
            .insert(s.room, s.expires_at);
        Ok(())
    }

    async fn unsubscribe(&self, id: &ConnectionId, room: Room) -> StoreResult<()> {
        let mut g = self.lock();
        if let Some(subs) = g.rooms.get_mut(&room) {
            subs.remove(&subscription_key(id));
            if subs.is_empty() {
                g.rooms.remove(&room);
            }
        }
        if let Some(rooms) = g.reverse.get_mut(id) {
            rooms.remove(&room);
            if rooms.is_empty() {
                g.reverse.remove(id);
            }
        }
        Ok(())
    }

    async fn list_connection_rooms(&self, id: &ConnectionId) -> StoreResult<Vec<Room>> {
        let t = now();
        Ok(self
            .lock()
            .reverse
            .get(id)
            .map(|r| {
                r.iter()
                    .filter(|(_, expires)| live(**expires, t))
                    .map(|(room, _)| *room)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn list_subscriptions(
        &self,
        room: Room,
        buckets: BucketRange,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>> {
        let pk = format!("ROOM#{room}");
        let after = cursor
            .map(|c| cursor::decode(c, "sk", &[("pk", &pk)]))
            .transpose()?;
        let t = now();
        let g = self.lock();
        let Some(subs) = g.rooms.get(&room) else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let lo = format!("{:04x}#", buckets.start);
        let hi = format!("{:04x}#", buckets.end);
        let start = match &after {
            Some(a) if *a >= lo => std::ops::Bound::Excluded(a.clone()),
            _ => std::ops::Bound::Included(lo),
        };
        let limit = limit.max(1);
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        for (k, s) in subs.range((start, std::ops::Bound::Excluded(hi))) {
            if items.len() == limit {
                more = true;
                break;
            }
            last = Some(k.clone());
            if live(s.expires_at, t) {
                items.push(s.clone());
            }
        }
        Ok(Page {
            items,
            next: if more {
                last.map(|k| cursor::encode(&[("pk", pk.clone()), ("sk", k)]))
            } else {
                None
            },
        })
    }
}
