//! A hot room under injected management-API faults (`--inject`): posts answered 429 and 500
//! at random (seeded) are retried with backoff, and connections still failing get their frame
//! in a job of their own, so every subscriber still gets every comment exactly once.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use banter::fanout::FanoutConfig;
use banter::service::comments::{self, CommentInput};
use banter_local::faults::FaultPlan;
use banter_local::{Gateway, GatewayConfig, Limits};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIBERS: usize = 12;
const COMMENTS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_injected_429s_and_500s_every_subscriber_gets_every_comment_once() {
    let gw = Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        limits: Limits {
            inject: FaultPlan::parse("429:20%,500:10%", 14).expect("a plan"),
            ..Limits::default()
        },
        app: banter::config::Config {
            max_connections_per_user: SUBSCRIBERS,
            comment_rate: banter::config::RateRule::per(10_000, 10),
            ..banter::config::Config::default()
        },
        fanout: FanoutConfig {
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            ..FanoutConfig::default()
        },
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts");
    let app = gw.app().clone();
    let (event, token) = support::owner_of_a_live_event(&app, "faulty_owner").await;
    let me = app.authenticate(Some(&token)).await.expect("token").user;

    let mut sockets = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let url = format!("{}/?token={token}&event_id={event}", gw.ws_url());
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("a client connects");
        sockets.push(socket);
    }
    let mut ids = Vec::new();
    for i in 0..COMMENTS {
        let c = comments::submit(
            &app,
            me,
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
        ids.push(c.view.comment_id.to_string());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut readers = Vec::new();
    for mut socket in sockets {
        readers.push(tokio::spawn(async move {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            let mut until = tokio::time::Instant::now() + Duration::from_secs(20);
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, socket.next()).await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                for e in v["payload"]["entries"].as_array().into_iter().flatten() {
                    if e["type"] == "comment_broadcast"
                        && let Some(id) = e["payload"]["comment_id"].as_str()
                    {
                        *seen.entry(id.to_owned()).or_default() += 1;
                    }
                }
                if seen.len() == COMMENTS {
                    // Everything arrived: wait a little for duplicates, then stop.
                    until = until.min(tokio::time::Instant::now() + Duration::from_millis(500));
                }
            }
            seen
        }));
    }
    for reader in readers {
        let seen = reader.await.expect("reader ends");
        let lost: Vec<&String> = ids.iter().filter(|id| !seen.contains_key(*id)).collect();
        let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(lost.is_empty(), "lost {lost:?}");
        assert!(twice.is_empty(), "duplicated {twice:?}");
    }
    let posts = gw.posts()["fanout"];
    assert!(posts.failed > 0, "faults were injected: {posts:?}");
    gw.shutdown().await;
}
