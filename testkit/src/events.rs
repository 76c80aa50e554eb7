//! Events, stored with the status a test needs.

use banter::app::App;
use banter::ids::{EventId, UserId};
use banter::model::{CommentSettings, Event, EventStatus, EventType, ModerationLevel};
use banter::time::{Timestamp, now};

/// A sports event of `creator` with `status`, starting at `start`, with standard moderation
/// and the default comment settings; not stored.
pub fn event_by(creator: UserId, status: EventStatus, start: Timestamp) -> Event {
    let t = now();
    Event {
        event_id: EventId::new(),
        title: "Cup final".into(),
        description: Some("Live comments".into()),
        event_type: EventType::Sports,
        status,
        start_time: start,
        end_time: None,
        max_participants: None,
        moderation_level: ModerationLevel::Standard,
        comment_settings: CommentSettings::default(),
        created_by: creator,
        moderators: Vec::new(),
        created_at: t,
        updated_at: t,
    }
}

/// The status changes that take a scheduled event to `status`.
fn path_to(status: EventStatus) -> &'static [EventStatus] {
    match status {
        EventStatus::Scheduled => &[],
        EventStatus::Live => &[EventStatus::Live],
        EventStatus::Ended => &[EventStatus::Live, EventStatus::Ended],
        EventStatus::Cancelled => &[EventStatus::Cancelled],
    }
}

/// Stores `event` as every event starts, scheduled, and moves it to its `status` through the
/// store's status changes, as an event's life would.
pub async fn store_event(app: &App, event: &Event) {
    let events = &app.stores.events;
    let created = Event {
        status: EventStatus::Scheduled,
        ..event.clone()
    };
    events
        .create_event(&created)
        .await
        .expect("store the event");
    let mut from = EventStatus::Scheduled;
    for to in path_to(event.status) {
        events
            .set_status(event.event_id, from, *to, now())
            .await
            .unwrap_or_else(|e| panic!("move the event from {from:?} to {to:?}: {e}"));
        from = *to;
    }
}

/// Stores an event of `creator` with `status`, starting now (see [`event_by`]).
pub async fn seed_event(app: &App, creator: UserId, status: EventStatus) -> Event {
    let event = event_by(creator, status, now());
    store_event(app, &event).await;
    event
}
