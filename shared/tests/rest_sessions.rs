//! REST: sign-in by email (unique in any letter case, never shown to others), the device
//! fields of a session, and a user's own sessions (`GET /v1/auth/sessions`,
//! `DELETE /v1/auth/sessions/{session_id}`).

mod support;

use std::sync::OnceLock;
use std::time::Instant;

use banter::app::App;
use banter::auth::{MAX_SESSIONS, hash_password};
use banter::config::{Config, RateRule};
use banter::model::{PasswordHash, User};
use banter::rest;
use banter::time::now;
use serde_json::{Value, json};
use support::rest::*;

const PASSWORD: &str = "correct horse battery staple";

fn password_hash() -> PasswordHash {
    static HASH: OnceLock<PasswordHash> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"))
        .clone()
}

/// A stored user with [`PASSWORD`] and `email`.
async fn user_with_email(app: &App, username: &str, email: Option<&str>) -> User {
    let user = User {
        password_hash: password_hash(),
        email: email.map(str::to_owned),
        ..banter_testkit::users::user_named(username)
    };
    banter_testkit::users::store_user(app, &user).await;
    user
}

async fn auth(app: &App, call: &Call) -> Resp {
    send(app, call, rest::auth::route).await
}

async fn users(app: &App, call: &Call) -> Resp {
    send(app, call, rest::users::route).await
}

fn login(body: Value) -> Call {
    Call::to(rest::auth::LOGIN).json(body)
}

fn list(token: &str) -> Call {
    Call::to(rest::auth::LIST_SESSIONS).bearer(token)
}

fn revoke(token: &str, session: &str) -> Call {
    Call::to(rest::auth::REVOKE_SESSION)
        .path_param("session_id", session)
        .bearer(token)
}

fn token<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.body[name].as_str().expect("a token")
}

/// The sessions a token's owner holds, as listed.
async fn sessions_of(app: &App, token: &str) -> Vec<Value> {
    let r = auth(app, &list(token)).await.expect(200);
    r.body["sessions"].as_array().expect("sessions").clone()
}

#[tokio::test]
async fn sign_in_by_email_in_any_case_or_by_username() {
    let World { app, .. } = World::with_defaults();
    let r = auth(
        &app,
        &Call::to(rest::auth::REGISTER).json(json!({
            "username": "ada_l", "password": PASSWORD, "email": "Ada@Example.com"
        })),
    )
    .await
    .expect(201);
    // Stored as typed, shown to its owner.
    assert_eq!(r.body["user"]["email"], "Ada@Example.com");
    for email in ["Ada@Example.com", "ada@example.com", " ADA@EXAMPLE.COM "] {
        let r = auth(&app, &login(json!({"email": email, "password": PASSWORD})))
            .await
            .expect(200);
        assert_eq!(r.body["user"]["username"], "ada_l", "{email}");
        assert_eq!(r.body["user"]["email"], "Ada@Example.com");
        assert!(r.body["access_token"].is_string());
    }
    auth(
        &app,
        &login(json!({"username": "ADA_L", "password": PASSWORD})),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn accounts_without_an_email_still_sign_in_by_username() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "no_mail", None).await;
    auth(
        &app,
        &login(json!({"username": "no_mail", "password": PASSWORD})),
    )
    .await
    .expect(200);
    let r = auth(
        &app,
        &login(json!({"email": "no_mail@example.com", "password": PASSWORD})),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    assert_eq!(r.message(), "invalid credentials");
}

#[tokio::test]
async fn unknown_emails_wrong_passwords_and_unknown_usernames_answer_alike() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    let timed = async |body: Value| {
        let started = Instant::now();
        let r = auth(&app, &login(body)).await;
        (r.expect_error(401, "UNAUTHORIZED"), started.elapsed())
    };
    let (wrong, wrong_took) =
        timed(json!({"email": "grace@example.com", "password": "not the password"})).await;
    let (unknown, unknown_took) =
        timed(json!({"email": "nobody@example.com", "password": PASSWORD})).await;
    let (no_user, _) = timed(json!({"username": "nobody", "password": PASSWORD})).await;
    let (long, _) =
        timed(json!({"email": format!("{}@x.io", "a".repeat(300)), "password": PASSWORD})).await;
    for r in [&unknown, &no_user, &long] {
        assert_eq!(r.message(), wrong.message());
        assert_eq!(r.body["error"]["details"], wrong.body["error"]["details"]);
    }
    // The unknown email costs the same argon2 work (a dummy verification).
    assert!(
        unknown_took * 4 >= wrong_took,
        "unknown email took {unknown_took:?}, wrong password {wrong_took:?}"
    );
}

#[tokio::test]
async fn login_takes_exactly_one_of_email_and_username() {
    let World { app, .. } = World::with_defaults();
    let r = auth(&app, &login(json!({"password": PASSWORD})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["email"]);
    let r = auth(
        &app,
        &login(json!({"email": "a@example.com", "username": "a_b", "password": PASSWORD})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["username"]);
    // A null one counts as sent too.
    let r = auth(
        &app,
        &login(json!({"email": "a@example.com", "username": null, "password": PASSWORD})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["username"]);
    let r = auth(&app, &login(json!({"email": null, "password": PASSWORD})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["email"]);
    let r = auth(&app, &login(json!({"email": 42, "password": PASSWORD})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["email"]);
    assert!(!r.body.to_string().contains("42"), "{}", r.body);
}

#[tokio::test]
async fn failed_email_sign_ins_lock_that_email() {
    let World { app, .. } = World::with_config(Config {
        login_failure_rate: RateRule::per(2, 600),
        ..Config::default()
    });
    user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    for _ in 0..2 {
        auth(
            &app,
            &login(json!({"email": "Grace@example.com", "password": "wrong password"})),
        )
        .await
        .expect_error(401, "UNAUTHORIZED");
    }
    // Locked in any letter case, even with the right password.
    let r = auth(
        &app,
        &login(json!({"email": "GRACE@example.com", "password": PASSWORD})),
    )
    .await
    .expect_error(429, "RATE_LIMIT_EXCEEDED");
    assert!(r.header("retry-after").is_some());
    // An unknown email locks alike: the lockout tells nothing about who exists.
    for _ in 0..2 {
        auth(
            &app,
            &login(json!({"email": "ghost@example.com", "password": "wrong password"})),
        )
        .await
        .expect_error(401, "UNAUTHORIZED");
    }
    auth(
        &app,
        &login(json!({"email": "ghost@example.com", "password": PASSWORD})),
    )
    .await
    .expect_error(429, "RATE_LIMIT_EXCEEDED");
    // The username is its own name: locking the email does not tie the two together.
    auth(
        &app,
        &login(json!({"username": "grace_h", "password": PASSWORD})),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn register_refuses_an_email_taken_in_another_case() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    for email in ["grace@example.com", "Grace@Example.COM"] {
        let r = auth(
            &app,
            &Call::to(rest::auth::REGISTER).json(json!({
                "username": "grace_2", "password": PASSWORD, "email": email
            })),
        )
        .await
        .expect_error(409, "CONFLICT");
        assert_eq!(r.message(), "the email address is already in use");
    }
    assert!(
        app.stores
            .users
            .get_user_by_username("grace_2")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_profile_change_of_email_claims_the_new_one_and_frees_the_old_one() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    let ada = user_with_email(&app, "ada_l", Some("ada@example.com")).await;
    let ada_token = banter_testkit::tokens::token_for(&app, ada.user_id);
    let patch = |email: &str| {
        Call::to(rest::users::PATCH_ME)
            .json(json!({ "email": email }))
            .bearer(&ada_token)
    };
    // Another account's address, in another case.
    let r = users(&app, &patch("GRACE@example.com"))
        .await
        .expect_error(409, "CONFLICT");
    assert_eq!(r.message(), "the email address is already in use");
    // Her own, in another case: fine (the claim is hers).
    let r = users(&app, &patch("Ada@Example.com")).await.expect(200);
    assert_eq!(r.body["email"], "Ada@Example.com");
    // A new one: claimed, and the old one freed.
    users(&app, &patch("ada.l@example.org")).await.expect(200);
    auth(
        &app,
        &login(json!({"email": "ADA.L@example.org", "password": PASSWORD})),
    )
    .await
    .expect(200);
    auth(
        &app,
        &login(json!({"email": "ada@example.com", "password": PASSWORD})),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    auth(
        &app,
        &Call::to(rest::auth::REGISTER).json(json!({
            "username": "ada_2", "password": PASSWORD, "email": "ada@example.com"
        })),
    )
    .await
    .expect(201);
    // Removing it frees it too.
    users(
        &app,
        &Call::to(rest::users::PATCH_ME)
            .json(json!({ "email": null }))
            .bearer(&ada_token),
    )
    .await
    .expect(200);
    assert!(
        app.stores
            .users
            .get_user_by_email("ada.l@example.org")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn other_users_never_see_an_email() {
    let World { app, .. } = World::with_defaults();
    let grace = user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    let ada = user_with_email(&app, "ada_l", Some("ada@example.com")).await;
    let ada_token = banter_testkit::tokens::token_for(&app, ada.user_id);
    let profile = users(
        &app,
        &Call::to(rest::users::GET_USER)
            .path_param("user_id", grace.user_id)
            .bearer(&ada_token),
    )
    .await
    .expect(200);
    assert!(profile.body.get("email").is_none(), "{}", profile.body);
    let found = users(
        &app,
        &Call::to(rest::users::SEARCH)
            .query("q", "grace")
            .bearer(&ada_token),
    )
    .await
    .expect(200);
    assert!(
        !found.body.to_string().contains("grace@example.com"),
        "{}",
        found.body
    );
    assert!(found.body.to_string().contains("grace_h"), "{}", found.body);
}

#[tokio::test]
async fn device_fields_are_validated_at_login_and_register() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    let long = "p".repeat(banter::model::MAX_PLATFORM_CHARS + 1);
    let cases = [
        (json!({"device_type": "phone"}), "device_type"),
        (json!({"device_type": 3}), "device_type"),
        (json!({"platform": long}), "platform"),
        (json!({"device_id": "has spaces"}), "device_id"),
        (json!({"device_id": "d".repeat(129)}), "device_id"),
    ];
    for (extra, field) in cases {
        let mut body = json!({"email": "grace@example.com", "password": PASSWORD});
        let mut reg = json!({"username": "new_one", "password": PASSWORD});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
            reg[k] = v.clone();
        }
        let r = auth(&app, &login(body))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field], "login {extra}");
        let r = auth(&app, &Call::to(rest::auth::REGISTER).json(reg))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), [field], "register {extra}");
    }
    let r = auth(
        &app,
        &login(json!({"email": "grace@example.com", "password": PASSWORD, "device_type": "tv"})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert!(
        r.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ios, android, mobile, web, desktop"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn sessions_are_listed_with_their_devices_and_the_current_one_marked() {
    let World { app, .. } = World::with_defaults();
    // Registering signs in: the first session, with its device.
    let first = auth(
        &app,
        &Call::to(rest::auth::REGISTER).json(json!({
            "username": "ada_l", "password": PASSWORD, "email": "ada@example.com",
            "device_id": "ipad-7F3A", "device_type": "ios", "platform": "iPadOS 18.1"
        })),
    )
    .await
    .expect(201);
    let second = auth(
        &app,
        &login(json!({
            "email": "ada@example.com", "password": PASSWORD,
            "device_id": "browser-1", "device_type": "web", "platform": "Firefox 133"
        })),
    )
    .await
    .expect(200);
    let third = auth(
        &app,
        &login(json!({"username": "ada_l", "password": PASSWORD})),
    )
    .await
    .expect(200);

    let listed = sessions_of(&app, token(&second, "access_token")).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    // Most recent sign-in first; only the caller's is current.
    let current: Vec<bool> = listed.iter().map(|s| s["current"] == true).collect();
    assert_eq!(current, [false, true, false]);
    let web = &listed[1];
    assert_eq!(web["device_id"], "browser-1");
    assert_eq!(web["device_type"], "web");
    assert_eq!(web["platform"], "Firefox 133");
    assert_eq!(listed[2]["device_type"], "ios");
    assert_eq!(listed[2]["platform"], "iPadOS 18.1");
    // Without device fields, they are null.
    assert_eq!(listed[0]["device_type"], Value::Null);
    for s in &listed {
        for key in [
            "session_id",
            "created_at",
            "last_refreshed_at",
            "expires_at",
        ] {
            assert!(s[key].is_string(), "{key} in {s}");
        }
        // Nothing of the tokens.
        assert!(s.get("current_jti").is_none() && s.get("access_jti").is_none());
    }
    // A refresh moves last_refreshed_at, not created_at.
    let before = listed[2].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let refreshed = auth(
        &app,
        &Call::to(rest::auth::REFRESH)
            .json(json!({"refresh_token": token(&first, "refresh_token")})),
    )
    .await
    .expect(200);
    let after = sessions_of(&app, token(&refreshed, "access_token")).await;
    let ipad = after
        .iter()
        .find(|s| s["session_id"] == before["session_id"])
        .expect("the iPad session");
    assert_eq!(ipad["created_at"], before["created_at"]);
    assert!(ipad["last_refreshed_at"].as_str() > before["last_refreshed_at"].as_str());
    assert_eq!(ipad["current"], true);
    let _ = third;
}

#[tokio::test]
async fn revoking_a_session_stops_its_tokens_at_once() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "ada_l", Some("ada@example.com")).await;
    let sign_in = async || {
        auth(
            &app,
            &login(json!({"email": "ada@example.com", "password": PASSWORD})),
        )
        .await
        .expect(200)
    };
    let phone = sign_in().await;
    let laptop = sign_in().await;
    let laptop_token = token(&laptop, "access_token");
    let listed = sessions_of(&app, laptop_token).await;
    let phone_id = listed
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["session_id"].as_str())
        .expect("the phone's session")
        .to_owned();

    let r = auth(&app, &revoke(laptop_token, &phone_id))
        .await
        .expect(204);
    assert_eq!(r.body, Value::Null);
    // The phone's refresh token and access token are refused from now on.
    auth(
        &app,
        &Call::to(rest::auth::REFRESH)
            .json(json!({"refresh_token": token(&phone, "refresh_token")})),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    let r = users(
        &app,
        &Call::to(rest::users::GET_ME).bearer(token(&phone, "access_token")),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    assert_eq!(r.message(), "session revoked");
    auth(&app, &list(token(&phone, "access_token")))
        .await
        .expect_error(401, "UNAUTHORIZED");
    // The laptop is untouched and no longer lists it; revoking it again is a 404.
    let left = sessions_of(&app, laptop_token).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    auth(&app, &revoke(laptop_token, &phone_id))
        .await
        .expect_error(404, "NOT_FOUND");
    // Revoking the current session signs the caller out.
    let own = left[0]["session_id"].as_str().unwrap().to_owned();
    auth(&app, &revoke(laptop_token, &own)).await.expect(204);
    auth(&app, &list(laptop_token))
        .await
        .expect_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn another_users_session_is_not_found_and_stays_live() {
    let World { app, .. } = World::with_defaults();
    user_with_email(&app, "ada_l", Some("ada@example.com")).await;
    user_with_email(&app, "grace_h", Some("grace@example.com")).await;
    let ada = auth(
        &app,
        &login(json!({"email": "ada@example.com", "password": PASSWORD})),
    )
    .await
    .expect(200);
    let grace = auth(
        &app,
        &login(json!({"email": "grace@example.com", "password": PASSWORD})),
    )
    .await
    .expect(200);
    let grace_session = sessions_of(&app, token(&grace, "access_token")).await[0]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = banter::ids::FamilyId::new().to_string();
    for id in [&grace_session, &unknown] {
        let r = auth(&app, &revoke(token(&ada, "access_token"), id))
            .await
            .expect_error(404, "NOT_FOUND");
        assert_eq!(r.message(), "session not found");
    }
    // Ada's listing never shows Grace's session.
    let ada_sessions = sessions_of(&app, token(&ada, "access_token")).await;
    assert!(
        ada_sessions
            .iter()
            .all(|s| s["session_id"] != grace_session.as_str())
    );
    // Grace's session still works.
    users(
        &app,
        &Call::to(rest::users::GET_ME).bearer(token(&grace, "access_token")),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_sessions_routes_need_a_token_and_a_well_formed_id() {
    let World { app, .. } = World::with_defaults();
    let (user, token) = banter_testkit::users::seed_user(&app, "ada_l").await;
    let _ = user;
    auth(&app, &Call::to(rest::auth::LIST_SESSIONS))
        .await
        .expect_error(401, "UNAUTHORIZED");
    auth(&app, &list("not-a-token"))
        .await
        .expect_error(401, "UNAUTHORIZED");
    auth(
        &app,
        &Call::to(rest::auth::REVOKE_SESSION)
            .path_param("session_id", banter::ids::FamilyId::new()),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    let r = auth(&app, &revoke(&token, "not-a-session"))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["session_id"]);
}

#[tokio::test]
async fn a_user_holds_at_most_max_sessions_and_the_oldest_goes() {
    let World { app, .. } = World::with_defaults();
    let user = user_with_email(&app, "ada_l", Some("ada@example.com")).await;
    let mut pairs = Vec::new();
    for _ in 0..=MAX_SESSIONS {
        pairs.push(
            app.sessions
                .login_tokens(user.user_id, now())
                .await
                .unwrap(),
        );
        // Each sign-in in its own millisecond: the order is the sign-in time's.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let newest = &pairs[MAX_SESSIONS].access_token;
    assert_eq!(sessions_of(&app, newest).await.len(), MAX_SESSIONS);
    // The oldest was revoked; the next oldest still works.
    users(
        &app,
        &Call::to(rest::users::GET_ME).bearer(&pairs[0].access_token),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    auth(
        &app,
        &Call::to(rest::auth::REFRESH).json(json!({"refresh_token": pairs[0].refresh_token})),
    )
    .await
    .expect_error(401, "UNAUTHORIZED");
    users(
        &app,
        &Call::to(rest::users::GET_ME).bearer(&pairs[1].access_token),
    )
    .await
    .expect(200);
}
