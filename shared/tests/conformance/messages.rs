//! Conformance cases for the messages store.

use banter::ids::{ClientKey, ConversationId, MessageId, UserId};
use banter::model::{
    CLAIM_WINDOW, Content, MAX_CONTENT_CHARS, MAX_EDIT_HISTORY, MAX_REACTION_KINDS, MAX_REACTIONS,
    Message, MessageType, NewMessage,
};
use banter::room::Position;
use banter::store::*;
use banter::time::now;

fn new_message(conv: ConversationId, sender: UserId, key: &str, text: &str) -> NewMessage {
    NewMessage {
        message_id: MessageId::new(),
        conversation_id: conv,
        sender_id: sender,
        message_type: MessageType::Text,
        content: Content::parse("content", text).unwrap(),
        media_attachments: Vec::new(),
        client_message_id: key.parse::<ClientKey>().unwrap(),
        reply_to_message_id: None,
        created_at: now(),
    }
}

async fn send(stores: &Stores, m: NewMessage) -> Message {
    crate::created(stores.messages.append_message(m).await)
}

fn positions(items: &[Message]) -> Vec<u64> {
    items.iter().map(|m| m.position.0).collect()
}

/// The message `sender` sent in `conv` with the client message id `key`, if any.
async fn by_client_id(
    stores: &Stores,
    conv: ConversationId,
    sender: UserId,
    key: &ClientKey,
) -> Option<Message> {
    stores
        .messages
        .get_by_client_id(conv, sender, key)
        .await
        .unwrap()
}

async fn append_assigns_positions(stores: Stores) {
    let conv = ConversationId::new();
    let (a, b) = (UserId::new(), UserId::new());
    assert_eq!(stores.messages.head(conv).await.unwrap(), Position::ZERO);
    let m1 = send(&stores, new_message(conv, a, "a-1", "hi")).await;
    let m2 = send(&stores, new_message(conv, b, "b-1", "hello")).await;
    let mut reply = new_message(conv, a, "a-2", "how are you?");
    reply.reply_to_message_id = Some(m2.message_id);
    let m3 = send(&stores, reply).await;
    assert_eq!(
        positions(&[m1.clone(), m2.clone(), m3.clone()]),
        vec![1, 2, 3]
    );
    assert_eq!(m3.reply_to_message_id, Some(m2.message_id));
    assert_eq!(m1.version, 1);
    assert_eq!(m1.content.as_str(), "hi");
    assert_eq!(stores.messages.head(conv).await.unwrap(), Position(3));
    for m in [&m1, &m2, &m3] {
        assert_eq!(
            stores.messages.get_message(m.message_id).await.unwrap(),
            Some(m.clone())
        );
    }
    assert_eq!(
        stores.messages.get_message(MessageId::new()).await.unwrap(),
        None
    );
    let other = ConversationId::new();
    assert_eq!(
        send(&stores, new_message(other, a, "a-1", "elsewhere"))
            .await
            .position,
        Position(1)
    );
}

async fn idempotent_by_client_message_id(stores: Stores) {
    let conv = ConversationId::new();
    let (a, b) = (UserId::new(), UserId::new());
    let original = send(&stores, new_message(conv, a, "same-key", "first try")).await;

    let retry = stores
        .messages
        .append_message(new_message(conv, a, "same-key", "first try"))
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.item, original);
    assert_eq!(
        crate::changes_in(&stores, banter::room::Room::Conversation(conv)).await,
        1
    );

    // Another sender may use the same key: a new message.
    let from_b = send(&stores, new_message(conv, b, "same-key", "b's message")).await;
    assert!(from_b.position > original.position);
    assert_ne!(from_b.message_id, original.message_id);
    let listed = stores
        .messages
        .list_messages(conv, Window::after(Position::ZERO, 10))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![original, from_b]);
}

/// The same key with other content is not a retry: refused as a conflict, nothing stored.
async fn client_message_id_with_other_content_conflicts(stores: Stores) {
    let conv = ConversationId::new();
    let a = UserId::new();
    send(&stores, new_message(conv, a, "m-1", "first")).await;
    let other = stores
        .messages
        .append_message(new_message(conv, a, "m-1", "second"))
        .await;
    assert_eq!(other, Err(StoreError::Conflict("idempotency_key_reused")));
    assert_eq!(
        crate::changes_in(&stores, banter::room::Room::Conversation(conv)).await,
        1
    );
}

/// Past [`CLAIM_WINDOW`] a client message id is free again.
async fn client_message_id_expires_after_the_window(stores: Stores) {
    let conv = ConversationId::new();
    let a = UserId::new();
    let long_ago =
        now() - chrono::Duration::from_std(CLAIM_WINDOW).unwrap() - chrono::Duration::seconds(5);
    let old = send(
        &stores,
        NewMessage {
            created_at: long_ago,
            ..new_message(conv, a, "m-1", "yesterday")
        },
    )
    .await;
    let new = send(&stores, new_message(conv, a, "m-1", "today")).await;
    assert_ne!(new.message_id, old.message_id);
    assert_eq!(new.position, Position(2));
    let key: ClientKey = "m-1".parse().unwrap();
    assert_eq!(by_client_id(&stores, conv, a, &key).await, Some(new));
}

async fn get_by_client_id(stores: Stores) {
    let conv = ConversationId::new();
    let (a, b) = (UserId::new(), UserId::new());
    let m = send(&stores, new_message(conv, a, "cm-42", "text")).await;
    let key: ClientKey = "cm-42".parse().unwrap();
    assert_eq!(by_client_id(&stores, conv, a, &key).await, Some(m));
    assert_eq!(by_client_id(&stores, conv, b, &key).await, None);
    assert_eq!(
        by_client_id(&stores, ConversationId::new(), a, &key).await,
        None
    );
    assert_eq!(
        by_client_id(&stores, conv, a, &"cm-43".parse().unwrap()).await,
        None
    );
}

async fn list_windows(stores: Stores) {
    let conv = ConversationId::new();
    let a = UserId::new();
    for i in 1..=6 {
        send(
            &stores,
            new_message(conv, a, &format!("k{i}"), &format!("m{i}")),
        )
        .await;
    }
    let read = |w: Window| {
        let stores = stores.clone();
        async move { stores.messages.list_messages(conv, w).await.unwrap() }
    };
    let cases = vec![
        ("newest 4", Window::newest(None, 4), vec![6, 5, 4, 3], true),
        (
            "newest 4 before 3",
            Window::newest(Some(Position(3)), 4),
            vec![2, 1],
            false,
        ),
        ("after 4", Window::after(Position(4), 10), vec![5, 6], false),
        ("2 after 1", Window::after(Position(1), 2), vec![2, 3], true),
        (
            "oldest between 1 and 4",
            Window {
                after: Some(Position(1)),
                before: Some(Position(4)),
                order: Order::Oldest,
                limit: 10,
            },
            vec![2, 3],
            false,
        ),
        (
            "2 newest between 1 and 5",
            Window {
                after: Some(Position(1)),
                before: Some(Position(5)),
                order: Order::Newest,
                limit: 2,
            },
            vec![4, 3],
            true,
        ),
        (
            "after the head",
            Window::after(Position(6), 10),
            vec![],
            false,
        ),
    ];
    crate::check_windows(read, |m: &Message| m.position.0, cases).await;
}

async fn concurrent_appends_take_every_position_once(stores: Stores) {
    const SENDERS: usize = 6;
    const EACH: usize = 8;
    let conv = ConversationId::new();
    let tasks: Vec<_> = (0..SENDERS)
        .map(|s| {
            let stores = stores.clone();
            tokio::spawn(async move {
                let sender = UserId::new();
                let mut got = Vec::new();
                for i in 0..EACH {
                    let m = new_message(conv, sender, &format!("k{i}"), &format!("s{s} m{i}"));
                    got.push(send(&stores, m).await.position.0);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(SENDERS * EACH) as u64).collect();
    assert_eq!(all, expected);
    assert_eq!(
        stores.messages.head(conv).await.unwrap(),
        Position((SENDERS * EACH) as u64)
    );
    let listed = stores
        .messages
        .list_messages(conv, Window::after(Position::ZERO, 1000))
        .await
        .unwrap();
    assert_eq!(positions(&listed.items), expected);
}

/// The largest message a user can make (the longest content of four-byte characters, a full
/// edit history of such contents with the longest reasons, every reaction it may hold) is
/// one item the store keeps and returns whole: under DynamoDB's 400 KB.
async fn the_largest_message_fits_one_item(stores: Stores) {
    let conv = ConversationId::new();
    let a = UserId::new();
    let text = |seed: u32| -> String {
        let c = char::from_u32(0x20000 + seed).unwrap();
        std::iter::repeat_n(c, MAX_CONTENT_CHARS).collect()
    };
    let m = send(&stores, new_message(conv, a, "big", &text(0))).await;
    let mut largest = m.clone();
    for i in 1..=(MAX_EDIT_HISTORY as u32 + 2) {
        let content = Content::parse("content", &text(i)).unwrap();
        assert!(largest.apply_edit(content, Some("ℝ".repeat(100)), now()));
    }
    let emoji = some_emoji(MAX_REACTION_KINDS);
    for _ in 0..MAX_REACTIONS / MAX_REACTION_KINDS {
        let user = UserId::new();
        for e in &emoji {
            largest.toggle_reaction(e, user).unwrap();
        }
    }
    largest.version = 2;
    stores.messages.update_message(&largest).await.unwrap();
    assert_eq!(
        stores.messages.get_message(m.message_id).await.unwrap(),
        Some(largest)
    );
}

/// `n` distinct emoji of the Unicode list.
fn some_emoji(n: usize) -> Vec<&'static str> {
    emojis::iter().take(n).map(|e| e.as_str()).collect()
}

async fn update_message_checks_version(stores: Stores) {
    let conv = ConversationId::new();
    let a = UserId::new();
    let m = send(&stores, new_message(conv, a, "k", "helo")).await;

    let mut edited = m.clone();
    edited.apply_edit(
        Content::parse("content", "hello").unwrap(),
        Some("typo".into()),
        now(),
    );
    edited.toggle_reaction("👍", UserId::new()).unwrap();
    edited.version = 2;
    stores.messages.update_message(&edited).await.unwrap();
    assert_eq!(
        stores.messages.get_message(m.message_id).await.unwrap(),
        Some(edited.clone())
    );

    // A writer that read version 1 loses.
    let mut stale = m.clone();
    stale.is_deleted = true;
    stale.version = 2;
    assert_eq!(
        stores.messages.update_message(&stale).await,
        Err(StoreError::Conflict("version"))
    );
    let mut skipping = edited.clone();
    skipping.version = 4;
    assert_eq!(
        stores.messages.update_message(&skipping).await,
        Err(StoreError::Conflict("version"))
    );
    assert_eq!(
        stores.messages.get_message(m.message_id).await.unwrap(),
        Some(edited.clone())
    );
    let mut next = edited.clone();
    next.is_deleted = true;
    next.deleted_at = Some(now());
    next.version = 3;
    stores.messages.update_message(&next).await.unwrap();
    assert_eq!(
        stores.messages.get_message(m.message_id).await.unwrap(),
        Some(next)
    );
    // Each change is an entry of the stream (sent, reacted, deleted); the refused writes
    // left none.
    assert_eq!(
        crate::changes_in(&stores, banter::room::Room::Conversation(conv)).await,
        3
    );

    let mut unknown = new_message(conv, a, "k2", "never sent").into_message(Position(9));
    unknown.version = 2;
    assert_eq!(
        stores.messages.update_message(&unknown).await,
        Err(StoreError::NotFound)
    );
}

async fn concurrent_retries_store_one_message(stores: Stores) {
    let conv = ConversationId::new();
    let sender = UserId::new();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let stores = stores.clone();
            tokio::spawn(async move {
                stores
                    .messages
                    .append_message(new_message(conv, sender, "retry-me", "the same text"))
                    .await
                    .expect("append")
            })
        })
        .collect();
    let mut outs = Vec::new();
    for t in tasks {
        outs.push(t.await.unwrap());
    }
    assert_eq!(outs.iter().filter(|o| o.created).count(), 1);
    let first = outs[0].item.clone();
    assert!(outs.iter().all(|o| o.item == first));
    // (A retry may have reserved position 1 first and voided it: the message is the one
    // change, wherever it stands.)
    assert_eq!(
        crate::changes_in(&stores, banter::room::Room::Conversation(conv)).await,
        1
    );
}

conformance_tests!(
    append_assigns_positions,
    concurrent_retries_store_one_message,
    idempotent_by_client_message_id,
    client_message_id_with_other_content_conflicts,
    client_message_id_expires_after_the_window,
    get_by_client_id,
    list_windows,
    concurrent_appends_take_every_position_once,
    update_message_checks_version,
    the_largest_message_fits_one_item,
);
