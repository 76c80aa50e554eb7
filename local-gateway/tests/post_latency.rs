//! `Limits::post_latency` (`--post-latency`): every management API `POST` waits that long
//! before it is handled, so a post is answered (and its frame written to the socket) no sooner;
//! with the default of zero a post is answered at once.

mod support;

use std::time::{Duration, Instant};

use banter::ids::UserId;
use banter_local::{Gateway, GatewayConfig, Limits, RunningGateway};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

const LATENCY: Duration = Duration::from_millis(250);

async fn gateway(post_latency: Duration) -> RunningGateway {
    Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        limits: Limits {
            post_latency,
            ..Limits::default()
        },
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts")
}

/// `POST /{stage}/@connections/{id}` over a fresh HTTP/1.1 connection: the answer's status
/// and how long it took.
async fn post(gw: &RunningGateway, connection: &str, body: &str) -> (u16, Duration) {
    let path = format!("/{}/@connections/{connection}", gw.stage);
    support::request(gw.ws_addr, "POST", &path, None, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_answered_and_delivered_no_sooner_than_the_latency() {
    let gw = gateway(LATENCY).await;
    // An unknown connection: still 410 GoneException, after the latency.
    let (status, took) = post(&gw, "AAAAAAAAAAAAAAA=", "{}").await;
    assert_eq!(status, 410);
    assert!(took >= LATENCY, "410 after {took:?}");

    // A live connection: 200, and the frame reaches the socket after the latency too.
    let token = gw
        .app()
        .sessions
        .login_tokens(UserId::new(), banter::time::now())
        .await
        .expect("token")
        .access_token;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{}/?token={token}", gw.ws_url()))
            .await
            .expect("the client connects");
    let connections = gw.connections();
    assert_eq!(connections.len(), 1, "{connections:?}");
    let id = connections[0].connection_id.clone();
    let started = Instant::now();
    let (status, took) = post(&gw, &id, r#"{"type":"hello"}"#).await;
    assert_eq!(status, 200);
    assert!(took >= LATENCY, "200 after {took:?}");
    let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a frame in time");
    let Some(Ok(Message::Text(text))) = frame else {
        panic!("not a text frame: {frame:?}");
    };
    assert_eq!(text.as_str(), r#"{"type":"hello"}"#);
    assert!(started.elapsed() >= LATENCY);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_latency_a_post_is_answered_at_once() {
    let gw = gateway(Duration::ZERO).await;
    let (status, took) = post(&gw, "AAAAAAAAAAAAAAA=", "{}").await;
    assert_eq!(status, 410);
    assert!(took < LATENCY, "410 after {took:?}");
    gw.shutdown().await;
}
