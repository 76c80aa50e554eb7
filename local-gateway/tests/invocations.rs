//! `RunningGateway::invocations` and `RunningGateway::posts`: every handler call is counted
//! once under its function's binary name, with its duration, and every `PostToConnection`
//! under the function that made it.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use banter_local::stats::FunctionStats;
use banter_local::{Gateway, GatewayConfig, RunningGateway};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

fn count(stats: &BTreeMap<String, FunctionStats>, function: &str) -> u64 {
    stats.get(function).map_or(0, |s| s.count)
}

/// One request to the HTTP API; returns the status.
async fn http(gw: &RunningGateway, method: &str, path: &str, token: &str, body: &str) -> u16 {
    support::request(gw.rest_addr, method, path, Some(token), body)
        .await
        .0
}

/// Waits until `check` holds for the gateway's invocations.
async fn until(gw: &RunningGateway, check: impl Fn(&BTreeMap<String, FunctionStats>) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check(&gw.invocations()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "invocations: {:?}",
            gw.invocations()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invocation_and_post_is_counted_under_its_function() {
    let gw = Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts");
    let app = gw.app().clone();
    assert!(gw.invocations().is_empty(), "{:?}", gw.invocations());

    // Set up through the app, not the gateway: nothing is invoked.
    let (event_id, token) = support::owner_of_a_live_event(&app, "counted_owner").await;
    // Going live broadcasts the status change to the event's (empty) room: one fan-out
    // invocation, and nothing else was invoked.
    until(&gw, |s| count(s, "fanout") == 1).await;
    assert_eq!(gw.invocations().len(), 1, "{:?}", gw.invocations());

    // One REST call: one invocation of its function, with a duration.
    assert_eq!(http(&gw, "GET", "/v1/health", &token, "").await, 200);
    let after_health = gw.invocations();
    assert_eq!(count(&after_health, "health"), 1, "{after_health:?}");
    assert_eq!(after_health["health"].durations.len(), 1);

    // A WebSocket subscribed at connect: one $connect.
    let url = format!("{}/?token={token}&event_id={}", gw.ws_url(), event_id);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the client connects");
    assert_eq!(count(&gw.invocations(), "ws-connect"), 1);

    // A comment over REST: one `comments` invocation, then the fan-out posts it once.
    let before = gw.invocations();
    let posts_before = gw.posts();
    let path = format!("/v1/events/{}/comments", event_id);
    let status = http(&gw, "POST", &path, &token, r#"{"content":"counted"}"#).await;
    assert_eq!(status, 201);
    let frame = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(msg)) = socket.next().await {
            if let Message::Text(text) = msg
                && let Ok(v) = serde_json::from_str::<Value>(&text)
                && v["type"] == "stream_batch"
                && v["payload"]["entries"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["type"] == "comment_broadcast"))
            {
                return Some(v);
            }
        }
        None
    })
    .await
    .expect("the broadcast in time");
    assert!(frame.is_some(), "the socket closed");
    until(&gw, |s| count(s, "fanout") > count(&before, "fanout")).await;
    let after = gw.invocations();
    let since = |f: &str| {
        let none = FunctionStats::default();
        after
            .get(f)
            .map_or(none.clone(), |s| s.since(before.get(f).unwrap_or(&none)))
    };
    assert_eq!(since("comments").count, 1, "{after:?}");
    let fanout = since("fanout");
    assert_eq!(fanout.count, 1, "one job, one batch: {after:?}");
    assert!(fanout.total() > Duration::ZERO);
    assert_eq!(count(&after, "health"), 1, "nothing else was invoked again");
    let posts = gw.posts();
    let fanout_posts =
        posts["fanout"].since(posts_before.get("fanout").unwrap_or(&Default::default()));
    assert_eq!(
        (fanout_posts.delivered, fanout_posts.failed),
        (1, 0),
        "{posts:?}"
    );
    assert_eq!(fanout_posts.metered_messages, 1);
    assert!(fanout_posts.bytes > 0);

    // Closing delivers one $disconnect.
    drop(socket);
    until(&gw, |s| count(s, "ws-disconnect") == 1).await;
    gw.shutdown().await;
}
