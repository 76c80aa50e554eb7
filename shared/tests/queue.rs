//! The fan-out queue adapters: the same tests run against [`MemoryQueue`] (module `memory`,
//! with tokio's clock paused) and [`SqsQueue`] on moto (module `sqs`, real time; these fail
//! when `BANTER_TEST_AWS_ENDPOINT` is unset).

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use banter::ids::{ConnectionId, ConversationId, EventId};
use banter::model::BucketRange;
use banter::queue::memory::MemoryQueue;
use banter::queue::sqs::{SqsQueue, create_queue_with_dlq};
use banter::queue::{FanoutJob, MAX_JOB_BYTES, Queue, QueueError, Received};
use banter::room::Room;
use serde_json::json;
use tokio::time::{Instant, sleep};

/// A queue under test, with what the tests need to look behind it.
enum Backend {
    Memory(Arc<MemoryQueue>),
    Sqs { queue: Arc<SqsQueue>, dlq: SqsQueue },
}

impl Backend {
    fn memory(visibility: Duration, max_receive_count: u32) -> Self {
        Backend::Memory(Arc::new(MemoryQueue::new(visibility, max_receive_count)))
    }

    /// A fresh queue (own name) with its dead-letter queue on moto.
    async fn sqs(tag: &str, visibility: Duration, max_receive_count: u32) -> Self {
        let sdk = support::moto_settings().load().await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        // SQS names are at most 80 characters, and the DLQ adds "-dlq".
        let tag: String = tag.chars().take(24).collect();
        let name = support::unique_prefix(&tag);
        let (url, dlq_url) = create_queue_with_dlq(&client, &name, max_receive_count, visibility)
            .await
            .unwrap();
        assert_ne!(url, dlq_url);
        Backend::Sqs {
            queue: Arc::new(SqsQueue::from_client(client.clone(), url)),
            dlq: SqsQueue::from_client(client, dlq_url),
        }
    }

    fn queue(&self) -> Arc<dyn Queue> {
        match self {
            Backend::Memory(q) => q.clone(),
            Backend::Sqs { queue, .. } => queue.clone(),
        }
    }

    /// The jobs in the dead-letter queue.
    async fn dead_letters(&self) -> Vec<FanoutJob> {
        match self {
            Backend::Memory(q) => q.dead_letters(),
            Backend::Sqs { dlq, .. } => {
                let mut jobs = Vec::new();
                loop {
                    let batch = dlq.receive(10, Duration::from_secs(1)).await.unwrap();
                    if batch.is_empty() {
                        return jobs;
                    }
                    for r in batch {
                        dlq.delete(&r.receipt).await.unwrap();
                        jobs.push(r.job);
                    }
                }
            }
        }
    }

    /// Jobs in the queue, visible or in flight.
    async fn remaining(&self) -> usize {
        match self {
            Backend::Memory(q) => {
                let len = q.len();
                assert_eq!(q.is_empty(), len == 0);
                len
            }
            Backend::Sqs { queue, .. } => {
                let out = queue
                    .client()
                    .get_queue_attributes()
                    .queue_url(queue.queue_url())
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .send()
                    .await
                    .unwrap();
                let attrs = out.attributes().unwrap();
                [
                    QueueAttributeName::ApproximateNumberOfMessages,
                    QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                ]
                .iter()
                .map(|a| attrs[a].parse::<usize>().unwrap())
                .sum()
            }
        }
    }
}

fn job(n: usize) -> FanoutJob {
    let room = if n % 2 == 0 {
        Room::Event(EventId::new())
    } else {
        Room::Conversation(ConversationId::new())
    };
    let mut job = FanoutJob::new(
        room,
        json!({"type": "comment.created", "n": n, "text": "héllo ✓"}),
    );
    if n % 3 == 0 {
        job.shard = BucketRange::new(16, 2048);
        job.exclude = Some("L0SM9cOFvHcCIhw=".parse::<ConnectionId>().unwrap());
    }
    job
}

fn job_with_text(bytes: usize) -> FanoutJob {
    FanoutJob::new(
        Room::Event(EventId::new()),
        json!({"text": "x".repeat(bytes)}),
    )
}

/// Receives until `n` jobs arrived (or too many polls), asserting none arrives twice.
async fn receive_n(q: &dyn Queue, n: usize) -> Vec<Received> {
    let mut got: Vec<Received> = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..30 {
        if got.len() >= n {
            break;
        }
        let batch = q.receive(10, Duration::from_secs(1)).await.unwrap();
        assert!(batch.len() <= 10, "a receive returned {} jobs", batch.len());
        for r in batch {
            assert!(
                seen.insert(r.job.job_id),
                "job {} received twice",
                r.job.job_id
            );
            got.push(r);
        }
    }
    assert_eq!(got.len(), n, "expected {n} jobs");
    got
}

async fn batch_of_25_received_exactly_once_then_deleted(b: Backend) {
    let q = b.queue();
    let jobs: Vec<FanoutJob> = (0..25).map(job).collect();
    q.send(&jobs).await.unwrap();
    assert_eq!(b.remaining().await, 25);

    let got = receive_n(&*q, 25).await;
    let by_id: HashMap<_, _> = got.iter().map(|r| (r.job.job_id, r)).collect();
    for sent in &jobs {
        let r = by_id[&sent.job_id];
        assert_eq!(&r.job, sent, "job changed in transit");
        assert_eq!(r.receive_count, 1);
    }
    let message_ids: HashSet<_> = got.iter().map(|r| r.message_id.clone()).collect();
    let receipts: HashSet<_> = got.iter().map(|r| r.receipt.clone()).collect();
    assert_eq!(message_ids.len(), 25);
    assert_eq!(receipts.len(), 25);

    // All 25 are in flight: nothing else to receive.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(b.remaining().await, 25);

    for r in &got {
        q.delete(&r.receipt).await.unwrap();
    }
    assert_eq!(b.remaining().await, 0);
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    assert!(b.dead_letters().await.is_empty());
}

async fn unacked_job_reappears_after_visibility_timeout(b: Backend) {
    let q = b.queue();
    let sent = job(1);
    q.send(std::slice::from_ref(&sent)).await.unwrap();

    let first = q.receive(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert_eq!(first[0].job, sent);

    // Invisible while in flight.
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());

    sleep(Duration::from_millis(1500)).await;
    let second = q.receive(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].receive_count, 2);
    assert_eq!(second[0].job, sent);
    assert_ne!(second[0].receipt, first[0].receipt);

    q.delete(&second[0].receipt).await.unwrap();
    assert_eq!(b.remaining().await, 0);
}

async fn redrive_to_dead_letters_after_max_receives(b: Backend) {
    let q = b.queue();
    let sent = job(2);
    q.send(std::slice::from_ref(&sent)).await.unwrap();

    for count in 1..=2 {
        let got = q.receive(10, Duration::from_secs(2)).await.unwrap();
        assert_eq!(got.len(), 1, "receive {count}");
        assert_eq!(got[0].receive_count, count);
        sleep(Duration::from_millis(1500)).await;
    }
    // Received max (2) times without a delete: the next receive moves it to the DLQ.
    assert!(
        q.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(b.remaining().await, 0);
    assert_eq!(b.dead_letters().await, vec![sent]);
}

async fn oversize_job_rejected(b: Backend) {
    let q = b.queue();
    let small = job(3);
    let big = job_with_text(MAX_JOB_BYTES);
    match q.send(&[small, big]).await {
        Err(QueueError::TooLarge(n)) => assert!(n > MAX_JOB_BYTES, "reported {n} bytes"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Nothing of the rejected send was enqueued.
    assert_eq!(b.remaining().await, 0);
    assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());

    // Jobs just under the limit go through, even when they cannot share a batch.
    let large: Vec<FanoutJob> = (0..3).map(|_| job_with_text(MAX_JOB_BYTES / 2)).collect();
    q.send(&large).await.unwrap();
    let got = receive_n(&*q, 3).await;
    for r in &got {
        assert!(large.contains(&r.job));
        q.delete(&r.receipt).await.unwrap();
    }
    assert_eq!(b.remaining().await, 0);
}

async fn long_poll_returns_when_a_job_arrives(b: Backend) {
    let q = b.queue();
    let sent = job(4);
    let sender = {
        let q = q.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            sleep(Duration::from_millis(300)).await;
            q.send(&[sent]).await.unwrap();
        })
    };
    let start = Instant::now();
    let got = q.receive(10, Duration::from_secs(8)).await.unwrap();
    let waited = start.elapsed();
    sender.await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job, sent);
    assert!(
        waited >= Duration::from_millis(300),
        "returned before the send: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    q.delete(&got[0].receipt).await.unwrap();

    // With nothing to receive, a receive waits its full time and returns empty.
    let start = Instant::now();
    assert!(
        q.receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(start.elapsed() >= Duration::from_millis(900));
}

/// Runs each shared test against both adapters: `memory::<name>` and `sqs::<name>`.
macro_rules! both_adapters {
    ($($name:ident: visibility $vis:expr, max_receive $max:expr;)*) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(start_paused = true)]
                async fn $name() {
                    super::$name(Backend::memory($vis, $max)).await;
                }
            )*

            /// A receipt from an earlier receive does not delete a job received again since.
            #[tokio::test(start_paused = true)]
            async fn stale_receipt_does_not_delete_a_re_received_job() {
                let q = MemoryQueue::new(Duration::from_secs(1), 5);
                q.send(&[job(5)]).await.unwrap();
                let first = q.receive(1, Duration::ZERO).await.unwrap();
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let second = q.receive(1, Duration::ZERO).await.unwrap();
                assert_eq!(second[0].receive_count, 2);
                q.delete(&first[0].receipt).await.unwrap();
                assert_eq!(q.len(), 1);
                q.delete("no-such-receipt").await.unwrap();
                assert_eq!(q.len(), 1);
                q.delete(&second[0].receipt).await.unwrap();
                assert!(q.is_empty());
                // Deleting twice is harmless.
                q.delete(&second[0].receipt).await.unwrap();
            }

            /// `max` bounds a receive, and at most 10 come at once; order is send order.
            #[tokio::test(start_paused = true)]
            async fn receive_respects_max_and_order() {
                let q = MemoryQueue::new(Duration::from_secs(30), 5);
                let jobs: Vec<_> = (0..15).map(job).collect();
                q.send(&jobs).await.unwrap();
                assert!(q.receive(0, Duration::ZERO).await.unwrap().is_empty());
                let two = q.receive(2, Duration::ZERO).await.unwrap();
                assert_eq!(two.iter().map(|r| r.job.clone()).collect::<Vec<_>>(), jobs[..2]);
                let rest = q.receive(100, Duration::ZERO).await.unwrap();
                assert_eq!(rest.len(), 10);
                assert_eq!(rest[0].job, jobs[2]);
                assert_eq!(q.len(), 15);
            }
        }

        mod sqs {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(Backend::sqs(stringify!($name), $vis, $max).await).await;
                }
            )*

            /// A body that is not a job is skipped (not returned, not deleted) and ends in the
            /// dead-letter queue; valid jobs of the same queue still come through.
            #[tokio::test]
            async fn malformed_body_is_skipped_and_dead_lettered() {
                let backend =
                    Backend::sqs("malformed", Duration::from_secs(1), 1).await;
                let Backend::Sqs { queue, dlq } = &backend else { unreachable!() };
                queue
                    .client()
                    .send_message()
                    .queue_url(queue.queue_url())
                    .message_body("{\"not\": \"a job\"}")
                    .send()
                    .await
                    .unwrap();
                let valid = job(6);
                queue.send(std::slice::from_ref(&valid)).await.unwrap();

                // Delete the valid job within the 1 s visibility timeout (max_receive_count
                // is 1: a second receive would dead-letter it).
                let mut got = Vec::new();
                for _ in 0..3 {
                    got.extend(queue.receive(10, Duration::from_secs(1)).await.unwrap());
                    if !got.is_empty() {
                        break;
                    }
                }
                assert_eq!(got.len(), 1);
                assert_eq!(got[0].job, valid);
                queue.delete(&got[0].receipt).await.unwrap();

                tokio::time::sleep(Duration::from_millis(1500)).await;
                assert!(queue.receive(10, Duration::from_secs(1)).await.unwrap().is_empty());
                assert_eq!(backend.remaining().await, 0);
                let raw = dlq
                    .client()
                    .receive_message()
                    .queue_url(dlq.queue_url())
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                let bodies: Vec<_> = raw.messages().iter().filter_map(|m| m.body()).collect();
                assert_eq!(bodies, vec!["{\"not\": \"a job\"}"]);
            }
        }
    };
}

both_adapters! {
    batch_of_25_received_exactly_once_then_deleted: visibility Duration::from_secs(30), max_receive 5;
    unacked_job_reappears_after_visibility_timeout: visibility Duration::from_secs(1), max_receive 5;
    redrive_to_dead_letters_after_max_receives: visibility Duration::from_secs(1), max_receive 2;
    oversize_job_rejected: visibility Duration::from_secs(30), max_receive 5;
    long_poll_returns_when_a_job_arrives: visibility Duration::from_secs(30), max_receive 5;
}
