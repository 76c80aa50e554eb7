//! The tick of a room's live delivery: after a pass, the holder keeps the room until its next
//! pass may start (`subscribers / post_budget`), so changes that arrive meanwhile go out
//! together in one frame per subscriber, even when the jobs of those changes run at once.
//! Tokio's paused clock runs the waits instantly.

use std::sync::Arc;
use std::time::Duration;

use banter::app::App;
use banter::config::{Config, RateRule};
use banter::fanout::{Fanout, FanoutConfig};
use banter::ids::ConnectionId;
use banter::poster::memory::MemoryPoster;
use banter::room::Room;
use banter::service::comments::{self, CommentInput};
use banter_testkit::connections::{store_connection, subscribe};
use banter_testkit::users::{store_user, user_named};
use serde_json::Value;

const VIEWERS: usize = 5;

#[tokio::test(start_paused = true)]
async fn changes_during_a_tick_go_out_together() {
    let (app, queue) = App::in_memory(Config {
        comment_rate: RateRule::per(10_000, 10),
        ..Config::default()
    })
    .expect("app");
    let author = user_named("pacing_author");
    store_user(&app, &author).await;
    let event =
        banter_testkit::events::seed_event(&app, author.user_id, banter::model::EventStatus::Live)
            .await
            .event_id;
    let poster = Arc::new(MemoryPoster::new());
    let mut inboxes = Vec::new();
    for i in 0..VIEWERS {
        let id: ConnectionId = format!("pacingconn{i:04}=").parse().expect("id");
        store_connection(&app, &id, author.user_id).await;
        subscribe(&app, Room::Event(event), &id, author.user_id).await;
        inboxes.push(poster.open(id));
    }
    // 5 subscribers at 5 posts/s: a pass every second.
    let fanout = Arc::new(
        Fanout::new(
            app.stores.connections.clone(),
            poster.clone(),
            queue.clone(),
            FanoutConfig {
                post_budget: 5,
                ..FanoutConfig::default()
            },
        )
        .expect("fanout")
        .with_streams(app.stores.streams.clone(), app.stores.users.clone()),
    );
    let post = |i: usize| {
        let app = app.clone();
        async move {
            comments::submit(
                &app,
                author.user_id,
                CommentInput {
                    event_id: event,
                    content: format!("comment {i}"),
                    parent_comment_id: None,
                    client_key: None,
                    client_metadata: None,
                },
            )
            .await
            .expect("a comment");
        }
    };
    let deliver_all = |fanout: Arc<Fanout>| {
        let queue = queue.clone();
        async move {
            let jobs = banter_testkit::queue::drain(&queue).await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            futures::future::join_all(jobs.iter().map(|j| fanout.deliver(j, deadline))).await
        }
    };

    // The first comment goes out at once; its holder then keeps the room for a second.
    post(0).await;
    let first = tokio::spawn(deliver_all(fanout.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Three more arrive within the tick, each delivered as it comes: their jobs find the room
    // held and end; the holder sends all three in its next pass.
    for i in 1..=3 {
        post(i).await;
        for r in deliver_all(fanout.clone()).await {
            assert!(r.expect("delivered").is_finished());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for r in first.await.expect("the holder ends") {
        assert!(r.expect("delivered").is_finished());
    }

    for inbox in &mut inboxes {
        let mut frames: Vec<Value> = Vec::new();
        while let Ok(f) = inbox.try_recv() {
            frames.push(serde_json::from_slice(&f).expect("JSON"));
        }
        assert!(
            frames.iter().all(|f| f["type"] == "stream_batch"),
            "{frames:?}"
        );
        let comments: Vec<Vec<String>> = frames
            .iter()
            .map(|f| {
                f["payload"]["entries"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["type"] == "comment_broadcast")
                    .map(|e| {
                        e["payload"]["content"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            comments,
            [
                vec!["comment 0".to_owned()],
                vec![
                    "comment 1".to_owned(),
                    "comment 2".to_owned(),
                    "comment 3".to_owned()
                ]
            ],
            "two frames: the first change at once, the other three in the next tick"
        );
    }
}
