//! On the local stack, with a real WebSocket client: signing out closes the sockets opened
//! in that session, and suspending a user closes all of theirs, within seconds, through the
//! management API's `DELETE @connections` (issue 13, finding 2).

mod support;

use std::time::Duration;

use banter::config::Config;
use banter::ids::UserId;
use banter::service::users::{RegisterInput, register};
use banter_local::{Gateway, GatewayConfig, RunningGateway};
use futures::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a close may take to reach the client.
const WITHIN: Duration = Duration::from_secs(5);

async fn gateway(moderator: UserId) -> RunningGateway {
    Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        app: Config {
            moderators: [moderator].into(),
            ..Config::default()
        },
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts")
}

/// Registers `username`: its id, access token and refresh token.
async fn sign_up(gw: &RunningGateway, username: &str) -> (UserId, String, String) {
    let signed_in = register(
        gw.app(),
        RegisterInput {
            username: username.into(),
            password: format!("{username}-password"),
            display_name: None,
            email: None,
            device: Default::default(),
        },
    )
    .await
    .expect("registered");
    (
        signed_in.user.user_id,
        signed_in.tokens.access_token,
        signed_in.tokens.refresh_token,
    )
}

async fn connect(gw: &RunningGateway, token: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(format!("{}/?token={token}", gw.ws_url()))
        .await
        .expect("the client connects");
    socket
}

/// Whether the server closes `socket` within [`WITHIN`] (a close frame, or the stream ends).
async fn closed_within(socket: &mut Socket) -> bool {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            // Anything else (a broadcast, a pong) is not the close.
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Whether `socket` is still open after a short wait: a ping is answered.
async fn still_open(socket: &mut Socket) -> bool {
    use futures::SinkExt;
    let ping = r#"{"type":"ping","message_id":"p1"}"#;
    if socket.send(Message::text(ping)).await.is_err() {
        return false;
    }
    match tokio::time::timeout(WITHIN, socket.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t.contains("pong"),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_closes_the_sessions_socket_and_suspension_closes_the_rest() {
    let moderator = UserId::new();
    let gw = gateway(moderator).await;
    let (user, access, refresh) = sign_up(&gw, "grace_h").await;
    let mut signed_out = connect(&gw, &access).await;
    let second = gw
        .app()
        .sessions
        .login_tokens(user, banter::time::now())
        .await
        .expect("a second sign-in");
    let mut other_session = connect(&gw, &second.access_token).await;

    // Sign-out over the HTTP API closes the socket of that session only.
    let (status, _) = support::request(
        gw.rest_addr,
        "POST",
        "/v1/auth/logout",
        None,
        &format!(r#"{{"refresh_token":"{refresh}"}}"#),
    )
    .await;
    assert_eq!(status, 204);
    assert!(
        closed_within(&mut signed_out).await,
        "the signed-out session's socket stayed open"
    );
    assert!(
        still_open(&mut other_session).await,
        "another session's socket was closed"
    );

    // A moderator suspends the user: their remaining socket closes.
    let mod_token = gw
        .app()
        .sessions
        .login_tokens(moderator, banter::time::now())
        .await
        .expect("the moderator signs in")
        .access_token;
    let (status, _) = support::request(
        gw.rest_addr,
        "POST",
        &format!("/v1/users/{user}/suspension"),
        Some(&mod_token),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        closed_within(&mut other_session).await,
        "the suspended user's socket stayed open"
    );
    assert_eq!(
        gw.app()
            .stores
            .connections
            .list_user_connections(user)
            .await
            .expect("the connections"),
        []
    );
}
