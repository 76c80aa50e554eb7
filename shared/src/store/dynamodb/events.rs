//! `EventStore` over DynamoDB (table `events`; layout in `docs/data-model.md`).
//!
//! An event is one item `EVENT#<event_id>` / `EVENT`; `gsi1` lists events by status
//! (`STATUS#<status>`) and start time (`<start_time>#<event_id>`).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Serialize;

use super::users::query_page;
use super::{decode_cursor, encode_cursor, from_item, key, s, sdk_error, to_item};
use crate::ids::EventId;
use crate::model::{Event, EventStatus};
use crate::store::{Cursor, EventStore, Page, StoreError, StoreResult};
use crate::time::{Timestamp, sort_key};

/// `EventStore` over the `events` table.
#[derive(Clone)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
}

impl DynamoEventStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

fn event_pk(id: EventId) -> String {
    format!("EVENT#{id}")
}

fn status_pk(status: EventStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

/// Key attributes of an event's `gsi1` page cursor.
const GSI1_KEY: [&str; 4] = ["pk", "sk", "gsi1pk", "gsi1sk"];

/// A value in the form `to_item` stores it.
fn attr<T: Serialize>(v: &T) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

#[async_trait]
impl EventStore for DynamoEventStore {
    /// `Conflict("exists")` when an event with that id is stored already.
    async fn create_event(&self, event: &Event) -> StoreResult<()> {
        let item = to_item(
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
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error(e, "exists"))?;
        Ok(())
    }

    async fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(event_pk(id), "EVENT")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(e, "get event"))?;
        out.item.map(from_item).transpose()
    }

    /// One conditional update that sets `status`, `updated_at` and the `gsi1` partition;
    /// when its condition fails, a read tells `NotFound` from `Conflict("status")`.
    async fn set_status(
        &self,
        id: EventId,
        from: EventStatus,
        to: EventStatus,
        now: Timestamp,
    ) -> StoreResult<Event> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(event_pk(id), "EVENT")))
            .update_expression("SET #status = :to, updated_at = :now, gsi1pk = :gsi1pk")
            .condition_expression("attribute_exists(pk) AND #status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", attr(&to)?)
            .expression_attribute_values(":from", attr(&from)?)
            .expression_attribute_values(":now", attr(&now)?)
            .expression_attribute_values(":gsi1pk", s(status_pk(to)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Backend("set status: no attributes".into()))?;
                from_item(item)
            }
            Err(e) => match sdk_error(e, "status") {
                StoreError::Conflict(what) => match self.get_event(id).await? {
                    None => Err(StoreError::NotFound),
                    Some(_) => Err(StoreError::Conflict(what)),
                },
                other => Err(other),
            },
        }
    }

    /// Queries `gsi1` in the status's partition, soonest start first. The cursor is pinned to
    /// the status.
    async fn list_events(
        &self,
        status: EventStatus,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Event>> {
        let pk = status_pk(status);
        let start = cursor
            .map(|c| decode_cursor(c, &GSI1_KEY, &[("gsi1pk", &pk)]))
            .transpose()?;
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(pk.clone()))
            .scan_index_forward(true);
        // The index trails the table: skip an event whose status has moved on meanwhile.
        let (items, next) = query_page(query, &GSI1_KEY, limit, start, "list events", |item| {
            let event: Event = from_item(item)?;
            Ok((event.status == status).then_some(event))
        })
        .await?;
        Ok(Page {
            items,
            next: next.as_ref().map(encode_cursor).transpose()?,
        })
    }
}
