//! In-memory `CommentStore` and `LikeStore`, sharing one state so that a like and the
//! comment's count change together, as the DynamoDB transaction does. Every change appends its
//! entry to the event's stream ([`super::streams`]) under the same lock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::cursor;
use crate::ids::{ClientKey, CommentId, EventId, UserId};
use crate::model::{Change, Comment, LikeOutcome, ModerationAction, ModerationStatus, NewComment};
use crate::room::{Position, Room};
use crate::store::{
    Appended, CommentStore, Cursor, LikeStore, Order, Page, Slice, StoreError, StoreResult, Window,
};
use crate::time::Timestamp;

use super::claims::Claims;
use super::streams::{SharedStreams, lock as lock_streams};

/// State shared by the comment and like stores.
#[derive(Default)]
pub struct CommentState {
    /// Comments of each event by position (the stream position of their creation).
    streams: HashMap<EventId, BTreeMap<Position, Comment>>,
    /// Comment id → (event, position).
    by_id: HashMap<CommentId, (EventId, Position)>,
    /// (event, author, client key) → comment.
    claims: Claims<(EventId, UserId, ClientKey), CommentId>,
    /// Likes.
    likes: HashSet<(CommentId, UserId)>,
}

/// Shared handle to [`CommentState`].
pub type SharedComments = Arc<Mutex<CommentState>>;

fn lock(s: &SharedComments) -> MutexGuard<'_, CommentState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks the comments (for the stream store's counts flush: comments before streams).
pub fn lock_state(s: &SharedComments) -> MutexGuard<'_, CommentState> {
    lock(s)
}

impl CommentState {
    fn get_mut(&mut self, id: CommentId) -> Option<&mut Comment> {
        let (event, pos) = *self.by_id.get(&id)?;
        self.streams.get_mut(&event)?.get_mut(&pos)
    }

    fn get(&self, id: CommentId) -> Option<&Comment> {
        let (event, pos) = *self.by_id.get(&id)?;
        self.streams.get(&event)?.get(&pos)
    }

    /// The `comment_counts` change of comment `id` as it stands.
    pub fn counts_change(&self, id: CommentId) -> Option<Change> {
        self.get(id).map(Change::counts_of)
    }
}

/// Reads a position window from items keyed by position (positions may skip: other changes
/// of the room hold the positions between).
pub fn window_in<T: Clone>(items: &BTreeMap<Position, T>, w: Window) -> Slice<T> {
    let lo = w.after.map_or(Position(1), Position::next);
    let hi = w
        .before
        .map_or(Position(u64::MAX), |b| Position(b.0.saturating_sub(1)));
    if lo > hi {
        return Slice {
            items: Vec::new(),
            has_more: false,
        };
    }
    let range = items.range(lo..=hi);
    let limit = w.limit.max(1);
    let all: Vec<&T> = match w.order {
        Order::Oldest => range.map(|(_, v)| v).take(limit + 1).collect(),
        Order::Newest => range.rev().map(|(_, v)| v).take(limit + 1).collect(),
    };
    Slice {
        has_more: all.len() > limit,
        items: all.into_iter().take(limit).cloned().collect(),
    }
}

/// In-memory `CommentStore`.
#[derive(Default, Clone)]
pub struct MemoryCommentStore {
    state: SharedComments,
    streams: SharedStreams,
}

impl MemoryCommentStore {
    /// A store over shared state (give the same state to [`MemoryLikeStore::new`]).
    pub fn new(state: SharedComments, streams: SharedStreams) -> Self {
        Self { state, streams }
    }
}

#[async_trait]
impl CommentStore for MemoryCommentStore {
    async fn claimed_comment(&self, c: &NewComment) -> StoreResult<Option<Comment>> {
        let Some(key) = &c.client_key else {
            return Ok(None);
        };
        let g = lock(&self.state);
        let claimed = g.claims.check(
            &(c.event_id, c.user_id, key.clone()),
            &c.fingerprint(),
            c.created_at,
        )?;
        Ok(claimed.and_then(|id| g.get(id).cloned()))
    }

    async fn append_comment(&self, c: NewComment) -> StoreResult<Appended<Comment>> {
        let mut g = lock(&self.state);
        let fingerprint = c.fingerprint();
        if let Some(key) = &c.client_key
            && let Some(id) = g.claims.check(
                &(c.event_id, c.user_id, key.clone()),
                &fingerprint,
                c.created_at,
            )?
        {
            let original = g.get(id).cloned().ok_or(StoreError::NotFound)?;
            return Ok(Appended {
                item: original,
                created: false,
            });
        }
        if let Some(parent) = c.parent_comment_id {
            match g.by_id.get(&parent) {
                Some((event, _)) if *event == c.event_id => {}
                _ => return Err(StoreError::NotFound),
            }
        }
        let mut streams = lock_streams(&self.streams);
        let room = Room::Event(c.event_id);
        let position = streams.next_position(room);
        let (id, event, parent, key, user, at, window) = (
            c.comment_id,
            c.event_id,
            c.parent_comment_id,
            c.client_key.clone(),
            c.user_id,
            c.created_at,
            c.claim_window,
        );
        let comment = c.into_comment(position);
        streams.append(
            room,
            at,
            Change::CommentCreated {
                comment: comment.clone(),
            },
        );
        g.streams
            .entry(event)
            .or_default()
            .insert(position, comment.clone());
        g.by_id.insert(id, (event, position));
        if let Some(key) = key {
            g.claims
                .insert((event, user, key), id, fingerprint, at, window);
        }
        if let Some(p) = parent.and_then(|p| g.get_mut(p)) {
            p.reply_count += 1;
            streams.mark_dirty(event, p.comment_id);
        }
        Ok(Appended {
            item: comment,
            created: true,
        })
    }

    async fn get_comment(&self, id: CommentId) -> StoreResult<Option<Comment>> {
        Ok(lock(&self.state).get(id).cloned())
    }

    async fn list_comments(&self, event: EventId, window: Window) -> StoreResult<Slice<Comment>> {
        let g = lock(&self.state);
        Ok(g.streams
            .get(&event)
            .map_or_else(Slice::default, |items| window_in(items, window)))
    }

    async fn list_popular(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Comment>> {
        let pk = format!("TOP#{event}");
        let after = cursor
            .map(|c| cursor::decode(c, "gsi2sk", &[("gsi2pk", &pk)]))
            .transpose()?;
        let g = lock(&self.state);
        // Descending by (like_count, position): keys are inverted so ascending order reads
        // most liked first, matching the GSI read with ScanIndexForward = false.
        let mut rows: Vec<(String, Comment)> = g
            .streams
            .get(&event)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|c| c.parent_comment_id.is_none())
            .map(|c| {
                (
                    format!(
                        "{:020}#{:020}",
                        u64::MAX - c.like_count,
                        u64::MAX - c.position.0
                    ),
                    c.clone(),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next) = cursor::page(&rows, after.as_deref(), limit);
        Ok(Page {
            items,
            next: next.map(|k| cursor::encode(&[("gsi2pk", pk.clone()), ("gsi2sk", k)])),
        })
    }

    async fn list_pending(
        &self,
        event: EventId,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Comment>> {
        let after = cursor
            .map(|c| c.0.parse::<u64>().map_err(|_| StoreError::InvalidCursor))
            .transpose()?;
        let g = lock(&self.state);
        let pending: Vec<&Comment> = g
            .streams
            .get(&event)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|c| c.moderation_status == ModerationStatus::Pending && !c.is_deleted)
            .filter(|c| after.is_none_or(|a| c.position.0 > a))
            .collect();
        let limit = limit.max(1);
        let next =
            (pending.len() > limit).then(|| Cursor(pending[limit - 1].position.0.to_string()));
        Ok(Page {
            items: pending.into_iter().take(limit).cloned().collect(),
            next,
        })
    }

    async fn list_replies(
        &self,
        parent: CommentId,
        after: Option<Position>,
        limit: usize,
    ) -> StoreResult<Slice<Comment>> {
        let g = lock(&self.state);
        let Some((event, _)) = g.by_id.get(&parent) else {
            return Ok(Slice {
                items: Vec::new(),
                has_more: false,
            });
        };
        let replies: Vec<&Comment> = g
            .streams
            .get(event)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|c| c.parent_comment_id == Some(parent))
            .filter(|c| after.is_none_or(|a| c.position > a))
            .collect();
        let limit = limit.max(1);
        Ok(Slice {
            has_more: replies.len() > limit,
            items: replies.into_iter().take(limit).cloned().collect(),
        })
    }

    async fn delete_comment(
        &self,
        id: CommentId,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment> {
        let mut g = lock(&self.state);
        let c = g.get_mut(id).ok_or(StoreError::NotFound)?;
        if !c.is_deleted {
            c.is_deleted = true;
            c.deleted_at = Some(now);
            c.deleted_by = Some(by);
            c.updated_at = now;
            lock_streams(&self.streams).append(
                Room::Event(c.event_id),
                now,
                Change::CommentDeleted { comment: c.clone() },
            );
        }
        Ok(c.clone())
    }

    async fn moderate_comment(
        &self,
        id: CommentId,
        action: ModerationAction,
        reason: Option<String>,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment> {
        let mut g = lock(&self.state);
        let c = g.get_mut(id).ok_or(StoreError::NotFound)?;
        let was_pending = c.moderation_status == ModerationStatus::Pending;
        c.moderation_status = action.status();
        c.moderation_reason = reason;
        c.moderated_by = Some(by);
        c.updated_at = now;
        lock_streams(&self.streams).append(
            Room::Event(c.event_id),
            now,
            Change::CommentModerated {
                comment: c.clone(),
                action,
                was_pending,
            },
        );
        Ok(c.clone())
    }

    async fn head(&self, event: EventId) -> StoreResult<Position> {
        Ok(lock_streams(&self.streams).head(Room::Event(event)))
    }

    async fn comment_count(&self, event: EventId) -> StoreResult<u64> {
        Ok(lock(&self.state)
            .streams
            .get(&event)
            .map_or(0, |c| c.len() as u64))
    }
}

/// In-memory `LikeStore`.
#[derive(Default, Clone)]
pub struct MemoryLikeStore {
    state: SharedComments,
    streams: SharedStreams,
}

impl MemoryLikeStore {
    /// A store over the comment store's state.
    pub fn new(state: SharedComments, streams: SharedStreams) -> Self {
        Self { state, streams }
    }
}

#[async_trait]
impl LikeStore for MemoryLikeStore {
    async fn toggle_like(&self, comment: CommentId, user: UserId) -> StoreResult<LikeOutcome> {
        let mut g = lock(&self.state);
        if g.get(comment).is_none() {
            return Err(StoreError::NotFound);
        }
        let liked = if g.likes.remove(&(comment, user)) {
            false
        } else {
            g.likes.insert((comment, user));
            true
        };
        let c = g.get_mut(comment).ok_or(StoreError::NotFound)?;
        c.like_count = if liked {
            c.like_count + 1
        } else {
            c.like_count.saturating_sub(1)
        };
        lock_streams(&self.streams).mark_dirty(c.event_id, c.comment_id);
        Ok(LikeOutcome {
            liked,
            like_count: c.like_count,
        })
    }

    async fn has_liked(&self, comment: CommentId, user: UserId) -> StoreResult<bool> {
        Ok(lock(&self.state).likes.contains(&(comment, user)))
    }
}
