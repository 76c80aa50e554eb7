//! Conformance cases for the sessions store.

use banter::ids::{FamilyId, TokenId, UserId};
use banter::model::{Device, DeviceType};
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
        previous_jti: None,
        issued_at: now(),
        access_jti: TokenId::new(),
        created_at: now(),
        device: Default::default(),
    }
}

/// The tokens of a rotation to `jti` (its access token id is fresh).
fn next(jti: TokenId) -> NextTokens {
    NextTokens {
        jti,
        access_jti: TokenId::new(),
    }
}

/// Rotates `family` from token `from` to `to` at `at` without a grace window: the store's
/// answer.
async fn rotate(
    stores: &Stores,
    family: FamilyId,
    from: TokenId,
    to: TokenId,
    at: Timestamp,
) -> Rotation {
    stores
        .sessions
        .rotate(family, from, next(to), at, Duration::zero())
        .await
        .unwrap()
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

async fn replaced_token_replays_within_the_grace_window(stores: Stores) {
    let grace = Duration::seconds(30);
    let t = now();
    let f = family(t + Duration::days(30));
    stores.sessions.create_family(&f).await.unwrap();
    let second = next(TokenId::new());
    assert_eq!(
        stores
            .sessions
            .rotate(f.family_id, f.current_jti, second, t, grace)
            .await
            .unwrap(),
        Rotation::Rotated
    );
    let stored = stored_family(&stores, f.family_id).await;
    assert_eq!(stored.previous_jti, Some(f.current_jti));
    assert_eq!(stored.current_jti, second.jti);
    assert_eq!(stored.access_jti, second.access_jti);
    assert_eq!(stored.issued_at.timestamp(), t.timestamp());

    // The replaced token within the window: what that rotation issued, and nothing changes.
    let replay = stores
        .sessions
        .rotate(
            f.family_id,
            f.current_jti,
            next(TokenId::new()),
            t + Duration::seconds(29),
            grace,
        )
        .await
        .unwrap();
    let Rotation::Replayed {
        jti,
        access_jti,
        issued_at,
    } = replay
    else {
        panic!("expected a replay, got {replay:?}");
    };
    assert_eq!((jti, access_jti), (second.jti, second.access_jti));
    assert_eq!(issued_at.timestamp(), t.timestamp());
    assert_eq!(stored_family(&stores, f.family_id).await, stored);

    // After the window it is a reuse: the family is revoked.
    assert_eq!(
        stores
            .sessions
            .rotate(
                f.family_id,
                f.current_jti,
                next(TokenId::new()),
                t + Duration::seconds(31),
                grace,
            )
            .await
            .unwrap(),
        Rotation::Reused
    );
    assert!(stored_family(&stores, f.family_id).await.revoked);
}

async fn only_the_last_replaced_token_replays(stores: Stores) {
    let grace = Duration::seconds(30);
    let t = now();
    let f = family(t + Duration::days(30));
    stores.sessions.create_family(&f).await.unwrap();
    let second = TokenId::new();
    let third = TokenId::new();
    for (from, to) in [(f.current_jti, second), (second, third)] {
        assert_eq!(
            stores
                .sessions
                .rotate(f.family_id, from, next(to), t, grace)
                .await
                .unwrap(),
            Rotation::Rotated
        );
    }
    // Two rotations back: a reuse, even within the window.
    assert_eq!(
        stores
            .sessions
            .rotate(f.family_id, f.current_jti, next(TokenId::new()), t, grace)
            .await
            .unwrap(),
        Rotation::Reused
    );
    assert!(stored_family(&stores, f.family_id).await.revoked);
}

/// A live family of `user`, signed in at `created_at` on `device`.
fn session_of(user: UserId, created_at: Timestamp, device: Device) -> RefreshFamily {
    RefreshFamily {
        user_id: user,
        created_at,
        issued_at: created_at,
        device,
        ..family(created_at + Duration::days(30))
    }
}

async fn a_users_sessions_are_listed_oldest_first_with_their_devices(stores: Stores) {
    let user = UserId::new();
    let t = now();
    let phone = Device {
        device_id: Some("phone-1".parse().unwrap()),
        device_type: Some(DeviceType::Android),
        platform: Some("Android 15".into()),
    };
    let families = [
        session_of(user, t - Duration::minutes(3), phone.clone()),
        session_of(user, t - Duration::minutes(2), Device::default()),
        session_of(user, t - Duration::minutes(1), phone),
    ];
    // Stored out of order, beside another user's.
    for f in [&families[2], &families[0], &families[1]] {
        stores.sessions.create_family(f).await.unwrap();
    }
    let other = session_of(UserId::new(), t, Device::default());
    stores.sessions.create_family(&other).await.unwrap();

    let listed = stores.sessions.list_user_families(user, t).await.unwrap();
    assert_eq!(listed, families.to_vec());
    assert_eq!(
        stores
            .sessions
            .get_family(families[0].family_id)
            .await
            .unwrap(),
        Some(families[0].clone())
    );
    // A rotation shows in the listing (its new issue time), the sign-in time stays.
    let later = t + Duration::seconds(5);
    assert_eq!(
        rotate(
            &stores,
            families[1].family_id,
            families[1].current_jti,
            TokenId::new(),
            later
        )
        .await,
        Rotation::Rotated
    );
    let listed = stores
        .sessions
        .list_user_families(user, later)
        .await
        .unwrap();
    assert_eq!(listed[1].issued_at, later);
    assert_eq!(listed[1].created_at, families[1].created_at);
    assert_eq!(
        stores
            .sessions
            .list_user_families(UserId::new(), t)
            .await
            .unwrap(),
        Vec::new()
    );
}

async fn revoked_and_expired_sessions_are_not_listed(stores: Stores) {
    let user = UserId::new();
    let t = now();
    let kept = session_of(user, t - Duration::minutes(4), Device::default());
    let signed_out = session_of(user, t - Duration::minutes(3), Device::default());
    let reused = session_of(user, t - Duration::minutes(2), Device::default());
    let expired = RefreshFamily {
        expires_at: t - Duration::seconds(1),
        ..session_of(user, t - Duration::days(31), Device::default())
    };
    for f in [&kept, &signed_out, &reused, &expired] {
        stores.sessions.create_family(f).await.unwrap();
    }
    stores.sessions.revoke(signed_out.family_id).await.unwrap();
    // A reuse revokes its family too.
    let second = TokenId::new();
    rotate(&stores, reused.family_id, reused.current_jti, second, t).await;
    assert_eq!(
        rotate(
            &stores,
            reused.family_id,
            reused.current_jti,
            TokenId::new(),
            t
        )
        .await,
        Rotation::Reused
    );
    let listed = stores.sessions.list_user_families(user, t).await.unwrap();
    let ids: Vec<FamilyId> = listed.iter().map(|f| f.family_id).collect();
    assert_eq!(ids, [kept.family_id]);
    // The revoked ones are still readable (and refused) by id.
    assert!(stored_family(&stores, signed_out.family_id).await.revoked);
    // Past its end, the kept one goes too.
    assert_eq!(
        stores
            .sessions
            .list_user_families(user, kept.expires_at)
            .await
            .unwrap(),
        Vec::new()
    );
}

conformance_tests!(
    a_users_sessions_are_listed_oldest_first_with_their_devices,
    revoked_and_expired_sessions_are_not_listed,
    replaced_token_replays_within_the_grace_window,
    only_the_last_replaced_token_replays,
    rotate_current_token,
    reused_token_revokes_family,
    revoked_family_refuses_rotation,
    unknown_family,
    expired_family_is_revoked,
);
