//! The largest chat message a group can make — 2000 four-byte characters, edited past the
//! history bound, with every reaction a message may hold — goes through REST, catch-up and
//! fan-out on the local stack, and every frame Banter sends for it fits one 32 KB unit.

mod support;

use std::time::Duration;

use banter::config::{Config, RateRule};
use banter::model::{
    ConversationType, MAX_CONTENT_CHARS, MAX_EDIT_HISTORY, MAX_REACTION_KINDS, MAX_REACTIONS,
};
use banter::poster::METERING_UNIT_BYTES;
use banter::service::conversations::{self, ConversationInput};
use banter_local::{Gateway, GatewayConfig, RunningGateway};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

/// 2000 characters of four bytes each (and a quote, which JSON escapes), different per `seed`.
fn largest_text(seed: u32) -> String {
    let c = char::from_u32(0x20000 + seed).expect("a CJK extension B character");
    let mut text: String = std::iter::repeat_n(c, MAX_CONTENT_CHARS - 1).collect();
    text.push('"');
    text
}

/// The longest emoji (in bytes), `n` of them.
fn longest_emoji(n: usize) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = emojis::iter()
        .flat_map(|e| e.skin_tones().into_iter().flatten().chain([e]))
        .map(|e| e.as_str())
        .collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.len()));
    all.dedup();
    all.truncate(n);
    all
}

async fn call(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let (status, _, text) =
        support::exchange(gw.rest_addr, method, path, Some(token), &body.to_string()).await;
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, value)
}

/// Asserts `text` is a frame of at most one metering unit and returns it parsed.
fn unit_frame(text: &str) -> Value {
    assert!(
        text.len() <= METERING_UNIT_BYTES,
        "a frame of {} bytes is more than one {METERING_UNIT_BYTES}-byte unit",
        text.len()
    );
    serde_json::from_str(text).expect("a JSON frame")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_message_travels_rest_catch_up_and_fan_out_in_one_unit_frames() {
    let generous = RateRule::per(10_000, 10);
    let gw = Gateway::start(GatewayConfig {
        rest_addr: "127.0.0.1:0".parse().expect("address"),
        ws_addr: "127.0.0.1:0".parse().expect("address"),
        app: Config {
            message_rate: generous,
            reaction_rate: generous,
            rest_rate: generous,
            ..Config::default()
        },
        ..GatewayConfig::default()
    })
    .await
    .expect("the gateway starts");
    let app = gw.app().clone();

    // Enough members to fill every reaction: each reacts with every kind.
    let per_kind = MAX_REACTIONS / MAX_REACTION_KINDS;
    let mut members = Vec::new();
    for i in 0..=per_kind {
        let name = format!("member_{i}");
        members.push(support::registered(&app, &name, Some("𝕯".repeat(64))).await);
    }
    let (author, author_token) = members[0].clone();
    let conversation = conversations::create(
        &app,
        author,
        ConversationInput {
            conversation_type: ConversationType::Group,
            title: Some("Largest".into()),
            description: None,
            participant_ids: members[1..].iter().map(|(u, _)| *u).collect(),
        },
    )
    .await
    .expect("a group")
    .view
    .conversation_id;

    // The message, then more edits than the history keeps, each with the longest reason.
    let (status, sent) = call(
        &gw,
        "POST",
        &format!("/v1/conversations/{conversation}/messages"),
        &author_token,
        json!({ "content": largest_text(0), "client_message_id": "largest-1" }),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["message_id"].as_str().expect("an id").to_owned();
    let mut edited = Value::Null;
    for i in 1..=(MAX_EDIT_HISTORY as u32 + 3) {
        let (status, body) = call(
            &gw,
            "PUT",
            &format!("/v1/messages/{id}"),
            &author_token,
            json!({ "content": largest_text(i), "edit_reason": "ℝ".repeat(100) }),
        )
        .await;
        assert_eq!(status, 200, "edit {i}: {body}");
        edited = body;
    }
    // The edit's answer carries the bounded history, newest last.
    let history = edited["message"]["edit_history"]
        .as_array()
        .expect("history");
    assert_eq!(history.len(), MAX_EDIT_HISTORY);
    assert_eq!(
        history.last().unwrap()["previous_content"],
        largest_text(MAX_EDIT_HISTORY as u32 + 2)
    );
    assert_eq!(edited["message"]["edit_count"], MAX_EDIT_HISTORY);

    // Every reaction the message can hold, with the longest emoji; then one kind too many,
    // and one reaction too many, are refused.
    let emoji = longest_emoji(MAX_REACTION_KINDS + 1);
    let react = |token: String, e: &'static str| {
        let path = format!("/v1/messages/{id}/reactions");
        let gw = &gw;
        async move { call(gw, "POST", &path, &token, json!({ "emoji": e })).await }
    };
    for (_, token) in &members[..per_kind] {
        for e in &emoji[..MAX_REACTION_KINDS] {
            let (status, body) = react(token.clone(), e).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let (status, body) = react(author_token.clone(), emoji[MAX_REACTION_KINDS]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{body}"
    );
    let last_token = members[per_kind].1.clone();
    let (status, body) = react(last_token.clone(), emoji[0]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{body}"
    );
    let (status, body) = react(last_token.clone(), "lol").await;
    assert_eq!(status, 400, "a word is not an emoji: {body}");

    // REST: the page with the message, each item of it within one unit.
    let (status, page) = call(
        &gw,
        "GET",
        &format!("/v1/conversations/{conversation}/messages"),
        &last_token,
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let listed = &page["messages"][0];
    assert_eq!(listed["content"], largest_text(MAX_EDIT_HISTORY as u32 + 3));
    assert!(
        listed.get("edit_history").is_none(),
        "pages carry no history"
    );
    let listed_reactions: usize = listed["reactions"]
        .as_object()
        .expect("reactions")
        .values()
        .map(|users| users.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(listed_reactions, MAX_REACTIONS);
    assert!(listed.to_string().len() <= METERING_UNIT_BYTES);

    // Catch-up from 0: the ack and the message's frame, each one unit.
    let url = format!("{}/?token={last_token}", gw.ws_url());
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("a member connects");
    // Every change of the message is in the stream (sent, each edit, each reaction), each
    // entry a whole message: the catch-up pages through them, every frame one unit.
    let mut since = 0u64;
    let mut caught_up = None;
    for round in 1..=10 {
        let subscribe = json!({
            "type": "subscribe",
            "message_id": format!("sub-{round}"),
            "payload": { "conversation_id": conversation, "since": since },
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .expect("subscribe sent");
        let ack = loop {
            let msg = tokio::time::timeout(PATIENCE, socket.next())
                .await
                .expect("an answer in time")
                .expect("the socket is open")
                .expect("a frame");
            let Message::Text(text) = msg else { continue };
            let frame = unit_frame(&text);
            match frame["type"].as_str() {
                Some("stream_batch") => {
                    for entry in frame["payload"]["entries"].as_array().expect("entries") {
                        if matches!(
                            entry["type"].as_str(),
                            Some("new_message" | "message_updated")
                        ) {
                            caught_up = Some(entry.clone());
                        }
                    }
                }
                Some("ack") => break frame,
                Some("error") => panic!("catch-up failed: {frame}"),
                _ => {}
            }
        };
        since = ack["payload"]["last_position"]
            .as_u64()
            .expect("last_position");
        if ack["payload"]["has_more"] == false {
            break;
        }
    }
    let caught_up = caught_up.expect("the message in the catch-up");
    assert_eq!(caught_up["payload"]["message"]["message_id"], id.as_str());
    assert_eq!(
        caught_up["payload"]["message"]["content"],
        largest_text(MAX_EDIT_HISTORY as u32 + 3),
        "the catch-up ends with the message as it stands"
    );

    // Fan-out: one more edit reaches the subscribed member live, in one unit.
    let (status, body) = call(
        &gw,
        "PUT",
        &format!("/v1/messages/{id}"),
        &author_token,
        json!({ "content": largest_text(99) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let live = loop {
        let msg = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the update in time")
            .expect("the socket is open")
            .expect("a frame");
        let Message::Text(text) = msg else { continue };
        let frame = unit_frame(&text);
        let entries = frame["payload"]["entries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(e) = entries.iter().find(|e| e["type"] == "message_updated") {
            break e.clone();
        }
    };
    assert_eq!(live["payload"]["message"]["content"], largest_text(99));
    assert!(gw.dead_letters().await.expect("dead letters").is_empty());
    gw.shutdown().await;
}
