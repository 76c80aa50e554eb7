//! Room streams: every kind of change is an entry at the next gap-free position, committed
//! with the change; counts are coalesced; the delivery cursor hands a room to one job at a
//! time.

use banter::ids::{ClientKey, CommentId, ConversationId, EventId, MessageId, UserId};
use banter::model::{
    Change, Content, Conversation, ConversationType, EventStatus, MessageType, ModerationAction,
    ModerationStatus, NewComment, NewMessage, Occupancy, Participant, ParticipantRole, StreamEntry,
    StreamReset, ViewerCount,
};
use banter::room::{Position, Room};
use banter::store::*;
use banter::time::now;

pub(crate) fn comment(event: EventId, user: UserId, parent: Option<CommentId>) -> NewComment {
    NewComment {
        comment_id: CommentId::new(),
        event_id: event,
        user_id: user,
        content: Content::parse("content", "hello").unwrap(),
        parent_comment_id: parent,
        client_key: None,
        claim_window: banter::model::CLAIM_WINDOW,
        moderation_status: ModerationStatus::Approved,
        client_metadata: None,
        created_at: now(),
    }
}

async fn entries(stores: &Stores, room: Room, after: u64) -> Vec<StreamEntry> {
    stores
        .streams
        .read_stream(room, Position(after), 100)
        .await
        .unwrap()
        .entries
}

/// The changes among `entries` (read after `after`), having checked that positions run
/// `after + 1, after + 2, …`: voids (positions an adapter that reserves positions gave up,
/// for a refused change) fill the run but change nothing.
fn changes(entries: &[StreamEntry], after: u64) -> Vec<&StreamEntry> {
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.position, Position(after + 1 + i as u64), "gap-free");
    }
    entries
        .iter()
        .filter(|e| e.change != Change::Void)
        .collect()
}

/// The kind of each change.
fn kinds(changes: &[&StreamEntry]) -> Vec<&'static str> {
    changes
        .iter()
        .map(|e| match &e.change {
            Change::CommentCreated { .. } => "comment_created",
            Change::CommentDeleted { .. } => "comment_deleted",
            Change::CommentModerated { .. } => "comment_moderated",
            Change::CommentCounts { .. } => "comment_counts",
            Change::EventStatus { .. } => "event_status",
            Change::MessageCreated { .. } => "message_created",
            Change::MessageUpdated { .. } => "message_updated",
            Change::ParticipantsChanged { .. } => "participants_changed",
            Change::Occupancy { .. } => "occupancy",
            Change::EventUpdated { .. } => "event_updated",
            Change::Void => "void",
        })
        .collect()
}

async fn every_event_change_is_an_entry(stores: Stores) {
    let creator = UserId::new();
    let event = banter_testkit::events::event_by(creator, EventStatus::Scheduled, now());
    let id = event.event_id;
    let room = Room::Event(id);
    stores.events.create_event(&event).await.unwrap();
    stores
        .events
        .set_status(id, EventStatus::Scheduled, EventStatus::Live, now())
        .await
        .unwrap();
    // A refused status change appends nothing.
    assert!(
        stores
            .events
            .set_status(id, EventStatus::Scheduled, EventStatus::Live, now())
            .await
            .is_err()
    );
    let parent = crate::created(
        stores
            .comments
            .append_comment(comment(id, creator, None))
            .await,
    );
    let reply = crate::created(
        stores
            .comments
            .append_comment(comment(id, UserId::new(), Some(parent.comment_id)))
            .await,
    );
    let fan = UserId::new();
    stores
        .likes
        .toggle_like(parent.comment_id, fan)
        .await
        .unwrap();
    stores
        .likes
        .toggle_like(parent.comment_id, UserId::new())
        .await
        .unwrap();
    stores
        .likes
        .toggle_like(parent.comment_id, fan)
        .await
        .unwrap();
    // Three likes and a reply since the last flush: one counts entry, as they stand.
    let flushed = stores.streams.flush_counts(id).await.unwrap();
    assert_eq!(
        stores.streams.flush_counts(id).await.unwrap(),
        None,
        "nothing left to flush"
    );
    let moderator = UserId::new();
    stores
        .comments
        .moderate_comment(
            reply.comment_id,
            ModerationAction::Block,
            Some("spam".into()),
            moderator,
            now(),
        )
        .await
        .unwrap();
    stores
        .comments
        .delete_comment(parent.comment_id, creator, now())
        .await
        .unwrap();
    // A second delete changes nothing and appends nothing.
    stores
        .comments
        .delete_comment(parent.comment_id, creator, now())
        .await
        .unwrap();
    stores
        .events
        .set_status(id, EventStatus::Live, EventStatus::Ended, now())
        .await
        .unwrap();

    let all = entries(&stores, room, 0).await;
    let kept = changes(&all, 0);
    assert_eq!(
        kinds(&kept),
        [
            "event_status",
            "comment_created",
            "comment_created",
            "comment_counts",
            "comment_moderated",
            "comment_deleted",
            "event_status"
        ]
    );
    assert_eq!(
        kept[1].position, parent.position,
        "a comment's position is its entry's"
    );
    assert_eq!(flushed, Some(kept[3].position), "the flush's entry");
    match &kept[3].change {
        Change::CommentCounts {
            comment_id,
            like_count,
            reply_count,
            ..
        } => {
            assert_eq!(*comment_id, parent.comment_id);
            assert_eq!((*like_count, *reply_count), (1, 1));
        }
        other => panic!("not counts: {other:?}"),
    }
    match &kept[4].change {
        Change::CommentModerated {
            comment,
            action,
            was_pending,
        } => {
            assert_eq!(*action, ModerationAction::Block);
            assert_eq!(comment.moderation_status, ModerationStatus::Blocked);
            assert_eq!(comment.moderated_by, Some(moderator));
            assert!(!was_pending);
        }
        other => panic!("not moderated: {other:?}"),
    }
    // Resuming from any position gives exactly what follows it.
    let counts_at = kept[3].position.0;
    assert_eq!(
        kinds(&changes(
            &entries(&stores, room, counts_at).await,
            counts_at
        )),
        ["comment_moderated", "comment_deleted", "event_status"]
    );
    let head = all.last().map(|e| e.position).unwrap();
    let slice = stores
        .streams
        .read_stream(room, Position(0), 2)
        .await
        .unwrap();
    assert_eq!(
        (slice.entries.len(), slice.has_more, slice.head),
        (2, true, head)
    );
    assert_eq!(slice.reset_for(Position(0)), None);
    // A position past the head must reload.
    let ahead = stores
        .streams
        .read_stream(room, Position(head.0 + 2), 10)
        .await
        .unwrap();
    assert_eq!(
        ahead.reset_for(Position(head.0 + 2)),
        Some(StreamReset::Ahead)
    );
    assert_eq!(stores.comments.comment_count(id).await.unwrap(), 2);
}

async fn every_conversation_change_is_an_entry(stores: Stores) {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let t = now();
    let conv = Conversation {
        conversation_id: ConversationId::new(),
        conversation_type: ConversationType::Group,
        title: Some("Team".into()),
        description: None,
        created_by: a,
        created_at: t,
        updated_at: t,
        last_message: None,
    };
    let id = conv.conversation_id;
    let room = Room::Conversation(id);
    let members: Vec<Participant> = [(a, ParticipantRole::Owner), (b, ParticipantRole::Member)]
        .iter()
        .map(|(u, r)| Participant::joining(id, *u, *r, t))
        .collect();
    stores
        .conversations
        .create_conversation(&conv, &members)
        .await
        .unwrap();
    let m = crate::created(
        stores
            .messages
            .append_message(NewMessage {
                message_id: MessageId::new(),
                conversation_id: id,
                sender_id: a,
                message_type: MessageType::Text,
                content: Content::parse("content", "hi").unwrap(),
                media_attachments: Vec::new(),
                client_message_id: "k1".parse::<ClientKey>().unwrap(),
                reply_to_message_id: None,
                created_at: now(),
            })
            .await,
    );
    assert_eq!(m.position, Position(1));
    let mut edited = m.clone();
    edited.toggle_reaction("👍", b).unwrap();
    edited.version += 1;
    stores.messages.update_message(&edited).await.unwrap();
    let joining = Participant::joining(id, c, ParticipantRole::Member, now());
    let added = stores
        .conversations
        .add_participants(&[joining.clone(), members[1].clone()], a)
        .await
        .unwrap();
    assert_eq!(added, vec![joining]);
    // Adding someone already there appends nothing.
    assert!(
        stores
            .conversations
            .add_participants(&[members[1].clone()], a)
            .await
            .unwrap()
            .is_empty()
    );
    let removed = stores
        .conversations
        .remove_participants(id, &[b, UserId::new()], a)
        .await
        .unwrap();
    assert_eq!(removed, vec![b]);

    let all = entries(&stores, room, 0).await;
    let kept = changes(&all, 0);
    assert_eq!(
        kinds(&kept),
        [
            "message_created",
            "message_updated",
            "message_created",
            "message_created"
        ]
    );
    // Each membership change is a `system` message of its maker, in the stream and in the
    // conversation's history alike.
    let system = |e: &banter::model::StreamEntry| match &e.change {
        Change::MessageCreated { message } => {
            assert_eq!(message.message_type, banter::model::MessageType::System);
            assert_eq!(message.sender_id, a);
            assert_eq!(message.position, e.position);
            message.system.clone()
        }
        other => panic!("not a message: {other:?}"),
    };
    assert_eq!(
        system(kept[2]),
        Some(banter::model::SystemEvent::ParticipantsAdded { user_ids: vec![c] })
    );
    assert_eq!(
        system(kept[3]),
        Some(banter::model::SystemEvent::ParticipantsRemoved { user_ids: vec![b] })
    );
    let history = stores
        .messages
        .list_messages(id, Window::after(banter::room::Position::ZERO, 10))
        .await
        .unwrap();
    assert_eq!(
        history.items.iter().map(|m| m.position).collect::<Vec<_>>(),
        vec![kept[0].position, kept[2].position, kept[3].position]
    );
    match &kept[3].change {
        Change::MessageCreated { message } => assert_eq!(
            stores
                .messages
                .get_message(message.message_id)
                .await
                .unwrap()
                .as_ref(),
            Some(message)
        ),
        other => panic!("not a message: {other:?}"),
    }
    match &kept[1].change {
        Change::MessageUpdated { message } => assert_eq!(message.reactions["👍"], vec![b]),
        other => panic!("not an update: {other:?}"),
    }
    // An empty room: head 0, nothing to reset.
    let empty = stores
        .streams
        .read_stream(Room::Conversation(ConversationId::new()), Position(0), 10)
        .await
        .unwrap();
    assert_eq!(
        (empty.head, empty.reset_for(Position(0))),
        (Position(0), None)
    );
}

/// Writers appending comments, likes and deletes at once still leave every position
/// exactly once, and a reader following the stream sees each entry once, in order.
async fn concurrent_changes_keep_the_stream_gap_free(stores: Stores) {
    let event = EventId::new();
    let room = Room::Event(event);
    let first = crate::created(
        stores
            .comments
            .append_comment(comment(event, UserId::new(), None))
            .await,
    );
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let stores = stores.clone();
            let target = first.comment_id;
            tokio::spawn(async move {
                for _ in 0..4 {
                    if i % 2 == 0 {
                        crate::created(
                            stores
                                .comments
                                .append_comment(comment(event, UserId::new(), None))
                                .await,
                        );
                    } else {
                        stores
                            .likes
                            .toggle_like(target, UserId::new())
                            .await
                            .unwrap();
                        stores.streams.flush_counts(event).await.unwrap();
                    }
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut after = Position(0);
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        let slice = stores.streams.read_stream(room, after, 7).await.unwrap();
        assert_eq!(slice.reset_for(after), None);
        for e in slice.entries {
            assert_eq!(e.position, after.next(), "read in order, no gap");
            after = e.position;
            seen.push(e.position.0);
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let rest = entries(&stores, room, after.0).await;
    seen.extend(rest.iter().map(|e| e.position.0));
    let head = stores.streams.stream_head(room).await.unwrap();
    assert_eq!(seen, (1..=head.0).collect::<Vec<_>>());
    assert!(head.0 >= 13, "13 comments and some counts: {head:?}");
}

async fn delivery_is_handed_to_one_job_at_a_time(stores: Stores) {
    let room = Room::Event(EventId::new());
    let s = &stores.streams;
    let until = now() + chrono::TimeDelta::seconds(30);
    let (one, two) = (DeliveryLease::new(), DeliveryLease::new());
    s.want_delivery(room, Some(Position(3)), true)
        .await
        .unwrap();
    assert_eq!(
        s.claim_delivery(room, one, until).await.unwrap(),
        Claim::Claimed {
            delivered: Position(0),
            flush: true
        }
    );
    assert_eq!(
        s.claim_delivery(room, two, until).await.unwrap(),
        Claim::Busy
    );
    // More was wanted while `one` delivered up to 3: it must go on.
    s.want_delivery(room, Some(Position(5)), false)
        .await
        .unwrap();
    assert_eq!(
        s.release_delivery(room, one, Position(3), until, false)
            .await
            .unwrap(),
        Release::More { flush: false }
    );
    s.want_delivery(room, None, true).await.unwrap();
    assert_eq!(
        s.release_delivery(room, one, Position(5), until, false)
            .await
            .unwrap(),
        Release::More { flush: true }
    );
    // A lower want never lowers it.
    s.want_delivery(room, Some(Position(2)), false)
        .await
        .unwrap();
    assert_eq!(
        s.release_delivery(room, one, Position(5), until, false)
            .await
            .unwrap(),
        Release::Released
    );
    assert_eq!(
        s.release_delivery(room, one, Position(5), until, false)
            .await
            .unwrap(),
        Release::Lost,
        "a released lease is gone"
    );
    assert_eq!(
        s.claim_delivery(room, two, until).await.unwrap(),
        Claim::Claimed {
            delivered: Position(5),
            flush: false
        }
    );
    assert_eq!(
        s.release_delivery(room, two, Position(5), until, true)
            .await
            .unwrap(),
        Release::Released
    );
    // An expired lease is taken over.
    let three = DeliveryLease::new();
    s.claim_delivery(room, three, now() - chrono::TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        s.claim_delivery(room, one, until).await.unwrap(),
        Claim::Claimed {
            delivered: Position(5),
            flush: false
        }
    );
    assert_eq!(
        s.release_delivery(room, three, Position(9), until, true)
            .await
            .unwrap(),
        Release::Lost
    );
}

/// A viewer count is kept; a changed one is an `occupancy` entry, the same one only moves
/// when it was taken, and an older one changes nothing.
async fn viewer_counts_are_kept_and_changes_are_entries(stores: Stores) {
    let event = banter_testkit::events::event_by(UserId::new(), EventStatus::Scheduled, now());
    let room = Room::Event(event.event_id);
    stores.events.create_event(&event).await.unwrap();
    assert_eq!(stores.streams.occupancy(room).await.unwrap(), None);
    let head = stores.streams.stream_head(room).await.unwrap().0;
    let t0 = now();
    let count = |viewers, exact, secs| ViewerCount {
        occupancy: Occupancy { viewers, exact },
        counted_at: t0 + chrono::Duration::seconds(secs),
    };
    let first = stores
        .streams
        .record_occupancy(room, count(3, true, 0))
        .await
        .unwrap();
    assert_eq!(first, Some(Position(head + 1)));
    assert_eq!(
        stores.streams.occupancy(room).await.unwrap(),
        Some(count(3, true, 0))
    );
    // The same count, later: kept as taken then, no entry.
    assert_eq!(
        stores
            .streams
            .record_occupancy(room, count(3, true, 5))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores.streams.occupancy(room).await.unwrap(),
        Some(count(3, true, 5))
    );
    // An older count (a slower holder's) changes nothing.
    assert_eq!(
        stores
            .streams
            .record_occupancy(room, count(9, true, 1))
            .await
            .unwrap(),
        None
    );
    // A new count is an entry.
    let second = stores
        .streams
        .record_occupancy(room, count(1_200, false, 10))
        .await
        .unwrap();
    assert_eq!(second, Some(Position(head + 2)));
    let all = entries(&stores, room, head).await;
    let got: Vec<_> = changes(&all, head)
        .into_iter()
        .map(|e| e.change.clone())
        .collect();
    assert_eq!(
        got,
        [
            Change::Occupancy {
                event_id: event.event_id,
                viewers: 3,
                exact: true
            },
            Change::Occupancy {
                event_id: event.event_id,
                viewers: 1_200,
                exact: false
            },
        ]
    );
    assert_eq!(
        stores.streams.occupancy(room).await.unwrap(),
        Some(count(1_200, false, 10))
    );
}

/// An event's settings are replaced only over the version read, with an `event_updated`
/// entry; its status stays what a status change made it.
async fn event_updates_are_conditional_and_streamed(stores: Stores) {
    let event = banter_testkit::events::event_by(UserId::new(), EventStatus::Scheduled, now());
    let id = event.event_id;
    let room = Room::Event(id);
    stores.events.create_event(&event).await.unwrap();
    let live = stores
        .events
        .set_status(id, EventStatus::Scheduled, EventStatus::Live, now())
        .await
        .unwrap();
    let head = stores.streams.stream_head(room).await.unwrap().0;
    let moderator = UserId::new();
    let updated = banter::model::Event {
        title: "Extra time".into(),
        moderators: vec![moderator],
        updated_at: live.updated_at + chrono::Duration::milliseconds(5),
        ..live.clone()
    };
    stores
        .events
        .update_event(&updated, live.updated_at)
        .await
        .unwrap();
    let stored = stores.events.get_event(id).await.unwrap().unwrap();
    assert_eq!(stored, updated);
    assert_eq!(stored.status, EventStatus::Live);
    let all = entries(&stores, room, head).await;
    let got: Vec<_> = changes(&all, head)
        .into_iter()
        .map(|e| e.change.clone())
        .collect();
    assert_eq!(
        got,
        [Change::EventUpdated {
            event: updated.clone()
        }]
    );
    // A writer that read the event before this change is refused, and writes nothing.
    let stale = banter::model::Event {
        title: "Stale".into(),
        ..live.clone()
    };
    assert!(matches!(
        stores.events.update_event(&stale, live.updated_at).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        stores.events.get_event(id).await.unwrap().unwrap().title,
        "Extra time"
    );
    let after = entries(&stores, room, head).await;
    assert_eq!(
        changes(&after, head).len(),
        1,
        "the refused update left no entry"
    );
    let unknown = banter_testkit::events::event_by(UserId::new(), EventStatus::Live, now());
    assert!(matches!(
        stores
            .events
            .update_event(&unknown, unknown.updated_at)
            .await,
        Err(StoreError::NotFound)
    ));
}

conformance_tests!(
    event_updates_are_conditional_and_streamed,
    viewer_counts_are_kept_and_changes_are_entries,
    every_event_change_is_an_entry,
    every_conversation_change_is_an_entry,
    concurrent_changes_keep_the_stream_gap_free,
    delivery_is_handed_to_one_job_at_a_time,
);
