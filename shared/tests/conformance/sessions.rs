//! Conformance cases for the sessions store.

use banter::ids::{FamilyId, TokenId, UserId};
use banter::store::*;
use banter::time::{Timestamp, now};
use chrono::Duration;

fn family(expires_at: Timestamp) -> RefreshFamily {
    RefreshFamily {
        family_id: FamilyId::new(),
        user_id: UserId::new(),
        current_jti: TokenId::new(),
        revoked: false,
        expires_at,
    }
}

/// Rotates `family` from token `from` to `to` at `at`: the store's answer.
async fn rotate(
    stores: &Stores,
    family: FamilyId,
    from: TokenId,
    to: TokenId,
    at: Timestamp,
) -> Rotation {
    stores.sessions.rotate(family, from, to, at).await.unwrap()
}

/// The stored family `id`, which must exist.
async fn stored_family(stores: &Stores, id: FamilyId) -> RefreshFamily {
    stores
        .sessions
        .get_family(id)
        .await
        .unwrap()
        .expect("the family is stored")
}

async fn rotate_current_token(stores: Stores) {
    let t = now();
    let f = family(t + Duration::days(30));
    stores.sessions.create_family(&f).await.unwrap();
    assert_eq!(
        stores.sessions.get_family(f.family_id).await.unwrap(),
        Some(f.clone())
    );

    let jti2 = TokenId::new();
    assert_eq!(
        rotate(&stores, f.family_id, f.current_jti, jti2, t).await,
        Rotation::Rotated
    );
    let stored = stored_family(&stores, f.family_id).await;
    assert_eq!(stored.current_jti, jti2);
    assert!(!stored.revoked);
    assert_eq!(stored.user_id, f.user_id);
    assert_eq!(stored.expires_at, f.expires_at);

    let jti3 = TokenId::new();
    assert_eq!(
        rotate(&stores, f.family_id, jti2, jti3, t + Duration::minutes(20)).await,
        Rotation::Rotated
    );
    assert_eq!(stored_family(&stores, f.family_id).await.current_jti, jti3);
}

async fn reused_token_revokes_family(stores: Stores) {
    let t = now();
    let f = family(t + Duration::days(30));
    stores.sessions.create_family(&f).await.unwrap();
    let jti2 = TokenId::new();
    assert_eq!(
        rotate(&stores, f.family_id, f.current_jti, jti2, t).await,
        Rotation::Rotated
    );

    // The old token again: a stolen copy. The whole family is revoked.
    assert_eq!(
        rotate(&stores, f.family_id, f.current_jti, TokenId::new(), t).await,
        Rotation::Reused
    );
    let stored = stored_family(&stores, f.family_id).await;
    assert!(stored.revoked);
    assert_eq!(stored.current_jti, jti2);

    // Even the token that was current is refused now.
    assert_eq!(
        rotate(&stores, f.family_id, jti2, TokenId::new(), t).await,
        Rotation::Revoked
    );
}

async fn revoked_family_refuses_rotation(stores: Stores) {
    let t = now();
    let f = family(t + Duration::days(30));
    stores.sessions.create_family(&f).await.unwrap();
    stores.sessions.revoke(f.family_id).await.unwrap();
    stores.sessions.revoke(f.family_id).await.unwrap();
    assert!(stored_family(&stores, f.family_id).await.revoked);
    assert_eq!(
        rotate(&stores, f.family_id, f.current_jti, TokenId::new(), t).await,
        Rotation::Revoked
    );
    // The current token was not replaced.
    assert_eq!(
        stored_family(&stores, f.family_id).await.current_jti,
        f.current_jti
    );
    // Revoking an unknown family is fine and stores nothing.
    let unknown = FamilyId::new();
    stores.sessions.revoke(unknown).await.unwrap();
    assert_eq!(stores.sessions.get_family(unknown).await.unwrap(), None);
}

async fn unknown_family(stores: Stores) {
    let id = FamilyId::new();
    assert_eq!(
        rotate(&stores, id, TokenId::new(), TokenId::new(), now()).await,
        Rotation::Unknown
    );
    assert_eq!(stores.sessions.get_family(id).await.unwrap(), None);
}

async fn expired_family_is_revoked(stores: Stores) {
    let t = now();
    let f = family(t + Duration::hours(1));
    stores.sessions.create_family(&f).await.unwrap();
    assert_eq!(
        rotate(
            &stores,
            f.family_id,
            f.current_jti,
            TokenId::new(),
            t + Duration::hours(2)
        )
        .await,
        Rotation::Revoked
    );
    assert_eq!(
        stored_family(&stores, f.family_id).await.current_jti,
        f.current_jti
    );

    // A family whose expiry has already passed when it is presented.
    let past = family(t - Duration::minutes(5));
    stores.sessions.create_family(&past).await.unwrap();
    assert_eq!(
        rotate(&stores, past.family_id, past.current_jti, TokenId::new(), t).await,
        Rotation::Revoked
    );
}

conformance_tests!(
    rotate_current_token,
    reused_token_revokes_family,
    revoked_family_refuses_rotation,
    unknown_family,
    expired_family_is_revoked,
);
