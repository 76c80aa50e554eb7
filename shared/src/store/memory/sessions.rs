//! In-memory `SessionStore`: refresh-token families behind one lock, so that a rotation is
//! atomic exactly like the conditional `UpdateItem` of the DynamoDB adapter.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use chrono::Duration;

use crate::ids::{FamilyId, TokenId, UserId};
use crate::store::{
    MAX_LISTED_FAMILIES, NextTokens, RefreshFamily, Rotation, SessionStore, StoreError, StoreResult,
};
use crate::time::{self, Timestamp};

/// In-memory `SessionStore`.
#[derive(Default)]
pub struct MemorySessionStore {
    families: Mutex<HashMap<FamilyId, RefreshFamily>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<FamilyId, RefreshFamily>> {
        self.families.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    /// Stores a new family; `Conflict("family_exists")` if its id is taken.
    async fn create_family(&self, family: &RefreshFamily) -> StoreResult<()> {
        let mut families = self.lock();
        if families.contains_key(&family.family_id) {
            return Err(StoreError::Conflict("family_exists"));
        }
        families.insert(family.family_id, family.clone());
        Ok(())
    }

    async fn rotate(
        &self,
        family: FamilyId,
        presented: TokenId,
        next: NextTokens,
        now: Timestamp,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        let mut families = self.lock();
        let Some(f) = families.get_mut(&family) else {
            return Ok(Rotation::Unknown);
        };
        if f.revoked || f.expires_at <= now {
            return Ok(Rotation::Revoked);
        }
        if f.current_jti == presented {
            f.previous_jti = Some(presented);
            f.current_jti = next.jti;
            f.access_jti = next.access_jti;
            f.issued_at = now;
            Ok(Rotation::Rotated)
        } else if f.previous_jti == Some(presented) && now < f.issued_at + grace {
            Ok(Rotation::Replayed {
                jti: f.current_jti,
                access_jti: f.access_jti,
                issued_at: f.issued_at,
            })
        } else {
            f.revoked = true;
            Ok(Rotation::Reused)
        }
    }

    /// Marks the family revoked; nothing happens for an unknown family.
    async fn revoke(&self, family: FamilyId) -> StoreResult<()> {
        if let Some(f) = self.lock().get_mut(&family) {
            f.revoked = true;
        }
        Ok(())
    }

    /// The family, unless it has expired (as a DynamoDB read skips rows past their TTL).
    async fn get_family(&self, family: FamilyId) -> StoreResult<Option<RefreshFamily>> {
        let now = time::now();
        Ok(self
            .lock()
            .get(&family)
            .filter(|f| f.expires_at > now)
            .cloned())
    }

    /// Looks at every family (a map in memory; the DynamoDB adapter queries an index).
    async fn list_user_families(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> StoreResult<Vec<RefreshFamily>> {
        let mut live: Vec<RefreshFamily> = self
            .lock()
            .values()
            .filter(|f| f.user_id == user && !f.revoked && f.expires_at > now)
            .cloned()
            .collect();
        live.sort_by_key(|f| (f.created_at, f.family_id));
        live.truncate(MAX_LISTED_FAMILIES);
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn family(expires_at: Timestamp) -> RefreshFamily {
        RefreshFamily {
            family_id: FamilyId::new(),
            user_id: UserId::new(),
            current_jti: TokenId::new(),
            revoked: false,
            expires_at,
            previous_jti: None,
            issued_at: time::now(),
            access_jti: TokenId::new(),
            created_at: time::now(),
            device: Default::default(),
        }
    }

    fn next(jti: TokenId) -> NextTokens {
        NextTokens {
            jti,
            access_jti: TokenId::new(),
        }
    }

    #[tokio::test]
    async fn create_get_and_duplicate() {
        let store = MemorySessionStore::new();
        let f = family(time::now() + Duration::days(1));
        store.create_family(&f).await.unwrap();
        assert_eq!(
            store.get_family(f.family_id).await.unwrap(),
            Some(f.clone())
        );
        assert_eq!(
            store.create_family(&f).await,
            Err(StoreError::Conflict("family_exists"))
        );
        assert_eq!(store.get_family(FamilyId::new()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn rotate_current_then_reuse_revokes() {
        let store = MemorySessionStore::new();
        let now = time::now();
        let f = family(now + Duration::days(1));
        store.create_family(&f).await.unwrap();
        let second = TokenId::new();
        assert_eq!(
            store
                .rotate(
                    f.family_id,
                    f.current_jti,
                    next(second),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Rotated)
        );
        let stored = store.get_family(f.family_id).await.unwrap().unwrap();
        assert_eq!(stored.current_jti, second);
        assert!(!stored.revoked);
        // The first token again.
        assert_eq!(
            store
                .rotate(
                    f.family_id,
                    f.current_jti,
                    next(TokenId::new()),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Reused)
        );
        let stored = store.get_family(f.family_id).await.unwrap().unwrap();
        assert!(stored.revoked);
        assert_eq!(stored.current_jti, second);
        // The current one no longer works either.
        assert_eq!(
            store
                .rotate(
                    f.family_id,
                    second,
                    next(TokenId::new()),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Revoked)
        );
    }

    #[tokio::test]
    async fn revoke_is_idempotent_and_blocks_rotation() {
        let store = MemorySessionStore::new();
        let now = time::now();
        let f = family(now + Duration::days(1));
        store.create_family(&f).await.unwrap();
        store.revoke(f.family_id).await.unwrap();
        store.revoke(f.family_id).await.unwrap();
        store.revoke(FamilyId::new()).await.unwrap();
        assert_eq!(
            store
                .rotate(
                    f.family_id,
                    f.current_jti,
                    next(TokenId::new()),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Revoked)
        );
    }

    #[tokio::test]
    async fn expired_family_counts_as_revoked_and_unknown_is_unknown() {
        let store = MemorySessionStore::new();
        let now = time::now();
        let f = family(now);
        store.create_family(&f).await.unwrap();
        // `expires_at <= now` is expired.
        assert_eq!(
            store
                .rotate(
                    f.family_id,
                    f.current_jti,
                    next(TokenId::new()),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Revoked)
        );
        assert_eq!(store.get_family(f.family_id).await.unwrap(), None);
        // Just before the end it still rotates.
        let g = family(now + Duration::seconds(1));
        store.create_family(&g).await.unwrap();
        assert_eq!(
            store
                .rotate(
                    g.family_id,
                    g.current_jti,
                    next(TokenId::new()),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Rotated)
        );
        assert_eq!(
            store
                .rotate(
                    FamilyId::new(),
                    TokenId::new(),
                    next(TokenId::new()),
                    now,
                    Duration::zero()
                )
                .await,
            Ok(Rotation::Unknown)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_rotations_of_one_token_rotate_once() {
        let store = Arc::new(MemorySessionStore::new());
        let now = time::now();
        let f = family(now + Duration::days(1));
        store.create_family(&f).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            let (id, jti) = (f.family_id, f.current_jti);
            tasks.push(tokio::spawn(async move {
                store
                    .rotate(id, jti, next(TokenId::new()), now, Duration::zero())
                    .await
                    .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let rotated = outcomes.iter().filter(|o| **o == Rotation::Rotated).count();
        assert_eq!(rotated, 1, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Rotation::Rotated | Rotation::Reused | Rotation::Revoked))
        );
        assert!(
            store
                .get_family(f.family_id)
                .await
                .unwrap()
                .unwrap()
                .revoked
        );
    }
}
