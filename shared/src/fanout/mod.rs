//! Fan-out: delivers each [`FanoutJob`] to every WebSocket connection subscribed to its room,
//! as the SQS-triggered `fanout` Lambda does.
//!
//! # One job
//!
//! [`Fanout::deliver`] reads the subscriptions of the job's bucket range (the whole room, or
//! the job's shard) page by page with `ConnectionStore::list_subscriptions`, then:
//!
//! - **Small enough → deliver inline.** At most [`FanoutConfig::shard_threshold`] subscribers
//!   for a whole-room job (at most [`FanoutConfig::reshard_threshold`] for a shard job): post
//!   the payload to each of them, [`FanoutConfig::concurrency`] posts in flight at most.
//! - **Too large → split, deliver nothing.** The read stops one subscriber past the
//!   threshold. Subscriptions come in bucket order and buckets are a uniform hash of the
//!   connection id, so the share of the range read so far estimates the total:
//!   `estimate = read × width / buckets_read`. The range is cut with [`BucketRange::split`]
//!   into `ceil(estimate / shard_target)` contiguous ranges (at least 2, at most
//!   [`FanoutConfig::max_shards`]) that cover it exactly once, and one shard job per range
//!   (same `job_id`, payload and `exclude`) is enqueued with one [`Queue::send`] on the
//!   *shard queue* ([`Fanout::new`]). The job is then done. The splitting invocation posts
//!   nothing itself: every shard waits one queue hop anyway, so delivering a part inline
//!   would not shorten the broadcast, and keeping the coordinator's only side effect the
//!   enqueue means a failure of one shard never makes the coordinator (and with it every
//!   other shard) run again. 100,000 subscribers become ~100
//!   shard jobs of ~1,000 that Lambda runs in parallel: the broadcast takes one queue hop plus
//!   one shard.
//! - **One shard job per invocation.** The posts in flight are bounded per [`Fanout`], that
//!   is per Lambda execution environment, across all the records of its batch. Shard jobs
//!   that arrived in one batch would share that bound, and the shards would add no
//!   concurrency. So shard jobs go to their own queue, whose event source hands them over
//!   one per invocation (`BatchSize: 1` in `template.yaml`): each shard gets its own
//!   environment and its own [`FanoutConfig::concurrency`], and a broadcast of `S` shards
//!   has `S × concurrency` posts in flight. Whole-room jobs keep batches of 10: many small
//!   rooms share an invocation.
//! - **Shard jobs are normally delivered, not split.** A shard is split again only when its
//!   range holds more than `reshard_threshold` (4 × target by default): the room grew a lot
//!   after the split. A one-bucket range cannot be split and is always delivered, however
//!   large. Every split covers its range exactly once, so each subscriber is in exactly one
//!   delivering job.
//!
//! # One post
//!
//! - success → delivered;
//! - [`PostError::Gone`] (410) → the *target* connection is deleted with its subscriptions
//!   (`ConnectionStore::delete_connection`); a failed cleanup is logged and left to the TTL;
//! - [`PostError::Throttled`] (429) and [`PostError::Transient`] (5xx, transport) → retried
//!   with full-jitter exponential backoff (`rand(0, min(max_backoff, base × 2^(n-1)))`), at
//!   most [`FanoutConfig::max_attempts`] attempts, and never past the *stop time*
//!   `deadline − deadline_margin`: no attempt starts after it, attempts in flight at it are
//!   abandoned. A connection still failing then is **unfinished**;
//! - [`PostError::PayloadTooLarge`] and [`PostError::Forbidden`] → given up and logged (a
//!   retry cannot succeed);
//! - the job's `exclude` connection is skipped.
//!
//! A job is **finished** when each of its subscribers was delivered to, was gone, or failed
//! permanently. Only concurrency permits are held while a request is in flight, never while
//! backing off, so a throttled connection does not slow the others down.
//!
//! # A batch
//!
//! [`Fanout::handle_sqs`] processes the records of an SQS batch concurrently (bounded by
//! [`FanoutConfig::record_concurrency`], all sharing the one post bound) and returns
//! `batchItemFailures` naming exactly the records that did not finish (the event source
//! mapping needs `ReportBatchItemFailures`). A record fails when:
//!
//! - its job is unfinished (retryable posts left at the stop time or after `max_attempts`);
//! - reading the subscriptions or enqueueing shard jobs failed, or did not end in time;
//! - its body is missing or is not a [`FanoutJob`], its shard is not a valid bucket range,
//!   or its payload is over the 128 KiB frame limit. These can never succeed; they are logged at `error` level and still reported as
//!   failures rather than dropped, so the queue's redrive policy moves them to the
//!   dead-letter queue after `maxReceiveCount` receives, where they are kept for inspection
//!   and its alarm fires.
//!
//! One record's failure never fails another. SQS redelivers a failed record after its
//! visibility timeout and the job then posts again to *every* subscriber of its range, so
//! clients see duplicates in that case (they drop them: every payload carries its id and
//! position). In the normal path each subscriber receives each job exactly once.

mod config;

pub use config::{FanoutConfig, FanoutConfigError};

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::Instrument;

use crate::ids::ConnectionId;
use crate::model::{BucketRange, Subscription, bucket_of};
use crate::poster::memory::DEFAULT_MAX_FRAME_BYTES;
use crate::poster::{PostError, Poster};
use crate::queue::{FanoutJob, Queue, QueueError};
use crate::store::{ConnectionStore, Cursor, StoreError};

/// Largest frame `PostToConnection` accepts (API Gateway's 128 KiB WebSocket message limit).
pub const MAX_FRAME_BYTES: usize = DEFAULT_MAX_FRAME_BYTES;

/// Why a job could not be processed (as opposed to a job processed with some connections
/// left unfinished, which [`DeliveryReport::unfinished`] counts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FanoutError {
    /// Listing the room's subscriptions failed.
    #[error("listing subscriptions: {0}")]
    Store(#[from] StoreError),
    /// Enqueueing the shard jobs failed (some may have been sent).
    #[error("enqueueing shard jobs: {0}")]
    Queue(#[from] QueueError),
    /// The payload is over the frame limit: no post of it can ever succeed.
    #[error("payload of {size} bytes is over the {limit}-byte frame limit")]
    PayloadTooLarge {
        /// Size of the serialized payload.
        size: usize,
        /// [`MAX_FRAME_BYTES`].
        limit: usize,
    },
    /// The payload could not be serialized.
    #[error("payload does not serialize: {0}")]
    Payload(String),
    /// The job's shard is not a valid bucket range (empty, or past [`BUCKETS`](crate::model::BUCKETS)).
    #[error("invalid shard {start}..{end}")]
    InvalidShard {
        /// The shard's `start`.
        start: u16,
        /// The shard's `end`.
        end: u16,
    },
    /// Listing or enqueueing had not ended at the stop time.
    #[error("out of time before the subscriptions were read or the shards enqueued")]
    OutOfTime,
}

/// What one [`Fanout::deliver`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Live subscriptions read in the job's range (0 when the job was split).
    pub subscribers: usize,
    /// Connections the payload was posted to.
    pub delivered: usize,
    /// Connections that were gone (410) and were deleted.
    pub gone: usize,
    /// Connections given up for good (413, 403).
    pub failed: usize,
    /// Connections still failing with a retryable error at the stop time or after the last
    /// attempt: the job is not finished.
    pub unfinished: usize,
    /// The job's `exclude` connection, when it was among the subscribers (0 or 1).
    pub excluded: usize,
    /// Post attempts beyond the first, over every connection.
    pub retries: usize,
    /// Gone connections whose deletion from the store failed (left to the TTL).
    pub cleanup_failed: usize,
    /// The ranges of the shard jobs enqueued when the job was split; empty when it was
    /// delivered.
    pub shards: Vec<BucketRange>,
}

impl DeliveryReport {
    /// Whether every subscriber was delivered to, gone, failed for good or excluded, or the
    /// job was split and its shards enqueued.
    pub fn is_finished(&self) -> bool {
        self.unfinished == 0
    }

    /// Whether the job was split into shard jobs instead of delivered.
    pub fn was_split(&self) -> bool {
        !self.shards.is_empty()
    }
}

/// How one connection ended.
#[derive(Debug)]
enum PostOutcome {
    Delivered,
    Gone { cleaned: bool },
    Failed(PostError),
    Unfinished(PostError),
}

/// The `Instant` of a Lambda deadline given in milliseconds since the Unix epoch
/// (`lambda_runtime::Context::deadline`). A deadline in the past is now.
pub fn deadline_from_epoch_millis(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// `start..end`, or `all` for a whole-room job: for logs.
fn shard_label(shard: Option<BucketRange>) -> String {
    shard.map_or_else(|| "all".to_owned(), |r| format!("{}..{}", r.start, r.end))
}

/// Delivers fan-out jobs. See the [module documentation](self).
pub struct Fanout {
    connections: Arc<dyn ConnectionStore>,
    poster: Arc<dyn Poster>,
    /// Where shard jobs go.
    shard_queue: Arc<dyn Queue>,
    config: FanoutConfig,
    /// Bounds the posts in flight over everything this instance does at once.
    permits: Semaphore,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Fanout {
    /// A fan-out reading subscriptions from `connections`, posting through `poster` and
    /// enqueueing shard jobs on `shard_queue` (see the [module documentation](self): a queue
    /// whose jobs are handed over one per invocation). Fails when `config` is out of range
    /// ([`FanoutConfig::validate`]).
    pub fn new(
        connections: Arc<dyn ConnectionStore>,
        poster: Arc<dyn Poster>,
        shard_queue: Arc<dyn Queue>,
        config: FanoutConfig,
    ) -> Result<Self, FanoutConfigError> {
        config.validate()?;
        Ok(Self {
            connections,
            poster,
            shard_queue,
            permits: Semaphore::new(config.concurrency),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FanoutConfig {
        &self.config
    }

    /// No post starts after this.
    fn stop_at(&self, deadline: Instant) -> Instant {
        deadline
            .checked_sub(self.config.deadline_margin)
            .unwrap_or_else(Instant::now)
    }

    /// Handles the SQS batch of one Lambda invocation that must return by `deadline`, and
    /// returns the records that did not finish as `batchItemFailures` (see the
    /// [module documentation](self#a-batch)). Never fails as a whole.
    pub async fn handle_sqs(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        let outcomes: Vec<Option<String>> = futures::stream::iter(event.records)
            .map(|record| self.handle_record(record, deadline))
            .buffered(self.config.record_concurrency)
            .collect()
            .await;
        let mut response = SqsBatchResponse::default();
        for failed in outcomes.into_iter().flatten() {
            response.add_failure(failed);
        }
        response
    }

    /// [`Fanout::handle_sqs`] with the deadline of the Lambda invocation.
    pub async fn handle_lambda_event(
        &self,
        event: lambda_runtime::LambdaEvent<SqsEvent>,
    ) -> SqsBatchResponse {
        let deadline = deadline_from_epoch_millis(event.context.deadline);
        self.handle_sqs(event.payload, deadline).await
    }

    /// Processes one record; returns its message id when it must be reported as failed.
    async fn handle_record(&self, record: SqsMessage, deadline: Instant) -> Option<String> {
        let Some(message_id) = record.message_id.clone() else {
            // Lambda always sets it; without it the record cannot be reported either way.
            tracing::error!("SQS record without a messageId; ignored");
            return None;
        };
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("", String::as_str);
        let span = tracing::info_span!("fanout.record", %message_id, receive_count);
        let ok = async {
            let job = match record
                .body
                .as_deref()
                .map(serde_json::from_str::<FanoutJob>)
            {
                Some(Ok(job)) => job,
                Some(Err(e)) => {
                    tracing::error!(
                        error = %e,
                        "record body is not a fan-out job; reported as failed so the redrive \
                         policy moves it to the dead-letter queue"
                    );
                    return false;
                }
                None => {
                    tracing::error!(
                        "record has no body; reported as failed so the redrive policy moves it \
                         to the dead-letter queue"
                    );
                    return false;
                }
            };
            match self.deliver(&job, deadline).await {
                Ok(report) => report.is_finished(),
                Err(e) => {
                    match e {
                        FanoutError::PayloadTooLarge { .. }
                        | FanoutError::Payload(_)
                        | FanoutError::InvalidShard { .. } => {
                            tracing::error!(
                                job_id = %job.job_id,
                                room = %job.room,
                                error = %e,
                                "fan-out job can never be delivered; reported as failed for \
                                 the dead-letter queue"
                            );
                        }
                        _ => tracing::warn!(
                            job_id = %job.job_id,
                            room = %job.room,
                            error = %e,
                            "fan-out job failed; SQS will redeliver it"
                        ),
                    }
                    false
                }
            }
        }
        .instrument(span)
        .await;
        (!ok).then_some(message_id)
    }

    /// Delivers `job` (or splits it into shard jobs), stopping in time for `deadline`. An
    /// `Ok` report may still be unfinished ([`DeliveryReport::is_finished`]); see the
    /// [module documentation](self).
    pub async fn deliver(
        &self,
        job: &FanoutJob,
        deadline: Instant,
    ) -> Result<DeliveryReport, FanoutError> {
        let span = tracing::info_span!(
            "fanout.job",
            job_id = %job.job_id,
            room = %job.room,
            shard = %shard_label(job.shard),
        );
        self.deliver_in_span(job, deadline).instrument(span).await
    }

    async fn deliver_in_span(
        &self,
        job: &FanoutJob,
        deadline: Instant,
    ) -> Result<DeliveryReport, FanoutError> {
        let started = Instant::now();
        let frame =
            serde_json::to_vec(&job.payload).map_err(|e| FanoutError::Payload(e.to_string()))?;
        if frame.len() > MAX_FRAME_BYTES {
            return Err(FanoutError::PayloadTooLarge {
                size: frame.len(),
                limit: MAX_FRAME_BYTES,
            });
        }
        let stop = self.stop_at(deadline);
        // Reading and enqueueing have no stop of their own: bound them halfway into the
        // margin, after the posts' stop time, so the handler still returns in time.
        let backstop = stop + (deadline.saturating_duration_since(stop) / 2);
        // A deserialized range is not validated: check it before any arithmetic on it.
        let range = match job.shard {
            None => BucketRange::ALL,
            Some(r) => BucketRange::new(r.start, r.end).ok_or(FanoutError::InvalidShard {
                start: r.start,
                end: r.end,
            })?,
        };
        let split_above = if job.shard.is_none() {
            self.config.shard_threshold
        } else {
            self.config.reshard_threshold
        };

        let subs = match timeout_at(backstop, self.read_or_split(job, range, split_above)).await {
            Err(_) => return Err(FanoutError::OutOfTime),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Read::Split(shards))) => {
                tracing::info!(
                    shards = shards.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "room over the threshold: shard jobs enqueued"
                );
                return Ok(DeliveryReport {
                    shards,
                    ..DeliveryReport::default()
                });
            }
            Ok(Ok(Read::All(subs))) => subs,
        };

        let report = self.post_all(job, &subs, &frame, stop).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if report.is_finished() {
            tracing::info!(
                subscribers = report.subscribers,
                delivered = report.delivered,
                gone = report.gone,
                failed = report.failed,
                retries = report.retries,
                elapsed_ms,
                "fan-out job delivered"
            );
        } else {
            tracing::warn!(
                subscribers = report.subscribers,
                delivered = report.delivered,
                gone = report.gone,
                failed = report.failed,
                unfinished = report.unfinished,
                retries = report.retries,
                elapsed_ms,
                "fan-out job unfinished: connections still failing at the stop time"
            );
        }
        Ok(report)
    }

    /// Reads the range's subscriptions; past `split_above` (and when the range can be split)
    /// enqueues shard jobs instead.
    async fn read_or_split(
        &self,
        job: &FanoutJob,
        range: BucketRange,
        split_above: usize,
    ) -> Result<Read, FanoutError> {
        let mut subs: Vec<Subscription> = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let splittable = range.end - range.start > 1;
        loop {
            let limit = if splittable {
                // Stop one past the threshold: enough to know the range is over it.
                self.config.page_size.min(split_above + 1 - subs.len())
            } else {
                self.config.page_size
            };
            let page = self
                .connections
                .list_subscriptions(job.room, range, limit, cursor.as_ref())
                .await?;
            subs.extend(page.items);
            if splittable && subs.len() > split_above {
                let shards = self.plan_shards(range, &subs);
                let jobs: Vec<FanoutJob> = shards
                    .iter()
                    .map(|&shard| FanoutJob {
                        shard: Some(shard),
                        ..job.clone()
                    })
                    .collect();
                self.shard_queue.send(&jobs).await?;
                return Ok(Read::Split(shards));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(Read::All(subs)),
            }
        }
    }

    /// Splits `range`, of which `read` (in bucket order) is the first part, into shards of
    /// about `shard_target` subscribers.
    fn plan_shards(&self, range: BucketRange, read: &[Subscription]) -> Vec<BucketRange> {
        let width = u64::from(range.end - range.start);
        let last_bucket = read
            .last()
            .map_or(range.end - 1, |s| bucket_of(&s.connection_id))
            .clamp(range.start, range.end - 1);
        let buckets_read = u64::from(last_bucket - range.start) + 1;
        let estimate = (read.len() as u64).saturating_mul(width) / buckets_read;
        let target = (self.config.shard_target as u64).max(1);
        let parts = estimate
            .div_ceil(target)
            .clamp(2, u64::from(self.config.max_shards));
        let parts = u16::try_from(parts).unwrap_or(self.config.max_shards);
        tracing::debug!(
            read = read.len(),
            buckets_read,
            estimate,
            parts,
            "splitting the range"
        );
        range.split(parts)
    }

    /// Posts `frame` to every subscription except the job's `exclude`.
    async fn post_all(
        &self,
        job: &FanoutJob,
        subs: &[Subscription],
        frame: &[u8],
        stop: Instant,
    ) -> DeliveryReport {
        let mut report = DeliveryReport {
            subscribers: subs.len(),
            ..DeliveryReport::default()
        };
        let mut posts: FuturesUnordered<_> = subs
            .iter()
            .filter(|s| {
                let skip = job.exclude.as_ref() == Some(&s.connection_id);
                report.excluded += usize::from(skip);
                !skip
            })
            .map(|s| self.post_one(&s.connection_id, frame, stop))
            .collect();
        while let Some((connection, outcome, attempts)) = posts.next().await {
            report.retries += attempts.saturating_sub(1) as usize;
            match outcome {
                PostOutcome::Delivered => report.delivered += 1,
                PostOutcome::Gone { cleaned } => {
                    report.gone += 1;
                    report.cleanup_failed += usize::from(!cleaned);
                }
                PostOutcome::Failed(e) => {
                    report.failed += 1;
                    tracing::warn!(connection_id = %connection, error = %e, "post given up");
                }
                PostOutcome::Unfinished(e) => {
                    report.unfinished += 1;
                    tracing::debug!(
                        connection_id = %connection,
                        attempts,
                        error = %e,
                        "post unfinished"
                    );
                }
            }
        }
        report
    }

    /// Posts to one connection with retries; returns it, how it ended and the attempts made.
    async fn post_one<'a>(
        &self,
        connection: &'a ConnectionId,
        frame: &[u8],
        stop: Instant,
    ) -> (&'a ConnectionId, PostOutcome, u32) {
        let out_of_time = || PostError::Transient("stopped before the Lambda deadline".into());
        let mut attempts = 0u32;
        loop {
            if Instant::now() >= stop {
                return (connection, PostOutcome::Unfinished(out_of_time()), attempts);
            }
            let result = {
                let Ok(Ok(_permit)) = timeout_at(stop, self.permits.acquire()).await else {
                    return (connection, PostOutcome::Unfinished(out_of_time()), attempts);
                };
                attempts += 1;
                timeout_at(stop, self.poster.post(connection, frame)).await
            };
            let error = match result {
                Err(_) => return (connection, PostOutcome::Unfinished(out_of_time()), attempts),
                Ok(Ok(())) => return (connection, PostOutcome::Delivered, attempts),
                Ok(Err(PostError::Gone)) => {
                    let cleaned = self.remove_gone(connection, stop).await;
                    return (connection, PostOutcome::Gone { cleaned }, attempts);
                }
                Ok(Err(e)) if !e.is_retryable() => {
                    return (connection, PostOutcome::Failed(e), attempts);
                }
                Ok(Err(e)) => e,
            };
            if attempts >= self.config.max_attempts {
                return (connection, PostOutcome::Unfinished(error), attempts);
            }
            let pause = self.backoff(attempts);
            if Instant::now() + pause >= stop {
                return (connection, PostOutcome::Unfinished(error), attempts);
            }
            sleep(pause).await;
        }
    }

    /// Full-jitter backoff before attempt `attempts + 1`.
    fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let cap = self
            .config
            .base_backoff
            .saturating_mul(1 << exp)
            .min(self.config.max_backoff);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=cap_nanos))
    }

    /// Deletes a gone connection and its subscriptions; returns whether that worked.
    async fn remove_gone(&self, connection: &ConnectionId, stop: Instant) -> bool {
        // The cleanup may take a moment past the stop time: the margin covers it.
        let until = stop + self.config.deadline_margin / 4;
        match timeout_at(until, self.connections.delete_connection(connection)).await {
            Ok(Ok(rooms)) => {
                tracing::debug!(
                    connection_id = %connection,
                    rooms = rooms.len(),
                    "gone connection deleted"
                );
                true
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    connection_id = %connection,
                    error = %e,
                    "deleting a gone connection failed; its rows expire with their TTL"
                );
                false
            }
            Err(_) => {
                tracing::warn!(
                    connection_id = %connection,
                    "deleting a gone connection did not end in time; its rows expire with \
                     their TTL"
                );
                false
            }
        }
    }
}

/// What reading a job's range gave.
enum Read {
    /// Every live subscription of the range.
    All(Vec<Subscription>),
    /// The range was split and these shard jobs enqueued.
    Split(Vec<BucketRange>),
}
