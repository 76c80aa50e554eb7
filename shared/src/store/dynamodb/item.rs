//! Items and attributes: building items from entities and back, reading single attributes,
//! TTL, and turning a page's last key into a [`Cursor`] and back.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tables::TTL_ATTRIBUTE;
use crate::store::{Cursor, Page, StoreError, StoreResult};
use crate::time::Timestamp;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Key attributes of a base-table row: what a cursor over a base-table query holds.
pub(super) const TABLE_KEY: [&str; 2] = ["pk", "sk"];

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

/// `(":name", value)` pairs as expression attribute values (`None` when there are none).
pub(super) fn expression_values(
    values: Vec<(&str, AttributeValue)>,
) -> Option<HashMap<String, AttributeValue>> {
    (!values.is_empty()).then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Serializes one value the way [`to_item`] serializes entity fields, for update expressions.
pub(super) fn av<T: Serialize>(v: &T) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(v).map_err(|e| StoreError::Backend(format!("encode: {e}")))
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

/// Parses a string attribute into a typed value (an id, a room…).
pub(super) fn parse_s<T: std::str::FromStr>(item: &Item, name: &str) -> StoreResult<T> {
    get_s(item, name)?
        .parse()
        .map_err(|_| StoreError::Backend(format!("bad attribute {name}")))
}

/// The attributes `attrs` of `item`: the key a cursor resumes after.
pub(super) fn key_of(item: &Item, attrs: &[&str]) -> StoreResult<Item> {
    attrs
        .iter()
        .map(|a| {
            item.get(*a)
                .map(|v| ((*a).to_owned(), v.clone()))
                .ok_or_else(|| StoreError::Backend(format!("item without key attribute {a}")))
        })
        .collect()
}

/// Encodes a `LastEvaluatedKey` (string attributes only, as all Banter keys are) as a cursor.
pub fn encode_cursor(last_key: &Item) -> StoreResult<Cursor> {
    let mut map = BTreeMap::new();
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
    let map: BTreeMap<String, String> =
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

/// Checks that the string attribute `attr` of a decoded cursor (if any) passes `ok` (lies in
/// the key range the listing reads): `InvalidCursor` otherwise.
pub(super) fn check_cursor(
    start: Option<&Item>,
    attr: &str,
    ok: impl FnOnce(&str) -> bool,
) -> StoreResult<()> {
    match start {
        Some(start)
            if !start
                .get(attr)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|v| ok(v)) =>
        {
            Err(StoreError::InvalidCursor)
        }
        _ => Ok(()),
    }
}

/// A page of `items` whose cursor resumes after `last_key` (`None`: the listing ends here).
pub(super) fn page<T>(items: Vec<T>, last_key: Option<Item>) -> StoreResult<Page<T>> {
    Ok(Page {
        items,
        next: last_key.as_ref().map(encode_cursor).transpose()?,
    })
}
