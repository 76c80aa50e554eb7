//! Live delivery of room streams: a stream job means "deliver room R as far as it is
//! committed". See the [module documentation](super), "Room streams".

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::delivery::{DeliveryReport, Fanout, FanoutError};
use super::occupancy::count_viewers;
use crate::model::{OCCUPANCY_EVERY, RESERVATION_GRACE, ViewerCount};
use crate::protocol::ServerMessage;
use crate::queue::{FanoutJob, StreamWork};
use crate::room::{Position, Room};
use crate::store::{Claim, DeliveryLease, Release, StreamStore, UserStore};
use crate::stream::{FrameMode, batches, legacy_frames, render};
use crate::time::{Timestamp, now};

/// Entries one pass reads at most (the frames they make are cut at 32 KB).
const PASS_ENTRIES: usize = 500;

/// How often a holder waiting for a viewer count to be due reads its stream meanwhile.
const RECOUNT_POLL: Duration = Duration::from_millis(200);

/// How long a holder waits before it reads again a stream whose next position is reserved
/// but not committed (a writer is between its reservation and its transaction).
const PENDING_POLL: Duration = Duration::from_millis(20);

/// What a stream delivery reads from.
#[derive(Clone)]
pub struct StreamSources {
    /// The room streams and their delivery cursors.
    pub streams: Arc<dyn StreamStore>,
    /// Authors of the comments rendered.
    pub users: Arc<dyn UserStore>,
    /// The media bucket, which signs the links of messages' files.
    pub objects: Option<Arc<dyn crate::objects::ObjectStore>>,
}

/// A room this job holds the delivery of.
#[derive(Clone, Copy)]
struct Held {
    room: Room,
    lease: DeliveryLease,
    until: Timestamp,
    deadline: Instant,
}

/// Wall-clock time of a monotonic `deadline`, for the lease stored with the cursor.
fn wall(deadline: Instant) -> Timestamp {
    let left = deadline.saturating_duration_since(Instant::now());
    now() + chrono::TimeDelta::from_std(left).unwrap_or(chrono::TimeDelta::zero())
}

impl Fanout {
    /// Delivers a stream job: records what it wants, claims the room's delivery cursor (a
    /// job that finds it held by a live lease is done: the holder delivers what it wanted),
    /// then, as long as more is wanted, passes: flush counts if asked, read the entries after
    /// the cursor, render them, post them as `stream_batch` frames (one per subscriber per
    /// 32 KB), move the cursor. Passes of a room with `n` subscribers start at least
    /// `n / post_budget` apart: the holder keeps the room that long after a pass before it
    /// releases it, so the pacing holds across jobs too. Connections a pass leaves unfinished (still 429/5xx at the
    /// stop time) get the frame in a job of their own on the shard queue, so one bad
    /// connection never holds the room back. Near the deadline the holder releases and
    /// enqueues a job to go on.
    pub(super) async fn deliver_stream(
        &self,
        job: &FanoutJob,
        work: StreamWork,
        deadline: Instant,
    ) -> Result<DeliveryReport, FanoutError> {
        let sources = self.streams.as_ref().ok_or(FanoutError::NoStreams)?;
        let store = sources.streams.as_ref();
        let room = job.room;
        let head = store.stream_head(room).await?;
        store.want_delivery(room, Some(head), work.counts).await?;
        let lease = DeliveryLease::new();
        let until = wall(deadline);
        let (mut delivered, mut flush) = match store.claim_delivery(room, lease, until).await? {
            Claim::Busy => {
                tracing::debug!(room = %room, "room being delivered by another job");
                return Ok(DeliveryReport::default());
            }
            Claim::Claimed { delivered, flush } => (delivered, flush),
        };
        let held = Held {
            room,
            lease,
            until,
            deadline,
        };
        let outcome = self
            .passes(sources, &held, &mut delivered, &mut flush)
            .await;
        if outcome.is_err() {
            // Hand the room back now (best effort): the next job (this one retried, or the
            // next change's) claims it at once instead of waiting out the lease.
            let _ = store
                .release_delivery(room, lease, delivered, until, true)
                .await;
        }
        outcome
    }

    /// The passes of a claimed room, until it is released (see [`Fanout::deliver_stream`]);
    /// `delivered` follows each pass.
    async fn passes(
        &self,
        sources: &StreamSources,
        held: &Held,
        delivered: &mut Position,
        flush: &mut bool,
    ) -> Result<DeliveryReport, FanoutError> {
        let store = sources.streams.as_ref();
        let Held {
            room,
            lease,
            until,
            deadline,
        } = *held;
        let mut report = DeliveryReport::default();
        let mut next_pass: Option<Instant> = None;
        // The pending position the passes wait for, and since when.
        let mut waiting: Option<(Position, Instant)> = None;
        // When the room's next viewer count is due, while one is wanted.
        let mut recount_at: Option<Instant> = None;
        // Set once the holder has waited for a count: it counts then, whatever its clock.
        let mut recount_due = false;
        let stop = self.stop_at(deadline);
        loop {
            if std::mem::take(flush)
                && let Room::Event(event) = room
            {
                store.flush_counts(event).await?;
                recount_at = self
                    .recount(store, room, std::mem::take(&mut recount_due))
                    .await?;
            }
            let slice = store.read_stream(room, *delivered, PASS_ENTRIES).await?;
            let last = match (slice.entries.last(), slice.pending) {
                (Some(e), _) => e.position,
                // Waiting for a writer to commit the next position.
                (None, Some(_)) => *delivered,
                // Expired before they were delivered: nothing to send for them.
                (None, None) => slice.head,
            }
            .max(*delivered);
            if let Some(p) = slice.pending {
                if waiting.is_none_or(|(q, _)| q != p) {
                    waiting = Some((p, Instant::now()));
                }
                if let Some((_, since)) = waiting
                    && since.elapsed() >= RESERVATION_GRACE
                {
                    let voided = store.void_position(room, p).await?;
                    tracing::warn!(room = %room, position = p.0, voided, "reserved position voided");
                    waiting = None;
                    continue;
                }
            }
            if last > *delivered {
                let started = Instant::now();
                let items = render(
                    sources.users.as_ref(),
                    sources.objects.as_deref(),
                    &slice.entries,
                )
                .await?;
                let frames: Vec<ServerMessage> = match self.config().frames {
                    FrameMode::Batched => batches(room, *delivered, last, items),
                    FrameMode::PerEntry => legacy_frames(items),
                };
                let mut reached = 0usize;
                let gone_before = report.gone;
                for frame in &frames {
                    let payload = serde_json::to_value(frame)
                        .map_err(|e| FanoutError::Payload(e.to_string()))?;
                    let r = self
                        .deliver(&FanoutJob::new(room, payload.clone()), deadline)
                        .await?;
                    reached = reached.max(
                        r.subscribers
                            .max(r.shards.len() * self.config().shard_target),
                    );
                    if !r.unfinished_connections.is_empty() {
                        // The room moves on; the connections still failing get this frame
                        // in a job of their own (retried by the queue, then dead-lettered).
                        self.shard_queue()
                            .send(&[FanoutJob {
                                targets: Some(r.unfinished_connections.clone()),
                                ..FanoutJob::new(room, payload)
                            }])
                            .await?;
                    }
                    merge(&mut report, r);
                }
                if report.gone > gone_before && matches!(room, Room::Event(_)) {
                    // Connections that vanished without `$disconnect` left the audience.
                    store.want_delivery(room, None, true).await?;
                }
                // The unfinished are retried apart: this pass is done.
                report.unfinished = 0;
                report.unfinished_connections.clear();
                tracing::info!(
                    room = %room,
                    from = delivered.0,
                    to = last.0,
                    frames = frames.len(),
                    subscribers = reached,
                    "stream pass delivered"
                );
                *delivered = last;
                next_pass = Some(started + self.pass_interval(reached, frames.len()));
            }
            if slice.pending.is_some() {
                let poll = Instant::now() + PENDING_POLL;
                next_pass = Some(next_pass.map_or(poll, |at| at.max(poll)));
            }
            // The tick: hold the room until the next pass may start, so what arrives
            // meanwhile goes out together (a pass that only enqueued shard jobs ends at once;
            // releasing then would let the next change start a pass of its own).
            if let Some(at) = next_pass.take() {
                sleep_until(at.min(stop)).await;
            }
            if Instant::now() >= stop {
                store
                    .release_delivery(room, lease, *delivered, until, true)
                    .await?;
                self.go_on(room).await?;
                return Ok(report);
            }
            // A viewer count is wanted but the last is too recent: keep the room until it is
            // due, reading the stream every `RECOUNT_POLL` so that changes still go out.
            if let Some(at) = recount_at {
                if Instant::now() >= at {
                    recount_at = None;
                    recount_due = true;
                    *flush = true;
                } else {
                    sleep_until((Instant::now() + RECOUNT_POLL).min(at).min(stop)).await;
                }
                continue;
            }
            match store
                .release_delivery(room, lease, *delivered, until, false)
                .await?
            {
                Release::Released | Release::Lost => return Ok(report),
                Release::More { flush: f } => *flush = f,
            }
        }
    }

    /// Counts an event's viewers and records the count (an `occupancy` entry when it
    /// changed), unless the last count is younger than [`OCCUPANCY_EVERY`] (and the holder has
    /// not waited for it already, `due`): then returns when the next one is due. Every subscribe, unsubscribe and disconnect of the room asks for a
    /// count (`counts` on its job), so a moving audience is counted every few seconds and a
    /// still one not at all.
    async fn recount(
        &self,
        store: &dyn StreamStore,
        room: Room,
        due: bool,
    ) -> Result<Option<Instant>, FanoutError> {
        let t = now();
        if !due
            && let Some(last) = store.occupancy(room).await?
            && !last.due(t)
        {
            let wait = (last.counted_at + OCCUPANCY_EVERY - t)
                .to_std()
                .unwrap_or_default();
            return Ok(Some(Instant::now() + wait));
        }
        let occupancy = count_viewers(self.connections(), room).await?;
        let at = store
            .record_occupancy(
                room,
                ViewerCount {
                    occupancy,
                    counted_at: t,
                },
            )
            .await?;
        tracing::info!(
            room = %room,
            viewers = occupancy.viewers,
            exact = occupancy.exact,
            changed = at.is_some(),
            "viewers counted"
        );
        Ok(None)
    }

    /// How long after a pass of `frames` frames to `subscribers` the next may start. The
    /// one-frame-per-change delivery is not paced: it is kept as it was, to measure against.
    fn pass_interval(&self, subscribers: usize, frames: usize) -> Duration {
        if self.config().frames == FrameMode::PerEntry {
            return Duration::ZERO;
        }
        let posts = (subscribers * frames.max(1)) as f64;
        Duration::from_secs_f64(posts / f64::from(self.config().post_budget.max(1)))
    }

    /// Enqueues a stream job for `room` so that delivery goes on after this invocation.
    async fn go_on(&self, room: Room) -> Result<(), FanoutError> {
        self.shard_queue()
            .send(&[FanoutJob::stream(room, StreamWork { counts: true })])
            .await?;
        Ok(())
    }
}

/// Adds `r` into `total`.
fn merge(total: &mut DeliveryReport, r: DeliveryReport) {
    total.subscribers = total.subscribers.max(r.subscribers);
    total.delivered += r.delivered;
    total.gone += r.gone;
    total.failed += r.failed;
    total.unfinished += r.unfinished;
    total.excluded += r.excluded;
    total.not_members += r.not_members;
    total.retries += r.retries;
    total.cleanup_failed += r.cleanup_failed;
    total.shards.extend(r.shards);
}
