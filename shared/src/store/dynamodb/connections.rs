//! `ConnectionStore` over DynamoDB (table `connections`; layout in `docs/data-model.md`).
//!
//! Items, each with the TTL of its connection:
//! - connection `CONN#<connection_id>` / `CONN`, in `gsi1` under `USER#<user_id>` (an
//!   anonymous viewer's under `IP#<ip>`) / `CONN#<connection_id>`;
//! - subscription `ROOM#<room>` / `<bucket:04x>#<connection_id>`, so a bucket range of a room
//!   is one contiguous key range;
//! - reverse subscription `CONN#<connection_id>` / `SUB#<room>`, so `$disconnect` finds every
//!   room of a connection.
//!
//! DynamoDB deletes expired rows late (and moto never does): every read skips rows whose
//! `ttl_epoch` has passed.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{
    Item, TABLE_KEY, check_cursor, decode_cursor, from_item, get_s, is_expired, key, page, s,
    to_item, with_ttl,
};
use super::ops::{
    Gsi, batch_write, delete_request, get_item, put_item, query, query_all, query_page,
};
use super::txn::{transact, tx_delete, tx_put};
use crate::ids::{ConnectionId, UserId};
use crate::model::{BucketRange, Connection, Subscription, Viewer, bucket_of};
use crate::room::Room;
use crate::store::{ConnectionStore, Cursor, Page, StoreError, StoreResult};
use crate::time::now;

/// `ConnectionStore` over the `connections` table.
#[derive(Clone)]
pub struct DynamoConnectionStore {
    client: Client,
    table: String,
}

impl DynamoConnectionStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

fn conn_pk(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}

fn room_pk(room: Room) -> String {
    format!("ROOM#{room}")
}

/// The `gsi1` partition of a connection: its user's (`USER#<user_id>`), or for an anonymous
/// viewer its IP's (`IP#<ip>`), so either cap is one Query.
fn viewer_key(viewer: &Viewer) -> String {
    match viewer {
        Viewer::User { user_id, .. } => format!("USER#{user_id}"),
        Viewer::Anonymous { anonymous_ip } => format!("IP#{anonymous_ip}"),
    }
}

/// Sort key of a subscription row: the connection's bucket, then its id.
fn subscription_sk(id: &ConnectionId) -> String {
    format!("{:04x}#{id}", bucket_of(id))
}

/// Sort key of a reverse subscription row.
fn reverse_sk(room: Room) -> String {
    format!("SUB#{room}")
}

/// The inclusive sort-key bounds of the subscriptions in `buckets`. Connection ids hold only
/// ASCII letters, digits and `=-_+/.`, all of which sort before `~`, so
/// `<start:04x>#` ..= `<end-1:04x>#~` holds exactly the rows of those buckets.
fn bucket_bounds(buckets: BucketRange) -> Option<(String, String)> {
    (buckets.start < buckets.end).then(|| {
        (
            format!("{:04x}#", buckets.start),
            format!("{:04x}#~", buckets.end - 1),
        )
    })
}

/// The room of a reverse subscription row.
fn room_of_reverse(item: &Item) -> StoreResult<Room> {
    let sk = get_s(item, "sk")?;
    sk.strip_prefix("SUB#")
        .ok_or_else(|| StoreError::Backend(format!("not a subscription row: {sk}")))?
        .parse()
        .map_err(|e| StoreError::Backend(format!("subscription row: {e}")))
}

impl DynamoConnectionStore {
    /// Every reverse subscription row of a connection, expired ones included, with whether
    /// each has expired.
    async fn reverse_rows(&self, id: &ConnectionId) -> StoreResult<Vec<(Room, bool)>> {
        let query = query(
            &self.client,
            &self.table,
            None,
            "pk = :pk AND begins_with(sk, :sub)",
            vec![(":pk", s(conn_pk(id))), (":sub", s("SUB#"))],
        )
        .consistent_read(true);
        let t = now();
        query_all(query, "list connection rooms", |item| {
            Ok(Some((room_of_reverse(&item)?, is_expired(&item, t))))
        })
        .await
    }

    /// The live connections under `gsi1pk` (one Query of `gsi1`).
    async fn viewer_connections(
        &self,
        pk: String,
        what: &'static str,
    ) -> StoreResult<Vec<Connection>> {
        let query = query(
            &self.client,
            &self.table,
            Some(Gsi::Gsi1.name()),
            "gsi1pk = :pk",
            vec![(":pk", s(pk))],
        );
        let t = now();
        query_all(query, what, |item| {
            if is_expired(&item, t) {
                return Ok(None);
            }
            from_item::<Connection>(item).map(Some)
        })
        .await
    }

    async fn run(&self, actions: Vec<TransactWriteItem>, what: &'static str) -> StoreResult<()> {
        match transact(&self.client, actions, what).await? {
            Ok(()) => Ok(()),
            Err(cancelled) => Err(StoreError::Backend(format!(
                "{what}: unexpected condition failure {cancelled}"
            ))),
        }
    }
}

#[async_trait]
impl ConnectionStore for DynamoConnectionStore {
    async fn put_connection(&self, connection: &Connection) -> StoreResult<()> {
        let id = &connection.connection_id;
        let item = to_item(
            connection,
            &[
                ("pk", conn_pk(id)),
                ("sk", "CONN".to_owned()),
                ("gsi1pk", viewer_key(&connection.viewer)),
                ("gsi1sk", format!("CONN#{id}")),
            ],
        )?;
        put_item(
            &self.client,
            &self.table,
            with_ttl(item, connection.expires_at),
            None,
            "put connection",
        )
        .await
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let item = get_item(&self.client, &self.table, key(conn_pk(id), "CONN")).await?;
        let t = now();
        item.filter(|item| !is_expired(item, t))
            .map(from_item)
            .transpose()
    }

    /// Finds the reverse rows, then deletes (in batches of 25) the room rows and the
    /// connection row first and the reverse rows last, so that a call that fails half way can
    /// be repeated and still finds every room. Returns the rooms of unexpired subscriptions.
    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<Vec<Room>> {
        let rows = self.reverse_rows(id).await?;
        let sk = subscription_sk(id);
        let mut requests = Vec::with_capacity(2 * rows.len() + 1);
        for (room, _) in &rows {
            requests.push(delete_request(key(room_pk(*room), sk.clone()))?);
        }
        requests.push(delete_request(key(conn_pk(id), "CONN"))?);
        for (room, _) in &rows {
            requests.push(delete_request(key(conn_pk(id), reverse_sk(*room)))?);
        }
        batch_write(&self.client, &self.table, requests, "delete connection").await?;
        Ok(rows
            .into_iter()
            .filter(|(_, expired)| !expired)
            .map(|(room, _)| room)
            .collect())
    }

    async fn list_user_connections(&self, user: UserId) -> StoreResult<Vec<Connection>> {
        self.viewer_connections(format!("USER#{user}"), "list user connections")
            .await
    }

    async fn list_anonymous_connections(&self, ip: &str) -> StoreResult<Vec<Connection>> {
        self.viewer_connections(format!("IP#{ip}"), "list anonymous connections")
            .await
    }

    /// Writes the room row and the reverse row in one transaction.
    async fn subscribe(&self, subscription: &Subscription) -> StoreResult<()> {
        let id = &subscription.connection_id;
        let room_row = to_item(
            subscription,
            &[
                ("pk", room_pk(subscription.room)),
                ("sk", subscription_sk(id)),
            ],
        )?;
        let mut reverse_row = key(conn_pk(id), reverse_sk(subscription.room));
        reverse_row.insert("room".into(), s(subscription.room.to_string()));
        reverse_row.insert("connection_id".into(), s(id.to_string()));
        let actions = vec![
            tx_put(
                &self.table,
                with_ttl(room_row, subscription.expires_at),
                None,
            )?,
            tx_put(
                &self.table,
                with_ttl(reverse_row, subscription.expires_at),
                None,
            )?,
        ];
        self.run(actions, "subscribe").await
    }

    async fn unsubscribe(&self, id: &ConnectionId, room: Room) -> StoreResult<()> {
        let actions = vec![
            tx_delete(&self.table, key(room_pk(room), subscription_sk(id)), None)?,
            tx_delete(&self.table, key(conn_pk(id), reverse_sk(room)), None)?,
        ];
        self.run(actions, "unsubscribe").await
    }

    async fn list_connection_rooms(&self, id: &ConnectionId) -> StoreResult<Vec<Room>> {
        Ok(self
            .reverse_rows(id)
            .await?
            .into_iter()
            .filter(|(_, expired)| !expired)
            .map(|(room, _)| room)
            .collect())
    }

    /// One Query over the room's key range `<start:04x>#` ..= `<end-1:04x>#~`. Expired rows
    /// are skipped, so a page may hold fewer than `limit` subscriptions and still carry a
    /// cursor. The cursor is pinned to the room and must lie in the range.
    async fn list_subscriptions(
        &self,
        room: Room,
        buckets: BucketRange,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Subscription>> {
        let pk = room_pk(room);
        let start = cursor
            .map(|c| decode_cursor(c, &TABLE_KEY, &[("pk", &pk)]))
            .transpose()?;
        let Some((lo, hi)) = bucket_bounds(buckets) else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        check_cursor(start.as_ref(), "sk", |sk| {
            lo.as_str() <= sk && sk <= hi.as_str()
        })?;
        let query = query(
            &self.client,
            &self.table,
            None,
            "pk = :pk AND sk BETWEEN :lo AND :hi",
            vec![(":pk", s(pk)), (":lo", s(lo)), (":hi", s(hi))],
        )
        // Strongly consistent: a stream delivery reads the subscriptions after the entries
        // it delivers were committed, and a subscriber whose catch-up read missed an entry
        // wrote its subscription before that read (docs/data-model.md, "Room streams").
        .consistent_read(true);
        let t = now();
        let (items, next) = query_page(
            query,
            &TABLE_KEY,
            limit,
            start,
            "list subscriptions",
            |item| {
                if is_expired(&item, t) {
                    return Ok(None);
                }
                from_item::<Subscription>(item).map(Some)
            },
        )
        .await?;
        page(items, next)
    }
}
