//! `RateLimitStore` over DynamoDB (table `rate_limits`; layout in `docs/data-model.md`).
//!
//! A window counter is one item `RL#<key>` / `<window start epoch seconds>`, counted with
//! `UpdateItem ADD count :1`, with `ttl_epoch` = window end + 60 s. A turn (slow mode) is one
//! item `TURN#<key>` / `TURN` holding `next_ms`, when the next turn opens, set with a
//! conditional `UpdateItem` that fails while `next_ms` is in the future.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration};

use super::item::{Item, get_n, key, n};
use super::ops::{get_item, sdk_error};
use crate::store::{RateLimitStore, StoreError, StoreResult, WindowCount};
use crate::time::Timestamp;

/// `RateLimitStore` over the `rate_limits` table.
#[derive(Clone)]
pub struct DynamoRateLimitStore {
    client: Client,
    table: String,
}

impl DynamoRateLimitStore {
    /// The store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }
}

/// How long a counter outlives its window before TTL may delete it.
const TTL_MARGIN_SECONDS: i64 = 60;

#[async_trait]
impl RateLimitStore for DynamoRateLimitStore {
    /// The window is `[floor(now / window) * window, + window)` in epoch seconds; a window
    /// shorter than one second is a `Backend` error.
    async fn hit(
        &self,
        key_name: &str,
        window: Duration,
        now: Timestamp,
    ) -> StoreResult<WindowCount> {
        let len = window.num_seconds();
        if len <= 0 {
            return Err(StoreError::Backend(
                "rate-limit window must be at least 1 s".into(),
            ));
        }
        let start = now.timestamp().div_euclid(len) * len;
        let end = start + len;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("RL#{key_name}"), start.to_string())))
            .update_expression("ADD #count :one SET ttl_epoch = :ttl")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(end + TTL_MARGIN_SECONDS))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error(e, "rate limit"))?;
        let attributes = out
            .attributes
            .ok_or_else(|| StoreError::Backend("rate limit: no attributes returned".into()))?;
        let count: u64 = get_n(&attributes, "count")?;
        let resets_at = DateTime::from_timestamp(end, 0)
            .ok_or_else(|| StoreError::Backend("rate limit: window end out of range".into()))?;
        Ok(WindowCount { count, resets_at })
    }

    /// One conditional `UpdateItem`: `SET next_ms = now + gap IF attribute_not_exists(next_ms)
    /// OR next_ms <= now`; a refusal returns the item as it was (no second read).
    async fn take_turn(
        &self,
        key_name: &str,
        gap: Duration,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        let next = now + gap;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("TURN#{key_name}"), "TURN")))
            .update_expression("SET next_ms = :next, ttl_epoch = :ttl")
            .condition_expression("attribute_not_exists(next_ms) OR next_ms <= :now")
            .expression_attribute_values(":next", n(next.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":ttl", n(next.timestamp() + TTL_MARGIN_SECONDS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match out {
            Ok(_) => return Ok(None),
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(refused)) = e.as_service_error()
        else {
            return Err(sdk_error(e, "take turn"));
        };
        let ms: i64 = get_n(refused.item().unwrap_or(&Item::new()), "next_ms")?;
        DateTime::from_timestamp_millis(ms)
            .map(Some)
            .ok_or_else(|| StoreError::Backend("take turn: next_ms out of range".into()))
    }

    /// A consistent `GetItem` of the window's counter.
    async fn peek(
        &self,
        key_name: &str,
        window: Duration,
        now: Timestamp,
    ) -> StoreResult<WindowCount> {
        let (start, end) = crate::store::memory::rate_limits::window_bounds(window, now)?;
        let item = get_item(
            &self.client,
            &self.table,
            key(format!("RL#{key_name}"), start.to_string()),
        )
        .await?;
        let count: u64 = match item {
            Some(item) if item.contains_key("count") => get_n(&item, "count")?,
            _ => 0,
        };
        let resets_at = DateTime::from_timestamp(end, 0)
            .ok_or_else(|| StoreError::Backend("rate limit: window end out of range".into()))?;
        Ok(WindowCount { count, resets_at })
    }
}
