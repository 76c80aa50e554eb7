//! A participant removed from a group receives nothing more of it once the removal has
//! answered: not messages, typing, receipts nor presence, even when a subscription row of
//! theirs survives the removal (a `subscribe` racing it, an index that had not caught up, an
//! unsubscribe that failed). Run on the in-memory stores and on DynamoDB over moto, with the
//! fan-out delivering every job the services enqueue.

mod support;

use std::sync::Arc;
use std::time::Duration;

use banter::app::App;
use banter::auth::{AuthConfig, SigningKey};
use banter::config::{Config, RateRule};
use banter::fanout::{Fanout, FanoutConfig};
use banter::ids::{ClientKey, ConnectionId, ConversationId, UserId};
use banter::model::{Connection, Receipt, Viewer, connection_expiry};
use banter::poster::memory::MemoryPoster;
use banter::protocol::{PresenceStatus, RoomRef};
use banter::queue::memory::MemoryQueue;
use banter::room::Room;
use banter::service::{conversations, messages, presence, rooms};
use banter::store::Stores;
use banter::time::now;
use banter_testkit::{conversations::store_group, queue::drain, users};
use tokio::sync::mpsc::UnboundedReceiver;

/// An app over `stores`, its queue, and a fan-out (with membership) posting to a memory poster.
struct World {
    app: App,
    queue: Arc<MemoryQueue>,
    poster: Arc<MemoryPoster>,
    fanout: Fanout,
}

impl World {
    fn over(stores: Stores) -> Self {
        let queue = Arc::new(MemoryQueue::new(Duration::from_secs(30), 5));
        let generous = RateRule::per(10_000, 10);
        let config = Config {
            message_rate: generous,
            typing_rate: generous,
            presence_rate: generous,
            subscribe_rate: generous,
            ..Config::default()
        };
        let key = SigningKey::hs256(b"removal-test-secret-of-32-bytes!!").expect("a key");
        let auth = AuthConfig::new(key);
        let app = App::new(stores.clone(), queue.clone(), &auth, config).expect("app");
        let poster = Arc::new(MemoryPoster::new());
        let shards = Arc::new(MemoryQueue::new(Duration::from_secs(30), 5));
        let fanout = Fanout::new(
            stores.connections.clone(),
            poster.clone(),
            shards,
            FanoutConfig::default(),
        )
        .expect("fan-out")
        .with_membership(stores.conversations.clone())
        .with_streams(stores.streams.clone(), stores.users.clone());
        Self {
            app,
            queue,
            poster,
            fanout,
        }
    }

    async fn user(&self, name: &str) -> UserId {
        let u = users::user_named(&format!("{name}_{}", &UserId::new().to_string()[24..]));
        users::store_user(&self.app, &u).await;
        u.user_id
    }

    /// A stored, open connection of `user` and what is posted to it.
    async fn connect(&self, user: UserId) -> (Connection, UnboundedReceiver<Vec<u8>>) {
        let id: ConnectionId = format!("{}=", &uuid::Uuid::now_v7().simple().to_string()[16..])
            .parse()
            .expect("a connection id");
        let t = now();
        let connection = Connection {
            connection_id: id.clone(),
            viewer: Viewer::User {
                user_id: user,
                session_id: None,
            },
            connected_at: t,
            expires_at: connection_expiry(t),
        };
        self.app
            .stores
            .connections
            .put_connection(&connection)
            .await
            .expect("stored");
        (connection, self.poster.open(id))
    }

    /// Delivers every job enqueued so far.
    async fn deliver(&self) {
        for job in drain(&self.queue).await {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let report = self
                .fanout
                .deliver(&job, deadline)
                .await
                .expect("delivered");
            assert!(report.is_finished(), "{report:?}");
        }
    }

    /// Everything the group hears from now on: a message, typing, a receipt and presence of
    /// the owner.
    async fn group_activity(&self, group: ConversationId, owner: &Connection, i: usize) {
        let key: ClientKey = format!("after-{i}").parse().expect("key");
        let me = owner.user_id().expect("the owner is signed in");
        let sent = messages::send(
            &self.app,
            me,
            messages::MessageInput {
                conversation_id: group,
                content: format!("after the removal {i}"),
                client_message_id: key,
                reply_to_message_id: None,
                message_type: Default::default(),
                file_ids: Vec::new(),
            },
        )
        .await
        .expect("sent");
        let id = sent.view.message_id;
        messages::typing(&self.app, me, group, true, None)
            .await
            .expect("typing");
        messages::receipt(&self.app, me, group, id, Receipt::Read)
            .await
            .expect("receipt");
        rooms::subscribe(&self.app, owner, RoomRef::Conversation(group), None)
            .await
            .expect("the owner subscribes");
        presence::update(&self.app, me, owner, PresenceStatus::Active)
            .await
            .expect("presence");
        self.deliver().await;
    }
}

fn frames(rx: &mut UnboundedReceiver<Vec<u8>>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while let Ok(data) = rx.try_recv() {
        out.push(serde_json::from_slice(&data).expect("a JSON frame"));
    }
    out
}

/// A subscription row that outlives the removal (written as a racing `subscribe` would write
/// it, after the removal's unsubscribe) carries nothing to the removed user.
async fn a_surviving_subscription_row_delivers_nothing(stores: Stores) {
    let w = World::over(stores);
    let (owner, member) = (w.user("owner").await, w.user("member").await);
    let group = ConversationId::new();
    store_group(&w.app, group, owner, &[member]).await;
    let (owner_conn, mut owner_rx) = w.connect(owner).await;
    let (member_conn, mut member_rx) = w.connect(member).await;
    rooms::subscribe(&w.app, &member_conn, RoomRef::Conversation(group), None)
        .await
        .expect("the member subscribes");

    let removed = conversations::remove_participants(&w.app, owner, group, &[member])
        .await
        .expect("removed");
    assert_eq!(removed, vec![member]);
    // The late write of a subscribe that passed its membership check before the removal.
    banter_testkit::connections::subscribe(
        &w.app,
        Room::Conversation(group),
        &member_conn.connection_id,
        member,
    )
    .await;
    frames(&mut member_rx);

    w.group_activity(group, &owner_conn, 0).await;
    assert_eq!(frames(&mut member_rx), Vec::<serde_json::Value>::new());
    // The owner, a participant, still hears the group (its own message, typing is excluded
    // from no one here, the receipt).
    let heard: Vec<String> = banter_testkit::frames::kinds(&frames(&mut owner_rx));
    assert!(heard.contains(&"new_message".to_owned()), "{heard:?}");
    // Nor does their presence reach the group through the surviving row.
    let rooms = presence::update(&w.app, member, &member_conn, PresenceStatus::Away)
        .await
        .expect("presence");
    assert_eq!(rooms, 0);
    w.deliver().await;
    assert!(
        frames(&mut owner_rx)
            .iter()
            .all(|f| f["type"] != "presence_changed"),
        "the removed member's presence reached the group"
    );
}

/// `subscribe` and the removal at once, many times: whichever wins, once both have answered
/// the removed user's connection hears nothing of the group.
async fn subscribe_racing_the_removal_delivers_nothing_after_it(stores: Stores) {
    let w = World::over(stores);
    let owner = w.user("owner").await;
    let (owner_conn, _owner_rx) = w.connect(owner).await;
    for i in 0..8 {
        let member = w.user("member").await;
        let group = ConversationId::new();
        store_group(&w.app, group, owner, &[member]).await;
        let (member_conn, mut member_rx) = w.connect(member).await;
        let leaving = [member];
        let (subscribed, removed) = tokio::join!(
            rooms::subscribe(&w.app, &member_conn, RoomRef::Conversation(group), None),
            conversations::remove_participants(&w.app, owner, group, &leaving),
        );
        removed.expect("removed");
        // The subscribe either lost (404: no longer a participant) or won the race.
        if let Err(e) = subscribed {
            assert_eq!(e.code.rest_code(), "NOT_FOUND", "{e:?}");
        }
        frames(&mut member_rx);
        w.group_activity(group, &owner_conn, i).await;
        assert_eq!(
            frames(&mut member_rx),
            Vec::<serde_json::Value>::new(),
            "round {i}"
        );
    }
}

#[tokio::test]
async fn memory_a_surviving_subscription_row_delivers_nothing() {
    a_surviving_subscription_row_delivers_nothing(banter::store::memory::stores()).await;
}

#[tokio::test]
async fn dynamodb_a_surviving_subscription_row_delivers_nothing() {
    a_surviving_subscription_row_delivers_nothing(support::moto_stores("removal").await).await;
}

#[tokio::test]
async fn memory_subscribe_racing_the_removal_delivers_nothing_after_it() {
    subscribe_racing_the_removal_delivers_nothing_after_it(banter::store::memory::stores()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_subscribe_racing_the_removal_delivers_nothing_after_it() {
    subscribe_racing_the_removal_delivers_nothing_after_it(support::moto_stores("removal").await)
        .await;
}
