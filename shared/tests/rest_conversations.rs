//! The `conversations` function's routes, end to end through `banter::http::serve` with
//! requests built from the samples in `events/`, over the in-memory adapters.

mod support;

use banter::ids::{ConnectionId, ConversationId, UserId};
use banter::model::{MAX_PARTICIPANTS, Receipt};
use banter::rest::conversations::ROUTES;
use banter::room::Room;
use banter_testkit::connections::{store_connection, subscribe};
use serde_json::{Value, json};
use support::rest::{
    Actor, Call, Resp, World, check_errors, check_fields, check_needs_token, check_samples,
    forged_token_for,
};

fn create(by: &Actor, body: Value) -> Call {
    Call::sample("http-conversations-create").by(by).json(body)
}

async fn group(w: &World, owner: &Actor, members: &[&Actor]) -> Value {
    w.group(owner, members).await
}

/// The start of several tests here: ada's group with bob.
async fn ada_and_bob_in_a_group() -> (World, Actor, Actor, Value) {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let conv = group(&w, &ada, &[&bob]).await;
    (w, ada, bob, conv)
}

fn list(by: &Actor) -> Call {
    Call::sample("http-conversations-list").no_query().by(by)
}

fn participants(conversation: &Value, by: &Actor, body: Value) -> Call {
    Call::sample("http-conversations-participants")
        .path_param(
            "conversation_id",
            conversation["conversation_id"].as_str().expect("id"),
        )
        .by(by)
        .json(body)
}

async fn send(w: &World, conversation: &Value, by: &Actor, text: &str) -> Value {
    Call::sample("http-messages-send")
        .path_param(
            "conversation_id",
            conversation["conversation_id"].as_str().expect("id"),
        )
        .by(by)
        .json(json!({"content": text, "client_message_id": uuid::Uuid::now_v7().to_string()}))
        .send(w)
        .await
        .expect(201)
        .body
}

fn ids_of(r: &Resp) -> Vec<String> {
    r.body["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| c["conversation_id"].as_str().expect("id").to_owned())
        .collect()
}

fn user_ids(participants: &Value) -> Vec<String> {
    let mut v: Vec<String> = participants
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| p["user_id"].as_str().expect("user_id").to_owned())
        .collect();
    v.sort();
    v
}

fn sorted(ids: &[UserId]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(ToString::to_string).collect();
    v.sort();
    v
}

#[tokio::test]
async fn samples_are_served() {
    check_samples("conversations", ROUTES).await;
}

#[tokio::test]
async fn create_group_includes_the_creator_as_owner() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let r = create(
        &ada,
        json!({
            "conversation_type": "group",
            "title": " Project Team ",
            "description": "Discussion for the new project",
            "participant_ids": [bob.id, cy.id, bob.id, ada.id],
        }),
    )
    .send(&w)
    .await
    .expect(201);
    let c = &r.body;
    assert_eq!(c["conversation_type"], "group");
    assert_eq!(c["title"], "Project Team");
    assert_eq!(c["description"], "Discussion for the new project");
    assert_eq!(c["created_by"], ada.id.to_string());
    assert!(c["created_at"].is_string());
    assert!(c["last_message"].is_null());
    assert_eq!(c["unread_count"], 0);
    assert_eq!(
        user_ids(&c["participants"]),
        sorted(&[ada.id, bob.id, cy.id])
    );
    let owner = c["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["user_id"] == ada.id.to_string())
        .expect("creator");
    assert_eq!(owner["role"], "owner");
    assert_eq!(owner["username"], "ada");
    assert!(owner["joined_at"].is_string());
    // Every participant sees it.
    for who in [&ada, &bob, &cy] {
        let r = list(who).ok(&w).await;
        assert_eq!(ids_of(&r), [c["conversation_id"].as_str().expect("id")]);
    }
}

#[tokio::test]
async fn a_direct_conversation_is_created_once_per_pair() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let direct = |by: &Actor, other: &Actor| {
        create(
            by,
            json!({"conversation_type": "direct", "participant_ids": [other.id], "title": null}),
        )
    };
    let first = direct(&ada, &bob).send(&w).await.expect(201);
    assert_eq!(first.body["conversation_type"], "direct");
    assert!(first.body["title"].is_null());
    assert_eq!(
        user_ids(&first.body["participants"]),
        sorted(&[ada.id, bob.id])
    );
    let again = direct(&ada, &bob).ok(&w).await;
    assert_eq!(again.body["conversation_id"], first.body["conversation_id"]);
    let reverse = direct(&bob, &ada).ok(&w).await;
    assert_eq!(
        reverse.body["conversation_id"],
        first.body["conversation_id"]
    );
    let r = list(&ada).ok(&w).await;
    assert_eq!(ids_of(&r).len(), 1);
}

#[tokio::test]
async fn create_validates_its_input() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let ghost1 = UserId::new();
    let ghost2 = UserId::new();
    let r = create(
        &ada,
        json!({"conversation_type": "group", "title": "T", "participant_ids": [bob.id, ghost1, ghost2]}),
    )
    .send(&w)
    .await
    .expect(400);
    assert_eq!(r.fields(), ["participant_ids[1]", "participant_ids[2]"]);
    assert!(r.body.to_string().contains(&ghost1.to_string()));
    let too_many: Vec<UserId> = (0..=MAX_PARTICIPANTS).map(|_| UserId::new()).collect();
    let with = |body: Value| create(&ada, body);
    check_fields(
        &w,
        vec![
            (
                "a direct conversation of three",
                with(json!({"conversation_type": "direct", "participant_ids": [bob.id, cy.id]})),
                "participant_ids",
            ),
            (
                "a direct conversation with oneself",
                with(json!({"conversation_type": "direct", "participant_ids": [ada.id]})),
                "participant_ids",
            ),
            (
                "a direct conversation with a title",
                with(json!({"conversation_type": "direct", "participant_ids": [bob.id], "title": "Hi"})),
                "title",
            ),
            (
                "a group without a title",
                with(json!({"conversation_type": "group", "participant_ids": [bob.id]})),
                "title",
            ),
            (
                "a title too long",
                with(json!({"conversation_type": "group", "title": "t".repeat(101), "participant_ids": [bob.id]})),
                "title",
            ),
            (
                "a group of oneself",
                with(json!({"conversation_type": "group", "title": "T", "participant_ids": [ada.id]})),
                "participant_ids",
            ),
            (
                "a group of nobody",
                with(json!({"conversation_type": "group", "title": "T", "participant_ids": []})),
                "participant_ids",
            ),
            (
                "too many participants",
                with(json!({"conversation_type": "group", "title": "T", "participant_ids": too_many})),
                "participant_ids",
            ),
            (
                "a participant id not an id",
                with(json!({"conversation_type": "group", "title": "T", "participant_ids": ["nope"]})),
                "participant_ids",
            ),
            (
                "a channel",
                with(json!({"conversation_type": "channel", "participant_ids": [bob.id]})),
                "conversation_type",
            ),
            (
                "no type",
                with(json!({"participant_ids": [bob.id]})),
                "conversation_type",
            ),
            (
                "no participants",
                with(json!({"conversation_type": "group", "title": "T"})),
                "participant_ids",
            ),
            (
                "not JSON",
                with(json!({})).raw_body("{\"conversation_type\":"),
                "body",
            ),
        ],
    )
    .await;
    let big = format!("{{\"title\": \"{}\"}}", "a".repeat(70 * 1024));
    create(&ada, json!({}))
        .raw_body(&big)
        .send(&w)
        .await
        .expect(413);
    assert!(ids_of(&list(&ada).ok(&w).await).is_empty());
}

#[tokio::test]
async fn list_orders_by_activity_with_unread_counts() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let tick = || tokio::time::sleep(std::time::Duration::from_millis(3));
    let first = group(&w, &ada, &[&bob]).await;
    tick().await;
    let second = group(&w, &ada, &[&bob, &cy]).await;
    tick().await;
    let third = group(&w, &bob, &[&ada]).await;
    let id = |c: &Value| c["conversation_id"].as_str().expect("id").to_owned();
    // Newest activity first: creation order, reversed.
    let r = list(&ada).ok(&w).await;
    assert_eq!(ids_of(&r), [id(&third), id(&second), id(&first)]);
    // Messages move a conversation to the top.
    tick().await;
    send(&w, &first, &ada, "one").await;
    let last = send(&w, &first, &ada, "two").await;
    let r = list(&bob).ok(&w).await;
    assert_eq!(ids_of(&r), [id(&first), id(&third), id(&second)]);
    let top = &r.body["conversations"][0];
    assert_eq!(top["unread_count"], 2);
    assert_eq!(top["last_message"]["message_id"], last["message_id"]);
    assert_eq!(top["last_message"]["content"], "two");
    assert_eq!(top["last_message"]["sender_id"], ada.id.to_string());
    assert_eq!(top["last_message"]["position"], 2);
    assert!(top["last_read_message_id"].is_null());
    assert_eq!(user_ids(&top["participants"]), sorted(&[ada.id, bob.id]));
    // Reading the first message leaves one unread.
    let first_id: ConversationId = id(&first).parse().expect("id");
    let m1 = w
        .app
        .stores
        .messages
        .list_messages(
            first_id,
            banter::store::Window::after(banter::room::Position::ZERO, 1),
        )
        .await
        .expect("messages")
        .items[0]
        .message_id;
    banter::service::messages::receipt(&w.app, bob.id, first_id, m1, Receipt::Read)
        .await
        .expect("receipt");
    let r = list(&bob).ok(&w).await;
    assert_eq!(r.body["conversations"][0]["unread_count"], 1);
    assert_eq!(
        r.body["conversations"][0]["last_read_message_id"],
        m1.to_string()
    );
    // cy is in one conversation only.
    let r = list(&cy).ok(&w).await;
    assert_eq!(ids_of(&r), [id(&second)]);
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_cursor"].is_null());
}

#[tokio::test]
async fn list_pages_with_a_cursor_bound_to_the_user() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(group(&w, &ada, &[&bob]).await["conversation_id"].clone());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    created.reverse();
    let p1 = list(&ada).query("limit", 2).ok(&w).await;
    assert_eq!(p1.body["has_more"], true);
    let c1 = p1.body["next_cursor"].as_str().expect("cursor").to_owned();
    let p2 = list(&ada)
        .query("limit", 2)
        .query("cursor", &c1)
        .ok(&w)
        .await;
    let p3 = list(&ada)
        .query("limit", 2)
        .query("cursor", p2.body["next_cursor"].as_str().expect("cursor"))
        .ok(&w)
        .await;
    assert_eq!(p3.body["has_more"], false);
    let all: Vec<String> = [ids_of(&p1), ids_of(&p2), ids_of(&p3)].concat();
    let expected: Vec<String> = created
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    assert_eq!(all, expected);
    // Another user cannot use ada's cursor.
    check_fields(
        &w,
        vec![
            ("ada's cursor", list(&bob).query("cursor", &c1), "cursor"),
            (
                "a forged cursor",
                list(&ada).query("cursor", "abc.def"),
                "cursor",
            ),
        ],
    )
    .await;
    for bad in ["0", "51", "x"] {
        list(&ada)
            .query("limit", bad)
            .send(&w)
            .await
            .expect_field("limit");
    }
}

#[tokio::test]
async fn list_hides_the_text_of_a_deleted_last_message() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let m = send(&w, &conv, &ada, "oops, secret").await;
    Call::sample("http-messages-delete")
        .path_param("message_id", m["message_id"].as_str().expect("id"))
        .by(&ada)
        .ok(&w)
        .await;
    let r = list(&bob).ok(&w).await;
    let last = &r.body["conversations"][0]["last_message"];
    assert_eq!(last["content"], "");
    assert_eq!(last["is_deleted"], true);
    assert!(!r.body.to_string().contains("secret"));
}

#[tokio::test]
async fn participants_are_managed_by_the_owner() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let dee = w.user("dee").await;
    let eve = w.user("eve").await;
    let conv = group(&w, &ada, &[&bob]).await;
    // The owner adds; users already in are left out of the answer.
    let r = participants(
        &conv,
        &ada,
        json!({"action": "add", "user_ids": [cy.id, bob.id, cy.id]}),
    )
    .ok(&w)
    .await;
    assert_eq!(r.body["success"], true);
    let added = r.body["added_participants"].as_array().expect("added");
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["user_id"], cy.id.to_string());
    assert_eq!(added[0]["role"], "member");
    assert_eq!(added[0]["username"], "cy");
    assert!(added[0]["joined_at"].is_string());
    let r = participants(&conv, &ada, json!({"action": "add", "user_ids": [cy.id]}))
        .ok(&w)
        .await;
    assert_eq!(r.body["added_participants"], json!([]));
    // Members may not add, nor remove others; outsiders learn nothing.
    let change = |by: &Actor, action: &str, users: &[&Actor]| {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        participants(&conv, by, json!({"action": action, "user_ids": ids}))
    };
    check_errors(
        &w,
        vec![
            (
                "a member adds",
                change(&bob, "add", &[&dee]),
                403,
                "FORBIDDEN",
            ),
            (
                "a member removes another",
                change(&bob, "remove", &[&cy]),
                403,
                "FORBIDDEN",
            ),
            (
                "a member removes itself and another",
                change(&bob, "remove", &[&bob, &cy]),
                403,
                "FORBIDDEN",
            ),
            (
                "an outsider adds itself",
                change(&eve, "add", &[&eve]),
                404,
                "NOT_FOUND",
            ),
            (
                "an outsider removes itself",
                change(&eve, "remove", &[&eve]),
                404,
                "NOT_FOUND",
            ),
        ],
    )
    .await;
    // A member may leave.
    let r = participants(
        &conv,
        &bob,
        json!({"action": "remove", "user_ids": [bob.id]}),
    )
    .ok(&w)
    .await;
    assert_eq!(
        r.body,
        json!({"success": true, "removed_user_ids": [bob.id]})
    );
    assert!(ids_of(&list(&bob).ok(&w).await).is_empty());
    Call::sample("http-messages-list")
        .no_query()
        .path_param(
            "conversation_id",
            conv["conversation_id"].as_str().expect("id"),
        )
        .by(&bob)
        .send(&w)
        .await
        .expect(404);
    // The owner removes others (absent ones are just not listed), but cannot leave.
    let r = participants(
        &conv,
        &ada,
        json!({"action": "remove", "user_ids": [cy.id, dee.id]}),
    )
    .ok(&w)
    .await;
    assert_eq!(r.body["removed_user_ids"], json!([cy.id]));
    let r = participants(
        &conv,
        &ada,
        json!({"action": "remove", "user_ids": [ada.id]}),
    )
    .send(&w)
    .await
    .expect(409);
    assert_eq!(r.code(), "CONFLICT");
    // Input checks.
    let ghost = UserId::new();
    let with = |body: Value| participants(&conv, &ada, body);
    check_fields(
        &w,
        vec![
            (
                "an unknown user",
                with(json!({"action": "add", "user_ids": [dee.id, ghost]})),
                "user_ids[1]",
            ),
            (
                "kick",
                with(json!({"action": "kick", "user_ids": [dee.id]})),
                "action",
            ),
            (
                "no users",
                with(json!({"action": "add", "user_ids": []})),
                "user_ids",
            ),
            ("no user list", with(json!({"action": "add"})), "user_ids"),
            (
                "a user id not an id",
                with(json!({"action": "add", "user_ids": ["x"]})),
                "user_ids",
            ),
            ("not JSON", with(json!({})).raw_body("nope"), "body"),
            (
                "conversation id",
                with(json!({"action": "add", "user_ids": [dee.id]}))
                    .path_param("conversation_id", "bad"),
                "conversation_id",
            ),
        ],
    )
    .await;
    participants(&conv, &ada, json!({"action": "add", "user_ids": [dee.id]}))
        .path_param("conversation_id", ConversationId::new())
        .send(&w)
        .await
        .expect(404);
}

#[tokio::test]
async fn direct_conversations_keep_their_participants() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let direct = create(
        &ada,
        json!({"conversation_type": "direct", "participant_ids": [bob.id]}),
    )
    .send(&w)
    .await
    .expect(201)
    .body;
    for body in [
        json!({"action": "add", "user_ids": [cy.id]}),
        json!({"action": "remove", "user_ids": [bob.id]}),
    ] {
        let r = participants(&direct, &ada, body).send(&w).await.expect(409);
        assert_eq!(r.code(), "CONFLICT");
    }
}

#[tokio::test]
async fn removed_participants_stop_receiving_the_room() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let id: ConversationId = conv["conversation_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("id");
    let connection: ConnectionId = "bobConn1=".parse().expect("connection id");
    store_connection(&w.app, &connection, bob.id).await;
    subscribe(&w.app, Room::Conversation(id), &connection, bob.id).await;
    let stores = &w.app.stores;
    participants(
        &conv,
        &ada,
        json!({"action": "remove", "user_ids": [bob.id]}),
    )
    .ok(&w)
    .await;
    let rooms = stores
        .connections
        .list_connection_rooms(&connection)
        .await
        .expect("rooms");
    assert!(rooms.is_empty(), "still subscribed to {rooms:?}");
}

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let forged = forged_token_for(ada.id);
    let calls = [
        list(&ada),
        create(
            &ada,
            json!({"conversation_type": "group", "title": "T", "participant_ids": [bob.id]}),
        ),
        participants(
            &conv,
            &ada,
            json!({"action": "remove", "user_ids": [bob.id]}),
        ),
        on("http-conversations-get", &conv, &ada),
        on("http-conversations-patch", &conv, &ada).json(json!({"title": "New"})),
        on("http-conversations-leave", &conv, &bob),
    ];
    assert_eq!(calls.len(), ROUTES.len());
    for call in calls {
        check_needs_token(&w, &call, &forged).await;
    }
    let r = list(&ada).ok(&w).await;
    assert_eq!(ids_of(&r).len(), 1);
    assert_eq!(
        r.body["conversations"][0]["participants"]
            .as_array()
            .expect("participants")
            .len(),
        2
    );
}

/// Sets `who`'s group-invitation choice over `PATCH /v1/users/me` and returns the profile.
async fn invitations(w: &World, who: &Actor, choice: &str) -> Value {
    Call::sample("http-users-me-patch")
        .by(who)
        .json(json!({"privacy_settings": {"group_invitations": choice}}))
        .send(w)
        .await
        .expect(200)
        .body
}

#[tokio::test]
async fn a_user_who_accepts_no_group_invitations_is_never_put_into_a_group() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let me = invitations(&w, &cy, "nobody").await;
    assert_eq!(
        me["privacy_settings"],
        json!({"group_invitations": "nobody", "show_online_status": true, "show_last_seen": true})
    );

    // Creating a group with cy in it: 403 naming her entry, and nothing is created.
    let r = create(
        &ada,
        json!({"conversation_type": "group", "title": "T", "participant_ids": [bob.id, cy.id]}),
    )
    .send(&w)
    .await
    .expect_error(403, "FORBIDDEN");
    assert_eq!(r.fields(), ["participant_ids[1]"]);
    for who in [&ada, &bob, &cy] {
        let listed = list(who).send(&w).await.expect(200).body;
        assert_eq!(listed["conversations"], json!([]), "nothing was created");
    }

    // Adding her to an existing group: 403, and she is not in it.
    let conv = group(&w, &ada, &[&bob]).await;
    let r = participants(&conv, &ada, json!({"action": "add", "user_ids": [cy.id]}))
        .send(&w)
        .await
        .expect_error(403, "FORBIDDEN");
    assert_eq!(r.fields(), ["user_ids[0]"]);
    let listed = list(&cy).send(&w).await.expect(200).body;
    assert_eq!(listed["conversations"], json!([]), "cy was not added");

    // A direct conversation, and groups she creates herself, stay open to her.
    create(
        &ada,
        json!({"conversation_type": "direct", "participant_ids": [cy.id]}),
    )
    .send(&w)
    .await
    .expect(201);
    create(
        &cy,
        json!({"conversation_type": "group", "title": "Mine", "participant_ids": [ada.id]}),
    )
    .send(&w)
    .await
    .expect(201);

    // When she changes her mind, she can be added.
    let me = invitations(&w, &cy, "anyone").await;
    assert_eq!(me["privacy_settings"]["group_invitations"], "anyone");
    let r = participants(&conv, &ada, json!({"action": "add", "user_ids": [cy.id]}))
        .send(&w)
        .await
        .expect(200);
    assert_eq!(r.body["added_participants"][0]["user_id"], json!(cy.id));
}

#[tokio::test]
async fn many_messages_in_a_minute_write_each_participant_row_once() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let id: ConversationId = conv["conversation_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("conversation id");
    let rows = |w: &World| {
        let stores = w.app.stores.clone();
        async move {
            stores
                .conversations
                .list_participants(id)
                .await
                .expect("participants")
                .iter()
                .map(|p| p.last_activity_at)
                .collect::<Vec<_>>()
        }
    };
    let before = rows(&w).await;
    for i in 0..5 {
        send(&w, &conv, if i % 2 == 0 { &ada } else { &bob }, "hi").await;
    }
    assert_eq!(
        rows(&w).await,
        before,
        "messages within a minute leave the rows"
    );
    // The list still shows the conversation's latest message and puts it first.
    let other = group(&w, &bob, &[&ada]).await;
    // Timestamps are milliseconds: a message in the same one as the new group would tie it.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    send(&w, &conv, &ada, "latest").await;
    let listed = list(&bob).send(&w).await.expect(200).body;
    assert_eq!(
        listed["conversations"][0]["conversation_id"],
        conv["conversation_id"]
    );
    assert_eq!(
        listed["conversations"][0]["last_message"]["content"],
        "latest"
    );
    assert_eq!(
        listed["conversations"][1]["conversation_id"],
        other["conversation_id"]
    );
}

fn on(sample: &str, conversation: &Value, by: &Actor) -> Call {
    Call::sample(sample)
        .path_param(
            "conversation_id",
            conversation["conversation_id"].as_str().expect("id"),
        )
        .by(by)
}

/// The `system` messages of a conversation's history, oldest first: (sender, what).
async fn system_history(w: &World, conversation: &Value, by: &Actor) -> Vec<(String, Value)> {
    let page = on("http-messages-list", conversation, by)
        .no_query()
        .send(w)
        .await
        .expect(200);
    let mut items: Vec<Value> = page.body["messages"].as_array().expect("messages").clone();
    items.sort_by_key(|m| m["position"].as_u64());
    items
        .iter()
        .filter(|m| m["message_type"] == "system")
        .map(|m| {
            assert!(m["content"].as_str().is_some_and(|c| !c.is_empty()));
            (
                m["sender_id"].as_str().expect("sender").to_owned(),
                m["system"].clone(),
            )
        })
        .collect()
}

/// GET reads one conversation; PATCH renames a group (its owner only); leaving hands the
/// group over; every change is a `system` message in the history, heard live.
#[tokio::test]
async fn a_group_is_read_renamed_and_left_and_its_history_shows_it() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let conv = group(&w, &ada, &[&bob]).await;
    w.drain().await;

    let read = on("http-conversations-get", &conv, &bob)
        .send(&w)
        .await
        .expect(200);
    assert_eq!(read.body["conversation_id"], conv["conversation_id"]);
    assert_eq!(read.body["participants"].as_array().map(Vec::len), Some(2));
    on("http-conversations-get", &conv, &cy)
        .send(&w)
        .await
        .expect_error(404, "NOT_FOUND");

    // Only the owner renames; a rename to what is there changes nothing.
    let rename = json!({"title": "Launch crew", "description": "For the launch"});
    on("http-conversations-patch", &conv, &bob)
        .json(rename.clone())
        .send(&w)
        .await
        .expect_error(403, "FORBIDDEN");
    let renamed = on("http-conversations-patch", &conv, &ada)
        .json(rename.clone())
        .send(&w)
        .await
        .expect(200);
    assert_eq!(renamed.body["title"], "Launch crew");
    assert_eq!(renamed.body["description"], "For the launch");
    on("http-conversations-patch", &conv, &ada)
        .json(rename)
        .send(&w)
        .await
        .expect(200);
    for bad in [
        json!({}),
        json!({"title": ""}),
        json!({"title": null}),
        json!({"title": "x".repeat(101)}),
        json!({"description": "x".repeat(1001)}),
        json!({"color": "red"}),
    ] {
        on("http-conversations-patch", &conv, &ada)
            .json(bad.clone())
            .send(&w)
            .await
            .expect_error(400, "VALIDATION_ERROR");
    }
    let heard = w.drain().await;
    let kinds: Vec<&str> = heard.iter().filter_map(|f| f["type"].as_str()).collect();
    assert!(kinds.contains(&"new_message"), "{kinds:?}");

    // Cy joins, bob leaves, then the owner leaves: cy, the one left, inherits the group.
    participants(&conv, &ada, json!({"action": "add", "user_ids": [cy.id]}))
        .send(&w)
        .await
        .expect(200);
    on("http-conversations-leave", &conv, &bob)
        .send(&w)
        .await
        .expect(200);
    // The owner cannot just remove themself; leaving hands over first.
    participants(
        &conv,
        &ada,
        json!({"action": "remove", "user_ids": [ada.id]}),
    )
    .send(&w)
    .await
    .expect_error(409, "CONFLICT");
    on("http-conversations-leave", &conv, &ada)
        .send(&w)
        .await
        .expect(200);
    on("http-conversations-get", &conv, &ada)
        .send(&w)
        .await
        .expect_error(404, "NOT_FOUND");
    let now_read = on("http-conversations-get", &conv, &cy)
        .send(&w)
        .await
        .expect(200);
    let parts = now_read.body["participants"]
        .as_array()
        .expect("participants")
        .clone();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["user_id"], cy.id.to_string());
    assert_eq!(parts[0]["role"], "owner");

    let (a, b, c) = (ada.id.to_string(), bob.id.to_string(), cy.id.to_string());
    assert_eq!(
        system_history(&w, &conv, &cy).await,
        vec![
            (
                a.clone(),
                json!({"kind": "conversation_updated", "title": "Launch crew", "description_changed": true})
            ),
            (
                a.clone(),
                json!({"kind": "participants_added", "user_ids": [c.clone()]})
            ),
            (b, json!({"kind": "participant_left"})),
            (
                a.clone(),
                json!({"kind": "owner_changed", "user_id": c.clone()})
            ),
            (a, json!({"kind": "participant_left"})),
        ]
    );
    // Live, a membership change arrives as participants_changed and its line of history.
    let heard = w.drain().await;
    let kinds: Vec<&str> = heard.iter().filter_map(|f| f["type"].as_str()).collect();
    assert!(kinds.contains(&"participants_changed"), "{kinds:?}");

    // The last participant may leave; a direct conversation cannot be left.
    on("http-conversations-leave", &conv, &cy)
        .send(&w)
        .await
        .expect(200);
    let direct = create(
        &ada,
        json!({"conversation_type": "direct", "participant_ids": [bob.id]}),
    )
    .send(&w)
    .await
    .expect(201)
    .body;
    on("http-conversations-leave", &direct, &ada)
        .send(&w)
        .await
        .expect_error(409, "CONFLICT");
    on("http-conversations-patch", &direct, &ada)
        .json(json!({"title": "Us"}))
        .send(&w)
        .await
        .expect_error(409, "CONFLICT");
}

/// Nobody sends, edits or deletes a `system` message.
#[tokio::test]
async fn system_messages_are_written_by_banter_alone() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    on("http-messages-send", &conv, &ada)
        .json(json!({"content": "hi", "client_message_id": "k1", "message_type": "system"}))
        .send(&w)
        .await
        .expect_error(400, "VALIDATION_ERROR");
    participants(
        &conv,
        &ada,
        json!({"action": "remove", "user_ids": [bob.id]}),
    )
    .send(&w)
    .await
    .expect(200);
    let page = on("http-messages-list", &conv, &ada)
        .no_query()
        .send(&w)
        .await
        .expect(200);
    let system = page.body["messages"][0].clone();
    assert_eq!(system["message_type"], "system");
    let id = system["message_id"].as_str().expect("id");
    Call::sample("http-messages-edit")
        .path_param("message_id", id)
        .by(&ada)
        .json(json!({"content": "changed"}))
        .send(&w)
        .await
        .expect_error(409, "CONFLICT");
    Call::sample("http-messages-delete")
        .path_param("message_id", id)
        .by(&ada)
        .send(&w)
        .await
        .expect_error(409, "CONFLICT");
}
