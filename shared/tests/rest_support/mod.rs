//! Helpers for REST tests: requests built from the API Gateway HTTP API (payload 2.0) samples
//! in `events/`, sent through [`banter::http::serve`], and responses read back as JSON; users,
//! tokens and events seeded straight into the in-memory stores (no argon2 cost).
//!
//! Use from a test crate with `mod rest_support;` and `use rest_support::*;`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use banter::app::App;
use banter::config::Config;
use banter::error::AppError;
use banter::http::{Reply, Req, serve};
use banter::ids::{EventId, UserId};
use banter::model::{
    AccountStatus, CommentSettings, Event, EventStatus, EventType, ModerationLevel, PasswordHash,
    User,
};
use banter::queue::FanoutJob;
use banter::queue::Queue;
use banter::queue::memory::MemoryQueue;
use banter::time::{Timestamp, now};
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

/// The repository's `events/` directory.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
}

/// The sample `events/<name>.json` (`name` with or without `.json`).
pub fn load_sample(name: &str) -> Value {
    let file = if name.ends_with(".json") {
        name.to_owned()
    } else {
        format!("{name}.json")
    };
    let path = events_dir().join(&file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

/// Every `events/<prefix>*.json` file name, sorted.
pub fn sample_names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The `events/http-*.json` sample whose `routeKey` is `route_key`.
pub fn sample_for_route(route_key: &str) -> Value {
    sample_names("http-")
        .into_iter()
        .map(|n| load_sample(&n))
        .find(|e| e["routeKey"] == route_key)
        .unwrap_or_else(|| panic!("no events/http-*.json sample for {route_key}"))
}

/// Percent-encodes a query-string component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An API Gateway v2 event under construction.
#[derive(Debug, Clone)]
pub struct Call {
    /// The event JSON.
    pub event: Value,
}

impl Call {
    /// Starts from the sample file `events/<name>.json`.
    pub fn sample(name: &str) -> Self {
        Self {
            event: load_sample(name),
        }
    }

    /// Starts from the sample of `route_key`.
    pub fn to(route_key: &str) -> Self {
        Self {
            event: sample_for_route(route_key),
        }
    }

    /// The route key of the event.
    pub fn route_key(&self) -> String {
        self.event["routeKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Recomputes `rawPath` from the route key and the path parameters.
    fn sync_path(&mut self) {
        let route = self.route_key();
        let mut path = route
            .split_once(' ')
            .map(|(_, p)| p)
            .unwrap_or("/")
            .to_owned();
        if let Some(params) = self.event["pathParameters"].as_object() {
            for (k, v) in params {
                path = path.replace(&format!("{{{k}}}"), v.as_str().unwrap_or_default());
            }
        }
        self.event["rawPath"] = json!(path);
        self.event["requestContext"]["http"]["path"] = json!(path);
    }

    /// Sets path parameter `name` (and the raw path).
    pub fn path_param(mut self, name: &str, value: impl ToString) -> Self {
        if !self.event["pathParameters"].is_object() {
            self.event["pathParameters"] = json!({});
        }
        self.event["pathParameters"][name] = json!(value.to_string());
        self.sync_path();
        self
    }

    fn sync_query(&mut self) {
        let raw = self.event["queryStringParameters"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!("{}={}", encode(k), encode(v.as_str().unwrap_or_default()))
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .unwrap_or_default();
        self.event["rawQueryString"] = json!(raw);
    }

    /// Sets query parameter `name`.
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        if !self.event["queryStringParameters"].is_object() {
            self.event["queryStringParameters"] = json!({});
        }
        self.event["queryStringParameters"][name] = json!(value.to_string());
        self.sync_query();
        self
    }

    /// Removes query parameter `name`.
    pub fn without_query(mut self, name: &str) -> Self {
        if let Some(m) = self.event["queryStringParameters"].as_object_mut() {
            m.remove(name);
        }
        self.sync_query();
        self
    }

    /// Sets the body to `value` as JSON text.
    pub fn json(self, value: Value) -> Self {
        self.raw_body(&value.to_string())
    }

    /// Sets the body to `text` as is.
    pub fn raw_body(mut self, text: &str) -> Self {
        self.event["body"] = json!(text);
        self.event["isBase64Encoded"] = json!(false);
        self.event["headers"]["content-length"] = json!(text.len().to_string());
        self
    }

    /// Removes the body.
    pub fn no_body(mut self) -> Self {
        if let Some(m) = self.event.as_object_mut() {
            m.remove("body");
        }
        self
    }

    /// Sets header `name` (lowercase, as API Gateway sends them).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    /// Removes header `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(h) = self.event["headers"].as_object_mut() {
            h.remove(&name.to_ascii_lowercase());
        }
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// No `Authorization` header.
    pub fn anonymous(self) -> Self {
        self.without_header("authorization")
    }

    /// The client IP API Gateway reports.
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.event["requestContext"]["http"]["sourceIp"] = json!(ip);
        self
    }

    /// The `lambda_http` request Lambda would hand the function.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event.to_string())
            .unwrap_or_else(|e| panic!("not an API Gateway v2 event: {e}"))
    }
}

/// A response, read back.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl Resp {
    /// Header `name` as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body on failure.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an error response with `status` and REST `code`, in the documented envelope
    /// (`{"error": {code, message, details, request_id, timestamp}}`, with `request_id`
    /// equal to the `X-Request-ID` header).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        check_error_envelope(self);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        self
    }

    /// The error's `code`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The error's `message`.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The fields named in the error's `details`, in order.
    pub fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Asserts the error envelope of an error response.
#[track_caller]
pub fn check_error_envelope(r: &Resp) {
    let e = &r.body["error"];
    assert!(e.is_object(), "no error object: {}", r.body);
    assert!(e["code"].is_string(), "{}", r.body);
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
    assert!(e["details"].is_array(), "{}", r.body);
    assert!(e["timestamp"].is_string(), "{}", r.body);
    assert_eq!(
        e["request_id"].as_str(),
        r.header("x-request-id"),
        "request_id must match X-Request-ID"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

/// Sends `call` through [`serve`] with `route`.
pub async fn send<F>(app: &App, call: &Call, route: F) -> Resp
where
    F: AsyncFnOnce(&App, &Req) -> Result<Reply, AppError>,
{
    let response = serve(app, call.request(), route).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Empty => Value::Null,
        Body::Text(t) => serde_json::from_str(t).unwrap_or_else(|e| panic!("body {t:?}: {e}")),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or_else(|e| panic!("body: {e}")),
        _ => Value::Null,
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// An in-memory app with default settings, and its queue.
pub fn app() -> (App, Arc<MemoryQueue>) {
    app_with(Config::default())
}

/// An in-memory app with `config`, and its queue.
pub fn app_with(config: Config) -> (App, Arc<MemoryQueue>) {
    App::in_memory(config).expect("in-memory app")
}

/// A user stored directly (no argon2 work). Its password hash verifies nothing.
pub fn user_named(username: &str) -> User {
    let t = now();
    User {
        user_id: UserId::new(),
        username: username.to_owned(),
        display_name: format!("{username} display"),
        email: Some(format!("{username}@example.com")),
        avatar_url: None,
        status_message: None,
        reputation_score: 0,
        account_status: AccountStatus::Active,
        password_hash: PasswordHash("$argon2id$not-a-real-hash".into()),
        created_at: t,
        updated_at: t,
        last_active_at: None,
        version: 1,
    }
}

/// Stores `user`.
pub async fn store_user(app: &App, user: &User) {
    app.stores
        .users
        .create_user(user)
        .await
        .expect("create user");
}

/// A stored user named `username` and a valid access token for them.
pub async fn seed_user(app: &App, username: &str) -> (User, String) {
    let user = user_named(username);
    store_user(app, &user).await;
    let token = token_for(app, user.user_id);
    (user, token)
}

/// A valid access token for `user`.
pub fn token_for(app: &App, user: UserId) -> String {
    app.sessions
        .issuer()
        .issue_access(user, now())
        .expect("issue access token")
        .0
}

/// An access token issued at `at` (an hour ago makes an expired one).
pub fn token_issued_at(app: &App, user: UserId, at: Timestamp) -> String {
    app.sessions
        .issuer()
        .issue_access(user, at)
        .expect("issue access token")
        .0
}

/// An event stored directly.
pub fn event_by(creator: UserId, status: EventStatus, start: Timestamp) -> Event {
    let t = now();
    Event {
        event_id: EventId::new(),
        title: "Cup final".into(),
        description: Some("Live comments".into()),
        event_type: EventType::Sports,
        status,
        start_time: start,
        end_time: None,
        max_participants: None,
        moderation_level: ModerationLevel::Standard,
        comment_settings: CommentSettings::default(),
        created_by: creator,
        created_at: t,
        updated_at: t,
    }
}

/// Stores an event of `creator` with `status`.
pub async fn seed_event(app: &App, creator: UserId, status: EventStatus) -> Event {
    let event = event_by(creator, status, now());
    app.stores
        .events
        .create_event(&event)
        .await
        .expect("create event");
    event
}

/// Every job now in the queue, received and deleted.
pub async fn drain(queue: &MemoryQueue) -> Vec<FanoutJob> {
    let mut jobs = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::ZERO)
            .await
            .expect("receive from the memory queue");
        if batch.is_empty() {
            return jobs;
        }
        for r in batch {
            queue.delete(&r.receipt).await.expect("delete");
            jobs.push(r.job);
        }
    }
}
