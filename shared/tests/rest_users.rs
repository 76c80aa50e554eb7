//! REST: the `users` function through `http::serve` — own profile, profile updates, public
//! profiles, search with sealed cursors, and who may call what.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use banter::app::App;
use banter::http::MAX_BODY_BYTES;
use banter::ids::UserId;
use banter::model::{AccountStatus, User};
use banter::rest;
use banter::rest::users::{GET_ME, GET_USER, PATCH_ME, SEARCH};
use banter::store::{Cursor, Page, StoreError, StoreResult, UserStore};
use banter::time::now;
use chrono::Duration;
use serde_json::{Value, json};
use support::rest::*;

async fn users(app: &App, call: &Call) -> Resp {
    send(app, call, rest::users::route).await
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The stored user `id`, which must exist.
async fn stored_user(app: &App, id: UserId) -> User {
    app.stores
        .users
        .get_user(id)
        .await
        .unwrap()
        .expect("the user is stored")
}

fn get_user_call(id: impl ToString) -> Call {
    Call::to(GET_USER).path_param("user_id", id)
}

fn search_call(q: &str) -> Call {
    Call::to(SEARCH).without_query("limit").query("q", q)
}

#[tokio::test]
async fn me_is_the_private_profile() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let r = users(&app, &Call::to(GET_ME).bearer(&token))
        .await
        .expect(200);
    assert_eq!(
        keys(&r.body),
        set(&[
            "user_id",
            "username",
            "display_name",
            "email",
            "avatar_url",
            "status_message",
            "reputation_score",
            "account_status",
            "created_at",
            "updated_at",
            "last_active_at",
            "privacy_settings",
        ])
    );
    assert_eq!(r.body["user_id"], user.user_id.to_string());
    assert_eq!(r.body["email"], "grace_h@example.com");
    assert_eq!(r.body["account_status"], "active");
    assert_eq!(r.header("x-ratelimit-limit"), Some("300"));
}

#[tokio::test]
async fn protected_routes_refuse_missing_expired_forged_and_wrong_kind_tokens() {
    let World { app, .. } = World::with_defaults();
    let (user, _) = seed_user(&app, "grace_h").await;
    let forged = forged_token_for(user.user_id);
    let expired = token_issued_at(&app, user.user_id, now() - Duration::hours(1));
    let refresh = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap()
        .refresh_token;
    let cases: [(&str, Call, &str); 6] = [
        (
            "missing",
            Call::to(GET_ME).anonymous(),
            "missing access token",
        ),
        (
            "expired",
            Call::to(GET_ME).bearer(&expired),
            "token expired",
        ),
        ("forged", Call::to(GET_ME).bearer(&forged), "invalid token"),
        (
            "refresh token",
            Call::to(GET_ME).bearer(&refresh),
            "invalid token",
        ),
        (
            "garbage",
            Call::to(GET_ME).bearer("abc.def.ghi"),
            "invalid token",
        ),
        (
            "basic scheme",
            Call::to(GET_ME).header("authorization", "Basic Z3JhY2U6cHc="),
            "missing access token",
        ),
    ];
    for (what, call, message) in cases {
        let r = users(&app, &call).await.expect_error(401, "UNAUTHORIZED");
        assert_eq!(r.message(), message, "{what}");
    }
}

#[tokio::test]
async fn every_users_route_needs_a_signed_in_user() {
    let World { app, .. } = World::with_defaults();
    let (target, _) = seed_user(&app, "grace_h").await;
    let (_, other) = seed_user(&app, "ada_l").await;
    let calls = [
        Call::to(GET_ME),
        Call::to(PATCH_ME).json(json!({"status_message": "hi"})),
        get_user_call(target.user_id),
        search_call("gra"),
    ];
    for call in &calls {
        users(&app, &call.clone().anonymous())
            .await
            .expect_error(401, "UNAUTHORIZED");
    }
    // Another signed-in user: `me` routes are their own; a profile and search are readable.
    for call in &calls {
        users(&app, &call.clone().bearer(&other)).await.expect(200);
    }
    // The other user's PATCH changed the other user only.
    let stored = stored_user(&app, target.user_id).await;
    assert_eq!(stored.status_message, None);
}

#[tokio::test]
async fn me_of_an_account_that_no_longer_exists_is_404() {
    let World { app, .. } = World::with_defaults();
    let token = token_for(&app, UserId::new());
    users(&app, &Call::to(GET_ME).bearer(&token))
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn patch_me_changes_and_clears_fields() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let r = users(&app, &Call::sample("http-users-me-patch").bearer(&token))
        .await
        .expect(200);
    assert_eq!(r.body["display_name"], "Grace H.");
    assert_eq!(r.body["status_message"], "Watching the final");
    assert_eq!(
        r.body["avatar_url"],
        "https://cdn.banter.example/avatars/grace.png"
    );
    assert_eq!(r.body["email"], "grace_h@example.com", "absent: unchanged");
    assert_eq!(
        r.body["privacy_settings"],
        json!({"group_invitations": "anyone", "show_online_status": true, "show_last_seen": true}),
        "the default"
    );
    let stored = stored_user(&app, user.user_id).await;
    assert_eq!(stored.version, 2);
    assert_eq!(stored.display_name, "Grace H.");
    assert!(stored.updated_at >= user.updated_at);

    // `null` and "" remove optional fields; values are trimmed.
    let r = users(
        &app,
        &Call::to(PATCH_ME).bearer(&token).json(json!({
            "avatar_url": null, "status_message": "", "email": "  new@example.com "
        })),
    )
    .await
    .expect(200);
    assert_eq!(r.body["avatar_url"], Value::Null);
    assert_eq!(r.body["status_message"], Value::Null);
    assert_eq!(r.body["email"], "new@example.com");
    assert_eq!(r.body["display_name"], "Grace H.");

    // A privacy choice changes alone and is kept.
    let r = users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&token)
            .json(json!({"privacy_settings": {"group_invitations": "nobody"}})),
    )
    .await
    .expect(200);
    assert_eq!(r.body["privacy_settings"]["group_invitations"], "nobody");
    assert_eq!(r.body["email"], "new@example.com");
    let stored = stored_user(&app, user.user_id).await;
    assert_eq!(
        stored.privacy_settings.group_invitations,
        banter::model::GroupInvitations::Nobody
    );

    // Nothing to change: the profile as it is, no write.
    let r = users(&app, &Call::to(PATCH_ME).bearer(&token).json(json!({})))
        .await
        .expect(200);
    assert_eq!(r.body["email"], "new@example.com");
    let stored = stored_user(&app, user.user_id).await;
    assert_eq!(stored.version, 4);
    assert_eq!(stored.username, "grace_h");
}

#[tokio::test]
async fn patch_me_lists_every_invalid_field() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = seed_user(&app, "grace_h").await;
    let patch = |body: Value| Call::to(PATCH_ME).bearer(&token).json(body);

    let r = users(
        &app,
        &patch(json!({
            "display_name": " ",
            "avatar_url": "ftp://example.com/a.png",
            "status_message": "x".repeat(141),
            "email": "not-an-email",
        })),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(
        r.fields(),
        ["display_name", "avatar_url", "status_message", "email"]
    );

    let r = users(&app, &patch(json!({"display_name": null})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["display_name"]);

    // Unknown or immutable fields are refused, not ignored; privacy choices are a closed set.
    for body in [
        json!({"username": "new_name"}),
        json!({"password": "x"}),
        json!({"privacy_settings": {"group_invitations": "friends"}}),
        json!({"privacy_settings": {"show_everything": true}}),
        json!({"privacy_settings": {"group_invitations": null}}),
        json!({"privacy_settings": {"show_online_status": "no"}}),
        json!({"privacy_settings": {"show_last_seen": null}}),
        json!({"privacy_settings": null}),
        json!({"privacy_settings": "nobody"}),
    ] {
        let r = users(&app, &patch(body))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["body"]);
    }
    let r = users(&app, &patch(json!({"display_name": 5})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["body"]);

    let r = users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&token)
            .raw_body("{\"display_name\":"),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["body"]);
    users(&app, &Call::to(PATCH_ME).bearer(&token).no_body())
        .await
        .expect_error(400, "VALIDATION_ERROR");
    let big = json!({"status_message": "x".repeat(MAX_BODY_BYTES)});
    users(&app, &patch(big))
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");

    // Nothing changed.
    let stored = stored_user(&app, user.user_id).await;
    assert_eq!(stored.version, 1);
}

#[tokio::test]
async fn patch_me_is_refused_to_suspended_accounts() {
    let World { app, .. } = World::with_defaults();
    let (mut user, token) = seed_user(&app, "grace_h").await;
    user.account_status = AccountStatus::Suspended;
    user.version = 2;
    app.stores.users.update_user(&user).await.unwrap();
    users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&token)
            .json(json!({"status_message": "back"})),
    )
    .await
    .expect_error(403, "ACCOUNT_SUSPENDED");
    // Reading one's own profile still works (it shows the status).
    let r = users(&app, &Call::to(GET_ME).bearer(&token))
        .await
        .expect(200);
    assert_eq!(r.body["account_status"], "suspended");
}

/// A user store whose first `fail` updates lose to a "concurrent" update, which it applies
/// itself (bumping the stored version) before refusing.
struct RacingUsers {
    inner: Arc<dyn UserStore>,
    fail: AtomicUsize,
}

#[async_trait]
impl UserStore for RacingUsers {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        self.inner.create_user(user).await
    }
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.get_user(id).await
    }
    async fn get_users(&self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        self.inner.get_users(ids).await
    }
    async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.inner.get_user_by_username(username).await
    }
    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.inner.get_user_by_email(email).await
    }
    async fn update_user(&self, user: &User) -> StoreResult<()> {
        let left = self.fail.load(Ordering::SeqCst);
        if left > 0 {
            self.fail.store(left - 1, Ordering::SeqCst);
            let mut theirs = self
                .inner
                .get_user(user.user_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            theirs.version += 1;
            theirs.reputation_score += 10;
            self.inner.update_user(&theirs).await?;
            return Err(StoreError::Conflict("version"));
        }
        self.inner.update_user(user).await
    }
    async fn search_users(
        &self,
        prefix: &str,
        limit: usize,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<User>> {
        self.inner.search_users(prefix, limit, cursor).await
    }
}

fn racing_app(fail: usize) -> App {
    let World { mut app, .. } = World::with_defaults();
    app.stores.users = Arc::new(RacingUsers {
        inner: app.stores.users.clone(),
        fail: AtomicUsize::new(fail),
    });
    app
}

#[tokio::test]
async fn patch_me_retries_when_a_concurrent_update_wins() {
    // Two lost races, then success: both changes survive.
    let app = racing_app(2);
    let (user, token) = seed_user(&app, "grace_h").await;
    let r = users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&token)
            .json(json!({"status_message": "racing"})),
    )
    .await
    .expect(200);
    assert_eq!(r.body["status_message"], "racing");
    assert_eq!(r.body["reputation_score"], 20);
    let stored = stored_user(&app, user.user_id).await;
    assert_eq!(stored.version, 4);
    assert_eq!(stored.status_message.as_deref(), Some("racing"));

    // Losing every time: 409 after a few attempts.
    let app = racing_app(usize::MAX);
    let (_, token) = seed_user(&app, "ada_l").await;
    users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&token)
            .json(json!({"status_message": "never"})),
    )
    .await
    .expect_error(409, "CONFLICT");
}

#[tokio::test]
async fn public_profile_hides_private_fields() {
    let World { app, .. } = World::with_defaults();
    let (target, _) = seed_user(&app, "grace_h").await;
    let (_, token) = seed_user(&app, "ada_l").await;
    let r = users(&app, &get_user_call(target.user_id).bearer(&token))
        .await
        .expect(200);
    assert_eq!(
        keys(&r.body),
        set(&[
            "user_id",
            "username",
            "display_name",
            "avatar_url",
            "status_message",
            "reputation_score",
            "created_at",
            "last_active_at",
            "is_online",
            "presence",
            "last_seen",
        ])
    );
    assert_eq!(r.body["is_online"], false);
    assert_eq!(r.body["presence"], "offline");
    assert_eq!(r.body["username"], "grace_h");
    assert!(!r.body.to_string().contains("example.com"));
    assert!(!r.body.to_string().contains("argon2"));
}

/// Others see a user online while a connection of theirs is open, and when they were last
/// seen after; each privacy choice hides its part, from others only.
#[tokio::test]
async fn public_profiles_show_presence_as_privacy_settings_allow() {
    let World { app, .. } = World::with_defaults();
    let (target, target_token) = seed_user(&app, "grace_h").await;
    let (_, token) = seed_user(&app, "ada_l").await;
    let profile = |token: String| {
        let app = &app;
        async move {
            users(app, &get_user_call(target.user_id).bearer(&token))
                .await
                .expect(200)
                .body
        }
    };
    let t = banter::time::now();
    app.stores
        .presence
        .set_presence(
            target.user_id,
            Some(banter::model::OnlineStatus::Away),
            t + chrono::Duration::hours(2),
            t,
        )
        .await
        .unwrap();
    let seen = profile(token.clone()).await;
    assert_eq!(seen["is_online"], true);
    assert_eq!(seen["presence"], "away");
    assert!(seen["last_seen"].is_string());
    assert!(seen["last_active_at"].is_string());

    let r = users(
        &app,
        &Call::to(PATCH_ME).bearer(&target_token).json(json!({
            "privacy_settings": {"show_online_status": false, "show_last_seen": false}
        })),
    )
    .await
    .expect(200);
    assert_eq!(r.body["privacy_settings"]["show_online_status"], false);
    assert_eq!(r.body["privacy_settings"]["show_last_seen"], false);
    assert_eq!(r.body["privacy_settings"]["group_invitations"], "anyone");
    let hidden = profile(token.clone()).await;
    assert_eq!(hidden["is_online"], false);
    assert_eq!(hidden["presence"], "offline");
    assert_eq!(hidden["last_seen"], Value::Null);
    assert_eq!(hidden["last_active_at"], Value::Null);

    // Online shown again, last seen still hidden; then the user goes offline.
    users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&target_token)
            .json(json!({"privacy_settings": {"show_online_status": true}})),
    )
    .await
    .expect(200);
    assert_eq!(profile(token.clone()).await["is_online"], true);
    app.stores
        .presence
        .depart(target.user_id, None, banter::time::now())
        .await
        .unwrap();
    let gone = profile(token.clone()).await;
    assert_eq!(gone["is_online"], false);
    assert_eq!(gone["last_seen"], Value::Null);
    users(
        &app,
        &Call::to(PATCH_ME)
            .bearer(&target_token)
            .json(json!({"privacy_settings": {"show_last_seen": true}})),
    )
    .await
    .expect(200);
    assert!(profile(token).await["last_seen"].is_string());
}

#[tokio::test]
async fn public_profile_path_errors() {
    let World { app, .. } = World::with_defaults();
    let (_, token) = seed_user(&app, "ada_l").await;
    for bad in ["nope", "0b5c5f5e-8a3b-4c8e-9a55-6f2d3f1e2a10", "%20"] {
        let r = users(&app, &get_user_call(bad).bearer(&token))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["user_id"], "{bad}");
    }
    users(&app, &get_user_call(UserId::new()).bearer(&token))
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn search_pages_through_matches_with_a_sealed_cursor() {
    let World { app, .. } = World::with_defaults();
    let (_, token) = seed_user(&app, "ada_l").await;
    for i in 1..=5 {
        seed_user(&app, &format!("gra_{i}")).await;
    }
    seed_user(&app, "other").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut call = search_call("GRA").query("limit", 2).bearer(&token);
        if let Some(c) = &cursor {
            call = call.query("cursor", c);
        }
        let r = users(&app, &call).await.expect(200);
        pages += 1;
        let page = r.body["users"].as_array().unwrap();
        assert!(page.len() <= 2);
        for u in page {
            assert!(u.get("email").is_none(), "{u}");
            seen.push(u["username"].as_str().unwrap().to_owned());
        }
        assert_eq!(r.body["has_more"], r.body["next_cursor"].is_string());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ["gra_1", "gra_2", "gra_3", "gra_4", "gra_5"]);
    assert_eq!(pages, 3);

    // A cursor is bound to its query (case-insensitively).
    let first = users(&app, &search_call("gra").query("limit", 2).bearer(&token)).await;
    let c = first.body["next_cursor"].as_str().unwrap().to_owned();
    users(
        &app,
        &search_call("Gra")
            .query("limit", 2)
            .query("cursor", &c)
            .bearer(&token),
    )
    .await
    .expect(200);
    for (q, cursor) in [
        ("oth", c.clone()),
        ("gr", c.clone()),
        ("gra", format!("{c}x")),
        ("gra", "garbage".to_owned()),
    ] {
        let r = users(
            &app,
            &search_call(q).query("cursor", &cursor).bearer(&token),
        )
        .await
        .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["cursor"], "{q} {cursor}");
    }
}

#[tokio::test]
async fn search_matches_display_names_and_validates_its_parameters() {
    let World { app, .. } = World::with_defaults();
    let (_, token) = seed_user(&app, "ada_l").await;
    let r = users(&app, &search_call("ADA_L DISP").bearer(&token))
        .await
        .expect(200);
    assert_eq!(r.body["users"][0]["username"], "ada_l");
    assert_eq!(r.body["has_more"], false);
    assert_eq!(r.body["next_cursor"], Value::Null);
    let r = users(&app, &search_call("zzz").bearer(&token))
        .await
        .expect(200);
    assert_eq!(r.body["users"], json!([]));

    let bad = [
        (Call::to(SEARCH).without_query("q"), "q"),
        (search_call(" "), "q"),
        (search_call(&"a".repeat(65)), "q"),
        (search_call("a").query("limit", 0), "limit"),
        (search_call("a").query("limit", 51), "limit"),
        (search_call("a").query("limit", "ten"), "limit"),
    ];
    for (call, field) in bad {
        let r = users(&app, &call.bearer(&token))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field]);
    }
    users(&app, &search_call(&"a".repeat(64)).bearer(&token))
        .await
        .expect(200);
}

// ---------------------------------------------------------------------------------------------
// Suspension (issue 13, finding 2).
// ---------------------------------------------------------------------------------------------

fn suspend_call(id: UserId) -> Call {
    Call::to(rest::users::SUSPEND).path_param("user_id", id)
}

fn reinstate_call(id: UserId) -> Call {
    Call::to(rest::users::REINSTATE).path_param("user_id", id)
}

fn patch_me_call(token: &str) -> Call {
    Call::to(PATCH_ME)
        .bearer(token)
        .json(json!({"status_message": "still here"}))
}

#[tokio::test]
async fn a_moderator_suspends_and_reinstates_and_every_write_refuses_meanwhile() {
    let moderator = UserId::new();
    let World { app, .. } = World::with_config(banter::config::Config {
        moderators: [moderator].into(),
        ..banter::config::Config::default()
    });
    let (_, mod_token) = seed_user_with_id(&app, moderator, "mod_m").await;
    let (target, token) = seed_user(&app, "grace_h").await;
    users(&app, &patch_me_call(&token)).await.expect(200);

    let r = users(&app, &suspend_call(target.user_id).bearer(&mod_token))
        .await
        .expect(200);
    assert_eq!(r.body["account_status"], "suspended");
    assert_eq!(
        stored_user(&app, target.user_id).await.account_status,
        AccountStatus::Suspended
    );
    // Every write of the suspended account, on any function: 403 ACCOUNT_SUSPENDED.
    let r = users(&app, &patch_me_call(&token))
        .await
        .expect_error(403, "ACCOUNT_SUSPENDED");
    assert!(r.message().contains("suspended"), "{}", r.message());
    let event =
        banter_testkit::events::seed_event(&app, moderator, banter::model::EventStatus::Live).await;
    send(
        &app,
        &Call::to(rest::comments::CREATE)
            .path_param("event_id", event.event_id)
            .bearer(&token)
            .json(json!({"content": "hello"})),
        rest::comments::route,
    )
    .await
    .expect_error(403, "ACCOUNT_SUSPENDED");
    // Reading still works.
    users(&app, &Call::to(GET_ME).bearer(&token))
        .await
        .expect(200);

    let r = users(&app, &reinstate_call(target.user_id).bearer(&mod_token))
        .await
        .expect(200);
    assert_eq!(r.body["account_status"], "active");
    users(&app, &patch_me_call(&token)).await.expect(200);
}

#[tokio::test]
async fn only_moderators_and_admins_suspend_and_never_themselves() {
    let admin = UserId::new();
    let World { app, .. } = World::with_config(banter::config::Config {
        admins: [admin].into(),
        ..banter::config::Config::default()
    });
    let (_, admin_token) = seed_user_with_id(&app, admin, "admin_a").await;
    let (target, token) = seed_user(&app, "grace_h").await;
    let (_, other) = seed_user(&app, "ada_l").await;
    users(&app, &suspend_call(target.user_id).bearer(&other))
        .await
        .expect_error(403, "FORBIDDEN");
    users(&app, &suspend_call(target.user_id))
        .await
        .expect_error(401, "UNAUTHORIZED");
    users(&app, &suspend_call(admin).bearer(&admin_token))
        .await
        .expect_error(409, "CONFLICT");
    users(&app, &suspend_call(UserId::new()).bearer(&admin_token))
        .await
        .expect_error(404, "NOT_FOUND");
    users(
        &app,
        &Call::to(rest::users::SUSPEND)
            .path_param("user_id", "nope")
            .bearer(&admin_token),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    // Idempotent both ways.
    for _ in 0..2 {
        users(&app, &suspend_call(target.user_id).bearer(&admin_token))
            .await
            .expect(200);
    }
    for _ in 0..2 {
        users(&app, &reinstate_call(target.user_id).bearer(&admin_token))
            .await
            .expect(200);
    }
    users(&app, &patch_me_call(&token)).await.expect(200);
}

/// Stores a user `id` named `username`; returns it with a valid access token.
async fn seed_user_with_id(app: &App, id: UserId, username: &str) -> (User, String) {
    let user = User {
        user_id: id,
        ..banter_testkit::users::user_named(username)
    };
    banter_testkit::users::store_user(app, &user).await;
    let token = banter_testkit::tokens::token_for(app, id);
    (user, token)
}
