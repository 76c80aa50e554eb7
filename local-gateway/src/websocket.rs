//! The WebSocket API. A WebSocket handshake becomes a `$connect` event for the function the
//! template integrates with `$connect`, and the socket is opened only when that handler
//! answers 2xx (any other status is the HTTP answer to the handshake: a 401 refuses the
//! upgrade). Every client message becomes a `MESSAGE` event routed by the template's route
//! selection expression (falling back to `$default`), and a closed socket becomes a
//! `$disconnect` event. The events carry what API Gateway sends: `requestContext.routeKey`,
//! `eventType`, `connectionId`, `domainName`, `stage`, `connectedAt`, `identity`, ids and
//! times.
//!
//! Frames to clients arrive only through the management API (`/{stage}/@connections/{id}`), as in
//! AWS. API Gateway's limits are emulated (see [`crate::config::Limits`]): a client frame over
//! `max_frame_bytes` or a message over `max_message_bytes` closes the socket with 1009; a
//! socket with no client data frame for `idle_timeout`, and every socket after
//! `max_connection`, is closed with 1001 ("Going away"). Control frames (ping/pong) do not
//! count as activity, as in API Gateway: clients send the protocol's `ping` message.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until, timeout};

pub use crate::registry::ConnectionInfo;
use crate::registry::{Conn, Outgoing};
pub use crate::route_selection::RouteSelection;
use crate::state::{Shared, gateway_id};
use crate::url::query_parameters;
use crate::ws_routes::Target;
use banter::functions::Function;

/// What every event of one connection repeats.
#[derive(Debug, Clone)]
struct Meta {
    connection_id: String,
    connected_at_ms: i64,
    source_ip: String,
    user_agent: String,
    domain: String,
}

fn request_time(now: DateTime<Utc>) -> String {
    now.format("%d/%b/%Y:%H:%M:%S %z").to_string()
}

/// `requestContext` of an event.
fn context(
    shared: &Shared,
    meta: &Meta,
    route_key: &str,
    event_type: &str,
    extra: Map<String, Value>,
) -> Value {
    let now = Utc::now();
    let request_id = gateway_id();
    let mut ctx = json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": shared.stage,
        "connectedAt": meta.connected_at_ms,
        "requestTimeEpoch": now.timestamp_millis(),
        "identity": {"sourceIp": meta.source_ip, "userAgent": meta.user_agent},
        "requestId": request_id,
        "domainName": meta.domain,
        "connectionId": meta.connection_id,
        "apiId": shared.api_id,
    });
    if let Some(obj) = ctx.as_object_mut() {
        obj.extend(extra);
    }
    ctx
}

fn parse_event(v: Value) -> Option<ApiGatewayWebsocketProxyRequest> {
    match serde_json::from_value(v) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::error!(error = %e, "a WebSocket event does not parse");
            None
        }
    }
}

fn status(code: u16) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(code);
    r
}

/// Calls `target`'s handler with `event`, within its function's timeout (500 after it).
async fn invoke(
    shared: &Shared,
    target: &Target,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let app = &shared.app;
    let work = async {
        match target.handler {
            Function::WsConnect => banter::ws::connect::handle(app, event).await,
            Function::WsDisconnect => banter::ws::disconnect::handle(app, event).await,
            Function::WsDefault => {
                banter::ws::router::handle(app, shared.poster.as_ref(), event).await
            }
            Function::Rest(_) | Function::Fanout | Function::Media => status(500),
        }
    };
    let outcome = shared
        .invocations
        .timed(target.handler, timeout(target.timeout, work))
        .await;
    match outcome {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(
                function = %target.function,
                timeout_ms = target.timeout.as_millis() as u64,
                "function timed out"
            );
            status(500)
        }
    }
}

/// The WebSocket port's router: the management API, and a WebSocket upgrade on every other
/// path (`/`, `/<stage>`).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    crate::management::routes()
        .fallback(entry)
        .with_state(shared)
}

fn headers_json(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi = Map::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| Value::String(v.to_owned()))
            .collect();
        if let Some(first) = values.last() {
            single.insert(name.as_str().to_owned(), first.clone());
        }
        multi.insert(name.as_str().to_owned(), Value::Array(values));
    }
    (single, multi)
}

/// The HTTP answer to a refused handshake: the handler's status, headers and body.
fn refusal(response: ApiGatewayProxyResponse) -> Response {
    let code = u16::try_from(response.status_code)
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => AxumBody::from(t),
        Some(aws_lambda_events::encodings::Body::Binary(b)) => AxumBody::from(b),
        _ => AxumBody::empty(),
    };
    let mut out = (code, body).into_response();
    for (name, value) in &response.headers {
        out.headers_mut().insert(name.clone(), value.clone());
    }
    out
}

/// A handshake: `$connect` decides, then the connection opens and runs until it closes.
async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, _) = request.into_parts();
    let upgrade =
        match <WebSocketUpgrade as axum::extract::FromRequestParts<_>>::from_request_parts(
            &mut parts, &shared,
        )
        .await
        {
            Ok(u) => u,
            Err(_) => {
                return (
                    StatusCode::UPGRADE_REQUIRED,
                    [("upgrade", "websocket")],
                    "Banter's local WebSocket API: connect with a WebSocket client, e.g. \
                 ws://127.0.0.1:3001/?token=<access_token>\n",
                )
                    .into_response();
            }
        };
    let now = Utc::now();
    let meta = meta_of(&parts.headers, peer, now);
    let event = connect_event(&shared, &parts, &meta);
    let response = match shared.ws.routes.get(banter::ws::CONNECT_ROUTE) {
        None => status(200),
        Some(target) => match parse_event(event) {
            Some(e) => invoke(&shared, target, e).await,
            None => status(500),
        },
    };
    if !(200..300).contains(&response.status_code) {
        tracing::info!(
            connection_id = %meta.connection_id,
            status = response.status_code,
            "handshake refused by $connect"
        );
        return refusal(response);
    }
    open(shared, upgrade, &response, meta, now)
}

/// What API Gateway knows of a connection from its handshake.
fn meta_of(headers: &HeaderMap, peer: SocketAddr, now: chrono::DateTime<Utc>) -> Meta {
    Meta {
        connection_id: gateway_id(),
        connected_at_ms: now.timestamp_millis(),
        source_ip: peer.ip().to_string(),
        user_agent: headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        domain: headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| peer.to_string(), str::to_owned),
    }
}

/// The `$connect` event of a handshake: headers, query string, request context.
fn connect_event(shared: &Shared, parts: &axum::http::request::Parts, meta: &Meta) -> Value {
    let (headers, multi_headers) = headers_json(&parts.headers);
    let query = query_parameters(parts.uri.query().unwrap_or_default());
    let mut event = json!({
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "requestContext": context(shared, meta, banter::ws::CONNECT_ROUTE, "CONNECT", Map::new()),
        "isBase64Encoded": false,
    });
    if !query.is_empty()
        && let Some(obj) = event.as_object_mut()
    {
        obj.insert(
            "queryStringParameters".into(),
            Value::Object(
                query
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        obj.insert(
            "multiValueQueryStringParameters".into(),
            Value::Object(
                query
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            Value::Array(v.split(',').map(|x| Value::String(x.into())).collect()),
                        )
                    })
                    .collect(),
            ),
        );
    }
    event
}

/// Opens an accepted connection: registers it (frames posted from now on are written once
/// the upgrade completes) and runs it on the upgraded socket.
fn open(
    shared: Arc<Shared>,
    upgrade: WebSocketUpgrade,
    response: &ApiGatewayProxyResponse,
    meta: Meta,
    now: chrono::DateTime<Utc>,
) -> Response {
    let mut upgrade = upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(shared.limits.max_frame_bytes)
        .max_message_size(shared.limits.max_message_bytes);
    if let Some(p) = response.headers.get("sec-websocket-protocol") {
        upgrade.set_selected_protocol(p.clone());
    }
    let (tx, rx) = mpsc::channel(shared.limits.client_buffer.max(1));
    let conn = Arc::new(Conn {
        tx,
        close: Notify::new(),
        connected_at: now,
        last_active: Mutex::new(now),
        source_ip: meta.source_ip.clone(),
        user_agent: Some(meta.user_agent.clone()).filter(|u| !u.is_empty()),
    });
    shared
        .registry
        .insert(meta.connection_id.clone(), conn.clone());
    tracing::debug!(connection_id = %meta.connection_id, "connection open");
    let failed_shared = shared.clone();
    let failed_meta = meta.clone();
    upgrade
        .on_failed_upgrade(move |e| {
            tracing::warn!(error = %e, "WebSocket upgrade failed");
            let shared = failed_shared.clone();
            let meta = failed_meta.clone();
            tokio::spawn(async move {
                shared.registry.remove(&meta.connection_id);
                disconnect(&shared, &meta, 1006, "upgrade failed").await;
                shared.registry.task_ended();
            });
        })
        .on_upgrade(move |socket| run(shared, socket, meta, conn, rx))
}

/// Why the loop ended: the close code and reason to report to `$disconnect`, and the close
/// frame to send (none when the client closed or the socket broke).
struct Ending {
    code: u16,
    reason: String,
    send_close: bool,
}

fn ending(code: u16, reason: &str, send_close: bool) -> Ending {
    Ending {
        code,
        reason: reason.to_owned(),
        send_close,
    }
}

/// Read buffer of each socket. tungstenite zero-fills the whole buffer before every read of
/// the socket (128 KiB by default), and the connection's loop reads again after every frame
/// it writes: with the default, each post cost a 128 KiB `memset` (the top symbol of a
/// 1,000-subscriber fan-out profile) and 10,000 sockets held 1.3 GB. Larger client frames
/// still fit: the buffer grows to the frame being read.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Runs one open socket until it closes, then delivers `$disconnect`.
async fn run(
    shared: Arc<Shared>,
    mut socket: WebSocket,
    meta: Meta,
    conn: Arc<Conn>,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    let limits = shared.limits.clone();
    let opened = Instant::now();
    let max_deadline = opened + limits.max_connection;
    let mut idle_deadline = opened + limits.idle_timeout;
    let mut shutdown = shared.shutdown.clone();
    let end = loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                None => break ending(1006, "Connection closed abnormally", false),
                Some(Err(e)) => {
                    let too_big = is_capacity_error(&e);
                    if too_big {
                        tracing::info!(connection_id = %meta.connection_id, "client message over the size limits: closing with 1009");
                        break ending(1009, "Message too big", true);
                    }
                    tracing::debug!(connection_id = %meta.connection_id, error = %e, "socket error");
                    break ending(1006, "Connection closed abnormally", false);
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| (f.code, f.reason.to_string()));
                    break ending(code, &reason, false);
                }
                Some(Ok(Message::Text(text))) => {
                    idle_deadline = Instant::now() + limits.idle_timeout;
                    conn.touch();
                    dispatch(&shared, &meta, text.to_string(), false);
                }
                Some(Ok(Message::Binary(bytes))) => {
                    idle_deadline = Instant::now() + limits.idle_timeout;
                    conn.touch();
                    dispatch(&shared, &meta, base64::engine::general_purpose::STANDARD.encode(&bytes), true);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
            out = rx.recv() => match out {
                Some(Outgoing::Text(t)) => {
                    if socket.send(Message::Text(t.into())).await.is_err() {
                        break ending(1006, "Connection closed abnormally", false);
                    }
                }
                Some(Outgoing::Binary(b)) => {
                    if socket.send(Message::Binary(b.into())).await.is_err() {
                        break ending(1006, "Connection closed abnormally", false);
                    }
                }
                None => break ending(1000, "", true),
            },
            () = conn.close.notified() => break ending(1000, "", true),
            () = sleep_until(idle_deadline) => {
                tracing::info!(connection_id = %meta.connection_id, "idle timeout: closing");
                break ending(1001, "Going away", true);
            }
            () = sleep_until(max_deadline) => {
                tracing::info!(connection_id = %meta.connection_id, "maximum connection duration: closing");
                break ending(1001, "Going away", true);
            }
            () = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                break ending(1001, "Going away", true);
            }
        }
    };
    // From now on posts answer 410.
    shared.registry.remove(&meta.connection_id);
    if end.send_close {
        let frame = CloseFrame {
            code: end.code,
            reason: end.reason.clone().into(),
        };
        let _ = timeout(
            Duration::from_secs(1),
            socket.send(Message::Close(Some(frame))),
        )
        .await;
        // Wait briefly for the client's close reply, then drop the socket.
        let _ = timeout(Duration::from_secs(1), async {
            while let Some(Ok(m)) = socket.recv().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    drop(socket);
    tracing::debug!(connection_id = %meta.connection_id, code = end.code, "connection closed");
    if shared.deliver_disconnect {
        disconnect(&shared, &meta, end.code, &end.reason).await;
    }
    shared.registry.task_ended();
}

fn is_capacity_error(e: &axum::Error) -> bool {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
            return matches!(t, tokio_tungstenite::tungstenite::Error::Capacity(_));
        }
        source = s.source();
    }
    // axum's error displays the tungstenite error; match its text as a fallback.
    let text = e.to_string();
    text.contains("Space limit exceeded") || text.contains("too long") || text.contains("too big")
}

/// Delivers a client message to its route's handler (in its own task: API Gateway invokes
/// the integration for every message independently).
fn dispatch(shared: &Arc<Shared>, meta: &Meta, body: String, base64: bool) {
    let text_for_selection = if base64 { None } else { Some(body.as_str()) };
    let Some((route_key, target)) = text_for_selection
        .map_or_else(
            || {
                shared
                    .ws
                    .routes
                    .get(banter::ws::DEFAULT_ROUTE)
                    .map(|t| (banter::ws::DEFAULT_ROUTE.to_owned(), t))
            },
            |b| shared.ws.route_for(b),
        )
        .map(|(k, t)| (k, t.clone()))
    else {
        // API Gateway answers a message no route takes with an error frame.
        if let Some(c) = shared.registry.get(&meta.connection_id) {
            let _ = c.tx.try_send(Outgoing::Text(
                json!({"message": "Forbidden", "connectionId": meta.connection_id,
                       "requestId": gateway_id()})
                .to_string(),
            ));
        }
        return;
    };
    let mut extra = Map::new();
    extra.insert("messageId".into(), Value::String(gateway_id()));
    let event = json!({
        "requestContext": context(shared, meta, &route_key, "MESSAGE", extra),
        "body": body,
        "isBase64Encoded": base64,
    });
    let shared = shared.clone();
    tokio::spawn(async move {
        if let Some(e) = parse_event(event) {
            let response = invoke(&shared, &target, e).await;
            if response.status_code >= 400 {
                tracing::debug!(status = response.status_code, route = %route_key, "route answered an error");
            }
        }
    });
}

/// Delivers `$disconnect` for a closed connection.
async fn disconnect(shared: &Shared, meta: &Meta, code: u16, reason: &str) {
    let Some(target) = shared.ws.routes.get(banter::ws::DISCONNECT_ROUTE) else {
        return;
    };
    let mut extra = Map::new();
    extra.insert("disconnectStatusCode".into(), json!(code));
    extra.insert("disconnectReason".into(), json!(reason));
    let event = json!({
        "headers": {"Host": meta.domain, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""},
        "multiValueHeaders": {"Host": [meta.domain], "x-api-key": [""], "X-Forwarded-For": [""], "x-restapi": [""]},
        "requestContext": context(shared, meta, banter::ws::DISCONNECT_ROUTE, "DISCONNECT", extra),
        "isBase64Encoded": false,
    });
    if let Some(e) = parse_event(event) {
        let response = invoke(shared, target, e).await;
        if response.status_code != 200 {
            tracing::warn!(
                connection_id = %meta.connection_id,
                status = response.status_code,
                "$disconnect failed"
            );
        }
    }
}
