//! `RateLimitStore` over DynamoDB (table `rate_limits`; layout in `docs/data-model.md`).
//!
//! A window counter is one item `RL#<key>` / `<window start epoch seconds>`, counted with
//! `UpdateItem ADD count :1`, with `ttl_epoch` = window end + 60 s.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Duration};

use super::item::{get_n, key, n};
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
