//! In-memory room streams: the entries every change appends, the count markers likes and
//! replies leave, and each room's delivery cursor. Shared by every in-memory store that
//! changes a room; each takes this lock last (after its own), so the locks never cycle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::comments::SharedComments;
use crate::ids::{CommentId, EventId};
use crate::model::{Change, StreamEntry, StreamSlice, ViewerCount};
use crate::room::{Position, Room};
use crate::store::{Claim, DeliveryLease, Release, StoreResult, StreamStore};
use crate::time::{Timestamp, now};

/// One room's stream.
#[derive(Default)]
pub struct RoomStream {
    /// Index `i` holds position `i + 1`.
    entries: Vec<StreamEntry>,
    /// Comments whose counts changed since their last counts entry, with a change counter.
    dirty: HashMap<CommentId, u64>,
    /// Highest position delivered live.
    delivered: Position,
    /// Highest position some job asked to deliver.
    wanted: Position,
    /// Whether a counts flush was asked for.
    flush: bool,
    /// The delivering job and until when its lease holds.
    lease: Option<(DeliveryLease, Timestamp)>,
    /// The last viewer count recorded.
    occupancy: Option<ViewerCount>,
}

/// Every room's stream.
#[derive(Default)]
pub struct StreamState {
    rooms: HashMap<Room, RoomStream>,
}

/// Shared handle to [`StreamState`].
pub type SharedStreams = Arc<Mutex<StreamState>>;

/// Locks the streams (always the last lock a store takes).
pub fn lock(s: &SharedStreams) -> MutexGuard<'_, StreamState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl StreamState {
    /// The next position of `room`.
    pub fn next_position(&self, room: Room) -> Position {
        self.head(room).next()
    }

    /// The committed head of `room`.
    pub fn head(&self, room: Room) -> Position {
        Position(self.rooms.get(&room).map_or(0, |r| r.entries.len() as u64))
    }

    /// Appends `change` at the next position of `room`; returns the position.
    pub fn append(&mut self, room: Room, at: Timestamp, change: Change) -> Position {
        let stream = self.rooms.entry(room).or_default();
        let position = Position(stream.entries.len() as u64 + 1);
        stream.entries.push(StreamEntry {
            position,
            at,
            change,
        });
        position
    }

    /// Marks a comment's counts as changed.
    pub fn mark_dirty(&mut self, event: EventId, comment: CommentId) {
        *self
            .rooms
            .entry(Room::Event(event))
            .or_default()
            .dirty
            .entry(comment)
            .or_default() += 1;
    }
}

/// In-memory `StreamStore`.
#[derive(Clone)]
pub struct MemoryStreamStore {
    streams: SharedStreams,
    comments: SharedComments,
}

impl MemoryStreamStore {
    /// The store over the shared streams and the comments (for counts).
    pub fn new(streams: SharedStreams, comments: SharedComments) -> Self {
        Self { streams, comments }
    }
}

#[async_trait]
impl StreamStore for MemoryStreamStore {
    async fn read_stream(
        &self,
        room: Room,
        after: Position,
        limit: usize,
    ) -> StoreResult<StreamSlice> {
        let g = lock(&self.streams);
        let cutoff = now() - crate::model::STREAM_RETENTION;
        let entries = g.rooms.get(&room).map_or(&[][..], |r| r.entries.as_slice());
        let start = usize::try_from(after.0)
            .unwrap_or(usize::MAX)
            .min(entries.len());
        let live: Vec<&StreamEntry> = entries[start..].iter().filter(|e| e.at > cutoff).collect();
        let limit = limit.max(1);
        Ok(StreamSlice {
            has_more: live.len() > limit,
            entries: live.into_iter().take(limit).cloned().collect(),
            head: Position(entries.len() as u64),
            // One lock commits a position with its entry: none is ever pending here.
            pending: None,
        })
    }

    async fn stream_head(&self, room: Room) -> StoreResult<Position> {
        Ok(lock(&self.streams).head(room))
    }

    /// Positions are taken with their entries under one lock: none is ever left to void.
    async fn void_position(&self, _room: Room, _position: Position) -> StoreResult<bool> {
        Ok(false)
    }

    async fn flush_counts(&self, event: EventId) -> StoreResult<Option<Position>> {
        let comments = super::comments::lock_state(&self.comments);
        let mut g = lock(&self.streams);
        let room = Room::Event(event);
        let dirty: Vec<CommentId> = match g.rooms.get_mut(&room) {
            Some(r) => r.dirty.drain().map(|(id, _)| id).collect(),
            None => return Ok(None),
        };
        let mut last = None;
        for id in dirty {
            if let Some(change) = comments.counts_change(id) {
                last = Some(g.append(room, now(), change));
            }
        }
        Ok(last)
    }

    async fn occupancy(&self, room: Room) -> StoreResult<Option<ViewerCount>> {
        Ok(lock(&self.streams)
            .rooms
            .get(&room)
            .and_then(|r| r.occupancy))
    }

    async fn record_occupancy(
        &self,
        room: Room,
        count: ViewerCount,
    ) -> StoreResult<Option<Position>> {
        let mut g = lock(&self.streams);
        let last = g.rooms.entry(room).or_default().occupancy;
        if last.is_some_and(|l| l.counted_at > count.counted_at) {
            return Ok(None);
        }
        let changed = last.is_none_or(|l| l.occupancy != count.occupancy);
        let appended = match (changed, room) {
            (true, Room::Event(event_id)) => Some(g.append(
                room,
                count.counted_at,
                Change::Occupancy {
                    event_id,
                    viewers: count.occupancy.viewers,
                    exact: count.occupancy.exact,
                },
            )),
            _ => None,
        };
        g.rooms.entry(room).or_default().occupancy = Some(count);
        Ok(appended)
    }

    async fn want_delivery(
        &self,
        room: Room,
        upto: Option<Position>,
        counts: bool,
    ) -> StoreResult<()> {
        let mut g = lock(&self.streams);
        let r = g.rooms.entry(room).or_default();
        if let Some(p) = upto {
            r.wanted = r.wanted.max(p);
        }
        r.flush |= counts;
        Ok(())
    }

    async fn claim_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        until: Timestamp,
    ) -> StoreResult<Claim> {
        let mut g = lock(&self.streams);
        let r = g.rooms.entry(room).or_default();
        let t = now();
        if r.lease.as_ref().is_some_and(|(_, u)| *u > t) {
            return Ok(Claim::Busy);
        }
        r.lease = Some((lease, until));
        let flush = std::mem::take(&mut r.flush);
        Ok(Claim::Claimed {
            delivered: r.delivered,
            flush,
        })
    }

    async fn release_delivery(
        &self,
        room: Room,
        lease: DeliveryLease,
        delivered: Position,
        until: Timestamp,
        force: bool,
    ) -> StoreResult<Release> {
        let mut g = lock(&self.streams);
        let r = g.rooms.entry(room).or_default();
        if r.lease.as_ref().is_none_or(|(l, _)| *l != lease) {
            return Ok(Release::Lost);
        }
        r.delivered = r.delivered.max(delivered);
        if !force && (r.wanted > r.delivered || r.flush) {
            r.lease = Some((lease, until));
            let flush = std::mem::take(&mut r.flush);
            return Ok(Release::More { flush });
        }
        r.lease = None;
        Ok(Release::Released)
    }
}
