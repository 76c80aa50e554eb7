//! The end-to-end scenarios, each written once and run against every [`Backend`] (see
//! [`crate::e2e_suite!`]). Each starts its own gateway on free loopback ports and talks to it
//! only over real sockets: HTTP for REST, WebSocket for the client protocol.

use std::collections::HashMap;
use std::time::Duration;

use banter::aws::AwsSettings;
use banter::ids::ConnectionId;
use banter::poster::apigw::ApiGatewayPoster;
use banter::poster::{PostError, Poster};
use serde_json::{Value, json};

use crate::stack::{Api, Backend, eventually, start};
use crate::ws::{self, Client};

/// How long a client listens after the last frame to be sure nothing more comes.
const QUIET: Duration = Duration::from_millis(700);

fn is_broadcast_of(frame: &Value, event_id: &str) -> bool {
    frame["type"] == "comment_broadcast" && frame["payload"]["event_id"] == event_id
}

/// Subscribes `client` to `event_id` (optionally from `since`) and returns the ack.
async fn subscribe(
    client: &mut Client,
    event_id: &str,
    since: Option<u64>,
    wait: Duration,
) -> Value {
    let mut payload = json!({"event_id": event_id});
    if let Some(s) = since {
        payload["since"] = json!(s);
    }
    let ack = client
        .request("subscribe", payload, wait)
        .await
        .expect("an answer to subscribe");
    assert_eq!(ack["type"], "ack", "subscribe: {ack}");
    ack
}

/// The comment ids of `frames` that broadcast comments of `event_id`, with how often each
/// came.
fn broadcast_counts(frames: &[Value], event_id: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for f in frames.iter().filter(|f| is_broadcast_of(f, event_id)) {
        let id = f["payload"]["comment_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Two users connect and subscribe to a live event; a comment posted over WebSocket and one
/// posted over REST reach both of them exactly once.
pub async fn comments_reach_both_users_exactly_once(backend: Backend) {
    let wait = backend.patience();
    let gw = start(&backend, |_| {}).await;
    let api = Api::of(&gw);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let event_id = api.live_event(&alice).await;

    let url = |token: &str| format!("{}/?token={token}", gw.ws_url());
    let mut a = ws::connect_with(&url(&alice.token), &["banter.v1"])
        .await
        .expect("alice connects");
    assert_eq!(
        a.protocol.as_deref(),
        Some("banter.v1"),
        "the subprotocol is echoed"
    );
    let mut b = ws::connect(&gw.ws_url(), &bob.token, "")
        .await
        .expect("bob connects");
    subscribe(&mut a, &event_id, None, wait).await;
    subscribe(&mut b, &event_id, None, wait).await;

    let ws_ack = a
        .request(
            "comment_submit",
            json!({"event_id": event_id, "content": "over the WebSocket"}),
            wait,
        )
        .await
        .expect("an answer to comment_submit");
    assert_eq!(ws_ack["type"], "ack", "{ws_ack}");
    let ws_comment = ws_ack["payload"]["comment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let rest_comment = api.comment(&bob, &event_id, "over REST").await["comment_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!ws_comment.is_empty() && !rest_comment.is_empty());

    for (name, client) in [("alice", &mut a), ("bob", &mut b)] {
        let mut frames = Vec::new();
        for id in [&ws_comment, &rest_comment] {
            let got = client
                .wait_for(wait, |f| {
                    is_broadcast_of(f, &event_id) && f["payload"]["comment_id"] == **id
                })
                .await;
            assert!(got.is_some(), "{name} did not receive comment {id}");
            frames.extend(got);
        }
        frames.extend(client.drain(QUIET, wait).await);
        let counts = broadcast_counts(&frames, &event_id);
        assert_eq!(counts.get(&ws_comment), Some(&1), "{name}: {counts:?}");
        assert_eq!(counts.get(&rest_comment), Some(&1), "{name}: {counts:?}");
        assert_eq!(counts.len(), 2, "{name} got other comments: {counts:?}");
    }
    a.close().await;
    b.close().await;
    gw.shutdown().await;
}

/// A client that drops reconnects, subscribes with `since` = the last position it saw, and
/// receives exactly what it missed, in order, before the ack; live comments follow.
pub async fn reconnect_with_since_catches_up_in_order(backend: Backend) {
    let wait = backend.patience();
    let gw = start(&backend, |_| {}).await;
    let api = Api::of(&gw);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let event_id = api.live_event(&alice).await;

    let mut b = ws::connect(&gw.ws_url(), &bob.token, "")
        .await
        .expect("bob connects");
    subscribe(&mut b, &event_id, None, wait).await;
    let first = api.comment(&alice, &event_id, "first").await;
    let seen = b
        .wait_for(wait, |f| is_broadcast_of(f, &event_id))
        .await
        .expect("bob sees the first comment");
    assert_eq!(seen["payload"]["comment_id"], first["comment_id"]);
    let last_position = seen["payload"]["position"].as_u64().expect("a position");

    // Bob's connection drops without a close handshake.
    b.drop_abruptly();
    let mut missed = Vec::new();
    for i in 0..3 {
        let c = api.comment(&alice, &event_id, &format!("missed {i}")).await;
        missed.push(c["comment_id"].as_str().unwrap_or_default().to_owned());
    }

    let mut b = ws::connect(&gw.ws_url(), &bob.token, "")
        .await
        .expect("bob reconnects");
    let id = b.next_id();
    b.send(&json!({"type": "subscribe", "message_id": id,
                   "payload": {"event_id": event_id, "since": last_position}}))
        .await;
    // Catch-up frames come before the ack, oldest first. The stream also holds viewer counts
    // (bob's leaving asked for one), so the comments need not be at consecutive positions.
    let mut caught_up = Vec::new();
    let acked_through = loop {
        let f = b
            .wait_for(wait, |f| {
                is_broadcast_of(f, &event_id) || (f["type"] == "ack" && f["message_id"] == id)
            })
            .await
            .expect("catch-up frames and the ack");
        if f["type"] == "ack" {
            assert_eq!(
                f["payload"]["count"], 1,
                "three changes in one stream_batch: {f}"
            );
            assert_eq!(f["payload"]["has_more"], false, "{f}");
            break f["payload"]["last_position"].as_u64().unwrap_or_default();
        }
        caught_up.push(f);
    };
    let ids: Vec<&str> = caught_up
        .iter()
        .map(|f| f["payload"]["comment_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, missed.iter().map(String::as_str).collect::<Vec<_>>());
    let positions: Vec<u64> = caught_up
        .iter()
        .map(|f| f["payload"]["position"].as_u64().unwrap_or_default())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1])
            && positions.first().is_some_and(|p| *p > last_position)
            && positions.last().is_some_and(|p| *p <= acked_through),
        "in order, after where bob was, within what the ack covers: {positions:?}, ack {acked_through}"
    );

    // And live delivery resumes.
    let live = api.comment(&alice, &event_id, "live again").await;
    let got = b
        .wait_for(wait, |f| {
            is_broadcast_of(f, &event_id) && f["payload"]["comment_id"] == live["comment_id"]
        })
        .await;
    assert!(got.is_some(), "the live comment after the catch-up");
    b.close().await;
    gw.shutdown().await;
}

/// A poster through the real `aws-sdk-apigatewaymanagement` client at the gateway's
/// management endpoint.
async fn management_poster(gw: &banter_local::RunningGateway) -> ApiGatewayPoster {
    let sdk = AwsSettings::local(gw.management_endpoint()).load().await;
    ApiGatewayPoster::new(&sdk, gw.management_endpoint())
}

async fn connection_row_exists(gw: &banter_local::RunningGateway, id: &ConnectionId) -> bool {
    matches!(
        gw.app().stores.connections.get_connection(id).await,
        Ok(Some(_))
    )
}

/// A closed socket makes the next post to it answer 410 `GoneException`, and its connection
/// row disappears: through `$disconnect` when API Gateway delivers it, and through the
/// fan-out's cleanup on 410 when the `$disconnect` is lost.
pub async fn closed_socket_posts_gone_and_row_disappears(backend: Backend) {
    let wait = backend.patience();

    // 1. A client closes: the management API answers 410 and $disconnect removes the row.
    let gw = start(&backend, |_| {}).await;
    let api = Api::of(&gw);
    let bob = api.register("bob").await;
    let b = ws::connect(&gw.ws_url(), &bob.token, "")
        .await
        .expect("bob connects");
    let [info] = gw
        .connections()
        .try_into()
        .unwrap_or_else(|c: Vec<_>| panic!("{c:?}"));
    let id: ConnectionId = info.connection_id.parse().expect("a connection id");
    assert!(
        connection_row_exists(&gw, &id).await,
        "$connect stored the connection"
    );
    let poster = management_poster(&gw).await;
    assert_eq!(poster.post(&id, b"{\"hello\":1}").await, Ok(()));
    b.close().await;
    assert!(
        eventually(wait, || async {
            poster.post(&id, b"{}").await == Err(PostError::Gone)
        })
        .await,
        "a post to the closed socket answers 410 GoneException"
    );
    assert!(
        eventually(wait, || async { !connection_row_exists(&gw, &id).await }).await,
        "the connection row disappears"
    );
    gw.shutdown().await;

    // 2. $disconnect is lost: the fan-out's first post answers 410 and the fan-out deletes
    //    the row.
    let gw = start(&backend, |c| c.deliver_disconnect = false).await;
    let api = Api::of(&gw);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let event_id = api.live_event(&alice).await;
    let b = ws::connect(&gw.ws_url(), &bob.token, &format!("event_id={event_id}"))
        .await
        .expect("bob connects, subscribed at connect");
    let [info] = gw
        .connections()
        .try_into()
        .unwrap_or_else(|c: Vec<_>| panic!("{c:?}"));
    let id: ConnectionId = info.connection_id.parse().expect("a connection id");
    b.close().await;
    assert!(
        eventually(wait, || async { gw.connections().is_empty() }).await,
        "the socket closed"
    );
    assert!(
        connection_row_exists(&gw, &id).await,
        "without $disconnect the row stays"
    );
    api.comment(&alice, &event_id, "to a gone subscriber").await;
    assert!(
        eventually(wait, || async { !connection_row_exists(&gw, &id).await }).await,
        "the fan-out removed the gone connection"
    );
    gw.shutdown().await;
}

/// A forged token (signed by another key), a missing one and a malformed one are refused at
/// the upgrade with 401, and nothing is stored.
pub async fn forged_token_is_refused_at_upgrade(backend: Backend) {
    let gw = start(&backend, |_| {}).await;
    let (other, _) =
        banter::app::App::in_memory(banter::config::Config::default()).expect("another app");
    let forged = other
        .sessions
        .login_tokens(banter::ids::UserId::new(), banter::time::now())
        .await
        .expect("a token")
        .access_token;
    for token in [forged.as_str(), "", "not-a-jwt"] {
        let refused = ws::connect(&gw.ws_url(), token, "")
            .await
            .expect_err("the handshake must fail");
        assert_eq!(refused.status, 401, "token {token:?}: {}", refused.body);
        let body: Value = serde_json::from_str(&refused.body).unwrap_or_default();
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{}", refused.body);
    }
    assert!(gw.connections().is_empty(), "no socket was opened");
    // A valid token still works.
    let api = Api::of(&gw);
    let user = api.register("carol").await;
    let c = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("a valid token connects");
    c.close().await;
    gw.shutdown().await;
}

/// A fan-out job whose posts keep failing is reported in `batchItemFailures`, comes back after
/// the visibility timeout, and moves to the dead-letter queue after `maxReceiveCount`
/// receives; a healthy subscriber of the same room still gets the broadcast.
pub async fn failing_fanout_job_goes_to_the_dead_letter_queue(backend: Backend) {
    let wait = backend.patience();
    let gw = start(&backend, |c| {
        c.queue_overrides.visibility_timeout = Some(Duration::from_secs(1));
        c.queue_overrides.max_receive_count = Some(2);
        c.fanout.max_attempts = 2;
        c.fanout.base_backoff = Duration::from_millis(5);
        c.fanout.max_backoff = Duration::from_millis(20);
        c.fanout.deadline_margin = Duration::from_millis(200);
        c.fanout_timeout = Some(Duration::from_secs(5));
    })
    .await;
    let api = Api::of(&gw);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let event_id = api.live_event(&alice).await;
    let mut a = ws::connect(&gw.ws_url(), &alice.token, &format!("event_id={event_id}"))
        .await
        .expect("alice connects");
    let before: Vec<String> = gw
        .connections()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    let b = ws::connect(&gw.ws_url(), &bob.token, &format!("event_id={event_id}"))
        .await
        .expect("bob connects");
    let bob_id = gw
        .connections()
        .into_iter()
        .map(|c| c.connection_id)
        .find(|c| !before.contains(c))
        .expect("bob's connection");
    gw.fail_posts_to(&bob_id, 500);

    let comment = api
        .comment(&alice, &event_id, "bob's posts keep failing")
        .await;
    let got = a
        .wait_for(wait, |f| {
            is_broadcast_of(f, &event_id) && f["payload"]["comment_id"] == comment["comment_id"]
        })
        .await;
    assert!(got.is_some(), "the healthy subscriber gets the broadcast");

    let room = format!("event:{event_id}");
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + wait + Duration::from_secs(10);
    while !dead
        .iter()
        .any(|j: &banter::queue::FanoutJob| j.room.to_string() == room)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failing job did not reach the dead-letter queue"
        );
        if let Ok(jobs) = gw.dead_letters().await {
            dead.extend(jobs);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job = dead
        .iter()
        .find(|j| j.room.to_string() == room && j.targets.is_some())
        .unwrap_or_else(|| panic!("the job: {dead:?}"));
    // The room moved on; the failing connection's frame was retried in a job of its own.
    assert_eq!(
        job.targets.as_deref(),
        Some(&[bob_id.parse().expect("id")][..])
    );
    assert_eq!(job.payload["type"], "stream_batch");
    assert!(
        job.payload["payload"]["entries"]
            .as_array()
            .is_some_and(|e| e
                .iter()
                .any(|e| e["payload"]["comment_id"] == comment["comment_id"])),
        "{job:?}"
    );
    b.close().await;
    a.close().await;
    gw.shutdown().await;
}

/// Chat over the stack: a direct conversation created over REST, a message sent over the
/// WebSocket reaches both participants once, and a typing indicator reaches the other
/// participant but never the typist's own connection.
pub async fn chat_message_and_typing_reach_the_right_connections(backend: Backend) {
    let wait = backend.patience();
    let gw = start(&backend, |_| {}).await;
    let api = Api::of(&gw);
    let alice = api.register("alice").await;
    let bob = api.register("bob").await;
    let r = api
        .call(
            "POST",
            "/v1/conversations",
            Some(&alice.token),
            Some(&json!({"conversation_type": "direct", "participant_ids": [bob.user_id]})),
        )
        .await;
    assert_eq!(r.status, 201, "create conversation: {}", r.text());
    let conversation_id = r.json()["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut a = ws::connect(&gw.ws_url(), &alice.token, "")
        .await
        .expect("alice connects");
    let mut b = ws::connect(&gw.ws_url(), &bob.token, "")
        .await
        .expect("bob connects");
    for c in [&mut a, &mut b] {
        let ack = c
            .request(
                "subscribe",
                json!({"conversation_id": conversation_id}),
                wait,
            )
            .await
            .expect("an answer to subscribe");
        assert_eq!(ack["type"], "ack", "{ack}");
    }
    let sent = a
        .request(
            "send_message",
            json!({"conversation_id": conversation_id, "content": "hi bob",
                   "client_message_id": "e2e-chat-1"}),
            wait,
        )
        .await
        .expect("an answer to send_message");
    assert_eq!(sent["type"], "ack", "{sent}");
    let typing = a
        .request(
            "typing_start",
            json!({"conversation_id": conversation_id}),
            wait,
        )
        .await
        .expect("an answer to typing_start");
    assert_eq!(typing["type"], "ack", "{typing}");

    let is_message =
        |f: &Value| f["type"] == "new_message" && f["payload"]["message"]["content"] == "hi bob";
    let is_typing =
        |f: &Value| f["type"] == "user_typing" && f["payload"]["user_id"] == alice.user_id.as_str();
    let got = b.wait_for(wait, is_typing).await;
    assert!(got.is_some(), "bob sees alice typing");
    for (name, client) in [("alice", &mut a), ("bob", &mut b)] {
        let mut frames: Vec<Value> = client
            .wait_for(wait, is_message)
            .await
            .into_iter()
            .collect();
        assert_eq!(frames.len(), 1, "{name} did not get the message");
        frames.extend(client.drain(QUIET, wait).await);
        assert_eq!(
            frames.iter().filter(|f| is_message(f)).count(),
            1,
            "{name}: {frames:?}"
        );
        if name == "alice" {
            assert!(
                !frames.iter().any(is_typing),
                "the typist got her own indicator"
            );
        }
    }
    a.close().await;
    b.close().await;
    gw.shutdown().await;
}

/// Every scenario as a `#[tokio::test]`, for `$backend` (an expression giving a [`Backend`]).
#[macro_export]
macro_rules! e2e_suite {
    ($backend:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn comments_reach_both_users_exactly_once() {
            $crate::scenarios::comments_reach_both_users_exactly_once($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn reconnect_with_since_catches_up_in_order() {
            $crate::scenarios::reconnect_with_since_catches_up_in_order($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn closed_socket_posts_gone_and_row_disappears() {
            $crate::scenarios::closed_socket_posts_gone_and_row_disappears($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn forged_token_is_refused_at_upgrade() {
            $crate::scenarios::forged_token_is_refused_at_upgrade($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn chat_message_and_typing_reach_the_right_connections() {
            $crate::scenarios::chat_message_and_typing_reach_the_right_connections($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn failing_fanout_job_goes_to_the_dead_letter_queue() {
            $crate::scenarios::failing_fanout_job_goes_to_the_dead_letter_queue($backend).await;
        }
    };
}
