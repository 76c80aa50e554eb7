//! Live events: the rooms that comments belong to.

use serde::{Deserialize, Serialize};

use crate::ids::{EventId, UserId};
use crate::time::Timestamp;
use crate::validate::{FieldError, ValidationErrors, optional_text, text};

/// Lifecycle of an event. Comments are accepted only while it is `live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Announced, not started.
    Scheduled,
    /// Running: comments open.
    Live,
    /// Over: comments closed, history readable.
    Ended,
    /// Called off.
    Cancelled,
}

impl EventStatus {
    /// Every status, for listing.
    pub const ALL: [EventStatus; 4] = [Self::Scheduled, Self::Live, Self::Ended, Self::Cancelled];

    /// The wire name (`live`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Ended => "ended",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether an event may move from `self` to `to`. Ended and cancelled are final.
    pub fn can_become(self, to: EventStatus) -> bool {
        use EventStatus::*;
        matches!(
            (self, to),
            (Scheduled, Live) | (Scheduled, Cancelled) | (Live, Ended) | (Live, Cancelled)
        )
    }
}

impl std::str::FromStr for EventStatus {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| FieldError::new("status", "must be scheduled, live, ended or cancelled"))
    }
}

/// What kind of event it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A match or race.
    Sports,
    /// A news broadcast.
    News,
    /// A show, concert or premiere.
    Entertainment,
    /// A stream or tournament.
    Gaming,
}

/// How strictly comments are moderated. The event's moderators' own comments are never held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModerationLevel {
    /// Every new comment waits for a moderator (`pending`).
    Strict,
    /// Comments with one of the event's blocked words, or with a link, wait for a moderator;
    /// the rest appear at once.
    #[default]
    Standard,
    /// Nothing waits; moderators act after.
    Relaxed,
}

/// Per-event comment settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentSettings {
    /// Whether replies (threads) are allowed.
    #[serde(default = "yes")]
    pub allow_replies: bool,
    /// Minimum seconds between two comments of one user (0: off; `5.0` counts as `5`).
    #[serde(default, deserialize_with = "crate::integer::exact")]
    pub slow_mode_seconds: u32,
    /// Words and phrases that hold a comment for a moderator under `standard` moderation
    /// (whole words, case and accents ignored; at most
    /// [`MAX_BLOCKED_WORDS`](crate::model::words::MAX_BLOCKED_WORDS)).
    #[serde(default)]
    pub blocked_words: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for CommentSettings {
    fn default() -> Self {
        Self {
            allow_replies: true,
            slow_mode_seconds: 0,
            blocked_words: Vec::new(),
        }
    }
}

/// The most moderators an event's creator may appoint.
pub const MAX_EVENT_MODERATORS: usize = 50;

/// A live event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's id.
    pub event_id: EventId,
    /// Title, 1..=255 characters.
    pub title: String,
    /// Longer description.
    pub description: Option<String>,
    /// Kind of event.
    pub event_type: EventType,
    /// Where it is in its lifecycle.
    pub status: EventStatus,
    /// When it starts.
    pub start_time: Timestamp,
    /// When it ends, if known.
    pub end_time: Option<Timestamp>,
    /// Cap on concurrent participants.
    pub max_participants: Option<u32>,
    /// Moderation strictness.
    pub moderation_level: ModerationLevel,
    /// Comment settings.
    pub comment_settings: CommentSettings,
    /// Who created it (moderates it).
    pub created_by: UserId,
    /// Users the creator appointed to moderate it (at most [`MAX_EVENT_MODERATORS`]).
    #[serde(default)]
    pub moderators: Vec<UserId>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Validated input for a new event.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Kind.
    pub event_type: EventType,
    /// Start.
    pub start_time: Timestamp,
    /// End.
    pub end_time: Option<Timestamp>,
    /// Participant cap.
    pub max_participants: Option<u32>,
    /// Moderation strictness.
    pub moderation_level: ModerationLevel,
    /// Comment settings.
    pub comment_settings: CommentSettings,
}

impl NewEvent {
    /// Validates the free-text and timing fields, reporting each failure.
    #[allow(clippy::too_many_arguments)]
    pub fn validate(
        title: &str,
        description: Option<&str>,
        event_type: EventType,
        start_time: Timestamp,
        end_time: Option<Timestamp>,
        max_participants: Option<u32>,
        moderation_level: ModerationLevel,
        comment_settings: CommentSettings,
    ) -> Result<Self, ValidationErrors> {
        let mut errs = ValidationErrors::new();
        let title = errs.check(text("title", title, 1, 255));
        let description = errs.check(optional_text("description", description, 5000));
        if let Some(end) = end_time
            && end <= start_time
        {
            errs.add("end_time", "must be after start_time");
        }
        if max_participants == Some(0) {
            errs.add("max_participants", "must be at least 1");
        }
        errs.finish()?;
        match (title, description) {
            (Some(title), Some(description)) => Ok(Self {
                title,
                description,
                event_type,
                start_time,
                end_time,
                max_participants,
                moderation_level,
                comment_settings,
            }),
            _ => Err(ValidationErrors::new()),
        }
    }

    /// The stored event this input creates, `scheduled`.
    pub fn into_event(self, created_by: UserId, now: Timestamp) -> Event {
        Event {
            event_id: EventId::new(),
            title: self.title,
            description: self.description,
            event_type: self.event_type,
            status: EventStatus::Scheduled,
            start_time: self.start_time,
            end_time: self.end_time,
            max_participants: self.max_participants,
            moderation_level: self.moderation_level,
            comment_settings: self.comment_settings,
            created_by,
            moderators: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn status_transitions() {
        use EventStatus::*;
        assert!(Scheduled.can_become(Live));
        assert!(Live.can_become(Ended));
        assert!(!Ended.can_become(Live));
        assert!(!Cancelled.can_become(Scheduled));
        assert_eq!("live".parse::<EventStatus>().unwrap(), Live);
        assert!("over".parse::<EventStatus>().is_err());
    }

    #[test]
    fn new_event_checks_timing_and_title() {
        let now = crate::time::now();
        let err = NewEvent::validate(
            " ",
            None,
            EventType::Sports,
            now,
            Some(now - Duration::hours(1)),
            Some(0),
            ModerationLevel::Standard,
            CommentSettings::default(),
        )
        .unwrap_err();
        let fields: Vec<_> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "end_time", "max_participants"]);
    }
}
