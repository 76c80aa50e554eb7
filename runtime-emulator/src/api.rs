//! The Runtime API emulator: an HTTP server on `127.0.0.1:0` that hands queued invocations to
//! the runtime on `GET /next` and records what the runtime posts back.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{EmulatorError, FunctionConfig};

/// The Runtime API version prefix every route starts with.
const PREFIX: &str = "/2018-06-01/runtime";

/// Largest payload a function may post: Lambda's 6 MB synchronous response limit. Larger
/// bodies get `413`, as Lambda answers.
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What the runtime posted for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/invocation/{id}/response`: the function's result, as posted.
    Response(Vec<u8>),
    /// `POST …/invocation/{id}/error`: the function failed.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        error_type: Option<String>,
        /// The error document (`{"errorType": …, "errorMessage": …}`).
        body: Vec<u8>,
    },
}

impl Outcome {
    /// Whether the function returned a result (rather than an error).
    pub fn is_response(&self) -> bool {
        matches!(self, Self::Response(_))
    }

    /// The posted body, response or error.
    pub fn body(&self) -> &[u8] {
        match self {
            Self::Response(b) | Self::Error { body: b, .. } => b,
        }
    }

    /// The posted body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(self.body())
    }
}

/// An invocation waiting for the runtime to take it.
#[derive(Debug, Clone)]
struct Invocation {
    request_id: String,
    payload: Vec<u8>,
}

/// Everything the emulator has seen, behind one lock.
#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Invocation>,
    outcomes: HashMap<String, (Outcome, Instant)>,
    order: Vec<String>,
    first_next: Option<Instant>,
    next_requests: u64,
    first_outcome: Option<Instant>,
    init_error: Option<Vec<u8>>,
    closed: bool,
}

/// State shared by the server's handlers and the [`RuntimeApi`] handle.
#[derive(Debug)]
struct Shared {
    function: FunctionConfig,
    inner: Mutex<Inner>,
    /// Bumped on every change, so waiters re-check.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `f` to the state and wakes every waiter.
    fn update<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
        out
    }

    /// Waits until `f` returns `Some` (it is re-run after every change).
    async fn wait_until<T>(&self, mut f: impl FnMut(&mut Inner) -> Option<T>) -> T {
        let mut rx = self.changed.subscribe();
        loop {
            if let Some(v) = f(&mut self.lock()) {
                return v;
            }
            // The sender lives in `self`, so this only fails if `self` is gone.
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The Lambda Runtime API of one function instance, served on `127.0.0.1:<free port>`.
///
/// Dropping it stops the server and answers a waiting `GET /next` with `410 Gone`, so a
/// still-running process sees its runtime go away.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// An invocation queued with [`RuntimeApi::enqueue`]; [`RuntimeApi::wait`] awaits its
/// outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Its `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
}

impl RuntimeApi {
    /// Starts the emulator for `function` on a free loopback port.
    pub async fn start(function: FunctionConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            function,
            inner: Mutex::new(Inner::default()),
            changed,
        });
        let router = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{request_id}}/response"),
                post(response),
            )
            .route(
                &format!("{PREFIX}/invocation/{{request_id}}/error"),
                post(error),
            )
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .layer(DefaultBodyLimit::max(MAX_RESPONSE_BYTES))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            // Serving only ends when the task is aborted; an accept error ends it early and
            // the function then fails to reach the API, which the caller sees.
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// The function this API serves.
    pub fn function(&self) -> &FunctionConfig {
        &self.shared.function
    }

    /// Queues `payload` for the runtime's next `GET /next`, under a fresh request id.
    pub fn enqueue(&self, payload: impl Into<Vec<u8>>) -> Pending {
        let request_id = uuid::Uuid::now_v7().hyphenated().to_string();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: payload.into(),
        };
        self.shared.update(|i| i.queue.push_back(invocation));
        Pending { request_id }
    }

    /// Waits for the outcome of `pending`. Fails if the runtime reports an init error first.
    /// Never times out by itself: wrap it in [`tokio::time::timeout`] (as [`Self::invoke`]
    /// and [`crate::Sandbox`] do).
    pub async fn wait(&self, pending: &Pending) -> Result<Outcome, EmulatorError> {
        self.shared
            .wait_until(|i| {
                if let Some((o, _)) = i.outcomes.get(&pending.request_id) {
                    return Some(Ok(o.clone()));
                }
                i.init_error.as_ref().map(|b| {
                    Err(EmulatorError::InitError {
                        body: String::from_utf8_lossy(b).into_owned(),
                    })
                })
            })
            .await
    }

    /// Queues `payload` and waits up to `timeout` for its outcome.
    pub async fn invoke(
        &self,
        payload: impl Into<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Outcome, EmulatorError> {
        let pending = self.enqueue(payload);
        tokio::time::timeout(timeout, self.wait(&pending))
            .await
            .map_err(|_| EmulatorError::Timeout {
                what: format!("the outcome of request {}", pending.request_id),
                after: timeout,
            })?
    }

    /// Waits for the runtime's first `GET /next` (the end of its init phase) and returns
    /// when it arrived. Fails if the runtime reports an init error first.
    pub async fn wait_first_next(&self) -> Result<Instant, EmulatorError> {
        self.shared
            .wait_until(|i| {
                if let Some(t) = i.first_next {
                    return Some(Ok(t));
                }
                i.init_error.as_ref().map(|b| {
                    Err(EmulatorError::InitError {
                        body: String::from_utf8_lossy(b).into_owned(),
                    })
                })
            })
            .await
    }

    /// When the first `GET /next` arrived, if it has.
    pub fn first_next_at(&self) -> Option<Instant> {
        self.shared.lock().first_next
    }

    /// When the first outcome (response or error) was posted, if one has been.
    pub fn first_outcome_at(&self) -> Option<Instant> {
        self.shared.lock().first_outcome
    }

    /// How many `GET /next` requests arrived.
    pub fn next_requests(&self) -> u64 {
        self.shared.lock().next_requests
    }

    /// The outcome recorded for `request_id`, if any.
    pub fn outcome(&self, request_id: &str) -> Option<Outcome> {
        self.shared
            .lock()
            .outcomes
            .get(request_id)
            .map(|(o, _)| o.clone())
    }

    /// Every recorded outcome with its request id, in the order they were posted.
    pub fn outcomes(&self) -> Vec<(String, Outcome)> {
        let inner = self.shared.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.outcomes.get(id).map(|(o, _)| (id.clone(), o.clone())))
            .collect()
    }

    /// The init error document the runtime posted, if it did.
    pub fn init_error(&self) -> Option<Vec<u8>> {
        self.shared.lock().init_error.clone()
    }

    /// Invocations queued and not yet taken by the runtime.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.shared.update(|i| i.closed = true);
        self.server.abort();
    }
}

/// Milliseconds since the Unix epoch, `timeout` from now.
fn deadline_ms(timeout: Duration) -> u128 {
    (SystemTime::now() + timeout)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// An X-Ray trace header like Lambda's: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let random = uuid::Uuid::now_v7().simple().to_string();
    let parent = uuid::Uuid::now_v7().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &random[8..],
        &parent[16..]
    )
}

/// A JSON error body in the Runtime API's shape.
fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /runtime/invocation/next`: the next invocation, waiting for one if none is queued.
async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let arrived = Instant::now();
    shared.update(|i| {
        i.first_next.get_or_insert(arrived);
        i.next_requests += 1;
    });
    let taken = shared
        .wait_until(|i| {
            if let Some(inv) = i.queue.pop_front() {
                return Some(Some(inv));
            }
            i.closed.then_some(None)
        })
        .await;
    let Some(invocation) = taken else {
        return api_error(
            StatusCode::GONE,
            "EmulatorStopped",
            "the Runtime API emulator stopped",
        );
    };
    let function = &shared.function;
    let mut headers = HeaderMap::new();
    let pairs = [
        ("lambda-runtime-aws-request-id", invocation.request_id),
        (
            "lambda-runtime-deadline-ms",
            deadline_ms(function.timeout).to_string(),
        ),
        ("lambda-runtime-invoked-function-arn", function.arn()),
        ("lambda-runtime-trace-id", trace_id()),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in pairs {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => {
                return api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "EmulatorError",
                    &format!("{name} is not a valid header value"),
                );
            }
        }
    }
    (StatusCode::OK, headers, invocation.payload).into_response()
}

/// Records `outcome` for `request_id`; `400` for an id that was never handed out.
fn record(shared: &Shared, request_id: String, outcome: Outcome) -> Response {
    let at = Instant::now();
    let known = shared.update(|i| {
        if i.outcomes.contains_key(&request_id) {
            return Err("a result was already posted for this request id");
        }
        i.first_outcome.get_or_insert(at);
        i.order.push(request_id.clone());
        i.outcomes.insert(request_id, (outcome, at));
        Ok(())
    });
    match known {
        Ok(()) => api_status_accepted(),
        Err(message) => api_error(StatusCode::BAD_REQUEST, "InvalidRequestID", message),
    }
}

/// `202 Accepted` with Lambda's body.
fn api_status_accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

/// `POST /runtime/invocation/{id}/response`.
async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    record(&shared, request_id, Outcome::Response(body.to_vec()))
}

/// `POST /runtime/invocation/{id}/error`.
async fn error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    record(
        &shared,
        request_id,
        Outcome::Error {
            error_type,
            body: body.to_vec(),
        },
    )
}

/// `POST /runtime/init/error`.
async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.update(|i| i.init_error = Some(body.to_vec()));
    api_status_accepted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One raw HTTP/1.1 request (connection closed after it); returns status, headers, body.
    async fn http(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        s.write_all(body).await.expect("write body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("read");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        (status, head.to_ascii_lowercase(), raw[split + 4..].to_vec())
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::trim)
    }

    #[tokio::test]
    async fn serves_next_and_records_responses_and_errors() {
        let f = FunctionConfig::new("probe").timeout(Duration::from_secs(7));
        let api = RuntimeApi::start(f).await.expect("start");
        assert_eq!(api.first_next_at(), None);
        let a = api.enqueue(br#"{"n":1}"#.to_vec());
        let b = api.enqueue(br#"{"n":2}"#.to_vec());
        assert_ne!(a.request_id, b.request_id);
        assert_eq!(api.queued(), 2);

        let before = deadline_ms(Duration::from_secs(7));
        let (status, head, body) = http(
            api.addr(),
            "GET",
            "/2018-06-01/runtime/invocation/next",
            &[],
            b"",
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, br#"{"n":1}"#);
        assert!(api.first_next_at().is_some());
        assert_eq!(
            header(&head, "lambda-runtime-aws-request-id"),
            Some(a.request_id.as_str())
        );
        let deadline: u128 = header(&head, "lambda-runtime-deadline-ms")
            .and_then(|d| d.parse().ok())
            .expect("deadline");
        assert!(
            deadline >= before && deadline < before + 5_000,
            "{deadline}"
        );
        assert_eq!(
            header(&head, "lambda-runtime-invoked-function-arn"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:probe")
        );
        assert!(header(&head, "lambda-runtime-trace-id").is_some_and(|t| t.starts_with("root=1-")));

        let path = format!("/2018-06-01/runtime/invocation/{}/response", a.request_id);
        let (status, _, _) = http(api.addr(), "POST", &path, &[], b"\"ok\"").await;
        assert_eq!(status, 202);
        assert_eq!(
            api.wait(&a).await.expect("outcome"),
            Outcome::Response(b"\"ok\"".to_vec())
        );
        assert!(api.first_outcome_at().is_some());
        // A second result for the same id is refused.
        let (status, _, _) = http(api.addr(), "POST", &path, &[], b"\"again\"").await;
        assert_eq!(status, 400);

        let (_, head, _) = http(
            api.addr(),
            "GET",
            "/2018-06-01/runtime/invocation/next",
            &[],
            b"",
        )
        .await;
        assert_eq!(
            header(&head, "lambda-runtime-aws-request-id"),
            Some(b.request_id.as_str())
        );
        let path = format!("/2018-06-01/runtime/invocation/{}/error", b.request_id);
        let (status, _, _) = http(
            api.addr(),
            "POST",
            &path,
            &[("lambda-runtime-function-error-type", "Boom")],
            br#"{"errorType":"Boom","errorMessage":"no"}"#,
        )
        .await;
        assert_eq!(status, 202);
        let outcome = api.wait(&b).await.expect("outcome");
        assert!(!outcome.is_response());
        assert_eq!(
            outcome,
            Outcome::Error {
                error_type: Some("Boom".into()),
                body: br#"{"errorType":"Boom","errorMessage":"no"}"#.to_vec()
            }
        );
        assert_eq!(api.next_requests(), 2);
        let ids: Vec<String> = api.outcomes().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, [a.request_id.clone(), b.request_id.clone()]);
    }

    #[tokio::test]
    async fn next_waits_for_an_invocation_and_invoke_times_out() {
        let api = Arc::new(
            RuntimeApi::start(FunctionConfig::new("waiter"))
                .await
                .expect("start"),
        );
        let addr = api.addr();
        let client = tokio::spawn(async move {
            http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
        });
        api.wait_first_next().await.expect("first next");
        let err = api
            .invoke(b"{}".to_vec(), Duration::from_millis(200))
            .await
            .expect_err("nobody answers");
        assert!(matches!(err, EmulatorError::Timeout { .. }), "{err}");
        let (status, _, body) = client.await.expect("client");
        assert_eq!((status, body), (200, b"{}".to_vec()));
    }

    #[tokio::test]
    async fn init_error_fails_waiters_and_dropping_releases_next() {
        let api = RuntimeApi::start(FunctionConfig::new("broken"))
            .await
            .expect("start");
        let addr = api.addr();
        let (status, _, _) = http(
            addr,
            "POST",
            "/2018-06-01/runtime/init/error",
            &[],
            br#"{"errorType":"Runtime.InitError"}"#,
        )
        .await;
        assert_eq!(status, 202);
        let err = api.wait_first_next().await.expect_err("init error");
        assert!(matches!(err, EmulatorError::InitError { .. }), "{err}");
        let pending = api.enqueue(b"{}".to_vec());
        assert!(api.wait(&pending).await.is_err());
        // Take the queued invocation, then wait on an empty queue and drop the emulator.
        http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await;
        let waiting = tokio::spawn(async move {
            http(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
        });
        while api.next_requests() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(api);
        let (status, _, _) = waiting.await.expect("client");
        assert_eq!(status, 410);
    }
}
