//! A live event as clients see it (REST responses).

use serde::Serialize;

use crate::ids::EventId;
use crate::model::{CommentSettings, Event, EventStatus, EventType, ModerationLevel};
use crate::time::Timestamp;

use super::UserSummary;

/// An event as clients see it (seed `EventResponse`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    /// The event's id.
    pub event_id: EventId,
    /// Title.
    pub title: String,
    /// Longer description.
    pub description: Option<String>,
    /// `sports`, `news`, `entertainment` or `gaming`.
    pub event_type: EventType,
    /// `scheduled`, `live`, `ended` or `cancelled`.
    pub status: EventStatus,
    /// When it starts.
    pub start_time: Timestamp,
    /// When it ends, if known.
    pub end_time: Option<Timestamp>,
    /// Cap on participants, if any.
    pub max_participants: Option<u32>,
    /// `strict`, `standard` or `relaxed`.
    pub moderation_level: ModerationLevel,
    /// Replies allowed, slow mode, and (for its moderators) blocked words.
    pub comment_settings: CommentSettingsView,
    /// Comments posted so far, replies and later-deleted ones included (the event's
    /// highest comment position).
    pub comment_count: u64,
    /// Connections watching it, as last counted (at most a few seconds old while the
    /// audience moves; estimated within ±10 % above 1,000); 0 before its first viewer.
    pub participant_count: u64,
    /// Who created it.
    pub created_by: UserSummary,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// An event's comment settings as a viewer sees them: its blocked words only when the
/// viewer moderates it (a published list is a list of what to misspell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentSettingsView {
    /// Whether replies (threads) are allowed.
    pub allow_replies: bool,
    /// Minimum seconds between two comments of one user.
    pub slow_mode_seconds: u32,
    /// Words that hold a comment for a moderator; absent unless the viewer moderates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_words: Option<Vec<String>>,
}

impl CommentSettingsView {
    /// `settings` as a moderator of the event (`moderator`) or anyone else sees them.
    pub fn of(settings: &CommentSettings, moderator: bool) -> Self {
        Self {
            allow_replies: settings.allow_replies,
            slow_mode_seconds: settings.slow_mode_seconds,
            blocked_words: moderator.then(|| settings.blocked_words.clone()),
        }
    }
}

/// What an event's view counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventCounts {
    /// Comments posted so far.
    pub comments: u64,
    /// Connections watching, as last counted.
    pub viewers: u64,
}

impl EventView {
    /// The view of `event` with its counts and its creator's summary, as seen by one of its
    /// moderators (`moderator`) or anyone else.
    pub fn new(
        event: &Event,
        counts: EventCounts,
        created_by: UserSummary,
        moderator: bool,
    ) -> Self {
        let settings = &event.comment_settings;
        Self {
            event_id: event.event_id,
            title: event.title.clone(),
            description: event.description.clone(),
            event_type: event.event_type,
            status: event.status,
            start_time: event.start_time,
            end_time: event.end_time,
            max_participants: event.max_participants,
            moderation_level: event.moderation_level,
            comment_settings: CommentSettingsView::of(settings, moderator),
            comment_count: counts.comments,
            participant_count: counts.viewers,
            created_by,
            created_at: event.created_at,
            updated_at: event.updated_at,
        }
    }
}
