//! In-memory `CommentStore` and `LikeStore`, sharing one state so that a like and the
//! comment's count change together, as the DynamoDB transaction does.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use super::cursor;
use crate::ids::{ClientKey, CommentId, EventId, UserId};
use crate::model::{Comment, LikeOutcome, ModerationStatus, NewComment};
use crate::room::Position;
use crate::store::{
    Appended, CommentStore, Cursor, LikeStore, Order, Page, Slice, StoreError, StoreResult, Window,
};
use crate::time::Timestamp;

use super::claims::Claims;

/// State shared by the comment and like stores.
#[derive(Default)]
pub struct CommentState {
    /// Comments of each event; index `i` holds position `i + 1`.
    streams: HashMap<EventId, Vec<Comment>>,
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

impl CommentState {
    fn get_mut(&mut self, id: CommentId) -> Option<&mut Comment> {
        let (event, pos) = *self.by_id.get(&id)?;
        self.streams
            .get_mut(&event)?
            .get_mut(usize::try_from(pos.0).ok()?.checked_sub(1)?)
    }

    fn get(&self, id: CommentId) -> Option<&Comment> {
        let (event, pos) = *self.by_id.get(&id)?;
        self.streams
            .get(&event)?
            .get(usize::try_from(pos.0).ok()?.checked_sub(1)?)
    }
}

/// Reads a position window from a stream where index `i` holds position `i + 1`.
pub fn window_of<T: Clone>(stream: &[T], w: Window) -> Slice<T> {
    let lo = w.after.map_or(0, |p| p.0) as usize; // first index after `after`
    let hi = w.before.map_or(stream.len(), |p| {
        (p.0.saturating_sub(1) as usize).min(stream.len())
    });
    if lo >= hi {
        return Slice {
            items: Vec::new(),
            has_more: false,
        };
    }
    let all = &stream[lo..hi];
    let limit = w.limit.max(1);
    let items: Vec<T> = match w.order {
        Order::Oldest => all.iter().take(limit).cloned().collect(),
        Order::Newest => all.iter().rev().take(limit).cloned().collect(),
    };
    Slice {
        has_more: all.len() > items.len(),
        items,
    }
}

/// In-memory `CommentStore`.
#[derive(Default, Clone)]
pub struct MemoryCommentStore {
    state: SharedComments,
}

impl MemoryCommentStore {
    /// A store over shared state (give the same state to [`MemoryLikeStore::new`]).
    pub fn new(state: SharedComments) -> Self {
        Self { state }
    }
}

#[async_trait]
impl CommentStore for MemoryCommentStore {
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
        let stream = g.streams.entry(c.event_id).or_default();
        let position = Position(stream.len() as u64 + 1);
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
        stream.push(comment.clone());
        g.by_id.insert(id, (event, position));
        if let Some(key) = key {
            g.claims
                .insert((event, user, key), id, fingerprint, at, window);
        }
        if let Some(p) = parent.and_then(|p| g.get_mut(p)) {
            p.reply_count += 1;
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
        Ok(window_of(
            g.streams.get(&event).map_or(&[][..], Vec::as_slice),
            window,
        ))
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
            .map_or(&[][..], Vec::as_slice)
            .iter()
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
            .map_or(&[][..], Vec::as_slice)
            .iter()
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
        }
        Ok(c.clone())
    }

    async fn moderate_comment(
        &self,
        id: CommentId,
        status: ModerationStatus,
        reason: Option<String>,
        by: UserId,
        now: Timestamp,
    ) -> StoreResult<Comment> {
        let mut g = lock(&self.state);
        let c = g.get_mut(id).ok_or(StoreError::NotFound)?;
        c.moderation_status = status;
        c.moderation_reason = reason;
        c.moderated_by = Some(by);
        c.updated_at = now;
        Ok(c.clone())
    }

    async fn head(&self, event: EventId) -> StoreResult<Position> {
        Ok(Position(
            lock(&self.state)
                .streams
                .get(&event)
                .map_or(0, |s| s.len() as u64),
        ))
    }
}

/// In-memory `LikeStore`.
#[derive(Default, Clone)]
pub struct MemoryLikeStore {
    state: SharedComments,
}

impl MemoryLikeStore {
    /// A store over the comment store's state.
    pub fn new(state: SharedComments) -> Self {
        Self { state }
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
        Ok(LikeOutcome {
            liked,
            like_count: c.like_count,
        })
    }

    async fn has_liked(&self, comment: CommentId, user: UserId) -> StoreResult<bool> {
        Ok(lock(&self.state).likes.contains(&(comment, user)))
    }
}
