//! DynamoDB store adapters. Key layout and access patterns: `docs/data-model.md`.
//! Every access is a Get, BatchGet, Query or (transactional) conditional write: never a Scan.

pub mod comments;
pub mod connections;
pub mod conversations;
pub mod events;
pub mod likes;
pub mod messages;
pub mod rate_limits;
pub mod sessions;
pub mod tables;
pub mod users;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Cursor, StoreError, StoreResult};
use crate::time::Timestamp;
use tables::TTL_ATTRIBUTE;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The primary key `{pk, sk}`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// Serializes an entity into an item and adds the key attributes `keys` (pk, sk, gsi keys…).
pub fn to_item<T: Serialize>(entity: &T, keys: &[(&str, String)]) -> StoreResult<Item> {
    let mut item: Item =
        serde_dynamo::to_item(entity).map_err(|e| StoreError::Backend(format!("encode: {e}")))?;
    // serde_dynamo writes `None` as NULL; leaving such attributes out keeps items small and
    // keeps sparse GSIs sparse.
    item.retain(|_, v| !matches!(v, AttributeValue::Null(true)));
    for (k, v) in keys {
        item.insert((*k).to_owned(), s(v.clone()));
    }
    Ok(item)
}

/// Deserializes an entity from an item (key and bookkeeping attributes are ignored).
pub fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Backend(format!("decode: {e}")))
}

/// Adds the TTL attribute for `expires_at` to an item.
pub fn with_ttl(mut item: Item, expires_at: Timestamp) -> Item {
    item.insert(TTL_ATTRIBUTE.to_owned(), n(expires_at.timestamp()));
    item
}

/// Whether an item's TTL has passed at `now` (items without TTL never expire). DynamoDB
/// deletes expired items late and moto never does, so every read checks this.
pub fn is_expired(item: &Item, now: Timestamp) -> bool {
    match item.get(TTL_ATTRIBUTE) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().is_ok_and(|t| t <= now.timestamp()),
        _ => false,
    }
}

/// Reads a string attribute.
pub fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Backend(format!(
            "missing string attribute {name}"
        ))),
    }
}

/// Reads a number attribute.
pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> StoreResult<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Backend(format!("bad number attribute {name}"))),
        _ => Err(StoreError::Backend(format!(
            "missing number attribute {name}"
        ))),
    }
}

/// Encodes a `LastEvaluatedKey` (string attributes only, as all Banter keys are) as a cursor.
pub fn encode_cursor(last_key: &Item) -> StoreResult<Cursor> {
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in last_key {
        match v {
            AttributeValue::S(s) => {
                map.insert(k.clone(), s.clone());
            }
            _ => return Err(StoreError::Backend(format!("non-string key attribute {k}"))),
        }
    }
    let json = serde_json::to_vec(&map).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

/// Decodes a cursor into an `ExclusiveStartKey`, checking that it holds exactly the attributes
/// `expected` and that each `(attribute, value)` in `pinned` matches, so a cursor can't be
/// pointed at another partition.
pub fn decode_cursor(
    cursor: &Cursor,
    expected: &[&str],
    pinned: &[(&str, &str)],
) -> StoreResult<Item> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.0.as_bytes())
        .map_err(|_| StoreError::InvalidCursor)?;
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    if map.len() != expected.len() || !expected.iter().all(|k| map.contains_key(*k)) {
        return Err(StoreError::InvalidCursor);
    }
    for (k, v) in pinned {
        if map.get(*k).map(String::as_str) != Some(*v) {
            return Err(StoreError::InvalidCursor);
        }
    }
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

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

/// The cancellation reason codes of a failed `TransactWriteItems` (one per action, `None`
/// for actions that did not fail), or `None` when the error is not a cancellation.
pub fn cancellation_reasons<R>(
    err: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<Option<String>>> {
    let service = err.as_service_error()?;
    match service {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().filter(|c| *c != "None").map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// Every store over DynamoDB, sharing one client, on the tables `names`.
pub fn stores(client: Client, names: tables::TableNames) -> super::Stores {
    use std::sync::Arc;
    super::Stores {
        users: Arc::new(users::DynamoUserStore::new(
            client.clone(),
            names.users.clone(),
        )),
        sessions: Arc::new(sessions::DynamoSessionStore::new(
            client.clone(),
            names.users.clone(),
        )),
        events: Arc::new(events::DynamoEventStore::new(
            client.clone(),
            names.events.clone(),
        )),
        comments: Arc::new(comments::DynamoCommentStore::new(
            client.clone(),
            names.comments.clone(),
        )),
        likes: Arc::new(likes::DynamoLikeStore::new(
            client.clone(),
            names.comments.clone(),
        )),
        conversations: Arc::new(conversations::DynamoConversationStore::new(
            client.clone(),
            names.conversations.clone(),
        )),
        messages: Arc::new(messages::DynamoMessageStore::new(
            client.clone(),
            names.messages.clone(),
        )),
        connections: Arc::new(connections::DynamoConnectionStore::new(
            client.clone(),
            names.connections.clone(),
        )),
        rate_limits: Arc::new(rate_limits::DynamoRateLimitStore::new(
            client.clone(),
            names.rate_limits.clone(),
        )),
    }
}
