//! In-memory `SessionStore`: refresh-token families behind one lock, so that a rotation is
//! atomic exactly like the conditional `UpdateItem` of the DynamoDB adapter.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::ids::{FamilyId, TokenId};
use crate::store::{RefreshFamily, Rotation, SessionStore, StoreError, StoreResult};
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
        new_jti: TokenId,
        now: Timestamp,
    ) -> StoreResult<Rotation> {
        let mut families = self.lock();
        let Some(f) = families.get_mut(&family) else {
            return Ok(Rotation::Unknown);
        };
        if f.revoked || f.expires_at <= now {
            return Ok(Rotation::Revoked);
        }
        if f.current_jti == presented {
            f.current_jti = new_jti;
            Ok(Rotation::Rotated)
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
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Duration;

    use super::*;
    use crate::ids::UserId;

    fn family(expires_at: Timestamp) -> RefreshFamily {
        RefreshFamily {
            family_id: FamilyId::new(),
            user_id: UserId::new(),
            current_jti: TokenId::new(),
            revoked: false,
            expires_at,
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
            store.rotate(f.family_id, f.current_jti, second, now).await,
            Ok(Rotation::Rotated)
        );
        let stored = store.get_family(f.family_id).await.unwrap().unwrap();
        assert_eq!(stored.current_jti, second);
        assert!(!stored.revoked);
        // The first token again.
        assert_eq!(
            store
                .rotate(f.family_id, f.current_jti, TokenId::new(), now)
                .await,
            Ok(Rotation::Reused)
        );
        let stored = store.get_family(f.family_id).await.unwrap().unwrap();
        assert!(stored.revoked);
        assert_eq!(stored.current_jti, second);
        // The current one no longer works either.
        assert_eq!(
            store.rotate(f.family_id, second, TokenId::new(), now).await,
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
                .rotate(f.family_id, f.current_jti, TokenId::new(), now)
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
                .rotate(f.family_id, f.current_jti, TokenId::new(), now)
                .await,
            Ok(Rotation::Revoked)
        );
        assert_eq!(store.get_family(f.family_id).await.unwrap(), None);
        // Just before the end it still rotates.
        let g = family(now + Duration::seconds(1));
        store.create_family(&g).await.unwrap();
        assert_eq!(
            store
                .rotate(g.family_id, g.current_jti, TokenId::new(), now)
                .await,
            Ok(Rotation::Rotated)
        );
        assert_eq!(
            store
                .rotate(FamilyId::new(), TokenId::new(), TokenId::new(), now)
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
                store.rotate(id, jti, TokenId::new(), now).await.unwrap()
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
