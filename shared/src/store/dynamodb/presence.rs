//! `PresenceStore` over DynamoDB (table `users`; layout in `docs/data-model.md`).
//!
//! - presence: `(USER#<id>, PRESENCE)` with `status`, `updated_at`, `expires_at`, `rev` and
//!   `ttl_epoch` = `expires_at`: DynamoDB deletes it after the user's latest connection
//!   would have ended, and every read skips it once expired;
//! - activity: `(USER#<id>, ACTIVITY)` with `last_active_at` and `last_seen_at`, no TTL.
//!
//! A presence change is a consistent read, then a put conditioned on the `rev` it read
//! (retried when another connection of the user changed it in between).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::item::{Item, from_item, get_n, is_expired, key, n, s, to_item, with_ttl};
use super::ops::{batch_get, get_item, sdk_error};
use crate::ids::UserId;
use crate::model::{Activity, OnlineStatus, Presence, PresenceRecord};
use crate::store::{PresenceStore, StoreError, StoreResult};
use crate::time::Timestamp;

/// Attempts of a presence change that keeps losing to the user's other connections.
const ATTEMPTS: u32 = 10;

/// Before attempt `attempt` (0-based), after a lost race: a full-jitter pause of up to
/// 5 ms × 2ⁿ; none before the first.
async fn pause_after(attempt: u32) {
    if attempt == 0 {
        return;
    }
    let cap = 5u64 << attempt.min(6);
    tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(0..=cap))).await;
}

/// `PresenceStore` over the `users` table.
#[derive(Clone)]
pub struct DynamoPresenceStore {
    client: Client,
    table: String,
}

fn pk(user: UserId) -> String {
    format!("USER#{user}")
}

fn presence_key(user: UserId) -> Item {
    key(pk(user), "PRESENCE")
}

fn activity_key(user: UserId) -> Item {
    key(pk(user), "ACTIVITY")
}

/// A timestamp as the entities store it (RFC 3339, as serde writes it).
fn ts(t: Timestamp) -> StoreResult<aws_sdk_dynamodb::types::AttributeValue> {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(v)) => Ok(s(v)),
        _ => Err(StoreError::Backend("timestamp encoding".into())),
    }
}

/// A stored presence row: the presence (live or not) and its revision.
struct Row {
    presence: Presence,
    rev: u64,
}

impl DynamoPresenceStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    async fn read(&self, user: UserId) -> StoreResult<Option<Row>> {
        let Some(item) = get_item(&self.client, &self.table, presence_key(user)).await? else {
            return Ok(None);
        };
        let rev = get_n(&item, "rev")?;
        Ok(Some(Row {
            presence: from_item(item)?,
            rev,
        }))
    }

    /// The condition that `row` (as read) is still what is stored.
    fn unchanged(row: &Option<Row>) -> (Option<String>, Option<u64>) {
        match row {
            Some(r) => (Some("rev = :rev".into()), Some(r.rev)),
            None => (Some("attribute_not_exists(pk)".into()), None),
        }
    }

    /// Puts `presence` if the row is still `before`; `Ok(false)` when it changed.
    async fn put_if(&self, before: &Option<Row>, presence: &Presence) -> StoreResult<bool> {
        let (condition, rev) = Self::unchanged(before);
        let mut item = with_ttl(
            to_item(
                presence,
                &[("pk", pk(presence.user_id)), ("sk", "PRESENCE".into())],
            )?,
            presence.expires_at,
        );
        item.insert("rev".into(), n(rev.map_or(1, |r| r + 1)));
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition);
        if let Some(r) = rev {
            request = request.expression_attribute_values(":rev", n(r));
        }
        match request.send().await.map_err(|e| sdk_error(e, "presence")) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the presence row if it is still `before`; `Ok(false)` when it changed.
    async fn delete_if(&self, before: &Row, user: UserId) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(presence_key(user)))
            .condition_expression("rev = :rev")
            .expression_attribute_values(":rev", n(before.rev))
            .send()
            .await
            .map_err(|e| sdk_error(e, "presence"));
        match out {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets the activity attributes named in `fields` to `at`.
    async fn record_activity(
        &self,
        user: UserId,
        fields: &[&str],
        at: Timestamp,
    ) -> StoreResult<()> {
        let set: Vec<String> = fields.iter().map(|f| format!("{f} = :at")).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(activity_key(user)))
            .update_expression(format!("SET {}", set.join(", ")))
            .expression_attribute_values(":at", ts(at)?)
            .send()
            .await
            .map_err(|e| sdk_error(e, "activity"))?;
        Ok(())
    }
}

/// `row`'s presence if it is live at `now`.
fn live(row: &Option<Row>, now: Timestamp) -> Option<Presence> {
    row.as_ref()
        .map(|r| r.presence)
        .filter(|p| p.expires_at > now)
}

#[async_trait]
impl PresenceStore for DynamoPresenceStore {
    async fn set_presence(
        &self,
        user: UserId,
        status: Option<OnlineStatus>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Option<Presence>> {
        for attempt in 0..ATTEMPTS {
            pause_after(attempt).await;
            let row = self.read(user).await?;
            let before = live(&row, now);
            let next = Presence::next(before, user, status, expires_at, now);
            if self.put_if(&row, &next).await? {
                self.record_activity(user, &["last_active_at"], now).await?;
                return Ok(before);
            }
        }
        Err(StoreError::Conflict("presence"))
    }

    async fn depart(
        &self,
        user: UserId,
        remaining: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreResult<Option<Presence>> {
        for attempt in 0..ATTEMPTS {
            pause_after(attempt).await;
            let row = self.read(user).await?;
            let before = live(&row, now);
            match (remaining, &row, before) {
                (Some(until), Some(_), Some(p)) => {
                    let cut = Presence {
                        expires_at: until,
                        ..p
                    };
                    if self.put_if(&row, &cut).await? {
                        return Ok(None);
                    }
                }
                (Some(_), _, _) => return Ok(None),
                (None, Some(r), _) => {
                    if self.delete_if(r, user).await? {
                        self.record_activity(user, &["last_active_at", "last_seen_at"], now)
                            .await?;
                        return Ok(before);
                    }
                }
                (None, None, _) => {
                    self.record_activity(user, &["last_active_at", "last_seen_at"], now)
                        .await?;
                    return Ok(None);
                }
            }
        }
        Err(StoreError::Conflict("presence"))
    }

    async fn touch(&self, user: UserId, at: Timestamp) -> StoreResult<()> {
        self.record_activity(user, &["last_active_at"], at).await
    }

    /// One `BatchGetItem` (eventually consistent) of both rows of every user.
    async fn get_presences(
        &self,
        users: &[UserId],
        now: Timestamp,
    ) -> StoreResult<HashMap<UserId, PresenceRecord>> {
        let mut seen = std::collections::HashSet::new();
        let keys: Vec<Item> = users
            .iter()
            .filter(|u| seen.insert(**u))
            .flat_map(|u| [presence_key(*u), activity_key(*u)])
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out: HashMap<UserId, PresenceRecord> = HashMap::new();
        for item in batch_get(&self.client, &self.table, keys, false, "get presences").await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned();
            match sk.as_deref() {
                Some("PRESENCE") => {
                    if is_expired(&item, now) {
                        continue;
                    }
                    let p: Presence = from_item(item)?;
                    if p.expires_at > now {
                        out.entry(p.user_id).or_default().online = Some(p);
                    }
                }
                Some("ACTIVITY") => {
                    let user: UserId = item
                        .get("pk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|pk| pk.strip_prefix("USER#"))
                        .and_then(|id| id.parse().ok())
                        .ok_or_else(|| StoreError::Backend("activity row without a user".into()))?;
                    let activity: Activity = from_item(item)?;
                    out.entry(user).or_default().activity = activity;
                }
                _ => {}
            }
        }
        Ok(out)
    }
}
