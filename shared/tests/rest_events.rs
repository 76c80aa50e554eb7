//! REST: the `events` function through `http::serve` — create with validation, public reads,
//! listing by status with sealed cursors, and status changes with their broadcast.

mod support;

use std::collections::{BTreeSet, HashSet};

use banter::app::App;
use banter::config::Config;
use banter::http::MAX_BODY_BYTES;
use banter::ids::{CommentId, EventId};
use banter::model::EventStatus;
use banter::rest;
use banter::rest::events::{CREATE, GET_EVENT, LIST, SET_STATUS};
use banter::room::Room;
use banter::time::now;
use chrono::Duration;
use serde_json::{Value, json};
use support::rest::*;

async fn events(app: &App, call: &Call) -> Resp {
    send(app, call, rest::events::route).await
}

fn get_call(id: impl ToString) -> Call {
    Call::to(GET_EVENT).path_param("event_id", id)
}

fn status_call(id: impl ToString, status: &str) -> Call {
    Call::to(SET_STATUS)
        .path_param("event_id", id)
        .json(json!({ "status": status }))
}

fn list_call() -> Call {
    Call::to(LIST)
        .without_query("status")
        .without_query("limit")
}

fn create_body() -> Value {
    json!({
        "title": "Cup final",
        "event_type": "sports",
        "start_time": "2026-11-20T19:00:00Z",
    })
}

#[tokio::test]
async fn create_returns_the_event_view() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let r = events(&app, &Call::sample("http-events-create").bearer(&token))
        .await
        .expect(201);
    let b = &r.body;
    let keys: BTreeSet<String> = b.as_object().unwrap().keys().cloned().collect();
    let expected: BTreeSet<String> = [
        "event_id",
        "title",
        "description",
        "event_type",
        "status",
        "start_time",
        "end_time",
        "max_participants",
        "moderation_level",
        "comment_settings",
        "comment_count",
        "participant_count",
        "created_by",
        "created_at",
        "updated_at",
    ]
    .map(String::from)
    .into();
    assert_eq!(keys, expected);
    assert_eq!(b["participant_count"], 0, "nobody watches a new event");
    assert_eq!(b["title"], "Cup final: Rovers v United");
    assert_eq!(b["description"], "Live comments for the final.");
    assert_eq!(b["event_type"], "sports");
    assert_eq!(b["status"], "scheduled");
    assert_eq!(b["start_time"], "2026-11-20T19:00:00Z");
    assert_eq!(b["end_time"], "2026-11-20T21:00:00Z");
    assert_eq!(b["max_participants"], 50000);
    assert_eq!(b["moderation_level"], "standard");
    assert_eq!(
        b["comment_settings"],
        json!({"allow_replies": true, "slow_mode_seconds": 5, "blocked_words": []})
    );
    assert_eq!(b["comment_count"], 0);
    assert_eq!(
        b["created_by"],
        json!({
            "user_id": user.user_id, "username": "grace_h",
            "display_name": "grace_h display", "avatar_url": null
        })
    );
    let id: EventId = b["event_id"].as_str().unwrap().parse().unwrap();
    let stored = app.stores.events.get_event(id).await.unwrap().unwrap();
    assert_eq!(stored.created_by, user.user_id);
    assert_eq!(stored.status, EventStatus::Scheduled);
}

#[tokio::test]
async fn create_applies_defaults_and_normalizes_times() {
    let World { app, .. } = World::with_defaults();
    let (_, token) = seed_user(&app, "grace_h").await;
    let mut body = create_body();
    body["start_time"] = json!("2026-11-20T21:00:00.123456+02:00");
    let r = events(&app, &Call::to(CREATE).bearer(&token).json(body))
        .await
        .expect(201);
    assert_eq!(r.body["start_time"], "2026-11-20T19:00:00.123Z");
    assert_eq!(r.body["moderation_level"], "standard");
    assert_eq!(
        r.body["comment_settings"],
        json!({"allow_replies": true, "slow_mode_seconds": 0, "blocked_words": []})
    );
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["end_time"], Value::Null);
    assert_eq!(r.body["max_participants"], Value::Null);
}

#[tokio::test]
async fn blocked_words_are_trimmed_deduplicated_and_bounded() {
    let World { app, .. } = World::with_defaults();
    let (_, token) = seed_user(&app, "grace_h").await;
    let create = |words: Value| {
        let mut body = create_body();
        body["comment_settings"] = json!({ "blocked_words": words });
        Call::to(CREATE).bearer(&token).json(body)
    };
    let r = events(
        &app,
        &create(json!([" Scam ", "SCAM", "scäm", "free money"])),
    )
    .await
    .expect(201);
    assert_eq!(
        r.body["comment_settings"]["blocked_words"],
        json!(["Scam", "free money"])
    );
    // Only the event's moderators see them: a published list is a list of what to misspell.
    let id: EventId = r.body["event_id"].as_str().unwrap().parse().unwrap();
    let (_, other) = seed_user(&app, "someone_else").await;
    for call in [get_call(id).anonymous(), get_call(id).bearer(&other)] {
        let seen = events(&app, &call).await.expect(200);
        assert_eq!(seen.body["comment_settings"]["slow_mode_seconds"], 0);
        assert!(
            seen.body["comment_settings"].get("blocked_words").is_none(),
            "{}",
            seen.body
        );
    }
    let seen = events(&app, &get_call(id).bearer(&token)).await.expect(200);
    assert_eq!(
        seen.body["comment_settings"]["blocked_words"][1],
        "free money"
    );
    for (words, field) in [
        (
            json!(["ok", "x".repeat(65)]),
            "comment_settings.blocked_words[1]",
        ),
        (json!(vec!["w"; 201]), "comment_settings.blocked_words"),
    ] {
        let r = events(&app, &create(words))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field]);
    }
}

#[tokio::test]
async fn create_lists_every_invalid_field() {
    let World { app, .. } = World::with_defaults();
    let (_, token) = seed_user(&app, "grace_h").await;
    let create = |body: Value| Call::to(CREATE).bearer(&token).json(body);
    let fields = |r: &Resp| r.fields().into_iter().collect::<BTreeSet<_>>();
    let set = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();

    let r = events(&app, &create(json!({})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(fields(&r), set(&["title", "event_type", "start_time"]));

    let r = events(
        &app,
        &create(json!({
            "title": "x".repeat(256),
            "description": "d".repeat(5001),
            "event_type": "chess",
            "start_time": "2026-11-20T19:00:00Z",
            "end_time": "2026-11-20T18:00:00Z",
            "max_participants": 0,
            "moderation_level": "lax",
            "comment_settings": {"slow_mode_seconds": 3601},
        })),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(
        fields(&r),
        set(&[
            "title",
            "description",
            "event_type",
            "end_time",
            "max_participants",
            "moderation_level",
            "comment_settings.slow_mode_seconds",
        ])
    );

    // One bad field at a time.
    let cases = [
        ("end_time", json!("2026-11-20T19:00:00Z")),
        ("end_time", json!("later")),
        ("start_time", json!("tomorrow")),
        ("start_time", json!("2026-11-20 19:00")),
        ("max_participants", json!(-5)),
        ("max_participants", json!(5_000_000_000u64)),
        ("event_type", json!("Sports")),
        ("title", json!("  ")),
    ];
    for (field, value) in cases {
        let mut body = create_body();
        body[field] = value.clone();
        let r = events(&app, &create(body))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field], "{field} = {value}");
    }
    // Wrong JSON types are refused as a body error.
    let mut body = create_body();
    body["max_participants"] = json!("many");
    let r = events(&app, &create(body))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["body"]);

    let r = events(
        &app,
        &Call::to(CREATE).bearer(&token).raw_body("{\"title\""),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["body"]);
    let mut big = create_body();
    big["description"] = json!("d".repeat(MAX_BODY_BYTES));
    events(&app, &create(big))
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");

    // Nothing was stored.
    for status in EventStatus::ALL {
        let page = app
            .stores
            .events
            .list_events(status, 10, None)
            .await
            .unwrap();
        assert!(page.items.is_empty());
    }
}

#[tokio::test]
async fn create_needs_an_active_signed_in_user() {
    let World { app, .. } = World::with_defaults();
    events(&app, &Call::to(CREATE).anonymous().json(create_body()))
        .await
        .expect_error(401, "UNAUTHORIZED");
    let (mut user, token) = seed_user(&app, "grace_h").await;
    user.account_status = banter::model::AccountStatus::Suspended;
    user.version = 2;
    app.stores.users.update_user(&user).await.unwrap();
    events(&app, &Call::to(CREATE).bearer(&token).json(create_body()))
        .await
        .expect_error(403, "ACCOUNT_SUSPENDED");
}

#[tokio::test]
async fn get_event_is_public_and_counts_comments() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let event = seed_event(&app, user.user_id, EventStatus::Live).await;
    for i in 0..3 {
        banter_testkit::comments::store_comment(
            &app,
            CommentId::new(),
            event.event_id,
            user.user_id,
            &format!("comment {i}"),
        )
        .await;
    }
    for call in [
        get_call(event.event_id).anonymous(),
        get_call(event.event_id).bearer(&token),
    ] {
        let r = events(&app, &call).await.expect(200);
        assert_eq!(r.body["event_id"], event.event_id.to_string());
        assert_eq!(r.body["status"], "live");
        assert_eq!(r.body["comment_count"], 3);
        assert_eq!(r.body["created_by"]["username"], "grace_h");
        assert!(r.body["created_by"].get("email").is_none());
    }
    // A token that is sent must be valid, even on a public route.
    let expired = token_issued_at(&app, user.user_id, now() - Duration::hours(1));
    let r = events(&app, &get_call(event.event_id).bearer(&expired))
        .await
        .expect_error(401, "UNAUTHORIZED");
    assert_eq!(r.message(), "token expired");
    events(&app, &list_call().bearer("forged.token.here"))
        .await
        .expect_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn get_event_path_errors() {
    let World { app, .. } = World::with_defaults();
    for bad in ["nope", "0b5c5f5e-8a3b-4c8e-9a55-6f2d3f1e2a10"] {
        let r = events(&app, &get_call(bad).anonymous())
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["event_id"]);
    }
    events(&app, &get_call(EventId::new()).anonymous())
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn a_deleted_creator_shows_as_a_placeholder() {
    let World { app, .. } = World::with_defaults();
    let ghost = banter::ids::UserId::new();
    let event = seed_event(&app, ghost, EventStatus::Live).await;
    let r = events(&app, &get_call(event.event_id).anonymous())
        .await
        .expect(200);
    assert_eq!(r.body["created_by"]["user_id"], ghost.to_string());
    assert_eq!(r.body["created_by"]["username"], "deleted");
    let r = events(&app, &list_call().anonymous()).await.expect(200);
    assert_eq!(r.body["events"][0]["created_by"]["username"], "deleted");
}

#[tokio::test]
async fn list_pages_by_status_with_a_sealed_cursor() {
    let World { app, .. } = World::with_defaults();
    let (user, _) = seed_user(&app, "grace_h").await;
    let base = now();
    let mut live = Vec::new();
    for i in [3i64, 1, 5, 2, 4] {
        let e = event_by(user.user_id, EventStatus::Live, base + Duration::minutes(i));
        app.stores.events.create_event(&e).await.unwrap();
        live.push((i, e.event_id));
    }
    live.sort();
    for i in 0..2 {
        let e = event_by(
            user.user_id,
            EventStatus::Scheduled,
            base + Duration::hours(i),
        );
        app.stores.events.create_event(&e).await.unwrap();
    }

    // Default status: live, soonest first, anonymous allowed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first_cursor = None;
    loop {
        let mut call = list_call().anonymous().query("limit", 2);
        if let Some(c) = &cursor {
            call = call.query("cursor", c);
        }
        let r = events(&app, &call).await.expect(200);
        for e in r.body["events"].as_array().unwrap() {
            assert_eq!(e["status"], "live");
            seen.push(e["event_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(r.body["has_more"], r.body["next_cursor"].is_string());
        match r.body["next_cursor"].as_str() {
            Some(c) => {
                first_cursor.get_or_insert_with(|| c.to_owned());
                cursor = Some(c.to_owned());
            }
            None => break,
        }
        assert!(seen.len() <= 5, "paging does not end");
    }
    let expected: Vec<String> = live.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(seen, expected);

    let r = events(&app, &list_call().anonymous().query("status", "scheduled"))
        .await
        .expect(200);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["has_more"], false);
    let r = events(&app, &list_call().anonymous().query("status", "ended"))
        .await
        .expect(200);
    assert_eq!(r.body["events"], json!([]));

    // A live cursor is no cursor for another status; tampering is caught.
    let c = first_cursor.unwrap();
    let bad = [
        list_call().query("status", "scheduled").query("cursor", &c),
        list_call().query("cursor", format!("x{c}")),
        list_call().query("cursor", "nope"),
    ];
    for call in bad {
        let r = events(&app, &call.anonymous())
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["cursor"]);
    }
    for (call, field) in [
        (list_call().query("status", "over"), "status"),
        (list_call().query("status", "LIVE"), "status"),
        (list_call().query("limit", 0), "limit"),
        (list_call().query("limit", 101), "limit"),
    ] {
        let r = events(&app, &call.anonymous())
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field]);
    }
    events(&app, &list_call().anonymous().query("limit", 100))
        .await
        .expect(200);
}

#[tokio::test]
async fn creator_changes_status_and_it_is_broadcast() {
    let World { app, queue, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let event = seed_event(&app, user.user_id, EventStatus::Scheduled).await;

    let r = events(&app, &status_call(event.event_id, "live").bearer(&token))
        .await
        .expect(200);
    assert_eq!(r.body["status"], "live");
    assert_eq!(r.body["event_id"], event.event_id.to_string());
    let stored = app
        .stores
        .events
        .get_event(event.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, EventStatus::Live);

    let told = banter_testkit::queue::Heard::default();
    let jobs = drain(&queue).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].room, Room::Event(event.event_id));
    let frames = banter_testkit::queue::heard(&app, jobs, &told).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "event_status_changed");
    assert_eq!(
        frames[0]["payload"],
        json!({
            "event_id": event.event_id, "status": "live", "previous_status": "scheduled"
        })
    );

    // live → ended, with the sample body shape.
    events(&app, &status_call(event.event_id, "ended").bearer(&token))
        .await
        .expect(200);
    let frames = banter_testkit::queue::heard(&app, drain(&queue).await, &told).await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["payload"]["status"], "ended");
    assert_eq!(frames[0]["payload"]["previous_status"], "live");
}

#[tokio::test]
async fn an_admin_may_change_any_events_status() {
    let admin = banter::ids::UserId::new();
    let World { app, queue, .. } = World::with_config(Config {
        admins: HashSet::from([admin]),
        ..Config::default()
    });
    let (creator, _) = seed_user(&app, "grace_h").await;
    let admin_user = banter::model::User {
        user_id: admin,
        ..user_named("admin")
    };
    store_user(&app, &admin_user).await;
    let event = seed_event(&app, creator.user_id, EventStatus::Live).await;
    let r = events(
        &app,
        &status_call(event.event_id, "cancelled").bearer(&token_for(&app, admin)),
    )
    .await
    .expect(200);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(drain(&queue).await.len(), 1);
}

#[tokio::test]
async fn others_may_not_change_the_status() {
    let World { app, queue, .. } = World::with_defaults();
    let (creator, _) = seed_user(&app, "grace_h").await;
    let (_, other) = seed_user(&app, "ada_l").await;
    let event = seed_event(&app, creator.user_id, EventStatus::Scheduled).await;
    events(&app, &status_call(event.event_id, "live").bearer(&other))
        .await
        .expect_error(403, "FORBIDDEN");
    events(&app, &status_call(event.event_id, "live").anonymous())
        .await
        .expect_error(401, "UNAUTHORIZED");
    let stored = app
        .stores
        .events
        .get_event(event.event_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, EventStatus::Scheduled);
    assert!(drain(&queue).await.is_empty());
}

#[tokio::test]
async fn invalid_transitions_are_409() {
    let World { app, queue, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let cases = [
        (EventStatus::Scheduled, "ended"),
        (EventStatus::Scheduled, "scheduled"),
        (EventStatus::Live, "live"),
        (EventStatus::Live, "scheduled"),
        (EventStatus::Ended, "live"),
        (EventStatus::Cancelled, "scheduled"),
    ];
    for (from, to) in cases {
        let event = seed_event(&app, user.user_id, from).await;
        let r = events(&app, &status_call(event.event_id, to).bearer(&token))
            .await
            .expect_error(409, "CONFLICT");
        assert!(r.message().contains(to), "{}", r.message());
    }
    assert!(drain(&queue).await.is_empty());
}

#[tokio::test]
async fn status_change_input_errors() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let event = seed_event(&app, user.user_id, EventStatus::Scheduled).await;
    let put = || {
        Call::to(SET_STATUS)
            .path_param("event_id", event.event_id)
            .bearer(&token)
    };
    for (call, field) in [
        (put().json(json!({})), "status"),
        (put().json(json!({"status": "over"})), "status"),
        (put().raw_body("{status: live}"), "body"),
        (put().no_body(), "body"),
        (
            Call::to(SET_STATUS)
                .path_param("event_id", "nope")
                .bearer(&token)
                .json(json!({"status": "live"})),
            "event_id",
        ),
    ] {
        let r = events(&app, &call)
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field]);
    }
    events(
        &app,
        &put().raw_body(&format!(
            "{{\"status\":\"{}\"}}",
            "x".repeat(MAX_BODY_BYTES)
        )),
    )
    .await
    .expect_error(413, "PAYLOAD_TOO_LARGE");
    events(&app, &status_call(EventId::new(), "live").bearer(&token))
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn authorization_matrix() {
    let World { app, .. } = World::with_defaults();
    let (creator, _) = seed_user(&app, "grace_h").await;
    let (_, other) = seed_user(&app, "ada_l").await;
    let event = seed_event(&app, creator.user_id, EventStatus::Scheduled).await;
    // (call, anonymous, another signed-in user)
    let rows = [
        (Call::to(CREATE).json(create_body()), 401, 201),
        (get_call(event.event_id), 200, 200),
        (list_call(), 200, 200),
        (status_call(event.event_id, "live"), 401, 403),
    ];
    for (call, anonymous, signed_in) in rows {
        let route = call.route_key();
        let r = events(&app, &call.clone().anonymous()).await;
        assert_eq!(r.status, anonymous, "{route} anonymous: {}", r.body);
        let r = events(&app, &call.bearer(&other)).await;
        assert_eq!(r.status, signed_in, "{route} other user: {}", r.body);
    }
}

fn patch_call(id: impl ToString, body: Value) -> Call {
    Call::to(rest::events::PATCH_EVENT)
        .path_param("event_id", id)
        .json(body)
}

fn moderator_call(route: &str, id: impl ToString, user: impl ToString) -> Call {
    Call::to(route)
        .path_param("event_id", id)
        .path_param("user_id", user)
}

/// The `event_updated` entries of the event's stream.
async fn event_updates(app: &App, id: EventId) -> Vec<banter::model::Event> {
    app.stores
        .streams
        .read_stream(Room::Event(id), banter::room::Position::ZERO, 100)
        .await
        .unwrap()
        .entries
        .into_iter()
        .filter_map(|e| match e.change {
            banter::model::Change::EventUpdated { event } => Some(event),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_patch_changes_only_what_it_names_and_is_streamed() {
    let World { app, .. } = World::with_defaults();
    let (owner, token) = seed_user(&app, "grace_h").await;
    let event = seed_event(&app, owner.user_id, EventStatus::Live).await;
    let r = events(
        &app,
        &patch_call(
            event.event_id,
            json!({
                "title": "Extra time",
                "description": null,
                "comment_settings": {"slow_mode_seconds": 10, "blocked_words": ["spoiler"]},
            }),
        )
        .bearer(&token),
    )
    .await
    .expect(200);
    assert_eq!(r.body["title"], "Extra time");
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["status"], "live", "a patch never moves the status");
    assert_eq!(
        r.body["comment_settings"],
        json!({"allow_replies": true, "slow_mode_seconds": 10, "blocked_words": ["spoiler"]})
    );
    assert_eq!(
        r.body["moderation_level"], "standard",
        "unnamed fields stay"
    );
    let updates = event_updates(&app, event.event_id).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].title, "Extra time");
    // What the room is told leaves the blocked words out.
    let items = banter::stream::render(
        app.stores.users.as_ref(),
        None,
        &[banter::model::StreamEntry {
            position: banter::room::Position(1),
            at: now(),
            change: banter::model::Change::EventUpdated {
                event: updates[0].clone(),
            },
        }],
    )
    .await
    .unwrap();
    let frame = serde_json::to_value(&items[0]).unwrap();
    assert_eq!(frame["type"], "event_updated");
    assert_eq!(
        frame["payload"]["comment_settings"]["slow_mode_seconds"],
        10
    );
    assert!(
        frame["payload"]["comment_settings"]
            .get("blocked_words")
            .is_none()
    );

    // Refusals change nothing.
    let (_, stranger) = seed_user(&app, "someone").await;
    for (call, status) in [
        (
            patch_call(event.event_id, json!({"title": "Mine"})).bearer(&stranger),
            403,
        ),
        (
            patch_call(event.event_id, json!({"title": "  "})).bearer(&token),
            400,
        ),
        (
            patch_call(event.event_id, json!({"max_participants": 0})).bearer(&token),
            400,
        ),
        (
            patch_call(event.event_id, json!({"moderation_level": "lax"})).bearer(&token),
            400,
        ),
        (
            patch_call(event.event_id, json!({"colour": "red"})).bearer(&token),
            400,
        ),
        (
            patch_call(event.event_id, json!({"title": null})).bearer(&token),
            400,
        ),
        (
            patch_call(
                event.event_id,
                json!({"comment_settings": {"blocked_words": null}}),
            )
            .bearer(&token),
            400,
        ),
        (
            patch_call(event.event_id, json!({"max_participants": 2.5})).bearer(&token),
            400,
        ),
        (
            patch_call(
                event.event_id,
                json!({"comment_settings": {"slow_mode_seconds": 3601}}),
            )
            .bearer(&token),
            400,
        ),
        (
            patch_call(EventId::new(), json!({"title": "x"})).bearer(&token),
            404,
        ),
        (
            patch_call(event.event_id, json!({"title": "x"})).anonymous(),
            401,
        ),
    ] {
        events(&app, &call).await.expect(status);
    }
    assert_eq!(event_updates(&app, event.event_id).await.len(), 1);
    // A whole number written as a float is that number; null lifts the cap.
    let r = events(
        &app,
        &patch_call(event.event_id, json!({"max_participants": 500.0})).bearer(&token),
    )
    .await
    .expect(200);
    assert_eq!(r.body["max_participants"], 500);
    let r = events(
        &app,
        &patch_call(event.event_id, json!({"max_participants": null})).bearer(&token),
    )
    .await
    .expect(200);
    assert_eq!(r.body["max_participants"], Value::Null);
}

#[tokio::test]
async fn appointed_moderators_moderate_until_dismissed() {
    let World { app, .. } = World::with_defaults();
    let (owner, token) = seed_user(&app, "grace_h").await;
    let (bob, bob_token) = seed_user(&app, "bob").await;
    let event = seed_event(&app, owner.user_id, EventStatus::Live).await;
    let id = event.event_id;
    // Only the creator (or an admin) appoints.
    events(
        &app,
        &moderator_call(rest::events::APPOINT, id, bob.user_id).bearer(&bob_token),
    )
    .await
    .expect(403);
    for _ in 0..2 {
        let r = events(
            &app,
            &moderator_call(rest::events::APPOINT, id, bob.user_id).bearer(&token),
        )
        .await
        .expect(200);
        assert_eq!(r.body["moderators"][0]["username"], "bob", "idempotent");
        assert_eq!(r.body["moderators"].as_array().map(Vec::len), Some(1));
    }
    let stored = app.stores.events.get_event(id).await.unwrap().unwrap();
    assert!(banter::service::comments::moderates(
        &app,
        bob.user_id,
        &stored
    ));
    // Bob may now change the settings and sees the blocked words.
    let r = events(
        &app,
        &patch_call(
            id,
            json!({"comment_settings": {"blocked_words": ["spoiler"]}}),
        )
        .bearer(&bob_token),
    )
    .await
    .expect(200);
    assert_eq!(
        r.body["comment_settings"]["blocked_words"],
        json!(["spoiler"])
    );
    let seen = events(&app, &get_call(id).bearer(&bob_token))
        .await
        .expect(200);
    assert_eq!(
        seen.body["comment_settings"]["blocked_words"],
        json!(["spoiler"])
    );
    let listed = events(
        &app,
        &Call::to(rest::events::MODERATORS)
            .path_param("event_id", id)
            .bearer(&bob_token),
    )
    .await
    .expect(200);
    assert_eq!(listed.body["moderators"][0]["user_id"], json!(bob.user_id));
    // Dismissed, he is a viewer again.
    let r = events(
        &app,
        &moderator_call(rest::events::DISMISS, id, bob.user_id).bearer(&token),
    )
    .await
    .expect(200);
    assert_eq!(r.body["moderators"], json!([]));
    events(
        &app,
        &patch_call(id, json!({"title": "Mine"})).bearer(&bob_token),
    )
    .await
    .expect(403);
    let seen = events(&app, &get_call(id).bearer(&bob_token))
        .await
        .expect(200);
    assert!(seen.body["comment_settings"].get("blocked_words").is_none());
    // Unknown users cannot be appointed; each appointment was streamed.
    events(
        &app,
        &moderator_call(rest::events::APPOINT, id, banter::ids::UserId::new()).bearer(&token),
    )
    .await
    .expect(404);
    assert_eq!(event_updates(&app, id).await.len(), 3);
}
