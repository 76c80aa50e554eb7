//! Conformance cases for the presence store.

use banter::ids::UserId;
use banter::model::OnlineStatus;
use banter::store::*;
use banter::time::now;
use chrono::Duration;

async fn a_connection_sets_a_user_online_and_a_later_one_extends_it(stores: Stores) {
    let p = &stores.presence;
    let user = UserId::new();
    let t = now();
    let first = t + Duration::hours(2);
    assert_eq!(p.set_presence(user, None, first, t).await.unwrap(), None);
    let read = p.get_presences(&[user], t).await.unwrap();
    let online = read[&user].online.expect("online");
    assert_eq!(online.status, OnlineStatus::Online);
    assert_eq!(online.expires_at, first);
    assert!(read[&user].activity.last_active_at.is_some());

    // A status set keeps the later expiry; a second connection with a later one extends it.
    let before = p
        .set_presence(user, Some(OnlineStatus::Away), t, t)
        .await
        .unwrap()
        .expect("was online");
    assert_eq!(before.status, OnlineStatus::Online);
    let later = first + Duration::minutes(10);
    p.set_presence(user, None, later, t).await.unwrap();
    let online = p.get_presences(&[user], t).await.unwrap()[&user]
        .online
        .expect("online");
    assert_eq!(
        online.status,
        OnlineStatus::Away,
        "a connection keeps the status"
    );
    assert_eq!(online.expires_at, later);

    // Past its expiry it is gone, even if nothing deleted it.
    let after = later + Duration::seconds(1);
    assert_eq!(
        p.get_presences(&[user], after).await.unwrap()[&user].online,
        None
    );
    // And the next connection starts online again.
    assert_eq!(
        p.set_presence(user, None, after + Duration::hours(2), after)
            .await
            .unwrap(),
        None
    );
    let online = p.get_presences(&[user], after).await.unwrap()[&user]
        .online
        .expect("online");
    assert_eq!(online.status, OnlineStatus::Online);
}

async fn the_last_departure_ends_presence_and_records_last_seen(stores: Stores) {
    let p = &stores.presence;
    let user = UserId::new();
    let t = now();
    p.set_presence(user, Some(OnlineStatus::Active), t + Duration::hours(2), t)
        .await
        .unwrap();
    // Another connection remains: still online, until that one's expiry.
    let remaining = t + Duration::hours(1);
    assert_eq!(p.depart(user, Some(remaining), t).await.unwrap(), None);
    let r = p.get_presences(&[user], t).await.unwrap()[&user];
    assert_eq!(r.online.expect("online").expires_at, remaining);
    assert_eq!(r.activity.last_seen_at, None);
    // The last one closes.
    let closed = t + Duration::seconds(5);
    let ended = p.depart(user, None, closed).await.unwrap().expect("ended");
    assert_eq!(ended.status, OnlineStatus::Active);
    let r = p.get_presences(&[user], closed).await.unwrap()[&user];
    assert_eq!(r.online, None);
    assert_eq!(r.activity.last_seen_at, Some(closed));
    // A second departure (a retried $disconnect) ends nothing.
    assert_eq!(p.depart(user, None, closed).await.unwrap(), None);
}

async fn activity_is_recorded_and_read_in_batches(stores: Stores) {
    let p = &stores.presence;
    let (a, b, nobody) = (UserId::new(), UserId::new(), UserId::new());
    let t = now();
    p.touch(a, t).await.unwrap();
    p.set_presence(b, None, t + Duration::hours(2), t)
        .await
        .unwrap();
    let read = p.get_presences(&[a, b, nobody, a], t).await.unwrap();
    assert_eq!(read.len(), 2, "{read:?}");
    assert_eq!(read[&a].online, None);
    assert_eq!(read[&a].activity.last_active_at, Some(t));
    assert!(read[&b].online.is_some());
    assert!(p.get_presences(&[], t).await.unwrap().is_empty());
}

async fn concurrent_connections_lose_no_presence(stores: Stores) {
    let p = &stores.presence;
    let user = UserId::new();
    let t = now();
    let sets = (1..=6).map(|i| p.set_presence(user, None, t + Duration::minutes(i), t));
    for r in futures::future::join_all(sets).await {
        r.expect("set");
    }
    let online = p.get_presences(&[user], t).await.unwrap()[&user]
        .online
        .expect("online");
    assert_eq!(
        online.expires_at,
        t + Duration::minutes(6),
        "the latest expiry wins"
    );
}

conformance_tests!(
    a_connection_sets_a_user_online_and_a_later_one_extends_it,
    the_last_departure_ends_presence_and_records_last_seen,
    activity_is_recorded_and_read_in_batches,
    concurrent_connections_lose_no_presence
);
