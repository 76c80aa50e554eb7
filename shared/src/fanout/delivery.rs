//! The delivery core: [`Fanout::deliver`] reads a job's subscriptions, delivers inline or
//! splits into shard jobs, and posts with retries, as the [module documentation](super)
//! describes. It knows nothing of SQS or Lambda: [`lambda`](super::lambda) adapts it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout_at};
use tracing::Instrument;

use super::config::{FanoutConfig, FanoutConfigError};
use std::collections::HashSet;

use crate::ids::{ConnectionId, UserId};
use crate::model::{BucketRange, Subscription, bucket_of};
use crate::poster::{MAX_FRAME_BYTES, METERING_UNIT_BYTES, PostError, Poster};
use crate::queue::{FanoutJob, Queue, QueueError};
use crate::room::Room;
use crate::store::{ConnectionStore, ConversationStore, Cursor, StoreError};

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
        /// [`MAX_FRAME_BYTES`](crate::poster::MAX_FRAME_BYTES).
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
    /// A stream job reached a fan-out built without [`Fanout::with_streams`].
    #[error("stream job but no stream store")]
    NoStreams,
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
    /// Subscriptions of a conversation whose user is no longer one of its participants (a
    /// removal that raced a subscribe, or an unsubscribe that failed): skipped, never posted
    /// to; their rows expire with the connection.
    pub not_members: usize,
    /// Post attempts beyond the first, over every connection.
    pub retries: usize,
    /// Gone connections whose deletion from the store failed (left to the TTL).
    pub cleanup_failed: usize,
    /// The ranges of the shard jobs enqueued when the job was split; empty when it was
    /// delivered.
    pub shards: Vec<BucketRange>,
    /// The unfinished connections themselves (a stream delivery retries them alone).
    pub unfinished_connections: Vec<ConnectionId>,
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

/// `start..end`, or `all` for a whole-room job: for logs.
fn shard_label(shard: Option<BucketRange>) -> String {
    shard.map_or_else(|| "all".to_owned(), |r| format!("{}..{}", r.start, r.end))
}

/// Delivers fan-out jobs. See the [module documentation](super).
pub struct Fanout {
    connections: Arc<dyn ConnectionStore>,
    /// Where a conversation's participants are read, to post to members only.
    members: Option<Arc<dyn ConversationStore>>,
    poster: Arc<dyn Poster>,
    /// Where shard jobs go.
    shard_queue: Arc<dyn Queue>,
    config: FanoutConfig,
    /// Bounds the posts in flight over everything this instance does at once.
    permits: Semaphore,
    /// Where stream jobs read from.
    pub(super) streams: Option<super::stream::StreamSources>,
    /// Ends the presence of a user whose last connection is found gone.
    presence: Option<crate::service::presence::PresenceDesk>,
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
    /// enqueueing shard jobs on `shard_queue` (see the [module documentation](super): a queue
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
            members: None,
            poster,
            shard_queue,
            permits: Semaphore::new(config.concurrency),
            config,
            streams: None,
            presence: None,
        })
    }

    /// Ends the presence of the user of a connection found gone, when it was their last
    /// (one extra read per `410`, to learn whose it was).
    pub fn with_presence(mut self, desk: crate::service::presence::PresenceDesk) -> Self {
        self.presence = Some(desk);
        self
    }

    /// Delivers stream jobs from `streams`, rendering comment authors from `users`.
    pub fn with_streams(
        mut self,
        streams: Arc<dyn crate::store::StreamStore>,
        users: Arc<dyn crate::store::UserStore>,
    ) -> Self {
        self.streams = Some(super::stream::StreamSources {
            streams,
            users,
            objects: None,
        });
        self
    }

    /// Signs the links of messages' files in the frames it renders from `objects` (the media
    /// bucket). Without it (a stack without media) those links are left out.
    pub fn with_objects(mut self, objects: Arc<dyn crate::objects::ObjectStore>) -> Self {
        if let Some(s) = &mut self.streams {
            s.objects = Some(objects);
        }
        self
    }

    /// The subscriptions this fan-out reads (a stream delivery counts viewers from them).
    pub(super) fn connections(&self) -> &dyn ConnectionStore {
        self.connections.as_ref()
    }

    /// The queue shard jobs (and the continuation of a stream delivery) go to.
    pub(super) fn shard_queue(&self) -> &dyn Queue {
        self.shard_queue.as_ref()
    }

    /// Posts a conversation's frames only to subscriptions of its current participants, read
    /// once per job from `conversations` (a strongly consistent Query of at most the group's
    /// 256 participants): once a removal has answered, the removed user's connections get
    /// nothing more of the conversation, whatever subscription rows are left.
    pub fn with_membership(mut self, conversations: Arc<dyn ConversationStore>) -> Self {
        self.members = Some(conversations);
        self
    }

    /// Of `subs`, those the job's room may reach: for a conversation with
    /// [`with_membership`](Self::with_membership), its participants' only; and how many
    /// were left out.
    async fn members_only(
        &self,
        job: &FanoutJob,
        subs: Vec<Subscription>,
    ) -> Result<(Vec<Subscription>, usize), FanoutError> {
        let (Some(members), Room::Conversation(id)) = (&self.members, job.room) else {
            return Ok((subs, 0));
        };
        let participants: HashSet<UserId> = members
            .list_participants(id)
            .await?
            .into_iter()
            .map(|p| p.user_id)
            .collect();
        let before = subs.len();
        let kept: Vec<Subscription> = subs
            .into_iter()
            .filter(|s| s.user_id.is_some_and(|u| participants.contains(&u)))
            .collect();
        let left_out = before - kept.len();
        if left_out > 0 {
            tracing::info!(
                left_out,
                "subscriptions of users no longer in the conversation skipped"
            );
        }
        Ok((kept, left_out))
    }

    /// The configuration.
    pub fn config(&self) -> &FanoutConfig {
        &self.config
    }

    /// No post starts after this.
    pub(super) fn stop_at(&self, deadline: Instant) -> Instant {
        deadline
            .checked_sub(self.config.deadline_margin)
            .unwrap_or_else(Instant::now)
    }

    /// Delivers `job` (or splits it into shard jobs), stopping in time for `deadline`. An
    /// `Ok` report may still be unfinished ([`DeliveryReport::is_finished`]); see the
    /// [module documentation](super).
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
        if let Some(work) = job.stream {
            return Box::pin(self.deliver_stream(job, work, deadline)).await;
        }
        let started = Instant::now();
        let frame =
            serde_json::to_vec(&job.payload).map_err(|e| FanoutError::Payload(e.to_string()))?;
        if frame.len() > METERING_UNIT_BYTES {
            tracing::error!(bytes = frame.len(), "frame over one 32 KB unit");
        }
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

        if let Some(targets) = &job.targets {
            let subs: Vec<Subscription> = targets
                .iter()
                .map(|c| Subscription {
                    room: job.room,
                    connection_id: c.clone(),
                    user_id: None,
                    subscribed_at: crate::time::now(),
                    expires_at: crate::time::now(),
                })
                .collect();
            let report = self.post_all(job, &subs, &frame, stop).await;
            tracing::info!(
                targets = subs.len(),
                delivered = report.delivered,
                unfinished = report.unfinished,
                "retry of unfinished connections"
            );
            return Ok(report);
        }
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
        let (subs, not_members) = match timeout_at(backstop, self.members_only(job, subs)).await {
            Err(_) => return Err(FanoutError::OutOfTime),
            Ok(read) => read?,
        };

        let mut report = self.post_all(job, &subs, &frame, stop).await;
        report.not_members = not_members;
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
                    report.unfinished_connections.push(connection.clone());
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
        let holder = match &self.presence {
            Some(_) => match timeout_at(until, self.connections.get_connection(connection)).await {
                Ok(Ok(c)) => c.and_then(|c| c.user_id()),
                _ => None,
            },
            None => None,
        };
        match timeout_at(until, self.connections.delete_connection(connection)).await {
            Ok(Ok(rooms)) => {
                tracing::debug!(
                    connection_id = %connection,
                    rooms = rooms.len(),
                    "gone connection deleted"
                );
                if let (Some(desk), Some(user)) = (&self.presence, holder) {
                    match timeout_at(until, desk.departed(user)).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(
                            user_id = %user,
                            error = %e,
                            "could not end the presence of a gone connection's user"
                        ),
                        Err(_) => tracing::warn!(
                            user_id = %user,
                            "ending the presence of a gone connection's user did not end in \
                             time; it expires with the user's connections"
                        ),
                    }
                }
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
