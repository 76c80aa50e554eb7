//! `StreamStore` over DynamoDB. A room's stream lives in the table of its items, beside its
//! head: `(EVENT#e, ENTRY#<p>)` in `comments`, `(CONV#c, ENTRY#<p>)` in `messages`, each entry
//! written by the transaction that moves the head (`append_to_stream`) together with the
//! change itself; `ttl_epoch` = written + [`STREAM_RETENTION`]. Count markers
//! `(EVENT#e, DIRTY#<comment_id>)` carry a change counter `seq` (`ADD seq 1` in the like or
//! reply transaction); the room's delivery cursor is `(…, DELIVERY)`, an event's last viewer
//! count `(EVENT#e, OCCUPANCY)`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};

use super::append::{AppendActions, AppendRefused, Counted, append_to_stream, void_position};
use super::comments::{comment_item_key, event_pk, read_head};
use super::item::{Item, from_item, get_n, is_expired, key, n, parse_s, s, to_item};
use super::ops::{get_entity, get_item, query, query_page, sdk_error};
use super::txn::{tx_delete_with, tx_put, tx_put_with, tx_update};
use crate::ids::{CommentId, EventId};
use crate::model::{Change, Comment, STREAM_RETENTION, StreamEntry, StreamSlice, ViewerCount};
use crate::room::{Position, Room};
use crate::store::{Claim, DeliveryLease, Release, StoreError, StoreResult, StreamStore};
use crate::time::{Timestamp, epoch_seconds, now};

/// Sort key of a room's delivery cursor, beside its head.
pub(super) const DELIVERY_SK: &str = "DELIVERY";

/// Sort key of an event's last viewer count, beside its head.
const OCCUPANCY_SK: &str = "OCCUPANCY";

/// Sort key of the stream entry at `p`.
pub(super) fn entry_sk(p: Position) -> String {
    format!("ENTRY#{}", p.key())
}

/// The item of a stream entry in partition `pk`, with its TTL.
pub(super) fn entry_item(
    pk: &str,
    position: Position,
    at: Timestamp,
    change: Change,
) -> StoreResult<Item> {
    let entry = StreamEntry {
        position,
        at,
        change,
    };
    let mut item = to_item(&entry, &[("pk", pk.to_owned()), ("sk", entry_sk(position))])?;
    item.insert(
        "ttl_epoch".to_owned(),
        n(epoch_seconds(at + STREAM_RETENTION)),
    );
    Ok(item)
}

/// The `Put` of a stream entry, on the condition that its position holds none yet (a void
/// may have taken it: see [`append`](super::append)).
pub(super) fn entry_put(
    table: &str,
    pk: &str,
    position: Position,
    at: Timestamp,
    change: Change,
) -> StoreResult<TransactWriteItem> {
    tx_put(
        table,
        entry_item(pk, position, at, change)?,
        Some("attribute_not_exists(pk)"),
    )
}

/// Key of the count marker of `comment` in `event`.
fn dirty_key(event: EventId, comment: CommentId) -> Item {
    key(event_pk(event), format!("DIRTY#{comment}"))
}

/// The update that marks a comment's counts as changed (in the like or reply transaction).
pub(super) fn dirty_mark(
    table: &str,
    event: EventId,
    comment: CommentId,
) -> StoreResult<TransactWriteItem> {
    tx_update(
        table,
        dirty_key(event, comment),
        "ADD seq :one SET comment_id = :c",
        None,
        vec![(":one", n(1)), (":c", s(comment.to_string()))],
    )
}

/// `StreamStore` over the `comments` (events) and `messages` (conversations) tables.
#[derive(Clone)]
pub struct DynamoStreamStore {
    client: Client,
    comments: String,
    messages: String,
}

impl DynamoStreamStore {
    /// The store over the two tables.
    pub fn new(client: Client, comments: String, messages: String) -> Self {
        Self {
            client,
            comments,
            messages,
        }
    }

    /// The table and partition of a room's stream.
    fn locate(&self, room: Room) -> (&str, String) {
        match room {
            Room::Event(id) => (&self.comments, event_pk(id)),
            Room::Conversation(id) => (&self.messages, format!("CONV#{id}")),
        }
    }

    fn cursor_key(&self, room: Room) -> (&str, Item) {
        let (table, pk) = self.locate(room);
        (table, key(pk, DELIVERY_SK))
    }

    /// One conditional update of the room's delivery cursor; `Ok(None)` when the condition
    /// failed.
    async fn update_cursor(
        &self,
        room: Room,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        what: &'static str,
    ) -> StoreResult<Option<Item>> {
        let (table, key) = self.cursor_key(room);
        let mut req = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .return_values(ReturnValue::AllOld);
        for (name, value) in values {
            req = req.expression_attribute_values(name, value);
        }
        match req.send().await {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) => match sdk_error(e, what) {
                StoreError::Conflict(_) => Ok(None),
                other => Err(other),
            },
        }
    }
}

fn millis(t: Timestamp) -> AttributeValue {
    n(t.timestamp_millis())
}

fn delivered_of(item: &Item) -> StoreResult<Position> {
    if item.contains_key("delivered") {
        Ok(Position(get_n(item, "delivered")?))
    } else {
        Ok(Position::ZERO)
    }
}

#[async_trait]
impl StreamStore for DynamoStreamStore {
    /// Reads the head first, then the entries: an empty read with a head past `after` then
    /// means the entries expired, or that the next position is reserved and not committed
    /// yet. The read stops at the first position without an entry; whether that one is
    /// pending or expired, the delivery cursor tells: delivery never passes a position
    /// before its entry (or void) is in, so one past `delivered` is pending.
    async fn read_stream(
        &self,
        room: Room,
        after: Position,
        limit: usize,
    ) -> StoreResult<StreamSlice> {
        let (table, pk) = self.locate(room);
        let head = Position(read_head(&self.client, table, &pk).await?);
        let limit = limit.clamp(1, 1000);
        let q = query(
            &self.client,
            table,
            None,
            "pk = :pk AND sk BETWEEN :lo AND :hi",
            vec![
                (":pk", s(pk.clone())),
                (":lo", s(entry_sk(after.next()))),
                (":hi", s(entry_sk(Position(u64::MAX)))),
            ],
        )
        .consistent_read(true);
        let t = now();
        let (found, next) = query_page(
            q,
            &super::item::TABLE_KEY,
            limit,
            None,
            "read stream",
            |item| {
                if is_expired(&item, t) {
                    Ok(None)
                } else {
                    from_item::<StreamEntry>(item).map(Some)
                }
            },
        )
        .await?;
        let contiguous = found
            .iter()
            .zip(1u64..)
            .take_while(|(e, i)| e.position == Position(after.0 + i))
            .count();
        let missing = Position(after.0 + contiguous as u64 + 1);
        let gap = contiguous < found.len() || (next.is_none() && missing <= head);
        if !gap {
            return Ok(StreamSlice {
                entries: found,
                has_more: next.is_some(),
                head,
                pending: None,
            });
        }
        let (cursor_table, cursor) = self.cursor_key(room);
        let delivered = match get_item(&self.client, cursor_table, cursor).await? {
            Some(item) => delivered_of(&item)?,
            None => Position::ZERO,
        };
        let mut entries = found;
        if missing > delivered {
            entries.truncate(contiguous);
            return Ok(StreamSlice {
                entries,
                has_more: false,
                head,
                pending: Some(missing),
            });
        }
        // Expired: entries after a kept prefix are read again from its end (and then found
        // to follow a gap); none kept, the reader is told by `reset_for`.
        let has_more = next.is_some() || contiguous < entries.len();
        if contiguous > 0 {
            entries.truncate(contiguous);
        }
        Ok(StreamSlice {
            entries,
            has_more,
            head,
            pending: None,
        })
    }

    async fn stream_head(&self, room: Room) -> StoreResult<Position> {
        let (table, pk) = self.locate(room);
        read_head(&self.client, table, &pk).await.map(Position)
    }

    /// Per marker: reads the comment, then appends its counts and deletes the marker
    /// `IF seq = <seq read>` in one transaction. A like or reply that landed in between moved
    /// `seq`: nothing is appended, and that change's own job flushes again.
    async fn flush_counts(&self, event: EventId) -> StoreResult<Option<Position>> {
        let pk = event_pk(event);
        let table = self.comments.as_str();
        let q = query(
            &self.client,
            table,
            None,
            "pk = :pk AND begins_with(sk, :d)",
            vec![(":pk", s(pk.clone())), (":d", s("DIRTY#"))],
        )
        .consistent_read(true);
        let (markers, _) = query_page(
            q,
            &super::item::TABLE_KEY,
            1000,
            None,
            "list count markers",
            |item| {
                let comment: CommentId = parse_s(&item, "comment_id")?;
                let seq: u64 = get_n(&item, "seq")?;
                Ok(Some((comment, seq)))
            },
        )
        .await?;
        let mut last = None;
        for (comment, seq) in markers {
            let Some(location) =
                super::comments::comment_location(&self.client, table, comment).await?
            else {
                continue;
            };
            let Some(c) = get_entity::<Comment>(
                &self.client,
                table,
                comment_item_key(location.0, location.1),
            )
            .await?
            else {
                continue;
            };
            let marker = dirty_key(event, comment);
            let outcome = append_to_stream(&self.client, table, &pk, Counted::No, |p| {
                Ok(AppendActions {
                    actions: vec![
                        entry_put(table, &pk, p, now(), Change::counts_of(&c))?,
                        tx_delete_with(
                            table,
                            marker.clone(),
                            Some("seq = :s"),
                            vec![(":s", n(seq))],
                        )?,
                    ],
                    idempotency: vec![1],
                    parent: None,
                })
            })
            .await?;
            match outcome {
                Ok(p) => last = Some(p),
                Err(AppendRefused::AlreadyDone | AppendRefused::ParentMissing) => {}
            }
        }
        Ok(last)
    }

    async fn void_position(&self, room: Room, position: Position) -> StoreResult<bool> {
        let (table, pk) = self.locate(room);
        let outcome = void_position(&self.client, table, &pk, position).await?;
        Ok(outcome == super::append::Released::Voided)
    }

    async fn occupancy(&self, room: Room) -> StoreResult<Option<ViewerCount>> {
        let (table, pk) = self.locate(room);
        get_entity::<ViewerCount>(&self.client, table, key(pk, OCCUPANCY_SK)).await
    }

    /// Reads the recorded count; the same count is only put again (a new `counted_at`); a
    /// new one is appended with the item's put; both on the condition that no later count
    /// was recorded meanwhile.
    async fn record_occupancy(
        &self,
        room: Room,
        count: ViewerCount,
    ) -> StoreResult<Option<Position>> {
        let Room::Event(event_id) = room else {
            return Ok(None);
        };
        let (table, pk) = self.locate(room);
        let last = self.occupancy(room).await?;
        if last.is_some_and(|l| l.counted_at > count.counted_at) {
            return Ok(None);
        }
        let newer = "attribute_not_exists(pk) OR counted_ms <= :ms";
        let mut item = to_item(
            &count,
            &[("pk", pk.clone()), ("sk", OCCUPANCY_SK.to_owned())],
        )?;
        item.insert("counted_ms".to_owned(), millis(count.counted_at));
        if last.is_some_and(|l| l.occupancy == count.occupancy) {
            let out = self
                .client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(newer)
                .expression_attribute_values(":ms", millis(count.counted_at))
                .send()
                .await;
            return match out.map_err(|e| sdk_error(e, "record occupancy")) {
                Ok(_) | Err(StoreError::Conflict(_)) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let change = Change::Occupancy {
            event_id,
            viewers: count.occupancy.viewers,
            exact: count.occupancy.exact,
        };
        let outcome = append_to_stream(&self.client, table, &pk, Counted::No, |p| {
            Ok(AppendActions {
                actions: vec![
                    entry_put(table, &pk, p, count.counted_at, change.clone())?,
                    tx_put_with(
                        table,
                        item.clone(),
                        Some(newer),
                        vec![(":ms", millis(count.counted_at))],
                    )?,
                ],
                idempotency: vec![1],
                parent: None,
            })
        })
        .await?;
        Ok(outcome.ok())
    }

    async fn want_delivery(
        &self,
        room: Room,
        upto: Option<Position>,
        counts: bool,
    ) -> StoreResult<()> {
        if counts {
            self.update_cursor(
                room,
                "SET flush = :t",
                "attribute_not_exists(flush) OR flush = :t",
                vec![(":t", AttributeValue::Bool(true))],
                "want counts",
            )
            .await?;
        }
        if let Some(p) = upto {
            self.update_cursor(
                room,
                "SET wanted = :p",
                "attribute_not_exists(wanted) OR wanted < :p",
                vec![(":p", n(p.0))],
                "want delivery",
            )
            .await?;
        }
        Ok(())
    }

    async fn claim_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        until: Timestamp,
    ) -> StoreResult<Claim> {
        let old = self
            .update_cursor(
                room,
                "SET lease_id = :l, lease_until = :u REMOVE flush",
                "attribute_not_exists(lease_until) OR lease_until < :now",
                vec![
                    (":l", s(lease.0.to_string())),
                    (":u", millis(until)),
                    (":now", millis(now())),
                ],
                "claim delivery",
            )
            .await?;
        Ok(match old {
            None => Claim::Busy,
            Some(item) => Claim::Claimed {
                delivered: delivered_of(&item)?,
                flush: item.contains_key("flush"),
            },
        })
    }

    async fn release_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        delivered: Position,
        until: Timestamp,
        force: bool,
    ) -> StoreResult<Release> {
        let l = s(lease.0.to_string());
        let condition = if force {
            "lease_id = :l"
        } else {
            "lease_id = :l AND (attribute_not_exists(wanted) OR wanted <= :d) \
             AND attribute_not_exists(flush)"
        };
        let released = self
            .update_cursor(
                room,
                "SET delivered = :d REMOVE lease_id, lease_until",
                condition,
                vec![(":l", l.clone()), (":d", n(delivered.0))],
                "release delivery",
            )
            .await?;
        if released.is_some() {
            return Ok(Release::Released);
        }
        let extended = self
            .update_cursor(
                room,
                "SET delivered = :d, lease_until = :u REMOVE flush",
                "lease_id = :l",
                vec![(":l", l), (":d", n(delivered.0)), (":u", millis(until))],
                "extend delivery",
            )
            .await?;
        Ok(match extended {
            None => Release::Lost,
            Some(item) => Release::More {
                flush: item.contains_key("flush"),
            },
        })
    }
}
