//! The WebSocket handlers (`banter::ws`): `$connect`, `$disconnect` and the `$default` message
//! router, driven with API Gateway's WebSocket proxy events over the in-memory adapters. Every
//! reply is read from the connection's [`MemoryPoster`] channel, every broadcast from the
//! [`MemoryQueue`]. Also: the sample events in `events/ws-*.json` and the protocol documents.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use banter::app::App;
use banter::config::{Config, RateRule};
use banter::fanout::{Fanout, FanoutConfig};
use banter::ids::{ClientKey, ConnectionId, ConversationId, EventId, MessageId, UserId};
use banter::model::{
    AccountStatus, BucketRange, CommentSettings, Conversation, ConversationType, EventStatus,
    EventType, ModerationLevel, NewEvent, Participant, ParticipantRole, PasswordHash, User, Viewer,
    connection_expiry,
};
use banter::poster::memory::MemoryPoster;
use banter::poster::{PostError, Poster};
use banter::protocol::{
    CLIENT_MESSAGE_TYPES, ClientMessage, PresenceStatus, RoomRef, SERVER_MESSAGE_TYPES,
    parse_client_frame,
};
use banter::queue::memory::MemoryQueue;
use banter::queue::{FanoutJob, Queue};
use banter::room::{Position, Room};
use banter::service::messages::{self, MessageInput};
use banter::store::Window;
use banter::time::now;
use banter::ws;
use banter_testkit::queue::FlakyQueue;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// An app over the in-memory adapters, a poster, and the receiving ends of open connections.
struct World {
    app: App,
    queue: Arc<MemoryQueue>,
    poster: Arc<MemoryPoster>,
    inbox: Mutex<HashMap<ConnectionId, UnboundedReceiver<Vec<u8>>>>,
    heard: banter_testkit::queue::Heard,
}

impl World {
    fn new() -> Self {
        Self::with_config(Config::default())
    }

    fn with_config(config: Config) -> Self {
        let (app, queue) = App::in_memory(config).unwrap();
        Self {
            app,
            queue,
            poster: Arc::new(MemoryPoster::new()),
            inbox: Mutex::new(HashMap::new()),
            heard: banter_testkit::queue::Heard::default(),
        }
    }

    /// A world whose queue fails while the returned flag is set.
    fn with_flaky_queue() -> (Self, Arc<FlakyQueue>) {
        let mut world = Self::new();
        let flaky = Arc::new(FlakyQueue::new(world.queue.clone()));
        world.app = App {
            queue: flaky.clone(),
            ..world.app.clone()
        };
        (world, flaky)
    }

    async fn user(&self) -> UserId {
        let t = now();
        let id = UserId::new();
        let user = User {
            user_id: id,
            username: format!("u{}", &id.as_uuid().simple().to_string()[20..]),
            display_name: "Test User".into(),
            email: None,
            avatar_url: None,
            status_message: None,
            reputation_score: 0,
            account_status: AccountStatus::Active,
            password_hash: PasswordHash("unused".into()),
            created_at: t,
            updated_at: t,
            last_active_at: None,
            version: 1,
            privacy_settings: Default::default(),
        };
        self.app.stores.users.create_user(&user).await.unwrap();
        id
    }

    fn token(&self, user: UserId) -> String {
        banter_testkit::tokens::token_for(&self.app, user)
    }

    async fn event(&self, creator: UserId, live: bool) -> EventId {
        let t = now();
        let event = NewEvent::validate(
            "Final",
            None,
            EventType::Sports,
            t,
            None,
            None,
            ModerationLevel::Standard,
            CommentSettings::default(),
        )
        .unwrap()
        .into_event(creator, t);
        self.app.stores.events.create_event(&event).await.unwrap();
        if live {
            self.app
                .stores
                .events
                .set_status(
                    event.event_id,
                    EventStatus::Scheduled,
                    EventStatus::Live,
                    now(),
                )
                .await
                .unwrap();
        }
        event.event_id
    }

    async fn conversation(&self, members: &[UserId]) -> ConversationId {
        let t = now();
        let id = ConversationId::new();
        let conversation = Conversation {
            conversation_id: id,
            conversation_type: ConversationType::Group,
            title: Some("Team".into()),
            description: None,
            created_by: members[0],
            created_at: t,
            updated_at: t,
            last_message: None,
        };
        let participants: Vec<Participant> = members
            .iter()
            .map(|u| Participant::joining(id, *u, ParticipantRole::Member, t))
            .collect();
        self.app
            .stores
            .conversations
            .create_conversation(&conversation, &participants)
            .await
            .unwrap();
        id
    }

    /// Opens `connection` on the poster so that replies to it can be read.
    fn open(&self, connection: &ConnectionId) {
        let rx = self.poster.open(connection.clone());
        self.inbox.lock().unwrap().insert(connection.clone(), rx);
    }

    /// Connects `user` with a `?token=` handshake and opens the connection.
    async fn connect(&self, user: UserId) -> ConnectionId {
        let connection = new_connection_id();
        let resp = ws::connect::handle(
            &self.app,
            connect_request(&connection, json!({ "token": self.token(user) }), json!({})),
        )
        .await;
        assert_eq!(resp.status_code, 200, "{:?}", resp.body);
        self.open(&connection);
        // A connection announces its user online to their conversations: tests of other
        // frames count their own jobs, so those announcements are taken off the queue here
        // (and the presence tests look at them through `connect_announcing`).
        self.take_presence_jobs().await;
        connection
    }

    /// Takes the `presence_changed` jobs off the queue (putting every other job back) and
    /// returns them.
    async fn take_presence_jobs(&self) -> Vec<FanoutJob> {
        let (presence, others): (Vec<FanoutJob>, Vec<FanoutJob>) = self
            .jobs()
            .await
            .into_iter()
            .partition(|j| j.payload["type"] == "presence_changed");
        if !others.is_empty() {
            self.queue.send(&others).await.unwrap();
        }
        presence
    }

    /// Sends a frame as text on `connection` and returns the frames posted back to it.
    async fn send(&self, connection: &ConnectionId, frame: &Value) -> Vec<Value> {
        self.send_text(connection, &frame.to_string()).await
    }

    async fn send_text(&self, connection: &ConnectionId, text: &str) -> Vec<Value> {
        let resp = ws::router::handle(
            &self.app,
            self.poster.as_ref(),
            message_request(connection, text),
        )
        .await;
        assert_eq!(resp.status_code, 200);
        self.frames(connection)
    }

    /// Sends one frame and returns its only answer.
    async fn ask(&self, connection: &ConnectionId, frame: &Value) -> Value {
        let mut frames = self.send(connection, frame).await;
        assert_eq!(frames.len(), 1, "expected one answer, got {frames:#?}");
        frames.remove(0)
    }

    /// The frames delivered to `connection` since the last call.
    fn frames(&self, connection: &ConnectionId) -> Vec<Value> {
        let mut inbox = self.inbox.lock().unwrap();
        let rx = inbox.get_mut(connection).expect("connection not opened");
        let mut out = Vec::new();
        while let Ok(data) = rx.try_recv() {
            out.push(serde_json::from_slice(&data).unwrap());
        }
        out
    }

    /// What `jobs` tell their rooms, one frame per change ([`banter_testkit::queue::heard`]).
    async fn told(&self, jobs: Vec<FanoutJob>) -> Vec<Value> {
        banter_testkit::queue::heard(&self.app, jobs, &self.heard).await
    }

    /// Every job enqueued since the last call, in order.
    async fn jobs(&self) -> Vec<FanoutJob> {
        let mut out = Vec::new();
        loop {
            let batch = self.queue.receive(10, Duration::ZERO).await.unwrap();
            if batch.is_empty() {
                return out;
            }
            for r in batch {
                self.queue.delete(&r.receipt).await.unwrap();
                out.push(r.job);
            }
        }
    }

    async fn rooms_of(&self, connection: &ConnectionId) -> BTreeSet<Room> {
        self.app
            .stores
            .connections
            .list_connection_rooms(connection)
            .await
            .unwrap()
            .into_iter()
            .collect()
    }
}

fn new_connection_id() -> ConnectionId {
    format!("{}=", &uuid::Uuid::now_v7().simple().to_string()[16..])
        .parse()
        .unwrap()
}

fn new_message_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn request(value: Value) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(value).unwrap()
}

fn context(route: &str, event_type: &str, connection: &str) -> Value {
    json!({
        "routeKey": route,
        "eventType": event_type,
        "messageDirection": "IN",
        "stage": "test",
        "connectedAt": 1_756_753_452_000_i64,
        "requestTimeEpoch": 1_756_753_452_003_i64,
        "requestId": format!("req-{}", new_message_id()),
        "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
        "apiId": "abcd1234",
        "connectionId": connection,
        "identity": { "sourceIp": "203.0.113.7" },
    })
}

fn connect_request(
    connection: &ConnectionId,
    query: Value,
    headers: Value,
) -> ApiGatewayWebsocketProxyRequest {
    let multi: serde_json::Map<String, Value> = query
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    request(json!({
        "headers": headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi,
        "requestContext": context("$connect", "CONNECT", connection.as_str()),
        "isBase64Encoded": false,
    }))
}

fn message_request(connection: &ConnectionId, body: &str) -> ApiGatewayWebsocketProxyRequest {
    request(json!({
        "requestContext": context("$default", "MESSAGE", connection.as_str()),
        "body": body,
        "isBase64Encoded": false,
    }))
}

fn disconnect_request(connection: &ConnectionId) -> ApiGatewayWebsocketProxyRequest {
    request(json!({
        "requestContext": context("$disconnect", "DISCONNECT", connection.as_str()),
        "isBase64Encoded": false,
    }))
}

fn frame(kind: &str, message_id: &str, payload: Value) -> Value {
    json!({ "type": kind, "message_id": message_id, "payload": payload })
}

fn body_json(resp: &ApiGatewayProxyResponse) -> Value {
    match &resp.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

/// Asserts `answer` is an `ack` of `message_id` and returns its payload.
fn ack(answer: &Value, message_id: &str) -> Value {
    assert_eq!(answer["type"], "ack", "expected an ack, got {answer:#}");
    assert_eq!(answer["message_id"], message_id);
    answer["payload"].clone()
}

/// Asserts `answer` is an `error` with `code` answering `message_id`.
fn error(answer: &Value, code: &str, message_id: &str) {
    assert_eq!(answer["type"], "error", "expected an error, got {answer:#}");
    assert_eq!(answer["payload"]["code"], code, "{answer:#}");
    assert_eq!(answer["message_id"], message_id);
    assert!(
        answer["payload"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

// ---------------------------------------------------------------------------------------------
// $connect
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn connect_with_query_token_stores_the_connection() {
    let w = World::new();
    let user = w.user().await;
    let before = now();
    let connection = w.connect(user).await;
    let stored = w
        .app
        .stores
        .connections
        .get_connection(&connection)
        .await
        .unwrap()
        .expect("connection stored");
    assert_eq!(stored.user_id(), Some(user));
    assert!(stored.connected_at >= before && stored.connected_at <= now());
    assert_eq!(stored.expires_at, connection_expiry(stored.connected_at));
    assert!(w.rooms_of(&connection).await.is_empty());
    assert!(w.poster.posts().is_empty(), "$connect must never post");
}

#[tokio::test]
async fn connect_with_bearer_header_stores_the_connection_and_echoes_the_subprotocol() {
    let w = World::new();
    let user = w.user().await;
    let connection = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(
            &connection,
            json!({}),
            json!({
                "Authorization": format!("Bearer {}", w.token(user)),
                "Sec-WebSocket-Protocol": "chat.v9, live-comments-v1, banter.v1",
            }),
        ),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    assert_eq!(
        resp.headers.get("sec-websocket-protocol").unwrap(),
        "live-comments-v1"
    );
    let stored = w
        .app
        .stores
        .connections
        .get_connection(&connection)
        .await
        .unwrap();
    assert_eq!(stored.and_then(|c| c.user_id()), Some(user));
}

#[tokio::test]
async fn connect_without_an_offered_subprotocol_sends_none() {
    let w = World::new();
    let user = w.user().await;
    let connection = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(&connection, json!({ "token": w.token(user) }), json!({})),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    assert!(resp.headers.get("sec-websocket-protocol").is_none());
}

#[tokio::test]
async fn connect_rejects_empty_expired_forged_and_refresh_tokens_with_401() {
    let w = World::new();
    let user = w.user().await;
    let expired =
        banter_testkit::tokens::token_issued_at(&w.app, user, now() - chrono::Duration::days(1));
    let forged = banter_testkit::tokens::forged_token_for(user);
    let refresh = w
        .app
        .sessions
        .login_tokens(user, now())
        .await
        .unwrap()
        .refresh_token;
    let cases = [
        ("empty", json!({ "token": "" }), json!({})),
        ("garbage", json!({ "token": "not-a-jwt" }), json!({})),
        ("expired", json!({ "token": expired }), json!({})),
        ("forged", json!({ "token": forged }), json!({})),
        ("refresh", json!({ "token": refresh }), json!({})),
        (
            "expired header wins over a valid query token",
            json!({ "token": w.token(user) }),
            json!({ "Authorization": format!("Bearer {expired}") }),
        ),
    ];
    for (name, query, headers) in cases {
        let connection = new_connection_id();
        let resp = ws::connect::handle(&w.app, connect_request(&connection, query, headers)).await;
        assert_eq!(resp.status_code, 401, "{name}");
        assert_eq!(body_json(&resp)["error"]["code"], "UNAUTHORIZED", "{name}");
        assert!(
            w.app
                .stores
                .connections
                .get_connection(&connection)
                .await
                .unwrap()
                .is_none(),
            "{name}: nothing may be stored"
        );
    }
    assert!(w.poster.posts().is_empty());
}

/// Connects an anonymous viewer (no token) from `ip`; returns the handshake's status.
async fn connect_anonymous(w: &World, connection: &ConnectionId, query: Value, ip: &str) -> i64 {
    let mut req = connect_request(connection, query, json!({}));
    req.request_context.identity.source_ip = Some(ip.to_owned());
    ws::connect::handle(&w.app, req).await.status_code
}

#[tokio::test]
async fn an_anonymous_viewer_watches_events_and_every_write_is_unauthorized() {
    let w = World::new();
    let host = w.user().await;
    let event = w.event(host, true).await;
    let conversation = w.conversation(&[host]).await;
    let viewer = new_connection_id();
    assert_eq!(
        connect_anonymous(&w, &viewer, json!({ "event_id": event }), "198.51.100.1").await,
        200
    );
    w.open(&viewer);
    let stored = w
        .app
        .stores
        .connections
        .get_connection(&viewer)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        stored.viewer,
        Viewer::Anonymous {
            anonymous_ip: "198.51.100.1".into()
        }
    );
    assert_eq!(
        w.rooms_of(&viewer).await,
        BTreeSet::from([Room::Event(event)])
    );

    // A signed-in comment, then the viewer's catch-up replays it.
    let writer = w.connect(host).await;
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "kick-off" }),
    );
    ack(&w.ask(&writer, &f).await, &m);
    let m = new_message_id();
    let frames = w
        .send(
            &viewer,
            &frame("subscribe", &m, json!({ "event_id": event, "since": 0 })),
        )
        .await;
    assert_eq!(frames.len(), 2, "{frames:#?}");
    assert_eq!(frames[0]["type"], "stream_batch");
    let entries = banter_testkit::frames::flatten(&frames[..1]);
    assert!(
        entries
            .iter()
            .any(|e| e["type"] == "comment_broadcast" && e["payload"]["content"] == "kick-off"),
        "{entries:#?}"
    );
    ack(&frames[1], &m);
    let answer = w.ask(&viewer, &frame("ping", "p-1", json!({}))).await;
    assert_eq!(answer["type"], "pong");
    w.jobs().await;

    // Every write, and any conversation, is refused to this connection only.
    let message = banter::ids::MessageId::new();
    let writes = [
        (
            "comment_submit",
            json!({ "event_id": event, "content": "hi" }),
        ),
        (
            "send_message",
            json!({ "conversation_id": conversation, "content": "hi", "client_message_id": "c-1" }),
        ),
        ("typing_start", json!({ "conversation_id": conversation })),
        ("presence_update", json!({ "status": "active" })),
        (
            "message_read",
            json!({ "conversation_id": conversation, "message_id": message }),
        ),
        ("subscribe", json!({ "conversation_id": conversation })),
    ];
    for (kind, payload) in writes {
        let m = new_message_id();
        let answer = w.ask(&viewer, &frame(kind, &m, payload)).await;
        error(&answer, "UNAUTHORIZED", &m);
    }
    assert!(w.jobs().await.is_empty(), "nothing was written");
    assert!(w.frames(&writer).is_empty(), "nobody else heard of it");
    assert_eq!(
        w.rooms_of(&viewer).await,
        BTreeSet::from([Room::Event(event)])
    );

    // A conversation at connect is refused too, and nothing is stored.
    let other = new_connection_id();
    let status = connect_anonymous(
        &w,
        &other,
        json!({ "conversation_id": conversation }),
        "198.51.100.1",
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        w.app
            .stores
            .connections
            .get_connection(&other)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn anonymous_connections_are_capped_per_ip() {
    let w = World::with_config(Config {
        max_anonymous_connections_per_ip: 2,
        ..Config::default()
    });
    let ip = "198.51.100.2";
    let first = new_connection_id();
    assert_eq!(connect_anonymous(&w, &first, json!({}), ip).await, 200);
    assert_eq!(
        connect_anonymous(&w, &new_connection_id(), json!({}), ip).await,
        200
    );
    let third = new_connection_id();
    let mut req = connect_request(&third, json!({}), json!({}));
    req.request_context.identity.source_ip = Some(ip.to_owned());
    let resp = ws::connect::handle(&w.app, req).await;
    assert_eq!(resp.status_code, 429);
    assert_eq!(body_json(&resp)["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!(
        w.app
            .stores
            .connections
            .get_connection(&third)
            .await
            .unwrap()
            .is_none()
    );
    // Another address, and a signed-in user behind the same one, are not held back; a
    // closed connection frees a place.
    assert_eq!(
        connect_anonymous(&w, &new_connection_id(), json!({}), "198.51.100.3").await,
        200
    );
    let user = w.user().await;
    let signed_in = new_connection_id();
    let mut req = connect_request(&signed_in, json!({ "token": w.token(user) }), json!({}));
    req.request_context.identity.source_ip = Some(ip.to_owned());
    assert_eq!(ws::connect::handle(&w.app, req).await.status_code, 200);
    ws::disconnect::handle(&w.app, disconnect_request(&first)).await;
    assert_eq!(
        connect_anonymous(&w, &new_connection_id(), json!({}), ip).await,
        200
    );
}

#[tokio::test]
async fn connect_subscribes_to_the_rooms_in_the_query() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let conversation = w.conversation(&[user]).await;
    let connection = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(
            &connection,
            json!({
                "token": w.token(user),
                "event_id": event.to_string(),
                "conversation_id": conversation.to_string(),
            }),
            json!({}),
        ),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    assert_eq!(
        w.rooms_of(&connection).await,
        BTreeSet::from([Room::Event(event), Room::Conversation(conversation)])
    );
    let subs = w
        .app
        .stores
        .connections
        .list_subscriptions(Room::Event(event), BucketRange::ALL, 10, None)
        .await
        .unwrap();
    assert_eq!(subs.items.len(), 1);
    assert_eq!(subs.items[0].user_id, Some(user));
    assert!(w.poster.posts().is_empty(), "no catch-up at connect");
}

#[tokio::test]
async fn connect_with_a_bad_room_is_rejected_and_stores_nothing() {
    let w = World::new();
    let user = w.user().await;
    let stranger = w.user().await;
    let foreign = w.conversation(&[stranger]).await;
    let cases = [
        ("malformed event", json!({ "event_id": "nope" }), 400),
        (
            "malformed conversation",
            json!({ "conversation_id": "42" }),
            400,
        ),
        (
            "unknown event",
            json!({ "event_id": EventId::new().to_string() }),
            404,
        ),
        (
            "conversation of others",
            json!({ "conversation_id": foreign.to_string() }),
            404,
        ),
    ];
    for (name, mut query, status) in cases {
        query["token"] = json!(w.token(user));
        let connection = new_connection_id();
        let resp =
            ws::connect::handle(&w.app, connect_request(&connection, query, json!({}))).await;
        assert_eq!(resp.status_code, status, "{name}");
        assert!(
            w.app
                .stores
                .connections
                .get_connection(&connection)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(w.rooms_of(&connection).await.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn connect_without_a_connection_id_is_400() {
    let w = World::new();
    let user = w.user().await;
    let mut req = connect_request(
        &new_connection_id(),
        json!({ "token": w.token(user) }),
        json!({}),
    );
    req.request_context.connection_id = None;
    assert_eq!(ws::connect::handle(&w.app, req).await.status_code, 400);
}

// ---------------------------------------------------------------------------------------------
// $disconnect
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn disconnect_removes_the_connection_and_its_subscriptions_and_is_idempotent() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let conversation = w.conversation(&[user]).await;
    let connection = w.connect(user).await;
    for payload in [
        json!({ "event_id": event }),
        json!({ "conversation_id": conversation }),
    ] {
        let m = new_message_id();
        ack(
            &w.ask(&connection, &frame("subscribe", &m, payload)).await,
            &m,
        );
    }
    assert_eq!(w.rooms_of(&connection).await.len(), 2);

    for _ in 0..2 {
        let resp = ws::disconnect::handle(&w.app, disconnect_request(&connection)).await;
        assert_eq!(resp.status_code, 200);
        assert!(
            w.app
                .stores
                .connections
                .get_connection(&connection)
                .await
                .unwrap()
                .is_none()
        );
        assert!(w.rooms_of(&connection).await.is_empty());
        for room in [Room::Event(event), Room::Conversation(conversation)] {
            let subs = w
                .app
                .stores
                .connections
                .list_subscriptions(room, BucketRange::ALL, 10, None)
                .await
                .unwrap();
            assert!(subs.items.is_empty(), "{room}");
        }
    }
    let never = new_connection_id();
    let resp = ws::disconnect::handle(&w.app, disconnect_request(&never)).await;
    assert_eq!(resp.status_code, 200);
}

// ---------------------------------------------------------------------------------------------
// subscribe / unsubscribe / catch-up
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn subscribe_to_an_event_and_a_conversation_acks_the_room() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, false).await;
    let conversation = w.conversation(&[user]).await;
    let connection = w.connect(user).await;

    let m = new_message_id();
    let a = ack(
        &w.ask(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event })),
        )
        .await,
        &m,
    );
    assert_eq!(a["room"], format!("event:{event}"));
    assert_eq!(a["event_id"], event.to_string());
    assert!(a.get("has_more").is_none(), "no catch-up without since");

    let m = new_message_id();
    let a = ack(
        &w.ask(
            &connection,
            &frame("subscribe", &m, json!({ "conversation_id": conversation })),
        )
        .await,
        &m,
    );
    assert_eq!(a["room"], format!("conversation:{conversation}"));
    assert_eq!(
        w.rooms_of(&connection).await,
        BTreeSet::from([Room::Event(event), Room::Conversation(conversation)])
    );
}

#[tokio::test]
async fn subscribe_to_a_foreign_conversation_or_unknown_event_is_not_found() {
    let w = World::new();
    let user = w.user().await;
    let stranger = w.user().await;
    let foreign = w.conversation(&[stranger]).await;
    let connection = w.connect(user).await;
    for payload in [
        json!({ "conversation_id": foreign }),
        json!({ "conversation_id": ConversationId::new() }),
        json!({ "event_id": EventId::new() }),
    ] {
        let m = new_message_id();
        error(
            &w.ask(&connection, &frame("subscribe", &m, payload)).await,
            "NOT_FOUND",
            &m,
        );
    }
    assert!(w.rooms_of(&connection).await.is_empty());
}

#[tokio::test]
async fn subscribe_with_since_sends_catch_up_in_order_then_acks_where_to_resume() {
    let w = World::with_config(Config {
        catch_up_limit: 3,
        ..Config::default()
    });
    let author = w.user().await;
    let reader = w.user().await;
    let event = w.event(author, true).await;
    let writer = w.connect(author).await;
    let mut ids = Vec::new();
    for i in 1..=5 {
        let m = new_message_id();
        let a = ack(
            &w.ask(
                &writer,
                &frame(
                    "comment_submit",
                    &m,
                    json!({ "event_id": event, "content": format!("comment {i}") }),
                ),
            )
            .await,
            &m,
        );
        assert_eq!(a["position"], i + 1, "position 1 is the event going live");
        ids.push(a["comment_id"].clone());
    }

    let connection = w.connect(reader).await;
    let m = new_message_id();
    let frames = w
        .send(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event, "since": 2 })),
        )
        .await;
    // The first three changes after 2, in one stream_batch frame, then the ack.
    assert_eq!(frames.len(), 2, "{frames:#?}");
    assert_eq!(frames[0]["type"], "stream_batch");
    assert_eq!(frames[0]["payload"]["after"], 2);
    assert_eq!(frames[0]["payload"]["last_position"], 5);
    let entries = banter_testkit::frames::flatten(&frames[..1]);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["type"], "comment_broadcast");
        assert_eq!(e["position"], i + 3);
        assert_eq!(e["payload"]["position"], i + 3);
        assert_eq!(e["payload"]["comment_id"], ids[i + 1]);
        assert_eq!(e["payload"]["content"], format!("comment {}", i + 2));
    }
    assert_eq!(entries.len(), 3);
    let a = ack(&frames[1], &m);
    assert_eq!(a["has_more"], true);
    assert_eq!(a["last_position"], 5);
    assert_eq!(a["count"], 1);
    assert_eq!(a["head"], 6);
    assert!(a.get("reset").is_none());

    let m = new_message_id();
    let frames = w
        .send(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event, "since": 5 })),
        )
        .await;
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0]["payload"]["entries"][0]["position"], 6);
    let a = ack(&frames[1], &m);
    assert_eq!(a["has_more"], false);
    assert_eq!(a["last_position"], 6);

    // A position past the head (a rebuilt stream) is told to reload, not left waiting.
    let m = new_message_id();
    let a = ack(
        &w.ask(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event, "since": 9 })),
        )
        .await,
        &m,
    );
    assert_eq!(
        (
            a["count"].clone(),
            a["has_more"].clone(),
            a["reset"].clone()
        ),
        (json!(0), json!(false), json!("ahead"))
    );
    assert_eq!(a["last_position"], 9);
    assert_eq!(a["head"], 6);
}

#[tokio::test]
async fn subscribe_to_a_conversation_with_since_catches_up_messages() {
    let w = World::new();
    let a_user = w.user().await;
    let b_user = w.user().await;
    let conversation = w.conversation(&[a_user, b_user]).await;
    for i in 0..3 {
        messages::send(
            &w.app,
            a_user,
            MessageInput {
                conversation_id: conversation,
                content: format!("m{i}"),
                client_message_id: format!("k{i}").parse().unwrap(),
                reply_to_message_id: None,
                message_type: Default::default(),
                file_ids: Vec::new(),
            },
        )
        .await
        .unwrap();
    }
    let connection = w.connect(b_user).await;
    let m = new_message_id();
    let frames = w
        .send(
            &connection,
            &frame(
                "subscribe",
                &m,
                json!({ "conversation_id": conversation, "since": 0 }),
            ),
        )
        .await;
    let kinds: Vec<_> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["stream_batch", "ack"]);
    let entries = banter_testkit::frames::flatten(&frames[..1]);
    assert_eq!(
        banter_testkit::frames::kinds(&frames[..1]),
        ["new_message", "new_message", "new_message"]
    );
    let positions: Vec<_> = entries
        .iter()
        .map(|f| f["payload"]["message"]["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    assert!(
        entries
            .iter()
            .all(|f| f["payload"]["message"]["message_id"].is_string())
    );
    assert_eq!(ack(&frames[1], &m)["last_position"], 3);
}

#[tokio::test]
async fn an_interrupted_catch_up_is_an_internal_error_and_keeps_the_subscription() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    for i in 0..2 {
        let m = new_message_id();
        let frame = frame(
            "comment_submit",
            &m,
            json!({ "event_id": event, "content": format!("c{i}") }),
        );
        ack(&w.ask(&connection, &frame).await, &m);
    }
    w.poster.fail_next(connection.clone(), PostError::Forbidden);
    let m = new_message_id();
    let frames = w
        .send(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event, "since": 0 })),
        )
        .await;
    assert_eq!(
        frames.len(),
        1,
        "no frame after the failed one: {frames:#?}"
    );
    error(&frames[0], "INTERNAL", &m);
    assert!(w.rooms_of(&connection).await.contains(&Room::Event(event)));
}

#[tokio::test]
async fn unsubscribe_removes_the_subscription_and_is_idempotent() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    ack(
        &w.ask(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event })),
        )
        .await,
        &m,
    );
    for _ in 0..2 {
        let m = new_message_id();
        let a = ack(
            &w.ask(
                &connection,
                &frame("unsubscribe", &m, json!({ "event_id": event })),
            )
            .await,
            &m,
        );
        assert_eq!(a["room"], format!("event:{event}"));
        assert!(w.rooms_of(&connection).await.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// comment_submit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn comment_submit_acks_and_enqueues_the_comment_broadcast() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let a = ack(
        &w.ask(
            &connection,
            &frame(
                "comment_submit",
                &m,
                json!({
                    "event_id": event,
                    "content": "  What a goal!  ",
                    "parent_comment_id": null,
                    "client_metadata": { "platform": "web", "version": "1.0.0" },
                }),
            ),
        )
        .await,
        &m,
    );
    assert!(a["comment_id"].is_string());
    assert_eq!(a["event_id"], event.to_string());
    assert_eq!(a["position"], 2, "position 1 is the event going live");
    assert_eq!(a["created"], true);
    assert_eq!(a["moderation_status"], "approved");

    let jobs = w.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].room, Room::Event(event));
    assert_eq!(jobs[0].exclude, None);
    let told = w.told(jobs).await;
    let told = told.last().expect("the comment is told");
    assert_eq!(told["type"], "comment_broadcast");
    assert_eq!(told["payload"]["comment_id"], a["comment_id"]);
    assert_eq!(told["payload"]["content"], "What a goal!");
    assert_eq!(told["payload"]["position"], 2);

    // The ack carries the comment as the broadcast (and REST) show it, plus `created`.
    let mut view = a.clone();
    view.as_object_mut().unwrap().remove("created");
    assert_eq!(view, told["payload"]);
}

/// A client that numbers its frames per connection (`m-1`, `m-2`…) reuses message ids across
/// events and reconnects: each event gets its own comment, and the same id with other text in
/// the same event is refused rather than acked with the earlier comment.
#[tokio::test]
async fn comment_submit_message_ids_are_scoped_to_the_event_and_to_the_content() {
    let w = World::new();
    let user = w.user().await;
    let (first, second) = (w.event(user, true).await, w.event(user, true).await);
    let connection = w.connect(user).await;
    let submit = |event, text: &str| {
        frame(
            "comment_submit",
            "m-1",
            json!({ "event_id": event, "content": text }),
        )
    };
    let a = ack(
        &w.ask(&connection, &submit(first, "to the first")).await,
        "m-1",
    );
    let b = ack(
        &w.ask(&connection, &submit(second, "to the second")).await,
        "m-1",
    );
    assert_eq!(b["created"], true);
    assert_eq!(b["event_id"], second.to_string());
    assert_ne!(a["comment_id"], b["comment_id"]);
    let answer = w.ask(&connection, &submit(first, "something else")).await;
    error(&answer, "INVALID_MESSAGE", "m-1");
    let stored = w
        .app
        .stores
        .comments
        .list_comments(first, Window::after(Position::ZERO, 10))
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 1);
}

#[tokio::test]
async fn comment_submit_retry_with_the_same_message_id_returns_the_same_comment() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "once" }),
    );
    let first = ack(&w.ask(&connection, &f).await, &m);
    let again = ack(&w.ask(&connection, &f).await, &m);
    assert_eq!(first["created"], true);
    assert_eq!(again["created"], false);
    assert_eq!(first["comment_id"], again["comment_id"]);
    assert_eq!(first["position"], again["position"]);
    let stored = w
        .app
        .stores
        .comments
        .list_comments(event, Window::after(Position::ZERO, 10))
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 1);
    let jobs = w.jobs().await;
    assert_eq!(jobs.len(), 2, "the retry enqueues the delivery again");
    assert!(
        jobs.iter()
            .all(|j| j.room == Room::Event(event) && j.stream.is_some())
    );
    let told = w.told(jobs).await;
    let comments: Vec<&Value> = told
        .iter()
        .filter(|f| f["type"] == "comment_broadcast")
        .collect();
    assert_eq!(comments.len(), 1, "one comment, told once: {told:?}");
    assert_eq!(comments[0]["payload"]["comment_id"], first["comment_id"]);
}

#[tokio::test]
async fn comment_submit_to_an_event_that_is_not_live_is_forbidden() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, false).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "early" }),
    );
    error(&w.ask(&connection, &f).await, "FORBIDDEN", &m);
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": EventId::new(), "content": "x" }),
    );
    error(&w.ask(&connection, &f).await, "NOT_FOUND", &m);
    assert!(w.jobs().await.is_empty());
}

#[tokio::test]
async fn comment_content_must_hold_1_to_2000_characters() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    // Invisible-only content (zero-width spaces, a BOM, a word joiner) and bidirectional
    // overrides are refused like blank content (issue 13, finding 9).
    for content in [
        "a".repeat(2001),
        String::new(),
        "   \n ".into(),
        "\u{200b}\u{200b}\u{200b}".into(),
        "\u{feff}\u{2060} \u{200d}".into(),
        "pay \u{202e}gnp.exe".into(),
    ] {
        let m = new_message_id();
        let answer = w
            .ask(
                &connection,
                &frame(
                    "comment_submit",
                    &m,
                    json!({ "event_id": event, "content": content }),
                ),
            )
            .await;
        error(&answer, "INVALID_MESSAGE", &m);
        assert_eq!(answer["payload"]["details"][0]["field"], "content");
    }
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "é".repeat(2000) }),
    );
    assert_eq!(ack(&w.ask(&connection, &f).await, &m)["created"], true);
}

#[tokio::test]
async fn comments_over_the_rate_limit_are_rate_limit_exceeded() {
    let w = World::with_config(Config {
        comment_rate: RateRule::per(2, 60),
        ..Config::default()
    });
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    for i in 0..2 {
        let m = new_message_id();
        let f = frame(
            "comment_submit",
            &m,
            json!({ "event_id": event, "content": format!("{i}") }),
        );
        ack(&w.ask(&connection, &f).await, &m);
    }
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "third" }),
    );
    let answer = w.ask(&connection, &f).await;
    error(&answer, "RATE_LIMIT_EXCEEDED", &m);
    assert!(
        answer["payload"]["retry_after"]
            .as_u64()
            .is_some_and(|s| s >= 1)
    );
}

/// A comment whose broadcast cannot be enqueued is acked as created: it is committed and in
/// the room's stream (an error would have the client send it again). A retry of the frame is
/// that comment (`created: false`), and its job delivers it to the room.
#[tokio::test]
async fn a_queue_failure_still_acks_the_stored_comment_and_the_next_job_delivers_it() {
    let (w, flaky) = World::with_flaky_queue();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "kept" }),
    );

    flaky.set_failing(true);
    let first = ack(&w.ask(&connection, &f).await, &m);
    assert_eq!(first["created"], true);
    let stored = w
        .app
        .stores
        .comments
        .list_comments(event, Window::after(Position::ZERO, 10))
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 1, "the comment is stored");
    assert!(w.jobs().await.is_empty(), "nothing could be enqueued");

    flaky.set_failing(false);
    let a = ack(&w.ask(&connection, &f).await, &m);
    assert_eq!(a["created"], false);
    assert_eq!(a["comment_id"], stored.items[0].comment_id.to_string());
    let jobs = w.jobs().await;
    assert_eq!(jobs.len(), 1);
    let told = w.told(jobs).await;
    assert_eq!(
        banter_testkit::frames::kinds(&told),
        ["event_status_changed", "comment_broadcast"],
        "the comment stored during the outage reaches the room with the next job"
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed frames
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_oversize_frame_is_payload_too_large() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "x", "padding": "p".repeat(33 * 1024) }),
    );
    let answer = w.ask(&connection, &f).await;
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["payload"]["code"], "PAYLOAD_TOO_LARGE");
    assert!(w.jobs().await.is_empty());
}

#[tokio::test]
async fn malformed_frames_are_invalid_message() {
    let w = World::new();
    let user = w.user().await;
    let connection = w.connect(user).await;
    let cases: [(&str, String, &str); 8] = [
        ("not JSON", "{nope".into(), ""),
        ("empty body", String::new(), ""),
        ("not an object", "[1,2]".into(), ""),
        ("no message_id", r#"{"type":"ping"}"#.into(), ""),
        (
            "bad message_id",
            r#"{"type":"ping","message_id":"has space"}"#.into(),
            "has space",
        ),
        (
            "unknown type",
            r#"{"type":"dance","message_id":"m-1"}"#.into(),
            "m-1",
        ),
        ("no type", r#"{"message_id":"m-2"}"#.into(), "m-2"),
        (
            "bad field",
            r#"{"type":"subscribe","message_id":"m-3","payload":{"event_id":"x"}}"#.into(),
            "m-3",
        ),
    ];
    for (name, text, message_id) in cases {
        let frames = w.send_text(&connection, &text).await;
        assert_eq!(frames.len(), 1, "{name}");
        assert_eq!(frames[0]["type"], "error", "{name}");
        assert_eq!(frames[0]["payload"]["code"], "INVALID_MESSAGE", "{name}");
        assert_eq!(frames[0]["message_id"], message_id, "{name}");
    }
}

#[tokio::test]
async fn base64_frames_are_decoded() {
    use base64::Engine as _;
    let w = World::new();
    let user = w.user().await;
    let connection = w.connect(user).await;
    let text = frame("ping", "b64", json!({})).to_string();
    let mut req = message_request(
        &connection,
        &base64::engine::general_purpose::STANDARD.encode(text),
    );
    req.is_base64_encoded = true;
    let resp = ws::router::handle(&w.app, w.poster.as_ref(), req).await;
    assert_eq!(resp.status_code, 200);
    let frames = w.frames(&connection);
    assert_eq!(frames[0]["type"], "pong");
    assert_eq!(frames[0]["message_id"], "b64");

    let mut req = message_request(&connection, "%%%");
    req.is_base64_encoded = true;
    ws::router::handle(&w.app, w.poster.as_ref(), req).await;
    assert_eq!(
        w.frames(&connection)[0]["payload"]["code"],
        "INVALID_MESSAGE"
    );
}

// ---------------------------------------------------------------------------------------------
// send_message, typing, presence, receipts, ping
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_message_is_idempotent_by_client_message_id() {
    let w = World::new();
    let user = w.user().await;
    let friend = w.user().await;
    let conversation = w.conversation(&[user, friend]).await;
    let connection = w.connect(user).await;
    let send = |m: &str| {
        frame(
            "send_message",
            m,
            json!({
                "conversation_id": conversation,
                "content": "Hello in real-time!",
                "client_message_id": "client-uuid-1",
            }),
        )
    };
    let (m1, m2) = (new_message_id(), new_message_id());
    let first = ack(&w.ask(&connection, &send(&m1)).await, &m1);
    let again = ack(&w.ask(&connection, &send(&m2)).await, &m2);
    assert_eq!(first["created"], true);
    assert_eq!(again["created"], false);
    assert_eq!(first["message_id"], again["message_id"]);
    assert_eq!(first["client_message_id"], "client-uuid-1");
    assert_eq!(first["position"], 1);
    assert_eq!(first["delivery_status"], "sent");
    let stored = w
        .app
        .stores
        .messages
        .list_messages(conversation, Window::after(Position::ZERO, 10))
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 1);
    let jobs = w.jobs().await;
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|j| j.room == Room::Conversation(conversation) && j.stream.is_some())
    );
    let told = w.told(jobs).await;
    assert_eq!(told.len(), 1, "one message, told once: {told:?}");
    assert_eq!(told[0]["type"], "new_message");
    assert_eq!(
        told[0]["payload"]["message"]["message_id"],
        first["message_id"]
    );

    // The ack carries the message as the broadcast (and REST) show it, plus `created`.
    let mut view = first.clone();
    view.as_object_mut().unwrap().remove("created");
    assert_eq!(view, told[0]["payload"]["message"]);
}

#[tokio::test]
async fn send_message_outside_the_conversation_is_not_found() {
    let w = World::new();
    let user = w.user().await;
    let stranger = w.user().await;
    let conversation = w.conversation(&[stranger]).await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let f = frame(
        "send_message",
        &m,
        json!({ "conversation_id": conversation, "content": "hi", "client_message_id": "k" }),
    );
    error(&w.ask(&connection, &f).await, "NOT_FOUND", &m);
    assert!(w.jobs().await.is_empty());
}

#[tokio::test]
async fn typing_start_and_stop_broadcast_user_typing_to_everyone_but_the_sender() {
    let w = World::new();
    let user = w.user().await;
    let friend = w.user().await;
    let conversation = w.conversation(&[user, friend]).await;
    let connection = w.connect(user).await;
    for (kind, typing) in [("typing_start", true), ("typing_stop", false)] {
        let m = new_message_id();
        let a = ack(
            &w.ask(
                &connection,
                &frame(kind, &m, json!({ "conversation_id": conversation })),
            )
            .await,
            &m,
        );
        assert_eq!(a["is_typing"], typing);
        let jobs = w.jobs().await;
        assert_eq!(jobs.len(), 1, "{kind}");
        assert_eq!(jobs[0].room, Room::Conversation(conversation));
        assert_eq!(jobs[0].exclude.as_ref(), Some(&connection));
        assert_eq!(jobs[0].payload["type"], "user_typing");
        assert_eq!(jobs[0].payload["payload"]["user_id"], user.to_string());
        assert_eq!(jobs[0].payload["payload"]["is_typing"], typing);
    }
    let stranger = w.user().await;
    let outsider = w.connect(stranger).await;
    let m = new_message_id();
    let f = frame(
        "typing_start",
        &m,
        json!({ "conversation_id": conversation }),
    );
    error(&w.ask(&outsider, &f).await, "NOT_FOUND", &m);
}

#[tokio::test]
async fn presence_goes_to_the_users_conversations_and_ends_with_the_last_connection() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let c1 = w.conversation(&[user]).await;
    let c2 = w.conversation(&[user]).await;
    let conversations = BTreeSet::from([Room::Conversation(c1), Room::Conversation(c2)]);
    let rooms_of = |jobs: &[FanoutJob]| jobs.iter().map(|j| j.room).collect::<BTreeSet<_>>();

    // The first connection sets the user online: their conversations hear it, never an
    // event's audience, and never this connection.
    let connection = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(&connection, json!({ "token": w.token(user) }), json!({})),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    w.open(&connection);
    let online = w.take_presence_jobs().await;
    assert_eq!(rooms_of(&online), conversations);
    for job in &online {
        assert_eq!(job.exclude.as_ref(), Some(&connection));
        assert_eq!(job.payload["payload"]["user_id"], user.to_string());
        assert_eq!(job.payload["payload"]["status"], "online");
        assert!(job.payload["payload"]["last_seen"].is_string());
    }
    let m = new_message_id();
    ack(
        &w.ask(
            &connection,
            &frame("subscribe", &m, json!({ "event_id": event })),
        )
        .await,
        &m,
    );
    w.jobs().await;

    // `away` is announced once; the same status again is not.
    for (status, told) in [("away", 2), ("away", 0), ("online", 2)] {
        let m = new_message_id();
        let a = ack(
            &w.ask(
                &connection,
                &frame("presence_update", &m, json!({ "status": status })),
            )
            .await,
            &m,
        );
        assert_eq!(a["status"], status);
        assert_eq!(a["rooms"], told, "{status}");
        let jobs = w.jobs().await;
        assert_eq!(jobs.len(), told as usize);
        if told > 0 {
            assert_eq!(rooms_of(&jobs), conversations);
            assert_eq!(jobs[0].payload["payload"]["status"], status);
            assert_eq!(
                jobs[0].payload["message_id"], jobs[1].payload["message_id"],
                "one broadcast, one id, so clients in both rooms can drop the duplicate"
            );
        }
    }
    let m = new_message_id();
    let f = frame("presence_update", &m, json!({ "status": "offline" }));
    error(&w.ask(&connection, &f).await, "INVALID_MESSAGE", &m);

    // A second connection changes nothing others see; closing it neither.
    let second = w.connect(user).await;
    let resp = ws::disconnect::handle(&w.app, disconnect_request(&second)).await;
    assert_eq!(resp.status_code, 200);
    assert!(w.take_presence_jobs().await.is_empty());
    let record = w
        .app
        .stores
        .presence
        .get_presences(&[user], now())
        .await
        .unwrap();
    assert!(record[&user].online.is_some(), "still online");

    // The last one closes: offline, with when they were last seen.
    let resp = ws::disconnect::handle(&w.app, disconnect_request(&connection)).await;
    assert_eq!(resp.status_code, 200);
    let offline = w.take_presence_jobs().await;
    assert_eq!(rooms_of(&offline), conversations);
    assert_eq!(offline[0].payload["payload"]["status"], "offline");
    assert!(offline[0].payload["payload"]["last_seen"].is_string());
    let record = w
        .app
        .stores
        .presence
        .get_presences(&[user], now())
        .await
        .unwrap();
    assert_eq!(record[&user].online, None);
    assert!(record[&user].activity.last_seen_at.is_some());
}

#[tokio::test]
async fn a_user_who_hides_their_online_status_is_never_announced() {
    let w = World::new();
    let user = w.user().await;
    let mut profile = w.app.stores.users.get_user(user).await.unwrap().unwrap();
    profile.privacy_settings.show_online_status = false;
    profile.version += 1;
    w.app.stores.users.update_user(&profile).await.unwrap();
    w.conversation(&[user]).await;
    let connection = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(&connection, json!({ "token": w.token(user) }), json!({})),
    )
    .await;
    assert_eq!(resp.status_code, 200);
    w.open(&connection);
    assert!(w.take_presence_jobs().await.is_empty());
    let m = new_message_id();
    let a = ack(
        &w.ask(
            &connection,
            &frame("presence_update", &m, json!({ "status": "away" })),
        )
        .await,
        &m,
    );
    assert_eq!(a["rooms"], 0);
    ws::disconnect::handle(&w.app, disconnect_request(&connection)).await;
    assert!(w.take_presence_jobs().await.is_empty());
}

#[tokio::test]
async fn presence_updates_are_rate_limited() {
    let w = World::with_config(Config {
        presence_rate: RateRule::per(1, 60),
        ..Config::default()
    });
    let user = w.user().await;
    let connection = w.connect(user).await;
    let m = new_message_id();
    let f = frame("presence_update", &m, json!({ "status": "active" }));
    assert_eq!(ack(&w.ask(&connection, &f).await, &m)["rooms"], 0);
    let m = new_message_id();
    let f = frame("presence_update", &m, json!({ "status": "typing" }));
    error(&w.ask(&connection, &f).await, "RATE_LIMIT_EXCEEDED", &m);
}

#[tokio::test]
async fn message_delivered_and_read_broadcast_delivery_status_updates() {
    let w = World::new();
    let sender = w.user().await;
    let reader = w.user().await;
    let conversation = w.conversation(&[sender, reader]).await;
    let sent = messages::send(
        &w.app,
        sender,
        MessageInput {
            conversation_id: conversation,
            content: "read me".into(),
            client_message_id: "k1".parse().unwrap(),
            reply_to_message_id: None,
            message_type: Default::default(),
            file_ids: Vec::new(),
        },
    )
    .await
    .unwrap();
    let message = sent.view.message_id;
    w.jobs().await;
    let connection = w.connect(reader).await;
    for (kind, status) in [("message_delivered", "delivered"), ("message_read", "read")] {
        let m = new_message_id();
        let a = ack(
            &w.ask(
                &connection,
                &frame(
                    kind,
                    &m,
                    json!({ "conversation_id": conversation, "message_id": message }),
                ),
            )
            .await,
            &m,
        );
        assert_eq!(a["status"], status);
        assert_eq!(a["message_id"], message.to_string());
        let jobs = w.jobs().await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].room, Room::Conversation(conversation));
        assert_eq!(jobs[0].payload["type"], "delivery_status_update");
        assert_eq!(jobs[0].payload["payload"]["status"], status);
        assert_eq!(jobs[0].payload["payload"]["user_id"], reader.to_string());
        assert_eq!(
            jobs[0].payload["payload"]["message_id"],
            message.to_string()
        );
    }
    let p = w
        .app
        .stores
        .conversations
        .get_participant(conversation, reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.last_read_position, Position(1));
    assert_eq!(p.last_read_message_id, Some(message));

    let m = new_message_id();
    let f = frame(
        "message_read",
        &m,
        json!({ "conversation_id": conversation, "message_id": MessageId::new() }),
    );
    error(&w.ask(&connection, &f).await, "NOT_FOUND", &m);
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let w = World::new();
    let user = w.user().await;
    let connection = w.connect(user).await;
    let answer = w.ask(&connection, &frame("ping", "p-1", json!({}))).await;
    assert_eq!(answer["type"], "pong");
    assert_eq!(answer["message_id"], "p-1");
    assert!(answer["timestamp"].is_string());
    assert!(w.jobs().await.is_empty());
}

#[tokio::test]
async fn a_frame_from_an_unknown_connection_is_unauthorized() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let stranger = new_connection_id();
    w.open(&stranger);
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "hi" }),
    );
    error(&w.ask(&stranger, &f).await, "UNAUTHORIZED", &m);

    let known = w.connect(user).await;
    ws::disconnect::handle(&w.app, disconnect_request(&known)).await;
    let m = new_message_id();
    let f = frame("subscribe", &m, json!({ "event_id": event }));
    error(&w.ask(&known, &f).await, "UNAUTHORIZED", &m);
    assert!(w.jobs().await.is_empty());
    assert!(w.rooms_of(&known).await.is_empty());
}

#[tokio::test]
async fn an_event_without_a_connection_id_is_400() {
    let w = World::new();
    let mut req = message_request(&new_connection_id(), r#"{"type":"ping","message_id":"m"}"#);
    req.request_context.connection_id = None;
    let resp = ws::router::handle(&w.app, w.poster.as_ref(), req).await;
    assert_eq!(resp.status_code, 400);
    assert!(w.poster.posts().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn replies_are_retried_when_throttled_but_not_when_forbidden() {
    let w = World::new();
    let user = w.user().await;
    let connection = w.connect(user).await;
    w.poster.fail_next(connection.clone(), PostError::Throttled);
    w.poster
        .fail_next(connection.clone(), PostError::Transient("HTTP 500".into()));
    let answer = w.ask(&connection, &frame("ping", "p-1", json!({}))).await;
    assert_eq!(answer["type"], "pong");

    w.poster.fail_next(connection.clone(), PostError::Forbidden);
    let frames = w.send(&connection, &frame("ping", "p-2", json!({}))).await;
    assert!(frames.is_empty());
    let answer = w.ask(&connection, &frame("ping", "p-3", json!({}))).await;
    assert_eq!(
        answer["message_id"], "p-3",
        "the forbidden reply was not retried"
    );
}

#[tokio::test]
async fn a_reply_to_a_gone_connection_still_answers_200() {
    let w = World::new();
    let user = w.user().await;
    let connection = w.connect(user).await;
    w.poster.close(&connection);
    let resp = ws::router::handle(
        &w.app,
        w.poster.as_ref(),
        message_request(&connection, r#"{"type":"ping","message_id":"m"}"#),
    )
    .await;
    assert_eq!(resp.status_code, 200);
}

// ---------------------------------------------------------------------------------------------
// End to end through the fan-out
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_comment_reaches_every_subscriber_through_the_fanout() {
    let w = World::new();
    let alice = w.user().await;
    let bob = w.user().await;
    let event = w.event(alice, true).await;
    let conversation = w.conversation(&[alice, bob]).await;
    let a = w.connect(alice).await;
    let b = w.connect(bob).await;
    for c in [&a, &b] {
        for payload in [
            json!({ "event_id": event }),
            json!({ "conversation_id": conversation }),
        ] {
            let m = new_message_id();
            ack(&w.ask(c, &frame("subscribe", &m, payload)).await, &m);
        }
    }
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event, "content": "gg" }),
    );
    let comment = ack(&w.ask(&a, &f).await, &m);
    let m = new_message_id();
    ack(
        &w.ask(
            &a,
            &frame(
                "typing_start",
                &m,
                json!({ "conversation_id": conversation }),
            ),
        )
        .await,
        &m,
    );

    let poster: Arc<dyn Poster> = w.poster.clone();
    let fanout = Fanout::new(
        w.app.stores.connections.clone(),
        poster,
        w.queue.clone(),
        FanoutConfig::default(),
    )
    .unwrap()
    .with_streams(w.app.stores.streams.clone(), w.app.stores.users.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for job in w.jobs().await {
        assert!(fanout.deliver(&job, deadline).await.unwrap().is_finished());
    }
    let to_b = w.frames(&b);
    assert_eq!(to_b[0]["type"], "stream_batch");
    assert_eq!(
        banter_testkit::frames::kinds(&to_b),
        [
            "event_status_changed",
            "comment_broadcast",
            "occupancy",
            "user_typing"
        ]
    );
    assert_eq!(
        banter_testkit::frames::flatten(&to_b)[1]["payload"]["comment_id"],
        comment["comment_id"]
    );
    let to_a = w.frames(&a);
    assert_eq!(
        banter_testkit::frames::kinds(&to_a),
        ["event_status_changed", "comment_broadcast", "occupancy"],
        "the typist gets no echo of its own typing"
    );
}

// ---------------------------------------------------------------------------------------------
// Sample events
// ---------------------------------------------------------------------------------------------

/// Ids used in `events/ws-*.json`, replaced by real ones before the events are handled.
const SAMPLE_EVENT: &str = "0198f2a4-5c3e-7b21-9f4a-1c2d3e4f5a6b";
const SAMPLE_CONVERSATION: &str = "0198f2a4-6d4f-7c32-8a5b-2d3e4f5a6b7c";
const SAMPLE_MESSAGE: &str = "0198f2a5-0e1a-7d43-9b6c-3e4f5a6b7c8d";
const SAMPLE_TOKEN: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTk4ZjJhMy0xYjJjLTdhMTAtOGQzZS0wZjFhMmIzYzRkNWUifQ.c2lnbmF0dXJl";

fn sample_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(repo_path("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            (name.starts_with("ws-") && name.ends_with(".json"))
                .then(|| (name, std::fs::read_to_string(&p).unwrap()))
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_sample_event_is_handled_by_its_handler() {
    let w = World::new();
    let user = w.user().await;
    let friend = w.user().await;
    let event = w.event(user, true).await;
    let conversation = w.conversation(&[user, friend]).await;
    let message = messages::send(
        &w.app,
        friend,
        MessageInput {
            conversation_id: conversation,
            content: "hi".into(),
            client_message_id: "sample".parse().unwrap(),
            reply_to_message_id: None,
            message_type: Default::default(),
            file_ids: Vec::new(),
        },
    )
    .await
    .unwrap()
    .view
    .message_id;
    let token = w.token(user);
    let substitute = |text: &str| -> ApiGatewayWebsocketProxyRequest {
        let text = text
            .replace(SAMPLE_EVENT, &event.to_string())
            .replace(SAMPLE_CONVERSATION, &conversation.to_string())
            .replace(SAMPLE_MESSAGE, &message.to_string())
            .replace(SAMPLE_TOKEN, &token);
        serde_json::from_str(&text).unwrap()
    };

    let files = sample_files();
    let names: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for kind in CLIENT_MESSAGE_TYPES {
        assert!(
            names.contains(format!("ws-default-{kind}.json").as_str()),
            "no sample for {kind}"
        );
    }
    assert!(names.contains("ws-connect.json") && names.contains("ws-disconnect.json"));

    // $connect samples first: they register the connection the frame samples come from.
    let mut connection: Option<ConnectionId> = None;
    for (name, text) in files.iter().filter(|(n, _)| n.starts_with("ws-connect")) {
        let req = substitute(text);
        assert_eq!(
            req.request_context.route_key.as_deref(),
            Some("$connect"),
            "{name}"
        );
        assert_eq!(
            req.request_context.event_type.as_deref(),
            Some("CONNECT"),
            "{name}"
        );
        let id: ConnectionId = req
            .request_context
            .connection_id
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        let query_event = req
            .query_string_parameters
            .first("event_id")
            .map(str::to_owned);
        let resp = ws::handle(&w.app, w.poster.as_ref(), req).await;
        assert_eq!(resp.status_code, 200, "{name}: {:?}", resp.body);
        assert!(
            resp.headers.get("sec-websocket-protocol").is_some(),
            "{name}"
        );
        let stored = w.app.stores.connections.get_connection(&id).await.unwrap();
        assert_eq!(stored.and_then(|c| c.user_id()), Some(user), "{name}");
        if query_event.is_some() {
            assert!(
                w.rooms_of(&id).await.contains(&Room::Event(event)),
                "{name}"
            );
        }
        connection = Some(id);
    }
    let connection = connection.unwrap();
    w.open(&connection);

    // Every frame type, in protocol order (subscribe before unsubscribe, etc.).
    for kind in CLIENT_MESSAGE_TYPES {
        let name = format!("ws-default-{kind}.json");
        let (_, text) = files.iter().find(|(n, _)| *n == name).unwrap();
        let req = substitute(text);
        assert_eq!(
            req.request_context.route_key.as_deref(),
            Some("$default"),
            "{name}"
        );
        assert_eq!(
            req.request_context.event_type.as_deref(),
            Some("MESSAGE"),
            "{name}"
        );
        assert_eq!(
            req.request_context.connection_id.as_deref(),
            Some(connection.as_str())
        );
        let body = req.body.clone().unwrap();
        let parsed = parse_client_frame(&body).unwrap();
        assert_eq!(parsed.body.kind().name(), *kind, "{name}");
        let resp = ws::handle(&w.app, w.poster.as_ref(), req).await;
        assert_eq!(resp.status_code, 200, "{name}");
        let frames = w.frames(&connection);
        let last = frames.last().unwrap_or_else(|| panic!("{name}: no answer"));
        let expected = if *kind == "ping" { "pong" } else { "ack" };
        assert_eq!(last["type"], expected, "{name}: {last:#}");
        assert_eq!(last["message_id"], parsed.message_id.as_str(), "{name}");
    }

    let (_, text) = files
        .iter()
        .find(|(n, _)| n == "ws-disconnect.json")
        .unwrap();
    let req = substitute(text);
    assert_eq!(
        req.request_context.event_type.as_deref(),
        Some("DISCONNECT")
    );
    let resp = ws::handle(&w.app, w.poster.as_ref(), req).await;
    assert_eq!(resp.status_code, 200);
    assert!(
        w.app
            .stores
            .connections
            .get_connection(&connection)
            .await
            .unwrap()
            .is_none()
    );
    assert!(w.rooms_of(&connection).await.is_empty());

    let known: BTreeSet<String> = std::iter::once("ws-connect.json".to_owned())
        .chain(std::iter::once("ws-connect-bearer.json".to_owned()))
        .chain(std::iter::once("ws-disconnect.json".to_owned()))
        .chain(
            CLIENT_MESSAGE_TYPES
                .iter()
                .map(|k| format!("ws-default-{k}.json")),
        )
        .collect();
    for name in names {
        assert!(known.contains(name), "{name} is not exercised by this test");
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol documents
// ---------------------------------------------------------------------------------------------

/// One message of every kind. The match below fails to compile when a message kind is added,
/// so this list cannot fall behind.
fn one_of_each_client_message() -> Vec<ClientMessage> {
    let all = vec![
        ClientMessage::Subscribe {
            room: RoomRef::Event(EventId::new()),
            since: None,
        },
        ClientMessage::Unsubscribe {
            room: RoomRef::Conversation(ConversationId::new()),
        },
        ClientMessage::CommentSubmit {
            event_id: EventId::new(),
            content: "x".into(),
            parent_comment_id: None,
            client_metadata: None,
        },
        ClientMessage::SendMessage {
            conversation_id: ConversationId::new(),
            content: "x".into(),
            client_message_id: "k".parse::<ClientKey>().unwrap(),
            reply_to_message_id: None,
            message_type: Default::default(),
            file_ids: Vec::new(),
        },
        ClientMessage::TypingStart {
            conversation_id: ConversationId::new(),
        },
        ClientMessage::TypingStop {
            conversation_id: ConversationId::new(),
        },
        ClientMessage::PresenceUpdate {
            status: PresenceStatus::Active,
        },
        ClientMessage::MessageDelivered {
            conversation_id: ConversationId::new(),
            message_id: MessageId::new(),
        },
        ClientMessage::MessageRead {
            conversation_id: ConversationId::new(),
            message_id: MessageId::new(),
        },
        ClientMessage::Ping,
    ];
    for m in &all {
        match m {
            ClientMessage::Subscribe { .. }
            | ClientMessage::Unsubscribe { .. }
            | ClientMessage::CommentSubmit { .. }
            | ClientMessage::SendMessage { .. }
            | ClientMessage::TypingStart { .. }
            | ClientMessage::TypingStop { .. }
            | ClientMessage::PresenceUpdate { .. }
            | ClientMessage::MessageDelivered { .. }
            | ClientMessage::MessageRead { .. }
            | ClientMessage::Ping => {}
        }
    }
    all
}

#[test]
fn every_type_the_router_handles_is_a_client_message_type() {
    let routed: BTreeSet<&str> = one_of_each_client_message()
        .iter()
        .map(|m| m.kind().name())
        .collect();
    let listed: BTreeSet<&str> = CLIENT_MESSAGE_TYPES.iter().copied().collect();
    assert_eq!(routed, listed);
}

fn resolve<'a>(doc: &'a serde_yaml_ng::Value, pointer: &str) -> Option<&'a serde_yaml_ng::Value> {
    let path = pointer.strip_prefix("#/")?;
    path.split('/').try_fold(doc, |node, key| {
        node.get(key.replace("~1", "/").replace("~0", "~"))
    })
}

fn collect_refs(node: &serde_yaml_ng::Value, out: &mut Vec<String>) {
    match node {
        serde_yaml_ng::Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("$ref") {
                    out.extend(v.as_str().map(str::to_owned));
                }
                collect_refs(v, out);
            }
        }
        serde_yaml_ng::Value::Sequence(s) => s.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The `name`s of the messages that the operations with `action` reference.
fn operation_messages(doc: &serde_yaml_ng::Value, action: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ops = doc["operations"].as_mapping().expect("operations");
    for (_, op) in ops {
        if op["action"].as_str() != Some(action) {
            continue;
        }
        let mut refs = Vec::new();
        collect_refs(&op["messages"], &mut refs);
        for r in refs {
            let mut message = resolve(doc, &r).unwrap_or_else(|| panic!("dangling {r}"));
            // Channel messages point on to components.
            if let Some(inner) = message.get("$ref").and_then(|v| v.as_str()) {
                message = resolve(doc, inner).unwrap_or_else(|| panic!("dangling {inner}"));
            }
            names.extend(message["name"].as_str().map(str::to_owned));
        }
    }
    names
}

#[test]
fn the_protocol_documents_cover_every_message_type() {
    let markdown = std::fs::read_to_string(repo_path("docs/websocket-protocol.md")).unwrap();
    let yaml = std::fs::read_to_string(repo_path("docs/asyncapi.yaml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(doc["asyncapi"].as_str(), Some("3.0.0"));

    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(
            resolve(&doc, r).is_some(),
            "asyncapi.yaml: dangling $ref {r}"
        );
    }

    let messages = doc["components"]["messages"]
        .as_mapping()
        .expect("components.messages");
    let names: BTreeSet<&str> = messages
        .values()
        .filter_map(|m| m["name"].as_str())
        .collect();
    let received = operation_messages(&doc, "receive");
    let sent = operation_messages(&doc, "send");
    for kind in CLIENT_MESSAGE_TYPES {
        assert!(
            markdown.contains(&format!("### `{kind}`")),
            "websocket-protocol.md: {kind}"
        );
        assert!(
            names.contains(kind),
            "asyncapi.yaml: no message named {kind}"
        );
        assert!(
            received.contains(*kind),
            "asyncapi.yaml: no receive operation for {kind}"
        );
    }
    for kind in SERVER_MESSAGE_TYPES {
        assert!(
            markdown.contains(&format!("### `{kind}`")),
            "websocket-protocol.md: {kind}"
        );
        assert!(
            names.contains(kind),
            "asyncapi.yaml: no message named {kind}"
        );
        assert!(
            sent.contains(*kind),
            "asyncapi.yaml: no send operation for {kind}"
        );
    }
    for code in [
        "INVALID_MESSAGE",
        "UNAUTHORIZED",
        "FORBIDDEN",
        "NOT_FOUND",
        "RATE_LIMIT_EXCEEDED",
        "PAYLOAD_TOO_LARGE",
        "INTERNAL",
    ] {
        assert!(markdown.contains(code), "websocket-protocol.md: {code}");
        assert!(yaml.contains(code), "asyncapi.yaml: {code}");
    }
}

// ---------------------------------------------------------------------------------------------
// Limits on every frame type, subscriptions per connection, connections per user
// ---------------------------------------------------------------------------------------------

/// A client that sends `subscribe {since: 0}` over and over gets a catch-up only within its
/// subscribe rate; `unsubscribe` counts too.
#[tokio::test]
async fn subscribe_and_unsubscribe_frames_are_rate_limited_per_user() {
    let w = World::with_config(Config {
        subscribe_rate: RateRule::per(3, 60),
        ..Config::default()
    });
    let user = w.user().await;
    let event = w.event(user, true).await;
    let connection = w.connect(user).await;
    // Since 1 (the event going live): nothing to catch up, one answer each.
    let subscribe = |m: &str| frame("subscribe", m, json!({ "event_id": event, "since": 1 }));
    for i in 0..2 {
        let m = format!("s-{i}");
        ack(&w.ask(&connection, &subscribe(&m)).await, &m);
    }
    let m = "u-1";
    let unsubscribe = frame("unsubscribe", m, json!({ "event_id": event }));
    ack(&w.ask(&connection, &unsubscribe).await, m);
    // The fourth: refused, with when to retry; the other connections of the user share it.
    let other = w.connect(user).await;
    let answer = w.ask(&other, &subscribe("s-3")).await;
    error(&answer, "RATE_LIMIT_EXCEEDED", "s-3");
    assert!(
        answer["payload"]["retry_after"]
            .as_u64()
            .is_some_and(|s| s > 0)
    );
    assert!(w.rooms_of(&other).await.is_empty());
}

/// A connection holds at most `max_subscriptions` rooms; a room it holds can be subscribed
/// again (a resume), and unsubscribing frees a place.
#[tokio::test]
async fn a_connection_holds_at_most_max_subscriptions_rooms() {
    let w = World::with_config(Config {
        max_subscriptions: 2,
        ..Config::default()
    });
    let user = w.user().await;
    let events = [
        w.event(user, true).await,
        w.event(user, true).await,
        w.event(user, true).await,
    ];
    let connection = w.connect(user).await;
    let subscribe = |e: EventId, m: &str| frame("subscribe", m, json!({ "event_id": e }));
    ack(&w.ask(&connection, &subscribe(events[0], "a")).await, "a");
    ack(&w.ask(&connection, &subscribe(events[1], "b")).await, "b");
    error(
        &w.ask(&connection, &subscribe(events[2], "c")).await,
        "FORBIDDEN",
        "c",
    );
    assert_eq!(w.rooms_of(&connection).await.len(), 2);
    ack(
        &w.ask(&connection, &subscribe(events[1], "again")).await,
        "again",
    );
    let unsubscribe = frame("unsubscribe", "u", json!({ "event_id": events[0] }));
    ack(&w.ask(&connection, &unsubscribe).await, "u");
    ack(&w.ask(&connection, &subscribe(events[2], "c2")).await, "c2");
    assert!(
        w.rooms_of(&connection)
            .await
            .contains(&Room::Event(events[2]))
    );
}

/// A user has at most `max_connections_per_user` open connections: one more handshake is a
/// 429 and stores nothing; a closed connection frees its place.
#[tokio::test]
async fn connections_per_user_are_capped_at_the_handshake() {
    let w = World::with_config(Config {
        max_connections_per_user: 2,
        ..Config::default()
    });
    let user = w.user().await;
    let first = w.connect(user).await;
    w.connect(user).await;
    let third = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(&third, json!({ "token": w.token(user) }), json!({})),
    )
    .await;
    assert_eq!(resp.status_code, 429);
    assert_eq!(body_json(&resp)["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!(
        w.app
            .stores
            .connections
            .get_connection(&third)
            .await
            .unwrap()
            .is_none()
    );
    // Another user is not affected, and a closed connection frees a place.
    w.connect(w.user().await).await;
    ws::disconnect::handle(&w.app, disconnect_request(&first)).await;
    w.connect(user).await;
}

/// `ping` and unreadable frames are each answered with a post: they count against the
/// connection's control rate (per connection: another socket of the user keeps its own).
#[tokio::test]
async fn pings_and_unreadable_frames_are_rate_limited_per_connection() {
    let w = World::with_config(Config {
        control_rate: RateRule::per(3, 60),
        ..Config::default()
    });
    let user = w.user().await;
    let connection = w.connect(user).await;
    let ping = |m: &str| frame("ping", m, json!({}));
    assert_eq!(w.ask(&connection, &ping("p1")).await["type"], "pong");
    assert_eq!(w.ask(&connection, &ping("p2")).await["type"], "pong");
    let garbage = w.send_text(&connection, "not json").await;
    assert_eq!(garbage[0]["payload"]["code"], "INVALID_MESSAGE");
    error(
        &w.ask(&connection, &ping("p3")).await,
        "RATE_LIMIT_EXCEEDED",
        "p3",
    );
    let garbage = w.send_text(&connection, "{still not json").await;
    assert_eq!(garbage[0]["payload"]["code"], "RATE_LIMIT_EXCEEDED");
    let other = w.connect(user).await;
    assert_eq!(w.ask(&other, &ping("q1")).await["type"], "pong");
}

/// Signs `user` in and connects with that session's access token; returns the connection
/// and the session's refresh token.
async fn connect_in_session(w: &World, user: UserId) -> (ConnectionId, String) {
    let pair = w.app.sessions.login_tokens(user, now()).await.unwrap();
    let connection = new_connection_id();
    let resp = ws::connect::handle(
        &w.app,
        connect_request(
            &connection,
            json!({ "token": pair.access_token }),
            json!({}),
        ),
    )
    .await;
    assert_eq!(resp.status_code, 200, "{:?}", resp.body);
    w.open(&connection);
    (connection, pair.refresh_token)
}

#[tokio::test]
async fn a_signed_out_sessions_socket_is_refused_every_frame_and_its_token_every_connect() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let (signed_out, refresh) = connect_in_session(&w, user).await;
    let (other, _) = connect_in_session(&w, user).await;
    let subscribe = |id: &str| frame("subscribe", id, json!({"event_id": event}));
    ack(&w.ask(&signed_out, &subscribe("s1")).await, "s1");

    let claims = w
        .app
        .sessions
        .issuer()
        .verify_refresh_at(&refresh, now())
        .unwrap();
    w.app.sessions.logout(&refresh).await.unwrap();
    error(
        &w.ask(&signed_out, &subscribe("s2")).await,
        "UNAUTHORIZED",
        "s2",
    );
    // Another session of the same user goes on.
    ack(&w.ask(&other, &subscribe("s3")).await, "s3");
    // The signed-out session's access token no longer opens a socket.
    let token = w
        .app
        .sessions
        .issuer()
        .issue_access(user, claims.fam, now())
        .unwrap()
        .0;
    let resp = ws::connect::handle(
        &w.app,
        connect_request(&new_connection_id(), json!({ "token": token }), json!({})),
    )
    .await;
    assert_eq!(resp.status_code, 401, "{:?}", resp.body);
}

#[tokio::test]
async fn a_suspended_accounts_socket_is_refused_and_it_cannot_connect() {
    let w = World::new();
    let user = w.user().await;
    let event = w.event(user, true).await;
    let (connection, _) = connect_in_session(&w, user).await;
    let mut account = w.app.stores.users.get_user(user).await.unwrap().unwrap();
    account.account_status = banter::model::AccountStatus::Suspended;
    account.version += 1;
    w.app.stores.users.update_user(&account).await.unwrap();
    let answer = w
        .ask(
            &connection,
            &frame(
                "comment_submit",
                "c1",
                json!({"event_id": event, "content": "hi"}),
            ),
        )
        .await;
    error(&answer, "ACCOUNT_SUSPENDED", "c1");
    let resp = ws::connect::handle(
        &w.app,
        connect_request(
            &new_connection_id(),
            json!({ "token": w.token(user) }),
            json!({}),
        ),
    )
    .await;
    assert_eq!(resp.status_code, 403, "{:?}", resp.body);
    assert_eq!(body_json(&resp)["error"]["code"], "ACCOUNT_SUSPENDED");
}

#[tokio::test]
async fn signing_out_closes_that_sessions_sockets_and_suspension_closes_them_all() {
    let moderator = UserId::new();
    let mut w = World::with_config(Config {
        moderators: [moderator].into(),
        ..Config::default()
    });
    w.app = w.app.clone().with_closer(w.poster.clone());
    let user = w.user().await;
    let (first, refresh) = connect_in_session(&w, user).await;
    let (second, _) = connect_in_session(&w, user).await;
    let (third, _) = connect_in_session(&w, user).await;
    let bystander = w.user().await;
    let (theirs, _) = connect_in_session(&w, bystander).await;

    banter::service::users::logout(&w.app, &refresh)
        .await
        .unwrap();
    assert!(
        !w.poster.is_open(&first),
        "the signed-out socket is still open"
    );
    assert!(w.poster.is_open(&second) && w.poster.is_open(&third));
    assert_eq!(
        w.app
            .stores
            .connections
            .get_connection(&first)
            .await
            .unwrap(),
        None
    );

    banter::service::users::set_suspension(&w.app, moderator, user, true)
        .await
        .unwrap();
    for c in [&second, &third] {
        assert!(
            !w.poster.is_open(c),
            "a suspended user's socket is still open"
        );
        assert_eq!(
            w.app.stores.connections.get_connection(c).await.unwrap(),
            None
        );
    }
    assert!(
        w.poster.is_open(&theirs),
        "another user's socket was closed"
    );
}

#[tokio::test]
async fn a_pending_comment_is_aimed_at_the_moderators_subscribed_connections_only() {
    let w = World::new();
    let host = w.user().await;
    let ada = w.user().await;
    let t = now();
    let event = NewEvent::validate(
        "Strict final",
        None,
        EventType::Sports,
        t,
        None,
        None,
        ModerationLevel::Strict,
        CommentSettings::default(),
    )
    .unwrap()
    .into_event(host, t);
    w.app.stores.events.create_event(&event).await.unwrap();
    w.app
        .stores
        .events
        .set_status(
            event.event_id,
            EventStatus::Scheduled,
            EventStatus::Live,
            now(),
        )
        .await
        .unwrap();
    let watching = w.connect(host).await;
    let elsewhere = w.connect(host).await;
    let author = w.connect(ada).await;
    for c in [&watching, &author] {
        let m = new_message_id();
        ack(
            &w.ask(
                c,
                &frame("subscribe", &m, json!({ "event_id": event.event_id })),
            )
            .await,
            &m,
        );
    }
    w.jobs().await;
    let m = new_message_id();
    let f = frame(
        "comment_submit",
        &m,
        json!({ "event_id": event.event_id, "content": "may I?" }),
    );
    let a = ack(&w.ask(&author, &f).await, &m);
    assert_eq!(a["moderation_status"], "pending");
    let aimed: Vec<FanoutJob> = w
        .jobs()
        .await
        .into_iter()
        .filter(|j| j.targets.is_some())
        .collect();
    assert_eq!(aimed.len(), 1, "{aimed:?}");
    assert_eq!(aimed[0].targets.as_deref(), Some(&[watching.clone()][..]));
    assert_eq!(aimed[0].payload["type"], "comment_pending");
    assert_eq!(aimed[0].payload["payload"]["content"], "may I?");
    assert!(!aimed[0].targets.as_ref().unwrap().contains(&elsewhere));
}
