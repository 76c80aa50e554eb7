//! The HTTP API: every request is matched against the template's routes as API Gateway's HTTP
//! API matches them (the most specific route wins: literal segments over `{param}` over
//! `{greedy+}`, a method over `ANY`, `$default` last), turned into the payload-2.0 event that
//! route's function receives in AWS, handed to that function's handler through
//! `lambda_http::request::from_str` and [`banter::http::serve`], and the handler's response is
//! sent back. CORS preflights are answered as the HTTP API does from the template's
//! `CorsConfiguration` (or, without one, from the handlers' `cors_origins`). `GET`s and `HEAD`s
//! that only the `$default` route (or no route) matches are served from the demo page
//! directory first; the rest go to `$default`, or without one are answered
//! `404 {"message":"Not Found"}` as the HTTP API does.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tracing::Instrument;

pub use crate::rest_routes::Matched;
use crate::state::{Shared, gateway_id};
use crate::template::Cors;
use crate::url::query_parameters;
use banter::functions::Function;

/// Largest request body the HTTP API accepts (10 MB).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// Whether a body with this content type travels as text (else base64), as the HTTP API
/// decides.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("javascript")
        || ct.contains("x-www-form-urlencoded")
}

/// What the HTTP API knows about one request.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) raw_path: &'a str,
    pub(crate) raw_query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
}

/// The API Gateway HTTP API (payload format 2.0) event for `request` on `matched`.
pub(crate) fn event(
    shared: &Shared,
    request: &Incoming<'_>,
    matched: &Matched,
    request_id: &str,
) -> Value {
    let now = chrono::Utc::now();
    let (mut headers, cookies) = headers_and_cookies(request.headers);
    let source_ip = request.peer.ip().to_string();
    add_forwarding_headers(&mut headers, request, &source_ip, now);
    let user_agent = headers
        .get("user-agent")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let domain = headers
        .get("host")
        .and_then(Value::as_str)
        .map_or_else(|| request.local.to_string(), str::to_owned);
    let domain_prefix = domain.split('.').next().unwrap_or_default().to_owned();
    let (body, base64) = body_of(request);
    let mut e = json!({
        "version": "2.0",
        "routeKey": matched.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": shared.http_api_id,
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method.as_str(),
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": matched.route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if let Some(obj) = e.as_object_mut() {
        if !cookies.is_empty() {
            obj.insert("cookies".into(), Value::Array(cookies));
        }
        let query = query_parameters(request.raw_query);
        if !query.is_empty() {
            obj.insert("queryStringParameters".into(), strings(query));
        }
        if !matched.params.is_empty() {
            obj.insert("pathParameters".into(), strings(matched.params.clone()));
        }
        if !body.is_null() {
            obj.insert("body".into(), body);
        }
    }
    e
}

/// The event's headers (lower-case names, repeated values comma-joined) and its `cookies`
/// (the `cookie` headers split at `;`), as API Gateway passes them.
fn headers_and_cookies(request_headers: &HeaderMap) -> (Map<String, Value>, Vec<Value>) {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for name in request_headers.keys() {
        let values: Vec<&str> = request_headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if name.as_str() == "cookie" {
            for v in values {
                cookies.extend(
                    v.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(|c| Value::String(c.to_owned())),
                );
            }
            continue;
        }
        headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    (headers, cookies)
}

/// The headers API Gateway adds: `x-forwarded-for` (the caller appended), `-proto`, `-port`
/// and an X-Ray `x-amzn-trace-id`.
fn add_forwarding_headers(
    headers: &mut Map<String, Value>,
    request: &Incoming<'_>,
    source_ip: &str,
    now: chrono::DateTime<chrono::Utc>,
) {
    let forwarded = match headers.get("x-forwarded-for").and_then(Value::as_str) {
        Some(existing) => format!("{existing}, {source_ip}"),
        None => source_ip.to_owned(),
    };
    headers.insert("x-forwarded-for".into(), forwarded.into());
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.insert(
        "x-forwarded-port".into(),
        request.local.port().to_string().into(),
    );
    headers.insert(
        "x-amzn-trace-id".into(),
        format!(
            "Root=1-{:08x}-{:024x}",
            now.timestamp(),
            fastrand::u128(..) >> 32
        )
        .into(),
    );
}

/// The body as API Gateway passes it: text as is, anything else base64 (with the flag).
fn body_of(request: &Incoming<'_>) -> (Value, bool) {
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    if request.body.is_empty() {
        (Value::Null, false)
    } else {
        match std::str::from_utf8(request.body) {
            Ok(text) if is_text(content_type) => (Value::String(text.to_owned()), false),
            _ => (
                Value::String(base64::engine::general_purpose::STANDARD.encode(request.body)),
                true,
            ),
        }
    }
}

/// A JSON object of string values.
fn strings(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// The HTTP API's router: everything goes through [`entry`].
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(entry).with_state(shared)
}

fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "message": text }).to_string(),
    )
        .into_response()
}

async fn entry(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = gateway_id();
    let (parts, body) = request.into_parts();
    let origin = parts
        .headers
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_preflight = parts.method == Method::OPTIONS
        && origin.is_some()
        && parts.headers.contains_key("access-control-request-method");
    let mut response = if is_preflight {
        preflight(&shared, origin.as_deref(), &parts.headers)
    } else {
        let body = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
            }
        };
        dispatch(&shared, &parts, body, peer, &request_id).await
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("apigw-requestid", v);
    }
    if !is_preflight && let Some(cors) = &shared.cors {
        apply_cors(response.headers_mut(), cors, origin.as_deref());
    }
    response
}

async fn dispatch(
    shared: &Shared,
    parts: &axum::http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
    request_id: &str,
) -> Response {
    let raw_path = parts.uri.path();
    if crate::media::is_bucket_request(&parts.method, raw_path) {
        return shared
            .bucket
            .serve(
                &parts.method,
                raw_path,
                parts.uri.query().unwrap_or_default(),
                &parts.headers,
                body,
            )
            .await;
    }
    let matched = shared.rest.find(parts.method.as_str(), raw_path);
    // The demo page is not part of the deployed API: its files come before the `$default`
    // route, which would answer them 404.
    let unrouted = matched
        .as_ref()
        .is_none_or(|m| m.route_key == banter::http::unrouted::ROUTE_KEY);
    if unrouted
        && matches!(parts.method, Method::GET | Method::HEAD)
        && let Some(file) = shared
            .web
            .serve(
                raw_path,
                parts.headers.get("host").and_then(|h| h.to_str().ok()),
            )
            .await
    {
        return file;
    }
    let Some(matched) = matched else {
        return message(StatusCode::NOT_FOUND, "Not Found");
    };
    let incoming = Incoming {
        method: &parts.method,
        raw_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &body,
        peer,
        local: shared.rest_addr,
    };
    let event = event(shared, &incoming, &matched, request_id);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "the HTTP API event does not parse as a lambda_http request");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let span = tracing::info_span!(
        "http",
        function = matched.function.name(),
        route = %matched.route_key,
        apigw_request_id = request_id,
    );
    let served = shared
        .invocations
        .timed(
            Function::Rest(matched.function),
            tokio::time::timeout(
                matched.timeout,
                matched.function.serve(&shared.app, request),
            )
            .instrument(span),
        )
        .await;
    match served {
        Ok(response) => into_http(response),
        Err(_) => {
            tracing::error!(
                route = %matched.route_key,
                timeout_ms = matched.timeout.as_millis() as u64,
                "function timed out"
            );
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// The handler's `lambda_http` response as an HTTP response.
fn into_http(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}

/// The `Access-Control-Allow-Origin` value for `origin` under `cors`.
fn allowed_origin(cors: &Cors, origin: Option<&str>) -> Option<String> {
    let origin = origin?;
    if cors.allow_origins.iter().any(|o| o == "*") {
        return Some(if cors.allow_credentials {
            origin.to_owned()
        } else {
            "*".to_owned()
        });
    }
    cors.allow_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
        .then(|| origin.to_owned())
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// As the HTTP API does when CORS is configured: the backend's CORS headers are replaced by
/// the API's.
fn apply_cors(headers: &mut HeaderMap, cors: &Cors, origin: Option<&str>) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for n in names {
        headers.remove(n);
    }
    if let Some(allowed) = allowed_origin(cors, origin) {
        set(headers, "access-control-allow-origin", &allowed);
        if !cors.expose_headers.is_empty() {
            set(
                headers,
                "access-control-expose-headers",
                &cors.expose_headers.join(","),
            );
        }
        if cors.allow_credentials {
            set(headers, "access-control-allow-credentials", "true");
        }
        headers.append("vary", HeaderValue::from_static("origin"));
    }
}

/// The answer to a CORS preflight.
fn preflight(shared: &Shared, origin: Option<&str>, request: &HeaderMap) -> Response {
    let fallback;
    let cors = match &shared.cors {
        Some(c) => c,
        None => {
            fallback = Cors {
                allow_origins: banter::http::cors_origin(&shared.app, origin)
                    .into_iter()
                    .collect(),
                allow_methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                    .map(String::from)
                    .to_vec(),
                allow_headers: [
                    "authorization",
                    "content-type",
                    "x-request-id",
                    "idempotency-key",
                ]
                .map(String::from)
                .to_vec(),
                expose_headers: Vec::new(),
                max_age: Some(600),
                allow_credentials: false,
            };
            &fallback
        }
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    let Some(allowed) = allowed_origin(cors, origin) else {
        return response;
    };
    set(headers, "access-control-allow-origin", &allowed);
    let requested_method = request
        .get("access-control-request-method")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let methods = if cors.allow_methods.iter().any(|m| m == "*") {
        requested_method.to_owned()
    } else {
        cors.allow_methods.join(",")
    };
    set(headers, "access-control-allow-methods", &methods);
    let requested_headers = request
        .get("access-control-request-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let allow_headers = if cors.allow_headers.iter().any(|h| h == "*") {
        requested_headers.to_owned()
    } else {
        cors.allow_headers.join(",")
    };
    if !allow_headers.is_empty() {
        set(headers, "access-control-allow-headers", &allow_headers);
    }
    if let Some(age) = cors.max_age {
        set(headers, "access-control-max-age", &age.to_string());
    }
    if cors.allow_credentials {
        set(headers, "access-control-allow-credentials", "true");
    }
    headers.append("vary", HeaderValue::from_static("origin"));
    response
}
