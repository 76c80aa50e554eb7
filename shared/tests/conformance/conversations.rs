//! Conformance cases for the conversations store.

use banter::ids::{ConversationId, MessageId, UserId};
use banter::model::{
    ACTIVITY_STEP, Conversation, ConversationType, LastMessage, MessageType, Participant,
    ParticipantRole, Receipt,
};
use banter::room::Position;
use banter::store::*;
use banter::time::{Timestamp, now};
use chrono::Duration;

fn conversation(kind: ConversationType, creator: UserId, at: Timestamp) -> Conversation {
    Conversation {
        conversation_id: ConversationId::new(),
        conversation_type: kind,
        title: (kind == ConversationType::Group).then(|| "Weekend plans".to_owned()),
        description: None,
        created_by: creator,
        created_at: at,
        updated_at: at,
        last_message: None,
    }
}

fn members(c: &Conversation, users: &[UserId]) -> Vec<Participant> {
    users
        .iter()
        .map(|u| {
            let role = if *u == c.created_by {
                ParticipantRole::Owner
            } else {
                ParticipantRole::Member
            };
            Participant::joining(c.conversation_id, *u, role, c.created_at)
        })
        .collect()
}

async fn create(stores: &Stores, c: &Conversation, users: &[UserId]) -> Vec<Participant> {
    let ps = members(c, users);
    let out = stores
        .conversations
        .create_conversation(c, &ps)
        .await
        .expect("create");
    assert_eq!(out, Created::New(c.clone()));
    ps
}

fn sorted(mut ps: Vec<Participant>) -> Vec<Participant> {
    ps.sort_by_key(|p| p.user_id);
    ps
}

fn last_message(sender: UserId, position: u64, at: Timestamp) -> LastMessage {
    LastMessage {
        message_id: MessageId::new(),
        sender_id: sender,
        content: format!("message {position}"),
        created_at: at,
        message_type: MessageType::Text,
        position: Position(position),
    }
}

/// The stored conversation `id`, if any.
async fn stored_conversation(stores: &Stores, id: ConversationId) -> Option<Conversation> {
    stores.conversations.get_conversation(id).await.unwrap()
}

/// The participant `user` of conversation `id`, if any.
async fn participant(stores: &Stores, id: ConversationId, user: UserId) -> Option<Participant> {
    stores
        .conversations
        .get_participant(id, user)
        .await
        .unwrap()
}

/// Every participant of conversation `id`.
async fn participants_of(stores: &Stores, id: ConversationId) -> Vec<Participant> {
    stores.conversations.list_participants(id).await.unwrap()
}

/// Moves `user`'s `receipt` marker in conversation `id` to `position` (message `message`);
/// the participant as stored afterwards.
async fn mark(
    stores: &Stores,
    id: ConversationId,
    user: UserId,
    receipt: Receipt,
    position: Position,
    message: MessageId,
) -> Participant {
    stores
        .conversations
        .mark(id, user, receipt, position, message)
        .await
        .unwrap()
}

/// Records `message` as the last activity of conversation `id`.
async fn record_activity(stores: &Stores, id: ConversationId, message: &LastMessage) {
    stores
        .conversations
        .record_activity(id, message)
        .await
        .unwrap();
}

async fn create_group_and_read_it(stores: Stores) {
    let owner = UserId::new();
    let users = [owner, UserId::new(), UserId::new()];
    let c = conversation(ConversationType::Group, owner, now());
    let ps = create(&stores, &c, &users).await;

    assert_eq!(
        stored_conversation(&stores, c.conversation_id).await,
        Some(c.clone())
    );
    for p in &ps {
        assert_eq!(
            participant(&stores, c.conversation_id, p.user_id).await,
            Some(p.clone())
        );
    }
    assert_eq!(
        participant(&stores, c.conversation_id, UserId::new()).await,
        None
    );
    assert_eq!(
        sorted(participants_of(&stores, c.conversation_id).await),
        sorted(ps)
    );
    assert_eq!(
        stored_conversation(&stores, ConversationId::new()).await,
        None
    );
    assert!(
        participants_of(&stores, ConversationId::new())
            .await
            .is_empty()
    );
}

async fn large_group_keeps_every_participant(stores: Stores) {
    // More participants than one transaction holds.
    let owner = UserId::new();
    let mut users = vec![owner];
    users.extend((0..129).map(|_| UserId::new()));
    let c = conversation(ConversationType::Group, owner, now());
    let ps = create(&stores, &c, &users).await;
    assert_eq!(
        sorted(participants_of(&stores, c.conversation_id).await),
        sorted(ps)
    );
    let last = users[users.len() - 1];
    assert!(
        participant(&stores, c.conversation_id, last)
            .await
            .is_some()
    );
}

async fn direct_conversation_is_unique_per_pair(stores: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let first = conversation(ConversationType::Direct, a, now());
    create(&stores, &first, &[a, b]).await;

    // The same pair, either way round: the existing conversation, and nothing stored.
    for (creator, pair) in [(b, [b, a]), (a, [a, b])] {
        let second = conversation(ConversationType::Direct, creator, now());
        let out = stores
            .conversations
            .create_conversation(&second, &members(&second, &pair))
            .await
            .unwrap();
        assert_eq!(out, Created::Existing(first.clone()));
        assert_eq!(
            stored_conversation(&stores, second.conversation_id).await,
            None
        );
        assert!(
            participants_of(&stores, second.conversation_id)
                .await
                .is_empty()
        );
    }

    // Another pair gets its own; a group of the same two people is not a direct conversation.
    let c = UserId::new();
    let other = conversation(ConversationType::Direct, a, now());
    create(&stores, &other, &[a, c]).await;
    let group = conversation(ConversationType::Group, a, now());
    create(&stores, &group, &[a, b]).await;

    // A direct conversation has exactly two participants.
    let three = conversation(ConversationType::Direct, a, now());
    assert_eq!(
        stores
            .conversations
            .create_conversation(&three, &members(&three, &[a, b, c]))
            .await,
        Err(StoreError::Conflict("direct_needs_two"))
    );
}

async fn add_and_remove_participants(stores: Stores) {
    let owner = UserId::new();
    let member = UserId::new();
    let c = conversation(ConversationType::Group, owner, now());
    let ps = create(&stores, &c, &[owner, member]).await;

    let newcomer = UserId::new();
    let later = c.created_at + Duration::seconds(30);
    let mut again = Participant::joining(c.conversation_id, owner, ParticipantRole::Member, later);
    again.last_read_position = Position(99);
    let fresh = Participant::joining(c.conversation_id, newcomer, ParticipantRole::Member, later);
    let added = stores
        .conversations
        .add_participants(&[again, fresh.clone()], owner)
        .await
        .unwrap();
    assert_eq!(added, vec![fresh.clone()]);
    // The existing participant is untouched.
    assert_eq!(
        participant(&stores, c.conversation_id, owner).await,
        Some(ps[0].clone())
    );
    assert_eq!(
        participant(&stores, c.conversation_id, newcomer).await,
        Some(fresh.clone())
    );
    assert_eq!(participants_of(&stores, c.conversation_id).await.len(), 3);

    let stranger = UserId::new();
    let removed = stores
        .conversations
        .remove_participants(c.conversation_id, &[newcomer, stranger, member], owner)
        .await
        .unwrap();
    assert_eq!(removed, vec![newcomer, member]);
    assert_eq!(
        participants_of(&stores, c.conversation_id).await,
        vec![ps[0].clone()]
    );
    assert_eq!(
        stores
            .conversations
            .remove_participants(c.conversation_id, &[newcomer], owner)
            .await
            .unwrap(),
        Vec::<UserId>::new()
    );

    // Adding to a conversation that does not exist.
    let ghost = Participant::joining(ConversationId::new(), owner, ParticipantRole::Member, later);
    assert_eq!(
        stores.conversations.add_participants(&[ghost], owner).await,
        Err(StoreError::NotFound)
    );
}

async fn user_conversations_by_last_activity(stores: Stores) {
    let user = UserId::new();
    let t0 = now() - Duration::minutes(10);
    let mut convs = Vec::new();
    for i in 0..3 {
        let c = conversation(ConversationType::Group, user, t0 + Duration::seconds(i));
        create(&stores, &c, &[user, UserId::new()]).await;
        convs.push(c);
    }
    // Someone else's conversation is not listed.
    let elsewhere = conversation(ConversationType::Group, UserId::new(), t0);
    create(&stores, &elsewhere, &[elsewhere.created_by]).await;

    let list = |limit: usize, cursor: Option<Cursor>| {
        let stores = stores.clone();
        async move {
            stores
                .conversations
                .list_user_conversations(user, limit, cursor.as_ref())
                .await
                .unwrap()
        }
    };
    let ids = |page: &Page<(Conversation, Participant)>| {
        page.items
            .iter()
            .map(|(c, p)| {
                assert_eq!(c.conversation_id, p.conversation_id);
                assert_eq!(p.user_id, user);
                c.conversation_id
            })
            .collect::<Vec<_>>()
    };
    let page = list(10, None).await;
    assert_eq!(
        ids(&page),
        vec![
            convs[2].conversation_id,
            convs[1].conversation_id,
            convs[0].conversation_id
        ]
    );
    assert_eq!(page.next, None);

    // A message in the oldest conversation moves it to the top.
    let t_msg = t0 + Duration::seconds(60);
    let m = last_message(user, 2, t_msg);
    record_activity(&stores, convs[0].conversation_id, &m).await;
    let c0 = stored_conversation(&stores, convs[0].conversation_id)
        .await
        .unwrap();
    assert_eq!(c0.last_message, Some(m.clone()));
    assert_eq!(c0.updated_at, t_msg);
    for p in participants_of(&stores, convs[0].conversation_id).await {
        assert_eq!(p.last_activity_at, t_msg);
    }

    let first = list(2, None).await;
    assert_eq!(
        ids(&first),
        vec![convs[0].conversation_id, convs[2].conversation_id]
    );
    assert_eq!(first.items[0].0, c0);
    assert_eq!(first.items[0].1.last_activity_at, t_msg);
    let cursor = first.next.clone().expect("a second page");
    let second = list(2, Some(cursor.clone())).await;
    assert_eq!(ids(&second), vec![convs[1].conversation_id]);
    assert_eq!(second.next, None);

    // Older activity never moves anything back.
    let older = last_message(user, 1, t0 + Duration::seconds(30));
    record_activity(&stores, convs[0].conversation_id, &older).await;
    let still = stored_conversation(&stores, convs[0].conversation_id)
        .await
        .unwrap();
    assert_eq!(still, c0);
    assert_eq!(ids(&list(10, None).await)[0], convs[0].conversation_id);

    // Within ACTIVITY_STEP of the rows' activity, a message moves the conversation but
    // writes no participant row; at ACTIVITY_STEP it writes them all.
    let soon = last_message(user, 3, t_msg + ACTIVITY_STEP - Duration::seconds(1));
    record_activity(&stores, convs[0].conversation_id, &soon).await;
    let moved = stored_conversation(&stores, convs[0].conversation_id)
        .await
        .unwrap();
    assert_eq!(
        moved.last_message,
        Some(soon.clone()),
        "the conversation moves"
    );
    for p in participants_of(&stores, convs[0].conversation_id).await {
        assert_eq!(p.last_activity_at, t_msg, "rows within the step stay");
    }
    let step = last_message(user, 4, t_msg + ACTIVITY_STEP);
    record_activity(&stores, convs[0].conversation_id, &step).await;
    for p in participants_of(&stores, convs[0].conversation_id).await {
        assert_eq!(p.last_activity_at, step.created_at, "stale rows move");
    }

    // A cursor belongs to its user.
    assert_eq!(
        stores
            .conversations
            .list_user_conversations(UserId::new(), 2, Some(&cursor))
            .await,
        Err(StoreError::InvalidCursor)
    );
    assert_eq!(
        stores
            .conversations
            .record_activity(ConversationId::new(), &m)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn marks_only_move_forward(stores: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let c = conversation(ConversationType::Direct, a, now());
    create(&stores, &c, &[a, b]).await;
    let id = c.conversation_id;
    let (m3, m5) = (MessageId::new(), MessageId::new());

    let p = mark(&stores, id, b, Receipt::Read, Position(5), m5).await;
    assert_eq!(p.last_read_position, Position(5));
    assert_eq!(p.last_read_message_id, Some(m5));
    assert_eq!(p.last_delivered_position, Position::ZERO);
    assert_eq!(p.user_id, b);

    let back = mark(&stores, id, b, Receipt::Read, Position(3), m3).await;
    assert_eq!(back, p);

    let delivered = mark(&stores, id, b, Receipt::Delivered, Position(4), m3).await;
    assert_eq!(delivered.last_delivered_position, Position(4));
    assert_eq!(delivered.last_read_position, Position(5));
    assert_eq!(delivered.last_read_message_id, Some(m5));
    let same = mark(&stores, id, b, Receipt::Delivered, Position(4), m3).await;
    assert_eq!(same, delivered);
    assert_eq!(participant(&stores, id, b).await, Some(delivered));
    // The other participant's markers are their own.
    let pa = participant(&stores, id, a).await.unwrap();
    assert_eq!(pa.last_read_position, Position::ZERO);

    assert_eq!(
        stores
            .conversations
            .mark(id, UserId::new(), Receipt::Read, Position(1), m3)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn concurrent_direct_creation_yields_one(stores: Stores) {
    let (a, b) = (UserId::new(), UserId::new());
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let stores = stores.clone();
            tokio::spawn(async move {
                let (creator, other) = if i % 2 == 0 { (a, b) } else { (b, a) };
                let c = conversation(ConversationType::Direct, creator, now());
                let out = stores
                    .conversations
                    .create_conversation(&c, &members(&c, &[creator, other]))
                    .await
                    .expect("create");
                (c, out)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut existing = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (c, Created::New(n)) => {
                assert_eq!(n, c);
                winners.push(n);
            }
            (_, Created::Existing(e)) => existing.push(e),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creation wins");
    assert!(existing.iter().all(|e| *e == winners[0]));
    assert_eq!(
        participants_of(&stores, winners[0].conversation_id)
            .await
            .len(),
        2
    );
}

/// A title change and a new owner are each stored with the `system` message that records
/// them; a latest message moved meanwhile is kept; unknown conversations and users are
/// `NotFound`.
async fn updates_and_promotions_are_recorded_as_system_messages(stores: Stores) {
    use banter::model::SystemEvent;
    let (a, b) = (UserId::new(), UserId::new());
    let c = conversation(ConversationType::Group, a, now());
    let id = c.conversation_id;
    create(&stores, &c, &[a, b]).await;
    let last = last_message(a, 1, now());
    record_activity(&stores, id, &last).await;
    let updated = stores
        .conversations
        .update_conversation(id, Some("Trip".into()), Some("Where to go".into()), a)
        .await
        .unwrap();
    assert_eq!(updated.title.as_deref(), Some("Trip"));
    let stored = stored_conversation(&stores, id).await.expect("stored");
    assert_eq!(stored.title.as_deref(), Some("Trip"));
    assert_eq!(stored.description.as_deref(), Some("Where to go"));
    assert_eq!(stored.last_message, Some(last), "the latest message stays");
    let promoted = stores.conversations.promote(id, b, a).await.unwrap();
    assert_eq!(promoted.role, ParticipantRole::Owner);
    assert_eq!(
        participant(&stores, id, b).await.map(|p| p.role),
        Some(ParticipantRole::Owner)
    );
    let history = stores
        .messages
        .list_messages(id, Window::after(Position::ZERO, 10))
        .await
        .unwrap();
    let events: Vec<_> = history
        .items
        .iter()
        .map(|m| (m.message_type, m.sender_id, m.system.clone()))
        .collect();
    assert_eq!(
        events,
        vec![
            (
                MessageType::System,
                a,
                Some(SystemEvent::ConversationUpdated {
                    title: Some("Trip".into()),
                    description_changed: true,
                })
            ),
            (
                MessageType::System,
                a,
                Some(SystemEvent::OwnerChanged { user_id: b })
            ),
        ]
    );
    assert_eq!(
        stores
            .conversations
            .update_conversation(ConversationId::new(), None, None, a)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        stores.conversations.promote(id, UserId::new(), a).await,
        Err(StoreError::NotFound)
    );
}

conformance_tests!(
    updates_and_promotions_are_recorded_as_system_messages,
    create_group_and_read_it,
    concurrent_direct_creation_yields_one,
    large_group_keeps_every_participant,
    direct_conversation_is_unique_per_pair,
    add_and_remove_participants,
    user_conversations_by_last_activity,
    marks_only_move_forward,
);
