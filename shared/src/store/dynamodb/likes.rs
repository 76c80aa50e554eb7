//! `LikeStore` over DynamoDB (table `comments`; layout in `docs/data-model.md`).
//!
//! A like is the row `(COMMENT#<comment_id>, LIKE#<user_id>)`; the count lives on the comment
//! item `(EVENT#<event_id>, POS#<position>)` as `like_count`, and a top-level comment also
//! carries `gsi2sk = <like_count:020>#<position:020>` for the most-liked listing.
//!
//! # Why an optimistic `SET` rather than `ADD like_count 1`
//!
//! `gsi2sk` embeds the count, and an update expression cannot turn a number into a padded
//! string, so writing the new `gsi2sk` in the same transaction as the count needs the count
//! itself. A toggle therefore reads the like row and the comment (both strongly consistent),
//! then writes one `TransactWriteItems`:
//!
//! - like: `Put` the like row `IF attribute_not_exists(pk)`, and on the comment
//!   `SET like_count = :old + 1, gsi2sk = …` `IF like_count = :old`;
//! - unlike: `Delete` the like row `IF attribute_exists(pk)`, and on the comment
//!   `SET like_count = :old - 1, gsi2sk = …` `IF like_count = :old`.
//!
//! The same transaction marks the comment's counts as changed (`ADD seq 1` on its count
//! marker): the room's stream gets one `comment_counts` entry per flush, not one per toggle.
//!
//! The writes commit together or not at all, so `like_count` always equals the number of like
//! rows and `gsi2sk` always matches `like_count`. A lost race (another toggle changed the count
//! or the same user's like row in between, or a `TransactionConflict`) cancels the whole
//! transaction; the toggle re-reads and retries with jitter, up to `Retry::CONTENDED` times (then
//! `Throttled`). The count returned is exact: it is the value this transaction wrote. Replies
//! have no `gsi2sk` but use the same scheme so that every toggle returns its exact count.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::comments::{comment_item_key, comment_location, comment_pk, popular_sk};
use super::item::{Item, av, get_n, key, n, s};
use super::ops::{Retry, get_item};
use super::streams::dirty_mark;
use super::txn::{transact_once, tx_delete, tx_put, tx_update};
use crate::ids::{CommentId, UserId};
use crate::model::LikeOutcome;
use crate::store::{LikeStore, StoreError, StoreResult};

/// `LikeStore` over the `comments` table.
#[derive(Clone)]
pub struct DynamoLikeStore {
    client: Client,
    table: String,
}

impl DynamoLikeStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    fn like_key(comment: CommentId, user: UserId) -> Item {
        key(comment_pk(comment), format!("LIKE#{user}"))
    }
}

#[async_trait]
impl LikeStore for DynamoLikeStore {
    async fn toggle_like(&self, comment: CommentId, user: UserId) -> StoreResult<LikeOutcome> {
        let Some((event, position)) = comment_location(&self.client, &self.table, comment).await?
        else {
            return Err(StoreError::NotFound);
        };
        let item_key = comment_item_key(event, position);
        let like_key = Self::like_key(comment, user);
        let retry = Retry::CONTENDED;
        for attempt in 0..retry.attempts {
            if attempt > 0 {
                retry.backoff(attempt).await;
            }
            let (like, item) = futures::try_join!(
                get_item(&self.client, &self.table, like_key.clone()),
                get_item(&self.client, &self.table, item_key.clone()),
            )?;
            let Some(item) = item else {
                return Err(StoreError::NotFound);
            };
            let old: u64 = get_n(&item, "like_count")?;
            let liked = like.is_none();
            let new = if liked {
                old + 1
            } else {
                old.saturating_sub(1)
            };
            let top_level = item.contains_key("gsi2pk");

            let like_action = if liked {
                let mut row = like_key.clone();
                row.insert("comment_id".to_owned(), s(comment.to_string()));
                row.insert("user_id".to_owned(), s(user.to_string()));
                row.insert("created_at".to_owned(), av(&crate::time::now())?);
                tx_put(&self.table, row, Some("attribute_not_exists(pk)"))?
            } else {
                tx_delete(&self.table, like_key.clone(), Some("attribute_exists(pk)"))?
            };
            let mut values = vec![(":new", n(new)), (":old", n(old))];
            let update = if top_level {
                values.push((":g", s(popular_sk(new, position))));
                "SET like_count = :new, gsi2sk = :g"
            } else {
                "SET like_count = :new"
            };
            let count_action = tx_update(
                &self.table,
                item_key.clone(),
                update,
                Some("like_count = :old"),
                values,
            )?;
            let mark = dirty_mark(&self.table, event, comment)?;
            match transact_once(&self.client, vec![like_action, count_action, mark], "like").await?
            {
                Ok(()) => {
                    return Ok(LikeOutcome {
                        liked,
                        like_count: new,
                    });
                }
                // Another toggle got there first: look again.
                Err(cancelled) if cancelled.hard_failure().is_none() => {}
                Err(cancelled) => {
                    return Err(StoreError::Backend(format!(
                        "toggle like: transaction cancelled: {cancelled}"
                    )));
                }
            }
        }
        Err(StoreError::Throttled)
    }

    async fn has_liked(&self, comment: CommentId, user: UserId) -> StoreResult<bool> {
        Ok(
            get_item(&self.client, &self.table, Self::like_key(comment, user))
                .await?
                .is_some(),
        )
    }
}
