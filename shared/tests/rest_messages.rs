//! The `messages` function's routes, end to end through `banter::http::serve` with requests
//! built from the samples in `events/`, over the in-memory adapters.

mod support;

use banter::ids::{ConversationId, MessageId};
use banter::rest::messages::ROUTES;
use serde_json::{Value, json};
use support::rest::{
    Actor, Call, Resp, World, check_fields, check_needs_token, check_samples, forged_token_for,
};

/// A group of `owner` with `members`; returns its id.
async fn group(w: &World, owner: &Actor, members: &[&Actor]) -> String {
    w.group(owner, members).await["conversation_id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The start of most tests here: ada's group with bob.
async fn ada_and_bob_in_a_group() -> (World, Actor, Actor, String) {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let conv = group(&w, &ada, &[&bob]).await;
    (w, ada, bob, conv)
}

fn send_call(conversation: &str, by: &Actor, content: &str, key: &str) -> Call {
    Call::sample("http-messages-send")
        .path_param("conversation_id", conversation)
        .by(by)
        .json(json!({"content": content, "client_message_id": key}))
}

async fn send(w: &World, conversation: &str, by: &Actor, content: &str) -> Value {
    send_call(conversation, by, content, &uuid::Uuid::now_v7().to_string())
        .send(w)
        .await
        .expect(201)
        .body
}

fn history(conversation: &str, by: &Actor) -> Call {
    Call::sample("http-messages-list")
        .no_query()
        .path_param("conversation_id", conversation)
        .by(by)
}

fn on_message(sample: &str, message: &Value, by: &Actor) -> Call {
    Call::sample(sample)
        .path_param("message_id", message["message_id"].as_str().expect("id"))
        .by(by)
}

fn edit(message: &Value, by: &Actor, body: Value) -> Call {
    on_message("http-messages-edit", message, by).json(body)
}

fn react(message: &Value, by: &Actor, emoji: &str) -> Call {
    on_message("http-messages-react", message, by).json(json!({ "emoji": emoji }))
}

fn positions(r: &Resp) -> Vec<u64> {
    r.positions("messages")
}

fn cursor(r: &Resp) -> String {
    r.cursor()
}

#[tokio::test]
async fn samples_are_served() {
    check_samples("messages", ROUTES).await;
}

#[tokio::test]
async fn send_is_idempotent_by_client_message_id() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let first = send_call(&conv, &ada, " Hello everyone! ", "client-1")
        .send(&w)
        .await
        .expect(201);
    let m = &first.body;
    assert_eq!(m["conversation_id"], conv);
    assert_eq!(m["sender_id"], ada.id.to_string());
    assert_eq!(m["content"], "Hello everyone!");
    assert_eq!(m["client_message_id"], "client-1");
    assert_eq!(m["message_type"], "text");
    assert_eq!(m["delivery_status"], "sent");
    assert_eq!(m["position"], 1);
    assert_eq!(m["reactions"], json!({}));
    assert_eq!(m["edit_count"], 0);
    assert!(m["edited_at"].is_null());
    assert!(
        m.get("edit_history").is_none(),
        "only an edit's answer has the history"
    );
    assert_eq!(m["is_deleted"], false);
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "new_message");
    assert_eq!(jobs[0]["payload"]["message"]["message_id"], m["message_id"]);
    let retry = send_call(&conv, &ada, " Hello everyone! ", "client-1")
        .ok(&w)
        .await;
    assert_eq!(retry.body, first.body);
    let all = history(&conv, &ada).ok(&w).await;
    assert_eq!(positions(&all), [1]);
    // The same key from another sender is another message.
    let other = send_call(&conv, &bob, "hi", "client-1")
        .send(&w)
        .await
        .expect(201);
    assert_ne!(other.body["message_id"], m["message_id"]);
    // Replies and an explicit type.
    let reply = Call::sample("http-messages-send")
        .path_param("conversation_id", &conv)
        .by(&bob)
        .json(json!({
            "content": "re",
            "client_message_id": "client-2",
            "reply_to_message_id": m["message_id"],
            "message_type": "text",
        }))
        .send(&w)
        .await
        .expect(201);
    assert_eq!(reply.body["reply_to_message_id"], m["message_id"]);
}

#[tokio::test]
async fn send_validates_its_input() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let elsewhere = group(&w, &ada, &[&bob]).await;
    let foreign = send(&w, &elsewhere, &ada, "other room").await;
    let r = send_call(&conv, &ada, &"a".repeat(2001), "k1")
        .send(&w)
        .await
        .expect_field("content");
    assert!(
        r.body["error"]["details"][0]["message"]
            .as_str()
            .expect("message")
            .contains("2000")
    );
    let base = send_call(&conv, &ada, "x", "k1");
    let with = |body: Value| base.clone().json(body);
    check_fields(
        &w,
        vec![
            ("empty", send_call(&conv, &ada, "", "k1"), "content"),
            (
                "no client message id",
                with(json!({"content": "x"})),
                "client_message_id",
            ),
            (
                "a client message id with a space",
                with(json!({"content": "x", "client_message_id": "has space"})),
                "client_message_id",
            ),
            (
                "a client message id too long",
                with(json!({"content": "x", "client_message_id": "k".repeat(65)})),
                "client_message_id",
            ),
            (
                "a video (no such type)",
                with(json!({"content": "x", "client_message_id": "k2", "message_type": "video"})),
                "message_type",
            ),
            (
                "an image without files",
                with(json!({"content": "x", "client_message_id": "k2", "message_type": "image"})),
                "media_attachments",
            ),
            (
                "a reply to another conversation's message",
                with(json!({"content": "x", "client_message_id": "k2", "reply_to_message_id": foreign["message_id"]})),
                "reply_to_message_id",
            ),
            (
                "a reply to no id",
                with(json!({"content": "x", "client_message_id": "k2", "reply_to_message_id": "zzz"})),
                "reply_to_message_id",
            ),
            ("not JSON", base.clone().raw_body("{"), "body"),
            ("a string", base.clone().raw_body("\"text\""), "body"),
            (
                "conversation id",
                base.clone().path_param("conversation_id", "nope"),
                "conversation_id",
            ),
        ],
    )
    .await;
    let big = format!("{{\"content\": \"{}\"}}", "a".repeat(70 * 1024));
    let r = base.clone().raw_body(&big).send(&w).await.expect(413);
    assert_eq!(r.code(), "PAYLOAD_TOO_LARGE");
    assert_eq!(
        positions(&history(&conv, &ada).ok(&w).await),
        Vec::<u64>::new()
    );
}

#[tokio::test]
async fn history_pages_before_and_after() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let mut sent = Vec::new();
    for i in 1..=7 {
        sent.push(
            send(
                &w,
                &conv,
                if i % 2 == 0 { &bob } else { &ada },
                &format!("m{i}"),
            )
            .await,
        );
    }
    // Default: newest first, paged backwards.
    let p1 = history(&conv, &bob).query("limit", 3).ok(&w).await;
    assert_eq!(positions(&p1), [7, 6, 5]);
    assert_eq!(p1.body["has_more"], true);
    assert_eq!(p1.body["messages"][0]["content"], "m7");
    let p2 = history(&conv, &bob)
        .query("limit", 3)
        .query("cursor", cursor(&p1))
        .ok(&w)
        .await;
    assert_eq!(positions(&p2), [4, 3, 2]);
    let p3 = history(&conv, &bob)
        .query("limit", 3)
        .query("cursor", cursor(&p2))
        .ok(&w)
        .await;
    assert_eq!(positions(&p3), [1]);
    assert_eq!(p3.body["has_more"], false);
    assert!(p3.body["next_cursor"].is_null());
    // `before` takes a position or a message id.
    let b = history(&conv, &bob)
        .query("before", 5)
        .query("limit", 3)
        .ok(&w)
        .await;
    assert_eq!(positions(&b), [4, 3, 2]);
    let b = history(&conv, &bob)
        .query("before", sent[4]["message_id"].as_str().expect("id"))
        .query("limit", 3)
        .ok(&w)
        .await;
    assert_eq!(positions(&b), [4, 3, 2]);
    // `after`: catch-up, oldest first, paged forwards.
    let a = history(&conv, &bob).query("after", 4).ok(&w).await;
    assert_eq!(positions(&a), [5, 6, 7]);
    assert_eq!(a.body["has_more"], false);
    let a1 = history(&conv, &bob)
        .query("after", 0)
        .query("limit", 3)
        .ok(&w)
        .await;
    assert_eq!(positions(&a1), [1, 2, 3]);
    let a2 = history(&conv, &bob)
        .query("limit", 3)
        .query("cursor", cursor(&a1))
        .ok(&w)
        .await;
    assert_eq!(positions(&a2), [4, 5, 6]);
    let a = history(&conv, &bob)
        .query("after", sent[5]["message_id"].as_str().expect("id"))
        .ok(&w)
        .await;
    assert_eq!(positions(&a), [7]);
    // Conflicting and malformed anchors.
    let anchored = |name: &str, value: &str| history(&conv, &bob).query(name, value);
    check_fields(
        &w,
        vec![
            (
                "before and after",
                anchored("before", "5").query("after", 2),
                "before",
            ),
            (
                "after and a cursor",
                anchored("after", "2").query("cursor", cursor(&a1)),
                "after",
            ),
            ("before a word", anchored("before", "yesterday"), "before"),
            (
                "after an unknown message",
                anchored("after", &MessageId::new().to_string()),
                "after",
            ),
        ],
    )
    .await;
    for bad in ["0", "101", "many"] {
        history(&conv, &bob)
            .query("limit", bad)
            .send(&w)
            .await
            .expect_field("limit");
    }
    // A cursor of another conversation, or a forged one, is refused.
    let other = group(&w, &bob, &[&ada]).await;
    for i in 0..3 {
        send(&w, &other, &bob, &format!("o{i}")).await;
    }
    let foreign = history(&other, &bob).query("limit", 1).ok(&w).await;
    // Another conversation's message is no anchor here.
    let foreign_msg = send(&w, &other, &bob, "elsewhere").await;
    check_fields(
        &w,
        vec![
            (
                "another conversation's cursor",
                anchored("cursor", &cursor(&foreign)),
                "cursor",
            ),
            ("a forged cursor", anchored("cursor", "x.y"), "cursor"),
            (
                "before another conversation's message",
                anchored("before", foreign_msg["message_id"].as_str().expect("id")),
                "before",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn edit_by_the_author_keeps_the_history() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let m = send(&w, &conv, &ada, "Hello everyone!").await;
    w.drain().await;
    let r = edit(
        &m,
        &ada,
        json!({"content": "Hello everyone! (edited)", "edit_reason": "typo_correction"}),
    )
    .ok(&w)
    .await;
    assert_eq!(r.body["success"], true);
    let edited = &r.body["message"];
    assert_eq!(edited["message_id"], m["message_id"]);
    assert_eq!(edited["content"], "Hello everyone! (edited)");
    assert_eq!(
        edited["edit_history"][0]["previous_content"],
        "Hello everyone!"
    );
    assert_eq!(edited["edit_history"][0]["edit_reason"], "typo_correction");
    assert!(edited["edit_history"][0]["edited_at"].is_string());
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "message_updated");
    assert_eq!(
        jobs[0]["payload"]["message"]["content"],
        "Hello everyone! (edited)"
    );
    let r = edit(&m, &ada, json!({"content": "third"})).ok(&w).await;
    let history_of = r.body["message"]["edit_history"]
        .as_array()
        .expect("history")
        .clone();
    assert_eq!(history_of.len(), 2);
    assert_eq!(
        history_of[1]["previous_content"],
        "Hello everyone! (edited)"
    );
    assert!(history_of[1]["edit_reason"].is_null());
    assert_eq!(w.drain_types().await, ["message_updated"]);
    // The same edit again (a retry) adds no history and broadcasts nothing.
    let again = edit(&m, &ada, json!({"content": "third"})).ok(&w).await;
    assert_eq!(
        again.body["message"]["edit_history"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(w.drain_types().await.is_empty());
    // Listed with how many versions it keeps and when it was last edited, not the versions.
    let listed = history(&conv, &bob).ok(&w).await;
    let first_listed = &listed.body["messages"][0];
    assert_eq!(first_listed["content"], "third");
    assert_eq!(first_listed["edit_count"], 2);
    assert_eq!(first_listed["edited_at"], history_of[1]["edited_at"]);
    assert!(first_listed.get("edit_history").is_none());
    // A participant who is not the author: 403, nothing changes.
    let r = edit(&m, &bob, json!({"content": "hijack"}))
        .send(&w)
        .await
        .expect(403);
    assert_eq!(r.code(), "FORBIDDEN");
    assert!(w.drain().await.is_empty());
    // Input checks.
    check_fields(
        &w,
        vec![
            ("empty", edit(&m, &ada, json!({"content": ""})), "content"),
            (
                "too long",
                edit(&m, &ada, json!({"content": "a".repeat(2001)})),
                "content",
            ),
            (
                "no content",
                edit(&m, &ada, json!({"edit_reason": "x"})),
                "content",
            ),
            (
                "reason too long",
                edit(
                    &m,
                    &ada,
                    json!({"content": "ok", "edit_reason": "r".repeat(101)}),
                ),
                "edit_reason",
            ),
            ("not JSON", edit(&m, &ada, json!({})).raw_body("{]"), "body"),
        ],
    )
    .await;
    // A deleted message cannot be edited.
    on_message("http-messages-delete", &m, &ada).ok(&w).await;
    let r = edit(&m, &ada, json!({"content": "back"}))
        .send(&w)
        .await
        .expect(409);
    assert_eq!(r.code(), "CONFLICT");
}

#[tokio::test]
async fn delete_by_the_author_only() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let m = send(&w, &conv, &ada, "regret").await;
    w.drain().await;
    let r = on_message("http-messages-delete", &m, &bob)
        .send(&w)
        .await
        .expect(403);
    assert_eq!(r.code(), "FORBIDDEN");
    let r = on_message("http-messages-delete", &m, &ada).ok(&w).await;
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["message"]["is_deleted"], true);
    assert_eq!(r.body["message"]["content"], "");
    assert_eq!(w.drain_types().await, ["message_updated"]);
    // Idempotent, and nothing more is broadcast.
    on_message("http-messages-delete", &m, &ada).ok(&w).await;
    assert!(w.drain().await.is_empty());
    let listed = history(&conv, &bob).ok(&w).await;
    assert_eq!(listed.body["messages"][0]["is_deleted"], true);
    assert_eq!(listed.body["messages"][0]["content"], "");
    assert!(!listed.body.to_string().contains("regret"));
    // Reacting to a deleted message is refused.
    react(&m, &bob, "👍").send(&w).await.expect(409);
}

#[tokio::test]
async fn reactions_toggle() {
    let (w, ada, bob, conv) = ada_and_bob_in_a_group().await;
    let m = send(&w, &conv, &ada, "react to me").await;
    w.drain().await;
    let r = react(&m, &ada, "👍").ok(&w).await;
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["reacted"], true);
    assert_eq!(r.body["emoji"], "👍");
    assert_eq!(r.body["message_id"], m["message_id"]);
    assert_eq!(r.body["reactions"], json!({"👍": [ada.id]}));
    let r = react(&m, &bob, "👍").ok(&w).await;
    assert_eq!(r.body["reactions"], json!({"👍": [ada.id, bob.id]}));
    let r = react(&m, &bob, "❤️").ok(&w).await;
    assert_eq!(r.body["reactions"]["❤️"], json!([bob.id]));
    let r = react(&m, &ada, "👍").ok(&w).await;
    assert_eq!(r.body["reacted"], false);
    assert_eq!(r.body["reactions"], json!({"👍": [bob.id], "❤️": [bob.id]}));
    assert_eq!(
        w.drain_types().await,
        [
            "message_updated",
            "message_updated",
            "message_updated",
            "message_updated"
        ]
    );
    let listed = history(&conv, &ada).ok(&w).await;
    assert_eq!(
        listed.body["messages"][0]["reactions"]["👍"],
        json!([bob.id])
    );
    // Words in any script, symbols that are not emoji and several emoji are all refused.
    for bad in [
        "ab",
        "",
        "👍 👍",
        &"👍".repeat(17),
        "日本語",
        "éé",
        "★★",
        "¯\\_(ツ)_/¯",
        "👍👍",
        "→",
    ] {
        react(&m, &ada, bad).send(&w).await.expect_field("emoji");
    }
    // An unqualified emoji is stored in its fully-qualified form: one reaction, not two.
    let r = react(&m, &ada, "\u{2764}").ok(&w).await;
    assert_eq!(r.body["emoji"], "\u{2764}\u{fe0f}");
    let r = react(&m, &ada, "\u{2764}\u{fe0f}").ok(&w).await;
    assert_eq!(r.body["reacted"], false);
    on_message("http-messages-react", &m, &ada)
        .json(json!({}))
        .send(&w)
        .await
        .expect_field("emoji");
}

#[tokio::test]
async fn authorization_matrix() {
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let eve = w.user("eve").await;
    let conv = group(&w, &ada, &[&bob]).await;
    let m = send(&w, &conv, &ada, "private").await;
    let eves = group(&w, &eve, &[&bob]).await;
    let eve_msg = send(&w, &eves, &eve, "eve's").await;
    w.drain().await;
    let forged = forged_token_for(ada.id);
    let calls = |by: &Actor| {
        vec![
            history(&conv, by),
            send_call(&conv, by, "x", "matrix-1"),
            edit(&m, by, json!({"content": "x"})),
            on_message("http-messages-delete", &m, by),
            react(&m, by, "👍"),
        ]
    };
    assert_eq!(calls(&ada).len(), ROUTES.len());
    for call in calls(&ada) {
        check_needs_token(&w, &call, &forged).await;
    }
    // A non-participant: every route answers 404, exactly as for ids that do not exist.
    for call in calls(&eve) {
        let key = call.route_key();
        let r = call.send(&w).await;
        assert_eq!(r.status, 404, "{key} non-participant: {}", r.body);
        assert_eq!(r.code(), "NOT_FOUND");
        assert!(!r.body.to_string().contains("private"));
    }
    let ghost_conv = ConversationId::new().to_string();
    let ghost_msg = json!({"message_id": MessageId::new().to_string()});
    for call in [
        history(&ghost_conv, &ada),
        send_call(&ghost_conv, &ada, "x", "k"),
        edit(&ghost_msg, &ada, json!({"content": "x"})),
        on_message("http-messages-delete", &ghost_msg, &ada),
        react(&ghost_msg, &ada, "👍"),
    ] {
        call.send(&w).await.expect(404);
    }
    // BOLA with ada's own token on eve's ids.
    history(&eves, &ada).send(&w).await.expect(404);
    edit(&eve_msg, &ada, json!({"content": "x"}))
        .send(&w)
        .await
        .expect(404);
    on_message("http-messages-delete", &eve_msg, &ada)
        .send(&w)
        .await
        .expect(404);
    react(&eve_msg, &ada, "👍").send(&w).await.expect(404);
    // A participant who is not the author may read, send and react, but not edit or delete.
    history(&conv, &bob).ok(&w).await;
    react(&m, &bob, "👍").ok(&w).await;
    edit(&m, &bob, json!({"content": "x"}))
        .send(&w)
        .await
        .expect(403);
    on_message("http-messages-delete", &m, &bob)
        .send(&w)
        .await
        .expect(403);
    // Malformed ids in the path.
    for call in [
        edit(
            &json!({"message_id": "nope"}),
            &ada,
            json!({"content": "x"}),
        ),
        on_message("http-messages-delete", &json!({"message_id": "nope"}), &ada),
        react(&json!({"message_id": "nope"}), &ada, "👍"),
    ] {
        call.send(&w).await.expect_field("message_id");
    }
    history("nope", &ada)
        .send(&w)
        .await
        .expect_field("conversation_id");
    // Nothing eve tried changed anything.
    let listed = history(&conv, &ada).ok(&w).await;
    assert_eq!(positions(&listed), [1]);
    assert_eq!(listed.body["messages"][0]["content"], "private");
    assert_eq!(
        listed.body["messages"][0]["reactions"],
        json!({"👍": [bob.id]})
    );
}

/// Reaction toggles are limited per user (10 per 10 s by default), like comment likes
/// (issue 13, finding 3).
#[tokio::test]
async fn reaction_toggles_are_rate_limited() {
    let w = World::with_config(banter::config::Config::default());
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let conv = group(&w, &ada, &[&bob]).await;
    let m = send(&w, &conv, &ada, "react to me").await;
    for i in 0..10 {
        let r = react(&m, &bob, "👍").send(&w).await;
        assert_eq!(r.status, 200, "toggle {i}");
    }
    let r = react(&m, &bob, "👍").send(&w).await.expect(429);
    assert_eq!(r.code(), "RATE_LIMIT_EXCEEDED");
    assert!(r.headers.contains_key("retry-after"));
    react(&m, &ada, "👍").ok(&w).await;
}

#[tokio::test]
async fn message_rate_limit_answers_429() {
    let w = World::with_config(banter::config::Config {
        message_rate: banter::config::RateRule::per(2, 60),
        ..support::rest::roomy_config()
    });
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let conv = group(&w, &ada, &[&bob]).await;
    send(&w, &conv, &ada, "one").await;
    send(&w, &conv, &ada, "two").await;
    let r = send_call(&conv, &ada, "three", "k3")
        .send(&w)
        .await
        .expect(429);
    assert_eq!(r.code(), "RATE_LIMIT_EXCEEDED");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(positions(&history(&conv, &ada).ok(&w).await), [2, 1]);
}

/// The delivery status of each message in a page, by position.
fn statuses(r: &Resp) -> Vec<(u64, String, Value, Value)> {
    let mut out: Vec<(u64, String, Value, Value)> = r.body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["position"].as_u64().expect("position"),
                m["delivery_status"].as_str().expect("status").to_owned(),
                m["read_count"].clone(),
                m["delivered_count"].clone(),
            )
        })
        .collect();
    out.sort_by_key(|s| s.0);
    out
}

/// A receipt of `by` for `message`, as the WebSocket frame records it.
async fn receipt(w: &World, by: &Actor, conv: &str, message: &Value, kind: banter::model::Receipt) {
    let conversation: ConversationId = conv.parse().expect("id");
    let id: MessageId = message["message_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("id");
    banter::service::messages::receipt(&w.app, by.id, conversation, id, kind)
        .await
        .expect("receipt");
}

/// `delivery_status` of a page comes from the participants' markers: for the sender, what
/// every other participant there when it was sent reached (with counts), for the others their
/// own state; a reload shows what the receipts said.
#[tokio::test]
async fn delivery_status_is_computed_from_the_markers_and_survives_a_reload() {
    use banter::model::Receipt::{Delivered, Read};
    let w = World::new();
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let cy = w.user("cy").await;
    let conv = group(&w, &ada, &[&bob, &cy]).await;
    let first = send(&w, &conv, &ada, "one").await;
    let second = send(&w, &conv, &ada, "two").await;
    assert_eq!(first["delivery_status"], "sent", "the answer to a send");
    let page = |by: &Actor| history(&conv, by).send(&w);
    let p1 = first["position"].as_u64().expect("position");
    let p2 = second["position"].as_u64().expect("position");
    let (zero, one, two) = (json!(0), json!(1), json!(2));
    assert_eq!(
        statuses(&page(&ada).await.expect(200)),
        vec![
            (p1, "sent".into(), zero.clone(), zero.clone()),
            (p2, "sent".into(), zero.clone(), zero.clone())
        ]
    );
    // Bob's device has both; Cy read the first (reading counts as receiving).
    receipt(&w, &bob, &conv, &second, Delivered).await;
    receipt(&w, &cy, &conv, &first, Read).await;
    assert_eq!(
        statuses(&page(&ada).await.expect(200)),
        vec![
            (p1, "delivered".into(), one.clone(), two.clone()),
            (p2, "sent".into(), zero.clone(), one.clone())
        ]
    );
    // Bob reads the second, and with it the first; Cy receives the second.
    receipt(&w, &bob, &conv, &second, Read).await;
    receipt(&w, &cy, &conv, &second, Delivered).await;
    let after = statuses(&page(&ada).await.expect(200));
    assert_eq!(
        after,
        vec![
            (p1, "read".into(), two.clone(), two.clone()),
            (p2, "delivered".into(), one.clone(), two.clone())
        ]
    );
    // A reload reads the same; a late receipt of an older message moves nothing back.
    receipt(&w, &bob, &conv, &first, Delivered).await;
    assert_eq!(statuses(&page(&ada).await.expect(200)), after);
    // Others see their own state of Ada's messages, without counts.
    assert_eq!(
        statuses(&page(&cy).await.expect(200)),
        vec![
            (p1, "read".into(), Value::Null, Value::Null),
            (p2, "delivered".into(), Value::Null, Value::Null)
        ]
    );
    // The markers come with the conversation's participants.
    let list = Call::sample("http-conversations-list")
        .no_query()
        .by(&ada)
        .send(&w)
        .await
        .expect(200);
    let participants = list.body["conversations"][0]["participants"]
        .as_array()
        .expect("participants")
        .clone();
    let bob_row = participants
        .iter()
        .find(|p| p["user_id"] == bob.id.to_string())
        .expect("bob");
    assert_eq!(bob_row["last_read_position"], p2);
    assert_eq!(bob_row["last_read_message_id"], second["message_id"]);
    assert_eq!(bob_row["last_delivered_position"], p2);
    assert_eq!(bob_row["is_online"], false);
    let cy_row = participants
        .iter()
        .find(|p| p["user_id"] == cy.id.to_string())
        .expect("cy");
    assert_eq!(cy_row["last_read_position"], p1);
    assert_eq!(cy_row["last_delivered_position"], p2);
}
