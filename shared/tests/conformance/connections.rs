//! Conformance cases for the connections store.

use banter::ids::{ConnectionId, ConversationId, EventId, UserId};
use banter::model::{BucketRange, Connection, Subscription, Viewer, bucket_of, connection_expiry};
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
        viewer: Viewer::User {
            user_id: user,
            session_id: Some(banter::ids::FamilyId::new()),
        },
        connected_at,
        expires_at: connection_expiry(connected_at),
    }
}

fn subscription(c: &Connection, room: Room) -> Subscription {
    Subscription {
        room,
        connection_id: c.connection_id.clone(),
        user_id: c.user_id(),
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
    crate::read_pages("listing", limit, 500, |cursor| async move {
        stores
            .connections
            .list_subscriptions(room, buckets, limit, cursor.as_ref())
            .await
    })
    .await
}

fn connection_ids(subs: &[Subscription]) -> Vec<ConnectionId> {
    subs.iter().map(|s| s.connection_id.clone()).collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The rooms the connection `id` is subscribed to.
async fn rooms_of(stores: &Stores, id: &ConnectionId) -> Vec<Room> {
    stores.connections.list_connection_rooms(id).await.unwrap()
}

/// The stored connection `id`, if it is live.
async fn stored_connection(stores: &Stores, id: &ConnectionId) -> Option<Connection> {
    stores.connections.get_connection(id).await.unwrap()
}

/// The live connections of `user`.
async fn user_connections(stores: &Stores, user: UserId) -> Vec<Connection> {
    stores
        .connections
        .list_user_connections(user)
        .await
        .unwrap()
}

/// Deletes the connection `id`; the rooms it was subscribed to.
async fn delete(stores: &Stores, id: &ConnectionId) -> Vec<Room> {
    stores.connections.delete_connection(id).await.unwrap()
}

/// Subscribes `c` to `room` (see [`subscription`]).
async fn subscribe(stores: &Stores, c: &Connection, room: Room) {
    stores
        .connections
        .subscribe(&subscription(c, room))
        .await
        .unwrap();
}

/// Every subscription to `room`, over all buckets, read `limit` at a time.
async fn whole_room(stores: &Stores, room: Room, limit: usize) -> Vec<Subscription> {
    subscriptions(stores, room, BucketRange::ALL, limit).await.0
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
        stored_connection(&stores, &a.connection_id).await,
        Some(a.clone())
    );
    assert_eq!(stored_connection(&stores, &conn_id("nope")).await, None);
    let mut mine = user_connections(&stores, user).await;
    mine.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    let mut want = vec![a, b];
    want.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    assert_eq!(mine, want);
    assert!(user_connections(&stores, UserId::new()).await.is_empty());
}

async fn expired_rows_are_hidden(stores: Stores) {
    let user = UserId::new();
    let live = connection(user, now());
    let mut stale = connection(user, now() - Duration::hours(3));
    stale.expires_at = now() - Duration::hours(1);
    for c in [&live, &stale] {
        stores.connections.put_connection(c).await.unwrap();
    }
    assert_eq!(stored_connection(&stores, &stale.connection_id).await, None);
    assert_eq!(
        user_connections(&stores, user).await,
        std::slice::from_ref(&live)
    );

    let room = Room::Event(EventId::new());
    subscribe(&stores, &live, room).await;
    subscribe(&stores, &stale, room).await;
    let (subs, _) = subscriptions(&stores, room, BucketRange::ALL, 10).await;
    assert_eq!(subs, [subscription(&live, room)]);
    assert!(rooms_of(&stores, &stale.connection_id).await.is_empty());
    assert_eq!(rooms_of(&stores, &live.connection_id).await, [room]);
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
    assert_eq!(rooms_of(&stores, &c.connection_id).await, [room]);
}

async fn list_subscriptions_pages(stores: Stores) {
    let room = Room::Event(EventId::new());
    let other_room = Room::Event(EventId::new());
    let mut want = Vec::new();
    for _ in 0..25 {
        let c = connection(UserId::new(), now());
        stores.connections.put_connection(&c).await.unwrap();
        subscribe(&stores, &c, room).await;
        want.push(c.connection_id.clone());
    }
    let outsider = connection(UserId::new(), now());
    subscribe(&stores, &outsider, other_room).await;

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
        subscribe(&stores, &c, room).await;
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
        subscribe(&stores, &c, room).await;
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
    assert_eq!(rooms_of(&stores, &c.connection_id).await, [b]);
    assert!(whole_room(&stores, a, 10).await.is_empty());
    assert_eq!(whole_room(&stores, b, 10).await, [subscription(&c, b)]);
    // The connection itself stays.
    assert_eq!(stored_connection(&stores, &c.connection_id).await, Some(c));
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
        subscribe(&stores, &c, room).await;
    }
    subscribe(&stores, &neighbour, rooms[0]).await;

    let left = delete(&stores, &c.connection_id).await;
    assert_eq!(sorted(left), sorted(rooms.to_vec()));

    assert_eq!(stored_connection(&stores, &c.connection_id).await, None);
    assert!(user_connections(&stores, user).await.is_empty());
    assert!(rooms_of(&stores, &c.connection_id).await.is_empty());
    assert_eq!(
        whole_room(&stores, rooms[0], 10).await,
        [subscription(&neighbour, rooms[0])]
    );
    for room in &rooms[1..] {
        assert!(whole_room(&stores, *room, 10).await.is_empty());
    }
    // The neighbour is untouched.
    assert_eq!(
        stored_connection(&stores, &neighbour.connection_id).await,
        Some(neighbour)
    );

    // Idempotent.
    assert!(delete(&stores, &c.connection_id).await.is_empty());
    assert!(delete(&stores, &conn_id("never")).await.is_empty());
}

async fn delete_connection_with_many_rooms(stores: Stores) {
    // More rows than one batch write (25) and more rooms than one small page.
    let c = connection(UserId::new(), now());
    stores.connections.put_connection(&c).await.unwrap();
    let mut rooms = Vec::new();
    for _ in 0..30 {
        let room = Room::Event(EventId::new());
        subscribe(&stores, &c, room).await;
        rooms.push(room);
    }
    assert_eq!(
        sorted(rooms_of(&stores, &c.connection_id).await),
        sorted(rooms.clone())
    );
    let left = delete(&stores, &c.connection_id).await;
    assert_eq!(sorted(left), sorted(rooms.clone()));
    for room in rooms {
        assert!(whole_room(&stores, room, 5).await.is_empty());
    }
    assert!(rooms_of(&stores, &c.connection_id).await.is_empty());
}

/// An anonymous viewer's connection from `ip`.
fn anonymous(ip: &str, connected_at: Timestamp) -> Connection {
    Connection {
        connection_id: conn_id("a"),
        viewer: Viewer::Anonymous {
            anonymous_ip: ip.to_owned(),
        },
        connected_at,
        expires_at: connection_expiry(connected_at),
    }
}

/// Anonymous connections round-trip, are listed by IP (and never as a user's), and
/// subscribe without a user.
async fn anonymous_connections_are_kept_by_ip(stores: Stores) {
    // Unique per run: tables outlive one run on the same moto.
    let ip = format!("2001:db8::{}", uuid::Uuid::now_v7().simple());
    let a = anonymous(&ip, now());
    let b = anonymous(&ip, now());
    let elsewhere = anonymous(&format!("{ip}0"), now());
    let mut stale = anonymous(&ip, now() - Duration::hours(3));
    stale.expires_at = now() - Duration::hours(1);
    let signed_in = connection(UserId::new(), now());
    for c in [&a, &b, &elsewhere, &stale, &signed_in] {
        stores.connections.put_connection(c).await.unwrap();
    }
    assert_eq!(
        stored_connection(&stores, &a.connection_id).await,
        Some(a.clone())
    );
    let mut listed = stores
        .connections
        .list_anonymous_connections(&ip)
        .await
        .unwrap();
    listed.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    let mut want = vec![a.clone(), b];
    want.sort_by(|x, y| x.connection_id.cmp(&y.connection_id));
    assert_eq!(listed, want);
    let room = Room::Event(EventId::new());
    subscribe(&stores, &a, room).await;
    let subs = whole_room(&stores, room, 10).await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].user_id, None);
    assert_eq!(delete(&stores, &a.connection_id).await, [room]);
    assert_eq!(
        stores
            .connections
            .list_anonymous_connections(&ip)
            .await
            .unwrap()
            .len(),
        1
    );
}

conformance_tests!(
    anonymous_connections_are_kept_by_ip,
    put_and_get_connection,
    expired_rows_are_hidden,
    subscribe_is_idempotent,
    list_subscriptions_pages,
    bucket_ranges_partition_subscriptions,
    unsubscribe_removes_subscription,
    delete_connection_removes_everything,
    delete_connection_with_many_rooms,
);
