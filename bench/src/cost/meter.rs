//! The AWS request meter: an HTTP proxy in front of moto that the gateway's SDK clients use as
//! their endpoint. Every request is forwarded unchanged and, by its `X-Amz-Target`, counted
//! with the capacity it uses ([`accounting`](super::accounting)): DynamoDB requests per
//! operation and table, SQS requests per operation and queue. For writes whose size the
//! request does not show (`UpdateItem`), the meter reads the item afterwards with a
//! `GetItem` of its own that it does not count.
//!
//! Table and queue names are reported without the run's prefix (`connections`, `fanout`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::accounting::{self, Indexes, Service};
use super::counts::{Counts, DynamoCount, SizeCount, SqsCount, map_minus};
use crate::BoxError;

/// Largest request or response body the meter forwards.
const MAX_BODY: usize = 64 << 20;

/// (operation, table or queue) → counts.
pub type Rows<T> = BTreeMap<(String, String), T>;

/// Everything counted so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// DynamoDB, by (operation, table).
    pub dynamodb: Rows<DynamoCount>,
    /// SQS, by (operation, queue).
    pub sqs: Rows<SqsCount>,
    /// Items written, by (table, kind).
    pub item_sizes: Rows<SizeCount>,
    /// Requests to anything else, by `X-Amz-Target` operation.
    pub other: BTreeMap<String, f64>,
}

struct Shared {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    prefix: String,
    indexes: Mutex<Indexes>,
    tally: Mutex<Snapshot>,
}

/// A running meter. See the [module documentation](self).
pub struct Meter {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// Starts a meter on a free loopback port forwarding to `upstream` (moto's endpoint);
    /// `prefix` is dropped from table and queue names in the counts.
    pub async fn start(upstream: &str, prefix: &str) -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            prefix: format!("{prefix}-"),
            indexes: Mutex::new(Indexes::new()),
            tally: Mutex::new(Snapshot::default()),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                eprintln!("the AWS request meter failed: {e}");
            }
        });
        Ok(Self {
            addr,
            shared,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint to give the SDK clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything counted so far.
    pub fn snapshot(&self) -> Snapshot {
        self.shared
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops serving.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn bad_gateway(e: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_GATEWAY, format!("meter: {e}")).into_response()
}

/// Forwards one request to moto, counts it, and answers with moto's answer.
async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return bad_gateway(e),
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}{path}", shared.upstream));
    for (name, value) in &parts.headers {
        upstream = upstream.header(name, value);
    }
    let upstream = match upstream.body(Full::new(body.clone())) {
        Ok(r) => r,
        Err(e) => return bad_gateway(e),
    };
    let answer = match shared.client.request(upstream).await {
        Ok(a) => a,
        Err(e) => return bad_gateway(e),
    };
    let (mut answer_parts, answer_body) = answer.into_parts();
    let answer_body = match answer_body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad_gateway(e),
    };
    shared
        .count(&parts.headers, &body, answer_parts.status, &answer_body)
        .await;
    // The body is whole now: let the server frame it.
    answer_parts.headers.remove("transfer-encoding");
    answer_parts.headers.remove("content-length");
    Response::from_parts(answer_parts, Body::from(answer_body))
}

impl Shared {
    fn strip(&self, name: &str) -> String {
        name.replace(&self.prefix, "")
    }

    async fn count(&self, headers: &HeaderMap, body: &[u8], status: StatusCode, answer: &[u8]) {
        let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let (service, op) = accounting::target(target);
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let response: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
        match service {
            Service::DynamoDb => {
                self.count_dynamo(headers, &op, &request, status, &response)
                    .await;
            }
            Service::Sqs => {
                let (name, c) = accounting::sqs(&op, &request, &response);
                let queue = self.strip(&accounting::queue_of(&request));
                let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
                let row = tally.sqs.entry((name, queue)).or_default();
                *row = row.plus(&c);
            }
            Service::Other => {
                let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
                *tally.other.entry(op).or_default() += 1.0;
            }
        }
    }

    async fn count_dynamo(
        &self,
        headers: &HeaderMap,
        op: &str,
        request: &Value,
        status: StatusCode,
        response: &Value,
    ) {
        if op == "CreateTable"
            && status.is_success()
            && let Some((table, gsis)) = accounting::indexes_of_create_table(request)
        {
            self.indexes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(table, gsis);
        }
        let mut after = Vec::new();
        for (table, key) in accounting::after_image_keys(op, request) {
            after.push(self.get_item(headers, &table, &key).await);
        }
        let record = {
            let indexes = self.indexes.lock().unwrap_or_else(PoisonError::into_inner);
            accounting::dynamo(op, request, status.is_success(), response, &after, &indexes)
        };
        let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        let row = tally
            .dynamodb
            .entry((op.to_owned(), self.strip(&record.table)))
            .or_default();
        *row = row.plus(&record.count);
        for (table, kind, size) in record.written {
            let s = tally
                .item_sizes
                .entry((self.strip(&table), kind))
                .or_default();
            s.items += 1.0;
            s.bytes += size as f64;
        }
    }

    /// The item at `key` in `table`, read from moto without being counted (the request's
    /// own `Authorization` header carries the region moto needs).
    async fn get_item(&self, headers: &HeaderMap, table: &str, key: &Value) -> Option<Value> {
        let body = json!({"TableName": table, "Key": key, "ConsistentRead": true}).to_string();
        let mut request = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.upstream))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.GetItem");
        if let Some(auth) = headers.get("authorization") {
            request = request.header("authorization", auth);
        }
        let request = request.body(Full::new(Bytes::from(body))).ok()?;
        let answer = self.client.request(request).await.ok()?;
        let bytes = answer.into_body().collect().await.ok()?.to_bytes();
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        v.get("Item").cloned()
    }
}

impl Snapshot {
    /// What was counted after `earlier`.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            dynamodb: map_minus(&self.dynamodb, &earlier.dynamodb),
            sqs: map_minus(&self.sqs, &earlier.sqs),
            item_sizes: map_minus(&self.item_sizes, &earlier.item_sizes),
            other: self
                .other
                .iter()
                .map(|(k, v)| (k.clone(), v - earlier.other.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v != 0.0)
                .collect(),
        }
    }

    /// A number that changes whenever a request other than an empty receive is counted:
    /// for waiting until the stack is quiet.
    pub fn activity(&self) -> f64 {
        let dynamo: f64 = self.dynamodb.values().map(|c| c.requests).sum();
        let sqs: f64 = self
            .sqs
            .iter()
            .filter(|((op, _), _)| op != "ReceiveMessage (empty)")
            .map(|(_, c)| c.requests)
            .sum();
        dynamo + sqs
    }
}
