//! Single-item, query and batch operations shared by the adapters, with their error mapping
//! and retry schedules. Transactions are in [`super::txn`].

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest,
};
use serde::de::DeserializeOwned;

use super::item::{
    Item, TABLE_KEY, check_cursor, decode_cursor, expression_values, from_item, key_of, page, s,
};
use crate::store::{Cursor, Order, Page, StoreError, StoreResult};

/// Most keys one `BatchGetItem` may hold.
const MAX_BATCH_GET: usize = 100;

/// Most requests one `BatchWriteItem` may hold.
const MAX_BATCH_WRITE: usize = 25;

/// Most Query calls one page read makes before returning a short page (with a cursor) when
/// many rows are filtered out.
const MAX_QUERY_ROUNDS: usize = 8;

/// Maps an SDK error to a [`StoreError`]: conditional failures become `Conflict(what)`,
/// throttling becomes `Throttled`, everything else `Backend` (with the full context, for logs).
pub fn sdk_error<E, R>(err: SdkError<E, R>, what: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or_default().to_owned();
    match code.as_str() {
        "ConditionalCheckFailedException" => StoreError::Conflict(what),
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => StoreError::Throttled,
        _ => StoreError::Backend(format!("{what}: {}", DisplayErrorContext(err))),
    }
}

/// A `Backend` error for a request that could not be built.
pub(super) fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("build request: {e}"))
}

/// How often a call is tried and how long to wait between tries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retry {
    /// Most attempts, after which the caller gives up (with `Throttled`, mostly).
    pub attempts: u32,
    /// Retry `n` waits about `w = base_ms × 2ⁿ`…
    base_ms: u64,
    /// …with `w` capped at this…
    cap_ms: u64,
    /// …anywhere in `0..=w` (full jitter, spreading competing writers out), or else in
    /// `w..=2w` (backing off from an overloaded table).
    full_jitter: bool,
}

impl Retry {
    /// DynamoDB pushed back (throttling, unprocessed batch items, transaction conflicts):
    /// 8 attempts, exponential backoff from 40–80 ms up to 1.28–2.56 s.
    pub const THROTTLED: Self = Self {
        attempts: 8,
        base_ms: 20,
        cap_ms: 1280,
        full_jitter: false,
    };

    /// An optimistic write lost a race with another writer (a stream append, a like toggle):
    /// 50 attempts, a random pause of at most 4, 8, 16, then 25 ms, so competing writers spread
    /// out instead of colliding again.
    pub const CONTENDED: Self = Self {
        attempts: 50,
        base_ms: 2,
        cap_ms: 25,
        full_jitter: true,
    };

    /// Sleeps before retry `attempt` (1, 2, …).
    pub async fn backoff(self, attempt: u32) {
        let wait = self
            .base_ms
            .saturating_mul(1 << attempt.min(16))
            .min(self.cap_ms);
        let ms = if self.full_jitter {
            fastrand::u64(0..=wait)
        } else {
            wait + fastrand::u64(0..=wait)
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// A strongly consistent `GetItem`.
pub(super) async fn get_item(client: &Client, table: &str, key: Item) -> StoreResult<Option<Item>> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error(e, "get_item"))?;
    Ok(out.item.filter(|i| !i.is_empty()))
}

/// The entity stored under `key`, read with [`get_item`].
pub(super) async fn get_entity<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    key: Item,
) -> StoreResult<Option<T>> {
    get_item(client, table, key)
        .await?
        .map(from_item)
        .transpose()
}

/// A `PutItem`, optionally conditional: a failed condition is `Conflict(what)`.
pub(super) async fn put_item(
    client: &Client,
    table: &str,
    item: Item,
    condition: Option<&str>,
    what: &'static str,
) -> StoreResult<()> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .send()
        .await
        .map_err(|e| sdk_error(e, what))?;
    Ok(())
}

/// Puts `item` unless an item with its key exists (then `Conflict(what)`).
pub(super) async fn put_new(
    client: &Client,
    table: &str,
    item: Item,
    what: &'static str,
) -> StoreResult<()> {
    put_item(client, table, item, Some("attribute_not_exists(pk)"), what).await
}

/// A `Query` of `table`, or of its index `index`, for the key condition `condition` with the
/// expression values `values` (`:name` → value). Set the direction or a consistent read on it,
/// then read it with [`query_page`] or [`query_all`].
pub(super) fn query(
    client: &Client,
    table: &str,
    index: Option<&str>,
    condition: &str,
    values: Vec<(&str, AttributeValue)>,
) -> QueryFluentBuilder {
    client
        .query()
        .table_name(table)
        .set_index_name(index.map(str::to_owned))
        .key_condition_expression(condition)
        .set_expression_attribute_values(expression_values(values))
}

/// Reads one page of `query`: up to `limit` (at least 1) items that `accept` maps to `Some`,
/// starting after `start`. Returns them with the key to resume after when more rows may
/// follow (`key_attrs` are the attributes of such a key: the table's, plus the index's for an
/// index query). Reads one row past the page so that the last page ends without a cursor
/// when nothing follows it; gives up after a few Query calls, returning a short page with a
/// cursor, when many rows are filtered out.
pub(super) async fn query_page<T, F>(
    query: QueryFluentBuilder,
    key_attrs: &[&str],
    limit: usize,
    start: Option<Item>,
    what: &'static str,
    mut accept: F,
) -> StoreResult<(Vec<T>, Option<Item>)>
where
    F: FnMut(Item) -> StoreResult<Option<T>> + Send,
    T: Send,
{
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut start = start;
    // The key of the last row read, so far.
    let mut last = None;
    for _ in 0..MAX_QUERY_ROUNDS {
        let want = i32::try_from((limit - out.len()).saturating_add(1)).unwrap_or(i32::MAX);
        let resp = query
            .clone()
            .limit(want)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error(e, what))?;
        for item in resp.items.unwrap_or_default() {
            if out.len() == limit {
                // A row follows the full page: resume after the page's last row.
                return Ok((out, last));
            }
            last = Some(key_of(&item, key_attrs)?);
            if let Some(t) = accept(item)? {
                out.push(t);
            }
        }
        match resp.last_evaluated_key.filter(|k| !k.is_empty()) {
            None => return Ok((out, None)),
            Some(lek) => start = Some(lek),
        }
    }
    Ok((out, start))
}

/// One page of the rows of partition `pk` whose sort key begins with `prefix`, strongly
/// consistent, resuming after `cursor` (pinned to that partition and prefix): the rows a
/// partition keeps beside others (bans, the moderation log, the pending queue).
#[allow(clippy::too_many_arguments)]
pub(super) async fn prefix_page<T, F>(
    client: &Client,
    table: &str,
    pk: String,
    prefix: &str,
    order: Order,
    limit: usize,
    cursor: Option<&Cursor>,
    what: &'static str,
    accept: F,
) -> StoreResult<Page<T>>
where
    F: FnMut(Item) -> StoreResult<Option<T>> + Send,
    T: Send,
{
    let start = cursor
        .map(|c| decode_cursor(c, &TABLE_KEY, &[("pk", &pk)]))
        .transpose()?;
    check_cursor(start.as_ref(), "sk", |sk| sk.starts_with(prefix))?;
    let q = query(
        client,
        table,
        None,
        "pk = :pk AND begins_with(sk, :prefix)",
        vec![(":pk", s(pk)), (":prefix", s(prefix))],
    )
    .consistent_read(true)
    .scan_index_forward(order == Order::Oldest);
    let (items, last) = query_page(q, &TABLE_KEY, limit, start, what, accept).await?;
    page(items, last)
}

/// Reads every row of `query`, following `LastEvaluatedKey`, keeping those `accept` maps to
/// `Some`.
pub(super) async fn query_all<T, F>(
    query: QueryFluentBuilder,
    what: &'static str,
    mut accept: F,
) -> StoreResult<Vec<T>>
where
    F: FnMut(Item) -> StoreResult<Option<T>> + Send,
    T: Send,
{
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let resp = query
            .clone()
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| sdk_error(e, what))?;
        for item in resp.items.unwrap_or_default() {
            if let Some(t) = accept(item)? {
                out.push(t);
            }
        }
        match resp.last_evaluated_key {
            Some(lek) if !lek.is_empty() => start = Some(lek),
            _ => return Ok(out),
        }
    }
}

/// A global secondary index of Banter's tables: `gsiN`, keyed by `gsiNpk` / `gsiNsk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gsi {
    /// `gsi1`.
    Gsi1,
    /// `gsi2`.
    Gsi2,
}

impl Gsi {
    /// The index name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gsi1 => "gsi1",
            Self::Gsi2 => "gsi2",
        }
    }

    /// The index's partition key attribute.
    fn pk(self) -> &'static str {
        match self {
            Self::Gsi1 => "gsi1pk",
            Self::Gsi2 => "gsi2pk",
        }
    }

    /// The key attributes of an index entry (the table's and the index's): what a cursor over
    /// the index holds.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Self::Gsi1 => &["pk", "sk", "gsi1pk", "gsi1sk"],
            Self::Gsi2 => &["pk", "sk", "gsi2pk", "gsi2sk"],
        }
    }
}

/// One partition of a global secondary index, read in sort-key order (`forward`) or reversed.
#[derive(Debug, Clone, Copy)]
pub(super) struct GsiPartition<'a> {
    /// The index.
    pub gsi: Gsi,
    /// The partition (the value of the index's partition key).
    pub pk: &'a str,
    /// `ScanIndexForward`.
    pub forward: bool,
}

/// One page of a GSI partition, with [`query_page`]: up to `limit` items that `accept` maps to
/// `Some`, resuming after `cursor`, which must be pinned to the partition (one issued for
/// another partition is `InvalidCursor`).
pub(super) async fn gsi_page<T, F>(
    client: &Client,
    table: &str,
    partition: GsiPartition<'_>,
    limit: usize,
    cursor: Option<&Cursor>,
    what: &'static str,
    accept: F,
) -> StoreResult<Page<T>>
where
    F: FnMut(Item) -> StoreResult<Option<T>> + Send,
    T: Send,
{
    let GsiPartition { gsi, pk, forward } = partition;
    let start = cursor
        .map(|c| decode_cursor(c, gsi.key(), &[(gsi.pk(), pk)]))
        .transpose()?;
    let condition = format!("{} = :pk", gsi.pk());
    let query = query(
        client,
        table,
        Some(gsi.name()),
        &condition,
        vec![(":pk", s(pk))],
    )
    .scan_index_forward(forward);
    let (items, next) = query_page(query, gsi.key(), limit, start, what, accept).await?;
    page(items, next)
}

/// Sends `requests` in calls of at most `per_call`, with `send`, which returns what the call
/// produced and the requests it left unprocessed; those are sent again, with
/// [`Retry::THROTTLED`] backoff. Returns everything the calls produced.
async fn send_batched<T, O, F, Fut>(
    requests: Vec<T>,
    per_call: usize,
    mut send: F,
) -> StoreResult<Vec<O>>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = StoreResult<(Vec<O>, Vec<T>)>>,
{
    let retry = Retry::THROTTLED;
    let mut out = Vec::new();
    let mut requests = requests.into_iter();
    loop {
        let mut pending: Vec<T> = requests.by_ref().take(per_call).collect();
        if pending.is_empty() {
            return Ok(out);
        }
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt > 0 {
                if attempt >= retry.attempts {
                    return Err(StoreError::Throttled);
                }
                retry.backoff(attempt).await;
            }
            attempt += 1;
            let (done, unprocessed) = send(pending).await?;
            out.extend(done);
            pending = unprocessed;
        }
    }
}

/// Gets the items with `keys` (distinct) from `table` with `BatchGetItem`, 100 keys per call,
/// retrying unprocessed keys with backoff. Missing items are left out; the order is not kept.
pub(super) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    consistent: bool,
    what: &'static str,
) -> StoreResult<Vec<Item>> {
    send_batched(keys, MAX_BATCH_GET, |keys| async move {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .map_err(build_error)?;
        let resp = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| sdk_error(e, what))?;
        let found = resp
            .responses
            .and_then(|mut r| r.remove(table))
            .unwrap_or_default();
        let unprocessed = resp
            .unprocessed_keys
            .and_then(|mut u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default();
        Ok((found, unprocessed))
    })
    .await
}

/// Applies `requests` to `table` with `BatchWriteItem`, 25 per call, retrying unprocessed
/// items with backoff. The requests must not touch one key twice within 25 of each other.
pub(super) async fn batch_write(
    client: &Client,
    table: &str,
    requests: Vec<WriteRequest>,
    what: &'static str,
) -> StoreResult<()> {
    let _: Vec<()> = send_batched(requests, MAX_BATCH_WRITE, |requests| async move {
        let resp = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(|e| sdk_error(e, what))?;
        let unprocessed = resp
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
        Ok((Vec::new(), unprocessed))
    })
    .await?;
    Ok(())
}

/// A batch-write request that puts `item`.
pub(super) fn put_request(item: Item) -> StoreResult<WriteRequest> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(build_error)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

/// A batch-write request that deletes the item with `key`.
pub(super) fn delete_request(key: Item) -> StoreResult<WriteRequest> {
    let delete = DeleteRequest::builder()
        .set_key(Some(key))
        .build()
        .map_err(build_error)?;
    Ok(WriteRequest::builder().delete_request(delete).build())
}
