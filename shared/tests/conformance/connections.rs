//! Conformance cases for the connections store.

use banter::ids::{ConnectionId, ConversationId, EventId, UserId};
use banter::model::{BucketRange, Connection, Subscription, bucket_of, connection_expiry};
use banter::room::Room;
use banter::store::*;
use banter::time::{Timestamp, now};
use chrono::Duration;

fn conn_id(tag: &str) -> ConnectionId {
    format!("{tag}{}=", uuid::Uuid::now_v7().simple())
        .parse()
        .expect("connection id")
}

fn connection(user: UserId, connected_at: Timestamp) -> Connection {
    Connection {
        connection_id: conn_id("c"),
        user_id: user,
        connected_at,
        expires_at: connection_expiry(connected_at),
    }
}

fn subscription(c: &Connection, room: Room) -> Subscription {
    Subscription {
        room,
        connection_id: c.connection_id.clone(),
        user_id: c.user_id,
        subscribed_at: c.connected_at,
        expires_at: c.expires_at,
    }
}

/// Reads every page of a room's subscriptions in `buckets`; checks each page's size.
async fn subscriptions(
    stores: &Stores,
    room: Room,
    buckets: BucketRange,
    limit: usize,
) -> (Vec<Subscription>, usize) {
    let mut all = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = stores
            .connections
            .list_subscriptions(room, buckets, limit, cursor.as_ref())
            .await
            .expect("list subscriptions");
        pages += 1;
        assert!(page.items.len() <= limit, "page larger than limit");
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (all, pages),
        }
        assert!(pages < 500, "listing does not end");
    }
}

fn connection_ids(subs: &[Subscription]) -> Vec<ConnectionId> {
    subs.iter().map(|s| s.connection_id.clone()).collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

async fn put_and_get_connection(stores: Stores) {
    let user = UserId::new();
    let a = connection(user, now());
    let b = connection(user, now());
    let other = connection(UserId::new(), now());
    for c in [&a, &b, &other] {
        stores.connections.put_connection(c).await.unwrap();
    }
    assert_eq!(
        stores
            .connections
            .get_connection(&a.connection_id)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        stores
            .connections
            .get_connection(&conn_id("nope"))
            .await
            .unwrap(),
        None
    );
    let mut mine = stores
        .connections
        .list_user_connections(user)
        .await
        .unwrap();
    mine.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    let mut want = vec![a, b];
    want.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    assert_eq!(mine, want);
    assert!(
        stores
            .connections
            .list_user_connections(UserId::new())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn expired_rows_are_hidden(stores: Stores) {
    let user = UserId::new();
    let live = connection(user, now());
    let mut stale = connection(user, now() - Duration::hours(3));
    stale.expires_at = now() - Duration::hours(1);
    for c in [&live, &stale] {
        stores.connections.put_connection(c).await.unwrap();
    }
    assert_eq!(
        stores
            .connections
            .get_connection(&stale.connection_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .connections
            .list_user_connections(user)
            .await
            .unwrap(),
        std::slice::from_ref(&live)
    );

    let room = Room::Event(EventId::new());
    stores
        .connections
        .subscribe(&subscription(&live, room))
        .await
        .unwrap();
    stores
        .connections
        .subscribe(&subscription(&stale, room))
        .await
        .unwrap();
    let (subs, _) = subscriptions(&stores, room, BucketRange::ALL, 10).await;
    assert_eq!(subs, [subscription(&live, room)]);
    assert!(
        stores
            .connections
            .list_connection_rooms(&stale.connection_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        stores
            .connections
            .list_connection_rooms(&live.connection_id)
            .await
            .unwrap(),
        [room]
    );
}

async fn subscribe_is_idempotent(stores: Stores) {
    let c = connection(UserId::new(), now());
    stores.connections.put_connection(&c).await.unwrap();
    let room = Room::Conversation(ConversationId::new());
    let sub = subscription(&c, room);
    stores.connections.subscribe(&sub).await.unwrap();
    stores.connections.subscribe(&sub).await.unwrap();
    let (subs, _) = subscriptions(&stores, room, BucketRange::ALL, 10).await;
    assert_eq!(subs, [sub]);
    assert_eq!(
        stores
            .connections
            .list_connection_rooms(&c.connection_id)
            .await
            .unwrap(),
        [room]
    );
}

async fn list_subscriptions_pages(stores: Stores) {
    let room = Room::Event(EventId::new());
    let other_room = Room::Event(EventId::new());
    let mut want = Vec::new();
    for _ in 0..25 {
        let c = connection(UserId::new(), now());
        stores.connections.put_connection(&c).await.unwrap();
        stores
            .connections
            .subscribe(&subscription(&c, room))
            .await
            .unwrap();
        want.push(c.connection_id.clone());
    }
    let outsider = connection(UserId::new(), now());
    stores
        .connections
        .subscribe(&subscription(&outsider, other_room))
        .await
        .unwrap();

    let (subs, pages) = subscriptions(&stores, room, BucketRange::ALL, 10).await;
    assert!(
        pages >= 3,
        "25 subscriptions over pages of 10 took {pages} pages"
    );
    let got = connection_ids(&subs);
    assert_eq!(sorted(got.clone()), sorted(want));
    assert!(subs.iter().all(|s| s.room == room));
    // Bucket order.
    let buckets: Vec<u16> = got.iter().map(bucket_of).collect();
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "not in bucket order"
    );

    // A cursor belongs to its room.
    let first = stores
        .connections
        .list_subscriptions(room, BucketRange::ALL, 5, None)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 5);
    let next = first.next.expect("more subscriptions");
    assert_eq!(
        stores
            .connections
            .list_subscriptions(other_room, BucketRange::ALL, 5, Some(&next))
            .await,
        Err(StoreError::InvalidCursor)
    );
    assert_eq!(
        stores
            .connections
            .list_subscriptions(room, BucketRange::ALL, 5, Some(&Cursor("%%".into())))
            .await,
        Err(StoreError::InvalidCursor)
    );
}

async fn bucket_ranges_partition_subscriptions(stores: Stores) {
    let room = Room::Event(EventId::new());
    for _ in 0..40 {
        let c = connection(UserId::new(), now());
        stores
            .connections
            .subscribe(&subscription(&c, room))
            .await
            .unwrap();
    }
    let (full, _) = subscriptions(&stores, room, BucketRange::ALL, 1000).await;
    assert_eq!(full.len(), 40);

    let mut union = Vec::new();
    let parts = BucketRange::ALL.split(4);
    assert_eq!(parts.len(), 4);
    for range in parts {
        let (subs, _) = subscriptions(&stores, room, range, 3).await;
        for s in &subs {
            assert!(
                range.contains(bucket_of(&s.connection_id)),
                "{} outside {range:?}",
                s.connection_id
            );
        }
        union.extend(connection_ids(&subs));
    }
    // Disjoint and covering: every subscription exactly once.
    assert_eq!(union.len(), 40);
    assert_eq!(sorted(union), sorted(connection_ids(&full)));

    // A narrow range holds exactly the subscriptions of its buckets.
    let one = bucket_of(&full[0].connection_id);
    let range = BucketRange::new(one, one + 1).expect("range");
    let (subs, _) = subscriptions(&stores, room, range, 10).await;
    let want: Vec<ConnectionId> = full
        .iter()
        .filter(|s| bucket_of(&s.connection_id) == one)
        .map(|s| s.connection_id.clone())
        .collect();
    assert_eq!(sorted(connection_ids(&subs)), sorted(want));
}

async fn unsubscribe_removes_subscription(stores: Stores) {
    let c = connection(UserId::new(), now());
    stores.connections.put_connection(&c).await.unwrap();
    let a = Room::Event(EventId::new());
    let b = Room::Conversation(ConversationId::new());
    for room in [a, b] {
        stores
            .connections
            .subscribe(&subscription(&c, room))
            .await
            .unwrap();
    }
    stores
        .connections
        .unsubscribe(&c.connection_id, a)
        .await
        .unwrap();
    stores
        .connections
        .unsubscribe(&c.connection_id, a)
        .await
        .unwrap();
    assert_eq!(
        stores
            .connections
            .list_connection_rooms(&c.connection_id)
            .await
            .unwrap(),
        [b]
    );
    assert!(
        subscriptions(&stores, a, BucketRange::ALL, 10)
            .await
            .0
            .is_empty()
    );
    assert_eq!(
        subscriptions(&stores, b, BucketRange::ALL, 10).await.0,
        [subscription(&c, b)]
    );
    // The connection itself stays.
    assert_eq!(
        stores
            .connections
            .get_connection(&c.connection_id)
            .await
            .unwrap(),
        Some(c)
    );
}

async fn delete_connection_removes_everything(stores: Stores) {
    let user = UserId::new();
    let c = connection(user, now());
    let neighbour = connection(UserId::new(), now());
    for x in [&c, &neighbour] {
        stores.connections.put_connection(x).await.unwrap();
    }
    let rooms = [
        Room::Event(EventId::new()),
        Room::Event(EventId::new()),
        Room::Conversation(ConversationId::new()),
    ];
    for room in rooms {
        stores
            .connections
            .subscribe(&subscription(&c, room))
            .await
            .unwrap();
    }
    stores
        .connections
        .subscribe(&subscription(&neighbour, rooms[0]))
        .await
        .unwrap();

    let left = stores
        .connections
        .delete_connection(&c.connection_id)
        .await
        .unwrap();
    assert_eq!(sorted(left), sorted(rooms.to_vec()));

    assert_eq!(
        stores
            .connections
            .get_connection(&c.connection_id)
            .await
            .unwrap(),
        None
    );
    assert!(
        stores
            .connections
            .list_user_connections(user)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stores
            .connections
            .list_connection_rooms(&c.connection_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        subscriptions(&stores, rooms[0], BucketRange::ALL, 10)
            .await
            .0,
        [subscription(&neighbour, rooms[0])]
    );
    for room in &rooms[1..] {
        assert!(
            subscriptions(&stores, *room, BucketRange::ALL, 10)
                .await
                .0
                .is_empty()
        );
    }
    // The neighbour is untouched.
    assert_eq!(
        stores
            .connections
            .get_connection(&neighbour.connection_id)
            .await
            .unwrap(),
        Some(neighbour)
    );

    // Idempotent.
    assert!(
        stores
            .connections
            .delete_connection(&c.connection_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stores
            .connections
            .delete_connection(&conn_id("never"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn delete_connection_with_many_rooms(stores: Stores) {
    // More rows than one batch write (25) and more rooms than one small page.
    let c = connection(UserId::new(), now());
    stores.connections.put_connection(&c).await.unwrap();
    let mut rooms = Vec::new();
    for _ in 0..30 {
        let room = Room::Event(EventId::new());
        stores
            .connections
            .subscribe(&subscription(&c, room))
            .await
            .unwrap();
        rooms.push(room);
    }
    assert_eq!(
        sorted(
            stores
                .connections
                .list_connection_rooms(&c.connection_id)
                .await
                .unwrap()
        ),
        sorted(rooms.clone())
    );
    let left = stores
        .connections
        .delete_connection(&c.connection_id)
        .await
        .unwrap();
    assert_eq!(sorted(left), sorted(rooms.clone()));
    for room in rooms {
        assert!(
            subscriptions(&stores, room, BucketRange::ALL, 5)
                .await
                .0
                .is_empty()
        );
    }
    assert!(
        stores
            .connections
            .list_connection_rooms(&c.connection_id)
            .await
            .unwrap()
            .is_empty()
    );
}

conformance_tests!(
    put_and_get_connection,
    expired_rows_are_hidden,
    subscribe_is_idempotent,
    list_subscriptions_pages,
    bucket_ranges_partition_subscriptions,
    unsubscribe_removes_subscription,
    delete_connection_removes_everything,
    delete_connection_with_many_rooms,
);
