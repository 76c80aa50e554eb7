//! `CommentStore` over DynamoDB (table `comments`; layout in `docs/data-model.md`).
//!
//! This module also holds the reads shared by the position-ordered streams (comments here,
//! messages in `messages.rs`): the head and window reads. Appending is in
//! [`append`](super::append).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use super::append::{AppendActions, AppendRefused, Counted, append_to_stream, committed_through};
use super::claims::{claim_put, claimed_id};
use super::item::{Item, TABLE_KEY, av, from_item, get_n, key, n, parse_s, s, to_item};
use super::ops::{
    Gsi, GsiPartition, get_entity, get_item, gsi_page, prefix_page, query, query_page,
};
use super::streams::{dirty_mark, entry_put};
use super::txn::{tx_delete, tx_put, tx_update};
use crate::ids::{ClientKey, CommentId, EventId, UserId};
use crate::model::{Change, Comment, ModerationAction, ModerationStatus, NewComment};
use crate::room::Position;
use crate::store::{
    Appended, CommentStore, Cursor, Order, Page, Slice, StoreError, StoreResult, Window,
};
use crate::time::Timestamp;

// ---------------------------------------------------------------------------------------------
// Position-ordered streams (also used by messages.rs).
// ---------------------------------------------------------------------------------------------

/// Sort key of a stream head item (`(EVENT#e | CONV#c, HEAD)`).
pub(super) const HEAD_SK: &str = "HEAD";

/// Largest page a window read returns.
const MAX_WINDOW: usize = 1000;

/// Sort key of the item at position `p` of a stream: `POS#<p:020>`.
pub(super) fn pos_sk(p: Position) -> String {
    format!("POS#{}", p.key())
}

/// Reads the window `window` of the stream in partition `pk` (positions strictly between
/// `after` and `before`) with a strongly consistent `Query … sk BETWEEN`, so a catch-up read
/// returns every committed position. Returns the entities and whether more lie beyond.
pub(super) async fn query_window<T: DeserializeOwned + Send>(
    client: &Client,
    table: &str,
    pk: &str,
    window: Window,
) -> StoreResult<(Vec<T>, bool)> {
    let limit = window.limit.clamp(1, MAX_WINDOW);
    let lo = window.after.map_or(1, |a| a.0.saturating_add(1)).max(1);
    let asked_hi = match window.before {
        Some(b) => match b.0.checked_sub(1) {
            Some(h) => h,
            None => return Ok((Vec::new(), false)),
        },
        None => u64::MAX,
    };
    // A resume read (`after`) must not pass a position still reserved: its item may commit
    // after this read, below what the reader then holds. So it first finds how far every
    // position is committed (the entry keys), then reads items only up to there: an entry
    // seen means its transaction committed, item included.
    let mut hi = asked_hi;
    let mut beyond = false;
    if let Some(after) = window.after {
        let probe = Position(
            after
                .0
                .saturating_add((limit as u64).saturating_mul(4))
                .min(asked_hi),
        );
        let through = committed_through(client, table, pk, after, probe).await?;
        hi = hi.min(through.0);
        beyond = through == probe && probe.0 < asked_hi;
    }
    if lo > hi {
        return Ok((Vec::new(), false));
    }
    let query = query(
        client,
        table,
        None,
        "pk = :pk AND sk BETWEEN :lo AND :hi",
        vec![
            (":pk", s(pk)),
            (":lo", s(pos_sk(Position(lo)))),
            (":hi", s(pos_sk(Position(hi)))),
        ],
    )
    .scan_index_forward(window.order == Order::Oldest)
    .consistent_read(true);
    let (items, next) = query_page(query, &TABLE_KEY, limit, None, "list window", |item| {
        from_item(item).map(Some)
    })
    .await?;
    Ok((items, next.is_some() || beyond))
}

/// The committed head (`seq`) of the stream in partition `pk`, read strongly consistently
/// (0 for an empty stream).
pub(super) async fn read_head(client: &Client, table: &str, pk: &str) -> StoreResult<u64> {
    match get_item(client, table, key(pk, HEAD_SK)).await? {
        Some(item) => get_n(&item, "seq"),
        None => Ok(0),
    }
}

// ---------------------------------------------------------------------------------------------
// Comments.
// ---------------------------------------------------------------------------------------------

/// Partition of an event's comment stream.
pub(super) fn event_pk(event: EventId) -> String {
    format!("EVENT#{event}")
}

/// Partition of a comment's pointer and likes.
pub(super) fn comment_pk(id: CommentId) -> String {
    format!("COMMENT#{id}")
}

/// `gsi2sk` of a top-level comment: most liked first, then newest, when read backwards.
pub(super) fn popular_sk(like_count: u64, position: Position) -> String {
    format!("{like_count:020}#{}", position.key())
}

/// Where a comment lives: its event and position, from its pointer (strongly consistent).
pub(super) async fn comment_location(
    client: &Client,
    table: &str,
    id: CommentId,
) -> StoreResult<Option<(EventId, Position)>> {
    let Some(item) = get_item(client, table, key(comment_pk(id), "REF")).await? else {
        return Ok(None);
    };
    Ok(Some((
        parse_s(&item, "event_id")?,
        Position(get_n(&item, "position")?),
    )))
}

/// The key of the comment item at `position` of `event`.
pub(super) fn comment_item_key(event: EventId, position: Position) -> Item {
    key(event_pk(event), pos_sk(position))
}

/// The item of a comment, with its key and GSI attributes.
fn comment_to_item(c: &Comment) -> StoreResult<Item> {
    let mut keys = vec![("pk", event_pk(c.event_id)), ("sk", pos_sk(c.position))];
    match c.parent_comment_id {
        Some(parent) => {
            keys.push(("gsi1pk", format!("PARENT#{parent}")));
            keys.push(("gsi1sk", pos_sk(c.position)));
        }
        None => {
            keys.push(("gsi2pk", format!("TOP#{}", c.event_id)));
            keys.push(("gsi2sk", popular_sk(c.like_count, c.position)));
        }
    }
    to_item(c, &keys)
}

/// `CommentStore` over the `comments` table.
#[derive(Clone)]
pub struct DynamoCommentStore {
    client: Client,
    table: String,
}

/// Key of the pending-queue marker of the comment at `position` of `event`.
fn pending_key(event: EventId, position: Position) -> Item {
    key(event_pk(event), format!("PENDING#{}", position.key()))
}

/// The pending-queue marker of `c`: a copy of the comment under [`pending_key`], written
/// with a pending comment and deleted when a moderator decides or it is deleted, so the
/// queue is one Query of the event's partition.
fn pending_item(c: &Comment) -> StoreResult<Item> {
    to_item(
        c,
        &[
            ("pk", event_pk(c.event_id)),
            ("sk", format!("PENDING#{}", c.position.key())),
        ],
    )
}

/// The idempotency claim of `user`'s `client_key` in `event`.
fn claim_key(event: EventId, user: UserId, client_key: &ClientKey) -> Item {
    key(format!("CLIENT#{event}#{user}#{client_key}"), "COMMENT")
}

impl DynamoCommentStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The comment at a known location.
    async fn comment_at(&self, event: EventId, position: Position) -> StoreResult<Option<Comment>> {
        get_entity(&self.client, &self.table, comment_item_key(event, position)).await
    }

    /// The key of the comment item with `id`, or `NotFound`.
    async fn item_key_of(&self, id: CommentId) -> StoreResult<Item> {
        match comment_location(&self.client, &self.table, id).await? {
            Some((event, position)) => Ok(comment_item_key(event, position)),
            None => Err(StoreError::NotFound),
        }
    }

    /// The comment an earlier append with the same claim (or the same comment id) stored.
    /// A live claim on the same key for another request is a conflict.
    async fn original(&self, new: &NewComment) -> StoreResult<Comment> {
        let mut id = new.comment_id;
        if let Some(client_key) = &new.client_key {
            let claim = claim_key(new.event_id, new.user_id, client_key);
            let claim = get_item(&self.client, &self.table, claim).await?;
            if let Some(claimed) =
                claimed_id(claim, "comment_id", &new.fingerprint(), new.created_at)?
            {
                id = claimed;
            }
        }
        self.get_comment(id)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("claimed comment {id} is missing")))
    }
}

#[async_trait]
impl CommentStore for DynamoCommentStore {
    /// One Query of the event's `PENDING#` markers (copies of the pending comments).
    async fn list_pending(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Comment>> {
        prefix_page(
            &self.client,
            &self.table,
            event_pk(event),
            "PENDING#",
            Order::Oldest,
            limit,
            cursor,
            "list pending",
            |item| from_item(item).map(Some),
        )
        .await
    }

    async fn claimed_comment(&self, new: &NewComment) -> StoreResult<Option<Comment>> {
        let Some(client_key) = &new.client_key else {
            return Ok(None);
        };
        let claim = claim_key(new.event_id, new.user_id, client_key);
        let claim = get_item(&self.client, &self.table, claim).await?;
        match claimed_id::<CommentId>(claim, "comment_id", &new.fingerprint(), new.created_at)? {
            Some(id) => self.get_comment(id).await,
            None => Ok(None),
        }
    }

    async fn append_comment(&self, comment: NewComment) -> StoreResult<Appended<Comment>> {
        // A reply's parent must exist in the same event; its item key comes from its pointer.
        let parent_key = match comment.parent_comment_id {
            Some(parent) => match comment_location(&self.client, &self.table, parent).await? {
                Some((event, position)) if event == comment.event_id => {
                    Some(comment_item_key(event, position))
                }
                _ => return Err(StoreError::NotFound),
            },
            None => None,
        };
        let table = self.table.as_str();
        let stream = event_pk(comment.event_id);
        let outcome = append_to_stream(&self.client, table, &stream, Counted::Comment, |p| {
            let c = comment.clone().into_comment(p);
            let mut actions = vec![
                tx_put(
                    table,
                    comment_to_item(&c)?,
                    Some("attribute_not_exists(pk)"),
                )?,
                tx_put(
                    table,
                    HashMap::from([
                        ("pk".to_owned(), s(comment_pk(c.comment_id))),
                        ("sk".to_owned(), s("REF")),
                        ("event_id".to_owned(), s(c.event_id.to_string())),
                        ("position".to_owned(), n(p.0)),
                    ]),
                    Some("attribute_not_exists(pk)"),
                )?,
            ];
            let mut idempotency = vec![1];
            if let Some(client_key) = &comment.client_key {
                idempotency.push(actions.len());
                actions.push(claim_put(
                    table,
                    claim_key(c.event_id, c.user_id, client_key),
                    "comment_id",
                    c.comment_id.to_string(),
                    &comment.fingerprint(),
                    c.created_at,
                    comment.claim_window,
                )?);
            }
            let mut parent = None;
            if let (Some(parent_key), Some(parent_id)) = (&parent_key, c.parent_comment_id) {
                parent = Some(actions.len());
                actions.push(tx_update(
                    table,
                    parent_key.clone(),
                    "ADD reply_count :one",
                    Some("attribute_exists(pk)"),
                    vec![(":one", n(1))],
                )?);
                actions.push(dirty_mark(table, c.event_id, parent_id)?);
            }
            actions.push(entry_put(
                table,
                &stream,
                p,
                c.created_at,
                Change::CommentCreated { comment: c.clone() },
            )?);
            if c.moderation_status == ModerationStatus::Pending {
                actions.push(tx_put(table, pending_item(&c)?, None)?);
            }
            Ok(AppendActions {
                actions,
                idempotency,
                parent,
            })
        })
        .await?;
        match outcome {
            Ok(p) => Ok(Appended {
                item: comment.into_comment(p),
                created: true,
            }),
            Err(AppendRefused::AlreadyDone) => Ok(Appended {
                item: self.original(&comment).await?,
                created: false,
            }),
            Err(AppendRefused::ParentMissing) => Err(StoreError::NotFound),
        }
    }

    async fn get_comment(&self, id: CommentId) -> StoreResult<Option<Comment>> {
        match comment_location(&self.client, &self.table, id).await? {
            Some((event, position)) => self.comment_at(event, position).await,
            None => Ok(None),
        }
    }

    async fn list_comments(&self, event: EventId, window: Window) -> StoreResult<Slice<Comment>> {
        let (items, has_more) =
            query_window(&self.client, &self.table, &event_pk(event), window).await?;
        Ok(Slice { items, has_more })
    }

    async fn list_popular(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Comment>> {
        let limit = limit.clamp(1, MAX_WINDOW);
        let partition = GsiPartition {
            gsi: Gsi::Gsi2,
            pk: &format!("TOP#{event}"),
            forward: false,
        };
        gsi_page(
            &self.client,
            &self.table,
            partition,
            limit,
            cursor,
            "list popular",
            |item| from_item(item).map(Some),
        )
        .await
    }

    async fn list_replies(
        &self,
        parent: CommentId,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Slice<Comment>> {
        let limit = limit.clamp(1, MAX_WINDOW);
        let lo = after.map_or(1, |a| a.0.saturating_add(1)).max(1);
        let query = query(
            &self.client,
            &self.table,
            Some(Gsi::Gsi1.name()),
            "gsi1pk = :pk AND gsi1sk BETWEEN :lo AND :hi",
            vec![
                (":pk", s(format!("PARENT#{parent}"))),
                (":lo", s(pos_sk(Position(lo)))),
                (":hi", s(pos_sk(Position(u64::MAX)))),
            ],
        )
        .scan_index_forward(true);
        let (items, next) = query_page(
            query,
            Gsi::Gsi1.key(),
            limit,
            None,
            "list replies",
            |item| from_item(item).map(Some),
        )
        .await?;
        Ok(Slice {
            items,
            has_more: next.is_some(),
        })
    }

    /// Reads the comment, then in one transaction sets the delete (`IF is_deleted = false`)
    /// and appends `comment_deleted` to the event's stream. Only the first delete writes, so
    /// the first `deleted_at` / `deleted_by` stay; a later one returns the comment as stored.
    async fn delete_comment(
        &self,
        id: CommentId,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment> {
        let item_key = self.item_key_of(id).await?;
        let current: Comment = get_entity(&self.client, &self.table, item_key.clone())
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.is_deleted {
            return Ok(current);
        }
        let deleted = Comment {
            is_deleted: true,
            deleted_at: Some(now),
            deleted_by: Some(by),
            updated_at: now,
            ..current
        };
        let table = self.table.as_str();
        let stream = event_pk(deleted.event_id);
        let pending = deleted.moderation_status == ModerationStatus::Pending;
        let outcome = append_to_stream(&self.client, table, &stream, Counted::No, |p| {
            let mut actions = vec![
                tx_update(
                    table,
                    item_key.clone(),
                    "SET is_deleted = :t, deleted_at = :now, deleted_by = :by, \
                     updated_at = :now",
                    Some("attribute_exists(pk) AND is_deleted = :f"),
                    vec![
                        (":t", AttributeValue::Bool(true)),
                        (":f", AttributeValue::Bool(false)),
                        (":now", av(&now)?),
                        (":by", s(by.to_string())),
                    ],
                )?,
                entry_put(
                    table,
                    &stream,
                    p,
                    now,
                    Change::CommentDeleted {
                        comment: deleted.clone(),
                    },
                )?,
            ];
            if pending {
                actions.push(tx_delete(
                    table,
                    pending_key(deleted.event_id, deleted.position),
                    None,
                )?);
            }
            Ok(AppendActions {
                actions,
                idempotency: vec![0],
                parent: None,
            })
        })
        .await?;
        match outcome {
            Ok(_) => Ok(deleted),
            Err(_) => get_entity(&self.client, &self.table, item_key)
                .await?
                .ok_or(StoreError::NotFound),
        }
    }

    /// Reads the comment, then in one transaction applies the action and appends
    /// `comment_moderated` to the event's stream.
    async fn moderate_comment(
        &self,
        id: CommentId,
        action: ModerationAction,
        reason: Option<String>,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment> {
        let item_key = self.item_key_of(id).await?;
        let current: Comment = get_entity(&self.client, &self.table, item_key.clone())
            .await?
            .ok_or(StoreError::NotFound)?;
        let was_pending = current.moderation_status == ModerationStatus::Pending;
        let updated = Comment {
            moderation_status: action.status(),
            moderation_reason: reason.clone(),
            moderated_by: Some(by),
            updated_at: now,
            ..current
        };
        let table = self.table.as_str();
        let stream = event_pk(updated.event_id);
        let outcome = append_to_stream(&self.client, table, &stream, Counted::No, |p| {
            let mut values = vec![
                (":s", av(&action.status())?),
                (":by", s(by.to_string())),
                (":now", av(&now)?),
            ];
            let update = match &reason {
                Some(r) => {
                    values.push((":r", s(r.clone())));
                    "SET moderation_status = :s, moderated_by = :by, updated_at = :now, \
                     moderation_reason = :r"
                }
                None => {
                    "SET moderation_status = :s, moderated_by = :by, updated_at = :now \
                     REMOVE moderation_reason"
                }
            };
            let mut actions = vec![
                tx_update(
                    table,
                    item_key.clone(),
                    update,
                    Some("attribute_exists(pk)"),
                    values,
                )?,
                entry_put(
                    table,
                    &stream,
                    p,
                    now,
                    Change::CommentModerated {
                        comment: updated.clone(),
                        action,
                        was_pending,
                    },
                )?,
            ];
            if was_pending {
                // Out of the queue: a moderator decided.
                actions.push(tx_delete(
                    table,
                    pending_key(updated.event_id, updated.position),
                    None,
                )?);
            }
            Ok(AppendActions {
                actions,
                idempotency: Vec::new(),
                parent: Some(0),
            })
        })
        .await?;
        match outcome {
            Ok(_) => Ok(updated),
            Err(_) => Err(StoreError::NotFound),
        }
    }

    async fn head(&self, event: EventId) -> StoreResult<Position> {
        read_head(&self.client, &self.table, &event_pk(event))
            .await
            .map(Position)
    }

    async fn comment_count(&self, event: EventId) -> StoreResult<u64> {
        match get_item(&self.client, &self.table, key(event_pk(event), HEAD_SK)).await? {
            Some(item) if item.contains_key("comments") => get_n(&item, "comments"),
            _ => Ok(0),
        }
    }
}
