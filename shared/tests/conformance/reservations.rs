//! DynamoDB only: a position is reserved before its change commits, so a writer can crash in
//! between. Readers must stop before such a position (never pass it and miss its change), and
//! the room's delivery voids it after the grace. The in-memory adapter takes a position and
//! writes its entry under one lock: nothing to test there.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use banter::fanout::{Fanout, FanoutConfig};
use banter::ids::{ClientKey, EventId, UserId};
use banter::model::Change;
use banter::poster::memory::MemoryPoster;
use banter::queue::memory::MemoryQueue;
use banter::queue::{FanoutJob, StreamWork};
use banter::room::{Position, Room};
use banter::store::{Order, Window};

use crate::support::moto_tables;

/// What a writer that crashed after its reservation leaves: the head moved, nothing else.
async fn crashed_reservation(client: &aws_sdk_dynamodb::Client, table: &str, event: EventId) {
    client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("EVENT#{event}")))
        .key("sk", AttributeValue::S("HEAD".into()))
        .update_expression("ADD seq :one, comments :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("reserve like a writer would");
}

fn positions(s: &banter::model::StreamSlice) -> Vec<u64> {
    s.entries.iter().map(|e| e.position.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_stop_before_a_crashed_writers_position_until_delivery_voids_it() {
    let (stores, client, names) = moto_tables("reserve").await;
    let event = EventId::new();
    let room = Room::Event(event);
    let user = UserId::new();
    let first = crate::created(
        stores
            .comments
            .append_comment(super::streams::comment(event, user, None))
            .await,
    );
    crashed_reservation(&client, &names.comments, event).await;
    let third = crate::created(
        stores
            .comments
            .append_comment(super::streams::comment(event, user, None))
            .await,
    );
    assert_eq!((first.position, third.position), (Position(1), Position(3)));

    // The stream: 1, then 2 is pending, so 3 waits.
    let s = stores
        .streams
        .read_stream(room, Position::ZERO, 100)
        .await
        .unwrap();
    assert_eq!(
        (positions(&s), s.pending, s.has_more),
        (vec![1], Some(Position(2)), false)
    );
    let s = stores
        .streams
        .read_stream(room, Position(1), 100)
        .await
        .unwrap();
    assert_eq!((positions(&s), s.pending), (vec![], Some(Position(2))));
    assert_eq!(s.reset_for(Position(1)), None, "pending is not expired");
    let s = stores
        .streams
        .read_stream(room, Position(2), 100)
        .await
        .unwrap();
    assert_eq!(
        positions(&s),
        vec![3],
        "past the reservation, nothing waits"
    );

    // A REST resume read stops there too; a plain listing shows what is committed.
    let resume = Window {
        after: Some(Position(1)),
        before: None,
        limit: 50,
        order: Order::Oldest,
    };
    let read = stores.comments.list_comments(event, resume).await.unwrap();
    assert!(read.items.is_empty(), "comment 3 must wait for position 2");
    let all = Window {
        after: None,
        before: None,
        limit: 50,
        order: Order::Newest,
    };
    assert_eq!(
        stores
            .comments
            .list_comments(event, all)
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // The delivery waits for position 2, then voids it after the grace and goes on.
    let fanout = Fanout::new(
        stores.connections.clone(),
        Arc::new(MemoryPoster::new()),
        Arc::new(MemoryQueue::new(Duration::from_secs(30), 5)),
        FanoutConfig::default(),
    )
    .expect("fanout")
    .with_streams(stores.streams.clone(), stores.users.clone());
    let job = FanoutJob::stream(room, StreamWork { counts: false });
    fanout
        .deliver(&job, tokio::time::Instant::now() + Duration::from_secs(30))
        .await
        .expect("delivery");
    let s = stores
        .streams
        .read_stream(room, Position::ZERO, 100)
        .await
        .unwrap();
    assert_eq!((positions(&s), s.pending), (vec![1, 2, 3], None));
    assert_eq!(s.entries[1].change, Change::Void, "the delivery voided it");
    assert!(
        !stores
            .streams
            .void_position(room, Position(2))
            .await
            .unwrap(),
        "a position is voided once"
    );
    let read = stores.comments.list_comments(event, resume).await.unwrap();
    assert_eq!(read.items.len(), 1, "comment 3 is readable after 1 now");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_append_voids_its_position_and_takes_back_its_count() {
    let (stores, _, _) = moto_tables("refused").await;
    let event = EventId::new();
    let user = UserId::new();
    let mut new = super::streams::comment(event, user, None);
    new.client_key = Some("retry-1".parse::<ClientKey>().unwrap());
    let original = crate::created(stores.comments.append_comment(new.clone()).await);
    let retry = stores.comments.append_comment(new).await.unwrap();
    assert!(!retry.created);
    assert_eq!(retry.item.comment_id, original.comment_id);
    let s = stores
        .streams
        .read_stream(Room::Event(event), Position::ZERO, 100)
        .await
        .unwrap();
    let changes: Vec<bool> = s.entries.iter().map(|e| e.change == Change::Void).collect();
    assert_eq!(changes, [false, true], "the retry's position holds a void");
    assert_eq!(stores.comments.comment_count(event).await.unwrap(), 1);
}
