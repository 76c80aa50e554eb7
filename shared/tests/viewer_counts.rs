//! Viewer counts: every subscribe, unsubscribe and disconnect of an event asks its delivery
//! for a count, taken at most every `OCCUPANCY_EVERY`; a changed count is an `occupancy`
//! entry delivered to the room like any change, and the event's `participant_count`; an
//! event at its `max_participants` refuses new viewers (`EVENT_FULL`) but not its moderators.
//! Tokio's paused clock runs the waits instantly.

use std::sync::Arc;
use std::time::Duration;

use banter::app::App;
use banter::config::Config;
use banter::error::ErrorCode;
use banter::fanout::{Fanout, FanoutConfig};
use banter::ids::{ConnectionId, EventId, UserId};
use banter::model::{Connection, EventStatus};
use banter::poster::memory::MemoryPoster;
use banter::protocol::RoomRef;
use banter::queue::memory::MemoryQueue;
use banter::room::Room;
use banter::service::{events, rooms};
use banter_testkit::connections::store_connection;
use banter_testkit::users::{store_user, user_named};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

struct Room1 {
    app: App,
    queue: Arc<MemoryQueue>,
    poster: Arc<MemoryPoster>,
    fanout: Fanout,
    event: EventId,
    host: UserId,
}

impl Room1 {
    async fn new(max_participants: Option<u32>) -> Self {
        let (app, queue) = App::in_memory(Config::default()).expect("app");
        let host = user_named("counts_host");
        store_user(&app, &host).await;
        let event = banter::model::Event {
            max_participants,
            ..banter_testkit::events::event_by(host.user_id, EventStatus::Live, banter::time::now())
        };
        banter_testkit::events::store_event(&app, &event).await;
        let poster = Arc::new(MemoryPoster::new());
        let fanout = Fanout::new(
            app.stores.connections.clone(),
            poster.clone(),
            queue.clone(),
            FanoutConfig::default(),
        )
        .expect("fanout")
        .with_streams(app.stores.streams.clone(), app.stores.users.clone());
        Self {
            app,
            queue,
            poster,
            fanout,
            event: event.event_id,
            host: host.user_id,
        }
    }

    /// A new connection of `user`, subscribed to the event through the service (as the
    /// `subscribe` frame does), and its inbox.
    async fn join(
        &self,
        tag: &str,
        user: UserId,
    ) -> Result<(Connection, UnboundedReceiver<Vec<u8>>), banter::error::AppError> {
        let id: ConnectionId = format!("counts{tag}=").parse().expect("id");
        store_connection(&self.app, &id, user).await;
        let conn = self
            .app
            .stores
            .connections
            .get_connection(&id)
            .await
            .expect("read")
            .expect("stored");
        let inbox = self.poster.open(id);
        rooms::subscribe(&self.app, &conn, RoomRef::Event(self.event), None).await?;
        Ok((conn, inbox))
    }

    /// Runs every queued job to its end (holders wait out their ticks and counts).
    async fn deliver(&self) {
        loop {
            let jobs = banter_testkit::queue::drain(&self.queue).await;
            if jobs.is_empty() {
                return;
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            for r in
                futures::future::join_all(jobs.iter().map(|j| self.fanout.deliver(j, deadline)))
                    .await
            {
                r.expect("delivered");
            }
        }
    }

    async fn participant_count(&self) -> u64 {
        let event = events::get(&self.app, self.event).await.expect("event");
        events::view(&self.app, &event, None)
            .await
            .expect("view")
            .participant_count
    }
}

/// The `occupancy` entries in what `inbox` received.
fn occupancies(inbox: &mut UnboundedReceiver<Vec<u8>>) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(f) = inbox.try_recv() {
        let frame: Value = serde_json::from_slice(&f).expect("JSON");
        for e in frame["payload"]["entries"].as_array().into_iter().flatten() {
            if e["type"] == "occupancy" {
                out.push(e["payload"].clone());
            }
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn joins_and_leaves_reach_the_room_as_counts_every_few_seconds() {
    let r = Room1::new(None).await;
    assert_eq!(r.participant_count().await, 0);
    let mut inboxes = Vec::new();
    let mut connections = Vec::new();
    for i in 0..3 {
        let (c, inbox) = r.join(&format!("a{i}"), r.host).await.expect("joined");
        connections.push(c);
        inboxes.push(inbox);
    }
    r.deliver().await;
    for inbox in &mut inboxes {
        let counts = occupancies(inbox);
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert_eq!(counts[0]["viewers"], 3);
        assert_eq!(counts[0]["exact"], true);
        assert_eq!(counts[0]["event_id"], r.event.to_string());
    }
    assert_eq!(r.participant_count().await, 3);

    // One leaves a second later: the count waits until it is due, then goes out once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    rooms::unsubscribe(&r.app, &connections[0].connection_id, Room::Event(r.event))
        .await
        .expect("left");
    let before = tokio::time::Instant::now();
    r.deliver().await;
    assert!(
        before.elapsed() >= Duration::from_secs(3),
        "the holder waited for the count to be due"
    );
    assert!(occupancies(&mut inboxes[0]).is_empty(), "it left the room");
    for inbox in &mut inboxes[1..] {
        let counts = occupancies(inbox);
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert_eq!(counts[0]["viewers"], 2);
    }
    assert_eq!(r.participant_count().await, 2);

    // A count that finds the same audience tells nobody anything.
    tokio::time::sleep(Duration::from_secs(10)).await;
    r.app.audience_moved(Room::Event(r.event)).await;
    r.deliver().await;
    for inbox in &mut inboxes[1..] {
        assert!(occupancies(inbox).is_empty());
    }
}

#[tokio::test(start_paused = true)]
async fn an_event_at_its_cap_refuses_new_viewers_but_not_its_moderators() {
    let r = Room1::new(Some(2)).await;
    let viewer = user_named("counts_viewer");
    store_user(&r.app, &viewer).await;
    // Their inboxes stay open: a closed one is a gone connection (410), which leaves.
    let _first = r.join("b0", viewer.user_id).await.expect("first");
    let _second = r.join("b1", viewer.user_id).await.expect("second");
    r.deliver().await;
    assert_eq!(r.participant_count().await, 2);
    let refused = r.join("b2", viewer.user_id).await.expect_err("full");
    assert_eq!(refused.code, ErrorCode::EventFull);
    assert_eq!(refused.code.ws_code(), "EVENT_FULL");
    // The event's creator moderates it: exempt.
    let _host = r.join("b3", r.host).await.expect("the host joins");
}

#[tokio::test(start_paused = true)]
async fn a_viewer_that_vanished_without_disconnect_leaves_the_count_at_its_first_gone_post() {
    let r = Room1::new(None).await;
    let (_, mut stays) = r.join("c0", r.host).await.expect("joined");
    let (_, vanished) = r.join("c1", r.host).await.expect("joined");
    r.deliver().await;
    assert_eq!(r.participant_count().await, 2);
    drop(vanished);
    // The next change's delivery finds it gone (410), removes it, and counts again.
    tokio::time::sleep(Duration::from_secs(10)).await;
    banter::service::events::change_status(&r.app, r.host, r.event, EventStatus::Ended)
        .await
        .expect("ended");
    r.deliver().await;
    assert_eq!(r.participant_count().await, 1);
    let counts = occupancies(&mut stays);
    assert_eq!(
        counts
            .iter()
            .map(|c| c["viewers"].clone())
            .collect::<Vec<_>>(),
        [2, 1]
    );
}
