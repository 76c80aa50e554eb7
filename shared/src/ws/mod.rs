//! The WebSocket API's routes as handlers of API Gateway's WebSocket proxy events:
//! [`connect`] (`$connect`), [`disconnect`] (`$disconnect`) and [`router`] (`$default`: every
//! client frame). They take an [`ApiGatewayWebsocketProxyRequest`] and return an
//! [`ApiGatewayProxyResponse`] and know nothing of the Lambda runtime, so the local gateway
//! calls the same functions with events it builds. [`handle`] dispatches on the route key.
//!
//! Every invocation runs in one `ws` tracing span carrying the route, API Gateway's request id
//! and the connection id (and, once known, the user, message type and client `message_id`).
//! The protocol is documented in `docs/websocket-protocol.md` and `docs/asyncapi.yaml`.

pub mod connect;
pub mod disconnect;
pub mod lambda;
pub mod router;

mod commands;
mod reply;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};

use crate::app::App;
use crate::error::AppError;
use crate::ids::ConnectionId;
use crate::poster::Poster;

/// Route key of the connection handshake.
pub const CONNECT_ROUTE: &str = "$connect";
/// Route key of a closed connection.
pub const DISCONNECT_ROUTE: &str = "$disconnect";
/// Route key of every client frame (the API has no other routes).
pub const DEFAULT_ROUTE: &str = "$default";

/// Handles any WebSocket event by its `requestContext.routeKey`: `$connect`, `$disconnect`,
/// and everything else as a client frame (`$default`).
pub async fn handle(
    app: &App,
    poster: &dyn Poster,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    match request.request_context.route_key.as_deref() {
        Some(CONNECT_ROUTE) => connect::handle(app, request).await,
        Some(DISCONNECT_ROUTE) => disconnect::handle(app, request).await,
        _ => router::handle(app, poster, request).await,
    }
}

/// The API Gateway Management API endpoint (for `PostToConnection`) of the API an event came
/// through: `https://{domainName}/{stage}` when the event came through the API's own
/// `execute-api` domain; `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` when it
/// came through a custom domain (whose base path need not be the stage) and `region` is known.
/// `None` without a domain name or stage.
pub fn management_endpoint(
    request: &ApiGatewayWebsocketProxyRequest,
    region: Option<&str>,
) -> Option<String> {
    let ctx = &request.request_context;
    let stage = ctx.stage.as_deref().filter(|s| !s.is_empty())?;
    let domain = ctx.domain_name.as_deref().filter(|d| !d.is_empty())?;
    if domain.ends_with(".amazonaws.com") {
        return Some(format!("https://{domain}/{stage}"));
    }
    match (ctx.apiid.as_deref().filter(|a| !a.is_empty()), region) {
        (Some(api), Some(region)) if !region.is_empty() => Some(format!(
            "https://{api}.execute-api.{region}.amazonaws.com/{stage}"
        )),
        _ => Some(format!("https://{domain}/{stage}")),
    }
}

/// The span of one invocation. `user_id`, `message_type` and `message_id` are recorded later.
fn invocation_span(
    route: &'static str,
    request: &ApiGatewayWebsocketProxyRequest,
) -> tracing::Span {
    let ctx = &request.request_context;
    tracing::info_span!(
        "ws",
        route,
        request_id = ctx.request_id.as_deref().unwrap_or_default(),
        connection_id = ctx.connection_id.as_deref().unwrap_or_default(),
        user_id = tracing::field::Empty,
        message_type = tracing::field::Empty,
        message_id = tracing::field::Empty,
    )
}

/// The connection the event is about; 400 when API Gateway's id is missing or malformed.
fn connection_id(request: &ApiGatewayWebsocketProxyRequest) -> Result<ConnectionId, AppError> {
    request
        .request_context
        .connection_id
        .as_deref()
        .ok_or_else(|| AppError::field("requestContext.connectionId", "is required"))?
        .parse()
        .map_err(|e: crate::ids::IdError| {
            AppError::field("requestContext.connectionId", e.to_string())
        })
}

/// A response with `status` and no body.
fn status(status: u16) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response
}

/// Adds a header to a response (values that are not valid header text are skipped).
fn with_header(
    mut response: ApiGatewayProxyResponse,
    name: HeaderName,
    value: &str,
) -> ApiGatewayProxyResponse {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers.insert(name, value);
    }
    response
}

/// The HTTP answer to a failed handshake or a malformed event: the error's status and the REST
/// error body. API Gateway answers the client's upgrade request with it.
fn error_response(
    error: &AppError,
    request: &ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let request_id = request
        .request_context
        .request_id
        .as_deref()
        .unwrap_or_default();
    let body =
        serde_json::to_string(&error.rest_body(request_id, crate::time::now())).unwrap_or_default();
    let mut response = with_header(
        status(error.code.http_status()),
        CONTENT_TYPE,
        "application/json",
    );
    response.body = Some(Body::Text(body));
    response
}

/// Logs a failed invocation once, at a level that matches who is at fault.
fn log_failure(what: &str, error: &AppError) {
    let code = error.code.ws_code();
    match error.code {
        crate::error::ErrorCode::Internal | crate::error::ErrorCode::Unavailable => {
            tracing::error!(code, reason = %error.message, "{what} failed");
        }
        _ => tracing::info!(code, reason = %error.message, "{what} rejected"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn management_endpoint_prefers_the_execute_api_domain() {
        let r = request(serde_json::json!({"requestContext": {
            "connectedAt": 0, "requestTimeEpoch": 0, "stage": "prod", "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com"}}));
        assert_eq!(
            management_endpoint(&r, Some("us-east-1")).as_deref(),
            Some("https://abc123.execute-api.eu-west-1.amazonaws.com/prod")
        );
        let custom = request(serde_json::json!({"requestContext": {
            "connectedAt": 0, "requestTimeEpoch": 0, "stage": "prod", "apiId": "abc123",
            "domainName": "ws.example.com"}}));
        assert_eq!(
            management_endpoint(&custom, Some("eu-west-1")).as_deref(),
            Some("https://abc123.execute-api.eu-west-1.amazonaws.com/prod")
        );
        assert_eq!(
            management_endpoint(&custom, None).as_deref(),
            Some("https://ws.example.com/prod")
        );
        let bare = request(serde_json::json!({"requestContext": {
            "connectedAt": 0, "requestTimeEpoch": 0}}));
        assert_eq!(management_endpoint(&bare, Some("eu-west-1")), None);
    }

    #[test]
    fn error_responses_carry_status_and_rest_body() {
        let r = request(serde_json::json!({"requestContext": {
            "connectedAt": 0, "requestTimeEpoch": 0, "requestId": "req-9"}}));
        let resp = error_response(&AppError::unauthorized("missing access token"), &r);
        assert_eq!(resp.status_code, 401);
        let Some(Body::Text(body)) = resp.body else {
            panic!("no body")
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "UNAUTHORIZED");
        assert_eq!(v["error"]["request_id"], "req-9");
    }
}
