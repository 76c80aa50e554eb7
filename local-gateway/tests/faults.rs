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
use futures::{SinkExt, StreamExt};
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

/// Every kind of fault at once (410s that drop the socket, 429s, 500s, failing room-stream
/// store calls, failing and doubled fan-out jobs): clients that reconnect and subscribe with
/// `since` (the highest position they hold with no gap before it), and catch up so at the
/// end, hold every comment exactly once once they drop entries whose position they hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_fault_clients_that_reconnect_and_catch_up_hold_every_comment_once() {
    const CLIENTS: usize = 8;
    const POSTED: usize = 40;
    let gw = Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        limits: Limits {
            inject: FaultPlan::parse("410:3%,429:5%,500:3%,dynamodb:2%,sqs:10%", 21)
                .expect("a plan"),
            ..Limits::default()
        },
        app: banter::config::Config {
            max_connections_per_user: CLIENTS * 8,
            comment_rate: banter::config::RateRule::per(10_000, 10),
            subscribe_rate: banter::config::RateRule::per(10_000, 10),
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
    let (event, token) = support::owner_of_a_live_event(&app, "every_fault_owner").await;
    let me = app.authenticate(Some(&token)).await.expect("token").user;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let url = format!("{}/?token={token}&event_id={event}", gw.ws_url());
    let followers: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(follow(url.clone(), event.to_string(), stopped.clone())))
        .collect();
    // Every follower is connected before the first comment (nothing to catch up from before).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids = Vec::new();
    for i in 0..POSTED {
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
        .expect("a comment: a failed enqueue is no error of the request");
        ids.push(c.view.comment_id.to_string());
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(true).expect("followers listen");
    let mut reconnects = 0;
    for f in followers {
        let held = tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .expect("a follower catches up")
            .expect("a follower ends");
        reconnects += held.reconnects;
        let mut at: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for (p, id) in &held.comments {
            at.entry(id.as_str()).or_default().push(*p);
        }
        let lost: Vec<&String> = ids
            .iter()
            .filter(|id| !at.contains_key(id.as_str()))
            .collect();
        let twice: Vec<_> = at.iter().filter(|(_, ps)| ps.len() > 1).collect();
        assert!(lost.is_empty(), "lost {lost:?}");
        assert!(twice.is_empty(), "one comment at two positions: {twice:?}");
    }
    let injected = gw.injected();
    assert!(
        injected.management.get(&410).copied().unwrap_or(0) > 0,
        "{injected:?}"
    );
    assert!(injected.dynamodb > 0, "{injected:?}");
    assert!(
        reconnects > 0,
        "410s dropped sockets, and their clients came back"
    );
    gw.shutdown().await;
}

/// What a follower held at the end.
struct Followed {
    /// Comment entries by position (one per position: a position seen again is dropped).
    comments: BTreeMap<u64, String>,
    reconnects: usize,
}

/// Follows `event` on `url` as a client does: applies `stream_batch` ranges, drops entries
/// whose position it holds, reconnects and subscribes with `since` when the socket closes;
/// once `stop` turns true, catches up to the head (`has_more` false) and returns.
async fn follow(
    url: String,
    event: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Followed {
    let mut ranges: BTreeMap<u64, u64> = BTreeMap::from([(0, 0)]);
    let mut positions = std::collections::BTreeSet::new();
    let mut out = Followed {
        comments: BTreeMap::new(),
        reconnects: 0,
    };
    let resume = |r: &BTreeMap<u64, u64>| r.get(&0).copied().unwrap_or(0);
    let subscribe = |since: u64, id: &str| {
        Message::text(
            serde_json::json!({"type": "subscribe", "message_id": id,
                "payload": {"event_id": event, "since": since}})
            .to_string(),
        )
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("a client connects");
    let mut catching_up = false;
    let mut asked = 0u32;
    loop {
        tokio::select! {
            changed = stop.changed(), if !catching_up => {
                if changed.is_ok() && *stop.borrow() {
                    catching_up = true;
                    asked += 1;
                    let _ = socket.send(subscribe(resume(&ranges), &format!("s{asked}"))).await;
                }
            }
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        // Dropped (an injected 410): back, from where it holds everything.
                        let (s, _) = loop {
                            match tokio_tungstenite::connect_async(&url).await {
                                Ok(s) => break s,
                                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                            }
                        };
                        socket = s;
                        out.reconnects += 1;
                        asked += 1;
                        let _ = socket.send(subscribe(resume(&ranges), &format!("s{asked}"))).await;
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                let mine = v["message_id"] == format!("s{asked}");
                match v["type"].as_str() {
                    Some("stream_batch") => {
                        let p = &v["payload"];
                        for e in p["entries"].as_array().into_iter().flatten() {
                            let Some(pos) = e["position"].as_u64() else { continue };
                            if !positions.insert(pos) {
                                continue;
                            }
                            if e["type"] == "comment_broadcast"
                                && let Some(id) = e["payload"]["comment_id"].as_str()
                            {
                                out.comments.insert(pos, id.to_owned());
                            }
                        }
                        if let (Some(a), Some(l)) = (p["after"].as_u64(), p["last_position"].as_u64()) {
                            cover(&mut ranges, a, l);
                        }
                    }
                    Some("ack") if mine => {
                        if v["payload"]["has_more"] == true {
                            asked += 1;
                            let _ = socket.send(subscribe(resume(&ranges), &format!("s{asked}"))).await;
                        } else if catching_up {
                            return out;
                        }
                    }
                    Some("error") if mine => {
                        // The catch-up failed (an injected store failure): again.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        asked += 1;
                        let _ = socket.send(subscribe(resume(&ranges), &format!("s{asked}"))).await;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Adds positions `after + 1 ..= last` to the disjoint ranges `start → end` held.
fn cover(ranges: &mut BTreeMap<u64, u64>, after: u64, last: u64) {
    if last <= after {
        return;
    }
    let (mut start, mut end) = (after + 1, last);
    let touching: Vec<(u64, u64)> = ranges
        .range(..=end.saturating_add(1))
        .filter(|(_, e)| **e + 1 >= start)
        .map(|(s, e)| (*s, *e))
        .collect();
    for (s, e) in touching {
        ranges.remove(&s);
        start = start.min(s);
        end = end.max(e);
    }
    ranges.insert(start, end);
}
