//! On the local stack, with real WebSocket and HTTP clients: the live audience (issue 15).
//! A viewer who never signs in reads an event's comments over REST and watches them arrive
//! live over a read-only socket.

mod support;

use std::time::Duration;

use banter_local::{Gateway, GatewayConfig, RunningGateway};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a frame may take to arrive.
const WITHIN: Duration = Duration::from_secs(10);

async fn gateway() -> RunningGateway {
    Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts")
}

async fn open(url: String) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("the client connects")
        .0
}

async fn send(socket: &mut Socket, frame: Value) {
    socket
        .send(Message::text(frame.to_string()))
        .await
        .expect("frame sent");
}

/// The next frame of `socket` of type `kind` (others are skipped), within [`WITHIN`].
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} frame within {WITHIN:?}"))
            .expect("the socket stays open")
            .expect("a frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).expect("JSON frame");
            if v["type"] == kind {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn an_anonymous_viewer_reads_and_watches_comments_live_but_cannot_post() {
    let gw = gateway().await;
    let (event, token) = support::owner_of_a_live_event(gw.app(), "host").await;

    // No token: a read-only socket, subscribed at once.
    let mut viewer = open(format!("{}/?event_id={event}", gw.ws_url())).await;
    send(&mut viewer, json!({"type": "ping", "message_id": "p1"})).await;
    next_of(&mut viewer, "pong").await;

    let (status, _, body) = support::exchange(
        gw.rest_addr,
        "POST",
        &format!("/v1/events/{event}/comments"),
        Some(&token),
        r#"{"content":"kick-off!"}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let batch = next_of(&mut viewer, "stream_batch").await;
    let entries = batch["payload"]["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["type"], "comment_broadcast");
    assert_eq!(entries[0]["payload"]["content"], "kick-off!");

    // The listing needs no token either.
    let (status, _, body) = support::exchange(
        gw.rest_addr,
        "GET",
        &format!("/v1/events/{event}/comments"),
        None,
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(listed["comments"][0]["content"], "kick-off!");

    // Writing over the socket is refused to this viewer only.
    send(
        &mut viewer,
        json!({"type": "comment_submit", "message_id": "c1",
               "payload": {"event_id": event, "content": "me too"}}),
    )
    .await;
    let refused = next_of(&mut viewer, "error").await;
    assert_eq!(refused["message_id"], "c1");
    assert_eq!(refused["payload"]["code"], "UNAUTHORIZED");
    let (_, _, body) = support::exchange(
        gw.rest_addr,
        "GET",
        &format!("/v1/events/{event}/comments"),
        None,
        "",
    )
    .await;
    let listed: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(listed["comments"].as_array().map(Vec::len), Some(1));
}

/// A live event of `creator` whose comments are at least `secs` apart per user.
async fn slow_event(app: &banter::app::App, creator: banter::ids::UserId, secs: u32) -> String {
    live_event_with(
        app,
        creator,
        banter::model::ModerationLevel::Standard,
        banter::model::CommentSettings {
            slow_mode_seconds: secs,
            ..banter::model::CommentSettings::default()
        },
    )
    .await
}

/// A live event of `creator` with `level` moderation and `settings`.
async fn live_event_with(
    app: &banter::app::App,
    creator: banter::ids::UserId,
    level: banter::model::ModerationLevel,
    settings: banter::model::CommentSettings,
) -> String {
    use banter::model::{EventStatus, EventType, NewEvent};
    let input = NewEvent::validate(
        "Final",
        None,
        EventType::Sports,
        banter::time::now(),
        None,
        None,
        level,
        settings,
    )
    .expect("valid event");
    let event = banter::service::events::create(app, creator, input)
        .await
        .expect("created");
    banter::service::events::change_status(app, creator, event.event_id, EventStatus::Live)
        .await
        .expect("live");
    event.event_id.to_string()
}

#[tokio::test]
async fn slow_mode_holds_across_two_connections_of_one_user() {
    let gw = gateway().await;
    let (host, _) = support::registered(gw.app(), "host", None).await;
    let (_, token) = support::registered(gw.app(), "ada", None).await;
    let event = slow_event(gw.app(), host, 30).await;
    let mut phone = open(format!("{}/?token={token}", gw.ws_url())).await;
    let mut laptop = open(format!("{}/?token={token}", gw.ws_url())).await;
    let submit = |id: &str, text: &str| {
        json!({"type": "comment_submit", "message_id": id,
               "payload": {"event_id": event, "content": text}})
    };
    send(&mut phone, submit("m1", "from the phone")).await;
    let acked = next_of(&mut phone, "ack").await;
    assert_eq!(acked["payload"]["created"], true);
    send(&mut laptop, submit("m2", "from the laptop")).await;
    let refused = next_of(&mut laptop, "error").await;
    assert_eq!(refused["message_id"], "m2");
    assert_eq!(refused["payload"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!(
        refused["payload"]["retry_after"]
            .as_u64()
            .is_some_and(|s| s > 0 && s <= 30)
    );
    // Over REST too, and the phone's retry of its own comment is answered, not refused.
    let (status, _, _) = support::exchange(
        gw.rest_addr,
        "POST",
        &format!("/v1/events/{event}/comments"),
        Some(&token),
        r#"{"content":"from the browser"}"#,
    )
    .await;
    assert_eq!(status, 429);
    send(&mut phone, submit("m1", "from the phone")).await;
    let again = next_of(&mut phone, "ack").await;
    assert_eq!(again["payload"]["created"], false);
    assert_eq!(
        again["payload"]["comment_id"],
        acked["payload"]["comment_id"]
    );
}

#[tokio::test]
async fn a_banned_user_is_refused_on_both_transports() {
    let gw = gateway().await;
    let (host, _) = support::registered(gw.app(), "host", None).await;
    let (ada, token) = support::registered(gw.app(), "ada", None).await;
    let event = banter_local::seed::live_event(gw.app(), host, "host")
        .await
        .expect("a live event");
    banter::service::bans::ban(gw.app(), host, event, ada, None, Some("spam".into()))
        .await
        .expect("banned");
    let mut socket = open(format!("{}/?token={token}", gw.ws_url())).await;
    send(
        &mut socket,
        json!({"type": "comment_submit", "message_id": "b1",
               "payload": {"event_id": event, "content": "let me in"}}),
    )
    .await;
    let refused = next_of(&mut socket, "error").await;
    assert_eq!(refused["message_id"], "b1");
    assert_eq!(refused["payload"]["code"], "FORBIDDEN");
    let (status, _, body) = support::exchange(
        gw.rest_addr,
        "POST",
        &format!("/v1/events/{event}/comments"),
        Some(&token),
        r#"{"content":"over REST then"}"#,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("banned"), "{body}");
    // Reading is still allowed, and nothing was stored.
    let (status, _, body) = support::exchange(
        gw.rest_addr,
        "GET",
        &format!("/v1/events/{event}/comments"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(listed["comments"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn a_pending_comment_reaches_the_moderators_socket_and_nobody_elses() {
    let gw = gateway().await;
    let (host, host_token) = support::registered(gw.app(), "host", None).await;
    let (_, ada_token) = support::registered(gw.app(), "ada", None).await;
    let event = live_event_with(
        gw.app(),
        host,
        banter::model::ModerationLevel::Strict,
        banter::model::CommentSettings::default(),
    )
    .await;
    let mut moderator = open(format!("{}/?token={host_token}", gw.ws_url())).await;
    let mut viewer = open(format!("{}/?token={ada_token}", gw.ws_url())).await;
    for (socket, id) in [(&mut moderator, "s1"), (&mut viewer, "s2")] {
        send(
            socket,
            json!({"type": "subscribe", "message_id": id, "payload": {"event_id": event}}),
        )
        .await;
        next_of(socket, "ack").await;
    }
    send(
        &mut viewer,
        json!({"type": "comment_submit", "message_id": "c1",
               "payload": {"event_id": event, "content": "is this allowed?"}}),
    )
    .await;
    let acked = next_of(&mut viewer, "ack").await;
    assert_eq!(acked["payload"]["moderation_status"], "pending");
    let pending = next_of(&mut moderator, "comment_pending").await;
    assert_eq!(pending["payload"]["content"], "is this allowed?");
    assert_eq!(
        pending["payload"]["comment_id"],
        acked["payload"]["comment_id"]
    );
    // The author and the room hear nothing of it until a moderator decides.
    send(&mut viewer, json!({"type": "ping", "message_id": "p1"})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout_at(deadline, viewer.next()).await
    {
        assert!(!t.contains("comment_pending"), "{t}");
        assert!(!t.contains("is this allowed?"), "{t}");
    }
}
