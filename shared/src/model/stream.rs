//! Room streams: every change to a room (an event's comments, a conversation's messages) as
//! an entry at a gap-free position, committed in the same transaction as the change itself.
//! Catch-up replays entries; live delivery sends them in coalesced frames
//! (`docs/data-model.md`, "Room streams").

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, ConversationId, EventId, UserId};
use crate::model::{Comment, EventStatus, Message, ModerationAction};
use crate::room::Position;
use crate::time::Timestamp;

/// How long a stream keeps its entries (`ttl_epoch` = written + this). A client resuming
/// from an older position is told to reload (`reset` in the subscribe ack), never left with
/// a silent gap.
pub const STREAM_RETENTION: TimeDelta = TimeDelta::hours(24);

/// How long a reserved position may stay without its entry before the room's delivery voids
/// it ([`Change::Void`]). A writer commits within one transaction of reserving; one that is
/// slower (or crashed) loses the position and, if alive, reserves another.
pub const RESERVATION_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// One change to a room. Entries hold what the change left (absolute counts, whole items),
/// so replaying one twice, or after a REST read that already shows it, changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A comment was posted. A pending one is in the stream (its position is taken) but is
    /// shown to nobody until approved.
    CommentCreated {
        /// The comment as posted.
        comment: Comment,
    },
    /// A comment was soft-deleted.
    CommentDeleted {
        /// The comment after the delete.
        comment: Comment,
    },
    /// A moderator acted on a comment.
    CommentModerated {
        /// The comment after the action.
        comment: Comment,
        /// What was done.
        action: ModerationAction,
        /// Whether it was pending before (an approval then shows it for the first time).
        was_pending: bool,
    },
    /// Like and reply counts of a comment as they stood when the entry was written: likes
    /// and replies are coalesced (one entry per comment per flush, not per toggle).
    CommentCounts {
        /// The comment.
        comment_id: CommentId,
        /// Its event.
        event_id: EventId,
        /// Where the comment itself is.
        comment_position: Position,
        /// Likes then.
        like_count: u64,
        /// Replies then.
        reply_count: u64,
        /// Whether the comment is still pending (then nobody is told).
        pending: bool,
    },
    /// The event changed status.
    EventStatus {
        /// The event.
        event_id: EventId,
        /// Before.
        from: EventStatus,
        /// After.
        to: EventStatus,
    },
    /// The event's settings changed (title, description, moderation, comment settings,
    /// moderators): the event as it now is.
    EventUpdated {
        /// The event after the change.
        event: crate::model::Event,
    },
    /// A message was sent.
    MessageCreated {
        /// The message as sent.
        message: Message,
    },
    /// A message was edited, deleted or reacted to.
    MessageUpdated {
        /// The message after the change.
        message: Message,
    },
    /// Participants joined or left a group.
    ParticipantsChanged {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who joined.
        added: Vec<UserId>,
        /// Who left or was removed.
        removed: Vec<UserId>,
        /// Who made the change.
        by: UserId,
    },
    /// The event's audience was counted and had changed (at most one entry per
    /// [`crate::model::OCCUPANCY_EVERY`]).
    Occupancy {
        /// The event.
        event_id: EventId,
        /// Connections watching.
        viewers: u64,
        /// Whether counted exactly (else estimated from a sample).
        exact: bool,
    },
    /// Nothing: the position was reserved by a writer that did not commit (its change was
    /// refused, it failed, or it was slower than [`RESERVATION_GRACE`]). Shown to nobody; a
    /// batch's range covers it like any other position.
    Void,
}

impl Change {
    /// The `comment_counts` change of `c` as it stands (both adapters' counts flush).
    pub fn counts_of(c: &Comment) -> Self {
        Self::CommentCounts {
            comment_id: c.comment_id,
            event_id: c.event_id,
            comment_position: c.position,
            like_count: c.like_count,
            reply_count: c.reply_count,
            pending: c.moderation_status == crate::model::ModerationStatus::Pending,
        }
    }
}

/// A change at its position in a room's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// Its place in the room's stream: 1, 2, 3, … without gaps.
    pub position: Position,
    /// When it was committed.
    pub at: Timestamp,
    /// What changed.
    pub change: Change,
}

/// A read of a stream after some position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamSlice {
    /// The entries after the position asked, oldest first.
    pub entries: Vec<StreamEntry>,
    /// Whether more entries lie beyond the last one.
    pub has_more: bool,
    /// The room's head when read: the highest position reserved (0 for a room with no
    /// changes yet).
    pub head: Position,
    /// The position after the entries when its writer has reserved it but not committed yet:
    /// the read stops there, and what lies beyond waits for it (or for its void).
    pub pending: Option<Position>,
}

/// Why a client must reload from REST instead of resuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamReset {
    /// The entries after its position are past [`STREAM_RETENTION`] and gone.
    Expired,
    /// Its position is beyond the room's head: the stream was rebuilt (a restored table).
    Ahead,
}

impl StreamSlice {
    /// Whether a client at `since` can resume from this read, or must reload: the first entry
    /// must follow `since` directly (entries expire oldest first), and `since` must not be
    /// past the head. A next position that is only pending is no reason to reload.
    pub fn reset_for(&self, since: Position) -> Option<StreamReset> {
        if since > self.head {
            return Some(StreamReset::Ahead);
        }
        match self.entries.first() {
            Some(first) if first.position != since.next() => Some(StreamReset::Expired),
            None if self.head > since && self.pending.is_none() => Some(StreamReset::Expired),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventId;
    use crate::time::now;

    fn entry(p: u64) -> StreamEntry {
        StreamEntry {
            position: Position(p),
            at: now(),
            change: Change::EventStatus {
                event_id: EventId::new(),
                from: EventStatus::Scheduled,
                to: EventStatus::Live,
            },
        }
    }

    fn slice(entries: &[u64], head: u64) -> StreamSlice {
        StreamSlice {
            entries: entries.iter().copied().map(entry).collect(),
            has_more: false,
            head: Position(head),
            pending: None,
        }
    }

    #[test]
    fn a_client_resumes_only_where_nothing_before_the_first_entry_is_gone() {
        let since = Position(4);
        assert_eq!(
            slice(&[5, 6], 6).reset_for(since),
            None,
            "the next entry follows"
        );
        assert_eq!(slice(&[], 4).reset_for(since), None, "nothing new");
        assert_eq!(
            slice(&[7, 8], 8).reset_for(since),
            Some(StreamReset::Expired),
            "5 and 6 expired"
        );
        assert_eq!(
            slice(&[], 8).reset_for(since),
            Some(StreamReset::Expired),
            "everything after 4 expired"
        );
        assert_eq!(slice(&[], 3).reset_for(since), Some(StreamReset::Ahead));
        let waiting = StreamSlice {
            pending: Some(Position(5)),
            ..slice(&[], 8)
        };
        assert_eq!(waiting.reset_for(since), None, "5 is reserved, not gone");
    }
}
