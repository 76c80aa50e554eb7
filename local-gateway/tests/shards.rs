//! Sharded fan-out through the local stack: a room over the shard threshold is split into
//! shard jobs on the template's shard queue (`FANOUT_SHARD_QUEUE_URL`), whose event source
//! hands them over one per invocation; each poller is its own execution environment, so the
//! shards post at once, each under its own concurrency bound, and every subscriber gets the
//! comment exactly once.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use banter::fanout::FanoutConfig;
use banter_local::{Gateway, GatewayConfig, Limits, QueueHandle};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(20);
const SUBSCRIBERS: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_room_is_delivered_by_shards_running_at_once_each_exactly_once() {
    let gw = Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        // Each post takes a while, so posts of different shards overlap in time.
        limits: Limits {
            post_latency: Duration::from_millis(150),
            ..Limits::default()
        },
        // Every client is the owner: let them all connect.
        app: banter::config::Config {
            max_connections_per_user: SUBSCRIBERS,
            ..banter::config::Config::default()
        },
        fanout: FanoutConfig {
            // One post in flight per execution environment: more than one at once can only
            // come from shards running in different environments.
            concurrency: 1,
            shard_threshold: 4,
            shard_target: 3,
            reshard_threshold: SUBSCRIBERS,
            ..FanoutConfig::default()
        },
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts");
    assert!(
        matches!(gw.shard_queue(), Some(QueueHandle::Memory(_))),
        "template.yaml gives the fan-out a shard queue of its own"
    );
    let app = gw.app().clone();

    let (event_id, token) = support::owner_of_a_live_event(&app, "shard_owner").await;

    let mut sockets = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let url = format!("{}/?token={token}&event_id={}", gw.ws_url(), event_id);
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("a client connects");
        sockets.push(socket);
    }
    // Let the status broadcast (to an empty room) go by.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let invocations_before = gw.invocations();
    let posts_before = gw.posts().get("fanout").copied().unwrap_or_default();

    let path = format!("/v1/events/{}/comments", event_id);
    let (status, _) = support::request(
        gw.rest_addr,
        "POST",
        &path,
        Some(&token),
        r#"{"content":"to every shard"}"#,
    )
    .await;
    assert_eq!(status, 201);

    // Every client gets the comment once, and nothing more within a further second.
    let mut readers = Vec::new();
    for mut socket in sockets {
        readers.push(tokio::spawn(async move {
            let mut comments = Vec::new();
            let started = tokio::time::Instant::now();
            let mut until = started + PATIENCE;
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, socket.next()).await {
                if let Message::Text(text) = msg
                    && let Ok(v) = serde_json::from_str::<Value>(&text)
                    && v["type"] == "stream_batch"
                {
                    for e in v["payload"]["entries"].as_array().into_iter().flatten() {
                        if e["type"] == "comment_broadcast" {
                            comments.push(e["payload"]["comment_id"].clone());
                        }
                    }
                    until = tokio::time::Instant::now() + Duration::from_secs(1);
                }
            }
            // The socket stays open until the counts below: a closing one would ask for a
            // viewer count, whose delivery would add posts.
            (comments, socket)
        }));
    }
    let mut received = Vec::new();
    let mut open = Vec::new();
    for reader in readers {
        let (comments, socket) = reader.await.expect("reader ends");
        received.push(comments);
        open.push(socket);
    }
    for comments in &received {
        assert_eq!(comments.len(), 1, "each client gets it once: {received:?}");
        assert!(comments[0].is_string(), "{received:?}");
    }

    let posts = gw.posts()["fanout"].since(&posts_before);
    assert_eq!(posts.delivered, SUBSCRIBERS as u64, "{posts:?}");
    assert_eq!(posts.failed, 0, "{posts:?}");
    assert!(
        posts.max_in_flight >= 2,
        "shards posted at once, each in its own environment: {posts:?}"
    );
    // The coordinator plus one invocation per shard job (at least 2: the room was split).
    let fanouts = |s: &BTreeMap<String, banter_local::stats::FunctionStats>| {
        s.get("fanout").map_or(0, |f| f.count)
    };
    let invoked = fanouts(&gw.invocations()) - fanouts(&invocations_before);
    assert!(invoked >= 3, "coordinator + shards: {invoked}");
    assert!(gw.dead_letters().await.expect("dead letters").is_empty());
    drop(open);
    gw.shutdown().await;
}
