//! A catch-up stops posting at its budget (`Config::catch_up_budget`), well before the
//! `$default` function's timeout: the ack says `has_more` with the last position it sent, and
//! subscribing again from there delivers the rest, so a slow management API never makes a
//! catch-up outlive its invocation nor lose an item.

mod support;

use std::time::Duration;

use banter::config::{Config, RateRule};
use banter::service::comments::{self, CommentInput};
use banter_local::{Gateway, GatewayConfig, Limits};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Enough long comments for several 32 KB `stream_batch` frames.
const COMMENTS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_stops_at_its_budget_and_resumes_from_the_last_position_sent() {
    let generous = RateRule::per(10_000, 10);
    let gw = Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        limits: Limits {
            post_latency: Duration::from_millis(100),
            ..Limits::default()
        },
        app: Config {
            comment_rate: generous,
            catch_up_budget: Duration::from_millis(150),
            ..Config::default()
        },
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts");
    let app = gw.app().clone();
    let (event, token) = support::owner_of_a_live_event(&app, "budget_owner").await;
    let me = app
        .authenticate(Some(&token))
        .await
        .expect("a valid token")
        .user;
    for i in 0..COMMENTS {
        comments::submit(
            &app,
            me,
            CommentInput {
                event_id: event,
                content: format!("comment {i} {}", "x".repeat(1_980)),
                parent_comment_id: None,
                client_key: None,
                client_metadata: None,
            },
        )
        .await
        .expect("a comment");
    }

    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}/?token={token}", gw.ws_url()))
            .await
            .expect("the client connects");
    let mut received = Vec::new();
    let mut covered = 0;
    let mut since = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= COMMENTS, "the catch-up makes progress");
        let subscribe = json!({
            "type": "subscribe",
            "message_id": format!("sub-{rounds}"),
            "payload": { "event_id": event, "since": since },
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("subscribe sent");
        let ack = loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
                .await
                .expect("frames in time")
                .expect("open")
                .expect("a frame");
            let Message::Text(text) = msg else { continue };
            let frame: Value = serde_json::from_str(&text).expect("JSON");
            match frame["type"].as_str() {
                Some("stream_batch") => {
                    // Catch-up frames, and maybe a live one: a client applies any whose
                    // range starts at or before what it holds, and drops positions it has.
                    assert!(text.len() <= 32 * 1024, "{} bytes", text.len());
                    let after = frame["payload"]["after"].as_u64().expect("after");
                    if after > covered {
                        // A live frame past a gap: the catch-up covers it.
                        continue;
                    }
                    for entry in frame["payload"]["entries"].as_array().expect("entries") {
                        let p = entry["position"].as_u64().expect("position");
                        if entry["type"] == "comment_broadcast" && !received.contains(&p) {
                            received.push(p);
                        }
                    }
                    let last = frame["payload"]["last_position"].as_u64().expect("range");
                    covered = covered.max(last);
                }
                Some("ack") => break frame,
                Some("error") => panic!("{frame}"),
                _ => {}
            }
        };
        let catch_up = &ack["payload"];
        let last = catch_up["last_position"].as_u64().expect("last_position");
        assert!(
            last <= covered,
            "the ack's position is one the client holds: {ack}"
        );
        if !catch_up["has_more"].as_bool().expect("has_more") {
            break;
        }
        since = last;
    }
    assert!(rounds >= 2, "the budget cut at least one catch-up short");
    // Position 1 is the event going live; the comments follow it.
    received.sort_unstable();
    assert_eq!(received, (2..=COMMENTS + 1).collect::<Vec<_>>());
    gw.shutdown().await;
}
