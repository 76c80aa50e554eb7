//! Conformance cases for the likes store.

use banter::ids::{CommentId, EventId, UserId};
use banter::model::{Comment, Content, LikeOutcome, ModerationStatus, NewComment};
use banter::store::*;
use banter::time::now;

async fn comment(stores: &Stores, event: EventId, parent: Option<CommentId>) -> Comment {
    stores
        .comments
        .append_comment(NewComment {
            comment_id: CommentId::new(),
            event_id: event,
            user_id: UserId::new(),
            content: Content::parse("content", "likeable").unwrap(),
            parent_comment_id: parent,
            client_key: None,
            claim_window: banter::model::CLAIM_WINDOW,
            moderation_status: ModerationStatus::Approved,
            client_metadata: None,
            created_at: now(),
        })
        .await
        .expect("append")
        .item
}

async fn like_count(stores: &Stores, id: CommentId) -> u64 {
    stores
        .comments
        .get_comment(id)
        .await
        .unwrap()
        .expect("comment")
        .like_count
}

fn outcome(liked: bool, like_count: u64) -> LikeOutcome {
    LikeOutcome { liked, like_count }
}

async fn toggle_on_off_on(stores: Stores) {
    let c = comment(&stores, EventId::new(), None).await;
    let (alice, bob) = (UserId::new(), UserId::new());
    assert!(!stores.likes.has_liked(c.comment_id, alice).await.unwrap());

    let t = |u| {
        let stores = stores.clone();
        async move { stores.likes.toggle_like(c.comment_id, u).await.unwrap() }
    };
    assert_eq!(t(alice).await, outcome(true, 1));
    assert!(stores.likes.has_liked(c.comment_id, alice).await.unwrap());
    assert_eq!(like_count(&stores, c.comment_id).await, 1);
    assert_eq!(t(alice).await, outcome(false, 0));
    assert!(!stores.likes.has_liked(c.comment_id, alice).await.unwrap());
    assert_eq!(like_count(&stores, c.comment_id).await, 0);
    assert_eq!(t(alice).await, outcome(true, 1));
    assert_eq!(t(bob).await, outcome(true, 2));
    assert!(stores.likes.has_liked(c.comment_id, bob).await.unwrap());
    assert_eq!(like_count(&stores, c.comment_id).await, 2);
    assert_eq!(t(bob).await, outcome(false, 1));
    assert!(stores.likes.has_liked(c.comment_id, alice).await.unwrap());
    assert!(!stores.likes.has_liked(c.comment_id, bob).await.unwrap());

    // Replies can be liked too.
    let r = comment(&stores, c.event_id, Some(c.comment_id)).await;
    assert_eq!(
        stores.likes.toggle_like(r.comment_id, bob).await.unwrap(),
        outcome(true, 1)
    );
    assert_eq!(like_count(&stores, r.comment_id).await, 1);
    assert_eq!(like_count(&stores, c.comment_id).await, 1);
}

async fn unknown_comment_is_not_found(stores: Stores) {
    let user = UserId::new();
    assert_eq!(
        stores.likes.toggle_like(CommentId::new(), user).await,
        Err(StoreError::NotFound)
    );
    assert!(
        !stores
            .likes
            .has_liked(CommentId::new(), user)
            .await
            .unwrap()
    );
}

async fn concurrent_toggles_keep_an_exact_count(stores: Stores) {
    const USERS: usize = 20;
    let c = comment(&stores, EventId::new(), None).await;
    let users: Vec<UserId> = (0..USERS).map(|_| UserId::new()).collect();

    let round = |expect_liked: bool| {
        let stores = stores.clone();
        let users = users.clone();
        async move {
            let tasks: Vec<_> = users
                .iter()
                .map(|u| {
                    let (stores, u) = (stores.clone(), *u);
                    tokio::spawn(async move { stores.likes.toggle_like(c.comment_id, u).await })
                })
                .collect();
            let mut counts = Vec::new();
            for t in tasks {
                let o = t.await.unwrap().expect("toggle");
                assert_eq!(o.liked, expect_liked);
                counts.push(o.like_count);
            }
            counts.sort_unstable();
            counts
        }
    };

    // Every toggle reports the count it produced: 1..=N going up, N-1..=0 going down.
    let up = round(true).await;
    assert_eq!(up, (1..=USERS as u64).collect::<Vec<_>>());
    assert_eq!(like_count(&stores, c.comment_id).await, USERS as u64);
    for u in &users {
        assert!(stores.likes.has_liked(c.comment_id, *u).await.unwrap());
    }

    let down = round(false).await;
    assert_eq!(down, (0..USERS as u64).collect::<Vec<_>>());
    assert_eq!(like_count(&stores, c.comment_id).await, 0);
    for u in &users {
        assert!(!stores.likes.has_liked(c.comment_id, *u).await.unwrap());
    }
}

async fn popular_order_follows_likes(stores: Stores) {
    let event = EventId::new();
    let c1 = comment(&stores, event, None).await;
    let c2 = comment(&stores, event, None).await;
    let popular = || {
        let stores = stores.clone();
        async move {
            stores
                .comments
                .list_popular(event, 10, None)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|c| (c.comment_id, c.like_count))
                .collect::<Vec<_>>()
        }
    };
    // No likes: newest first.
    assert_eq!(
        popular().await,
        vec![(c2.comment_id, 0), (c1.comment_id, 0)]
    );
    let (a, b) = (UserId::new(), UserId::new());
    stores.likes.toggle_like(c1.comment_id, a).await.unwrap();
    assert_eq!(
        popular().await,
        vec![(c1.comment_id, 1), (c2.comment_id, 0)]
    );
    stores.likes.toggle_like(c2.comment_id, a).await.unwrap();
    stores.likes.toggle_like(c2.comment_id, b).await.unwrap();
    assert_eq!(
        popular().await,
        vec![(c2.comment_id, 2), (c1.comment_id, 1)]
    );
    stores.likes.toggle_like(c2.comment_id, a).await.unwrap();
    stores.likes.toggle_like(c2.comment_id, b).await.unwrap();
    assert_eq!(
        popular().await,
        vec![(c1.comment_id, 1), (c2.comment_id, 0)]
    );
}

conformance_tests!(
    toggle_on_off_on,
    unknown_comment_is_not_found,
    concurrent_toggles_keep_an_exact_count,
    popular_order_follows_likes,
);
