//! Fan-out end to end: the in-memory connection store and queue, and the real
//! `ApiGatewayPoster` (aws-sdk-apigatewaymanagement) against a management endpoint this test
//! serves itself, scripted per connection to answer 200, 410, 429 or 500 as API Gateway does
//! and recording every body it accepted.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use banter::aws::AwsSettings;
use banter::fanout::{
    DeliveryReport, Fanout, FanoutConfig, FanoutError, deadline_from_epoch_millis,
};
use banter::ids::{ConnectionId, ConversationId, EventId, UserId};
use banter::model::{
    BUCKETS, BucketRange, Connection, Subscription, Viewer, bucket_of, connection_expiry,
};
use banter::poster::Poster;
use banter::poster::apigw::ApiGatewayPoster;
use banter::poster::memory::MemoryPoster;
use banter::queue::memory::MemoryQueue;
use banter::queue::{FanoutJob, Queue, encode_job};
use banter::room::Room;
use banter::store::ConnectionStore;
use banter::store::memory::connections::MemoryConnectionStore;
use serde_json::json;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------------------
// The fake management endpoint.

/// How the endpoint answers one post.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reply {
    Ok,
    Gone,
    Throttled,
    ServerError,
}

#[derive(Default)]
struct MgmtState {
    /// Replies consumed in order, per connection, before `always`.
    scripts: HashMap<String, VecDeque<Reply>>,
    /// The reply once a connection's script is used up (default `Ok`).
    always: HashMap<String, Reply>,
    /// Bodies answered with 200, per connection.
    accepted: HashMap<String, Vec<Vec<u8>>>,
    /// Requests seen, per connection.
    attempts: HashMap<String, usize>,
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Clone, Default)]
struct Mgmt {
    state: Arc<Mutex<MgmtState>>,
    /// Time each request takes.
    delay: Duration,
}

impl Mgmt {
    fn script(&self, id: &ConnectionId, replies: &[Reply]) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(id.to_string())
            .or_default()
            .extend(replies.iter().copied());
    }

    fn always(&self, id: &ConnectionId, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .always
            .insert(id.to_string(), reply);
    }

    fn accepted(&self, id: &ConnectionId) -> Vec<Vec<u8>> {
        let st = self.state.lock().unwrap();
        st.accepted.get(id.as_str()).cloned().unwrap_or_default()
    }

    fn attempts(&self, id: &ConnectionId) -> usize {
        let st = self.state.lock().unwrap();
        st.attempts.get(id.as_str()).copied().unwrap_or(0)
    }

    fn total_accepted(&self) -> usize {
        let st = self.state.lock().unwrap();
        st.accepted.values().map(Vec::len).sum()
    }

    fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }
}

fn modelled(status: StatusCode, error_type: &'static str) -> Response {
    let mut r = (
        status,
        [("content-type", "application/json")],
        json!({ "message": error_type }).to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(error_type));
    r
}

async fn post_to_connection(
    State(m): State<Mgmt>,
    Path((_stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let reply = {
        let mut st = m.state.lock().unwrap();
        st.in_flight += 1;
        st.max_in_flight = st.max_in_flight.max(st.in_flight);
        *st.attempts.entry(id.clone()).or_default() += 1;
        let scripted = st.scripts.get_mut(&id).and_then(VecDeque::pop_front);
        scripted
            .or_else(|| st.always.get(&id).copied())
            .unwrap_or(Reply::Ok)
    };
    if !m.delay.is_zero() {
        tokio::time::sleep(m.delay).await;
    }
    let mut st = m.state.lock().unwrap();
    st.in_flight -= 1;
    match reply {
        Reply::Ok => {
            st.accepted.entry(id).or_default().push(body.to_vec());
            StatusCode::OK.into_response()
        }
        Reply::Gone => modelled(StatusCode::GONE, "GoneException"),
        Reply::Throttled => modelled(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
        Reply::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
    }
}

/// Serves the endpoint on 127.0.0.1; returns it and the poster (real SDK client) for it.
async fn serve(delay: Duration) -> (Mgmt, ApiGatewayPoster) {
    let mgmt = Mgmt {
        delay,
        ..Mgmt::default()
    };
    let app = Router::new()
        .route("/{stage}/@connections/{id}", post(post_to_connection))
        .with_state(mgmt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // The SDK's own endpoint is a dead port: the poster must use the management URL.
    let sdk = AwsSettings::local("http://127.0.0.1:9").load().await;
    let poster = ApiGatewayPoster::new(&sdk, format!("http://{addr}/test"));
    (mgmt, poster)
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

struct Harness {
    mgmt: Mgmt,
    store: Arc<MemoryConnectionStore>,
    queue: Arc<MemoryQueue>,
    fanout: Fanout,
}

/// Test tuning: short backoffs and margin so the tests run fast.
fn config() -> FanoutConfig {
    FanoutConfig {
        base_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        deadline_margin: Duration::from_millis(200),
        ..FanoutConfig::default()
    }
}

async fn harness_with(config: FanoutConfig, delay: Duration) -> Harness {
    let (mgmt, poster) = serve(delay).await;
    let store = Arc::new(MemoryConnectionStore::default());
    let queue = Arc::new(MemoryQueue::new(Duration::from_secs(30), 3));
    let fanout = Fanout::new(store.clone(), Arc::new(poster), queue.clone(), config).unwrap();
    Harness {
        mgmt,
        store,
        queue,
        fanout,
    }
}

async fn harness() -> Harness {
    harness_with(config(), Duration::ZERO).await
}

fn event_room() -> Room {
    Room::Event(EventId::new())
}

fn conn(tag: &str, i: usize) -> ConnectionId {
    format!("{tag}{i:05}Xq=").parse().unwrap()
}

/// Connects `n` connections (`<tag>00000Xq=`, …) and subscribes them to `room`.
async fn subscribers(
    store: &dyn ConnectionStore,
    room: Room,
    tag: &str,
    n: usize,
) -> Vec<ConnectionId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = conn(tag, i);
        connect(store, &id, room).await;
        ids.push(id);
    }
    ids
}

async fn connect(store: &dyn ConnectionStore, id: &ConnectionId, room: Room) {
    let now = banter::time::now();
    let user_id = UserId::new();
    store
        .put_connection(&Connection {
            connection_id: id.clone(),
            viewer: Viewer::User {
                user_id,
                session_id: Some(banter::ids::FamilyId::new()),
            },
            connected_at: now,
            expires_at: connection_expiry(now),
        })
        .await
        .unwrap();
    subscribe(store, id, room).await;
}

async fn subscribe(store: &dyn ConnectionStore, id: &ConnectionId, room: Room) {
    let now = banter::time::now();
    store
        .subscribe(&Subscription {
            room,
            connection_id: id.clone(),
            user_id: Some(UserId::new()),
            subscribed_at: now,
            expires_at: connection_expiry(now),
        })
        .await
        .unwrap();
}

fn job(room: Room, n: u32) -> FanoutJob {
    FanoutJob::new(
        room,
        json!({"type": "comment_broadcast", "message_id": format!("m{n}"), "payload": {"position": n}}),
    )
}

fn frame(job: &FanoutJob) -> Vec<u8> {
    serde_json::to_vec(&job.payload).unwrap()
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// An SQS event as Lambda delivers it, with one record per `(messageId, body)`.
fn sqs_event(records: &[(&str, Option<String>)]) -> SqsEvent {
    let records: Vec<_> = records
        .iter()
        .map(|(id, body)| {
            let mut r = json!({
                "messageId": id,
                "receiptHandle": format!("AQEB{id}"),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1756753452345"},
                "messageAttributes": {},
                "md5OfBody": "00000000000000000000000000000000",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:banter-fanout",
                "awsRegion": "us-east-1",
            });
            if let Some(body) = body {
                r["body"] = json!(body);
            }
            r
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn failures(response: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn every_live_subscriber_gets_every_job_exactly_once() {
    let h = harness().await;
    let room = event_room();
    let other_room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "a", 40).await;
    let others = subscribers(h.store.as_ref(), other_room, "o", 5).await;
    // A subscription whose TTL has passed (its row is still there, as in DynamoDB).
    let expired = conn("exp", 0);
    let past = banter::time::now() - chrono::Duration::minutes(1);
    h.store
        .subscribe(&Subscription {
            room,
            connection_id: expired.clone(),
            user_id: Some(UserId::new()),
            subscribed_at: past - chrono::Duration::hours(2),
            expires_at: past,
        })
        .await
        .unwrap();

    let jobs: Vec<FanoutJob> = (1..=3).map(|n| job(room, n)).collect();
    let records: Vec<(String, Option<String>)> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (format!("msg-{i}"), Some(encode_job(j).unwrap())))
        .collect();
    let records: Vec<(&str, Option<String>)> = records
        .iter()
        .map(|(id, b)| (id.as_str(), b.clone()))
        .collect();
    let response = h.fanout.handle_sqs(sqs_event(&records), far()).await;

    assert!(failures(&response).is_empty(), "{response:?}");
    let mut expected: Vec<Vec<u8>> = jobs.iter().map(frame).collect();
    expected.sort();
    for id in &subs {
        let mut got = h.mgmt.accepted(id);
        got.sort();
        assert_eq!(got, expected, "{id} must get each job exactly once");
        assert_eq!(h.mgmt.attempts(id), 3);
    }
    for id in others.iter().chain([&expired]) {
        assert_eq!(h.mgmt.attempts(id), 0, "{id} is not a live subscriber");
    }
    assert_eq!(h.mgmt.total_accepted(), 120);
}

#[tokio::test]
async fn gone_connections_and_their_subscriptions_are_deleted_and_the_others_still_get_it() {
    let h = harness().await;
    let room = event_room();
    let elsewhere = Room::Conversation(ConversationId::new());
    let subs = subscribers(h.store.as_ref(), room, "g", 20).await;
    let gone: Vec<ConnectionId> = subs[..3].to_vec();
    for id in &gone {
        h.mgmt.always(id, Reply::Gone);
        subscribe(h.store.as_ref(), id, elsewhere).await;
    }
    // The sender is excluded: it must neither get the post nor be deleted.
    let sender = subs[19].clone();
    let mut j = job(room, 1);
    j.exclude = Some(sender.clone());

    let report = h.fanout.deliver(&j, far()).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            subscribers: 20,
            delivered: 16,
            gone: 3,
            excluded: 1,
            ..DeliveryReport::default()
        }
    );
    for id in &gone {
        assert_eq!(h.store.get_connection(id).await.unwrap(), None);
        assert!(h.store.list_connection_rooms(id).await.unwrap().is_empty());
        assert!(h.mgmt.accepted(id).is_empty());
    }
    for r in [room, elsewhere] {
        let listed = h
            .store
            .list_subscriptions(r, BucketRange::ALL, 100, None)
            .await
            .unwrap();
        assert!(
            listed
                .items
                .iter()
                .all(|s| !gone.contains(&s.connection_id)),
            "a gone connection is still subscribed to {r}"
        );
    }
    for id in &subs[3..19] {
        assert_eq!(h.mgmt.accepted(id), vec![frame(&j)]);
    }
    assert!(h.store.get_connection(&sender).await.unwrap().is_some());
    assert_eq!(h.mgmt.attempts(&sender), 0);

    // The next job no longer even tries the gone connections.
    let report = h.fanout.deliver(&job(room, 2), far()).await.unwrap();
    assert_eq!(
        (report.subscribers, report.delivered, report.gone),
        (17, 17, 0)
    );
    for id in &gone {
        assert_eq!(h.mgmt.attempts(id), 1);
    }
}

#[tokio::test]
async fn throttled_and_failing_posts_are_retried_with_backoff_until_they_succeed() {
    let h = harness().await;
    let room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "t", 3).await;
    h.mgmt
        .script(&subs[0], &[Reply::Throttled, Reply::Throttled]);
    h.mgmt
        .script(&subs[1], &[Reply::ServerError, Reply::ServerError]);
    let j = job(room, 1);
    let report = h.fanout.deliver(&j, far()).await.unwrap();
    assert!(report.is_finished());
    assert_eq!((report.delivered, report.retries), (3, 4));
    assert_eq!(h.mgmt.attempts(&subs[0]), 3);
    assert_eq!(h.mgmt.attempts(&subs[1]), 3);
    assert_eq!(h.mgmt.attempts(&subs[2]), 1);
    for id in &subs {
        assert_eq!(h.mgmt.accepted(id), vec![frame(&j)]);
    }
}

#[tokio::test]
async fn a_connection_that_exhausts_its_attempts_leaves_the_job_unfinished() {
    let h = harness_with(
        FanoutConfig {
            max_attempts: 3,
            ..config()
        },
        Duration::ZERO,
    )
    .await;
    let room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "x", 4).await;
    h.mgmt.always(&subs[0], Reply::Throttled);
    let report = h.fanout.deliver(&job(room, 1), far()).await.unwrap();
    assert!(!report.is_finished());
    assert_eq!((report.delivered, report.unfinished), (3, 1));
    assert_eq!(h.mgmt.attempts(&subs[0]), 3);
}

#[tokio::test]
async fn a_connection_failing_until_the_deadline_fails_only_its_own_record() {
    let h = harness_with(
        FanoutConfig {
            max_attempts: 10_000,
            ..config()
        },
        Duration::ZERO,
    )
    .await;
    let rooms = [event_room(), event_room(), event_room()];
    let mut subs = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        subs.push(subscribers(h.store.as_ref(), *room, &format!("r{i}x"), 10).await);
    }
    let bad = subs[1][4].clone();
    h.mgmt.always(&bad, Reply::ServerError);
    let jobs: Vec<FanoutJob> = rooms.iter().map(|r| job(*r, 7)).collect();
    let bodies: Vec<Option<String>> = jobs.iter().map(|j| Some(encode_job(j).unwrap())).collect();
    let event = sqs_event(&[
        ("rec-0", bodies[0].clone()),
        ("rec-1", bodies[1].clone()),
        ("rec-2", bodies[2].clone()),
    ]);

    let started = Instant::now();
    let deadline = started + Duration::from_millis(1500);
    let response = h.fanout.handle_sqs(event, deadline).await;
    let returned = Instant::now();

    assert_eq!(failures(&response), vec!["rec-1".to_owned()]);
    assert!(returned < deadline, "returned after the deadline");
    assert!(
        returned - started >= Duration::from_millis(1000),
        "gave up at {:?}, long before the stop time",
        returned - started
    );
    assert!(
        h.mgmt.attempts(&bad) > 5,
        "{} attempts",
        h.mgmt.attempts(&bad)
    );
    assert!(h.mgmt.accepted(&bad).is_empty());
    for (room_subs, j) in subs.iter().zip(&jobs) {
        for id in room_subs.iter().filter(|id| **id != bad) {
            assert_eq!(h.mgmt.accepted(id), vec![frame(j)], "{id}");
        }
    }
}

#[tokio::test]
async fn a_malformed_record_does_not_fail_the_batch() {
    let h = harness().await;
    let room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "m", 5).await;
    let (j1, j2) = (job(room, 1), job(room, 2));
    let event = sqs_event(&[
        ("good-1", Some(encode_job(&j1).unwrap())),
        ("bad-not-json", Some("this is not json".into())),
        (
            "bad-shape",
            Some(r#"{"job_id":"nope","room":"event:x"}"#.into()),
        ),
        ("bad-no-body", None),
        (
            "bad-shard",
            Some(
                encode_job(&FanoutJob {
                    shard: Some(BucketRange { start: 9, end: 3 }),
                    ..job(room, 3)
                })
                .unwrap(),
            ),
        ),
        (
            "bad-shard-past-end",
            Some(
                encode_job(&FanoutJob {
                    shard: Some(BucketRange {
                        start: 0,
                        end: BUCKETS + 1,
                    }),
                    ..job(room, 4)
                })
                .unwrap(),
            ),
        ),
        ("good-2", Some(encode_job(&j2).unwrap())),
    ]);
    let response = h.fanout.handle_sqs(event, far()).await;
    // The malformed ones are reported (so the redrive policy moves them to the DLQ); the
    // good ones are not, and were delivered.
    assert_eq!(
        failures(&response),
        vec![
            "bad-no-body",
            "bad-not-json",
            "bad-shape",
            "bad-shard",
            "bad-shard-past-end"
        ]
    );
    for id in &subs {
        let mut got = h.mgmt.accepted(id);
        got.sort();
        let mut want = vec![frame(&j1), frame(&j2)];
        want.sort();
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn exclude_is_honoured() {
    let h = harness().await;
    let room = Room::Conversation(ConversationId::new());
    let subs = subscribers(h.store.as_ref(), room, "e", 3).await;
    let mut j = FanoutJob::new(
        room,
        json!({"type": "user_typing", "payload": {"is_typing": true}}),
    );
    j.exclude = Some(subs[1].clone());
    let response = h
        .fanout
        .handle_sqs(
            sqs_event(&[("typing", Some(encode_job(&j).unwrap()))]),
            far(),
        )
        .await;
    assert!(failures(&response).is_empty());
    assert_eq!(h.mgmt.accepted(&subs[0]), vec![frame(&j)]);
    assert_eq!(h.mgmt.attempts(&subs[1]), 0);
    assert_eq!(h.mgmt.accepted(&subs[2]), vec![frame(&j)]);
}

#[tokio::test]
async fn an_oversized_payload_fails_its_record_without_posting() {
    let h = harness().await;
    let room = event_room();
    subscribers(h.store.as_ref(), room, "p", 3).await;
    let big = FanoutJob::new(
        room,
        json!({"type": "comment_broadcast", "text": "x".repeat(130 * 1024)}),
    );
    assert!(matches!(
        h.fanout.deliver(&big, far()).await,
        Err(FanoutError::PayloadTooLarge { .. })
    ));
    let small = job(room, 1);
    let event = sqs_event(&[
        ("big", Some(encode_job(&big).unwrap())),
        ("small", Some(encode_job(&small).unwrap())),
    ]);
    let response = h.fanout.handle_sqs(event, far()).await;
    assert_eq!(failures(&response), vec!["big"]);
    assert_eq!(h.mgmt.total_accepted(), 3, "only the small job was posted");
}

#[tokio::test]
async fn posts_in_flight_never_exceed_the_concurrency_bound_across_records() {
    let h = harness_with(
        FanoutConfig {
            concurrency: 8,
            ..config()
        },
        Duration::from_millis(10),
    )
    .await;
    let (r1, r2) = (event_room(), event_room());
    subscribers(h.store.as_ref(), r1, "ca", 60).await;
    subscribers(h.store.as_ref(), r2, "cb", 60).await;
    let event = sqs_event(&[
        ("one", Some(encode_job(&job(r1, 1)).unwrap())),
        ("two", Some(encode_job(&job(r2, 1)).unwrap())),
    ]);
    let response = h.fanout.handle_sqs(event, far()).await;
    assert!(failures(&response).is_empty());
    assert_eq!(h.mgmt.total_accepted(), 120);
    let max = h.mgmt.max_in_flight();
    assert!((4..=8).contains(&max), "max in flight {max}");
}

/// Checks that `ranges` are disjoint and cover every bucket exactly once.
fn assert_partition(ranges: &[BucketRange], of: BucketRange) {
    let mut sorted = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    assert_eq!(sorted.first().unwrap().start, of.start);
    assert_eq!(sorted.last().unwrap().end, of.end);
    for w in sorted.windows(2) {
        assert_eq!(w[0].end, w[1].start, "gap or overlap in {sorted:?}");
    }
    assert!(sorted.iter().all(|r| r.start < r.end));
}

#[tokio::test]
async fn a_large_room_is_sharded_and_every_subscriber_gets_exactly_one_copy() {
    let h = harness().await;
    let room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "big", 5_000).await;
    let mut j = job(room, 42);
    j.exclude = Some(subs[0].clone());

    // The whole-room job only splits: shard jobs enqueued, nothing posted.
    let report = h.fanout.deliver(&j, far()).await.unwrap();
    assert!(report.was_split() && report.is_finished());
    assert!(
        (4..=7).contains(&report.shards.len()),
        "{} shards for 5,000 subscribers at 1,000 per shard",
        report.shards.len()
    );
    assert_partition(&report.shards, BucketRange::ALL);
    assert_eq!(h.mgmt.total_accepted(), 0);
    assert_eq!(h.queue.len(), report.shards.len());

    // Drain the queue as the Lambda would: batches of up to 10 through the SQS handler.
    let mut ranges = Vec::new();
    let mut batches = 0;
    loop {
        let received = h.queue.receive(10, Duration::ZERO).await.unwrap();
        if received.is_empty() {
            break;
        }
        batches += 1;
        for r in &received {
            assert_eq!(r.job.job_id, j.job_id);
            assert_eq!(
                (r.job.room, &r.job.payload, &r.job.exclude),
                (j.room, &j.payload, &j.exclude)
            );
            ranges.push(r.job.shard.expect("a shard job"));
            // Each shard is delivered, not split again.
            let shard_report = h.fanout.deliver(&r.job, far()).await.unwrap();
            assert!(!shard_report.was_split() && shard_report.is_finished());
            assert!(shard_report.subscribers < 2 * 1_000, "{shard_report:?}");
        }
        for r in received {
            h.queue.delete(&r.receipt).await.unwrap();
        }
    }
    assert!(batches >= 1);
    assert!(h.queue.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut expected = report.shards.clone();
    expected.sort_by_key(|r| r.start);
    assert_eq!(ranges, expected);

    assert_eq!(h.mgmt.attempts(&subs[0]), 0, "the excluded sender");
    for id in &subs[1..] {
        assert_eq!(h.mgmt.accepted(id), vec![frame(&j)], "{id}");
    }
    assert_eq!(h.mgmt.total_accepted(), 4_999);
}

#[tokio::test]
async fn shard_jobs_from_the_queue_go_through_the_sqs_handler() {
    let h = harness_with(
        FanoutConfig {
            shard_threshold: 100,
            shard_target: 100,
            reshard_threshold: 400,
            ..config()
        },
        Duration::ZERO,
    )
    .await;
    let room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "s", 1_000).await;
    let j = job(room, 9);
    let response = h
        .fanout
        .handle_sqs(sqs_event(&[("root", Some(encode_job(&j).unwrap()))]), far())
        .await;
    assert!(failures(&response).is_empty());
    assert!(h.queue.len() >= 8, "{} shard jobs", h.queue.len());
    while !h.queue.is_empty() {
        let received = h.queue.receive(10, Duration::ZERO).await.unwrap();
        let records: Vec<(String, Option<String>)> = received
            .iter()
            .map(|r| (r.message_id.clone(), Some(encode_job(&r.job).unwrap())))
            .collect();
        let records: Vec<(&str, Option<String>)> = records
            .iter()
            .map(|(id, b)| (id.as_str(), b.clone()))
            .collect();
        let response = h.fanout.handle_sqs(sqs_event(&records), far()).await;
        assert!(failures(&response).is_empty());
        for r in received {
            h.queue.delete(&r.receipt).await.unwrap();
        }
    }
    for id in &subs {
        assert_eq!(h.mgmt.accepted(id), vec![frame(&j)], "{id}");
    }
}

#[tokio::test]
async fn an_oversized_shard_splits_again_but_a_single_bucket_is_always_delivered() {
    let h = harness_with(
        FanoutConfig {
            shard_threshold: 50,
            shard_target: 50,
            reshard_threshold: 100,
            ..config()
        },
        Duration::ZERO,
    )
    .await;
    let room = event_room();
    subscribers(h.store.as_ref(), room, "rs", 600).await;
    // A shard far over the reshard threshold (the room grew after the split).
    let shard = BucketRange::new(0, 2048).unwrap();
    let j = FanoutJob {
        shard: Some(shard),
        ..job(room, 1)
    };
    let report = h.fanout.deliver(&j, far()).await.unwrap();
    assert!(report.was_split());
    assert!(report.shards.len() >= 3, "{:?}", report.shards);
    assert_partition(&report.shards, shard);
    assert_eq!(h.mgmt.total_accepted(), 0);

    // Seven connections in one bucket: over every threshold, but a one-bucket range cannot be
    // split, so it is delivered.
    let crowded_room = event_room();
    let mut by_bucket: HashMap<u16, Vec<ConnectionId>> = HashMap::new();
    let crowd = (0..)
        .find_map(|i| {
            let id = conn("cr", i);
            let ids = by_bucket.entry(bucket_of(&id)).or_default();
            ids.push(id);
            (ids.len() == 7).then(|| ids.clone())
        })
        .unwrap();
    let h2 = harness_with(
        FanoutConfig {
            shard_threshold: 1,
            shard_target: 1,
            reshard_threshold: 2,
            page_size: 2,
            ..config()
        },
        Duration::ZERO,
    )
    .await;
    for id in &crowd {
        connect(h2.store.as_ref(), id, crowded_room).await;
    }
    let b = bucket_of(&crowd[0]);
    let j = FanoutJob {
        shard: Some(BucketRange::new(b, b + 1).unwrap()),
        ..job(crowded_room, 1)
    };
    let report = h2.fanout.deliver(&j, far()).await.unwrap();
    assert!(!report.was_split());
    assert_eq!((report.subscribers, report.delivered), (7, 7));
    assert!(h2.queue.is_empty());
}

/// The sample events in `events/fanout-*.json` parse as Lambda would parse them, and every
/// record in them is a job the handler delivers.
#[tokio::test]
async fn sample_events_are_handled() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut samples: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("fanout-") && name.ends_with(".json")
        })
        .collect();
    samples.sort();
    assert!(!samples.is_empty(), "no events/fanout-*.json samples");

    for path in samples {
        let text = std::fs::read_to_string(&path).unwrap();
        let event: SqsEvent =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!event.records.is_empty(), "{}", path.display());

        let store = Arc::new(MemoryConnectionStore::default());
        let poster = Arc::new(MemoryPoster::new());
        let queue = Arc::new(MemoryQueue::new(Duration::from_secs(30), 3));
        let mut expected: BTreeMap<ConnectionId, Vec<Vec<u8>>> = BTreeMap::new();
        let mut receivers = Vec::new();
        let mut seeded: HashMap<Room, Vec<ConnectionId>> = HashMap::new();
        for record in &event.records {
            assert_eq!(record.event_source.as_deref(), Some("aws:sqs"));
            assert!(record.message_id.is_some());
            let job: FanoutJob = serde_json::from_str(record.body.as_deref().unwrap())
                .unwrap_or_else(|e| panic!("{}: body is not a job: {e}", path.display()));
            // Seed subscribers for the room: the excluded one, and some in every bucket
            // quarter so shard jobs find some in range.
            if let Entry::Vacant(slot) = seeded.entry(job.room) {
                let mut ids: Vec<ConnectionId> = (0..64)
                    .map(|i| format!("S{i:03}aBcD=").parse().unwrap())
                    .collect();
                ids.push("L0SM9cOFvHcCIhw=".parse().unwrap());
                for id in &ids {
                    connect(store.as_ref(), id, job.room).await;
                    receivers.push(poster.open(id.clone()));
                }
                slot.insert(ids);
            }
            for id in &seeded[&job.room] {
                let in_range = job.shard.is_none_or(|r| r.contains(bucket_of(id)));
                if in_range && job.exclude.as_ref() != Some(id) {
                    expected.entry(id.clone()).or_default().push(frame(&job));
                }
            }
        }
        let fanout = Fanout::new(store, poster.clone(), queue, FanoutConfig::default()).unwrap();
        let response = fanout.handle_sqs(event, far()).await;
        assert!(
            failures(&response).is_empty(),
            "{}: {response:?}",
            path.display()
        );
        let mut got: BTreeMap<ConnectionId, Vec<Vec<u8>>> = BTreeMap::new();
        for (id, data) in poster.posts() {
            got.entry(id).or_default().push(data);
        }
        for v in got.values_mut().chain(expected.values_mut()) {
            v.sort();
        }
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{}", path.display());
    }
}

#[tokio::test]
async fn the_lambda_deadline_bounds_the_invocation() {
    let h = harness_with(
        FanoutConfig {
            max_attempts: 10_000,
            ..config()
        },
        Duration::ZERO,
    )
    .await;
    let room = event_room();
    let subs = subscribers(h.store.as_ref(), room, "d", 2).await;
    h.mgmt.always(&subs[0], Reply::Throttled);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut context = lambda_runtime::Context::default();
    context.deadline = now_ms + 800;
    let event = sqs_event(&[("only", Some(encode_job(&job(room, 1)).unwrap()))]);
    let started = Instant::now();
    let response = h
        .fanout
        .handle_lambda_event(lambda_runtime::LambdaEvent::new(event, context))
        .await;
    let took = started.elapsed();
    assert_eq!(failures(&response), vec!["only"]);
    assert!(took < Duration::from_millis(800), "took {took:?}");
    assert!(took >= Duration::from_millis(400), "took {took:?}");
    assert_eq!(h.mgmt.accepted(&subs[1]).len(), 1);
}

#[test]
fn deadline_from_epoch_millis_counts_from_now() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let before = Instant::now();
    let d = deadline_from_epoch_millis(now_ms + 5_000);
    let ahead = d - before;
    assert!(
        ahead > Duration::from_millis(4_900) && ahead <= Duration::from_millis(5_050),
        "{ahead:?}"
    );
    let past = deadline_from_epoch_millis(now_ms.saturating_sub(10_000));
    assert!(past <= Instant::now());
}

#[test]
fn config_reads_the_environment_and_rejects_bad_values() {
    let defaults = FanoutConfig::from_lookup(|_| None).unwrap();
    assert_eq!(defaults, FanoutConfig::default());
    assert_eq!(defaults.concurrency, 64);
    assert_eq!(defaults.shard_threshold, 1_000);

    let vars: HashMap<&str, &str> = [
        ("BANTER_FANOUT_CONCURRENCY", "16"),
        ("BANTER_FANOUT_SHARD_THRESHOLD", "500"),
        ("BANTER_FANOUT_SHARD_TARGET", "250"),
        ("BANTER_FANOUT_RESHARD_THRESHOLD", "1000"),
        ("BANTER_FANOUT_MAX_SHARDS", "4096"),
        ("BANTER_FANOUT_PAGE_SIZE", " 200 "),
        ("BANTER_FANOUT_MAX_ATTEMPTS", "5"),
        ("BANTER_FANOUT_BASE_BACKOFF_MS", "10"),
        ("BANTER_FANOUT_MAX_BACKOFF_MS", "500"),
        ("BANTER_FANOUT_DEADLINE_MARGIN_MS", "1500"),
        ("BANTER_FANOUT_RECORD_CONCURRENCY", "4"),
        ("BANTER_FANOUT_POST_BUDGET", "3000"),
        ("BANTER_FANOUT_FRAMES", "per_entry"),
    ]
    .into();
    let c = FanoutConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(
        c,
        FanoutConfig {
            concurrency: 16,
            record_concurrency: 4,
            shard_threshold: 500,
            shard_target: 250,
            reshard_threshold: 1_000,
            max_shards: BUCKETS,
            page_size: 200,
            max_attempts: 5,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(500),
            deadline_margin: Duration::from_millis(1_500),
            post_budget: 3_000,
            frames: banter::stream::FrameMode::PerEntry,
        }
    );

    let bad = |k: &'static str, v: &'static str| {
        FanoutConfig::from_lookup(move |name| (name == k).then(|| v.to_owned())).unwrap_err()
    };
    assert_eq!(
        bad("BANTER_FANOUT_FRAMES", "sometimes").name,
        "BANTER_FANOUT_FRAMES"
    );
    assert_eq!(bad("BANTER_FANOUT_POST_BUDGET", "0").name, "post_budget");
    let e = bad("BANTER_FANOUT_CONCURRENCY", "lots");
    assert_eq!(e.name, "BANTER_FANOUT_CONCURRENCY");
    assert_eq!(e.value, "lots");
    assert_eq!(bad("BANTER_FANOUT_CONCURRENCY", "0").name, "concurrency");
    assert_eq!(bad("BANTER_FANOUT_MAX_SHARDS", "1").name, "max_shards");
    assert_eq!(bad("BANTER_FANOUT_MAX_SHARDS", "5000").name, "max_shards");
    assert_eq!(
        bad("BANTER_FANOUT_PAGE_SIZE", "-3").name,
        "BANTER_FANOUT_PAGE_SIZE"
    );
    assert_eq!(
        bad("BANTER_FANOUT_RESHARD_THRESHOLD", "10").name,
        "reshard_threshold"
    );
    assert_eq!(
        bad("BANTER_FANOUT_BASE_BACKOFF_MS", "5000").name,
        "base_backoff"
    );

    let store = Arc::new(MemoryConnectionStore::default());
    let poster: Arc<dyn Poster> = Arc::new(MemoryPoster::new());
    let queue: Arc<dyn Queue> = Arc::new(MemoryQueue::new(Duration::from_secs(1), 1));
    let zero = FanoutConfig {
        concurrency: 0,
        ..FanoutConfig::default()
    };
    assert!(Fanout::new(store, poster, queue, zero).is_err());
}
