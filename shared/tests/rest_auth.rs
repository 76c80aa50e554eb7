//! REST: the `auth` and `health` functions through `http::serve`, and every
//! `events/http-{auth,users,events,health}-*.json` sample fed to its function.

mod support;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Instant;

use banter::auth::hash_password;
use banter::config::{Config, RateRule};
use banter::http::MAX_BODY_BYTES;
use banter::ids::UserId;
use banter::model::{AccountStatus, EventStatus, PasswordHash, User};
use banter::rest;
use banter::time::now;
use banter_testkit::samples;
use serde_json::{Value, json};
use support::rest::*;

const PASSWORD: &str = "correct horse battery staple";

/// The routes that take a JSON body and no access token (the sessions routes take a token).
const POST_ROUTES: [&str; 4] = [
    rest::auth::REGISTER,
    rest::auth::LOGIN,
    rest::auth::REFRESH,
    rest::auth::LOGOUT,
];

/// An argon2 hash of [`PASSWORD`], computed once per test binary (hashing is slow in debug
/// builds).
fn password_hash() -> PasswordHash {
    static HASH: OnceLock<PasswordHash> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash"))
        .clone()
}

/// A stored user whose password is [`PASSWORD`].
async fn user_with_password(app: &banter::app::App, username: &str) -> User {
    let user = User {
        password_hash: password_hash(),
        ..user_named(username)
    };
    store_user(app, &user).await;
    user
}

async fn auth(app: &banter::app::App, call: &Call) -> Resp {
    send(app, call, rest::auth::route).await
}

fn login_call(username: &str, password: &str) -> Call {
    Call::to(rest::auth::LOGIN).json(json!({"username": username, "password": password}))
}

fn refresh_call(token: &str) -> Call {
    Call::to(rest::auth::REFRESH).json(json!({ "refresh_token": token }))
}

fn logout_call(token: &str) -> Call {
    Call::to(rest::auth::LOGOUT).json(json!({ "refresh_token": token }))
}

/// Asserts a sign-in body: the private profile and a working token pair.
#[track_caller]
fn check_signed_in(app: &banter::app::App, body: &Value, username: &str) -> UserId {
    assert_eq!(body["user"]["username"], username);
    assert!(body["user"].get("password_hash").is_none(), "{body}");
    assert!(body["user"].get("version").is_none(), "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let user: UserId = body["user"]["user_id"]
        .as_str()
        .expect("user_id")
        .parse()
        .expect("a user id");
    let access = app
        .sessions
        .issuer()
        .verify_access(body["access_token"].as_str().expect("access_token"))
        .expect("a valid access token");
    assert_eq!(access.sub, user);
    let refresh = app
        .sessions
        .issuer()
        .verify_refresh_at(
            body["refresh_token"].as_str().expect("refresh_token"),
            now(),
        )
        .expect("a valid refresh token");
    assert_eq!(refresh.sub, user);
    user
}

#[tokio::test]
async fn register_creates_the_user_and_signs_in() {
    let World { app, .. } = World::with_defaults();
    let r = auth(&app, &Call::sample("http-auth-register"))
        .await
        .expect(201);
    let id = check_signed_in(&app, &r.body, "ada_l");
    assert_eq!(r.body["user"]["display_name"], "Ada L.");
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    assert_eq!(r.body["user"]["account_status"], "active");
    assert_eq!(r.body["user"]["reputation_score"], 0);
    // Stored with an argon2 hash, never the password.
    let stored = app.stores.users.get_user(id).await.unwrap().unwrap();
    assert!(stored.password_hash.0.starts_with("$argon2id$"));
    assert!(!stored.password_hash.0.contains(PASSWORD));
    // The access token works on a protected route.
    let token = r.body["access_token"].as_str().unwrap();
    let me = send(
        &app,
        &Call::to(rest::users::GET_ME).bearer(token),
        rest::users::route,
    )
    .await
    .expect(200);
    assert_eq!(me.body["user_id"], id.to_string());
    // Rate-limit and request-id headers come with it.
    assert_eq!(r.header("x-ratelimit-limit"), Some("30"));
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn register_defaults_the_display_name_to_the_username() {
    let World { app, .. } = World::with_defaults();
    let r = auth(
        &app,
        &Call::to(rest::auth::REGISTER).json(json!({"username": "Bob.S", "password": PASSWORD})),
    )
    .await
    .expect(201);
    assert_eq!(r.body["user"]["display_name"], "Bob.S");
    assert_eq!(r.body["user"]["email"], Value::Null);
}

/// A display name of zero-width characters, or one that reorders what follows it, would show
/// other text than it holds (issue 13, finding 9).
#[tokio::test]
async fn register_refuses_invisible_and_reordering_display_names() {
    let World { app, .. } = World::with_defaults();
    for (case, name) in [
        ("zero-width only", "\u{200b}\u{200b}"),
        ("a right-to-left override", "admin\u{202e}nimda"),
        ("an isolate", "\u{2066}ada\u{2069}"),
    ] {
        let r = auth(
            &app,
            &Call::to(rest::auth::REGISTER).json(json!({
                "username": "ada_l", "password": "correct horse battery", "display_name": name
            })),
        )
        .await
        .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["display_name"], "{case}");
    }
}

#[tokio::test]
async fn register_lists_every_invalid_field() {
    let World { app, .. } = World::with_defaults();
    let r = auth(
        &app,
        &Call::to(rest::auth::REGISTER).json(json!({
            "username": "a", "password": "short", "display_name": " ", "email": "nope"
        })),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(
        r.fields(),
        ["username", "display_name", "email", "password"]
    );
    assert_eq!(r.message(), "invalid request parameters");

    let r = auth(&app, &Call::to(rest::auth::REGISTER).json(json!({})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["username", "password"]);

    let r = auth(
        &app,
        &Call::to(rest::auth::REGISTER)
            .json(json!({"username": "_bad name", "password": "x".repeat(129)})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["username", "password"]);
    // Nothing was stored.
    assert!(
        app.stores
            .users
            .get_user_by_username("a")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn wrongly_typed_fields_are_named_and_never_quoted() {
    let World { app, .. } = World::with_defaults();
    let r = auth(
        &app,
        &Call::to(rest::auth::REGISTER)
            .json(json!({"username": "ok_name", "password": 98765432109_u64, "email": ["x"]})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["password", "email"]);
    assert!(!r.body.to_string().contains("98765432109"), "{}", r.body);

    let r = auth(
        &app,
        &Call::to(rest::auth::LOGIN).json(json!({"username": "a", "password": 98765432109_u64})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["password"]);
    assert_eq!(r.body["error"]["details"][0]["message"], "must be a string");
    assert!(!r.body.to_string().contains("98765432109"), "{}", r.body);

    let r = auth(
        &app,
        &Call::to(rest::auth::REFRESH).json(json!({"refresh_token": {"t": "secret-token"}})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["refresh_token"]);
    assert!(!r.body.to_string().contains("secret-token"));
}

#[tokio::test]
async fn register_refuses_a_taken_username_in_any_case() {
    let World { app, .. } = World::with_defaults();
    seed_user(&app, "ada_l").await;
    for name in ["ada_l", "ADA_L", "Ada_L"] {
        let r = auth(
            &app,
            &Call::to(rest::auth::REGISTER).json(json!({"username": name, "password": PASSWORD})),
        )
        .await
        .expect_error(409, "CONFLICT");
        assert_eq!(r.message(), "the username is already taken");
    }
}

#[tokio::test]
async fn auth_routes_refuse_malformed_empty_and_oversize_bodies() {
    let World { app, .. } = World::with_defaults();
    let big = format!("{{\"username\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
    for route in POST_ROUTES {
        let r = auth(&app, &Call::to(route).raw_body("{nope"))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["body"], "{route}");

        let r = auth(&app, &Call::to(route).no_body())
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["body"], "{route}");

        let r = auth(&app, &Call::to(route).raw_body("[1, 2]"))
            .await
            .expect_error(400, "VALIDATION_ERROR");
        assert_eq!(r.fields(), ["body"], "{route}");

        auth(&app, &Call::to(route).raw_body(&big))
            .await
            .expect_error(413, "PAYLOAD_TOO_LARGE");
    }
}

#[tokio::test]
async fn unknown_route_key_is_404() {
    let World { app, .. } = World::with_defaults();
    let mut call = Call::to(rest::auth::LOGIN);
    call.event["routeKey"] = json!("POST /v1/auth/nothing");
    call.event["requestContext"]["routeKey"] = json!("POST /v1/auth/nothing");
    auth(&app, &call).await.expect_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn login_signs_in_with_any_letter_case() {
    let World { app, .. } = World::with_defaults();
    let user = user_with_password(&app, "Grace_H").await;
    for name in ["Grace_H", "grace_h", " GRACE_H "] {
        let r = auth(&app, &login_call(name, PASSWORD)).await.expect(200);
        assert_eq!(check_signed_in(&app, &r.body, "Grace_H"), user.user_id);
        assert_eq!(r.body["user"]["email"], "Grace_H@example.com");
    }
}

#[tokio::test]
async fn login_answers_unknown_users_and_wrong_passwords_alike() {
    let World { app, .. } = World::with_defaults();
    user_with_password(&app, "grace_h").await;

    let started = Instant::now();
    let wrong = auth(&app, &login_call("grace_h", "not the password")).await;
    let wrong_took = started.elapsed();
    let started = Instant::now();
    let unknown = auth(&app, &login_call("nobody_here", PASSWORD)).await;
    let unknown_took = started.elapsed();

    let wrong = wrong.expect_error(401, "UNAUTHORIZED");
    let unknown = unknown.expect_error(401, "UNAUTHORIZED");
    assert_eq!(wrong.message(), unknown.message());
    assert_eq!(
        wrong.body["error"]["details"],
        unknown.body["error"]["details"]
    );
    assert_eq!(wrong.message(), "invalid credentials");
    // The unknown-user path does the same argon2 work (a dummy verification): without it
    // it would take microseconds rather than a good part of a real verification.
    assert!(
        unknown_took * 4 >= wrong_took,
        "unknown user took {unknown_took:?}, wrong password {wrong_took:?}"
    );
    // An absurdly long name is just another unknown user.
    let long = auth(&app, &login_call(&"x".repeat(500), PASSWORD))
        .await
        .expect_error(401, "UNAUTHORIZED");
    assert_eq!(long.message(), wrong.message());
}

#[tokio::test]
async fn login_requires_both_fields() {
    let World { app, .. } = World::with_defaults();
    let r = auth(&app, &Call::to(rest::auth::LOGIN).json(json!({})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["email", "password"]);
    let r = auth(
        &app,
        &Call::to(rest::auth::LOGIN).json(json!({"username": "x", "password": ""})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["password"]);
}

#[tokio::test]
async fn suspended_accounts_cannot_sign_in_or_refresh() {
    let World { app, .. } = World::with_defaults();
    let mut user = user_with_password(&app, "grace_h").await;
    let pair = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();
    user.account_status = AccountStatus::Suspended;
    user.version += 1;
    app.stores.users.update_user(&user).await.unwrap();

    // The right password learns of the suspension; a wrong one learns nothing.
    auth(&app, &login_call("grace_h", PASSWORD))
        .await
        .expect_error(403, "ACCOUNT_SUSPENDED");
    auth(&app, &login_call("grace_h", "wrong password"))
        .await
        .expect_error(401, "UNAUTHORIZED");
    // An existing session cannot be refreshed, and it is revoked for good.
    auth(&app, &refresh_call(&pair.refresh_token))
        .await
        .expect_error(403, "ACCOUNT_SUSPENDED");
    let fam = app
        .sessions
        .issuer()
        .verify_refresh_at(&pair.refresh_token, now())
        .unwrap()
        .fam;
    assert!(
        app.stores
            .sessions
            .get_family(fam)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let World { app, .. } = World::with_defaults();
    let (user, _) = seed_user(&app, "grace_h").await;
    let first = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();

    let r = auth(&app, &refresh_call(&first.refresh_token))
        .await
        .expect(200);
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.body["expires_in"], 900);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first.refresh_token);
    let access = r.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.sessions.issuer().verify_access(access).unwrap().sub,
        user.user_id
    );
    // Only the pair is returned.
    let keys: BTreeSet<_> = r.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
            .map(String::from)
            .into()
    );

    // The rotated token again at once (a second tab, a retry): the same pair.
    let again = auth(&app, &refresh_call(&first.refresh_token))
        .await
        .expect(200);
    assert_eq!(again.body["refresh_token"], r.body["refresh_token"]);
    assert_eq!(again.body["access_token"], r.body["access_token"]);

    // Past the grace window (zero here) it is a stolen copy: 401, and the newest token dies
    // with it.
    let mut app = app;
    app.sessions = std::sync::Arc::new(
        banter::auth::Sessions::new(app.sessions.issuer().clone(), app.stores.sessions.clone())
            .with_grace(chrono::Duration::zero()),
    );
    let reuse = auth(&app, &refresh_call(&first.refresh_token))
        .await
        .expect_error(401, "UNAUTHORIZED");
    assert_eq!(reuse.message(), "session revoked");
    auth(&app, &refresh_call(&second))
        .await
        .expect_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn two_concurrent_refreshes_of_one_token_both_get_the_same_pair() {
    let World { app, .. } = World::with_defaults();
    let (user, _) = seed_user(&app, "grace_h").await;
    let first = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();
    let call = refresh_call(&first.refresh_token);
    let (a, b) = tokio::join!(auth(&app, &call), auth(&app, &call));
    let (a, b) = (a.expect(200), b.expect(200));
    assert_eq!(a.body["refresh_token"], b.body["refresh_token"]);
    assert_eq!(a.body["access_token"], b.body["access_token"]);
    assert_ne!(a.body["refresh_token"], first.refresh_token.as_str());
    // The session lives on.
    auth(
        &app,
        &refresh_call(a.body["refresh_token"].as_str().unwrap()),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn refresh_refuses_bad_tokens() {
    let World { app, .. } = World::with_defaults();
    let (user, access) = seed_user(&app, "grace_h").await;
    // An access token is not a refresh token.
    auth(&app, &refresh_call(&access))
        .await
        .expect_error(401, "UNAUTHORIZED");
    // Garbage.
    auth(&app, &refresh_call("not.a.token"))
        .await
        .expect_error(401, "UNAUTHORIZED");
    // Signed by another deployment's key.
    let World { app: other, .. } = World::with_defaults();
    let theirs = other
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();
    let r = auth(&app, &refresh_call(&theirs.refresh_token))
        .await
        .expect_error(401, "UNAUTHORIZED");
    assert_eq!(r.message(), "invalid token");
    // Missing field.
    let r = auth(&app, &Call::to(rest::auth::REFRESH).json(json!({})))
        .await
        .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["refresh_token"]);
    // A session of an account that no longer exists.
    let ghost = app
        .sessions
        .login_tokens(UserId::new(), now())
        .await
        .unwrap();
    auth(&app, &refresh_call(&ghost.refresh_token))
        .await
        .expect_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let World { app, .. } = World::with_defaults();
    let (user, _) = seed_user(&app, "grace_h").await;
    let pair = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();
    for _ in 0..2 {
        let r = auth(&app, &logout_call(&pair.refresh_token))
            .await
            .expect(204);
        assert_eq!(r.body, Value::Null);
        assert!(r.header("content-type").is_none());
    }
    auth(&app, &refresh_call(&pair.refresh_token))
        .await
        .expect_error(401, "UNAUTHORIZED");
    auth(&app, &logout_call("garbage"))
        .await
        .expect_error(401, "UNAUTHORIZED");
    let r = auth(
        &app,
        &Call::to(rest::auth::LOGOUT).json(json!({"refresh_token": " "})),
    )
    .await
    .expect_error(400, "VALIDATION_ERROR");
    assert_eq!(r.fields(), ["refresh_token"]);
}

#[tokio::test]
async fn auth_routes_are_rate_limited_per_ip() {
    let World { app, .. } = World::with_config(Config {
        auth_ip_rate: RateRule::per(3, 60),
        ..Config::default()
    });
    // Refused bodies cost no hashing and still count.
    for left in (0..3).rev() {
        let r = auth(&app, &Call::to(rest::auth::LOGIN).json(json!({})))
            .await
            .expect(400);
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(
            r.header("x-ratelimit-remaining"),
            Some(left.to_string().as_str())
        );
    }
    for route in POST_ROUTES {
        let r = auth(&app, &Call::to(route).json(json!({})))
            .await
            .expect_error(429, "RATE_LIMIT_EXCEEDED");
        let retry: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry));
    }
    // Another client is unaffected.
    auth(
        &app,
        &Call::to(rest::auth::LOGIN)
            .json(json!({}))
            .source_ip("198.51.100.7"),
    )
    .await
    .expect(400);
}

/// A wrong-password sign-in of `username` from `ip`.
fn wrong_login(username: &str, ip: &str) -> Call {
    login_call(username, "not the password at all").source_ip(ip)
}

#[tokio::test]
async fn failed_logins_lock_the_account_whatever_the_ip() {
    let World { app, .. } = World::with_config(Config {
        login_failure_rate: RateRule::per(3, 600),
        ..Config::default()
    });
    user_with_password(&app, "grace_h").await;
    user_with_password(&app, "ada_l").await;
    // Guesses spread over many IPs, in any letter case, all count for the one account.
    for (i, name) in ["grace_h", "GRACE_H", "Grace_H"].iter().enumerate() {
        auth(&app, &wrong_login(name, &format!("203.0.113.{i}")))
            .await
            .expect_error(401, "UNAUTHORIZED");
    }
    // Locked now: even the right password, from a fresh IP, waits — and no guess is checked.
    for call in [
        wrong_login("grace_h", "198.51.100.1"),
        login_call("grace_h", PASSWORD).source_ip("198.51.100.2"),
    ] {
        let r = auth(&app, &call)
            .await
            .expect_error(429, "RATE_LIMIT_EXCEEDED");
        let retry: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=600).contains(&retry), "{retry}");
        let details = r.body["error"]["details"].as_array().expect("details");
        let detail = details
            .iter()
            .find(|d| d["field"] == "retry_after")
            .unwrap_or_else(|| panic!("no retry_after in {details:?}"));
        assert_eq!(detail["message"], retry.to_string());
        assert!(r.message().contains("failed sign-ins"), "{}", r.message());
    }
    // Another account, and the same IPs, are unaffected.
    auth(
        &app,
        &login_call("ada_l", PASSWORD).source_ip("203.0.113.0"),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn repeated_lockouts_back_off_to_the_longer_window() {
    let World { app, .. } = World::with_config(Config {
        login_failure_rate: RateRule::per(2, 1),
        login_failure_backoff_rate: RateRule::per(3, 3600),
        ..Config::default()
    });
    user_with_password(&app, "grace_h").await;
    for ip in ["203.0.113.1", "203.0.113.2"] {
        auth(&app, &wrong_login("grace_h", ip))
            .await
            .expect_error(401, "UNAUTHORIZED");
    }
    // The short lockout passes with its one-second window...
    let start = std::time::Instant::now();
    loop {
        let r = auth(&app, &wrong_login("grace_h", "203.0.113.3")).await;
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 429);
        assert!(
            start.elapsed().as_secs() < 5,
            "the short lockout did not end"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // ...but a third failure trips the hour-long one.
    let r = auth(
        &app,
        &login_call("grace_h", PASSWORD).source_ip("203.0.113.4"),
    )
    .await
    .expect_error(429, "RATE_LIMIT_EXCEEDED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 2, "{retry}");
}

#[tokio::test]
async fn refresh_and_logout_with_a_valid_token_count_against_the_user() {
    let World { app, .. } = World::with_config(Config {
        auth_ip_rate: RateRule::per(1, 60),
        rest_rate: RateRule::per(50, 60),
        ..Config::default()
    });
    let (user, access) = seed_user(&app, "grace_h").await;
    let pair = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();
    // The IP's only auth request.
    auth(&app, &Call::to(rest::auth::LOGIN).json(json!({})))
        .await
        .expect(400);
    let r = auth(&app, &refresh_call(&pair.refresh_token).bearer(&access))
        .await
        .expect(200);
    assert_eq!(r.header("x-ratelimit-limit"), Some("50"));
    let next = r.body["refresh_token"].as_str().unwrap().to_owned();
    let r = auth(&app, &logout_call(&next).bearer(&access))
        .await
        .expect(204);
    assert_eq!(r.header("x-ratelimit-limit"), Some("50"));
    // Without a token the IP's limit applies; sign-in stays on it even with a token.
    auth(&app, &refresh_call(&next))
        .await
        .expect_error(429, "RATE_LIMIT_EXCEEDED");
    auth(&app, &login_call("grace_h", PASSWORD).bearer(&access))
        .await
        .expect_error(429, "RATE_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn health_is_public_and_touches_nothing() {
    let World { app, .. } = World::with_defaults();
    let r = send(&app, &Call::sample("http-health-get"), rest::health::route)
        .await
        .expect(200);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    let time = r.body["time"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    // A token (even a bad one) changes nothing.
    send(
        &app,
        &Call::sample("http-health-get").bearer("garbage"),
        rest::health::route,
    )
    .await
    .expect(200);
}

/// Sends `call` to the function the sample file `name` (`http-<function>-…`) belongs to,
/// checking that the function serves its route key.
async fn send_sample(app: &banter::app::App, name: &str, call: &Call) -> Resp {
    let function = name
        .strip_prefix("http-")
        .and_then(|n| n.split(['-', '.']).next())
        .unwrap_or_default();
    let routes = banter::functions::all_routes()
        .into_iter()
        .find(|(f, _)| *f == function)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("{name}: no function {function:?}"));
    assert!(
        routes.contains(&call.route_key().as_str()),
        "{name}: {} is not a route of {function}",
        call.route_key()
    );
    assert_eq!(
        call.event["requestContext"]["routeKey"], call.event["routeKey"],
        "{name}"
    );
    serve(app, call).await
}

/// Asserts a response is not a 5xx and has the right envelope.
#[track_caller]
fn check_response(name: &str, r: &Resp) {
    assert!(r.status < 500, "{name}: {} {}", r.status, r.body);
    assert!(r.header("x-request-id").is_some(), "{name}");
    if r.status >= 400 {
        check_error_envelope(r);
    } else if r.status == 204 {
        assert_eq!(r.body, Value::Null, "{name}");
    } else {
        assert!(r.body.is_object(), "{name}: {}", r.body);
        assert!(r.body.get("error").is_none(), "{name}: {}", r.body);
    }
}

/// Stores what the samples name (their event scheduled: the events samples take it live),
/// returning a token of their caller.
async fn sample_world(app: &banter::app::App) -> String {
    samples::seed(app, EventStatus::Scheduled).await;
    token_for(app, samples::id(samples::ids::CALLER))
}

#[tokio::test]
async fn every_sample_event_is_served_by_its_function() {
    let names = ["http-auth-", "http-users-", "http-events-", "http-health-"]
        .iter()
        .flat_map(|p| sample_names(p))
        .collect::<Vec<_>>();
    assert!(!names.is_empty());

    // Every route of the four functions has a sample.
    let covered: BTreeSet<String> = names.iter().map(|n| Call::sample(n).route_key()).collect();
    for (function, routes) in banter::functions::all_routes() {
        if ["auth", "users", "events", "health"].contains(&function) {
            for route in routes {
                assert!(covered.contains(*route), "no sample for {route}");
            }
        }
    }

    // As they are (their tokens are samples, not valid ones): never a 5xx, always the
    // envelope.
    let World { app, .. } = World::with_defaults();
    sample_world(&app).await;
    for name in &names {
        let r = send_sample(&app, name, &Call::sample(name)).await;
        check_response(name, &r);
    }

    // With valid credentials every sample succeeds (the caller moderates, for the suspension
    // samples).
    let World { app, .. } = World::with_config(Config {
        moderators: [samples::id(samples::ids::CALLER)].into(),
        ..Config::default()
    });
    let token = sample_world(&app).await;
    send_sample(
        &app,
        "http-auth-register",
        &Call::sample("http-auth-register"),
    )
    .await
    .expect(201);
    let login = send_sample(&app, "http-auth-login", &Call::sample("http-auth-login"))
        .await
        .expect(200);
    let refresh_token = login.body["refresh_token"].as_str().unwrap();
    let refreshed = send_sample(
        &app,
        "http-auth-refresh",
        &Call::sample("http-auth-refresh").json(json!({ "refresh_token": refresh_token })),
    )
    .await
    .expect(200);
    let newest = refreshed.body["refresh_token"].as_str().unwrap();
    send_sample(
        &app,
        "http-auth-logout",
        &Call::sample("http-auth-logout").json(json!({ "refresh_token": newest })),
    )
    .await
    .expect(204);
    // The sessions samples list the caller's sessions and sign out the seeded one.
    for name in names
        .iter()
        .filter(|n| !n.starts_with("http-auth-") || n.starts_with("http-auth-sessions-"))
    {
        let mut call = Call::sample(name);
        if call.event["headers"].get("authorization").is_some() {
            call = call.bearer(&token);
        }
        let r = send_sample(&app, name, &call).await;
        check_response(name, &r);
        assert!(
            (200..300).contains(&r.status),
            "{name}: {} {}",
            r.status,
            r.body
        );
    }
}

#[tokio::test]
async fn a_signed_out_sessions_access_token_stops_working() {
    let World { app, .. } = World::with_defaults();
    let user = user_with_password(&app, "grace_h").await;
    let signed_in = auth(&app, &login_call("grace_h", PASSWORD))
        .await
        .expect(200);
    let access = signed_in.body["access_token"].as_str().unwrap().to_owned();
    let refresh = signed_in.body["refresh_token"].as_str().unwrap().to_owned();
    let me = Call::to(rest::users::GET_ME).bearer(&access);
    send(&app, &me, rest::users::route).await.expect(200);
    // Another sign-in of the same user.
    let other = app
        .sessions
        .login_tokens(user.user_id, now())
        .await
        .unwrap();

    auth(&app, &logout_call(&refresh)).await.expect(204);
    let r = send(&app, &me, rest::users::route)
        .await
        .expect_error(401, "UNAUTHORIZED");
    assert_eq!(r.message(), "session revoked");
    // The other session is untouched.
    send(
        &app,
        &Call::to(rest::users::GET_ME).bearer(&other.access_token),
        rest::users::route,
    )
    .await
    .expect(200);
}
