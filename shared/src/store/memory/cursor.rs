//! Page tokens of the in-memory stores: base64url JSON of the last key read, in the same form
//! as the DynamoDB adapters' tokens, and checked the same way.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::store::{Cursor, StoreError, StoreResult};

/// Encodes key attributes as a cursor.
pub fn encode(attrs: &[(&str, String)]) -> Cursor {
    let map: BTreeMap<&str, &str> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let json = serde_json::to_vec(&map).unwrap_or_default();
    Cursor(URL_SAFE_NO_PAD.encode(json))
}

/// Decodes a cursor, requiring `pinned` attribute values and returning attribute `field`.
pub fn decode(cursor: &Cursor, field: &str, pinned: &[(&str, &str)]) -> StoreResult<String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.0.as_bytes())
        .map_err(|_| StoreError::InvalidCursor)?;
    let map: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    for (k, v) in pinned {
        if map.get(*k).map(String::as_str) != Some(*v) {
            return Err(StoreError::InvalidCursor);
        }
    }
    map.get(field).cloned().ok_or(StoreError::InvalidCursor)
}

/// Reads a page from items sorted by key: those after `after` (if any), at most `limit`,
/// with the key of the last one when more remain.
pub fn page<T: Clone>(
    sorted: &[(String, T)],
    after: Option<&str>,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    let start = match after {
        Some(a) => sorted.partition_point(|(k, _)| k.as_str() <= a),
        None => 0,
    };
    let rest = &sorted[start..];
    let take = rest.len().min(limit.max(1));
    let items = rest[..take].iter().map(|(_, v)| v.clone()).collect();
    let next = (rest.len() > take).then(|| rest[take - 1].0.clone());
    (items, next)
}
