//! The local gateway's emulation of API Gateway, over real sockets: the management API's
//! answers (410 `GoneException`, 413, 403, `GetConnection`, `DeleteConnection`), the WebSocket
//! size limits, the idle and maximum connection timeouts, the HTTP API's CORS and 404s, the
//! demo page, and `--seed`.

use std::time::Duration;

use banter::aws::AwsSettings;
use banter::ids::ConnectionId;
use banter::poster::apigw::ApiGatewayPoster;
use banter::poster::{PostError, Poster};
use banter_e2e::http;
use banter_e2e::stack::{Api, Backend, eventually, start};
use banter_e2e::ws;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

async fn poster_at(endpoint: &str) -> ApiGatewayPoster {
    let sdk = AwsSettings::local(endpoint).load().await;
    ApiGatewayPoster::new(&sdk, endpoint)
}

fn only_connection(gw: &banter_local::RunningGateway) -> ConnectionId {
    let all = gw.connections();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].connection_id.parse().expect("a connection id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_api_answers_as_api_gateway_does() {
    let gw = start(&Backend::Memory, |_| {}).await;
    let api = Api::of(&gw);
    let user = api.register("mgmt").await;
    let poster = poster_at(gw.management_endpoint()).await;

    // Unknown connection: 410 GoneException, through the real SDK.
    let unknown: ConnectionId = "AAAAAAAAAAAAAAA=".parse().expect("id");
    assert_eq!(poster.post(&unknown, b"{}").await, Err(PostError::Gone));
    let e = poster
        .client()
        .get_connection()
        .connection_id(unknown.as_str())
        .send()
        .await
        .expect_err("GetConnection of an unknown id");
    assert!(
        e.as_service_error().is_some_and(|s| s.is_gone_exception()),
        "{e:?}"
    );

    let mut client = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("connects");
    let id = only_connection(&gw);

    // A post is one text frame to the socket.
    poster
        .post(&id, br#"{"type":"hello"}"#)
        .await
        .expect("post");
    let got = client.wait_for(WAIT, |f| f["type"] == "hello").await;
    assert!(got.is_some(), "the posted frame arrives");

    // Up to the message limit is fine; one byte more is 413 PayloadTooLargeException.
    let limit = banter_local::config::DEFAULT_MAX_MESSAGE_BYTES;
    let big = format!("\"{}\"", "x".repeat(limit - 2));
    poster
        .post(&id, big.as_bytes())
        .await
        .expect("a message of exactly the limit");
    let got = client
        .wait_for(WAIT, |f| f.as_str().is_some_and(|s| s.len() == limit - 2))
        .await;
    assert!(got.is_some(), "the largest message arrives");
    let too_big = vec![b'x'; limit + 1];
    assert_eq!(
        poster.post(&id, &too_big).await,
        Err(PostError::PayloadTooLarge)
    );

    // GetConnection parses in the SDK.
    let info = poster
        .client()
        .get_connection()
        .connection_id(id.as_str())
        .send()
        .await
        .expect("GetConnection");
    assert!(info.connected_at().is_some());
    assert!(info.last_active_at().is_some());
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );

    // Another stage is forbidden.
    let wrong = poster_at(&format!("{}/nope", gw.ws_url().replace("ws://", "http://"))).await;
    assert_eq!(wrong.post(&id, b"{}").await, Err(PostError::Forbidden));

    // DeleteConnection closes the socket (1000) and $disconnect removes the row.
    poster
        .delete_connection(&id)
        .await
        .expect("DeleteConnection");
    let closed = client.closed(WAIT).await.expect("the socket closes");
    assert_eq!(closed.code, Some(1000));
    assert_eq!(poster.post(&id, b"{}").await, Err(PostError::Gone));
    assert!(
        eventually(WAIT, || async {
            matches!(
                gw.app().stores.connections.get_connection(&id).await,
                Ok(None)
            )
        })
        .await,
        "$disconnect removed the connection row"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_frames_over_the_size_limits_close_the_socket() {
    let gw = start(&Backend::Memory, |c| {
        c.limits.max_frame_bytes = 64 * 1024;
    })
    .await;
    let api = Api::of(&gw);
    let user = api.register("frames").await;
    let mut client = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("connects");
    // Within the gateway's frame limit but over the protocol's 32 KB: the router answers.
    let frame =
        json!({"type": "ping", "message_id": "big-1", "payload": {"pad": "x".repeat(40 * 1024)}});
    client.send_text(frame.to_string()).await.expect("send");
    let answer = client
        .wait_for(WAIT, |f| f["type"] == "error")
        .await
        .expect("an error");
    assert_eq!(answer["payload"]["code"], "PAYLOAD_TOO_LARGE", "{answer}");
    // Over the gateway's frame limit: the socket closes with 1009.
    let _ = client.send_text("y".repeat(70 * 1024)).await;
    let closed = client.closed(WAIT).await.expect("the socket closes");
    assert_eq!(closed.code, Some(1009), "{closed:?}");
    assert!(
        eventually(WAIT, || async { gw.connections().is_empty() }).await,
        "the connection is gone"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_closes_an_idle_socket_and_activity_keeps_one_open() {
    let gw = start(&Backend::Memory, |c| {
        c.limits.idle_timeout = Duration::from_millis(600);
    })
    .await;
    let api = Api::of(&gw);
    let user = api.register("idle").await;
    let mut idle = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("connects");
    let idle_id = only_connection(&gw);
    let mut busy = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("connects");
    // The busy client sends a ping every 200 ms for 1.5 s: past the idle timeout.
    for _ in 0..8 {
        let pong = busy.request("ping", json!({}), WAIT).await.expect("pong");
        assert_eq!(pong["type"], "pong");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed = idle.closed(WAIT).await.expect("the idle socket closes");
    assert_eq!(closed.code, Some(1001), "{closed:?}");
    assert_eq!(gw.connections().len(), 1, "the busy socket is still open");
    assert!(
        eventually(WAIT, || async {
            matches!(
                gw.app().stores.connections.get_connection(&idle_id).await,
                Ok(None)
            )
        })
        .await,
        "$disconnect removed the idle connection"
    );
    busy.close().await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_connection_time_closes_even_a_busy_socket() {
    let gw = start(&Backend::Memory, |c| {
        c.limits.max_connection = Duration::from_millis(800);
    })
    .await;
    let api = Api::of(&gw);
    let user = api.register("maxconn").await;
    let mut client = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("connects");
    let started = tokio::time::Instant::now();
    let mut closed = None;
    while closed.is_none() && started.elapsed() < WAIT {
        let id = client.next_id();
        client
            .send(&json!({"type": "ping", "message_id": id}))
            .await;
        closed = client.closed(Duration::from_millis(100)).await;
    }
    let closed = closed.expect("closed at the maximum connection time");
    assert_eq!(closed.code, Some(1001));
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_routes_cors_404_and_the_demo_page() {
    let gw = start(&Backend::Memory, |_| {}).await;
    let base = gw.rest_url();
    // Preflight answered by the "API" itself, from the template's CorsConfiguration.
    let r = http::request(
        "OPTIONS",
        &format!("{base}/v1/events"),
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "authorization,content-type",
            ),
        ],
        None,
    )
    .await
    .expect("preflight");
    assert_eq!(r.status, 204);
    assert!(r.header("access-control-allow-origin").is_some(), "{r:?}");
    assert!(
        r.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST")),
        "{r:?}"
    );
    // A routed request: the handler's answer, with the API's CORS headers.
    let r = http::request(
        "GET",
        &format!("{base}/v1/health"),
        &[("origin", "http://localhost:5173")],
        None,
    )
    .await
    .expect("health");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "ok");
    assert!(r.header("access-control-allow-origin").is_some());
    assert!(r.header("x-request-id").is_some());
    // Path and query parameters reach the handler.
    let api = Api::of(&gw);
    let user = api.register("rest").await;
    let event_id = api.live_event(&user).await;
    for i in 0..3 {
        api.comment(&user, &event_id, &format!("c{i}")).await;
    }
    let r = api
        .call(
            "GET",
            &format!("/v1/events/{event_id}/comments?limit=2&sort=oldest"),
            Some(&user.token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    let items = listed["comments"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(items[0]["content"], "c0");
    // No route: the template's `$default` route, a 404 in the REST error envelope.
    let r = http::request("GET", &format!("{base}/v1/nope"), &[], None)
        .await
        .expect("404");
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "NOT_FOUND");
    // A declared path with another method: 405 with the declared ones in `Allow`.
    let r = http::request("DELETE", &format!("{base}/v1/users/me"), &[], None)
        .await
        .expect("405");
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET, PATCH"));
    // The demo page at /.
    let r = http::request("GET", &format!("{base}/"), &[], None)
        .await
        .expect("page");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let ws_meta = format!(r#"<meta name="banter-ws" content="{}">"#, gw.ws_url());
    if r.text().contains(r#"name="banter-ws""#) {
        assert!(
            r.text().contains(&ws_meta),
            "the page is told the WebSocket URL"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_creates_a_user_a_live_event_and_a_conversation() {
    let gw = start(&Backend::Memory, |c| c.seed = true).await;
    let seeded = gw.seeded().expect("seed data").clone();
    let api = Api::of(&gw);
    let r = api
        .call("GET", "/v1/users/me", Some(&seeded.access_token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["username"], "demo");
    let r = api
        .call(
            "GET",
            &format!("/v1/conversations/{}/messages", seeded.conversation_id),
            Some(&seeded.access_token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["messages"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text()
    );
    let mut client = ws::connect(&gw.ws_url(), &seeded.access_token, "")
        .await
        .expect("the seeded token connects");
    let ack = client
        .request(
            "subscribe",
            json!({"event_id": seeded.event_id.to_string(), "since": 0}),
            WAIT,
        )
        .await
        .expect("ack");
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["payload"]["count"], 1, "the welcome comment: {ack}");
    // Seeding is idempotent: logging in with the demo password works.
    let r = api
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"username": "demo", "password": banter_local::seed::DEMO_PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    client.close().await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_1001_and_delivers_disconnect() {
    let gw = start(&Backend::Memory, |_| {}).await;
    let api = Api::of(&gw);
    let user = api.register("bye").await;
    let mut client = ws::connect(&gw.ws_url(), &user.token, "")
        .await
        .expect("connects");
    let id = only_connection(&gw);
    let app = gw.app().clone();
    gw.shutdown().await;
    let closed = client.closed(WAIT).await.expect("the socket closes");
    assert_eq!(closed.code, Some(1001));
    assert!(
        matches!(app.stores.connections.get_connection(&id).await, Ok(None)),
        "$disconnect ran before shutdown returned"
    );
}
