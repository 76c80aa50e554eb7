//! Helpers of the comments / conversations / messages REST tests: an in-memory app, users and
//! events made through the stores, access tokens, the fan-out jobs a request enqueued, and
//! requests built from the API Gateway samples in `events/` with path parameters, query,
//! headers and body overridden, served through `banter::http::serve`.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use banter::app::App;
use banter::config::{Config, RateRule};
use banter::ids::{EventId, UserId};
use banter::model::{
    AccountStatus, CommentSettings, Event, EventStatus, EventType, ModerationLevel, PasswordHash,
    User,
};
use banter::queue::Queue;
use banter::queue::memory::MemoryQueue;
use banter::rest;
use banter::time::now;
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// The samples directory.
pub fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// A signed-in user of a test.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The user's id.
    pub id: UserId,
    /// A valid access token of the user.
    pub token: String,
}

/// An in-memory app and its fan-out queue.
pub struct World {
    /// The app.
    pub app: App,
    /// Its queue.
    pub queue: Arc<MemoryQueue>,
}

/// Limits high enough that tests which post many items never hit them.
pub fn roomy_config() -> Config {
    Config {
        comment_rate: RateRule::per(10_000, 10),
        message_rate: RateRule::per(10_000, 10),
        rest_rate: RateRule::per(10_000, 60),
        ..Config::default()
    }
}

impl World {
    /// A world with [`roomy_config`].
    pub fn new() -> Self {
        Self::with_config(roomy_config())
    }

    /// A world with `config`.
    pub fn with_config(config: Config) -> Self {
        let (app, queue) = App::in_memory(config).expect("in-memory app");
        Self { app, queue }
    }

    /// A valid access token of `id`.
    pub fn token(&self, id: UserId) -> String {
        self.app
            .sessions
            .issuer()
            .issue_access(id, now())
            .expect("token")
            .0
    }

    /// Stores a user named `name` with a fresh id and returns it with a token.
    pub async fn user(&self, name: &str) -> Actor {
        self.user_with_id(UserId::new(), name).await
    }

    /// Stores a user `id` named `name` and returns it with a token.
    pub async fn user_with_id(&self, id: UserId, name: &str) -> Actor {
        let t = now();
        self.app
            .stores
            .users
            .create_user(&User {
                user_id: id,
                username: name.into(),
                display_name: format!("{name} (display)"),
                email: None,
                avatar_url: None,
                status_message: None,
                reputation_score: 0,
                account_status: AccountStatus::Active,
                password_hash: PasswordHash("$argon2id$not-a-real-hash".into()),
                created_at: t,
                updated_at: t,
                last_active_at: None,
                version: 1,
            })
            .await
            .expect("create user");
        Actor {
            id,
            token: self.token(id),
        }
    }

    /// Stores an event of `creator` with id `id`, moved to `status` through the store.
    pub async fn event_with(
        &self,
        id: EventId,
        creator: UserId,
        status: EventStatus,
        level: ModerationLevel,
    ) -> EventId {
        let t = now();
        self.app
            .stores
            .events
            .create_event(&Event {
                event_id: id,
                title: "Final".into(),
                description: None,
                event_type: EventType::Sports,
                status: EventStatus::Scheduled,
                start_time: t,
                end_time: None,
                max_participants: None,
                moderation_level: level,
                comment_settings: CommentSettings::default(),
                created_by: creator,
                created_at: t,
                updated_at: t,
            })
            .await
            .expect("create event");
        let path: &[EventStatus] = match status {
            EventStatus::Scheduled => &[],
            EventStatus::Live => &[EventStatus::Live],
            EventStatus::Ended => &[EventStatus::Live, EventStatus::Ended],
            EventStatus::Cancelled => &[EventStatus::Cancelled],
        };
        let mut from = EventStatus::Scheduled;
        for to in path {
            self.app
                .stores
                .events
                .set_status(id, from, *to, now())
                .await
                .expect("set status");
            from = *to;
        }
        id
    }

    /// A live, standard-moderation event of `creator`.
    pub async fn live_event(&self, creator: UserId) -> EventId {
        self.event_with(
            EventId::new(),
            creator,
            EventStatus::Live,
            ModerationLevel::Standard,
        )
        .await
    }

    /// Takes every job from the queue; returns their payloads (server messages).
    pub async fn drain(&self) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .queue
                .receive(10, Duration::ZERO)
                .await
                .expect("receive");
            if got.is_empty() {
                return out;
            }
            for r in got {
                self.queue.delete(&r.receipt).await.expect("delete");
                out.push(r.job.payload);
            }
        }
    }

    /// The `type` of every job in the queue (which is emptied).
    pub async fn drain_types(&self) -> Vec<String> {
        self.drain()
            .await
            .iter()
            .map(|p| p["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Loads the sample `events/http-<name>.json`.
pub fn sample(name: &str) -> Value {
    let path = events_dir().join(format!("http-{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A request under construction: a sample event with overrides.
#[derive(Debug, Clone)]
pub struct Call {
    /// The API Gateway event.
    pub event: Value,
}

/// What a request answered.
#[derive(Debug)]
pub struct Res {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`Null` when empty).
    pub body: Value,
    /// Response headers.
    pub headers: HeaderMap,
}

impl Res {
    /// `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `field` of every `error.details` entry.
    pub fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts a 400 naming `field`.
    #[track_caller]
    pub fn expect_field(self, field: &str) -> Self {
        assert_eq!(self.status, 400, "expected 400; body: {}", self.body);
        assert_eq!(self.code(), "VALIDATION_ERROR");
        assert!(
            self.fields().iter().any(|f| f == field),
            "expected a detail for {field}; body: {}",
            self.body
        );
        self
    }
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Call {
    /// The sample `events/http-<name>.json`, as is.
    pub fn sample(name: &str) -> Self {
        Self {
            event: sample(name),
        }
    }

    /// The route key.
    pub fn route_key(&self) -> String {
        self.event["routeKey"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn sync_path(&mut self) {
        let route = self.route_key();
        let mut path = route
            .split_once(' ')
            .map(|(_, p)| p)
            .unwrap_or_default()
            .to_owned();
        if let Some(params) = self.event["pathParameters"].as_object() {
            for (k, v) in params {
                path = path.replace(&format!("{{{k}}}"), v.as_str().unwrap_or_default());
            }
        }
        self.event["rawPath"] = json!(path);
        self.event["requestContext"]["http"]["path"] = json!(path);
    }

    fn sync_query(&mut self) {
        let raw = self.event["queryStringParameters"]
            .as_object()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| {
                        format!("{}={}", encode(k), encode(v.as_str().unwrap_or_default()))
                    })
                    .collect::<Vec<_>>()
                    .join("&")
            })
            .unwrap_or_default();
        self.event["rawQueryString"] = json!(raw);
    }

    /// Sets path parameter `key`.
    pub fn path(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        if !self.event["pathParameters"].is_object() {
            self.event["pathParameters"] = json!({});
        }
        self.event["pathParameters"][key] = json!(value.to_string());
        self.sync_path();
        self
    }

    /// Sets query parameter `key`.
    pub fn query(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        if !self.event["queryStringParameters"].is_object() {
            self.event["queryStringParameters"] = json!({});
        }
        self.event["queryStringParameters"][key] = json!(value.to_string());
        self.sync_query();
        self
    }

    /// Removes every query parameter.
    pub fn no_query(mut self) -> Self {
        if let Some(o) = self.event.as_object_mut() {
            o.remove("queryStringParameters");
        }
        self.sync_query();
        self
    }

    /// Sets header `name` (lower case).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name] = json!(value);
        self
    }

    /// Removes header `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(h) = self.event["headers"].as_object_mut() {
            h.remove(name);
        }
        self
    }

    /// Signs the request with `token`.
    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Signs the request as `actor`.
    pub fn by(self, actor: &Actor) -> Self {
        self.token(&actor.token)
    }

    /// Sends no credentials.
    pub fn anonymous(self) -> Self {
        self.without_header("authorization")
    }

    /// Sets the body to `body` as JSON text.
    pub fn body(self, body: Value) -> Self {
        self.raw_body(&body.to_string())
    }

    /// Sets the body text.
    pub fn raw_body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self.event["headers"]["content-length"] = json!(body.len().to_string());
        self.event["headers"]["content-type"] = json!("application/json");
        self
    }

    /// The `lambda_http` request of the event.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event.to_string()).expect("valid API Gateway event")
    }

    /// Serves the request with the route module that declares its route key.
    pub async fn send(self, world: &World) -> Res {
        let key = self.route_key();
        let response = serve(&world.app, self.request(), &key).await;
        into_res(response)
    }
}

/// Serves `req` through `banter::http::serve` with the module of this suite that lists
/// `route_key` in its `ROUTES`.
pub async fn serve(app: &App, req: Request, route_key: &str) -> Response<Body> {
    if rest::comments::ROUTES.contains(&route_key) {
        banter::http::serve(app, req, rest::comments::route).await
    } else if rest::conversations::ROUTES.contains(&route_key) {
        banter::http::serve(app, req, rest::conversations::route).await
    } else if rest::messages::ROUTES.contains(&route_key) {
        banter::http::serve(app, req, rest::messages::route).await
    } else {
        panic!("no module of this suite serves {route_key}")
    }
}

/// The status, JSON body and headers of a response.
pub fn into_res(r: Response<Body>) -> Res {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = match r.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Res {
        status,
        body,
        headers,
    }
}

/// The ids the samples in `events/` refer to.
pub mod sample_ids {
    /// The caller (the `sub` of the samples' placeholder token).
    pub const CALLER: &str = "0198f1e0-1234-7abc-8def-0123456789ab";
    /// Another user, already in the sample conversation.
    pub const OTHER: &str = "0198f1e0-5678-7abc-8def-0123456789ac";
    /// A third user, not in the sample conversation.
    pub const THIRD: &str = "0198f1e0-9abc-7abc-8def-0123456789ad";
    /// The live event.
    pub const EVENT: &str = "0198f2a4-5c3e-7b21-9f4a-1c2d3e4f5a6b";
    /// A comment of the caller on the event.
    pub const COMMENT: &str = "0198f2b0-1111-7c22-8a33-445566778899";
    /// A group owned by the caller, with OTHER.
    pub const CONVERSATION: &str = "0198f2c0-2222-7d33-9b44-5566778899aa";
    /// A message of the caller in the conversation.
    pub const MESSAGE: &str = "0198f2d0-3333-7e44-ac55-66778899aabb";
}

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("sample id")
}

/// A world holding everything the samples refer to; returns the caller.
pub async fn sample_world() -> (World, Actor) {
    use banter::model::{
        Content, Conversation, ConversationType, MessageType, ModerationStatus, NewComment,
        NewMessage, Participant, ParticipantRole,
    };
    use sample_ids::*;
    let w = World::new();
    let caller = w.user_with_id(id(CALLER), "sample_caller").await;
    w.user_with_id(id(OTHER), "sample_other").await;
    w.user_with_id(id(THIRD), "sample_third").await;
    let event = w
        .event_with(
            id(EVENT),
            caller.id,
            EventStatus::Live,
            ModerationLevel::Standard,
        )
        .await;
    let t = now();
    w.app
        .stores
        .comments
        .append_comment(NewComment {
            comment_id: id(COMMENT),
            event_id: event,
            user_id: caller.id,
            content: Content::parse("content", "Kick-off!").expect("content"),
            parent_comment_id: None,
            client_key: None,
            moderation_status: ModerationStatus::Approved,
            client_metadata: None,
            created_at: t,
        })
        .await
        .expect("comment");
    let conversation: banter::ids::ConversationId = id(CONVERSATION);
    w.app
        .stores
        .conversations
        .create_conversation(
            &Conversation {
                conversation_id: conversation,
                conversation_type: ConversationType::Group,
                title: Some("Sample group".into()),
                description: None,
                created_by: caller.id,
                created_at: t,
                updated_at: t,
                last_message: None,
            },
            &[
                Participant::joining(conversation, caller.id, ParticipantRole::Owner, t),
                Participant::joining(conversation, id(OTHER), ParticipantRole::Member, t),
            ],
        )
        .await
        .expect("conversation");
    w.app
        .stores
        .messages
        .append_message(NewMessage {
            message_id: id(MESSAGE),
            conversation_id: conversation,
            sender_id: caller.id,
            message_type: MessageType::Text,
            content: Content::parse("content", "Hello everyone").expect("content"),
            client_message_id: id("sample-seed-1"),
            reply_to_message_id: None,
            created_at: t,
        })
        .await
        .expect("message");
    (w, caller)
}

/// Every sample `events/http-<prefix>-*.json`, by file name.
pub fn samples_with_prefix(prefix: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(events_dir())
        .expect("events dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("http-{prefix}-")) && n.ends_with(".json"))
        .map(|n| {
            let stem = n
                .trim_start_matches("http-")
                .trim_end_matches(".json")
                .to_owned();
            (n, sample(&stem))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Feeds every `events/http-<prefix>-*.json` to its route: as is (placeholder token: never a
/// 5xx) and signed by the caller of [`sample_world`] (a 2xx). Checks that every route in
/// `routes` has a sample and every sample names one of `routes`.
pub async fn check_samples(prefix: &str, routes: &[&str]) {
    let samples = samples_with_prefix(prefix);
    assert!(!samples.is_empty(), "no samples for {prefix}");
    for route in routes {
        assert!(
            samples.iter().any(|(_, e)| e["routeKey"] == *route),
            "route {route} has no sample in events/"
        );
    }
    for (name, event) in samples {
        let key = event["routeKey"].as_str().unwrap_or_default().to_owned();
        assert!(
            routes.contains(&key.as_str()),
            "{name}: unknown route {key}"
        );
        assert_eq!(
            event["requestContext"]["routeKey"], event["routeKey"],
            "{name}"
        );
        let (w, caller) = sample_world().await;
        let call = Call { event };
        let as_is = call.clone().send(&w).await;
        assert!(
            as_is.status < 500,
            "{name} as is: {} {}",
            as_is.status,
            as_is.body
        );
        let signed = call.by(&caller).send(&w).await;
        assert!(
            (200..300).contains(&signed.status),
            "{name} signed: {} {}",
            signed.status,
            signed.body
        );
    }
}
