//! What the gateway's integration tests share.

// Each test binary uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 request to `addr` over a fresh connection (with `Authorization: Bearer` when
/// `token` is given): the answer's status and how long it took.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Duration) {
    let (status, elapsed, _) = exchange(addr, method, path, token, body).await;
    (status, elapsed)
}

/// [`request`], with the answer's body as well (the gateway answers with a
/// `content-length`, and `connection: close` ends the body).
pub async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Duration, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let authorization =
        token.map_or_else(String::new, |t| format!("authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{authorization}content-type: \
         application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let started = Instant::now();
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer read");
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or_else(String::new, |(_, b)| b.to_owned());
    (status, elapsed, body)
}

/// Registers `username` (shown as `display_name`, if given) through the app, which signs them
/// in: `(user, access token)`.
pub async fn registered(
    app: &banter::app::App,
    username: &str,
    display_name: Option<String>,
) -> (banter::ids::UserId, String) {
    let signed_in = banter::service::users::register(
        app,
        banter::service::users::RegisterInput {
            username: username.into(),
            password: format!("{username}-password"),
            display_name,
            email: None,
            device: Default::default(),
        },
    )
    .await
    .expect("registered");
    (signed_in.user.user_id, signed_in.tokens.access_token)
}

/// Registers `username`, makes a live event owned by them, and signs them an access token:
/// `(event, token)`, set up through the app (nothing is invoked).
pub async fn owner_of_a_live_event(
    app: &banter::app::App,
    username: &str,
) -> (banter::ids::EventId, String) {
    let (me, token) = registered(app, username, None).await;
    let event = banter_local::seed::live_event(app, me, username)
        .await
        .expect("a live event");
    (event, token)
}
