//! Conformance cases for the events store.

use std::collections::HashSet;

use banter::ids::{EventId, UserId};
use banter::model::{CommentSettings, Event, EventStatus, EventType, ModerationLevel};
use banter::store::*;
use banter::time::{Timestamp, now};
use chrono::Duration;

fn event(title: &str, status: EventStatus, start_time: Timestamp) -> Event {
    let t = now();
    Event {
        event_id: EventId::new(),
        title: title.to_owned(),
        description: Some(format!("About {title}")),
        event_type: EventType::Sports,
        status,
        start_time,
        end_time: Some(start_time + Duration::hours(2)),
        max_participants: Some(5000),
        moderation_level: ModerationLevel::Standard,
        comment_settings: CommentSettings {
            allow_replies: true,
            slow_mode_seconds: 5,
            blocked_words: vec!["scam".into(), "free money".into()],
        },
        created_by: UserId::new(),
        moderators: vec![UserId::new()],
        created_at: t,
        updated_at: t,
    }
}

/// Reads every page of a listing; checks each page's size.
async fn list_all(stores: &Stores, status: EventStatus, limit: usize) -> (Vec<Event>, usize) {
    crate::read_pages("listing", limit, 50, |cursor| async move {
        stores
            .events
            .list_events(status, limit, cursor.as_ref())
            .await
    })
    .await
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|e| e.event_id).collect()
}

async fn create_and_get_event(stores: Stores) {
    let e = event("Final", EventStatus::Scheduled, now() + Duration::days(1));
    stores.events.create_event(&e).await.unwrap();
    assert_eq!(
        stores.events.get_event(e.event_id).await.unwrap(),
        Some(e.clone())
    );
    assert_eq!(stores.events.get_event(EventId::new()).await.unwrap(), None);
    assert!(matches!(
        stores.events.create_event(&e).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn set_status_is_conditional(stores: Stores) {
    let e = event("Derby", EventStatus::Scheduled, now() + Duration::hours(1));
    stores.events.create_event(&e).await.unwrap();

    let t = now() + Duration::seconds(3);
    let live = stores
        .events
        .set_status(e.event_id, EventStatus::Scheduled, EventStatus::Live, t)
        .await
        .unwrap();
    assert_eq!(
        live,
        Event {
            status: EventStatus::Live,
            updated_at: t,
            ..e.clone()
        }
    );
    assert_eq!(
        stores.events.get_event(e.event_id).await.unwrap(),
        Some(live.clone())
    );

    // Its status is no longer `scheduled`.
    assert_eq!(
        stores
            .events
            .set_status(
                e.event_id,
                EventStatus::Scheduled,
                EventStatus::Cancelled,
                t
            )
            .await,
        Err(StoreError::Conflict("status"))
    );
    assert_eq!(
        stores.events.get_event(e.event_id).await.unwrap(),
        Some(live)
    );

    assert_eq!(
        stores
            .events
            .set_status(EventId::new(), EventStatus::Scheduled, EventStatus::Live, t)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn list_events_by_status(stores: Stores) {
    let base = now() + Duration::days(2);
    // Created out of start order.
    let offsets = [30, 10, 50, 20, 40];
    let mut scheduled = Vec::new();
    for (i, minutes) in offsets.iter().enumerate() {
        let e = event(
            &format!("Match {i}"),
            EventStatus::Scheduled,
            base + Duration::minutes(*minutes),
        );
        stores.events.create_event(&e).await.unwrap();
        scheduled.push(e);
    }
    let live = event("On now", EventStatus::Live, base - Duration::days(3));
    stores.events.create_event(&live).await.unwrap();

    scheduled.sort_by_key(|e| e.start_time);
    let (found, pages) = list_all(&stores, EventStatus::Scheduled, 2).await;
    assert_eq!(found, scheduled);
    assert!(pages >= 3, "5 events over pages of 2 took {pages} pages");
    assert_eq!(
        list_all(&stores, EventStatus::Live, 10).await.0,
        std::slice::from_ref(&live)
    );
    assert!(list_all(&stores, EventStatus::Ended, 10).await.0.is_empty());

    // A cursor belongs to its status.
    let first = stores
        .events
        .list_events(EventStatus::Scheduled, 1, None)
        .await
        .unwrap();
    let next = first.next.expect("more scheduled events");
    assert_eq!(
        stores
            .events
            .list_events(EventStatus::Live, 1, Some(&next))
            .await,
        Err(StoreError::InvalidCursor)
    );
    assert_eq!(
        stores
            .events
            .list_events(EventStatus::Live, 1, Some(&Cursor("garbage".into())))
            .await,
        Err(StoreError::InvalidCursor)
    );

    // An event moves between the status lists.
    let moved = scheduled[2].clone();
    stores
        .events
        .set_status(
            moved.event_id,
            EventStatus::Scheduled,
            EventStatus::Live,
            now(),
        )
        .await
        .unwrap();
    let (still, _) = list_all(&stores, EventStatus::Scheduled, 2).await;
    let want: Vec<EventId> = ids(&scheduled)
        .into_iter()
        .filter(|id| *id != moved.event_id)
        .collect();
    assert_eq!(ids(&still), want);
    let (now_live, _) = list_all(&stores, EventStatus::Live, 1).await;
    // Soonest start first: the long-running live event, then the one that just started.
    assert_eq!(ids(&now_live), [live.event_id, moved.event_id]);
    assert_eq!(now_live[1].status, EventStatus::Live);
    let unique: HashSet<EventId> = ids(&still).into_iter().chain(ids(&now_live)).collect();
    assert_eq!(unique.len(), 6);
}

/// Bans and mutes: one per user per event, replaced by the next; a mute that ended is gone
/// for every read; listing pages by user.
async fn bans_are_kept_per_user_and_mutes_end(stores: Stores) {
    let event = EventId::new();
    let t = now();
    let moderator = UserId::new();
    let ban = |user: UserId, until: Option<Timestamp>| banter::model::Ban {
        event_id: event,
        user_id: user,
        until,
        reason: Some("spam".into()),
        by: moderator,
        at: t,
    };
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let events = &stores.events;
    assert_eq!(events.get_ban(event, a).await.unwrap(), None);
    events.put_ban(&ban(a, None)).await.unwrap();
    events
        .put_ban(&ban(b, Some(t + Duration::minutes(10))))
        .await
        .unwrap();
    events
        .put_ban(&ban(c, Some(t - Duration::seconds(1))))
        .await
        .unwrap();
    assert_eq!(events.get_ban(event, a).await.unwrap(), Some(ban(a, None)));
    assert_eq!(
        events
            .get_ban(event, b)
            .await
            .unwrap()
            .and_then(|x| x.until),
        Some(t + Duration::minutes(10))
    );
    assert_eq!(
        events.get_ban(event, c).await.unwrap(),
        None,
        "the mute ended"
    );
    assert_eq!(events.get_ban(EventId::new(), a).await.unwrap(), None);
    // A new ban replaces the mute.
    events.put_ban(&ban(b, None)).await.unwrap();
    assert_eq!(
        events.get_ban(event, b).await.unwrap().map(|x| x.until),
        Some(None)
    );
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = events.list_bans(event, 1, cursor.as_ref()).await.unwrap();
        listed.extend(page.items.into_iter().map(|x| x.user_id));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut want = vec![a, b];
    want.sort_by_key(|u| u.to_string());
    listed.sort_by_key(|u| u.to_string());
    assert_eq!(listed, want);
    events.delete_ban(event, a).await.unwrap();
    events.delete_ban(event, a).await.unwrap();
    assert_eq!(events.get_ban(event, a).await.unwrap(), None);
}

/// The moderation log lists an event's records newest first, a page at a time.
async fn the_moderation_log_pages_newest_first(stores: Stores) {
    use banter::model::{ModerationKind, ModerationRecord};
    let event = EventId::new();
    let by = UserId::new();
    let kinds = [
        ModerationKind::UserBanned,
        ModerationKind::BanLifted,
        ModerationKind::SettingsChanged,
    ];
    for kind in kinds {
        stores
            .events
            .record_moderation(&ModerationRecord::new(event, kind, by))
            .await
            .unwrap();
    }
    stores
        .events
        .record_moderation(&ModerationRecord::new(
            EventId::new(),
            ModerationKind::UserMuted,
            by,
        ))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let page = stores
            .events
            .moderation_log(event, 2, cursor.as_ref())
            .await
            .unwrap();
        got.extend(page.items.into_iter().map(|r| r.action));
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(
        got,
        [
            ModerationKind::SettingsChanged,
            ModerationKind::BanLifted,
            ModerationKind::UserBanned
        ]
    );
}

conformance_tests!(
    the_moderation_log_pages_newest_first,
    bans_are_kept_per_user_and_mutes_end,
    create_and_get_event,
    set_status_is_conditional,
    list_events_by_status,
);
