//! The posting adapters. [`ApiGatewayPoster`] runs the real `aws-sdk-apigatewaymanagement`
//! client against a management endpoint this test serves itself (moto's is unusable: it
//! ignores the stage and never answers Gone), scripted to answer as API Gateway does.
//! [`MemoryPoster`] is tested directly.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use banter::aws::AwsSettings;
use banter::ids::ConnectionId;
use banter::poster::apigw::ApiGatewayPoster;
use banter::poster::memory::{DEFAULT_MAX_FRAME_BYTES, MemoryPoster};
use banter::poster::{PostError, Poster};

/// How the fake management endpoint answers one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// 200 (POST) / 204 (DELETE), empty body.
    Ok,
    /// The status with `x-amzn-ErrorType: <type>` and a JSON `{"message": …}` body, as API
    /// Gateway sends its modelled errors.
    Modelled(u16, &'static str, &'static str),
    /// Just the status and a plain-text body, no error type.
    Bare(u16),
}

/// One request the endpoint saw.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: Method,
    stage: String,
    connection_id: String,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Mgmt {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    unmatched: Arc<Mutex<Vec<String>>>,
}

impl Mgmt {
    fn script(&self, replies: &[Reply]) {
        self.script.lock().unwrap().extend(replies.iter().copied());
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn connection_route(
    State(m): State<Mgmt>,
    method: Method,
    Path((stage, connection_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    m.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        stage,
        connection_id,
        body: body.to_vec(),
    });
    let reply = m.script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
    match reply {
        Reply::Ok if method == Method::DELETE => StatusCode::NO_CONTENT.into_response(),
        Reply::Ok => StatusCode::OK.into_response(),
        Reply::Modelled(status, error_type, message) => {
            let mut r = (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                serde_json::json!({ "message": message }).to_string(),
            )
                .into_response();
            r.headers_mut()
                .insert("x-amzn-ErrorType", HeaderValue::from_static(error_type));
            r
        }
        Reply::Bare(status) => (StatusCode::from_u16(status).unwrap(), "oops").into_response(),
    }
}

async fn unmatched(State(m): State<Mgmt>, method: Method, uri: Uri) -> StatusCode {
    m.unmatched.lock().unwrap().push(format!("{method} {uri}"));
    StatusCode::NOT_FOUND
}

/// Serves the fake management API on 127.0.0.1 and returns it with its base URL.
async fn serve() -> (Mgmt, String) {
    let mgmt = Mgmt::default();
    let app = Router::new()
        .route(
            "/{stage}/@connections/{id}",
            post(connection_route).delete(connection_route),
        )
        .fallback(unmatched)
        .with_state(mgmt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (mgmt, format!("http://{addr}"))
}

/// SDK settings whose own endpoint is a dead port: the poster must override it.
async fn sdk() -> SdkConfig {
    AwsSettings::local("http://127.0.0.1:9").load().await
}

fn conn(id: &str) -> ConnectionId {
    id.parse().unwrap()
}

#[tokio::test]
async fn apigw_post_delivers_the_body_byte_for_byte_under_the_stage() {
    let (mgmt, base) = serve().await;
    let poster = ApiGatewayPoster::new(&sdk().await, format!("{base}/teststage"));
    let text = "{\"type\":\"comment.created\",\"text\":\"héllo ✓ \\\"quoted\\\"\"}";
    poster
        .post(&conn("L0SM9cOFvHcCIhw="), text.as_bytes())
        .await
        .unwrap();
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    poster.post(&conn("abc-123_x"), &binary).await.unwrap();

    assert!(
        mgmt.unmatched.lock().unwrap().is_empty(),
        "{:?}",
        mgmt.unmatched
    );
    let seen = mgmt.seen();
    assert_eq!(
        seen,
        vec![
            Seen {
                method: Method::POST,
                stage: "teststage".into(),
                connection_id: "L0SM9cOFvHcCIhw=".into(),
                body: text.as_bytes().to_vec(),
            },
            Seen {
                method: Method::POST,
                stage: "teststage".into(),
                connection_id: "abc-123_x".into(),
                body: binary,
            },
        ]
    );
}

#[tokio::test]
async fn apigw_post_maps_each_error_after_exactly_one_request() {
    let (mgmt, base) = serve().await;
    let poster = ApiGatewayPoster::new(&sdk().await, format!("{base}/prod"));
    let cases: Vec<(Reply, Result<(), PostError>)> = vec![
        (Reply::Ok, Ok(())),
        (
            Reply::Modelled(410, "GoneException", "Gone"),
            Err(PostError::Gone),
        ),
        (
            Reply::Modelled(429, "LimitExceededException", "Rate exceeded"),
            Err(PostError::Throttled),
        ),
        (
            Reply::Modelled(413, "PayloadTooLargeException", "Message too long"),
            Err(PostError::PayloadTooLarge),
        ),
        (
            Reply::Modelled(403, "ForbiddenException", "Forbidden"),
            Err(PostError::Forbidden),
        ),
        // No modelled error type: the status decides.
        (Reply::Bare(410), Err(PostError::Gone)),
        (Reply::Bare(429), Err(PostError::Throttled)),
        (Reply::Bare(413), Err(PostError::PayloadTooLarge)),
        (Reply::Bare(403), Err(PostError::Forbidden)),
    ];
    let id = conn("Zm9vYmFy=");
    for (i, (reply, expected)) in cases.into_iter().enumerate() {
        mgmt.script(&[reply]);
        let got = poster.post(&id, b"{}").await;
        assert_eq!(got, expected, "reply {reply:?}");
        assert_eq!(mgmt.seen().len(), i + 1, "reply {reply:?} was retried");
    }
    assert!(mgmt.seen().iter().all(|s| s.stage == "prod"));
}

#[tokio::test]
async fn apigw_server_errors_are_transient_and_not_retried_by_the_sdk() {
    let (mgmt, base) = serve().await;
    let poster = ApiGatewayPoster::new(&sdk().await, format!("{base}/dev"));
    let id = conn("c1");
    for (i, reply) in [
        Reply::Modelled(500, "InternalServerErrorException", "Internal server error"),
        Reply::Bare(500),
        Reply::Bare(502),
        Reply::Bare(503),
    ]
    .into_iter()
    .enumerate()
    {
        mgmt.script(&[reply]);
        let got = poster.post(&id, b"x").await;
        assert!(
            matches!(got, Err(PostError::Transient(_))),
            "{reply:?} gave {got:?}"
        );
        assert!(got.unwrap_err().is_retryable());
        assert_eq!(mgmt.seen().len(), i + 1, "{reply:?} was retried by the SDK");
    }
}

/// Guards the test above: the same endpoint does see retries when the SDK's retry layer is
/// on, so "exactly one request" really shows the poster turned it off.
#[tokio::test]
async fn sdk_with_retries_enabled_would_retry_a_500() {
    use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
    let (mgmt, base) = serve().await;
    let config = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk().await)
        .endpoint_url(format!("{base}/dev"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .build();
    let poster =
        ApiGatewayPoster::from_client(aws_sdk_apigatewaymanagement::Client::from_conf(config));
    mgmt.script(&[Reply::Bare(500), Reply::Bare(500), Reply::Bare(500)]);
    let got = poster.post(&conn("c1"), b"x").await;
    assert!(matches!(got, Err(PostError::Transient(_))), "{got:?}");
    assert_eq!(mgmt.seen().len(), 3);
}

#[tokio::test]
async fn apigw_unreachable_endpoint_is_transient() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let poster = ApiGatewayPoster::new(&sdk().await, format!("http://127.0.0.1:{port}/dev"));
    let got = poster.post(&conn("c1"), b"x").await;
    assert!(matches!(got, Err(PostError::Transient(_))), "{got:?}");
}

#[tokio::test]
async fn apigw_delete_connection_treats_gone_as_done() {
    let (mgmt, base) = serve().await;
    let poster = ApiGatewayPoster::new(&sdk().await, format!("{base}/dev"));
    let id = conn("L0SM9cOFvHcCIhw=");
    mgmt.script(&[
        Reply::Ok,
        Reply::Modelled(410, "GoneException", "Gone"),
        Reply::Modelled(403, "ForbiddenException", "Forbidden"),
        Reply::Bare(500),
    ]);
    assert_eq!(poster.delete_connection(&id).await, Ok(()));
    assert_eq!(poster.delete_connection(&id).await, Ok(()));
    assert_eq!(
        poster.delete_connection(&id).await,
        Err(PostError::Forbidden)
    );
    assert!(matches!(
        poster.delete_connection(&id).await,
        Err(PostError::Transient(_))
    ));
    let seen = mgmt.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|s| s.method == Method::DELETE
        && s.stage == "dev"
        && s.connection_id == "L0SM9cOFvHcCIhw="));
}

#[tokio::test]
async fn memory_open_post_close() {
    let poster = MemoryPoster::new();
    let (a, b) = (conn("a="), conn("b="));
    let mut rx_a = poster.open(a.clone());
    let mut rx_b = poster.open(b.clone());
    assert!(poster.is_open(&a));

    poster.post(&a, b"one").await.unwrap();
    poster.post(&b, b"two").await.unwrap();
    poster.post(&a, b"three").await.unwrap();
    assert_eq!(rx_a.recv().await.unwrap(), b"one");
    assert_eq!(rx_a.recv().await.unwrap(), b"three");
    assert_eq!(rx_b.recv().await.unwrap(), b"two");
    assert_eq!(
        poster.posts(),
        vec![
            (a.clone(), b"one".to_vec()),
            (b.clone(), b"two".to_vec()),
            (a.clone(), b"three".to_vec()),
        ]
    );
    assert_eq!(
        poster.posts_to(&a),
        vec![b"one".to_vec(), b"three".to_vec()]
    );

    assert!(poster.close(&a));
    assert!(!poster.close(&a));
    assert!(!poster.is_open(&a));
    assert_eq!(poster.post(&a, b"four").await, Err(PostError::Gone));
    assert_eq!(rx_a.recv().await, None, "closing ends the receiver");
    assert_eq!(
        poster.post(&conn("never"), b"x").await,
        Err(PostError::Gone)
    );
    assert_eq!(poster.connections(), vec![b.clone()]);

    // A dropped receiver (the socket went away) is Gone too, and closes the connection.
    drop(rx_b);
    assert_eq!(poster.post(&b, b"five").await, Err(PostError::Gone));
    assert!(!poster.is_open(&b));
    assert_eq!(poster.posts().len(), 3, "failed posts are not recorded");
}

#[tokio::test]
async fn memory_rejects_frames_over_the_limit() {
    let poster = MemoryPoster::new();
    assert_eq!(poster.max_frame_bytes(), DEFAULT_MAX_FRAME_BYTES);
    let id = conn("c");
    let mut rx = poster.open(id.clone());
    poster
        .post(&id, &vec![b'x'; DEFAULT_MAX_FRAME_BYTES])
        .await
        .unwrap();
    assert_eq!(rx.recv().await.unwrap().len(), DEFAULT_MAX_FRAME_BYTES);
    assert_eq!(
        poster
            .post(&id, &vec![b'x'; DEFAULT_MAX_FRAME_BYTES + 1])
            .await,
        Err(PostError::PayloadTooLarge)
    );

    let small = MemoryPoster::with_max_frame_bytes(4);
    let _rx = small.open(id.clone());
    assert_eq!(small.post(&id, b"1234").await, Ok(()));
    assert_eq!(
        small.post(&id, b"12345").await,
        Err(PostError::PayloadTooLarge)
    );
}

#[tokio::test]
async fn memory_scripted_failures_come_first_and_in_order() {
    let poster = MemoryPoster::new();
    let id = conn("c");
    let mut rx = poster.open(id.clone());
    poster.fail_next(id.clone(), PostError::Throttled);
    poster.fail_next(id.clone(), PostError::Transient("boom".into()));
    assert_eq!(poster.post(&id, b"1").await, Err(PostError::Throttled));
    assert_eq!(
        poster.post(&id, b"2").await,
        Err(PostError::Transient("boom".into()))
    );
    assert_eq!(poster.post(&id, b"3").await, Ok(()));
    assert_eq!(rx.recv().await.unwrap(), b"3");
    assert_eq!(poster.posts(), vec![(id.clone(), b"3".to_vec())]);

    // Scripted failures apply to connections that are not open as well.
    let other = conn("other");
    poster.fail_next(other.clone(), PostError::Forbidden);
    assert_eq!(poster.post(&other, b"x").await, Err(PostError::Forbidden));
    assert_eq!(poster.post(&other, b"x").await, Err(PostError::Gone));
}

#[tokio::test]
async fn memory_reopen_replaces_the_channel() {
    let poster = MemoryPoster::default();
    let id = conn("c");
    let mut old = poster.open(id.clone());
    let mut new = poster.open(id.clone());
    poster.post(&id, b"x").await.unwrap();
    assert_eq!(new.recv().await.unwrap(), b"x");
    assert_eq!(old.recv().await, None);
}
