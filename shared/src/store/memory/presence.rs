//! In-memory `PresenceStore`.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ids::UserId;
use crate::model::{Activity, OnlineStatus, Presence, PresenceRecord};
use crate::store::{PresenceStore, StoreResult};
use crate::time::Timestamp;

/// In-memory `PresenceStore`: one record per user; an expired presence counts as none.
#[derive(Default)]
pub struct MemoryPresenceStore {
    records: Mutex<HashMap<UserId, PresenceRecord>>,
}

impl MemoryPresenceStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, PresenceRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `record`'s presence if it is live at `now`.
fn live(record: &PresenceRecord, now: Timestamp) -> Option<Presence> {
    record.online.filter(|p| p.expires_at > now)
}

#[async_trait]
impl PresenceStore for MemoryPresenceStore {
    async fn set_presence(
        &self,
        user: UserId,
        status: Option<OnlineStatus>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Option<Presence>> {
        let mut g = self.lock();
        let record = g.entry(user).or_default();
        let before = live(record, now);
        record.online = Some(Presence::next(before, user, status, expires_at, now));
        record.activity.last_active_at = Some(now);
        Ok(before)
    }

    async fn depart(
        &self,
        user: UserId,
        remaining: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<Presence>> {
        let mut g = self.lock();
        let record = g.entry(user).or_default();
        let before = live(record, now);
        match (remaining, before) {
            (Some(until), Some(p)) => {
                record.online = Some(Presence {
                    expires_at: until,
                    ..p
                });
                Ok(None)
            }
            (Some(_), None) => Ok(None),
            (None, _) => {
                record.online = None;
                record.activity = Activity {
                    last_active_at: Some(now),
                    last_seen_at: Some(now),
                };
                Ok(before)
            }
        }
    }

    async fn touch(&self, user: UserId, at: Timestamp) -> StoreResult<()> {
        self.lock().entry(user).or_default().activity.last_active_at = Some(at);
        Ok(())
    }

    async fn get_presences(
        &self,
        users: &[UserId],
        now: Timestamp,
    ) -> StoreResult<HashMap<UserId, PresenceRecord>> {
        let g = self.lock();
        Ok(users
            .iter()
            .filter_map(|u| {
                g.get(u).map(|r| {
                    (
                        *u,
                        PresenceRecord {
                            online: live(r, now),
                            activity: r.activity,
                        },
                    )
                })
            })
            .collect())
    }
}
