//! The API Gateway Management API of the WebSocket API, on the WebSocket port under the stage:
//! `POST`, `GET` and `DELETE /{stage}/@connections/{connection_id}`, answering as API Gateway
//! does so that the real `aws-sdk-apigatewaymanagement` client (the fan-out's and the
//! router's `ApiGatewayPoster`) works against it unchanged:
//!
//! | request | answer |
//! |---|---|
//! | `POST` (any) | waits [`Limits::post_latency`](crate::config::Limits::post_latency) first (0 by default) |
//! | `POST` body | the body as one frame to that socket (text when UTF-8, else binary): 200 |
//! | `POST` over the message limit | 413 `PayloadTooLargeException` |
//! | `POST` while the client's buffer is full | 429 `LimitExceededException` |
//! | `GET` | 200 `{connectedAt, identity: {sourceIp, userAgent}, lastActiveAt}` |
//! | `DELETE` | closes the socket (1000), which delivers `$disconnect`: 204 |
//! | unknown or closed connection | 410 `GoneException` |
//! | another stage | 403 `ForbiddenException` |
//!
//! Errors carry `x-amzn-ErrorType` and a JSON `{"message": …}` body; the SDK maps them to its
//! modelled exceptions (`is_gone_exception()`, …). Requests are not authenticated (SigV4
//! signatures are accepted unchecked).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;

use crate::registry::Outgoing;
use crate::state::Shared;

/// An error as API Gateway sends it.
fn aws_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut r = (
        status,
        [("content-type", "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(error_type) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

fn gone() -> Response {
    aws_error(StatusCode::GONE, "GoneException", "")
}

fn wrong_stage(stage: &str) -> Response {
    aws_error(
        StatusCode::FORBIDDEN,
        "ForbiddenException",
        &format!("stage {stage:?} is not this WebSocket API's stage"),
    )
}

/// The management API's routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/{stage}/@connections/{connection_id}",
        post(post_to_connection)
            .get(get_connection)
            .delete(delete_connection),
    )
}

/// The error type API Gateway sends with `status`.
fn error_type(status: u16) -> &'static str {
    match status {
        410 => "GoneException",
        429 => "LimitExceededException",
        413 => "PayloadTooLargeException",
        403 => "ForbiddenException",
        _ => "InternalServerErrorException",
    }
}

async fn post_to_connection(
    State(shared): State<Arc<Shared>>,
    Path((stage, connection_id)): Path<(String, String)>,
    body: Body,
) -> Response {
    // The round trip to API Gateway that loopback lacks: before anything is delivered or
    // answered, as the frame of a real post reaches the socket after its request travelled.
    if !shared.limits.post_latency.is_zero() {
        tokio::time::sleep(shared.limits.post_latency).await;
    }
    if stage != shared.stage {
        return wrong_stage(&stage);
    }
    let limit = shared.limits.max_message_bytes;
    let Ok(data) = axum::body::to_bytes(body, limit).await else {
        return aws_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            &format!("messages are limited to {limit} bytes"),
        );
    };
    if let Some(code) = shared.fault(&connection_id) {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return aws_error(status, error_type(code), "scripted failure");
    }
    if let Some(code) = shared.injector.draw() {
        if code == 410 {
            // The client is gone, as one whose network dropped: its socket closes and
            // `$disconnect` runs; it reconnects and catches up.
            if let Some(conn) = shared.registry.remove(&connection_id) {
                conn.close.notify_one();
            }
            return gone();
        }
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return aws_error(status, error_type(code), "injected failure");
    }
    let Some(conn) = shared.registry.get(&connection_id) else {
        return gone();
    };
    let frame = match String::from_utf8(data.to_vec()) {
        Ok(text) => Outgoing::Text(text),
        Err(e) => Outgoing::Binary(e.into_bytes()),
    };
    match conn.tx.try_send(frame) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(TrySendError::Full(_)) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "the client's buffer is full",
        ),
        Err(TrySendError::Closed(_)) => gone(),
    }
}

async fn get_connection(
    State(shared): State<Arc<Shared>>,
    Path((stage, connection_id)): Path<(String, String)>,
) -> Response {
    if stage != shared.stage {
        return wrong_stage(&stage);
    }
    let Some(conn) = shared.registry.get(&connection_id) else {
        return gone();
    };
    let iso =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut identity = json!({ "sourceIp": conn.source_ip });
    if let (Some(ua), Some(obj)) = (&conn.user_agent, identity.as_object_mut()) {
        obj.insert("userAgent".into(), ua.clone().into());
    }
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        json!({
            "connectedAt": iso(conn.connected_at),
            "identity": identity,
            "lastActiveAt": iso(conn.last_active()),
        })
        .to_string(),
    )
        .into_response()
}

async fn delete_connection(
    State(shared): State<Arc<Shared>>,
    Path((stage, connection_id)): Path<(String, String)>,
) -> Response {
    if stage != shared.stage {
        return wrong_stage(&stage);
    }
    let Some(conn) = shared.registry.remove(&connection_id) else {
        return gone();
    };
    // The connection's task closes the socket (1000) and delivers $disconnect.
    conn.close.notify_one();
    tracing::debug!(%connection_id, "DeleteConnection");
    StatusCode::NO_CONTENT.into_response()
}
