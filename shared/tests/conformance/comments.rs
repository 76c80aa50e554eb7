//! Conformance cases for the comments store.

use std::collections::HashSet;
use std::time::Duration;

use banter::ids::{ClientKey, CommentId, EventId, UserId};
use banter::model::{
    CLAIM_WINDOW, Comment, Content, ModerationAction, ModerationStatus, NewComment,
};
use banter::room::Position;
use banter::store::*;
use banter::time::now;

fn new_comment(event: EventId, user: UserId, text: &str) -> NewComment {
    NewComment {
        comment_id: CommentId::new(),
        event_id: event,
        user_id: user,
        content: Content::parse("content", text).unwrap(),
        parent_comment_id: None,
        client_key: None,
        claim_window: banter::model::CLAIM_WINDOW,
        moderation_status: ModerationStatus::Approved,
        client_metadata: None,
        created_at: now(),
    }
}

fn reply(event: EventId, user: UserId, parent: CommentId, text: &str) -> NewComment {
    NewComment {
        parent_comment_id: Some(parent),
        ..new_comment(event, user, text)
    }
}

fn keyed(mut c: NewComment, key: &str) -> NewComment {
    c.client_key = Some(key.parse::<ClientKey>().unwrap());
    c
}

async fn append(stores: &Stores, c: NewComment) -> Comment {
    crate::created(stores.comments.append_comment(c).await)
}

/// The stored comment `id`, if any.
async fn stored_comment(stores: &Stores, id: CommentId) -> Option<Comment> {
    stores.comments.get_comment(id).await.unwrap()
}

/// Up to `limit` replies to `parent` after position `after`.
async fn replies_of(
    stores: &Stores,
    parent: CommentId,
    after: Option<Position>,
    limit: usize,
) -> Slice<Comment> {
    stores
        .comments
        .list_replies(parent, after, limit)
        .await
        .unwrap()
}

/// The comments of `event` in `window`.
async fn listed(stores: &Stores, event: EventId, window: Window) -> Slice<Comment> {
    stores.comments.list_comments(event, window).await.unwrap()
}

/// A like of `comment` by a new user.
async fn like_by_someone(stores: &Stores, comment: CommentId) {
    stores
        .likes
        .toggle_like(comment, UserId::new())
        .await
        .unwrap();
}

fn positions(items: &[Comment]) -> Vec<u64> {
    items.iter().map(|c| c.position.0).collect()
}

async fn append_assigns_positions(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    assert_eq!(stores.comments.head(event).await.unwrap(), Position::ZERO);
    let mut appended = Vec::new();
    for i in 1..=5u64 {
        let c = append(&stores, new_comment(event, user, &format!("comment {i}"))).await;
        assert_eq!(c.position, Position(i));
        assert_eq!(c.event_id, event);
        assert_eq!(c.user_id, user);
        assert_eq!(c.content.as_str(), format!("comment {i}"));
        assert_eq!((c.reply_count, c.like_count), (0, 0));
        assert!(!c.is_deleted);
        appended.push(c);
    }
    assert_eq!(stores.comments.head(event).await.unwrap(), Position(5));
    for c in &appended {
        assert_eq!(stored_comment(&stores, c.comment_id).await, Some(c.clone()));
    }
    assert_eq!(stored_comment(&stores, CommentId::new()).await, None);
    // Another event has its own stream.
    let other = EventId::new();
    let c = append(&stores, new_comment(other, user, "elsewhere")).await;
    assert_eq!(c.position, Position(1));
    assert_eq!(stores.comments.head(event).await.unwrap(), Position(5));
    let all = listed(&stores, event, Window::after(Position::ZERO, 100)).await;
    assert_eq!(all.items, appended);
    assert!(!all.has_more);
}

async fn idempotent_append_returns_original(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    let first = append(&stores, keyed(new_comment(event, user, "hello"), "msg-1")).await;
    let unkeyed = append(&stores, new_comment(event, user, "unkeyed")).await;

    // A retry with the same author, key and text, whatever its id, returns the original.
    let retry = stores
        .comments
        .append_comment(keyed(new_comment(event, user, "hello"), "msg-1"))
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.item, first);
    assert_eq!(
        crate::changes_in(&stores, banter::room::Room::Event(event)).await,
        2
    );

    // The same key from another author, or another key, is a new comment.
    let other_user = append(
        &stores,
        keyed(new_comment(event, UserId::new(), "x"), "msg-1"),
    )
    .await;
    let other_key = append(&stores, keyed(new_comment(event, user, "y"), "msg-2")).await;
    // (The retry's own position, on an adapter that reserves one first, is a void.)
    let want: Vec<u64> = [&first, &unkeyed, &other_user, &other_key]
        .iter()
        .map(|c| c.position.0)
        .collect();
    assert!(want.is_sorted_by(|a, b| a < b), "{want:?}");
    let listed = listed(&stores, event, Window::after(Position::ZERO, 10)).await;
    assert_eq!(positions(&listed.items), want);
    assert_eq!(listed.items[0], first);
}

/// A client key names one comment of one author in one event: the same key in another event
/// is another comment (a client that numbers its frames per connection loses nothing).
async fn client_key_is_scoped_to_the_event(stores: Stores) {
    let (first, second) = (EventId::new(), EventId::new());
    let user = UserId::new();
    let a = append(
        &stores,
        keyed(new_comment(first, user, "in the first"), "m-1"),
    )
    .await;
    let b = append(
        &stores,
        keyed(new_comment(second, user, "in the second"), "m-1"),
    )
    .await;
    assert_ne!(a.comment_id, b.comment_id);
    assert_eq!(stored_comment(&stores, b.comment_id).await, Some(b));
    assert_eq!(stores.comments.head(second).await.unwrap(), Position(1));
}

/// The same key with other content (or another parent) is not a retry: it is refused as a
/// conflict and stores nothing, so the client learns its comment was not taken.
async fn client_key_with_other_content_conflicts(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    let first = append(&stores, keyed(new_comment(event, user, "one"), "m-1")).await;
    let other_text = stores
        .comments
        .append_comment(keyed(new_comment(event, user, "two"), "m-1"))
        .await;
    assert_eq!(
        other_text,
        Err(StoreError::Conflict("idempotency_key_reused"))
    );
    let other_parent = stores
        .comments
        .append_comment(keyed(reply(event, user, first.comment_id, "one"), "m-1"))
        .await;
    assert_eq!(
        other_parent,
        Err(StoreError::Conflict("idempotency_key_reused"))
    );
    assert_eq!(
        crate::changes_in(&stores, banter::room::Room::Event(event)).await,
        1
    );
    let after = stored_comment(&stores, first.comment_id).await.unwrap();
    assert_eq!(after.reply_count, 0);
}

/// A claim holds for the documented window ([`CLAIM_WINDOW`]) after its comment: past it, the
/// key is free again and names a new comment.
async fn client_key_expires_after_the_window(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    let long_ago =
        now() - chrono::Duration::from_std(CLAIM_WINDOW).unwrap() - chrono::Duration::seconds(5);
    let old = NewComment {
        created_at: long_ago,
        ..keyed(new_comment(event, user, "yesterday"), "m-1")
    };
    let old = append(&stores, old).await;
    let new = append(&stores, keyed(new_comment(event, user, "today"), "m-1")).await;
    assert_ne!(new.comment_id, old.comment_id);
    assert_eq!(new.position, Position(2));
    // The new claim is in force: its retry returns it.
    let retry = stores
        .comments
        .append_comment(keyed(new_comment(event, user, "today"), "m-1"))
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.item, new);
}

async fn replies_count_and_list(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    let parent = append(&stores, new_comment(event, user, "parent")).await;
    let other = append(&stores, new_comment(event, user, "other")).await;
    let mut replies = Vec::new();
    for i in 0..3 {
        let r = append(
            &stores,
            reply(
                event,
                UserId::new(),
                parent.comment_id,
                &format!("reply {i}"),
            ),
        )
        .await;
        assert_eq!(r.parent_comment_id, Some(parent.comment_id));
        replies.push(r);
    }
    // A reply to the other comment does not count for the parent.
    append(&stores, reply(event, user, other.comment_id, "elsewhere")).await;
    assert_eq!(positions(&replies), vec![3, 4, 5]);

    let stored = stored_comment(&stores, parent.comment_id).await.unwrap();
    assert_eq!(stored.reply_count, 3);
    let stored_other = stored_comment(&stores, other.comment_id).await.unwrap();
    assert_eq!(stored_other.reply_count, 1);

    let all = replies_of(&stores, parent.comment_id, None, 10).await;
    assert_eq!(all.items, replies);
    assert!(!all.has_more);
    let after = replies_of(&stores, parent.comment_id, Some(Position(3)), 1).await;
    assert_eq!(after.items, vec![replies[1].clone()]);
    assert!(after.has_more);
    let last = replies_of(&stores, parent.comment_id, Some(Position(4)), 10).await;
    assert_eq!(last.items, vec![replies[2].clone()]);
    assert!(!last.has_more);
    let none = replies_of(&stores, CommentId::new(), None, 10).await;
    assert!(none.items.is_empty() && !none.has_more);

    // Replies are part of the event's stream too.
    let stream = listed(&stores, event, Window::after(Position::ZERO, 100)).await;
    assert_eq!(positions(&stream.items), vec![1, 2, 3, 4, 5, 6]);
}

async fn reply_to_missing_parent_is_not_found(stores: Stores) {
    let event = EventId::new();
    let elsewhere = EventId::new();
    let user = UserId::new();
    let foreign = append(&stores, new_comment(elsewhere, user, "other event")).await;

    let unknown = stores
        .comments
        .append_comment(reply(event, user, CommentId::new(), "to nobody"))
        .await;
    assert_eq!(unknown, Err(StoreError::NotFound));
    let cross = stores
        .comments
        .append_comment(keyed(
            reply(event, user, foreign.comment_id, "across"),
            "k1",
        ))
        .await;
    assert_eq!(cross, Err(StoreError::NotFound));

    // Nothing was written: no position taken, no claim left behind, no reply counted.
    assert_eq!(stores.comments.head(event).await.unwrap(), Position::ZERO);
    let fresh = append(&stores, keyed(new_comment(event, user, "first"), "k1")).await;
    assert_eq!(fresh.position, Position(1));
    let foreign_now = stored_comment(&stores, foreign.comment_id).await.unwrap();
    assert_eq!(foreign_now.reply_count, 0);
}

async fn list_windows_and_pages(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    for i in 1..=7 {
        append(&stores, new_comment(event, user, &format!("c{i}"))).await;
    }
    let read = |w: Window| {
        let stores = stores.clone();
        async move { listed(&stores, event, w).await }
    };

    let between = |order| Window {
        after: Some(Position(2)),
        before: Some(Position(6)),
        order,
        limit: 10,
    };
    let cases = vec![
        ("newest 3", Window::newest(None, 3), vec![7, 6, 5], true),
        (
            "newest 3 before 5",
            Window::newest(Some(Position(5)), 3),
            vec![4, 3, 2],
            true,
        ),
        (
            "newest 3 before 2",
            Window::newest(Some(Position(2)), 3),
            vec![1],
            false,
        ),
        (
            "newest 3 before 1",
            Window::newest(Some(Position(1)), 3),
            vec![],
            false,
        ),
        (
            "newest 7",
            Window::newest(None, 7),
            vec![7, 6, 5, 4, 3, 2, 1],
            false,
        ),
        (
            "3 after 0",
            Window::after(Position::ZERO, 3),
            vec![1, 2, 3],
            true,
        ),
        (
            "3 after 4",
            Window::after(Position(4), 3),
            vec![5, 6, 7],
            false,
        ),
        ("3 after 7", Window::after(Position(7), 3), vec![], false),
        (
            "oldest between",
            between(Order::Oldest),
            vec![3, 4, 5],
            false,
        ),
        (
            "newest between",
            between(Order::Newest),
            vec![5, 4, 3],
            false,
        ),
        (
            "2 newest between",
            Window {
                limit: 2,
                ..between(Order::Newest)
            },
            vec![5, 4],
            true,
        ),
    ];
    crate::check_windows(&read, |c: &Comment| c.position.0, cases).await;

    // Paging forward and backward visits every comment once.
    let mut seen = Vec::new();
    let mut last = Position::ZERO;
    loop {
        let s = read(Window::after(last, 2)).await;
        seen.extend(positions(&s.items));
        if let Some(c) = s.items.last() {
            last = c.position;
        }
        if !s.has_more {
            break;
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5, 6, 7]);
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let s = read(Window::newest(before, 3)).await;
        seen.extend(positions(&s.items));
        before = s.items.last().map(|c| c.position);
        if !s.has_more {
            break;
        }
    }
    assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1]);

    let empty = listed(&stores, EventId::new(), Window::newest(None, 10)).await;
    assert!(empty.items.is_empty() && !empty.has_more);
}

async fn concurrent_appends_take_every_position_once(stores: Stores) {
    const WRITERS: usize = 8;
    const EACH: usize = 10;
    let event = EventId::new();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let stores = stores.clone();
        tasks.push(tokio::spawn(async move {
            let user = UserId::new();
            let mut got = Vec::new();
            for i in 0..EACH {
                let c = new_comment(event, user, &format!("writer {w} comment {i}"));
                got.push(append(&stores, c).await.position.0);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        // One writer's comments come in its own order.
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        all.extend(got);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(WRITERS * EACH) as u64).collect();
    assert_eq!(all, expected);
    let n = (WRITERS * EACH) as u64;
    assert_eq!(stores.comments.head(event).await.unwrap(), Position(n));
    let listed = listed(&stores, event, Window::after(Position::ZERO, 1000)).await;
    assert_eq!(positions(&listed.items), expected);
    let ids: HashSet<CommentId> = listed.items.iter().map(|c| c.comment_id).collect();
    assert_eq!(ids.len(), WRITERS * EACH);
}

async fn catch_up_under_concurrency_misses_nothing(stores: Stores) {
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    const TOTAL: u64 = (WRITERS * EACH) as u64;
    let event = EventId::new();
    let reader = {
        let stores = stores.clone();
        tokio::spawn(async move {
            let mut seen: Vec<(u64, CommentId)> = Vec::new();
            let mut last = Position::ZERO;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            while last.0 < TOTAL {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "reader stalled at {last}"
                );
                let s = listed(&stores, event, Window::after(last, 7)).await;
                for c in s.items {
                    assert_eq!(c.position, last.next(), "gap or repeat after {last}");
                    last = c.position;
                    seen.push((c.position.0, c.comment_id));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        })
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let stores = stores.clone();
        writers.push(tokio::spawn(async move {
            let user = UserId::new();
            let mut ids = Vec::new();
            for i in 0..EACH {
                let c = append(&stores, new_comment(event, user, &format!("w{w} c{i}"))).await;
                ids.push((c.position.0, c.comment_id));
            }
            ids
        }));
    }
    let mut written = Vec::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    written.sort_unstable();
    let seen = reader.await.unwrap();
    assert_eq!(seen, written);
    assert_eq!(seen.len() as u64, TOTAL);
}

async fn popular_orders_by_likes(stores: Stores) {
    let event = EventId::new();
    let author = UserId::new();
    let c1 = append(&stores, new_comment(event, author, "one")).await;
    let c2 = append(&stores, new_comment(event, author, "two")).await;
    let c3 = append(&stores, new_comment(event, author, "three")).await;
    let r = append(&stores, reply(event, author, c1.comment_id, "a reply")).await;
    for _ in 0..3 {
        like_by_someone(&stores, r.comment_id).await;
    }
    for _ in 0..2 {
        like_by_someone(&stores, c2.comment_id).await;
    }
    like_by_someone(&stores, c1.comment_id).await;

    let page = stores.comments.list_popular(event, 10, None).await.unwrap();
    let order: Vec<(CommentId, u64)> = page
        .items
        .iter()
        .map(|c| (c.comment_id, c.like_count))
        .collect();
    // Replies are not listed; ties (none here) would go newest first.
    assert_eq!(
        order,
        vec![(c2.comment_id, 2), (c1.comment_id, 1), (c3.comment_id, 0)]
    );
    assert_eq!(page.next, None);

    // Page by page.
    let first = stores.comments.list_popular(event, 2, None).await.unwrap();
    assert_eq!(
        first.items.iter().map(|c| c.comment_id).collect::<Vec<_>>(),
        vec![c2.comment_id, c1.comment_id]
    );
    let cursor = first.next.expect("a second page");
    let second = stores
        .comments
        .list_popular(event, 2, Some(&cursor))
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|c| c.comment_id)
            .collect::<Vec<_>>(),
        vec![c3.comment_id]
    );
    assert_eq!(second.next, None);
    // A cursor belongs to its event.
    assert_eq!(
        stores
            .comments
            .list_popular(EventId::new(), 2, Some(&cursor))
            .await,
        Err(StoreError::InvalidCursor)
    );
    assert_eq!(
        stores
            .comments
            .list_popular(event, 2, Some(&Cursor("garbage".into())))
            .await,
        Err(StoreError::InvalidCursor)
    );
}

async fn delete_is_idempotent(stores: Stores) {
    let event = EventId::new();
    let author = UserId::new();
    let c = append(&stores, new_comment(event, author, "regret")).await;
    let t1 = now();
    let deleted = stores
        .comments
        .delete_comment(c.comment_id, author, t1)
        .await
        .unwrap();
    assert!(deleted.is_deleted);
    assert_eq!(deleted.deleted_at, Some(t1));
    assert_eq!(deleted.deleted_by, Some(author));
    assert_eq!(deleted.position, c.position);
    assert_eq!(deleted.content, c.content);

    let moderator = UserId::new();
    let again = stores
        .comments
        .delete_comment(c.comment_id, moderator, t1 + chrono::Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(again, deleted);
    assert_eq!(stored_comment(&stores, c.comment_id).await, Some(deleted));
    assert_eq!(
        stores
            .comments
            .delete_comment(CommentId::new(), author, t1)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn moderation_sets_status(stores: Stores) {
    let event = EventId::new();
    let c = append(&stores, new_comment(event, UserId::new(), "spam?")).await;
    let moderator = UserId::new();
    let t = now();
    let blocked = stores
        .comments
        .moderate_comment(
            c.comment_id,
            ModerationAction::Block,
            Some("spam".into()),
            moderator,
            t,
        )
        .await
        .unwrap();
    assert_eq!(blocked.moderation_status, ModerationStatus::Blocked);
    assert_eq!(blocked.moderation_reason.as_deref(), Some("spam"));
    assert_eq!(blocked.moderated_by, Some(moderator));
    assert_eq!(blocked.updated_at, t);
    assert_eq!(blocked.content, c.content);
    assert_eq!(stored_comment(&stores, c.comment_id).await, Some(blocked));

    let approved = stores
        .comments
        .moderate_comment(c.comment_id, ModerationAction::Approve, None, moderator, t)
        .await
        .unwrap();
    assert_eq!(approved.moderation_status, ModerationStatus::Approved);
    assert_eq!(approved.moderation_reason, None);
    assert_eq!(stored_comment(&stores, c.comment_id).await, Some(approved));
    assert_eq!(
        stores
            .comments
            .moderate_comment(CommentId::new(), ModerationAction::Flag, None, moderator, t)
            .await,
        Err(StoreError::NotFound)
    );
}

/// The moderation queue: pending comments, oldest first, until a moderator decides or they
/// are deleted; approved ones are never in it.
async fn the_pending_queue_holds_what_waits_for_a_moderator(stores: Stores) {
    let event = EventId::new();
    let user = UserId::new();
    let pending = |text: &str| NewComment {
        moderation_status: ModerationStatus::Pending,
        ..new_comment(event, user, text)
    };
    let mut ids = Vec::new();
    for text in ["one", "two", "three", "four"] {
        ids.push(
            stores
                .comments
                .append_comment(pending(text))
                .await
                .unwrap()
                .item
                .comment_id,
        );
    }
    stores
        .comments
        .append_comment(new_comment(event, user, "approved at once"))
        .await
        .unwrap();
    let queue = |stores: Stores| async move {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = stores
                .comments
                .list_pending(event, 2, cursor.as_ref())
                .await
                .unwrap();
            out.extend(page.items.into_iter().map(|c| c.comment_id));
            match page.next {
                Some(n) => cursor = Some(n),
                None => return out,
            }
        }
    };
    assert_eq!(queue(stores.clone()).await, ids);
    stores
        .comments
        .moderate_comment(
            ids[0],
            ModerationAction::Approve,
            None,
            UserId::new(),
            banter::time::now(),
        )
        .await
        .unwrap();
    stores
        .comments
        .moderate_comment(
            ids[2],
            ModerationAction::Block,
            None,
            UserId::new(),
            banter::time::now(),
        )
        .await
        .unwrap();
    stores
        .comments
        .delete_comment(ids[3], user, banter::time::now())
        .await
        .unwrap();
    assert_eq!(queue(stores.clone()).await, [ids[1]]);
    assert!(
        stores
            .comments
            .list_pending(EventId::new(), 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

conformance_tests!(
    the_pending_queue_holds_what_waits_for_a_moderator,
    append_assigns_positions,
    idempotent_append_returns_original,
    client_key_is_scoped_to_the_event,
    client_key_with_other_content_conflicts,
    client_key_expires_after_the_window,
    replies_count_and_list,
    reply_to_missing_parent_is_not_found,
    list_windows_and_pages,
    concurrent_appends_take_every_position_once,
    catch_up_under_concurrency_misses_nothing,
    popular_orders_by_likes,
    delete_is_idempotent,
    moderation_sets_status,
);
