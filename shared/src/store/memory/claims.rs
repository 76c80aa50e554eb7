//! Idempotency claims in memory: key → (item, fingerprint, expiry), as the DynamoDB adapters
//! keep them in claim items (see [`crate::model::claim`]).

use std::collections::HashMap;
use std::hash::Hash;

use crate::model::Fingerprint;
use crate::model::claim::{KEY_REUSED, claim_expiry};
use crate::store::{StoreError, StoreResult};
use crate::time::{Timestamp, epoch_seconds};

struct Claim<Id> {
    id: Id,
    fingerprint: Fingerprint,
    expires_at: i64,
}

/// The claims of one store, by whatever key scopes them (room, author, client key).
pub struct Claims<K, Id> {
    by_key: HashMap<K, Claim<Id>>,
}

impl<K, Id> Default for Claims<K, Id> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq, Id: Copy> Claims<K, Id> {
    /// The item a live claim on `key` names: `Ok(Some)` for a retry of the same request,
    /// `Ok(None)` when the key is free (never used, or lapsed by `now`), a conflict when the
    /// key names another request.
    pub fn check(
        &self,
        key: &K,
        fingerprint: &Fingerprint,
        now: Timestamp,
    ) -> StoreResult<Option<Id>> {
        match self.live(key, now) {
            None => Ok(None),
            Some(c) if c.fingerprint == *fingerprint => Ok(Some(c.id)),
            Some(_) => Err(StoreError::Conflict(KEY_REUSED)),
        }
    }

    /// The item of the live claim on `key`, if any.
    pub fn get(&self, key: &K, now: Timestamp) -> Option<Id> {
        self.live(key, now).map(|c| c.id)
    }

    /// Claims `key` for `id` (made at `created_at`, for `window`), replacing a lapsed claim.
    pub fn insert(
        &mut self,
        key: K,
        id: Id,
        fingerprint: Fingerprint,
        created_at: Timestamp,
        window: std::time::Duration,
    ) {
        let claim = Claim {
            id,
            fingerprint,
            expires_at: claim_expiry(created_at, window),
        };
        self.by_key.insert(key, claim);
    }

    fn live(&self, key: &K, now: Timestamp) -> Option<&Claim<Id>> {
        self.by_key
            .get(key)
            .filter(|c| c.expires_at > epoch_seconds(now))
    }
}
