//! How long a comment takes to reach 100 WebSocket subscribers through the local stack: the
//! whole path of production, on loopback. A client sends `comment_submit` over its WebSocket;
//! the gateway turns it into a `$default` event for the router, which stores the comment and
//! enqueues the fan-out job; the SQS event source mapping hands the job to the fan-out
//! handler, which posts the broadcast to each subscriber through the real
//! `aws-sdk-apigatewaymanagement` client against the gateway's management API, which writes
//! it to each socket.
//!
//! ```text
//! cargo run --release -p banter-local --example fanout_100 [-- SUBSCRIBERS [COMMENTS]]
//! ```
//!
//! Reports the gateway's start-up time, and per comment the time from sending it until the
//! first, the median and the last of the subscribers received its broadcast.

use std::time::{Duration, Instant};

use banter::config::{Config, RateRule};
use banter::ids::UserId;
use banter::service::users;
use banter_local::{Gateway, GatewayConfig};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let subscribers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let comments: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);

    let config = GatewayConfig {
        rest_addr: "127.0.0.1:0".parse()?,
        ws_addr: "127.0.0.1:0".parse()?,
        app: Config {
            comment_rate: RateRule::per(10_000, 10),
            ..Config::default()
        },
        ..GatewayConfig::default()
    };
    let started = Instant::now();
    let gw = Gateway::start(config).await?;
    let startup = started.elapsed();
    let app = gw.app().clone();

    // A poster with an account, and a live event.
    let poster = users::register(
        &app,
        users::RegisterInput {
            username: "bench_poster".into(),
            password: "bench-password".into(),
            display_name: None,
            email: None,
            device: Default::default(),
        },
    )
    .await?;
    let me = poster.user.user_id;
    let event_id = banter_local::seed::live_event(&app, me, "fan-out bench")
        .await?
        .to_string();

    // Subscribers, subscribed at connect; each reports (comment id, arrival time).
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let connect_started = Instant::now();
    for _ in 0..subscribers {
        let token = app
            .sessions
            .login_tokens(UserId::new(), banter::time::now())
            .await?
            .access_token;
        let url = format!("{}/?token={token}&event_id={event_id}", gw.ws_url());
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = socket.next().await {
                let Message::Text(text) = msg else { continue };
                let now = Instant::now();
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if v["type"] == "comment_broadcast"
                    && let Some(id) = v["payload"]["comment_id"].as_str()
                    && tx.send((id.to_owned(), now)).is_err()
                {
                    break;
                }
            }
        });
    }
    let connect_time = connect_started.elapsed();

    let token = app
        .sessions
        .login_tokens(me, banter::time::now())
        .await?
        .access_token;
    let (mut sender, _) =
        tokio_tungstenite::connect_async(format!("{}/?token={token}", gw.ws_url())).await?;

    let mut to_last = Vec::new();
    let mut to_first = Vec::new();
    let mut to_median = Vec::new();
    for i in 0..comments {
        let message_id = format!("bench-{i}");
        let sent = Instant::now();
        sender
            .send(Message::Text(
                json!({"type": "comment_submit", "message_id": message_id,
                       "payload": {"event_id": event_id, "content": format!("comment {i}")}})
                .to_string()
                .into(),
            ))
            .await?;
        // The ack names the comment.
        let comment_id = loop {
            let Some(Ok(Message::Text(t))) = sender.next().await else {
                return Err("the sender's socket closed".into());
            };
            let v: Value = serde_json::from_str(&t)?;
            if v["type"] == "ack" && v["message_id"] == message_id.as_str() {
                break v["payload"]["comment_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            }
            if v["type"] == "error" {
                return Err(format!("comment refused: {v}").into());
            }
        };
        let mut arrivals = Vec::with_capacity(subscribers);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while arrivals.len() < subscribers {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((id, at))) if id == comment_id => arrivals.push(at - sent),
                Ok(Some(_)) => {}
                _ => {
                    return Err(format!(
                        "comment {i}: only {} of {subscribers} subscribers got it",
                        arrivals.len()
                    )
                    .into());
                }
            }
        }
        arrivals.sort();
        to_first.push(arrivals[0]);
        to_median.push(percentile(&arrivals, 0.5));
        to_last.push(arrivals[arrivals.len() - 1]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    to_last.sort();
    to_first.sort();
    to_median.sort();
    println!("banter-local fan-out: {subscribers} WebSocket subscribers, {comments} comments");
    println!("  gateway start-up (in process)     {}", ms(startup));
    println!(
        "  {subscribers} connects ($connect each)     {}",
        ms(connect_time)
    );
    println!(
        "  comment -> first subscriber       median {}  max {}",
        ms(percentile(&to_first, 0.5)),
        ms(percentile(&to_first, 1.0))
    );
    println!(
        "  comment -> median subscriber      median {}  max {}",
        ms(percentile(&to_median, 0.5)),
        ms(percentile(&to_median, 1.0))
    );
    println!(
        "  comment -> all {subscribers} subscribers     median {}  p95 {}  max {}",
        ms(percentile(&to_last, 0.5)),
        ms(percentile(&to_last, 0.95)),
        ms(percentile(&to_last, 1.0))
    );
    gw.shutdown().await;
    Ok(())
}
