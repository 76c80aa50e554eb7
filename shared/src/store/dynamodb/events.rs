//! `EventStore` over DynamoDB (table `events`; layout in `docs/data-model.md`).
//!
//! An event is one item `EVENT#<event_id>` / `EVENT`; `gsi1` lists events by status
//! (`STATUS#<status>`) and start time (`<start_time>#<event_id>`).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;

use super::item::{av, from_item, key, s, to_item};
use super::ops::{Gsi, GsiPartition, get_entity, gsi_page, put_new, sdk_error};
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
        put_new(&self.client, &self.table, item, "exists").await
    }

    async fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        get_entity(&self.client, &self.table, key(event_pk(id), "EVENT")).await
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
            .expression_attribute_values(":to", av(&to)?)
            .expression_attribute_values(":from", av(&from)?)
            .expression_attribute_values(":now", av(&now)?)
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
