//! Starting the local gateway for a test, on free loopback ports, in memory or on moto, and the
//! REST calls the scenarios need.

use std::time::Duration;

use banter_local::{Gateway, GatewayConfig, QueueBackend, RunningGateway, Storage};
use serde_json::{Value, json};

use crate::http;

/// Where storage and the fan-out queue live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory adapters.
    Memory,
    /// DynamoDB and SQS on the moto server at this endpoint.
    Moto(String),
}

/// Environment variable naming moto's endpoint (set by `scripts/test`).
pub const MOTO_ENDPOINT_VAR: &str = "BANTER_TEST_AWS_ENDPOINT";

impl Backend {
    /// Moto at `BANTER_TEST_AWS_ENDPOINT`. Panics when it is not set: the moto suite must
    /// fail, never skip, without its server (run it through `scripts/test`).
    pub fn moto() -> Self {
        match std::env::var(MOTO_ENDPOINT_VAR) {
            Ok(e) if !e.trim().is_empty() => Self::Moto(e),
            _ => panic!(
                "{MOTO_ENDPOINT_VAR} is not set: the DynamoDB/SQS end-to-end suite needs a moto \
                 server; run it through scripts/test"
            ),
        }
    }

    /// How long a test waits for something that should happen "at once" (moto is slower).
    pub fn patience(&self) -> Duration {
        match self {
            Self::Memory => Duration::from_secs(10),
            Self::Moto(_) => Duration::from_secs(30),
        }
    }
}

/// A unique name for this test's tables and queue.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A gateway config on free loopback ports for `backend`.
pub fn config(backend: &Backend) -> GatewayConfig {
    let mut config = GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        ws_addr: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        pollers: 2,
        ..GatewayConfig::default()
    };
    if let Backend::Moto(endpoint) = backend {
        let name = unique("e2e");
        config.aws_endpoint = Some(endpoint.clone());
        config.storage = Storage::DynamoDb {
            table_prefix: name.clone(),
            create_tables: true,
        };
        config.queue = QueueBackend::Sqs {
            queue_url: None,
            queue_name: format!("{name}-fanout"),
        };
    }
    config
}

/// Starts a gateway for `backend`, after `tweak` adjusts its config.
pub async fn start(backend: &Backend, tweak: impl FnOnce(&mut GatewayConfig)) -> RunningGateway {
    if std::env::var_os("BANTER_E2E_LOG").is_some() {
        banter_local::logging::init(false);
    }
    let mut c = config(backend);
    tweak(&mut c);
    match Gateway::start(c).await {
        Ok(g) => g,
        Err(e) => panic!("the gateway did not start: {e}"),
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// Username.
    pub username: String,
    /// User id.
    pub user_id: String,
    /// Access token.
    pub token: String,
}

/// REST calls on a running gateway.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
}

impl Api {
    /// The HTTP API of `gateway`.
    pub fn of(gateway: &RunningGateway) -> Self {
        Self {
            base: gateway.rest_url(),
        }
    }

    /// `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> http::Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = vec![("accept", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        let text = body.map(Value::to_string);
        if text.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let url = format!("{}{path}", self.base);
        match http::request(method, &url, &headers, text.as_deref().map(str::as_bytes)).await {
            Ok(r) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// Registers a new user named `<name>_<random>`.
    pub async fn register(&self, name: &str) -> User {
        let username = format!(
            "{name}_{}",
            &uuid::Uuid::now_v7().simple().to_string()[24..]
        );
        let r = self
            .call(
                "POST",
                "/v1/auth/register",
                None,
                Some(&json!({"username": username, "password": "correct horse battery"})),
            )
            .await;
        assert_eq!(r.status, 201, "register: {}", r.text());
        let v = r.json();
        User {
            username,
            user_id: v["user"]["user_id"].as_str().unwrap_or_default().to_owned(),
            token: v["access_token"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// Creates an event as `owner` and makes it live; returns its id.
    pub async fn live_event(&self, owner: &User) -> String {
        let r = self
            .call(
                "POST",
                "/v1/events",
                Some(&owner.token),
                Some(&json!({"title": "E2E match", "event_type": "sports",
                              "start_time": "2026-01-01T00:00:00Z"})),
            )
            .await;
        assert_eq!(r.status, 201, "create event: {}", r.text());
        let id = r.json()["event_id"].as_str().unwrap_or_default().to_owned();
        let r = self
            .call(
                "PUT",
                &format!("/v1/events/{id}/status"),
                Some(&owner.token),
                Some(&json!({"status": "live"})),
            )
            .await;
        assert_eq!(r.status, 200, "go live: {}", r.text());
        id
    }

    /// Posts a comment over REST; returns the created comment.
    pub async fn comment(&self, user: &User, event_id: &str, content: &str) -> Value {
        let r = self
            .call(
                "POST",
                &format!("/v1/events/{event_id}/comments"),
                Some(&user.token),
                Some(&json!({"content": content})),
            )
            .await;
        assert_eq!(r.status, 201, "comment: {}", r.text());
        r.json()
    }
}

/// Polls `check` every 50 ms until it holds or `wait` passes; returns whether it held.
pub async fn eventually<F, Fut>(wait: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
