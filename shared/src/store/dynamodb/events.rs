//! `EventStore` over DynamoDB (table `events`; layout in `docs/data-model.md`).
//!
//! An event is one item `EVENT#<event_id>` / `EVENT`; `gsi1` lists events by status
//! (`STATUS#<status>`) and start time (`<start_time>#<event_id>`).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::append::{AppendActions, Counted, append_to_stream};
use super::comments::event_pk as event_pk_of_stream;
use super::item::{av, from_item, key, s, to_item, with_ttl};
use super::ops::{
    Gsi, GsiPartition, get_entity, gsi_page, prefix_page, put_item, put_new, sdk_error,
};
use super::streams::entry_put;
use super::txn::{tx_put_with, tx_update_named};
use crate::ids::{EventId, UserId};
use crate::model::{Ban, Change, Event, EventStatus, ModerationRecord};
use crate::store::{Cursor, EventStore, Order, Page, StoreError, StoreResult};
use crate::time::{Timestamp, sort_key};

/// `EventStore` over the `events` table.
#[derive(Clone)]
pub struct DynamoEventStore {
    /// The `comments` table, where each event's stream lives.
    stream_table: Option<String>,
    client: Client,
    table: String,
}

impl DynamoEventStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            stream_table: None,
        }
    }

    /// Appends status changes to the event streams in `comments` (required to change a
    /// status).
    pub fn with_stream(mut self, comments: String) -> Self {
        self.stream_table = Some(comments);
        self
    }
}

fn event_pk(id: EventId) -> String {
    format!("EVENT#{id}")
}

fn status_pk(status: EventStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

/// The item of `event`, with its keys.
fn event_item(event: &Event) -> StoreResult<super::item::Item> {
    to_item(
        event,
        &[
            ("pk", event_pk(event.event_id)),
            ("sk", "EVENT".to_owned()),
            ("gsi1pk", status_pk(event.status)),
            (
                "gsi1sk",
                format!("{}#{}", sort_key(event.start_time), event.event_id),
            ),
        ],
    )
}

#[async_trait]
impl EventStore for DynamoEventStore {
    /// `Conflict("exists")` when an event with that id is stored already.
    async fn create_event(&self, event: &Event) -> StoreResult<()> {
        put_new(&self.client, &self.table, event_item(event)?, "exists").await
    }

    async fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        get_entity(&self.client, &self.table, key(event_pk(id), "EVENT")).await
    }

    /// One conditional update that sets `status`, `updated_at` and the `gsi1` partition;
    /// when its condition fails, a read tells `NotFound` from `Conflict("status")`.
    /// One transaction across tables: the event's status (`IF status = :from`) and the
    /// `event_status` entry at the next position of its stream (in `comments`).
    async fn set_status(
        &self,
        id: EventId,
        from: EventStatus,
        to: EventStatus,
        now: Timestamp,
    ) -> StoreResult<Event> {
        let Some(comments) = &self.stream_table else {
            return Err(StoreError::Backend(
                "event store without its stream table".into(),
            ));
        };
        let pk = event_pk_of_stream(id);
        let event_key = key(event_pk(id), "EVENT");
        let table = self.table.as_str();
        let outcome = append_to_stream(&self.client, comments, &pk, Counted::No, |p| {
            Ok(AppendActions {
                actions: vec![
                    entry_put(
                        comments,
                        &pk,
                        p,
                        now,
                        Change::EventStatus {
                            event_id: id,
                            from,
                            to,
                        },
                    )?,
                    tx_update_named(
                        table,
                        event_key.clone(),
                        "SET #status = :to, updated_at = :now, gsi1pk = :gsi1pk",
                        Some("attribute_exists(pk) AND #status = :from"),
                        &[("#status", "status")],
                        vec![
                            (":to", av(&to)?),
                            (":from", av(&from)?),
                            (":now", av(&now)?),
                            (":gsi1pk", s(status_pk(to))),
                        ],
                    )?,
                ],
                idempotency: Vec::new(),
                parent: Some(1),
            })
        })
        .await?;
        match outcome {
            Ok(_) => self.get_event(id).await?.ok_or(StoreError::NotFound),
            Err(_) => match self.get_event(id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict("status")),
            },
        }
    }

    /// One transaction across tables: the event's item put again `IF updated_at = :previous`
    /// (a status change moves `updated_at` too, so the status it keeps is the one read), and
    /// the `event_updated` entry at the next position of its stream.
    async fn update_event(&self, event: &Event, previous: Timestamp) -> StoreResult<()> {
        let Some(comments) = &self.stream_table else {
            return Err(StoreError::Backend(
                "event store without its stream table".into(),
            ));
        };
        let id = event.event_id;
        let pk = event_pk_of_stream(id);
        let item = event_item(event)?;
        let table = self.table.as_str();
        let outcome = append_to_stream(&self.client, comments, &pk, Counted::No, |p| {
            Ok(AppendActions {
                actions: vec![
                    entry_put(
                        comments,
                        &pk,
                        p,
                        event.updated_at,
                        Change::EventUpdated {
                            event: event.clone(),
                        },
                    )?,
                    tx_put_with(
                        table,
                        item.clone(),
                        Some("attribute_exists(pk) AND updated_at = :previous"),
                        vec![(":previous", av(&previous)?)],
                    )?,
                ],
                idempotency: Vec::new(),
                parent: Some(1),
            })
        })
        .await?;
        match outcome {
            Ok(_) => Ok(()),
            Err(_) => match self.get_event(id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict("changed")),
            },
        }
    }

    /// `(EVENT#<event_id>, BAN#<user_id>)`, with `ttl_epoch` = the end of a mute.
    async fn put_ban(&self, ban: &Ban) -> StoreResult<()> {
        let mut item = to_item(
            ban,
            &[
                ("pk", event_pk(ban.event_id)),
                ("sk", format!("BAN#{}", ban.user_id)),
            ],
        )?;
        if let Some(until) = ban.until {
            item = with_ttl(item, until);
        }
        put_item(&self.client, &self.table, item, None, "put ban").await
    }

    async fn get_ban(&self, event: EventId, user: UserId) -> StoreResult<Option<Ban>> {
        let ban: Option<Ban> = get_entity(
            &self.client,
            &self.table,
            key(event_pk(event), format!("BAN#{user}")),
        )
        .await?;
        let t = crate::time::now();
        Ok(ban.filter(|b| b.in_force(t)))
    }

    async fn delete_ban(&self, event: EventId, user: UserId) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(event_pk(event), format!("BAN#{user}"))))
            .send()
            .await
            .map_err(|e| sdk_error(e, "delete ban"))?;
        Ok(())
    }

    /// One Query of the event's `BAN#` rows; mutes that ended are skipped (TTL deletes late).
    async fn list_bans(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Ban>> {
        let t = crate::time::now();
        prefix_page(
            &self.client,
            &self.table,
            event_pk(event),
            "BAN#",
            Order::Oldest,
            limit,
            cursor,
            "list bans",
            |item| {
                let ban: Ban = from_item(item)?;
                Ok(ban.in_force(t).then_some(ban))
            },
        )
        .await
    }

    /// `(EVENT#<event_id>, LOG#<record_id>)`: UUIDv7 ids sort by time.
    async fn record_moderation(&self, record: &ModerationRecord) -> StoreResult<()> {
        let item = to_item(
            record,
            &[
                ("pk", event_pk(record.event_id)),
                ("sk", format!("LOG#{}", record.record_id)),
            ],
        )?;
        put_item(&self.client, &self.table, item, None, "record moderation").await
    }

    /// One Query of the event's `LOG#` rows, newest first.
    async fn moderation_log(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<ModerationRecord>> {
        prefix_page(
            &self.client,
            &self.table,
            event_pk(event),
            "LOG#",
            Order::Newest,
            limit,
            cursor,
            "moderation log",
            |item| from_item(item).map(Some),
        )
        .await
    }

    /// Queries `gsi1` in the status's partition, soonest start first. The cursor is pinned to
    /// the status.
    async fn list_events(
        &self,
        status: EventStatus,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Event>> {
        let partition = GsiPartition {
            gsi: Gsi::Gsi1,
            pk: &status_pk(status),
            forward: true,
        };
        // The index trails the table: skip an event whose status has moved on meanwhile.
        gsi_page(
            &self.client,
            &self.table,
            partition,
            limit,
            cursor,
            "list events",
            |item| {
                let event: Event = from_item(item)?;
                Ok((event.status == status).then_some(event))
            },
        )
        .await
    }
}
