//! Idempotency claim items, shared by the comment and message stores: `(CLIENT#<room>#<author>#
//! <key>, <KIND>)` with the claimed item's id, the request's `fingerprint` and `ttl_epoch` =
//! creation + the claim's window ([`CLAIM_WINDOW`](crate::model::CLAIM_WINDOW) for a
//! client's key). A lapsed claim may still be on
//! the table (TTL deletes late, moto never): the put may replace it and reads ignore it.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::item::{Item, get_s, is_expired, n, parse_s, s};
use super::txn::tx_put_with;
use crate::model::Fingerprint;
use crate::model::claim::{KEY_REUSED, claim_expiry};
use crate::store::dynamodb::tables::TTL_ATTRIBUTE;
use crate::store::{StoreError, StoreResult};
use crate::time::{Timestamp, epoch_seconds};

/// The transactional put of a claim on `key` for the item whose id attribute `id_attr` is
/// `id`: it fails (so the append is a retry or a conflict) only while a live claim holds it.
pub(super) fn claim_put(
    table: &str,
    mut key: Item,
    id_attr: &str,
    id: String,
    fingerprint: &Fingerprint,
    created_at: Timestamp,
    window: std::time::Duration,
) -> StoreResult<TransactWriteItem> {
    key.insert(id_attr.to_owned(), s(id));
    key.insert("fingerprint".to_owned(), s(fingerprint.as_str()));
    key.insert(
        TTL_ATTRIBUTE.to_owned(),
        n(claim_expiry(created_at, window)),
    );
    tx_put_with(
        table,
        key,
        Some("attribute_not_exists(pk) OR ttl_epoch <= :now"),
        vec![(":now", n(epoch_seconds(created_at)))],
    )
}

/// The id (attribute `id_attr`) that a live claim item names for the same request, `None`
/// for no live claim, or the key-reused conflict when the claim names another request.
pub(super) fn claimed_id<Id: std::str::FromStr>(
    claim: Option<Item>,
    id_attr: &str,
    fingerprint: &Fingerprint,
    now: Timestamp,
) -> StoreResult<Option<Id>> {
    let Some(item) = claim.filter(|c| !is_expired(c, now)) else {
        return Ok(None);
    };
    if get_s(&item, "fingerprint")? != fingerprint.as_str() {
        return Err(StoreError::Conflict(KEY_REUSED));
    }
    parse_s(&item, id_attr).map(Some)
}
