//! Fan-out: delivers each [`FanoutJob`] to every WebSocket connection subscribed to its room,
//! as the SQS-triggered `fanout` Lambda does.
//!
//! # Room streams
//!
//! Every change to a room is an entry of its stream (`crate::store::StreamStore`,
//! `docs/data-model.md`, "Room streams"). A stream job ([`FanoutJob::stream`]) means "deliver
//! room R as far as it is committed": it records what it wants on the room's delivery cursor,
//! and the one job holding the cursor's lease passes over the room: flushes coalesced counts,
//! reads the entries after the cursor, renders them ([`crate::stream::render`]) into
//! `stream_batch` frames cut at the 32 KB metering unit, posts each frame to the room's
//! subscribers with the machinery below, moves the cursor, and goes on while more was wanted.
//! Passes of a room with `n` subscribers start at least `n / post_budget` apart
//! ([`FanoutConfig::post_budget`]); connections a pass leaves unfinished get the frame in a
//! job of their own (`targets`). With [`FanoutConfig::frames`] = `PerEntry` each change is its
//! own frame, as before streams (to measure against).
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
//! - **Conversations reach members only.** With [`Fanout::with_membership`] (as deployed and
//!   on the local stack), a conversation's subscriptions are filtered by its participants,
//!   read once per job: a subscription row left by a `subscribe` that raced a removal, or by
//!   an unsubscribe that missed, delivers nothing.
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
//! The SQS/Lambda adapter, [`lambda`], hands each record of a batch to [`Fanout::deliver`] and
//! reports the records that did not finish; see there.
//!
//! [`FanoutJob`]: crate::queue::FanoutJob
//! [`FanoutJob::stream`]: crate::queue::FanoutJob::stream
//! [`BucketRange::split`]: crate::model::BucketRange::split
//! [`Queue::send`]: crate::queue::Queue::send
//! [`PostError::Gone`]: crate::poster::PostError::Gone
//! [`PostError::Throttled`]: crate::poster::PostError::Throttled
//! [`PostError::Transient`]: crate::poster::PostError::Transient
//! [`PostError::PayloadTooLarge`]: crate::poster::PostError::PayloadTooLarge
//! [`PostError::Forbidden`]: crate::poster::PostError::Forbidden

mod config;
mod delivery;
pub mod lambda;
mod occupancy;
mod stream;

pub use config::{FanoutConfig, FanoutConfigError};
pub use delivery::{DeliveryReport, Fanout, FanoutError};
pub use lambda::deadline_from_epoch_millis;
