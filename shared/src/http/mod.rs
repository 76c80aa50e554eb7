//! REST plumbing shared by every HTTP function: turning an API Gateway HTTP API (payload 2.0)
//! request into a [`Req`], authentication, rate limits with `X-RateLimit-*` headers,
//! `X-Request-ID`, CORS, and the one place where an [`AppError`] becomes a response.

pub mod cursor;
pub mod unrouted;

use std::collections::HashMap;

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::app::{App, Authenticated, RateStatus};
use crate::config::RateKind;
use crate::error::{AppError, ErrorCode};
use crate::fields::Fields;
use crate::ids::UserId;
use crate::time::now;

/// Largest JSON body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A REST request as handlers see it.
#[derive(Debug)]
pub struct Req {
    /// The route key (`POST /v1/events/{event_id}/comments`), as declared in the template.
    pub route_key: String,
    /// Path parameters (`event_id`).
    pub path: HashMap<String, String>,
    /// Query parameters (first value of each).
    pub query: HashMap<String, String>,
    /// The HTTP method (`GET`, …).
    pub method: String,
    /// The raw (percent-encoded) path, as the client sent it.
    pub raw_path: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
    /// `X-Request-ID` if the client sent one, else API Gateway's request id, else a new id.
    pub request_id: String,
    /// Client IP, from API Gateway.
    pub source_ip: Option<String>,
    user: Result<Authenticated, AppError>,
    /// A header every route checks (`X-Request-ID`) that is present but unusable: the
    /// request is refused with it before its route runs.
    bad_header: Option<AppError>,
}

/// Longest `X-Request-ID` accepted.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// The client's `X-Request-ID`: `None` when absent, a 400 on the header when present but not
/// 1 to [`MAX_REQUEST_ID_CHARS`] printable ASCII characters without spaces (it is echoed in
/// headers and logs, so it is refused rather than silently replaced).
fn client_request_id(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("x-request-id") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(v)
            if (1..=MAX_REQUEST_ID_CHARS).contains(&v.len())
                && v.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(v.to_owned()))
        }
        _ => Err(AppError::field(
            "X-Request-ID",
            format!(
                "must be 1 to {MAX_REQUEST_ID_CHARS} printable ASCII characters without spaces"
            ),
        )),
    }
}

impl Req {
    /// Builds a `Req` from the `lambda_http` request of an API Gateway HTTP API event.
    pub async fn from_lambda(req: Request, app: &App) -> Self {
        let (route_key, gateway_id, source_ip) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => (
                ctx.route_key.clone().unwrap_or_default(),
                ctx.request_id.clone(),
                ctx.http.source_ip.clone(),
            ),
            _ => (String::new(), None, None),
        };
        let path = req
            .path_parameters_ref()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let query = req
            .query_string_parameters_ref()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let method = req.method().as_str().to_owned();
        let raw_path = req.uri().path().to_owned();
        let headers = req.headers().clone();
        let (client_id, bad_header) = match client_request_id(&headers) {
            Ok(id) => (id, None),
            Err(e) => (None, Some(e)),
        };
        let request_id = client_id
            .or(gateway_id)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::to_owned);
        let user = app.authenticate(token.as_deref()).await;
        let body = match req.into_body() {
            Body::Empty => Vec::new(),
            Body::Text(t) => t.into_bytes(),
            Body::Binary(b) => b,
            _ => Vec::new(),
        };
        Self {
            route_key,
            path,
            query,
            method,
            raw_path,
            headers,
            body,
            request_id,
            source_ip,
            user,
            bad_header,
        }
    }

    /// The signed-in user, or 401.
    pub fn user(&self) -> Result<UserId, AppError> {
        self.user.clone().map(|a| a.user)
    }

    /// The signed-in user with the session of their token, or 401: for the routes about
    /// the caller's own sessions.
    pub fn caller(&self) -> Result<Authenticated, AppError> {
        self.user.clone()
    }

    /// Who reads a public route: the signed-in user when a token was sent (401 if it is
    /// invalid: a client that meant to sign in should hear so), `None` for an anonymous viewer.
    pub fn viewer(&self) -> Result<Option<UserId>, AppError> {
        if self.headers.contains_key("authorization") {
            self.user().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The signed-in user, if a valid token was sent.
    pub fn user_opt(&self) -> Option<UserId> {
        self.user.as_ref().ok().map(|a| a.user)
    }

    /// Whether this request writes: anything but `GET` (and `HEAD`). A suspended account's
    /// writes are refused before any handler runs.
    pub fn is_write(&self) -> bool {
        !(self.route_key.starts_with("GET ") || self.route_key.starts_with("HEAD "))
    }

    /// 403 `ACCOUNT_SUSPENDED` when a suspended account's valid token is sent with a write.
    fn refuse_suspended_writes(&self) -> Result<(), AppError> {
        match &self.user {
            Ok(a) if a.suspended && self.is_write() => Err(AppError::account_suspended()),
            _ => Ok(()),
        }
    }

    /// Path parameter `name` parsed as `T` (an id); 400 naming the field when malformed.
    pub fn path<T: std::str::FromStr>(&self, name: &str) -> Result<T, AppError>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self
            .path
            .get(name)
            .ok_or_else(|| AppError::field(name, "is required"))?;
        raw.parse()
            .map_err(|e: T::Err| AppError::field(name, field_message(name, e)))
    }

    /// Query parameter `name` parsed as `T`, if present; 400 when malformed or blank (`?limit=`
    /// is a mistake, not a request for the default: leaving it out is).
    pub fn query<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, AppError>
    where
        T::Err: std::fmt::Display,
    {
        match self.query.get(name).map(|s| s.trim()) {
            None => Ok(None),
            Some("") => Err(AppError::field(
                name,
                "must not be empty (leave the parameter out instead)",
            )),
            Some(raw) => raw
                .parse()
                .map(Some)
                .map_err(|e: T::Err| AppError::field(name, field_message(name, e))),
        }
    }

    /// `limit` in `1..=max` (default `default`).
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, AppError> {
        let limit = self.query::<usize>("limit")?.unwrap_or(default);
        if limit == 0 || limit > max {
            return Err(AppError::field(
                "limit",
                format!("must be between 1 and {max}"),
            ));
        }
        Ok(limit)
    }

    /// The JSON body as `T`: 413 when over [`MAX_BODY_BYTES`], 400 when malformed, with the
    /// parser's message.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, AppError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
            ));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(AppError::field("body", "a JSON body is required"));
        }
        serde_json::from_slice(&self.body).map_err(|e| AppError::field("body", e.to_string()))
    }

    /// The JSON object body, read field by field ([`Fields`]): 413 when too large, 400 on
    /// `body` when it is not a JSON object.
    pub fn fields(&self) -> Result<Fields, AppError> {
        Ok(Fields::new(self.json()?, "", "body")?)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A successful response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`None` for 204).
    pub body: Option<serde_json::Value>,
}

impl Reply {
    /// 200 with `body`.
    pub fn ok(body: impl Serialize) -> Self {
        Self::with_status(200, body)
    }

    /// 201 with `body`.
    pub fn created(body: impl Serialize) -> Self {
        Self::with_status(201, body)
    }

    /// `status` with `body`.
    pub fn with_status(status: u16, body: impl Serialize) -> Self {
        Self {
            status,
            body: Some(serde_json::to_value(body).unwrap_or(serde_json::Value::Null)),
        }
    }

    /// 204, no body.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
        }
    }
}

/// Serves one request: builds the [`Req`], applies the rate limit (per user when signed in,
/// per IP otherwise, with a tighter limit on the auth routes, where only refresh and sign-out
/// move to the user's limit), calls `route`, and maps its result — or its error — to the
/// response, with `X-Request-ID`, rate-limit and CORS headers. Logs one line per request in
/// a span carrying the request id.
pub async fn serve<F>(app: &App, req: Request, route: F) -> Response<Body>
where
    F: AsyncFnOnce(&App, &Req) -> Result<Reply, AppError>,
{
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let req = Req::from_lambda(req, app).await;
    let span = tracing::info_span!(
        "request",
        request_id = %req.request_id,
        route = %req.route_key,
        user = tracing::field::Empty,
    );
    if let Some(u) = req.user_opt() {
        span.record("user", tracing::field::display(u));
    }
    async {
        let limited = rate_limit(app, &req).await;
        let (result, rate) = match limited {
            Ok(rate) => match req
                .bad_header
                .clone()
                .map_or_else(|| req.refuse_suspended_writes(), Err)
            {
                Ok(()) => (route(app, &req).await, rate),
                Err(e) => (Err(e), rate),
            },
            Err(e) => (Err(e), None),
        };
        let response = respond(app, &req, result, rate, origin.as_deref());
        tracing::info!(status = response.status().as_u16(), "handled");
        response
    }
    .instrument(span)
    .await
}

async fn rate_limit(app: &App, req: &Req) -> Result<Option<RateStatus>, AppError> {
    let ip = req.source_ip.as_deref().unwrap_or("unknown");
    // Sign-in and registration are limited per IP whatever token is sent, so that one
    // account's token cannot buy more password guesses (failed sign-ins also count per
    // account: `service::login_throttle`). Refresh and sign-out check no password: with a
    // valid access token they count against its user, like any signed-in request.
    if req.route_key.starts_with("POST /v1/auth/") {
        let user = match req.route_key.as_str() {
            crate::rest::auth::REFRESH | crate::rest::auth::LOGOUT => req.user_opt(),
            _ => None,
        };
        return match user {
            Some(user) => app.rate_limit(RateKind::Rest, &user.to_string()).await,
            None => app.rate_limit(RateKind::AuthIp, ip).await,
        }
        .map(Some);
    }
    if let Some(user) = req.user_opt() {
        return app
            .rate_limit(RateKind::Rest, &user.to_string())
            .await
            .map(Some);
    }
    if req.route_key == "GET /v1/health" {
        return Ok(None);
    }
    app.rate_limit(RateKind::AnonymousIp, ip).await.map(Some)
}

fn respond(
    app: &App,
    req: &Req,
    result: Result<Reply, AppError>,
    rate: Option<RateStatus>,
    origin: Option<&str>,
) -> Response<Body> {
    let (status, body, retry_after, allow) = match result {
        Ok(reply) => (
            reply.status,
            reply.body.map(|b| b.to_string()),
            None,
            Vec::new(),
        ),
        Err(e) => {
            if e.code == ErrorCode::Internal {
                tracing::error!(error = %e, "request failed");
            } else {
                tracing::info!(code = e.code.rest_code(), message = %e.message, "request refused");
            }
            let body = serde_json::to_string(&e.rest_body(&req.request_id, now())).ok();
            (e.code.http_status(), body, e.retry_after_secs, e.allow)
        }
    };
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("x-request-id", header_value(&req.request_id));
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(r) = rate {
        builder = builder
            .header("x-ratelimit-limit", r.limit)
            .header("x-ratelimit-remaining", r.remaining)
            .header("x-ratelimit-reset", r.resets_at.timestamp());
    }
    if let Some(secs) = retry_after {
        builder = builder.header("retry-after", secs);
    }
    if !allow.is_empty() {
        builder = builder.header("allow", allow.join(", "));
    }
    if let Some(allowed) = cors_origin(app, origin) {
        builder = builder
            .header("access-control-allow-origin", header_value(&allowed))
            .header(
                "access-control-expose-headers",
                "x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after",
            )
            .header("vary", "origin");
    }
    let body = body.map_or(Body::Empty, Body::Text);
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
pub fn cors_origin(app: &App, origin: Option<&str>) -> Option<String> {
    let origins = &app.config.cors_origins;
    if origins.iter().any(|o| o == "*") {
        return Some("*".into());
    }
    let origin = origin?;
    origins
        .iter()
        .any(|o| o == origin)
        .then(|| origin.to_owned())
}

/// A parse error's message without a leading `<field>: ` that some error types add.
fn field_message(name: &str, e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    match text.strip_prefix(name).and_then(|t| t.strip_prefix(": ")) {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn event(
        route_key: &str,
        path: &str,
        headers: serde_json::Value,
        body: Option<&str>,
    ) -> Request {
        let (method, _) = route_key.split_once(' ').unwrap();
        let e = serde_json::json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                "domainPrefix": "example", "requestId": "gw-req-1", "routeKey": route_key,
                "stage": "$default", "time": "20/Nov/2026:23:00:00 +0000", "timeEpoch": 1,
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                          "sourceIp": "203.0.113.9", "userAgent": "test"}
            },
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&e.to_string()).unwrap()
    }

    async fn echo_user(_: &App, req: &Req) -> Result<Reply, AppError> {
        let user = req.user()?;
        Ok(Reply::ok(serde_json::json!({ "user": user })))
    }

    async fn parse_body(_: &App, req: &Req) -> Result<Reply, AppError> {
        let v: serde_json::Value = req.json()?;
        Ok(Reply::created(v))
    }

    fn body_json(r: &Response<Body>) -> serde_json::Value {
        match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[tokio::test]
    async fn errors_have_the_envelope_and_request_id() {
        let (app, _) = App::in_memory(Config::default()).unwrap();
        let r = serve(
            &app,
            event(
                "GET /v1/users/me",
                "/v1/users/me",
                serde_json::json!({}),
                None,
            ),
            echo_user,
        )
        .await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["x-request-id"], "gw-req-1");
        let b = body_json(&r);
        assert_eq!(b["error"]["code"], "UNAUTHORIZED");
        assert_eq!(b["error"]["request_id"], "gw-req-1");
        assert!(b["error"]["details"].as_array().unwrap().is_empty());
    }

    #[tokio::test]
    async fn valid_token_passes_and_rate_headers_are_set() {
        let (app, _) = App::in_memory(Config::default()).unwrap();
        let user = UserId::new();
        let token = app
            .sessions
            .login_tokens(user, now())
            .await
            .unwrap()
            .access_token;
        let headers = serde_json::json!({"authorization": format!("Bearer {token}"), "x-request-id": "mine-1"});
        let r = serve(
            &app,
            event("GET /v1/users/me", "/v1/users/me", headers, None),
            echo_user,
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "mine-1");
        assert_eq!(r.headers()["x-ratelimit-limit"], "300");
        assert_eq!(r.headers()["x-ratelimit-remaining"], "299");
        assert_eq!(body_json(&r)["user"], user.to_string());
    }

    #[tokio::test]
    async fn forged_token_is_refused() {
        let (app, _) = App::in_memory(Config::default()).unwrap();
        let (other, _) = App::in_memory(Config::default()).unwrap();
        let token = other
            .sessions
            .login_tokens(UserId::new(), now())
            .await
            .unwrap()
            .access_token;
        let headers = serde_json::json!({"authorization": format!("Bearer {token}")});
        let r = serve(
            &app,
            event("GET /v1/users/me", "/v1/users/me", headers, None),
            echo_user,
        )
        .await;
        assert_eq!(r.status(), 401);
    }

    #[tokio::test]
    async fn malformed_and_oversize_bodies() {
        let (app, _) = App::in_memory(Config::default()).unwrap();
        let h = serde_json::json!({"content-type": "application/json"});
        let r = serve(
            &app,
            event(
                "POST /v1/auth/login",
                "/v1/auth/login",
                h.clone(),
                Some("{nope"),
            ),
            parse_body,
        )
        .await;
        assert_eq!(r.status(), 400);
        assert_eq!(body_json(&r)["error"]["details"][0]["field"], "body");
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        let r = serve(
            &app,
            event("POST /v1/auth/login", "/v1/auth/login", h, Some(&big)),
            parse_body,
        )
        .await;
        assert_eq!(r.status(), 413);
        assert_eq!(body_json(&r)["error"]["code"], "PAYLOAD_TOO_LARGE");
    }

    #[tokio::test]
    async fn auth_routes_are_limited_per_ip_with_retry_after() {
        let config = Config {
            auth_ip_rate: crate::config::RateRule::per(2, 60),
            ..Config::default()
        };
        let (app, _) = App::in_memory(config).unwrap();
        let h = serde_json::json!({});
        for _ in 0..2 {
            let r = serve(
                &app,
                event(
                    "POST /v1/auth/login",
                    "/v1/auth/login",
                    h.clone(),
                    Some("{}"),
                ),
                parse_body,
            )
            .await;
            assert_eq!(r.status(), 201);
        }
        let r = serve(
            &app,
            event("POST /v1/auth/login", "/v1/auth/login", h, Some("{}")),
            parse_body,
        )
        .await;
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
        assert_eq!(body_json(&r)["error"]["code"], "RATE_LIMIT_EXCEEDED");
    }
}
