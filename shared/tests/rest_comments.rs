//! The `comments` function's routes, end to end through `banter::http::serve` with requests
//! built from the samples in `events/`, over the in-memory adapters.

mod support;

use std::sync::Arc;

use banter::app::App;
use banter::config::{Config, RateRule};
use banter::ids::{CommentId, EventId};
use banter::model::{CommentSettings, EventStatus, ModerationLevel};
use banter::rest::comments::ROUTES;
use banter_testkit::queue::FlakyQueue;
use serde_json::{Value, json};
use support::rest::{
    Actor, Call, Resp, World, check_fields, check_needs_token, check_samples, event_by,
    forged_token_for, store_event,
};

fn create(event: EventId, by: &Actor, content: &str) -> Call {
    Call::sample("http-comments-create")
        .path_param("event_id", event)
        .by(by)
        .without_header("idempotency-key")
        .json(json!({ "content": content }))
}

async fn post(w: &World, event: EventId, by: &Actor, content: &str) -> Value {
    create(event, by, content).send(w).await.expect(201).body
}

fn list(event: EventId, by: &Actor) -> Call {
    Call::sample("http-comments-list")
        .no_query()
        .path_param("event_id", event)
        .by(by)
}

fn on_comment(sample: &str, id: &Value, by: &Actor) -> Call {
    Call::sample(sample)
        .path_param("comment_id", id.as_str().expect("comment id"))
        .by(by)
}

fn positions(r: &Resp) -> Vec<u64> {
    r.positions("comments")
}

fn cursor(r: &Resp) -> String {
    r.cursor()
}

/// How many comments the listing `r` holds.
fn count(r: &Resp) -> usize {
    r.body["comments"].as_array().expect("comments").len()
}

/// The start of most tests here: a world where ada has a live event.
async fn ada_at_a_live_event() -> (World, Actor, EventId) {
    let w = World::new();
    let ada = w.user("ada").await;
    let event = w.live_event(ada.id).await;
    (w, ada, event)
}

#[tokio::test]
async fn samples_are_served() {
    check_samples("comments", ROUTES).await;
}

#[tokio::test]
async fn post_creates_the_comment_and_broadcasts_it() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let r = create(event, &ada, "  What a goal!  ")
        .header("x-request-id", "req-123")
        .send(&w)
        .await
        .expect(201);
    assert_eq!(r.headers["x-request-id"], "req-123");
    assert!(r.headers.contains_key("x-ratelimit-remaining"));
    let c = &r.body;
    assert_eq!(c["event_id"], event.to_string());
    assert_eq!(c["content"], "What a goal!");
    assert_eq!(c["user"]["user_id"], ada.id.to_string());
    assert_eq!(c["user"]["username"], "ada");
    assert_eq!(c["position"], 2, "position 1 is the event going live");
    assert_eq!(c["moderation_status"], "approved");
    assert_eq!(c["like_count"], 0);
    assert_eq!(c["is_deleted"], false);
    assert!(c["parent_comment_id"].is_null());
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "comment_broadcast");
    assert_eq!(jobs[0]["payload"]["comment_id"], c["comment_id"]);
}

#[tokio::test]
async fn post_with_metadata_and_reply() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let bob = w.user("bob").await;
    let parent = post(&w, event, &ada, "Kick-off").await;
    w.drain().await;
    let reply = create(event, &bob, "Let's go")
        .json(json!({
            "content": "Let's go",
            "parent_comment_id": parent["comment_id"],
            "client_metadata": {"platform": "mobile", "version": "2.1"},
            "event_id": event,
        }))
        .send(&w)
        .await
        .expect(201)
        .body;
    assert_eq!(reply["parent_comment_id"], parent["comment_id"]);
    assert_eq!(
        w.drain_types().await,
        ["comment_broadcast", "comment_updated"]
    );
    let replies = on_comment("http-comments-replies", &parent["comment_id"], &bob)
        .no_query()
        .ok(&w)
        .await;
    assert_eq!(
        replies.body["comments"][0]["comment_id"],
        reply["comment_id"]
    );
    assert_eq!(replies.body["has_more"], false);
    let top = list(event, &bob).ok(&w).await;
    assert_eq!(top.body["comments"][1]["reply_count"], 1);
}

#[tokio::test]
async fn post_only_while_the_event_is_live() {
    let w = World::new();
    let ada = w.user("ada").await;
    for status in [
        EventStatus::Scheduled,
        EventStatus::Ended,
        EventStatus::Cancelled,
    ] {
        let event = w
            .event_with(EventId::new(), ada.id, status, ModerationLevel::Standard)
            .await;
        let r = create(event, &ada, "hello").send(&w).await.expect(403);
        assert_eq!(r.code(), "FORBIDDEN");
    }
    let r = create(EventId::new(), &ada, "hello")
        .send(&w)
        .await
        .expect(404);
    assert_eq!(r.code(), "NOT_FOUND");
    assert!(w.drain().await.is_empty());
}

#[tokio::test]
async fn post_validates_its_input() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let other_event = w.live_event(ada.id).await;
    let foreign = post(&w, other_event, &ada, "elsewhere").await;
    let too_long = create(event, &ada, &"a".repeat(2001))
        .send(&w)
        .await
        .expect_field("content");
    assert!(
        too_long.body["error"]["details"][0]["message"]
            .as_str()
            .expect("message")
            .contains("2000")
    );
    assert_eq!(
        too_long.body["error"]["message"],
        "invalid request parameters"
    );
    assert!(too_long.body["error"]["request_id"].is_string());
    assert!(too_long.body["error"]["timestamp"].is_string());
    create(event, &ada, &"é".repeat(2000))
        .send(&w)
        .await
        .expect(201);
    let base = create(event, &ada, "x");
    let with = |body: Value| base.clone().json(body);
    check_fields(
        &w,
        vec![
            ("blank", create(event, &ada, "   "), "content"),
            (
                "zero-width only",
                create(event, &ada, "\u{200b}\u{200b}\u{200b}"),
                "content",
            ),
            (
                "a bidirectional override",
                create(event, &ada, "pay \u{202e}gnp.exe"),
                "content",
            ),
            ("not JSON", base.clone().raw_body("{nope"), "body"),
            ("an array", base.clone().raw_body("[1, 2]"), "body"),
            ("empty", base.clone().raw_body(""), "body"),
            ("no content", with(json!({})), "content"),
            ("content a number", with(json!({"content": 5})), "content"),
            (
                "parent not an id",
                with(json!({"content": "x", "parent_comment_id": "nope"})),
                "parent_comment_id",
            ),
            (
                "unknown parent",
                with(json!({"content": "x", "parent_comment_id": CommentId::new()})),
                "parent_comment_id",
            ),
            (
                "parent on another event",
                with(json!({"content": "x", "parent_comment_id": foreign["comment_id"]})),
                "parent_comment_id",
            ),
            (
                "unknown platform",
                with(json!({"content": "x", "client_metadata": {"platform": "fax"}})),
                "client_metadata",
            ),
            (
                "version too long",
                with(json!({"content": "x", "client_metadata": {"version": "v".repeat(300)}})),
                "client_metadata.version",
            ),
            (
                "another event in the body",
                with(json!({"content": "x", "event_id": other_event})),
                "event_id",
            ),
            (
                "event id not a uuid",
                base.clone().path_param("event_id", "not-a-uuid"),
                "event_id",
            ),
        ],
    )
    .await;
    let big = format!("{{\"content\": \"{}\"}}", "a".repeat(70 * 1024));
    let r = base.clone().raw_body(&big).send(&w).await.expect(413);
    assert_eq!(r.code(), "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn idempotency_key_retry_returns_the_same_comment() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let first = create(event, &ada, "once")
        .header("idempotency-key", "retry-key-1")
        .send(&w)
        .await
        .expect(201);
    let again = create(event, &ada, "once")
        .header("idempotency-key", "retry-key-1")
        .ok(&w)
        .await;
    assert_eq!(first.body, again.body);
    let all = list(event, &ada).ok(&w).await;
    assert_eq!(count(&all), 1);
    // The same key from another user is another request.
    let bob = w.user("bob").await;
    let other = create(event, &bob, "once")
        .header("idempotency-key", "retry-key-1")
        .send(&w)
        .await
        .expect(201);
    assert_ne!(other.body["comment_id"], first.body["comment_id"]);
    // A key names a comment in one event: on another event it is a new comment.
    let elsewhere = w.live_event(ada.id).await;
    let there = create(elsewhere, &ada, "once")
        .header("idempotency-key", "retry-key-1")
        .send(&w)
        .await
        .expect(201);
    assert_eq!(there.body["event_id"], elsewhere.to_string());
    assert_ne!(there.body["comment_id"], first.body["comment_id"]);
    // The same key with other text is not a retry: refused, nothing stored.
    let r = create(event, &ada, "twice")
        .header("idempotency-key", "retry-key-1")
        .send(&w)
        .await
        .expect(409);
    assert_eq!(r.code(), "CONFLICT");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("key"));
    assert_eq!(count(&list(event, &ada).ok(&w).await), 2);
    create(event, &ada, "x")
        .header("idempotency-key", "has spaces")
        .send(&w)
        .await
        .expect_field("Idempotency-Key");
    create(event, &ada, "x")
        .header("idempotency-key", &"k".repeat(65))
        .send(&w)
        .await
        .expect_field("Idempotency-Key");
}

#[tokio::test]
async fn comment_rate_limit_answers_429() {
    let w = World::with_config(Config {
        comment_rate: RateRule::per(2, 60),
        ..Config::default()
    });
    let ada = w.user("ada").await;
    let event = w.live_event(ada.id).await;
    post(&w, event, &ada, "one").await;
    post(&w, event, &ada, "two").await;
    let r = create(event, &ada, "three").send(&w).await.expect(429);
    assert_eq!(r.code(), "RATE_LIMIT_EXCEEDED");
    assert!(r.headers.contains_key("retry-after"));
}

/// Like toggles are limited per user (10 per 10 s by default): each is a room-wide
/// `comment_updated`, so one user must not be able to flood the audience (issue 13, finding 3).
#[tokio::test]
async fn like_toggles_are_rate_limited() {
    let w = World::with_config(Config::default());
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let event = w.live_event(ada.id).await;
    let c = post(&w, event, &ada, "toggle me").await;
    w.drain().await;
    for i in 0..10 {
        let r = on_comment("http-comments-like", &c["comment_id"], &bob)
            .send(&w)
            .await;
        assert_eq!(r.status, 200, "toggle {i}");
    }
    let r = on_comment("http-comments-like", &c["comment_id"], &bob)
        .send(&w)
        .await
        .expect(429);
    assert_eq!(r.code(), "RATE_LIMIT_EXCEEDED");
    assert!(r.headers.contains_key("retry-after"));
    let heard = w.drain().await;
    assert_eq!(
        heard.len(),
        1,
        "ten toggles are one coalesced count: {heard:?}"
    );
    assert_eq!(
        heard[0]["payload"]["like_count"], 0,
        "the refused toggle changed nothing"
    );
    // Another user's toggles have their own window.
    on_comment("http-comments-like", &c["comment_id"], &ada)
        .ok(&w)
        .await;
}

#[tokio::test]
async fn list_newest_pages_with_sealed_cursors() {
    let (w, ada, event) = ada_at_a_live_event().await;
    for i in 1..=7 {
        post(&w, event, &ada, &format!("c{i}")).await;
    }
    let p1 = list(event, &ada).query("limit", 3).ok(&w).await;
    assert_eq!(positions(&p1), [8, 7, 6]);
    assert_eq!(p1.body["has_more"], true);
    assert_eq!(p1.body["comments"][0]["content"], "c7");
    let p2 = list(event, &ada)
        .query("limit", 3)
        .query("cursor", cursor(&p1))
        .ok(&w)
        .await;
    assert_eq!(positions(&p2), [5, 4, 3]);
    let p3 = list(event, &ada)
        .query("limit", 3)
        .query("sort", "newest")
        .query("cursor", cursor(&p2))
        .ok(&w)
        .await;
    assert_eq!(positions(&p3), [2]);
    assert_eq!(p3.body["has_more"], false);
    assert!(p3.body["next_cursor"].is_null());
    // Default page size holds everything.
    let all = list(event, &ada).ok(&w).await;
    assert_eq!(positions(&all), [8, 7, 6, 5, 4, 3, 2]);
}

#[tokio::test]
async fn list_oldest_pages_and_after_catches_up() {
    let (w, ada, event) = ada_at_a_live_event().await;
    for i in 1..=7 {
        post(&w, event, &ada, &format!("c{i}")).await;
    }
    let p1 = list(event, &ada)
        .query("sort", "oldest")
        .query("limit", 4)
        .ok(&w)
        .await;
    assert_eq!(positions(&p1), [2, 3, 4, 5]);
    let p2 = list(event, &ada)
        .query("sort", "oldest")
        .query("limit", 4)
        .query("cursor", cursor(&p1))
        .ok(&w)
        .await;
    assert_eq!(positions(&p2), [6, 7, 8]);
    assert_eq!(p2.body["has_more"], false);
    let caught = list(event, &ada).query("after", 5).ok(&w).await;
    assert_eq!(positions(&caught), [6, 7, 8]);
    let partial = list(event, &ada)
        .query("after", 3)
        .query("limit", 2)
        .ok(&w)
        .await;
    assert_eq!(positions(&partial), [4, 5]);
    let rest = list(event, &ada)
        .query("sort", "oldest")
        .query("limit", 10)
        .query("cursor", cursor(&partial))
        .ok(&w)
        .await;
    assert_eq!(positions(&rest), [6, 7, 8]);
    let none = list(event, &ada).query("after", 8).ok(&w).await;
    assert_eq!(positions(&none), Vec::<u64>::new());
    list(event, &ada)
        .query("after", 2)
        .query("sort", "newest")
        .send(&w)
        .await
        .expect_field("after");
    list(event, &ada)
        .query("after", 2)
        .query("cursor", cursor(&partial))
        .send(&w)
        .await
        .expect_field("after");
}

#[tokio::test]
async fn list_popular_orders_by_likes_and_pages() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let mut ids = Vec::new();
    for i in 1..=5 {
        ids.push(post(&w, event, &ada, &format!("c{i}")).await["comment_id"].clone());
    }
    // c3: 3 likes, c5: 2 likes, c1: 1 like.
    let fans = [w.user("f1").await, w.user("f2").await, w.user("f3").await];
    for (idx, likes) in [(2usize, 3usize), (4, 2), (0, 1)] {
        for fan in &fans[..likes] {
            on_comment("http-comments-like", &ids[idx], fan)
                .ok(&w)
                .await;
        }
    }
    // A reply is not listed among the popular.
    create(event, &ada, "reply")
        .json(json!({"content": "reply", "parent_comment_id": ids[0]}))
        .send(&w)
        .await
        .expect(201);
    let p1 = list(event, &ada)
        .query("sort", "popular")
        .query("limit", 2)
        .ok(&w)
        .await;
    assert_eq!(positions(&p1), [4, 6]);
    assert_eq!(p1.body["comments"][0]["like_count"], 3);
    assert_eq!(p1.body["has_more"], true);
    let p2 = list(event, &ada)
        .query("sort_by", "popular")
        .query("limit", 2)
        .query("cursor", cursor(&p1))
        .ok(&w)
        .await;
    assert_eq!(positions(&p2), [2, 5]);
    let p3 = list(event, &ada)
        .query("sort", "popular")
        .query("limit", 2)
        .query("cursor", cursor(&p2))
        .ok(&w)
        .await;
    assert_eq!(positions(&p3), [3]);
    assert_eq!(p3.body["has_more"], false);
    assert!(p3.body["next_cursor"].is_null());
}

#[tokio::test]
async fn cursors_are_bound_to_their_listing() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let other = w.live_event(ada.id).await;
    for i in 1..=3 {
        post(&w, event, &ada, &format!("c{i}")).await;
        post(&w, other, &ada, &format!("o{i}")).await;
    }
    let page = list(event, &ada).query("limit", 1).ok(&w).await;
    let c = cursor(&page);
    let (token, tag) = c.split_once('.').expect("sealed");
    let forged = format!("{}x.{tag}", token);
    let with_cursor = |event: EventId, cursor: &str| list(event, &ada).query("cursor", cursor);
    check_fields(
        &w,
        vec![
            (
                "another event's cursor",
                with_cursor(other, &c).query("limit", 1),
                "cursor",
            ),
            (
                "a newest cursor, oldest first",
                with_cursor(event, &c).query("sort", "oldest"),
                "cursor",
            ),
            (
                "a newest cursor, popular first",
                with_cursor(event, &c).query("sort", "popular"),
                "cursor",
            ),
            ("forged", with_cursor(event, &forged), "cursor"),
            ("garbage", with_cursor(event, "garbage"), "cursor"),
        ],
    )
    .await;
}

#[tokio::test]
async fn list_validates_its_query() {
    let (w, ada, event) = ada_at_a_live_event().await;
    for bad in ["0", "101", "ten", "-1"] {
        list(event, &ada)
            .query("limit", bad)
            .send(&w)
            .await
            .expect_field("limit");
    }
    list(event, &ada).query("limit", 100).ok(&w).await;
    check_fields(
        &w,
        vec![
            ("sort", list(event, &ada).query("sort", "loudest"), "sort"),
            ("after", list(event, &ada).query("after", "x"), "after"),
            (
                "event id",
                list(event, &ada).path_param("event_id", "123"),
                "event_id",
            ),
        ],
    )
    .await;
    list(EventId::new(), &ada).send(&w).await.expect(404);
    // An ended event's history stays readable.
    let ended = w
        .event_with(
            EventId::new(),
            ada.id,
            EventStatus::Ended,
            ModerationLevel::Standard,
        )
        .await;
    list(ended, &ada).ok(&w).await;
}

#[tokio::test]
async fn pending_comments_are_shown_only_to_moderators_and_their_author() {
    let w = World::new();
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let event = w
        .event_with(
            EventId::new(),
            host.id,
            EventStatus::Live,
            ModerationLevel::Strict,
        )
        .await;
    let pending = post(&w, event, &ada, "needs review").await;
    assert_eq!(pending["moderation_status"], "pending");
    assert!(
        w.drain().await.is_empty(),
        "pending comments are not broadcast"
    );
    let id = &pending["comment_id"];
    for (who, seen) in [(&bob, 0), (&ada, 1), (&host, 1)] {
        let r = list(event, who).ok(&w).await;
        assert_eq!(count(&r), seen);
        let r = list(event, who).query("after", 0).ok(&w).await;
        assert_eq!(count(&r), seen);
    }
    // To anyone else it does not exist.
    for sample in [
        "http-comments-like",
        "http-comments-delete",
        "http-comments-replies",
    ] {
        on_comment(sample, id, &bob).send(&w).await.expect(404);
    }
    Call::sample("http-comments-moderate")
        .path_param("comment_id", id.as_str().expect("id"))
        .by(&bob)
        .json(json!({"action": "approve"}))
        .send(&w)
        .await
        .expect(404);
    // The author may like it; the room hears nothing of it.
    on_comment("http-comments-like", id, &ada).ok(&w).await;
    assert!(w.drain().await.is_empty());
    // Approval broadcasts the action and then the comment.
    let r = Call::sample("http-comments-moderate")
        .path_param("comment_id", id.as_str().expect("id"))
        .by(&host)
        .json(json!({"action": "approve"}))
        .ok(&w)
        .await;
    assert_eq!(r.body["action"], "approved");
    assert_eq!(r.body["comment"]["moderation_status"], "approved");
    assert_eq!(
        w.drain_types().await,
        ["moderation_action", "comment_broadcast"]
    );
    let r = list(event, &bob).ok(&w).await;
    assert_eq!(r.body["comments"][0]["content"], "needs review");
}

#[tokio::test]
async fn like_toggles_and_broadcasts_the_count() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let bob = w.user("bob").await;
    let c = post(&w, event, &ada, "like me").await;
    w.drain().await;
    let r = on_comment("http-comments-like", &c["comment_id"], &bob)
        .ok(&w)
        .await;
    assert_eq!(r.body, json!({"liked": true, "like_count": 1}));
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "comment_updated");
    assert_eq!(jobs[0]["payload"]["like_count"], 1);
    assert_eq!(jobs[0]["payload"]["comment_id"], c["comment_id"]);
    let r = on_comment("http-comments-like", &c["comment_id"], &ada)
        .ok(&w)
        .await;
    assert_eq!(r.body, json!({"liked": true, "like_count": 2}));
    let r = on_comment("http-comments-like", &c["comment_id"], &bob)
        .ok(&w)
        .await;
    assert_eq!(r.body, json!({"liked": false, "like_count": 1}));
    // Two toggles, one change heard: counts are coalesced into one entry per flush.
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["type"], "comment_updated");
    assert_eq!(jobs[0]["payload"]["like_count"], 1);
}

/// Liking a deleted comment is refused and broadcasts nothing (issue 13, finding 3).
#[tokio::test]
async fn a_deleted_comment_cannot_be_liked() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let bob = w.user("bob").await;
    let c = post(&w, event, &ada, "soon gone").await;
    on_comment("http-comments-delete", &c["comment_id"], &ada)
        .ok(&w)
        .await;
    w.drain().await;
    let r = on_comment("http-comments-like", &c["comment_id"], &bob)
        .send(&w)
        .await
        .expect_error(404, "NOT_FOUND");
    assert!(r.message().contains("comment"), "{}", r.message());
    assert!(w.drain().await.is_empty(), "nothing is broadcast");
}

#[tokio::test]
async fn delete_by_author_or_moderator() {
    let moderator_id = banter::ids::UserId::new();
    let admin_id = banter::ids::UserId::new();
    let mut config = support::rest::roomy_config();
    config.moderators.insert(moderator_id);
    config.admins.insert(admin_id);
    let w = World::with_config(config);
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let moderator = w.user_with_id(moderator_id, "global_mod").await;
    let admin = w.user_with_id(admin_id, "admin").await;
    let event = w.live_event(host.id).await;
    let c1 = post(&w, event, &ada, "mine").await;
    w.drain().await;
    let r = on_comment("http-comments-delete", &c1["comment_id"], &bob)
        .send(&w)
        .await
        .expect(403);
    assert_eq!(r.code(), "FORBIDDEN");
    assert!(w.drain().await.is_empty());
    let r = on_comment("http-comments-delete", &c1["comment_id"], &ada)
        .ok(&w)
        .await;
    assert_eq!(r.body["message"], "comment deleted");
    assert_eq!(r.body["comment"]["is_deleted"], true);
    assert_eq!(r.body["comment"]["content"], "");
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "comment_deleted");
    assert_eq!(jobs[0]["payload"]["deleted_by"], ada.id.to_string());
    // Deleting again is harmless.
    on_comment("http-comments-delete", &c1["comment_id"], &ada)
        .ok(&w)
        .await;
    // Deleted comments stay listed, without their text.
    let listed = list(event, &bob).ok(&w).await;
    assert_eq!(listed.body["comments"][0]["is_deleted"], true);
    assert_eq!(listed.body["comments"][0]["content"], "");
    for (i, by) in [&host, &moderator, &admin].into_iter().enumerate() {
        let c = post(&w, event, &ada, &format!("moderate me {i}")).await;
        on_comment("http-comments-delete", &c["comment_id"], by)
            .ok(&w)
            .await;
    }
}

#[tokio::test]
async fn moderation_needs_a_moderator_and_broadcasts() {
    let admin_id = banter::ids::UserId::new();
    let mut config = support::rest::roomy_config();
    config.admins.insert(admin_id);
    let w = World::with_config(config);
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let admin = w.user_with_id(admin_id, "admin").await;
    let event = w.live_event(host.id).await;
    let c = post(&w, event, &ada, "spam spam").await;
    w.drain().await;
    let moderate = |by: &Actor, body: Value| {
        Call::sample("http-comments-moderate")
            .path_param("comment_id", c["comment_id"].as_str().expect("id"))
            .by(by)
            .json(body)
    };
    let r = moderate(&ada, json!({"action": "block"}))
        .send(&w)
        .await
        .expect(403);
    assert_eq!(r.code(), "FORBIDDEN");
    assert!(w.drain().await.is_empty());
    let r = moderate(&host, json!({"action": "block", "reason": " spam "}))
        .ok(&w)
        .await;
    assert_eq!(r.body["action"], "blocked");
    assert_eq!(r.body["reason"], "spam");
    assert_eq!(r.body["comment"]["moderation_status"], "blocked");
    assert_eq!(r.body["comment"]["content"], "");
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["type"], "moderation_action");
    assert_eq!(jobs[0]["payload"]["action"], "blocked");
    assert_eq!(jobs[0]["payload"]["reason"], "spam");
    assert_eq!(jobs[0]["payload"]["moderator_id"], host.id.to_string());
    let listed = list(event, &ada).ok(&w).await;
    assert_eq!(listed.body["comments"][0]["content"], "");
    assert_eq!(listed.body["comments"][0]["moderation_status"], "blocked");
    let r = moderate(&admin, json!({"action": "flag"})).ok(&w).await;
    assert_eq!(r.body["comment"]["moderation_status"], "flagged");
    assert!(r.body["reason"].is_null());
    moderate(&host, json!({"action": "delete"}))
        .send(&w)
        .await
        .expect_field("action");
    moderate(&host, json!({"reason": "x"}))
        .send(&w)
        .await
        .expect_field("action");
    moderate(&host, json!({"action": "flag", "reason": "r".repeat(501)}))
        .send(&w)
        .await
        .expect_field("reason");
    moderate(&host, json!({}))
        .raw_body("{")
        .send(&w)
        .await
        .expect_field("body");
}

#[tokio::test]
async fn every_write_needs_a_valid_token_and_reads_refuse_an_invalid_one() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let c = post(&w, event, &ada, "hi").await;
    let forged = forged_token_for(ada.id);
    let writes = [
        create(event, &ada, "x"),
        on_comment("http-comments-like", &c["comment_id"], &ada),
        on_comment("http-comments-delete", &c["comment_id"], &ada),
        on_comment("http-comments-moderate", &c["comment_id"], &ada),
    ];
    let reads = [
        list(event, &ada),
        on_comment("http-comments-replies", &c["comment_id"], &ada),
    ];
    assert_eq!(writes.len() + reads.len(), ROUTES.len());
    for call in &writes {
        check_needs_token(&w, call, &forged).await;
    }
    for call in writes.iter().chain(&reads) {
        let key = call.route_key();
        let r = call.clone().bearer("not.a.jwt").send(&w).await;
        assert_eq!(r.status, 401, "{key} garbage: {}", r.body);
        let r = call.clone().bearer(&forged).send(&w).await;
        assert_eq!(r.status, 401, "{key} forged: {}", r.body);
    }
    // Nothing changed.
    let listed = list(event, &ada).ok(&w).await;
    assert_eq!(count(&listed), 1);
    assert_eq!(listed.body["comments"][0]["like_count"], 0);
}

#[tokio::test]
async fn anonymous_viewers_read_comments_and_replies_but_never_pending_ones() {
    let w = World::new();
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let open = w.live_event(host.id).await;
    let first = post(&w, open, &ada, "first").await;
    let reply = create(open, &ada, "a reply")
        .json(json!({"content": "a reply", "parent_comment_id": first["comment_id"]}))
        .send(&w)
        .await
        .expect(201)
        .body;
    let r = list(open, &ada).anonymous().ok(&w).await;
    assert_eq!(count(&r), 2);
    assert_eq!(r.body["total_count"], 2, "the event's comment count");
    let r = on_comment("http-comments-replies", &first["comment_id"], &ada)
        .anonymous()
        .ok(&w)
        .await;
    assert_eq!(r.body["comments"][0]["comment_id"], reply["comment_id"]);
    assert_eq!(r.body["total_count"], 1, "the parent's reply count");
    // A strict event's pending comment is nobody's business but its author's and moderators'.
    let strict = w
        .event_with(
            EventId::new(),
            host.id,
            EventStatus::Live,
            ModerationLevel::Strict,
        )
        .await;
    let pending = post(&w, strict, &ada, "needs review").await;
    let r = list(strict, &ada).anonymous().ok(&w).await;
    assert_eq!(count(&r), 0);
    let r = list(strict, &ada)
        .anonymous()
        .query("after", 0)
        .ok(&w)
        .await;
    assert_eq!(count(&r), 0);
    on_comment("http-comments-replies", &pending["comment_id"], &ada)
        .anonymous()
        .send(&w)
        .await
        .expect(404);
}

#[tokio::test]
async fn anonymous_reads_are_limited_per_ip() {
    let w = World::with_config(Config {
        anonymous_ip_rate: RateRule::per(2, 60),
        ..support::rest::roomy_config()
    });
    let ada = w.user("ada").await;
    let event = w.live_event(ada.id).await;
    for _ in 0..2 {
        list(event, &ada)
            .anonymous()
            .source_ip("198.51.100.7")
            .ok(&w)
            .await;
    }
    let r = list(event, &ada)
        .anonymous()
        .source_ip("198.51.100.7")
        .send(&w)
        .await
        .expect(429);
    assert_eq!(r.code(), "RATE_LIMIT_EXCEEDED");
    assert!(r.headers.contains_key("retry-after"));
    // Another IP, and a signed-in reader, are not held back by it.
    list(event, &ada)
        .anonymous()
        .source_ip("198.51.100.8")
        .ok(&w)
        .await;
    list(event, &ada).source_ip("198.51.100.7").ok(&w).await;
}

#[tokio::test]
async fn unknown_or_malformed_comment_ids() {
    let w = World::new();
    let ada = w.user("ada").await;
    let unknown = json!(CommentId::new().to_string());
    for sample in [
        "http-comments-replies",
        "http-comments-like",
        "http-comments-delete",
        "http-comments-moderate",
    ] {
        let r = on_comment(sample, &unknown, &ada)
            .send(&w)
            .await
            .expect(404);
        assert_eq!(r.code(), "NOT_FOUND");
        on_comment(sample, &json!("nope"), &ada)
            .send(&w)
            .await
            .expect_field("comment_id");
    }
}

#[tokio::test]
async fn replies_page_with_cursors() {
    let (w, ada, event) = ada_at_a_live_event().await;
    let parent = post(&w, event, &ada, "thread").await;
    post(&w, event, &ada, "not a reply").await;
    for i in 1..=5 {
        create(event, &ada, "r")
            .json(json!({"content": format!("r{i}"), "parent_comment_id": parent["comment_id"]}))
            .send(&w)
            .await
            .expect(201);
    }
    let replies = |by: &Actor| {
        on_comment("http-comments-replies", &parent["comment_id"], by)
            .no_query()
            .query("limit", 2)
    };
    let p1 = replies(&ada).ok(&w).await;
    assert_eq!(positions(&p1), [4, 5]);
    let p2 = replies(&ada).query("cursor", cursor(&p1)).ok(&w).await;
    assert_eq!(positions(&p2), [6, 7]);
    let p3 = replies(&ada).query("cursor", cursor(&p2)).ok(&w).await;
    assert_eq!(positions(&p3), [8]);
    assert_eq!(p3.body["has_more"], false);
    // A listing cursor is not a replies cursor.
    let page = list(event, &ada).query("limit", 1).ok(&w).await;
    replies(&ada)
        .query("cursor", cursor(&page))
        .send(&w)
        .await
        .expect_field("cursor");
    replies(&ada)
        .query("limit", 0)
        .send(&w)
        .await
        .expect_field("limit");
}

#[tokio::test]
async fn replies_can_be_disabled_per_event() {
    let w = World::new();
    let host = w.user("host").await;
    let event = EventId::new();
    let no_threads = banter::model::Event {
        event_id: event,
        title: "No threads".into(),
        description: None,
        event_type: banter::model::EventType::News,
        comment_settings: banter::model::CommentSettings {
            allow_replies: false,
            ..CommentSettings::default()
        },
        ..event_by(host.id, EventStatus::Live, banter::time::now())
    };
    store_event(&w.app, &no_threads).await;
    let top = post(&w, event, &host, "top").await;
    let r = create(event, &host, "reply")
        .json(json!({"content": "reply", "parent_comment_id": top["comment_id"]}))
        .send(&w)
        .await
        .expect(403);
    assert_eq!(r.code(), "FORBIDDEN");
}

#[tokio::test]
async fn in_strict_events_the_moderators_own_comments_need_no_approval() {
    let w = World::new();
    let host = w.user("host").await;
    let event = w
        .event_with(
            EventId::new(),
            host.id,
            EventStatus::Live,
            ModerationLevel::Strict,
        )
        .await;
    let own = post(&w, event, &host, "welcome, everyone").await;
    assert_eq!(own["moderation_status"], "approved");
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1, "the host's comment is broadcast at once");
}

/// A post without `Idempotency-Key` whose broadcast cannot be enqueued is still created
/// (201): the comment is committed and in the room's stream, and an error would have the
/// client post it again. The room's next job delivers it (a job means "deliver everything
/// committed so far"); the client's retry of the same post within 30 s is that comment (200),
/// not a second one. Later, other text is a new comment.
#[tokio::test]
async fn a_post_whose_broadcast_cannot_be_enqueued_is_created_and_delivered_by_the_next_job() {
    let w = World::new();
    let flaky = Arc::new(FlakyQueue::new(w.queue.clone()));
    let app = App {
        queue: flaky.clone(),
        ..w.app.clone()
    };
    let w = w.with_app(app);
    let (ada, event) = {
        let ada = w.user("ada").await;
        let event = w.live_event(ada.id).await;
        (ada, event)
    };
    w.drain().await;
    flaky.set_failing(true);
    let first = create(event, &ada, "once, please")
        .send(&w)
        .await
        .expect(201);
    assert!(w.drain().await.is_empty(), "nothing could be enqueued");
    flaky.set_failing(false);
    let retry = create(event, &ada, "once, please")
        .send(&w)
        .await
        .expect(200);
    assert_eq!(retry.body["comment_id"], first.body["comment_id"]);
    assert_eq!(count(&list(event, &ada).ok(&w).await), 1);
    let jobs = w.drain().await;
    assert_eq!(jobs.len(), 1, "the next job delivers the comment");
    assert_eq!(jobs[0]["payload"]["comment_id"], first.body["comment_id"]);
    // Other text is another comment at once.
    create(event, &ada, "and another")
        .send(&w)
        .await
        .expect(201);
    assert_eq!(count(&list(event, &ada).ok(&w).await), 2);
}

/// A live event of `host` with slow mode at `secs`.
async fn slow_event(w: &World, host: &Actor, secs: u32) -> EventId {
    w.store(banter::model::Event {
        comment_settings: CommentSettings {
            slow_mode_seconds: secs,
            ..CommentSettings::default()
        },
        ..event_by(host.id, EventStatus::Live, banter::time::now())
    })
    .await
}

#[tokio::test]
async fn slow_mode_spaces_each_users_comments_and_a_retry_still_answers_the_original() {
    let w = World::new();
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let event = slow_event(&w, &host, 30).await;
    let first = create(event, &ada, "first")
        .header("idempotency-key", "ada-1")
        .send(&w)
        .await
        .expect(201)
        .body;
    let r = create(event, &ada, "second").send(&w).await.expect(429);
    assert_eq!(r.code(), "RATE_LIMIT_EXCEEDED");
    let retry_after: u64 = r.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(r.body["error"]["details"][0]["field"], "retry_after");
    // The first request retried (a lost answer) is not slowed: it is the same comment.
    let again = create(event, &ada, "first")
        .header("idempotency-key", "ada-1")
        .send(&w)
        .await
        .expect(200)
        .body;
    assert_eq!(again["comment_id"], first["comment_id"]);
    // Others are not held back by ada's pace, and the event's creator is exempt.
    create(event, &bob, "bob's").send(&w).await.expect(201);
    for n in 0..3 {
        create(event, &host, &format!("host {n}"))
            .send(&w)
            .await
            .expect(201);
    }
    let listed = list(event, &ada).ok(&w).await;
    assert_eq!(count(&listed), 5, "the refused comment was not stored");
    // Another event has its own pace.
    let other = slow_event(&w, &host, 30).await;
    create(other, &ada, "elsewhere").send(&w).await.expect(201);
}

/// A live event of `host` with `level` moderation and `blocked` words.
async fn moderated_event(
    w: &World,
    host: &Actor,
    level: ModerationLevel,
    blocked: &[&str],
) -> EventId {
    w.store(banter::model::Event {
        moderation_level: level,
        comment_settings: CommentSettings {
            blocked_words: blocked.iter().map(|b| (*b).to_owned()).collect(),
            ..CommentSettings::default()
        },
        ..event_by(host.id, EventStatus::Live, banter::time::now())
    })
    .await
}

#[tokio::test]
async fn standard_moderation_holds_blocked_words_and_links_and_relaxed_holds_nothing() {
    let w = World::new();
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let standard = moderated_event(
        &w,
        &host,
        ModerationLevel::Standard,
        &["scam", "free money"],
    )
    .await;
    for (text, status) in [
        ("What a goal!", "approved"),
        ("This is a SCAM", "pending"),
        ("Scäm alert", "pending"),
        ("get FREE money", "pending"),
        ("scampi for dinner", "approved"),
        ("see https://example.com", "pending"),
        ("go to example.com", "pending"),
    ] {
        let c = post(&w, standard, &ada, text).await;
        assert_eq!(c["moderation_status"], status, "{text}");
    }
    // Held comments reach nobody but the moderators; the rest are broadcast.
    let listed = list(standard, &w.user("bob").await).ok(&w).await;
    assert_eq!(count(&listed), 2);
    // The event's moderators are never held.
    let own = post(&w, standard, &host, "scam links: example.com").await;
    assert_eq!(own["moderation_status"], "approved");
    let relaxed = moderated_event(&w, &host, ModerationLevel::Relaxed, &["scam"]).await;
    let c = post(&w, relaxed, &ada, "scam at https://example.com").await;
    assert_eq!(c["moderation_status"], "approved");
}

fn ban_call(event: EventId, by: &Actor, body: Value) -> Call {
    Call::to(banter::rest::events::BAN)
        .path_param("event_id", event)
        .by(by)
        .json(body)
}

async fn events_route(w: &World, call: Call) -> Resp {
    support::rest::send(&w.app, &call, banter::rest::events::route).await
}

#[tokio::test]
async fn banned_and_muted_users_cannot_comment_until_lifted() {
    let w = World::new();
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let event = w.live_event(host.id).await;
    // Only moderators ban; moderators cannot be banned.
    events_route(&w, ban_call(event, &bob, json!({"user_id": ada.id})))
        .await
        .expect(403);
    events_route(&w, ban_call(event, &host, json!({"user_id": host.id})))
        .await
        .expect(409);
    for bad in [
        json!({}),
        json!({"user_id": "nope"}),
        json!({"user_id": ada.id, "duration_seconds": 0}),
        json!({"user_id": ada.id, "duration_seconds": 2_592_001}),
    ] {
        events_route(&w, ban_call(event, &host, bad))
            .await
            .expect(400);
    }
    let r = events_route(
        &w,
        ban_call(event, &host, json!({"user_id": ada.id, "reason": "spam"})),
    )
    .await
    .expect(201);
    assert_eq!(r.body["until"], Value::Null);
    assert_eq!(r.body["by"], json!(host.id));
    let refused = create(event, &ada, "let me in").send(&w).await.expect(403);
    assert_eq!(refused.code(), "FORBIDDEN");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("banned")
    );
    // Others comment on; the banned may still read.
    post(&w, event, &bob, "carry on").await;
    assert_eq!(count(&list(event, &ada).ok(&w).await), 1);
    // A mute replaces the ban and says until when.
    let r = events_route(
        &w,
        ban_call(
            event,
            &host,
            json!({"user_id": ada.id, "duration_seconds": 600.0}),
        ),
    )
    .await
    .expect(201);
    assert!(r.body["until"].is_string());
    let refused = create(event, &ada, "still me").send(&w).await.expect(403);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("muted")
    );
    let listed = events_route(
        &w,
        Call::to(banter::rest::events::BANS)
            .path_param("event_id", event)
            .by(&host),
    )
    .await
    .expect(200);
    assert_eq!(listed.body["bans"][0]["user_id"], json!(ada.id));
    events_route(
        &w,
        Call::to(banter::rest::events::BANS)
            .path_param("event_id", event)
            .by(&bob),
    )
    .await
    .expect(403);
    // Lifted, ada comments again; another event was never affected.
    for _ in 0..2 {
        events_route(
            &w,
            Call::to(banter::rest::events::UNBAN)
                .path_param("event_id", event)
                .path_param("user_id", ada.id)
                .by(&host),
        )
        .await
        .expect(204);
    }
    post(&w, event, &ada, "back").await;
    let other = w.live_event(host.id).await;
    post(&w, other, &ada, "elsewhere").await;
    // The moderation log has each action, newest first, for the moderators only.
    let log = |by: &Actor| {
        Call::to(banter::rest::events::MODERATION_LOG)
            .path_param("event_id", event)
            .by(by)
    };
    let r = events_route(&w, log(&host)).await.expect(200);
    let actions: Vec<&str> = r.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["ban_lifted", "ban_lifted", "user_muted", "user_banned"]
    );
    assert_eq!(r.body["records"][3]["reason"], "spam");
    assert_eq!(r.body["records"][3]["user_id"], json!(ada.id));
    assert_eq!(r.body["records"][3]["by"], json!(host.id));
    events_route(&w, log(&bob)).await.expect(403);
}

#[tokio::test]
async fn moderators_read_the_pending_queue_and_a_ban_clears_its_authors_part() {
    let w = World::new();
    let host = w.user("host").await;
    let ada = w.user("ada").await;
    let bob = w.user("bob").await;
    let event = w
        .event_with(
            EventId::new(),
            host.id,
            EventStatus::Live,
            ModerationLevel::Strict,
        )
        .await;
    let a1 = post(&w, event, &ada, "first of ada").await;
    post(&w, event, &bob, "bob's").await;
    post(&w, event, &ada, "second of ada").await;
    let queue = |by: &Actor| list(event, by).query("moderation_status", "pending");
    let r = queue(&host).ok(&w).await;
    let texts: Vec<&str> = r.body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(texts, ["first of ada", "bob's", "second of ada"]);
    // Nobody else reads it; another value is an error.
    let refused = queue(&bob).send(&w).await.expect(403);
    assert_eq!(refused.code(), "FORBIDDEN");
    queue(&bob).anonymous().send(&w).await.expect(403);
    list(event, &host)
        .query("moderation_status", "approved")
        .send(&w)
        .await
        .expect(400);
    // Banning ada takes both of hers out of the queue, blocked.
    events_route(&w, ban_call(event, &host, json!({"user_id": ada.id})))
        .await
        .expect(201);
    let r = queue(&host).ok(&w).await;
    assert_eq!(count(&r), 1);
    assert_eq!(r.body["comments"][0]["content"], "bob's");
    let id: CommentId = a1["comment_id"].as_str().unwrap().parse().unwrap();
    let stored = w
        .app
        .stores
        .comments
        .get_comment(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.moderation_status,
        banter::model::ModerationStatus::Blocked
    );
}
